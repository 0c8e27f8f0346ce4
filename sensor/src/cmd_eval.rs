//! `iomt-sensor eval`: learn on baseline captures, detect on test captures, score against labels.

use crate::capture::ReadMode;
use crate::cli::{Common, EngineArgs, ModelArgs};
use crate::eve::TypeFilter;
use crate::modelsink::ModelSink;
use crate::pipeline::Sink;
use crate::record::Record;
use crate::run::InputError;
use iomt_models::store::Store;
use iomt_models::{Mode, Models};
use std::path::{Path, PathBuf};

struct Discard;

impl Sink for Discard {
    fn records(&mut self, records: &mut Vec<Record>) {
        records.clear();
    }
}

fn pass(
    pcaps: &[PathBuf],
    state: &Path,
    models: &ModelArgs,
    engine: &EngineArgs,
    mode: Mode,
) -> anyhow::Result<()> {
    let mut margs = models.clone();
    margs.mode = mode;
    let common = Common {
        eve: None,
        eve_types: TypeFilter::parse("alert").map_err(anyhow::Error::msg)?,
        stats: false,
        state: state.to_path_buf(),
        models: margs,
        out: crate::cli::OutputArgs::default(),
        engine: EngineArgs {
            threads: engine.threads,
            max_flows: engine.max_flows,
            timeout_new: engine.timeout_new,
            timeout_established: engine.timeout_established,
            timeout_closed: engine.timeout_closed,
            timeout_udp: engine.timeout_udp,
            stream_cap: engine.stream_cap,
            reassembly_cap: engine.reassembly_cap,
            checksums: engine.checksums,
        },
    };
    let m = Models::open(common.models.config(), Some(state))?;
    let sink: Box<dyn Sink> = Box::new(ModelSink::new(m, Box::new(Discard)));
    crate::run::replay(pcaps, ReadMode::Read, &common, sink)
}

pub fn run(
    baseline: &[PathBuf],
    test: &[PathBuf],
    labels: &Path,
    json: bool,
    state: Option<PathBuf>,
    models: ModelArgs,
    engine: EngineArgs,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(labels)
        .map_err(|e| InputError(anyhow::anyhow!("--labels {}: {e}", labels.display())))?;
    let labels = iomt_models::eval::parse_labels(&text)
        .map_err(|e| InputError(anyhow::anyhow!("--labels: {e}")))?;
    let (dir, temporary) = match state {
        Some(d) => (d, false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let d = std::env::temp_dir().join(format!("iomt-eval-{}-{nanos}", std::process::id()));
            (d, true)
        }
    };
    let result = (|| -> anyhow::Result<iomt_models::eval::Report> {
        pass(baseline, &dir, &models, &engine, Mode::Learn)?;
        pass(test, &dir, &models, &engine, Mode::Detect)?;
        let mut store = Store::open(&dir)?;
        let meta = store.load_meta()?;
        let start = meta.run_start_ns.unwrap_or(0);
        let end = meta.run_end_ns.unwrap_or(start);
        let alerts = store.alerts_since(start)?;
        let span = end.saturating_sub(start) as f64 / 1e9;
        Ok(iomt_models::eval::score(&labels, &alerts, span))
    })();
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
