//! Syslog outputs against a real rsyslog (Debian's `rsyslogd`, started by each test in the foreground
//! with its own configuration, work directory and ports on 127.0.0.77): UDP, TCP with octet counting,
//! TLS with the gtls driver and certificates made here with openssl. rsyslog writes every message it
//! receives as its `%jsonmesg%` JSON; the tests parse RFC 5424 structured data, CEF and LEEF back field
//! by field. The fault test kills rsyslog (by its PID, a child of the test) while alerts flow and
//! restarts it: every alert arrives, exactly once after dropping duplicates by id.

mod common;
use common::*;
use iomt_models::{Alert, Evidence};
use iomt_parsers::Ts;
use iomt_sensor::eve::TypeFilter;
use iomt_sensor::output::format::{Format, SeverityMap};
use iomt_sensor::output::syslog::{Target, TlsFiles};
use iomt_sensor::output::{OutputConfig, Outputs};
use iomt_sensor::pipeline::Sink;
use iomt_sensor::record::{Body, FlowRef, Record};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const IP: &str = "127.0.0.77";

fn free_tcp_port() -> u16 {
    TcpListener::bind((IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
fn free_udp_port() -> u16 {
    UdpSocket::bind((IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA and a server certificate for `san` (an IP SAN), made with openssl.
fn make_certs(dir: &Path, tag: &str, san: &str) -> Certs {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let cnf = dir.join(format!("{tag}.cnf"));
    std::fs::write(
        &cnf,
        format!(
            "[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n[srv]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:{san}\n[cli]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
        ),
    )
    .unwrap();
    let c = cnf.to_str().unwrap();
    let f = |s: &str| format!("{tag}-{s}");
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &f("ca.key"),
    ]);
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &f("ca.key"),
        "-out",
        &f("ca.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=iomt test CA",
        "-config",
        c,
        "-extensions",
        "ca",
    ]);
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &f("srv.key"),
    ]);
    run(&[
        "req",
        "-new",
        "-key",
        &f("srv.key"),
        "-out",
        &f("srv.csr"),
        "-subj",
        &format!("/CN={san}"),
        "-config",
        c,
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &f("srv.csr"),
        "-CA",
        &f("ca.pem"),
        "-CAkey",
        &f("ca.key"),
        "-CAcreateserial",
        "-out",
        &f("srv.pem"),
        "-days",
        "2",
        "-extfile",
        c,
        "-extensions",
        "srv",
    ]);
    // A client certificate from the same CA.
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &f("cli.key"),
    ]);
    run(&[
        "req",
        "-new",
        "-key",
        &f("cli.key"),
        "-out",
        &f("cli.csr"),
        "-subj",
        "/CN=iomt-sensor",
        "-config",
        c,
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &f("cli.csr"),
        "-CA",
        &f("ca.pem"),
        "-CAkey",
        &f("ca.key"),
        "-CAcreateserial",
        "-out",
        &f("cli.pem"),
        "-days",
        "2",
        "-extfile",
        c,
        "-extensions",
        "cli",
    ]);
    Certs {
        ca: dir.join(f("ca.pem")),
        cert: dir.join(f("srv.pem")),
        key: dir.join(f("srv.key")),
    }
}

/// rsyslogd in the foreground, started and killed by the test.
struct Rsyslog {
    dir: PathBuf,
    conf: PathBuf,
    out: PathBuf,
    child: Option<Child>,
    tcp: Option<u16>,
    tls: Option<u16>,
}

impl Rsyslog {
    fn start(
        dir: &Path,
        udp: Option<u16>,
        tcp: Option<u16>,
        tls: Option<(u16, &Certs)>,
    ) -> Rsyslog {
        Self::start_auth(dir, udp, tcp, tls, "anon")
    }

