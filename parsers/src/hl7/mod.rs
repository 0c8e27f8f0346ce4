//! HL7 v2 over MLLP (or unframed over TCP): message types, control ids, ACK flow, PHI never emitted.
//!
//! Standards: HL7 v2.5 chapter 2 (Control): message framework and delimiters (segments end with CR;
//! field, component, repetition, escape and subcomponent characters are declared by MSH-1 and MSH-2 of
//! each message, never assumed), use of escape sequences in text fields, acknowledgment rules
//! (original and enhanced mode; MSA-1 codes AA/AE/AR and CA/CE/CR), and the message control segments
//! MSH, MSA and ERR; chapter 7 for OBX. Framing: HL7 v2.5 Appendix C, "Minimal Lower Layer Protocol"
//! (MLLP release 1: `0x0B message 0x1C 0x0D`), and the commit blocks of MLLP release 2. (Section
//! numbers are left out on purpose: they move between v2.x editions; the names do not.)
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
//! (with up to [`MAX_UNACKED_LISTED`] of their control ids), unsolicited responses, malformed messages
//! and MLLP release 2 commit acknowledgement blocks (0x06 / 0x15). Responses are paired whatever their
//! MSA-1: in enhanced mode the first response (commit, CA/CE/CR) pairs; a later application response
//! to one of the last [`RECENT_ACKED`] acknowledged control ids has `paired: true, repeated_ack: true`
//! (counted as `repeated_acks`, and as negative if it is AE/AR).
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
//! values and oversized messages are scanned and counted, never buffered; ≤ [`RECENT_ACKED`]
//! recently acknowledged control ids per flow.
//!
//! # Validation
//!
//! Unit tests at the bottom of each file; the `corpus` tests replay the TCP payloads of the corpus's
//! python-hl7 and hl7apy captures (`testdata/corpus.bin`, made by `testdata/extract.py`) and match the
//! message types and counts of tshark's HL7 dissector, with no anomaly, every message acknowledged, and
//! none of the corpus's synthetic patient values in any event.

pub mod mllp;
pub mod msg;

use crate::{AppEvent, Direction, Probe, Progress, Protocol, StreamParser, Text, Ts};
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
/// Acknowledged control ids remembered per flow, to recognise a second response to one message.
pub const RECENT_ACKED: usize = 32;
/// Anomalies per flow before the parser gives up on it.
pub const MAX_ANOMALIES: u32 = 256;

/// The EVE `hl7` object (ARCHITECTURE.md, "Protocol events"): the fields of [`Hl7Fields`], boxed so
/// that [`AppEvent`] stays small (read them through `Deref`: `ev.message_type`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Hl7Event(pub Box<Hl7Fields>);

impl std::ops::Deref for Hl7Event {
    type Target = Hl7Fields;
    fn deref(&self) -> &Hl7Fields {
        &self.0
    }
}

impl std::ops::DerefMut for Hl7Event {
    fn deref_mut(&mut self) -> &mut Hl7Fields {
        &mut self.0
    }
}

