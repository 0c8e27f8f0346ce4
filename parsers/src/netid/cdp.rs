//! CDP, Cisco Discovery Protocol v1/v2. No public standard: the layout follows Wireshark's
//! `packet-cdp.c`. An 802.3 frame whose payload is LLC `AA AA 03`, SNAP OUI `00 00 0C`, PID `0x2000`,
//! then `version(1) ttl(1) checksum(2)` and TLVs of `type(2) length(2, header included) value`.
use super::lldp::caps;
use super::{ip, push_capped, set_text, LinkInfo, Malformed, NetIdEvent, Sink, MAX_ADDRS};
use crate::wire::Reader;
use crate::AppEvent;
use std::net::IpAddr;

const SNAP: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];

const DEVICE_ID: u16 = 0x0001;
const ADDRESSES: u16 = 0x0002;
const PORT_ID: u16 = 0x0003;
const CAPABILITIES: u16 = 0x0004;
const SOFTWARE_VERSION: u16 = 0x0005;
const PLATFORM: u16 = 0x0006;
const SYSTEM_NAME: u16 = 0x0014;
const MANAGEMENT_ADDRESSES: u16 = 0x0016;

/// CDP capability bits, bit 0 first.
const CDP_CAPS: [&str; 11] = [
    "router",
    "bridge",
    "source_route_bridge",
    "switch",
    "host",
    "igmp",
    "repeater",
    "telephone",
    "remotely_managed",
    "cvta",
    "tpmr",
];

/// Cheap check that an 802.3 payload is CDP: the LLC/SNAP header `AA AA 03 00 00 0C 20 00`.
pub fn looks_like_cdp(llc: &[u8]) -> bool {
    llc.starts_with(&SNAP)
}

/// A CDP PDU after its LLC/SNAP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdpView<'a> {
    pub version: u8,
    pub ttl: u8,
    pub checksum: u16,
    /// The whole PDU from the version byte (what the checksum covers).
    pub pdu: &'a [u8],
}

impl<'a> CdpView<'a> {
    /// Checks the LLC/SNAP header and reads the 4-byte CDP header.
    pub fn parse(llc: &'a [u8]) -> Result<Self, Malformed> {
        let pdu = llc
            .strip_prefix(&SNAP)
            .ok_or(Malformed::new("bad_snap_header", 0))?;
        let mut r = Reader::new(pdu);
        let (Some(version), Some(ttl), Some(checksum)) = (r.u8(), r.u8(), r.be_u16()) else {
            return Err(Malformed::truncated(llc.len()));
        };
        Ok(CdpView {
            version,
            ttl,
            checksum,
            pdu,
        })
    }

    /// The TLVs after the header.
    pub fn tlvs(&self) -> CdpTlvs<'a> {
        CdpTlvs {
            r: Reader::new(self.pdu.get(4..).unwrap_or_default()),
            done: false,
        }
    }

    /// The internet checksum (RFC 1071) over the PDU verifies. `None` for odd lengths, whose last byte
    /// Cisco and other implementations pad differently.
    pub fn checksum_ok(&self) -> Option<bool> {
        if self.pdu.len() & 1 == 1 {
            return None;
        }
        let mut sum: u32 = 0;
        for w in self.pdu.chunks_exact(2) {
            if let [hi, lo] = *w {
                sum = sum.wrapping_add(u32::from(u16::from_be_bytes([hi, lo])));
            }
        }
        while sum > 0xffff {
            sum = (sum & 0xffff).wrapping_add(sum >> 16);
        }
        Some(sum == 0xffff)
    }
}

/// One CDP TLV; `offset` is from the start of the TLV area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdpTlv<'a> {
    pub kind: u16,
    pub value: &'a [u8],
    pub offset: usize,
}

/// Iterator over CDP TLVs; a length under 4 (`bad_tlv`) or past the frame (`truncated`) yields one
/// `Err` and ends it.
#[derive(Debug, Clone)]
pub struct CdpTlvs<'a> {
    r: Reader<'a>,
    done: bool,
}

