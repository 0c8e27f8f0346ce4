//! The application-parser slot of a TCP flow: detection by content, then one [`StreamParser`].
//!
//! Until a protocol is recognised, the first bytes of each direction are kept (in arrival order, at
//! most [`DETECT_BYTES`] in all) and offered to [`iomt_parsers::detect`] with the server port as a
//! hint. When a protocol says yes, its parser gets those bytes replayed in order and then every later
//! byte straight from reassembly, without a copy. When every protocol says no, or the detection buffer
//! is full, or a gap comes first, the flow is left undecoded (`app_proto` stays unknown).

use iomt_parsers::{
    detect, new_parser, AppEvent, Detect, Direction, Progress, Protocol, StreamParser, Ts,
};

/// Bytes kept per flow while detecting.
pub const DETECT_BYTES: usize = 4096;

#[derive(Default)]
pub enum AppSlot {
    /// Still looking: the bytes seen so far, and which direction each run came from.
    #[default]
    Detecting,
    Buffering(Box<DetectBuf>),
    Active(Box<dyn StreamParser>),
    /// The parser gave up on the flow: its name stays for the flow record.
    Finished(Protocol),
    /// Not a protocol we decode.
    Unknown,
}

#[derive(Default)]
pub struct DetectBuf {
    bytes: Vec<u8>,
    /// (direction, length) of each run in `bytes`.
    runs: Vec<(Direction, usize)>,
}

impl DetectBuf {
    fn first_of(&self, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        for &(d, n) in &self.runs {
            if d == dir {
                out.extend_from_slice(self.bytes.get(at..at + n).unwrap_or_default());
            }
            at += n;
        }
        out
    }
}

impl AppSlot {
    pub fn protocol(&self) -> Option<Protocol> {
        match self {
            AppSlot::Active(p) => Some(p.protocol()),
            AppSlot::Finished(p) => Some(*p),
            _ => None,
        }
    }

    /// Whether bytes are still wanted (a flow nobody decodes skips the parser path entirely).
    pub fn wants_data(&self) -> bool {
        matches!(
            self,
            AppSlot::Detecting | AppSlot::Buffering(_) | AppSlot::Active(_)
        )
    }

    /// In-order bytes of direction `dir`.
    pub fn data(
        &mut self,
        dir: Direction,
        data: &[u8],
        server_port: u16,
        ts: Ts,
        out: &mut Vec<AppEvent>,
    ) {
        match self {
            AppSlot::Active(p) => {
                if p.feed(dir, data, ts, out) == Progress::Done {
                    *self = AppSlot::Finished(p.protocol());
                }
            }
            AppSlot::Detecting => {
                // The common case: the first segment decides, nothing is copied.
                match detect(dir, data, server_port) {
                    Detect::Found(proto) => self.start(proto, None, dir, data, ts, out),
                    Detect::Unknown => *self = AppSlot::Unknown,
                    Detect::NeedMore => {
                        let mut buf = Box::<DetectBuf>::default();
                        buf.bytes
                            .extend_from_slice(data.get(..DETECT_BYTES).unwrap_or(data));
                        buf.runs.push((dir, buf.bytes.len()));
                        *self = AppSlot::Buffering(buf);
                    }
                }
            }
            AppSlot::Buffering(buf) => {
                let room = DETECT_BYTES.saturating_sub(buf.bytes.len());
                if room == 0 {
                    *self = AppSlot::Unknown;
                    return;
                }
                let take = data.get(..room).unwrap_or(data);
                buf.bytes.extend_from_slice(take);
                buf.runs.push((dir, take.len()));
                let seen = buf.first_of(dir);
                match detect(dir, &seen, server_port) {
                    Detect::Found(proto) => {
                        let buf = std::mem::take(buf);
                        let rest = data.get(take.len()..).unwrap_or_default();
                        self.start(proto, Some(buf), dir, rest, ts, out);
                    }
                    Detect::Unknown => *self = AppSlot::Unknown,
                    Detect::NeedMore => {}
                }
            }
            AppSlot::Finished(_) | AppSlot::Unknown => {}
        }
    }

