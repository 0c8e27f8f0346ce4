//! Streaming scan of one HL7 v2 message (the bytes between the MLLP blocks, or one unframed message).
//!
//! HL7 v2.5 chapter 2: message construction (segments end with CR, fields are separated by the field
//! separator, components, repetitions and subcomponents by the encoding characters); message
//! delimiters (declared by MSH-1 and MSH-2); escape sequences in text fields (such as `\F\`,
//! `\X0D\`: they never contain a literal delimiter, so the scan does not need to decode them); the
//! MSH, MSA and ERR segment definitions; chapter 7 for OBX.
//!
//! The scanner never holds the message. It keeps:
//! * the MSH segment, up to [`MSH_CAP`] bytes (longer: `msh_too_long`, the cut field is dropped);
//! * the current segment id (at most 4 bytes: a longer "id" is invalid);
//! * for MSA, ERR and OBX only the fields it reports (MSA-1/2, ERR-3/4, OBX-2/3/11), each up to
//!   [`FIELD_CAP`] bytes; every other field, OBX-5 values and NTE text included, passes by uncopied;
//! * lists capped at [`MAX_SEGMENT_IDS`] ids, [`MAX_SEGMENT_KINDS`] distinct ids with counts and
//!   [`MAX_OBSERVATIONS`] distinct observation identifiers.

use crate::wire::CapBuf;
use crate::Text;
use serde::{Serialize, Serializer};

/// Most bytes of the MSH segment kept (its fields are short: HD, TS, MSG, ST).
pub const MSH_CAP: usize = 1024;
/// Most bytes kept of one captured field (MSA-2, OBX-3, ...) and of each reported string.
pub const FIELD_CAP: usize = 64;
/// Most segment ids listed in order in one event (`segments_truncated` beyond).
pub const MAX_SEGMENT_IDS: usize = 256;
/// Most distinct segment ids counted in `segment_counts`.
pub const MAX_SEGMENT_KINDS: usize = 64;
/// Most distinct observation identifiers (code, system, value type, status) per message.
pub const MAX_OBSERVATIONS: usize = 32;
/// A segment with more fields than this is `too_many_fields` (the largest standard segments have ~50).
pub const MAX_FIELDS: u32 = 512;

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Segments that carry patient-identifying data or free text: never decoded, only named
/// (`phi_segments`). PID/PD1 patient identification, NK1 next of kin, PV1/PV2 visit (patient location,
/// attending doctor), MRG prior patient ids, GT1 guarantor, IN1-3 insurance, DG1/DRG diagnosis, AL1
/// allergies, QPD query parameters (patient ids in queries), NTE free text, OBX (OBX-5 values).
pub const PHI_SEGMENTS: [&[u8; 3]; 16] = [
    b"PID", b"PD1", b"NK1", b"PV1", b"PV2", b"MRG", b"GT1", b"IN1", b"IN2", b"IN3", b"DG1", b"DRG",
    b"AL1", b"QPD", b"NTE", b"OBX",
];

/// A segment id: three ASCII characters, `[A-Z][A-Z0-9]{2}` (checked before one is made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegId(pub [u8; 3]);

impl SegId {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
    fn parse(id: &[u8]) -> Option<SegId> {
        let [a, b, c] = <[u8; 3]>::try_from(id).ok()?;
        let ok = a.is_ascii_uppercase()
            && (b.is_ascii_uppercase() || b.is_ascii_digit())
            && (c.is_ascii_uppercase() || c.is_ascii_digit());
        ok.then_some(SegId([a, b, c]))
    }
}

impl Serialize for SegId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Segment ids with their counts, serialised as a JSON object `{"OBX": 12, ...}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegCounts(pub Vec<(SegId, u32)>);

impl Serialize for SegCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (id, n) in &self.0 {
            m.serialize_entry(id.as_str(), n)?;
        }
        m.end()
    }
}

/// One distinct observation identifier of an ORU: OBX-3 (code and coding system), OBX-2 and OBX-11,
/// with how many OBX segments carried it. Never the value (OBX-5) nor the text (OBX-3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// OBX-3.1, e.g. `150456` (MDC) or `8867-4` (LOINC).
    pub code: Text,
    /// OBX-3.3, e.g. `MDC`, `LN`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coding_system: Option<Text>,
    /// OBX-2, e.g. `NM`, `ST`, `ED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_type: Option<Text>,
    /// OBX-11, e.g. `F`, `R`, `P`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Text>,
    pub count: u32,
}

/// The delimiters of a message (HL7 v2.5 chapter 2, message delimiters: MSH-1 and MSH-2).
#[derive(Debug, Clone, Copy)]
pub struct Delims {
    pub field: u8,
    pub component: u8,
    pub repetition: Option<u8>,
    pub subcomponent: Option<u8>,
}

impl Default for Delims {
    fn default() -> Self {
        Delims {
            field: b'|',
            component: b'^',
            repetition: Some(b'~'),
            subcomponent: Some(b'&'),
        }
    }
}

/// A plausible field separator: printable ASCII, not alphanumeric, not a space.
pub fn valid_separator(b: u8) -> bool {
    b.is_ascii_graphic() && !b.is_ascii_alphanumeric()
}

/// What MSH says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MshFields {
    pub sending_application: Option<Text>,
    pub sending_facility: Option<Text>,
    pub receiving_application: Option<Text>,
    pub receiving_facility: Option<Text>,
    pub datetime: Option<Text>,
    pub message_code: Option<Text>,
    pub trigger_event: Option<Text>,
    pub message_structure: Option<Text>,
    pub control_id: Option<Text>,
    pub processing_id: Option<Text>,
    pub version: Option<Text>,
}

/// Everything kept about one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MsgInfo {
    pub msh: MshFields,
    pub segments: Vec<SegId>,
    pub segments_truncated: bool,
    pub segment_count: u32,
    pub counts: SegCounts,
    pub phi: Vec<SegId>,
    /// MSA-1 and MSA-2 of the first MSA.
    pub msa: Option<(Option<Text>, Option<Text>)>,
    pub err_count: u32,
    pub err_code: Option<Text>,
    pub err_severity: Option<Text>,
    pub obx_count: u32,
    pub observations: Vec<Observation>,
    pub observations_truncated: bool,
    /// Segments ended by CR, by a lone LF, and LFs right after a CR.
    pub cr_terms: u32,
    pub lf_terms: u32,
    pub crlf_terms: u32,
}

impl MsgInfo {
    /// `cr` (the standard), `crlf`, `lf` or `mixed`.
    pub fn terminator(&self) -> &'static str {
        match (self.lf_terms, self.crlf_terms) {
            (0, 0) => "cr",
            (0, _) => "crlf",
            (_, 0) if self.cr_terms == 0 => "lf",
            _ => "mixed",
        }
    }
}

/// Where anomalies go (the flow-level sink counts and caps them).
pub trait AnomalySink {
    fn anomaly(&mut self, kind: &'static str, detail: String);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting the MSH segment.
    Msh,
    /// Segments after MSH.
    Body,
    /// Not a message we can read (bad or missing MSH): segments are still delimited (so an unframed
    /// stream finds its next MSH) but nothing is recorded and no event comes out.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Msa,
    Err,
    Obx,
    Other,
}

impl Kind {
    /// The highest field number captured in this kind of segment.
    fn last_field(self) -> u32 {
        match self {
            Kind::Msa => 2,
            Kind::Err => 4,
            Kind::Obx => 11,
            Kind::Other => 0,
        }
    }

