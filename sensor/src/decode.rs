//! L2–L4 decode with etherparse's lax slicing API: nothing is copied, a truncated frame (snap length)
//! keeps the layers that were whole.
//!
//! Link types: Ethernet II with 802.1Q/802.1ad (QinQ) tags, Linux cooked capture v1 (SLL, 16-byte header)
//! and v2 (SLL2, 20-byte header), raw IPv4/IPv6 (LINKTYPE_RAW, _IPV4, _IPV6) and BSD NULL/LOOP (a 4-byte
//! address family in host or network order). Anything else is counted as an unsupported link type.
//!
//! IPv4 fragments are counted, not reassembled: medical-device protocols run over TCP with path-MTU
//! discovery, and the fragments that do occur (large UDP datagrams) carry nothing we decode. A first
//! fragment's transport header is still used for flow accounting when present.
//!
//! Checksums: the IPv4 header checksum is cheap and always checked (a mismatch is counted, the frame is
//! kept). TCP/UDP checksums cover the whole payload, and captures taken on hosts with checksum offload
//! carry bad ones on every frame, so they are checked only with `--checksums count|drop`.

use crate::capture::{Frame, LinkType};
use etherparse::{EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};
use std::net::IpAddr;

/// Why a frame yielded no IP packet, one counter each in the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    UnsupportedLink,
    TruncatedLink,
    NonIp,
    MalformedIp,
    MalformedTransport,
    Fragment,
}

impl DecodeError {
    pub const ALL: [DecodeError; 6] = [
        DecodeError::UnsupportedLink,
        DecodeError::TruncatedLink,
        DecodeError::NonIp,
        DecodeError::MalformedIp,
        DecodeError::MalformedTransport,
        DecodeError::Fragment,
    ];
    pub const fn name(self) -> &'static str {
        match self {
            DecodeError::UnsupportedLink => "unsupported_link_type",
            DecodeError::TruncatedLink => "truncated_link_header",
            DecodeError::NonIp => "non_ip",
            DecodeError::MalformedIp => "malformed_ip",
            DecodeError::MalformedTransport => "malformed_transport",
            DecodeError::Fragment => "ip_fragment",
        }
    }
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// TCP header fields the flow table and reassembly use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpMeta {
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub ack_flag: bool,
}

/// A decoded packet borrowing its payload from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number (6 TCP, 17 UDP, …).
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub tcp: Option<TcpMeta>,
    /// Transport payload (TCP/UDP data); empty for other protocols.
    pub payload: &'a [u8],
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    /// The outer VLAN id, 0 when untagged.
    pub vlan: u16,
    /// IPv4 header checksum mismatch (the frame is still used).
    pub bad_ip_checksum: bool,
    /// Bytes of the frame on the wire.
    pub wire_len: u32,
}

pub fn decode<'a>(frame: &Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    match ethernet_tcp(frame) {
        Some(p) => Ok(p),
        None => decode_general(frame),
    }
}

