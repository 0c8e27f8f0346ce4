//! DICOM Upper Layer PDUs (PS3.8 §9.3): fixed headers, A-ASSOCIATE-RQ/AC items, A-ASSOCIATE-RJ and
//! A-ABORT parameters, the P-DATA-TF PDV item header and the message control header (PS3.8 Annex E).
//!
//! Everything here is a view over bytes the caller already holds: an association PDU body is decoded from
//! one borrowed slice (the caller buffers it whole under a hard cap), P-DATA headers from fixed arrays.
//! Item lengths are checked against the bytes that exist before anything is read; an item that claims
//! more than its PDU (or sub-item more than its item) is reported as `item_overruns_pdu` and decoding
//! stops at that point, keeping what was decoded before it. The only allocations are the item lists,
//! bounded by [`MAX_CONTEXTS`], [`MAX_TRANSFER_SYNTAXES`] and [`MAX_ROLES`].

use crate::wire::Reader;

/// PDU header: type (1), reserved (1), length (4, big endian) — PS3.8 §9.3.1.
pub const PDU_HEADER_LEN: usize = 6;
/// PDV item header inside a P-DATA-TF: item length (4) + presentation context id (1) + message control
/// header (1) — PS3.8 §9.3.5.1 and Annex E.
pub const PDV_HEADER_LEN: usize = 6;
/// Fixed part of an A-ASSOCIATE-RQ/AC body: protocol version (2), reserved (2), called AE (16), calling
/// AE (16), reserved (32) — PS3.8 §9.3.2 and §9.3.3.
pub const ASSOCIATE_FIXED_LEN: usize = 68;
/// At most this many presentation contexts are kept per association PDU (ids are odd 1..=255: 128).
pub const MAX_CONTEXTS: usize = 128;
/// At most this many proposed transfer syntaxes are kept per presentation context.
pub const MAX_TRANSFER_SYNTAXES: usize = 32;
/// At most this many SCP/SCU role selection items are kept.
pub const MAX_ROLES: usize = 64;

/// A PDU type code (PS3.8 Table 9-11 and following). Unknown codes keep their raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduType(pub u8);

impl PduType {
    pub const ASSOCIATE_RQ: PduType = PduType(0x01);
    pub const ASSOCIATE_AC: PduType = PduType(0x02);
    pub const ASSOCIATE_RJ: PduType = PduType(0x03);
    pub const P_DATA_TF: PduType = PduType(0x04);
    pub const RELEASE_RQ: PduType = PduType(0x05);
    pub const RELEASE_RP: PduType = PduType(0x06);
    pub const ABORT: PduType = PduType(0x07);

    pub const fn is_known(self) -> bool {
        matches!(self.0, 0x01..=0x07)
    }
}

/// The 6-byte PDU header (PS3.8 §9.3.1: "PDU-type, reserved, PDU-length", length big endian and
/// counting the bytes after the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    pub ty: PduType,
    pub length: u32,
}

impl PduHeader {
    pub fn parse(b: [u8; PDU_HEADER_LEN]) -> PduHeader {
        let [ty, _reserved, l0, l1, l2, l3] = b;
        PduHeader {
            ty: PduType(ty),
            length: u32::from_be_bytes([l0, l1, l2, l3]),
        }
    }
}

/// A PDV item header (PS3.8 §9.3.5.1, Table 9-23) with its message control header (Annex E, E.2):
/// bit 0 set = command fragment, clear = data set fragment; bit 1 set = last fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdvHeader {
    /// Item length: counts the context id, the control header and the fragment.
    pub item_length: u32,
    pub context_id: u8,
    pub control: u8,
}

impl PdvHeader {
    pub fn parse(b: [u8; PDV_HEADER_LEN]) -> PdvHeader {
        let [l0, l1, l2, l3, context_id, control] = b;
        PdvHeader {
            item_length: u32::from_be_bytes([l0, l1, l2, l3]),
            context_id,
            control,
        }
    }
    pub const fn is_command(self) -> bool {
        self.control & 0x01 != 0
    }
    pub const fn is_last(self) -> bool {
        self.control & 0x02 != 0
    }
    /// Bits 2..7 "shall be set to 0" (Annex E.2).
    pub const fn reserved_bits(self) -> u8 {
        self.control & 0xfc
    }
    /// Bytes of the fragment itself, `None` when the item length cannot even hold the two header bytes.
    pub fn fragment_len(self) -> Option<u32> {
        self.item_length.checked_sub(2)
    }
}

