"""Write a large realistic hospital capture for throughput benchmarks (not committed).

usage: bigcapture.py OUT.pcap [--gib 1.0] [--work DIR] [--seed S] [--mix bulk|ward]

Stitches the recorded captures with the scenario builder's header-only rewriting: mostly DICOM
bulk C-STORE associations (a realistic study of tens of MB from captures/big/dicom-bigstudy.pcap
when it exists, see rec_dicom.py bigstore; otherwise the committed dcmtk-store associations),
plus HL7 vitals/ADT/orders, DICOM queries/moves, SDC sessions, NTP and scans. Episodes are laid
out in windows of 10 minutes in which they overlap; frames are written in time order.
Payload is never modified. Output goes under captures/big/ (git-ignored).

--mix bulk (default): the data-centre view, almost all bytes in full-size DICOM frames
(1.14 GB is 0.79 M frames, 1,440 bytes a frame on average).
--mix ward: the packet-heavy view of a span port that also carries the wards: 400 bedside
monitors sending HL7 vitals every 30 s, many short DICOM query and store associations, SDC
sessions, pumps and ADT, next to a large study every fifth window (about 380 bytes a frame, like the
1.5 GB, 4.0 M-frame capture issue 5 describes).
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scenario as S  # noqa: E402

import dpkt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--work", default="/tmp/iomt-corpus-work")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2026-11-16")
    ap.add_argument("--mix", choices=["bulk", "ward"], default="bulk")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    lib = S.Library()
    lib.check()
    big_path = os.path.join(S.CAPS, "big", "dicom-bigstudy.pcap")
    big = S.Rec(big_path) if os.path.exists(big_path) else None
    big_keys = big.select(lambda k, p: k[0] == "tcp" and any(e[1] == 104 for e in k[1:])) if big else []
    import datetime

    t = datetime.datetime.strptime(a.start, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc).timestamp() + 8 * 3600
    target = int(a.gib * (1 << 30))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    w = S.Writer(rng)
    written = 0
    frames = 0
    t_begin = time.time()
    modalities = [f"10.20.2.{20 + i}" for i in range(1, 12)]
    ward = a.mix == "ward"
    monitors = [f"10.20.{10 + i // 200}.{11 + i % 200}" for i in range(400 if ward else 24)]
    # per 10-minute window: big studies, small CT store associations, DX stores, queries, moves,
    # vitals per monitor, pump messages, ADT/orders, SDC sessions
    n = (dict(big=0.2, ct=3, dx=6, qr=60, move=4, vitals=20, pump=60, adt=40, sdc=16) if ward else
         dict(big=3, ct=30, dx=6, qr=4, move=1, vitals=2, pump=4, adt=2, sdc=1))
    with open(a.out, "wb") as f:
        pw = dpkt.pcap.Writer(f, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
        while written < target:
            batch = []
            win = 600.0
            # bulk imaging: a few big studies or many small store associations per window
            for _ in range(int(n["big"]) + (rng.random() < n["big"] % 1)):
                mod = rng.choice(modalities)
                if big_keys:
                    w.emit(big, big_keys, t + rng.uniform(0, win - 60), {S.LAB + "10": "10.20.1.10", S.LAB + "21": mod},
                           sink=batch)
                else:
                    for _ in range(n["ct"]):
                        w.emit(lib.store, lib.store_ct, t + rng.uniform(0, win - 60),
                               dict(S.MAP_STORE, **{S.LAB + "21": mod}), sink=batch)
            if ward:
                for _ in range(n["ct"]):
                    w.emit(lib.store, lib.store_ct, t + rng.uniform(0, win - 60),
                           dict(S.MAP_STORE, **{S.LAB + "21": rng.choice(modalities)}), sink=batch)
            for _ in range(n["dx"]):
                w.emit(lib.store, lib.store_dx, t + rng.uniform(0, win - 60),
                       dict(S.MAP_STORE, **{S.LAB + "25": rng.choice(modalities)}), sink=batch)
            # queries and moves
            for _ in range(n["qr"]):
                w.emit(lib.qr, rng.choice([lib.find_patient, lib.find_study, lib.find_series]),
                       t + rng.uniform(0, win - 60), S.MAP_QR, sink=batch)
            for _ in range(n["move"]):
                w.emit(lib.qr, lib.move + lib.move_sub, t + rng.uniform(0, win - 60), S.MAP_QR, sink=batch)
            # vitals every 5 minutes from every monitor, pumps, ADT
            for mon in monitors:
                every = win / n["vitals"]
                for k in range(n["vitals"]):
                    w.emit(lib.hl7, [rng.choice(lib.vitals)], t + k * every + rng.uniform(0, every - 10),
                           dict(S.MAP_HL7, **{S.LAB + "51": mon}), sink=batch)
            for _ in range(n["pump"]):
                w.emit(lib.hl7, [rng.choice(lib.pump)], t + rng.uniform(0, win - 60), S.MAP_HL7, sink=batch)
            for _ in range(n["adt"]):
                w.emit(lib.hl7, [rng.choice(lib.adt + lib.orm)], t + rng.uniform(0, win - 60), S.MAP_HL7, sink=batch)
            # SDC session and NTP
            for k in range(n["sdc"]):
                ts = t + rng.uniform(0, win - 30)
                # ports are kept (the provider's port is in the discovery payload): sessions that may
                # overlap in time get their own consumer address, so no two share a 5-tuple
                m = S.MAP_SDC if k == 0 else dict(S.MAP_SDC, **{S.LAB + "70": f"10.20.11.{70 + k}"})
                w.emit(lib.sdc, lib.wsd, ts, m, keep_ports=True, sink=batch)
                w.emit(lib.sdc, lib.sdc_pump, ts + 2, m, keep_ports=True, sink=batch)
            w.emit(lib.noise, lib.ntp[:1], t + rng.uniform(0, win - 60), {S.LAB + "1": "10.20.0.1",
                                                                     S.LAB + "60": rng.choice(monitors)}, sink=batch)
            batch.sort(key=lambda x: x[0])
            for ts_, buf in batch:
                pw.writepkt(buf, ts=ts_)
                written += len(buf) + 16
                frames += 1
            t += win
            print(f"\r{written / (1 << 30):.2f} GiB, {frames} frames", end="", file=sys.stderr)
    print(f"\nwrote {a.out}: {os.path.getsize(a.out)} bytes, {frames} frames in {time.time() - t_begin:.0f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
