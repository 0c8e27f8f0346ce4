//! Hand-built vectors (each commented with the clause it follows), every-length truncation, proptests
//! over arbitrary and mutated bytes, and real frames from the committed corpus compared with tshark.
use super::*;
use crate::AppEvent;
use proptest::prelude::*;

type Decoder = fn(&[u8], &mut Vec<AppEvent>);

fn run(f: Decoder, b: &[u8]) -> Vec<AppEvent> {
    let mut out = Vec::new();
    f(b, &mut out);
    out
}

fn kinds(out: &[AppEvent]) -> Vec<&'static str> {
    out.iter()
        .filter_map(|e| match e {
            AppEvent::Anomaly(a) => Some(a.kind),
            _ => None,
        })
        .collect()
}

/// The events of one `NetIdEvent` variant, unboxed, in order.
macro_rules! of_variant {
    ($out:expr, $v:ident) => {
        events($out)
            .into_iter()
            .filter_map(|e| match e {
                NetIdEvent::$v(x) => Some(&**x),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
}

fn events(out: &[AppEvent]) -> Vec<&NetIdEvent> {
    out.iter()
        .filter_map(|e| match e {
            AppEvent::NetId(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn one(out: &[AppEvent]) -> &NetIdEvent {
    let ev = events(out);
    assert_eq!(ev.len(), 1, "{out:?}");
    ev[0]
}

fn arp_of(out: &[AppEvent]) -> &ArpInfo {
    match one(out) {
        NetIdEvent::Arp(a) => a,
        e => panic!("{e:?}"),
    }
}
fn link_of(out: &[AppEvent]) -> &LinkInfo {
    match one(out) {
        NetIdEvent::Lldp(l) | NetIdEvent::Cdp(l) => l,
        e => panic!("{e:?}"),
    }
}
fn dhcp_of(out: &[AppEvent]) -> &DhcpInfo {
    match one(out) {
        NetIdEvent::Dhcp(d) => d,
        e => panic!("{e:?}"),
    }
}
fn mdns_of(out: &[AppEvent]) -> &MdnsInfo {
    match one(out) {
        NetIdEvent::Mdns(m) => m,
        e => panic!("{e:?}"),
    }
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

/// Checks the documented bounds on every event.
fn check_bounds(out: &[AppEvent]) {
    let s = |v: &str| {
        assert!(
            v.len() <= MAX_STR && !v.chars().any(char::is_control),
            "{v:?}"
        )
    };
    let o = |v: &Option<String>| v.as_deref().map(s);
    assert!(kinds(out).len() <= MAX_ANOMALIES);
    for e in events(out) {
        match e {
            NetIdEvent::Arp(a) => {
                s(&a.sender_mac);
                s(&a.target_mac);
            }
            NetIdEvent::Lldp(l) | NetIdEvent::Cdp(l) => {
                for v in [
                    &l.chassis_id,
                    &l.port_id,
                    &l.system_name,
                    &l.system_description,
                    &l.platform,
                    &l.software_version,
                ] {
                    o(v);
                }
                assert!(l.mgmt_addrs.len() <= MAX_ADDRS);
            }
            NetIdEvent::Dhcp(d) => {
                for v in [&d.hostname, &d.vendor_class, &d.client_id, &d.fqdn] {
                    o(v);
                }
                s(&d.client_mac);
                assert!(d.param_request_list.len() <= MAX_PRL);
            }
            NetIdEvent::Mdns(m) => {
                for l in [&m.services, &m.instances, &m.hostnames] {
                    assert!(l.len() <= MAX_LIST);
                    l.iter().for_each(|v| s(v));
                }
                assert!(m.addrs.len() <= MAX_LIST && m.txt.len() <= MAX_TXT);
                m.txt.iter().for_each(|v| s(v));
            }
        }
        serde_json::to_string(e).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------- ARP

/// RFC 826 Ethernet/IPv4 packet: hrd 1, pro 0x0800, hln 6, pln 4.
fn arp_pkt(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0, 1, 8, 0, 6, 4];
    v.extend(op.to_be_bytes());
    v.extend(sha);
    v.extend(spa);
    v.extend(tha);
    v.extend(tpa);
    v
}
const MAC_A: [u8; 6] = [0x0e, 0x1a, 0x01, 0, 0, 1];
const MAC_B: [u8; 6] = [0x0e, 0x1a, 0x04, 0, 0, 0x3c];

#[test]
fn arp_request_reply_and_padding() {
    let mut req = arp_pkt(1, MAC_B, [172, 30, 0, 60], [0; 6], [172, 30, 0, 1]);
    req.extend([0u8; 18]); // Ethernet padding to 60 bytes is ignored
    let out = run(arp, &req);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(
        *arp_of(&out),
        ArpInfo {
            op: "request",
            sender_mac: "0e:1a:04:00:00:3c".into(),
            sender_ip: ip("172.30.0.60"),
            target_mac: "00:00:00:00:00:00".into(),
            target_ip: ip("172.30.0.1"),
        }
    );
    let out = run(
        arp,
        &arp_pkt(2, MAC_A, [172, 30, 0, 1], MAC_B, [172, 30, 0, 60]),
    );
    let a = arp_of(&out);
    assert_eq!(
        (a.op, a.sender_mac.as_str()),
        ("reply", "0e:1a:01:00:00:01")
    );
    assert_eq!(
        (a.target_mac.as_str(), a.target_ip),
        ("0e:1a:04:00:00:3c", ip("172.30.0.60"))
    );
}

#[test]
fn arp_gratuitous_probe_other() {
    // RFC 5227 §2.3 announcement: sender IP = target IP.
    let g = arp_pkt(1, MAC_A, [10, 0, 0, 5], [0; 6], [10, 0, 0, 5]);
    assert_eq!(arp_of(&run(arp, &g)).op, "gratuitous");
    let g2 = arp_pkt(2, MAC_A, [10, 0, 0, 5], [0xff; 6], [10, 0, 0, 5]);
    assert_eq!(arp_of(&run(arp, &g2)).op, "gratuitous");
    // RFC 5227 §2.1.1 probe: sender IP 0.0.0.0.
    let p = arp_pkt(1, MAC_A, [0; 4], [0; 6], [10, 0, 0, 5]);
    assert_eq!(arp_of(&run(arp, &p)).op, "probe");
    // RFC 903 RARP request (op 3).
    let r = arp_pkt(3, MAC_A, [0; 4], MAC_A, [0; 4]);
    assert_eq!(arp_of(&run(arp, &r)).op, "other");
    // IEEE 802 hardware type 6 is accepted.
    let mut ieee = arp_pkt(1, MAC_A, [10, 0, 0, 1], [0; 6], [10, 0, 0, 2]);
    ieee[1] = 6;
    assert_eq!(arp_of(&run(arp, &ieee)).op, "request");
}

#[test]
fn arp_anomalies() {
    // hln 8 with Ethernet/IPv4 types.
    let mut v = vec![0, 1, 8, 0, 8, 4, 0, 1];
    v.extend([1u8; 24]);
    let out = run(arp, &v);
    assert_eq!(
        (kinds(&out), events(&out).len()),
        (vec!["bad_arp_sizes"], 0)
    );
    // IPv6 protocol type (not used by ARP on Ethernet).
    let mut v = arp_pkt(1, MAC_A, [1; 4], [0; 6], [2; 4]);
    v[2] = 0x86;
    v[3] = 0xdd;
    assert_eq!(kinds(&run(arp, &v)), ["unsupported_arp_type"]);
    // Broadcast sender MAC: still reported, flagged.
    let out = run(
        arp,
        &arp_pkt(2, [0xff; 6], [10, 0, 0, 1], MAC_A, [10, 0, 0, 2]),
    );
    assert_eq!(kinds(&out), ["bad_sender_mac"]);
    assert_eq!(arp_of(&out).sender_mac, "ff:ff:ff:ff:ff:ff");
    let out = run(
        arp,
        &arp_pkt(2, [0; 6], [10, 0, 0, 1], MAC_A, [10, 0, 0, 2]),
    );
    assert_eq!(kinds(&out), ["bad_sender_mac"]);
}

#[test]
fn arp_truncated_at_every_length() {
    let full = arp_pkt(1, MAC_B, [172, 30, 0, 60], [0; 6], [172, 30, 0, 1]);
    for n in 0..full.len() {
        let out = run(arp, &full[..n]);
        assert_eq!(kinds(&out), ["truncated"], "cut at {n}");
        assert!(events(&out).is_empty());
    }
}

// --------------------------------------------------------------------------------------------- LLDP

/// 802.1AB §8.4.1 TLV header: 7-bit type, 9-bit length.
fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let h = (u16::from(kind) << 9) | value.len() as u16;
    let mut v = h.to_be_bytes().to_vec();
    v.extend(value);
    v
}

fn lldp_full() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(tlv(1, &[4, 0x0e, 0x1a, 0x07, 0, 0, 0x21])); // Chassis ID, subtype 4 MAC (§8.5.2.2)
    f.extend(tlv(2, b"\x05eth0")); // Port ID, subtype 5 interface name (§8.5.3.2)
    f.extend(tlv(3, &[0, 120])); // TTL 120 s (§8.5.4)
    f.extend(tlv(4, b"ward 3 bed 12")); // Port Description (skipped)
    f.extend(tlv(5, b"pump-0021.ward3\0")); // System Name, trailing NUL dropped
    f.extend(tlv(6, b"Infusion pump\nLinux 5.10")); // System Description, newline -> space
    f.extend(tlv(7, &[0x00, 0x94, 0x00, 0x80])); // capabilities bridge+router+station, enabled station
                                                 // Management Address (§8.5.9): len 5, IPv4 (family 1), ifIndex subtype 2, ifIndex 3, OID len 0.
    f.extend(tlv(8, &[5, 1, 172, 30, 0, 33, 2, 0, 0, 0, 3, 0]));
    let mut v6 = vec![17, 2];
    v6.extend(ip6("fd00::21"));
    v6.extend([2, 0, 0, 0, 3, 2, 0x2b, 0x06]); // with a 2-byte OID
    f.extend(tlv(8, &v6));
    f.extend(tlv(127, &[0x00, 0x12, 0x0f, 1, 0, 0, 0])); // IEEE 802.3 MAC/PHY (skipped)
    f.extend(tlv(127, b"\x00\x12\xbb\x06fw-1.2")); // LLDP-MED firmware revision
    f.extend(tlv(127, b"\x00\x12\xbb\x07sw-4.5.6")); // LLDP-MED software revision (wins)
    f.extend(tlv(127, b"\x00\x12\xbb\x0aPX-9000")); // LLDP-MED model name
    f.extend(tlv(0, &[]));
    f
}

fn ip6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

#[test]
fn lldp_every_field() {
    let mut f = lldp_full();
    f.extend([0u8; 10]); // padding after End is ignored
    let out = run(lldp, &f);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(one(&out).event_type(), "lldp");
    assert_eq!(
        *link_of(&out),
        LinkInfo {
            chassis_id: Some("0e:1a:07:00:00:21".into()),
            port_id: Some("eth0".into()),
            system_name: Some("pump-0021.ward3".into()),
            system_description: Some("Infusion pump Linux 5.10".into()),
            platform: Some("PX-9000".into()),
            software_version: Some("sw-4.5.6".into()),
            mgmt_addrs: vec![ip("172.30.0.33"), ip("fd00::21")],
            capabilities: vec!["station"],
            ttl_s: Some(120),
            truncated: false,
        }
    );
}

#[test]
fn lldp_id_subtypes() {
    // Chassis subtype 5 network address (IPv4), port subtype 3 MAC, port subtype 7 local.
    let mut f = tlv(1, &[5, 1, 10, 1, 2, 3]);
    f.extend(tlv(2, &[3, 0x0e, 0x1a, 0, 0, 0, 9]));
    f.extend(tlv(3, &[0, 30]));
    f.extend(tlv(0, &[]));
    let out = run(lldp, &f);
    let l = link_of(&out);
    assert_eq!(l.chassis_id.as_deref(), Some("10.1.2.3"));
    assert_eq!(l.port_id.as_deref(), Some("0e:1a:00:00:00:09"));
    let mut f = tlv(1, b"\x07switch-a");
    f.extend(tlv(2, b"\x07Gi1/0/1"));
    f.extend(tlv(3, &[0, 30]));
    f.extend(tlv(0, &[]));
    let out = run(lldp, &f);
    assert_eq!(link_of(&out).chassis_id.as_deref(), Some("switch-a"));
    assert_eq!(link_of(&out).port_id.as_deref(), Some("Gi1/0/1"));
}

#[test]
fn lldp_caps_and_truncation_flag() {
    let mut f = tlv(1, b"\x07c");
    f.extend(tlv(2, b"\x07p"));
    f.extend(tlv(3, &[0, 1]));
    f.extend(tlv(5, &[b'n'; 300])); // System Name over 255 bytes
    f.extend(tlv(6, b"a\x01b")); // control character
    for i in 0..6u8 {
        f.extend(tlv(8, &[5, 1, 10, 0, 0, i, 1, 0, 0, 0, 0, 0])); // six addresses, cap 4
    }
    f.extend(tlv(7, &[0xff, 0xff, 0x07, 0xff])); // all 11 enabled
    f.extend(tlv(0, &[]));
    let out = run(lldp, &f);
    check_bounds(&out);
    let l = link_of(&out);
    assert!(l.truncated);
    assert_eq!(l.system_name.as_ref().unwrap().len(), 255);
    assert_eq!(l.system_description.as_deref(), Some("a\u{FFFD}b"));
    assert_eq!(l.mgmt_addrs.len(), MAX_ADDRS);
    assert_eq!(l.capabilities.len(), 11);
    assert_eq!(
        l.capabilities[..5],
        ["other", "repeater", "bridge", "wlan_ap", "router"]
    );
    assert_eq!(serde_json::to_value(l).unwrap()["truncated"], true);
}

#[test]
fn lldp_anomalies() {
    // bad TTL length, empty chassis ID value, bad management address length.
    let mut f = tlv(1, &[4]);
    f.extend(tlv(2, b"\x07p"));
    f.extend(tlv(3, &[0, 1, 2]));
    f.extend(tlv(8, &[40, 1, 2, 3]));
    f.extend(tlv(7, &[0, 1]));
    f.extend(tlv(127, &[0, 1]));
    f.extend(tlv(0, &[1]));
    let out = run(lldp, &f);
    assert_eq!(kinds(&out), ["bad_tlv"; 6]);
    assert_eq!(link_of(&out).port_id.as_deref(), Some("p"));
    // Does not start with Chassis ID, Port ID, TTL.
    let mut f = tlv(5, b"host");
    f.extend(tlv(0, &[]));
    let out = run(lldp, &f);
    assert_eq!(kinds(&out), ["missing_mandatory_tlv"]);
    assert_eq!(link_of(&out).system_name.as_deref(), Some("host"));
    // Chassis ID and Port ID but no TTL.
    let mut f = tlv(1, b"\x07c");
    f.extend(tlv(2, b"\x07p"));
    f.extend(tlv(0, &[]));
    assert_eq!(kinds(&run(lldp, &f)), ["missing_mandatory_tlv"]);
    // No End of LLDPDU.
    let f = lldp_full();
    let out = run(lldp, &f[..f.len() - 2]);
    assert_eq!(kinds(&out), ["missing_end_tlv"]);
    assert_eq!(kinds(&run(lldp, &[])), ["truncated"]);
}

#[test]
fn lldp_truncated_at_every_length() {
    let f = lldp_full();
    let mut bounds = vec![0usize];
    for t in LldpTlvs::new(&f) {
        let t = t.unwrap();
        bounds.push(t.offset + 2 + t.value.len());
    }
    for n in 0..f.len() {
        let out = run(lldp, &f[..n]);
        check_bounds(&out);
        let k = kinds(&out);
        if bounds.contains(&n) {
            assert!(
                k.contains(&"missing_end_tlv") || k == ["truncated"],
                "cut {n}: {k:?}"
            );
        } else {
            assert!(k.contains(&"truncated"), "cut {n}: {k:?}");
        }
        if n >= 2 + 7 {
            // The chassis ID is whole: it is reported.
            assert_eq!(
                link_of(&out).chassis_id.as_deref(),
                Some("0e:1a:07:00:00:21")
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------- CDP

fn cdp_tlv(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut v = kind.to_be_bytes().to_vec();
    v.extend((value.len() as u16 + 4).to_be_bytes());
    v.extend(value);
    v
}

/// RFC 1071 checksum over the CDP PDU (even lengths), written into bytes 10-11 of the LLC frame.
fn cdp_frame(version: u8, tlvs: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, version, 180, 0, 0,
    ];
    f.extend(tlvs);
    let mut sum: u32 = 0;
    for c in f[8..].chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    f[10..12].copy_from_slice(&ck.to_be_bytes());
    f
}

fn cdp_tlvs() -> Vec<u8> {
    let mut t = cdp_tlv(1, b"sw-core-1.hospital.local"); // Device ID
                                                         // Addresses: 2 entries, NLPID 0xCC IPv4, and 802.2 SNAP 86DD IPv6.
    let mut a = 2u32.to_be_bytes().to_vec();
    a.extend([1, 1, 0xcc, 0, 4, 172, 30, 0, 2]);
    a.extend([2, 8, 0xaa, 0xaa, 3, 0, 0, 0, 0x86, 0xdd, 0, 16]);
    a.extend(ip6("fd00::2"));
    t.extend(cdp_tlv(2, &a));
    t.extend(cdp_tlv(3, b"GigabitEthernet1/0/24")); // Port ID
    t.extend(cdp_tlv(4, &0x29u32.to_be_bytes())); // router | switch | igmp
    t.extend(cdp_tlv(
        5,
        b"Cisco IOS Software, C2960 15.0(2)SE\nTechnical Support",
    )); // version
    t.extend(cdp_tlv(6, b"cisco WS-C2960-24TT-L")); // Platform
    t.extend(cdp_tlv(0x0a, &[0, 1])); // native VLAN (skipped)
    t
}

#[test]
fn cdp_every_field() {
    let f = cdp_frame(2, &cdp_tlvs());
    assert!(looks_like_cdp(&f));
    assert!(!looks_like_cdp(&f[..7]));
    assert_eq!(f.len() % 2, 0);
    let out = run(cdp, &f);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(one(&out).event_type(), "cdp");
    assert_eq!(
        *link_of(&out),
        LinkInfo {
            chassis_id: Some("sw-core-1.hospital.local".into()),
            port_id: Some("GigabitEthernet1/0/24".into()),
            system_name: Some("sw-core-1.hospital.local".into()),
            system_description: None,
            platform: Some("cisco WS-C2960-24TT-L".into()),
            software_version: Some("Cisco IOS Software, C2960 15.0(2)SE Technical Support".into()),
            mgmt_addrs: vec![ip("172.30.0.2"), ip("fd00::2")],
            capabilities: vec!["router", "switch", "igmp"],
            ttl_s: Some(180),
            truncated: false,
        }
    );
    // System Name TLV (0x14) wins over the Device ID; v1 is accepted.
    let mut t = cdp_tlvs();
    t.extend(cdp_tlv(0x14, b"core1"));
    let out = run(cdp, &cdp_frame(1, &t));
    assert_eq!(link_of(&out).system_name.as_deref(), Some("core1"));
}

#[test]
fn cdp_anomalies() {
    let mut f = cdp_frame(2, &cdp_tlvs());
    f[11] ^= 1;
    assert_eq!(kinds(&run(cdp, &f)), ["bad_checksum"]);
    let out = run(cdp, &cdp_frame(3, &cdp_tlvs()));
    assert_eq!((kinds(&out), events(&out).len()), (vec!["bad_version"], 0));
    let mut f = cdp_frame(2, &cdp_tlvs());
    f[5] = 0x0d;
    assert_eq!(kinds(&run(cdp, &f)), ["bad_snap_header"]);
    // TLV length 2 (< its own 4-byte header).
    let mut t = cdp_tlv(1, b"dev");
    t.extend([0, 3, 0, 2]);
    let out = run(cdp, &cdp_frame(2, &t));
    assert_eq!(kinds(&out), ["bad_tlv"]);
    assert_eq!(link_of(&out).chassis_id.as_deref(), Some("dev"));
    // Capabilities of 3 bytes; Addresses claiming 1000 entries.
    let mut t = cdp_tlv(4, &[0, 0, 1]);
    t.extend(cdp_tlv(2, &1000u32.to_be_bytes()));
    assert_eq!(kinds(&run(cdp, &cdp_frame(2, &t))), ["bad_tlv", "bad_tlv"]);
}

#[test]
fn cdp_truncated_at_every_length() {
    let f = cdp_frame(2, &cdp_tlvs());
    let mut bounds = vec![12usize];
    let v = CdpView::parse(&f).unwrap();
    for t in v.tlvs() {
        let t = t.unwrap();
        bounds.push(12 + t.offset + 4 + t.value.len());
    }
    for n in 0..f.len() {
        let out = run(cdp, &f[..n]);
        check_bounds(&out);
        let k = kinds(&out);
        if n < 8 {
            assert_eq!(k, ["bad_snap_header"], "cut {n}");
        } else if n < 12 {
            assert_eq!(k, ["truncated"], "cut {n}");
        } else if bounds.contains(&n) {
            // A cut between TLVs is indistinguishable from a shorter PDU, except for the checksum.
            assert!(k.is_empty() || k == ["bad_checksum"], "cut {n}: {k:?}");
        } else {
            assert!(k.contains(&"truncated"), "cut {n}: {k:?}");
        }
    }
}

// --------------------------------------------------------------------------------------------- DHCP

/// RFC 2131 §2 header (236 bytes) + magic cookie, then `options`.
fn bootp(
    op: u8,
    xid: u32,
    ciaddr: [u8; 4],
    yiaddr: [u8; 4],
    chaddr: [u8; 6],
    options: &[u8],
) -> Vec<u8> {
    let mut m = vec![op, 1, 6, 0];
    m.extend(xid.to_be_bytes());
    m.extend([0, 0, 0x80, 0]); // secs, broadcast flag
    m.extend(ciaddr);
    m.extend(yiaddr);
    m.extend([0; 8]); // siaddr, giaddr
    m.extend(chaddr);
    m.extend([0; 10 + 64 + 128]);
    assert_eq!(m.len(), 236);
    m.extend([99, 130, 83, 99]);
    m.extend(options);
    m
}

fn opt(code: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![code, data.len() as u8];
    v.extend(data);
    v
}

fn discover_opts() -> Vec<u8> {
    let mut o = opt(53, &[3]); // DHCPREQUEST (RFC 2132 §9.6)
    o.extend(opt(61, &[1, 0x0e, 0x1a, 0x06, 0, 0, 0x96])); // client id: type 1 + MAC (§9.14)
    o.extend(opt(50, &[172, 30, 0, 178])); // requested IP (§9.1)
    o.extend(opt(54, &[172, 30, 0, 1])); // server id (§9.7)
    o.extend(opt(12, b"infusion-07")); // host name (§3.14)
    o.extend(opt(60, b"MSFT 5.0")); // vendor class (§9.13)
    o.extend(opt(
        55,
        &[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252],
    )); // PRL (§9.8)
        // Client FQDN (RFC 4702): flags S|E, rcodes, wire-format name.
    o.extend(opt(81, b"\x05\x00\x00\x0binfusion-07\x04ward\x05local\x00"));
    o.push(0); // pad
    o.push(255);
    o
}

#[test]
fn dhcp_every_field() {
    let m = bootp(
        1,
        0x3903f326,
        [0; 4],
        [0; 4],
        [0x0e, 0x1a, 6, 0, 0, 0x96],
        &discover_opts(),
    );
    let out = run(dhcp, &m);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(one(&out).event_type(), "dhcp");
    assert_eq!(
        *dhcp_of(&out),
        DhcpInfo {
            message_type: "request",
            client_mac: "0e:1a:06:00:00:96".into(),
            xid: 0x3903f326,
            client_ip: None,
            your_ip: None,
            requested_ip: Some(ip("172.30.0.178")),
            hostname: Some("infusion-07".into()),
            vendor_class: Some("MSFT 5.0".into()),
            client_id: Some("01:0e:1a:06:00:00:96".into()),
            param_request_list: vec![1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252],
            fingerprint: Some("1,3,6,15,31,33,43,44,46,47,119,121,249,252".into()),
            server_id: Some(ip("172.30.0.1")),
            fqdn: Some("infusion-07.ward.local".into()),
            truncated: false,
        }
    );
    let j = serde_json::to_value(one(&out)).unwrap();
    assert_eq!(j["message_type"], "request");
    assert_eq!(j["requested_ip"], "172.30.0.178");
    assert!(j.get("client_ip").is_none() && j.get("truncated").is_none());
}

#[test]
fn dhcp_message_types_and_ascii_fqdn() {
    for (code, name) in [
        (1, "discover"),
        (2, "offer"),
        (3, "request"),
        (4, "decline"),
        (5, "ack"),
        (6, "nak"),
        (7, "release"),
        (8, "inform"),
        (13, "other"),
    ] {
        let mut o = opt(53, &[code]);
        o.push(255);
        let m = bootp(2, 1, [10, 0, 0, 9], [10, 0, 0, 7], MAC_A, &o);
        let out = run(dhcp, &m);
        let d = dhcp_of(&out);
        assert_eq!(d.message_type, name);
        assert_eq!(
            (d.client_ip, d.your_ip),
            (Some(ip("10.0.0.9")), Some(ip("10.0.0.7")))
        );
    }
    // No option 53: plain BOOTP (RFC 1542). ASCII option 81 (E flag clear).
    let mut o = opt(81, b"\x01\xff\xffhost.example");
    o.push(255);
    let out = run(dhcp, &bootp(1, 2, [0; 4], [0; 4], MAC_A, &o));
    assert_eq!(dhcp_of(&out).message_type, "bootp");
    assert_eq!(dhcp_of(&out).fqdn.as_deref(), Some("host.example"));
}

#[test]
fn dhcp_overload_reads_file_and_sname() {
    // RFC 2132 §9.3: option 52 value 3 = both `file` and `sname` hold options.
    let mut o = opt(53, &[1]);
    o.extend(opt(52, &[3]));
    o.push(255);
    let mut m = bootp(1, 7, [0; 4], [0; 4], MAC_A, &o);
    let mut file = opt(12, b"from-file");
    file.push(255);
    m[108..108 + file.len()].copy_from_slice(&file);
    let mut sname = opt(60, b"from-sname");
    sname.push(255);
    m[44..44 + sname.len()].copy_from_slice(&sname);
    let out = run(dhcp, &m);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let d = dhcp_of(&out);
    assert_eq!(d.hostname.as_deref(), Some("from-file"));
    assert_eq!(d.vendor_class.as_deref(), Some("from-sname"));
}

#[test]
fn dhcp_caps() {
    let prl: Vec<u8> = (1..=200).collect();
    let mut o = opt(55, &prl);
    o.extend(opt(12, &[b'h'; 255]));
    o.extend(opt(61, &[7; 200]));
    o.push(255);
    let out = run(dhcp, &bootp(1, 1, [0; 4], [0; 4], MAC_A, &o));
    check_bounds(&out);
    let d = dhcp_of(&out);
    assert!(d.truncated);
    assert_eq!(d.param_request_list.len(), MAX_PRL);
    assert!(d.fingerprint.as_ref().unwrap().ends_with(",63,64"));
    assert_eq!(d.hostname.as_ref().unwrap().len(), 255);
    assert!(d.client_id.as_ref().unwrap().len() <= MAX_STR);
}

#[test]
fn dhcp_anomalies() {
    let end = [255u8];
    // op 3, hlen 20.
    let mut m = bootp(3, 1, [0; 4], [0; 4], MAC_A, &end);
    m[2] = 20;
    let out = run(dhcp, &m);
    assert_eq!(kinds(&out), ["bad_op", "bad_hlen"]);
    assert_eq!(dhcp_of(&out).client_mac.split(':').count(), 16);
    // Wrong magic cookie: the header is still reported.
    let mut m = bootp(1, 9, [0; 4], [0; 4], MAC_A, &end);
    m[236] = 0;
    let out = run(dhcp, &m);
    assert_eq!(kinds(&out), ["bad_magic_cookie"]);
    assert_eq!(dhcp_of(&out).xid, 9);
    // Option 53 of length 2, option 50 of length 3, option 61 of length 1, option 12 empty.
    let mut o = opt(53, &[1, 1]);
    o.extend(opt(50, &[1, 2, 3]));
    o.extend(opt(61, &[1]));
    o.extend(opt(12, &[]));
    o.push(255);
    let out = run(dhcp, &bootp(1, 1, [0; 4], [0; 4], MAC_A, &o));
    assert_eq!(kinds(&out), ["bad_option_length"; 4]);
    assert_eq!(dhcp_of(&out).message_type, "bootp");
    // Option length past the end.
    let mut o = opt(12, b"ok");
    o.extend([60, 50, b'x']);
    let out = run(dhcp, &bootp(1, 1, [0; 4], [0; 4], MAC_A, &o));
    assert_eq!(kinds(&out), ["option_overrun"]);
    assert_eq!(dhcp_of(&out).hostname.as_deref(), Some("ok"));
    // No End option.
    let out = run(dhcp, &bootp(1, 1, [0; 4], [0; 4], MAC_A, &opt(53, &[1])));
    assert_eq!(kinds(&out), ["missing_end_option"]);
    // Option 81 wire name with a compression loop.
    let mut o = opt(81, &[4, 0, 0, 0xc0, 0]);
    o.push(255);
    assert_eq!(
        kinds(&run(dhcp, &bootp(1, 1, [0; 4], [0; 4], MAC_A, &o))),
        ["name_loop"]
    );
}

#[test]
fn dhcp_truncated_at_every_length() {
    let m = bootp(1, 5, [0; 4], [0; 4], MAC_A, &discover_opts());
    for n in 0..m.len() {
        let out = run(dhcp, &m[..n]);
        check_bounds(&out);
        let k = kinds(&out);
        if n < 240 {
            assert_eq!(k, ["truncated"], "cut {n}");
            assert_eq!(events(&out).len(), usize::from(n >= 236));
        } else {
            assert!(
                k == ["option_overrun"] || k == ["missing_end_option"],
                "cut {n}: {k:?}"
            );
            assert_eq!(dhcp_of(&out).xid, 5);
        }
    }
}

// --------------------------------------------------------------------------------------------- mDNS

/// Writes DNS messages with RFC 1035 §4.1.4 compression done by hand (offsets noted at each use).
struct Msg(Vec<u8>);

impl Msg {
    fn new(flags: u16, counts: [u16; 4]) -> Msg {
        let mut v = vec![0, 0];
        v.extend(flags.to_be_bytes());
        for c in counts {
            v.extend(c.to_be_bytes());
        }
        Msg(v)
    }
    fn at(&self) -> u16 {
        self.0.len() as u16
    }
    /// Labels, then a pointer to `tail` or the root label.
    fn name(&mut self, labels: &[&str], tail: Option<u16>) -> &mut Msg {
        for l in labels {
            self.0.push(l.len() as u8);
            self.0.extend(l.as_bytes());
        }
        match tail {
            Some(p) => self.0.extend((0xc000 | p).to_be_bytes()),
            None => self.0.push(0),
        }
        self
    }
    fn rr(&mut self, rtype: u16, rdata: &[u8]) -> &mut Msg {
        self.0.extend(rtype.to_be_bytes());
        self.0.extend(0x8001u16.to_be_bytes()); // IN, cache-flush (RFC 6762 §10.2)
        self.0.extend(120u32.to_be_bytes());
        self.0.extend((rdata.len() as u16).to_be_bytes());
        self.0.extend(rdata);
        self
    }
}

/// A DNS-SD announcement of a DICOM service: PTR meta, PTR, SRV, TXT, A, AAAA.
fn mdns_response() -> Vec<u8> {
    let mut m = Msg::new(0x8400, [0, 6, 0, 0]);
    let meta = m.at();
    m.name(&["_services", "_dns-sd", "_udp", "local"], None);
    let local = meta + 1 + 9 + 1 + 7 + 1 + 4; // "local" label inside the meta name
    let svc_rdata_at = m.at() + 10;
    let mut svc = vec![6];
    svc.extend(b"_dicom\x04_tcp");
    svc.extend((0xc000 | local).to_be_bytes());
    m.rr(12, &svc); // _services._dns-sd._udp.local PTR _dicom._tcp.local
    m.name(&[], Some(svc_rdata_at));
    let inst_rdata_at = m.at() + 10;
    let mut inst = vec![6];
    inst.extend(b"PACS 1");
    inst.extend((0xc000 | svc_rdata_at).to_be_bytes());
    m.rr(12, &inst); // _dicom._tcp.local PTR "PACS 1._dicom._tcp.local"
    m.name(&[], Some(inst_rdata_at));
    let host_at = m.at() + 10 + 6;
    let mut srv = vec![0, 0, 0, 0, 0, 104, 5];
    srv.extend(b"pacs1");
    srv.extend((0xc000 | local).to_be_bytes());
    m.rr(33, &srv); // SRV 0 0 104 pacs1.local
    m.name(&[], Some(inst_rdata_at));
    m.rr(16, b"\x09aet=PACS1\x0cvendor=Acme \x00"); // TXT with an empty string
    m.name(&[], Some(host_at));
    m.rr(1, &[172, 30, 0, 10]);
    m.name(&[], Some(host_at));
    m.rr(28, &ip6("fe80::1"));
    m.0
}

#[test]
fn mdns_response_every_field() {
    let m = mdns_response();
    let out = run(mdns, &m);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(one(&out).event_type(), "mdns");
    assert_eq!(
        *mdns_of(&out),
        MdnsInfo {
            response: true,
            services: vec!["_dicom._tcp.local".into()],
            instances: vec!["PACS 1._dicom._tcp.local".into()],
            hostnames: vec!["pacs1.local".into()],
            addrs: vec![ip("172.30.0.10"), ip("fe80::1")],
            txt: vec!["aet=PACS1".into(), "vendor=Acme ".into()],
            truncated: false,
        }
    );
}

#[test]
fn mdns_query_and_reverse() {
    // Query: PTR _ipp._tcp.local (QU bit), ANY for the meta name (not a service), A question.
    let mut m = Msg::new(0, [3, 0, 0, 1]);
    m.name(&["_ipp", "_tcp", "local"], None);
    m.0.extend([0, 12, 0x80, 1]);
    m.name(&["_services", "_dns-sd", "_udp", "local"], None);
    m.0.extend([0, 255, 0, 1]);
    m.name(&["printer", "local"], None);
    m.0.extend([0, 1, 0, 1]);
    // Additional: reverse PTR 10.0.30.172.in-addr.arpa -> monitor.local.
    m.name(&["10", "0", "30", "172", "in-addr", "arpa"], None);
    let mut t = vec![7];
    t.extend(b"monitor\x05local\x00");
    m.rr(12, &t);
    let out = run(mdns, &m.0);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let i = mdns_of(&out);
    assert!(!i.response);
    assert_eq!(i.services, ["_ipp._tcp.local"]);
    assert_eq!(i.hostnames, ["monitor.local"]);
    assert!(i.instances.is_empty());
}

#[test]
fn mdns_caps() {
    let mut m = Msg::new(0x8400, [0, 40, 0, 0]);
    for k in 0..40 {
        let s = format!("_s{k}");
        m.name(&[&s, "_tcp", "local"], None);
        let mut t = vec![1, b'i', 0xc0, 12];
        t.truncate(2);
        t.push(0);
        m.rr(12, &t);
    }
    let out = run(mdns, &m.0);
    check_bounds(&out);
    let i = mdns_of(&out);
    assert!(i.truncated);
    assert_eq!(i.services.len(), MAX_LIST);
    assert_eq!(i.instances, ["i"]);
}

#[test]
fn read_name_pointers_and_limits() {
    let m = mdns_response();
    let mut n = NameBuf::default();
    // The first answer's owner starts at 12 and has no pointer.
    let end = read_name(&m, 12, &mut n).unwrap();
    assert_eq!(n.as_bytes(), b"_services._dns-sd._udp.local");
    assert_eq!(end, 12 + 30);
    // Root name.
    assert_eq!(read_name(&[0], 0, &mut n), Ok(1));
    assert_eq!(n.as_bytes(), b"");
    // Pointer to itself, forward pointer, pointer chain longer than the floor allows.
    let e = |b: &[u8], at: usize| read_name(b, at, &mut NameBuf::default()).unwrap_err().kind;
    assert_eq!(e(&[0xc0, 0], 0), "name_loop");
    assert_eq!(e(&[0xc0, 2, 0], 0), "name_loop");
    assert_eq!(e(&[1, b'a', 0xc0, 0], 0), "name_loop"); // points back into itself
    assert_eq!(e(&[0x40, 0], 0), "bad_label");
    assert_eq!(e(&[0x80, 0], 0), "bad_label");
    assert_eq!(e(&[3, b'a'], 0), "truncated");
    assert_eq!(e(&[0xc0], 0), "truncated");
    let mut long = Vec::new();
    for _ in 0..5 {
        long.push(63);
        long.extend([b'x'; 63]);
    }
    long.push(0);
    assert_eq!(e(&long, 0), "name_too_long");
    // 4 * 63 + 3 dots = 255 bytes fits exactly.
    let mut ok = Vec::new();
    for l in [63, 63, 63, 63] {
        ok.push(l);
        ok.extend(vec![b'y'; l as usize]);
    }
    ok.push(0);
    assert!(read_name(&ok, 0, &mut n).is_ok());
    assert_eq!(n.as_bytes().len(), 255);
    // Pointers that each point 2 bytes back (all backwards): more than MAX_HOPS of them.
    let mut chain = vec![0u8, 0];
    for k in 1..=40u16 {
        chain.extend((0xc000 | (2 * k - 2)).to_be_bytes());
    }
    assert_eq!(e(&chain, chain.len() - 2), "name_loop");
    assert!(read_name(&chain, 2 * MAX_HOPS, &mut n).is_ok());
}

#[test]
fn mdns_anomalies() {
    // Opcode 4 (NOTIFY).
    let out = run(mdns, &Msg::new(0x2000, [0; 4]).0);
    assert_eq!((kinds(&out), events(&out).len()), (vec!["bad_opcode"], 0));
    // A record with 3 bytes of RDATA.
    let mut m = Msg::new(0x8400, [0, 1, 0, 0]);
    m.name(&["h", "local"], None).rr(1, &[1, 2, 3]);
    assert_eq!(kinds(&run(mdns, &m.0)), ["bad_rdata"]);
    // TXT string overrunning its RDATA; SRV with 6 bytes.
    let mut m = Msg::new(0x8400, [0, 1, 0, 0]);
    m.name(&["h", "local"], None).rr(16, &[5, b'a']);
    assert_eq!(kinds(&run(mdns, &m.0)), ["bad_rdata"]);
    let mut m = Msg::new(0x8400, [0, 1, 0, 0]);
    m.name(&["h", "local"], None).rr(33, &[0; 6]);
    assert_eq!(kinds(&run(mdns, &m.0)), ["bad_rdata"]);
    // Name loop in a question; counts larger than the message.
    let mut m = Msg::new(0, [1, 0, 0, 0]);
    m.0.extend([0xc0, 12, 0, 12, 0, 1]);
    assert_eq!(kinds(&run(mdns, &m.0)), ["name_loop"]);
    let out = run(mdns, &Msg::new(0x8400, [0, 5, 0, 0]).0);
    assert_eq!(kinds(&out), ["truncated"]);
    assert!(mdns_of(&out).response);
}

#[test]
fn mdns_truncated_at_every_length() {
    let m = mdns_response();
    for n in 0..m.len() {
        let out = run(mdns, &m[..n]);
        check_bounds(&out);
        let k = kinds(&out);
        assert_eq!(k, ["truncated"], "cut {n}: {k:?}");
        assert_eq!(events(&out).len(), usize::from(n >= 12));
    }
}

// ---------------------------------------------------------------------------------------- proptest

fn decoders() -> [(&'static str, Decoder); 5] {
    [
        ("arp", arp),
        ("lldp", lldp),
        ("cdp", cdp),
        ("dhcp", dhcp),
        ("mdns", mdns),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        for (_, f) in decoders() {
            check_bounds(&run(f, &bytes));
        }
        let _ = looks_like_cdp(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(seed in 0usize..5, flips in prop::collection::vec((any::<u16>(), any::<u8>()), 1..8), cut in any::<u16>()) {
        let valid = [
            arp_pkt(1, MAC_B, [172, 30, 0, 60], [0; 6], [172, 30, 0, 1]),
            lldp_full(),
            cdp_frame(2, &cdp_tlvs()),
            bootp(1, 5, [0; 4], [0; 4], MAC_A, &discover_opts()),
            mdns_response(),
        ];
        let mut b = valid[seed].clone();
        for (at, x) in flips {
            let i = usize::from(at) % b.len();
            b[i] ^= x;
        }
        b.truncate(usize::from(cut) % (b.len() + 1));
        let (_, f) = decoders()[seed];
        check_bounds(&run(f, &b));
    }
}

// ------------------------------------------------------------------------------------- real frames

/// A test-only walker over a classic pcap (LINKTYPE_ETHERNET): yields each frame's bytes.
fn pcap_frames(pcap: &[u8]) -> Vec<&[u8]> {
    let magic = u32::from_le_bytes(pcap[..4].try_into().unwrap());
    assert!(
        magic == 0xa1b2c3d4 || magic == 0xa1b23c4d,
        "little-endian classic pcap"
    );
    assert_eq!(
        u32::from_le_bytes(pcap[20..24].try_into().unwrap()),
        1,
        "Ethernet"
    );
    let mut frames = Vec::new();
    let mut p = 24;
    while p + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[p + 8..p + 12].try_into().unwrap()) as usize;
        frames.push(&pcap[p + 16..p + 16 + incl]);
        p += 16 + incl;
    }
    frames
}

/// Dispatches one Ethernet frame as the sensor would: EtherType 0x0806, 0x88cc, 802.3 length + SNAP
/// (CDP), IPv4/UDP 67/68 and 5353.
fn dispatch(frame: &[u8], out: &mut Vec<AppEvent>) {
    let mut et = u16::from_be_bytes([frame[12], frame[13]]);
    let mut rest = &frame[14..];
    if et == 0x8100 {
        et = u16::from_be_bytes([rest[2], rest[3]]);
        rest = &rest[4..];
    }
    match et {
        0x0806 => arp(rest, out),
        0x88cc => lldp(rest, out),
        n if n <= 1500 => {
            let llc = &rest[..usize::from(n).min(rest.len())];
            if looks_like_cdp(llc) {
                cdp(llc, out);
            }
        }
        0x0800 if rest[9] == 17 => {
            let ihl = usize::from(rest[0] & 0x0f) * 4;
            let udp = &rest[ihl..];
            let (sp, dp) = (
                u16::from_be_bytes([udp[0], udp[1]]),
                u16::from_be_bytes([udp[2], udp[3]]),
            );
            let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
            let payload = &udp[8..ulen.min(udp.len())];
            if [67, 68].contains(&sp) || [67, 68].contains(&dp) {
                dhcp(payload, out);
            } else if sp == 5353 || dp == 5353 {
                mdns(payload, out);
            }
        }
        0x86dd if rest[6] == 17 => {
            let udp = &rest[40..];
            let (sp, dp) = (
                u16::from_be_bytes([udp[0], udp[1]]),
                u16::from_be_bytes([udp[2], udp[3]]),
            );
            if sp == 5353 || dp == 5353 {
                mdns(&udp[8..], out);
            }
        }
        _ => {}
    }
}

fn corpus(name: &str) -> Option<Vec<u8>> {
    let p = format!("{}/../captures/noise/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(p).ok()
}

fn decode_pcap(pcap: &[u8]) -> Vec<AppEvent> {
    let mut out = Vec::new();
    for f in pcap_frames(pcap) {
        dispatch(f, &mut out);
    }
    check_bounds(&out);
    out
}

#[test]
fn real_noise_arp_matches_tshark() {
    // testdata/noise_arp.tsv: tshark 4.0.17 on captures/noise/noise.pcap:
    //   tshark -r noise.pcap -Y arp -T fields -e arp.opcode -e arp.src.hw_mac -e arp.src.proto_ipv4 \
    //     -e arp.dst.hw_mac -e arp.dst.proto_ipv4
    // (78 packets: 55 requests, 23 replies; tshark's arp.isgratuitous / arp.isprobe match none.)
    let pcap = corpus("noise.pcap").expect("captures/noise/noise.pcap is committed");
    let out = decode_pcap(&pcap);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let got: Vec<String> = events(&out)
        .iter()
        .filter_map(|e| match e {
            NetIdEvent::Arp(a) => Some(format!(
                "{}\t{}\t{}\t{}\t{}",
                match a.op {
                    "request" => 1,
                    "reply" => 2,
                    _ => 0,
                },
                a.sender_mac,
                a.sender_ip,
                a.target_mac,
                a.target_ip
            )),
            _ => None,
        })
        .collect();
    let want: Vec<&str> = include_str!("testdata/noise_arp.tsv").lines().collect();
    assert_eq!(got.len(), 78);
    assert_eq!(got, want);
}

#[test]
fn real_noise_dhcp_matches_tshark() {
    // testdata/noise_dhcp.tsv: tshark 4.0.17 on captures/noise/noise.pcap (dnsmasq server, ISC dhclient
    // client, then nmap's broadcast DHCPINFORMs):
    // (ICMP errors quoting a DHCP packet are not decoded by the sensor, so they are filtered out.)
    //   tshark -r noise.pcap -Y "dhcp && !icmp" -T fields -E separator='|' -e dhcp.option.dhcp \
    //     -e dhcp.hw.mac_addr \
    //     -e dhcp.id -e dhcp.ip.client -e dhcp.ip.your -e dhcp.option.requested_ip_address \
    //     -e dhcp.option.hostname -e dhcp.option.vendor_class_id -e dhcp.option.request_list_item \
    //     -e dhcp.option.dhcp_server_id -e dhcp.fqdn.name
    let pcap = corpus("noise.pcap").expect("captures/noise/noise.pcap is committed");
    let out = decode_pcap(&pcap);
    let got: Vec<String> = of_variant!(&out, Dhcp).into_iter().map(dhcp_row).collect();
    let want: Vec<&str> = include_str!("testdata/noise_dhcp.tsv").lines().collect();
    assert_eq!(got.len(), 7);
    assert_eq!(got, want);
}

/// A DhcpInfo in the column order and formatting of the tshark commands above.
fn dhcp_row(d: &DhcpInfo) -> String {
    let code = match d.message_type {
        "discover" => "1",
        "offer" => "2",
        "request" => "3",
        "decline" => "4",
        "ack" => "5",
        "nak" => "6",
        "release" => "7",
        "inform" => "8",
        _ => "",
    };
    let o = |v: &Option<std::net::IpAddr>| v.map(|a| a.to_string()).unwrap_or_default();
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    format!(
        "{code}|{}|{:#010x}|{}|{}|{}|{}|{}|{}|{}|{}",
        d.client_mac,
        d.xid,
        d.client_ip.map_or("0.0.0.0".into(), |a| a.to_string()),
        d.your_ip.map_or("0.0.0.0".into(), |a| a.to_string()),
        o(&d.requested_ip),
        s(&d.hostname),
        s(&d.vendor_class),
        d.fingerprint.clone().unwrap_or_default(),
        o(&d.server_id),
        s(&d.fqdn),
    )
}

// ------------------------------------------------------------------ frames from an independent encoder

macro_rules! seed {
    ($name:literal) => {
        &include_bytes!(concat!("../../fuzz/corpus-seeds/netid/", $name))[1..]
    };
}

#[test]
fn scapy_built_frames_decode() {
    // parsers/fuzz/corpus-seeds/netid/{lldp,cdp,mdns-*}: built by scapy 2.8.0 (scapy.contrib.lldp,
    // scapy.contrib.cdp with its own checksum, scapy DNS with its name compression); the first byte is
    // the fuzz target's selector.
    let out = run(lldp, seed!("lldp"));
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let l = link_of(&out);
    assert_eq!(l.chassis_id.as_deref(), Some("0e:1a:07:00:00:21"));
    assert_eq!(l.port_id.as_deref(), Some("eth0"));
    assert_eq!(l.system_name.as_deref(), Some("pump-0021"));
    assert_eq!(l.system_description.as_deref(), Some("Infusion pump"));
    assert_eq!(
        (l.ttl_s, l.capabilities.clone()),
        (Some(120), vec!["station"])
    );
    assert_eq!(l.mgmt_addrs, [ip("172.30.0.33")]);

    let f = seed!("cdp");
    assert!(looks_like_cdp(f));
    let v = CdpView::parse(f).unwrap();
    assert_eq!(
        v.checksum_ok(),
        if v.pdu.len().is_multiple_of(2) {
            Some(true)
        } else {
            None
        }
    );
    let out = run(cdp, f);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let c = link_of(&out);
    assert_eq!(c.chassis_id.as_deref(), Some("sw-core-1"));
    assert_eq!(c.port_id.as_deref(), Some("Gi1/0/24"));
    assert_eq!(c.software_version.as_deref(), Some("IOS 15.0"));
    assert_eq!(c.platform.as_deref(), Some("cisco WS-C2960"));
    assert_eq!(c.mgmt_addrs, [ip("172.30.0.2")]);
    assert_eq!(
        (c.capabilities.clone(), c.ttl_s),
        (vec!["router", "switch", "igmp"], Some(180))
    );

    let out = run(mdns, seed!("mdns-response"));
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let m = mdns_of(&out);
    assert_eq!(m.services, ["_dicom._tcp.local"]);
    assert_eq!(m.instances, ["PACS 1._dicom._tcp.local"]);
    assert_eq!(m.hostnames, ["pacs1.local"]);
    assert_eq!(
        (m.addrs.clone(), m.txt.clone()),
        (vec![ip("172.30.0.10")], vec!["aet=PACS1".to_owned()])
    );
    let out = run(mdns, seed!("mdns-query"));
    assert_eq!(mdns_of(&out).services, ["_dicom._tcp.local"]);
}

// ------------------------------------------------------------------- captures/noise/netid.pcap vs tshark
//
// netid.pcap (lldpd LLDP+CDP from a switch and an infusion-pump gateway, python-zeroconf DNS-SD, dnsmasq
// + dhclient DHCP with hostname/vendor class/FQDN, arping gratuitous ARP and an ARP conflict). The
// expected rows in testdata/netid_*.tsv are tshark 4.0.17's, written by (F=captures/noise/netid.pcap):
//   tshark -r $F -Y arp -T fields -E separator='|' -e arp.opcode -e arp.src.hw_mac -e arp.src.proto_ipv4 \
//     -e arp.dst.hw_mac -e arp.dst.proto_ipv4 -e arp.isgratuitous -e arp.isprobe
//   tshark -r $F -Y "dhcp && !icmp" -T fields -E separator='|' (the fields of the noise.pcap DHCP test)
//   tshark -r $F -Y lldp -T fields -E separator='|' -e lldp.chassis.id.mac -e lldp.port.id.mac \
//     -e lldp.time_to_live -e lldp.tlv.system.name -e lldp.tlv.system.desc -e lldp.mgn.addr.ip4 \
//     -e lldp.tlv.enable_system_cap
//   tshark -r $F -Y cdp -T fields -E separator='|' -e cdp.deviceid -e cdp.portid -e cdp.platform \
//     -e cdp.software_version -e cdp.nrgyz.ip_address -e cdp.ttl -e cdp.capabilities -e cdp.checksum.status
//     (cdp.nrgyz.ip_address is what tshark 4.0 names the Addresses TLV's IPv4 address)
//   tshark -r $F -Y mdns -T fields -E separator='|' -e dns.flags.response -e dns.qry.name -e dns.resp.name \
//     -e dns.ptr.domain_name -e dns.srv.target -e dns.a -e dns.aaaa -e dns.txt

fn netid_pcap_events() -> Vec<AppEvent> {
    let pcap = corpus("netid.pcap").expect("captures/noise/netid.pcap is committed");
    decode_pcap(&pcap)
}

fn rows(tsv: &str) -> Vec<Vec<&str>> {
    tsv.lines().map(|l| l.split('|').collect()).collect()
}

/// A comma-separated tshark list as a sorted, deduplicated vector.
fn set(field: &str) -> Vec<String> {
    let mut v: Vec<String> = field
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn sorted<T: ToString>(v: &[T]) -> Vec<String> {
    set(&v.iter().map(T::to_string).collect::<Vec<_>>().join(","))
}

#[test]
fn real_netid_no_anomalies() {
    let out = netid_pcap_events();
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let mut n = std::collections::BTreeMap::new();
    for e in events(&out) {
        *n.entry(e.event_type()).or_insert(0) += 1;
    }
    // tshark -r $F -q -z io,phs: arp 27, lldp 11, cdp 9, dhcp 8, mdns 33.
    let want = [
        ("arp", 27),
        ("cdp", 9),
        ("dhcp", 8),
        ("lldp", 11),
        ("mdns", 33),
    ];
    assert_eq!(n.into_iter().collect::<Vec<_>>(), want);
}

#[test]
fn real_netid_arp_matches_tshark() {
    let out = netid_pcap_events();
    let got: Vec<&ArpInfo> = of_variant!(&out, Arp);
    let want = rows(include_str!("testdata/netid_arp.tsv"));
    assert_eq!(got.len(), want.len());
    let mut gratuitous = 0;
    for (a, w) in got.iter().zip(&want) {
        let op = match (w[0], w[5], w[6]) {
            (_, _, "1") => "probe",
            (_, "1", _) => "gratuitous",
            ("1", _, _) => "request",
            ("2", _, _) => "reply",
            _ => "other",
        };
        gratuitous += usize::from(op == "gratuitous");
        assert_eq!(a.op, op, "{w:?}");
        assert_eq!(a.sender_mac, w[1]);
        assert_eq!(a.sender_ip.to_string(), w[2]);
        assert_eq!(a.target_mac, w[3]);
        assert_eq!(a.target_ip.to_string(), w[4]);
    }
    assert_eq!(gratuitous, 5);
}

#[test]
fn real_netid_dhcp_matches_tshark() {
    let out = netid_pcap_events();
    let got: Vec<String> = of_variant!(&out, Dhcp).into_iter().map(dhcp_row).collect();
    let want: Vec<&str> = include_str!("testdata/netid_dhcp.tsv").lines().collect();
    assert_eq!(got.len(), 8);
    assert_eq!(got, want);
}

#[test]
fn real_netid_lldp_matches_tshark() {
    let out = netid_pcap_events();
    let got: Vec<&LinkInfo> = of_variant!(&out, Lldp);
    let want = rows(include_str!("testdata/netid_lldp.tsv"));
    assert_eq!(got.len(), want.len());
    for (l, w) in got.iter().zip(&want) {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        assert_eq!(o(&l.chassis_id), w[0]);
        assert_eq!(o(&l.port_id), w[1]);
        assert_eq!(l.ttl_s.map(|t| t.to_string()).unwrap_or_default(), w[2]);
        assert_eq!(o(&l.system_name), w[3]);
        assert_eq!(o(&l.system_description), w[4]);
        assert_eq!(
            l.mgmt_addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(","),
            w[5]
        );
        let bits = u32::from_str_radix(w[6].trim_start_matches("0x"), 16).unwrap_or(0);
        assert_eq!(
            l.capabilities,
            super::lldp::caps(bits, &super::lldp::LLDP_CAPS)
        );
    }
    // The switch's and the gateway's last LLDPDUs are lldpd's shutdown (TTL 0) frames.
    assert_eq!(got.iter().filter(|l| l.ttl_s == Some(0)).count(), 2);
}

#[test]
fn real_netid_cdp_matches_tshark() {
    let out = netid_pcap_events();
    let got: Vec<&LinkInfo> = of_variant!(&out, Cdp);
    let want = rows(include_str!("testdata/netid_cdp.tsv"));
    assert_eq!(got.len(), want.len());
    for (c, w) in got.iter().zip(&want) {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        assert_eq!(o(&c.chassis_id), w[0]);
        assert_eq!(o(&c.system_name), w[0]);
        assert_eq!(o(&c.port_id), w[1]);
        assert_eq!(o(&c.platform), w[2]);
        assert_eq!(o(&c.software_version), w[3]);
        assert_eq!(sorted(&c.mgmt_addrs), set(w[4]));
        assert_eq!(c.ttl_s.unwrap().to_string(), w[5]);
        assert_eq!(w[6], "0x00000010");
        assert_eq!(c.capabilities, ["host"]);
        assert_eq!(w[7], "1"); // tshark: checksum good; we raised no bad_checksum (no anomalies at all)
    }
}

#[test]
fn real_netid_mdns_matches_tshark() {
    let out = netid_pcap_events();
    let got: Vec<&MdnsInfo> = of_variant!(&out, Mdns);
    let want = rows(include_str!("testdata/netid_mdns.tsv"));
    assert_eq!(got.len(), want.len());
    let mut services = std::collections::BTreeSet::new();
    for (m, w) in got.iter().zip(&want) {
        assert_eq!(m.response, w[0] == "1");
        // Service types: the PTR questions' names plus record owners that are service types.
        let mut svc = set(w[1]);
        svc.extend(set(w[2]).into_iter().filter(|n| n.starts_with('_')));
        svc.sort();
        svc.dedup();
        assert_eq!(sorted(&m.services), svc, "{w:?}");
        // Instances: PTR targets (the SRV owners are the same names here).
        assert_eq!(sorted(&m.instances), set(w[3]), "{w:?}");
        // Host names: SRV targets (the A owners are the same names here).
        assert_eq!(sorted(&m.hostnames), set(w[4]), "{w:?}");
        let mut addrs = set(w[5]);
        addrs.extend(set(w[6]));
        addrs.sort();
        assert_eq!(sorted(&m.addrs), addrs, "{w:?}");
        assert_eq!(sorted(&m.txt), set(w[7]), "{w:?}");
        services.extend(m.services.iter().cloned());
    }
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["_dicom._tcp.local", "_http._tcp.local", "_ipp._tcp.local"]
    );
}
