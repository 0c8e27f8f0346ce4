//! The models through the binary on the committed captures: modes, persistence across restarts and
//! a SIGKILL, the eval figures on the labelled scenario, and no PHI anywhere in the outputs.

mod common;

use common::{capture, captures, json_lines, sensor, stderr, stdout};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iomt-models-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn replay(
    state: &Path,
    mode: &str,
    eve: Option<&Path>,
    pcaps: &[PathBuf],
    extra: &[&str],
) -> String {
    let mut args = vec!["replay", "--state", s(state), "--mode", mode];
    if let Some(e) = eve {
        args.extend(["--eve", s(e)]);
    }
    args.extend(extra.iter().copied());
    let ps: Vec<&str> = pcaps.iter().map(|p| s(p)).collect();
    args.extend(ps);
    let o = sensor(&args);
    assert!(o.status.success(), "replay failed: {}", stderr(&o));
    eve.map(|e| std::fs::read_to_string(e).unwrap_or_default())
        .unwrap_or_default()
}

fn alerts(eve: &str) -> Vec<serde_json::Value> {
    json_lines(eve)
        .into_iter()
        .filter(|v| v["event_type"] == "alert")
        .collect()
}

fn inventory(state: &Path) -> Vec<serde_json::Value> {
    let o = sensor(&["inventory", "--json", "--state", s(state)]);
    assert!(o.status.success(), "{}", stderr(&o));
    json_lines(&stdout(&o))
}

