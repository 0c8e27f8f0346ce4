"""Record IEEE 11073 SDC captures (sdc11073) in a private lab network.

usage: rec_sdc.py OUTDIR {plain,tls,all} [--work DIR]

Providers: patient monitor 172.30.0.60, infusion pump 172.30.0.61; consumer (central
station) 172.30.0.70. WS-Discovery over UDP multicast 239.255.255.250:3702 on the lab
bridge; SOAP over HTTP (plain) or HTTPS with certificates made here by openssl (tls).
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402

PY = sys.executable
PEER = os.path.join(HERE, "sdc_peer.py")


def mk_certs(d):
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "cert.pem")):
        return d
    run = lambda c: subprocess.run(c, shell=True, check=True, cwd=d, capture_output=True)  # noqa: E731
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 "
        "-subj '/CN=Synthetic Ward Lab CA'")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:172.30.0.60,IP:172.30.0.61,IP:172.30.0.70,IP:172.30.0.71\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
    run("openssl req -newkey rsa:2048 -nodes -keyout key.pem -out dev.csr -subj '/CN=sdc-lab-device'")
    run("openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem "
        "-days 3650 -extfile ext.cnf")
    return d


def rec(out, work, tls):
    name = "sdc11073-tls.pcap" if tls else "sdc11073.pcap"
    certdir = mk_certs(os.path.join(work, "sdccerts")) if tls else None
    env = {"SDC11073_SRC": os.environ.get("SDC11073_SRC", "/tmp/sdc11073-src")}
    with L.Lab("sdc" + ("t" if tls else "p")) as lab:
        mon = lab.add("monitor", 60)
        pump = lab.add("pump", 61)
        cons = lab.add("central", 70)
        lab.record(os.path.join(out, "sdc", name))
        extra = [certdir] if tls else []
        pm = lab.start("monitor", [PY, PEER, "provider", mon, "monitor", "26"] + extra,
                       log=os.path.join(work, "sdc_mon.log"), env=env)
        time.sleep(1.0)
        pp = lab.start("pump", [PY, PEER, "provider", pump, "pump", "24"] + extra,
                       log=os.path.join(work, "sdc_pump.log"), env=env)
        time.sleep(4)
        r = lab.run("central", [PY, PEER, "consumer", cons, "14"] + extra, timeout=120, env=env)
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        pm.wait(90)
        pp.wait(90)
        lab.end_record()


if __name__ == "__main__":
    L.cli({"plain": lambda out, work: rec(out, work, False), "tls": lambda out, work: rec(out, work, True)},
          default=["plain", "tls"])
