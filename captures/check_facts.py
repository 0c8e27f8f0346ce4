#!/usr/bin/env python3
"""What tshark (an independent decoder) says of each committed capture.

  check_facts.py            re-run every tshark command recorded in captures/facts/*.json and
                            check the result still equals the recorded value; prints one line per
                            failure and a final line "N passed, M failed"; exit 1 on any failure.
  check_facts.py --write    (re)measure and write captures/facts/<capture>.json for every capture
                            listed in CAPTURES below (run after regenerating captures).

Each fact is {name, command (argv, run from captures/), kind, expected}. Kinds:
  lines        number of non-empty output lines
  value_counts {value: count} over all comma-separated values of the output fields
  regex_counts {match: count} of a regex over the output
  phs          {protocol path: frames} parsed from `-qz io,phs`
  conv         number of conversations in `-qz conv,X`
  sha256       sha256 of the capture file (facts were measured on exactly these bytes)
"""
import collections
import hashlib
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
FACTS = os.path.join(ROOT, "facts")

# capture -> (decode-as ports per dissector, protocol family)
CAPTURES = {
    "dicom/dcmtk-store.pcap": ({"dicom": [104]}, "dicom"),
    "dicom/dcmtk-find-move-get.pcap": ({"dicom": [4242, 11113, 11114]}, "dicom"),
    "dicom/pynetdicom.pcap": ({"dicom": [11112]}, "dicom"),
    "dicom/malformed.pcap": ({"dicom": [104, 4242]}, "dicom"),
    "hl7/hl7apy.pcap": ({"hl7": [2575]}, "hl7"),
    "hl7/python-hl7.pcap": ({"hl7": [6661, 5001]}, "hl7"),
    "sdc/sdc11073.pcap": ({}, "sdc"),
    "sdc/sdc11073-tls.pcap": ({}, "sdctls"),
    "noise/noise.pcap": ({}, "noise"),
    "noise/netid.pcap": ({}, "netid"),
    "scenario/baseline.pcap": ({"dicom": [104, 4242], "hl7": [2575, 6661]}, "scenario"),
    "scenario/test.pcap": ({"dicom": [104, 4242], "hl7": [2575, 6661]}, "scenario"),
}
for _n in sorted(os.listdir(os.path.join(ROOT, "ieee20601"))) if os.path.isdir(os.path.join(ROOT, "ieee20601")) else []:
    if _n.endswith(".pcap"):
        CAPTURES[f"ieee20601/{_n}"] = ({}, "generic")


def tshark(cap, decode, *args):
    cmd = ["tshark", "-n", "-r", cap]
    for proto, ports in decode.items():
        for p in ports:
            cmd += ["-d", f"tcp.port=={p},{proto}"]
    return cmd + list(args)


def fields(cap, decode, flt, *names):
    a = []
    if flt:
        a += ["-Y", flt]
    a += ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for n in names:
        a += ["-e", n]
    return tshark(cap, decode, *a)


