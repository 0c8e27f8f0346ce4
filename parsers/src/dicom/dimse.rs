//! DIMSE command sets (PS3.7 §9.3 and §10.3, the command dictionary of PS3.7 Annex E) and the bounded
//! query-key analysis of C-FIND/C-MOVE/C-GET identifiers (PS3.4 C.2.2.2 matching kinds).
//!
//! A command set is group 0000 only, always Implicit VR Little Endian (PS3.7 §6.3.1; element encoding
//! PS3.5 §7.1.3): tag group (2, LE), element (2, LE), value length (4, LE), value. [`parse_command_set`]
//! walks a buffer the caller assembled from command fragments (under its hard cap) and keeps borrowed
//! views of the elements it knows; unknown elements are skipped. The Error Comment (0000,0902) is never
//! read, only its length.
//!
//! [`analyze_identifier`] looks at the top-level elements of a query identifier in the negotiated
//! transfer syntax (PS3.5 §7.1.2 explicit / §7.1.3 implicit VR, §7.5 sequences with defined or undefined
//! length) and says, per key, which kind of matching it asks for. It reads values only to classify them
//! and returns no value except the Query/Retrieve Level (a code string such as `STUDY`).

use crate::wire::Reader;

/// Decoded command elements (views into the caller's buffer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSet<'a> {
    pub group_length: Option<u32>,
    /// (0000,0100) Command Field.
    pub command_field: Option<u16>,
    /// (0000,0110) Message ID.
    pub message_id: Option<u16>,
    /// (0000,0120) Message ID Being Responded To.
    pub responded_id: Option<u16>,
    /// (0000,0002) Affected SOP Class UID.
    pub affected_sop_class: Option<&'a [u8]>,
    /// (0000,0003) Requested SOP Class UID.
    pub requested_sop_class: Option<&'a [u8]>,
    /// (0000,1000) Affected SOP Instance UID.
    pub affected_sop_instance: Option<&'a [u8]>,
    /// (0000,1001) Requested SOP Instance UID.
    pub requested_sop_instance: Option<&'a [u8]>,
    /// (0000,0600) Move Destination.
    pub move_destination: Option<&'a [u8]>,
    /// (0000,0700) Priority.
    pub priority: Option<u16>,
    /// (0000,0800) Command Data Set Type: 0x0101 means no data set follows.
    pub data_set_type: Option<u16>,
    /// (0000,0900) Status.
    pub status: Option<u16>,
    /// (0000,0902) Error Comment length (its text is never read).
    pub error_comment_len: Option<u32>,
    /// (0000,1002) Event Type ID and (0000,1008) Action Type ID.
    pub event_type_id: Option<u16>,
    pub action_type_id: Option<u16>,
    /// (0000,1020..1023) Number of Remaining/Completed/Failed/Warning Sub-operations.
    pub remaining: Option<u16>,
    pub completed: Option<u16>,
    pub failed: Option<u16>,
    pub warning: Option<u16>,
    /// (0000,1030) Move Originator AE Title and (0000,1031) Move Originator Message ID.
    pub move_originator_ae: Option<&'a [u8]>,
    pub move_originator_id: Option<u16>,
    /// Elements outside group 0000, or US/UL values of the wrong length (the tag of the first).
    pub bad_element: Option<u32>,
}

