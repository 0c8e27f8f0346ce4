//! Each detector on a small crafted timeline: a learning day, then detection, with a positive and a
//! negative case.
#![allow(clippy::too_many_arguments, clippy::manual_is_multiple_of)]

use crate::engine::{Config, Mode, Models};
use crate::{Alert, FlowInfo, FlowSummary, Observation, Observed};
use iomt_parsers::dicom::{DicomEvent, DicomRecord};
use iomt_parsers::hl7::{Hl7Event, Hl7Fields};
use iomt_parsers::sdc::{SdcEvent, SdcKind};
use iomt_parsers::{AppEvent, Protocol, Ts};
use std::net::IpAddr;

const DAY: f64 = 86_400.0;
const A: &str = "10.1.0.1";
const B: &str = "10.1.0.2";
const C: &str = "10.1.0.3";
const D: &str = "10.1.0.4";
const OUT: &str = "198.51.100.7";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mac_of(s: &str) -> [u8; 6] {
    let o = match ip(s) {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(_) => [0; 4],
    };
    [0x00, 0x10, 0x5D, o[1], o[2], o[3]]
}

struct T {
    m: Models,
    alerts: Vec<Alert>,
    id: u64,
}

impl T {
    fn new() -> T {
        T::with(
            Models::open(
                Config {
                    mode: Mode::Learn,
                    ..Config::default()
                },
                None,
            )
            .unwrap(),
        )
    }

    fn with(m: Models) -> T {
        T {
            m,
            alerts: Vec::new(),
            id: 1,
        }
    }

    fn detect(&mut self) {
        self.m.set_mode(Mode::Detect);
    }

    fn flow(&self, src: &str, dst: &str, dport: u16, proto: u8) -> FlowInfo {
        FlowInfo {
            id: self.id,
            src: ip(src),
            sport: 40000,
            dst: ip(dst),
            dport,
            proto,
            src_mac: Some(mac_of(src)),
            dst_mac: Some(mac_of(dst)),
        }
    }

    fn obs(&mut self, t: f64, flow: FlowInfo, what: Observed<'_>) {
        let o = Observation {
            ts: Ts((t * 1e9) as u64),
            flow,
            what,
        };
        self.m.observe(&o, &mut self.alerts);
    }

    /// A whole TCP exchange: start, events from the client, end.
    fn exchange(
        &mut self,
        t: f64,
        src: &str,
        dst: &str,
        dport: u16,
        events: &[AppEvent],
        app: Option<Protocol>,
        bytes: u64,
    ) {
        self.id += 1;
        let f = self.flow(src, dst, dport, 6);
        self.obs(t, f, Observed::FlowStart);
        for e in events {
            self.obs(t + 0.01, f, Observed::App(e));
        }
        let s = FlowSummary {
            pkts_toserver: 5,
            pkts_toclient: 5,
            bytes_toserver: bytes,
            bytes_toclient: 2000,
            start: Ts(0),
            end: Ts(0),
            state: "closed",
            app_proto: app,
        };
        self.obs(t + 0.05, f, Observed::FlowEnd(&s));
    }

    fn kinds(&self) -> Vec<&str> {
        self.alerts.iter().map(|a| a.kind.as_str()).collect()
    }

    fn has(&self, kind: &str, dev: &str) -> bool {
        self.alerts
            .iter()
            .any(|a| a.kind == kind && a.device_ip == ip(dev))
    }
}

fn hl7(mt: &str) -> AppEvent {
    AppEvent::Hl7(Hl7Event(Box::new(Hl7Fields {
        kind: "message",
        message_type: Some(mt.into()),
        sending_application: Some("APP".into()),
        ..Hl7Fields::default()
    })))
}

fn assoc(calling: &str, called: &str) -> AppEvent {
    AppEvent::Dicom(DicomEvent(Box::new(DicomRecord {
        kind: "associate_rq",
        calling_ae: Some(calling.into()),
        called_ae: Some(called.into()),
        ..DicomRecord::default()
    })))
}

