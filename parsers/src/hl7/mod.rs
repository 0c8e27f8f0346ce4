//! HL7 v2 over MLLP (or unframed over TCP): message types, control ids, ACK flow, PHI never emitted.
//!
//! Standards: HL7 v2.5 chapter 2 (Control): §2.5 message construction (segments end with CR; field,
//! component, repetition, subcomponent separators), §2.5.4 / §2.14.9.1-2 (MSH-1 and MSH-2 define the
//! delimiters, read from each message, never assumed), §2.7 escape sequences, §2.9 acknowledgment rules
//! (original and enhanced mode; MSA-1 codes AA/AE/AR and CA/CE/CR), §2.14.5 ERR, §2.14.8 MSA, §2.14.9
//! MSH; chapter 7 §7.4.2 OBX. Framing: HL7 v2.5 Appendix C.4 "Minimal Lower Layer Protocol" (MLLP
//! release 1: `0x0B message 0x1C 0x0D`).
//!
//! # What is decoded
//!
//! Each message gives one [`Hl7Event`] (`type` `message`, or `ack` when it has an MSA segment, i.e. it
//! is a response) with MSH-3..7 and MSH-9..12, the segment ids in order with their counts, MSA-1/2,
//! ERR presence and ERR-3/4 codes, and for OBX the observation identifiers only (OBX-3 code and coding
//! system, OBX-2 value type, OBX-11 status, with counts). `phi_segments` names the segments present
//! that carry patient data or free text ([`msg::PHI_SEGMENTS`]); their content is never read: PID, NK1,
//! PV1, GT1, IN1, NTE text and OBX-5 values pass by uncopied and nothing of them is emitted.
//!
//! # ACK pairing
//!
//! Both directions go to one parser object. A message with a control id (MSH-10) waits for a response
//! from the other direction whose MSA-2 names it; the response event then carries `paired: true`,
//! `acked_message_type` and `ack_latency_us` (capture time of the response's last byte minus that of the
//! message's last byte). An unmatched response has `paired: false`. A message re-sent with a pending
//! control id has `duplicate_control_id: true`. At most [`MAX_PENDING`] messages wait per flow (older
//! ones are dropped and counted as unacknowledged, anomaly `pending_overflow` once per flow). At
//! [`StreamParser::end`], one `type: "summary"` event per flow that carried messages gives, per sender
//! direction, messages, responses, acknowledged, negatively acknowledged (AE/AR/CE/CR), unacknowledged
//! (with up to [`MAX_UNACKED_LISTED`] of their control ids), unsolicited responses and malformed messages.
//!
//! # Anomaly kinds (`AppEvent::anomaly("hl7", kind, detail)`)
//!
//! Framing ([`mllp`]): `garbage_between_frames` (once per run of non-CR/LF bytes between messages),
//! `missing_end_cr` (EB not followed by CR), `start_block_in_message` (SB inside a block: the message
//! is dropped), `message_too_large` (over [`DEFAULT_MAX_MESSAGE`] bytes without an end: skipped by count,
//! resync on the next SB), `gap_in_message` (a TCP hole inside a message: dropped, resync),
//! `unterminated_message` (flow ended inside a block), `non_cr_segment_terminator` (LF or CRLF used
//! as segment terminator: once per direction; each event also says `segment_terminator`).
//! Message ([`msg`]): `empty_message`, `missing_msh`, `batch_not_supported` (FHS/BHS batches),
//! `truncated_msh`, `msh_too_long` (over [`msg::MSH_CAP`]), `bad_field_separator`,
//! `bad_encoding_characters`, `nonstandard_encoding_characters` (MSH-2 not 4 or 5 characters, still
//! used), `missing_message_type`, `missing_control_id`, `bad_segment_id` (not `[A-Z][A-Z0-9]{2}`: never
//! emitted, since free text broken by a stray CR would otherwise leak), `too_many_fields` (over
//! [`msg::MAX_FIELDS`] in one segment), `multiple_msh_in_frame`; each message kind at most once per
//! message. Flow: `pending_overflow`, and `too_many_anomalies` after [`MAX_ANOMALIES`], when the parser
//! stops (returns [`Progress::Done`]).
//!
//! # Memory bounds
//!
//! Per direction: the MSH segment (≤ [`msg::MSH_CAP`] bytes), three captured fields of ≤
//! [`msg::FIELD_CAP`] bytes, ≤ [`msg::MAX_SEGMENT_IDS`] segment ids, ≤ [`msg::MAX_SEGMENT_KINDS`]
//! counts, ≤ [`msg::MAX_OBSERVATIONS`] observation identifiers. Per flow: ≤ [`MAX_PENDING`] pending
//! control ids of ≤ [`msg::FIELD_CAP`] bytes. Nothing is sized by the input: message bodies, OBX-5
//! values and oversized messages are scanned and counted, never buffered.

