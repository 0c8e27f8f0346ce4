//! IEEE 11073-20601 (Optimized Exchange Protocol, 2019; same APDUs as 2008 + Cor.1) over TCP.
//!
//! # Standard
//! * APDU layer: 20601 §8 and Annex A.7–A.9 (`Apdu ::= CHOICE { aarq 0xE200, aare 0xE300, rlrq 0xE400,
//!   rlre 0xE500, abrt 0xE600, prst 0xE700 }`), each `choice(u16) length(u16) body` in MDER (Annex F).
//! * Association: `AarqApdu` (assoc-version, data-proto-list), `AareApdu` (result, selected-data-proto),
//!   `PhdAssociationInformation` (protocol version, encoding rules, nomenclature version, functional
//!   units, system type, system-id, dev-config-id, data-req-mode-capab, option list) — Annex A.8.
//! * Release/abort: `RlrqApdu`, `RlreApdu`, `AbrtApdu` reasons.
//! * Presentation: `PrstApdu ::= OCTET STRING` holding `DataApdu` (invoke-id, message CHOICE: ROIV
//!   event report 0x0100/0x0101, get 0x0103, set 0x0104/0x0105, action 0x0106/0x0107; RORS responses
//!   0x0201/0x0203/0x0205/0x0207; ROER 0x0300; RORJ 0x0400) — Annex A.10.
//! * Event reports, Annex A.11: MDC_NOTI_CONFIG (ConfigReport: object class, handle, attribute count
//!   and MDC_ATTR_ID_TYPE of each object) and MDC_NOTI_SCAN_REPORT_{FIXED,VAR,MP_FIXED,MP_VAR}
//!   (observations counted per handle, mapped to their type from the configuration). MDS GET
//!   responses (handle 0) give System-Model, System-Id, Production-Specification, Dev-Configuration-Id
//!   and the specialisation list for the inventory. Nomenclature: ISO/IEEE 11073-10101; codes are
//!   reported context-free (partition << 16 | code).
//!
//! # What is decoded, what is skipped
//! Observation values, person ids and option values are never decoded or reported: only counts and
//! codes (and the event report's relative time stamp). The handle → type map lives per flow: an
//! extended configuration that the manager accepted from an earlier association is not known here, so
//! its observations are counted by handle without a code. Other event types (segment data, scanner reports) are named by `event_type_code`
//! and skipped. Standard configurations the manager already knows (pulse oximeter 400/401, blood
//! pressure 700, thermometer 800, weight scale 1500, glucose 1700) seed the handle → type map.
//!
//! # Caps and anomalies (`AppEvent::anomaly("ieee20601", kind, …)`)
//! Per direction: a 4-byte header and one APDU body buffered up to [`MAX_APDU`] (16 KiB; a longer APDU
//! is decoded from its first 16 KiB, flagged `truncated`, and the rest skipped by count). Kept lists:
//! 64 config objects, 32 observation keys, 32 attribute ids, 64 handle mappings, strings 64 bytes,
//! system-id 32 bytes. MDER counts are never trusted: every walk is bounded by the enclosing length.
//! Kinds: `unknown_apdu_type`, `malformed_apdu`, `length_mismatch`, `count_mismatch`, `trailing_bytes`,
//! `unknown_data_apdu_choice`, `bad_assoc_version`, `no_mder`, `too_many_objects`, `resync_failed`,
//! `more_anomalies` (at most [`apdu::MAX_ISSUES`] anomalies per APDU, then this one with the count of the
//! rest), `anomalies_suppressed` (at [`StreamParser::end`], when more than [`MAX_ANOMALIES_PER_FLOW`]
//! (100) anomalies were raised in the flow: the rest are counted, not reported).
//! After an unknown APDU type or a gap past the current APDU a direction hunts for a plausible APDU
//! header (6-byte window: choice, length, and a body start consistent with it) for up to
//! [`HUNT_LIMIT`] bytes, then gives up (`resync_failed`); when both directions gave up, `feed` returns
//! [`Progress::Done`].

pub mod apdu;
pub mod nomenclature;

use crate::wire::CapBuf;
use crate::{AppEvent, Direction, Probe, Progress, Protocol, StreamParser, Ts};
use apdu::Ctx;
use serde::Serialize;

/// Most APDU bytes buffered for decoding.
pub const MAX_APDU: usize = 16 * 1024;
/// Bytes scanned for an APDU header after losing framing.
pub const HUNT_LIMIT: u64 = 64 * 1024;