fn cmd(c: &str, bulk: bool, dest: Option<&str>) -> AppEvent {
    AppEvent::Dicom(DicomEvent(Box::new(DicomRecord {
        kind: "command",
        command: Some(c.into()),
        query_bulk: Some(bulk),
        query_level: Some("STUDY".into()),
        move_destination: dest.map(str::to_string),
        ..DicomRecord::default()
    })))
}

fn sdc(msg: &str) -> AppEvent {
    let mut e = SdcEvent::new(SdcKind::Soap);
    e.message = Some(msg.into());
    AppEvent::Sdc(e)
}

/// A day of normal traffic: A (monitor) reports to B (engine) every 300 s; C (modality) stores to
/// B's DICOM port with AE CT1 twice an hour; D (central station) subscribes to A's SDC port.
fn learn_day(t: &mut T) {
    let mut s = 0.0;
    while s < DAY {
        t.exchange(s, A, B, 2575, &[hl7("ORU^R01")], Some(Protocol::Hl7), 1500);
        if (s as u64) % 1800 == 0 {
            t.exchange(
                s + 5.0,
                C,
                B,
                104,
                &[
                    assoc("CT1", "PACS"),
                    cmd("C-STORE-RQ", false, None),
                    cmd("C-FIND-RQ", false, None),
                ],
                Some(Protocol::Dicom),
                500_000,
            );
        }
        if (s as u64) % 7200 == 0 {
            t.exchange(
                s + 7.0,
                D,
                A,
                6464,
                &[sdc("GetMdib"), sdc("SetValue")],
                Some(Protocol::Sdc),
                3000,
            );
            t.exchange(s + 9.0, C, D, 443, &[], Some(Protocol::Tls), 3000);
        }
        s += 300.0;
    }
}

fn learned() -> T {
    let mut t = T::new();
    learn_day(&mut t);
    t.detect();
    assert!(t.alerts.is_empty(), "learning raised {:?}", t.kinds());
    t
}

#[test]
fn normal_day_after_learning_raises_nothing() {
    let mut t = learned();
    let mut s = DAY;
    while s < 2.0 * DAY {
        t.exchange(s, A, B, 2575, &[hl7("ORU^R01")], Some(Protocol::Hl7), 1500);
        if (s as u64) % 1800 == 0 {
            t.exchange(
                s + 5.0,
                C,
                B,
                104,
                &[assoc("CT1", "PACS"), cmd("C-STORE-RQ", false, None)],
                Some(Protocol::Dicom),
                500_000,
            );
        }
        s += 300.0;
    }
    assert!(t.alerts.is_empty(), "{:?}", t.alerts);
}

#[test]
fn new_device_and_new_peer() {
    let mut t = learned();
    t.exchange(DAY + 10.0, A, B, 2575, &[], None, 100);
    assert!(t.alerts.is_empty());
    t.exchange(DAY + 20.0, "10.1.0.99", B, 104, &[], None, 100);
    assert!(t.has("new_device", "10.1.0.99"), "{:?}", t.kinds());
    // a learned device talking to a never-seen service
    t.exchange(DAY + 30.0, A, B, 22, &[], None, 100);
    assert!(t.has("new_peer_or_service", A));
    // the new device is not also reported for each of its peers
    assert!(!t.has("new_peer_or_service", "10.1.0.99"));
    let a = t
        .alerts
        .iter()
        .find(|a| a.kind == "new_peer_or_service")
        .unwrap();
    assert!(a.evidence.seen.contains("10.1.0.2:22"));
}

#[test]
fn learn_mode_never_alerts_and_dedup_counts() {
    let mut t = T::new();
    t.exchange(1.0, "10.9.9.9", B, 1, &[hl7("XYZ^Q01")], None, 100);
    assert!(t.alerts.is_empty());
    t.detect();
    t.exchange(10.0, "10.9.9.9", B, 1, &[], None, 100);
    t.exchange(11.0, "10.9.9.8", B, 1, &[], None, 100);
    t.exchange(12.0, "10.9.9.8", B, 1, &[], None, 100);
    // one new_device for the new address (the second flow is folded into it); the learned one
    // raised nothing
    assert_eq!(t.kinds(), vec!["new_device"]);
    assert_eq!(t.alerts[0].device_ip, ip("10.9.9.8"));
}