    /// The capture slot of field `n` of this segment, if we report it.
    fn slot(self, n: u32) -> Option<usize> {
        match (self, n) {
            (Kind::Msa, 1) | (Kind::Err, 3) | (Kind::Obx, 2) => Some(0),
            (Kind::Msa, 2) | (Kind::Err, 4) | (Kind::Obx, 3) => Some(1),
            (Kind::Obx, 11) => Some(2),
            _ => None,
        }
    }
}

// Per-message anomaly flags: each kind is reported once per message.
const F_BAD_ID: u8 = 1;
const F_FIELDS: u8 = 2;
const F_MULTI_MSH: u8 = 4;

/// The result of [`Scanner::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// All input consumed.
    All,
    /// (Unframed streams only.) A new segment `MSH` started: the three id bytes were the last consumed
    /// and `n` bytes of this input were consumed. The caller ends this message and starts the next.
    NewMessage(usize),
}

/// The incremental scanner of one message.
#[derive(Debug, Clone)]
pub struct Scanner {
    phase: Phase,
    delims: Delims,
    msh: CapBuf,
    msh_overflow: bool,
    msh_checked: bool,
    /// Segment id bytes so far; `id_len` counts up to 4 (4 = too long).
    id: [u8; 4],
    id_len: u8,
    in_fields: bool,
    kind: Kind,
    field_no: u32,
    caps: [CapBuf; 3],
    slot: Option<usize>,
    prev_cr: bool,
    flags: u8,
    info: MsgInfo,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    pub const fn new() -> Self {
        Scanner {
            phase: Phase::Msh,
            delims: Delims {
                field: b'|',
                component: b'^',
                repetition: Some(b'~'),
                subcomponent: Some(b'&'),
            },
            msh: CapBuf::new(MSH_CAP),
            msh_overflow: false,
            msh_checked: false,
            id: [0; 4],
            id_len: 0,
            in_fields: false,
            kind: Kind::Other,
            field_no: 0,
            caps: [
                CapBuf::new(FIELD_CAP),
                CapBuf::new(FIELD_CAP),
                CapBuf::new(FIELD_CAP),
            ],
            slot: None,
            prev_cr: false,
            flags: 0,
            info: MsgInfo {
                msh: MshFields {
                    sending_application: None,
                    sending_facility: None,
                    receiving_application: None,
                    receiving_facility: None,
                    datetime: None,
                    message_code: None,
                    trigger_event: None,
                    message_structure: None,
                    control_id: None,
                    processing_id: None,
                    version: None,
                },
                segments: Vec::new(),
                segments_truncated: false,
                segment_count: 0,
                counts: SegCounts(Vec::new()),
                phi: Vec::new(),
                msa: None,
                err_count: 0,
                err_code: None,
                err_severity: None,
                obx_count: 0,
                observations: Vec::new(),
                observations_truncated: false,
                cr_terms: 0,
                lf_terms: 0,
                crlf_terms: 0,
            },
        }
    }

    /// Ready for the next message (buffers keep their storage).
    pub fn reset(&mut self) {
        self.phase = Phase::Msh;
        self.delims = Delims::default();
        self.msh.clear();
        self.msh_overflow = false;
        self.msh_checked = false;
        self.id_len = 0;
        self.in_fields = false;
        self.kind = Kind::Other;
        self.field_no = 0;
        for c in &mut self.caps {
            c.clear();
        }
        self.slot = None;
        self.prev_cr = false;
        self.flags = 0;
        self.info = MsgInfo::default();
    }

    /// True right after a segment terminator (an unframed message may be complete here).
    pub fn at_segment_start(&self) -> bool {
        self.phase != Phase::Msh && !self.in_fields && self.id_len == 0
    }

    /// The message so far is one byte and no segment (an MLLP release 2 commit acknowledgement block
    /// holds only 0x06 ACK or 0x15 NAK).
    pub fn single_byte(&self) -> Option<u8> {
        match self.msh.as_slice() {
            [b] if self.phase == Phase::Msh => Some(*b),
            _ => None,
        }
    }

    /// True once MSH was read and understood.
    pub fn has_msh(&self) -> bool {
        self.phase == Phase::Body
    }

    /// Scans the next bytes of the message. `unframed`: a segment `MSH` starts the next message.
    pub fn feed(&mut self, data: &[u8], unframed: bool, sink: &mut dyn AnomalySink) -> Scan {
        let mut i = 0usize;
        while let Some(rest) = data.get(i..) {
            if rest.is_empty() {
                break;
            }
            if self.phase == Phase::Msh {
                i = i.saturating_add(self.feed_msh(rest, sink));
                continue;
            }
            if self.in_fields {
                i = i.saturating_add(self.feed_fields(rest, sink));
                continue;
            }
            if !unframed && self.id_len == 0 && self.phase == Phase::Body {
                if let Some(n) = self.whole_segment(rest, sink) {
                    i = i.saturating_add(n);
                    continue;
                }
            }
            // Segment id, one byte at a time (ids are 3 bytes).
            let Some(&b) = rest.first() else { break };
            if unframed && self.id_len == 3 && self.id.get(..3) == Some(b"MSH".as_slice()) {
                // The id belongs to the next message.
                self.id_len = 0;
                return Scan::NewMessage(i);
            }
            i = i.saturating_add(1);
            if b == CR || b == LF {
                self.end_segment(b, sink);
            } else if b == self.delims.field {
                self.end_id(sink);
                self.in_fields = true;
                self.start_field(1, sink);
            } else if let Some(slot) = self.id.get_mut(usize::from(self.id_len)) {
                *slot = b;
                self.id_len = self.id_len.saturating_add(1);
            }
        }
        Scan::All
    }

