"""Build labelled hospital-ward scenarios from the recorded captures.

usage: scenario.py OUTDIR [--baseline-days N] [--start YYYY-MM-DD] [--beds N] [--vitals-every S]
                   [--small] [--seed S] [--extra]

--extra adds three labelled anomalies that only behaviour baselines can see (every exchange is on a
known peer/service with known vocabulary): the reading workstation querying the PACS at 03:12
(off_hours_activity), a bedside monitor uploading ~100 vitals messages in 10 minutes at 20:00
(volume_anomaly) and the CT pushing MR/CR/US/DX objects to the PACS Q/R port at 19:30
(dicom_new_sop_class).

Writes OUTDIR/baseline.pcap (N days of normal ward traffic), OUTDIR/test.pcap (the next day:
normal traffic plus injected anomalies) and OUTDIR/labels.csv
(`start_ts,end_ts,device_ip,attack_kind,description`, epoch seconds).

Only headers are rewritten: Ethernet MACs, IPv4 addresses (also the inner header of ICMP
errors), TCP/UDP client ports, TCP sequence/ack numbers, frame timestamps, and the IP/TCP/UDP/
ICMP checksums that follow. Payload bytes are never touched, so payloads that carry addresses
(SDC XAddrs/HTTP Host, DHCP, DNS answers) keep the lab addresses 172.30.0.x; DHCP and DNS are
therefore left out of scenarios.

Addresses (10.20.0.0/16, data in a file only): PACS 10.20.1.10 (store SCP :104, Q/R SCP :4242),
HL7 interface engine 10.20.1.12:2575, ADT system 10.20.1.40, order entry 10.20.1.41, CT 10.20.2.21,
MR 10.20.2.22, DX 10.20.2.25, reading workstation 10.20.3.23, viewer 10.20.3.24, bedside monitors
10.20.10.11.., pump gateway 10.20.10.52, SDC pump 10.20.10.61, SDC central station 10.20.10.70,
NTP server 10.20.0.1.
"""
import argparse
import datetime
import os
import random
import struct
import sys

import dpkt

HERE = os.path.dirname(os.path.abspath(__file__))
CAPS = os.path.dirname(HERE)
LAB = "172.30.0."


def ip2b(s):
    return bytes(int(x) for x in s.split("."))


def b2ip(b):
    return ".".join(str(x) for x in b)


def mac_for(ip):
    b = ip2b(ip)
    role = {1: 0x01, 2: 0x02, 3: 0x03, 10: 0x10}.get(b[2], 0x77) if b[0] == 10 else 0xee
    return bytes([0x0E, 0x20, role, b[1], b[2], b[3]])


