//! DNS messages as mDNS uses them: RFC 1035 §4.1 (header, question, resource record; §4.1.4 name
//! compression), RFC 6762 (multicast DNS: the top bit of a question's class is "unicast response", of
//! a record's class "cache flush"), RFC 6763 (DNS-SD: `_services._dns-sd._udp.<domain>` PTR service
//! types; `<type>` PTR `<instance>.<type>`; `<instance>` SRV host:port and TXT key=value).
use super::{ip, push_capped, text, Malformed, MdnsInfo, NetIdEvent, Sink, MAX_LIST, MAX_TXT};
use crate::wire::Reader;
use crate::AppEvent;

/// Most compression pointers followed in one name.
pub const MAX_HOPS: usize = 32;
const NAME_CAP: usize = 255;

const TYPE_A: u16 = 1;
const TYPE_PTR: u16 = 12;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const TYPE_ANY: u16 = 255;

/// A DNS name in presentation form (labels joined by `.`, bytes as sent), in a fixed 255-byte buffer.
#[derive(Clone)]
pub struct NameBuf {
    buf: [u8; NAME_CAP],
    len: usize,
    first_label: usize,
}

impl Default for NameBuf {
    fn default() -> Self {
        NameBuf {
            buf: [0; NAME_CAP],
            len: 0,
            first_label: 0,
        }
    }
}

impl std::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl NameBuf {
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
    /// The name without its first label (`_ipp._tcp.local` of `Printer._ipp._tcp.local`).
    pub fn parent(&self) -> &[u8] {
        self.as_bytes()
            .get(self.first_label.saturating_add(1)..)
            .unwrap_or_default()
    }
    fn push(&mut self, bytes: &[u8]) -> bool {
        let end = self.len.saturating_add(bytes.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
                true
            }
            None => false,
        }
    }
}

/// Reads the name at `start` of `msg` into `name`, following compression pointers (at most
/// [`MAX_HOPS`], each pointing before the previous one). Returns the offset just past the name at its
/// original position (after the first pointer, if any). Errors: `truncated`, `bad_label`, `name_loop`,
/// `name_too_long`.
pub fn read_name(msg: &[u8], start: usize, name: &mut NameBuf) -> Result<usize, Malformed> {
    name.len = 0;
    name.first_label = 0;
    let mut pos = start;
    let mut floor = start;
    let mut after: Option<usize> = None;
    let mut hops = 0usize;
    loop {
        let len = *msg.get(pos).ok_or(Malformed::truncated(pos))?;
        let next = pos.saturating_add(1);
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(after.unwrap_or(next)),
            0x00 => {
                let end = next.saturating_add(usize::from(len));
                let label = msg.get(next..end).ok_or(Malformed::truncated(pos))?;
                let dot_ok = name.len == 0 || name.push(b".");
                if name.len == 0 {
                    name.first_label = label.len();
                }
                if !dot_ok || !name.push(label) {
                    return Err(Malformed::new("name_too_long", pos));
                }
                pos = end;
            }
            0xc0 => {
                let lo = *msg.get(next).ok_or(Malformed::truncated(pos))?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                hops = hops.saturating_add(1);
                if target >= floor || hops > MAX_HOPS {
                    return Err(Malformed::new("name_loop", pos));
                }
                after.get_or_insert(next.saturating_add(1));
                floor = target;
                pos = target;
            }
            _ => return Err(Malformed::new("bad_label", pos)),
        }
    }
}

/// The 12-byte DNS header (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsHeader {
    pub id: u16,
    pub flags: u16,
    pub questions: u16,
    pub answers: u16,
    pub authorities: u16,
    pub additionals: u16,
}

impl DnsHeader {
    pub fn parse(msg: &[u8]) -> Result<Self, Malformed> {
        let mut r = Reader::new(msg);
        let mut f = [0u16; 6];
        for v in &mut f {
            *v = r.be_u16().ok_or(Malformed::truncated(msg.len()))?;
        }
        let [id, flags, questions, answers, authorities, additionals] = f;
        Ok(DnsHeader {
            id,
            flags,
            questions,
            answers,
            authorities,
            additionals,
        })
    }
    pub const fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub const fn opcode(&self) -> u16 {
        (self.flags >> 11) & 0x0f
    }
    /// Answer, authority and additional records together.
    pub fn records(&self) -> u32 {
        u32::from(self.answers)
            .saturating_add(u32::from(self.authorities))
            .saturating_add(u32::from(self.additionals))
    }
}

/// `_x._tcp.<domain>` or `_x._udp.<domain>` (or a subtype `_s._sub._x._tcp.<domain>`): a DNS-SD
/// service type rather than an instance or host.
fn is_service_type(name: &[u8]) -> bool {
    if !name.starts_with(b"_") {
        return false;
    }
    let mut labels = name.split(|&b| b == b'.');
    labels.any(|l| l == b"_tcp" || l == b"_udp")
}

