"""HL7 v2 peers for captures/hl7/*.pcap.

  hl7_peer.py apyserver PORT         hl7apy MLLPServer (one message per connection, as hl7apy
                                     does); handlers build ACKs with hl7apy: AA for known
                                     types, AE when the message has no PID / does not parse,
                                     AR for a message type it has no handler for.
  hl7_peer.py apyclient HOST PORT ROLE   python-hl7 MLLPClient (hl7.client) sending the ROLE's
                                     messages, one connection each; role `split` writes one
                                     message in 16-byte writes with TCP_NODELAY.
  hl7_peer.py pyserver PORT          python-hl7 asyncio MLLP server (hl7.mllp): persistent
                                     connections, ACK AA/AE/AR via hl7.Message.create_ack.
  hl7_peer.py pyclient HOST PORT ROLE    python-hl7 asyncio MLLP client (hl7.mllp): persistent
                                     connection; periodic vitals, a burst of several framed
                                     messages in one write (one TCP segment), a split message.
  hl7_peer.py rawserver PORT / rawclient HOST PORT   unframed HL7 over TCP (no MLLP): messages
                                     and ACKs written bare, ACK built with python-hl7.
"""
import asyncio
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hl7_msgs as M  # noqa: E402

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


# ---------------------------------------------------------------- hl7apy server
def apyserver(port):
    from hl7apy.core import Message
    from hl7apy.mllp import AbstractErrorHandler, AbstractHandler, MLLPServer, UnsupportedMessageType
    from hl7apy.parser import parse_message

    def ack(version, control_id, code, sapp, sfac, rapp, rfac, trigger, text=None):
        a = Message("ACK", version=version)
        a.msh.msh_3 = rapp or "IFACE_ENGINE"
        a.msh.msh_4 = rfac or "SYNHOSP"
        a.msh.msh_5 = sapp or ""
        a.msh.msh_6 = sfac or ""
        a.msh.msh_9 = "ACK" if version == "2.3" else f"ACK^{trigger}^ACK"
        a.msh.msh_10 = "ACK" + (control_id or "0")[-10:]
        a.msh.msh_11 = "P"
        a.msa.msa_1 = code
        a.msa.msa_2 = control_id or ""
        if text:
            a.msa.msa_3 = text
        return a.to_mllp()

    def hdr(msg):
        f = msg.split("\r", 1)[0].split("|")
        g = lambda k: f[k] if len(f) > k else ""  # noqa: E731
        trig = g(8).split("^")[1] if "^" in g(8) else ""
        return g(11), g(9), g(2), g(3), g(4), g(5), trig

    class Ok(AbstractHandler):
        def reply(self):
            ver, cid, sapp, sfac, rapp, rfac, trig = hdr(self.incoming_message)
            try:
                m = parse_message(self.incoming_message, find_groups=False)
                has_pid = any(c.name == "PID" for c in m.children)
            except Exception:
                has_pid = False
            if not has_pid:
                return ack(ver or "2.5", cid, "AE", sapp, sfac, rapp, rfac, trig, "Required PID segment missing")
            return ack(ver, cid, "AA", sapp, sfac, rapp, rfac, trig)

    class Err(AbstractErrorHandler):
        def reply(self):
            ver, cid, sapp, sfac, rapp, rfac, trig = hdr(self.incoming_message)
            if isinstance(self.exc, UnsupportedMessageType):
                return ack(ver or "2.5", cid, "AR", sapp, sfac, rapp, rfac, trig, "Unsupported message type")
            return ack(ver or "2.5", cid, "AE", sapp, sfac, rapp, rfac, trig, "Invalid message")

    handlers = {"ERR": (Err,)}
    for ev, st in [("A01", "ADT_A01"), ("A03", "ADT_A03"), ("A04", "ADT_A01"), ("A08", "ADT_A01")]:
        handlers[f"ADT^{ev}"] = (Ok,)
        handlers[f"ADT^{ev}^{st}"] = (Ok,)
    for t in ["ORM^O01", "ORM^O01^ORM_O01", "ORU^R01", "ORU^R01^ORU_R01"]:
        handlers[t] = (Ok,)
    MLLPServer.allow_reuse_address = True
    srv = MLLPServer("0.0.0.0", int(port), handlers, timeout=5)
    srv.serve_forever()


# ---------------------------------------------------------------- python-hl7 MLLPClient
def role_messages(role):
    if role == "adt":  # ADT system, versions 2.3 .. 2.6
        out = []
        for k, (ev, ver) in enumerate([("A04", "2.3"), ("A01", "2.4"), ("A08", "2.5"), ("A01", "2.5"),
                                       ("A08", "2.6"), ("A03", "2.5"), ("A03", "2.3")]):
            out.append(M.adt(ev, ver, k, sec=k * 40))
        out.append(M.unknown_type("2.5", 0, sec=400))  # no handler: AR
        return out
    if role == "orders":
        return [M.orm(v, k, sec=k * 90) for k, v in enumerate(["2.3", "2.4", "2.5"])]
    if role == "monitor":
        return [M.oru_vitals("2.6", k % 2, sec=k * 60, bed=1 + k % 2, seed=k) for k in range(6)] + [
            M.broken("2.6", 0, sec=500)]  # AE
    if role == "pump":
        return [M.oru_pump("2.6", 2, sec=k * 60, seed=k) for k in range(4)] + [
            M.oru_pump("2.5", 3, sec=300, channel=2, seed=9)]
    raise SystemExit(f"unknown role {role}")