    /// The usual case after MSH: a whole segment, terminator included, lies in `data`. Reads it from the
    /// slice in one pass with the same effects as the byte-wise path (ids, captures, field count,
    /// anomalies). Returns bytes consumed, or `None` (an empty segment, or no terminator yet) to leave
    /// it to the byte-wise path.
    fn whole_segment(&mut self, data: &[u8], sink: &mut dyn AnomalySink) -> Option<usize> {
        let fs = self.delims.field;
        let end = memchr::memchr2(CR, LF, data).filter(|&e| e > 0)?;
        let term = *data.get(end)?;
        let seg = data.get(..end)?;
        let (id, fields) = match seg.iter().position(|&b| b == fs) {
            Some(i) => (
                seg.get(..i).unwrap_or_default(),
                seg.get(i.saturating_add(1)..),
            ),
            None => (seg, None),
        };
        for &b in id {
            if let Some(slot) = self.id.get_mut(usize::from(self.id_len)) {
                *slot = b;
                self.id_len = self.id_len.saturating_add(1);
            } else {
                break;
            }
        }
        if let Some(fields) = fields {
            self.end_id(sink);
            self.in_fields = true;
            self.start_field(1, sink);
            let last = self.kind.last_field();
            if last > 0 && self.phase == Phase::Body {
                // The reported fields straight from the slice (cut at the cap, as `feed_fields` does).
                let mut got: [&[u8]; 3] = [&[]; 3];
                // Where fields 1..=last end (at most OBX-11): the first separators, found a word at a
                // time; a field without one runs to the segment's end.
                let mut ends = [fields.len(); 11];
                let last_no = usize::try_from(last).unwrap_or(0).min(ends.len());
                let seps = ends.get_mut(..last_no).unwrap_or_default();
                byte_positions(fields, fs, seps);
                let mut from = 0usize;
                for (n, &to) in (1..=last).zip(ends.iter()) {
                    if from > fields.len() {
                        break;
                    }
                    if let (Some(k), Some(f)) = (self.kind.slot(n), fields.get(from..to)) {
                        if let Some(g) = got.get_mut(k) {
                            *g = f.get(..FIELD_CAP).unwrap_or(f);
                        }
                    }
                    from = to.saturating_add(1);
                }
                take_fields(&mut self.info, self.kind, &self.delims, got);
                // Taken: the segment's end below must not take (empty) captures again.
                self.kind = Kind::Other;
            }
            // The field count only matters past MAX_FIELDS (`too_many_fields`), which a segment of at
            // most that many bytes cannot reach: only a longer one has its separators counted.
            if seg.len() > MAX_FIELDS as usize {
                // The separator after the id counts too: this is the last field's number.
                let seps = memchr::memchr_iter(fs, seg).count();
                if seps > 1 {
                    self.start_field(u32::try_from(seps).unwrap_or(u32::MAX), sink);
                }
            }
        }
        self.end_segment(term, sink);
        Some(end.saturating_add(1))
    }

    /// MSH phase: collect up to the first CR/LF. Returns bytes consumed.
    fn feed_msh(&mut self, data: &[u8], sink: &mut dyn AnomalySink) -> usize {
        let mut rest = data;
        // Leading CR/LF before MSH are tolerated.
        if self.msh.is_empty() {
            let n = rest
                .iter()
                .position(|&b| b != CR && b != LF)
                .unwrap_or(rest.len());
            rest = rest.get(n..).unwrap_or_default();
            if rest.is_empty() {
                return data.len();
            }
        }
        let end = find3(rest, CR, LF, LF);
        let body = rest.get(..end.unwrap_or(rest.len())).unwrap_or_default();
        let used = data
            .len()
            .saturating_sub(rest.len())
            .saturating_add(body.len());
        if let (true, Some(&t)) = (self.msh.is_empty(), end.and_then(|e| rest.get(e))) {
            if body.len() <= MSH_CAP && body.starts_with(b"MSH") {
                // The usual case: the whole MSH segment is in this input. Read from the slice, not
                // collected (no copy, no buffer for the message).
                self.msh_checked = true;
                self.finish_msh_from(body, sink);
                return self.after_msh(t, used);
            }
        }
        let took = self.msh.push(body);
        if took < body.len() {
            self.msh_overflow = true;
        }
        if !self.msh_checked && self.msh.len() >= 3 {
            self.msh_checked = true;
            let head = self.msh.as_slice().get(..3).unwrap_or_default();
            if head != b"MSH" {
                let kind = if head == b"FHS" || head == b"BHS" {
                    "batch_not_supported"
                } else {
                    "missing_msh"
                };
                sink.anomaly(kind, "message does not start with an MSH segment".into());
                // Scan the rest as segments of an unreadable message.
                self.phase = Phase::Invalid;
                self.in_fields = true;
                let used = data
                    .len()
                    .saturating_sub(rest.len())
                    .saturating_add(body.len());
                return used;
            }
        }
        match end.and_then(|e| rest.get(e)) {
            Some(&t) => {
                self.finish_msh(sink);
                self.after_msh(t, used)
            }
            None => used,
        }
    }

    /// MSH ended with terminator `t`; `used` bytes of the input were MSH. Returns bytes consumed.
    fn after_msh(&mut self, t: u8, used: usize) -> usize {
        if self.phase == Phase::Body {
            self.count_term(t);
        }
        self.prev_cr = t == CR;
        used.saturating_add(1)
    }

    fn count_term(&mut self, t: u8) {
        if t == CR {
            self.info.cr_terms = self.info.cr_terms.saturating_add(1);
        } else {
            self.info.lf_terms = self.info.lf_terms.saturating_add(1);
        }
    }

    /// Parses the collected MSH; sets the phase to Body or Invalid.
    fn finish_msh(&mut self, sink: &mut dyn AnomalySink) {
        // Taken out for the call (no allocation) and put back: its storage is reused.
        let msh = std::mem::replace(&mut self.msh, CapBuf::new(MSH_CAP));
        self.finish_msh_from(msh.as_slice(), sink);
        self.msh = msh;
    }

    /// Parses the MSH segment `buf`; sets the phase to Body or Invalid.
    fn finish_msh_from(&mut self, buf: &[u8], sink: &mut dyn AnomalySink) {
        self.phase = Phase::Invalid;
        self.in_fields = false;
        self.id_len = 0;
        if buf.len() < 3 {
            sink.anomaly("truncated_msh", format!("MSH of {} bytes", buf.len()));
            return;
        }
        if !self.msh_checked {
            self.msh_checked = true;
            if buf.get(..3) != Some(b"MSH".as_slice()) {
                sink.anomaly(
                    "missing_msh",
                    "message does not start with an MSH segment".into(),
                );
                return;
            }
        }
        match parse_msh(buf, self.msh_overflow) {
            Ok((delims, fields, nonstandard)) => {
                if self.msh_overflow {
                    sink.anomaly(
                        "msh_too_long",
                        format!("MSH longer than {MSH_CAP} bytes; the cut field is dropped"),
                    );
                }
                if nonstandard {
                    sink.anomaly(
                        "nonstandard_encoding_characters",
                        "MSH-2 is not 4 or 5 encoding characters".into(),
                    );
                }
                if fields.message_code.is_none() {
                    sink.anomaly("missing_message_type", "MSH-9 is empty".into());
                }
                if fields.control_id.is_none() {
                    sink.anomaly("missing_control_id", "MSH-10 is empty".into());
                }
                self.delims = delims;
                self.info.msh = fields;
                self.phase = Phase::Body;
                self.record(SegId(*b"MSH"));
            }
            Err((kind, detail)) => sink.anomaly(kind, detail),
        }
    }

