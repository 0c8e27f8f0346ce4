//! `--stats`: what the run did, on stderr at the end.

use crate::capture::live::PcapCounters;
use crate::decode::DecodeError;
use crate::pipeline::PipelineStats;
use std::time::Duration;

/// Reader-side totals.
#[derive(Debug, Clone, Default)]
pub struct RunTotals {
    pub files: u64,
    pub file_bytes: u64,
    pub threads: usize,
}

/// A line of `/proc/self/status` in kB (Linux), e.g. `VmHWM` (peak RSS) or `RssAnon`.
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// CPU time (user + system) of the calling thread, from `/proc/thread-self/stat` (Linux; clock ticks
/// of 10 ms, USER_HZ being 100 in the /proc ABI).
pub fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14, 15.
    let mut f = s
        .get(s.rfind(')')?.checked_add(1)?..)?
        .split_whitespace()
        .skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(Duration::from_millis(
        utime.saturating_add(stime).saturating_mul(10),
    ))
}

pub fn print_stats(s: &PipelineStats, t: &RunTotals, wall: Duration, pcap: Option<PcapCounters>) {
    let e = &s.engine;
    let secs = wall.as_secs_f64().max(1e-9);
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str("iomt-sensor stats: ");
        out.push_str(&l);
        out.push('\n');
    };
    line(format!(
        "files {} ({} bytes), frames {}, frame bytes {}, wall {:.3} s, workers {}",
        t.files, t.file_bytes, e.frames, e.bytes, secs, t.threads
    ));
    line(format!(
        "throughput {:.0} frames/s, {:.3} Gbit/s of frame data, {:.3} Gbit/s of file data",
        e.frames as f64 / secs,
        e.bytes as f64 * 8.0 / secs / 1e9,
        t.file_bytes as f64 * 8.0 / secs / 1e9
    ));
    let errs: Vec<String> = DecodeError::ALL
        .iter()
        .zip(e.decode_errors)
        .map(|(k, n)| format!("{}={n}", k.name()))
        .collect();
    line(format!(
        "decode: ip packets {} (not tcp/udp {}), link-layer identity frames {}, errors {}, bad ip checksums {}, bad tcp/udp checksums {} (dropped {})",
        e.packets_ip,
        e.packets_other_ip,
        e.link_frames,
        errs.join(" "),
        e.bad_ip_checksums,
        e.bad_l4_checksums,
        e.dropped_bad_checksum
    ));
    line(format!(
        "flows: created {}, timed out {}, closed {}, evicted {}, peak {}",
        e.flows_created, e.flows_timed_out, e.flows_closed, e.flows_evicted, e.flows_peak
    ));
    line(format!(
        "reassembly: gaps {} ({} bytes), conflicting overlaps {}, cap hits {}, peak buffered {} bytes",
        e.gaps, e.gap_bytes, e.conflicting_overlaps, e.reassembly_cap_hits, e.reassembly_peak_bytes
    ));
    line(format!(
        "events: protocol {}, anomalies {}, records {}",
        e.app_events, e.anomalies, s.records
    ));
    line(format!(
        "pipeline: chunks {}, worker queue high water {} of {}, merger queue high water {}, frames dropped (queue full) {}",
        s.chunks,
        s.queue_high_water,
        crate::pipeline::QUEUE,
        s.merger_queue_high_water,
        s.dropped_queue_full
    ));
    let per: Vec<String> = s
        .per_worker
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "{i}: frames {} bytes {} flows {} events {}",
                w.frames, w.bytes, w.flows_created, w.app_events
            )
        })
        .collect();
    line(format!("workers: {}", per.join("; ")));
    let cpu: Vec<String> = s
        .worker_cpu
        .iter()
        .enumerate()
        .map(|(i, d)| format!("worker {i} {:.2}", d.as_secs_f64()))
        .collect();
    line(format!(
        "cpu seconds: reader {:.2}, {}, merger {:.2} (models and outputs)",
        thread_cpu().unwrap_or_default().as_secs_f64(),
        cpu.join(", "),
        s.merger_cpu.as_secs_f64()
    ));
    if let Some(h) = &s.latency_us {
        if !h.is_empty() {
            line(format!(
                "latency chunk read -> records out (us): p50 {} p99 {} p99.9 {} max {}",
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max()
            ));
        }
    }
    if let Some(p) = pcap {
        line(format!(
            "libpcap: received {}, dropped {}, interface dropped {}",
            p.received, p.dropped, p.if_dropped
        ));
    }
    line(format!(
        "memory: peak RSS {} kB, RssAnon {} kB",
        proc_status_kb("VmHWM").unwrap_or(0),
        proc_status_kb("RssAnon").unwrap_or(0)
    ));
    eprint!("{out}");
}