pub mod mllp;
pub mod msg;

use crate::{AppEvent, Direction, Probe, Progress, Protocol, StreamParser, Ts};
use mllp::{Completed, DirStream, Events, Framing, SB};
use msg::{AnomalySink, MsgInfo, Observation, SegCounts, SegId};
use serde::Serialize;

/// Default cap on one message (bytes between the framing). Larger messages (e.g. embedded documents
/// in OBX-5 ED values) are `message_too_large`; [`Hl7Parser::with_max_message`] changes it.
pub const DEFAULT_MAX_MESSAGE: u64 = 1 << 20;
/// Messages waiting for their ACK per flow.
pub const MAX_PENDING: usize = 256;
/// Unacknowledged control ids listed per direction in the summary.
pub const MAX_UNACKED_LISTED: usize = 16;
/// Anomalies per flow before the parser gives up on it.
pub const MAX_ANOMALIES: u32 = 256;

/// The EVE `hl7` object (ARCHITECTURE.md, "Protocol events"). `None`, empty and `false` fields are
/// left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hl7Event {
    /// `message`, `ack` (a response: it has an MSA segment) or `summary` (at flow end).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Who sent it (`to_server`: the connecting side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// `mllp` or `none` (unframed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framing: Option<&'static str>,
    /// MSH-9.1^MSH-9.2, e.g. `ORU^R01`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_event: Option<String>,
    /// MSH-9.3, e.g. `ORU_R01`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_structure: Option<String>,
    /// MSH-10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_id: Option<String>,
    /// MSH-11.1 (`P`, `T`, `D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_id: Option<String>,
    /// MSH-12.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// MSH-7.1 as given (the sender's clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_datetime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_application: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_facility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_application: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_facility: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegId>,
    #[serde(skip_serializing_if = "is_false")]
    pub segments_truncated: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub segment_count: u32,
    #[serde(skip_serializing_if = "SegCounts::is_empty")]
    pub segment_counts: SegCounts,
    /// Segments present that carry patient data or free text (ids only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phi_segments: Vec<SegId>,
    /// `cr`, `crlf`, `lf`, `mixed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_terminator: Option<&'static str>,
    /// Message bytes between the framing.
    #[serde(skip_serializing_if = "is_zero64")]
    pub bytes: u64,
    /// MSA-1 (AA, AE, AR, CA, CE, CR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_code: Option<String>,
    /// MSA-2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_control_id: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub err_present: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub err_count: u32,
    /// ERR-3.1 of the first ERR (table 0357).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err_code: Option<String>,
    /// ERR-4 of the first ERR (table 0516: E, W, I).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err_severity: Option<String>,
    /// For a response: whether a pending message of the other direction had MSA-2 as control id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_message_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_latency_us: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    pub duplicate_control_id: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub obx_count: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
    #[serde(skip_serializing_if = "is_false")]
    pub observations_truncated: bool,
    /// `summary` only: per sender direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<FlowSummary>,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn is_zero64(n: &u64) -> bool {
    *n == 0
}