#[test]
fn hl7_new_message_type() {
    let mut t = learned();
    t.exchange(
        DAY + 100.0,
        A,
        B,
        2575,
        &[hl7("ORU^R01")],
        Some(Protocol::Hl7),
        1500,
    );
    assert!(t.alerts.is_empty());
    t.exchange(
        DAY + 200.0,
        A,
        B,
        2575,
        &[hl7("MFN^M02")],
        Some(Protocol::Hl7),
        1500,
    );
    assert_eq!(t.kinds(), vec!["hl7_new_message_type"]);
    assert!(t.alerts[0].evidence.expected.contains("ORU^R01"));
}

#[test]
fn dicom_vocabulary() {
    let mut t = learned();
    t.exchange(
        DAY + 10.0,
        C,
        B,
        104,
        &[assoc("CT1", "PACS")],
        Some(Protocol::Dicom),
        1000,
    );
    assert!(t.alerts.is_empty());
    t.exchange(
        DAY + 20.0,
        C,
        B,
        104,
        &[assoc("ROGUE", "PACS")],
        Some(Protocol::Dicom),
        1000,
    );
    assert!(t.has("dicom_new_ae_title", C));
    // a known AE title from another address
    t.exchange(
        DAY + 30.0,
        A,
        B,
        104,
        &[assoc("CT1", "PACS")],
        Some(Protocol::Dicom),
        1000,
    );
    assert!(t.has("dicom_ae_new_address", A), "{:?}", t.kinds());
    // a request C never sent, and a universal-match C-FIND
    t.exchange(
        DAY + 40.0,
        C,
        B,
        104,
        &[cmd("C-FIND-RQ", true, None)],
        Some(Protocol::Dicom),
        1000,
    );
    assert!(t.has("dicom_bulk_query", C));
    assert!(!t.has("dicom_new_command", C));
}

#[test]
fn dicom_bulk_retrieve_and_exfiltration() {
    let mut t = learned();
    t.exchange(
        DAY + 10.0,
        C,
        B,
        104,
        &[cmd("C-MOVE-RQ", false, Some("CT1"))],
        Some(Protocol::Dicom),
        1000,
    );
    assert!(t.has("dicom_new_command", C));
    assert!(!t.has("dicom_bulk_retrieve", C));
    for i in 0..4 {
        t.exchange(
            DAY + 20.0 + f64::from(i),
            C,
            B,
            104,
            &[cmd("C-MOVE-RQ", false, Some("EVIL"))],
            Some(Protocol::Dicom),
            1000,
        );
    }
    assert!(t.has("dicom_bulk_retrieve", C));
    // the archive opens the move's sub-association to outside: blamed on the mover
    t.exchange(
        DAY + 30.0,
        B,
        OUT,
        11112,
        &[assoc("PACS", "EVIL"), cmd("C-STORE-RQ", false, None)],
        Some(Protocol::Dicom),
        1000,
    );
    let a = t
        .alerts
        .iter()
        .find(|a| a.kind == "dicom_exfiltration")
        .expect("exfiltration");
    assert_eq!(a.device_ip, ip(C));
    assert_eq!(a.peer_ip, Some(ip(OUT)));
    // nothing else about that outside exchange (no vocabulary alerts for B)
    assert!(
        !t.alerts.iter().any(|a| a.device_ip == ip(B)),
        "{:?}",
        t.kinds()
    );
}

#[test]
fn external_transfer() {
    let mut t = learned();
    t.exchange(
        DAY + 10.0,
        A,
        OUT,
        2575,
        &[hl7("ORU^R01")],
        Some(Protocol::Hl7),
        1000,
    );
    assert!(t.has("external_transfer", A));
    let mut t = learned();
    t.exchange(DAY + 10.0, C, OUT, 8443, &[], None, 50 << 20);
    assert!(t.has("external_transfer", C), "{:?}", t.kinds());
    let mut t = learned();
    t.exchange(DAY + 10.0, C, OUT, 8443, &[], None, 1000);
    assert_eq!(t.kinds(), vec!["new_peer_or_service"]);
}

