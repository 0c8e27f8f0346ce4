//! The output side: EVE JSON lines, syslog destinations with a durable spool, the PHI guard.
//!
//! ```text
//!  merger ──records──► Outputs (Sink) ──EVE lines──► EveWriter (file, rotation)
//!                           │
//!                           └─alerts, bounded channel─► spooler thread ──► <state>/iomt.db (spool)
//!                                                                              │ (cursor per destination)
//!                                                          one thread per --syslog URL ◄┘ ──► receiver
//! ```
//!
//! The merger never waits for a receiver: alerts cross a bounded channel to the spooler (in live mode
//! a full channel is a counted drop; in replay the merger waits, so nothing is lost), the spooler
//! commits them to SQLite, and each destination thread sends from the spool at its own pace.

pub mod eve;
pub mod format;
pub mod spool;
pub mod syslog;

use crate::eve::TypeFilter;
use crate::pipeline::Sink;
use crate::record::{Body, Record};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use eve::EveWriter;
use format::{Format, Header, SeverityMap};
use iomt_models::Alert;
use spool::Spool;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use syslog::{Control, Dest, Target, TlsFiles, Transport};

/// Alerts waiting between the merger and the spooler.
const ALERT_QUEUE: usize = 4096;

/// Everything the output side is configured with.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub eve: Option<PathBuf>,
    pub eve_types: TypeFilter,
    pub eve_rotate_size: Option<u64>,
    pub syslog: Vec<Target>,
    pub format: Format,
    pub facility: u8,
    pub severity: SeverityMap,
    pub tls: TlsFiles,
    pub state: PathBuf,
    /// Most alerts the spool holds.
    pub spool_cap: u64,
    /// Values that must never leave the sensor (`--phi-guard FILE`).
    pub phi: Option<PathBuf>,
    pub live: bool,
    /// How long the end of a run waits for destinations to confirm what is spooled.
    pub drain: Duration,
    /// Live mode: a `stats` EVE record this often (when `--eve-types` selects `stats`).
    pub stats_interval: Option<Duration>,
}

/// Counters of the output side (`--stats`).
#[derive(Debug, Default)]
pub struct OutputStats {
    pub eve_lines: AtomicU64,
    pub eve_rotations: AtomicU64,
    pub alerts: AtomicU64,
    pub alerts_dropped_queue_full: AtomicU64,
    pub spooled: AtomicU64,
    pub evicted: AtomicU64,
    pub sent: AtomicU64,
    pub requeued: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub send_failures: AtomicU64,
    pub phi_blocked: AtomicU64,
    pub left_spooled: AtomicU64,
    pub confirmed_seq: AtomicI64,
    pub spool_errors: AtomicU64,
    pub alert_clock: AlertClock,
    /// The pipeline's live counters, once it runs (live mode: the `stats` EVE record shows them).
    pub pipeline: std::sync::OnceLock<Arc<crate::pipeline::Gauges>>,
}

/// Event-to-alert latency: from the moment the merger hands an alert (just raised by the models on the
/// event that triggered it) to the output side, to the moment a syslog destination has written it to
/// its receiver (first destination; spooling to SQLite included).
#[derive(Debug)]
pub struct AlertClock {
    born: Mutex<std::collections::HashMap<String, Instant>>,
    hist: Mutex<Option<hdrhistogram::Histogram<u64>>>,
}

/// Alerts whose birth is remembered at once; more (a flood of alerts stuck behind a receiver that is
/// down) are delivered without a latency sample.
const ALERT_CLOCK_CAP: usize = 16_384;

impl Default for AlertClock {
    fn default() -> AlertClock {
        AlertClock {
            born: Mutex::default(),
            hist: Mutex::new(hdrhistogram::Histogram::new_with_bounds(1, 86_400_000_000, 3).ok()),
        }
    }
}

impl AlertClock {
    pub fn born(&self, id: &str) {
        if let Ok(mut m) = self.born.lock() {
            if m.len() < ALERT_CLOCK_CAP {
                m.entry(id.to_owned()).or_insert_with(Instant::now);
            }
        }
    }