/// The common frame read straight off the bytes: Ethernet II with at most two 802.1Q/802.1ad tags,
/// then an unfragmented IPv4 packet whole in the frame (or IPv6 with TCP as its next header), then a
/// whole TCP header. For such a frame it gives exactly what [`decode_general`] gives (checked over
/// every committed capture and over mutated frames in `tests/decode.rs`), without building etherparse's
/// general slice of every layer; `None` sends everything else (other links, UDP, options of IPv6,
/// fragments, truncation, anything malformed) to the general path.
fn ethernet_tcp<'a>(frame: &Frame<'a>) -> Option<Packet<'a>> {
    if frame.link != LinkType::ETHERNET {
        return None;
    }
    let d = frame.data;
    let be16 = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(
            d.get(at..at.checked_add(2)?)?.try_into().ok()?,
        ))
    };
    let mut at = 12usize;
    let mut ether = be16(at)?;
    let mut vlan = 0u16;
    for tag in 0..3 {
        if ether != 0x8100 && ether != 0x88a8 {
            break;
        }
        if tag == 2 {
            return None;
        }
        if tag == 0 {
            vlan = be16(at.checked_add(2)?)? & 0x0fff;
        }
        at = at.checked_add(4)?;
        ether = be16(at)?;
    }
    let ip = d.get(at.checked_add(2)?..)?;
    let (src, dst, segment, bad_ip_checksum) = match ether {
        0x0800 => {
            let vihl = *ip.first()?;
            let ihl = usize::from(vihl & 0x0f).checked_mul(4)?;
            let total = usize::from(u16::from_be_bytes(ip.get(2..4)?.try_into().ok()?));
            let frag = u16::from_be_bytes(ip.get(6..8)?.try_into().ok()?);
            if vihl >> 4 != 4 || ihl < 20 || total < ihl || frag & 0x3fff != 0 || *ip.get(9)? != 6 {
                return None;
            }
            let s: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let t: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                IpAddr::from(s),
                IpAddr::from(t),
                ip.get(ihl..total)?,
                !ipv4_checksum_ok(ip.get(..ihl)?),
            )
        }
        0x86dd => {
            let len = usize::from(u16::from_be_bytes(ip.get(4..6)?.try_into().ok()?));
            if ip.first()? >> 4 != 6 || *ip.get(6)? != 6 || len == 0 {
                return None;
            }
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let t: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (
                IpAddr::from(s),
                IpAddr::from(t),
                ip.get(40..40usize.checked_add(len)?)?,
                false,
            )
        }
        _ => return None,
    };
    let off = usize::from(segment.get(12)? >> 4).checked_mul(4)?;
    if off < 20 {
        return None;
    }
    let payload = segment.get(off..)?;
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            segment.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let flags = *segment.get(13)?;
    Some(Packet {
        src,
        dst,
        proto: 6,
        sport: u16::from_be_bytes(segment.get(0..2)?.try_into().ok()?),
        dport: u16::from_be_bytes(segment.get(2..4)?.try_into().ok()?),
        tcp: Some(TcpMeta {
            seq: be32(4)?,
            ack: be32(8)?,
            syn: flags & 0x02 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
            ack_flag: flags & 0x10 != 0,
        }),
        payload,
        src_mac: d.get(6..12)?.try_into().ok(),
        dst_mac: d.get(0..6)?.try_into().ok(),
        vlan,
        bad_ip_checksum,
        wire_len: frame.orig_len,
    })
}

/// Any frame, through etherparse's lax slicing of every layer.
pub fn decode_general<'a>(frame: &Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    let data = frame.data;
    let sliced = match frame.link {
        LinkType::ETHERNET => {
            LaxSlicedPacket::from_ethernet(data).map_err(|_| DecodeError::TruncatedLink)?
        }
        LinkType::RAW
        | LinkType::RAW_BSD
        | LinkType::RAW_BSD2
        | LinkType::IPV4
        | LinkType::IPV6 => LaxSlicedPacket::from_ip(data).map_err(|_| DecodeError::MalformedIp)?,
        LinkType::LINUX_SLL => {
            // SLL: packet type u16, ARPHRD u16, addr len u16, addr [8], protocol u16.
            let (proto, rest) = split_proto(data, 14, 16)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        LinkType::LINUX_SLL2 => {
            // SLL2: protocol u16, reserved u16, ifindex u32, ARPHRD u16, type u8, addr len u8, addr [8].
            let (proto, rest) = split_proto(data, 0, 20)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        LinkType::NULL | LinkType::LOOP => {
            let (family, rest) = data
                .split_first_chunk::<4>()
                .ok_or(DecodeError::TruncatedLink)?;
            // The family is in the capturing host's byte order (NULL) or network order (LOOP); both
            // small values, so either order reads as one of them.
            let fam = u32::from_le_bytes(*family).min(u32::from_be_bytes(*family));
            match fam {
                2 => LaxSlicedPacket::from_ether_type(EtherType::IPV4, rest),
                24 | 28 | 30 => LaxSlicedPacket::from_ether_type(EtherType::IPV6, rest),
                _ => return Err(DecodeError::NonIp),
            }
        }
        _ => return Err(DecodeError::UnsupportedLink),
    };
    let (src_mac, dst_mac) = match &sliced.link {
        Some(LinkSlice::Ethernet2(e)) => (Some(e.source()), Some(e.destination())),
        _ => (None, None),
    };
    let vlan = sliced.vlan_ids().first().map(|v| v.value()).unwrap_or(0);
    let (src, dst, ip_payload, bad_ip_checksum) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let bad = !ipv4_checksum_ok(h.slice());
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                v4.payload(),
                bad,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                v6.payload(),
                false,
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Err(DecodeError::NonIp),
        None => {
            return Err(match sliced.stop_err {
                Some(_) => DecodeError::MalformedIp,
                None => DecodeError::NonIp,
            })
        }
    };
    let proto = ip_payload.ip_number.0;
    let mut pkt = Packet {
        src,
        dst,
        proto,
        sport: 0,
        dport: 0,
        tcp: None,
        payload: &[],
        src_mac,
        dst_mac,
        vlan,
        bad_ip_checksum,
        wire_len: frame.orig_len,
    };
    match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => {
            pkt.sport = t.source_port();
            pkt.dport = t.destination_port();
            pkt.payload = t.payload();
            pkt.tcp = Some(TcpMeta {
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                syn: t.syn(),
                fin: t.fin(),
                rst: t.rst(),
                ack_flag: t.ack(),
            });
        }
        Some(TransportSlice::Udp(u)) => {
            pkt.sport = u.source_port();
            pkt.dport = u.destination_port();
            pkt.payload = u.payload();
        }
        Some(_) => {}
        None => {
            if ip_payload.fragmented {
                return Err(DecodeError::Fragment);
            }
            if ip_payload.ip_number == IpNumber::TCP || ip_payload.ip_number == IpNumber::UDP {
                return Err(DecodeError::MalformedTransport);
            }
        }
    }
    Ok(pkt)
}