#[test]
fn flood() {
    let mut t = learned();
    // each exchange is a connection and a message: 2 per 5 minutes learned, alert at 32 a minute
    for i in 0..15 {
        t.exchange(
            DAY + f64::from(i),
            A,
            B,
            2575,
            &[hl7("ORU^R01")],
            Some(Protocol::Hl7),
            1500,
        );
    }
    assert!(!t.has("flood", A), "30 messages is within max(3x, +30)");
    for i in 15..60 {
        t.exchange(
            DAY + f64::from(i) * 0.5,
            A,
            B,
            2575,
            &[hl7("ORU^R01")],
            Some(Protocol::Hl7),
            1500,
        );
    }
    assert!(t.has("flood", A));
    assert_eq!(t.alerts.iter().filter(|a| a.kind == "flood").count(), 1);
}

#[test]
fn silence() {
    let mut t = learned();
    // reports go on for an hour: nothing
    let mut s = DAY;
    while s < DAY + 3600.0 {
        t.exchange(s, A, B, 2575, &[hl7("ORU^R01")], Some(Protocol::Hl7), 1500);
        t.exchange(
            s + 5.0,
            C,
            B,
            104,
            &[cmd("C-STORE-RQ", false, None)],
            Some(Protocol::Dicom),
            1000,
        );
        s += 300.0;
    }
    // A stops; C's stores keep the clock going (C reports too: it must not go silent)
    let last = s - 300.0;
    while s < DAY + 7200.0 {
        t.exchange(
            s,
            C,
            B,
            104,
            &[cmd("C-STORE-RQ", false, None)],
            Some(Protocol::Dicom),
            1000,
        );
        s += 30.0;
        if s < last + 300.0 * 1.5 {
            assert!(!t.has("device_silent", A), "too early at {}", s - last);
        }
    }
    let a = t
        .alerts
        .iter()
        .find(|a| a.kind == "device_silent")
        .expect("silent");
    assert_eq!(a.device_ip, ip(A));
    assert_eq!(
        t.alerts
            .iter()
            .filter(|a| a.kind == "device_silent")
            .count(),
        1
    );
    let after = a.ts.0 as f64 / 1e9 - last;
    assert!(after > 500.0 && after < 700.0, "{after}");
    // not periodic: C is never reported silent
    assert!(!t.has("device_silent", C));
}

#[test]
fn scans() {
    let mut t = learned();
    for p in 1..=3u16 {
        t.exchange(DAY + f64::from(p), C, B, p, &[], None, 100);
    }
    assert!(!t.has("port_scan", C));
    for p in 4..=40u16 {
        t.exchange(DAY + 5.0 + f64::from(p) * 0.1, C, B, p, &[], None, 100);
    }
    assert!(t.has("port_scan", C));
    let mut t = learned();
    for h in 1..=12u8 {
        t.exchange(
            DAY + f64::from(h),
            C,
            &format!("10.1.5.{h}"),
            445,
            &[],
            None,
            100,
        );
    }
    assert!(t.has("host_scan", C));
}

#[test]
fn protocol_anomalies() {
    let mut t = learned();
    let bad = AppEvent::anomaly("dicom", "pdu_length_absurd", "length 4294967295");
    t.exchange(
        DAY + 1.0,
        C,
        B,
        104,
        &[bad.clone(), bad.clone()],
        Some(Protocol::Dicom),
        1000,
    );
    assert!(!t.has("protocol_anomalies", C));
    t.exchange(DAY + 2.0, C, B, 104, &[bad], Some(Protocol::Dicom), 1000);
    assert!(t.has("protocol_anomalies", C));
    assert!(
        !t.alerts[0].summary.contains("4294967295"),
        "detail text stays out of the summary"
    );
}

#[test]
fn sdc_consumers_and_remote_control() {
    let mut t = learned();
    t.exchange(
        DAY + 1.0,
        D,
        A,
        6464,
        &[sdc("GetMdib"), sdc("SetValue")],
        Some(Protocol::Sdc),
        3000,
    );
    assert!(t.alerts.is_empty(), "{:?}", t.kinds());
    t.exchange(
        DAY + 2.0,
        C,
        A,
        6464,
        &[sdc("GetMdib")],
        Some(Protocol::Sdc),
        3000,
    );
    assert!(t.has("sdc_new_consumer", A));
    assert!(!t.has("sdc_remote_control", A));
    t.exchange(
        DAY + 3.0,
        C,
        A,
        6464,
        &[sdc("Activate")],
        Some(Protocol::Sdc),
        3000,
    );
    assert!(t.has("sdc_remote_control", A));
    assert!(t
        .alerts
        .iter()
        .all(|a| a.peer_ip == Some(ip(C)) || a.device_ip == ip(C)));
}