impl CommandSet<'_> {
    /// A data set follows the command (PS3.7 §E.1: any value other than 0x0101).
    pub fn has_data_set(&self) -> bool {
        self.data_set_type.is_some_and(|t| t != 0x0101)
    }

    pub fn is_response(&self) -> bool {
        self.command_field.is_some_and(|f| f & 0x8000 != 0)
    }

    /// Required elements absent for this command (PS3.7 §9.3 and §10.3 tables: Command Field and
    /// Command Data Set Type always; Message ID for requests; Message ID Being Responded To and Status
    /// for responses; Message ID Being Responded To for C-CANCEL-RQ).
    pub fn missing_required(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        let Some(field) = self.command_field else {
            m.push("CommandField");
            return m;
        };
        if self.data_set_type.is_none() {
            m.push("CommandDataSetType");
        }
        if field == C_CANCEL_RQ {
            if self.responded_id.is_none() {
                m.push("MessageIDBeingRespondedTo");
            }
        } else if field & 0x8000 != 0 {
            if self.responded_id.is_none() {
                m.push("MessageIDBeingRespondedTo");
            }
            if self.status.is_none() {
                m.push("Status");
            }
        } else if self.message_id.is_none() {
            m.push("MessageID");
        }
        if matches!(field, C_STORE_RQ | C_FIND_RQ | C_MOVE_RQ | C_GET_RQ)
            && self.affected_sop_class.is_none()
        {
            m.push("AffectedSOPClassUID");
        }
        if field == C_MOVE_RQ && self.move_destination.is_none() {
            m.push("MoveDestination");
        }
        m
    }
}

pub const C_STORE_RQ: u16 = 0x0001;
pub const C_GET_RQ: u16 = 0x0010;
pub const C_FIND_RQ: u16 = 0x0020;
pub const C_MOVE_RQ: u16 = 0x0021;
pub const C_CANCEL_RQ: u16 = 0x0fff;

/// The command's PS3.7 name (Annex E, Table E.1-1 / §9.3 and §10.3 command field values).
pub fn command_name(field: u16) -> Option<&'static str> {
    Some(match field {
        0x0001 => "C-STORE-RQ",
        0x8001 => "C-STORE-RSP",
        0x0010 => "C-GET-RQ",
        0x8010 => "C-GET-RSP",
        0x0020 => "C-FIND-RQ",
        0x8020 => "C-FIND-RSP",
        0x0021 => "C-MOVE-RQ",
        0x8021 => "C-MOVE-RSP",
        0x0030 => "C-ECHO-RQ",
        0x8030 => "C-ECHO-RSP",
        0x0100 => "N-EVENT-REPORT-RQ",
        0x8100 => "N-EVENT-REPORT-RSP",
        0x0110 => "N-GET-RQ",
        0x8110 => "N-GET-RSP",
        0x0120 => "N-SET-RQ",
        0x8120 => "N-SET-RSP",
        0x0130 => "N-ACTION-RQ",
        0x8130 => "N-ACTION-RSP",
        0x0140 => "N-CREATE-RQ",
        0x8140 => "N-CREATE-RSP",
        0x0150 => "N-DELETE-RQ",
        0x8150 => "N-DELETE-RSP",
        0x0fff => "C-CANCEL-RQ",
        _ => return None,
    })
}

/// Status class per PS3.7 Annex C: success 0x0000; pending 0xFF00/0xFF01; cancel 0xFE00; warning
/// 0x0001, 0x0107, 0x0116 and 0xBxxx; failure 0xAxxx, 0xCxxx and 0x01xx/0x02xx; anything else unknown.
pub fn status_class(status: u16) -> &'static str {
    match status {
        0x0000 => "success",
        0xff00 | 0xff01 => "pending",
        0xfe00 => "cancel",
        0x0001 | 0x0107 | 0x0116 | 0xb000..=0xbfff => "warning",
        0xa000..=0xafff | 0xc000..=0xcfff | 0x0100..=0x02ff => "failure",
        _ => "unknown",
    }
}

