//! DICOM network protocol: the Upper Layer (PS3.8 §9.3) and DIMSE messages (PS3.7 §9.3 and §10.3),
//! streamed, zero-copy for bulk data, and safe under hostile input.
//!
//! # What is decoded
//!
//! * Every UL PDU (PS3.8 §9.3.1–§9.3.8, module [`ul`]): A-ASSOCIATE-RQ/AC (calling and called AE titles,
//!   application context, presentation contexts with abstract and transfer syntaxes and result, maximum
//!   PDU length, Implementation Class UID and Version Name, SCP/SCU role selection, asynchronous
//!   operations window, user identity *type* — never the credential — and extended negotiation counts),
//!   A-ASSOCIATE-RJ (result, source, reason), A-RELEASE-RQ/RP, A-ABORT (source, reason), and P-DATA-TF.
//! * P-DATA-TF PDV items (PS3.8 §9.3.5.1) with the message control header of PS3.8 Annex E (command or
//!   data set fragment, last fragment). PS3.8 Annex E.1: no fragment of another message may be sent until
//!   the current message is complete (`interleaved_message`), one P-DATA-TF carries PDVs of one message
//!   only (`pdu_spans_messages`), and every fragment has an even length (`odd_fragment_length`).
//! * The command set (module [`dimse`], group 0000 in Implicit VR Little Endian, PS3.5 §7.1.3) is
//!   gathered whole across PDVs and PDUs into a buffer capped at [`COMMAND_CAP`] bytes and decoded:
//!   command name (`C-STORE-RQ` …), message ids, SOP class/instance, priority, move destination, status
//!   and its class (PS3.7 Annex C), sub-operation counts, data set type.
//! * Data sets are counted and skipped by count, never copied, except C-FIND/C-MOVE/C-GET request
//!   identifiers, whose first [`IDENT_CAP`] bytes are kept only long enough to note which query keys are
//!   present and what kind of matching they ask for (universal, wildcard, range, list, single) plus the
//!   Query/Retrieve level. No value of a key leaves the parser: patient name, ID, birth date, accession
//!   number and every other value are never put in an event.
//! * Requests and responses are paired by message id (latency in µs); each association gets counters and
//!   an `association_end` summary at A-RELEASE-RP, A-ABORT, A-ASSOCIATE-RJ or the end of the flow.
//! * How an implementation packs PDVs (command and first data fragment in one PDU or not, fragment
//!   counts, largest data fragment, largest PDU each way) is reported for fingerprinting.
//!
//! # Allocation bounds (per flow)
//!
//! Per direction: PDU header 6 bytes, PDV header 6 bytes, an association PDU body up to
//! [`ASSOC_PDU_CAP`], a command set up to [`COMMAND_CAP`], a query identifier up to [`IDENT_CAP`], a
//! resync window of 16 bytes. Per association: at most 128 presentation contexts, [`MAX_OUTSTANDING`]
//! unanswered requests, [`MAX_STORED_CLASSES`] distinct stored SOP classes, [`MAX_STATUS_CODES`] distinct
//! status codes. No allocation is sized by a length field; a P-DATA PDU of any length costs nothing more.
//!
//! # Anomaly kinds (`AppEvent::anomaly("dicom", kind, detail)`)
//!
//! | kind | meaning | then |
//! |---|---|---|
//! | `unknown_pdu_type` | PDU type outside 0x01..=0x07 | resync |
//! | `pdu_length_absurd` | P-DATA length over the negotiated maximum and over [`PDATA_HARD_CAP`] | resync |
//! | `pdu_length_over_max` | P-DATA length over the peer's negotiated maximum (once per direction) | go on |
//! | `associate_pdu_too_large` | A-ASSOCIATE-RQ/AC over [`ASSOC_PDU_CAP`] | skip or resync |
//! | `associate_pdu_too_short` | under the 68-byte fixed part | go on |
//! | `bad_pdu_length` | RJ/RELEASE/ABORT length other than 4 | skip (≤ 64) or resync |
//! | `item_overruns_pdu` | an item or sub-item longer than what holds it | keep earlier items |
//! | `unexpected_item`, `bad_sub_item`, `missing_application_context`, `unsupported_protocol_version` | malformed association items | go on |
//! | `pdata_too_short` | P-DATA-TF shorter than one PDV header | skip PDU |
//! | `pdv_overruns_pdu` | a PDV longer than the rest of its PDU, or under 2 bytes | skip PDU |
//! | `bad_message_control_header` | reserved bits of the control header set | go on |
//! | `pdata_before_associate_ac` | P-DATA with no accepted association (once per association) | go on |
//! | `unknown_presentation_context` | a PDV on a context not accepted (once per association) | go on |
//! | `interleaved_message` | a PDV of another context before the current message completed (Annex E.1) | drop old message |
//! | `pdu_spans_messages` | one P-DATA-TF holding PDVs of two messages (Annex E.1; once per association) | go on |
//! | `odd_fragment_length` | a PDV fragment of odd length (Annex E.1; once per association) | go on |
//! | `command_before_dataset_complete`, `dataset_before_command_complete`, `dataset_without_command` | fragments out of order | drop old message |
//! | `command_set_too_large` | command fragments over [`COMMAND_CAP`] | drop message |
//! | `command_set_malformed` | an element cut by the end of the command set | drop message |
//! | `command_missing_element` | a required command element absent (detail lists them) | emit anyway |
//! | `command_bad_element` | an element outside group 0000, or a US value of the wrong size | emit anyway |
//! | `too_many_outstanding_requests` | more than [`MAX_OUTSTANDING`] unanswered requests (once) | stop pairing |
//! | `resync_failed` | [`RESYNC_LIMIT`] bytes after a gap without a plausible PDU header | flow done |
//! | `too_many_anomalies` | [`MAX_ANOMALIES`] anomalies in one flow | flow done |
//!
//! # Gaps
//!
//! A gap inside a PDV or a skipped PDU only shortens what is left to skip: the stream stays in step and
//! the message is marked `gap`. A gap anywhere else drops the message in progress (counted as lost) and
//! resynchronises on the next plausible PDU header ([`ul::plausible_pdu_start`]: known type, zero
//! reserved byte, sane length, for P-DATA a PDV that fits, an accepted odd context id and a valid control
//! header). The first PDU after a resync is on probation: if it turns out malformed the parser silently
//! resyncs again (counted as `false_resyncs`) instead of raising anomalies on garbage.

pub mod dimse;
pub mod ul;

use crate::wire::CapBuf;
use crate::{AppEvent, Direction, Probe, Progress, Protocol, StreamParser, Ts};
use dimse::{CommandSet, Matching, Syntax};
use serde::Serialize;
use std::collections::BTreeMap;
use ul::{PduHeader, PduType, PdvHeader, Plausible, PDU_HEADER_LEN, PDV_HEADER_LEN};