/// Whether `name` is the DNS-SD service-type enumeration name (RFC 6763 §9).
fn is_meta_query(name: &[u8]) -> bool {
    const META: &[u8] = b"_services._dns-sd._udp.";
    name.get(..META.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(META))
}

struct Lists {
    info: MdnsInfo,
    t: bool,
}

impl Lists {
    fn push(&mut self, which: fn(&mut MdnsInfo) -> &mut Vec<String>, name: &[u8]) {
        let (s, cut) = text(name);
        self.t |= cut;
        push_capped(which(&mut self.info), s, MAX_LIST, &mut self.t);
    }
}

/// Decodes one mDNS message (a UDP payload on port 5353): queries and responses alike.
pub fn mdns(udp_payload: &[u8], out: &mut Vec<AppEvent>) {
    let mut sink = Sink::new(out, "mdns");
    let msg = udp_payload;
    let h = match DnsHeader::parse(msg) {
        Ok(h) => h,
        Err(m) => {
            sink.malformed(m, "DNS header ends");
            return;
        }
    };
    if h.opcode() != 0 {
        sink.anomaly("bad_opcode", format!("DNS opcode {}", h.opcode()));
        return;
    }
    let mut l = Lists {
        info: MdnsInfo {
            response: h.is_response(),
            ..MdnsInfo::default()
        },
        t: false,
    };
    let mut name = NameBuf::default();
    let mut target = NameBuf::default();
    let mut pos = 12usize;
    if let Err(m) = walk(msg, &h, &mut pos, &mut name, &mut target, &mut l) {
        sink.malformed(m, "DNS message malformed");
    }
    l.info.truncated = l.t;
    sink.event(NetIdEvent::Mdns(Box::new(l.info)));
}

fn services(i: &mut MdnsInfo) -> &mut Vec<String> {
    &mut i.services
}
fn instances(i: &mut MdnsInfo) -> &mut Vec<String> {
    &mut i.instances
}
fn hostnames(i: &mut MdnsInfo) -> &mut Vec<String> {
    &mut i.hostnames
}

fn walk(
    msg: &[u8],
    h: &DnsHeader,
    pos: &mut usize,
    name: &mut NameBuf,
    target: &mut NameBuf,
    l: &mut Lists,
) -> Result<(), Malformed> {
    let u16_at = |p: usize| -> Result<u16, Malformed> {
        msg.get(p..)
            .and_then(|rest| Reader::new(rest).be_u16())
            .ok_or(Malformed::truncated(p))
    };
    for _ in 0..h.questions {
        *pos = read_name(msg, *pos, name)?;
        let qtype = u16_at(*pos)?;
        u16_at(pos.saturating_add(2))?;
        *pos = pos.saturating_add(4);
        let n = name.as_bytes();
        if matches!(qtype, TYPE_PTR | TYPE_ANY) && is_service_type(n) && !is_meta_query(n) {
            l.push(services, n);
        }
    }
    for _ in 0..h.records() {
        let owner_at = *pos;
        *pos = read_name(msg, *pos, name)?;
        let rtype = u16_at(*pos)?;
        let rdlen = usize::from(u16_at(pos.saturating_add(8))?);
        let rd_start = pos.saturating_add(10);
        let rd_end = rd_start.saturating_add(rdlen);
        let rdata = msg
            .get(rd_start..rd_end)
            .ok_or(Malformed::truncated(owner_at))?;
        *pos = rd_end;
        let bad = Malformed::new("bad_rdata", owner_at);
        let owner = name.as_bytes();
        match rtype {
            TYPE_A | TYPE_AAAA => {
                let want = if rtype == TYPE_A { 4 } else { 16 };
                let a = ip(rdata).filter(|_| rdata.len() == want).ok_or(bad)?;
                l.push(hostnames, owner);
                push_capped(&mut l.info.addrs, a, MAX_LIST, &mut l.t);
            }
            TYPE_PTR => {
                read_name(msg, rd_start, target)?;
                let tgt = target.as_bytes();
                if is_meta_query(owner) {
                    l.push(services, tgt);
                } else if is_service_type(owner) {
                    l.push(services, owner);
                    l.push(instances, tgt);
                } else if owner.ends_with(b".arpa") {
                    l.push(hostnames, tgt);
                }
            }
            TYPE_SRV => {
                if rdlen < 7 {
                    return Err(bad);
                }
                read_name(msg, rd_start.saturating_add(6), target)?;
                l.push(instances, owner);
                if is_service_type(name.parent()) {
                    l.push(services, name.parent());
                }
                l.push(hostnames, target.as_bytes());
            }
            TYPE_TXT => {
                let mut r = Reader::new(rdata);
                while let Some(n) = r.u8() {
                    let s = r.take(usize::from(n)).ok_or(bad)?;
                    if s.is_empty() {
                        continue;
                    }
                    let (s, cut) = text(s);
                    l.t |= cut;
                    push_capped(&mut l.info.txt, s, MAX_TXT, &mut l.t);
                }
            }
            _ => {}
        }
    }
    Ok(())
}