/// Decodes a command set. Fails only when an element header or value runs past the buffer (the
/// offset of the cut element is returned); unknown elements are skipped.
pub fn parse_command_set(buf: &[u8]) -> Result<CommandSet<'_>, usize> {
    let mut c = CommandSet::default();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let at = r.offset();
        let (Some(group), Some(elem), Some(len)) = (r.le_u16(), r.le_u16(), r.le_u32()) else {
            return Err(at);
        };
        let Some(value) = usize::try_from(len).ok().and_then(|n| r.take(n)) else {
            return Err(at);
        };
        let tag = (u32::from(group) << 16) | u32::from(elem);
        if group != 0x0000 {
            c.bad_element.get_or_insert(tag);
            continue;
        }
        let us = || -> Option<u16> { value.try_into().ok().map(u16::from_le_bytes) };
        let mut bad = false;
        let mut set_us = |slot: &mut Option<u16>| match us() {
            Some(v) => *slot = Some(v),
            None => bad = true,
        };
        match elem {
            0x0000 => c.group_length = value.try_into().ok().map(u32::from_le_bytes),
            0x0002 => c.affected_sop_class = Some(value),
            0x0003 => c.requested_sop_class = Some(value),
            0x0100 => set_us(&mut c.command_field),
            0x0110 => set_us(&mut c.message_id),
            0x0120 => set_us(&mut c.responded_id),
            0x0600 => c.move_destination = Some(value),
            0x0700 => set_us(&mut c.priority),
            0x0800 => set_us(&mut c.data_set_type),
            0x0900 => set_us(&mut c.status),
            0x0902 => c.error_comment_len = Some(len),
            0x1000 => c.affected_sop_instance = Some(value),
            0x1001 => c.requested_sop_instance = Some(value),
            0x1002 => set_us(&mut c.event_type_id),
            0x1008 => set_us(&mut c.action_type_id),
            0x1020 => set_us(&mut c.remaining),
            0x1021 => set_us(&mut c.completed),
            0x1022 => set_us(&mut c.failed),
            0x1023 => set_us(&mut c.warning),
            0x1030 => c.move_originator_ae = Some(value),
            0x1031 => set_us(&mut c.move_originator_id),
            _ => {}
        }
        if bad {
            c.bad_element.get_or_insert(tag);
        }
    }
    Ok(c)
}

/// How a data set is encoded, from the accepted transfer syntax of its presentation context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
}

impl Syntax {
    /// `None` for the deflated syntax (1.2.840.10008.1.2.1.99), whose bytes cannot be read in place.
    pub fn from_uid(uid: &str) -> Option<Syntax> {
        match uid {
            "1.2.840.10008.1.2" => Some(Syntax::ImplicitLe),
            "1.2.840.10008.1.2.2" => Some(Syntax::ExplicitBe),
            "1.2.840.10008.1.2.1.99" => None,
            _ => Some(Syntax::ExplicitLe),
        }
    }

    /// Guess when no association was seen: an explicit VR has two upper-case letters after the tag.
    pub fn guess(buf: &[u8]) -> Syntax {
        match (buf.get(4), buf.get(5)) {
            (Some(a), Some(b)) if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                Syntax::ExplicitLe
            }
            _ => Syntax::ImplicitLe,
        }
    }
}

/// The kind of matching a query key asks for (PS3.4 C.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// Zero-length value: return every value (C.2.2.2.3).
    Universal,
    /// A value of only `*`: matches everything, like universal.
    WildcardAll,
    /// Contains `*` or `?` (C.2.2.2.4).
    Wildcard,
    /// A date/time range `a-b` (C.2.2.2.5).
    Range,
    /// A list of values separated by `\` (UID list matching, C.2.2.2.2).
    List,
    /// A single value (C.2.2.2.1).
    Single,
    /// A sequence key (C.2.2.2.6): its items are not examined.
    Sequence,
}

/// One top-level key of a query identifier: tag and matching kind, never its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryKey {
    pub tag: u32,
    pub matching: Matching,
}

/// At most this many keys are kept per identifier.
pub const MAX_QUERY_KEYS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryInfo {
    /// (0008,0052) Query/Retrieve Level, when a plain code string.
    pub level: Option<String>,
    pub keys: Vec<QueryKey>,
    /// The identifier could not be walked to its end (truncated buffer or malformed element).
    pub malformed: bool,
}

/// Tags whose VR is DA, TM or DT among the usual query keys (for range detection in implicit VR).
fn is_date_time_tag(tag: u32) -> bool {
    matches!(
        tag,
        0x0008_0020..=0x0008_0023
            | 0x0008_002a
            | 0x0008_0030..=0x0008_0033
            | 0x0010_0030
            | 0x0010_0032
            | 0x0040_0002..=0x0040_0005
            | 0x0040_0244
            | 0x0040_0245
    )
}

