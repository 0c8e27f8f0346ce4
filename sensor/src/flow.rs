//! The bidirectional flow table.
//!
//! A flow is keyed by its canonical 5-tuple (the lower endpoint first, plus the VLAN id), so both
//! directions find the same entry. Entries live in a slab; each sits on one of four idle lists by its
//! timeout class (new TCP, established TCP, closed TCP, UDP/other), ordered by last activity, so expiry
//! costs only the flows that expire and eviction takes the least recently seen flow of the cheapest class
//! (half-open flows first: a SYN flood evicts its own flows, not established associations). The table
//! never holds more than `max_flows` entries; evictions and timeouts are counted.

use crate::decode::Packet;
use crate::stream::Reassembler;
use iomt_parsers::{Direction, Ts};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// Idle timeouts per state, in seconds of capture time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub new: u64,
    pub established: u64,
    pub closed: u64,
    pub udp: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            new: 30,
            established: 3600,
            closed: 10,
            udp: 120,
        }
    }
}

/// TCP state from what the sensor saw of the handshake and teardown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// Not TCP.
    None,
    SynSent,
    SynReceived,
    Established,
    /// One side sent FIN.
    Closing,
    /// Both FINs or an RST.
    Closed,
}

impl TcpState {
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynReceived => "syn_received",
            TcpState::Established => "established",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
        }
    }
}

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Timeout,
    Closed,
    Evicted,
    EndOfCapture,
}

impl EndReason {
    pub const fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Closed => "closed",
            EndReason::Evicted => "evicted",
            EndReason::EndOfCapture => "end_of_capture",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: (Ipv6Addr, u16),
    hi: (Ipv6Addr, u16),
    proto: u8,
    vlan: u16,
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

impl FlowKey {
    pub fn of(p: &Packet<'_>) -> FlowKey {
        let a = (v6(p.src), p.sport);
        let b = (v6(p.dst), p.dport);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            lo,
            hi,
            proto: p.proto,
            vlan: p.vlan,
        }
    }

    /// A hash of the key that is the same for both directions and for every run: used for the flow id
    /// and to choose a worker shard.
    pub fn stable_hash(&self) -> u64 {
        endpoint_hash(self.lo, self.hi, self.proto, self.vlan)
    }
}