impl SegCounts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The `summary` object: what each side sent and how it was acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlowSummary {
    pub to_server: DirSummary,
    pub to_client: DirSummary,
}

/// Counts for the messages one direction sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirSummary {
    /// Messages that are not responses.
    pub messages: u32,
    /// Responses (with MSA) sent.
    pub acks: u32,
    /// Messages that could not be read.
    pub malformed: u32,
    pub bytes: u64,
    /// Messages of this sender that got a response.
    pub acked: u32,
    /// ... of which negative (AE, AR, CE, CR).
    pub negative_acks: u32,
    /// Messages of this sender with no response by the flow end (or dropped from the pending list).
    pub unacked: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unacked_control_ids: Vec<String>,
    /// Responses this sender sent that matched no pending message.
    pub unsolicited_acks: u32,
}

/// Content probe: MLLP start block then `MSH`, or unframed `MSH`; then a plausible field separator and
/// encoding characters followed by the field separator again.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let body = match data.split_first() {
        None => return Probe::NeedMore,
        Some((&SB, rest)) => rest,
        Some(_) => data,
    };
    let head = body.get(..3).unwrap_or(body);
    if !b"MSH".starts_with(head) {
        return Probe::No;
    }
    let Some((&fs, enc)) = body.get(3..).and_then(<[u8]>::split_first) else {
        return Probe::NeedMore;
    };
    if !msg::valid_separator(fs) {
        return Probe::No;
    }
    let Some(n) = enc.iter().take(6).position(|&b| b == fs) else {
        return if enc.len() < 6 && msg::valid_encoding(enc, fs) || enc.is_empty() {
            Probe::NeedMore
        } else {
            Probe::No
        };
    };
    match enc.get(..n) {
        Some(e) if msg::valid_encoding(e, fs) => Probe::Yes,
        _ => Probe::No,
    }
}

#[derive(Debug, Clone)]
struct Pending {
    sender: Direction,
    control_id: String,
    message_type: Option<String>,
    ts: Ts,
}

#[derive(Debug, Clone, Default)]
struct Stats {
    s: [DirSummary; 2],
    evicted: [u32; 2],
    any: bool,
}

/// One HL7 flow (both directions).
#[derive(Debug, Clone)]
pub struct Hl7Parser {
    dirs: [DirStream; 2],
    pending: Vec<Pending>,
    stats: Stats,
    anomalies: u32,
    overflow_reported: bool,
    dead: bool,
}

impl Default for Hl7Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Hl7Parser {
    pub fn new() -> Self {
        Self::with_max_message(DEFAULT_MAX_MESSAGE)
    }

    /// A parser whose per-message cap is `max` bytes.
    pub fn with_max_message(max: u64) -> Self {
        Hl7Parser {
            dirs: [DirStream::new(max), DirStream::new(max)],
            pending: Vec::new(),
            stats: Stats::default(),
            anomalies: 0,
            overflow_reported: false,
            dead: false,
        }
    }

    fn split<'s>(
        &'s mut self,
        dir: Direction,
        out: &'s mut Vec<AppEvent>,
    ) -> (&'s mut DirStream, Emit<'s>) {
        let [a, b] = &mut self.dirs;
        let d = match dir {
            Direction::ToServer => a,
            Direction::ToClient => b,
        };
        (
            d,
            Emit {
                dir,
                out,
                pending: &mut self.pending,
                stats: &mut self.stats,
                anomalies: &mut self.anomalies,
                overflow_reported: &mut self.overflow_reported,
            },
        )
    }

    fn check_dead(&mut self, out: &mut Vec<AppEvent>) -> Progress {
        if self.anomalies > MAX_ANOMALIES && !self.dead {
            self.dead = true;
            out.push(AppEvent::anomaly(
                "hl7",
                "too_many_anomalies",
                format!("more than {MAX_ANOMALIES} anomalies on this flow; parsing stopped"),
            ));
        }
        if self.dead {
            Progress::Done
        } else {
            Progress::Continue
        }
    }
}

