//! LLDP, IEEE 802.1AB-2016 §8: an LLDPDU is a run of TLVs, each a 16-bit header (7-bit type, 9-bit
//! length) and a value; Chassis ID (1), Port ID (2) and TTL (3) come first, End of LLDPDU (0) last.
use super::{
    ip, mac, push_capped, set_text, text, LinkInfo, Malformed, NetIdEvent, Sink, MAX_ADDRS,
};
use crate::wire::Reader;
use crate::AppEvent;
use std::net::IpAddr;

const END: u8 = 0;
const CHASSIS_ID: u8 = 1;
const PORT_ID: u8 = 2;
const TTL: u8 = 3;
const SYSTEM_NAME: u8 = 5;
const SYSTEM_DESCRIPTION: u8 = 6;
const SYSTEM_CAPABILITIES: u8 = 7;
const MANAGEMENT_ADDRESS: u8 = 8;
const ORG_SPECIFIC: u8 = 127;
/// ANSI/TIA-1057 (LLDP-MED) OUI.
const OUI_TIA: [u8; 3] = [0x00, 0x12, 0xbb];

/// 802.1AB Table 8-4 system capability bits, bit 0 first.
pub(crate) const LLDP_CAPS: [&str; 11] = [
    "other",
    "repeater",
    "bridge",
    "wlan_ap",
    "router",
    "telephone",
    "docsis",
    "station",
    "c_vlan",
    "s_vlan",
    "tpmr",
];

/// One TLV; `offset` is where its header starts in the LLDPDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LldpTlv<'a> {
    pub kind: u8,
    pub value: &'a [u8],
    pub offset: usize,
}

/// Iterator over an LLDPDU's TLVs. Yields the End TLV and stops after it; a TLV that runs past the
/// frame yields one `Err` (`truncated`) and ends the iteration.
#[derive(Debug, Clone)]
pub struct LldpTlvs<'a> {
    r: Reader<'a>,
    done: bool,
}

impl<'a> LldpTlvs<'a> {
    pub fn new(payload: &'a [u8]) -> Self {
        LldpTlvs {
            r: Reader::new(payload),
            done: false,
        }
    }
}

impl<'a> Iterator for LldpTlvs<'a> {
    type Item = Result<LldpTlv<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.r.is_empty() {
            return None;
        }
        let offset = self.r.offset();
        let tlv = self.r.be_u16().and_then(|h| {
            let value = self.r.take(usize::from(h & 0x01ff))?;
            Some(LldpTlv {
                kind: u8::try_from(h >> 9).unwrap_or(u8::MAX),
                value,
                offset,
            })
        });
        match tlv {
            Some(t) => {
                self.done = t.kind == END;
                Some(Ok(t))
            }
            None => {
                self.done = true;
                Some(Err(Malformed::truncated(offset)))
            }
        }
    }
}

/// Renders a Chassis ID (802.1AB §8.5.2.2: 4 = MAC, 5 = network address) or Port ID (§8.5.3.2: 3 = MAC,
/// 4 = network address) value; other subtypes are text.
fn render_id(value: &[u8], mac_subtype: u8, addr_subtype: u8) -> Option<(String, bool)> {
    let (&subtype, id) = value.split_first()?;
    if id.is_empty() {
        return None;
    }
    if subtype == mac_subtype {
        return Some((mac(id), false));
    }
    if subtype == addr_subtype {
        if let Some(a) = network_address(id) {
            return Some((a.to_string(), false));
        }
    }
    Some(text(id))
}

/// An IANA address-family-numbered address (1 = IPv4, 2 = IPv6).
pub(crate) fn network_address(b: &[u8]) -> Option<IpAddr> {
    match b.split_first()? {
        (1, a) if a.len() == 4 => ip(a),
        (2, a) if a.len() == 16 => ip(a),
        _ => None,
    }
}

/// Management Address TLV (§8.5.9): length (of subtype + address, 2..=32), subtype, address, interface
/// numbering subtype, interface number, OID length, OID. Returns the address if it is IPv4/IPv6.
fn management_address(v: &[u8]) -> Result<Option<IpAddr>, ()> {
    let mut r = Reader::new(v);
    let len = usize::from(r.u8().ok_or(())?);
    if !(2..=32).contains(&len) {
        return Err(());
    }
    let addr = r.take(len).ok_or(())?;
    r.skip(5).ok_or(())?;
    let oid_len = usize::from(r.u8().ok_or(())?);
    r.skip(oid_len).ok_or(())?;
    Ok(network_address(addr))
}

