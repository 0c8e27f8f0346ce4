//! Identity from the broadcast and link-local chatter a span port carries: ARP, LLDP, CDP, DHCP and
//! mDNS/DNS-SD. Each is a datagram protocol, so each has a plain function that takes the bytes of one
//! frame's payload and pushes 0..n owned events ([`AppEvent::NetId`] or [`AppEvent::Anomaly`]); beside
//! it sits a borrowed view that the function is built on (and the benches measure).
//!
//! | function | input | standard | view |
//! |---|---|---|---|
//! | [`arp`] | bytes after EtherType 0x0806 | RFC 826 (packet format), RFC 5227 (probe/announcement) | [`ArpView`] |
//! | [`lldp`] | bytes after EtherType 0x88cc | IEEE 802.1AB-2016 §8 (LLDPDU, TLVs 0-8, 127); ANSI/TIA-1057 LLDP-MED inventory TLVs (OUI 00-12-BB, subtypes 5-11) | [`LldpTlvs`] |
//! | [`cdp`] | 802.3 payload after the length field: LLC `AA AA 03`, SNAP OUI `00 00 0C`, PID `0x2000` | Cisco CDP v1/v2 (no public standard; TLV layout as in Wireshark's `packet-cdp.c`) | [`CdpView`], [`CdpTlvs`] |
//! | [`dhcp`] | UDP payload, ports 67/68 | RFC 2131 §2 (BOOTP header, magic cookie), RFC 2132 (options 12, 50, 52-55, 60, 61), RFC 4702 (option 81) | [`DhcpView`], [`DhcpOptions`] |
//! | [`mdns`] | UDP payload, port 5353 | RFC 1035 §4.1 (message, §4.1.4 name compression), RFC 6762 (mDNS: top bit of class), RFC 6763 (DNS-SD PTR/SRV/TXT naming) | [`DnsHeader`], [`read_name`] into a [`NameBuf`] |
//!
//! What is decoded: ARP op, sender/target MAC and IPv4 (Ethernet/IPv4 ARP only), classified as request,
//! reply, gratuitous (sender IP = target IP) or probe (sender IP 0.0.0.0). LLDP and CDP: chassis/device
//! ID, port ID, system name and description, platform (CDP platform; LLDP-MED model name), software
//! version (CDP; LLDP-MED software or firmware revision), up to [`MAX_ADDRS`] management addresses,
//! enabled capabilities and the TTL. DHCP: message type, client MAC, xid, ciaddr/yiaddr, requested IP,
//! hostname, vendor class, client identifier (hex), parameter request list and its fingerprint string,
//! server identifier, client FQDN; option overload (52) is followed into `file`/`sname`. mDNS: DNS-SD
//! service types, instance names, host names, A/AAAA addresses and TXT strings from questions and every
//! record section. Everything else (LLDP port description and IEEE 802.1/802.3 TLVs, CDP VTP/VLAN/duplex,
//! other DHCP options, other DNS record types) is skipped by its length.
//!
//! What is not done here: ARP conflicts (two MACs claiming one IP) need state across frames and belong to
//! the models; this module reports each binding. RFC 3396 long options (one option split into several
//! instances) are not concatenated: the first instance wins.
//!
//! # Bounds
//!
//! Nothing is allocated from a length field. Every string is at most [`MAX_STR`] (255) bytes: lossy
//! UTF-8, trailing NULs dropped, tab/CR/LF turned into spaces and other control characters into U+FFFD.
//! Lists are capped: [`MAX_ADDRS`] management addresses, [`MAX_PRL`] parameter-request codes,
//! [`MAX_LIST`] mDNS services/instances/hostnames/addresses, [`MAX_TXT`] TXT strings. A cut string or
//! list sets the event's `truncated: true` (not an anomaly: a busy mDNS responder is legitimate). DNS
//! names are read into a fixed 255-byte [`NameBuf`], following at most [`MAX_HOPS`] compression pointers,
//! each of which must point before the previous one (RFC 1035 §4.1.4: "a prior occurrence"), so a loop
//! ends at once. At most [`MAX_ANOMALIES`] anomalies come from one frame.
//!
//! # Anomaly kinds (`anomaly.protocol` is `arp`, `lldp`, `cdp`, `dhcp` or `mdns`)
//!
//! | kind | protocols | meaning |
//! |---|---|---|
//! | `truncated` | all | the frame ends inside a header, TLV, option or record it announced |
//! | `bad_arp_sizes` | arp | Ethernet/IPv4 ARP whose hardware/protocol address sizes are not 6/4 |
//! | `unsupported_arp_type` | arp | hardware type not Ethernet (1) / IEEE 802 (6), or protocol not IPv4 |
//! | `bad_sender_mac` | arp | sender MAC is zero, broadcast or multicast (no host owns it) |
//! | `missing_mandatory_tlv` | lldp | the LLDPDU does not start with Chassis ID, Port ID, TTL |
//! | `bad_tlv` | lldp, cdp | a TLV whose length does not fit its type (TTL not 2 bytes, empty ID, bad address block, CDP length < 4) |
//! | `missing_end_tlv` | lldp | the TLVs run to the end of the frame with no End of LLDPDU |
//! | `bad_snap_header` | cdp | the LLC/SNAP header is not `AA AA 03 00 00 0C 20 00` |
//! | `bad_version` | cdp | CDP version other than 1 or 2 |
//! | `bad_checksum` | cdp | the CDP checksum does not verify (checked on even-length PDUs only: odd-length padding differs between implementations) |
//! | `bad_magic_cookie` | dhcp | the 4 bytes after the BOOTP header are not 99.130.83.99 |
//! | `bad_op` | dhcp | BOOTP op other than 1 (request) or 2 (reply) |
//! | `bad_hlen` | dhcp | hardware address length over 16 |
//! | `option_overrun` | dhcp | an option's length runs past the end of its area |
//! | `bad_option_length` | dhcp | an option length that its definition forbids (53 not 1, 50/54 not 4, 61 under 2...) |
//! | `missing_end_option` | dhcp | the options area has no End (255) option |
//! | `bad_opcode` | mdns | DNS opcode other than 0 (RFC 6762 §18.3: such messages are ignored) |
//! | `bad_label` | mdns, dhcp | a label type 0x40/0x80 (RFC 6891 extended / reserved) |
//! | `name_loop` | mdns, dhcp | a compression pointer that does not point backwards, or more than [`MAX_HOPS`] pointers |
//! | `name_too_long` | mdns, dhcp | a name over 255 bytes |
//! | `bad_rdata` | mdns | A not 4 bytes, AAAA not 16, SRV under 7, TXT strings overrunning the RDATA |
//!
//! # EVE
//!
//! An event's record key is [`NetIdEvent::event_type`] (`arp`, `lldp`, `cdp`, `dhcp`, `mdns`) and its
//! value the struct, serialised by serde with the snake_case field names below.
use crate::AppEvent;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::IpAddr;