    /// A destination wrote the alert to its receiver.
    pub fn delivered(&self, id: &str) {
        let Some(at) = self.born.lock().ok().and_then(|mut m| m.remove(id)) else {
            return;
        };
        if let Ok(mut h) = self.hist.lock() {
            if let Some(h) = h.as_mut() {
                let us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
                let _ = h.record(us.max(1));
            }
        }
    }

    /// (samples, p50, p99, max) in microseconds.
    pub fn summary(&self) -> Option<(u64, u64, u64, u64)> {
        let h = self.hist.lock().ok()?;
        let h = h.as_ref()?;
        (!h.is_empty()).then(|| {
            (
                h.len(),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.max(),
            )
        })
    }
}

impl OutputStats {
    pub fn lines(&self) -> Vec<String> {
        let g = |a: &AtomicU64| a.load(Relaxed);
        let mut lines = vec![
            format!(
                "outputs: eve lines {}, eve rotations {}, alerts {}, alerts dropped (queue full) {}, phi guard withheld {}",
                g(&self.eve_lines),
                g(&self.eve_rotations),
                g(&self.alerts),
                g(&self.alerts_dropped_queue_full),
                g(&self.phi_blocked)
            ),
            format!(
                "spool: spooled {}, evicted by the cap {}, not confirmed at exit {}, errors {}",
                g(&self.spooled),
                g(&self.evicted),
                g(&self.left_spooled),
                g(&self.spool_errors)
            ),
            format!(
                "syslog: sent {}, requeued after a failed connection {}, connects {}, connect failures {}, send failures {}",
                g(&self.sent),
                g(&self.requeued),
                g(&self.connects),
                g(&self.connect_failures),
                g(&self.send_failures)
            ),
        ];
        if let Some((n, p50, p99, max)) = self.alert_clock.summary() {
            lines.push(format!(
                "latency event -> alert written to syslog (us): p50 {p50} p99 {p99} max {max} ({n} alerts)"
            ));
        }
        lines
    }

    pub fn print(&self) {
        let mut s = String::new();
        for l in self.lines() {
            s.push_str("iomt-sensor stats: ");
            s.push_str(&l);
            s.push('\n');
        }
        eprint!("{s}");
    }
}

/// The PHI guard: values (patient names, IDs, birth dates) that no outgoing line may contain.
#[derive(Debug, Default)]
pub struct PhiGuard {
    values: Vec<String>,
}

impl PhiGuard {
    /// One value per line, or a TSV whose last column is the value (a `kind\tvalue` header is
    /// skipped). Values shorter than 4 characters are ignored (they would match everywhere).
    pub fn load(p: &Path) -> Result<PhiGuard, String> {
        let s =
            std::fs::read_to_string(p).map_err(|e| format!("--phi-guard {}: {e}", p.display()))?;
        let mut values = Vec::new();
        for (i, l) in s.lines().enumerate() {
            let v = l.rsplit('\t').next().unwrap_or("").trim();
            if (i == 0 && l.starts_with("kind\t")) || v.chars().count() < 4 {
                continue;
            }
            values.push(v.to_string());
        }
        Ok(PhiGuard { values })
    }

    pub fn from_values(values: Vec<String>) -> PhiGuard {
        PhiGuard { values }
    }

    pub fn hit(&self, line: &str) -> bool {
        self.values.iter().any(|v| line.contains(v.as_str()))
    }
}

/// The output side as the pipeline's sink.
pub struct Outputs {
    eve: Option<EveWriter>,
    filter: TypeFilter,
    tx: Option<Sender<(Alert, String)>>,
    live: bool,
    spooler: Option<JoinHandle<()>>,
    phi: Option<Arc<PhiGuard>>,
    stats: Arc<OutputStats>,
    line: Vec<u8>,
    failed: Option<anyhow::Error>,
    stats_interval: Option<Duration>,
    started: Instant,
    last_stats: Instant,
    /// Records seen per event type (index into `TypeFilter::KNOWN`).
    by_type: [u64; TypeFilter::KNOWN.len()],
}

