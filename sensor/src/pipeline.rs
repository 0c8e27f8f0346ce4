//! The multi-core pipeline: one reader, N workers each owning a shard of the flows, one merger.
//!
//! ```text
//!  reader (caller's thread) ──chunk──► worker 0..N ──records per chunk──► merger ──► sink (EVE, models)
//! ```
//!
//! * The reader takes [`Chunk`]s from the capture, picks each frame's worker by a symmetric hash of its
//!   endpoints (both directions of a flow land on one worker), and sends every worker the chunk
//!   (shared, not copied) with the indices of its frames. Every worker gets every chunk, even with no
//!   frames of its own, so its capture clock (and flow expiry) follows the reader's.
//! * Workers run an [`Engine`] each and answer every chunk with the records it produced.
//! * Records go to the sink ordered by (timestamp, flow id), stably (a flow's own records keep their
//!   order). With several workers each sorts its own answer and the merger merges the answers of a
//!   chunk; a single worker's answer is sorted by the merger. Since a flow's records depend only on
//!   its own frames and on whole-second expiry ticks, replay output is the same for any number of
//!   workers.
//! * Channels are bounded. In replay the reader waits for room (nothing is lost); in live mode a full
//!   worker channel drops that worker's frames of the chunk, counted, and never stalls capture.

use crate::capture::{Chunk, LinkType};
use crate::decode::decode;
use crate::engine::{Engine, EngineConfig, EngineStats};
use crate::flow::FlowKey;
use crate::record::Record;
use crate::stats::thread_cpu;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use hdrhistogram::Histogram;
use iomt_parsers::Ts;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Chunks in flight per worker.
pub const QUEUE: usize = 8;

struct Work {
    chunk: Arc<Chunk>,
    /// Indices into `chunk.frames` of this worker's frames.
    frames: Vec<u32>,
    /// The reader's capture clock after this chunk.
    clock: Ts,
    read_at: Instant,
}

struct Done {
    seq: u64,
    records: Vec<Record>,
    read_at: Instant,
}