def specs(cap, decode, family):
    s = [
        ("sha256", None, "sha256"),
        ("frames", tshark(cap, {}, "-T", "fields", "-e", "frame.number"), "lines"),
        ("protocol_hierarchy", tshark(cap, decode, "-qz", "io,phs"), "phs"),
        ("tcp_conversations", tshark(cap, {}, "-qz", "conv,tcp"), "conv"),
        ("udp_conversations", tshark(cap, {}, "-qz", "conv,udp"), "conv"),
    ]
    if family in ("dicom", "scenario") and "dicom" in decode:
        s += [
            ("dicom_pdu_types", fields(cap, decode, "dicom", "dicom.pdu.type"), "value_counts"),
            ("dicom_commands", tshark(cap, decode, "-O", "dicom", "-V"),
             ("regex_counts", r"\(0000,0100\)\s+\d+ Command Field\s+(\S+)")),
            ("dicom_calling_ae", fields(cap, decode, "dicom.assoc.ae.calling", "dicom.assoc.ae.calling"), "value_counts"),
            ("dicom_called_ae", fields(cap, decode, "dicom.assoc.ae.called", "dicom.assoc.ae.called"), "value_counts"),
            ("dicom_abstract_syntaxes", fields(cap, decode, "dicom.pdu.type==1", "dicom.pctx.abss.syntax"), "value_counts"),
            ("dicom_transfer_syntaxes_accepted", fields(cap, decode, "dicom.pdu.type==2", "dicom.pctx.xfer.syntax"),
             "value_counts"),
            ("dicom_reject_reasons", fields(cap, decode, "dicom.pdu.type==3", "dicom.assoc.reject.reason"), "value_counts"),
            ("dicom_statuses", tshark(cap, decode, "-O", "dicom", "-V"),
             ("regex_counts", r"\(0000,0900\)\s+\d+ Status\s+(.+?)\s*$")),
        ]
    if family in ("hl7", "scenario") and "hl7" in decode:
        s += [
            ("hl7_message_types", fields(cap, decode, "hl7", "hl7.message.type"), "value_counts"),
            ("hl7_event_types", fields(cap, decode, "hl7", "hl7.event.type"), "value_counts"),
            ("hl7_ack_codes", tshark(cap, decode, "-O", "hl7", "-V"),
             ("regex_counts", r"MSA \(Message Acknowledgment\)\n\s+field 1: MSA\n\s+field 2: (\S+)")),
        ]
    if family in ("sdc", "sdctls", "scenario"):
        s += [
            ("wsdiscovery_udp_frames", tshark(cap, {}, "-Y", "udp.port==3702", "-T", "fields", "-e", "frame.number"),
             "lines"),
        ]
    if family in ("sdc", "scenario"):
        s += [
            ("http_request_methods", fields(cap, {}, "http.request", "http.request.method"), "value_counts"),
            ("http_response_codes", fields(cap, {}, "http.response", "http.response.code"), "value_counts"),
            ("http_content_encodings", fields(cap, {}, "http.content_encoding", "http.content_encoding"), "value_counts"),
        ]
    if family == "sdctls":
        s += [
            ("tls_handshake_types", fields(cap, {}, "tls.handshake", "tls.handshake.type"), "value_counts"),
            ("tls_record_versions", fields(cap, {}, "tls.record", "tls.record.version"), "value_counts"),
        ]
    if family == "generic":
        s += [
            ("tcp_payload_apdu_choice", fields(cap, {}, "tcp.len > 0", "tcp.payload"),
             ("regex_counts", r"^(e[2-7]00)")),
            ("tcp_payload_lengths", fields(cap, {}, "tcp.len > 0", "tcp.len"), "value_counts"),
        ]
    if family in ("noise", "scenario"):
        s += [
            ("dhcp_message_types", fields(cap, {}, "dhcp", "dhcp.option.dhcp"), "value_counts"),
            ("dns_query_names", fields(cap, {}, "dns.flags.response==0", "dns.qry.name"), "value_counts"),
            ("ntp_modes", fields(cap, {}, "ntp", "ntp.flags.mode"), "value_counts"),
            ("tcp_syn_only", tshark(cap, {}, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields",
                                    "-e", "frame.number"), "lines"),
            ("arp_frames", tshark(cap, {}, "-Y", "arp", "-T", "fields", "-e", "frame.number"), "lines"),
        ]
    if family == "netid":
        s += [
            ("arp_frames", tshark(cap, {}, "-Y", "arp", "-T", "fields", "-e", "frame.number"), "lines"),
            ("arp_sender_bindings", fields(cap, {}, "arp", "arp.src.proto_ipv4", "arp.src.hw_mac"), "value_counts"),
            ("lldp_system_names", fields(cap, {}, "lldp", "lldp.tlv.system.name"), "value_counts"),
            ("lldp_system_descriptions", fields(cap, {}, "lldp", "lldp.tlv.system.desc"), "value_counts"),
            ("cdp_device_ids", fields(cap, {}, "cdp", "cdp.deviceid"), "value_counts"),
            ("cdp_platforms", fields(cap, {}, "cdp", "cdp.platform"), "value_counts"),
            ("dhcp_message_types", fields(cap, {}, "dhcp", "dhcp.option.dhcp"), "value_counts"),
            ("dhcp_hostnames", fields(cap, {}, "dhcp", "dhcp.option.hostname"), "value_counts"),
            ("dhcp_vendor_classes", fields(cap, {}, "dhcp", "dhcp.option.vendor_class_id"), "value_counts"),
            ("dhcp_fqdns", fields(cap, {}, "dhcp", "dhcp.fqdn.name"), "value_counts"),
            ("mdns_frames", tshark(cap, {}, "-Y", "mdns", "-T", "fields", "-e", "frame.number"), "lines"),
            ("mdns_ptr_names", fields(cap, {}, "mdns", "dns.ptr.domain_name"), "value_counts"),
            ("mdns_srv_targets", fields(cap, {}, "mdns", "dns.srv.target"), "value_counts"),
        ]
    return s