/// The EVE `ieee20601` object: a box around [`Ieee20601Info`] (serialised transparently) so that
/// [`AppEvent`] stays small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Ieee20601Event(pub Box<Ieee20601Info>);

impl std::ops::Deref for Ieee20601Event {
    type Target = Ieee20601Info;
    fn deref(&self) -> &Ieee20601Info {
        &self.0
    }
}

impl From<Ieee20601Info> for Ieee20601Event {
    fn from(i: Ieee20601Info) -> Self {
        Ieee20601Event(Box::new(i))
    }
}

/// One object of a configuration report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigObject {
    /// MDC_MOC_* class code.
    pub class: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_name: Option<&'static str>,
    pub handle: u16,
    pub attribute_count: u16,
    /// Context-free MDC code of MDC_ATTR_ID_TYPE (e.g. 150456 = MDC_PULS_OXIM_SAT_O2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_code: Option<u32>,
}

/// Observations of one object in one report (never their values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservationCount {
    pub handle: u16,
    /// Context-free MDC type code, when the configuration said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    pub count: u32,
}

/// The fields of the EVE `ieee20601` object. Absent and empty fields are not serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Ieee20601Info {
    /// `aarq`, `aare`, `rlrq`, `rlre`, `abrt`, `prst`.
    pub apdu: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assoc_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_proto_ids: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// `mder`, `xer`, `per`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encoding_rules: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nomenclature_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub functional_units: Option<String>,
    /// `manager`, `agent` or hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_type: Option<String>,
    /// Hex (EUI-64 for most agents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_config_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_req_mode_flags: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_req_init_agent_count: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_req_init_manager_count: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_count: Option<u16>,
    /// AARE result (`accepted`, `accepted_unknown_config`, `rejected_*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// RLRQ/RLRE/ABRT reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// DataApdu message: `event_report`, `confirmed_event_report`, `get`, `set`, `confirmed_set`,
    /// `action`, `confirmed_action`, `*_response`, `error`, `reject`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_apdu: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obj_handle: Option<u16>,
    /// Event reports: the agent's RelativeTime (1/8 ms ticks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_time: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_report_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_object_count: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_objects: Vec<ConfigObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_report_no: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_count: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_count: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<ObservationCount>,
    /// GET request ids, SET modified ids, GET/SET response attribute ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attribute_ids: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_revision: Option<String>,
    /// MDC_ATTR_SYS_TYPE_SPEC_LIST device specialisation codes (e.g. 4100 = pulse oximeter).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub specializations: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_problem: Option<String>,
    /// The APDU was longer than [`MAX_APDU`]; fields come from its first part.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

const AARQ: u16 = 0xe200;
const AARE: u16 = 0xe300;
const RLRQ: u16 = 0xe400;
const RLRE: u16 = 0xe500;
const ABRT: u16 = 0xe600;
const PRST: u16 = 0xe700;

fn apdu_name(choice: u16) -> Option<&'static str> {
    Some(match choice {
        AARQ => "aarq",
        AARE => "aare",
        RLRQ => "rlrq",
        RLRE => "rlre",
        ABRT => "abrt",
        PRST => "prst",
        _ => return None,
    })
}

/// A 6-byte window that plausibly starts an APDU (used to resynchronise).
fn plausible_start(w: &[u8; 6]) -> bool {
    let [c0, c1, l0, l1, b0, b1] = *w;
    let len = u16::from_be_bytes([l0, l1]);
    let first = u16::from_be_bytes([b0, b1]);
    match u16::from_be_bytes([c0, c1]) {
        AARQ => len >= 8 && b0 == 0x80 && b1 == 0,
        AARE => len >= 6 && first <= 8,
        RLRQ | RLRE | ABRT => len == 2 && first <= 3,
        PRST => len >= 8 && len.checked_sub(2) == Some(first),
        _ => false,
    }
}