/// The fields of the EVE `hl7` object. `None`, empty and `false` fields are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hl7Fields {
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
    pub message_type: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_code: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_event: Option<Text>,
    /// MSH-9.3, e.g. `ORU_R01`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_structure: Option<Text>,
    /// MSH-10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_id: Option<Text>,
    /// MSH-11.1 (`P`, `T`, `D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_id: Option<Text>,
    /// MSH-12.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Text>,
    /// MSH-7.1 as given (the sender's clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_datetime: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_application: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_facility: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_application: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_facility: Option<Text>,
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
    pub ack_code: Option<Text>,
    /// MSA-2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_control_id: Option<Text>,
    #[serde(skip_serializing_if = "is_false")]
    pub err_present: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub err_count: u32,
    /// ERR-3.1 of the first ERR (table 0357).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err_code: Option<Text>,
    /// ERR-4 of the first ERR (table 0516: E, W, I).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err_severity: Option<Text>,
    /// For a response: whether a pending message of the other direction had MSA-2 as control id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_message_type: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_latency_us: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    pub duplicate_control_id: bool,
    /// A second response to an already acknowledged message (enhanced mode: the application ACK
    /// after the commit ACK; or a repeated ACK).
    #[serde(skip_serializing_if = "is_false")]
    pub repeated_ack: bool,
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
    pub unacked_control_ids: Vec<Text>,
    /// Responses this sender sent that matched no pending message.
    pub unsolicited_acks: u32,
    /// Responses this sender sent to a message it had already acknowledged.
    #[serde(skip_serializing_if = "is_zero")]
    pub repeated_acks: u32,
    /// MLLP release 2 commit acknowledgement blocks (0x06) this sender sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub mllp_commit_acks: u32,
    /// MLLP release 2 negative commit acknowledgement blocks (0x15) this sender sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub mllp_commit_naks: u32,
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
    control_id: Text,
    message_type: Option<Text>,
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
    recent: Vec<(Direction, Text)>,
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
            recent: Vec::new(),
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
        let d = dir.of(&mut self.dirs);
        (
            d,
            Emit {
                dir,
                out,
                pending: &mut self.pending,
                recent: &mut self.recent,
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
    recent: &'a mut Vec<(Direction, Text)>,
    stats: &'a mut Stats,
    anomalies: &'a mut u32,
    overflow_reported: &'a mut bool,
}

impl Emit<'_> {
    fn summary(&mut self, d: Direction) -> &mut DirSummary {
        d.of(&mut self.stats.s)
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
    fn stopped(&self) -> bool {
        *self.anomalies > MAX_ANOMALIES
    }

    fn commit_ack(&mut self, positive: bool) {
        self.stats.any = true;
        let s = self.summary(self.dir);
        if positive {
            s.mllp_commit_acks = s.mllp_commit_acks.saturating_add(1);
        } else {
            s.mllp_commit_naks = s.mllp_commit_naks.saturating_add(1);
        }
    }

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
                    .position(|p| p.sender == dir.reverse() && p.control_id == id)
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
                    if self.recent.len() >= RECENT_ACKED {
                        self.recent.remove(0);
                    }
                    self.recent.push((p.sender, p.control_id));
                }
                None => {
                    let repeat = ev.acked_control_id.as_ref().is_some_and(|id| {
                        self.recent
                            .iter()
                            .any(|(d, c)| *d == dir.reverse() && c == id)
                    });
                    ev.paired = Some(repeat);
                    ev.repeated_ack = repeat;
                    let neg = negative(ev.ack_code.as_deref());
                    if repeat && neg {
                        let s = self.summary(dir.reverse());
                        s.negative_acks = s.negative_acks.saturating_add(1);
                    }
                    let s = self.summary(dir);
                    if repeat {
                        s.repeated_acks = s.repeated_acks.saturating_add(1);
                    } else {
                        s.unsolicited_acks = s.unsolicited_acks.saturating_add(1);
                    }
                }
            }
        } else {
            self.summary(dir).messages = self.summary(dir).messages.saturating_add(1);
            if let Some(id) = &ev.control_id {
                if let Some(p) = self
                    .pending
                    .iter_mut()
                    .find(|p| p.sender == dir && p.control_id == id)
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
        (Some(c), Some(t)) => {
            let mut s = c.clone();
            s.push('^');
            s.push_str(t);
            Some(s)
        }
        (Some(c), None) => Some(c.clone()),
        _ => None,
    };
    let is_ack = info.msa.is_some();
    let (ack_code, acked_control_id) = info.msa.unwrap_or((None, None));
    Hl7Event(Box::new(Hl7Fields {
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
        ..Hl7Fields::default()
    }))
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
        out.push(AppEvent::Hl7(Hl7Event(Box::new(Hl7Fields {
            kind: "summary",
            summary: Some(sum),
            ..Hl7Fields::default()
        }))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction::{ToClient, ToServer};
    use proptest::prelude::*;

    fn framed(m: &[u8]) -> Vec<u8> {
        [&[SB], m, &[0x1C, 0x0D]].concat()
    }

    // The ADT^A01 example of HL7 v2.5 chapter 2 (message construction example: "GOOD HEALTH HOSPITAL",
    // control id MSG00001, patient EVERYMAN^ADAM; all values are the standard's own synthetic ones), and
    // an original-mode accept acknowledgment of it as in chapter 2's original-mode acknowledgment rules and MSA (MSA-1 AA, MSA-2 the
    // acknowledged MSH-10).
    const ADT_A01: &[u8] = b"MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB, INC.|GOOD HEALTH HOSPITAL|198808181126|SECURITY|ADT^A01^ADT_A01|MSG00001|P|2.5\r\
EVN|A01|200708181123||\r\
PID|1||PATID1234^^^GOOD HEALTH HOSPITAL^MR~123456789^^^USSSA^SS||EVERYMAN^ADAM^A^III||19610615|M||C|2222 HOME STREET^^GREENSBORO^NC^27401-1020|GL|(555) 555-2004|(555)555-2004||S||PATID12345001^2^M10^ADT1^AN^A|444333333|987654^NC|\r\
NK1|1|NUCLEAR^NELDA^W|SPO^SPOUSE||||NK^NEXT OF KIN\r\
PV1|1|I|2000^2012^01||||004777^ATTEND^AARON^A|||SUR||||ADM|A0|\r";
    const ACK_A01: &[u8] = b"MSH|^~\\&|GHH LAB, INC.|GOOD HEALTH HOSPITAL|ADT1|GOOD HEALTH HOSPITAL|198808181127||ACK^A01^ACK|ACK00001|P|2.5\rMSA|AA|MSG00001\r";

    // A device result (IHE PCD-01 style ORU^R01 with MDC codes) and a negative ACK with ERR.
    const ORU: &[u8] = b"MSH|^~\\&|PAT_MON^ACDE48234567ABCD^EUI-64|ICU|DOC|HOSP|20240315101500+0100||ORU^R01^ORU_R01|PCD0001|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r\
PID|||PT-990011^^^HOSP^MR||ZZTESTLAST^ZZTESTFIRST||19450704|F\r\
PV1||I|ICU^BED7\r\
OBR|1|||182777000^monitoring of patient^SCT|||20240315101500\r\
OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R|||20240315101500\r\
OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.2|71|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R\r\
NTE|1||Patient ZZTESTFIRST complains \\T\\ note \\X0D0A\\\r";
    const NAK_ORU: &[u8] = b"MSH|^~\\&|DOC|HOSP|PAT_MON|ICU|20240315101501||ACK^R01^ACK|DOC0001|P|2.6\rMSA|AE|PCD0001\rERR||OBX^1|207^Application internal error^HL70357|E\r";

    type Conv = Vec<(Direction, Vec<u8>, Ts)>;

    fn conversation() -> Conv {
        vec![
            (ToServer, framed(ADT_A01), Ts(1_000_000)),
            (ToClient, framed(ACK_A01), Ts(3_500_000)),
            (
                ToServer,
                [framed(ORU), b"\x00junk".to_vec(), framed(b"PID|1")].concat(),
                Ts(4_000_000),
            ),
            (ToClient, framed(NAK_ORU), Ts(9_000_000)),
            (
                ToServer,
                [
                    framed(&ADT_A01.replace_all(b"MSG00001", b"MSG00002")),
                    framed(b"MSH|^~\\&|X|Y|Z|W|2024||ADT^A08|MSG00003|P|2.5\nEVN|A08\n"),
                ]
                .concat(),
                Ts(10_000_000),
            ),
            (
                ToClient,
                framed(b"MSH|^~\\&|A|B|C|D|2024||ACK|Q1|P|2.5\rMSA|AA|NEVERSENT\r"),
                Ts(11_000_000),
            ),
        ]
    }

    trait ReplaceAll {
        fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }
    impl ReplaceAll for [u8] {
        fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < self.len() {
                if self[i..].starts_with(from) {
                    out.extend_from_slice(to);
                    i += from.len();
                } else {
                    out.push(self[i]);
                    i += 1;
                }
            }
            out
        }
    }

    /// Feeds a conversation, each chunk cut by `cuts(chunk index, len)` into pieces.
    fn run_with(conv: &Conv, mut cuts: impl FnMut(usize, usize) -> Vec<usize>) -> Vec<AppEvent> {
        let mut p = Hl7Parser::new();
        let mut out = Vec::new();
        for (i, (dir, data, ts)) in conv.iter().enumerate() {
            let mut at = 0;
            let mut points = cuts(i, data.len());
            points.push(data.len());
            for c in points {
                let c = c.clamp(at, data.len());
                let _ = p.feed(*dir, &data[at..c], *ts, &mut out);
                at = c;
            }
        }
        p.end(Ts(20_000_000), &mut out);
        out
    }

    fn run(conv: &Conv) -> Vec<AppEvent> {
        run_with(conv, |_, _| vec![])
    }

    fn hl7(e: &AppEvent) -> &Hl7Fields {
        match e {
            AppEvent::Hl7(h) => &h.0,
            other => panic!("not hl7: {other:?}"),
        }
    }

    fn kinds(ev: &[AppEvent]) -> Vec<&'static str> {
        ev.iter()
            .filter_map(|e| match e {
                AppEvent::Anomaly(a) => Some(a.kind),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn chapter2_adt_a01_and_its_ack() {
        let conv: Conv = vec![
            (ToServer, framed(ADT_A01), Ts(1_000_000)),
            (ToClient, framed(ACK_A01), Ts(3_500_000)),
        ];
        let ev = run(&conv);
        assert_eq!(ev.len(), 3, "{ev:#?}");
        let m = hl7(&ev[0]);
        assert_eq!(m.kind, "message");
        assert_eq!(m.framing, Some("mllp"));
        assert_eq!(m.message_type.as_deref(), Some("ADT^A01"));
        assert_eq!(m.message_structure.as_deref(), Some("ADT_A01"));
        assert_eq!(m.control_id.as_deref(), Some("MSG00001"));
        assert_eq!(m.version.as_deref(), Some("2.5"));
        assert_eq!(m.processing_id.as_deref(), Some("P"));
        assert_eq!(m.message_datetime.as_deref(), Some("198808181126"));
        assert_eq!(m.sending_application.as_deref(), Some("ADT1"));
        assert_eq!(m.sending_facility.as_deref(), Some("GOOD HEALTH HOSPITAL"));
        assert_eq!(m.receiving_application.as_deref(), Some("GHH LAB, INC."));
        assert_eq!(m.bytes, ADT_A01.len() as u64);
        let segs: Vec<&str> = m.segments.iter().map(SegId::as_str).collect();
        assert_eq!(segs, ["MSH", "EVN", "PID", "NK1", "PV1"]);
        let phi: Vec<&str> = m.phi_segments.iter().map(SegId::as_str).collect();
        assert_eq!(phi, ["PID", "NK1", "PV1"]);
        let a = hl7(&ev[1]);
        assert_eq!(a.kind, "ack");
        assert_eq!(a.direction, Some(ToClient));
        assert_eq!(a.ack_code.as_deref(), Some("AA"));
        assert_eq!(a.acked_control_id.as_deref(), Some("MSG00001"));
        assert_eq!(a.paired, Some(true));
        assert_eq!(a.acked_message_type.as_deref(), Some("ADT^A01"));
        assert_eq!(a.ack_latency_us, Some(2_500));
        let s = hl7(&ev[2]).summary.as_ref().unwrap();
        assert_eq!(
            (s.to_server.messages, s.to_server.acked, s.to_server.unacked),
            (1, 1, 0)
        );
        assert_eq!((s.to_client.acks, s.to_client.unsolicited_acks), (1, 0));
        // The EVE field names of the contract.
        let j = serde_json::to_value(&ev[1]).unwrap();
        for k in [
            "type",
            "message_type",
            "control_id",
            "version",
            "sending_application",
            "sending_facility",
            "receiving_application",
            "receiving_facility",
            "segments",
            "ack_code",
            "acked_control_id",
            "framing",
        ] {
            assert!(j.get(k).is_some(), "{k} missing in {j}");
        }
        let j = serde_json::to_value(&ev[0]).unwrap();
        assert_eq!(j["phi_segments"], serde_json::json!(["PID", "NK1", "PV1"]));
        assert_eq!(j["segment_counts"]["PID"], 1);
        assert!(j.get("ack_code").is_none());
    }

    #[test]
    fn conversation_pairs_naks_and_summarises() {
        let ev = run(&conversation());
        assert_eq!(
            kinds(&ev),
            [
                "garbage_between_frames",
                "missing_msh",
                "non_cr_segment_terminator"
            ]
        );
        let h: Vec<&Hl7Fields> = ev
            .iter()
            .filter_map(|e| match e {
                AppEvent::Hl7(h) => Some(&*h.0),
                _ => None,
            })
            .collect();
        let types: Vec<(&str, Option<&str>)> = h
            .iter()
            .map(|e| (e.kind, e.message_type.as_deref()))
            .collect();
        assert_eq!(
            types,
            [
                ("message", Some("ADT^A01")),
                ("ack", Some("ACK^A01")),
                ("message", Some("ORU^R01")),
                ("ack", Some("ACK^R01")),
                ("message", Some("ADT^A01")),
                ("message", Some("ADT^A08")),
                ("ack", Some("ACK")),
                ("summary", None),
            ]
        );
        let oru = h[2];
        assert_eq!(oru.obx_count, 2);
        assert_eq!(oru.observations[0].code, "150456");
        assert_eq!(oru.observations[0].coding_system.as_deref(), Some("MDC"));
        assert_eq!(oru.observations[0].status.as_deref(), Some("R"));
        assert_eq!(
            oru.sending_application.as_deref(),
            Some("PAT_MON^ACDE48234567ABCD^EUI-64")
        );
        let nak = h[3];
        assert_eq!(nak.ack_code.as_deref(), Some("AE"));
        assert!(nak.err_present);
        assert_eq!(nak.err_code.as_deref(), Some("207"));
        assert_eq!(nak.ack_latency_us, Some(5_000));
        assert_eq!(h[5].segment_terminator, Some("lf"));
        assert_eq!(h[6].paired, Some(false));
        let s = h[7].summary.as_ref().unwrap();
        assert_eq!(
            s.to_server,
            DirSummary {
                messages: 4,
                acks: 0,
                malformed: 1,
                bytes: s.to_server.bytes,
                acked: 2,
                negative_acks: 1,
                unacked: 2,
                unacked_control_ids: vec!["MSG00002".into(), "MSG00003".into()],
                unsolicited_acks: 0,
                repeated_acks: 0,
                mllp_commit_acks: 0,
                mllp_commit_naks: 0,
            }
        );
        assert_eq!((s.to_client.acks, s.to_client.unsolicited_acks), (3, 1));
    }

    fn json(ev: &[AppEvent]) -> Vec<String> {
        ev.iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect()
    }

    #[test]
    fn every_split_gives_the_same_events() {
        let conv = conversation();
        let whole = json(&run(&conv));
        for (i, (_, data, _)) in conv.iter().enumerate() {
            for cut in 0..=data.len() {
                let got = json(&run_with(
                    &conv,
                    |j, _| if j == i { vec![cut] } else { vec![] },
                ));
                assert_eq!(got, whole, "chunk {i} cut at {cut}");
            }
        }
        let bytewise = json(&run_with(&conv, |_, len| (1..len).collect()));
        assert_eq!(bytewise, whole);
    }

    #[test]
    fn unframed_conversation() {
        let conv: Conv = vec![
            (ToServer, ADT_A01.to_vec(), Ts(1_000_000)),
            (ToClient, ACK_A01.to_vec(), Ts(2_000_000)),
            (ToServer, ORU.to_vec(), Ts(3_000_000)),
            (ToClient, NAK_ORU.to_vec(), Ts(4_000_000)),
        ];
        let ev = run(&conv);
        assert!(kinds(&ev).is_empty(), "{:?}", kinds(&ev));
        let h: Vec<&Hl7Fields> = ev.iter().map(hl7).collect();
        assert_eq!(h.len(), 5);
        assert!(h[..4].iter().all(|e| e.framing == Some("none")));
        assert_eq!(h[1].paired, Some(true));
        assert_eq!(h[1].ack_latency_us, Some(1_000));
        assert_eq!(h[3].paired, Some(true));
        assert_eq!(h[3].ack_code.as_deref(), Some("AE"));
        let bytewise = json(&run_with(&conv, |_, len| (1..len).collect()));
        assert_eq!(bytewise, json(&ev));
        // Two unframed messages back to back in one direction.
        let ev = run(&vec![(ToServer, [ADT_A01, ORU].concat(), Ts(0))]);
        let h: Vec<&Hl7Fields> = ev.iter().map(hl7).collect();
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].bytes, ADT_A01.len() as u64);
        assert_eq!(h[1].message_type.as_deref(), Some("ORU^R01"));
    }

    #[test]
    fn duplicate_control_id_and_pending_overflow() {
        let mut conv: Conv = vec![(ToServer, [framed(ADT_A01), framed(ADT_A01)].concat(), Ts(0))];
        let ev = run(&conv);
        assert!(hl7(&ev[1]).duplicate_control_id);
        assert_eq!(hl7(&ev[2]).summary.as_ref().unwrap().to_server.unacked, 1);
        conv.clear();
        let mut data = Vec::new();
        for i in 0..300 {
            data.extend(framed(
                format!("MSH|^~\\&|A|B|C|D|2024||ORU^R01|C{i}|P|2.5\r").as_bytes(),
            ));
        }
        conv.push((ToServer, data, Ts(0)));
        let ev = run(&conv);
        assert_eq!(kinds(&ev), ["pending_overflow"]);
        let s = hl7(ev.last().unwrap()).summary.clone().unwrap();
        assert_eq!(s.to_server.unacked, 300);
        assert_eq!(s.to_server.unacked_control_ids.len(), MAX_UNACKED_LISTED);
        assert_eq!(s.to_server.unacked_control_ids[0], "C44");
    }

    #[test]
    fn enhanced_mode_commit_then_application_ack() {
        // HL7 v2.5 chapter 2, enhanced-mode acknowledgment: CA (commit accept), then the application's AE.
        let ca = b"MSH|^~\\&|L|H|A|H|2024||ACK^A01^ACK|C1|P|2.5\rMSA|CA|MSG00001\r";
        let ae = b"MSH|^~\\&|L|H|A|H|2024||ACK^A01^ACK|C2|P|2.5\rMSA|AE|MSG00001\r";
        let conv: Conv = vec![
            (ToServer, framed(ADT_A01), Ts(0)),
            (ToClient, framed(ca), Ts(1_000)),
            (ToClient, framed(ae), Ts(2_000)),
        ];
        let ev = run(&conv);
        assert!(kinds(&ev).is_empty(), "{:?}", kinds(&ev));
        assert_eq!(
            (hl7(&ev[1]).paired, hl7(&ev[1]).repeated_ack),
            (Some(true), false)
        );
        assert_eq!(
            (hl7(&ev[2]).paired, hl7(&ev[2]).repeated_ack),
            (Some(true), true)
        );
        let s = hl7(&ev[3]).summary.clone().unwrap();
        assert_eq!((s.to_server.acked, s.to_server.negative_acks), (1, 1));
        assert_eq!(
            (s.to_client.repeated_acks, s.to_client.unsolicited_acks),
            (1, 0)
        );
    }

    #[test]
    fn mllp2_commit_acks_counted_in_summary() {
        // MLLP release 2: the receiver commits each block with <SB>0x06<EB><CR> before the HL7 ACK.
        let conv: Conv = vec![
            (ToServer, framed(ADT_A01), Ts(0)),
            (ToClient, framed(&[0x06]), Ts(1_000)),
            (ToClient, framed(ACK_A01), Ts(2_000)),
        ];
        let ev = run(&conv);
        assert!(kinds(&ev).is_empty(), "{:?}", kinds(&ev));
        assert_eq!(ev.len(), 3);
        let s = hl7(&ev[2]).summary.clone().unwrap();
        assert_eq!((s.to_client.mllp_commit_acks, s.to_server.acked), (1, 1));
    }

    #[test]
    fn anomaly_flood_stops_the_parser() {
        let mut p = Hl7Parser::new();
        let mut out = Vec::new();
        let junk: Vec<u8> = (0..10_000).flat_map(|_| [SB, b'X', 0x1C, 0x0D]).collect();
        assert_eq!(p.feed(ToServer, &junk, Ts(0), &mut out), Progress::Done);
        let n = kinds(&out).len();
        assert_eq!(n, MAX_ANOMALIES as usize + 1);
        assert_eq!(kinds(&out).last(), Some(&"too_many_anomalies"));
        assert_eq!(p.feed(ToServer, &junk, Ts(0), &mut out), Progress::Done);
        assert_eq!(kinds(&out).len(), n);
    }

    #[test]
    fn megabytes_without_end_block() {
        let mut p = Hl7Parser::new();
        let mut out = Vec::new();
        let mut data = vec![SB];
        data.extend_from_slice(ADT_A01);
        data.extend(std::iter::repeat_n(b'A', 4 << 20));
        for c in data.chunks(65536) {
            assert_eq!(p.feed(ToServer, c, Ts(0), &mut out), Progress::Continue);
        }
        let _ = p.feed(ToServer, &framed(ORU), Ts(0), &mut out);
        p.end(Ts(0), &mut out);
        assert_eq!(kinds(&out), ["message_too_large"]);
        assert_eq!(hl7(&out[1]).message_type.as_deref(), Some("ORU^R01"));
    }

    #[test]
    fn gap_inside_a_message() {
        let mut p = Hl7Parser::new();
        let mut out = Vec::new();
        let a = framed(ADT_A01);
        let _ = p.feed(ToServer, &a[..50], Ts(0), &mut out);
        assert_eq!(p.gap(ToServer, 100, Ts(0), &mut out), Progress::Continue);
        let _ = p.feed(ToServer, &a[150..], Ts(0), &mut out);
        let _ = p.feed(ToServer, &framed(ORU), Ts(0), &mut out);
        p.end(Ts(0), &mut out);
        assert_eq!(kinds(&out), ["gap_in_message"]);
        assert_eq!(hl7(&out[1]).control_id.as_deref(), Some("PCD0001"));
        assert_eq!(
            hl7(&out[2]).summary.as_ref().unwrap().to_server.malformed,
            1
        );
    }

    #[test]
    fn probes() {
        let d = ToServer;
        assert_eq!(probe(d, b""), Probe::NeedMore);
        assert_eq!(probe(d, b"\x0b"), Probe::NeedMore);
        assert_eq!(probe(d, b"\x0bMS"), Probe::NeedMore);
        assert_eq!(probe(d, b"\x0bMSH|^~"), Probe::NeedMore);
        assert_eq!(probe(d, b"\x0bMSH|^~\\&|APP"), Probe::Yes);
        assert_eq!(probe(d, b"MSH|^~\\&|APP"), Probe::Yes);
        assert_eq!(probe(d, b"MSH|^~\\&#|APP"), Probe::Yes);
        assert_eq!(probe(d, b"MSH#$%*@#APP"), Probe::Yes);
        assert_eq!(probe(d, b"MSHA^~\\&|"), Probe::No);
        assert_eq!(probe(d, b"MSH||"), Probe::No);
        assert_eq!(probe(d, b"MSH|^~\\&abc|"), Probe::No);
        assert_eq!(probe(d, b"GET / HTTP/1.1\r\n"), Probe::No);
        assert_eq!(probe(d, b"\x16\x03\x01"), Probe::No);
        assert_eq!(probe(d, b"\x01\x00\x00\x00"), Probe::No);
        assert_eq!(
            crate::detect(d, b"\x0bMSH|^~\\&|X", 40000),
            crate::Detect::Found(Protocol::Hl7)
        );
    }

    // What nmap -sV sent to the hl7apy server's port 2575 in the corpus's noise.pcap (corpus commit
    // 537cf25, tcp.stream 3993-3996; the TLS probes cut to their first 16 bytes): none is HL7.
    #[test]
    fn nmap_service_probes_are_not_hl7() {
        let probes: [&[u8]; 4] = [
            b"\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\n",
            b"\x16\x03\x00\x00S\x01\x00\x00O\x03\x00?G\xd7\xf7\xba",
            b"\x16\x03\x00\x00i\x01\x00\x00e\x03\x03U\x1c\xa7\xe4r",
        ];
        for pr in probes {
            assert_eq!(probe(ToServer, pr), Probe::No, "{pr:?}");
            assert_ne!(
                crate::detect(ToServer, pr, 2575),
                crate::Detect::Found(Protocol::Hl7)
            );
            let ev = run(&vec![(ToServer, pr.to_vec(), Ts(0))]);
            assert!(
                ev.iter().all(|e| matches!(e, AppEvent::Anomaly(_))),
                "{ev:?}"
            );
        }
        // The TLS probe holds 0x1c: it must not be taken for an MLLP end block.
        let ev = run(&vec![(ToServer, probes[3].to_vec(), Ts(0))]);
        assert_eq!(kinds(&ev), ["garbage_between_frames"]);
    }

    // Synthetic patients (invented for this test) in every PHI-bearing place: PID names, ids, birth
    // dates, addresses, NK1, GT1, IN1, MRG, NTE free text, OBX-5 values, a stray CR inside free text,
    // a Z-segment, a malformed MSH. None of it may reach an event.
    const PHI: [&str; 12] = [
        "QUIXBERRY",
        "ZELPHINE",
        "MRN778812",
        "19330229",
        "7 ORCHID LANE",
        "OSWYNNE",
        "GRUNDLEFOOT",
        "POLICY55X1",
        "SSN909-12-3434",
        "PRIORMRN42",
        "FELT DIZZY",
        "4242.5",
    ];

    fn phi_stream() -> Vec<u8> {
        let m = b"MSH|^~\\&|LAB|H|EHR|H|20240101||ADT^A01^ADT_A01|PHI1|P|2.5\r\
EVN|A01\r\
PID|1||MRN778812^^^H^MR~SSN909-12-3434^^^SSA^SS||QUIXBERRY^ZELPHINE^Q||19330229|F|||7 ORCHID LANE^^TOWN\r\
PD1|||OSWYNNE CLINIC\r\
NK1|1|QUIXBERRY^OSWYNNE|SPO\r\
PV1|1|I|W1^R2^B3||||123^GRUNDLEFOOT^DOC\r\
MRG|PRIORMRN42\r\
GT1|1||QUIXBERRY^ZELPHINE\r\
IN1|1|PLAN|INS|ACME||||||||||||QUIXBERRY^ZELPHINE|SEL|19330229|||||||||||||||||POLICY55X1\r\
NTE|1||ZELPHINE said she FELT DIZZY\rQUIXBERRY continued on a new line\r\
OBX|1|NM|8867-4^Heart rate^LN||4242.5|/min|||||F\r\
ZPI|QUIXBERRY|19330229\r";
        let mut s = framed(m);
        s.extend(framed(&m.replace_all(b"MSH|^~\\&", b"MSH|^~\\&QUIXBERRY")));
        s.extend(framed(&m.replace_all(b"|PHI1|", b"||")));
        s.extend(m.iter().copied());
        s
    }

    #[test]
    fn no_phi_in_events() {
        let conv: Conv = vec![(ToServer, phi_stream(), Ts(0))];
        let ev = run(&conv);
        let text = json(&ev).join("\n");
        for p in PHI {
            assert!(!text.contains(p), "{p} leaked: {text}");
        }
        // It did decode: the events say which PHI segments were present.
        assert!(
            text.contains(
                r#""phi_segments":["PID","PD1","NK1","PV1","MRG","GT1","IN1","NTE","OBX"]"#
            ),
            "{text}"
        );
        assert!(text.contains("8867-4"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_splits_give_identical_events(cuts in proptest::collection::vec(0usize..4000, 0..12)) {
            let conv = conversation();
            let whole = json(&run(&conv));
            let got = json(&run_with(&conv, |_, len| {
                let mut c: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
                c.sort_unstable();
                c
            }));
            prop_assert_eq!(got, whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..12),
            gap in any::<bool>(),
        ) {
            let mut p = Hl7Parser::new();
            let mut out = Vec::new();
            for (d, c) in &chunks {
                let dir = if *d { ToServer } else { ToClient };
                let _ = p.feed(dir, c, Ts(0), &mut out);
                if gap {
                    let _ = p.gap(dir, 3, Ts(0), &mut out);
                }
            }
            p.end(Ts(0), &mut out);
            prop_assert!(kinds(&out).len() <= MAX_ANOMALIES as usize + 1);
        }

        #[test]
        fn hl7_shaped_bytes_never_panic_and_leak_nothing(
            parts in proptest::collection::vec(prop_oneof![
                Just(b"\x0b".to_vec()), Just(b"\x1c\x0d".to_vec()), Just(b"MSH|^~\\&|".to_vec()),
                Just(b"\r".to_vec()), Just(b"\n".to_vec()), Just(b"|".to_vec()), Just(b"^".to_vec()),
                Just(b"\rPID|1||QUIXBERRY^ZELPHINE||19330229".to_vec()), Just(b"MSA|AA|".to_vec()),
                Just(b"\rOBX|1|NM|1^x^MDC||4242.5".to_vec()), Just(b"ACK^A01|C1|P|2.5".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..8),
            ], 0..60),
            step in 1usize..50,
        ) {
            // The PHI parts start their own segment (MSH fields are reported as given, so a value
            // concatenated into MSH would be, legitimately, reported).
            let mut p = Hl7Parser::new();
            let mut out = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let dir = if i % 5 == 0 { ToClient } else { ToServer };
                for c in part.chunks(step) {
                    let _ = p.feed(dir, c, Ts(i as u64), &mut out);
                }
            }
            p.end(Ts(0), &mut out);
            for e in &out {
                if let AppEvent::Hl7(h) = e {
                    let s = serde_json::to_string(h).unwrap();
                    prop_assert!(!s.contains("QUIXBERRY") && !s.contains("19330229") && !s.contains("4242.5"), "{}", s);
                }
            }
        }
    }
}

#[cfg(test)]
mod corpus {
    //! Real captures from the corpus (captures/hl7/ as re-recorded in corpus commit 537cf25):
    //! * `python-hl7.pcap`: python-hl7 0.4.5 asyncio MLLP server 172.30.0.13:6661 with persistent
    //!   connections (monitor, pump, ADT sender), plus unframed HL7 over TCP 172.30.0.54 -> .14:5001;
    //! * `hl7apy.pcap`: hl7apy 1.3.5 MLLPServer 172.30.0.12:2575, python-hl7 MLLP clients, one message
    //!   per connection.
    //!
    //! `testdata/corpus.bin` holds their TCP payloads per flow and direction, made with
    //! `python3 testdata/extract.py testdata/corpus.bin python-hl7.pcap hl7apy.pcap` (flows 0-3 are
    //! python-hl7's tcp.stream 0-3, flows 4-27 hl7apy's tcp.stream 0-23).
    use super::*;
    use std::collections::BTreeMap;

    const FIXTURE: &[u8] = include_bytes!("testdata/corpus.bin");
    const PATIENTS: &str = include_str!("testdata/synthetic_patients.tsv");

    /// Feeds every flow of the fixture to its own parser; returns the events per flow.
    fn replay(split: usize) -> BTreeMap<u32, Vec<AppEvent>> {
        let mut data = FIXTURE.strip_prefix(b"HL7FIX1\n".as_slice()).unwrap();
        let mut parsers: BTreeMap<u32, Hl7Parser> = BTreeMap::new();
        let mut events: BTreeMap<u32, Vec<AppEvent>> = BTreeMap::new();
        let mut last = Ts(0);
        while !data.is_empty() {
            let flow = u32::from_le_bytes(data[..4].try_into().unwrap());
            let dir = if data[4] == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let ts = Ts(u64::from_le_bytes(data[5..13].try_into().unwrap()));
            let len = u32::from_le_bytes(data[13..17].try_into().unwrap()) as usize;
            let payload = &data[17..17 + len];
            data = &data[17 + len..];
            last = ts;
            let p = parsers.entry(flow).or_default();
            let out = events.entry(flow).or_default();
            for c in payload.chunks(split) {
                let _ = p.feed(dir, c, ts, out);
            }
        }
        for (flow, p) in &mut parsers {
            p.end(last, events.get_mut(flow).unwrap());
        }
        events
    }

    fn hl7_events(ev: &[AppEvent]) -> impl Iterator<Item = &Hl7Fields> {
        ev.iter().filter_map(|e| match e {
            AppEvent::Hl7(h) => Some(&*h.0),
            _ => None,
        })
    }

    /// Message types per capture, as tshark 4.0.17's HL7 dissector counts them:
    /// `tshark -r python-hl7.pcap -d tcp.port==6661,hl7 -d tcp.port==5001,hl7 -Y hl7 -T fields
    ///  -e tcp.stream -e hl7.message.type -e hl7.event.type` (comma lists split; 54 messages in
    /// tcp.stream 0/1/2: 22/10/22) and `tshark -r hl7apy.pcap -d tcp.port==2575,hl7 ...` (48 messages,
    /// 2 per stream in all 24 streams). tshark does not dissect the unframed flow (python-hl7 stream 3,
    /// port 5001); its payload holds 3 `MSH|` per direction (counted over `tcp.payload`), 3 ORU^R01 and
    /// their 3 ACKs, which are added below.
    const PYTHON_HL7: [(&str, u32); 14] = [
        ("ACK^A01", 2),
        ("ACK^A03", 1),
        ("ACK^A04", 1),
        ("ACK^A08", 4),
        ("ACK^M02", 1),
        ("ACK^O01", 2),
        ("ACK^R01", 16),
        ("ADT^A01", 2),
        ("ADT^A03", 1),
        ("ADT^A04", 1),
        ("ADT^A08", 4),
        ("MFN^M02", 1),
        ("ORM^O01", 2),
        ("ORU^R01", 16),
    ];
    const HL7APY: [(&str, u32); 14] = [
        ("ACK", 3),
        ("ACK^A01", 2),
        ("ACK^A03", 1),
        ("ACK^A08", 2),
        ("ACK^M02", 1),
        ("ACK^O01", 2),
        ("ACK^R01", 13),
        ("ADT^A01", 2),
        ("ADT^A03", 2),
        ("ADT^A04", 1),
        ("ADT^A08", 2),
        ("MFN^M02", 1),
        ("ORM^O01", 3),
        ("ORU^R01", 13),
    ];

    #[test]
    fn corpus_captures_match_tshark() {
        let events = replay(usize::MAX);
        let mut got: [BTreeMap<String, u32>; 2] = Default::default();
        let mut per_flow = BTreeMap::new();
        let mut unframed = BTreeMap::new();
        for (flow, ev) in &events {
            let anomalies: Vec<&crate::Anomaly> = ev
                .iter()
                .filter_map(|e| match e {
                    AppEvent::Anomaly(a) => Some(a),
                    _ => None,
                })
                .collect();
            assert!(
                anomalies.is_empty(),
                "flow {flow}: {anomalies:?} on a real peer's traffic"
            );
            for h in hl7_events(ev).filter(|h| h.kind != "summary") {
                let t = h.message_type.as_deref().unwrap().to_string();
                if *flow == 3 {
                    assert_eq!(h.framing, Some("none"));
                    *unframed.entry(t).or_insert(0) += 1;
                } else {
                    assert_eq!(h.framing, Some("mllp"));
                    *got[usize::from(*flow >= 4)].entry(t).or_insert(0) += 1;
                }
                *per_flow.entry(*flow).or_insert(0) += 1;
            }
            // Every message was acknowledged, in every flow.
            let s = hl7_events(ev).find(|h| h.kind == "summary").unwrap();
            let s = s.summary.as_ref().unwrap();
            assert_eq!(
                (s.to_server.unacked, s.to_client.unacked),
                (0, 0),
                "flow {flow}"
            );
            assert_eq!(s.to_server.acked, s.to_server.messages, "flow {flow}");
            assert_eq!(s.to_client.unsolicited_acks, 0, "flow {flow}");
        }
        let want = |t: &[(&str, u32)]| -> BTreeMap<String, u32> {
            t.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        assert_eq!(got[0], want(&PYTHON_HL7));
        assert_eq!(got[1], want(&HL7APY));
        assert_eq!(unframed, want(&[("ACK^R01", 3), ("ORU^R01", 3)]));
        assert_eq!(per_flow.get(&0), Some(&22));
        assert_eq!(per_flow.get(&1), Some(&10));
        assert_eq!(per_flow.get(&2), Some(&22));
        assert!((4..28).all(|f| per_flow.get(&f) == Some(&2)));
        // The corpus's negative ACKs: MFN^M02 -> AR and ORU without PID -> AE (hl7apy), AE/AR from
        // python-hl7's server.
        let naks: Vec<(u32, String)> = events
            .iter()
            .flat_map(|(f, ev)| hl7_events(ev).map(move |h| (*f, h)))
            .filter(|(_, h)| matches!(h.ack_code.as_deref(), Some("AE" | "AR")))
            .map(|(f, h)| (f, h.ack_code.as_deref().unwrap().to_string()))
            .collect();
        assert!(naks.iter().any(|(f, c)| *f >= 4 && c == "AR"), "{naks:?}");
        assert!(naks.iter().any(|(f, c)| *f >= 4 && c == "AE"), "{naks:?}");
        assert!(naks.iter().any(|(f, _)| *f < 4), "{naks:?}");
        // Device results carry MDC observation identifiers.
        assert!(events.values().flat_map(|ev| hl7_events(ev)).any(|h| h
            .observations
            .iter()
            .any(|o| o.coding_system.as_deref() == Some("MDC"))));
    }

    #[test]
    fn corpus_splits_give_identical_events() {
        let json = |m: BTreeMap<u32, Vec<AppEvent>>| -> Vec<String> {
            m.values()
                .flatten()
                .map(|e| serde_json::to_string(e).unwrap())
                .collect()
        };
        let whole = json(replay(usize::MAX));
        for split in [1, 2, 3, 7, 16, 100] {
            assert_eq!(json(replay(split)), whole, "split {split}");
        }
    }

    /// None of the corpus's synthetic patient values (captures/phi/synthetic_patients.tsv, copied to
    /// testdata/) appears in any event, though each is in the replayed bytes.
    #[test]
    fn corpus_phi_never_in_events() {
        let text: String = replay(usize::MAX)
            .values()
            .flatten()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        let mut checked = 0;
        for line in PATIENTS.lines().skip(1) {
            let (_, value) = line.split_once('\t').unwrap();
            assert!(!text.contains(value), "{value} leaked");
            if FIXTURE.windows(value.len()).any(|w| w == value.as_bytes()) {
                checked += 1;
            }
        }
        // All but the six ISO-format birth dates occur in the captures.
        assert_eq!(checked, 36);
        assert!(text.contains("\"phi_segments\":[\"PID\""));
    }
}