mod arp;
mod cdp;
mod dhcp;
mod dns;
mod lldp;
#[cfg(test)]
mod tests;

pub use arp::{arp, ArpView};
pub use cdp::{cdp, looks_like_cdp, CdpTlv, CdpTlvs, CdpView};
pub use dhcp::{dhcp, DhcpOption, DhcpOptions, DhcpView};
pub use dns::{mdns, read_name, DnsHeader, NameBuf, MAX_HOPS};
pub use lldp::{lldp, LldpTlv, LldpTlvs};

/// Longest string an event carries, in bytes.
pub const MAX_STR: usize = 255;
/// Most management addresses in a [`LinkInfo`].
pub const MAX_ADDRS: usize = 4;
/// Most parameter-request-list codes in a [`DhcpInfo`].
pub const MAX_PRL: usize = 64;
/// Most services, instances, hostnames or addresses in an [`MdnsInfo`].
pub const MAX_LIST: usize = 16;
/// Most TXT strings in an [`MdnsInfo`].
pub const MAX_TXT: usize = 32;
/// Most anomalies one frame yields.
pub const MAX_ANOMALIES: usize = 8;

/// Why a view stopped: a stable anomaly kind and the byte offset (within the function's input) where it
/// was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed {
    pub kind: &'static str,
    pub offset: usize,
}

impl Malformed {
    pub(crate) const fn new(kind: &'static str, offset: usize) -> Self {
        Malformed { kind, offset }
    }
    pub(crate) const fn truncated(offset: usize) -> Self {
        Malformed::new("truncated", offset)
    }
}

/// One identity-bearing frame. Variants are boxed so that [`AppEvent`] stays small.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NetIdEvent {
    Arp(Box<ArpInfo>),
    Lldp(Box<LinkInfo>),
    Cdp(Box<LinkInfo>),
    Dhcp(Box<DhcpInfo>),
    Mdns(Box<MdnsInfo>),
}

impl NetIdEvent {
    /// EVE `event_type` and the key of the record.
    pub const fn event_type(&self) -> &'static str {
        match self {
            NetIdEvent::Arp(_) => "arp",
            NetIdEvent::Lldp(_) => "lldp",
            NetIdEvent::Cdp(_) => "cdp",
            NetIdEvent::Dhcp(_) => "dhcp",
            NetIdEvent::Mdns(_) => "mdns",
        }
    }
}

/// An ARP packet (RFC 826): one IP-MAC binding claimed by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArpInfo {
    /// `request`, `reply`, `gratuitous` (sender IP = target IP, RFC 5227 announcement), `probe` (request
    /// from 0.0.0.0, RFC 5227 §2.1.1) or `other` (RARP, InARP...).
    pub op: &'static str,
    pub sender_mac: String,
    pub sender_ip: IpAddr,
    pub target_mac: String,
    pub target_ip: IpAddr,
}

