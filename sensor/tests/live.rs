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

/// A running `iomt-sensor live` inside a namespace, with its stderr collected.
struct Live {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<String>,
}

impl Live {
    fn start(ns: &Netns, t: &TempDir, eve: &std::path::Path, types: &str) -> Live {
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
                "--stats-interval",
                "1",
            ])
            .args(["--eve-types", types, "--eve"])
            .arg(eve)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
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
        let mut live = Live { child, rx };
        // Wait until libpcap is open on the interface (it says so on stderr), at most 10 s.
        let start = Instant::now();
        let mut seen = String::new();
        while !seen.contains("capturing on vb") {
            match live
                .rx
                .recv_timeout(Duration::from_secs(10).saturating_sub(start.elapsed()))
            {
                Ok(s) => seen = s,
                Err(_) => {
                    let _ = live.child.kill();
                    panic!("sensor did not start capturing: {seen}");
                }
            }
        }
        live
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// SIGTERM, then the exit status and everything it said on stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        self.signal("-TERM");
        let status = self.child.wait().unwrap();
        let mut said = String::new();
        while let Ok(s) = self.rx.recv_timeout(Duration::from_secs(5)) {
            said = s;
            if said.contains("memory:") {
                break;
            }
        }
        (status, said)
    }
}

fn tcpreplay(ns: &Netns, pcap: &std::path::Path) {
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
        .arg(pcap)
        .output()
        .unwrap();
    assert!(replay.status.success(), "tcpreplay: {}", stderr(&replay));
}

/// Waits up to 10 s for `want` lines of `event_type` in `file`; returns how many there were.
fn wait_for(file: &std::path::Path, event_type: &str, want: usize) -> usize {
    let needle = format!("\"event_type\":\"{event_type}\"");
    let waited = Instant::now();
    loop {
        let have = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&needle))
            .count();
        if have >= want || waited.elapsed() > Duration::from_secs(10) {
            return have;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn skip() -> bool {
    if std::env::var_os("IOMT_SKIP_NETNS_TESTS").is_some() {
        eprintln!("skipped: IOMT_SKIP_NETNS_TESTS is set");
        return true;
    }
    assert!(
        have("ip") && have("tcpreplay"),
        "iproute2 and tcpreplay are required (scripts/install-deps.sh)"
    );
    false
}

fn dicom_events_of(pcap: &std::path::Path) -> usize {
    let o = sensor(&["decode", "--json", pcap.to_str().unwrap()]);
    json_lines(&stdout(&o))
        .iter()
        .filter(|v| v["event_type"] == "dicom")
        .count()
}

#[test]
fn live_capture_on_a_veth_sees_what_replay_sees() {
    if skip() {
        return;
    }
    let pcap = capture("dicom/dcmtk-store.pcap");
    let t = TempDir::new("live");
    let ns = Netns::create(&format!("iomt-live-{}", std::process::id()));
    let eve = t.path("live.json");
    let live = Live::start(&ns, &t, &eve, "flow,dicom,stats");
    tcpreplay(&ns, &pcap);
    // Events reach the EVE file while the link is quiet, without waiting for more traffic or the end:
    // every DICOM event a replay of the file gives must be there within 10 s of the last packet.
    let want = dicom_events_of(&pcap);
    assert!(want > 0);
    assert_eq!(
        wait_for(&eve, "dicom", want),
        want,
        "DICOM events in the EVE file before the sensor was stopped"
    );
    // SIGTERM: the sensor stops, ends its flows, writes them and prints --stats.
    let (status, stats) = live.stop();
    assert!(status.success(), "sensor exit {status:?}: {stats}");
    assert!(stats.contains("libpcap: received"), "{stats}");
    // The periodic `stats` records carry the pipeline's live counters; the last one has seen the
    // replayed frames go through.
    let lines = json_lines(&std::fs::read_to_string(&eve).unwrap());
    let last = lines
        .iter()
        .rev()
        .find(|v| v["event_type"] == "stats")
        .unwrap_or_else(|| panic!("no stats record; sensor said:\n{stats}"));
    let p = &last["stats"]["pipeline"];
    assert!(p["frames"].as_u64().unwrap() > 0, "{last}");
    assert!(p["records"].as_u64().unwrap() > 0, "{last}");
    assert_eq!(p["dropped_queue_full"], 0, "{last}");
    let live = flow_table(&std::fs::read_to_string(&eve).unwrap());
    let o = sensor(&["decode", "--json", "--flows", pcap.to_str().unwrap()]);
    let replayed = flow_table(&stdout(&o));
    assert!(!replayed.is_empty());
    assert_eq!(
        live, replayed,
        "live flows differ from replayed flows; sensor said:\n{stats}"
    );
}

/// logrotate's way: move the EVE file away, send SIGHUP; the sensor writes on into a new file.
#[test]
fn sighup_reopens_the_eve_file_in_live_mode() {
    if skip() {
        return;
    }
    let pcap = capture("hl7/hl7apy.pcap");
    let t = TempDir::new("live-hup");
    let ns = Netns::create(&format!("iomt-hup-{}", std::process::id()));
    let eve = t.path("eve.json");
    let rotated = t.path("eve.json.1");
    let live = Live::start(&ns, &t, &eve, "hl7");
    let o = sensor(&["decode", "--json", pcap.to_str().unwrap()]);
    let want = json_lines(&stdout(&o))
        .iter()
        .filter(|v| v["event_type"] == "hl7" && v["hl7"]["type"] != "summary")
        .count();
    assert!(want > 0);
    tcpreplay(&ns, &pcap);
    assert!(
        wait_for(&eve, "hl7", want) >= want,
        "first burst not written"
    );
    std::fs::rename(&eve, &rotated).unwrap();
    live.signal("-HUP");
    std::thread::sleep(Duration::from_millis(300));
    // The same conversations again (new connections): their events must land in the new file.
    tcpreplay(&ns, &pcap);
    let second = wait_for(&eve, "hl7", want);
    let (status, said) = live.stop();
    assert!(status.success(), "{said}");
    assert!(
        second >= want,
        "after SIGHUP the new file got {second} of {want} events; sensor said:\n{said}"
    );
    let first = std::fs::read_to_string(&rotated)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event_type\":\"hl7\""))
        .count();
    assert!(first >= want, "{first}");
}
