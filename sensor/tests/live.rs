//! Live capture for real: a network namespace with a veth pair, tcpreplay sending a committed capture
//! into one end, `iomt-sensor live` on the other, and the flows it saw compared with a replay of the
//! same file. Needs root, iproute2 and tcpreplay (scripts/install-deps.sh); set IOMT_SKIP_NETNS_TESTS=1
//! to skip it on a machine without them.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Netns(String);

impl Netns {
    fn create(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        let ns = Netns(name.to_string());
        for args in [
            vec!["netns", "add", name],
            vec![
                "-n", name, "link", "add", "va", "type", "veth", "peer", "name", "vb",
            ],
            vec!["-n", name, "link", "set", "va", "up"],
            vec!["-n", name, "link", "set", "vb", "up"],
        ] {
            let o = Command::new("ip").args(&args).output().unwrap();
            assert!(o.status.success(), "ip {args:?}: {}", stderr(&o));
        }
        // No IPv6 chatter (router solicitations, MLD) on the test link.
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                name,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
            ])
            .output();
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// (endpoint pair, packets) of every TCP/UDP flow record in EVE lines.
fn flow_table(eve: &str) -> BTreeMap<(String, String), (u64, u64, String)> {
    json_lines(eve)
        .into_iter()
        .filter(|v| v["event_type"] == "flow")
        .map(|v| {
            let a = format!("{}:{}", v["src_ip"].as_str().unwrap(), v["src_port"]);
            let b = format!("{}:{}", v["dest_ip"].as_str().unwrap(), v["dest_port"]);
            let f = &v["flow"];
            (
                (a, b),
                (
                    f["pkts_toserver"].as_u64().unwrap(),
                    f["pkts_toclient"].as_u64().unwrap(),
                    f["app_proto"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn live_capture_on_a_veth_sees_what_replay_sees() {
    if std::env::var_os("IOMT_SKIP_NETNS_TESTS").is_some() {
        eprintln!("skipped: IOMT_SKIP_NETNS_TESTS is set");
        return;
    }
    assert!(
        have("ip") && have("tcpreplay"),
        "iproute2 and tcpreplay are required (scripts/install-deps.sh)"
    );
    let pcap = capture("dicom/dcmtk-store.pcap");
    let t = TempDir::new("live");
    let ns = Netns::create(&format!("iomt-live-{}", std::process::id()));
    let eve = t.path("live.json");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(bin())
        .args([
            "live",
            "--state",
            t.path("state").to_str().unwrap(),
            "vb",
            "--threads",
            "2",
            "--stats",
            "--eve-types",
            "flow,dicom",
            "--eve",
        ])
        .arg(&eve)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until libpcap is open on the interface (it says so on stderr), at most 10 s.
    let mut err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        let mut buf = [0u8; 4096];
        use std::io::Read;
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(all.clone());
        }
    });
    let start = Instant::now();
    let mut seen = String::new();
    while !seen.contains("capturing on vb") {
        match rx.recv_timeout(Duration::from_secs(10).saturating_sub(start.elapsed())) {
            Ok(s) => seen = s,
            Err(_) => {
                let _ = child.kill();
                panic!("sensor did not start capturing: {seen}");
            }
        }
    }
    let replay = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "tcpreplay",
            "-q",
            "-i",
            "va",
            "--mbps",
            "200",
        ])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(replay.status.success(), "tcpreplay: {}", stderr(&replay));
    // Events reach the EVE file while the link is quiet, without waiting for more traffic or the end:
    // every DICOM event a replay of the file gives must be there within 10 s of the last packet.
    let o = sensor(&["decode", "--json", pcap.to_str().unwrap()]);
    let want = json_lines(&stdout(&o))
        .iter()
        .filter(|v| v["event_type"] == "dicom")
        .count();
    assert!(want > 0);
    let waited = Instant::now();
    let mut have = 0;
    while waited.elapsed() < Duration::from_secs(10) {
        let text = std::fs::read_to_string(&eve).unwrap_or_default();
        have = text
            .lines()
            .filter(|l| l.contains("\"event_type\":\"dicom\""))
            .count();
        if have >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        have, want,
        "DICOM events in the EVE file before the sensor was stopped"
    );
    // SIGTERM: the sensor stops, ends its flows, writes them and prints --stats.
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut stats = String::new();
    while let Ok(s) = rx.recv_timeout(Duration::from_secs(5)) {
        stats = s;
        if stats.contains("memory:") {
            break;
        }
    }
    assert!(status.success(), "sensor exit {status:?}: {stats}");
    assert!(stats.contains("libpcap: received"), "{stats}");
    let live = flow_table(&std::fs::read_to_string(&eve).unwrap());
    let o = sensor(&["decode", "--json", "--flows", pcap.to_str().unwrap()]);
    let replayed = flow_table(&stdout(&o));
    assert!(!replayed.is_empty());
    assert_eq!(
        live, replayed,
        "live flows differ from replayed flows; sensor said:\n{stats}"
    );
}