#[test]
fn tls_downgrade_to_plaintext() {
    let mut t = learned();
    t.exchange(DAY + 1.0, C, D, 443, &[], Some(Protocol::Tls), 3000);
    assert!(t.alerts.is_empty());
    t.exchange(
        DAY + 2.0,
        C,
        D,
        443,
        &[hl7("ORU^R01")],
        Some(Protocol::Hl7),
        3000,
    );
    assert!(t.has("tls_downgrade", C), "{:?}", t.kinds());
}

fn server_hello(v: &str) -> AppEvent {
    let mut i = iomt_parsers::tls::TlsInfo {
        kind: "server_hello",
        ..Default::default()
    };
    i.version = Some(v.into());
    AppEvent::Tls(iomt_parsers::tls::TlsEvent(Box::new(i)))
}

/// The server's hello, oriented server → client as the parser reports it.
fn hello(t: &mut T, ts: f64, client: &str, server: &str, v: &str) {
    t.id += 1;
    let f = t.flow(client, server, 443, 6);
    t.obs(ts, f, Observed::FlowStart);
    let back = FlowInfo {
        src: f.dst,
        sport: f.dport,
        dst: f.src,
        dport: f.sport,
        src_mac: f.dst_mac,
        dst_mac: f.src_mac,
        ..f
    };
    t.obs(ts + 0.01, back, Observed::App(&server_hello(v)));
}

#[test]
fn tls_version_downgrade_per_server() {
    let mut t = T::new();
    hello(&mut t, 1.0, C, D, "TLS 1.3");
    hello(&mut t, 2.0, C, B, "TLS 1.2");
    t.detect();
    // 1.2 with the server that always did 1.2 is fine
    hello(&mut t, 10.0, C, B, "TLS 1.2");
    assert!(t.alerts.is_empty(), "{:?}", t.kinds());
    hello(&mut t, 11.0, C, D, "TLS 1.0");
    assert_eq!(t.kinds(), vec!["tls_downgrade"]);
    assert_eq!(t.alerts[0].device_ip, ip(C));
    assert!(t.alerts[0].evidence.expected.contains("TLS 1.3"));
}

#[test]
fn same_mac_new_address_is_the_same_device() {
    let mut t = learned();
    // A's MAC shows up behind a new address after A went quiet
    t.id += 1;
    let mut f = t.flow("10.1.0.50", B, 2575, 6);
    f.src_mac = Some(mac_of(A));
    t.obs(DAY + 600.0, f, Observed::FlowStart);
    assert!(!t.has("new_device", "10.1.0.50"), "{:?}", t.kinds());
    let d = &t.m.devices()[&ip("10.1.0.50")];
    assert_eq!(d.previous_ips, vec![ip(A)]);
}

#[test]
fn auto_mode_learns_then_detects() {
    let cfg = Config {
        mode: Mode::Auto,
        learn_for_ns: 3600 * 1_000_000_000,
        ..Config::default()
    };
    let mut t = T::with(Models::open(cfg, None).unwrap());
    t.exchange(10.0, A, B, 2575, &[hl7("ORU^R01")], None, 100);
    t.exchange(3000.0, C, B, 2575, &[hl7("ORU^R01")], None, 100);
    assert!(t.alerts.is_empty());
    t.exchange(3700.0, "10.1.0.77", B, 2575, &[], None, 100);
    assert!(t.has("new_device", "10.1.0.77"));
}