/// Content probe: an AARQ (0xE2 0x00, length ≥ 8, assoc-version 0x80000000, data-proto-list whose
/// length fits). Either direction may carry it (the agent sends it, whichever side opened the TCP
/// connection).
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    const PREFIX: [u8; 2] = [0xe2, 0x00];
    for (i, want) in PREFIX.iter().enumerate() {
        match data.get(i) {
            None => return Probe::NeedMore,
            Some(b) if b != want => return Probe::No,
            Some(_) => {}
        }
    }
    let (Some(&l0), Some(&l1)) = (data.get(2), data.get(3)) else {
        return Probe::NeedMore;
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len < 8 {
        return Probe::No;
    }
    const VERSION: [u8; 4] = [0x80, 0, 0, 0];
    for (i, want) in VERSION.iter().enumerate() {
        match data.get(4usize.saturating_add(i)) {
            None => return Probe::NeedMore,
            Some(b) if b != want => return Probe::No,
            Some(_) => {}
        }
    }
    // data-proto-list: count, length; count ≥ 1 and 4 + 4 + length == APDU length.
    let (Some(&c0), Some(&c1), Some(&d0), Some(&d1)) =
        (data.get(8), data.get(9), data.get(10), data.get(11))
    else {
        return Probe::NeedMore;
    };
    let count = u16::from_be_bytes([c0, c1]);
    let list_len = usize::from(u16::from_be_bytes([d0, d1]));
    if count >= 1 && list_len.checked_add(8) == Some(len) {
        Probe::Yes
    } else {
        Probe::No
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Header,
    /// In an APDU body: `left` bytes to go, `skip` when it is not being decoded (after a gap).
    Body {
        choice: u16,
        left: usize,
        skip: bool,
    },
    Hunt {
        scanned: u64,
    },
    Dead,
}

#[derive(Debug)]
struct Dir {
    st: St,
    hdr: [u8; 6],
    hdr_len: usize,
    body: CapBuf,
    truncated: bool,
}

impl Dir {
    fn new() -> Self {
        Dir {
            st: St::Header,
            hdr: [0; 6],
            hdr_len: 0,
            body: CapBuf::new(MAX_APDU),
            truncated: false,
        }
    }
}

use crate::budget::AnomalyBudget;
pub use crate::budget::MAX_ANOMALIES_PER_FLOW;

/// One 20601 association over TCP (both directions).
#[derive(Debug)]
pub struct Ieee20601Parser {
    dirs: [Dir; 2],
    ctx: Ctx,
    budget: AnomalyBudget,
}

impl Default for Ieee20601Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Ieee20601Parser {
    pub fn new() -> Self {
        Ieee20601Parser {
            dirs: [Dir::new(), Dir::new()],
            ctx: Ctx::default(),
            budget: AnomalyBudget::default(),
        }
    }

    fn dir_mut(&mut self, dir: Direction) -> &mut Dir {
        dir.of(&mut self.dirs)
    }

    fn progress(&self) -> Progress {
        if self.dirs.iter().all(|d| d.st == St::Dead) {
            Progress::Done
        } else {
            Progress::Continue
        }
    }

    /// A 4-byte APDU header is in `hdr[..4]`.
    fn on_header(&mut self, dir: Direction, out: &mut Vec<AppEvent>) {
        let d = self.dir_mut(dir);
        let [c0, c1, l0, l1, _, _] = d.hdr;
        d.hdr_len = 0;
        let choice = u16::from_be_bytes([c0, c1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if apdu_name(choice).is_none() {
            d.st = St::Hunt { scanned: 0 };
            out.push(AppEvent::anomaly(
                "ieee20601",
                "unknown_apdu_type",
                format!("APDU choice 0x{choice:04x} length {len}; hunting for the next APDU"),
            ));
            return;
        }
        d.body.clear();
        d.truncated = false;
        d.st = St::Body {
            choice,
            left: len,
            skip: false,
        };
        if len == 0 {
            self.on_apdu_end(dir, choice, out);
        }
    }

    fn on_apdu_end(&mut self, dir: Direction, choice: u16, out: &mut Vec<AppEvent>) {
        let Ieee20601Parser { dirs, ctx, .. } = self;
        let [a, b] = dirs;
        let d = match dir {
            Direction::ToServer => a,
            Direction::ToClient => b,
        };
        d.st = St::Header;
        let Some(name) = apdu_name(choice) else {
            return;
        };
        let mut info = Ieee20601Info {
            apdu: name,
            truncated: d.truncated,
            ..Default::default()
        };
        let mut issues = apdu::Issues::default();
        let body = d.body.as_slice();
        match choice {
            AARQ => apdu::aarq(body, ctx, &mut info, &mut issues),
            AARE => apdu::aare(body, &mut info, &mut issues),
            RLRQ => apdu::reason(
                body,
                nomenclature::release_request_reason,
                &mut info,
                &mut issues,
            ),
            // RLRE: release-response-reason-normal (0) is its only value.
            RLRE => apdu::reason(
                body,
                |v| (v == 0).then_some("normal"),
                &mut info,
                &mut issues,
            ),
            ABRT => apdu::reason(body, nomenclature::abort_reason, &mut info, &mut issues),
            _ => apdu::prst(body, d.truncated, ctx, &mut info, &mut issues),
        }
        if d.body.len() > 4096 {
            d.body.release();
        } else {
            d.body.clear();
        }
        for (kind, detail) in issues.list {
            out.push(AppEvent::anomaly("ieee20601", kind, detail));
        }
        if issues.dropped > 0 {
            out.push(AppEvent::anomaly(
                "ieee20601",
                "more_anomalies",
                format!(
                    "{} further anomalies in this APDU not reported",
                    issues.dropped
                ),
            ));
        }
        out.push(AppEvent::Ieee20601(info.into()));
    }

    fn feed_dir(&mut self, dir: Direction, mut data: &[u8], out: &mut Vec<AppEvent>) {
        while !data.is_empty() {
            let d = self.dir_mut(dir);
            match d.st {
                St::Dead => return,
                St::Header => {
                    if crate::wire::fill_fixed(&mut d.hdr, &mut d.hdr_len, 4, &mut data) {
                        self.on_header(dir, out);
                    }
                }
                St::Body { choice, left, skip } => {
                    let n = left.min(data.len());
                    let (chunk, rest) = data.split_at(n);
                    data = rest;
                    let left = left.saturating_sub(n);
                    if !skip && d.body.push(chunk) < chunk.len() {
                        d.truncated = true;
                    }
                    d.st = St::Body { choice, left, skip };
                    if left == 0 {
                        if skip {
                            d.st = St::Header;
                        } else {
                            self.on_apdu_end(dir, choice, out);
                        }
                    }
                }
                St::Hunt { scanned } => {
                    let Some((&b, rest)) = data.split_first() else {
                        return;
                    };
                    data = rest;
                    if d.hdr_len == 6 {
                        d.hdr.copy_within(1.., 0);
                        d.hdr_len = 5;
                    }
                    if let Some(slot) = d.hdr.get_mut(d.hdr_len) {
                        *slot = b;
                    }
                    d.hdr_len = d.hdr_len.saturating_add(1);
                    let scanned = scanned.saturating_add(1);
                    d.st = St::Hunt { scanned };
                    if d.hdr_len == 6 && plausible_start(&d.hdr) {
                        // Replay the window through the normal path: header, then 2 body bytes.
                        let window = d.hdr;
                        d.hdr_len = 0;
                        d.st = St::Header;
                        self.feed_dir(dir, &window, out);
                    } else if scanned >= HUNT_LIMIT {
                        d.st = St::Dead;
                        out.push(AppEvent::anomaly(
                            "ieee20601",
                            "resync_failed",
                            format!("no APDU header in {HUNT_LIMIT} bytes; direction abandoned"),
                        ));
                    }
                }
            }
        }
    }
}

impl StreamParser for Ieee20601Parser {
    fn protocol(&self) -> Protocol {
        Protocol::Ieee20601
    }

    fn feed(&mut self, dir: Direction, data: &[u8], _ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        let from = out.len();
        self.feed_dir(dir, data, out);
        self.budget.apply(out, from);
        self.progress()
    }

    fn gap(&mut self, dir: Direction, len: u64, _ts: Ts, _out: &mut Vec<AppEvent>) -> Progress {
        let d = self.dir_mut(dir);
        match d.st {
            St::Dead => {}
            // A hole inside the current APDU: its framing holds, its content is lost.
            St::Body { choice, left, .. } if len < left as u64 => {
                d.st = St::Body {
                    choice,
                    left: left.saturating_sub(usize::try_from(len).unwrap_or(usize::MAX)),
                    skip: true,
                };
                d.body.clear();
            }
            _ => {
                d.st = St::Hunt { scanned: 0 };
                d.hdr_len = 0;
                d.body.clear();
            }
        }
        self.progress()
    }

    fn end(&mut self, _ts: Ts, out: &mut Vec<AppEvent>) {
        self.budget.end("ieee20601", out);
    }
}

#[cfg(test)]
mod tests;
