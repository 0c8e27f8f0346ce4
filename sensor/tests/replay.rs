//! Replay of the committed captures: flow accounting checked against tshark, and the same output for
//! any number of workers and either read mode.

mod common;
use common::*;
use std::collections::BTreeMap;

/// tshark's recorded figures for every committed capture: `captures/facts/*.json`, written by the
/// corpus generator with the exact tshark commands (`-z conv,tcp`, `-z conv,udp`, frame count) and
/// re-checked against tshark by `captures/check_facts.py`. Returns (capture, tcp, udp, frames).
fn tshark_facts() -> Vec<(String, usize, usize, u64)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(captures().join("facts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let fact = |name: &str| {
            v["facts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .map(|f| f["expected"].as_u64().unwrap())
        };
        let (Some(tcp), Some(udp), Some(frames)) = (
            fact("tcp_conversations"),
            fact("udp_conversations"),
            fact("frames"),
        ) else {
            continue;
        };
        out.push((
            v["capture"].as_str().unwrap().to_string(),
            tcp as usize,
            udp as usize,
            frames,
        ));
    }
    assert!(
        out.len() >= 4,
        "expected tshark facts for the committed captures"
    );
    out
}

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
    for (file, tcp, udp, frames) in tshark_facts() {
        let file = file.as_str();
        let f = flows(file, &[]);
        let count = |proto: &str| f.iter().filter(|v| v["proto"] == proto).count();
        assert_eq!(count("TCP"), tcp, "{file} TCP flows");
        // tshark lists some UDP 5-tuples more than once (its SNMP dissector starts a conversation per
        // request), so UDP is compared per distinct 5-tuple in `per_flow_packet_counts_match_tshark`.
        assert!(count("UDP") <= udp, "{file} UDP flows");
        // Every IP frame belongs to exactly one flow; the rest are non-IP (ARP) frames.
        let pkts: u64 = f
            .iter()
            .map(|v| {
                v["flow"]["pkts_toserver"].as_u64().unwrap()
                    + v["flow"]["pkts_toclient"].as_u64().unwrap()
            })
            .sum();
        let state = TempDir::new("facts-state");
        let o = sensor(&[
            "replay",
            "--stats",
            "--state",
            state.0.to_str().unwrap(),
            capture(file).to_str().unwrap(),
        ]);
        let err = stderr(&o);
        let count = |key: &str| -> u64 {
            err.split(key)
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {err}"))
        };
        let not_in_flows = count("non_ip=")
            + count("link-layer identity frames ")
            + count("(not tcp/udp ")
            + count("malformed_ip=")
            + count("ip_fragment=");
        assert_eq!(pkts + not_in_flows, frames, "{file}: {err}");
        // Per-stage CPU: the reader, each worker and the merger, in seconds.
        let cpu = err
            .lines()
            .find_map(|l| l.strip_prefix("iomt-sensor stats: cpu seconds: "))
            .unwrap_or_else(|| panic!("no cpu line in {err}"));
        let secs: Vec<f64> = cpu
            .split(", ")
            .map(|part| {
                let v = part.trim_end_matches(" (models and outputs)");
                let v = v.rsplit(' ').next().unwrap();
                v.parse().unwrap_or_else(|_| panic!("{part} in {cpu}"))
            })
            .collect();
        assert!(
            cpu.starts_with("reader ") && cpu.contains("worker 0 ") && cpu.contains("merger "),
            "{cpu}"
        );
        assert!(
            secs.len() >= 3 && secs.iter().all(|s| (0.0..3600.0).contains(s)),
            "{cpu}"
        );
    }
}

/// Per conversation, the frames each way agree with tshark, computed now from its conv table.
#[test]
fn per_flow_packet_counts_match_tshark() {
    if !have("tshark") {
        panic!("tshark is required (scripts/install-deps.sh installs it)");
    }
    for (file, conv) in tshark_facts()
        .into_iter()
        .flat_map(|(f, ..)| [(f.clone(), "conv,tcp"), (f, "conv,udp")])
    {
        let file = file.as_str();
        let out = std::process::Command::new("tshark")
            .args([
                "-n",
                "-r",
                capture(file).to_str().unwrap(),
                "-q",
                "-z",
                conv,
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
            // The same 5-tuple listed twice (see above) is one flow: add its frames up.
            *theirs
                .entry(if a < b { (a, b) } else { (b, a) })
                .or_insert(0) += back + fwd;
        }
        let mut ours = BTreeMap::new();
        let proto = if conv == "conv,tcp" { "TCP" } else { "UDP" };
        for v in flows(file, &[]).into_iter().filter(|v| v["proto"] == proto) {
            let a = format!("{}:{}", v["src_ip"].as_str().unwrap(), v["src_port"]);
            let b = format!("{}:{}", v["dest_ip"].as_str().unwrap(), v["dest_port"]);
            let n = v["flow"]["pkts_toserver"].as_u64().unwrap()
                + v["flow"]["pkts_toclient"].as_u64().unwrap();
            ours.insert(if a < b { (a, b) } else { (b, a) }, n);
        }
        let differ: Vec<_> = ours
            .keys()
            .chain(theirs.keys())
            .filter(|k| ours.get(*k) != theirs.get(*k))
            .take(10)
            .map(|k| (k.clone(), ours.get(k).copied(), theirs.get(k).copied()))
            .collect();
        assert!(
            differ.is_empty(),
            "{file} {conv}: (flow, ours, tshark) differ: {differ:?}"
        );
    }
}

#[test]
fn same_output_for_any_worker_count_and_read_mode() {
    let t = TempDir::new("det");
    let files: Vec<String> = tshark_facts()
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
        let state = t.path(&format!("state-{threads}-{mode}"));
        let mut args = vec![
            "replay",
            "--state",
            state.to_str().unwrap(),
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