/// Receives merged records in order.
pub trait Sink: Send {
    fn records(&mut self, records: &mut Vec<Record>);
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Pipeline-level counters for `--stats`.
#[derive(Debug, Clone, Default)]
pub struct PipelineStats {
    pub engine: EngineStats,
    pub chunks: u64,
    pub records: u64,
    /// Live mode: frames dropped because a worker's queue was full.
    pub dropped_queue_full: u64,
    /// Highest number of chunks waiting in any worker queue.
    pub queue_high_water: usize,
    /// Highest number of chunk answers waiting in the merger's queue.
    pub merger_queue_high_water: usize,
    /// Each worker's own counters (how evenly the shards share the load).
    pub per_worker: Vec<EngineStats>,
    /// Chunk read → its records handed to the sink, in microseconds.
    pub latency_us: Option<Histogram<u64>>,
    /// CPU time of each worker thread and of the merger thread (where the time goes, per stage).
    pub worker_cpu: Vec<Duration>,
    pub merger_cpu: Duration,
}

/// Counters the pipeline keeps up to date while it runs, for the live `stats` EVE record.
#[derive(Debug, Default)]
pub struct Gauges {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub chunks: AtomicU64,
    /// Live mode: frames dropped because a worker's queue was full.
    pub dropped_queue_full: AtomicU64,
    pub worker_queue_high_water: AtomicUsize,
    pub merger_queue_high_water: AtomicUsize,
    /// Records handed to the sink (models, outputs).
    pub records: AtomicU64,
    /// Chunk read → its records handed to the sink, in microseconds (refreshed every 16 chunks).
    pub latency_p50_us: AtomicU64,
    pub latency_p99_us: AtomicU64,
    pub latency_max_us: AtomicU64,
}

type WorkerHandle = (Sender<(u64, Work)>, JoinHandle<(EngineStats, Duration)>);
/// Records delivered, the latency histogram and the merger's CPU time.
type MergerResult = anyhow::Result<(u64, Histogram<u64>, Duration)>;

pub struct Pipeline {
    workers: Vec<WorkerHandle>,
    merger: JoinHandle<MergerResult>,
    seq: u64,
    clock: Ts,
    live: bool,
    shard_scratch: Vec<Vec<u32>>,
    gauges: Arc<Gauges>,
    pub dropped_queue_full: u64,
    pub queue_high_water: usize,
    pub chunks: u64,
}

impl Pipeline {
    /// Starts `threads` workers (at least one) and the merger feeding `sink`.
    pub fn start(
        threads: usize,
        cfg: &EngineConfig,
        sink: Box<dyn Sink>,
        live: bool,
    ) -> anyhow::Result<Pipeline> {
        let n = threads.max(1);
        let (done_tx, done_rx) = bounded::<(usize, Done)>(QUEUE * n);
        let mut workers = Vec::with_capacity(n);
        let gauges = Arc::new(Gauges::default());
        for w in 0..n {
            let (tx, rx) = bounded::<(u64, Work)>(QUEUE);
            let done_tx = done_tx.clone();
            let hw = gauges.clone();
            let mut wcfg = cfg.clone();
            // The flow and reassembly caps are for the whole sensor: each worker gets its share.
            wcfg.max_flows = (cfg.max_flows / n).max(1);
            wcfg.reassembly_cap = (cfg.reassembly_cap / n).max(1);
            let handle = std::thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || {
                    let stats = worker(
                        w,
                        rx,
                        done_tx,
                        &hw.merger_queue_high_water,
                        Engine::new(wcfg),
                        n > 1,
                    );
                    (stats, thread_cpu().unwrap_or_default())
                })
                .map_err(|e| anyhow::anyhow!("cannot start a worker thread: {e}"))?;
            workers.push((tx, handle));
        }
        drop(done_tx);
        let g = gauges.clone();
        let merger = std::thread::Builder::new()
            .name("merger".into())
            .spawn(move || {
                merger(n, done_rx, sink, live, &g)
                    .map(|(records, hist)| (records, hist, thread_cpu().unwrap_or_default()))
            })
            .map_err(|e| anyhow::anyhow!("cannot start the merger thread: {e}"))?;
        Ok(Pipeline {
            workers,
            merger,
            seq: 0,
            clock: Ts(0),
            live,
            shard_scratch: vec![Vec::new(); n],
            gauges,
            dropped_queue_full: 0,
            queue_high_water: 0,
            chunks: 0,
        })
    }

    /// The live counters (for the `stats` EVE record).
    pub fn gauges(&self) -> Arc<Gauges> {
        self.gauges.clone()
    }