#[test]
fn state_persists_across_restart() {
    let dir = std::env::temp_dir().join(format!("iomt-models-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut t = T::with(
            Models::open(
                Config {
                    mode: Mode::Learn,
                    ..Config::default()
                },
                Some(&dir),
            )
            .unwrap(),
        );
        learn_day(&mut t);
        t.m.finish().unwrap();
    }
    let m = Models::open(
        Config {
            mode: Mode::Detect,
            ..Config::default()
        },
        Some(&dir),
    )
    .unwrap();
    assert_eq!(m.devices().len(), 4);
    assert!(m.devices()[&ip(A)].baseline.rhythm.periodic());
    let mut t = T::with(m);
    t.exchange(
        DAY + 1.0,
        A,
        B,
        2575,
        &[hl7("ORU^R01")],
        Some(Protocol::Hl7),
        1500,
    );
    assert!(t.alerts.is_empty(), "{:?}", t.kinds());
    t.exchange(
        DAY + 2.0,
        A,
        B,
        2575,
        &[hl7("ADT^A01")],
        Some(Protocol::Hl7),
        1500,
    );
    assert!(t.has("hl7_new_message_type", A));
    t.m.finish().unwrap();
    let mut s = crate::store::Store::open(&dir).unwrap();
    let alerts = s.alerts_since(0).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "hl7_new_message_type");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn durations() {
    use crate::engine::parse_duration;
    assert_eq!(parse_duration("2d").unwrap(), 2 * 86_400 * 1_000_000_000);
    assert_eq!(parse_duration("36h").unwrap(), 36 * 3600 * 1_000_000_000);
    assert!(parse_duration("3x").is_err());
    assert!(parse_duration("").is_err());
}

fn cmd_sop(c: &str, sop: &str) -> AppEvent {
    AppEvent::Dicom(DicomEvent(Box::new(DicomRecord {
        kind: "command",
        command: Some(c.into()),
        sop_class_uid: Some(sop.into()),
        ..DicomRecord::default()
    })))
}

const CT_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const MR_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.4";

/// An exchange with chosen bytes each way.
fn exchange2(t: &mut T, ts: f64, src: &str, dst: &str, dport: u16, up: u64, down: u64) {
    t.id += 1;
    let f = t.flow(src, dst, dport, 6);
    t.obs(ts, f, Observed::FlowStart);
    let s = FlowSummary {
        pkts_toserver: 5,
        pkts_toclient: 5,
        bytes_toserver: up,
        bytes_toclient: down,
        start: Ts(0),
        end: Ts(0),
        state: "closed",
        app_proto: None,
    };
    t.obs(ts + 0.05, f, Observed::FlowEnd(&s));
}

/// Three learning days from a Monday: A reports every 300 s day and night; C (a modality) stores
/// CT images to B every 30 minutes from 08:00 to 17:59 only. Returns the next day's start.
fn learned_days(dir: Option<&std::path::Path>) -> (T, f64) {
    let mon = 1_794_182_400.0; // 2026-11-09 00:00 UTC, a Monday
    let mut t = T::with(
        Models::open(
            Config {
                mode: Mode::Learn,
                ..Config::default()
            },
            dir,
        )
        .unwrap(),
    );
    let mut s = mon;
    while s < mon + 3.0 * DAY {
        t.exchange(s, A, B, 2575, &[hl7("ORU^R01")], Some(Protocol::Hl7), 1500);
        let hour = ((s - mon) % DAY / 3600.0) as u64;
        if (8..18).contains(&hour) && ((s - mon) as u64) % 1800 == 0 {
            t.exchange(
                s + 5.0,
                C,
                B,
                104,
                &[assoc("CT1", "PACS"), cmd_sop("C-STORE-RQ", CT_IMAGE)],
                Some(Protocol::Dicom),
                500_000,
            );
        }
        s += 300.0;
    }
    t.m.finish().unwrap();
    t.detect();
    assert!(t.alerts.is_empty(), "learning raised {:?}", t.kinds());
    (t, mon + 3.0 * DAY)
}

fn stores(t: &mut T, from: f64, n: u32, sop: &str) {
    for i in 0..n {
        t.exchange(
            from + f64::from(i) * 20.0,
            C,
            B,
            104,
            &[assoc("CT1", "PACS"), cmd_sop("C-STORE-RQ", sop)],
            Some(Protocol::Dicom),
            500_000,
        );
    }
}