/// The flow hash of a frame without a full decode, for the reader's choice of worker: Ethernet with up
/// to two VLAN tags, IPv4 (unfragmented) or IPv6 (no extension headers), then TCP or UDP ports. Gives
/// exactly [`crate::flow::FlowKey::stable_hash`] of the frame's flow; `None` means "decode fully".
pub fn shard_hash(frame: &Frame<'_>) -> Option<u64> {
    if frame.link != LinkType::ETHERNET {
        return None;
    }
    let d = frame.data;
    let be16 = |at: usize| {
        d.get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes)
    };
    let mut at = 12;
    let mut ether = be16(at)?;
    let mut vlan = 0;
    for _ in 0..2 {
        if ether == 0x8100 || ether == 0x88a8 {
            if vlan == 0 {
                vlan = be16(at + 2)? & 0x0fff;
            }
            at += 4;
            ether = be16(at)?;
        }
    }
    let l3 = at + 2;
    let (src, dst, proto, l4) = match ether {
        0x0800 => {
            let ihl = usize::from(d.get(l3)? & 0x0f) * 4;
            let frag = be16(l3 + 6)? & 0x3fff;
            if ihl < 20 || frag != 0 || d.get(l3)? >> 4 != 4 {
                return None;
            }
            let s: [u8; 4] = d.get(l3 + 12..l3 + 16)?.try_into().ok()?;
            let t: [u8; 4] = d.get(l3 + 16..l3 + 20)?.try_into().ok()?;
            let v6 = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_ipv6_mapped();
            (v6(s), v6(t), *d.get(l3 + 9)?, l3 + ihl)
        }
        0x86dd => {
            let s: [u8; 16] = d.get(l3 + 8..l3 + 24)?.try_into().ok()?;
            let t: [u8; 16] = d.get(l3 + 24..l3 + 40)?.try_into().ok()?;
            (s.into(), t.into(), *d.get(l3 + 6)?, l3 + 40)
        }
        _ => return None,
    };
    if proto != 6 && proto != 17 {
        return None;
    }
    let a = (src, be16(l4)?);
    let b = (dst, be16(l4 + 2)?);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    Some(crate::flow::endpoint_hash(lo, hi, proto, vlan))
}

/// The link-layer protocols that carry device identity without IP (decoded by `iomt_parsers::netid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProto {
    /// EtherType 0x0806.
    Arp,
    /// EtherType 0x88cc (IEEE 802.1AB).
    Lldp,
    /// An IEEE 802.3 frame (length, not EtherType) with LLC/SNAP: Cisco's CDP among others; the
    /// payload starts at the LLC header.
    Llc,
}

