#!/usr/bin/env python3
"""Writes pathological captures for the soak test (issue: hostile input) under captures/big/ (git-ignored):

  syn-flood.pcap     2,000,000 SYN-only flows from distinct sources within 4 s (flow-table cap, eviction)
  ooo-storm.pcap     2,000 TCP flows whose data only ever arrives out of order, behind a hole that never
                     fills (per-stream and global reassembly caps, gaps)
  dicom-endless.pcap one DICOM association whose data set never ends (1 GiB of P-DATA, no release)

Run `benches/soak.sh` to replay each with --stats and report peak RSS. Headers are written by hand
(Ethernet/IPv4/TCP with valid IPv4 checksums; TCP checksums are not computed, as on an offloading host).
"""
import os, struct, sys, random

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'captures', 'big')
os.makedirs(OUT, exist_ok=True)

def ip_csum(h):
    s = sum(struct.unpack('!10H', h))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def frame(src, dst, sport, dport, seq, flags, payload=b'', ack=0):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = bytearray(struct.pack('!BBHHHBBH4s4s', 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst))
    ip[10:12] = struct.pack('!H', ip_csum(bytes(ip)))
    return b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00' + bytes(ip) + tcp + payload

class Pcap:
    def __init__(self, path):
        self.f = open(path, 'wb', buffering=1 << 20)
        self.f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    def write(self, t_us, data):
        self.f.write(struct.pack('<IIII', t_us // 1_000_000, t_us % 1_000_000, len(data), len(data)))
        self.f.write(data)
    def close(self):
        self.f.close()

T0 = 1_795_000_000_000_000
server = bytes([10, 20, 0, 10])

p = Pcap(os.path.join(OUT, 'syn-flood.pcap'))
for i in range(2_000_000):
    src = bytes([10, 99, (i >> 8) & 0xff, i & 0xff])
    p.write(T0 + i * 2, frame(src, server, 1024 + (i >> 16), 104, i, 0x02))
p.close()

p = Pcap(os.path.join(OUT, 'ooo-storm.pcap'))
rng = random.Random(7)
t = T0
for flow in range(2000):
    src = bytes([10, 98, flow >> 8, flow & 0xff])
    isn = rng.randrange(1 << 32)
    p.write(t, frame(src, server, 40000, 104, isn, 0x02)); t += 1
    p.write(t, frame(server, src, 104, 40000, 5, 0x12, ack=isn + 1)); t += 1
    # 1448-byte segments 1..400 arrive, segment 0 never does.
    for k in rng.sample(range(1, 401), 400):
        seq = (isn + 1 + k * 1448) & 0xffffffff
        p.write(t, frame(src, server, 40000, 104, seq, 0x18, b'\x5a' * 1448, ack=6)); t += 1
p.close()

def item(ty, body):
    return bytes([ty, 0]) + struct.pack('!H', len(body)) + body
def pdu(ty, body):
    return bytes([ty, 0]) + struct.pack('!I', len(body)) + body
ae = lambda s: s.encode().ljust(16)
rq = pdu(1, b'\x00\x01\x00\x00' + ae('PACS') + ae('ENDLESS') + bytes(32) + item(0x10, b'1.2.840.10008.3.1.1.1')
         + item(0x20, b'\x01\x00\x00\x00' + item(0x30, b'1.2.840.10008.5.1.4.1.1.2') + item(0x40, b'1.2.840.10008.1.2'))
         + item(0x50, item(0x51, struct.pack('!I', 16384))))
ac = pdu(2, b'\x00\x01\x00\x00' + ae('PACS') + ae('ENDLESS') + bytes(32) + item(0x10, b'1.2.840.10008.3.1.1.1')
         + item(0x21, b'\x01\x00\x00\x00' + item(0x40, b'1.2.840.10008.1.2'))
         + item(0x50, item(0x51, struct.pack('!I', 16384))))
def el(e, v):
    return b'\x00\x00' + struct.pack('<HI', e, len(v)) + v
cmd_body = el(2, b'1.2.840.10008.5.1.4.1.1.2\x00') + el(0x100, b'\x01\x00') + el(0x110, b'\x07\x00') + el(0x700, b'\x00\x00') + el(0x800, b'\x00\x00') + el(0x1000, b'1.2.3\x00')
cmd = el(0, struct.pack('<I', len(cmd_body))) + cmd_body
pdv = lambda ctl, frag: struct.pack('!I', len(frag) + 2) + bytes([1, ctl]) + frag
client = bytes([10, 20, 0, 5])
p = Pcap(os.path.join(OUT, 'dicom-endless.pcap'))
t = T0; cseq = 1001; sseq = 5001
p.write(t, frame(client, server, 40001, 104, 1000, 0x02)); t += 10
p.write(t, frame(server, client, 104, 40001, 5000, 0x12, ack=1001)); t += 10
def send(data, from_client=True):
    global cseq, sseq, t
    for i in range(0, len(data), 1448):
        seg = data[i:i + 1448]
        if from_client:
            p.write(t, frame(client, server, 40001, 104, cseq, 0x18, seg, ack=sseq)); cseq = (cseq + len(seg)) & 0xffffffff
        else:
            p.write(t, frame(server, client, 104, 40001, sseq, 0x18, seg, ack=cseq)); sseq = (sseq + len(seg)) & 0xffffffff
        t += 10
send(rq); send(ac, False); send(pdu(4, pdv(3, cmd)))
data_pdu = pdu(4, pdv(0, b'\x5a' * 16378))
for _ in range((1 << 30) // len(data_pdu)):
    send(data_pdu)
p.close()
print('wrote', OUT)