/// One presentation context item of an A-ASSOCIATE-RQ (0x20, PS3.8 §9.3.2.2) or -AC (0x21, §9.3.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresentationContextView<'a> {
    pub id: u8,
    /// AC only: 0 acceptance, 1 user-rejection, 2 no-reason, 3 abstract-syntax-not-supported,
    /// 4 transfer-syntaxes-not-supported (PS3.8 Table 9-18).
    pub result: Option<u8>,
    /// RQ only (sub-item 0x30).
    pub abstract_syntax: Option<&'a [u8]>,
    /// Sub-items 0x40: the proposed ones (RQ) or the accepted one (AC).
    pub transfer_syntaxes: Vec<&'a [u8]>,
    pub transfer_syntaxes_dropped: u16,
}

/// SCP/SCU Role Selection sub-item 0x54 (PS3.7 Annex D.3.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSelectionView<'a> {
    pub sop_class_uid: &'a [u8],
    pub scu_role: u8,
    pub scp_role: u8,
}

/// User Information item 0x50 (PS3.8 §9.3.2.3 / §9.3.3.3) and the PS3.7 Annex D.3.3 sub-items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfoView<'a> {
    /// 0x51 Maximum Length (PS3.8 Annex D.1): 0 means unlimited.
    pub max_pdu_length: Option<u32>,
    /// 0x52 Implementation Class UID (PS3.7 D.3.3.2).
    pub implementation_class_uid: Option<&'a [u8]>,
    /// 0x55 Implementation Version Name.
    pub implementation_version: Option<&'a [u8]>,
    /// 0x53 Asynchronous Operations Window: (invoked, performed) (PS3.7 D.3.3.3).
    pub async_ops: Option<(u16, u16)>,
    /// 0x54 SCP/SCU Role Selection.
    pub roles: Vec<RoleSelectionView<'a>>,
    /// 0x58 User Identity (RQ, PS3.7 D.3.3.7.1): type and positive-response-requested only; the
    /// credential (primary/secondary fields) is never read into anything.
    pub user_identity_type: Option<u8>,
    pub user_identity_response_requested: Option<bool>,
    /// 0x59 User Identity server response present (AC, D.3.3.7.2); its content is never read.
    pub user_identity_server_response: bool,
    /// 0x56 SOP Class Extended Negotiation and 0x57 Common Extended Negotiation items seen.
    pub extended_negotiations: u16,
    pub unknown_sub_items: u16,
}

/// A decoded A-ASSOCIATE-RQ or -AC body (the bytes after the 6-byte PDU header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssociateView<'a> {
    pub protocol_version: u16,
    pub called_ae: &'a [u8],
    pub calling_ae: &'a [u8],
    /// Item 0x10 (PS3.8 §9.3.2.1).
    pub application_context: Option<&'a [u8]>,
    pub presentation_contexts: Vec<PresentationContextView<'a>>,
    pub contexts_dropped: u16,
    pub user: UserInfoView<'a>,
    /// Problems found while decoding (stable kind, detail); decoding kept what came before each.
    pub problems: Vec<(&'static str, String)>,
}

/// An item header: type (1), reserved (1), length (2, big endian) — PS3.8 §9.3.2.
fn next_item<'a>(r: &mut Reader<'a>) -> Result<Option<(u8, Reader<'a>)>, (&'static str, String)> {
    if r.is_empty() {
        return Ok(None);
    }
    let at = r.offset();
    let (Some(ty), Some(_), Some(len)) = (r.u8(), r.u8(), r.be_u16()) else {
        return Err((
            "item_overruns_pdu",
            format!("item header cut at offset {at}"),
        ));
    };
    match r.sub(usize::from(len)) {
        Some(body) => Ok(Some((ty, body))),
        None => Err((
            "item_overruns_pdu",
            format!(
                "item 0x{ty:02x} at offset {at} claims {len} bytes, {} left",
                r.remaining()
            ),
        )),
    }
}