/// A non-IP frame worth decoding: its protocol, the bytes after the link header, and the MACs.
#[derive(Debug, Clone, Copy)]
pub struct LinkFrame<'a> {
    pub proto: LinkProto,
    pub payload: &'a [u8],
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
}

const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_LLDP: u16 = 0x88cc;
/// Linux cooked captures mark 802.2 LLC frames with this "protocol" (ETH_P_802_2).
const SLL_PROTO_802_2: u16 = 0x0004;

/// Frames that [`decode`] calls `NonIp`: ARP, LLDP and 802.3/LLC (CDP) on Ethernet (802.1Q/QinQ tags
/// skipped) and Linux cooked captures. `None` for anything else.
pub fn link_frame<'a>(frame: &Frame<'a>) -> Option<LinkFrame<'a>> {
    let data = frame.data;
    let mac = |at: usize| -> Option<[u8; 6]> { data.get(at..at + 6)?.try_into().ok() };
    let (ty, payload, src_mac, dst_mac) = match frame.link {
        LinkType::ETHERNET => {
            let mut at = 12;
            let mut ty = u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?);
            // 802.1Q, 802.1ad and the old QinQ 0x9100: 4-byte tags.
            while matches!(ty, 0x8100 | 0x88a8 | 0x9100) {
                at += 4;
                ty = u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?);
            }
            let payload = data.get(at + 2..)?;
            let ty = if ty <= 1500 { SLL_PROTO_802_2 } else { ty };
            (ty, payload, mac(6), mac(0))
        }
        LinkType::LINUX_SLL => {
            let (proto, rest) = split_proto(data, 14, 16).ok()?;
            (proto, rest, None, None)
        }
        LinkType::LINUX_SLL2 => {
            let (proto, rest) = split_proto(data, 0, 20).ok()?;
            (proto, rest, None, None)
        }
        _ => return None,
    };
    let proto = match ty {
        ETHERTYPE_ARP => LinkProto::Arp,
        ETHERTYPE_LLDP => LinkProto::Lldp,
        SLL_PROTO_802_2 => LinkProto::Llc,
        _ => return None,
    };
    Some(LinkFrame {
        proto,
        payload,
        src_mac,
        dst_mac,
    })
}

fn split_proto(data: &[u8], at: usize, header: usize) -> Result<(u16, &[u8]), DecodeError> {
    let proto = data
        .get(at..at + 2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_be_bytes)
        .ok_or(DecodeError::TruncatedLink)?;
    let rest = data.get(header..).ok_or(DecodeError::TruncatedLink)?;
    Ok((proto, rest))
}

