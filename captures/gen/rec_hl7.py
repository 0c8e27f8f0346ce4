"""Record HL7 v2 captures in a private lab network.

usage: rec_hl7.py OUTDIR {hl7apy,python-hl7,all} [--work DIR]

hl7apy.pcap:     hl7apy MLLPServer (interface engine, 172.30.0.12:2575) answered by python-hl7
                 MLLPClient senders: ADT system .40, orders .41, monitor gateway .51, pump gateway .52,
                 and a split message in 16-byte segments from .53.
python-hl7.pcap: python-hl7 asyncio MLLP server (172.30.0.13:6661) with persistent connections
                 from python-hl7 asyncio clients (monitor .51, pump .52, ADT .40: burst of several
                 messages in one segment, a message split in 12-byte segments), and one unframed
                 HL7-over-TCP exchange (.54 -> .14:5001).
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402

PY = sys.executable
PEER = os.path.join(HERE, "hl7_peer.py")


def show(r):
    sys.stderr.write(r.stdout[-2500:] + r.stderr[-2500:])


def rec_hl7apy(out, work):
    with L.Lab("hapy") as lab:
        eng = lab.add("engine", 12)
        for dev, host in [("adt", 40), ("orders", 41), ("monitor", 51), ("pump", 52), ("split", 53)]:
            lab.add(dev, host)
        lab.start("engine", [PY, PEER, "apyserver", "2575"], log=os.path.join(work, "hl7apy.log"))
        L.wait_listen(lab, "engine", 2575)
        lab.record(os.path.join(out, "hl7", "hl7apy.pcap"))
        for role in ["adt", "orders", "monitor", "pump", "split"]:
            show(lab.run(role, [PY, PEER, "apyclient", eng, "2575", role], timeout=120))
        lab.end_record()


def rec_pyhl7(out, work):
    with L.Lab("hpy") as lab:
        eng = lab.add("engine", 13)
        lis = lab.add("lis", 14)
        for dev, host in [("adt", 40), ("monitor", 51), ("pump", 52), ("legacy", 54)]:
            lab.add(dev, host)
        lab.start("engine", [PY, PEER, "pyserver", "6661"], log=os.path.join(work, "pyhl7.log"))
        lab.start("lis", [PY, PEER, "rawserver", "5001"], log=os.path.join(work, "raw.log"))
        L.wait_listen(lab, "engine", 6661)
        L.wait_listen(lab, "lis", 5001)
        lab.record(os.path.join(out, "hl7", "python-hl7.pcap"))
        pm = lab.start("monitor", [PY, PEER, "pyclient", eng, "6661", "monitor"], log=os.path.join(work, "pyc_mon.log"))
        pp = lab.start("pump", [PY, PEER, "pyclient", eng, "6661", "pump"], log=os.path.join(work, "pyc_pump.log"))
        show(lab.run("adt", [PY, PEER, "pyclient", eng, "6661", "adt"], timeout=120))
        show(lab.run("legacy", [PY, PEER, "rawclient", lis, "5001"], timeout=60))
        pm.wait(120)
        pp.wait(120)
        lab.end_record()


if __name__ == "__main__":
    L.cli({"hl7apy": rec_hl7apy, "python-hl7": rec_pyhl7}, default=["hl7apy", "python-hl7"])