/// Decodes an A-ASSOCIATE-RQ (`is_ac == false`) or -AC body. Never fails: problems are listed in
/// [`AssociateView::problems`] and decoding keeps what it found before them.
pub fn parse_associate(body: &[u8], is_ac: bool) -> AssociateView<'_> {
    let mut v = AssociateView::default();
    let mut r = Reader::new(body);
    let (Some(version), Some(_), Some(called), Some(calling), Some(_)) =
        (r.be_u16(), r.be_u16(), r.take(16), r.take(16), r.take(32))
    else {
        v.problems.push((
            "associate_pdu_too_short",
            format!(
                "{} bytes, fixed part needs {ASSOCIATE_FIXED_LEN}",
                body.len()
            ),
        ));
        return v;
    };
    v.protocol_version = version;
    v.called_ae = called;
    v.calling_ae = calling;
    // PS3.8 §9.3.2: bit 0 of the protocol version is version 1.
    if version & 0x0001 == 0 {
        v.problems.push((
            "unsupported_protocol_version",
            format!("protocol version 0x{version:04x}"),
        ));
    }
    loop {
        let (ty, mut item) = match next_item(&mut r) {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(p) => {
                v.problems.push(p);
                break;
            }
        };
        match ty {
            0x10 => v.application_context = Some(item.take_rest()),
            0x20 | 0x21 => {
                if (ty == 0x21) != is_ac {
                    v.problems.push((
                        "unexpected_item",
                        format!("presentation context item 0x{ty:02x} in the wrong PDU"),
                    ));
                }
                let pc = parse_context(&mut item, ty == 0x21, &mut v.problems);
                if v.presentation_contexts.len() < MAX_CONTEXTS {
                    v.presentation_contexts.push(pc);
                } else {
                    v.contexts_dropped = v.contexts_dropped.saturating_add(1);
                }
            }
            0x50 => parse_user_info(&mut item, &mut v.user, &mut v.problems),
            other => v.problems.push((
                "unexpected_item",
                format!("item type 0x{other:02x} in an association PDU"),
            )),
        }
    }
    if v.application_context.is_none() {
        v.problems.push((
            "missing_application_context",
            "no application context item (0x10)".into(),
        ));
    }
    v
}

fn parse_context<'a>(
    item: &mut Reader<'a>,
    is_ac: bool,
    problems: &mut Vec<(&'static str, String)>,
) -> PresentationContextView<'a> {
    let mut pc = PresentationContextView::default();
    // id (1), reserved (1), result/reason (1, AC) or reserved (RQ), reserved (1).
    let (Some(id), Some(_), Some(result), Some(_)) = (item.u8(), item.u8(), item.u8(), item.u8())
    else {
        problems.push((
            "item_overruns_pdu",
            "presentation context item under 4 bytes".into(),
        ));
        return pc;
    };
    pc.id = id;
    if is_ac {
        pc.result = Some(result);
    }
    loop {
        let (ty, mut sub) = match next_item(item) {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(p) => {
                problems.push(p);
                break;
            }
        };
        match ty {
            0x30 => pc.abstract_syntax = Some(sub.take_rest()),
            0x40 => {
                if pc.transfer_syntaxes.len() < MAX_TRANSFER_SYNTAXES {
                    pc.transfer_syntaxes.push(sub.take_rest());
                } else {
                    pc.transfer_syntaxes_dropped = pc.transfer_syntaxes_dropped.saturating_add(1);
                }
            }
            other => problems.push((
                "unexpected_item",
                format!("sub-item 0x{other:02x} in presentation context {id}"),
            )),
        }
    }
    pc
}

