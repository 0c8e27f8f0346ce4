//! Every committed capture through `iomt-sensor decode --json`, its protocol events counted and checked
//! against what tshark's dissectors say of the same file (`captures/facts/*.json`, written with the
//! exact tshark commands by the corpus generator and re-checked by `captures/check_facts.py`).
//!
//! Where we differ from tshark on purpose, the test says why:
//! * C-STORE-RSP: tshark 4.0 misses responses that share a TCP segment with other PDUs; we count at
//!   least as many (a byte search of the payloads agrees with us, see `parsers/src/dicom/tests.rs`).
//! * HL7 without MLLP framing: tshark does not decode it, so only `framing: "mllp"` events are compared.
//! * WS-Discovery: one event per ProbeMatch/ResolveMatch, so at least one per datagram.
//! * Captures made of malformed traffic (`malformed`, the scenario test day): a PDU we reject with an
//!   anomaly is one tshark may still count, so ours is at most tshark's, and anomalies must be present.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

type Counts = BTreeMap<String, u64>;

fn ours(capture_rel: &str) -> (Counts, Vec<Value>) {
    let o = sensor(&["decode", "--json", capture(capture_rel).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events = json_lines(&stdout(&o));
    let mut c = Counts::new();
    let mut add = |k: String| *c.entry(k).or_default() += 1;
    for v in &events {
        let et = v["event_type"].as_str().unwrap();
        let o = &v[et];
        let ty = o["type"].as_str().unwrap_or_default();
        match et {
            "dicom" => {
                add(format!("dicom:{ty}"));
                if let Some(cmd) = o["command"].as_str() {
                    add(format!("cmd:{cmd}"));
                }
                if matches!(ty, "associate_rq" | "associate_ac") {
                    if let Some(ae) = o["calling_ae"].as_str() {
                        add(format!("calling:{ae}"));
                    }
                }
            }
            "hl7" if matches!(ty, "message" | "ack") && o["framing"] == "mllp" => {
                let mt = o["message_type"].as_str().unwrap_or("?");
                let mut parts = mt.split('^');
                add(format!("hl7mt:{}", parts.next().unwrap_or("?")));
                if let Some(ev) = parts.next() {
                    add(format!("hl7ev:{ev}"));
                }
                if let Some(code) = o["ack_code"].as_str() {
                    add(format!("ack:{code}"));
                }
            }
            "sdc" => {
                add(format!("sdc:{ty}"));
                if let Some(m) = o["http_method"].as_str() {
                    add(format!("method:{m}"));
                }
            }
            "tls" => add(format!("tls:{ty}")),
            "ieee20601" => add(format!("apdu:{}", o["apdu"].as_str().unwrap_or("?"))),
            "arp" | "mdns" => add(format!("frames:{et}")),
            "lldp" | "cdp" => {
                let names = [("system_name", "sysname"), ("platform", "platform")];
                for (field, key) in names {
                    if let Some(x) = o[field].as_str() {
                        add(format!("{et}-{key}:{x}"));
                    }
                }
            }
            "dhcp" => {
                for (field, key) in [
                    ("hostname", "host"),
                    ("vendor_class", "vendor"),
                    ("fqdn", "fqdn"),
                ] {
                    if let Some(x) = o[field].as_str() {
                        add(format!("dhcp-{key}:{x}"));
                    }
                }
            }
            "anomaly" => add("anomaly".into()),
            _ => {}
        }
    }
    (c, events)
}

fn fact<'a>(facts: &'a [Value], name: &str) -> Option<&'a Value> {
    facts
        .iter()
        .find(|f| f["name"] == name)
        .map(|f| &f["expected"])
}