/// A configuration error found at startup (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Outputs {
    /// Checks the configuration (TLS files, names that must resolve, the EVE file, the spool) and starts
    /// the output threads.
    pub fn start(cfg: &OutputConfig) -> anyhow::Result<(Outputs, Arc<OutputStats>)> {
        let stats = Arc::new(OutputStats::default());
        let phi = match &cfg.phi {
            Some(p) => Some(Arc::new(PhiGuard::load(p).map_err(ConfigError)?)),
            None => None,
        };
        let hup = Arc::new(AtomicBool::new(false));
        let eve = match &cfg.eve {
            Some(p) => {
                let w = EveWriter::open(p, cfg.eve_rotate_size, hup.clone())
                    .map_err(|e| ConfigError(format!("--eve {}: {e}", p.display())))?;
                if p != Path::new("-") {
                    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup)?;
                }
                Some(w)
            }
            None => None,
        };
        let mut dests = Vec::new();
        if !cfg.syslog.is_empty() {
            let tls = if cfg.syslog.iter().any(|t| t.transport == Transport::Tls) {
                Some(syslog::tls_config(&cfg.tls).map_err(ConfigError)?)
            } else {
                None
            };
            let header = Header::local(cfg.facility, cfg.severity);
            std::fs::create_dir_all(&cfg.state)
                .map_err(|e| ConfigError(format!("--state {}: {e}", cfg.state.display())))?;
            let db = cfg.state.join("iomt.db");
            for t in &cfg.syslog {
                let addr = t.resolve().map_err(ConfigError)?;
                dests.push(Dest {
                    target: t.clone(),
                    addr,
                    tls: tls.clone(),
                    format: cfg.format,
                    header: header.clone(),
                    db: db.clone(),
                    phi: phi.clone(),
                });
            }
        }
        let (tx, spooler) = if dests.is_empty() {
            (None, None)
        } else {
            let db = cfg.state.join("iomt.db");
            let spool = Spool::open(&db).map_err(|e| ConfigError(format!("{e:#}")))?;
            // Each destination's cursor exists before the first alert is spooled (a destination seen
            // for the first time starts after what the spool already holds).
            for d in &dests {
                spool.cursor(&d.target.url)?;
            }
            let (tx, rx) = bounded::<(Alert, String)>(ALERT_QUEUE);
            let st = stats.clone();
            let cap = cfg.spool_cap;
            let drain = cfg.drain;
            let h = std::thread::Builder::new()
                .name("spooler".into())
                .spawn(move || spooler(spool, rx, dests, cap, drain, st))?;
            (Some(tx), Some(h))
        };
        Ok((
            Outputs {
                eve,
                filter: cfg.eve_types.clone(),
                tx,
                live: cfg.live,
                spooler,
                phi,
                stats: stats.clone(),
                line: Vec::with_capacity(1024),
                failed: None,
                stats_interval: cfg.stats_interval.filter(|_| cfg.live),
                started: Instant::now(),
                last_stats: Instant::now(),
                by_type: [0; TypeFilter::KNOWN.len()],
            },
            stats,
        ))
    }

    /// The `stats` EVE record: uptime, records per event type and the output side's counters.
    fn stats_record(&mut self) {
        let st = &self.stats;
        let g = |a: &AtomicU64| a.load(Relaxed);
        let records: serde_json::Map<String, serde_json::Value> = TypeFilter::KNOWN
            .iter()
            .zip(self.by_type)
            .filter(|(t, _)| **t != "stats")
            .map(|(t, n)| (t.to_string(), n.into()))
            .collect();
        let obj = serde_json::json!({
            "uptime": self.started.elapsed().as_secs(),
            "records": records,
            "alerts": g(&st.alerts),
            "alerts_dropped_queue_full": g(&st.alerts_dropped_queue_full),
            "eve_lines": g(&st.eve_lines),
            "eve_rotations": g(&st.eve_rotations),
            "phi_withheld": g(&st.phi_blocked),
            "spool": {
                "spooled": g(&st.spooled),
                "evicted": g(&st.evicted),
                "errors": g(&st.spool_errors),
            },
            "syslog": {
                "sent": g(&st.sent),
                "requeued": g(&st.requeued),
                "connects": g(&st.connects),
                "connect_failures": g(&st.connect_failures),
                "send_failures": g(&st.send_failures),
            },
            "rss_kb": crate::stats::proc_status_kb("VmRSS").unwrap_or(0),
        });
        let mut obj = obj;
        if let (Some(p), Some(o)) = (st.pipeline.get(), obj.as_object_mut()) {
            let u = |a: &AtomicU64| a.load(Relaxed);
            o.insert(
                "pipeline".into(),
                serde_json::json!({
                    "frames": u(&p.frames),
                    "bytes": u(&p.bytes),
                    "chunks": u(&p.chunks),
                    "dropped_queue_full": u(&p.dropped_queue_full),
                    "worker_queue_high_water": p.worker_queue_high_water.load(Relaxed),
                    "merger_queue_high_water": p.merger_queue_high_water.load(Relaxed),
                    "records": u(&p.records),
                    "latency_us": {
                        "p50": u(&p.latency_p50_us),
                        "p99": u(&p.latency_p99_us),
                        "max": u(&p.latency_max_us),
                    },
                }),
            );
        }
        if let (Some((n, p50, p99, max)), Some(o)) = (st.alert_clock.summary(), obj.as_object_mut())
        {
            o.insert(
                "alert_latency_us".into(),
                serde_json::json!({"samples": n, "p50": p50, "p99": p99, "max": max}),
            );
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        self.line.clear();
        self.line.extend_from_slice(
            format!(
                "{{\"timestamp\":\"{}\",\"event_type\":\"stats\",\"stats\":{obj}}}\n",
                crate::record::rfc3339(iomt_parsers::Ts(now))
            )
            .as_bytes(),
        );
        self.eve_line(true);
    }

    fn eve_line(&mut self, line_is_phi_free: bool) {
        let Some(w) = self.eve.as_mut() else { return };
        if !line_is_phi_free {
            self.stats.phi_blocked.fetch_add(1, Relaxed);
            return;
        }
        match w.write_line(&self.line) {
            Ok(()) => {
                self.stats.eve_lines.fetch_add(1, Relaxed);
            }
            Err(e) => {
                if self.failed.is_none() {
                    self.failed = Some(anyhow::anyhow!("EVE output: {e}"));
                }
                self.eve = None;
            }
        }
    }
}