#[test]
fn off_hours_activity() {
    let (mut t, next) = learned_days(None);
    // the monitor's night reports: nothing
    for i in 0..12 {
        t.exchange(
            next + f64::from(i) * 300.0,
            A,
            B,
            2575,
            &[hl7("ORU^R01")],
            Some(Protocol::Hl7),
            1500,
        );
    }
    assert!(!t.has("off_hours_activity", A), "{:?}", t.kinds());
    // one store at 01:10: below the minimum activity
    stores(&mut t, next + 3600.0 + 600.0, 1, CT_IMAGE);
    assert!(!t.has("off_hours_activity", C));
    // a burst of stores at 03:12 (Thursday): off hours
    stores(&mut t, next + 3.0 * 3600.0 + 720.0, 8, CT_IMAGE);
    let a = t
        .alerts
        .iter()
        .find(|a| a.kind == "off_hours_activity")
        .expect("off hours");
    assert_eq!(a.device_ip, ip(C));
    assert_eq!(a.evidence.expected, "active 08-17 h UTC");
    assert!(
        a.evidence.seen.contains("Thu 03:12 UTC"),
        "{:?}",
        a.evidence
    );
    // daytime stores, however many: nothing more
    stores(&mut t, next + 10.0 * 3600.0, 12, CT_IMAGE);
    assert_eq!(
        t.alerts
            .iter()
            .filter(|a| a.kind == "off_hours_activity")
            .count(),
        1
    );
}

#[test]
fn volume_anomaly_per_direction() {
    let mut t = learned();
    // a normal window on A's HL7 edge, then A uploads 300 KB in one window (learned ~3 KB)
    exchange2(&mut t, DAY + 10.0, A, B, 2575, 1500, 2000);
    assert!(!t.has("volume_anomaly", A));
    exchange2(&mut t, DAY + 20.0, A, B, 2575, 300_000, 2000);
    let a = t
        .alerts
        .iter()
        .find(|a| a.kind == "volume_anomaly")
        .expect("volume");
    assert_eq!((a.device_ip, a.peer_ip), (ip(A), Some(ip(B))));
    assert!(a.summary.contains("sent"), "{}", a.summary);
    assert!(
        a.evidence.expected.contains("at most 3.0 KB sent"),
        "{:?}",
        a.evidence
    );
    // the other direction: B sends C far more on C's DICOM edge than it ever did (learned 2 KB)
    let mut t = learned();
    exchange2(&mut t, DAY + 10.0, C, B, 104, 500_000, 100_000);
    assert!(
        !t.has("volume_anomaly", C),
        "below the floor: {:?}",
        t.kinds()
    );
    exchange2(&mut t, DAY + 20.0, C, B, 104, 1000, 400_000_000);
    let a = t
        .alerts
        .iter()
        .find(|a| a.kind == "volume_anomaly")
        .expect("volume received");
    assert_eq!(a.device_ip, ip(C));
    assert!(
        a.summary.starts_with("10.1.0.2 sent 400.1 MB to 10.1.0.3"),
        "{}",
        a.summary
    );
    // a never-seen edge has no volumes to compare with (new_peer_or_service tells it)
    let mut t = learned();
    exchange2(&mut t, DAY + 10.0, C, A, 8080, 50_000_000, 1000);
    assert!(!t.has("volume_anomaly", C), "{:?}", t.kinds());
    assert!(t.has("new_peer_or_service", C));
}

#[test]
fn dicom_new_sop_class() {
    let (mut t, next) = learned_days(None);
    stores(&mut t, next + 10.0 * 3600.0, 1, CT_IMAGE);
    assert!(t.alerts.is_empty(), "{:?}", t.kinds());
    stores(&mut t, next + 10.0 * 3600.0 + 100.0, 2, MR_IMAGE);
    assert_eq!(t.kinds(), vec!["dicom_new_sop_class"]);
    let a = &t.alerts[0];
    assert_eq!((a.device_ip, a.peer_ip), (ip(C), Some(ip(B))));
    assert_eq!(a.severity, 4);
    assert!(a.summary.contains("MR Image Storage"), "{}", a.summary);
    assert!(
        a.evidence.expected.contains("CT Image Storage"),
        "{:?}",
        a.evidence
    );
    // a new request type says it already: no second alert for its SOP class
    t.exchange(
        next + 11.0 * 3600.0,
        C,
        B,
        104,
        &[cmd_sop("C-MOVE-RQ", "1.2.840.10008.5.1.4.1.2.2.2")],
        Some(Protocol::Dicom),
        1000,
    );
    assert!(t.has("dicom_new_command", C));
    assert_eq!(
        t.alerts
            .iter()
            .filter(|a| a.kind == "dicom_new_sop_class")
            .count(),
        1
    );
}

