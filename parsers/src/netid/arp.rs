//! ARP, RFC 826: `hrd(2) pro(2) hln(1) pln(1) op(2) sha(hln) spa(pln) tha(hln) tpa(pln)`.
use super::{mac, ArpInfo, Malformed, NetIdEvent, Sink};
use crate::wire::Reader;
use crate::AppEvent;
use std::net::{IpAddr, Ipv4Addr};

/// RFC 826 hardware types seen on Ethernet: 1 (Ethernet) and 6 (IEEE 802).
const HRD_ETHERNET: u16 = 1;
const HRD_IEEE802: u16 = 6;
const PRO_IPV4: u16 = 0x0800;

/// A borrowed ARP packet. After [`ArpView::parse`] every getter is infallible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpView<'a> {
    pub hardware_type: u16,
    pub protocol_type: u16,
    pub op: u16,
    pub sender_hw: &'a [u8],
    pub sender_proto: &'a [u8],
    pub target_hw: &'a [u8],
    pub target_proto: &'a [u8],
}

impl<'a> ArpView<'a> {
    /// Reads the fixed header and the four addresses at the sizes the header gives (any sizes); trailing
    /// Ethernet padding is ignored.
    pub fn parse(payload: &'a [u8]) -> Result<Self, Malformed> {
        let mut r = Reader::new(payload);
        let (Some(hardware_type), Some(protocol_type), Some(hln), Some(pln), Some(op)) =
            (r.be_u16(), r.be_u16(), r.u8(), r.u8(), r.be_u16())
        else {
            return Err(Malformed::truncated(payload.len()));
        };
        let (hln, pln) = (usize::from(hln), usize::from(pln));
        let (Some(sender_hw), Some(sender_proto), Some(target_hw), Some(target_proto)) =
            (r.take(hln), r.take(pln), r.take(hln), r.take(pln))
        else {
            return Err(Malformed::truncated(payload.len()));
        };
        Ok(ArpView {
            hardware_type,
            protocol_type,
            op,
            sender_hw,
            sender_proto,
            target_hw,
            target_proto,
        })
    }

    /// Ethernet (or IEEE 802) hardware and IPv4 protocol types, whatever the sizes say.
    pub fn is_ethernet_ipv4(&self) -> bool {
        matches!(self.hardware_type, HRD_ETHERNET | HRD_IEEE802) && self.protocol_type == PRO_IPV4
    }

    /// `request`, `reply`, `gratuitous`, `probe` or `other` (RFC 826 ops 1/2, RFC 5227 §2.1.1, §2.3).
    pub fn classify(&self) -> &'static str {
        let unspecified = self.sender_proto.iter().all(|&b| b == 0);
        let same = self.sender_proto == self.target_proto;
        match self.op {
            1 if unspecified => "probe",
            1 | 2 if same => "gratuitous",
            1 => "request",
            2 => "reply",
            _ => "other",
        }
    }
}

/// Decodes one ARP packet (the bytes after EtherType 0x0806).
pub fn arp(payload: &[u8], out: &mut Vec<AppEvent>) {
    let mut sink = Sink::new(out, "arp");
    let v = match ArpView::parse(payload) {
        Ok(v) => v,
        Err(m) => {
            sink.malformed(m, "ARP packet ends");
            return;
        }
    };
    if !v.is_ethernet_ipv4() {
        sink.anomaly(
            "unsupported_arp_type",
            format!(
                "hardware type {} protocol type {:#06x}",
                v.hardware_type, v.protocol_type
            ),
        );
        return;
    }
    let (Ok(sha), Ok(spa), Ok(tpa)) = (
        <[u8; 6]>::try_from(v.sender_hw),
        <[u8; 4]>::try_from(v.sender_proto),
        <[u8; 4]>::try_from(v.target_proto),
    ) else {
        sink.anomaly(
            "bad_arp_sizes",
            format!(
                "hardware size {} protocol size {} (Ethernet/IPv4 needs 6/4)",
                v.sender_hw.len(),
                v.sender_proto.len()
            ),
        );
        return;
    };
    let [first, ..] = sha;
    if sha == [0; 6] || first & 1 == 1 {
        sink.anomaly(
            "bad_sender_mac",
            format!("sender MAC {} is zero or multicast", mac(&sha)),
        );
    }
    sink.event(NetIdEvent::Arp(Box::new(ArpInfo {
        op: v.classify(),
        sender_mac: mac(&sha),
        sender_ip: IpAddr::V4(Ipv4Addr::from(spa)),
        target_mac: mac(v.target_hw),
        target_ip: IpAddr::V4(Ipv4Addr::from(tpa)),
    })));
}
