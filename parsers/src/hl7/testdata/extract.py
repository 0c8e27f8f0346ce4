#!/usr/bin/env python3
"""Extracts the TCP payloads of a pcap, per flow and direction, into the fixture format read by the
hl7 corpus test (parsers/src/hl7/mod.rs, `corpus_captures_match_tshark`).

Usage: extract.py OUT.bin CAPTURE.pcap [CAPTURE.pcap ...]

Format: b"HL7FIX1\\n", then records: flow u32 LE (numbered across all captures), dir u8 (0: sent by the
side that sent the SYN, i.e. to_server; 1: to_client), ts_ns u64 LE, len u32 LE, payload.
Retransmissions are dropped (tshark's tcp.analysis flags); segments are kept in capture order.
"""
import struct, subprocess, sys

def segments(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-o", "tcp.analyze_sequence_numbers:TRUE",
         "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
         "-e", "tcp.stream", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.srcport",
         "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.analysis.retransmission",
         "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split("\t")
        f += [""] * (8 - len(f))
        yield int(f[0]), f[1], (f[2], f[3]), f[4] in ("1", "True"), f[5] in ("1", "True"), f[6] != "", f[7]

def main():
    out_path, caps = sys.argv[1], sys.argv[2:]
    recs = [b"HL7FIX1\n"]
    flow_base = 0
    for cap in caps:
        client = {}
        streams = set()
        for stream, ts, src, syn, ack, retrans, payload in segments(cap):
            streams.add(stream)
            if syn and not ack:
                client[stream] = src
            if not payload or retrans:
                continue
            data = bytes.fromhex(payload.replace(":", ""))
            d = 0 if client.get(stream, src) == src else 1
            sec, _, frac = ts.partition(".")
            ts_ns = int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
            recs.append(struct.pack("<IBQI", flow_base + stream, d, ts_ns, len(data)) + data)
        flow_base += max(streams) + 1 if streams else 0
    open(out_path, "wb").write(b"".join(recs))

if __name__ == "__main__":
    main()
