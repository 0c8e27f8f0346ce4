//! DHCP, RFC 2131 §2 (the BOOTP header: `op htype hlen hops xid(4) secs(2) flags(2) ciaddr yiaddr
//! siaddr giaddr chaddr(16) sname(64) file(128)`, then the magic cookie 99.130.83.99 and options) and
//! RFC 2132 (option encoding: 0 pad, 255 end, otherwise code, length, data; option 52 overload moves
//! more options into `file` and/or `sname`). Option 81 is RFC 4702.
use super::dns::{read_name, NameBuf};
use super::{hex_colon, ip, mac, set_text, text, DhcpInfo, Malformed, NetIdEvent, Sink, MAX_PRL};
use crate::wire::Reader;
use crate::AppEvent;
use std::fmt::Write as _;
use std::net::IpAddr;

const HEADER: usize = 236;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
const SNAME: std::ops::Range<usize> = 44..108;
const FILE: std::ops::Range<usize> = 108..236;

const PAD: u8 = 0;
const END: u8 = 255;
const HOSTNAME: u8 = 12;
const REQUESTED_IP: u8 = 50;
const OVERLOAD: u8 = 52;
const MESSAGE_TYPE: u8 = 53;
const SERVER_ID: u8 = 54;
const PARAM_REQUEST_LIST: u8 = 55;
const VENDOR_CLASS: u8 = 60;
const CLIENT_ID: u8 = 61;
const CLIENT_FQDN: u8 = 81;

/// A borrowed BOOTP/DHCP message (at least the 236-byte header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpView<'a> {
    msg: &'a [u8],
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..)
        .and_then(|r| Reader::new(r).be_u32())
        .unwrap_or(0)
}

impl<'a> DhcpView<'a> {
    /// Checks the header length only; see [`DhcpView::has_cookie`].
    pub fn parse(udp_payload: &'a [u8]) -> Result<Self, Malformed> {
        if udp_payload.len() < HEADER {
            return Err(Malformed::truncated(udp_payload.len()));
        }
        Ok(DhcpView { msg: udp_payload })
    }
    fn byte(&self, at: usize) -> u8 {
        self.msg.get(at).copied().unwrap_or(0)
    }
    pub fn op(&self) -> u8 {
        self.byte(0)
    }
    pub fn htype(&self) -> u8 {
        self.byte(1)
    }
    pub fn hlen(&self) -> u8 {
        self.byte(2)
    }
    pub fn xid(&self) -> u32 {
        be32(self.msg, 4)
    }
    fn addr(&self, at: usize) -> Option<IpAddr> {
        let a = be32(self.msg, at);
        (a != 0).then(|| IpAddr::from(a.to_be_bytes()))
    }
    /// `ciaddr`, if not 0.0.0.0.
    pub fn ciaddr(&self) -> Option<IpAddr> {
        self.addr(12)
    }
    /// `yiaddr`, if not 0.0.0.0.
    pub fn yiaddr(&self) -> Option<IpAddr> {
        self.addr(16)
    }
    /// The first `hlen` bytes of `chaddr` (at most 16).
    pub fn chaddr(&self) -> &'a [u8] {
        let n = usize::from(self.hlen()).min(16);
        self.msg
            .get(28..28usize.saturating_add(n))
            .unwrap_or_default()
    }
    pub fn sname(&self) -> &'a [u8] {
        self.msg.get(SNAME).unwrap_or_default()
    }
    pub fn file(&self) -> &'a [u8] {
        self.msg.get(FILE).unwrap_or_default()
    }
    pub fn has_cookie(&self) -> bool {
        self.msg.get(HEADER..HEADER.saturating_add(4)) == Some(&COOKIE[..])
    }
    /// The options after the cookie (empty without one).
    pub fn options(&self) -> DhcpOptions<'a> {
        let area = if self.has_cookie() {
            self.msg.get(HEADER.saturating_add(4)..).unwrap_or_default()
        } else {
            &[]
        };
        DhcpOptions::new(area, HEADER.saturating_add(4))
    }
}