_CACHE = {}


def run(cmd):
    key = tuple(cmd)
    if key in _CACHE:
        return _CACHE[key]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: rc={r.returncode}: {r.stderr.strip()[-300:]}")
    _CACHE[key] = r.stdout
    return r.stdout


def measure(cap, name, cmd, kind):
    if kind == "sha256":
        h = hashlib.sha256()
        with open(os.path.join(ROOT, cap), "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        return h.hexdigest()
    out = run(cmd)
    if kind == "lines":
        return sum(1 for ln in out.splitlines() if ln.strip())
    if kind == "value_counts":
        c = collections.Counter()
        for ln in out.splitlines():
            for v in ln.split(","):
                v = v.strip()
                if v:
                    c[v] += 1
        return dict(sorted(c.items()))
    if isinstance(kind, (list, tuple)) and kind[0] == "regex_counts":
        rx = re.compile(kind[1])
        c = collections.Counter()
        for m in rx.finditer(out) if "\\n" in kind[1] else (m for ln in out.splitlines() for m in rx.finditer(ln)):
            c[m.group(1) if rx.groups else m.group(0)] += 1
        return dict(sorted(c.items()))
    if kind == "phs":
        d = {}
        stack = []
        for ln in out.splitlines():
            m = re.match(r"^(\s*)(\S+)\s+frames:(\d+)\s+bytes:(\d+)", ln)
            if not m:
                continue
            depth = len(m.group(1)) // 2
            stack = stack[:depth] + [m.group(2)]
            d[":".join(stack)] = int(m.group(3))
        return d
    if kind == "conv":
        return sum(1 for ln in out.splitlines() if "<->" in ln)
    raise ValueError(kind)


def write():
    os.makedirs(FACTS, exist_ok=True)
    for cap, (decode, family) in CAPTURES.items():
        if not os.path.exists(os.path.join(ROOT, cap)):
            print(f"skip {cap}: missing")
            continue
        facts = []
        for name, cmd, kind in specs(cap, decode, family):
            facts.append({"name": name, "command": cmd, "kind": kind, "expected": measure(cap, name, cmd, kind)})
        doc = {"capture": cap, "bytes": os.path.getsize(os.path.join(ROOT, cap)),
               "tshark_version": run(["tshark", "--version"]).splitlines()[0], "facts": facts}
        path = os.path.join(FACTS, cap.replace("/", "__").replace(".pcap", ".json"))
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"wrote {os.path.relpath(path, ROOT)} ({len(facts)} facts)")


def check():
    passed = failed = 0
    for fn in sorted(os.listdir(FACTS)):
        if not fn.endswith(".json"):
            continue
        doc = json.load(open(os.path.join(FACTS, fn)))
        cap = doc["capture"]
        if not os.path.exists(os.path.join(ROOT, cap)):
            print(f"FAIL {cap}: capture missing")
            failed += 1
            continue
        for fact in doc["facts"]:
            try:
                got = measure(cap, fact["name"], fact["command"], fact["kind"])
            except Exception as e:  # noqa: BLE001
                got = f"error: {e}"
            if got == fact["expected"]:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {cap} {fact['name']}: expected {json.dumps(fact['expected'])[:300]} "
                      f"got {json.dumps(got)[:300]}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        sys.exit(check())