def apyclient(host, port, role):
    from hl7.client import MLLPClient

    port = int(port)
    if role == "split":
        # one ORU split into 16-byte writes with TCP_NODELAY: many small TCP segments
        msg = (SB + M.oru_vitals("2.6", 4, sec=700, bed=3, seed=11).encode() + EB + CR)
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for k in range(0, len(msg), 16):
            s.send(msg[k:k + 16])
            time.sleep(0.01)
        print("split ack:", s.recv(4096)[:80])
        s.close()
        return
    for m in role_messages(role):
        with MLLPClient(host, port) as c:
            r = c.send_message(m)
            print(role, m.split("|")[8], "->", r.split(b"\r")[1][:40] if b"\r" in r else r[:60])
        time.sleep(0.15)


# ---------------------------------------------------------------- python-hl7 asyncio
def pyserver(port):
    import hl7
    from hl7.mllp import start_hl7_server

    known = {"ADT", "ORM", "ORU"}

    async def on_client(reader, writer):
        try:
            while not writer.is_closing():
                msg = await reader.readmessage()
                mtype = str(msg.segment("MSH")(9)(1)(1))
                if mtype not in known:
                    code = "AR"
                else:
                    try:
                        msg.segment("PID")
                        code = "AA"
                    except KeyError:
                        code = "AE"
                writer.writemessage(msg.create_ack(ack_code=code, application="IFACE_ENGINE",
                                                   facility="SYNHOSP"))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    async def main():
        srv = await start_hl7_server(on_client, "0.0.0.0", int(port))
        async with srv:
            await srv.serve_forever()

    asyncio.run(main())


def pyclient(host, port, role):
    import hl7
    from hl7.mllp import open_hl7_connection

    async def main():
        reader, writer = await open_hl7_connection(host, int(port))

        async def send(text):
            writer.writemessage(hl7.parse(text))
            await writer.drain()
            a = await reader.readmessage()
            print(role, text.split("|")[8], "->", str(a.segment("MSA"))[:40])

        if role == "monitor":
            for k in range(10):
                await send(M.oru_vitals("2.6", k % 2, sec=k * 30, bed=1 + k % 2, seed=k))
                await asyncio.sleep(0.3)
            await send(M.broken("2.6", 0, sec=400))
        elif role == "pump":
            for k in range(5):
                await send(M.oru_pump("2.6", 2, sec=k * 60, seed=k))
                await asyncio.sleep(0.3)
        elif role == "adt":
            for k, (ev, ver) in enumerate([("A04", "2.3"), ("A01", "2.4"), ("A08", "2.5"), ("A03", "2.6")]):
                await send(M.adt(ev, ver, k + 2, sec=k * 50))
            await send(M.orm("2.4", 3, sec=300))
            await send(M.unknown_type("2.5", 0, sec=320))
            # burst: four framed messages in one write, i.e. one TCP segment
            burst = [M.adt("A08", "2.5", 2, sec=400 + j) for j in range(2)] + [
                M.orm("2.5", 4, sec=410), M.adt("A01", "2.6", 5, sec=420)]
            writer.write(b"".join(SB + b.encode() + EB + CR for b in burst))
            await writer.drain()
            for _ in burst:
                a = await reader.readmessage()
                print("burst ack", str(a.segment("MSA"))[:40])
            # split: one message written in 12-byte pieces with TCP_NODELAY
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            data = SB + M.adt("A08", "2.6", 1, sec=500).encode() + EB + CR
            for k in range(0, len(data), 12):
                writer.write(data[k:k + 12])
                await writer.drain()
                await asyncio.sleep(0.01)
            a = await reader.readmessage()
            print("split ack", str(a.segment("MSA"))[:40])
        writer.close()
        await writer.wait_closed()

    asyncio.run(main())


# ---------------------------------------------------------------- unframed
def rawserver(port):
    import hl7

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", int(port)))
    srv.listen(4)
    while True:
        c, _ = srv.accept()
        c.settimeout(0.5)
        buf = b""
        while True:
            try:
                d = c.recv(65536)
            except socket.timeout:
                d = None
            if d:
                buf += d
                continue
            # idle or closed: everything received so far is messages separated by MSH
            if buf:
                for part in buf.split(b"MSH|")[1:]:
                    m = hl7.parse(("MSH|" + part.decode()).strip("\r\n"))
                    c.sendall(str(m.create_ack(application="LAB_LIS", facility="SYNHOSP")).encode() + b"\r")
                buf = b""
            if d == b"" or d is None:
                if d == b"":
                    break
        c.close()


def rawclient(host, port):
    s = socket.create_connection((host, int(port)))
    for k in range(3):
        s.sendall(M.oru_vitals("2.4", k, sec=k * 60, bed=7, seed=k).encode())
        time.sleep(0.8)
        print("raw ack:", s.recv(4096)[:60])
    s.close()


if __name__ == "__main__":
    m, args = sys.argv[1], sys.argv[2:]
    {"apyserver": apyserver, "apyclient": apyclient, "pyserver": pyserver, "pyclient": pyclient,
     "rawserver": rawserver, "rawclient": rawclient}[m](*args)
