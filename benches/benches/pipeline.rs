//! Replay → decode → flows → reassembly → parsers over the committed captures, in bytes/s of capture:
//!
//! * `walk/read` and `walk/mmap`: the frame walk alone, with reused read buffers and with a memory map
//!   (the floor under everything else);
//! * `engine`: one engine over frames already in memory (decode, flow table, reassembly, parsers);
//! * `pipeline/threads=N`: the whole pipeline (reader, N workers, merger) with records discarded.
//!
//! `cargo bench -p iomt-benches --bench pipeline`
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iomt_sensor::capture::{FileReader, ReadMode};
use iomt_sensor::engine::{Engine, EngineConfig};
use iomt_sensor::pipeline::{Pipeline, Sink};
use iomt_sensor::record::Record;
use std::path::PathBuf;

fn inputs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../captures");
    let mut v: Vec<PathBuf> = ["dicom", "hl7", "sdc", "ieee20601", "noise"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

fn walk(files: &[PathBuf], mode: ReadMode) -> u64 {
    let mut frames = 0;
    for f in files {
        let mut r = FileReader::open(f, mode).unwrap();
        while let Some(c) = r.next_chunk().unwrap() {
            frames +=
                c.iter().map(|f| f.data.len() as u64 & 1).sum::<u64>() + c.frames.len() as u64;
        }
    }
    frames
}

struct Discard;
impl Sink for Discard {
    fn records(&mut self, records: &mut Vec<Record>) {
        records.clear();
    }
}

fn bench(c: &mut Criterion) {
    let files = inputs();
    assert!(!files.is_empty(), "no committed captures found");
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("walk/read", |b| b.iter(|| walk(&files, ReadMode::Read)));
    g.bench_function("walk/mmap", |b| b.iter(|| walk(&files, ReadMode::Mmap)));
    let chunks: Vec<_> = files
        .iter()
        .flat_map(|f| {
            let mut r = FileReader::open(f, ReadMode::Read).unwrap();
            std::iter::from_fn(move || r.next_chunk().unwrap())
        })
        .collect();
    g.bench_function("engine", |b| {
        b.iter(|| {
            let mut e = Engine::new(EngineConfig::default());
            let mut out = Vec::new();
            for c in &chunks {
                for f in c.iter() {
                    e.process(&f, &mut out);
                }
                out.clear();
            }
            e.finish(&mut out);
            e.stats.frames
        })
    });
    for threads in [1, 2] {
        g.bench_function(format!("pipeline/threads={threads}"), |b| {
            b.iter(|| {
                let mut p =
                    Pipeline::start(threads, &EngineConfig::default(), Box::new(Discard), false)
                        .unwrap();
                for f in &files {
                    let mut r = FileReader::open(f, ReadMode::Read).unwrap();
                    while let Some(c) = r.next_chunk().unwrap() {
                        p.push(c);
                    }
                }
                p.finish().unwrap().records
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