    /// Inside a segment's fields: scan to the next field separator or terminator.
    fn feed_fields(&mut self, data: &[u8], sink: &mut dyn AnomalySink) -> usize {
        let fs = self.delims.field;
        if self.phase != Phase::Body || self.field_no > self.kind.last_field() {
            // Nothing more to capture in this segment: jump to its end, counting fields.
            let (pos, seps) = segment_end(data, fs);
            let upto = pos.unwrap_or(data.len());
            if seps > 0 {
                let n = self
                    .field_no
                    .saturating_add(u32::try_from(seps).unwrap_or(u32::MAX));
                self.start_field(n, sink);
            }
            return match pos.and_then(|p| data.get(p)) {
                None => upto,
                Some(&t) => {
                    self.end_segment(t, sink);
                    upto.saturating_add(1)
                }
            };
        }
        let pos = find3(data, fs, CR, LF);
        let upto = pos.unwrap_or(data.len());
        if let Some(slot) = self.slot.and_then(|s| self.caps.get_mut(s)) {
            // Over the cap the field is cut; only identifiers are captured, so that is harmless.
            let _ = slot.push(data.get(..upto).unwrap_or_default());
        }
        match pos.and_then(|p| data.get(p)) {
            None => upto,
            Some(&b) => {
                if b == fs {
                    let n = self.field_no.saturating_add(1);
                    self.start_field(n, sink);
                } else {
                    self.end_segment(b, sink);
                }
                upto.saturating_add(1)
            }
        }
    }

    fn start_field(&mut self, n: u32, sink: &mut dyn AnomalySink) {
        let prev = self.field_no;
        self.field_no = n;
        self.slot = if self.phase == Phase::Body {
            self.kind.slot(n)
        } else {
            None
        };
        if prev <= MAX_FIELDS && n > MAX_FIELDS && self.phase == Phase::Body && self.once(F_FIELDS)
        {
            sink.anomaly(
                "too_many_fields",
                format!("a segment has more than {MAX_FIELDS} fields"),
            );
        }
    }

    fn once(&mut self, flag: u8) -> bool {
        let first = self.flags & flag == 0;
        self.flags |= flag;
        first
    }

    /// The segment id is complete (a field separator follows, or the segment ends).
    fn end_id(&mut self, sink: &mut dyn AnomalySink) {
        self.kind = Kind::Other;
        if self.phase != Phase::Body {
            return;
        }
        let id = self
            .id
            .get(..usize::from(self.id_len))
            .and_then(SegId::parse);
        match id {
            Some(id) => {
                self.kind = match &id.0 {
                    b"MSA" => Kind::Msa,
                    b"ERR" => Kind::Err,
                    b"OBX" => Kind::Obx,
                    _ => Kind::Other,
                };
                if &id.0 == b"MSH" && self.once(F_MULTI_MSH) {
                    sink.anomaly(
                        "multiple_msh_in_frame",
                        "a second MSH segment inside one MLLP block".into(),
                    );
                }
                self.record(id);
            }
            None => {
                if self.once(F_BAD_ID) {
                    sink.anomaly(
                        "bad_segment_id",
                        format!(
                            "segment id of {} bytes is not [A-Z][A-Z0-9]{{2}}",
                            self.id_len
                        ),
                    );
                }
            }
        }
    }

    fn record(&mut self, id: SegId) {
        let info = &mut self.info;
        info.segment_count = info.segment_count.saturating_add(1);
        if info.segments.len() < MAX_SEGMENT_IDS {
            if info.segments.is_empty() {
                info.segments.reserve_exact(16);
            }
            info.segments.push(id);
        } else {
            info.segments_truncated = true;
        }
        if let Some((_, n)) = info.counts.0.iter_mut().find(|(s, _)| *s == id) {
            *n = n.saturating_add(1);
        } else if info.counts.0.len() < MAX_SEGMENT_KINDS {
            if info.counts.0.is_empty() {
                info.counts.0.reserve_exact(8);
            }
            info.counts.0.push((id, 1));
        }
        if PHI_SEGMENTS.contains(&&id.0) && !info.phi.contains(&id) {
            info.phi.push(id);
        }
    }

    fn end_segment(&mut self, term: u8, sink: &mut dyn AnomalySink) {
        if !self.in_fields && self.id_len == 0 {
            // Empty segment: the LF of a CRLF, or blank lines.
            if term == LF {
                if self.prev_cr {
                    self.info.crlf_terms = self.info.crlf_terms.saturating_add(1);
                } else if self.phase == Phase::Body {
                    self.info.lf_terms = self.info.lf_terms.saturating_add(1);
                }
            }
            self.prev_cr = term == CR;
            return;
        }
        self.close_segment(sink);
        if self.phase == Phase::Body {
            self.count_term(term);
        }
        self.prev_cr = term == CR;
    }

    /// Ends the current (non-empty) segment: reads its captured fields.
    fn close_segment(&mut self, sink: &mut dyn AnomalySink) {
        if !self.in_fields {
            self.end_id(sink);
        }
        if self.phase == Phase::Body {
            self.take_captures();
        }
        self.in_fields = false;
        self.id_len = 0;
        self.field_no = 0;
        self.slot = None;
        self.kind = Kind::Other;
        for c in &mut self.caps {
            c.clear();
        }
    }

    fn take_captures(&mut self) {
        let [c0, c1, c2] = &self.caps;
        let got = [c0.as_slice(), c1.as_slice(), c2.as_slice()];
        take_fields(&mut self.info, self.kind, &self.delims, got);
    }

    /// The message ended (end block, next MSH, flow end). `None` when it could not be read (the
    /// anomaly was already reported).
    pub fn finish(&mut self, sink: &mut dyn AnomalySink) -> Option<MsgInfo> {
        match self.phase {
            Phase::Msh => {
                if self.msh.is_empty() {
                    sink.anomaly("empty_message", "a block with no segments".into());
                    return None;
                }
                self.finish_msh(sink);
            }
            Phase::Body => {
                if self.in_fields || self.id_len > 0 {
                    self.close_segment(sink);
                }
            }
            Phase::Invalid => {}
        }
        if self.phase != Phase::Body {
            return None;
        }
        Some(std::mem::take(&mut self.info))
    }
}