fn classify(value: &[u8], date_time: bool) -> Matching {
    let v = trim(value);
    if v.is_empty() {
        Matching::Universal
    } else if v.iter().all(|&b| b == b'*') {
        Matching::WildcardAll
    } else if date_time && v.contains(&b'-') {
        Matching::Range
    } else if v.contains(&b'\\') {
        Matching::List
    } else if !date_time && v.iter().any(|&b| b == b'*' || b == b'?') {
        Matching::Wildcard
    } else {
        Matching::Single
    }
}

/// Strips leading/trailing spaces and NULs (DICOM padding, PS3.5 §6.2).
pub fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != 0)
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(start, |e| e.saturating_add(1));
    b.get(start..end).unwrap_or_default()
}

const LONG_VRS: [&[u8; 2]; 13] = [
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV",
];

/// Walks the identifier's elements; records top-level keys (never values), skipping nested sequence
/// items by tracking delimiter depth (PS3.5 §7.5).
pub fn analyze_identifier(buf: &[u8], syntax: Syntax) -> QueryInfo {
    let mut q = QueryInfo::default();
    let mut r = Reader::new(buf);
    let mut depth: u32 = 0;
    let be = syntax == Syntax::ExplicitBe;
    let u16_ = |r: &mut Reader<'_>| if be { r.be_u16() } else { r.le_u16() };
    let u32_ = |r: &mut Reader<'_>| if be { r.be_u32() } else { r.le_u32() };
    while !r.is_empty() {
        let (Some(group), Some(elem)) = (u16_(&mut r), u16_(&mut r)) else {
            q.malformed = true;
            break;
        };
        let tag = (u32::from(group) << 16) | u32::from(elem);
        // Items and delimiters carry no VR in any syntax.
        if group == 0xfffe {
            let Some(len) = u32_(&mut r) else {
                q.malformed = true;
                break;
            };
            match elem {
                0xe000 if len == u32::MAX => depth = depth.saturating_add(1),
                0xe000 => {
                    if usize::try_from(len).ok().and_then(|n| r.skip(n)).is_none() {
                        q.malformed = true;
                        break;
                    }
                }
                _ => depth = depth.saturating_sub(1),
            }
            continue;
        }
        let (vr, len) = if syntax == Syntax::ImplicitLe {
            (None, u32_(&mut r))
        } else {
            let Some(vr) = r.array::<2>() else {
                q.malformed = true;
                break;
            };
            let len = if LONG_VRS.contains(&&vr) {
                r.skip(2).and_then(|()| u32_(&mut r))
            } else {
                u16_(&mut r).map(u32::from)
            };
            (Some(vr), len)
        };
        let Some(len) = len else {
            q.malformed = true;
            break;
        };
        let is_sq = vr == Some(*b"SQ") || len == u32::MAX;
        let value = if len == u32::MAX {
            depth = depth.saturating_add(1);
            &[][..]
        } else {
            match usize::try_from(len).ok().and_then(|n| r.take(n)) {
                Some(v) => v,
                None => {
                    q.malformed = true;
                    break;
                }
            }
        };
        let top = if len == u32::MAX {
            depth == 1
        } else {
            depth == 0
        };
        if !top || elem == 0x0000 {
            continue;
        }
        if tag == 0x0008_0052 {
            let lvl = trim(value);
            if !lvl.is_empty() && lvl.len() <= 16 && lvl.iter().all(|b| b.is_ascii_uppercase()) {
                q.level = std::str::from_utf8(lvl).ok().map(str::to_owned);
            }
            continue;
        }
        if tag == 0x0008_0005 {
            continue; // Specific Character Set is not a key.
        }
        let dt = match vr {
            Some(v) => matches!(&v, b"DA" | b"TM" | b"DT"),
            None => is_date_time_tag(tag),
        };
        let matching = if is_sq {
            Matching::Sequence
        } else {
            classify(value, dt)
        };
        if q.keys.len() < MAX_QUERY_KEYS {
            q.keys.push(QueryKey { tag, matching });
        }
    }
    q
}

