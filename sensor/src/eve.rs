//! The EVE JSON lines output (`--eve FILE|-`) and the `decode` printer.

use crate::pipeline::Sink;
use crate::record::{rfc3339, Body, Mac, Record};
use std::io::{BufWriter, Write};

/// Which event types go out (`--eve-types`): a list of names, or `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFilter(Option<Vec<String>>);

impl TypeFilter {
    pub const KNOWN: [&'static str; 14] = [
        "alert",
        "flow",
        "dicom",
        "hl7",
        "sdc",
        "ieee20601",
        "tls",
        "dhcp",
        "mdns",
        "arp",
        "lldp",
        "cdp",
        "anomaly",
        "stats",
    ];

    /// Parses `all` or a comma-separated list of known types.
    pub fn parse(s: &str) -> Result<TypeFilter, String> {
        if s == "all" {
            return Ok(TypeFilter(None));
        }
        let mut v = Vec::new();
        for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !Self::KNOWN.contains(&t) {
                return Err(format!(
                    "unknown event type {t:?} (known: all, {})",
                    Self::KNOWN.join(", ")
                ));
            }
            v.push(t.to_string());
        }
        Ok(TypeFilter(Some(v)))
    }

    pub fn allows(&self, event_type: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|v| v.iter().any(|t| t == event_type))
    }
}

/// How the sink formats lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// EVE JSON, one object per line.
    Json,
    /// One human-readable line per event (the `decode` command without `--json`).
    Text,
}

pub struct EveSink {
    out: BufWriter<Box<dyn Write + Send>>,
    filter: TypeFilter,
    style: Style,
    line: Vec<u8>,
    /// Set when the reader of our output went away (a closed pipe): we stop writing, quietly.
    closed: bool,
    pub written: u64,
}

impl EveSink {
    pub fn new(out: Box<dyn Write + Send>, filter: TypeFilter, style: Style) -> Self {
        EveSink {
            out: BufWriter::with_capacity(1 << 16, out),
            filter,
            style,
            line: Vec::with_capacity(1024),
            closed: false,
            written: 0,
        }
    }

    fn write_one(&mut self, r: &Record) -> std::io::Result<()> {
        self.line.clear();
        match self.style {
            Style::Json => r.write_eve(&mut self.line),
            Style::Text => text_line(r, &mut self.line),
        }
        self.written += 1;
        self.out.write_all(&self.line)
    }
}

impl Sink for EveSink {
    fn records(&mut self, records: &mut Vec<Record>) {
        if self.closed {
            return;
        }
        for r in records.iter() {
            if matches!(r.body, Body::FlowStart) || !self.filter.allows(r.event_type()) {
                continue;
            }
            if let Err(e) = self.write_one(r) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("iomt-sensor: warning: EVE output: {e}");
                }
                self.closed = true;
                return;
            }
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.out.flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn text_line(r: &Record, w: &mut Vec<u8>) {
    let _ = write!(w, "{} ", rfc3339(r.ts));
    match &r.flow {
        Some(f) if f.is_link() => {
            let mac = |m: Option<[u8; 6]>| m.map(|m| Mac(m).to_string()).unwrap_or_default();
            let _ = write!(w, "{} -> {} ", mac(f.src_mac), mac(f.dst_mac));
        }
        Some(f) => {
            let _ = write!(w, "{}:{} -> {}:{} ", f.src, f.sport, f.dst, f.dport);
        }
        None => {}
    }
    let _ = write!(w, "{} ", r.event_type());
    let _ = match &r.body {
        Body::FlowStart => Ok(()),
        Body::Flow(fr) => serde_json::to_writer(&mut *w, fr),
        Body::App(e) => serde_json::to_writer(&mut *w, e),
        Body::Alert(a) => serde_json::to_writer(&mut *w, a),
    };
    w.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filter() {
        assert!(TypeFilter::parse("all").unwrap().allows("dicom"));
        let f = TypeFilter::parse("alert,dicom").unwrap();
        assert!(f.allows("dicom") && !f.allows("flow"));
        assert!(TypeFilter::parse("alert,bogus").is_err());
    }
}
