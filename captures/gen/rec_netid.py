"""Record the identity chatter of a hospital LAN: LLDP and CDP, mDNS/DNS-SD, DHCP with client
identity, and ARP including an address conflict.

usage: rec_netid.py OUTDIR [--work DIR]

Peers: lldpd 1.0 (Debian; the switch speaks LLDP (and CDP to CDP peers, -c), the gateway CDPv2 unconditionally (-ccc), LLDP-MED) on an access switch and an infusion-pump
gateway, each in its own UTS namespace so each has its own host name; python-zeroconf (PyPI)
announcing DNS-SD services (a DICOM node, a device web UI, a printer) and a browser querying them;
dnsmasq (DHCP server) and ISC dhclient with two client configurations (host name, FQDN, vendor class,
client id, different parameter request lists); arping (Thomas Habets, Debian `arping`) sending a
gratuitous ARP, a duplicate-address probe, and a second MAC claiming the pump gateway's address
(the conflict). Writes OUTDIR/noise/netid.pcap.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402

PY = sys.executable


def lldpd(lab, dev, work, hostname, descr, platform, med_class, cdp):
    """lldpd in `dev`'s namespace with its own host name and /run (lldpd chroots to /run/lldpd)."""
    run = os.path.join(work, f"run-{dev}")
    os.makedirs(os.path.join(run, "lldpd"), exist_ok=True)
    script = (f"mount -t tmpfs none /run && mkdir -p /run/lldpd && hostname {hostname} && "
              f"exec lldpd -d {cdp} -M {med_class} -I eth0 -S '{descr}' -P '{platform}' "
              f"-u /run/lldpd.socket -m {lab.ip(dev)}")
    return lab.start(dev, ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", script],
                     log=os.path.join(work, f"lldpd-{dev}.log"))


def dhclient_conf(path, host, vendor, prl):
    with open(path, "w") as f:
        f.write(f'send host-name "{host}";\n'
                f'send fqdn.fqdn "{host}.synhosp.lan";\n'
                f'send vendor-class-identifier "{vendor}";\n'
                f'send dhcp-client-identifier "{host}";\n'
                f"request {prl};\n")


def rec(out, work):
    with L.Lab("ni") as lab:
        lab.add("infra", 1)
        lab.add("switch", 2)
        gw = lab.add("pumpgw", 52)
        ct = lab.add("ct", 21)
        lab.add("printer", 30)
        lab.add("viewer", 24)
        lab.add("rogue", 66)
        for dev in ("pump1", "monitor7"):
            lab.add(dev, 200 + len(lab.devices))
            lab.run(dev, ["ip", "addr", "flush", "dev", "eth0"], check=True)
        # LLDP's group address (01:80:c2:00:00:0e) is not forwarded by a Linux bridge unless asked:
        # forward it so the recording on br0 sees what a span port would.
        L.sh(f"ip -n {lab.hub} link set br0 type bridge group_fwd_mask 0x4000")
        leases = os.path.join(work, "netid-dnsmasq.leases")
        if os.path.exists(leases):
            os.unlink(leases)
        lab.start("infra", ["dnsmasq", "-k", "--no-resolv", "--no-hosts", "--interface=eth0", "--bind-interfaces",
                            "--dhcp-range=172.30.0.150,172.30.0.199,12h", f"--dhcp-leasefile={leases}",
                            "--domain=synhosp.lan", "--user=root", "--port=0", f"--pid-file={work}/netid-dnsmasq.pid"],
                  log=os.path.join(work, "netid-dnsmasq.log"))
        L.wait_listen(lab, "infra", 67, udp=True)
        lab.record(os.path.join(out, "noise", "netid.pcap"))
        # LLDP/CDP: an access switch and a pump gateway announce themselves (lldpd sends at start).
        sw = lldpd(lab, "switch", work, "ward3-access-sw1", "Ward 3 access switch, 24 ports", "ACME-SW-24", 4, "-c")
        pg = lldpd(lab, "pumpgw", work, "infusion-gw-3", "Infusion pump gateway fw 2.1.7", "PumpGW-200", 1, "-ccc")
        time.sleep(3)
        # DHCP: two devices boot and ask for addresses, each with its own identity.
        for dev, host, vendor, prl in [
            ("pump1", "pump-ward3-07", "MedVendor Infusion 4.2",
             "subnet-mask, routers, domain-name-servers, ntp-servers"),
            ("monitor7", "monitor-bed7", "PatientMonitor MX/2.0",
             "subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name"),
        ]:
            conf = os.path.join(work, f"dhclient-{dev}.conf")
            dhclient_conf(conf, host, vendor, prl)
            lf = os.path.join(work, f"dhclient-{dev}.leases")
            if os.path.exists(lf):
                os.unlink(lf)
            d = lab.start(dev, ["dhclient", "-d", "-v", "-1", "-cf", conf, "-sf", "/bin/true", "-lf", lf,
                                "-pf", os.path.join(work, f"dhclient-{dev}.pid"), "eth0"],
                          log=os.path.join(work, f"dhclient-{dev}.log"))
            time.sleep(4)
            lab.stop(d)
        # mDNS/DNS-SD: services announced, then browsed from the viewer.
        ann = [
            lab.start("ct", [PY, os.path.join(HERE, "mdns_peer.py"), "announce", "ct01", ct, "_dicom._tcp",
                             "CT01 Scanner", "104", "aet=CT_SCANNER01", "--seconds", "8"]),
            lab.start("pumpgw", [PY, os.path.join(HERE, "mdns_peer.py"), "announce", "infusion-gw-3", gw,
                                 "_http._tcp", "Pump gateway web", "80", "path=/", "--seconds", "8"]),
            lab.start("printer", [PY, os.path.join(HERE, "mdns_peer.py"), "announce", "ward3-printer",
                                  lab.ip("printer"), "_ipp._tcp", "Ward 3 printer", "631", "rp=ipp/print",
                                  "--seconds", "8"]),
        ]
        time.sleep(2)
        lab.run("viewer", [PY, os.path.join(HERE, "mdns_peer.py"), "browse", "_dicom._tcp", "_http._tcp", "_ipp._tcp",
                           "--seconds", "4"], timeout=30)
        for p in ann:
            p.wait(20)
        # ARP: ordinary resolution, a gratuitous announcement, a duplicate-address probe, and a second
        # MAC claiming the pump gateway's address (spoofing / address conflict).
        lab.run("viewer", ["ping", "-c", "1", "-W", "1", gw], timeout=10)
        lab.run("ct", ["arping", "-q", "-U", "-i", "eth0", "-S", ct, "-c", "2", ct], timeout=10)
        lab.run("viewer", ["arping", "-q", "-D", "-i", "eth0", "-c", "2", "172.30.0.77"], timeout=10)
        lab.run("rogue", ["arping", "-q", "-U", "-i", "eth0", "-S", gw, "-c", "3", gw], timeout=10)
        lab.run("rogue", ["arping", "-q", "-P", "-i", "eth0", "-S", gw, "-t", "0e:1a:06:00:00:18", "-c", "2", lab.ip("viewer")],
                timeout=10)
        time.sleep(1)
        for p in (sw, pg):
            lab.stop(p)  # lldpd sends a shutdown LLDPDU (TTL 0) on the way out
        lab.end_record()


if __name__ == "__main__":
    L.cli(rec)