/// The flow-level sink the directions report into.
struct Emit<'a> {
    dir: Direction,
    out: &'a mut Vec<AppEvent>,
    pending: &'a mut Vec<Pending>,
    stats: &'a mut Stats,
    anomalies: &'a mut u32,
    overflow_reported: &'a mut bool,
}

impl Emit<'_> {
    fn summary(&mut self, d: Direction) -> &mut DirSummary {
        let [a, b] = &mut self.stats.s;
        match d {
            Direction::ToServer => a,
            Direction::ToClient => b,
        }
    }
}

impl AnomalySink for Emit<'_> {
    fn anomaly(&mut self, kind: &'static str, detail: String) {
        *self.anomalies = self.anomalies.saturating_add(1);
        if *self.anomalies <= MAX_ANOMALIES {
            self.out.push(AppEvent::anomaly("hl7", kind, detail));
        }
    }
}

fn negative(code: Option<&str>) -> bool {
    matches!(code, Some("AE" | "AR" | "CE" | "CR"))
}

impl Events for Emit<'_> {
    fn malformed(&mut self) {
        self.stats.any = true;
        let s = self.summary(self.dir);
        s.malformed = s.malformed.saturating_add(1);
    }

    fn message(&mut self, c: Completed) {
        self.stats.any = true;
        let dir = self.dir;
        let mut ev = event(c.info, c.framing, c.bytes, dir);
        {
            let s = self.summary(dir);
            s.bytes = s.bytes.saturating_add(c.bytes);
        }
        if ev.kind == "ack" {
            self.summary(dir).acks = self.summary(dir).acks.saturating_add(1);
            let found = ev.acked_control_id.as_ref().and_then(|id| {
                self.pending
                    .iter()
                    .position(|p| p.sender == dir.reverse() && &p.control_id == id)
            });
            match found {
                Some(i) => {
                    let p = self.pending.remove(i);
                    ev.paired = Some(true);
                    ev.ack_latency_us = Some(c.last_ts.nanos_since(p.ts) / 1_000);
                    ev.acked_message_type = p.message_type;
                    let neg = negative(ev.ack_code.as_deref());
                    let s = self.summary(p.sender);
                    s.acked = s.acked.saturating_add(1);
                    if neg {
                        s.negative_acks = s.negative_acks.saturating_add(1);
                    }
                }
                None => {
                    ev.paired = Some(false);
                    let s = self.summary(dir);
                    s.unsolicited_acks = s.unsolicited_acks.saturating_add(1);
                }
            }
        } else {
            self.summary(dir).messages = self.summary(dir).messages.saturating_add(1);
            if let Some(id) = &ev.control_id {
                if let Some(p) = self
                    .pending
                    .iter_mut()
                    .find(|p| p.sender == dir && &p.control_id == id)
                {
                    ev.duplicate_control_id = true;
                    p.ts = c.last_ts;
                    p.message_type.clone_from(&ev.message_type);
                } else {
                    if self.pending.len() >= MAX_PENDING {
                        let old = self.pending.remove(0);
                        let i = old.sender.index();
                        if let Some(n) = self.stats.evicted.get_mut(i) {
                            *n = n.saturating_add(1);
                        }
                        if !*self.overflow_reported {
                            *self.overflow_reported = true;
                            self.anomaly(
                                "pending_overflow",
                                format!(
                                    "more than {MAX_PENDING} messages awaiting ACK; oldest counted as unacknowledged"
                                ),
                            );
                        }
                    }
                    self.pending.push(Pending {
                        sender: dir,
                        control_id: id.clone(),
                        message_type: ev.message_type.clone(),
                        ts: c.last_ts,
                    });
                }
            }
        }
        self.out.push(AppEvent::Hl7(ev));
    }
}