/// Records the reported fields of an MSA, ERR or OBX segment (`f`: the raw fields of its capture slots,
/// each at most [`FIELD_CAP`] bytes).
fn take_fields(info: &mut MsgInfo, kind: Kind, d: &Delims, f: [&[u8]; 3]) {
    let [f0, f1, f2] = f;
    // The first component of the first repetition of a field.
    let first = |v: &'_ [u8]| -> Option<Text> {
        let [(a, b)] = components::<1>(v, d);
        text(v.get(a..b).unwrap_or_default(), d)
    };
    match kind {
        Kind::Msa => {
            if info.msa.is_none() {
                info.msa = Some((first(f0), first(f1)));
            }
        }
        Kind::Err => {
            if info.err_count == 0 {
                info.err_code = first(f0);
                info.err_severity = first(f1);
            }
            info.err_count = info.err_count.saturating_add(1);
        }
        Kind::Obx => {
            info.obx_count = info.obx_count.saturating_add(1);
            // The three captures mapped to reported text side by side and checked as text once; the
            // identifiers are slices of that (component boundaries found on the raw bytes).
            let mut buf = [0u8; 3 * FIELD_CAP];
            for (region, v) in buf.chunks_exact_mut(FIELD_CAP).zip([f0, f1, f2]) {
                for (o, &b) in region.iter_mut().zip(v) {
                    *o = text_byte(b, d);
                }
            }
            // Only ASCII (and zeros) is in it, so this cannot fail; the third field's zeros after
            // its end are not looked at.
            let used = (2 * FIELD_CAP).saturating_add(f2.len()).min(buf.len());
            let all = std::str::from_utf8(buf.get(..used).unwrap_or_default()).unwrap_or_default();
            let at = |k: usize, (a, b): (usize, usize)| {
                let base = k.saturating_mul(FIELD_CAP);
                all.get(base.saturating_add(a)..base.saturating_add(b))
                    .unwrap_or_default()
            };
            let [c3_1, _, c3_3] = components::<3>(f1, d);
            let [c2_1] = components::<1>(f0, d);
            let [c11_1] = components::<1>(f2, d);
            let (code, system) = (at(1, c3_1), at(1, c3_3));
            let (vtype, status) = (at(0, c2_1), at(2, c11_1));
            let opt = |s: &str| (!s.is_empty()).then(|| Text::new(s));
            // Compare before allocating: repeated identifiers (the usual case) cost no allocation.
            let list = &mut info.observations;
            // Codes of one result mostly differ, often only in their digits: their last bytes are
            // compared before the whole (a library call per pair otherwise).
            let last = |t: &str| t.as_bytes().last().copied();
            if let Some(o) = list.iter_mut().find(|o| {
                last(&o.code) == last(code)
                    && o.code == code
                    && o.coding_system.as_deref().unwrap_or_default() == system
                    && o.value_type.as_deref().unwrap_or_default() == vtype
                    && o.status.as_deref().unwrap_or_default() == status
            }) {
                o.count = o.count.saturating_add(1);
            } else if list.len() < MAX_OBSERVATIONS {
                if list.is_empty() {
                    // A vitals result carries about eight: one allocation instead of growing twice.
                    list.reserve_exact(8);
                }
                list.push(Observation {
                    code: Text::new(code),
                    coding_system: opt(system),
                    value_type: opt(vtype),
                    status: opt(status),
                    count: 1,
                });
            } else {
                info.observations_truncated = true;
            }
        }
        Kind::Other => {}
    }
}

/// Parses an MSH segment (`buf` starts with `MSH`). `cut`: the buffer hit its cap, so its last field
/// is incomplete and dropped. Returns the delimiters, the fields, and whether MSH-2 is non-standard.
#[allow(clippy::type_complexity)]
pub fn parse_msh(
    buf: &[u8],
    cut: bool,
) -> Result<(Delims, MshFields, bool), (&'static str, String)> {
    let Some((&fs, rest)) = buf.get(3..).and_then(<[u8]>::split_first) else {
        return Err(("truncated_msh", "MSH ends before MSH-1".into()));
    };
    if !valid_separator(fs) {
        return Err((
            "bad_field_separator",
            format!("MSH-1 is byte 0x{fs:02x}, not a printable non-alphanumeric character"),
        ));
    }
    // MSH-2 to MSH-13 (no allocation: a message's MSH is read once per message).
    let mut fields: [&[u8]; 12] = [&[]; 12];
    let mut n = 0usize;
    let mut left = Some(rest);
    for slot in fields.iter_mut() {
        let Some(r) = left else { break };
        match find2(r, fs, fs) {
            Some(i) => {
                *slot = r.get(..i).unwrap_or_default();
                left = r.get(i.saturating_add(1)..);
            }
            None => {
                *slot = r;
                left = None;
            }
        }
        n = n.saturating_add(1);
    }
    if cut && n < 12 {
        if let Some(last) = n.checked_sub(1).and_then(|i| fields.get_mut(i)) {
            *last = &[];
        }
    }
    let enc = fields.first().copied().unwrap_or_default();
    if !valid_encoding(enc, fs) {
        return Err((
            "bad_encoding_characters",
            format!(
                "MSH-2 has {} characters; they must be 1 to 5 distinct printable non-alphanumerics other than MSH-1",
                enc.len()
            ),
        ));
    }
    let d = Delims {
        field: fs,
        component: enc.first().copied().unwrap_or(b'^'),
        repetition: enc.get(1).copied(),
        subcomponent: enc.get(3).copied(),
    };
    let nonstandard = !(enc.len() == 4 || enc.len() == 5);
    // fields[k] is MSH-(k+2).
    let f = |n: usize| -> &[u8] {
        n.checked_sub(2)
            .and_then(|k| fields.get(k))
            .map(|v| first_rep(v, &d))
            .unwrap_or_default()
    };
    // The whole segment is mapped to reported text and checked as UTF-8 once; each field is then a
    // slice of it (eleven fields, one validation).
    let mut mapped = [0u8; MSH_CAP];
    for (o, &b) in mapped.iter_mut().zip(buf) {
        *o = text_byte(b, &d);
    }
    let mapped = std::str::from_utf8(mapped.get(..buf.len()).unwrap_or_default()).unwrap_or("");
    let t = |v: &[u8]| text_in(buf, mapped, v, &d);
    let c = |n: usize, k: usize| t(component(f(n), &d, k));
    let msg = MshFields {
        sending_application: t(f(3)),
        sending_facility: t(f(4)),
        receiving_application: t(f(5)),
        receiving_facility: t(f(6)),
        datetime: c(7, 0),
        message_code: c(9, 0),
        trigger_event: c(9, 1),
        message_structure: c(9, 2),
        control_id: t(f(10)),
        processing_id: c(11, 0),
        version: c(12, 0),
    };
    Ok((d, msg, nonstandard))
}

/// MSH-2: 1 to 5 distinct printable non-alphanumeric characters, none equal to MSH-1.
pub fn valid_encoding(enc: &[u8], fs: u8) -> bool {
    !enc.is_empty()
        && enc.len() <= 5
        && enc.iter().enumerate().all(|(i, &b)| {
            valid_separator(b) && b != fs && !enc.get(..i).unwrap_or_default().contains(&b)
        })
}

/// Position of the first byte equal to `a`, `b` or `c` (memchr's vectorised search).
pub fn find3(data: &[u8], a: u8, b: u8, c: u8) -> Option<usize> {
    memchr::memchr3(a, b, c, data)
}

/// Where the segment ends (the first CR or LF) and how many field separators `fs` come before it
/// (memchr: vectorised search, then a count over the segment only).
pub fn segment_end(data: &[u8], fs: u8) -> (Option<usize>, usize) {
    let end = memchr::memchr2(CR, LF, data);
    let seg = data.get(..end.unwrap_or(data.len())).unwrap_or_default();
    (end, memchr::memchr_iter(fs, seg).count())
}

/// The byte ranges (start, end) of the first `N` components of the first repetition of `field` (at most
/// [`FIELD_CAP`] bytes are looked at); `(0, 0)` for a component that is not there. One pass.
fn components<const N: usize>(field: &[u8], d: &Delims) -> [(usize, usize); N] {
    let field = field.get(..FIELD_CAP).unwrap_or(field);
    let mut out = [(0usize, 0usize); N];
    let rep = d.repetition.unwrap_or(d.component);
    let mut start = 0usize;
    for o in out.iter_mut() {
        let rest = field.get(start..).unwrap_or_default();
        match find2(rest, d.component, rep) {
            Some(i) => {
                let end = start.saturating_add(i);
                *o = (start, end);
                if field.get(end) != Some(&d.component) {
                    // The first repetition ends here.
                    break;
                }
                start = end.saturating_add(1);
            }
            None => {
                *o = (start, field.len());
                break;
            }
        }
    }
    out
}