fn parse_user_info<'a>(
    item: &mut Reader<'a>,
    u: &mut UserInfoView<'a>,
    problems: &mut Vec<(&'static str, String)>,
) {
    loop {
        let (ty, mut sub) = match next_item(item) {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(p) => {
                problems.push(p);
                break;
            }
        };
        match ty {
            0x51 => match sub.be_u32() {
                Some(m) => u.max_pdu_length = Some(m),
                None => problems.push((
                    "bad_sub_item",
                    "maximum length sub-item under 4 bytes".into(),
                )),
            },
            0x52 => u.implementation_class_uid = Some(sub.take_rest()),
            0x55 => u.implementation_version = Some(sub.take_rest()),
            0x53 => match (sub.be_u16(), sub.be_u16()) {
                (Some(i), Some(p)) => u.async_ops = Some((i, p)),
                _ => problems.push(("bad_sub_item", "async ops sub-item under 4 bytes".into())),
            },
            0x54 => {
                let role = sub
                    .be_u16()
                    .and_then(|n| sub.take(usize::from(n)))
                    .and_then(|uid| Some((uid, sub.u8()?, sub.u8()?)));
                match role {
                    Some((uid, scu, scp)) if u.roles.len() < MAX_ROLES => {
                        u.roles.push(RoleSelectionView {
                            sop_class_uid: uid,
                            scu_role: scu,
                            scp_role: scp,
                        })
                    }
                    Some(_) => {}
                    None => {
                        problems.push(("bad_sub_item", "role selection sub-item overruns".into()))
                    }
                }
            }
            0x56 | 0x57 => u.extended_negotiations = u.extended_negotiations.saturating_add(1),
            0x58 => match (sub.u8(), sub.u8()) {
                // The primary/secondary fields (the credential) that follow are deliberately unread.
                (Some(t), Some(rr)) => {
                    u.user_identity_type = Some(t);
                    u.user_identity_response_requested = Some(rr == 1);
                }
                _ => problems.push((
                    "bad_sub_item",
                    "user identity sub-item under 2 bytes".into(),
                )),
            },
            0x59 => u.user_identity_server_response = true,
            _ => u.unknown_sub_items = u.unknown_sub_items.saturating_add(1),
        }
    }
}

/// A-ASSOCIATE-RJ (PS3.8 §9.3.4) or A-ABORT (§9.3.8) body: reserved (1), result or reserved (1),
/// source (1), reason/diag (1). Returns `(result, source, reason)`.
pub fn parse_reject_or_abort(body: &[u8]) -> Option<(u8, u8, u8)> {
    let mut r = Reader::new(body);
    let _ = r.u8()?;
    Some((r.u8()?, r.u8()?, r.u8()?))
}

pub fn presentation_result_name(result: u8) -> &'static str {
    match result {
        0 => "acceptance",
        1 => "user_rejection",
        2 => "no_reason",
        3 => "abstract_syntax_not_supported",
        4 => "transfer_syntaxes_not_supported",
        _ => "unknown",
    }
}

/// PS3.8 Table 9-21.
pub fn reject_result_name(result: u8) -> &'static str {
    match result {
        1 => "rejected_permanent",
        2 => "rejected_transient",
        _ => "unknown",
    }
}

pub fn reject_source_name(source: u8) -> &'static str {
    match source {
        1 => "service_user",
        2 => "service_provider_acse",
        3 => "service_provider_presentation",
        _ => "unknown",
    }
}

pub fn reject_reason_name(source: u8, reason: u8) -> &'static str {
    match (source, reason) {
        (1, 1) | (2, 1) => "no_reason_given",
        (1, 2) => "application_context_name_not_supported",
        (1, 3) => "calling_ae_title_not_recognized",
        (1, 7) => "called_ae_title_not_recognized",
        (2, 2) => "protocol_version_not_supported",
        (3, 1) => "temporary_congestion",
        (3, 2) => "local_limit_exceeded",
        _ => "reserved",
    }
}

/// PS3.8 Table 9-26.
pub fn abort_source_name(source: u8) -> &'static str {
    match source {
        0 => "service_user",
        2 => "service_provider",
        _ => "reserved",
    }
}

pub fn abort_reason_name(source: u8, reason: u8) -> &'static str {
    if source != 2 {
        return "not_significant";
    }
    match reason {
        0 => "reason_not_specified",
        1 => "unrecognized_pdu",
        2 => "unexpected_pdu",
        4 => "unrecognized_pdu_parameter",
        5 => "unexpected_pdu_parameter",
        6 => "invalid_pdu_parameter_value",
        _ => "reserved",
    }
}