class Rec:
    """A recording: frames and an index of its TCP/UDP connections."""

    def __init__(self, path):
        self.path = path
        self.frames = []
        self.conns = {}  # key -> [frame index]
        with open(path, "rb") as f:
            for ts, buf in dpkt.pcap.Reader(f):
                i = len(self.frames)
                self.frames.append((ts, bytes(buf)))
                k = self.key(buf)
                if k:
                    self.conns.setdefault(k, []).append(i)

    @staticmethod
    def key(buf):
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        if not isinstance(ip, dpkt.ip.IP):
            return None
        t = ip.data
        if isinstance(t, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            proto = "tcp" if isinstance(t, dpkt.tcp.TCP) else "udp"
            a, b = (b2ip(ip.src), t.sport), (b2ip(ip.dst), t.dport)
            return (proto,) + tuple(sorted([a, b]))
        return None

    def select(self, pred):
        """Connection keys whose (proto, (ipA, portA), (ipB, portB)) and payload satisfy pred."""
        out = []
        for k, idx in self.conns.items():
            payload = b"".join(self.payload(i) for i in idx[:40])
            if pred(k, payload):
                out.append(k)
        return sorted(out, key=lambda k: self.conns[k][0])

    def payload(self, i):
        ip = dpkt.ethernet.Ethernet(self.frames[i][1]).data
        return bytes(ip.data.data) if hasattr(ip.data, "data") else b""


class Writer:
    def __init__(self, rng):
        self.rng = rng
        self.port_ctr = rng.randrange(0, 20000)
        self.out = []  # (ts, bytes)

    def next_port(self):
        self.port_ctr = (self.port_ctr + 1) % 28000
        return 32768 + self.port_ctr

    def emit(self, rec, keys, t_start, ipmap, scale=1.0, server_ports=None, keep_ports=False, sink=None):
        """Place the connections `keys` of `rec` at t_start. Returns the episode end time."""
        idx = sorted(i for k in keys for i in rec.conns[k])
        if not idx:
            return t_start
        t0 = rec.frames[idx[0]][0]
        portmap = {}  # (lab ip, lab port) -> new port
        seqoff = {}  # (src ip, sport, dst ip, dport) -> offset
        server_ports = server_ports or {}
        end = t_start
        for i in idx:
            ts, buf = rec.frames[i]
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            t = ip.data
            src, dst = b2ip(ip.src), b2ip(ip.dst)
            nsrc, ndst = ipmap.get(src, src), ipmap.get(dst, dst)
            sport, dport = t.sport, t.dport
            if isinstance(t, dpkt.tcp.TCP):
                # the client side is the one whose port is not a known server port / the SYN sender
                for (hip, hport) in ((src, sport), (dst, dport)):
                    if (hip, hport) not in portmap:
                        if keep_ports or hport < 1024 or hport in server_ports or hport in (2575, 4242, 6661, 5001,
                                                                                             11112, 11113, 11114):
                            portmap[(hip, hport)] = server_ports.get(hport, hport)
                        else:
                            portmap[(hip, hport)] = self.next_port()
                t.sport, t.dport = portmap[(src, sport)], portmap[(dst, dport)]
                fk = (src, sport, dst, dport)
                rk = (dst, dport, src, sport)
                for k_ in (fk, rk):
                    if k_ not in seqoff:
                        seqoff[k_] = self.rng.randrange(0, 1 << 32)
                t.seq = (t.seq + seqoff[fk]) & 0xFFFFFFFF
                if t.flags & dpkt.tcp.TH_ACK:
                    t.ack = (t.ack + seqoff[rk]) & 0xFFFFFFFF
                t.sum = 0
            elif isinstance(t, dpkt.udp.UDP):
                if not keep_ports:
                    for (hip, hport) in ((src, sport), (dst, dport)):
                        if (hip, hport) not in portmap:
                            portmap[(hip, hport)] = (hport if hport < 1024 or hport in (3702,)
                                                     else self.next_port())
                    t.sport, t.dport = portmap[(src, sport)], portmap[(dst, dport)]
                t.sum = 0
            ip.src, ip.dst = ip2b(nsrc), ip2b(ndst)
            ip.sum = 0
            eth.src = mac_for(nsrc)
            if not (ip.dst[0] >= 224 or ndst.endswith(".255")):
                eth.dst = mac_for(ndst)
            nts = t_start + (ts - t0) * scale
            end = max(end, nts)
            (sink if sink is not None else self.out).append((nts, bytes(eth)))
        return end

    def emit_icmp_and_scan(self, rec, src_lab, t_start, ipmap, scale=1.0):
        """Every IPv4 frame from/to src_lab (TCP/UDP/ICMP, scans), ports kept as recorded."""
        idx = []
        for i, (ts, buf) in enumerate(rec.frames):
            ip = dpkt.ethernet.Ethernet(buf).data
            if isinstance(ip, dpkt.ip.IP) and LAB + "99" in (b2ip(ip.src), b2ip(ip.dst)):
                idx.append(i)
        if not idx:
            return t_start
        t0 = rec.frames[idx[0]][0]
        end = t_start
        for i in idx:
            ts, buf = rec.frames[i]
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            src, dst = b2ip(ip.src), b2ip(ip.dst)
            if isinstance(ip.data, dpkt.icmp.ICMP) and hasattr(ip.data.data, "data") and isinstance(
                    getattr(ip.data.data, "data", None), dpkt.ip.IP):
                inner = ip.data.data.data
                inner.src = ip2b(ipmap.get(b2ip(inner.src), b2ip(inner.src)))
                inner.dst = ip2b(ipmap.get(b2ip(inner.dst), b2ip(inner.dst)))
                inner.sum = 0
                # the quoted transport checksum covers the quoted addresses: recompute when whole
                if isinstance(inner.data, (dpkt.udp.UDP, dpkt.tcp.TCP)) and len(bytes(inner.data)) >= inner.len - inner.hl * 4:
                    inner.data.sum = 0
                ip.data.data.data = dpkt.ip.IP(bytes(inner))
                ip.data.sum = 0
            elif isinstance(ip.data, (dpkt.tcp.TCP, dpkt.udp.UDP)):
                ip.data.sum = 0
            nsrc, ndst = ipmap.get(src, src), ipmap.get(dst, dst)
            ip.src, ip.dst = ip2b(nsrc), ip2b(ndst)
            ip.sum = 0
            eth.src, eth.dst = mac_for(nsrc), mac_for(ndst)
            nts = t_start + (ts - t0) * scale
            end = max(end, nts)
            self.out.append((nts, bytes(eth)))
        return end

    def write(self, path):
        self.out.sort(key=lambda x: x[0])
        with open(path, "wb") as f:
            w = dpkt.pcap.Writer(f, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
            for ts, buf in self.out:
                w.writepkt(buf, ts=ts)
        n = len(self.out)
        self.out = []
        return n


class Library:
    """Episodes cut from the recordings."""

    def __init__(self):
        self.store = Rec(os.path.join(CAPS, "dicom", "dcmtk-store.pcap"))
        self.qr = Rec(os.path.join(CAPS, "dicom", "dcmtk-find-move-get.pcap"))
        self.pyn = Rec(os.path.join(CAPS, "dicom", "pynetdicom.pcap"))
        self.mal = Rec(os.path.join(CAPS, "dicom", "malformed.pcap"))
        self.hl7 = Rec(os.path.join(CAPS, "hl7", "hl7apy.pcap"))
        self.sdc = Rec(os.path.join(CAPS, "sdc", "sdc11073.pcap"))
        self.noise = Rec(os.path.join(CAPS, "noise", "noise.pcap"))
        L = LAB
        has = lambda s: (lambda k, p: s in p)  # noqa: E731
        frm = lambda ip: (lambda k, p: any(e[0] == L + ip for e in k[1:]))  # noqa: E731
        both = lambda *fs: (lambda k, p: all(f(k, p) for f in fs))  # noqa: E731
        # HL7 (hl7apy engine): one connection per message
        self.vitals = self.hl7.select(both(frm("51"), has(b"MDC_ECG_HEART_RATE"), has(b"PID|")))
        self.pump = self.hl7.select(both(frm("52"), has(b"MDC_FLOW_FLUID_PUMP")))
        self.adt = self.hl7.select(both(frm("40"), has(b"ADT^")))
        self.mfn = self.hl7.select(both(frm("40"), has(b"MFN^")))
        self.orm = self.hl7.select(both(frm("41"), has(b"ORM^")))
        # DICOM
        self.echo_ct = self.store.select(both(frm("21"), lambda k, p: b"1.2.840.10008.5.1.4.1.1.2" not in p))
        self.echo_ws = self.store.select(frm("23"))
        self.store_ct = self.store.select(both(frm("21"), has(b"1.2.840.10008.5.1.4.1.1.2\x00")))
        self.store_mr = self.store.select(frm("22"))[:1]
        self.store_dx = self.store.select(frm("25"))
        qr_ws = [k for k in self.qr.select(frm("23"))]
        self.find_patient = [k for k in qr_ws if b"PATIENT" in self._p(self.qr, k)][:1]
        self.find_study = [k for k in qr_ws if b"STUDY" in self._p(self.qr, k) and b"1.2.840.10008.5.1.4.1.2.2.1"
                           in self._p(self.qr, k)][:1]
        self.find_series = [k for k in qr_ws if b"SERIES" in self._p(self.qr, k)][:1]
        self.worklist = [k for k in self.qr.select(frm("21")) if b"1.2.840.10008.5.1.4.31" in self._p(self.qr, k)][:1]
        # the CT storing other modalities' objects (MR, CR, US, DX) to the Q/R port
        self.ct_qr_store = [k for k in self.qr.select(frm("21")) if b"1.2.840.10008.5.1.4.31" not in self._p(self.qr, k)]
        self.move = [k for k in qr_ws if b"1.2.840.10008.5.1.4.1.2.2.2" in self._p(self.qr, k)][:1]
        self.move_sub = [k for k in qr_ws if any(e[1] == 11113 for e in k[1:])][:1]
        self.rogue = self.pyn.select(frm("32"))[:1]
        self.malformed = self.mal.select(lambda k, p: any(e[0] == L + "10" for e in k[1:]) and any(
            e[0] == L + "66" for e in k[1:]))
        # SDC: pump <-> central station connections, and the SetValue one
        self.sdc_pump = self.sdc.select(lambda k, p: {e[0] for e in k[1:]} == {L + "61", L + "70"})
        self.sdc_set = [k for k in self.sdc_pump if b"SetService/SetValue" in b"".join(
            self.sdc.payload(i) for i in self.sdc.conns[k])]
        self.wsd = self.sdc.select(lambda k, p: k[0] == "udp" and any(e[1] == 3702 for e in k[1:])
                                   and any(e[0] == L + "61" for e in k[1:]))
        self.ntp = self.noise.select(lambda k, p: k[0] == "udp" and any(e[1] == 123 for e in k[1:])
                                     and any(e[0] == L + "60" for e in k[1:]))

    @staticmethod
    def _p(rec, k):
        return b"".join(rec.payload(i) for i in rec.conns[k])

    def check(self):
        for n in ["vitals", "pump", "adt", "mfn", "orm", "echo_ct", "store_ct", "store_dx", "find_patient",
                  "find_study", "find_series", "move", "move_sub", "rogue", "malformed", "sdc_pump", "sdc_set",
                  "ntp"]:
            if not getattr(self, n):
                raise SystemExit(f"scenario: no episode '{n}' found in the recordings")


MAP_HL7 = {LAB + "12": "10.20.1.12", LAB + "40": "10.20.1.40", LAB + "41": "10.20.1.41", LAB + "52": "10.20.10.52"}
MAP_STORE = {LAB + "10": "10.20.1.10", LAB + "21": "10.20.2.21", LAB + "22": "10.20.2.22", LAB + "23": "10.20.3.23",
             LAB + "25": "10.20.2.25"}
MAP_QR = {LAB + "10": "10.20.1.10", LAB + "21": "10.20.2.21", LAB + "23": "10.20.3.23", LAB + "24": "10.20.3.24"}
MAP_SDC = {LAB + "61": "10.20.10.61", LAB + "70": "10.20.10.70", LAB + "60": "10.20.10.60"}


def day_traffic(lib, w, day0, weekend, a, rng, skip=None, day_index=0):
    """One day of normal ward traffic starting at epoch day0."""
    skip = skip or {}
    beds = [f"10.20.10.{11 + b}" for b in range(a.beds)]
    # periodic vitals per bed monitor, 24/7
    for b, mon in enumerate(beds):
        t = day0 + rng.uniform(0, a.vitals_every)
        while t < day0 + 86400:
            if not (mon in skip and t >= skip[mon]):
                k = lib.vitals[rng.randrange(len(lib.vitals))]
                w.emit(lib.hl7, [k], t, dict(MAP_HL7, **{LAB + "51": mon}))
            t += a.vitals_every + rng.uniform(-3, 3)
    # pump gateway every 2 * vitals period
    t = day0 + rng.uniform(0, 60)
    while t < day0 + 86400:
        w.emit(lib.hl7, [lib.pump[rng.randrange(len(lib.pump))]], t, MAP_HL7)
        t += 2 * a.vitals_every + rng.uniform(-5, 5)
    # NTP sync of the monitors, hourly
    for mon in beds:
        for h in range(0, 24, 1 if not a.small else 6):
            w.emit(lib.noise, lib.ntp[:1], day0 + h * 3600 + rng.uniform(0, 600),
                   {LAB + "1": "10.20.0.1", LAB + "60": mon})
    # ADT and orders, mostly daytime
    n_adt = (10 if not weekend else 4) if not a.small else (5 if not weekend else 2)
    for _ in range(n_adt):
        hour = rng.choice([7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 19, 22, 2])
        w.emit(lib.hl7, [lib.adt[rng.randrange(len(lib.adt))]], day0 + hour * 3600 + rng.uniform(0, 3000), MAP_HL7)
    for _ in range(0 if weekend else (6 if not a.small else 2)):
        w.emit(lib.hl7, [lib.orm[rng.randrange(len(lib.orm))]], day0 + rng.uniform(8, 17) * 3600, MAP_HL7)
    # imaging: weekdays busy, weekends few
    n_dx = (8 if not weekend else 2) if not a.small else (3 if not weekend else 1)
    n_ct = (4 if not weekend else 1) if not a.small else (1 if day_index == 0 else 0)
    for _ in range(n_dx):
        t = day0 + rng.uniform(8, 18) * 3600
        w.emit(lib.store, lib.store_dx, t, MAP_STORE)
        w.emit(lib.qr, lib.find_series, t + rng.uniform(600, 1800), MAP_QR)  # reading workstation looks it up
    for _ in range(n_ct):
        t = day0 + rng.uniform(8, 18) * 3600
        w.emit(lib.store, lib.store_ct, t, MAP_STORE)
        w.emit(lib.qr, lib.find_study, t + rng.uniform(600, 1800), MAP_QR)
    if not weekend and not a.small:
        w.emit(lib.store, lib.store_mr, day0 + rng.uniform(9, 16) * 3600, MAP_STORE)
    # modality worklist queries by the CT (mornings and noon), patient queries by the workstation, echo checks
    if lib.worklist:
        for h in ([7, 12] if not weekend else [9]):
            w.emit(lib.qr, lib.worklist, day0 + h * 3600 + rng.uniform(0, 900), MAP_QR)
    for h in ([8, 12, 16] if not weekend else [10]):
        w.emit(lib.qr, lib.find_patient, day0 + h * 3600 + rng.uniform(0, 1800), MAP_QR)
    for h in range(6, 22, 4 if not a.small else 8):
        w.emit(lib.store, lib.echo_ct[:1], day0 + h * 3600 + rng.uniform(0, 60), MAP_STORE)
    # SDC: the central station (re)connects to the pump a few times a day
    for h in ([3, 11, 19] if not a.small else ([11] if day_index == 0 else [])):
        t = day0 + h * 3600 + rng.uniform(0, 600)
        w.emit(lib.sdc, lib.wsd, t - 5, MAP_SDC, keep_ports=True)
        w.emit(lib.sdc, lib.sdc_pump, t, MAP_SDC, keep_ports=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--baseline-days", type=int, default=7)
    ap.add_argument("--start", default="2026-11-09")  # a Monday
    ap.add_argument("--beds", type=int, default=6)
    ap.add_argument("--vitals-every", type=float, default=300.0)
    ap.add_argument("--small", action="store_true", help="fewer episodes, for the committed pair")
    ap.add_argument("--seed", type=int, default=20601)
    ap.add_argument("--extra", action="store_true", help="add the off-hours, volume and SOP-class anomalies")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    lib = Library()
    lib.check()
    os.makedirs(a.outdir, exist_ok=True)
    start = datetime.datetime.strptime(a.start, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    w = Writer(rng)
    for d in range(a.baseline_days):
        day = start + datetime.timedelta(days=d)
        day_traffic(lib, w, day.timestamp(), day.weekday() >= 5, a, rng, day_index=d)
    nb = w.write(os.path.join(a.outdir, "baseline.pcap"))

    test_day = start + datetime.timedelta(days=a.baseline_days)
    t0 = test_day.timestamp()
    labels = []

    def label(s, e, ip, kind, desc):
        labels.append((s, e, ip, kind, desc))

    # periodic monitor going silent from 13:00
    silent_mon = f"10.20.10.{11 + a.beds - 1}"
    silent_at = t0 + 13 * 3600
    day_traffic(lib, w, t0, test_day.weekday() >= 5, a, rng, skip={silent_mon: silent_at}, day_index=-1)
    label(silent_at, t0 + 86400, silent_mon, "device_silent",
          "bedside monitor stops its periodic HL7 ORU^R01 vitals from 13:00")

    # 1. a new unknown device does C-STORE to the PACS (09:12)
    t = t0 + 9 * 3600 + 720
    e = w.emit(lib.store, lib.store_dx, t, dict(MAP_STORE, **{LAB + "25": "10.20.77.5"}))
    label(t, e, "10.20.77.5", "new_device", "unknown host 10.20.77.5 sends DICOM C-STOREs to the PACS")
    # 2. rogue AE title from the CT's address (10:05), answered with A-ASSOCIATE-RJ
    t = t0 + 10 * 3600 + 300
    e = w.emit(lib.pyn, lib.rogue, t, {LAB + "10": "10.20.1.10", LAB + "32": "10.20.2.21"}, server_ports={11112: 104})
    label(t, e, "10.20.2.21", "rogue_ae_title", "association with calling AE ROGUE_AE (never used by this device)")
    # 3. bulk universal C-FIND then C-MOVE of studies to an outside address (11:30)
    t = t0 + 11 * 3600 + 1800
    qmap = dict(MAP_QR, **{LAB + "23": "10.20.3.23"})
    e = w.emit(lib.qr, lib.find_study, t, qmap)
    n_moves = 6 if a.small else 12
    tb = e
    for j in range(n_moves):
        tt = tb + 2 + j * 3
        e2 = w.emit(lib.qr, lib.move, tt, qmap)
        e3 = w.emit(lib.qr, lib.move_sub, tt + 0.01, dict(MAP_QR, **{LAB + "23": "203.0.113.50"}))
        e = max(e2, e3)
    label(t, e, "10.20.3.23", "dicom_exfiltration",
          f"universal C-FIND of all studies then {n_moves} C-MOVEs whose destination is 203.0.113.50 (outside)")
    # 4. HL7 message type never sent by that sender: MFN^M02 from the ADT system (14:10)
    t = t0 + 14 * 3600 + 600
    e = w.emit(lib.hl7, lib.mfn, t, MAP_HL7)
    label(t, e, "10.20.1.40", "hl7_new_message_type", "ADT system sends MFN^M02, a type it never sent")
    # 5. HL7 flood: one monitor sends 400 ORU^R01 in 40 s (15:00)
    t = t0 + 15 * 3600
    mon = "10.20.10.11"
    e = t
    n_flood = 300 if a.small else 400
    for j in range(n_flood):
        e = max(e, w.emit(lib.hl7, [lib.vitals[j % len(lib.vitals)]], t + j * 0.1, dict(MAP_HL7, **{LAB + "51": mon})))
    label(t, e, mon, "hl7_flood", f"{n_flood} HL7 ORU^R01 messages in {n_flood / 10:.0f} seconds from one monitor")
    # 6. SDC SetValue from a new consumer (16:20)
    t = t0 + 16 * 3600 + 1200
    e = w.emit(lib.sdc, lib.sdc_set, t, dict(MAP_SDC, **{LAB + "70": "10.20.3.77"}), keep_ports=True)
    label(t, e, "10.20.3.77", "sdc_new_consumer_operation",
          "new SDC consumer 10.20.3.77 connects to the infusion pump and invokes SetValue and Activate")
    # 7. port scan from a workstation (17:05)
    t = t0 + 17 * 3600 + 300
    nmap_map = {LAB + "99": "10.20.3.99", LAB + "10": "10.20.1.10", LAB + "12": "10.20.1.12",
                LAB + "60": "10.20.10.60", LAB + "1": "10.20.0.1", LAB + "2": "10.20.0.2", LAB + "3": "10.20.0.3",
                LAB + "4": "10.20.0.4", LAB + "5": "10.20.0.5", LAB + "6": "10.20.0.6", LAB + "7": "10.20.0.7",
                LAB + "8": "10.20.0.8", LAB + "9": "10.20.0.9", LAB + "11": "10.20.0.11", LAB + "13": "10.20.0.13",
                LAB + "14": "10.20.0.14", LAB + "15": "10.20.0.15", LAB + "150": "10.20.0.150"}
    e = w.emit_icmp_and_scan(lib.noise, LAB + "99", t, nmap_map)
    label(t, e, "10.20.3.99", "port_scan", "nmap ping sweep, TCP connect, SYN, UDP and version scans")
    # 8. malformed DICOM PDUs to the PACS (18:40)
    t = t0 + 18 * 3600 + 2400
    e = w.emit(lib.mal, lib.malformed, t, {LAB + "10": "10.20.1.10", LAB + "66": "10.20.3.66"})
    label(t, e, "10.20.3.66", "dicom_malformed", "mutated/truncated/oversized-length DICOM PDUs sent to the PACS")

    if a.extra:
        # 9. the reading workstation queries the PACS at 03:12, 14 times in 10 minutes (known peer,
        # port, AE titles and queries: only the hour is new)
        t = t0 + 3 * 3600 + 720
        e = t
        finds = lib.find_patient + lib.find_series + lib.find_study
        for j in range(14):
            e = max(e, w.emit(lib.qr, [finds[j % len(finds)]], t + j * 42 + rng.uniform(0, 5), MAP_QR))
        label(t, e, "10.20.3.23", "off_hours_activity", "reading workstation runs 14 C-FIND queries at 03:12")
        # 10. a bedside monitor uploads ~100 vitals messages in 10 minutes (20:00), below the flood rate
        t = t0 + 20 * 3600
        e = t
        mon = "10.20.10.11"
        for j in range(100):
            e = max(e, w.emit(lib.hl7, [lib.vitals[j % len(lib.vitals)]], t + j * 6.0,
                              dict(MAP_HL7, **{LAB + "51": mon})))
        label(t, e, mon, "volume_anomaly", "bedside monitor sends 100 ORU^R01 in 10 minutes to the HL7 engine")
        # 11. the CT pushes MR/CR/US/DX objects to the PACS Q/R port (19:30)
        t = t0 + 19 * 3600 + 1800
        e = w.emit(lib.qr, lib.ct_qr_store, t, MAP_QR)
        label(t, e, "10.20.2.21", "dicom_new_sop_class", "CT stores MR/CR/US/DX objects to the PACS Q/R port")

    nt = w.write(os.path.join(a.outdir, "test.pcap"))
    labels.sort()
    with open(os.path.join(a.outdir, "labels.csv"), "w") as f:
        f.write("start_ts,end_ts,device_ip,attack_kind,description\n")
        for s, e, ip, kind, desc in labels:
            f.write(f"{s:.6f},{e:.6f},{ip},{kind},{desc.replace(',', ';')}\n")
    print(f"baseline {nb} frames, test {nt} frames, {len(labels)} labels", file=sys.stderr)


if __name__ == "__main__":
    main()
