//! One worker's engine: decode → flow table → reassembly → application parsers → records.
//!
//! The engine owns its flows (a disjoint shard of all flows when several workers run) and is driven by
//! capture time only: timeouts fire when frame timestamps pass them, so a replay gives the same records
//! whatever the wall clock does.

use crate::capture::Frame;
use crate::decode::{decode, DecodeError, Packet};
use crate::flow::{EndReason, Flow, FlowTable, Timeouts};
use crate::record::{Body, FlowRecord, FlowRef, Record};
use crate::stream::{Budget, Delivery};
use iomt_parsers::{AppEvent, Direction, Ts};
use std::net::IpAddr;

/// What to do with TCP/UDP checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumMode {
    /// Do not verify (captures from hosts with checksum offload carry bad ones on every frame).
    #[default]
    Off,
    /// Verify and count mismatches; keep the frame.
    Count,
    /// Verify, count, and drop frames whose checksum is wrong.
    Drop,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub max_flows: usize,
    pub timeouts: Timeouts,
    /// Out-of-order bytes buffered per stream direction.
    pub stream_cap: usize,
    /// Out-of-order bytes buffered by all streams of this engine.
    pub reassembly_cap: usize,
    pub checksums: ChecksumMode,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_flows: 262_144,
            timeouts: Timeouts::default(),
            stream_cap: 1 << 20,
            reassembly_cap: 64 << 20,
            checksums: ChecksumMode::Off,
        }
    }
}

/// Counters of one engine; summed over workers for `--stats`.
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    pub frames: u64,
    pub bytes: u64,
    pub packets_ip: u64,
    /// IP packets that are neither TCP nor UDP (ICMP, IGMP, …): counted, not tracked as flows.
    pub packets_other_ip: u64,
    pub decode_errors: [u64; DecodeError::ALL.len()],
    pub bad_ip_checksums: u64,
    pub bad_l4_checksums: u64,
    pub dropped_bad_checksum: u64,
    pub flows_created: u64,
    pub flows_evicted: u64,
    pub flows_timed_out: u64,
    pub flows_closed: u64,
    pub flows_peak: usize,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub conflicting_overlaps: u64,
    pub reassembly_cap_hits: u64,
    pub reassembly_peak_bytes: usize,
    pub app_events: u64,
    pub anomalies: u64,
    /// Non-IP frames decoded for identity (ARP, LLDP, CDP).
    pub link_frames: u64,
}

impl EngineStats {
    pub fn merge(&mut self, o: &EngineStats) {
        self.frames += o.frames;
        self.link_frames += o.link_frames;
        self.bytes += o.bytes;
        self.packets_ip += o.packets_ip;
        self.packets_other_ip += o.packets_other_ip;
        for (a, b) in self.decode_errors.iter_mut().zip(o.decode_errors) {
            *a += b;
        }
        self.bad_ip_checksums += o.bad_ip_checksums;
        self.bad_l4_checksums += o.bad_l4_checksums;
        self.dropped_bad_checksum += o.dropped_bad_checksum;
        self.flows_created += o.flows_created;
        self.flows_evicted += o.flows_evicted;
        self.flows_timed_out += o.flows_timed_out;
        self.flows_closed += o.flows_closed;
        self.flows_peak += o.flows_peak;
        self.gaps += o.gaps;
        self.gap_bytes += o.gap_bytes;
        self.conflicting_overlaps += o.conflicting_overlaps;
        self.reassembly_cap_hits += o.reassembly_cap_hits;
        self.reassembly_peak_bytes += o.reassembly_peak_bytes;
        self.app_events += o.app_events;
        self.anomalies += o.anomalies;
    }
}

pub struct Engine {
    cfg: EngineConfig,
    table: FlowTable,
    budget: Budget,
    pub stats: EngineStats,
    events: Vec<AppEvent>,
    ended: Vec<(Flow, EndReason)>,
    now: Ts,
    /// The next whole second of capture time at which idle flows are expired.
    next_tick: Option<Ts>,
}