/// Walks `hay` eight bytes at a time (SWAR), giving `f` each word's offset and a mask with the high bit
/// of every byte equal to `a` or `b` set, exactly (no borrow from one byte into the next); words with
/// no such byte are skipped, and the walk stops when `f` returns false. For the short fields of a
/// segment, where memchr's set-up costs more than it saves.
#[inline(always)]
fn match_words(hay: &[u8], a: u8, b: u8, mut f: impl FnMut(usize, u64) -> bool) {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let splat = |c: u8| 0x0101_0101_0101_0101u64.wrapping_mul(u64::from(c));
    let (va, vb) = (splat(a), splat(b));
    // The high bit of every zero byte of `x`.
    let zeros = |x: u64| !((x & LO7).wrapping_add(LO7) | x | LO7);
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0usize;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        let m = zeros(x ^ va) | zeros(x ^ vb);
        if m != 0 && !f(base, m) {
            return;
        }
        base = base.saturating_add(8);
    }
    // The last, short word byte by byte (cheaper than a padded word for the few bytes left): each
    // match as a mask of its own.
    for (i, &x) in chunks.remainder().iter().enumerate() {
        if (x == a || x == b) && !f(base, 0x80u64 << i.saturating_mul(8)) {
            return;
        }
    }
}

/// Writes the positions of the first `out.len()` bytes of `hay` equal to `b` into `out` (ascending);
/// returns how many were found (the rest of `out` is left as it was).
pub fn byte_positions(hay: &[u8], b: u8, out: &mut [usize]) -> usize {
    let mut found = 0usize;
    match_words(hay, b, b, |base, mut m| {
        while m != 0 {
            let Some(o) = out.get_mut(found) else {
                return false;
            };
            *o = base.saturating_add((m.trailing_zeros() / 8) as usize);
            found = found.saturating_add(1);
            m &= m.wrapping_sub(1);
        }
        found < out.len()
    });
    found
}

/// Position of the first byte equal to `a` or `b`.
pub fn find2(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut first = None;
    match_words(hay, a, b, |base, m| {
        first = Some(base.saturating_add((m.trailing_zeros() / 8) as usize));
        false
    });
    first
}

/// The first repetition of a field.
fn first_rep<'a>(field: &'a [u8], d: &Delims) -> &'a [u8] {
    match d
        .repetition
        .and_then(|r| field.iter().position(|&b| b == r))
    {
        Some(i) => field.get(..i).unwrap_or_default(),
        None => field,
    }
}

/// Component `n` (0-based) of a field.
fn component<'a>(field: &'a [u8], d: &Delims, n: usize) -> &'a [u8] {
    let mut rest = field;
    let c = d.component;
    for _ in 0..n {
        match rest.iter().position(|&b| b == c) {
            Some(i) => rest = rest.get(i.saturating_add(1)..).unwrap_or_default(),
            None => return &[],
        }
    }
    match rest.iter().position(|&b| b == c) {
        Some(i) => rest.get(..i).unwrap_or_default(),
        None => rest,
    }
}

fn text_byte(b: u8, d: &Delims) -> u8 {
    if b == d.component {
        b'^'
    } else if Some(b) == d.subcomponent {
        b'&'
    } else if b.is_ascii_graphic() || b == b' ' {
        b
    } else {
        b'?'
    }
}

/// The part of `mapped` (the text of `raw`, same length) at the place of `v`, a slice of `raw`;
/// `None` if `mapped` does not cover it.
fn slice_of<'b>(raw: &[u8], mapped: &'b str, v: &[u8]) -> Option<&'b str> {
    if v.is_empty() {
        return Some("");
    }
    // Where `v` starts inside `raw` (addresses only; nothing is dereferenced).
    let at = (v.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
    let end = at.checked_add(v.len()).filter(|&e| e <= raw.len())?;
    mapped.get(at..end)
}

/// [`text`] of `v`, a slice of `raw`, taken from `mapped` (see [`slice_of`]) when it covers `v`.
fn text_in(raw: &[u8], mapped: &str, v: &[u8], d: &Delims) -> Option<Text> {
    let v = v.get(..FIELD_CAP).unwrap_or(v);
    match slice_of(raw, mapped, v) {
        Some("") => None,
        Some(s) => Some(Text::new(s)),
        None => text(v, d),
    }
}