/// The stable hash of a canonical flow key (`lo <= hi`), shared with the reader's fast shard path
/// ([`crate::decode::shard_hash`]) so both always agree.
pub fn endpoint_hash(lo: (Ipv6Addr, u16), hi: (Ipv6Addr, u16), proto: u8, vlan: u16) -> u64 {
    let mix = |h: u64, v: u64| (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    let a = lo.0.to_bits();
    let b = hi.0.to_bits();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    h = mix(h, a as u64);
    h = mix(h, (a >> 64) as u64);
    h = mix(h, b as u64);
    h = mix(h, (b >> 64) as u64);
    h = mix(
        h,
        u64::from(lo.1) | u64::from(hi.1) << 16 | u64::from(proto) << 32 | u64::from(vlan) << 40,
    );
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Server ports we know, used to tell client from server when no SYN was seen.
fn well_known_server_port(port: u16) -> bool {
    port < 1024 || matches!(port, 2575 | 3702 | 4242 | 8080 | 8443 | 11112 | 6464)
}

/// One endpoint of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
    pub mac: Option<[u8; 6]>,
}

/// The application-parser slot of a flow (see `app.rs`).
pub use crate::app::AppSlot;

/// A live flow.
pub struct Flow {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub proto: u8,
    pub vlan: u16,
    pub first: Ts,
    pub last: Ts,
    /// Packets and bytes (on the wire) per direction, indexed by [`Direction::index`].
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    pub state: TcpState,
    /// The SYN sequence number seen per direction (the reassemblers start from it when created).
    pub syn_seq: [Option<u32>; 2],
    /// Reassembly state per direction, created with the first payload a parser wants: SYN-only and
    /// undecoded flows never pay for it.
    pub streams: Option<Box<[Reassembler; 2]>>,
    pub app: AppSlot,
}

impl Flow {
    /// The direction of packet `p` in this flow.
    pub fn direction(&self, p: &Packet<'_>) -> Direction {
        if p.src == self.client.ip && p.sport == self.client.port {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    /// The reassemblers, created on first use.
    pub fn streams_mut(&mut self) -> &mut [Reassembler; 2] {
        let syn = self.syn_seq;
        self.streams
            .get_or_insert_with(|| Box::new(syn.map(Reassembler::starting_at)))
    }

    fn class(&self) -> usize {
        match self.state {
            TcpState::None => CLASS_UDP,
            TcpState::SynSent | TcpState::SynReceived => CLASS_NEW,
            TcpState::Established | TcpState::Closing => CLASS_EST,
            TcpState::Closed => CLASS_CLOSED,
        }
    }

    /// Updates the TCP state for a packet in direction `dir`.
    pub fn track_tcp(&mut self, dir: Direction, syn: bool, ack: bool, fin: bool, rst: bool) {
        self.state = match (self.state, dir) {
            (_, _) if rst => TcpState::Closed,
            (TcpState::SynSent, Direction::ToClient) if syn && ack => TcpState::SynReceived,
            (TcpState::SynReceived, Direction::ToServer) if ack && !syn => TcpState::Established,
            (TcpState::Established, _) if fin => TcpState::Closing,
            (TcpState::Closing, _) if fin => TcpState::Closed,
            (s, _) => s,
        };
    }
}

const CLASS_NEW: usize = 0;
const CLASS_UDP: usize = 1;
const CLASS_CLOSED: usize = 2;
const CLASS_EST: usize = 3;
const CLASSES: usize = 4;
const NIL: u32 = u32::MAX;

struct Slot {
    flow: Option<Flow>,
    key: Option<FlowKey>,
    prev: u32,
    next: u32,
    class: usize,
}

/// Counters of the table itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableCounters {
    pub created: u64,
    pub evicted: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub peak: usize,
}

pub struct FlowTable {
    /// Keyed by the endpoints an attacker chooses: foldhash (hashbrown's default hasher) with its
    /// per-process random seed, several times cheaper than SipHash on a 40-byte key.
    map: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    heads: [u32; CLASSES],
    tails: [u32; CLASSES],
    pub max_flows: usize,
    pub timeouts: Timeouts,
    pub counters: TableCounters,
}

impl FlowTable {
    pub fn new(max_flows: usize, timeouts: Timeouts) -> Self {
        FlowTable {
            map: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            heads: [NIL; CLASSES],
            tails: [NIL; CLASSES],
            max_flows: max_flows.max(1),
            timeouts,
            counters: TableCounters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn slot(&mut self, i: u32) -> Option<&mut Slot> {
        self.slots.get_mut(i as usize)
    }

    fn unlink(&mut self, i: u32) {
        let Some(s) = self.slots.get(i as usize) else {
            return;
        };
        let (prev, next, class) = (s.prev, s.next, s.class);
        match self.slot(prev) {
            Some(p) => p.next = next,
            None => self.set_head(class, next),
        }
        match self.slot(next) {
            Some(n) => n.prev = prev,
            None => self.set_tail(class, prev),
        }
    }

    fn head(&self, class: usize) -> u32 {
        self.heads.get(class).copied().unwrap_or(NIL)
    }
    fn tail(&self, class: usize) -> u32 {
        self.tails.get(class).copied().unwrap_or(NIL)
    }
    fn set_head(&mut self, class: usize, i: u32) {
        if let Some(h) = self.heads.get_mut(class) {
            *h = i;
        }
    }
    fn set_tail(&mut self, class: usize, i: u32) {
        if let Some(t) = self.tails.get_mut(class) {
            *t = i;
        }
    }

    fn push_tail(&mut self, i: u32, class: usize) {
        let tail = self.tail(class);
        if let Some(s) = self.slot(i) {
            s.prev = tail;
            s.next = NIL;
            s.class = class;
        }
        match self.slot(tail) {
            Some(t) => t.next = i,
            None => self.set_head(class, i),
        }
        self.set_tail(class, i);
    }

    /// Looks up the flow of `p`, creating it (and evicting into `ended` if the table is full). Returns
    /// the slot index and the packet's direction.
    pub fn lookup_or_create(
        &mut self,
        p: &Packet<'_>,
        ts: Ts,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> (u32, Direction) {
        let key = FlowKey::of(p);
        if let Some(&i) = self.map.get(&key) {
            let found = self
                .slots
                .get(i as usize)
                .and_then(|s| s.flow.as_ref())
                .map(|f| {
                    let limit = self.timeout_of(f.class()).saturating_mul(1_000_000_000);
                    let reopened =
                        f.state == TcpState::Closed && p.tcp.is_some_and(|t| t.syn && !t.ack_flag);
                    (f.direction(p), ts.nanos_since(f.last) > limit || reopened)
                });
            match found {
                Some((dir, false)) => return (i, dir),
                Some((_, true)) => {
                    // Idle past its timeout but not yet expired by a tick: it ends now, and this
                    // packet starts a new flow (the same result whatever the tick timing).
                    if let Some(f) = self.remove(i) {
                        self.counters.timed_out += 1;
                        ended.push((f, EndReason::Timeout));
                    }
                }
                None => {}
            }
        }
        while self.map.len() >= self.max_flows {
            match self.evict_one() {
                Some(f) => ended.push((f, EndReason::Evicted)),
                None => break,
            }
        }
        // Who is the client: the sender of a SYN without ACK; the receiver of a SYN-ACK; otherwise
        // the side that is not on a well-known server port; otherwise the first sender.
        let src = Endpoint {
            ip: p.src,
            port: p.sport,
            mac: p.src_mac,
        };
        let dst = Endpoint {
            ip: p.dst,
            port: p.dport,
            mac: p.dst_mac,
        };
        let sender_is_server = match p.tcp {
            Some(t) if t.syn => t.ack_flag,
            _ => well_known_server_port(p.sport) && !well_known_server_port(p.dport),
        };
        let (client, server) = if sender_is_server {
            (dst, src)
        } else {
            (src, dst)
        };
        let state = match p.tcp {
            None => TcpState::None,
            Some(t) if t.syn && !t.ack_flag => TcpState::SynSent,
            Some(t) if t.syn => TcpState::SynReceived,
            Some(_) => TcpState::Established,
        };
        let id = key.stable_hash() ^ ts.0.rotate_left(17);
        let flow = Flow {
            id: id & 0x7fff_ffff_ffff_ffff,
            client,
            server,
            proto: p.proto,
            vlan: p.vlan,
            first: ts,
            last: ts,
            pkts: [0; 2],
            bytes: [0; 2],
            state,
            syn_seq: [None; 2],
            streams: None,
            app: AppSlot::default(),
        };
        let class = flow.class();
        let slot = Slot {
            flow: Some(flow),
            key: Some(key),
            prev: NIL,
            next: NIL,
            class,
        };
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slot(i) {
                    *s = slot;
                }
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.push_tail(i, class);
        self.map.insert(key, i);
        self.counters.created += 1;
        self.counters.peak = self.counters.peak.max(self.map.len());
        let dir = if sender_is_server {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        (i, dir)
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut Flow> {
        self.slot(i).and_then(|s| s.flow.as_mut())
    }

    /// Marks flow `i` active at `ts`: it moves to the tail of its (possibly new) class list.
    pub fn touch(&mut self, i: u32, ts: Ts) {
        let Some(class) = self.get_mut(i).map(|f| {
            f.last = ts;
            f.class()
        }) else {
            return;
        };
        self.unlink(i);
        self.push_tail(i, class);
    }

    /// Removes flow `i` from the table.
    pub fn remove(&mut self, i: u32) -> Option<Flow> {
        self.unlink(i);
        let s = self.slot(i)?;
        let flow = s.flow.take()?;
        let key = s.key.take();
        if let Some(k) = key {
            self.map.remove(&k);
        }
        self.free.push(i);
        Some(flow)
    }

    fn timeout_of(&self, class: usize) -> u64 {
        match class {
            CLASS_NEW => self.timeouts.new,
            CLASS_UDP => self.timeouts.udp,
            CLASS_CLOSED => self.timeouts.closed,
            _ => self.timeouts.established,
        }
    }

    /// Removes every flow idle past its timeout at `now`.
    pub fn expire(&mut self, now: Ts, ended: &mut Vec<(Flow, EndReason)>) {
        for class in 0..CLASSES {
            let limit = self.timeout_of(class).saturating_mul(1_000_000_000);
            loop {
                let head = self.head(class);
                let Some(last) = self
                    .slots
                    .get(head as usize)
                    .and_then(|s| s.flow.as_ref())
                    .map(|f| f.last)
                else {
                    break;
                };
                if now.nanos_since(last) <= limit {
                    break;
                }
                if let Some(f) = self.remove(head) {
                    let reason = if class == CLASS_CLOSED {
                        self.counters.closed += 1;
                        EndReason::Closed
                    } else {
                        self.counters.timed_out += 1;
                        EndReason::Timeout
                    };
                    ended.push((f, reason));
                }
            }
        }
    }

    /// Evicts the least recently seen flow, half-open and UDP flows first.
    fn evict_one(&mut self) -> Option<Flow> {
        for class in [CLASS_NEW, CLASS_UDP, CLASS_CLOSED, CLASS_EST] {
            let head = self.head(class);
            if head != NIL {
                self.counters.evicted += 1;
                return self.remove(head);
            }
        }
        None
    }

    /// Every flow's slot, oldest first (by first packet, then id): the order flows end at the end of
    /// capture. Remove them with [`FlowTable::remove`] in batches to keep memory flat.
    pub fn drain_order(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self.map.values().copied().collect();
        all.sort_by_key(|&i| {
            self.slots
                .get(i as usize)
                .and_then(|s| s.flow.as_ref())
                .map(|f| (f.first, f.id))
        });
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Frame, LinkType};
    use crate::decode::{decode, tests::tcp_frame};

    fn pkt(bytes: &[u8]) -> Packet<'_> {
        decode(&Frame {
            ts: Ts(0),
            link: LinkType::ETHERNET,
            data: bytes,
            orig_len: bytes.len() as u32,
        })
        .unwrap()
    }

    #[test]
    fn both_directions_share_a_flow_and_syn_sets_the_client() {
        let mut t = FlowTable::new(10, Timeouts::default());
        let mut ended = Vec::new();
        let syn = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 104, 0, "S", b"");
        let synack = tcp_frame([10, 0, 0, 2], [10, 0, 0, 1], 104, 40000, 0, "SA", b"");
        let (a, da) = t.lookup_or_create(&pkt(&syn), Ts(1), &mut ended);
        let (b, db) = t.lookup_or_create(&pkt(&synack), Ts(2), &mut ended);
        assert_eq!((a, da, db), (b, Direction::ToServer, Direction::ToClient));
        assert_eq!(t.len(), 1);
        // A SYN-ACK seen first still makes its receiver the client.
        let mut t = FlowTable::new(10, Timeouts::default());
        let (_, d) = t.lookup_or_create(&pkt(&synack), Ts(1), &mut ended);
        assert_eq!(d, Direction::ToClient);
        assert_eq!(t.get_mut(0).unwrap().client.port, 40000);
    }

    #[test]
    fn cap_evicts_half_open_first_and_timeouts_expire() {
        let mut t = FlowTable::new(2, Timeouts::default());
        let mut ended = Vec::new();
        let est = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 104, 0, "A", b"x");
        let (e, _) = t.lookup_or_create(&pkt(&est), Ts(1), &mut ended);
        for port in 1..5u16 {
            let syn = tcp_frame([10, 0, 0, 9], [10, 0, 0, 2], port, 80, 0, "S", b"");
            t.lookup_or_create(&pkt(&syn), Ts(2), &mut ended);
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.counters.evicted, 3);
        assert!(ended
            .iter()
            .all(|(f, r)| *r == EndReason::Evicted && f.server.port == 80));
        assert!(t.get_mut(e).is_some());
        ended.clear();
        // The SYN-only flow times out after 30 s, the established one after an hour.
        t.expire(Ts(2 + 31_000_000_000), &mut ended);
        assert_eq!(ended.len(), 1);
        assert_eq!(t.len(), 1);
        t.expire(Ts(1 + 3_601_000_000_000), &mut ended);
        assert_eq!(ended.len(), 2);
        assert!(t.is_empty());
        assert_eq!(t.counters.timed_out, 2);
    }

    #[test]
    fn tcp_state_follows_handshake_and_teardown() {
        let mut t = FlowTable::new(10, Timeouts::default());
        let mut ended = Vec::new();
        let syn = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 104, 0, "S", b"");
        let (i, _) = t.lookup_or_create(&pkt(&syn), Ts(1), &mut ended);
        let f = t.get_mut(i).unwrap();
        assert_eq!(f.state, TcpState::SynSent);
        f.track_tcp(Direction::ToClient, true, true, false, false);
        f.track_tcp(Direction::ToServer, false, true, false, false);
        assert_eq!(f.state, TcpState::Established);
        f.track_tcp(Direction::ToServer, false, true, true, false);
        f.track_tcp(Direction::ToClient, false, true, true, false);
        assert_eq!(f.state, TcpState::Closed);
    }
}