/// Expiry runs at every whole second of capture time, against that second (not against the frame
/// that crossed it), so which flows end when does not depend on how flows are sharded over workers.
const TICK_NS: u64 = 1_000_000_000;

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            table: FlowTable::new(cfg.max_flows, cfg.timeouts),
            budget: Budget::new(cfg.reassembly_cap),
            cfg,
            stats: EngineStats::default(),
            events: Vec::new(),
            ended: Vec::new(),
            now: Ts(0),
            next_tick: None,
        }
    }

    /// The capture clock: the latest frame time seen.
    pub fn now(&self) -> Ts {
        self.now
    }

    /// Processes one frame; records go to `out`.
    pub fn process(&mut self, frame: &Frame<'_>, out: &mut Vec<Record>) {
        self.stats.frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        self.advance(frame.ts, out);
        let pkt = match decode(frame) {
            Ok(p) => p,
            // etherparse reads ARP itself and calls a broken one malformed: the identity decoders
            // count that as an anomaly of their own.
            Err(DecodeError::NonIp | DecodeError::MalformedIp) if self.link(frame, out) => return,
            Err(e) => {
                if let Some(c) = self.stats.decode_errors.get_mut(e.index()) {
                    *c += 1;
                }
                return;
            }
        };
        self.stats.packets_ip += 1;
        if pkt.bad_ip_checksum {
            self.stats.bad_ip_checksums += 1;
        }
        if self.cfg.checksums != ChecksumMode::Off && !crate::checksum::l4_ok(frame, &pkt) {
            self.stats.bad_l4_checksums += 1;
            if self.cfg.checksums == ChecksumMode::Drop {
                self.stats.dropped_bad_checksum += 1;
                return;
            }
        }
        if pkt.proto != 6 && pkt.proto != 17 {
            // Flows are TCP and UDP (ICMP and others are counted as IP packets only).
            self.stats.packets_other_ip += 1;
            return;
        }
        self.packet(&pkt, frame.ts, out);
    }

    /// A non-IP frame with device identity (ARP, LLDP, CDP): its events become records with a
    /// link-layer [`FlowRef`] (flow id 0, IP protocol 0, the frame's MACs). False when the frame is
    /// none of these.
    fn link(&mut self, frame: &Frame<'_>, out: &mut Vec<Record>) -> bool {
        let Some(lf) = crate::decode::link_frame(frame) else {
            return false;
        };
        self.stats.link_frames += 1;
        crate::app::link_frame(&lf, &mut self.events);
        let unspecified = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        let flow = FlowRef {
            id: 0,
            src: unspecified,
            sport: 0,
            dst: unspecified,
            dport: 0,
            proto: 0,
            src_mac: lf.src_mac,
            dst_mac: lf.dst_mac,
        };
        for ev in self.events.drain(..) {
            self.stats.app_events += 1;
            if matches!(ev, AppEvent::Anomaly(_)) {
                self.stats.anomalies += 1;
            }
            out.push(Record {
                ts: frame.ts,
                flow: Some(flow),
                body: Body::App(ev),
            });
        }
        true
    }

    /// Moves the capture clock to `ts` (never backwards) and expires idle flows at each whole second
    /// passed. Workers also get the reader's clock between frames, so a worker without traffic still
    /// ends its idle flows.
    pub fn advance(&mut self, ts: Ts, out: &mut Vec<Record>) {
        if ts <= self.now {
            return;
        }
        self.now = ts;
        let first = *self.next_tick.get_or_insert(Ts((ts.0 / TICK_NS)
            .saturating_add(1)
            .saturating_mul(TICK_NS)));
        if ts < first {
            return;
        }
        // Expire at the last whole second passed; a long jump between files expires in one step.
        let tick = Ts(ts.0 / TICK_NS * TICK_NS);
        self.next_tick = Some(Ts(tick.0.saturating_add(TICK_NS)));
        let mut ended = std::mem::take(&mut self.ended);
        self.table.expire(tick, &mut ended);
        self.end_flows(&mut ended, out);
        self.ended = ended;
    }

    fn packet(&mut self, pkt: &Packet<'_>, ts: Ts, out: &mut Vec<Record>) {
        let mut ended = std::mem::take(&mut self.ended);
        let created = self.table.counters.created;
        let (idx, dir) = self.table.lookup_or_create(pkt, ts, &mut ended);
        self.end_flows(&mut ended, out);
        if self.table.counters.created != created {
            let flow = self
                .table
                .get_mut(idx)
                .map(|f| FlowRef::of(f, Direction::ToServer));
            out.push(Record {
                ts,
                flow,
                body: Body::FlowStart,
            });
        }
        self.ended = ended;
        let Some(flow) = self.table.get_mut(idx) else {
            return;
        };
        let d = dir.index();
        if let (Some(p), Some(b)) = (flow.pkts.get_mut(d), flow.bytes.get_mut(d)) {
            *p += 1;
            *b += u64::from(pkt.wire_len);
        }
        // Learn a MAC address first seen after the flow started.
        let ep = match dir {
            Direction::ToServer => &mut flow.client,
            Direction::ToClient => &mut flow.server,
        };
        if ep.mac.is_none() {
            ep.mac = pkt.src_mac;
        }
        let server_port = flow.server.port;
        let events = &mut self.events;
        events.clear();
        if let Some(t) = pkt.tcp {
            flow.track_tcp(dir, t.syn, t.ack_flag, t.fin, t.rst);
            if t.syn {
                if let Some(seq) = flow.syn_seq.get_mut(d) {
                    seq.get_or_insert(t.seq);
                }
                if let Some(stream) = flow.streams.as_mut().and_then(|s| s.get_mut(d)) {
                    stream.syn(t.seq);
                }
            }
            let wants = !pkt.payload.is_empty() && flow.app.wants_data();
            if wants || ((t.fin || t.rst) && flow.streams.is_some()) {
                flow.streams_mut();
            }
            let Flow { streams, app, .. } = flow;
            if let Some(stream) = streams.as_mut().and_then(|s| s.get_mut(d)) {
                if wants {
                    let before = stream.counters;
                    stream.segment(
                        t.seq,
                        pkt.payload,
                        self.cfg.stream_cap,
                        &mut self.budget,
                        |del| match del {
                            Delivery::Data(b) => app.data(dir, b, server_port, ts, events),
                            Delivery::Gap(n) => app.gap(dir, n, ts, events),
                        },
                    );
                    let after = stream.counters;
                    if after.conflicting_overlaps > before.conflicting_overlaps {
                        events.push(AppEvent::anomaly(
                            "tcp",
                            "conflicting_overlap",
                            "retransmitted bytes differ from the first copy (first copy kept)",
                        ));
                    }
                }
                if t.fin || t.rst {
                    stream.flush(&mut self.budget, |del| match del {
                        Delivery::Data(b) => app.data(dir, b, server_port, ts, events),
                        Delivery::Gap(n) => app.gap(dir, n, ts, events),
                    });
                }
            }
        } else {
            crate::app::udp_datagram(pkt, ts, events);
        }
        if !self.events.is_empty() {
            let flow = self.table.get_mut(idx).map(|f| FlowRef::of(f, dir));
            for ev in self.events.drain(..) {
                self.stats.app_events += 1;
                if matches!(ev, AppEvent::Anomaly(_)) {
                    self.stats.anomalies += 1;
                }
                out.push(Record {
                    ts,
                    flow,
                    body: Body::App(ev),
                });
            }
        }
        self.table.touch(idx, ts);
        self.stats.reassembly_peak_bytes = self.stats.reassembly_peak_bytes.max(self.budget.peak);
    }

    /// Ends flows that left the table: flush reassembly, let parsers summarise, emit the flow record.
    fn end_flows(&mut self, ended: &mut Vec<(Flow, EndReason)>, out: &mut Vec<Record>) {
        for (mut flow, reason) in ended.drain(..) {
            let ts = flow.last;
            let server_port = flow.server.port;
            let events = &mut self.events;
            events.clear();
            let Flow { streams, app, .. } = &mut flow;
            for (stream, dir) in streams
                .iter_mut()
                .flat_map(|s| s.iter_mut())
                .zip([Direction::ToServer, Direction::ToClient])
            {
                stream.flush(&mut self.budget, |del| match del {
                    Delivery::Data(b) => app.data(dir, b, server_port, ts, events),
                    Delivery::Gap(n) => app.gap(dir, n, ts, events),
                });
                self.stats.gaps += stream.counters.gaps;
                self.stats.gap_bytes += stream.counters.gap_bytes;
                self.stats.conflicting_overlaps += stream.counters.conflicting_overlaps;
                self.stats.reassembly_cap_hits += stream.counters.cap_hits;
            }
            app.end(ts, events);
            let fref = FlowRef::of(&flow, Direction::ToServer);
            for ev in self.events.drain(..) {
                self.stats.app_events += 1;
                if matches!(ev, AppEvent::Anomaly(_)) {
                    self.stats.anomalies += 1;
                }
                out.push(Record {
                    ts,
                    flow: Some(fref),
                    body: Body::App(ev),
                });
            }
            out.push(Record {
                ts,
                flow: Some(fref),
                body: Body::Flow(FlowRecord::of(&flow, reason)),
            });
        }
        let c = self.table.counters;
        self.stats.flows_created = c.created;
        self.stats.flows_evicted = c.evicted;
        self.stats.flows_timed_out = c.timed_out;
        self.stats.flows_closed = c.closed;
        self.stats.flows_peak = c.peak;
    }

    /// End of input: every flow ends, oldest first, a batch at a time.
    pub fn finish(&mut self, out: &mut Vec<Record>) {
        let mut ended = std::mem::take(&mut self.ended);
        for batch in self.table.drain_order().chunks(4096) {
            for &i in batch {
                if let Some(f) = self.table.remove(i) {
                    ended.push((f, EndReason::EndOfCapture));
                }
            }
            self.end_flows(&mut ended, out);
        }
        self.ended = ended;
    }
}