/// One option; `offset` is where its code byte sits in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    pub code: u8,
    pub data: &'a [u8],
    pub offset: usize,
}

/// Iterator over an options area: pads are skipped, End stops it ([`DhcpOptions::saw_end`]), an
/// overrun yields one `Err` (`option_overrun`) and stops it.
#[derive(Debug, Clone)]
pub struct DhcpOptions<'a> {
    r: Reader<'a>,
    base: usize,
    end: bool,
    done: bool,
}

impl<'a> DhcpOptions<'a> {
    /// Options in `area`, which starts at offset `base` of the message.
    pub fn new(area: &'a [u8], base: usize) -> Self {
        DhcpOptions {
            r: Reader::new(area),
            base,
            end: false,
            done: false,
        }
    }
    pub fn saw_end(&self) -> bool {
        self.end
    }
}

impl<'a> Iterator for DhcpOptions<'a> {
    type Item = Result<DhcpOption<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let offset = self.base.saturating_add(self.r.offset());
            let code = match self.r.u8() {
                None => break,
                Some(PAD) => continue,
                Some(END) => {
                    self.end = true;
                    break;
                }
                Some(c) => c,
            };
            let data = self.r.u8().and_then(|n| self.r.take(usize::from(n)));
            return Some(match data {
                Some(data) => Ok(DhcpOption { code, data, offset }),
                None => {
                    self.done = true;
                    Err(Malformed::new("option_overrun", offset))
                }
            });
        }
        self.done = true;
        None
    }
}

fn message_type(code: u8) -> &'static str {
    match code {
        1 => "discover",
        2 => "offer",
        3 => "request",
        4 => "decline",
        5 => "ack",
        6 => "nak",
        7 => "release",
        8 => "inform",
        _ => "other",
    }
}

/// Decodes one DHCP/BOOTP message (a UDP payload on port 67 or 68).
pub fn dhcp(udp_payload: &[u8], out: &mut Vec<AppEvent>) {
    let mut sink = Sink::new(out, "dhcp");
    let v = match DhcpView::parse(udp_payload) {
        Ok(v) => v,
        Err(m) => {
            sink.malformed(m, "BOOTP header (236 bytes) ends");
            return;
        }
    };
    if !matches!(v.op(), 1 | 2) {
        sink.anomaly("bad_op", format!("BOOTP op {}", v.op()));
    }
    if v.hlen() > 16 {
        sink.anomaly("bad_hlen", format!("hardware address length {}", v.hlen()));
    }
    let mut info = DhcpInfo {
        message_type: "bootp",
        client_mac: mac(v.chaddr()),
        xid: v.xid(),
        client_ip: v.ciaddr(),
        your_ip: v.yiaddr(),
        requested_ip: None,
        hostname: None,
        vendor_class: None,
        client_id: None,
        param_request_list: Vec::new(),
        fingerprint: None,
        server_id: None,
        fqdn: None,
        truncated: false,
    };
    if !v.has_cookie() {
        if udp_payload.len() < HEADER.saturating_add(4) {
            sink.anomaly(
                "truncated",
                format!(
                    "{}-byte message ends in the magic cookie",
                    udp_payload.len()
                ),
            );
        } else {
            sink.anomaly(
                "bad_magic_cookie",
                "options do not start with 99.130.83.99".into(),
            );
        }
        sink.event(NetIdEvent::Dhcp(Box::new(info)));
        return;
    }
    let mut seen_type = false;
    let mut overload = 0u8;
    let mut opts = v.options();
    let errored = options(
        &mut opts,
        &mut info,
        &mut sink,
        &mut seen_type,
        &mut overload,
    );
    if !opts.saw_end() && !errored {
        sink.anomaly(
            "missing_end_option",
            "the options area has no End (255) option".into(),
        );
    }
    // RFC 2131 §4.1: with overload, `file` is read before `sname`.
    if overload & 1 == 1 {
        let _ = options(
            &mut DhcpOptions::new(v.file(), FILE.start),
            &mut info,
            &mut sink,
            &mut seen_type,
            &mut overload,
        );
    }
    if overload & 2 == 2 {
        let _ = options(
            &mut DhcpOptions::new(v.sname(), SNAME.start),
            &mut info,
            &mut sink,
            &mut seen_type,
            &mut overload,
        );
    }
    sink.event(NetIdEvent::Dhcp(Box::new(info)));
}

