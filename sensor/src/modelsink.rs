//! The models on the merger thread: a [`Sink`] that turns each record into an observation, runs the
//! models, and puts their alerts right after the record that raised them before handing everything
//! to the next sink. One owner, no locks.

use crate::pipeline::Sink;
use crate::record::{Body, FlowRef, Record};
use iomt_models::{FlowInfo, FlowSummary, Models, Observation, Observed};
use iomt_parsers::Protocol;

pub struct ModelSink {
    models: Models,
    next: Box<dyn Sink>,
    out: Vec<Record>,
    alerts: Vec<iomt_models::Alert>,
}

fn info(f: &FlowRef) -> FlowInfo {
    FlowInfo {
        id: f.id,
        src: f.src,
        sport: f.sport,
        dst: f.dst,
        dport: f.dport,
        proto: f.proto,
        src_mac: f.src_mac,
        dst_mac: f.dst_mac,
    }
}

fn app_proto(name: &str) -> Option<Protocol> {
    Protocol::ALL.into_iter().find(|p| p.name() == name)
}

impl ModelSink {
    pub fn new(models: Models, next: Box<dyn Sink>) -> ModelSink {
        ModelSink {
            models,
            next,
            out: Vec::new(),
            alerts: Vec::new(),
        }
    }

    fn observe(&mut self, r: &Record) {
        let Some(f) = &r.flow else {
            return;
        };
        let flow = info(f);
        match &r.body {
            Body::FlowStart => self.models.observe(
                &Observation {
                    ts: r.ts,
                    flow,
                    what: Observed::FlowStart,
                },
                &mut self.alerts,
            ),
            Body::Flow(fr) => {
                let s = FlowSummary {
                    pkts_toserver: fr.pkts_toserver,
                    pkts_toclient: fr.pkts_toclient,
                    bytes_toserver: fr.bytes_toserver,
                    bytes_toclient: fr.bytes_toclient,
                    start: fr.start,
                    end: fr.end,
                    state: fr.state,
                    app_proto: app_proto(fr.app_proto),
                };
                self.models.observe(
                    &Observation {
                        ts: r.ts,
                        flow,
                        what: Observed::FlowEnd(&s),
                    },
                    &mut self.alerts,
                );
            }
            Body::App(e) => self.models.observe(
                &Observation {
                    ts: r.ts,
                    flow,
                    what: Observed::App(e),
                },
                &mut self.alerts,
            ),
            Body::Alert(_) => {}
        }
    }
}

impl Sink for ModelSink {
    fn records(&mut self, records: &mut Vec<Record>) {
        // Alerts are rare: observe the batch in place (records are ~200 bytes: moving each one
        // into another vector was a copy per record), and rebuild it only from the first record
        // that raised an alert.
        let mut split = None;
        for (i, r) in records.iter().enumerate() {
            self.observe(r);
            if !self.alerts.is_empty() {
                split = Some(i);
                break;
            }
        }
        if let Some(i) = split {
            let mut rest = std::mem::take(&mut self.out);
            rest.clear();
            rest.extend(records.drain(i..));
            for (k, r) in rest.drain(..).enumerate() {
                if k > 0 {
                    // the first was observed above; its alerts are waiting
                    self.observe(&r);
                }
                let flow = r.flow;
                records.push(r);
                for a in self.alerts.drain(..) {
                    records.push(Record {
                        ts: a.ts,
                        flow,
                        body: Body::Alert(Box::new(a)),
                    });
                }
            }
            self.out = rest;
        }
        self.next.records(records);
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        let r = self.models.finish();
        self.next.finish()?;
        r
    }
}

/// The models over `--state`, in front of `next`.
pub fn wrap(common: &crate::cli::Common, next: Box<dyn Sink>) -> anyhow::Result<Box<dyn Sink>> {
    let models = Models::open(common.models.config(), Some(&common.state))?;
    Ok(Box::new(ModelSink::new(models, next)))
}
