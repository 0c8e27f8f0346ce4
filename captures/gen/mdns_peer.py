"""mDNS/DNS-SD peers for rec_netid.py (python-zeroconf, PyPI).

usage: mdns_peer.py announce HOSTNAME IP SERVICE_TYPE INSTANCE PORT [key=value ...] [--seconds S]
       mdns_peer.py browse SERVICE_TYPE... [--seconds S]
"""
import socket
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, Zeroconf


def main():
    args = sys.argv[1:]
    secs = 6.0
    if "--seconds" in args:
        i = args.index("--seconds")
        secs = float(args[i + 1])
        del args[i:i + 2]
    mode = args[0]
    if mode == "announce":
        host, ip, stype, inst, port = args[1:6]
        props = dict(kv.split("=", 1) for kv in args[6:])
        zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
        info = ServiceInfo(f"{stype}.local.", f"{inst}.{stype}.local.", addresses=[socket.inet_aton(ip)],
                           port=int(port), properties=props, server=f"{host}.local.")
        zc.register_service(info)
        time.sleep(secs)
        zc.unregister_service(info)
        zc.close()
    elif mode == "browse":
        zc = Zeroconf(ip_version=IPVersion.V4Only)
        seen = []

        class L:
            def add_service(self, z, t, n):
                seen.append(n)

            def remove_service(self, z, t, n):
                pass

            def update_service(self, z, t, n):
                pass

        browsers = [ServiceBrowser(zc, f"{t}.local.", L()) for t in args[1:]]
        time.sleep(secs)
        for b in browsers:
            b.cancel()
        zc.close()
        print("\n".join(sorted(set(seen))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