/// Largest A-ASSOCIATE-RQ/AC body buffered (128 contexts with several syntaxes fit easily).
pub const ASSOC_PDU_CAP: usize = 128 * 1024;
/// Largest command set buffered (real ones are 100–300 bytes).
pub const COMMAND_CAP: usize = 16 * 1024;
/// Largest prefix of a query identifier examined for key presence.
pub const IDENT_CAP: usize = 16 * 1024;
/// A P-DATA length above this is absurd unless the peer negotiated a larger maximum.
pub const PDATA_HARD_CAP: u32 = 64 * 1024 * 1024;
/// Unanswered requests tracked per association for pairing.
pub const MAX_OUTSTANDING: usize = 1024;
/// Distinct SOP classes listed in a summary.
pub const MAX_STORED_CLASSES: usize = 64;
/// Distinct status codes counted in a summary.
pub const MAX_STATUS_CODES: usize = 32;
/// Bytes scanned after a gap without finding a PDU header before giving up on the flow.
pub const RESYNC_LIMIT: u64 = 64 * 1024 * 1024;
/// Anomalies per flow before giving up on it.
pub const MAX_ANOMALIES: u32 = 100;

const P: &str = "dicom";

/// One presentation context as reported (RQ: proposed; AC: result and accepted syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresentationContext {
    pub id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abstract_syntax: Option<String>,
    pub transfer_syntaxes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSelection {
    pub sop_class_uid: String,
    pub scu: bool,
    pub scp: bool,
}

/// How one message's fragments were packed (an implementation fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PdvPacking {
    pub command_pdvs: u32,
    pub data_pdvs: u32,
    pub max_data_pdv: u32,
    /// The first data fragment travelled in the PDU that ended the command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_and_data_same_pdu: Option<bool>,
}

/// A query key: its tag and the kind of matching asked for; never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryKeyEvent {
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<&'static str>,
    pub matching: Matching,
    /// A patient-identifying key (present; its value is never reported).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub phi: bool,
}

/// The `association_end` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AssociationSummary {
    /// `release`, `abort`, `reject`, `flow_end`, `superseded` (a new A-ASSOCIATE-RQ), `lost`.
    pub end_reason: &'static str,
    pub duration_us: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub pdus_toserver: u64,
    pub pdus_toclient: u64,
    pub dataset_bytes_toserver: u64,
    pub dataset_bytes_toclient: u64,
    pub messages: u64,
    pub commands: BTreeMap<&'static str, u64>,
    pub status_classes: BTreeMap<&'static str, u64>,
    /// Counts by status code, hex (`"a700"`).
    pub statuses: BTreeMap<String, u64>,
    pub sop_classes_stored: Vec<String>,
    pub failures: u64,
    pub unanswered_requests: u64,
    pub unmatched_responses: u64,
    pub anomalies: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub resyncs: u64,
    pub false_resyncs: u64,
    pub lost_messages: u64,
    pub max_pdu_toserver: u32,
    pub max_pdu_toclient: u32,
    pub max_data_pdv_toserver: u32,
    pub max_data_pdv_toclient: u32,
    pub command_data_same_pdu: u64,
    pub command_data_separate_pdu: u64,
    pub pdus_over_max: u64,
}

/// The EVE `dicom` object: a boxed [`DicomRecord`] (one pointer wide, so [`AppEvent`] stays small);
/// it serialises exactly as the record and derefs to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(transparent)]
pub struct DicomEvent(pub Box<DicomRecord>);

impl std::ops::Deref for DicomEvent {
    type Target = DicomRecord;
    fn deref(&self) -> &DicomRecord {
        &self.0
    }
}

impl std::ops::DerefMut for DicomEvent {
    fn deref_mut(&mut self) -> &mut DicomRecord {
        &mut self.0
    }
}

/// The fields of the EVE `dicom` object. `type` says which are set; `None` fields are left out of the
/// JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DicomRecord {
    /// `associate_rq`, `associate_ac`, `associate_rj`, `release_rq`, `release_rp`, `abort`, `command`,
    /// `association_end`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calling_ae: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_ae: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation_class_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pdu_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub async_ops_invoked: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub async_ops_performed: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presentation_contexts: Option<Vec<PresentationContext>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_selections: Option<Vec<RoleSelection>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity_response_requested: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity_server_response: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_negotiations: Option<u16>,
    /// A-ASSOCIATE-RJ result, A-ASSOCIATE-RJ/A-ABORT source and reason: names and codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<u8>,
    /// PS3.7 name (`C-STORE-RQ`), or `unknown-0x....`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_field: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presentation_context_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id_responded: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_class_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub move_destination: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub move_originator_ae: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_class: Option<&'static str>,
    /// The response carried an Error Comment (its text is never reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_comment_present: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_suboperations: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_suboperations: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_suboperations: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_suboperations: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_dataset: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_bytes: Option<u64>,
    /// Response: time since its request completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// Response to no request seen on this association.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdv: Option<PdvPacking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_keys: Option<Vec<QueryKeyEvent>>,
    /// Every key asks for universal or match-everything wildcard matching: a bulk query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_bulk: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_phi_keys: Option<bool>,
    /// The identifier was longer than examined, or could not be walked to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_truncated: Option<bool>,
    /// The message did not complete (abort, flow end, out-of-order fragments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<bool>,
    /// Bytes of the message were lost in a capture gap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<bool>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub summary: Option<AssociationSummary>,
}

impl DicomEvent {
    fn new(kind: &'static str, dir: Option<Direction>) -> Self {
        DicomEvent(Box::new(DicomRecord {
            kind,
            direction: dir,
            ..Default::default()
        }))
    }
}

/// Wire text to a bounded, printable owned string: DICOM padding trimmed, anything outside printable
/// ASCII replaced by `?`, at most `max` characters.
fn text(b: &[u8], max: usize) -> String {
    let t = dimse::trim(b);
    let t = t.get(..max).unwrap_or(t);
    match std::str::from_utf8(t) {
        Ok(s) if t.iter().all(|c| (0x20..0x7f).contains(c)) => s.to_owned(),
        _ => t
            .iter()
            .map(|&c| {
                if (0x20..0x7f).contains(&c) {
                    char::from(c)
                } else {
                    '?'
                }
            })
            .collect(),
    }
}

/// Detection by content: a plausible A-ASSOCIATE-RQ (PS3.8 §9.3.2) from the start of the stream, or an
/// A-ASSOCIATE-AC towards the client: type, reserved byte 0, a length between the 68-byte fixed part and
/// [`ASSOC_PDU_CAP`], protocol version 1, and printable AE titles.
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    let expected = |ty: u8| ty == 0x01 || (ty == 0x02 && dir == Direction::ToClient);
    let fixed = [
        data.first().map(|&t| expected(t)),
        data.get(1).map(|&r| r == 0),
        data.get(2..6)
            .and_then(|l| <[u8; 4]>::try_from(l).ok())
            .map(|l| {
                (ul::ASSOCIATE_FIXED_LEN as u32..=ASSOC_PDU_CAP as u32)
                    .contains(&u32::from_be_bytes(l))
            }),
        data.get(6..8).map(|v| v == [0, 1]),
    ];
    for f in fixed {
        match f {
            Some(false) => return Probe::No,
            None => return Probe::NeedMore,
            Some(true) => {}
        }
    }
    let Some(aes) = data.get(10..42) else {
        return Probe::NeedMore;
    };
    if aes.iter().all(|&c| (0x20..0x7f).contains(&c)) && !dimse::trim(aes).is_empty() {
        Probe::Yes
    } else {
        Probe::No
    }
}

