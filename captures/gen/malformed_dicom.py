"""Send mutated / truncated / oversized-length DICOM PDUs to real SCPs.

usage: malformed_dicom.py SOURCE_PCAP HOST PORT AET [HOST PORT AET ...]

The PDUs are real bytes: the client side of the first C-STORE association
recorded in SOURCE_PCAP (dcmtk storescu), reassembled with dpkt. Each case
mutates those bytes (called AE rewritten to the target, truncation, length
fields made huge, unknown PDU type, PDV length larger than its PDU, ...),
sends them on a fresh TCP connection and prints what the SCP answers
(A-ASSOCIATE-AC/RJ, A-ABORT, close, nothing).
"""
import socket
import struct
import sys
import time

import dpkt


def client_stream(path):
    flows = {}
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            t = ip.data
            if t.dport not in (104, 4242, 11112) or not t.data:
                continue
            k = (ip.src, t.sport, t.dport)
            flows.setdefault(k, {})[t.seq] = bytes(t.data)
    best = None
    for k, segs in flows.items():
        data = b"".join(segs[s] for s in sorted(segs))
        if b"1.2.840.10008.5.1.4.1.1.2" in data[:2000] and (best is None or len(data) > len(best)):
            best = data
    return best


def pdus(stream):
    out = []
    i = 0
    while i + 6 <= len(stream):
        t = stream[i]
        n = struct.unpack(">I", stream[i + 2:i + 6])[0]
        out.append(stream[i:i + 6 + n])
        i += 6 + n
    return out


def set_called(rq, aet):
    b = bytearray(rq)
    b[10:26] = aet.encode().ljust(16)
    return bytes(b)


def reaction(s, wait=1.5):
    s.settimeout(wait)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return got, "closed"
            got += d
            if len(got) >= 6:
                n = struct.unpack(">I", got[2:6])[0]
                if len(got) >= 6 + n:
                    return got, "pdu"
    except socket.timeout:
        return got, "timeout"
    except ConnectionResetError:
        return got, "reset"


NAMES = {1: "A-ASSOCIATE-RQ", 2: "A-ASSOCIATE-AC", 3: "A-ASSOCIATE-RJ", 4: "P-DATA-TF",
         5: "A-RELEASE-RQ", 6: "A-RELEASE-RP", 7: "A-ABORT"}


def describe(got, how):
    if not got:
        return how
    return f"{NAMES.get(got[0], hex(got[0]))} ({len(got)} bytes) then {how}"


def cases(rq, pdata, rel):
    first = pdata[0]
    # 1. truncated A-ASSOCIATE-RQ, then FIN
    yield "assoc_rq_truncated", [rq[:40]], []
    # 2. A-ASSOCIATE-RQ with PDU length 0xFFFFFFF0 (oversized)
    yield "assoc_rq_len_huge", [rq[:2] + b"\xff\xff\xff\xf0" + rq[6:]], []
    # 3. unknown PDU type 0x09
    yield "unknown_pdu_type", [b"\x09\x00" + struct.pack(">I", 4) + b"\x00\x00\x00\x00"], []
    # 4. bad protocol version
    yield "assoc_rq_bad_version", [rq[:6] + b"\x00\x02" + rq[8:]], []
    # 5. presentation context item with length overflowing the PDU
    i = rq.find(b"\x20\x00", 74)
    b = bytearray(rq)
    if i > 0:
        b[i + 2:i + 4] = b"\xff\xf0"
    yield "assoc_rq_item_len_overflow", [bytes(b)], []
    # 6. garbage (an HTTP request) on the DICOM port
    yield "not_dicom_http", [b"GET / HTTP/1.1\r\nHost: pacs\r\n\r\n"], []
    # 7. zero-length P-DATA before association
    yield "pdata_before_assoc", [b"\x04\x00\x00\x00\x00\x00"], []
    # 8. A-RELEASE-RQ before association
    yield "release_before_assoc", [rel], []
    # after a valid association:
    # 9. P-DATA with PDU length 0x7FFFFFFF then a few bytes, close
    yield "pdata_len_huge", [rq], [first[:2] + b"\x7f\xff\xff\xff" + first[6:200]]
    # 10. PDV item length larger than its PDU
    b = bytearray(first)
    b[6:10] = struct.pack(">I", 0x00FFFFFF)
    yield "pdv_len_exceeds_pdu", [rq], [bytes(b)]
    # 11. PDV length zero (less than the 2 header bytes)
    b = bytearray(first)
    b[6:10] = b"\x00\x00\x00\x00"
    yield "pdv_len_zero", [rq], [bytes(b)]
    # 12. command element (0000,0000) group length huge
    b = bytearray(first)
    j = 12  # PDV header(4+1+1) follows PDU header(6): first element tag at 12
    if b[j:j + 4] == b"\x00\x00\x00\x00":
        b[j + 4:j + 8] = b"\xf0\xff\xff\xff"
    yield "command_elem_len_huge", [rq], [bytes(b)]
    # 13. C-STORE command truncated mid-element, then FIN
    yield "pdata_truncated", [rq], [first[:60]]
    # 14. second A-ASSOCIATE-RQ inside an association
    yield "assoc_rq_twice", [rq], [rq]
    # 15. real C-STORE with its dataset cut after a few PDUs, then A-ABORT with bad reason
    yield "store_cut_then_abort", [rq], pdata[:3] + [b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x09"]
    # 16. command PDV flagged as dataset (message control header bits flipped)
    b = bytearray(first)
    b[11] = b[11] ^ 0x01
    yield "pdv_flags_flipped", [rq], [bytes(b)]


def run_case(host, port, name, pre, post):
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    res = []
    try:
        for p in pre:
            s.sendall(p)
        got, how = reaction(s)
        res.append(describe(got, how))
        if post and got[:1] == b"\x02":
            for p in post:
                s.sendall(p)
                time.sleep(0.05)
            got, how = reaction(s)
            res.append(describe(got, how))
    except OSError as e:
        res.append(f"error {e}")
    finally:
        s.close()
    print(f"{host}:{port} {name}: " + " | ".join(res), flush=True)
    time.sleep(0.4)


def main():
    src = sys.argv[1]
    targets = sys.argv[2:]
    ps = pdus(client_stream(src))
    rq = ps[0]
    pdata = [p for p in ps if p[0] == 4]
    rel = [p for p in ps if p[0] == 5][0]
    for k in range(0, len(targets), 3):
        host, port, aet = targets[k], int(targets[k + 1]), targets[k + 2]
        r = set_called(rq, aet)
        for name, pre, post in cases(r, pdata, rel):
            run_case(host, port, name, pre, post)


if __name__ == "__main__":
    main()