#[test]
fn activity_outlier() {
    let mut t = learned();
    // A's windows: a connection or two and an ORU each; now 40 connections sending 100 KB each
    for i in 0..40 {
        exchange2(
            &mut t,
            DAY + 5.0 + f64::from(i) * 10.0,
            A,
            B,
            2575,
            100_000,
            2000,
        );
    }
    let a = t
        .alerts
        .iter()
        .find(|a| a.kind == "activity_outlier")
        .expect("outlier");
    assert_eq!((a.device_ip, a.peer_ip), (ip(A), Some(ip(B))));
    assert!(
        a.evidence.expected.contains("model: its own K-Means"),
        "{:?}",
        a.evidence
    );
    assert!(
        a.summary.contains("where similar windows had"),
        "{}",
        a.summary
    );
    assert_eq!(
        t.alerts
            .iter()
            .filter(|a| a.kind == "activity_outlier" && a.device_ip == ip(A))
            .count(),
        1,
        "one alert per window"
    );
    // the model is the one fitted at the end of learning, on 144 windows of A
    let f = t.m.devices()[&ip(A)]
        .baseline
        .activity
        .fitted
        .clone()
        .unwrap();
    assert!(f.windows >= 140, "{}", f.windows);
}

#[test]
fn spoofed_source_flood_stays_small() {
    let mut t = learned();
    t.id = 1000;
    for i in 0..5000u32 {
        let src = format!("10.99.{}.{}", i >> 8, i & 0xff);
        t.id += 1;
        let f = t.flow(&src, B, 104, 6);
        t.obs(DAY + f64::from(i) * 1e-4, f, Observed::FlowStart);
    }
    let cfg = Config::default();
    assert!(t.m.devices().len() <= 4 + cfg.max_new_devices_per_10min as usize);
    // (19 of the 5000 end in .255 and count as broadcast)
    assert!(t.m.devices_over_cap >= 4981 - u64::from(cfg.max_new_devices_per_10min));
    let new: Vec<&Alert> = t.alerts.iter().filter(|a| a.kind == "new_device").collect();
    assert_eq!(new.len() as u32, cfg.new_device_alerts_per_window + 1);
    assert!(new
        .last()
        .unwrap()
        .summary
        .contains("counted in this alert"));
}

#[test]
fn new_baselines_persist_across_restart() {
    let dir = std::env::temp_dir().join(format!("iomt-models-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (t, next) = learned_days(Some(&dir));
    drop(t);
    let m = Models::open(
        Config {
            mode: Mode::Detect,
            ..Config::default()
        },
        Some(&dir),
    )
    .unwrap();
    let c = &m.devices()[&ip(C)].baseline;
    assert!(c.week.total() >= 40, "{}", c.week.total());
    // Monday from 08:00 (when C was first seen), Tuesday and Wednesday
    let covered: u32 = c.week.covered.iter().map(|h| u32::from(*h)).sum();
    assert_eq!(covered, 16 + 24 + 24);
    assert!(c.dicom_sop_by_peer[&ip(B)].contains(CT_IMAGE));
    let a = &m.devices()[&ip(A)].baseline;
    assert!(a.activity.fitted.is_some(), "fitted at the end of learning");
    let e = a.edges.iter().find(|(e, _)| e.port == 2575).unwrap().1;
    assert!(e.vol_windows >= 100 && e.sent_max >= 1500, "{e:?}");
    // and the detectors use them after the restart
    let mut t = T::with(m);
    t.id = 10_000;
    stores(&mut t, next + 3.0 * 3600.0 + 720.0, 8, MR_IMAGE);
    assert!(t.has("off_hours_activity", C), "{:?}", t.kinds());
    assert!(t.has("dicom_new_sop_class", C), "{:?}", t.kinds());
    let _ = std::fs::remove_dir_all(&dir);
}