/// PS3.7 D.3.3.7.1 User-Identity-Type.
pub fn user_identity_type_name(t: u8) -> &'static str {
    match t {
        1 => "username",
        2 => "username_and_passcode",
        3 => "kerberos",
        4 => "saml",
        5 => "jwt",
        _ => "unknown",
    }
}

/// Is `b` (a 12-byte window, or 10 for the fixed-size PDUs) a plausible PDU start? Used after a gap to
/// find the next PDU boundary. `max_pdata` bounds a P-DATA length; `context_ok` says whether a
/// presentation context id is one the association accepted. Returns how many bytes the check needs
/// when `b` is too short to decide.
pub fn plausible_pdu_start(b: &[u8], max_pdata: u32, context_ok: impl Fn(u8) -> bool) -> Plausible {
    let Some(&ty) = b.first() else {
        return Plausible::Need(1);
    };
    let need = match ty {
        0x04 => 12,
        0x01..=0x07 => 10,
        _ => return Plausible::No,
    };
    let Some(w) = b.get(..need) else {
        return Plausible::Need(need);
    };
    let mut r = Reader::new(w);
    let (Some(_), Some(reserved), Some(len)) = (r.u8(), r.u8(), r.be_u32()) else {
        return Plausible::No;
    };
    if reserved != 0 {
        return Plausible::No;
    }
    let ok = match ty {
        0x04 => {
            let (Some(pdv_len), Some(ctx), Some(mch)) = (r.be_u32(), r.u8(), r.u8()) else {
                return Plausible::No;
            };
            (6..=max_pdata).contains(&len)
                && pdv_len >= 2
                && pdv_len.checked_add(4).is_some_and(|n| n <= len)
                && ctx & 1 == 1
                && context_ok(ctx)
                && mch <= 3
        }
        0x01 | 0x02 => {
            let version = r.be_u16().unwrap_or(0);
            (ASSOCIATE_FIXED_LEN as u32..=0x0002_0000).contains(&len) && version == 1
        }
        0x03 | 0x05 | 0x06 => len == 4 && r.u8() == Some(0),
        _ => len == 4 && r.u8() == Some(0) && r.u8() == Some(0) && r.u8().is_some_and(|s| s <= 2),
    };
    if ok {
        Plausible::Yes
    } else {
        Plausible::No
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plausible {
    Yes,
    No,
    Need(usize),
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An item: type, reserved, 2-byte length, body (PS3.8 §9.3.2).
    pub fn item(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ty, 0];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// A PDU: type, reserved, 4-byte length, body (PS3.8 §9.3.1).
    pub fn pdu(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ty, 0];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    pub fn ae(s: &str) -> [u8; 16] {
        let mut a = [b' '; 16];
        a[..s.len()].copy_from_slice(s.as_bytes());
        a
    }

    /// A-ASSOCIATE-RQ body per PS3.8 §9.3.2 (Table 9-11): version 1, called, calling, 32 reserved bytes,
    /// application context item 0x10, presentation contexts 0x20 (0x30 abstract, 0x40 transfer), user
    /// information 0x50 (0x51 max length, 0x52 class UID, 0x55 version, 0x53 async, 0x54 role, 0x58 user
    /// identity).
    pub fn associate_rq_body(
        calling: &str,
        called: &str,
        contexts: &[(u8, &str, &[&str])],
    ) -> Vec<u8> {
        let mut b = vec![0, 1, 0, 0];
        b.extend_from_slice(&ae(called));
        b.extend_from_slice(&ae(calling));
        b.extend_from_slice(&[0; 32]);
        b.extend(item(0x10, b"1.2.840.10008.3.1.1.1"));
        for (id, abs, tss) in contexts {
            let mut pc = vec![*id, 0, 0, 0];
            pc.extend(item(0x30, abs.as_bytes()));
            for ts in *tss {
                pc.extend(item(0x40, ts.as_bytes()));
            }
            b.extend(item(0x20, &pc));
        }
        let mut ui = item(0x51, &16384u32.to_be_bytes());
        ui.extend(item(0x52, b"1.2.276.0.7230010.3.0.3.6.7"));
        ui.extend(item(0x53, &[0, 1, 0, 1]));
        let uid = b"1.2.840.10008.5.1.4.1.1.2";
        let mut role = (uid.len() as u16).to_be_bytes().to_vec();
        role.extend_from_slice(uid);
        role.extend_from_slice(&[1, 0]);
        ui.extend(item(0x54, &role));
        ui.extend(item(0x55, b"OFFIS_DCMTK_367"));
        // User identity: type 2 (username+passcode), response requested, "alice"/"secret".
        let mut uid_item = vec![2, 1, 0, 5];
        uid_item.extend_from_slice(b"alice");
        uid_item.extend_from_slice(&[0, 6]);
        uid_item.extend_from_slice(b"secret");
        ui.extend(item(0x58, &uid_item));
        b.extend(item(0x50, &ui));
        b
    }

    #[test]
    fn decodes_associate_rq_items() {
        let body = associate_rq_body(
            "STORESCU",
            "ANY-SCP",
            &[(1, "1.2.840.10008.1.1", &["1.2.840.10008.1.2"])],
        );
        let v = parse_associate(&body, false);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.protocol_version, 1);
        assert_eq!(v.calling_ae, b"STORESCU        ");
        assert_eq!(v.called_ae, b"ANY-SCP         ");
        assert_eq!(v.application_context, Some(&b"1.2.840.10008.3.1.1.1"[..]));
        assert_eq!(v.presentation_contexts.len(), 1);
        assert_eq!(v.presentation_contexts[0].id, 1);
        assert_eq!(
            v.presentation_contexts[0].abstract_syntax,
            Some(&b"1.2.840.10008.1.1"[..])
        );
        assert_eq!(v.user.max_pdu_length, Some(16384));
        assert_eq!(v.user.async_ops, Some((1, 1)));
        assert_eq!(v.user.roles.len(), 1);
        assert_eq!(v.user.roles[0].scu_role, 1);
        assert_eq!(v.user.user_identity_type, Some(2));
        assert_eq!(v.user.implementation_version, Some(&b"OFFIS_DCMTK_367"[..]));
    }

    #[test]
    fn item_overrun_is_reported_and_earlier_items_kept() {
        let mut body = associate_rq_body("A", "B", &[]);
        // An item claiming 0x7fff bytes where only 3 follow.
        body.extend_from_slice(&[0x20, 0, 0x7f, 0xff, 1, 0, 0]);
        let v = parse_associate(&body, false);
        assert!(v.application_context.is_some());
        assert_eq!(v.problems[0].0, "item_overruns_pdu");
    }

    #[test]
    fn short_fixed_part() {
        let v = parse_associate(&[0, 1, 0], false);
        assert_eq!(v.problems[0].0, "associate_pdu_too_short");
    }

    #[test]
    fn pdv_header_bits() {
        // PS3.8 Annex E.2: 0x03 = command, last fragment.
        let h = PdvHeader::parse([0, 0, 0, 10, 1, 0x03]);
        assert!(h.is_command() && h.is_last());
        assert_eq!(h.fragment_len(), Some(8));
        assert_eq!(PdvHeader::parse([0, 0, 0, 1, 1, 0]).fragment_len(), None);
    }

    #[test]
    fn plausibility() {
        let any = |_| true;
        assert_eq!(
            plausible_pdu_start(&[5, 0, 0, 0, 0, 4, 0, 0, 0, 0], 1 << 20, any),
            Plausible::Yes
        );
        assert_eq!(
            plausible_pdu_start(&[5, 0, 0, 0], 1 << 20, any),
            Plausible::Need(10)
        );
        assert_eq!(plausible_pdu_start(&[9], 1 << 20, any), Plausible::No);
        let pdata = [4, 0, 0, 0, 0, 20, 0, 0, 0, 16, 1, 3];
        assert_eq!(plausible_pdu_start(&pdata, 1 << 20, any), Plausible::Yes);
        assert_eq!(
            plausible_pdu_start(&pdata, 1 << 20, |c| c == 3),
            Plausible::No
        );
        assert_eq!(plausible_pdu_start(&pdata, 10, any), Plausible::No);
    }
}
