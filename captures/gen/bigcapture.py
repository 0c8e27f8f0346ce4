"""Write a large realistic hospital capture for throughput benchmarks (not committed).

usage: bigcapture.py OUT.pcap [--gib 1.0] [--work DIR] [--seed S]

Stitches the recorded captures with the scenario builder's header-only rewriting: mostly DICOM
bulk C-STORE associations (a realistic study of tens of MB from captures/big/dicom-bigstudy.pcap
when it exists, see rec_dicom.py bigstore; otherwise the committed dcmtk-store associations),
plus HL7 vitals/ADT/orders, DICOM queries/moves, SDC sessions, NTP and scans. Episodes are laid
out in windows of 10 minutes in which they overlap; frames are written in time order.
Payload is never modified. Output goes under captures/big/ (git-ignored).
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
    monitors = [f"10.20.10.{11 + i}" for i in range(24)]
    with open(a.out, "wb") as f:
        pw = dpkt.pcap.Writer(f, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
        while written < target:
            batch = []
            win = 600.0
            # bulk imaging: a few big studies or many small store associations per window
            for _ in range(3):
                mod = rng.choice(modalities)
                if big_keys:
                    w.emit(big, big_keys, t + rng.uniform(0, win - 60), {S.LAB + "10": "10.20.1.10", S.LAB + "21": mod},
                           sink=batch)
                else:
                    for _ in range(30):
                        w.emit(lib.store, lib.store_ct, t + rng.uniform(0, win - 60),
                               dict(S.MAP_STORE, **{S.LAB + "21": mod}), sink=batch)
            for _ in range(6):
                w.emit(lib.store, lib.store_dx, t + rng.uniform(0, win - 60),
                       dict(S.MAP_STORE, **{S.LAB + "25": rng.choice(modalities)}), sink=batch)
            # queries and moves
            for _ in range(4):
                w.emit(lib.qr, rng.choice([lib.find_patient, lib.find_study, lib.find_series]),
                       t + rng.uniform(0, win - 60), S.MAP_QR, sink=batch)
            w.emit(lib.qr, lib.move + lib.move_sub, t + rng.uniform(0, win - 60), S.MAP_QR, sink=batch)
            # vitals every 5 minutes from every monitor, pumps, ADT
            for mon in monitors:
                for k in range(2):
                    w.emit(lib.hl7, [rng.choice(lib.vitals)], t + k * 300 + rng.uniform(0, 290),
                           dict(S.MAP_HL7, **{S.LAB + "51": mon}), sink=batch)
            for _ in range(4):
                w.emit(lib.hl7, [rng.choice(lib.pump)], t + rng.uniform(0, win - 60), S.MAP_HL7, sink=batch)
            for _ in range(2):
                w.emit(lib.hl7, [rng.choice(lib.adt + lib.orm)], t + rng.uniform(0, win - 60), S.MAP_HL7, sink=batch)
            # SDC session and NTP
            ts = t + rng.uniform(0, win - 30)
            w.emit(lib.sdc, lib.wsd, ts, S.MAP_SDC, keep_ports=True, sink=batch)
            w.emit(lib.sdc, lib.sdc_pump, ts + 2, S.MAP_SDC, keep_ports=True, sink=batch)
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