/// The event for one message.
fn event(info: MsgInfo, framing: Framing, bytes: u64, dir: Direction) -> Hl7Event {
    let terminator = info.terminator();
    let m = info.msh;
    let message_type = match (&m.message_code, &m.trigger_event) {
        (Some(c), Some(t)) => Some(format!("{c}^{t}")),
        (Some(c), None) => Some(c.clone()),
        _ => None,
    };
    let is_ack = info.msa.is_some();
    let (ack_code, acked_control_id) = info.msa.unwrap_or((None, None));
    Hl7Event {
        kind: if is_ack { "ack" } else { "message" },
        direction: Some(dir),
        framing: Some(framing.name()),
        message_type,
        message_code: m.message_code,
        trigger_event: m.trigger_event,
        message_structure: m.message_structure,
        control_id: m.control_id,
        processing_id: m.processing_id,
        version: m.version,
        message_datetime: m.datetime,
        sending_application: m.sending_application,
        sending_facility: m.sending_facility,
        receiving_application: m.receiving_application,
        receiving_facility: m.receiving_facility,
        segment_terminator: Some(terminator),
        segments: info.segments,
        segments_truncated: info.segments_truncated,
        segment_count: info.segment_count,
        segment_counts: info.counts,
        phi_segments: info.phi,
        bytes,
        ack_code,
        acked_control_id,
        err_present: info.err_count > 0,
        err_count: info.err_count,
        err_code: info.err_code,
        err_severity: info.err_severity,
        obx_count: info.obx_count,
        observations: info.observations,
        observations_truncated: info.observations_truncated,
        ..Hl7Event::default()
    }
}

impl StreamParser for Hl7Parser {
    fn protocol(&self) -> Protocol {
        Protocol::Hl7
    }

    fn feed(&mut self, dir: Direction, data: &[u8], ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        if self.dead {
            return Progress::Done;
        }
        if !data.is_empty() {
            // The other side is answering: its unframed message (if at a segment end) is complete.
            let (o, mut ev) = self.split(dir.reverse(), out);
            o.flush_unframed(&mut ev);
        }
        let (d, mut ev) = self.split(dir, out);
        d.feed(data, ts, &mut ev);
        self.check_dead(out)
    }

    fn gap(&mut self, dir: Direction, len: u64, _ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        if self.dead {
            return Progress::Done;
        }
        let (d, mut ev) = self.split(dir, out);
        d.gap(len, &mut ev);
        self.check_dead(out)
    }

    fn end(&mut self, _ts: Ts, out: &mut Vec<AppEvent>) {
        if !self.dead {
            for dir in [Direction::ToServer, Direction::ToClient] {
                let (d, mut ev) = self.split(dir, out);
                d.end(&mut ev);
            }
            let _ = self.check_dead(out);
        }
        if !self.stats.any {
            return;
        }
        let [s0, s1] = &self.stats.s;
        let mut sum = FlowSummary {
            to_server: s0.clone(),
            to_client: s1.clone(),
        };
        for (s, ev) in [&mut sum.to_server, &mut sum.to_client]
            .into_iter()
            .zip(self.stats.evicted)
        {
            s.unacked = ev;
        }
        for p in self.pending.drain(..) {
            let s = match p.sender {
                Direction::ToServer => &mut sum.to_server,
                Direction::ToClient => &mut sum.to_client,
            };
            s.unacked = s.unacked.saturating_add(1);
            if s.unacked_control_ids.len() < MAX_UNACKED_LISTED {
                s.unacked_control_ids.push(p.control_id);
            }
        }
        self.stats.any = false;
        out.push(AppEvent::Hl7(Hl7Event {
            kind: "summary",
            summary: Some(sum),
            ..Hl7Event::default()
        }));
    }
}