fn options(
    opts: &mut DhcpOptions<'_>,
    info: &mut DhcpInfo,
    sink: &mut Sink<'_>,
    seen_type: &mut bool,
    overload: &mut u8,
) -> bool {
    let mut t = info.truncated;
    let mut errored = false;
    for o in opts.by_ref() {
        let o = match o {
            Ok(o) => o,
            Err(m) => {
                sink.malformed(m, "option length runs past the options area");
                errored = true;
                break;
            }
        };
        let d = o.data;
        let len_ok = match o.code {
            MESSAGE_TYPE | OVERLOAD => d.len() == 1,
            REQUESTED_IP | SERVER_ID => d.len() == 4,
            CLIENT_ID => d.len() >= 2,
            CLIENT_FQDN => d.len() >= 3,
            HOSTNAME | VENDOR_CLASS | PARAM_REQUEST_LIST => !d.is_empty(),
            _ => true,
        };
        if !len_ok {
            sink.anomaly(
                "bad_option_length",
                format!(
                    "option {} of length {} at offset {}",
                    o.code,
                    d.len(),
                    o.offset
                ),
            );
            continue;
        }
        match (o.code, d) {
            (MESSAGE_TYPE, &[c]) if !*seen_type => {
                *seen_type = true;
                info.message_type = message_type(c);
            }
            (OVERLOAD, &[c]) => *overload = c,
            (REQUESTED_IP, _) => {
                info.requested_ip = info.requested_ip.or_else(|| ip(d));
            }
            (SERVER_ID, _) => info.server_id = info.server_id.or_else(|| ip(d)),
            (HOSTNAME, _) => set_text(&mut info.hostname, d, &mut t),
            (VENDOR_CLASS, _) => set_text(&mut info.vendor_class, d, &mut t),
            (CLIENT_ID, _) if info.client_id.is_none() => {
                let (s, cut) = hex_colon(d);
                t |= cut;
                info.client_id = Some(s);
            }
            (PARAM_REQUEST_LIST, _) if info.fingerprint.is_none() => {
                let head = d.get(..MAX_PRL).unwrap_or(d);
                t |= head.len() < d.len();
                info.param_request_list = head.to_vec();
                let mut fp = String::with_capacity(head.len().saturating_mul(4));
                for (i, c) in head.iter().enumerate() {
                    if i > 0 {
                        fp.push(',');
                    }
                    let _ = write!(fp, "{c}");
                }
                info.fingerprint = Some(fp);
            }
            (CLIENT_FQDN, _) if info.fqdn.is_none() => {
                let (flags, name) = (
                    d.first().copied().unwrap_or(0),
                    d.get(3..).unwrap_or_default(),
                );
                if flags & 0x04 != 0 {
                    // RFC 4702 §2.3.1: canonical wire format, no compression.
                    let mut buf = NameBuf::default();
                    match read_name(name, 0, &mut buf) {
                        Ok(_) => info.fqdn = Some(text(buf.as_bytes()).0),
                        // A partial name (RFC 4702 allows one without the root label) is kept.
                        Err(m) if m.kind == "truncated" => info.fqdn = Some(text(buf.as_bytes()).0),
                        Err(m) => sink.malformed(m, "option 81 domain name"),
                    }
                } else {
                    set_text(&mut info.fqdn, name, &mut t);
                }
            }
            _ => {}
        }
    }
    info.truncated = t;
    errored
}
