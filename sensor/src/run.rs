//! The commands: replay, live and decode, over the pipeline.

use crate::capture::live::{LiveOptions, LiveSource, PcapCounters};
use crate::capture::{CaptureError, FileReader, ReadMode};
use crate::cli::{Command, Common, OutputArgs};
use crate::eve::{EveSink, Style, TypeFilter};
use crate::output::syslog::TlsFiles;
use crate::output::{ConfigError, OutputConfig, OutputStats, Outputs};
use crate::pipeline::{Pipeline, PipelineStats, Sink};
use crate::stats::{print_stats, RunTotals};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An error that is the user's input (a bad file, a bad option): exit status 2.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct InputError(#[from] pub anyhow::Error);

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Replay {
            pcaps,
            common,
            read_mode,
        } => {
            // A bad input file is reported before the state directory is opened or created.
            for p in &pcaps {
                FileReader::open(p, read_mode).map_err(input_error)?;
            }
            let (sink, out) = outputs(&common, false)?;
            let sink = crate::modelsink::wrap(&common, sink)?;
            replay_with_outputs(&pcaps, read_mode, &common, sink, Some(out))
        }
        Command::Decode {
            pcaps,
            json,
            flows,
            engine,
            read_mode,
        } => {
            // Every protocol event type (and flows when asked); no alerts or stats: no models run.
            let types: Vec<&str> = TypeFilter::KNOWN
                .into_iter()
                .filter(|t| !matches!(*t, "alert" | "stats") && (flows || *t != "flow"))
                .collect();
            let filter = TypeFilter::parse(&types.join(",")).map_err(anyhow::Error::msg)?;
            let style = if json { Style::Json } else { Style::Text };
            let sink = eve_sink(Some(Path::new("-")), filter, style)?;
            let common = Common {
                eve: None,
                eve_types: TypeFilter::parse("all").map_err(anyhow::Error::msg)?,
                stats: false,
                state: PathBuf::from("iomt-state"),
                models: crate::cli::ModelArgs {
                    mode: iomt_models::Mode::Learn,
                    learn_for: 0,
                    internal_net: Vec::new(),
                },
                engine,
                out: OutputArgs::default(),
            };
            replay(&pcaps, read_mode, &common, sink)
        }
        Command::Live {
            iface,
            common,
            bpf,
            snaplen,
            promisc,
            buffer_size,
        } => {
            let (sink, out) = outputs(&common, true)?;
            let sink = crate::modelsink::wrap(&common, sink)?;
            let opts = LiveOptions {
                iface,
                bpf,
                snaplen,
                promisc,
                buffer_size,
            };
            live(&opts, &common, sink, &out)
        }
        Command::Inventory { json, state } => crate::cmd_inventory::run(&state, json),
        Command::Eval {
            baseline,
            test,
            labels,
            json,
            state,
            models,
            engine,
        } => crate::cmd_eval::run(&baseline, &test, &labels, json, state, models, engine),
    }
}

fn eve_sink(
    path: Option<&Path>,
    filter: TypeFilter,
    style: Style,
) -> anyhow::Result<Box<dyn Sink>> {
    let out: Box<dyn Write + Send> = match path {
        None => Box::new(std::io::sink()),
        Some(p) if p == Path::new("-") => Box::new(std::io::stdout()),
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| InputError(anyhow::anyhow!("--eve {}: {e}", p.display())))?,
        ),
    };
    Ok(Box::new(EveSink::new(out, filter, style)))
}