#[derive(Debug, Clone, Default)]
struct PerDir<T> {
    to_server: T,
    to_client: T,
}

impl<T> PerDir<T> {
    fn get(&self, d: Direction) -> &T {
        match d {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }
    fn get_mut(&mut self, d: Direction) -> &mut T {
        match d {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

fn add(x: &mut u64, n: u64) {
    *x = x.saturating_add(n);
}

#[derive(Debug, Clone)]
struct Ctx {
    id: u8,
    abstract_syntax: Option<String>,
    syntax: Option<String>,
    accepted: bool,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    dir: Direction,
    id: u16,
    ts: Ts,
}

/// One association's state and counters.
#[derive(Debug, Default)]
struct Assoc {
    start: Option<Ts>,
    /// Something happened since the last summary.
    active: bool,
    established: bool,
    contexts: Vec<Ctx>,
    /// Maximum P-DATA length for PDUs *sent* in a direction (the receiver's Maximum Length; 0 = none).
    pdu_limit: PerDir<u32>,
    pdata_flagged: bool,
    context_flagged: bool,
    spans_flagged: bool,
    odd_flagged: bool,
    /// From the A-ASSOCIATE-RQ, repeated on the summary.
    calling_ae: Option<String>,
    called_ae: Option<String>,
    over_max_flagged: PerDir<bool>,
    outstanding: Vec<Outstanding>,
    outstanding_flagged: bool,
    s: AssociationSummary,
    pdus: PerDir<u64>,
    max_pdu: PerDir<u32>,
    max_data_pdv: PerDir<u32>,
    dataset_bytes: PerDir<u64>,
    bytes: PerDir<u64>,
}

impl Assoc {
    fn context(&self, id: u8) -> Option<&Ctx> {
        self.contexts.iter().find(|c| c.id == id)
    }
    fn context_ok(&self, id: u8) -> bool {
        !self.established || self.context(id).is_some_and(|c| c.accepted)
    }
    fn pdata_limit(&self, dir: Direction) -> u32 {
        match *self.pdu_limit.get(dir) {
            0 => PDATA_HARD_CAP,
            n => n,
        }
    }
}

/// A DIMSE message being assembled in one direction.
#[derive(Debug, Default)]
struct Msg {
    pcid: u8,
    in_data: bool,
    /// No event will be emitted (lost command, data without command); fragments are only counted.
    orphan: bool,
    event: Option<DicomEvent>,
    field: Option<u16>,
    cmd_pdvs: u32,
    data_pdvs: u32,
    max_data_pdv: u32,
    data_bytes: u64,
    cmd_end_pdu: u64,
    same_pdu: Option<bool>,
    gap: bool,
    cmd_overflow: bool,
    cmd_corrupt: bool,
    capture_ident: bool,
    ident_overflow: bool,
}

/// Where one direction's byte stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Gathering a 6-byte PDU header.
    Header,
    /// Gathering an association/release/abort PDU body of `len` bytes.
    Body { ty: PduType, len: u32 },
    /// Skipping `left` bytes of a PDU.
    Skip { left: u64 },
    /// Inside a P-DATA-TF with `left` bytes of PDV items to go; gathering a PDV header.
    PData { left: u32 },
    /// Inside a PDV fragment.
    Pdv {
        left_pdu: u32,
        left_pdv: u32,
        hdr: PdvHeader,
    },
    /// Looking for a plausible PDU header after a gap or an unrecoverable error.
    Resync,
}

#[derive(Debug)]
struct DirState {
    st: St,
    hdr: CapBuf,
    body: CapBuf,
    pdv_hdr: CapBuf,
    cmd: CapBuf,
    ident: CapBuf,
    win: CapBuf,
    probation: bool,
    pdu_index: u64,
    /// The PDU in which this direction's last message completed (Annex E.1 check).
    completed_in_pdu: u64,
    resync_skipped: u64,
}

impl Default for DirState {
    fn default() -> Self {
        DirState {
            st: St::Header,
            hdr: CapBuf::new(PDU_HEADER_LEN),
            body: CapBuf::new(ASSOC_PDU_CAP),
            pdv_hdr: CapBuf::new(PDV_HEADER_LEN),
            cmd: CapBuf::new(COMMAND_CAP),
            ident: CapBuf::new(IDENT_CAP),
            win: CapBuf::new(16),
            probation: false,
            pdu_index: 0,
            completed_in_pdu: 0,
            resync_skipped: 0,
        }
    }
}

/// State shared by both directions.
#[derive(Debug, Default)]
struct Shared {
    assoc: Assoc,
    msgs: PerDir<Option<Msg>>,
    anomalies: u32,
    dead: bool,
    /// Set by a PDU that ends the association; acted on after the step that saw it.
    finish: Option<&'static str>,
}

impl Shared {
    /// Emits an anomaly (counted), or gives up on the flow when there have been too many.
    fn anomaly(&mut self, out: &mut Vec<AppEvent>, kind: &'static str, detail: String) {
        if self.dead {
            return;
        }
        self.anomalies = self.anomalies.saturating_add(1);
        add(&mut self.assoc.s.anomalies, 1);
        out.push(AppEvent::anomaly(P, kind, detail));
        if self.anomalies >= MAX_ANOMALIES {
            out.push(AppEvent::anomaly(
                P,
                "too_many_anomalies",
                format!("{MAX_ANOMALIES} anomalies in this flow; parsing stopped"),
            ));
            self.dead = true;
        }
    }

    /// Ends the association: in-progress messages as incomplete events, then the summary.
    fn finish_association(&mut self, reason: &'static str, ts: Ts, out: &mut Vec<AppEvent>) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            if let Some(m) = self.msgs.get_mut(dir).take() {
                self.abandon(m, out);
            }
        }
        let a = std::mem::take(&mut self.assoc);
        if !a.active {
            return;
        }
        let mut s = a.s;
        s.end_reason = reason;
        s.duration_us = a.start.map_or(0, |t| ts.nanos_since(t) / 1_000);
        s.bytes_toserver = a.bytes.to_server;
        s.bytes_toclient = a.bytes.to_client;
        s.pdus_toserver = a.pdus.to_server;
        s.pdus_toclient = a.pdus.to_client;
        s.dataset_bytes_toserver = a.dataset_bytes.to_server;
        s.dataset_bytes_toclient = a.dataset_bytes.to_client;
        s.max_pdu_toserver = a.max_pdu.to_server;
        s.max_pdu_toclient = a.max_pdu.to_client;
        s.max_data_pdv_toserver = a.max_data_pdv.to_server;
        s.max_data_pdv_toclient = a.max_data_pdv.to_client;
        s.unanswered_requests = a.outstanding.len() as u64;
        let mut ev = DicomEvent::new("association_end", None);
        ev.calling_ae = a.calling_ae;
        ev.called_ae = a.called_ae;
        ev.summary = Some(s);
        out.push(AppEvent::Dicom(ev));
    }

    /// A message that will not complete: its event (if its command was decoded) goes out marked
    /// incomplete; it counts as lost.
    fn abandon(&mut self, m: Msg, out: &mut Vec<AppEvent>) {
        add(&mut self.assoc.s.lost_messages, 1);
        if m.orphan {
            return;
        }
        if let Some(mut ev) = m.event {
            ev.incomplete = Some(true);
            ev.dataset_bytes = Some(m.data_bytes);
            if m.gap {
                ev.gap = Some(true);
            }
            out.push(AppEvent::Dicom(ev));
        }
    }

    /// A message completed: pair, count, emit.
    fn complete(&mut self, dir: Direction, m: Msg, ident: &[u8], ts: Ts, out: &mut Vec<AppEvent>) {
        let a = &mut self.assoc;
        add(a.dataset_bytes.get_mut(dir), m.data_bytes);
        if m.orphan {
            return;
        }
        let Some(mut ev) = m.event else { return };
        let field = m.field.unwrap_or(0);
        ev.dataset_bytes = Some(m.data_bytes);
        if m.gap {
            ev.gap = Some(true);
        }
        ev.pdv = Some(PdvPacking {
            command_pdvs: m.cmd_pdvs,
            data_pdvs: m.data_pdvs,
            max_data_pdv: m.max_data_pdv,
            command_and_data_same_pdu: m.same_pdu,
        });
        match m.same_pdu {
            Some(true) => add(&mut a.s.command_data_same_pdu, 1),
            Some(false) => add(&mut a.s.command_data_separate_pdu, 1),
            None => {}
        }
        if m.capture_ident {
            let syntax = match a.context(m.pcid).and_then(|c| c.syntax.as_deref()) {
                Some(uid) => Syntax::from_uid(uid),
                None => Some(Syntax::guess(ident)),
            };
            if let Some(syntax) = syntax {
                let q = dimse::analyze_identifier(ident, syntax);
                let mut phi = false;
                let mut bulk = true;
                let keys = q
                    .keys
                    .iter()
                    .map(|k| {
                        let (keyword, is_phi) = dimse::key_info(k.tag);
                        phi |= is_phi;
                        bulk &= matches!(
                            k.matching,
                            Matching::Universal | Matching::WildcardAll | Matching::Sequence
                        );
                        QueryKeyEvent {
                            tag: format!("{:08x}", k.tag),
                            keyword,
                            matching: k.matching,
                            phi: is_phi,
                        }
                    })
                    .collect::<Vec<_>>();
                ev.query_bulk = Some(bulk && !keys.is_empty());
                ev.query_phi_keys = Some(phi);
                ev.query_keys = Some(keys);
                ev.query_level = q.level;
                if q.malformed || m.ident_overflow {
                    ev.query_truncated = Some(true);
                }
            }
        }
        // Pairing by message id (PS3.7 §9.1.1.1: Message ID Being Responded To).
        let is_rsp = field & 0x8000 != 0;
        if is_rsp {
            let pending = ev.status_class == Some("pending");
            let found = ev.message_id_responded.and_then(|id| {
                a.outstanding
                    .iter()
                    .position(|o| o.dir == dir.reverse() && o.id == id)
            });
            match found.and_then(|i| a.outstanding.get(i).copied().map(|o| (i, o))) {
                Some((i, o)) => {
                    ev.latency_us = Some(ts.nanos_since(o.ts) / 1_000);
                    if !pending {
                        a.outstanding.swap_remove(i);
                    }
                }
                None => {
                    ev.unmatched = Some(true);
                    add(&mut a.s.unmatched_responses, 1);
                }
            }
        } else if field != dimse::C_CANCEL_RQ {
            if let Some(id) = ev.message_id {
                if a.outstanding.len() < MAX_OUTSTANDING {
                    a.outstanding.push(Outstanding { dir, id, ts });
                } else if !a.outstanding_flagged {
                    a.outstanding_flagged = true;
                    self.anomaly(
                        out,
                        "too_many_outstanding_requests",
                        format!("over {MAX_OUTSTANDING} unanswered requests"),
                    );
                }
            }
        }
        let a = &mut self.assoc;
        add(&mut a.s.messages, 1);
        let name = dimse::command_name(field).unwrap_or("unknown");
        add(a.s.commands.entry(name).or_default(), 1);
        if let (Some(st), Some(class)) = (ev.status, ev.status_class) {
            add(a.s.status_classes.entry(class).or_default(), 1);
            let code = format!("{st:04x}");
            if a.s.statuses.contains_key(&code) || a.s.statuses.len() < MAX_STATUS_CODES {
                add(a.s.statuses.entry(code).or_default(), 1);
            }
            if class == "failure" {
                add(&mut a.s.failures, 1);
            }
        }
        if field == dimse::C_STORE_RQ {
            if let Some(uid) = &ev.sop_class_uid {
                if !a.s.sop_classes_stored.contains(uid)
                    && a.s.sop_classes_stored.len() < MAX_STORED_CLASSES
                {
                    a.s.sop_classes_stored.push(uid.clone());
                }
            }
        }
        out.push(AppEvent::Dicom(ev));
    }
}

/// The DICOM stream parser: one per TCP flow, both directions.
#[derive(Debug, Default)]
pub struct DicomParser {
    dirs: PerDir<DirState>,
    sh: Shared,
}

impl DicomParser {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Builds the owned command event from a decoded command set.
fn command_event(dir: Direction, pcid: u8, cs: &CommandSet<'_>, a: &Assoc) -> DicomEvent {
    let mut ev = DicomEvent::new("command", Some(dir));
    let field = cs.command_field.unwrap_or(0);
    ev.command = Some(
        dimse::command_name(field)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("unknown-0x{field:04x}")),
    );
    ev.command_field = cs.command_field;
    ev.presentation_context_id = Some(pcid);
    ev.message_id = cs.message_id;
    ev.message_id_responded = cs.responded_id;
    ev.sop_class_uid = cs
        .affected_sop_class
        .or(cs.requested_sop_class)
        .map(|u| text(u, 64))
        .or_else(|| a.context(pcid).and_then(|c| c.abstract_syntax.clone()));
    ev.sop_instance_uid = cs
        .affected_sop_instance
        .or(cs.requested_sop_instance)
        .map(|u| text(u, 64));
    ev.priority = cs.priority;
    ev.move_destination = cs.move_destination.map(|v| text(v, 16));
    ev.move_originator_ae = cs.move_originator_ae.map(|v| text(v, 16));
    ev.status = cs.status;
    ev.status_class = cs.status.map(dimse::status_class);
    ev.error_comment_present = cs.error_comment_len.map(|_| true);
    ev.event_type_id = cs.event_type_id;
    ev.action_type_id = cs.action_type_id;
    ev.remaining_suboperations = cs.remaining;
    ev.completed_suboperations = cs.completed;
    ev.failed_suboperations = cs.failed;
    ev.warning_suboperations = cs.warning;
    ev.has_dataset = Some(cs.has_data_set());
    ev
}

impl DirState {
    /// Routes a hard anomaly: on probation after a resync it means the resync was false (silently
    /// resync again, counted); otherwise it is emitted and the stream goes to `next`. The caller then
    /// calls `drop_message_if_resync`.
    fn fail(
        &mut self,
        sh: &mut Shared,
        out: &mut Vec<AppEvent>,
        kind: &'static str,
        detail: String,
        next: St,
    ) {
        if self.probation {
            add(&mut sh.assoc.s.false_resyncs, 1);
            self.probation = false;
            self.st = St::Resync;
        } else {
            sh.anomaly(out, kind, detail);
            self.st = next;
        }
        self.pdv_hdr.clear();
    }
}

impl DicomParser {
    fn step(&mut self, dir: Direction, input: &mut &[u8], ts: Ts, out: &mut Vec<AppEvent>) {
        let Self { dirs, sh } = self;
        let d = dirs.get_mut(dir);
        match d.st {
            St::Header => {
                if !d.hdr.fill(input, PDU_HEADER_LEN) {
                    return;
                }
                let h = match <[u8; PDU_HEADER_LEN]>::try_from(d.hdr.as_slice()) {
                    Ok(b) => PduHeader::parse(b),
                    Err(_) => return,
                };
                d.hdr.clear();
                self.on_header(dir, h, ts, out);
            }
            St::Body { ty, len } => {
                let want = usize::try_from(len).unwrap_or(usize::MAX);
                if !d.body.fill(input, want) {
                    return;
                }
                let body = std::mem::replace(&mut d.body, CapBuf::new(ASSOC_PDU_CAP));
                d.st = St::Header;
                self.on_body(dir, ty, body.as_slice(), ts, out);
                self.pdu_done(dir);
            }
            St::Skip { left } => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                *input = input.get(n..).unwrap_or_default();
                let left = left.saturating_sub(n as u64);
                d.st = if left == 0 {
                    St::Header
                } else {
                    St::Skip { left }
                };
            }
            St::PData { left } => {
                if left == 0 {
                    d.st = St::Header;
                    self.pdu_done(dir);
                    return;
                }
                if (left as usize) < PDV_HEADER_LEN {
                    let detail = format!("{left} bytes left in the PDU, a PDV header needs 6");
                    d.fail(
                        sh,
                        out,
                        "pdv_overruns_pdu",
                        detail,
                        St::Skip { left: left.into() },
                    );
                    self.drop_message_if_resync(dir, out);
                    return;
                }
                if !d.pdv_hdr.fill(input, PDV_HEADER_LEN) {
                    return;
                }
                let hdr = match <[u8; PDV_HEADER_LEN]>::try_from(d.pdv_hdr.as_slice()) {
                    Ok(b) => PdvHeader::parse(b),
                    Err(_) => return,
                };
                d.pdv_hdr.clear();
                let left = left.saturating_sub(PDV_HEADER_LEN as u32);
                let frag = match hdr.fragment_len() {
                    Some(f) if f <= left => f,
                    _ => {
                        let detail = format!(
                            "PDV item length {} with {} bytes left in the PDU",
                            hdr.item_length,
                            left.saturating_add(2)
                        );
                        d.fail(
                            sh,
                            out,
                            "pdv_overruns_pdu",
                            detail,
                            St::Skip { left: left.into() },
                        );
                        if d.st == (St::Skip { left: 0 }) {
                            d.st = St::Header;
                        }
                        self.drop_message_if_resync(dir, out);
                        return;
                    }
                };
                d.st = St::Pdv {
                    left_pdu: left.saturating_sub(frag),
                    left_pdv: frag,
                    hdr,
                };
                self.on_pdv_start(dir, hdr, frag, out);
                if frag == 0 {
                    self.finish_pdv(dir, ts, out);
                }
            }
            St::Pdv {
                left_pdu,
                left_pdv,
                hdr,
            } => {
                let n = usize::try_from(left_pdv)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                let (chunk, rest) = input.split_at(n);
                *input = rest;
                self.on_pdv_bytes(dir, chunk);
                let left_pdv = left_pdv.saturating_sub(n as u32);
                self.dirs.get_mut(dir).st = St::Pdv {
                    left_pdu,
                    left_pdv,
                    hdr,
                };
                if left_pdv == 0 {
                    self.finish_pdv(dir, ts, out);
                }
            }
            St::Resync => self.resync(dir, input, ts, out),
        }
    }