#[test]
fn protocol_events_agree_with_tshark_on_every_committed_capture() {
    let mut checked = 0;
    let mut paths: Vec<_> = std::fs::read_dir(captures().join("facts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let cap = doc["capture"].as_str().unwrap();
        let facts = doc["facts"].as_array().unwrap();
        let hostile = cap.contains("malformed") || cap.contains("scenario/test");
        let (c, _) = ours(cap);
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        // Exact on clean captures; at most tshark's on hostile ones; at least for the known undercounts.
        let mut compare = |what: &str, mine: u64, theirs: u64, at_least: bool| {
            checked += 1;
            if at_least {
                assert!(
                    mine >= theirs || hostile,
                    "{cap} {what}: ours {mine} < tshark {theirs}"
                );
            } else if hostile {
                assert!(
                    mine <= theirs,
                    "{cap} {what}: ours {mine} > tshark {theirs}"
                );
            } else {
                assert_eq!(mine, theirs, "{cap} {what}");
            }
        };
        if let Some(pdus) = fact(facts, "dicom_pdu_types").and_then(Value::as_object) {
            let names = [
                ("0x01", "associate_rq"),
                ("0x02", "associate_ac"),
                ("0x03", "associate_rj"),
                ("0x05", "release_rq"),
                ("0x06", "release_rp"),
                ("0x07", "abort"),
            ];
            for (code, ty) in names {
                compare(
                    ty,
                    n(&format!("dicom:{ty}")),
                    pdus.get(code).and_then(Value::as_u64).unwrap_or(0),
                    false,
                );
            }
        }
        for (fact_name, prefix) in [
            ("dicom_commands", "cmd:"),
            ("dicom_calling_ae", "calling:"),
            ("hl7_message_types", "hl7mt:"),
            ("hl7_event_types", "hl7ev:"),
            ("hl7_ack_codes", "ack:"),
            ("http_request_methods", "method:"),
            ("lldp_system_names", "lldp-sysname:"),
            // CDP's device id is our system name when there is no System Name TLV.
            ("cdp_device_ids", "cdp-sysname:"),
            ("cdp_platforms", "cdp-platform:"),
            ("dhcp_hostnames", "dhcp-host:"),
            ("dhcp_vendor_classes", "dhcp-vendor:"),
            ("dhcp_fqdns", "dhcp-fqdn:"),
        ] {
            let Some(map) = fact(facts, fact_name).and_then(Value::as_object) else {
                continue;
            };
            for (k, v) in map {
                compare(
                    &format!("{fact_name} {k}"),
                    n(&format!("{prefix}{k}")),
                    v.as_u64().unwrap(),
                    k == "C-STORE-RSP",
                );
            }
        }
        // Identity chatter: every ARP and mDNS frame is one event (the netid capture; the other
        // captures' ARP frames are compared the same way where their facts count them).
        for (fact_name, key) in [("arp_frames", "frames:arp"), ("mdns_frames", "frames:mdns")] {
            if let Some(frames) = fact(facts, fact_name).and_then(Value::as_u64) {
                compare(fact_name, n(key), frames, false);
            }
        }
        if let Some(frames) = fact(facts, "wsdiscovery_udp_frames").and_then(Value::as_u64) {
            compare("ws-discovery messages", n("sdc:discovery"), frames, true);
        }
        if let Some(hs) = fact(facts, "tls_handshake_types").and_then(Value::as_object) {
            compare(
                "client hellos",
                n("tls:client_hello"),
                hs.get("1").and_then(Value::as_u64).unwrap_or(0),
                false,
            );
            compare(
                "server hellos",
                n("tls:server_hello"),
                hs.get("2").and_then(Value::as_u64).unwrap_or(0),
                false,
            );
        }
        if let Some(apdus) = fact(facts, "tcp_payload_apdu_choice").and_then(Value::as_object) {
            for (code, ty) in [
                ("e200", "aarq"),
                ("e300", "aare"),
                ("e400", "rlrq"),
                ("e500", "rlre"),
                ("e600", "abrt"),
                ("e700", "prst"),
            ] {
                compare(
                    ty,
                    n(&format!("apdu:{ty}")),
                    apdus.get(code).and_then(Value::as_u64).unwrap_or(0),
                    false,
                );
            }
        }
        if hostile {
            assert!(
                n("anomaly") > 0,
                "{cap}: malformed traffic must raise anomalies"
            );
        } else if !cap.contains("ieee20601") {
            // antidote's glucometer really sends 2 trailing bytes (reported as an anomaly); the other
            // clean captures have none.
            assert_eq!(n("anomaly"), 0, "{cap}: unexpected anomalies: {c:?}");
        }
    }
    assert!(checked > 60, "only {checked} comparisons made");
}
