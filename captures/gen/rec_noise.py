"""Record network noise and scans in a private lab network.

usage: rec_noise.py OUTDIR [--work DIR]

Peers (Debian): dnsmasq (DHCP + DNS server, 172.30.0.1), chronyd (NTP server on .1, and a
client with -Q that only measures), ISC dhclient (DHCP client on a device with no address),
glibc resolver (getent) for DNS lookups, nmap (ping sweep, TCP connect scan, SYN scan, UDP
scan) from 172.30.0.99 against storescp (.10:104) and the hl7apy MLLP server (.12:2575).
"""
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402

PY = sys.executable


def rec(out, work):
    made_netns_dirs = []
    with L.Lab("nz") as lab:
        infra = lab.add("infra", 1)
        pacs = lab.add("pacs", 10)
        eng = lab.add("engine", 12)
        mon = lab.add("monitor", 60)
        lab.add("scanner", 99)
        lab.add("newdev", 150)
        # the new device has no address: DHCP gives it one
        L.sh(f"ip -n {lab.ns('newdev')} addr flush dev eth0")
        # resolver config for the devices that look names up (ip netns exec bind-mounts it)
        for dev in ["monitor", "pacs"]:
            d = f"/etc/netns/{lab.ns(dev)}"
            os.makedirs(d, exist_ok=True)
            made_netns_dirs.append(d)
            with open(f"{d}/resolv.conf", "w") as f:
                f.write(f"nameserver {infra}\nsearch synhosp.lan\n")
        for stale in ("dhclient.leases", "dhclient.pid"):
            if os.path.exists(os.path.join(work, stale)):
                os.unlink(os.path.join(work, stale))  # a fresh client: DISCOVER/OFFER/REQUEST/ACK
        leases = os.path.join(work, "dnsmasq.leases")
        if os.path.exists(leases):
            os.unlink(leases)
        lab.start("infra", ["dnsmasq", "-k", "--no-resolv", "--no-hosts", "--interface=eth0", "--bind-interfaces",
                            "--dhcp-range=172.30.0.150,172.30.0.199,12h", f"--dhcp-leasefile={leases}",
                            "--dhcp-option=42,172.30.0.1", "--domain=synhosp.lan", "--user=root",
                            "--address=/pacs.synhosp.lan/172.30.0.10", "--address=/hl7.synhosp.lan/172.30.0.12",
                            "--address=/ntp.synhosp.lan/172.30.0.1", f"--pid-file={work}/dnsmasq.pid"],
                  log=os.path.join(work, "dnsmasq.log"))
        srvconf = os.path.join(work, "chrony-srv.conf")
        with open(srvconf, "w") as f:
            f.write(f"allow 172.30.0.0/24\nlocal stratum 8\nbindaddress {infra}\n"
                    f"pidfile {work}/chronyd-srv.pid\ndriftfile {work}/chrony.drift\ncmdport 0\n")
        lab.start("infra", ["chronyd", "-d", "-x", "-f", srvconf], log=os.path.join(work, "chronyd.log"))
        lab.start("pacs", ["/usr/bin/storescp", "-aet", "PACS", "-od", work, "104"], log=os.path.join(work, "nz_scp.log"))
        lab.start("engine", [PY, os.path.join(HERE, "hl7_peer.py"), "apyserver", "2575"], log=os.path.join(work, "nz_hl7.log"))
        L.wait_listen(lab, "infra", 53, udp=True)
        L.wait_listen(lab, "pacs", 104)
        L.wait_listen(lab, "engine", 2575)
        time.sleep(1)
        lab.record(os.path.join(out, "noise", "noise.pcap"))
        # DHCP: a new device boots and asks for an address
        dh = lab.start("newdev", ["dhclient", "-d", "-v", "-1", "-sf", "/bin/true", "-lf", f"{work}/dhclient.leases",
                                  "-pf", f"{work}/dhclient.pid", "eth0"], log=os.path.join(work, "dhclient.log"))
        time.sleep(4)
        lab.stop(dh)
        # DNS lookups from devices through glibc
        for dev, name in [("monitor", "hl7.synhosp.lan"), ("monitor", "ntp.synhosp.lan"), ("pacs", "pacs.synhosp.lan"),
                          ("monitor", "unknown-host.synhosp.lan")]:
            lab.run(dev, ["getent", "ahostsv4", name], timeout=15)
        # NTP: a client measures its offset against the server (-Q: never sets the clock)
        cliconf = os.path.join(work, "chrony-cli.conf")
        with open(cliconf, "w") as f:
            f.write(f"server {infra} iburst\npidfile {work}/chronyd-cli.pid\ncmdport 0\n")
        lab.run("monitor", ["chronyd", "-Q", "-t", "8", "-f", cliconf], timeout=30)
        # scans
        targets = [pacs, eng, mon]
        lab.run("scanner", ["nmap", "-n", "-sn", "172.30.0.0/28"], timeout=120)
        lab.run("scanner", ["nmap", "-n", "-Pn", "-sT", "-p", "1-1024,2575,4242,6661,8042,11112"] + targets, timeout=300)
        lab.run("scanner", ["nmap", "-n", "-Pn", "-sS", "--top-ports", "300", "-T4"] + targets, timeout=300)
        lab.run("scanner", ["nmap", "-n", "-Pn", "-sU", "-p", "53,67,123,161,3702"] + [infra, mon], timeout=300)
        lab.run("scanner", ["nmap", "-n", "-Pn", "-sV", "--version-light", "-p", "104,2575"] + [pacs, eng], timeout=300)
        lab.end_record()
    for d in made_netns_dirs:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    L.cli(rec)