    /// Sends one chunk to the workers.
    pub fn push(&mut self, chunk: Chunk) {
        let read_at = Instant::now();
        let g = &self.gauges;
        g.frames.fetch_add(chunk.frames.len() as u64, Relaxed);
        g.bytes.fetch_add(
            chunk.frames.iter().map(|m| u64::from(m.len)).sum::<u64>(),
            Relaxed,
        );
        g.chunks.fetch_add(1, Relaxed);
        let n = self.workers.len();
        for s in &mut self.shard_scratch {
            s.clear();
        }
        for (i, meta) in chunk.frames.iter().enumerate() {
            let w = if n == 1 {
                0
            } else {
                shard(&chunk, meta.link, i, n)
            };
            if let Some(s) = self.shard_scratch.get_mut(w) {
                s.push(i as u32);
            }
            if meta.ts > self.clock {
                self.clock = meta.ts;
            }
        }
        let chunk = Arc::new(chunk);
        let seq = self.seq;
        self.seq += 1;
        self.chunks += 1;
        for ((tx, _), frames) in self.workers.iter().zip(self.shard_scratch.iter_mut()) {
            self.queue_high_water = self.queue_high_water.max(tx.len());
            self.gauges
                .worker_queue_high_water
                .fetch_max(tx.len(), Relaxed);
            let work = Work {
                chunk: chunk.clone(),
                frames: std::mem::take(frames),
                clock: self.clock,
                read_at,
            };
            if self.live {
                match tx.try_send((seq, work)) {
                    Ok(()) => {}
                    Err(TrySendError::Full((_, work))) => {
                        self.dropped_queue_full += work.frames.len() as u64;
                        self.gauges
                            .dropped_queue_full
                            .fetch_add(work.frames.len() as u64, Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => {}
                }
            } else {
                let _ = tx.send((seq, work));
            }
        }
    }

    /// Ends input: workers end their flows, the merger drains. Returns the summed stats.
    pub fn finish(self) -> anyhow::Result<PipelineStats> {
        let mut stats = PipelineStats {
            chunks: self.chunks,
            dropped_queue_full: self.dropped_queue_full,
            queue_high_water: self.queue_high_water,
            ..PipelineStats::default()
        };
        let mut handles = Vec::new();
        for (tx, h) in self.workers {
            drop(tx);
            handles.push(h);
        }
        for h in handles {
            let (s, cpu) = h
                .join()
                .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
            stats.engine.merge(&s);
            stats.per_worker.push(s);
            stats.worker_cpu.push(cpu);
        }
        stats.merger_queue_high_water = self.gauges.merger_queue_high_water.load(Relaxed);
        let (records, hist, cpu) = self
            .merger
            .join()
            .map_err(|_| anyhow::anyhow!("the merger thread panicked"))??;
        stats.records = records;
        stats.latency_us = Some(hist);
        stats.merger_cpu = cpu;
        Ok(stats)
    }
}

/// The merge order of records: capture time, then flow id (a flow's records share one worker, so
/// equal keys never come from two workers).
fn order(r: &Record) -> (Ts, u64) {
    (r.ts, r.flow.map(|f| f.id).unwrap_or(0))
}

/// Sorts records by [`order`], stably. They are mostly in order already (flow ends at expiry are not),
/// so a sorted vector costs one check. Otherwise the small keys are sorted (with the position as the
/// last key: stable) and each record is moved twice, instead of moving the large records around in
/// the sort.
fn sort_records(records: &mut Vec<Record>) {
    if records.is_sorted_by_key(order) {
        return;
    }
    let mut keys: Vec<(Ts, u64, usize)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (ts, id) = order(r);
            (ts, id, i)
        })
        .collect();
    keys.sort();
    let mut slots: Vec<Option<Record>> = records.drain(..).map(Some).collect();
    records.extend(
        keys.iter()
            .filter_map(|&(_, _, i)| slots.get_mut(i).and_then(Option::take)),
    );
}