    /// After a hard failure put the direction into resync, the message in progress there is lost.
    fn drop_message_if_resync(&mut self, dir: Direction, out: &mut Vec<AppEvent>) {
        if self.dirs.get(dir).st == St::Resync {
            if let Some(m) = self.sh.msgs.get_mut(dir).take() {
                self.sh.abandon(m, out);
            }
            let d = self.dirs.get_mut(dir);
            d.cmd.clear();
            d.ident.clear();
        }
    }

    fn pdu_done(&mut self, dir: Direction) {
        let d = self.dirs.get_mut(dir);
        d.probation = false;
        d.resync_skipped = 0;
    }

    fn on_header(&mut self, dir: Direction, h: PduHeader, ts: Ts, out: &mut Vec<AppEvent>) {
        // A new A-ASSOCIATE-RQ on the same flow ends the previous association.
        if h.ty == PduType::ASSOCIATE_RQ
            && (self.sh.assoc.established || self.sh.assoc.s.messages > 0)
        {
            self.sh.finish_association("superseded", ts, out);
        }
        let Self { dirs, sh } = self;
        let d = dirs.get_mut(dir);
        let a = &mut sh.assoc;
        if a.start.is_none() {
            a.start = Some(ts);
        }
        a.active = true;
        d.pdu_index = d.pdu_index.saturating_add(1);
        add(a.pdus.get_mut(dir), 1);
        let len = h.length;
        match h.ty {
            PduType::P_DATA_TF => {
                let limit = *a.pdu_limit.get(dir);
                if len > PDATA_HARD_CAP && (limit == 0 || len > limit) {
                    let detail = format!("P-DATA-TF length {len}, negotiated maximum {limit}");
                    d.fail(sh, out, "pdu_length_absurd", detail, St::Resync);
                    self.drop_message_if_resync(dir, out);
                    return;
                }
                if len < PDV_HEADER_LEN as u32 {
                    let detail = format!("P-DATA-TF length {len}");
                    d.fail(
                        sh,
                        out,
                        "pdata_too_short",
                        detail,
                        St::Skip { left: len.into() },
                    );
                    if d.st == (St::Skip { left: 0 }) {
                        d.st = St::Header;
                    }
                    self.drop_message_if_resync(dir, out);
                    return;
                }
                let m = a.max_pdu.get_mut(dir);
                *m = (*m).max(len);
                if limit != 0 && len > limit {
                    add(&mut a.s.pdus_over_max, 1);
                    if !*a.over_max_flagged.get(dir) {
                        *a.over_max_flagged.get_mut(dir) = true;
                        sh.anomaly(
                            out,
                            "pdu_length_over_max",
                            format!("P-DATA-TF length {len} over the negotiated maximum {limit}"),
                        );
                    }
                }
                if !sh.assoc.established && !sh.assoc.pdata_flagged {
                    sh.assoc.pdata_flagged = true;
                    sh.anomaly(
                        out,
                        "pdata_before_associate_ac",
                        "P-DATA-TF with no accepted association".into(),
                    );
                }
                d.st = St::PData { left: len };
            }
            PduType::ASSOCIATE_RQ | PduType::ASSOCIATE_AC => {
                if len as usize > ASSOC_PDU_CAP {
                    let detail =
                        format!("association PDU length {len} over the cap {ASSOC_PDU_CAP}");
                    let next = if len <= 16 * 1024 * 1024 {
                        St::Skip { left: len.into() }
                    } else {
                        St::Resync
                    };
                    d.fail(sh, out, "associate_pdu_too_large", detail, next);
                    self.drop_message_if_resync(dir, out);
                    return;
                }
                d.st = St::Body { ty: h.ty, len };
                if len == 0 {
                    d.st = St::Header;
                    self.on_body(dir, h.ty, &[], ts, out);
                }
            }
            PduType::ASSOCIATE_RJ | PduType::RELEASE_RQ | PduType::RELEASE_RP | PduType::ABORT => {
                if len != 4 {
                    let detail = format!("PDU type 0x{:02x} length {len}, expected 4", h.ty.0);
                    if len > 64 {
                        d.fail(sh, out, "bad_pdu_length", detail, St::Resync);
                        self.drop_message_if_resync(dir, out);
                        return;
                    }
                    d.fail(
                        sh,
                        out,
                        "bad_pdu_length",
                        detail,
                        St::Body { ty: h.ty, len },
                    );
                    if d.st == St::Resync {
                        self.drop_message_if_resync(dir, out);
                        return;
                    }
                }
                d.st = St::Body { ty: h.ty, len };
                if len == 0 {
                    d.st = St::Header;
                    self.on_body(dir, h.ty, &[], ts, out);
                }
            }
            other => {
                let detail = format!("PDU type 0x{:02x} length {len}", other.0);
                d.fail(sh, out, "unknown_pdu_type", detail, St::Resync);
                self.drop_message_if_resync(dir, out);
            }
        }
    }