    fn start_auth(
        dir: &Path,
        udp: Option<u16>,
        tcp: Option<u16>,
        tls: Option<(u16, &Certs)>,
        auth: &str,
    ) -> Rsyslog {
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let out = dir.join("received.jsonl");
        let mut c = format!(
            "global(workDirectory=\"{}\" maxMessageSize=\"64k\" parser.escapeControlCharactersOnReceive=\"off\"",
            work.display()
        );
        if let Some((_, certs)) = tls {
            c += &format!(
                " defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\" defaultNetstreamDriverKeyFile=\"{}\"",
                certs.ca.display(),
                certs.cert.display(),
                certs.key.display()
            );
        }
        c += ")\n";
        if let Some(p) = udp {
            c += &format!(
                "module(load=\"imudp\")\ninput(type=\"imudp\" address=\"{IP}\" port=\"{p}\")\n"
            );
        }
        if tcp.is_some() || tls.is_some() {
            c += "module(load=\"imtcp\")\n";
        }
        if let Some(p) = tcp {
            c += &format!("input(type=\"imtcp\" address=\"{IP}\" port=\"{p}\")\n");
        }
        if let Some((p, _)) = tls {
            c += &format!(
                "input(type=\"imtcp\" address=\"{IP}\" port=\"{p}\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"{auth}\")\n"
            );
        }
        c += &format!(
            "template(name=\"j\" type=\"string\" string=\"%jsonmesg%\\n\")\naction(type=\"omfile\" file=\"{}\" template=\"j\")\n",
            out.display()
        );
        let conf = dir.join("rsyslog.conf");
        std::fs::write(&conf, c).unwrap();
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            conf,
            out,
            child: None,
            tcp,
            tls: tls.map(|t| t.0),
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(self.dir.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd (apt-get install rsyslog rsyslog-gnutls)");
        self.child = Some(child);
        // Ready when its TCP listeners accept (UDP and TCP inputs start together).
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [self.tcp, self.tls].into_iter().flatten() {
            while TcpStream::connect((IP, port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "rsyslogd did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if self.tcp.is_none() && self.tls.is_none() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// SIGKILL to our own child, by PID.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, waiting until `n` are there (or 10 s).
    fn received(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = std::fs::read_to_string(&self.out).unwrap_or_default();
            let v: Vec<Value> = s
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if v.len() >= n || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An alert whose texts hold every character the formats must escape.
fn alert(i: u32) -> Alert {
    Alert {
        id: format!("{:016x}", 0xa1e7_0000u64 + u64::from(i)),
        ts: Ts(1_795_455_051_000_000_000 + u64::from(i) * 1_000_000),
        kind: if i.is_multiple_of(2) {
            "dicom_bulk_query".into()
        } else {
            "new_device".into()
        },
        severity: (i % 10 + 1) as u8,
        device_ip: "10.1.2.3".parse().unwrap(),
        peer_ip: Some("10.9.8.7".parse().unwrap()),
        protocol: Some("dicom".into()),
        summary: format!("alert {i}: AE \"PACS]\\1\" | k=v\tend"),
        evidence: Evidence {
            expected: "at most 5 C-FIND | hour = \"normal\"".into(),
            seen: format!("{i} C-FIND ] \\ = |"),
        },
        count: u64::from(i) + 1,
    }
}

fn record(a: Alert) -> Record {
    Record {
        ts: a.ts,
        flow: Some(FlowRef {
            id: 42,
            src: "10.9.8.7".parse().unwrap(),
            sport: 40000,
            dst: "10.1.2.3".parse().unwrap(),
            dport: 104,
            proto: 6,
            src_mac: None,
            dst_mac: None,
        }),
        body: Body::Alert(Box::new(a)),
    }
}

fn config(dir: &Path, urls: &[String], format: Format) -> OutputConfig {
    std::fs::create_dir_all(dir).unwrap();
    OutputConfig {
        eve: Some(dir.join("eve.json")),
        eve_types: TypeFilter::parse("alert").unwrap(),
        eve_rotate_size: None,
        syslog: urls.iter().map(|u| Target::parse(u).unwrap()).collect(),
        format,
        facility: 16,
        severity: SeverityMap::default(),
        tls: TlsFiles::default(),
        state: dir.join("state"),
        spool_cap: 100_000,
        phi: None,
        live: false,
        drain: Duration::from_secs(20),
        stats_interval: None,
    }
}

/// RFC 5424 SD-PARAMs of one SD-ELEMENT, unescaping `\"`, `\\`, `\]`.
fn parse_sd(sd: &str) -> (String, BTreeMap<String, String>) {
    let body = sd.strip_prefix('[').expect("SD starts with [");
    let (id, mut rest) = body.split_at(body.find(' ').unwrap());
    let mut m = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest == "]" {
            break;
        }
        let eq = rest.find("=\"").unwrap();
        let name = rest[..eq].to_string();
        let mut val = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            let (i, c) = chars.next().expect("unterminated PARAM-VALUE");
            match c {
                '\\' => {
                    let (_, n) = chars.next().unwrap();
                    assert!(matches!(n, '"' | '\\' | ']'), "bad escape \\{n}");
                    val.push(n);
                }
                '"' => break eq + 2 + i + 1,
                c => {
                    assert!(c != ']', "unescaped ] in {sd}");
                    val.push(c)
                }
            }
        };
        m.insert(name, val);
        rest = &rest[end..];
    }
    (id.to_string(), m)
}

fn check_rfc5424(v: &Value, a: &Alert) {
    assert_eq!(v["app-name"], "iomt-sensor");
    assert_eq!(v["msgid"], a.kind.as_str());
    assert_eq!(v["syslogfacility"], "16");
    let sev = SeverityMap::default().map(a.severity);
    assert_eq!(v["syslogseverity"], sev.to_string().as_str());
    let (id, p) = parse_sd(v["structured-data"].as_str().unwrap());
    assert_eq!(id, "iomt@32473");
    assert_eq!(p["id"], a.id);
    assert_eq!(p["kind"], a.kind);
    assert_eq!(p["severity"], a.severity.to_string());
    assert_eq!(p["device_ip"], "10.1.2.3");
    assert_eq!(p["peer_ip"], "10.9.8.7");
    assert_eq!(p["protocol"], "dicom");
    assert_eq!(p["expected"], a.evidence.expected);
    assert_eq!(p["seen"], a.evidence.seen);
    assert_eq!(p["count"], a.count.to_string());
    assert_eq!(v["msg"].as_str().unwrap().trim_start(), a.summary);
}

fn sd_id(v: &Value) -> String {
    parse_sd(v["structured-data"].as_str().unwrap()).1["id"].clone()
}

fn run_alerts(
    cfg: &OutputConfig,
    alerts: &[Alert],
) -> std::sync::Arc<iomt_sensor::output::OutputStats> {
    let (mut out, stats) = Outputs::start(cfg).unwrap();
    let mut batch: Vec<Record> = alerts.iter().cloned().map(record).collect();
    out.records(&mut batch);
    out.finish().unwrap();
    stats
}

#[test]
fn rfc5424_over_udp_and_tcp() {
    let t = TempDir::new("syslog-5424");
    let (udp, tcp) = (free_udp_port(), free_tcp_port());
    let rs = Rsyslog::start(&t.0, Some(udp), Some(tcp), None);
    let alerts: Vec<Alert> = (0..20).map(alert).collect();
    let urls = [format!("udp://{IP}:{udp}"), format!("tcp://{IP}:{tcp}")];
    let stats = run_alerts(&config(&t.0, &urls, Format::Rfc5424), &alerts);
    assert_eq!(stats.sent.load(Relaxed), 40);
    let got = rs.received(40);
    assert_eq!(got.len(), 40, "{got:?}");
    let by_id: BTreeMap<String, &Alert> = alerts.iter().map(|a| (a.id.clone(), a)).collect();
    let mut seen = BTreeMap::<String, u32>::new();
    for v in &got {
        let id = sd_id(v);
        check_rfc5424(v, by_id[&id]);
        *seen.entry(id).or_default() += 1;
    }
    assert!(
        seen.values().all(|&n| n == 2),
        "each alert once per transport: {seen:?}"
    );
    // The EVE file got the same alerts.
    let eve = json_lines(&std::fs::read_to_string(t.path("eve.json")).unwrap());
    assert_eq!(eve.len(), 20);
    assert_eq!(eve[3]["alert"]["id"], alerts[3].id.as_str());
    // Everything confirmed: the spool is empty.
    assert_eq!(stats.left_spooled.load(Relaxed), 0);
    // Every alert has an event-to-alert latency sample (its first delivery), and `--stats` says so.
    let (samples, p50, _, max) = stats.alert_clock.summary().expect("latency samples");
    assert_eq!(samples, 20);
    assert!(p50 >= 1 && p50 <= max, "p50 {p50} max {max}");
    assert!(stats
        .lines()
        .iter()
        .any(|l| l.starts_with("latency event -> alert written to syslog (us)")));
}

/// CEF: `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`, header `\|` `\\`, extension
/// `\=` `\\` `\n`.
fn parse_cef(s: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let s = s.trim_start();
    let s = s.strip_prefix("CEF:").expect("CEF:");
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars();
    while header.len() < 7 {
        match it.next().expect("short CEF header") {
            '\\' => cur.push(it.next().unwrap()),
            '|' => header.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    let ext: String = it.collect();
    // Keys are `word=` preceded by a space (or the start); `=` in values is escaped.
    let mut m = BTreeMap::new();
    let mut key = String::new();
    let mut val = String::new();
    let mut chars = ext.chars().peekable();
    let mut in_key = true;
    while let Some(c) = chars.next() {
        if in_key {
            if c == '=' {
                in_key = false;
            } else {
                key.push(c);
            }
            continue;
        }
        match c {
            '\\' => match chars.next().unwrap() {
                'n' => val.push('\n'),
                'r' => val.push('\r'),
                n => val.push(n),
            },
            ' ' => {
                // A space ends the value only if a `key=` follows.
                let rest: String = chars.clone().collect();
                let next_key = rest.split(['=', ' ']).next().unwrap_or("");
                if rest.contains('=')
                    && !next_key.is_empty()
                    && rest[next_key.len()..].starts_with('=')
                    && next_key.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    m.insert(std::mem::take(&mut key), std::mem::take(&mut val));
                    in_key = true;
                } else {
                    val.push(' ');
                }
            }
            c => val.push(c),
        }
    }
    m.insert(key, val);
    (header, m)
}

#[test]
fn cef_and_leef_over_tcp_parse_back() {
    let t = TempDir::new("syslog-cef");
    let tcp = free_tcp_port();
    let rs = Rsyslog::start(&t.0, None, Some(tcp), None);
    let alerts: Vec<Alert> = (0..6).map(alert).collect();
    let url = [format!("tcp://{IP}:{tcp}")];
    run_alerts(&config(&t.0.join("cef"), &url, Format::Cef), &alerts);
    run_alerts(&config(&t.0.join("leef"), &url, Format::Leef), &alerts);
    let got = rs.received(12);
    assert_eq!(got.len(), 12);
    for (i, a) in alerts.iter().enumerate() {
        let cef = &got[i];
        assert_eq!(cef["msgid"], a.kind.as_str());
        let (h, ext) = parse_cef(cef["msg"].as_str().unwrap());
        assert_eq!(&h[..3], ["0", "iomt", "iomt-sensor"]);
        assert_eq!(h[4], a.kind);
        assert_eq!(h[5], a.summary);
        assert_eq!(h[6], a.severity.to_string());
        assert_eq!(ext["externalId"], a.id);
        assert_eq!(ext["dst"], "10.1.2.3");
        assert_eq!(ext["src"], "10.9.8.7");
        assert_eq!(ext["app"], "dicom");
        assert_eq!(ext["cnt"], a.count.to_string());
        assert_eq!(ext["cs1Label"], "expected");
        assert_eq!(ext["cs1"], a.evidence.expected);
        assert_eq!(ext["cs2"], a.evidence.seen);
        assert_eq!(ext["msg"], a.summary);
        assert_eq!(ext["rt"], (a.ts.0 / 1_000_000).to_string());

        let leef = got[i + 6]["msg"].as_str().unwrap().trim_start();
        let parts: Vec<&str> = leef.splitn(7, '|').collect();
        assert_eq!(
            &parts[..6],
            [
                "LEEF:2.0",
                "iomt",
                "iomt-sensor",
                env!("CARGO_PKG_VERSION"),
                a.kind.as_str(),
                "x09"
            ]
        );
        let attrs: BTreeMap<&str, &str> = parts[6]
            .split('\t')
            .map(|kv| kv.split_once('=').unwrap())
            .collect();
        assert_eq!(attrs["externalId"], a.id);
        assert_eq!(attrs["sev"], a.severity.to_string());
        assert_eq!(attrs["src"], "10.9.8.7");
        assert_eq!(attrs["dst"], "10.1.2.3");
        assert_eq!(attrs["cat"], a.kind);
        assert_eq!(attrs["seen"], a.evidence.seen);
        // The tab in the summary became a space (LEEF has no escape for its delimiter).
        assert_eq!(attrs["summary"], a.summary.replace('\t', " "));
        assert!(attrs["devTime"].ends_with(" UTC"), "{}", attrs["devTime"]);
    }
}

#[test]
fn json_over_tls_verifies_the_receiver() {
    let t = TempDir::new("syslog-tls");
    let certs = make_certs(&t.0, "good", IP);
    let tls = free_tcp_port();
    let rs = Rsyslog::start(&t.0, None, None, Some((tls, &certs)));
    let alerts: Vec<Alert> = (0..10).map(alert).collect();
    let mut cfg = config(&t.0, &[format!("tls://{IP}:{tls}")], Format::Json);
    cfg.tls.ca = Some(certs.ca.clone());
    let stats = run_alerts(&cfg, &alerts);
    assert_eq!(stats.connect_failures.load(Relaxed), 0);
    let got = rs.received(10);
    assert_eq!(got.len(), 10);
    for (v, a) in got.iter().zip(&alerts) {
        let eve: Value = serde_json::from_str(v["msg"].as_str().unwrap().trim_start()).unwrap();
        assert_eq!(eve["event_type"], "alert");
        assert_eq!(eve["alert"]["id"], a.id.as_str());
        assert_eq!(eve["alert"]["evidence"]["seen"], a.evidence.seen.as_str());
        assert_eq!(eve["src_ip"], "10.9.8.7");
    }

    // A CA that did not sign the receiver's certificate: nothing is sent, the failure is counted,
    // one warning line, and the alerts stay spooled.
    let other = make_certs(&t.0, "other", IP);
    let mut cfg = config(
        &t.0.join("bad"),
        &[format!("tls://{IP}:{tls}")],
        Format::Json,
    );
    cfg.tls.ca = Some(other.ca.clone());
    cfg.drain = Duration::from_secs(1);
    let stats = run_alerts(&cfg, &alerts);
    assert!(stats.connect_failures.load(Relaxed) >= 1);
    assert_eq!(stats.sent.load(Relaxed), 0);
    assert_eq!(stats.left_spooled.load(Relaxed), 10);
    assert_eq!(rs.received(10).len(), 10, "nothing more arrived");
}

#[test]
fn tls_with_a_client_certificate() {
    let t = TempDir::new("syslog-mtls");
    let certs = make_certs(&t.0, "m", IP);
    let port = free_tcp_port();
    // rsyslog asks for a client certificate and checks it against the CA.
    let rs = Rsyslog::start_auth(&t.0, None, None, Some((port, &certs)), "x509/certvalid");
    let alerts: Vec<Alert> = (0..4).map(alert).collect();
    let mut cfg = config(&t.0, &[format!("tls://{IP}:{port}")], Format::Rfc5424);
    cfg.tls = TlsFiles {
        ca: Some(certs.ca.clone()),
        cert: Some(t.path("m-cli.pem")),
        key: Some(t.path("m-cli.key")),
    };
    let stats = run_alerts(&cfg, &alerts);
    assert_eq!(stats.left_spooled.load(Relaxed), 0);
    let got = rs.received(4);
    assert_eq!(got.len(), 4);
    for (v, a) in got.iter().zip(&alerts) {
        check_rfc5424(v, a);
    }
    // Without the client certificate rsyslog refuses the session: nothing arrives, all stays spooled.
    let mut cfg = config(
        &t.0.join("nocert"),
        &[format!("tls://{IP}:{port}")],
        Format::Rfc5424,
    );
    cfg.tls.ca = Some(certs.ca.clone());
    cfg.drain = Duration::from_millis(1500);
    let stats = run_alerts(&cfg, &alerts);
    assert_eq!(stats.left_spooled.load(Relaxed), 4);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rs.received(0).len(), 4);
}

#[test]
fn receiver_killed_and_restarted_every_alert_arrives_once() {
    fault(false);
}

#[test]
fn tls_receiver_killed_and_restarted_every_alert_arrives_once() {
    fault(true);
}

/// Kills rsyslog (SIGKILL, by PID) 1.2 s into a 3 s stream of 300 alerts, restarts it at 2.4 s.
fn fault(tls: bool) {
    let t = TempDir::new(if tls {
        "syslog-fault-tls"
    } else {
        "syslog-fault"
    });
    let port = free_tcp_port();
    let certs = tls.then(|| make_certs(&t.0, "f", IP));
    let (mut rs, mut cfg) = match &certs {
        None => (
            Rsyslog::start(&t.0, None, Some(port), None),
            config(&t.0, &[format!("tcp://{IP}:{port}")], Format::Rfc5424),
        ),
        Some(c) => {
            let mut cfg = config(&t.0, &[format!("tls://{IP}:{port}")], Format::Rfc5424);
            cfg.tls.ca = Some(c.ca.clone());
            (Rsyslog::start(&t.0, None, None, Some((port, c))), cfg)
        }
    };
    cfg.drain = Duration::from_secs(20);
    let (mut out, stats) = Outputs::start(&cfg).unwrap();
    let n = 300u32;
    let started = Instant::now();
    let mut killed = false;
    let mut restarted = false;
    for i in 0..n {
        let mut batch = vec![record(alert(i))];
        out.records(&mut batch);
        std::thread::sleep(Duration::from_millis(10));
        let el = started.elapsed();
        if !killed && el > Duration::from_millis(1200) {
            rs.kill();
            killed = true;
        }
        if killed && !restarted && el > Duration::from_millis(2400) {
            rs.spawn();
            restarted = true;
        }
    }
    assert!(killed && restarted);
    let end = Instant::now();
    out.finish().unwrap();
    eprintln!(
        "fault test (tls {tls}): drained {:?} after the last alert",
        end.elapsed()
    );
    let got = rs.received(n as usize);
    let mut count = BTreeMap::<String, u32>::new();
    for v in &got {
        *count.entry(sd_id(v)).or_default() += 1;
    }
    let want: BTreeSet<String> = (0..n).map(|i| alert(i).id).collect();
    let have: BTreeSet<String> = count.keys().cloned().collect();
    let missing: Vec<_> = want.difference(&have).collect();
    assert!(
        missing.is_empty(),
        "{} alerts never arrived: {missing:?}",
        missing.len()
    );
    assert_eq!(
        have.len(),
        n as usize,
        "after dropping duplicates, each alert exactly once"
    );
    let dups: u32 = count.values().map(|c| c - 1).sum();
    eprintln!(
        "fault test (tls {tls}): {} messages received for {n} alerts ({dups} duplicates), requeued {}, connect failures {}, connects {}",
        got.len(),
        stats.requeued.load(Relaxed),
        stats.connect_failures.load(Relaxed),
        stats.connects.load(Relaxed)
    );
    assert!(stats.connects.load(Relaxed) >= 2, "the sender reconnected");
    assert!(
        stats.connect_failures.load(Relaxed) >= 1,
        "the receiver was down for a while"
    );
    assert_eq!(stats.left_spooled.load(Relaxed), 0);
}

/// One stderr line starting `iomt-sensor: error:` and exit status 2.
fn assert_one_error_line(o: &std::process::Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("iomt-sensor: error:"), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn config_file_cli_overrides_and_errors_name_the_key() {
    let t = TempDir::new("syslog-config");
    let pcap = capture("hl7/python-hl7.pcap");
    let pcap = pcap.to_str().unwrap();
    let cfg = t.path("sensor.toml");
    let file_eve = t.path("from-file.json");
    let cli_eve = t.path("from-cli.json");
    std::fs::write(
        &cfg,
        format!(
            "# iomt-sensor configuration\neve = \"{}\"\neve_types = \"hl7,flow\"\nthreads = 2\nstats = true\nstate = \"{}\"\n",
            file_eve.display(),
            t.path("state").display()
        ),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    // The file alone: its eve, types and stats apply.
    let o = sensor(&["replay", "--config", c, pcap]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("workers 2"), "{}", stderr(&o));
    let lines = json_lines(&std::fs::read_to_string(&file_eve).unwrap());
    assert!(lines.iter().any(|l| l["event_type"] == "hl7"));
    assert!(lines
        .iter()
        .all(|l| l["event_type"] == "hl7" || l["event_type"] == "flow"));
    // The command line wins.
    let o = sensor(&[
        "replay",
        "--config",
        c,
        "--eve",
        cli_eve.to_str().unwrap(),
        "--eve-types",
        "flow",
        "--threads",
        "1",
        pcap,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("workers 1"), "{}", stderr(&o));
    let lines = json_lines(&std::fs::read_to_string(&cli_eve).unwrap());
    assert!(!lines.is_empty() && lines.iter().all(|l| l["event_type"] == "flow"));

    let cases: [(&str, &str); 7] = [
        ("evee = \"x.json\"\n", "unknown key \"evee\""),
        ("threads = \"many\"\n", "key \"threads\""),
        ("threads = 0\n", "key \"threads\""),
        ("syslog = [\"smtp://x:25\"]\n", "key \"syslog\""),
        ("syslog_format = \"xml\"\n", "key \"syslog_format\""),
        ("stats = \"yes\"\n", "key \"stats\": expected true or false"),
        ("eve = \n", "line 1"),
    ];
    for (text, needle) in cases {
        std::fs::write(&cfg, text).unwrap();
        let o = sensor(&["replay", "--config", c, pcap]);
        assert_one_error_line(&o, needle);
    }
    let o = sensor(&[
        "replay",
        "--config",
        t.path("missing.toml").to_str().unwrap(),
        pcap,
    ]);
    assert_one_error_line(&o, "missing.toml");
}

#[test]
fn bad_syslog_configuration_is_one_line_and_exit_2() {
    let t = TempDir::new("syslog-badcfg");
    let pcap = capture("hl7/python-hl7.pcap");
    let pcap = pcap.to_str().unwrap();
    let state = t.path("state");
    let st = state.to_str().unwrap();
    // clap reports bad option values itself (exit 2); the message names the option.
    for (args, needle) in [
        (vec!["--syslog", "127.0.0.1:514"], "--syslog"),
        (vec!["--syslog", "tcp://127.0.0.1:0"], "bad port"),
        (vec!["--syslog-facility", "local9"], "--syslog-facility"),
        (
            vec!["--syslog-severity-map", "1,2"],
            "--syslog-severity-map",
        ),
    ] {
        let mut a = vec!["replay", "--state", st];
        a.extend(args);
        a.push(pcap);
        let o = sensor(&a);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    let tls = format!("tls://{IP}:6514");
    for (args, needle) in [
        (vec!["--syslog", tls.as_str()], "needs --syslog-ca"),
        (
            vec![
                "--syslog",
                tls.as_str(),
                "--syslog-ca",
                "/nonexistent/ca.pem",
            ],
            "--syslog-ca /nonexistent/ca.pem",
        ),
        (
            vec!["--syslog", tls.as_str(), "--syslog-ca", pcap],
            "no PEM certificate",
        ),
        (
            vec!["--syslog", "tcp://no-such-host.invalid:514"],
            "cannot resolve no-such-host.invalid",
        ),
    ] {
        let mut a = vec!["replay", "--state", st];
        a.extend(args);
        a.push(pcap);
        assert_one_error_line(&sensor(&a), needle);
    }
}

#[test]
fn unreachable_receiver_is_a_warning_and_alerts_stay_spooled() {
    let t = TempDir::new("syslog-down");
    let port = free_tcp_port(); // nothing listens there
    let alerts: Vec<Alert> = (0..5).map(alert).collect();
    let mut cfg = config(&t.0, &[format!("tcp://{IP}:{port}")], Format::Rfc5424);
    cfg.drain = Duration::from_millis(600);
    let stats = run_alerts(&cfg, &alerts);
    assert!(stats.connect_failures.load(Relaxed) >= 1);
    assert_eq!(stats.sent.load(Relaxed), 0);
    assert_eq!(stats.left_spooled.load(Relaxed), 5);
    // The receiver comes up; the next run (no new alerts) delivers the spooled ones.
    let rs = Rsyslog::start(&t.0, None, Some(port), None);
    let stats = run_alerts(&cfg, &[]);
    assert_eq!(stats.sent.load(Relaxed), 5);
    let got = rs.received(5);
    let ids: BTreeSet<String> = got.iter().map(sd_id).collect();
    assert_eq!(ids, alerts.iter().map(|a| a.id.clone()).collect());
}

#[test]
fn spool_cap_evicts_low_severity_first_and_counts() {
    let t = TempDir::new("syslog-cap");
    let port = free_tcp_port();
    // Receiver down: 30 alerts, cap 10: the 20 evicted are the lowest severities, oldest first.
    let alerts: Vec<Alert> = (0..30).map(alert).collect();
    let mut cfg = config(&t.0, &[format!("tcp://{IP}:{port}")], Format::Rfc5424);
    cfg.drain = Duration::from_millis(300);
    cfg.spool_cap = 10;
    let stats = run_alerts(&cfg, &alerts);
    assert_eq!(stats.evicted.load(Relaxed), 20);
    let rs = Rsyslog::start(&t.0, None, Some(port), None);
    run_alerts(&cfg, &[]);
    let got = rs.received(10);
    let mut sev: Vec<u64> = got
        .iter()
        .map(|v| {
            parse_sd(v["structured-data"].as_str().unwrap()).1["severity"]
                .parse()
                .unwrap()
        })
        .collect();
    sev.sort();
    // Severities are i % 10 + 1, three alerts each: the ten kept are 10,10,10,9,9,9,8,8,8 and one 7.
    assert_eq!(sev, vec![7, 8, 8, 8, 9, 9, 9, 10, 10, 10]);
}

/// Throughput to a real rsyslog over TCP (run with `--ignored --nocapture`): alerts spooled and
/// confirmed per second.
#[test]
#[ignore]
fn throughput_to_rsyslog_over_tcp() {
    let t = TempDir::new("syslog-tput");
    let port = free_tcp_port();
    let rs = Rsyslog::start(&t.0, None, Some(port), None);
    let n = 50_000u32;
    let alerts: Vec<Alert> = (0..n).map(alert).collect();
    let cfg = config(&t.0, &[format!("tcp://{IP}:{port}")], Format::Rfc5424);
    let started = Instant::now();
    let (mut out, stats) = Outputs::start(&cfg).unwrap();
    let mut batch: Vec<Record> = alerts.into_iter().map(record).collect();
    out.records(&mut batch);
    let handed = started.elapsed();
    out.finish().unwrap();
    let done = started.elapsed();
    let got = rs.received(n as usize);
    eprintln!(
        "throughput: {n} alerts handed to the output side in {handed:?}, spooled, sent and confirmed in {done:?} ({:.0} alerts/s); rsyslog wrote {}",
        f64::from(n) / done.as_secs_f64(),
        got.len()
    );
    assert_eq!(got.len(), n as usize);
    assert_eq!(stats.left_spooled.load(Relaxed), 0);
}
