"""Record IEEE 11073-20601 over TCP between Signove antidote's sample manager and agent.

usage: ANTIDOTE_DIR=/path/to/built/antidote rec_20601.py OUTDIR

antidote (https://github.com/signove/antidote, LGPL) is not part of this repository: build it
yourself and point ANTIDOTE_DIR at the build tree (apps/ieee_manager, apps/ieee_agent). Its TCP
plugin binds/connects on the loopback, port 6024, so both peers run in one private namespace
and tcpdump records its loopback (127.0.0.1 both ways). One agent per specialization:
pulse oximeter (10404), blood pressure (10407), weighing scale (10415), glucose meter (10417):
association (AARQ/AARE), configuration event report, measurement event reports every 3 s,
release (RLRQ/RLRE).
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402


def main(out):
    ad = os.environ.get("ANTIDOTE_DIR")
    if not ad or not os.path.exists(os.path.join(ad, "apps", "ieee_agent")):
        print("rec_20601: ANTIDOTE_DIR not set to a built antidote tree; skipping", file=sys.stderr)
        return
    ns = f"{L.PREFIX}-20601"
    L.sh(f"ip netns del {ns}", check=False)
    L.sh(f"ip netns add {ns}")
    procs = []
    try:
        L.sh(f"ip -n {ns} link set lo up")
        path = os.path.join(out, "ieee20601", "antidote-tcp.pcap")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        td = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", "lo", "-s", "0", "-U", "-n", "-w", path,
                               "tcp port 6024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(td)
        time.sleep(1)
        for sensor in ["pulseoximeter", "bloodpressure", "weightscale", "glucometer"]:
            mgr = subprocess.Popen(["ip", "netns", "exec", ns, os.path.join(ad, "apps", "ieee_manager"), "--tcp"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(mgr)
            time.sleep(0.7)
            r = subprocess.run(["ip", "netns", "exec", ns, os.path.join(ad, "apps", "ieee_agent"),
                                f"--sensor={sensor}"], capture_output=True, timeout=60)
            print(f"agent {sensor} rc={r.returncode}", file=sys.stderr)
            time.sleep(0.5)
            os.kill(mgr.pid, signal.SIGTERM)
            mgr.wait(5)
        time.sleep(0.5)
        os.kill(td.pid, signal.SIGINT)
        td.wait(5)
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        L.sh(f"ip netns del {ns}", check=False)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