/// The output side (EVE, syslog, spool) from the options; configuration errors exit 2.
fn outputs(common: &Common, live: bool) -> anyhow::Result<(Box<dyn Sink>, Arc<OutputStats>)> {
    let o = &common.out;
    let cfg = OutputConfig {
        eve: common.eve.clone(),
        eve_types: common.eve_types.clone(),
        eve_rotate_size: o.eve_rotate_size,
        syslog: o.syslog.clone(),
        format: o.syslog_format,
        facility: o.syslog_facility,
        severity: o.syslog_severity_map,
        tls: TlsFiles {
            ca: o.syslog_ca.clone(),
            cert: o.syslog_cert.clone(),
            key: o.syslog_key.clone(),
        },
        state: common.state.clone(),
        spool_cap: o.spool_cap,
        phi: o.phi_guard.clone(),
        live,
        drain: Duration::from_secs(o.syslog_drain_timeout),
        stats_interval: Some(Duration::from_secs(o.stats_interval)),
    };
    match Outputs::start(&cfg) {
        Ok((sink, stats)) => Ok((Box::new(sink), stats)),
        Err(e) if e.downcast_ref::<ConfigError>().is_some() => Err(InputError(e).into()),
        Err(e) => Err(e),
    }
}

pub(crate) fn replay(
    pcaps: &[PathBuf],
    mode: ReadMode,
    common: &Common,
    sink: Box<dyn Sink>,
) -> anyhow::Result<()> {
    replay_with_outputs(pcaps, mode, common, sink, None)
}

/// `replay`, printing the output side's counters with `--stats`.
fn replay_with_outputs(
    pcaps: &[PathBuf],
    mode: ReadMode,
    common: &Common,
    sink: Box<dyn Sink>,
    out: Option<Arc<OutputStats>>,
) -> anyhow::Result<()> {
    // Open every file first: a missing or unrecognised file fails before any work is done.
    let mut readers = Vec::with_capacity(pcaps.len());
    for p in pcaps {
        readers.push(FileReader::open(p, mode).map_err(input_error)?);
    }
    let started = Instant::now();
    let mut pipeline = Pipeline::start(
        common.engine.threads(),
        &common.engine.config(),
        sink,
        false,
    )?;
    let mut totals = RunTotals {
        threads: common.engine.threads(),
        ..RunTotals::default()
    };
    let mut failure = None;
    for mut r in readers {
        totals.files += 1;
        totals.file_bytes += r.file_len();
        loop {
            match r.next_chunk() {
                Ok(Some(chunk)) => pipeline.push(chunk),
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_some() {
            break;
        }
        if let Some((offset, need, left)) = r.truncated() {
            eprintln!(
                "iomt-sensor: warning: {}: capture cut mid-record at offset {offset} ({left} of {need} bytes present); processed up to the cut",
                r.path().display()
            );
        }
    }
    let stats = pipeline.finish()?;
    if common.stats {
        print_stats(&stats, &totals, started.elapsed(), None);
        if let Some(o) = out {
            o.print();
        }
    }
    match failure {
        Some(e) => Err(input_error(e)),
        None => Ok(()),
    }
}

fn input_error(e: CaptureError) -> anyhow::Error {
    InputError(anyhow::Error::new(e)).into()
}

fn live(
    opts: &LiveOptions,
    common: &Common,
    sink: Box<dyn Sink>,
    out: &OutputStats,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut source = LiveSource::open(opts)?;
    // SIGINT/SIGTERM: a thread (not the handler) sets the flag and breaks libpcap out of its wait.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    let breaker = source.breakloop_handle();
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                breaker.breakloop();
            }
        })?;
    eprintln!("iomt-sensor: capturing on {}", opts.iface);
    let started = Instant::now();
    let threads = common.engine.threads();
    let mut pipeline = Pipeline::start(threads, &common.engine.config(), sink, true)?;
    let _ = out.pipeline.set(pipeline.gauges());
    let result = loop {
        match source.next_chunk(&stop) {
            Ok(Some(chunk)) => pipeline.push(chunk),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let counters: PcapCounters = source.counters();
    let stats: PipelineStats = pipeline.finish()?;
    if common.stats {
        let totals = RunTotals {
            threads,
            ..RunTotals::default()
        };
        print_stats(&stats, &totals, started.elapsed(), Some(counters));
        out.print();
    }
    result
}