    fn on_body(
        &mut self,
        dir: Direction,
        ty: PduType,
        body: &[u8],
        ts: Ts,
        out: &mut Vec<AppEvent>,
    ) {
        match ty {
            PduType::ASSOCIATE_RQ => self.on_associate_rq(dir, body, ts, out),
            PduType::ASSOCIATE_AC => self.on_associate_ac(dir, body, out),
            PduType::ASSOCIATE_RJ | PduType::ABORT => {
                let (result, source, reason) = ul::parse_reject_or_abort(body).unwrap_or((0, 0, 0));
                let mut ev;
                if ty == PduType::ASSOCIATE_RJ {
                    ev = DicomEvent::new("associate_rj", Some(dir));
                    ev.result = Some(ul::reject_result_name(result));
                    ev.result_code = Some(result);
                    ev.source = Some(ul::reject_source_name(source));
                    ev.reason = Some(ul::reject_reason_name(source, reason));
                    self.sh.finish = Some("reject");
                } else {
                    ev = DicomEvent::new("abort", Some(dir));
                    ev.source = Some(ul::abort_source_name(source));
                    ev.reason = Some(ul::abort_reason_name(source, reason));
                    self.sh.finish = Some("abort");
                }
                ev.source_code = Some(source);
                ev.reason_code = Some(reason);
                out.push(AppEvent::Dicom(ev));
            }
            PduType::RELEASE_RQ => {
                out.push(AppEvent::Dicom(DicomEvent::new("release_rq", Some(dir))))
            }
            PduType::RELEASE_RP => {
                out.push(AppEvent::Dicom(DicomEvent::new("release_rp", Some(dir))));
                self.sh.finish = Some("release");
            }
            _ => {}
        }
    }