/// Keyword of common query keys (PS3.6), and whether the key identifies a patient (its presence may be
/// reported, never its value).
pub fn key_info(tag: u32) -> (Option<&'static str>, bool) {
    match tag {
        0x0010_0010 => (Some("PatientName"), true),
        0x0010_0020 => (Some("PatientID"), true),
        0x0010_0021 => (Some("IssuerOfPatientID"), true),
        0x0010_0030 => (Some("PatientBirthDate"), true),
        0x0010_0032 => (Some("PatientBirthTime"), true),
        0x0010_0040 => (Some("PatientSex"), true),
        0x0010_1000 => (Some("OtherPatientIDs"), true),
        0x0010_1001 => (Some("OtherPatientNames"), true),
        0x0010_1040 => (Some("PatientAddress"), true),
        0x0010_2154 => (Some("PatientTelephoneNumbers"), true),
        0x0008_0050 => (Some("AccessionNumber"), true),
        0x0008_0090 => (Some("ReferringPhysicianName"), true),
        0x0020_0010 => (Some("StudyID"), true),
        0x0008_0020 => (Some("StudyDate"), false),
        0x0008_0030 => (Some("StudyTime"), false),
        0x0008_0060 => (Some("Modality"), false),
        0x0008_0061 => (Some("ModalitiesInStudy"), false),
        0x0008_0018 => (Some("SOPInstanceUID"), false),
        0x0008_0016 => (Some("SOPClassUID"), false),
        0x0008_1030 => (Some("StudyDescription"), false),
        0x0008_103e => (Some("SeriesDescription"), false),
        0x0020_000d => (Some("StudyInstanceUID"), false),
        0x0020_000e => (Some("SeriesInstanceUID"), false),
        0x0020_0011 => (Some("SeriesNumber"), false),
        0x0020_0013 => (Some("InstanceNumber"), false),
        0x0020_1206 => (Some("NumberOfStudyRelatedSeries"), false),
        0x0020_1208 => (Some("NumberOfStudyRelatedInstances"), false),
        0x0040_0100 => (Some("ScheduledProcedureStepSequence"), false),
        0x0040_0001 => (Some("ScheduledStationAETitle"), false),
        0x0040_0002 => (Some("ScheduledProcedureStepStartDate"), false),
        0x0040_1001 => (Some("RequestedProcedureID"), false),
        _ => (None, false),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One implicit-VR-LE element (PS3.5 §7.1.3): tag group, element, 4-byte length, value.
    pub fn el(group: u16, elem: u16, value: &[u8]) -> Vec<u8> {
        let mut v = group.to_le_bytes().to_vec();
        v.extend_from_slice(&elem.to_le_bytes());
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    /// A UID value padded to even length with a NUL (PS3.5 §9.1).
    pub fn ui(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    /// A command set with its group length first (PS3.7 §6.3.1, elements from Annex E).
    pub fn command(elems: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = elems.concat();
        let mut v = el(0, 0, &(body.len() as u32).to_le_bytes());
        v.extend(body);
        v
    }

    /// C-STORE-RQ (PS3.7 §9.3.1.1, Table 9.3-1).
    pub fn c_store_rq(msg_id: u16, sop_class: &str) -> Vec<u8> {
        command(&[
            el(0, 0x0002, &ui(sop_class)),
            el(0, 0x0100, &0x0001u16.to_le_bytes()),
            el(0, 0x0110, &msg_id.to_le_bytes()),
            el(0, 0x0700, &0u16.to_le_bytes()),
            el(0, 0x0800, &0x0000u16.to_le_bytes()),
            el(0, 0x1000, &ui("1.2.3.4.5.6.7")),
        ])
    }

    /// C-STORE-RSP (PS3.7 §9.3.1.2, Table 9.3-2).
    pub fn c_store_rsp(msg_id: u16, status: u16) -> Vec<u8> {
        command(&[
            el(0, 0x0002, &ui("1.2.840.10008.5.1.4.1.1.2")),
            el(0, 0x0100, &0x8001u16.to_le_bytes()),
            el(0, 0x0120, &msg_id.to_le_bytes()),
            el(0, 0x0800, &0x0101u16.to_le_bytes()),
            el(0, 0x0900, &status.to_le_bytes()),
        ])
    }

    #[test]
    fn decodes_c_store_rq() {
        let b = c_store_rq(7, "1.2.840.10008.5.1.4.1.1.2");
        let c = parse_command_set(&b).unwrap();
        assert_eq!(c.command_field, Some(1));
        assert_eq!(c.message_id, Some(7));
        assert_eq!(
            trim(c.affected_sop_class.unwrap()),
            b"1.2.840.10008.5.1.4.1.1.2"
        );
        assert!(c.has_data_set());
        assert!(c.missing_required().is_empty());
        assert_eq!(command_name(0x8001), Some("C-STORE-RSP"));
    }

    #[test]
    fn missing_elements_and_cut_element() {
        let b = command(&[el(0, 0x0100, &0x8001u16.to_le_bytes())]);
        let c = parse_command_set(&b).unwrap();
        assert_eq!(
            c.missing_required(),
            vec!["CommandDataSetType", "MessageIDBeingRespondedTo", "Status"]
        );
        assert_eq!(parse_command_set(&b[..b.len() - 1]), Err(12));
    }

    #[test]
    fn status_classes_per_annex_c() {
        assert_eq!(status_class(0x0000), "success");
        assert_eq!(status_class(0xff00), "pending");
        assert_eq!(status_class(0xfe00), "cancel");
        assert_eq!(status_class(0xb000), "warning");
        assert_eq!(status_class(0xa700), "failure");
        assert_eq!(status_class(0x0122), "failure");
        assert_eq!(status_class(0x5000), "unknown");
    }

    #[test]
    fn query_keys_classified_without_values() {
        // A STUDY-level C-FIND identifier (PS3.4 C.6.1.1.2) in implicit VR LE.
        let id = [
            el(0x0008, 0x0020, b"20240101-20241231"),
            el(0x0008, 0x0052, b"STUDY "),
            el(0x0010, 0x0010, b"SMITH*"),
            el(0x0010, 0x0020, b""),
            el(0x0020, 0x000d, b"1.2.3\\1.2.4"),
            el(0x0008, 0x0060, b"CT"),
            el(0x0008, 0x0050, b"*"),
        ]
        .concat();
        let q = analyze_identifier(&id, Syntax::ImplicitLe);
        assert!(!q.malformed);
        assert_eq!(q.level.as_deref(), Some("STUDY"));
        let m: Vec<_> = q.keys.iter().map(|k| (k.tag, k.matching)).collect();
        assert_eq!(
            m,
            vec![
                (0x0008_0020, Matching::Range),
                (0x0010_0010, Matching::Wildcard),
                (0x0010_0020, Matching::Universal),
                (0x0020_000d, Matching::List),
                (0x0008_0060, Matching::Single),
                (0x0008_0050, Matching::WildcardAll),
            ]
        );
    }

    #[test]
    fn nested_sequence_keys_are_not_top_level() {
        // Explicit VR LE (PS3.5 §7.1.2): (0040,0100) SQ undefined length, one item with (0008,0060),
        // item delimiter, sequence delimiter; then (0010,0010) PN empty.
        let mut b = vec![
            0x40, 0, 0x00, 0x01, b'S', b'Q', 0, 0, 0xff, 0xff, 0xff, 0xff,
        ];
        b.extend_from_slice(&[0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
        b.extend_from_slice(&[0x08, 0, 0x60, 0, b'C', b'S', 2, 0, b'M', b'R']);
        b.extend_from_slice(&[0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0x10, 0, 0x10, 0, b'P', b'N', 0, 0]);
        let q = analyze_identifier(&b, Syntax::ExplicitLe);
        assert!(!q.malformed);
        let m: Vec<_> = q.keys.iter().map(|k| (k.tag, k.matching)).collect();
        assert_eq!(
            m,
            vec![
                (0x0040_0100, Matching::Sequence),
                (0x0010_0010, Matching::Universal)
            ]
        );
        assert_eq!(Syntax::guess(&b), Syntax::ExplicitLe);
    }
}