/// Merges runs each sorted by [`order`] into `out` (stable within each run).
fn merge_runs(runs: Vec<Vec<Record>>, out: &mut Vec<Record>) {
    out.reserve(runs.iter().map(Vec::len).sum());
    let mut heads: Vec<std::iter::Peekable<std::vec::IntoIter<Record>>> =
        runs.into_iter().map(|r| r.into_iter().peekable()).collect();
    loop {
        let mut best: Option<(usize, (Ts, u64))> = None;
        for (i, h) in heads.iter_mut().enumerate() {
            if let Some(k) = h.peek().map(order) {
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        match best.and_then(|(i, _)| heads.get_mut(i)?.next()) {
            Some(r) => out.push(r),
            None => break,
        }
    }
}

/// The worker a frame belongs to: a symmetric hash of its flow key. Frames that do not decode go to
/// worker 0 (they are only counted).
fn shard(chunk: &Chunk, link: LinkType, i: usize, n: usize) -> usize {
    let Some(meta) = chunk.frames.get(i) else {
        return 0;
    };
    let frame = chunk.frame(meta);
    debug_assert_eq!(frame.link, link);
    if let Some(h) = crate::decode::shard_hash(&frame) {
        return (h % n as u64) as usize;
    }
    match decode(&frame) {
        Ok(p) if p.proto == 6 || p.proto == 17 => {
            (FlowKey::of(&p).stable_hash() % n as u64) as usize
        }
        _ => 0,
    }
}

fn worker(
    w: usize,
    rx: Receiver<(u64, Work)>,
    done: Sender<(usize, Done)>,
    high_water: &AtomicUsize,
    mut engine: Engine,
    sort: bool,
) -> EngineStats {
    let mut out = Vec::new();
    while let Ok((seq, work)) = rx.recv() {
        for &i in &work.frames {
            if let Some(meta) = work.chunk.frames.get(i as usize) {
                engine.process(&work.chunk.frame(meta), &mut out);
            }
        }
        engine.advance(work.clock, &mut out);
        drop(work.chunk);
        // The next chunk's records go to a vector sized like this one's: one allocation, no chain of
        // reallocations (and copies) as it fills.
        let next = Vec::with_capacity(out.len().saturating_add(out.len() / 4));
        let mut records = std::mem::replace(&mut out, next);
        // With several workers each sorts its own answer (in parallel) and the merger merges them;
        // a single worker leaves that to the merger, off the worker's critical path.
        if sort {
            sort_records(&mut records);
        }
        high_water.fetch_max(done.len(), Relaxed);
        if done
            .send((
                w,
                Done {
                    seq,
                    records,
                    read_at: work.read_at,
                },
            ))
            .is_err()
        {
            break;
        }
    }
    let mut records = Vec::new();
    engine.finish(&mut records);
    if sort {
        sort_records(&mut records);
    }
    let _ = done.send((
        w,
        Done {
            seq: u64::MAX,
            records,
            read_at: Instant::now(),
        },
    ));
    engine.stats
}

fn merger(
    n: usize,
    rx: Receiver<(usize, Done)>,
    mut sink: Box<dyn Sink>,
    live: bool,
    gauges: &Gauges,
) -> anyhow::Result<(u64, Histogram<u64>)> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| anyhow::anyhow!("histogram: {e}"))?;
    let mut total = 0u64;
    // Replay: answers (each sorted by its worker) per chunk sequence number, released when all n
    // are in.
    let mut pending: std::collections::BTreeMap<u64, (Vec<Vec<Record>>, Instant)> =
        Default::default();
    let mut batch: Vec<Record> = Vec::new();
    let mut emit =
        |records: &mut Vec<Record>, read_at: Instant, sink: &mut Box<dyn Sink>, total: &mut u64| {
            sort_records(records);
            *total += records.len() as u64;
            gauges.records.fetch_add(records.len() as u64, Relaxed);
            sink.records(records);
            records.clear();
            let _ = hist.record(read_at.elapsed().as_micros().max(1) as u64);
            if hist.len() % 16 == 1 {
                gauges
                    .latency_p50_us
                    .store(hist.value_at_quantile(0.5), Relaxed);
                gauges
                    .latency_p99_us
                    .store(hist.value_at_quantile(0.99), Relaxed);
                gauges.latency_max_us.store(hist.max(), Relaxed);
            }
        };
    // One chunk's answers into `batch`, in order.
    let gather = |mut runs: Vec<Vec<Record>>, batch: &mut Vec<Record>| {
        runs.retain(|r| !r.is_empty());
        if runs.len() <= 1 {
            if let Some(mut only) = runs.pop() {
                std::mem::swap(batch, &mut only);
            }
        } else {
            merge_runs(runs, batch);
        }
    };
    while let Ok((_, done)) = rx.recv() {
        if live {
            let mut records = done.records;
            emit(&mut records, done.read_at, &mut sink, &mut total);
            continue;
        }
        let entry = pending
            .entry(done.seq)
            .or_insert_with(|| (Vec::with_capacity(n), done.read_at));
        entry.0.push(done.records);
        // Release every complete chunk at the front, in order.
        while let Some(first) = pending.first_entry() {
            if first.get().0.len() < n {
                break;
            }
            let (runs, read_at) = first.remove();
            gather(runs, &mut batch);
            emit(&mut batch, read_at, &mut sink, &mut total);
        }
    }
    // Whatever is left (the final flush, or incomplete chunks in live mode).
    for (_, (runs, read_at)) in std::mem::take(&mut pending) {
        gather(runs, &mut batch);
        emit(&mut batch, read_at, &mut sink, &mut total);
    }
    sink.finish()?;
    Ok((total, hist))
}