impl<'a> Iterator for CdpTlvs<'a> {
    type Item = Result<CdpTlv<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.r.is_empty() {
            return None;
        }
        let offset = self.r.offset();
        let res = match (self.r.be_u16(), self.r.be_u16()) {
            (Some(kind), Some(len)) => match usize::from(len).checked_sub(4) {
                None => Err(Malformed::new("bad_tlv", offset)),
                Some(n) => self
                    .r
                    .take(n)
                    .map(|value| CdpTlv {
                        kind,
                        value,
                        offset,
                    })
                    .ok_or(Malformed::truncated(offset)),
            },
            _ => Err(Malformed::truncated(offset)),
        };
        self.done = res.is_err();
        Some(res)
    }
}

/// Addresses TLV (types 2 and 0x16): a 32-bit count, then per address `protocol type(1) protocol
/// length(1) protocol(n) address length(2) address`. IPv4 is NLPID `CC`; IPv6 is 802.2
/// `AA AA 03 00 00 00 86 DD`.
fn addresses(v: &[u8], into: &mut Vec<IpAddr>, t: &mut bool) -> Result<(), ()> {
    let mut r = Reader::new(v);
    let count = r.be_u32().ok_or(())?;
    for _ in 0..count {
        let _ptype = r.u8().ok_or(())?;
        let plen = usize::from(r.u8().ok_or(())?);
        let proto = r.take(plen).ok_or(())?;
        let alen = usize::from(r.be_u16().ok_or(())?);
        let addr = r.take(alen).ok_or(())?;
        let known = matches!((proto, alen), ([0xcc], 4))
            || (proto == [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x86, 0xdd] && alen == 16);
        if let Some(a) = ip(addr).filter(|_| known) {
            push_capped(into, a, MAX_ADDRS, t);
        }
    }
    Ok(())
}

/// Decodes one CDP frame (the 802.3 payload after the length field, LLC/SNAP header first).
pub fn cdp(llc: &[u8], out: &mut Vec<AppEvent>) {
    let mut sink = Sink::new(out, "cdp");
    let v = match CdpView::parse(llc) {
        Ok(v) => v,
        Err(m) => {
            sink.malformed(m, "CDP header ends");
            return;
        }
    };
    if !matches!(v.version, 1 | 2) {
        sink.anomaly("bad_version", format!("CDP version {}", v.version));
        return;
    }
    if v.checksum_ok() == Some(false) {
        sink.anomaly(
            "bad_checksum",
            format!("checksum {:#06x} does not verify", v.checksum),
        );
    }
    let mut info = LinkInfo {
        ttl_s: Some(u16::from(v.ttl)),
        ..LinkInfo::default()
    };
    let mut t = false;
    for tlv in v.tlvs() {
        let tlv = match tlv {
            Ok(tlv) => tlv,
            Err(m) => {
                sink.malformed(m, "TLV length bad or past the frame");
                break;
            }
        };
        let bad = |sink: &mut Sink, what: &str| {
            sink.anomaly(
                "bad_tlv",
                format!(
                    "{what} TLV of length {} at offset {}",
                    tlv.value.len(),
                    tlv.offset
                ),
            );
        };
        match tlv.kind {
            DEVICE_ID => set_text(&mut info.chassis_id, tlv.value, &mut t),
            PORT_ID => set_text(&mut info.port_id, tlv.value, &mut t),
            SOFTWARE_VERSION => set_text(&mut info.software_version, tlv.value, &mut t),
            PLATFORM => set_text(&mut info.platform, tlv.value, &mut t),
            SYSTEM_NAME => set_text(&mut info.system_name, tlv.value, &mut t),
            CAPABILITIES => match <[u8; 4]>::try_from(tlv.value) {
                Ok(b) => info.capabilities = caps(u32::from_be_bytes(b), &CDP_CAPS),
                Err(_) => bad(&mut sink, "Capabilities"),
            },
            ADDRESSES | MANAGEMENT_ADDRESSES
                if addresses(tlv.value, &mut info.mgmt_addrs, &mut t).is_err() =>
            {
                bad(&mut sink, "Addresses");
            }
            _ => {}
        }
    }
    if info.system_name.is_none() {
        info.system_name.clone_from(&info.chassis_id);
    }
    info.truncated = t;
    sink.event(NetIdEvent::Cdp(Box::new(info)));
}
