//! Every committed capture, mutated deterministically, through decode + flows + reassembly + parsers:
//! bit flips, truncated frames, inflated and zeroed length fields, duplicated and reordered segments.
//! Nothing panics or hangs, anomalies are counted, and the clean capture replayed after the mutated one
//! (a day later, when every mutated flow has timed out) gives exactly the events it gives alone.

mod common;
use common::*;
use iomt_parsers::Ts;
use iomt_sensor::capture::{FileReader, Frame, LinkType, ReadMode};
use iomt_sensor::engine::{Engine, EngineConfig};
use iomt_sensor::record::{Body, Record};
use std::collections::BTreeMap;
use std::time::Duration;

/// xorshift64*: deterministic, seeded per capture and mutation.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

type Frames = Vec<(Ts, LinkType, Vec<u8>)>;

fn load(rel: &str) -> Frames {
    let mut r = FileReader::open(&capture(rel), ReadMode::Read).unwrap();
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().unwrap() {
        out.extend(c.iter().map(|f| (f.ts, f.link, f.data.to_vec())));
    }
    out
}

/// Where the transport payload starts (Ethernet/IPv4/TCP or UDP only; others untouched).
fn payload_at(f: &[u8]) -> Option<usize> {
    if f.get(12..14)? != [8, 0] {
        return None;
    }
    let ihl = usize::from(f.get(14)? & 0xf) * 4;
    let l4 = 14 + ihl;
    match f.get(23)? {
        6 => Some(l4 + usize::from(f.get(l4 + 12)? >> 4) * 4),
        17 => Some(l4 + 8),
        _ => None,
    }
    .filter(|&p| p < f.len())
}

fn mutate(frames: &Frames, kind: usize, seed: u64) -> Frames {
    let mut rng = Rng(seed | 1);
    let mut out = frames.clone();
    match kind {
        // Bit flips in one payload byte of every fifth frame.
        0 => {
            for f in out.iter_mut() {
                if rng.below(5) != 0 {
                    continue;
                }
                if let Some(p) = payload_at(&f.2) {
                    let i = p + rng.below(f.2.len() - p);
                    f.2[i] ^= 1 << rng.below(8);
                }
            }
        }
        // Frames truncated at a random point.
        1 => {
            for f in out.iter_mut() {
                if rng.below(7) != 0 {
                    continue;
                }
                let n = rng.below(f.2.len());
                f.2.truncate(n);
            }
        }
        // Length fields (the bytes where DICOM/20601/TLS/MLLP-ish headers keep them) inflated or zeroed.
        2 | 3 => {
            let fill = if kind == 2 { 0xff } else { 0x00 };
            for f in out.iter_mut() {
                if rng.below(4) != 0 {
                    continue;
                }
                if let Some(p) = payload_at(&f.2) {
                    let end = (p + 6).min(f.2.len());
                    for b in &mut f.2[(p + 2).min(end)..end] {
                        *b = fill;
                    }
                }
            }
        }
        // Segments duplicated and reordered.
        _ => {
            let mut shuffled = Vec::with_capacity(out.len() * 2);
            let mut i = 0;
            while i < out.len() {
                let run = (1 + rng.below(4)).min(out.len() - i);
                let mut group: Vec<_> = out[i..i + run].to_vec();
                if rng.below(3) == 0 {
                    group.reverse();
                }
                if rng.below(5) == 0 {
                    group.push(group[0].clone());
                }
                shuffled.extend(group);
                i += run;
            }
            out = shuffled;
        }
    }
    out
}

/// Runs frames through one engine; returns protocol-event counts by (type, sub-type) of records whose
/// timestamp is at or after `from`, and the anomaly count.
fn run(frames: &[(Ts, LinkType, Vec<u8>)], from: Ts) -> (BTreeMap<String, u64>, u64) {
    let mut engine = Engine::new(EngineConfig::default());
    let mut out: Vec<Record> = Vec::new();
    for (ts, link, data) in frames {
        engine.process(
            &Frame {
                ts: *ts,
                link: *link,
                data,
                orig_len: data.len() as u32,
            },
            &mut out,
        );
    }
    engine.finish(&mut out);
    let mut counts = BTreeMap::new();
    for r in out.iter().filter(|r| r.ts >= from) {
        if let Body::App(e) = &r.body {
            let v = serde_json::to_value(e).unwrap();
            let key = format!(
                "{}:{}",
                e.event_type(),
                v["type"].as_str().or(v["kind"].as_str()).unwrap_or("")
            );
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    (counts, engine.stats.anomalies)
}

#[test]
fn mutated_captures_never_break_the_sensor_and_clean_traffic_after_them_still_decodes() {
    let mut files: Vec<String> = ["dicom", "hl7", "sdc", "ieee20601", "noise"]
        .iter()
        .flat_map(|d| std::fs::read_dir(captures().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .map(|p| p.strip_prefix(captures()).unwrap().display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut total_anomalies = 0;
        for (n, file) in files.iter().enumerate() {
            let clean = load(file);
            let (alone, _) = run(&clean, Ts(0));
            for kind in 0..5 {
                let mutated = mutate(&clean, kind, 0x9e37_79b9 ^ (n as u64) << 8 ^ kind as u64);
                // The clean capture again, one day after the mutated one ended.
                let end = mutated.iter().map(|f| f.0).max().unwrap_or(Ts(0));
                let start = clean.iter().map(|f| f.0).min().unwrap_or(Ts(0));
                let shift = end.0.saturating_sub(start.0) + 86_400_000_000_000;
                let later: Frames = clean
                    .iter()
                    .map(|(t, l, d)| (Ts(t.0 + shift), *l, d.clone()))
                    .collect();
                let boundary = Ts(start.0 + shift);
                let mut both = mutated.clone();
                both.extend(later);
                let (after, anomalies) = run(&both, boundary);
                total_anomalies += anomalies;
                assert_eq!(after, alone, "{file}, mutation {kind}: clean traffic after the mutated part decodes differently");
            }
        }
        tx.send(total_anomalies).unwrap();
    });
    // A liveness bound, not a speed claim: a hang (a loop without progress) fails here.
    let anomalies = rx
        .recv_timeout(Duration::from_secs(600))
        .expect("mutation run did not finish: hang or panic");
    assert!(
        anomalies > 100,
        "mutations should raise protocol anomalies, got {anomalies}"
    );
}
