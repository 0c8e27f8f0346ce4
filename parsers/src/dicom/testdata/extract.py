#!/usr/bin/env python3
"""Turns a DICOM pcap into a compact replay fixture for the parser tests (tests.rs, `real_captures`).

    python3 extract.py IN.pcap OUT.bin [--streams 3,4,5] [--max-bytes N]

`--streams` keeps only those tshark tcp.stream numbers; `--max-bytes` keeps at most N bytes of each
direction (a cut stream then simply ends, as when a capture stops).

Each TCP payload segment is kept in capture order with its flow, direction (0 = from the side that sent
the SYN) and time. To stay small, the bytes inside data-set PDV fragments longer than 256 bytes are
replaced by a run length ("zeros"): the parser only counts them. Command sets, association PDUs, every
PDU/PDV header and small data sets (query identifiers) stay byte-exact. The PDV walk used to find the
fragments stops eliding for a direction as soon as the stream does not look like DICOM (malformed
captures stay byte-exact). Retransmitted bytes are dropped; holes become gap records.

Record layout (little endian): b'S' u16 flow, u8 dir, u64 ts_ns, u32 len, then runs covering len bytes:
u8 kind (0 literal, 1 zeros), u32 n, [n bytes if literal]. b'G' u16 flow, u8 dir, u64 ts_ns, u64 len.
"""
import struct, subprocess, sys

SERVER_PORTS = {104, 4242, 11112, 11113}


def frames(pcap):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-T", "fields", "-E", "separator=;",
         "-e", "frame.time_epoch", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport",
         "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.seq_raw", "-e", "tcp.len",
         "-e", "tcp.payload", "tcp"],
        capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        t, st, sp, dp, syn, ack, seq, ln, pl = line.split(";")
        yield (int(float(t) * 1e9) if "." not in t else int(t.split(".")[0]) * 10**9 + int(t.split(".")[1].ljust(9, "0")[:9]),
               int(st), int(sp), int(dp), syn in ("1", "True"), ack in ("1", "True"), int(seq), int(ln),
               bytes.fromhex(pl.replace(":", "")) if pl else b"")


def elide_mask(stream):
    """Intervals [a, b) of the direction's byte stream that lie in data PDV fragments > 1024 bytes."""
    out, i, n = [], 0, len(stream)
    while i + 6 <= n:
        ty, ln = stream[i], struct.unpack(">I", stream[i + 2:i + 6])[0]
        if ty not in range(1, 8) or stream[i + 1] != 0 or ln > 1 << 26:
            break
        end = i + 6 + ln
        if ty == 4:
            j = i + 6
            while j + 6 <= min(end, n):
                pl = struct.unpack(">I", stream[j:j + 4])[0]
                mch = stream[j + 5]
                if pl < 2 or j + 4 + pl > end:
                    return out
                if mch & 1 == 0 and pl - 2 > 256:
                    out.append((j + 6, j + 4 + pl))
                j += 4 + pl
        i = end
    return out


def main(pcap, dst, keep=None, max_bytes=None):
    flows, order, segs = {}, [], []
    for ts, st, sp, dp, syn, ack, seq, ln, pl in frames(pcap):
        if keep is not None and st not in keep:
            continue
        f = flows.get(st)
        if f is None:
            client = sp if (syn and not ack) or dp in SERVER_PORTS else dp
            f = flows[st] = {"client": client, "next": [None, None], "data": [bytearray(), bytearray()]}
            order.append(st)
        d = 0 if sp == f["client"] else 1
        if syn:
            f["next"][d] = seq + 1
            continue
        if not pl:
            continue
        exp = f["next"][d]
        if exp is None:
            exp = seq
        end = seq + ln
        if end <= exp:
            continue  # retransmission
        if seq < exp:
            pl, seq = pl[exp - seq:], exp
        if seq > exp:
            segs.append(("G", st, d, ts, seq - exp))
        off = len(f["data"][d])
        if max_bytes is not None:
            pl = pl[:max(0, max_bytes - off)]
            if not pl:
                f["next"][d] = end
                continue
        f["data"][d] += pl
        f["next"][d] = end
        segs.append(("S", st, d, ts, off, len(pl)))
    masks = {(st, d): elide_mask(bytes(flows[st]["data"][d])) for st in flows for d in (0, 1)}
    out = bytearray()
    for s in segs:
        if s[0] == "G":
            _, st, d, ts, n = s
            out += b"G" + struct.pack("<HBQQ", order.index(st), d, ts, n)
            continue
        _, st, d, ts, off, n = s
        data = flows[st]["data"][d]
        out += b"S" + struct.pack("<HBQI", order.index(st), d, ts, n)
        pos, end = off, off + n
        for a, b in masks[(st, d)]:
            if b <= pos or a >= end:
                continue
            a, b = max(a, pos), min(b, end)
            if a > pos:
                out += struct.pack("<BI", 0, a - pos) + data[pos:a]
            out += struct.pack("<BI", 1, b - a)
            pos = b
        if pos < end:
            out += struct.pack("<BI", 0, end - pos) + data[pos:end]
    open(dst, "wb").write(out)
    print(f"{pcap}: {len(order)} flows, {len(segs)} records, {len(out)} bytes")


if __name__ == "__main__":
    args = sys.argv[1:]
    keep = max_bytes = None
    if "--streams" in args:
        i = args.index("--streams")
        keep = {int(x) for x in args[i + 1].split(",")}
        del args[i:i + 2]
    if "--max-bytes" in args:
        i = args.index("--max-bytes")
        max_bytes = int(args[i + 1])
        del args[i:i + 2]
    main(args[0], args[1], keep, max_bytes)
