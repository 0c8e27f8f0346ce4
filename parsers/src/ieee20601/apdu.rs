//! APDU decoding (IEEE 11073-20601 Annex A ASN.1, encoded with MDER, Annex F).
//!
//! MDER in brief (Annex F): integers are big-endian fixed size (INT-U16, INT-U32), BITS-16/32 likewise;
//! OCTET STRING is a u16 length then the bytes; SEQUENCE OF is a u16 count, a u16 length in bytes, then
//! the elements; CHOICE is a u16 tag and a u16 length; ANY DEFINED BY is a u16 length then the bytes.
//! Counts and lengths are attacker-controlled: every walk is bounded by the enclosing length (a
//! [`Reader`] sub-slice), never by a count, and what is kept is capped.

use super::nomenclature::{self as nom, *};
use super::{ConfigObject, Ieee20601Info, ObservationCount};
use crate::wire::Reader;

/// Config objects kept per report (the rest is counted).
pub const MAX_CONFIG_OBJECTS: usize = 64;
/// Distinct observation keys (handles) counted per report.
pub const MAX_OBS_KEYS: usize = 32;
/// Attribute ids listed per GET/SET.
pub const MAX_ATTR_IDS: usize = 32;
/// Handle → type map entries kept per association.
pub const MAX_HANDLES: usize = 64;
/// Longest device string kept (input bytes).
pub const MAX_STR: usize = 64;
/// Longest system-id rendered (bytes; EUI-64 is 8).
pub const MAX_SYSTEM_ID: usize = 32;
/// Data-proto entries looked at in an AARQ.
const MAX_DATA_PROTOS: usize = 8;

/// data-proto-id for 20601 (Annex A.8 `DataProtoId`).
pub const DATA_PROTO_ID_20601: u16 = 20601;

/// State that outlives one APDU: what the configuration says each handle measures.
#[derive(Debug, Default)]
pub struct Ctx {
    pub handles: Vec<(u16, u32)>,
}

impl Ctx {
    fn code_of(&self, handle: u16) -> Option<u32> {
        self.handles
            .iter()
            .find(|(h, _)| *h == handle)
            .map(|&(_, c)| c)
    }
    fn set_standard(&mut self, dev_config_id: u16) {
        let std = nom::standard_config(dev_config_id);
        if !std.is_empty() {
            self.handles = std.to_vec();
        }
    }
}

/// Most anomalies kept per APDU (the rest are only counted).
pub const MAX_ISSUES: usize = 8;

