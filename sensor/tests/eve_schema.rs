//! Every EVE line the sensor writes validates against `schema/eve.schema.json` (JSON Schema 2020-12,
//! checked with Python's `jsonschema` package, Debian's python3-jsonschema, formats asserted): a replay
//! of every committed capture with `--eve-types all`, and alert and `stats` lines written through the
//! output side.
//! The validator is also shown to reject lines that break the contract.

mod common;
use common::*;
use iomt_models::{Alert, Evidence};
use iomt_parsers::Ts;
use iomt_sensor::eve::TypeFilter;
use iomt_sensor::output::format::{Format, SeverityMap};
use iomt_sensor::output::syslog::TlsFiles;
use iomt_sensor::output::{OutputConfig, Outputs};
use iomt_sensor::pipeline::Sink;
use iomt_sensor::record::{Body, FlowRef, Record};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const VALIDATE: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
n = bad = 0
for path in sys.argv[2:]:
    for i, line in enumerate(open(path)):
        n += 1
        errs = list(v.iter_errors(json.loads(line)))
        if errs:
            bad += 1
            if bad <= 5:
                print(f"{path}:{i+1}: {errs[0].message[:300]}")
print(f"validated {n} lines, {bad} invalid")
sys.exit(1 if bad else 0)
"#;

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/eve.schema.json")
}

/// Runs the validator; returns (exit ok, its output).
fn validate(files: &[&Path]) -> (bool, String) {
    let o = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE)
        .arg(schema())
        .args(files)
        .output()
        .expect("python3 (apt-get install python3-jsonschema)");
    (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
}

fn alert_lines(dir: &Path) -> PathBuf {
    let eve = dir.join("alerts.json");
    let cfg = OutputConfig {
        eve: Some(eve.clone()),
        eve_types: TypeFilter::parse("alert,stats").unwrap(),
        eve_rotate_size: None,
        syslog: vec![],
        format: Format::Rfc5424,
        facility: 16,
        severity: SeverityMap::default(),
        tls: TlsFiles::default(),
        state: dir.join("state"),
        spool_cap: 10,
        phi: None,
        // Live mode with a zero interval: one `stats` record per batch of records.
        live: true,
        drain: Duration::from_secs(1),
        stats_interval: Some(Duration::ZERO),
    };
    let (mut out, ost) = Outputs::start(&cfg).unwrap();
    // The pipeline's live counters, as `live` hands them to the output side.
    let gauges = std::sync::Arc::new(iomt_sensor::pipeline::Gauges::default());
    gauges
        .frames
        .store(1234, std::sync::atomic::Ordering::Relaxed);
    ost.pipeline.set(gauges).unwrap();
    let mut recs = Vec::new();
    for i in 0..10u8 {
        let a = Alert {
            id: format!("{:016x}", u64::from(i) * 7919),
            ts: Ts(1_795_455_051_000_000_000),
            kind: ["new_device", "dicom_bulk_query", "hl7_new_peer"][usize::from(i % 3)].into(),
            severity: i + 1,
            device_ip: if i % 2 == 0 {
                "10.0.0.5".parse().unwrap()
            } else {
                "fd00::5".parse().unwrap()
            },
            peer_ip: (i % 3 != 0).then(|| "10.0.0.9".parse().unwrap()),
            protocol: (i % 4 != 0).then(|| "dicom".into()),
            summary: "a \"quoted\" summary".into(),
            evidence: Evidence {
                expected: "x".into(),
                seen: "y".into(),
            },
            count: u64::from(i) + 1,
        };
        let flow = (i % 2 == 0).then_some(FlowRef {
            id: 9,
            src: "10.0.0.9".parse().unwrap(),
            sport: 50000,
            dst: "10.0.0.5".parse().unwrap(),
            dport: 104,
            proto: 6,
            src_mac: None,
            dst_mac: None,
        });
        recs.push(Record {
            ts: a.ts,
            flow,
            body: Body::Alert(Box::new(a)),
        });
    }
    out.records(&mut recs);
    out.finish().unwrap();
    let text = std::fs::read_to_string(&eve).unwrap();
    // Ten alerts, the stats record after the batch, the final one at the end.
    assert_eq!(text.lines().count(), 12);
    let stats: serde_json::Value = serde_json::from_str(text.lines().nth(10).unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    assert_eq!(stats["stats"]["records"]["alert"], 10);
    assert_eq!(stats["stats"]["eve_lines"], 10);
    assert_eq!(stats["stats"]["pipeline"]["frames"], 1234);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["stats"]["eve_lines"], 11);
    eve
}

#[test]
fn every_eve_line_validates() {
    let t = TempDir::new("eve-schema");
    let all = t.path("all.json");
    let mut args: Vec<String> = vec![
        "replay".into(),
        "--state".into(),
        t.path("state").display().to_string(),
        "--eve-types".into(),
        "all".into(),
        "--eve".into(),
        all.display().to_string(),
    ];
    args.extend(all_captures().iter().map(|p| p.display().to_string()));
    let o = Command::new(bin()).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&all).unwrap();
    let lines = text.lines().count();
    assert!(lines > 1000, "{lines} lines");
    // Every event type but alerts and stats (written through the output side below) is in the corpus.
    for et in TypeFilter::KNOWN
        .into_iter()
        .filter(|t| !matches!(*t, "alert" | "stats"))
    {
        assert!(
            text.contains(&format!("\"event_type\":\"{et}\"")),
            "no {et} event in the corpus replay"
        );
    }
    let alerts = alert_lines(&t.0);
    let (ok, out) = validate(&[&all, &alerts]);
    eprintln!("{out}");
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("validated {} lines, 0 invalid", lines + 12)),
        "{out}"
    );
}

#[test]
fn the_schema_rejects_contract_breaks() {
    let t = TempDir::new("eve-schema-neg");
    let good = r#"{"timestamp":"2026-11-23T17:30:51.000000Z","flow_id":1,"src_ip":"10.0.0.9","src_port":5,"dest_ip":"10.0.0.5","dest_port":104,"proto":"TCP","event_type":"alert","alert":{"id":"ab","kind":"new_device","severity":3,"device_ip":"10.0.0.5","summary":"s","evidence":{"expected":"a","seen":"b"},"count":1}}"#;
    let p = t.path("good.json");
    std::fs::write(&p, format!("{good}\n")).unwrap();
    assert!(validate(&[&p]).0);
    let breaks = [
        ("\"severity\":3", "\"severity\":11"),
        ("\"severity\":3", "\"severity\":\"3\""),
        ("\"id\":\"ab\",", ""),
        ("\"device_ip\":\"10.0.0.5\"", "\"device_ip\":\"not an ip\""),
        ("17:30:51.000000Z", "17:30:51Z"),
        ("\"event_type\":\"alert\"", "\"event_type\":\"dicom\""),
        ("\"count\":1}", "\"count\":1,\"patient_name\":\"X\"}"),
        (",\"src_ip\":\"10.0.0.9\"", ""),
    ];
    for (i, (from, to)) in breaks.iter().enumerate() {
        assert!(good.contains(from));
        let p = t.path(&format!("bad{i}.json"));
        std::fs::write(&p, format!("{}\n", good.replacen(from, to, 1))).unwrap();
        let (ok, out) = validate(&[&p]);
        assert!(!ok, "accepted {from} -> {to}: {out}");
    }
}