/// What a neighbour announces over LLDP or CDP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LinkInfo {
    /// LLDP Chassis ID (MAC or network address rendered, else text); CDP Device ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    /// LLDP System Name; CDP System Name TLV, else the Device ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_description: Option<String>,
    /// CDP Platform; LLDP-MED model name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// CDP Software Version; LLDP-MED software revision, else firmware revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    pub mgmt_addrs: Vec<IpAddr>,
    /// Enabled capabilities (LLDP) or the capability bits (CDP): `other`, `repeater`, `bridge`,
    /// `wlan_ap`, `router`, `telephone`, `docsis`, `station`, `c_vlan`, `s_vlan`, `tpmr`; CDP adds
    /// `source_route_bridge`, `switch`, `host`, `igmp`, `remotely_managed`, `cvta`.
    pub capabilities: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u16>,
    /// A string or list was cut to its cap.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A DHCP (or plain BOOTP) message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DhcpInfo {
    /// `discover`, `offer`, `request`, `decline`, `ack`, `nak`, `release`, `inform`, `other` (an
    /// option 53 value past 8) or `bootp` (no option 53).
    pub message_type: &'static str,
    pub client_mac: String,
    pub xid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub your_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_class: Option<String>,
    /// Option 61 as colon-separated hex (type byte first), at most 85 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub param_request_list: Vec<u8>,
    /// The parameter request list as `"1,3,6,15"`, the usual DHCP fingerprinting key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_id: Option<IpAddr>,
    /// Option 81 (RFC 4702) domain name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// What one mDNS message names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MdnsInfo {
    pub response: bool,
    /// DNS-SD service types (`_dicom._tcp.local`), from PTR owners and targets, SRV owners and questions.
    pub services: Vec<String>,
    /// Service instance names: PTR targets and SRV owners.
    pub instances: Vec<String>,
    /// Host names: A/AAAA owners and SRV targets (and reverse-mapping PTR targets).
    pub hostnames: Vec<String>,
    pub addrs: Vec<IpAddr>,
    /// TXT strings (`key=value`).
    pub txt: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Pushes events of one frame, at most [`MAX_ANOMALIES`] anomalies.
pub(crate) struct Sink<'o> {
    out: &'o mut Vec<AppEvent>,
    protocol: &'static str,
    anomalies: usize,
}

impl<'o> Sink<'o> {
    pub(crate) fn new(out: &'o mut Vec<AppEvent>, protocol: &'static str) -> Self {
        Sink {
            out,
            protocol,
            anomalies: 0,
        }
    }

    pub(crate) fn anomaly(&mut self, kind: &'static str, detail: String) {
        if self.anomalies < MAX_ANOMALIES {
            self.anomalies = self.anomalies.saturating_add(1);
            self.out
                .push(AppEvent::anomaly(self.protocol, kind, detail));
        }
    }

    pub(crate) fn malformed(&mut self, m: Malformed, what: &str) {
        self.anomaly(m.kind, format!("{what} at offset {}", m.offset));
    }

    pub(crate) fn event(&mut self, ev: NetIdEvent) {
        self.out.push(AppEvent::NetId(ev));
    }
}

/// Text for an event: at most [`MAX_STR`] bytes, lossy UTF-8, trailing NULs dropped, tab/CR/LF as spaces,
/// other control characters as U+FFFD. The flag says whether it was cut.
pub(crate) fn text(bytes: &[u8]) -> (String, bool) {
    let mut bytes = bytes;
    while let Some((&0, head)) = bytes.split_last() {
        bytes = head;
    }
    let head = bytes.get(..MAX_STR).unwrap_or(bytes);
    let mut cut = head.len() < bytes.len();
    let mut s = String::with_capacity(head.len());
    for c in String::from_utf8_lossy(head).chars() {
        let c = match c {
            '\t' | '\r' | '\n' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        };
        if s.len().saturating_add(c.len_utf8()) > MAX_STR {
            cut = true;
            break;
        }
        s.push(c);
    }
    (s, cut)
}

/// Sets `slot` to the text of `bytes` (if empty) and records a cut in `truncated`.
pub(crate) fn set_text(slot: &mut Option<String>, bytes: &[u8], truncated: &mut bool) {
    if slot.is_none() {
        let (s, cut) = text(bytes);
        *truncated |= cut;
        *slot = Some(s);
    }
}

/// Bytes as lowercase colon-separated hex (`0e:1a:01:00:00:01`), at most 85 bytes (254 characters).
pub(crate) fn hex_colon(bytes: &[u8]) -> (String, bool) {
    const MAX_BYTES: usize = (MAX_STR + 1) / 3;
    let head = bytes.get(..MAX_BYTES).unwrap_or(bytes);
    let mut s = String::with_capacity(head.len().saturating_mul(3));
    for (i, b) in head.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    (s, head.len() < bytes.len())
}

/// A MAC address (or any short hardware address) as `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac(bytes: &[u8]) -> String {
    hex_colon(bytes).0
}

/// An IPv4 or IPv6 address from 4 or 16 bytes.
pub(crate) fn ip(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(b));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

/// Pushes `v` unless present; a full list sets `truncated`.
pub(crate) fn push_capped<T: PartialEq>(list: &mut Vec<T>, v: T, cap: usize, truncated: &mut bool) {
    if list.contains(&v) {
        return;
    }
    if list.len() >= cap {
        *truncated = true;
        return;
    }
    list.push(v);
}