    fn report_problems(&mut self, problems: Vec<(&'static str, String)>, out: &mut Vec<AppEvent>) {
        for (kind, detail) in problems {
            self.sh.anomaly(out, kind, detail);
        }
    }

    fn on_associate_rq(&mut self, dir: Direction, body: &[u8], ts: Ts, out: &mut Vec<AppEvent>) {
        let v = ul::parse_associate(body, false);
        let a = &mut self.sh.assoc;
        a.active = true;
        if a.start.is_none() {
            a.start = Some(ts);
        }
        a.contexts = v
            .presentation_contexts
            .iter()
            .map(|pc| Ctx {
                id: pc.id,
                abstract_syntax: pc.abstract_syntax.map(|s| text(s, 64)),
                syntax: None,
                accepted: false,
            })
            .collect();
        // PDUs sent to the requestor must fit its Maximum Length (PS3.8 Annex D.1).
        *a.pdu_limit.get_mut(dir.reverse()) = v.user.max_pdu_length.unwrap_or(0);
        let mut ev = DicomEvent::new("associate_rq", Some(dir));
        fill_associate(&mut ev, &v);
        self.sh.assoc.calling_ae.clone_from(&ev.calling_ae);
        self.sh.assoc.called_ae.clone_from(&ev.called_ae);
        ev.presentation_contexts = Some(
            v.presentation_contexts
                .iter()
                .map(|pc| PresentationContext {
                    id: pc.id,
                    abstract_syntax: pc.abstract_syntax.map(|s| text(s, 64)),
                    transfer_syntaxes: pc.transfer_syntaxes.iter().map(|t| text(t, 64)).collect(),
                    result: None,
                    result_code: None,
                })
                .collect(),
        );
        out.push(AppEvent::Dicom(ev));
        self.report_problems(v.problems, out);
    }

    fn on_associate_ac(&mut self, dir: Direction, body: &[u8], out: &mut Vec<AppEvent>) {
        let v = ul::parse_associate(body, true);
        let a = &mut self.sh.assoc;
        a.established = true;
        *a.pdu_limit.get_mut(dir.reverse()) = v.user.max_pdu_length.unwrap_or(0);
        let mut pcs = Vec::with_capacity(v.presentation_contexts.len());
        for pc in &v.presentation_contexts {
            let syntax = pc.transfer_syntaxes.first().map(|t| text(t, 64));
            let accepted = pc.result == Some(0);
            let abstract_syntax = match a.contexts.iter_mut().find(|c| c.id == pc.id) {
                Some(c) => {
                    c.syntax.clone_from(&syntax);
                    c.accepted = accepted;
                    c.abstract_syntax.clone()
                }
                None => {
                    if a.contexts.len() < ul::MAX_CONTEXTS {
                        a.contexts.push(Ctx {
                            id: pc.id,
                            abstract_syntax: None,
                            syntax: syntax.clone(),
                            accepted,
                        });
                    }
                    None
                }
            };
            pcs.push(PresentationContext {
                id: pc.id,
                abstract_syntax,
                transfer_syntaxes: syntax.into_iter().collect(),
                result: pc.result.map(ul::presentation_result_name),
                result_code: pc.result,
            });
        }
        let mut ev = DicomEvent::new("associate_ac", Some(dir));
        fill_associate(&mut ev, &v);
        ev.presentation_contexts = Some(pcs);
        out.push(AppEvent::Dicom(ev));
        self.report_problems(v.problems, out);
    }

    fn on_pdv_start(&mut self, dir: Direction, hdr: PdvHeader, frag: u32, out: &mut Vec<AppEvent>) {
        let Self { dirs, sh } = self;
        let d = dirs.get_mut(dir);
        if hdr.reserved_bits() != 0 {
            sh.anomaly(
                out,
                "bad_message_control_header",
                format!("message control header 0x{:02x}", hdr.control),
            );
        }
        let pcid = hdr.context_id;
        if !sh.assoc.context_ok(pcid) && !sh.assoc.context_flagged {
            sh.assoc.context_flagged = true;
            sh.anomaly(
                out,
                "unknown_presentation_context",
                format!("PDV on presentation context {pcid}, not accepted"),
            );
        }
        if frag % 2 == 1 && !sh.assoc.odd_flagged {
            sh.assoc.odd_flagged = true;
            sh.anomaly(
                out,
                "odd_fragment_length",
                format!("PDV fragment of {frag} bytes on context {pcid}"),
            );
        }
        if sh.msgs.get(dir).is_none()
            && d.completed_in_pdu == d.pdu_index
            && d.pdu_index != 0
            && !sh.assoc.spans_flagged
        {
            sh.assoc.spans_flagged = true;
            sh.anomaly(
                out,
                "pdu_spans_messages",
                format!("P-DATA-TF carries a PDV of a new message on context {pcid} after one completed"),
            );
        }
        let is_cmd = hdr.is_command();
        // Annex E.1: one message at a time; its command fragments, then its data set fragments.
        let problem = match sh.msgs.get(dir) {
            None => None,
            Some(m) if m.orphan && is_cmd => Some(None),
            Some(m) if m.pcid != pcid => Some(Some((
                "interleaved_message",
                format!(
                    "PDV on context {pcid} while a message on context {} is incomplete",
                    m.pcid
                ),
            ))),
            Some(m) if is_cmd && m.in_data => Some(Some((
                "command_before_dataset_complete",
                format!("command fragment on context {pcid} before the data set's last fragment"),
            ))),
            Some(m) if !is_cmd && !m.in_data => Some(Some((
                "dataset_before_command_complete",
                format!("data fragment on context {pcid} before the command's last fragment"),
            ))),
            Some(_) => None,
        };
        if let Some(p) = problem {
            if let Some(m) = sh.msgs.get_mut(dir).take() {
                if !m.orphan {
                    sh.abandon(m, out);
                }
            }
            d.cmd.clear();
            d.ident.clear();
            if let Some((kind, detail)) = p {
                sh.anomaly(out, kind, detail);
            }
        }
        if sh.msgs.get(dir).is_none() {
            d.cmd.clear();
            d.ident.clear();
            let mut m = Msg {
                pcid,
                ..Msg::default()
            };
            if !is_cmd {
                // Data with no command: count it, emit nothing for it.
                sh.anomaly(
                    out,
                    "dataset_without_command",
                    format!("data fragment on context {pcid} with no command before it"),
                );
                m.orphan = true;
                m.in_data = true;
            }
            *sh.msgs.get_mut(dir) = Some(m);
        }
        let Some(m) = sh.msgs.get_mut(dir) else {
            return;
        };
        if is_cmd {
            m.cmd_pdvs = m.cmd_pdvs.saturating_add(1);
        } else {
            if m.data_pdvs == 0 && !m.orphan {
                m.same_pdu = Some(m.cmd_end_pdu == d.pdu_index);
            }
            m.data_pdvs = m.data_pdvs.saturating_add(1);
            m.max_data_pdv = m.max_data_pdv.max(frag);
            let mx = sh.assoc.max_data_pdv.get_mut(dir);
            *mx = (*mx).max(frag);
        }
    }

    fn on_pdv_bytes(&mut self, dir: Direction, chunk: &[u8]) {
        let Self { dirs, sh } = self;
        let d = dirs.get_mut(dir);
        let Some(m) = sh.msgs.get_mut(dir) else {
            return;
        };
        if !m.in_data {
            if d.cmd.push(chunk) < chunk.len() {
                m.cmd_overflow = true;
            }
        } else {
            m.data_bytes = m.data_bytes.saturating_add(chunk.len() as u64);
            if m.capture_ident && d.ident.push(chunk) < chunk.len() {
                m.ident_overflow = true;
            }
        }
    }

    fn finish_pdv(&mut self, dir: Direction, ts: Ts, out: &mut Vec<AppEvent>) {
        let St::Pdv { left_pdu, hdr, .. } = self.dirs.get(dir).st else {
            return;
        };
        let next = if left_pdu == 0 {
            St::Header
        } else {
            St::PData { left: left_pdu }
        };
        self.dirs.get_mut(dir).st = next;
        if hdr.is_last() {
            self.message_part_done(dir, ts, out);
        }
        if left_pdu == 0 {
            self.pdu_done(dir);
        }
    }

    /// The last fragment of a command or a data set arrived.
    fn message_part_done(&mut self, dir: Direction, ts: Ts, out: &mut Vec<AppEvent>) {
        let Self { dirs, sh } = self;
        let d = dirs.get_mut(dir);
        let Some(m) = sh.msgs.get_mut(dir) else {
            return;
        };
        if m.in_data {
            if let Some(m) = sh.msgs.get_mut(dir).take() {
                sh.complete(dir, m, d.ident.as_slice(), ts, out);
            }
            d.ident.clear();
            d.completed_in_pdu = d.pdu_index;
            return;
        }
        // The command set is whole.
        m.in_data = true;
        m.cmd_end_pdu = d.pdu_index;
        let pcid = m.pcid;
        if m.cmd_corrupt {
            m.orphan = true;
            add(&mut sh.assoc.s.lost_messages, 1);
            d.cmd.clear();
            return;
        }
        if m.cmd_overflow {
            m.orphan = true;
            d.cmd.clear();
            sh.anomaly(
                out,
                "command_set_too_large",
                format!("command set over {COMMAND_CAP} bytes on context {pcid}"),
            );
            return;
        }
        let parsed = dimse::parse_command_set(d.cmd.as_slice());
        let cs = match parsed {
            Ok(cs) => cs,
            Err(at) => {
                let len = d.cmd.len();
                d.cmd.clear();
                if let Some(m) = sh.msgs.get_mut(dir) {
                    m.orphan = true;
                }
                sh.anomaly(
                    out,
                    "command_set_malformed",
                    format!("element at offset {at} runs past the {len}-byte command set"),
                );
                return;
            }
        };
        let missing = cs.missing_required();
        let bad = cs.bad_element;
        let has_data = cs.has_data_set();
        let field = cs.command_field;
        let ev = field.map(|_| command_event(dir, pcid, &cs, &sh.assoc));
        d.cmd.clear();
        if !missing.is_empty() {
            sh.anomaly(
                out,
                "command_missing_element",
                format!(
                    "{} missing {}",
                    ev.as_ref()
                        .and_then(|e| e.command.as_deref())
                        .unwrap_or("command"),
                    missing.join(", ")
                ),
            );
        }
        if let Some(tag) = bad {
            sh.anomaly(
                out,
                "command_bad_element",
                format!(
                    "element ({:04x},{:04x}) in the command set",
                    tag >> 16,
                    tag & 0xffff
                ),
            );
        }
        let Some(m) = sh.msgs.get_mut(dir) else {
            return;
        };
        m.field = field;
        m.orphan = ev.is_none();
        m.event = ev;
        m.capture_ident = has_data
            && matches!(
                field,
                Some(dimse::C_FIND_RQ | dimse::C_MOVE_RQ | dimse::C_GET_RQ)
            );
        if !has_data {
            if let Some(m) = sh.msgs.get_mut(dir).take() {
                sh.complete(dir, m, &[], ts, out);
            }
            d.completed_in_pdu = d.pdu_index;
        }
    }

    fn resync(&mut self, dir: Direction, input: &mut &[u8], ts: Ts, out: &mut Vec<AppEvent>) {
        let Self { dirs, sh } = self;
        let d = dirs.get_mut(dir);
        let limit = sh.assoc.pdata_limit(dir);
        let mut w = [0u8; 16];
        let wlen = d.win.len().min(16);
        for (dst, src) in w.iter_mut().zip(d.win.as_slice()) {
            *dst = *src;
        }
        d.win.clear();
        let data: &[u8] = input;
        let total = wlen.saturating_add(data.len());
        let at = |i: usize| -> Option<u8> {
            if i < wlen {
                w.get(i).copied()
            } else {
                data.get(i.wrapping_sub(wlen)).copied()
            }
        };
        let mut i = 0usize;
        let mut found = false;
        while i < total {
            if !matches!(at(i), Some(1..=7)) {
                i = i.saturating_add(1);
                continue;
            }
            let mut cand = [0u8; 12];
            let mut n = 0usize;
            for (k, slot) in cand.iter_mut().enumerate() {
                match at(i.saturating_add(k)) {
                    Some(b) => {
                        *slot = b;
                        n = k.saturating_add(1);
                    }
                    None => break,
                }
            }
            let window = cand.get(..n).unwrap_or_default();
            match ul::plausible_pdu_start(window, limit, |c| sh.assoc.context_ok(c)) {
                Plausible::Yes => {
                    found = true;
                    break;
                }
                Plausible::No => i = i.saturating_add(1),
                Plausible::Need(_) => break,
            }
        }
        d.resync_skipped = d.resync_skipped.saturating_add(i as u64);
        if found {
            add(&mut sh.assoc.s.resyncs, 1);
            d.st = St::Header;
            d.probation = true;
            let from_win = w.get(i.min(wlen)..wlen).unwrap_or_default();
            let mut local = [0u8; 16];
            let k = from_win.len();
            for (dst, src) in local.iter_mut().zip(from_win) {
                *dst = *src;
            }
            *input = data.get(i.saturating_sub(wlen)..).unwrap_or_default();
            let mut wp: &[u8] = local.get(..k).unwrap_or_default();
            while !wp.is_empty() && !self.sh.dead {
                self.step(dir, &mut wp, ts, out);
            }
        } else {
            for j in i..total {
                if let Some(b) = at(j) {
                    let _ = d.win.push(&[b]);
                }
            }
            *input = &[];
            if d.resync_skipped > RESYNC_LIMIT {
                sh.anomaly(
                    out,
                    "resync_failed",
                    format!("no PDU header in {} bytes after a gap", d.resync_skipped),
                );
                sh.finish_association("lost", ts, out);
                sh.dead = true;
            }
        }
    }

    fn run_finish(&mut self, ts: Ts, out: &mut Vec<AppEvent>) {
        if let Some(reason) = self.sh.finish.take() {
            self.sh.finish_association(reason, ts, out);
            for d in [Direction::ToServer, Direction::ToClient] {
                let s = self.dirs.get_mut(d);
                s.cmd.clear();
                s.ident.clear();
            }
        }
    }
}

fn fill_associate(ev: &mut DicomEvent, v: &ul::AssociateView<'_>) {
    ev.calling_ae = Some(text(v.calling_ae, 16));
    ev.called_ae = Some(text(v.called_ae, 16));
    ev.protocol_version = Some(v.protocol_version);
    ev.application_context = v.application_context.map(|s| text(s, 64));
    ev.implementation_class_uid = v.user.implementation_class_uid.map(|s| text(s, 64));
    ev.implementation_version = v.user.implementation_version.map(|s| text(s, 16));
    ev.max_pdu_length = v.user.max_pdu_length;
    ev.async_ops_invoked = v.user.async_ops.map(|(i, _)| i);
    ev.async_ops_performed = v.user.async_ops.map(|(_, p)| p);
    if !v.user.roles.is_empty() {
        ev.role_selections = Some(
            v.user
                .roles
                .iter()
                .map(|r| RoleSelection {
                    sop_class_uid: text(r.sop_class_uid, 64),
                    scu: r.scu_role == 1,
                    scp: r.scp_role == 1,
                })
                .collect(),
        );
    }
    ev.user_identity_type = v.user.user_identity_type.map(ul::user_identity_type_name);
    ev.user_identity_response_requested = v.user.user_identity_response_requested;
    if v.user.user_identity_server_response {
        ev.user_identity_server_response = Some(true);
    }
    if v.user.extended_negotiations > 0 {
        ev.extended_negotiations = Some(v.user.extended_negotiations);
    }
}

impl StreamParser for DicomParser {
    fn protocol(&self) -> Protocol {
        Protocol::Dicom
    }