/// Decodes one LLDPDU (the bytes after EtherType 0x88cc).
pub fn lldp(payload: &[u8], out: &mut Vec<AppEvent>) {
    let mut sink = Sink::new(out, "lldp");
    let mut info = LinkInfo::default();
    let mut t = false;
    let mut decoded = false;
    let mut saw_end = false;
    let mut order_ok = true;
    let mut errored = false;
    let mut mandatory = 0u8;
    for (i, tlv) in LldpTlvs::new(payload).enumerate() {
        let tlv = match tlv {
            Ok(tlv) => tlv,
            Err(m) => {
                sink.malformed(m, "TLV runs past the frame");
                errored = true;
                break;
            }
        };
        let expected = [CHASSIS_ID, PORT_ID, TTL];
        if let Some(&want) = expected.get(i) {
            order_ok &= tlv.kind == want;
            mandatory = mandatory.saturating_add(1);
        }
        let bad = |sink: &mut Sink, what: &str| {
            sink.anomaly(
                "bad_tlv",
                format!(
                    "{what} TLV (type {}) of length {} at offset {}",
                    tlv.kind,
                    tlv.value.len(),
                    tlv.offset
                ),
            );
        };
        match tlv.kind {
            END => {
                saw_end = true;
                if !tlv.value.is_empty() {
                    bad(&mut sink, "End of LLDPDU");
                }
            }
            CHASSIS_ID | PORT_ID => {
                let (slot, what, m, a) = if tlv.kind == CHASSIS_ID {
                    (&mut info.chassis_id, "Chassis ID", 4, 5)
                } else {
                    (&mut info.port_id, "Port ID", 3, 4)
                };
                match render_id(tlv.value, m, a) {
                    Some((s, cut)) if tlv.value.len() <= 256 => {
                        t |= cut;
                        slot.get_or_insert(s);
                    }
                    _ => bad(&mut sink, what),
                }
            }
            TTL => match <[u8; 2]>::try_from(tlv.value) {
                Ok(b) => {
                    info.ttl_s.get_or_insert(u16::from_be_bytes(b));
                }
                Err(_) => bad(&mut sink, "TTL"),
            },
            SYSTEM_NAME => set_text(&mut info.system_name, tlv.value, &mut t),
            SYSTEM_DESCRIPTION => set_text(&mut info.system_description, tlv.value, &mut t),
            SYSTEM_CAPABILITIES => match <[u8; 4]>::try_from(tlv.value) {
                Ok([_, _, e0, e1]) => {
                    let enabled = u16::from_be_bytes([e0, e1]);
                    info.capabilities = caps(u32::from(enabled), &LLDP_CAPS);
                }
                Err(_) => bad(&mut sink, "System Capabilities"),
            },
            MANAGEMENT_ADDRESS => match management_address(tlv.value) {
                Ok(Some(a)) => push_capped(&mut info.mgmt_addrs, a, MAX_ADDRS, &mut t),
                Ok(None) => {}
                Err(()) => bad(&mut sink, "Management Address"),
            },
            ORG_SPECIFIC => match tlv.value.split_first_chunk::<4>() {
                Some(([o0, o1, o2, subtype], v)) if [*o0, *o1, *o2] == OUI_TIA => match subtype {
                    // TIA-1057 §10.2.6: 5 hardware, 6 firmware, 7 software revision, 8 serial,
                    // 9 manufacturer, 10 model name, 11 asset ID.
                    6 | 7 => {
                        let (s, cut) = text(v);
                        t |= cut;
                        if *subtype == 7 || info.software_version.is_none() {
                            info.software_version = Some(s);
                        }
                    }
                    10 => set_text(&mut info.platform, v, &mut t),
                    _ => {}
                },
                Some(_) => {}
                None => bad(&mut sink, "Organizationally Specific"),
            },
            _ => {}
        }
        decoded = true;
        if saw_end {
            break;
        }
    }
    if decoded && (!order_ok || mandatory < 3) {
        sink.anomaly(
            "missing_mandatory_tlv",
            "LLDPDU does not start with Chassis ID, Port ID, TTL".to_owned(),
        );
    }
    if decoded && !saw_end && !errored {
        sink.anomaly(
            "missing_end_tlv",
            format!("{} bytes of TLVs without End of LLDPDU", payload.len()),
        );
    }
    if payload.is_empty() {
        sink.anomaly("truncated", "empty LLDPDU".to_owned());
    }
    info.truncated = t;
    if info != LinkInfo::default() {
        sink.event(NetIdEvent::Lldp(Box::new(info)));
    }
}

/// Names of the set bits of `bits`, bit 0 first.
pub(crate) fn caps(bits: u32, names: &[&'static str]) -> Vec<&'static str> {
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            u32::try_from(*i).is_ok_and(|i| bits.checked_shr(i).is_some_and(|b| b & 1 == 1))
        })
        .map(|(_, n)| *n)
        .collect()
}
