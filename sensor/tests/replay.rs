//! Replay of the committed captures: flow accounting checked against tshark, and the same output for
//! any number of workers and either read mode.

mod common;
use common::*;
use std::collections::BTreeMap;

/// (file, TCP conversations, UDP conversations, frames) as tshark 4.0 (Debian 12) reports them:
/// `tshark -r F -q -z conv,tcp | grep -c '<->'`, the same with `conv,udp`, and `capinfos -c F`.
const TSHARK_FACTS: &[(&str, usize, usize, u64)] = &[
    ("dicom/dcmtk-store.pcap", 6, 0, 1124),
    ("dicom/dcmtk-find-move-get.pcap", 14, 0, 2051),
    ("dicom/pynetdicom.pcap", 6, 0, 584),
    ("dicom/malformed.pcap", 32, 0, 793),
];

fn flows(file: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let path = capture(file);
    let mut args = vec!["decode", "--json", "--flows"];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    let o = sensor(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    json_lines(&stdout(&o))
        .into_iter()
        .filter(|v| v["event_type"] == "flow")
        .collect()
}

#[test]
fn flow_counts_match_tshark_conversations() {
    for &(file, tcp, udp, frames) in TSHARK_FACTS {
        let f = flows(file, &[]);
        let count = |proto: &str| f.iter().filter(|v| v["proto"] == proto).count();
        assert_eq!(count("TCP"), tcp, "{file} TCP flows");
        assert_eq!(count("UDP"), udp, "{file} UDP flows");
        // Every IP frame belongs to exactly one flow; the rest are non-IP (ARP) frames.
        let pkts: u64 = f
            .iter()
            .map(|v| {
                v["flow"]["pkts_toserver"].as_u64().unwrap()
                    + v["flow"]["pkts_toclient"].as_u64().unwrap()
            })
            .sum();
        let o = sensor(&["replay", "--stats", capture(file).to_str().unwrap()]);
        let err = stderr(&o);
        let non_ip: u64 = err
            .split("non_ip=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert_eq!(pkts + non_ip, frames, "{file}: {err}");
    }
}

/// Per conversation, the frames each way agree with tshark, computed now from its conv table.
#[test]
fn per_flow_packet_counts_match_tshark() {
    if !have("tshark") {
        panic!("tshark is required (scripts/install-deps.sh installs it)");
    }
    for &(file, ..) in TSHARK_FACTS {
        let out = std::process::Command::new("tshark")
            .args([
                "-r",
                capture(file).to_str().unwrap(),
                "-q",
                "-z",
                "conv,tcp",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // "A:pa <-> B:pb  frames_BtoA bytes unit  frames_AtoB bytes unit ..."
        let mut theirs = BTreeMap::new();
        for line in text.lines().filter(|l| l.contains("<->")) {
            let w: Vec<&str> = line.split_whitespace().collect();
            let a = w[0].to_string();
            let b = w[2].to_string();
            let back: u64 = w[3].parse().unwrap();
            let fwd: u64 = w[6].parse().unwrap();
            theirs.insert(if a < b { (a, b) } else { (b, a) }, back + fwd);
        }
        let mut ours = BTreeMap::new();
        for v in flows(file, &[]) {
            let a = format!("{}:{}", v["src_ip"].as_str().unwrap(), v["src_port"]);
            let b = format!("{}:{}", v["dest_ip"].as_str().unwrap(), v["dest_port"]);
            let n = v["flow"]["pkts_toserver"].as_u64().unwrap()
                + v["flow"]["pkts_toclient"].as_u64().unwrap();
            ours.insert(if a < b { (a, b) } else { (b, a) }, n);
        }
        assert_eq!(ours, theirs, "{file}");
    }
}

#[test]
fn same_output_for_any_worker_count_and_read_mode() {
    let t = TempDir::new("det");
    let files: Vec<String> = TSHARK_FACTS
        .iter()
        .map(|(f, ..)| capture(f).display().to_string())
        .collect();
    let mut outputs = Vec::new();
    for (threads, mode) in [
        ("1", "read"),
        ("2", "read"),
        ("4", "mmap"),
        ("8", "read"),
        ("3", "mmap"),
    ] {
        let eve = t.path(&format!("eve-{threads}-{mode}.json"));
        let mut args = vec![
            "replay",
            "--eve",
            eve.to_str().unwrap(),
            "--eve-types",
            "all",
            "--threads",
            threads,
            "--read-mode",
            mode,
        ];
        args.extend(files.iter().map(String::as_str));
        let o = sensor(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        outputs.push(std::fs::read(&eve).unwrap());
    }
    assert!(!outputs[0].is_empty());
    for o in &outputs[1..] {
        assert!(
            o == &outputs[0],
            "EVE output differs between worker counts or read modes"
        );
    }
}