/// RFC 791 header checksum: the one's-complement sum over the header is 0xffff.
fn ipv4_checksum_ok(header: &[u8]) -> bool {
    // RFC 1071: the one's complement sum taken 32 bits at a time (a big-endian 32-bit word is
    // congruent to the sum of its two 16-bit halves modulo 0xffff), folded to 16 bits at the end.
    let mut sum: u64 = 0;
    let mut words = header.chunks_exact(4);
    for w in &mut words {
        if let Ok(w) = <[u8; 4]>::try_from(w) {
            sum += u64::from(u32::from_be_bytes(w));
        }
    }
    let mut tail = [0u8; 4];
    for (t, &b) in tail.iter_mut().zip(words.remainder()) {
        *t = b;
    }
    sum += u64::from(u32::from_be_bytes(tail));
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use iomt_parsers::Ts;

    /// An Ethernet/IPv4/TCP frame built with etherparse's builder.
    pub fn tcp_frame(
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        seq: u32,
        flags: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, seq, 64240);
        for f in flags.chars() {
            b = match f {
                'S' => b.syn(),
                'A' => b.ack(0),
                'F' => b.fin(),
                'R' => b.rst(),
                'P' => b.psh(),
                _ => b,
            };
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn frame(link: LinkType, data: &[u8]) -> Frame<'_> {
        Frame {
            ts: Ts(0),
            link,
            data,
            orig_len: data.len() as u32,
        }
    }

    #[test]
    fn identity_frames_without_ip_are_found_on_every_link_type() {
        let (dst, src) = ([0xff; 6], [0x00, 0x10, 0x5d, 1, 2, 3]);
        let eth = |ty: &[u8], body: &[u8]| [&dst[..], &src, ty, body].concat();
        let arp = eth(&[0x08, 0x06], b"arp-body");
        let lf = link_frame(&frame(LinkType::ETHERNET, &arp)).unwrap();
        assert_eq!(lf.proto, LinkProto::Arp);
        assert_eq!(lf.payload, b"arp-body");
        assert_eq!((lf.src_mac, lf.dst_mac), (Some(src), Some(dst)));
        // LLDP behind an 802.1Q tag.
        let lldp = eth(&[0x81, 0x00, 0x00, 0x64, 0x88, 0xcc], b"tlvs");
        let lf = link_frame(&frame(LinkType::ETHERNET, &lldp)).unwrap();
        assert_eq!((lf.proto, lf.payload), (LinkProto::Lldp, &b"tlvs"[..]));
        // IEEE 802.3: a length, not an EtherType, then LLC (CDP is LLC/SNAP).
        let cdp = eth(&[0x00, 0x08], b"\xaa\xaa\x03\x00\x00\x0c\x20\x00");
        let lf = link_frame(&frame(LinkType::ETHERNET, &cdp)).unwrap();
        assert_eq!(lf.proto, LinkProto::Llc);
        assert!(lf.payload.starts_with(b"\xaa\xaa\x03"));
        // Linux cooked capture: the protocol field says ARP; no MACs to report.
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x06];
        sll.extend(b"arp-body");
        let lf = link_frame(&frame(LinkType::LINUX_SLL, &sll)).unwrap();
        assert_eq!((lf.proto, lf.payload), (LinkProto::Arp, &b"arp-body"[..]));
        // IPv4, other EtherTypes, raw IP links and cut headers are not identity frames.
        let ip = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 0, "S", b"");
        assert!(link_frame(&frame(LinkType::ETHERNET, &ip)).is_none());
        assert!(link_frame(&frame(LinkType::ETHERNET, &eth(&[0x88, 0xb5], b"x"))).is_none());
        assert!(link_frame(&frame(LinkType::RAW, &ip[14..])).is_none());
        assert!(link_frame(&frame(LinkType::ETHERNET, &arp[..13])).is_none());
        assert!(link_frame(&frame(LinkType::ETHERNET, &lldp[..15])).is_none());
    }

    #[test]
    fn every_link_type_reaches_tcp_payload() {
        let eth = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 104, 7, "AP", b"hello");
        let ip = &eth[14..];
        // 802.1Q then 802.1ad tags (QinQ).
        let mut qinq = eth[..12].to_vec();
        qinq.extend([0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8]);
        qinq.extend(&eth[12..]);
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend(ip);
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend(ip);
        let mut null_le = 2u32.to_le_bytes().to_vec();
        null_le.extend(ip);
        let mut loop_be = 2u32.to_be_bytes().to_vec();
        loop_be.extend(ip);
        let cases: Vec<(LinkType, &[u8])> = vec![
            (LinkType::ETHERNET, &eth),
            (LinkType::ETHERNET, &qinq),
            (LinkType::RAW, ip),
            (LinkType::IPV4, ip),
            (LinkType::LINUX_SLL, &sll),
            (LinkType::LINUX_SLL2, &sll2),
            (LinkType::NULL, &null_le),
            (LinkType::LOOP, &loop_be),
        ];
        for (link, data) in cases {
            let p = decode(&frame(link, data)).unwrap_or_else(|e| panic!("{link}: {e:?}"));
            assert_eq!(p.payload, b"hello", "{link}");
            assert_eq!((p.sport, p.dport, p.proto), (40000, 104, 6));
            assert_eq!(p.tcp.unwrap().seq, 7);
            assert!(!p.bad_ip_checksum);
        }
        assert_eq!(decode(&frame(LinkType::ETHERNET, &qinq)).unwrap().vlan, 100);
    }

    #[test]
    fn ipv6_udp_and_errors() {
        let mut out = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 5)
            .udp(3702, 3702)
            .write(&mut out, b"<soap/>")
            .unwrap();
        let p = decode(&frame(LinkType::RAW, &out)).unwrap();
        assert_eq!((p.proto, p.payload), (17, &b"<soap/>"[..]));
        assert_eq!(
            decode(&frame(LinkType(147), &out)).unwrap_err(),
            DecodeError::UnsupportedLink
        );
        assert_eq!(
            decode(&frame(LinkType::ETHERNET, &[1, 2, 3])).unwrap_err(),
            DecodeError::TruncatedLink
        );
        // ARP is not IP.
        let arp = [[0xffu8; 6].as_slice(), &[1; 6], &[0x08, 0x06], &[0; 28]].concat();
        assert_eq!(
            decode(&frame(LinkType::ETHERNET, &arp)).unwrap_err(),
            DecodeError::NonIp
        );
        // A corrupted IPv4 header checksum is flagged, not dropped.
        let mut eth = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 0, "S", b"");
        eth[14 + 10] ^= 0xff;
        assert!(
            decode(&frame(LinkType::ETHERNET, &eth))
                .unwrap()
                .bad_ip_checksum
        );
    }

    #[test]
    fn ipv4_checksum_matches_the_16_bit_sum() {
        fn reference(h: &[u8]) -> bool {
            let mut sum: u32 = 0;
            for pair in h.chunks(2) {
                let word = match pair {
                    [a, b] => u16::from_be_bytes([*a, *b]),
                    [a] => u16::from_be_bytes([*a, 0]),
                    _ => 0,
                };
                sum += u32::from(word);
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            sum == 0xffff
        }
        let good = &tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 3, "A", b"")[14..34];
        assert!(ipv4_checksum_ok(good));
        let mut x = 0x1234_5678u32;
        for len in 0..64 {
            for _ in 0..200 {
                let h: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x as u8
                    })
                    .collect();
                assert_eq!(ipv4_checksum_ok(&h), reference(&h), "{h:02x?}");
                if len >= 12 {
                    // Make it valid: the complement of the folded sum with the field zeroed.
                    let mut v = h.clone();
                    v[10] = 0;
                    v[11] = 0;
                    let mut sum: u32 = v
                        .chunks(2)
                        .map(|p| u32::from(p[0]) << 8 | u32::from(*p.get(1).unwrap_or(&0)))
                        .sum();
                    while sum > 0xffff {
                        sum = (sum & 0xffff) + (sum >> 16);
                    }
                    v[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
                    assert!(reference(&v), "{v:02x?}");
                    assert!(ipv4_checksum_ok(&v), "{v:02x?}");
                }
            }
            let mut h = good.to_vec();
            h.resize(len.max(20), 0);
            assert_eq!(ipv4_checksum_ok(&h), reference(&h));
        }
        assert!(!ipv4_checksum_ok(&[0; 20]));
        assert!(ipv4_checksum_ok(&[0xff; 20]));
    }

    #[test]
    fn fast_shard_hash_agrees_with_the_flow_key() {
        use crate::flow::FlowKey;
        let a = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 104, 7, "AP", b"x");
        let b = tcp_frame([10, 0, 0, 2], [10, 0, 0, 1], 104, 40000, 9, "A", b"");
        let mut qinq = a[..12].to_vec();
        qinq.extend([0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8]);
        qinq.extend(&a[12..]);
        let mut v6 = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([1; 16], [2; 16], 5)
            .udp(3702, 5000)
            .write(&mut v6, b"x")
            .unwrap();
        for data in [&a, &b, &qinq, &v6] {
            let f = frame(LinkType::ETHERNET, data);
            let key = FlowKey::of(&decode(&f).unwrap()).stable_hash();
            assert_eq!(shard_hash(&f), Some(key));
        }
        assert_eq!(
            shard_hash(&frame(LinkType::ETHERNET, &a)),
            shard_hash(&frame(LinkType::ETHERNET, &b))
        );
    }

    #[test]
    fn snaplen_truncation_keeps_what_is_whole() {
        let eth = tcp_frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            40000,
            104,
            7,
            "AP",
            &[0u8; 500],
        );
        let p = decode(&frame(LinkType::ETHERNET, &eth[..100])).unwrap();
        assert_eq!(p.payload.len(), 100 - 14 - 20 - 20);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_frames_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200), link in 0u16..300) {
            let _ = decode(&frame(LinkType(link), &data));
        }
    }
}
