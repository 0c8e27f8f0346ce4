//! No output ever holds patient data: the whole committed corpus goes through every output (EVE with
//! `--eve-types all`, syslog as received by a real rsyslog over TCP and UDP, `--stats` on stderr,
//! standard output, every file of the state directory) and all of it is searched, case-insensitively,
//! for every synthetic patient value of `captures/phi/synthetic_patients.tsv`: zero hits. A positive
//! control shows the same search finds those values in the captures themselves. A second test shows
//! the `--phi-guard` check withholds (and counts) a line that would carry one.

mod common;
use common::*;
use iomt_models::{Alert, Evidence};
use iomt_parsers::Ts;
use iomt_sensor::eve::TypeFilter;
use iomt_sensor::output::format::{Format, SeverityMap};
use iomt_sensor::output::syslog::{Target, TlsFiles};
use iomt_sensor::output::{OutputConfig, Outputs};
use iomt_sensor::pipeline::Sink;
use iomt_sensor::record::{Body, Record};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const IP: &str = "127.0.0.78";

fn phi_values() -> Vec<String> {
    let s = std::fs::read_to_string(capture("phi/synthetic_patients.tsv")).unwrap();
    let v: Vec<String> = s
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(1))
        .map(|v| v.trim().to_string())
        .filter(|v| v.len() >= 4)
        .collect();
    assert!(v.len() >= 30, "{v:?}");
    v
}

fn files_under(d: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// (value, where) for every case-insensitive occurrence.
fn hits(values: &[String], name: &str, bytes: &[u8]) -> Vec<(String, String)> {
    let hay = bytes.to_ascii_lowercase();
    values
        .iter()
        .filter(|v| {
            let n = v.to_ascii_lowercase();
            hay.windows(n.len()).any(|w| w == n.as_bytes())
        })
        .map(|v| (v.clone(), name.to_string()))
        .collect()
}

#[test]
fn corpus_through_every_output_holds_no_patient_value() {
    let values = phi_values();
    // Positive control: the captures do carry these values.
    let mut in_captures = 0;
    for p in all_captures() {
        in_captures += hits(&values, "", &std::fs::read(&p).unwrap()).len();
    }
    assert!(
        in_captures >= 10,
        "the search finds PHI in the captures ({in_captures})"
    );

    let t = TempDir::new("phi");
    let tcp = TcpListener::bind((IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let udp = UdpSocket::bind((IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let work = t.path("rsyslog-work");
    std::fs::create_dir_all(&work).unwrap();
    let received = t.path("received.log");
    std::fs::write(
        t.path("rsyslog.conf"),
        format!(
            "global(workDirectory=\"{}\" maxMessageSize=\"64k\")\nmodule(load=\"imudp\")\nmodule(load=\"imtcp\")\ninput(type=\"imudp\" address=\"{IP}\" port=\"{udp}\")\ninput(type=\"imtcp\" address=\"{IP}\" port=\"{tcp}\")\ntemplate(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\naction(type=\"omfile\" file=\"{}\" template=\"raw\")\n",
            work.display(),
            received.display()
        ),
    )
    .unwrap();
    let mut rs = Command::new("rsyslogd")
        .arg("-n")
        .arg("-f")
        .arg(t.path("rsyslog.conf"))
        .arg("-i")
        .arg(t.path("rsyslog.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rsyslogd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((IP, tcp)).is_err() {
        assert!(Instant::now() < deadline, "rsyslogd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let eve = t.path("eve.json");
    let state = t.path("state");
    let mut args: Vec<String> = [
        "replay",
        "--eve-types",
        "all",
        "--eve",
        eve.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--stats",
        "--syslog",
        &format!("tcp://{IP}:{tcp}"),
        "--syslog",
        &format!("udp://{IP}:{udp}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(all_captures().iter().map(|p| p.display().to_string()));
    let o = Command::new(bin()).args(&args).output().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = rs.kill();
    let _ = rs.wait();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("iomt-sensor stats: spool:"),
        "{}",
        stderr(&o)
    );

    let mut found = Vec::new();
    let eve_bytes = std::fs::read(&eve).unwrap();
    assert!(eve_bytes.len() > 100_000, "EVE output written");
    found.extend(hits(&values, "eve.json", &eve_bytes));
    found.extend(hits(
        &values,
        "syslog as received",
        &std::fs::read(&received).unwrap_or_default(),
    ));
    found.extend(hits(&values, "stdout", &o.stdout));
    found.extend(hits(&values, "stderr (--stats, warnings)", &o.stderr));
    let mut state_files = Vec::new();
    files_under(&state, &mut state_files);
    assert!(
        state_files.iter().any(|p| p.ends_with("iomt.db")),
        "{state_files:?}"
    );
    for p in &state_files {
        found.extend(hits(
            &values,
            &p.display().to_string(),
            &std::fs::read(p).unwrap(),
        ));
    }
    assert!(found.is_empty(), "patient values in the outputs: {found:?}");
}

#[test]
fn phi_guard_withholds_a_line_carrying_a_listed_value() {
    let t = TempDir::new("phi-guard");
    let rx = UdpSocket::bind((IP, 0)).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = rx.local_addr().unwrap().port();
    let cfg = OutputConfig {
        eve: Some(t.path("eve.json")),
        eve_types: TypeFilter::parse("alert").unwrap(),
        eve_rotate_size: None,
        syslog: vec![Target::parse(&format!("udp://{IP}:{port}")).unwrap()],
        format: Format::Rfc5424,
        facility: 16,
        severity: SeverityMap::default(),
        tls: TlsFiles::default(),
        state: t.path("state"),
        spool_cap: 100,
        phi: Some(capture("phi/synthetic_patients.tsv")),
        live: false,
        drain: Duration::from_secs(2),
        stats_interval: None,
    };
    let (mut out, stats) = Outputs::start(&cfg).unwrap();
    let leak = phi_values()
        .into_iter()
        .find(|v| v.starts_with("SYNPID"))
        .unwrap();
    let mk = |i: u64, seen: String| Record {
        ts: Ts(1_795_455_051_000_000_000),
        flow: None,
        body: Body::Alert(Box::new(Alert {
            id: format!("{i:04x}"),
            ts: Ts(1_795_455_051_000_000_000),
            kind: "test".into(),
            severity: 5,
            device_ip: "10.0.0.1".parse().unwrap(),
            peer_ip: None,
            protocol: None,
            summary: "s".into(),
            evidence: Evidence {
                expected: "e".into(),
                seen,
            },
            count: 1,
        })),
    };
    let mut recs = vec![
        mk(1, "clean".into()),
        mk(2, format!("a buggy detector copied {leak}")),
        mk(3, "clean too".into()),
    ];
    out.records(&mut recs);
    out.finish().unwrap();
    let eve = std::fs::read_to_string(t.path("eve.json")).unwrap();
    assert_eq!(eve.lines().count(), 2);
    assert!(!eve.contains(&leak));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = rx.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        if got.len() == 2 {
            break;
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|m| !m.contains(&leak)));
    assert!(
        got[0].contains("id=\"0001\"") && got[1].contains("id=\"0003\""),
        "{got:?}"
    );
    // One EVE line and one syslog message withheld.
    assert_eq!(stats.phi_blocked.load(Relaxed), 2);
}
