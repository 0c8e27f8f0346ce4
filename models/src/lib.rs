//! Device inventory, behaviour baselines and detectors.
//!
//! The models see the sensor's records in capture-time order (one thread owns them: no locks) as
//! [`Observation`]s, and answer with [`Alert`]s. This file holds the contract between the sensor and
//! the models; the inventory ([`profile`], [`inventory`], [`oui`]), baselines and detectors
//! ([`engine`]), state store ([`store`]) and scoring ([`eval`]) live in their own modules.

pub mod alert;
pub mod engine;
pub mod eval;
pub mod inventory;
pub mod net;
pub mod oui;
pub mod outlier;
pub mod profile;
pub mod rhythm;
pub mod store;
pub mod volume;

#[cfg(test)]
mod detect_tests;

pub use alert::{Alert, Evidence};
pub use engine::{Config, Mode, Models};

use iomt_parsers::{AppEvent, Protocol, Ts};
use std::net::IpAddr;

/// The models' hash maps: keys are addresses and small tuples looked up several times per
/// observation, so a fast keyed hasher (foldhash, hashbrown's default: a per-process random seed
/// keeps HashDoS resistance) instead of SipHash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
/// Device profiles by address.
pub type DeviceMap = FastMap<IpAddr, profile::Device>;

/// The flow an observation belongs to, oriented as the event (`src` sent the bytes behind it); for
/// flow starts and ends, `src` is the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowInfo {
    pub id: u64,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
}

/// A flow that ended, in numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: Ts,
    pub end: Ts,
    /// TCP state at the end (`syn_sent`, `established`, `closed`, …; `none` for UDP).
    pub state: &'static str,
    pub app_proto: Option<Protocol>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observed<'a> {
    /// The first packet of a new flow.
    FlowStart,
    /// A flow ended.
    FlowEnd(&'a FlowSummary),
    /// A protocol event (or a protocol anomaly) from a parser.
    App(&'a AppEvent),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation<'a> {
    pub ts: Ts,
    pub flow: FlowInfo,
    pub what: Observed<'a>,
}