#[test]
fn learn_then_detect_then_restart() {
    let dir = tmp("modes");
    let state = dir.join("state");
    let base = capture("scenario/baseline.pcap");
    let test = capture("scenario/test.pcap");
    // learn: no alerts at all
    let eve = replay(
        &state,
        "learn",
        Some(&dir.join("learn.json")),
        std::slice::from_ref(&base),
        &[],
    );
    assert!(alerts(&eve).is_empty(), "learn mode raised alerts");
    let inv = inventory(&state);
    assert!(inv.len() >= 10, "inventory of the ward: {}", inv.len());
    let pacs = inv
        .iter()
        .find(|d| d["ip"] == "10.20.1.10")
        .expect("PACS in the inventory");
    assert_eq!(pacs["role"], "PACS");
    let mon = inv.iter().find(|d| d["ip"] == "10.20.10.11").unwrap();
    assert!(mon["report_period_s"].as_f64().unwrap() > 1100.0);
    // detect, in a new process over the stored baseline: the labelled anomalies alert
    let eve = replay(
        &state,
        "detect",
        Some(&dir.join("detect.json")),
        std::slice::from_ref(&test),
        &[],
    );
    let a = alerts(&eve);
    let kinds: Vec<&str> = a
        .iter()
        .map(|v| v["alert"]["kind"].as_str().unwrap())
        .collect();
    for k in [
        "new_device",
        "dicom_new_ae_title",
        "hl7_new_message_type",
        "flood",
        "sdc_remote_control",
        "port_scan",
        "protocol_anomalies",
        "device_silent",
        "dicom_exfiltration",
    ] {
        assert!(kinds.contains(&k), "missing {k} in {kinds:?}");
    }
    for v in &a {
        let al = &v["alert"];
        let sev = al["severity"].as_u64().unwrap();
        assert!((1..=10).contains(&sev));
        assert!(!al["summary"].as_str().unwrap().is_empty());
        assert!(al["evidence"]["expected"].is_string() && al["evidence"]["seen"].is_string());
    }
    // a second detect run over the same capture: the new facts were recorded after alerting once
    let eve = replay(
        &state,
        "detect",
        Some(&dir.join("detect2.json")),
        &[test],
        &[],
    );
    let again = alerts(&eve);
    assert!(again.len() < a.len(), "{} then {}", a.len(), again.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn auto_mode_learns_for_the_period_then_detects() {
    let dir = tmp("auto");
    let state = dir.join("state");
    let eve = replay(
        &state,
        "auto",
        Some(&dir.join("eve.json")),
        &[
            capture("scenario/baseline.pcap"),
            capture("scenario/test.pcap"),
        ],
        &["--learn-for", "2d"],
    );
    let a = alerts(&eve);
    assert!(!a.is_empty());
    // the baseline capture starts 2026-11-18T00:00; nothing alerts during the two learning days
    for v in &a {
        let ts = v["timestamp"].as_str().unwrap();
        assert!(ts >= "2026-11-20T00:00:00", "alert while learning: {ts}");
    }
    // learning continues across restarts and files: a second learn run adds what is new
    let before = inventory(&state).len();
    replay(
        &state,
        "learn",
        None,
        &[capture("dicom/dcmtk-store.pcap")],
        &[],
    );
    let after = inventory(&state);
    assert!(after.len() > before, "{before} then {}", after.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_on_the_labelled_scenario() {
    let o = sensor(&[
        "eval",
        "--baseline",
        s(&capture("scenario/baseline.pcap")),
        "--test",
        s(&capture("scenario/test.pcap")),
        "--labels",
        s(&capture("scenario/labels.csv")),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(r["recall"], 1.0, "{r}");
    assert!(r["false_alerts_per_24h"].as_f64().unwrap() <= 1.0, "{r}");
    for l in r["labels"].as_array().unwrap() {
        let t = l["time_to_alert_s"].as_f64().unwrap();
        if l["attack_kind"] == "device_silent" {
            assert!(t < 3600.0, "{l}");
        } else {
            assert!(t < 10.0, "first alert within seconds: {l}");
        }
    }
    // the table for people
    let o = sensor(&[
        "eval",
        "--baseline",
        s(&capture("scenario/baseline.pcap")),
        "--test",
        s(&capture("scenario/test.pcap")),
        "--labels",
        s(&capture("scenario/labels.csv")),
    ]);
    assert!(stdout(&o).contains("recall 1.000"), "{}", stdout(&o));
}

#[test]
fn sigkill_mid_replay_keeps_the_committed_baseline() {
    let dir = tmp("kill");
    let state = dir.join("state");
    replay(
        &state,
        "learn",
        None,
        &[capture("scenario/baseline.pcap")],
        &[],
    );
    let committed = inventory(&state);
    // a long learning run over many copies, killed with SIGKILL in the middle
    let mut args: Vec<String> = vec![
        "replay".into(),
        "--state".into(),
        s(&state).into(),
        "--mode".into(),
        "learn".into(),
    ];
    // 600 copies (about 4 GB): far longer than the 1.5 s before the kill on any machine we run on.
    for _ in 0..600 {
        args.push(s(&capture("scenario/test.pcap")).into());
        args.push(s(&capture("scenario/baseline.pcap")).into());
    }
    let mut child = std::process::Command::new(common::bin())
        .args(&args)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert!(
        still_running,
        "the replay ended before the kill: make it longer"
    );
    let db = rusqlite::Connection::open(state.join("iomt.db")).unwrap();
    let ok: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let v: i64 = db
        .query_row(
            "SELECT version FROM schema_version WHERE component = 'models'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, 1);
    drop(db);
    let now = inventory(&state);
    for d in &committed {
        let ip = &d["ip"];
        let n = now
            .iter()
            .find(|x| &x["ip"] == ip)
            .unwrap_or_else(|| panic!("{ip} lost"));
        assert_eq!(n["first_seen"], d["first_seen"]);
        assert_eq!(n["role"], d["role"]);
    }
    // and the store goes on working
    replay(&state, "learn", None, &[capture("hl7/hl7apy.pcap")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every committed capture through replay (auto mode with a short learning period, so detectors
/// run too): no synthetic patient value appears in the EVE output, the inventory or the SQLite file.
#[test]
fn no_phi_in_eve_inventory_or_state() {
    let dir = tmp("phi");
    let state = dir.join("state");
    let mut pcaps = Vec::new();
    // the scenario first: the lab recordings are later in capture time, and auto mode learns
    // for an hour from the first observation
    for sub in ["scenario", "dicom", "hl7", "sdc", "ieee20601", "noise"] {
        let mut v: Vec<PathBuf> = std::fs::read_dir(captures().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        v.sort();
        pcaps.extend(v);
    }
    assert!(pcaps.len() >= 10);
    let eve = replay(
        &state,
        "auto",
        Some(&dir.join("eve.json")),
        &pcaps,
        &["--learn-for", "1h", "--eve-types", "all"],
    );
    assert!(!alerts(&eve).is_empty());
    let inv_table = stdout(&sensor(&["inventory", "--state", s(&state)]));
    let inv_json = stdout(&sensor(&["inventory", "--json", "--state", s(&state)]));
    let mut db = Vec::new();
    for f in ["iomt.db", "iomt.db-wal"] {
        if let Ok(b) = std::fs::read(state.join(f)) {
            db.extend(b);
        }
    }
    let phi = std::fs::read_to_string(captures().join("phi/synthetic_patients.tsv")).unwrap();
    let mut checked = 0;
    for line in phi.lines().skip(1) {
        let Some((_, value)) = line.split_once('\t') else {
            continue;
        };
        let value = value.trim();
        if value.len() < 4 {
            continue;
        }
        checked += 1;
        assert!(!eve.contains(value), "EVE holds PHI {value}");
        assert!(
            !inv_table.contains(value) && !inv_json.contains(value),
            "inventory holds PHI {value}"
        );
        assert!(
            !db.windows(value.len()).any(|w| w == value.as_bytes()),
            "state store holds PHI {value}"
        );
    }
    assert!(checked >= 30);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The identity chatter of `noise/netid.pcap` (lldpd, python-zeroconf, dnsmasq + dhclient, arping):
/// every name reaches the inventory, DHCP leases make devices, and the second MAC claiming the pump
/// gateway's address is an `arp_conflict` naming both MACs.
#[test]
fn link_identity_reaches_the_inventory_and_an_arp_conflict_alerts() {
    let dir = tmp("netid");
    let state = dir.join("state");
    let eve = dir.join("eve.json");
    let text = replay(
        &state,
        "detect",
        Some(&eve),
        &[capture("noise/netid.pcap")],
        &[],
    );
    let a = alerts(&text);
    let conflicts: Vec<_> = a
        .iter()
        .filter(|v| v["alert"]["kind"] == "arp_conflict")
        .collect();
    assert_eq!(conflicts.len(), 1, "{a:#?}");
    let c = &conflicts[0]["alert"];
    assert_eq!(c["device_ip"], "172.30.0.52");
    assert!(
        c["evidence"]["expected"]
            .as_str()
            .unwrap()
            .contains("0e:1a:03:00:00:34"),
        "{c}"
    );
    assert!(
        c["evidence"]["seen"]
            .as_str()
            .unwrap()
            .contains("0e:1a:07:00:00:42"),
        "{c}"
    );
    // The link-layer alert carries the frame's MACs, not flow fields.
    assert_eq!(conflicts[0]["src_mac"], "0e:1a:07:00:00:42");
    assert!(conflicts[0].get("flow_id").is_none());
    let leased: Vec<_> = a
        .iter()
        .filter(|v| {
            v["alert"]["kind"] == "new_device"
                && v["alert"]["summary"]
                    .as_str()
                    .unwrap()
                    .contains("DHCP lease")
        })
        .map(|v| v["alert"]["device_ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(leased.len(), 2, "{leased:?}");
    let inv = inventory(&state);
    let ident = |ip: &str| -> serde_json::Value {
        inv.iter()
            .find(|d| d["ip"] == ip)
            .unwrap_or_else(|| panic!("{ip} not in {inv:#?}"))["identity"]
            .clone()
    };
    let has = |v: &serde_json::Value, field: &str, want: &str| {
        assert!(
            v[field]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == want)),
            "{field} lacks {want}: {v}"
        );
    };
    let gw = ident("172.30.0.52");
    has(&gw, "lldp_system_name", "infusion-gw-3");
    has(&gw, "lldp_description", "PumpGW-200");
    has(&gw, "mdns_services", "_http._tcp.local");
    has(&ident("172.30.0.21"), "hostnames", "ct01.local");
    has(
        &ident("172.30.0.21"),
        "mdns_services",
        "CT01 Scanner._dicom._tcp.local",
    );
    for ip in &leased {
        let id = ident(ip);
        assert!(
            id["dhcp_vendor_class"]
                .as_array()
                .is_some_and(|v| !v.is_empty()),
            "{ip}: {id}"
        );
        assert!(id["dhcp_fingerprint"]
            .as_array()
            .is_some_and(|v| !v.is_empty()));
    }
    has(&ident(&leased[0]), "hostnames", "pump-ward3-07");
    let _ = std::fs::remove_dir_all(&dir);
}