impl Sink for Outputs {
    fn records(&mut self, records: &mut Vec<Record>) {
        for r in records.iter() {
            let is_alert = matches!(r.body, Body::Alert(_));
            if matches!(r.body, Body::FlowStart) {
                continue;
            }
            if let Some(i) = TypeFilter::KNOWN.iter().position(|t| *t == r.event_type()) {
                if let Some(n) = self.by_type.get_mut(i) {
                    *n = n.saturating_add(1);
                }
            }
            let to_eve = self.eve.is_some() && self.filter.allows(r.event_type());
            if !(to_eve || is_alert && self.tx.is_some()) {
                continue;
            }
            self.line.clear();
            r.write_eve(&mut self.line);
            let clean = match &self.phi {
                Some(g) => !g.hit(&String::from_utf8_lossy(&self.line)),
                None => true,
            };
            if to_eve {
                self.eve_line(clean);
            }
            if let (Body::Alert(a), Some(tx)) = (&r.body, &self.tx) {
                self.stats.alerts.fetch_add(1, Relaxed);
                self.stats.alert_clock.born(&a.id);
                let item = (
                    (**a).clone(),
                    String::from_utf8_lossy(&self.line).into_owned(),
                );
                if self.live {
                    if let Err(TrySendError::Full(_)) = tx.try_send(item) {
                        self.stats.alerts_dropped_queue_full.fetch_add(1, Relaxed);
                    }
                } else {
                    let _ = tx.send(item);
                }
            }
        }
        if let Some(w) = self.eve.as_mut() {
            // Live: lines reach the file (and whoever tails it) batch by batch, not per 64 KiB.
            if self.live {
                if let Err(e) = w.flush() {
                    if self.failed.is_none() {
                        self.failed = Some(anyhow::anyhow!("EVE output: {e}"));
                    }
                }
            }
            self.stats.eve_rotations.store(w.rotations, Relaxed);
        }
        if let Some(every) = self.stats_interval {
            if self.last_stats.elapsed() >= every && self.filter.allows("stats") {
                self.last_stats = Instant::now();
                self.stats_record();
            }
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        // Live mode: a last `stats` record with the final counters.
        if self.stats_interval.is_some() && self.filter.allows("stats") {
            self.stats_record();
        }
        if let Some(w) = self.eve.as_mut() {
            w.flush()?;
        }
        self.tx = None;
        if let Some(h) = self.spooler.take() {
            h.join()
                .map_err(|_| anyhow::anyhow!("the spooler thread panicked"))?;
        }
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The spooler: commits alerts to the spool, wakes the destinations, purges what all confirmed; at the
/// end of input lets the destinations drain (up to `drain`) and waits for them.
fn spooler(
    mut spool: Spool,
    rx: Receiver<(Alert, String)>,
    dests: Vec<Dest>,
    cap: u64,
    drain: Duration,
    st: Arc<OutputStats>,
) {
    let ctl = Arc::new(Control {
        stopping: AtomicBool::new(false),
        spooled: AtomicI64::new(spool.max_seq().unwrap_or(0)),
        drain_until: Mutex::new(None),
    });
    let urls: Vec<String> = dests.iter().map(|d| d.target.url.clone()).collect();
    let mut wakes = Vec::new();
    let mut handles = Vec::new();
    for d in dests {
        let (wtx, wrx) = bounded::<()>(1);
        wakes.push(wtx);
        let (ctl, st) = (ctl.clone(), st.clone());
        let name = format!("syslog-{}", handles.len());
        match std::thread::Builder::new()
            .name(name)
            .spawn(move || syslog::run_dest(d, ctl, wrx, st))
        {
            Ok(h) => handles.push(h),
            Err(e) => eprintln!("iomt-sensor: error: cannot start a syslog thread: {e}"),
        }
    }
    let wake = |wakes: &[Sender<()>]| {
        for w in wakes {
            let _ = w.try_send(());
        }
    };
    let mut batch = Vec::new();
    let mut last_purge = Instant::now();
    let mut open = true;
    while open {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(item) => {
                batch.push(item);
                while batch.len() < 1024 {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => open = false,
        }
        if !batch.is_empty() {
            match spool.push(&batch, cap) {
                Ok(evicted) => {
                    st.spooled.fetch_add(batch.len() as u64, Relaxed);
                    st.evicted.fetch_add(evicted, Relaxed);
                }
                Err(e) => {
                    st.spool_errors.fetch_add(1, Relaxed);
                    eprintln!("iomt-sensor: warning: {e:#}");
                }
            }
            batch.clear();
            ctl.spooled.store(spool.max_seq().unwrap_or(0), Relaxed);
            wake(&wakes);
        }
        if last_purge.elapsed() > Duration::from_secs(2) {
            let _ = spool.purge(&urls);
            last_purge = Instant::now();
        }
    }
    if let Ok(mut g) = ctl.drain_until.lock() {
        *g = Some(Instant::now() + drain);
    }
    ctl.stopping.store(true, Relaxed);
    wake(&wakes);
    for h in handles {
        let _ = h.join();
    }
    let _ = spool.purge(&urls);
}
