"""A private lab network made of Linux network namespaces.

One hub namespace holds a bridge `br0`; every simulated device gets its own
namespace with a veth pair plugged into the bridge, its own address in
LAB_NET and its own MAC. tcpdump runs in the hub on br0 and sees every frame
(real Ethernet headers, real ARP). Nothing is routed out: the namespaces have
no link to the host's network. Run as root.

Processes are started with `ip netns exec NS cmd` (which execs cmd, so the
Popen pid is the peer's pid) and ended by that pid only.
"""
import os
import signal
import subprocess
import sys
import time

PREFIX = "iomtc"
HUB = f"{PREFIX}-hub"
LAB_NET = "172.30.0"  # /24, lab addresses of the recordings


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd!r} failed: {r.stderr.strip()}")
    return r.stdout


class Lab:
    def __init__(self, name):
        self.name = name  # short tag, part of namespace names
        self.devices = {}  # dev -> (ns, ip, mac)
        self.procs = []  # Popen objects we started
        self.hub = f"{HUB}{name}"
        self.capture = None

    # -- topology ---------------------------------------------------------
    def up(self):
        self.down_stale()
        sh(f"ip netns add {self.hub}")
        sh(f"ip netns exec {self.hub} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        sh(f"ip -n {self.hub} link set lo up")
        sh(f"ip -n {self.hub} link add br0 type bridge")
        # no IGMP snooping: a lab without querier should just flood multicast
        sh(f"ip -n {self.hub} link set br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0")
        sh(f"ip -n {self.hub} link set br0 up")
        return self

    def add(self, dev, host, mac=None):
        """Add device `dev` with address LAB_NET.host; returns its IP."""
        ns = f"{PREFIX}-{self.name}-{dev}"[:40]
        ip = f"{LAB_NET}.{host}"
        mac = mac or "0e:1a:%02x:00:00:%02x" % (len(self.devices) + 1, host)
        idx = len(self.devices) + 1
        sh(f"ip netns add {ns}")
        sh(f"ip netns exec {ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        sh(f"ip -n {ns} link set lo up")
        sh(f"ip link add v{self.name[:4]}{idx}h netns {self.hub} type veth peer name eth0 netns {ns}")
        sh(f"ip -n {ns} link set eth0 address {mac}")
        sh(f"ip -n {self.hub} link set v{self.name[:4]}{idx}h master br0 up")
        sh(f"ip -n {ns} addr add {ip}/24 dev eth0")
        sh(f"ip -n {ns} link set eth0 up")
        sh(f"ip -n {ns} route add 224.0.0.0/4 dev eth0")
        # no offloads: tcpdump should see wire-sized segments, as a span port does
        sh(f"ip netns exec {ns} ethtool -K eth0 tx off tso off gso off gro off 2>/dev/null", check=False)
        sh(f"ip netns exec {self.hub} ethtool -K v{self.name[:4]}{idx}h tx off tso off gso off gro off 2>/dev/null", check=False)
        self.devices[dev] = (ns, ip, mac)
        return ip

    def ip(self, dev):
        return self.devices[dev][1]

    def ns(self, dev):
        return self.devices[dev][0]

    def down_stale(self):
        for line in sh("ip netns list", check=False).splitlines():
            n = line.split()[0] if line.split() else ""
            if n == self.hub or n.startswith(f"{PREFIX}-{self.name}-"):
                sh(f"ip netns del {n}", check=False)

    # -- processes --------------------------------------------------------
    def start(self, dev, cmd, log=None, env=None, cwd=None):
        ns = self.hub if dev is None else self.ns(dev)
        out = open(log, "ab") if log else subprocess.DEVNULL
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns] + list(cmd), stdout=out, stderr=subprocess.STDOUT,
            env=e, cwd=cwd, start_new_session=True,
        )
        self.procs.append(p)
        return p

    def run(self, dev, cmd, timeout=120, check=False, env=None, cwd=None, input=None):
        ns = self.hub if dev is None else self.ns(dev)
        e = dict(os.environ)
        if env:
            e.update(env)
        r = subprocess.run(["ip", "netns", "exec", ns] + list(cmd), capture_output=True,
                           text=True, timeout=timeout, env=e, cwd=cwd, input=input)
        sys.stderr.write(f"[{dev}] {' '.join(cmd)[:160]} -> rc={r.returncode}\n")
        if check and r.returncode != 0:
            raise RuntimeError(f"{cmd} rc={r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def stop(self, p, sig=signal.SIGTERM, wait=5):
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()

    # -- capture ----------------------------------------------------------
    def record(self, path, bpf=""):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        log = "/tmp/iomtc-" + os.path.basename(path) + ".tcpdump.log"
        cmd = ["tcpdump", "-i", "br0", "-s", "0", "-U", "-n", "-w", path]
        if bpf:
            cmd.append(bpf)
        self.capture = self.start(None, cmd, log=log)
        for _ in range(100):
            if os.path.exists(log) and b"listening on" in open(log, "rb").read():
                break
            time.sleep(0.05)
        time.sleep(0.3)
        return self.capture

    def end_record(self):
        time.sleep(1.0)
        if self.capture:
            self.stop(self.capture, signal.SIGINT)
            self.capture = None

    def down(self):
        for p in reversed(self.procs):
            self.stop(p)
        self.procs = []
        for dev, (ns, _ip, _mac) in list(self.devices.items()):
            sh(f"ip netns del {ns}", check=False)
        sh(f"ip netns del {self.hub}", check=False)
        self.devices = {}

    def __enter__(self):
        return self.up()

    def __exit__(self, *a):
        self.down()


def wait_listen(lab, dev, port, timeout=30, udp=False):
    """Wait until something listens on `port` in dev's namespace (no packets sent)."""
    t0 = time.time()
    flag = "-Hlun" if udp else "-Hltn"
    while time.time() - t0 < timeout:
        out = sh(f"ip netns exec {lab.ns(dev)} ss {flag} 'sport = :{port}'", check=False)
        if out.strip():
            return True
        time.sleep(0.2)
    raise RuntimeError(f"{dev}:{port} not listening")


def cleanup_all():
    """Delete every namespace this generator made (names start with PREFIX-)."""
    for line in sh("ip netns list", check=False).splitlines():
        n = line.split()[0] if line.split() else ""
        if n.startswith(PREFIX + "-"):
            sh(f"ip netns del {n}", check=False)


if __name__ == "__main__" and sys.argv[1:] == ["--cleanup"]:
    cleanup_all()


def cli(recorders, default=None):
    """The recorders' command line: `OUTDIR [WHAT...] [--work DIR]`.

    `recorders` is one function `rec(outdir, work)`, or a dict name -> such function; then WHAT names
    the recordings to make and `all` stands for the names in `default`."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    if isinstance(recorders, dict):
        ap.add_argument("what", nargs="+", choices=["all"] + list(recorders))
    ap.add_argument("--work", default="/tmp/iomt-corpus-work")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    out = os.path.abspath(a.outdir)
    if not isinstance(recorders, dict):
        recorders(out, a.work)
        return
    for w in (default if "all" in a.what else a.what):
        recorders[w](out, a.work)