    fn feed(&mut self, dir: Direction, data: &[u8], ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        if self.sh.dead {
            return Progress::Done;
        }
        add(self.sh.assoc.bytes.get_mut(dir), data.len() as u64);
        let mut input = data;
        while !input.is_empty() && !self.sh.dead {
            self.step(dir, &mut input, ts, out);
            self.run_finish(ts, out);
        }
        if self.sh.dead {
            Progress::Done
        } else {
            Progress::Continue
        }
    }

    fn gap(&mut self, dir: Direction, len: u64, ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        if self.sh.dead {
            return Progress::Done;
        }
        let Self { dirs, sh } = self;
        let d = dirs.get_mut(dir);
        add(&mut sh.assoc.s.gaps, 1);
        add(&mut sh.assoc.s.gap_bytes, len);
        match d.st {
            St::Pdv {
                left_pdu,
                left_pdv,
                hdr,
            } if len <= u64::from(left_pdv) => {
                let left_pdv = left_pdv.saturating_sub(len as u32);
                d.st = St::Pdv {
                    left_pdu,
                    left_pdv,
                    hdr,
                };
                if let Some(m) = sh.msgs.get_mut(dir) {
                    m.gap = true;
                    if m.in_data {
                        m.data_bytes = m.data_bytes.saturating_add(len);
                        if m.capture_ident {
                            m.ident_overflow = true;
                        }
                    } else {
                        m.cmd_corrupt = true;
                    }
                }
                if left_pdv == 0 {
                    self.finish_pdv(dir, ts, out);
                }
            }
            St::Skip { left } if len <= left => {
                let left = left.saturating_sub(len);
                d.st = if left == 0 {
                    St::Header
                } else {
                    St::Skip { left }
                };
            }
            _ => {
                d.st = St::Resync;
                d.probation = false;
                d.hdr.clear();
                d.pdv_hdr.clear();
                d.body.release();
                d.win.clear();
                self.drop_message_if_resync(dir, out);
            }
        }
        self.run_finish(ts, out);
        if self.sh.dead {
            Progress::Done
        } else {
            Progress::Continue
        }
    }

    fn end(&mut self, ts: Ts, out: &mut Vec<AppEvent>) {
        self.run_finish(ts, out);
        self.sh.finish_association("flow_end", ts, out);
        self.sh.dead = true;
    }
}

#[cfg(test)]
mod tests;