/// Anomalies found while decoding one APDU, (kind, detail): at most [`MAX_ISSUES`] kept.
#[derive(Debug, Default)]
pub struct Issues {
    pub list: Vec<(&'static str, String)>,
    pub dropped: usize,
}

impl Issues {
    pub fn push(&mut self, issue: (&'static str, String)) {
        if self.list.len() < MAX_ISSUES {
            self.list.push(issue);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }
    /// A mark to roll back to.
    fn mark(&self) -> (usize, usize) {
        (self.list.len(), self.dropped)
    }
    fn rollback(&mut self, (len, dropped): (usize, usize)) {
        self.list.truncate(len);
        self.dropped = dropped;
    }
}

fn hex(b: &[u8], cap: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len().min(cap).saturating_mul(2));
    for x in b.iter().take(cap) {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Printable ASCII kept, other bytes `\xNN`; trailing NUL/space padding (MDER strings are often padded
/// to an even length) dropped; at most [`MAX_STR`] bytes of input.
pub fn device_string(b: &[u8]) -> String {
    let end = b
        .iter()
        .rposition(|&c| c != 0 && c != b' ')
        .map_or(0, |p| p.saturating_add(1));
    let mut s = String::new();
    for &c in b.get(..end).unwrap_or_default().iter().take(MAX_STR) {
        if (0x20..0x7f).contains(&c) && c != b'\\' {
            s.push(char::from(c));
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

fn octet_string<'a>(r: &mut Reader<'a>) -> Option<&'a [u8]> {
    let n = r.be_u16()?;
    r.take(usize::from(n))
}

fn any<'a>(r: &mut Reader<'a>) -> Option<Reader<'a>> {
    let n = r.be_u16()?;
    r.sub(usize::from(n))
}

/// A SEQUENCE OF header: (count, reader over exactly `length` bytes).
fn seq_of<'a>(r: &mut Reader<'a>) -> Option<(u16, Reader<'a>)> {
    let count = r.be_u16()?;
    let len = r.be_u16()?;
    Some((count, r.sub(usize::from(len))?))
}

fn short(issues: &mut Issues, what: &str, off: usize) {
    issues.push((
        "malformed_apdu",
        format!("{what} truncated at offset {off}"),
    ));
}

fn check_count(issues: &mut Issues, what: &str, said: u16, seen: usize) {
    if usize::from(said) != seen {
        issues.push((
            "count_mismatch",
            format!("{what}: count {said}, {seen} elements in its length"),
        ));
    }
}

fn check_end(issues: &mut Issues, what: &str, r: &Reader<'_>) {
    if !r.is_empty() {
        issues.push((
            "trailing_bytes",
            format!("{} bytes after {what}", r.remaining()),
        ));
    }
}

fn bits_names(v: u16) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (bit, name) in [(0x8000u16, "mder"), (0x4000, "xer"), (0x2000, "per")] {
        if v & bit != 0 {
            out.push(name);
        }
    }
    out
}

/// PhdAssociationInformation (Annex A.8).
fn phd_assoc_info(r: &mut Reader<'_>, info: &mut Ieee20601Info, issues: &mut Issues) -> Option<()> {
    info.protocol_version = Some(format!("0x{:08x}", r.be_u32()?));
    let enc = r.be_u16()?;
    info.encoding_rules = bits_names(enc);
    info.nomenclature_version = Some(format!("0x{:08x}", r.be_u32()?));
    info.functional_units = Some(format!("0x{:08x}", r.be_u32()?));
    let sys_type = r.be_u32()?;
    info.system_type = Some(match sys_type {
        0x8000_0000 => "manager".into(),
        0x0080_0000 => "agent".into(),
        v => format!("0x{v:08x}"),
    });
    let sid = octet_string(r)?;
    info.system_id = Some(hex(sid, MAX_SYSTEM_ID));
    info.dev_config_id = Some(r.be_u16()?);
    info.data_req_mode_flags = Some(r.be_u16()?);
    info.data_req_init_agent_count = Some(r.u8()?);
    info.data_req_init_manager_count = Some(r.u8()?);
    let (count, mut opts) = seq_of(r)?;
    info.option_count = Some(count);
    let mut seen = 0usize;
    while !opts.is_empty() {
        opts.be_u16()?;
        any(&mut opts)?;
        seen = seen.saturating_add(1);
    }
    check_count(issues, "optionList", count, seen);
    if sys_type == 0x0080_0000 && enc & 0x8000 == 0 {
        issues.push((
            "no_mder",
            format!("agent encoding-rules 0x{enc:04x} without MDER"),
        ));
    }
    Some(())
}

/// AARQ body (Annex A.7 `AarqApdu`).
pub fn aarq(body: &[u8], ctx: &mut Ctx, info: &mut Ieee20601Info, issues: &mut Issues) {
    let mut r = Reader::new(body);
    let Some(v) = r.be_u32() else {
        return short(issues, "assoc-version", r.offset());
    };
    info.assoc_version = Some(format!("0x{v:08x}"));
    if v & 0x8000_0000 == 0 {
        issues.push((
            "bad_assoc_version",
            format!("assoc-version 0x{v:08x} without assoc-version1"),
        ));
    }
    let Some((count, mut list)) = seq_of(&mut r) else {
        return short(issues, "data-proto-list", r.offset());
    };
    let mut seen = 0usize;
    while !list.is_empty() {
        let (Some(id), Some(mut data)) = (list.be_u16(), any(&mut list)) else {
            return short(issues, "data-proto", list.offset());
        };
        seen = seen.saturating_add(1);
        if info.data_proto_ids.len() < MAX_DATA_PROTOS {
            info.data_proto_ids.push(id);
        }
        if id == DATA_PROTO_ID_20601 && info.system_id.is_none() {
            if phd_assoc_info(&mut data, info, issues).is_none() {
                short(issues, "phd-assoc-information", data.offset());
            } else {
                check_end(issues, "phd-assoc-information", &data);
            }
        }
    }
    check_count(issues, "data-proto-list", count, seen);
    check_end(issues, "AARQ", &r);
    if let Some(id) = info.dev_config_id {
        ctx.set_standard(id);
    }
}

/// AARE body (Annex A.7 `AareApdu`).
pub fn aare(body: &[u8], info: &mut Ieee20601Info, issues: &mut Issues) {
    let mut r = Reader::new(body);
    let Some(result) = r.be_u16() else {
        return short(issues, "result", r.offset());
    };
    info.result = Some(associate_result(result).map_or_else(|| result.to_string(), str::to_string));
    let (Some(id), Some(mut data)) = (r.be_u16(), any(&mut r)) else {
        return short(issues, "selected-data-proto", r.offset());
    };
    info.data_proto_ids.push(id);
    if id == DATA_PROTO_ID_20601 && !data.is_empty() {
        if phd_assoc_info(&mut data, info, issues).is_none() {
            short(issues, "phd-assoc-information", data.offset());
        } else {
            check_end(issues, "phd-assoc-information", &data);
        }
    }
    check_end(issues, "AARE", &r);
}

/// RLRQ / RLRE / ABRT: one u16 reason.
pub fn reason(
    body: &[u8],
    name: fn(u16) -> Option<&'static str>,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) {
    let mut r = Reader::new(body);
    let Some(v) = r.be_u16() else {
        return short(issues, "reason", r.offset());
    };
    info.reason = Some(name(v).map_or_else(|| v.to_string(), str::to_string));
    check_end(issues, "reason", &r);
}

/// PRST body (Annex A.9: `PrstApdu ::= OCTET STRING` holding a `DataApdu`).
pub fn prst(
    body: &[u8],
    truncated: bool,
    ctx: &mut Ctx,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) {
    let mut r = Reader::new(body);
    let Some(n) = r.be_u16() else {
        return short(issues, "PRST octet string", r.offset());
    };
    if !truncated && usize::from(n) != r.remaining() {
        issues.push((
            "length_mismatch",
            format!(
                "PRST octet string length {n}, {} bytes in the APDU",
                r.remaining()
            ),
        ));
    }
    let Some(invoke) = r.be_u16() else {
        return short(issues, "invoke-id", r.offset());
    };
    info.invoke_id = Some(invoke);
    let (Some(choice), Some(len)) = (r.be_u16(), r.be_u16()) else {
        return short(issues, "DataApdu message choice", r.offset());
    };
    let Some(name) = data_apdu_name(choice) else {
        issues.push((
            "unknown_data_apdu_choice",
            format!("DataApdu message choice 0x{choice:04x}"),
        ));
        return;
    };
    info.data_apdu = Some(name);
    let msg = match r.sub(usize::from(len)) {
        Some(m) => {
            check_end(issues, "DataApdu", &r);
            m
        }
        None if truncated => r,
        None => {
            issues.push((
                "length_mismatch",
                format!("DataApdu choice length {len}, {} bytes left", r.remaining()),
            ));
            r
        }
    };
    let before = issues.mark();
    if message(choice, msg, ctx, info, issues).is_none() && !truncated {
        short(issues, name, 0);
    }
    if truncated {
        // Decoding stopped at the cap: complaints about the missing tail would be noise.
        issues.rollback(before);
    }
}

pub fn data_apdu_name(choice: u16) -> Option<&'static str> {
    Some(match choice {
        0x0100 => "event_report",
        0x0101 => "confirmed_event_report",
        0x0103 => "get",
        0x0104 => "set",
        0x0105 => "confirmed_set",
        0x0106 => "action",
        0x0107 => "confirmed_action",
        0x0201 => "confirmed_event_report_response",
        0x0203 => "get_response",
        0x0205 => "confirmed_set_response",
        0x0207 => "confirmed_action_response",
        0x0300 => "error",
        0x0400 => "reject",
        _ => return None,
    })
}

/// The DataApdu message (Annex A.10).
fn message(
    choice: u16,
    mut r: Reader<'_>,
    ctx: &mut Ctx,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) -> Option<()> {
    match choice {
        // EventReportArgumentSimple: obj-handle, event-time, event-type, event-info.
        0x0100 | 0x0101 => {
            info.obj_handle = Some(r.be_u16()?);
            // event-time: RelativeTime of the agent's clock (1/8 ms ticks), not a measurement.
            info.event_time = Some(r.be_u32()?);
            let et = r.be_u16()?;
            set_event_type(info, et);
            let ev = any(&mut r)?;
            event_info(et, ev, ctx, info, issues);
        }
        // EventReportResultSimple: obj-handle, currentTime, event-type, event-reply-info.
        0x0201 => {
            info.obj_handle = Some(r.be_u16()?);
            r.be_u32()?;
            let et = r.be_u16()?;
            set_event_type(info, et);
            let mut reply = any(&mut r)?;
            if et == MDC_NOTI_CONFIG {
                // ConfigReportRsp: config-report-id, config-result.
                info.config_report_id = Some(reply.be_u16()?);
                let res = reply.be_u16()?;
                info.config_result =
                    Some(config_result(res).map_or_else(|| res.to_string(), str::to_string));
            }
        }
        // GetArgumentSimple: obj-handle, attribute-id-list.
        0x0103 => {
            info.obj_handle = Some(r.be_u16()?);
            let (count, mut ids) = seq_of(&mut r)?;
            let mut seen = 0usize;
            while let Some(id) = ids.be_u16() {
                seen = seen.saturating_add(1);
                if info.attribute_ids.len() < MAX_ATTR_IDS {
                    info.attribute_ids.push(id);
                }
            }
            check_count(issues, "attribute-id-list", count, seen);
        }
        // GetResultSimple: obj-handle, attribute-list.
        0x0203 => {
            let handle = r.be_u16()?;
            info.obj_handle = Some(handle);
            let (count, list) = seq_of(&mut r)?;
            attribute_list(count, list, handle == 0, info, issues)?;
        }
        // SetArgumentSimple: obj-handle, modification-list of (modify-operator, AVA).
        0x0104 | 0x0105 => {
            info.obj_handle = Some(r.be_u16()?);
            let (count, mut mods) = seq_of(&mut r)?;
            let mut seen = 0usize;
            while !mods.is_empty() {
                mods.be_u16()?;
                let id = mods.be_u16()?;
                any(&mut mods)?;
                seen = seen.saturating_add(1);
                if info.attribute_ids.len() < MAX_ATTR_IDS {
                    info.attribute_ids.push(id);
                }
            }
            check_count(issues, "modification-list", count, seen);
        }
        // SetResultSimple: obj-handle, attribute-list.
        0x0205 => {
            let handle = r.be_u16()?;
            info.obj_handle = Some(handle);
            let (count, list) = seq_of(&mut r)?;
            attribute_list(count, list, false, info, issues)?;
        }
        // ActionArgumentSimple / ActionResultSimple: obj-handle, action-type, args.
        0x0106 | 0x0107 | 0x0207 => {
            info.obj_handle = Some(r.be_u16()?);
            info.action_type = Some(r.be_u16()?);
            any(&mut r)?;
        }
        // ErrorResult: error-value, parameter.
        0x0300 => {
            let v = r.be_u16()?;
            info.error_value = Some(error_value(v).map_or_else(|| v.to_string(), str::to_string));
            any(&mut r)?;
        }
        // RejectResult: problem.
        0x0400 => {
            let v = r.be_u16()?;
            info.reject_problem =
                Some(reject_problem(v).map_or_else(|| v.to_string(), str::to_string));
        }
        _ => {}
    }
    check_end(issues, "DataApdu message", &r);
    Some(())
}

fn set_event_type(info: &mut Ieee20601Info, et: u16) {
    info.event_type_code = Some(et);
    info.event_type = event_type_name(et);
}

fn event_info(
    et: u16,
    mut r: Reader<'_>,
    ctx: &mut Ctx,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) {
    let ok = match et {
        MDC_NOTI_CONFIG => config_report(&mut r, ctx, info, issues),
        MDC_NOTI_SCAN_REPORT_FIXED => scan_report(&mut r, false, false, ctx, info, issues),
        MDC_NOTI_SCAN_REPORT_VAR => scan_report(&mut r, true, false, ctx, info, issues),
        MDC_NOTI_SCAN_REPORT_MP_FIXED => scan_report(&mut r, false, true, ctx, info, issues),
        MDC_NOTI_SCAN_REPORT_MP_VAR => scan_report(&mut r, true, true, ctx, info, issues),
        _ => {
            r.take_rest();
            Some(())
        }
    };
    if ok.is_none() {
        short(
            issues,
            event_type_name(et).unwrap_or("event-info"),
            r.offset(),
        );
    } else {
        check_end(issues, "event-info", &r);
    }
}

/// ConfigReport (Annex A.11.5): config-report-id, ConfigObjectList of (obj-class, obj-handle,
/// AttributeList). Only the MDC_ATTR_ID_TYPE of each object is looked at.
fn config_report(
    r: &mut Reader<'_>,
    ctx: &mut Ctx,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) -> Option<()> {
    info.config_report_id = Some(r.be_u16()?);
    let (count, mut objs) = seq_of(r)?;
    info.config_object_count = Some(count);
    let mut seen = 0usize;
    let mut handles = Vec::new();
    while !objs.is_empty() {
        let class = objs.be_u16()?;
        let handle = objs.be_u16()?;
        let (attr_count, mut attrs) = seq_of(&mut objs)?;
        let mut type_code = None;
        let mut attr_seen = 0usize;
        while !attrs.is_empty() {
            let id = attrs.be_u16()?;
            let mut val = any(&mut attrs)?;
            attr_seen = attr_seen.saturating_add(1);
            if id == MDC_ATTR_ID_TYPE {
                // TYPE ::= SEQUENCE { partition NomPartition, code OID-Type }
                let (Some(p), Some(c)) = (val.be_u16(), val.be_u16()) else {
                    issues.push((
                        "malformed_apdu",
                        format!("MDC_ATTR_ID_TYPE of handle {handle} too short"),
                    ));
                    continue;
                };
                type_code = Some(context_free(p, c));
            }
        }
        check_count(issues, "config attribute list", attr_count, attr_seen);
        seen = seen.saturating_add(1);
        if info.config_objects.len() < MAX_CONFIG_OBJECTS {
            info.config_objects.push(ConfigObject {
                class,
                class_name: class_name(class),
                handle,
                attribute_count: attr_count,
                type_code,
            });
        }
        if let Some(code) = type_code {
            if handles.len() < MAX_HANDLES {
                handles.push((handle, code));
            }
        }
    }
    check_count(issues, "config-obj-list", count, seen);
    if seen > MAX_CONFIG_OBJECTS {
        issues.push((
            "too_many_objects",
            format!("{seen} config objects, {MAX_CONFIG_OBJECTS} kept"),
        ));
    }
    ctx.handles = handles;
    Some(())
}

fn count_observation(handle: u16, ctx: &Ctx, info: &mut Ieee20601Info) {
    info.observation_count = Some(info.observation_count.unwrap_or(0).saturating_add(1));
    if let Some(o) = info.observations.iter_mut().find(|o| o.handle == handle) {
        o.count = o.count.saturating_add(1);
    } else if info.observations.len() < MAX_OBS_KEYS {
        info.observations.push(ObservationCount {
            handle,
            code: ctx.code_of(handle),
            count: 1,
        });
    }
}

/// ScanReportInfo{Fixed,Var,MPFixed,MPVar} (Annex A.11.5): data-req-id, scan-report-no, then
/// observations (per person for MP). Values are skipped; observations are counted per handle.
fn scan_report(
    r: &mut Reader<'_>,
    var: bool,
    multi_person: bool,
    ctx: &Ctx,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) -> Option<()> {
    r.be_u16()?; // data-req-id
    info.scan_report_no = Some(r.be_u16()?);
    let (count, mut list) = seq_of(r)?;
    if multi_person {
        info.person_count = Some(count);
        let mut seen = 0usize;
        while !list.is_empty() {
            list.be_u16()?; // person-id: not reported
            let (n, obs) = seq_of(&mut list)?;
            observations(n, obs, var, ctx, info, issues)?;
            seen = seen.saturating_add(1);
        }
        check_count(issues, "scan-per list", count, seen);
    } else {
        observations(count, list, var, ctx, info, issues)?;
    }
    Some(())
}

fn observations(
    count: u16,
    mut list: Reader<'_>,
    var: bool,
    ctx: &Ctx,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) -> Option<()> {
    let mut seen = 0usize;
    while !list.is_empty() {
        let handle = list.be_u16()?;
        if var {
            // ObservationScan: obj-handle, AttributeList.
            seq_of(&mut list)?;
        } else {
            // ObservationScanFixed: obj-handle, obs-val-data OCTET STRING.
            octet_string(&mut list)?;
        }
        seen = seen.saturating_add(1);
        count_observation(handle, ctx, info);
    }
    check_count(issues, "observation list", count, seen);
    Some(())
}

/// An AttributeList; for the MDS (handle 0) the inventory attributes are decoded.
fn attribute_list(
    count: u16,
    mut list: Reader<'_>,
    mds: bool,
    info: &mut Ieee20601Info,
    issues: &mut Issues,
) -> Option<()> {
    let mut seen = 0usize;
    while !list.is_empty() {
        let id = list.be_u16()?;
        let mut val = any(&mut list)?;
        seen = seen.saturating_add(1);
        if info.attribute_ids.len() < MAX_ATTR_IDS {
            info.attribute_ids.push(id);
        }
        if mds && mds_attribute(id, &mut val, info).is_none() {
            issues.push((
                "malformed_apdu",
                format!("MDS attribute 0x{id:04x} does not match its length"),
            ));
        }
    }
    check_count(issues, "attribute-list", count, seen);
    Some(())
}

fn mds_attribute(id: u16, v: &mut Reader<'_>, info: &mut Ieee20601Info) -> Option<()> {
    match id {
        // SystemModel: manufacturer, model-number (OCTET STRINGs).
        MDC_ATTR_ID_MODEL => {
            info.manufacturer = Some(device_string(octet_string(v)?));
            info.model = Some(device_string(octet_string(v)?));
        }
        MDC_ATTR_SYS_ID => info.system_id = Some(hex(octet_string(v)?, MAX_SYSTEM_ID)),
        MDC_ATTR_DEV_CONFIG_ID => info.dev_config_id = Some(v.be_u16()?),
        // ProductionSpec: SEQUENCE OF ProdSpecEntry { spec-type, component-id, prod-spec }.
        MDC_ATTR_ID_PROD_SPECN => {
            let (_, mut list) = seq_of(v)?;
            while !list.is_empty() {
                let spec_type = list.be_u16()?;
                list.be_u16()?;
                let s = device_string(octet_string(&mut list)?);
                let slot = match spec_type {
                    1 => &mut info.serial_number,
                    2 => &mut info.part_number,
                    3 => &mut info.hardware_revision,
                    4 => &mut info.software_revision,
                    5 => &mut info.firmware_revision,
                    6 => &mut info.protocol_revision,
                    _ => continue,
                };
                if slot.is_none() {
                    *slot = Some(s);
                }
            }
        }
        // TypeVerList: SEQUENCE OF { type OID-Type, version u16 }.
        MDC_ATTR_SYS_TYPE_SPEC_LIST => {
            let (_, mut list) = seq_of(v)?;
            while !list.is_empty() {
                let t = list.be_u16()?;
                list.be_u16()?;
                if info.specializations.len() < MAX_ATTR_IDS {
                    info.specializations.push(t);
                }
            }
        }
        _ => {
            v.take_rest();
        }
    }
    v.is_empty().then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_string_strips_padding_and_escapes() {
        assert_eq!(device_string(b"Nonin\0"), "Nonin");
        assert_eq!(device_string(b"A\x01B  "), "A\\x01B");
        assert_eq!(device_string(&[b'x'; 200]).len(), MAX_STR);
    }
}