/// A reported string: component separators shown as `^`, subcomponent separators as `&`, anything not
/// printable ASCII as `?`, at most [`FIELD_CAP`] characters; `None` when empty.
pub fn text(v: &[u8], d: &Delims) -> Option<Text> {
    let v = v.get(..FIELD_CAP).unwrap_or(v);
    if v.is_empty() {
        return None;
    }
    let mut buf = [0u8; FIELD_CAP];
    for (o, &b) in buf.iter_mut().zip(v) {
        *o = text_byte(b, d);
    }
    // Only ASCII is left, so this cannot fail.
    std::str::from_utf8(buf.get(..v.len()).unwrap_or_default())
        .ok()
        .map(Text::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Kinds(Vec<&'static str>);
    impl AnomalySink for Kinds {
        fn anomaly(&mut self, kind: &'static str, _detail: String) {
            self.0.push(kind);
        }
    }

    fn scan(msg: &[u8]) -> (Option<MsgInfo>, Vec<&'static str>) {
        let mut s = Scanner::new();
        let mut k = Kinds::default();
        assert_eq!(s.feed(msg, false, &mut k), Scan::All);
        let info = s.finish(&mut k);
        (info, k.0)
    }

    // HL7 v2.5 chapter 2 (message delimiters, MSH definition): an MSH with the usual delimiters, and a result with two
    // observations; OBX-5 values and NTE text must never be captured.
    const ORU: &[u8] =
        b"MSH|^~\\&|MONITOR|ICU^1.2.3^ISO|HIS|GHH|20240101120000||ORU^R01^ORU_R01|MSG00001|P|2.5\r\
PID|||555-44-4444||EVERYWOMAN^EVE^E^^^^L||19620320|F\r\
OBR|1||1234|150456^MDC_PULS_OXIM_SAT_O2^MDC\r\
OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98|%|||||F\r\
OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC||72|bpm|||||F\r\
OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC||73|bpm|||||F\r\
NTE|1||patient said \\F\\ hello \\X0D\\ there\r";

    #[test]
    fn reads_msh_segments_and_observations() {
        let (info, kinds) = scan(ORU);
        assert!(kinds.is_empty(), "{kinds:?}");
        let info = info.unwrap();
        assert_eq!(info.msh.sending_application.as_deref(), Some("MONITOR"));
        assert_eq!(info.msh.sending_facility.as_deref(), Some("ICU^1.2.3^ISO"));
        assert_eq!(info.msh.message_code.as_deref(), Some("ORU"));
        assert_eq!(info.msh.trigger_event.as_deref(), Some("R01"));
        assert_eq!(info.msh.message_structure.as_deref(), Some("ORU_R01"));
        assert_eq!(info.msh.control_id.as_deref(), Some("MSG00001"));
        assert_eq!(info.msh.version.as_deref(), Some("2.5"));
        assert_eq!(info.msh.datetime.as_deref(), Some("20240101120000"));
        let ids: Vec<&str> = info.segments.iter().map(SegId::as_str).collect();
        assert_eq!(ids, ["MSH", "PID", "OBR", "OBX", "OBX", "OBX", "NTE"]);
        assert_eq!(info.obx_count, 3);
        assert_eq!(info.observations.len(), 2);
        assert_eq!(info.observations[1].code, "147842");
        assert_eq!(info.observations[1].coding_system.as_deref(), Some("MDC"));
        assert_eq!(info.observations[1].value_type.as_deref(), Some("NM"));
        assert_eq!(info.observations[1].status.as_deref(), Some("F"));
        assert_eq!(info.observations[1].count, 2);
        let phi: Vec<&str> = info.phi.iter().map(SegId::as_str).collect();
        assert_eq!(phi, ["PID", "OBX", "NTE"]);
        assert_eq!(info.terminator(), "cr");
        assert_eq!(
            info.counts.0,
            vec![
                (SegId(*b"MSH"), 1),
                (SegId(*b"PID"), 1),
                (SegId(*b"OBR"), 1),
                (SegId(*b"OBX"), 3),
                (SegId(*b"NTE"), 1)
            ]
        );
    }

    #[test]
    fn delimiters_come_from_msh() {
        // Same message with `#` as field separator and `$%*@` as encoding characters.
        let m = b"MSH#$%*@#APP#FAC#RAPP#RFAC#2024##ACK$A01#C1#P#2.3.1\rMSA#AE#X9\rERR#$$$207@x#1\r";
        let (info, kinds) = scan(m);
        assert!(kinds.is_empty(), "{kinds:?}");
        let info = info.unwrap();
        assert_eq!(info.msh.message_code.as_deref(), Some("ACK"));
        assert_eq!(info.msh.trigger_event.as_deref(), Some("A01"));
        assert_eq!(info.msa, Some((Some("AE".into()), Some("X9".into()))));
        assert_eq!(info.err_count, 1);
    }

    #[test]
    fn err_code_and_severity() {
        // HL7 v2.5 chapter 2, ERR segment: ERR-3 HL7 error code (table 0357), ERR-4 severity (table 0516).
        let m = b"MSH|^~\\&|A|B|C|D|2024||ACK^R01^ACK|C2|P|2.5\rMSA|AR|MSG00001\rERR||PID^1^3|102^Data type error^HL70357|E\r";
        let info = scan(m).0.unwrap();
        assert_eq!(info.err_code.as_deref(), Some("102"));
        assert_eq!(info.err_severity.as_deref(), Some("E"));
    }

    #[test]
    fn lf_and_crlf_terminators() {
        let m = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|C3|P|2.5\r\nEVN|A01\r\nPID|||1\r\n";
        let info = scan(m).0.unwrap();
        assert_eq!(info.terminator(), "crlf");
        assert_eq!(info.segment_count, 3);
        let m = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|C3|P|2.5\nEVN|A01\nPID|||1\n";
        let info = scan(m).0.unwrap();
        assert_eq!(info.terminator(), "lf");
        assert_eq!(info.segment_count, 3);
        let m = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|C3|P|2.5\rEVN|A01\nPID|||1\r";
        assert_eq!(scan(m).0.unwrap().terminator(), "mixed");
    }

    #[test]
    fn hostile_msh() {
        assert_eq!(scan(b"PID|1\r").1, ["missing_msh"]);
        assert_eq!(scan(b"BHS|^~\\&\r").1, ["batch_not_supported"]);
        assert_eq!(scan(b"MSHA^~\\&|x\r").1, ["bad_field_separator"]);
        assert_eq!(scan(b"MSH||x\r").1, ["bad_encoding_characters"]);
        assert_eq!(scan(b"MSH|^^~\\|x\r").1, ["bad_encoding_characters"]);
        assert_eq!(scan(b"MSH|^~\\&ab|x\r").1, ["bad_encoding_characters"]);
        assert_eq!(scan(b"MS").1, ["truncated_msh"]);
        assert_eq!(scan(b"").1, ["empty_message"]);
        let (info, kinds) = scan(b"MSH|^~\\&|A\r");
        assert_eq!(kinds, ["missing_message_type", "missing_control_id"]);
        assert!(info.is_some());
        // An MSH far over the cap: the cut field is dropped, the rest parsed.
        let mut m = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|C4|P|2.5|".to_vec();
        m.extend(std::iter::repeat_n(b'x', 10_000));
        m.extend_from_slice(b"\rOBX|1\r");
        let (info, kinds) = scan(&m);
        assert_eq!(kinds, ["msh_too_long"]);
        assert_eq!(info.unwrap().segment_count, 2);
    }

    #[test]
    fn bad_ids_and_field_counts_are_counted_once() {
        let mut m = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|C5|P|2.5\rjohn smith\rDoe|x\rZZ1|".to_vec();
        m.extend(std::iter::repeat_n(b'|', 5000));
        m.extend_from_slice(b"\rPIDX|1\r");
        let (info, kinds) = scan(&m);
        assert_eq!(kinds, ["bad_segment_id", "too_many_fields"]);
        let info = info.unwrap();
        let ids: Vec<&str> = info.segments.iter().map(SegId::as_str).collect();
        assert_eq!(ids, ["MSH", "ZZ1"]);
    }

    #[test]
    fn segment_lists_are_capped() {
        let mut m = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|C6|P|2.5\r".to_vec();
        for i in 0..2000u32 {
            m.extend_from_slice(format!("Z{:02}|1\rOBX|1|NM|{i}^x^LN||5\r", i % 100).as_bytes());
        }
        let info = scan(&m).0.unwrap();
        assert_eq!(info.segment_count, 4001);
        assert_eq!(info.segments.len(), MAX_SEGMENT_IDS);
        assert!(info.segments_truncated);
        assert_eq!(info.counts.0.len(), MAX_SEGMENT_KINDS);
        assert_eq!(info.observations.len(), MAX_OBSERVATIONS);
        assert!(info.observations_truncated);
        assert_eq!(info.obx_count, 2000);
    }

    #[test]
    fn text_cut_from_a_mapped_buffer_agrees_with_text() {
        let odd = Delims {
            field: b'#',
            component: b'$',
            repetition: Some(b'!'),
            subcomponent: Some(b'%'),
        };
        let raw = b"MSH|a^b&c\x01\xff$%!|150456^^MDC|NM||x";
        for d in [Delims::default(), odd] {
            let mut m = [0u8; 64];
            for (o, &b) in m.iter_mut().zip(raw.iter()) {
                *o = text_byte(b, &d);
            }
            let mapped = std::str::from_utf8(&m[..raw.len()]).unwrap();
            for a in 0..raw.len() {
                for b in a..=raw.len() {
                    let v = &raw[a..b];
                    assert_eq!(text_in(raw, mapped, v, &d), text(v, &d), "{a}..{b}");
                }
            }
            // Not inside `raw`: falls back to mapping it on its own.
            let other = b"a$b";
            assert_eq!(text_in(raw, mapped, other, &d), text(other, &d));
        }
    }

    /// A whole segment is read from the slice; fed a byte at a time it goes through the capture
    /// buffers: both must give the same message, whatever the fields hold.
    #[test]
    fn whole_segments_and_bytewise_feeding_agree() {
        let mut long = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|C9|P|2.5\r".to_vec();
        long.extend_from_slice(b"OBX|1|NM|");
        long.extend(std::iter::repeat_n(b'7', 70));
        long.extend_from_slice(b"^long^LN||1|||||F\r");
        long.extend_from_slice(b"OBX|2|N\x01M|150456&sub^t\xffx^MDC~2^x^y||9|||||R~F\r");
        long.extend_from_slice(
            b"OBX|3||^^||\rOBX|4\rOBX\rMSA|AE|X&1^2\rERR||x|207^e^HL70357~1|W\r",
        );
        let odd = b"MSH#$%*@#A#B#C#D#2024##ORU$R01#C10#P#2.5\rOBX#1#NM#1^2$x$LN%q*9$y$z####F\r";
        for m in [ORU, long.as_slice(), odd.as_slice()] {
            let whole = scan(m);
            let mut s = Scanner::new();
            let mut k = Kinds::default();
            for b in m.chunks(1) {
                assert_eq!(s.feed(b, false, &mut k), Scan::All);
            }
            let bytewise = (s.finish(&mut k), k.0);
            assert_eq!(whole, bytewise);
            assert!(whole.0.unwrap().obx_count > 0);
        }
    }

    #[test]
    fn components_agree_with_splitting() {
        let odd = Delims {
            field: b'#',
            component: b'$',
            repetition: Some(b'!'),
            subcomponent: Some(b'%'),
        };
        let no_rep = Delims {
            repetition: None,
            ..Delims::default()
        };
        let fields: [&[u8]; 9] = [
            b"",
            b"150456^MDC_PULS_OXIM_SAT_O2^MDC",
            b"a^^c~d^e^f",
            b"^^",
            b"~x^y^z",
            b"only",
            b"1$2$3!4$5",
            b"x^y",
            &[b'^'; 100],
        ];
        for d in [Delims::default(), odd, no_rep] {
            for f in fields {
                let got = components::<3>(f, &d);
                let cut = f.get(..FIELD_CAP).unwrap_or(f);
                for (n, (a, b)) in got.into_iter().enumerate() {
                    assert_eq!(
                        &cut[a..b],
                        component(first_rep(cut, &d), &d, n),
                        "{f:?} {n}"
                    );
                }
                let [(a, b)] = components::<1>(f, &d);
                assert_eq!(&cut[a..b], component(first_rep(cut, &d), &d, 0));
            }
        }
    }

    #[test]
    fn segment_end_matches_a_plain_search() {
        let mut hay: Vec<u8> = (0..200u32)
            .map(|i| b"ab|c^\x80\xff|"[(i % 8) as usize])
            .collect();
        hay.extend_from_slice(b"\r|x\n");
        let plain = |h: &[u8], fs: u8| {
            let pos = h.iter().position(|&b| b == CR || b == LF);
            let seps = h[..pos.unwrap_or(h.len())]
                .iter()
                .filter(|&&b| b == fs)
                .count();
            (pos, seps)
        };
        for fs in [b'|', b'^', 0x80, 0xff, b'\r'] {
            for start in 0..hay.len() {
                let h = &hay[start..];
                assert_eq!(segment_end(h, fs), plain(h, fs), "{start} {fs}");
                let cut = &h[..h.len().min(37)];
                assert_eq!(segment_end(cut, fs), plain(cut, fs), "{start} {fs} cut");
            }
        }
    }

    #[test]
    fn find2_matches_a_plain_search() {
        let hay: Vec<u8> = (0..=255u8).chain(0..=255u8).rev().collect();
        for start in 0..40 {
            for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 31, 64, 300] {
                let h = &hay[start..(start + len).min(hay.len())];
                for (a, b) in [
                    (0u8, 0u8),
                    (13, 10),
                    (255, 128),
                    (200, 7),
                    (1, 2),
                    (0x80, 0x7f),
                ] {
                    let want = h.iter().position(|&x| x == a || x == b);
                    assert_eq!(find2(h, a, b), want, "{start} {len} {a} {b}");
                }
            }
        }
        // Bytes next to a match, borrows across bytes: only the lowest match counts.
        assert_eq!(find2(b"\x01\x00\x01\x00\x01\x01\x01\x01", 0, 0), Some(1));
        assert_eq!(
            find2(b"\x81\x80\x00\x00\x00\x00\x00\x00\x00", 0x80, 0x80),
            Some(1)
        );
        assert_eq!(find2(b"abcdefgh^", b'^', b'~'), Some(8));
    }

    #[test]
    fn byte_positions_match_a_plain_search() {
        let hay: Vec<u8> = (0..600u32).map(|i| (i * 7 % 13) as u8 * 20).collect();
        for start in 0..24 {
            for len in [0usize, 1, 7, 8, 9, 16, 23, 64, 500] {
                let h = &hay[start..(start + len).min(hay.len())];
                for b in [0u8, 20, 120, 240, 255] {
                    for n in [0usize, 1, 3, 11, 40] {
                        let want: Vec<usize> = h
                            .iter()
                            .enumerate()
                            .filter(|(_, &x)| x == b)
                            .map(|(i, _)| i)
                            .take(n)
                            .collect();
                        let mut out = vec![usize::MAX; n];
                        let k = byte_positions(h, b, &mut out);
                        assert_eq!(&out[..k], &want[..], "{start} {len} {b} {n}");
                        assert!(out[k..].iter().all(|&x| x == usize::MAX));
                    }
                }
            }
        }
        // Neighbouring matches and borrows: every match, none invented.
        let mut out = [0usize; 8];
        assert_eq!(
            byte_positions(b"\x00\x00\x01\x00\x80\x00\xff\x00", 0, &mut out),
            5
        );
        assert_eq!(out[..5], [0, 1, 3, 5, 7]);
        assert_eq!(byte_positions(b"|||||||||", b'|', &mut out), 8);
    }

    #[test]
    fn find3_matches_a_plain_search() {
        let hay: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for start in 0..40 {
            for (a, b, c) in [(0u8, 0u8, 0u8), (13, 10, 124), (255, 128, 127), (200, 7, 7)] {
                let h = &hay[start..];
                let want = h.iter().position(|&x| x == a || x == b || x == c);
                assert_eq!(find3(h, a, b, c), want, "{start} {a} {b} {c}");
            }
        }
        assert_eq!(find3(b"abcdefghij|", b'|', 0, 0), Some(10));
        assert_eq!(find3(b"\x01\x01\x01\x01\x01\x01\x01\x00", 0, 0, 0), Some(7));
        assert_eq!(find3(b"", 1, 2, 3), None);
    }

    #[test]
    fn unframed_scan_stops_at_next_msh() {
        let mut s = Scanner::new();
        let mut k = Kinds::default();
        let m = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|C7|P|2.5\rEVN|A01\rMSH|^~\\&|A";
        match s.feed(m, true, &mut k) {
            Scan::NewMessage(n) => assert_eq!(&m[n - 3..n + 1], b"MSH|"),
            Scan::All => panic!("next MSH not found"),
        }
        assert_eq!(s.finish(&mut k).unwrap().segment_count, 2);
    }
}