    fn start(
        &mut self,
        proto: Protocol,
        buffered: Option<Box<DetectBuf>>,
        dir: Direction,
        data: &[u8],
        ts: Ts,
        out: &mut Vec<AppEvent>,
    ) {
        let mut parser = new_parser(proto);
        let mut done = false;
        if let Some(buf) = buffered {
            let mut at = 0;
            for &(d, n) in &buf.runs {
                let run = buf.bytes.get(at..at + n).unwrap_or_default();
                at += n;
                if !done && parser.feed(d, run, ts, out) == Progress::Done {
                    done = true;
                }
            }
        }
        if !done && !data.is_empty() && parser.feed(dir, data, ts, out) == Progress::Done {
            done = true;
        }
        *self = if done {
            AppSlot::Finished(proto)
        } else {
            AppSlot::Active(parser)
        };
    }

    /// `len` bytes of `dir` were lost.
    pub fn gap(&mut self, dir: Direction, len: u64, ts: Ts, out: &mut Vec<AppEvent>) {
        match self {
            AppSlot::Active(p) => {
                if p.gap(dir, len, ts, out) == Progress::Done {
                    *self = AppSlot::Finished(p.protocol());
                }
            }
            AppSlot::Detecting | AppSlot::Buffering(_) => *self = AppSlot::Unknown,
            AppSlot::Finished(_) | AppSlot::Unknown => {}
        }
    }

    /// The flow ended.
    pub fn end(&mut self, ts: Ts, out: &mut Vec<AppEvent>) {
        if let AppSlot::Active(p) = self {
            p.end(ts, out);
            *self = AppSlot::Finished(p.protocol());
        }
    }
}

/// A UDP datagram: WS-Discovery (SOAP-over-UDP, port 3702, multicast 239.255.255.250 / ff02::c),
/// recognised by port or by content since unicast replies may come from any port; and the identity
/// chatter of a span port: DHCP (ports 67/68) and mDNS/DNS-SD (port 5353).
pub fn udp_datagram(pkt: &crate::decode::Packet<'_>, ts: Ts, out: &mut Vec<AppEvent>) {
    const WS_DISCOVERY: u16 = 3702;
    const MDNS: u16 = 5353;
    if pkt.payload.is_empty() {
        return;
    }
    let ports =
        |a: u16, b: u16| (pkt.sport == a && pkt.dport == b) || (pkt.sport == b && pkt.dport == a);
    if ports(67, 68) || ports(67, 67) {
        iomt_parsers::netid::dhcp(pkt.payload, out);
        return;
    }
    if pkt.sport == MDNS || pkt.dport == MDNS {
        iomt_parsers::netid::mdns(pkt.payload, out);
        return;
    }
    if pkt.dport == WS_DISCOVERY
        || pkt.sport == WS_DISCOVERY
        || iomt_parsers::sdc::looks_like_discovery(pkt.payload)
    {
        iomt_parsers::sdc::parse_discovery(pkt.payload, ts, out);
    }
}

/// A non-IP frame: ARP, LLDP, and CDP inside 802.3 LLC/SNAP (other LLC frames, e.g. spanning tree,
/// are left alone).
pub fn link_frame(f: &crate::decode::LinkFrame<'_>, out: &mut Vec<AppEvent>) {
    use crate::decode::LinkProto;
    match f.proto {
        LinkProto::Arp => iomt_parsers::netid::arp(f.payload, out),
        LinkProto::Lldp => iomt_parsers::netid::lldp(f.payload, out),
        LinkProto::Llc => {
            if iomt_parsers::netid::looks_like_cdp(f.payload) {
                iomt_parsers::netid::cdp(f.payload, out);
            }
        }
    }
}
