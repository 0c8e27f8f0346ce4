//! Device profiles: identity (the inventory) and the learned baseline. Serialised as JSON into the
//! state store's `devices.profile` column.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Most values kept per identity set (AE titles, versions, …): a hostile peer cannot grow a profile
/// without bound.
pub const MAX_SET: usize = 32;
/// Most learned peers/services per device.
pub const MAX_EDGES: usize = 4096;
/// Most DICOM peers whose SOP classes are kept per device.
pub const MAX_SOP_PEERS: usize = 64;

/// Insert into a capped set; true when the value is new (and was stored or dropped for the cap).
pub fn add_capped<T: Ord>(set: &mut BTreeSet<T>, v: T) -> bool {
    if set.contains(&v) {
        return false;
    }
    if set.len() < MAX_SET {
        set.insert(v);
    }
    true
}

/// [`add_capped`] for strings, allocating only when the value is new.
pub fn add_str(set: &mut BTreeSet<String>, v: &str) -> bool {
    if set.contains(v) {
        return false;
    }
    if set.len() < MAX_SET {
        set.insert(v.to_string());
    }
    true
}

/// Role evidence bits (what the device has been seen doing).
pub mod facts {
    pub const DICOM_SCP: u32 = 1;
    pub const DICOM_STORE_SCU: u32 = 1 << 1;
    pub const DICOM_QR_SCU: u32 = 1 << 2;
    pub const DICOM_STORE_SCP: u32 = 1 << 3;
    pub const DICOM_QR_SCP: u32 = 1 << 4;
    pub const HL7_RECEIVER: u32 = 1 << 5;
    pub const HL7_ORU_SENDER: u32 = 1 << 6;
    pub const HL7_ADT_SENDER: u32 = 1 << 7;
    pub const HL7_ORDER_SENDER: u32 = 1 << 8;
    pub const HL7_OTHER_SENDER: u32 = 1 << 9;
    pub const SDC_PROVIDER: u32 = 1 << 10;
    pub const SDC_CONSUMER: u32 = 1 << 11;
    pub const PHD_AGENT: u32 = 1 << 12;
    pub const PHD_MANAGER: u32 = 1 << 13;
    pub const TLS_CLIENT: u32 = 1 << 14;
    pub const TLS_SERVER: u32 = 1 << 15;
    pub const PUMP_HINT: u32 = 1 << 16;
    pub const MONITOR_HINT: u32 = 1 << 17;
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MacSeen {
    pub mac: String,
    pub first_seen: u64,
    pub last_seen: u64,
}

/// Every identity the protocols reveal (no patient data: these are device and application names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub dicom_ae_titles: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub dicom_implementation: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hl7_applications: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hl7_versions: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sdc_epr: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub manufacturer: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub model: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub firmware: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub serial: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub location: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub ieee20601_system_ids: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub tls_versions: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub tls_ja4: BTreeSet<String>,
    /// DHCP host name and FQDN (options 12, 81), mDNS host names.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hostnames: BTreeSet<String>,
    /// DHCP vendor class identifier (option 60).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub dhcp_vendor_class: BTreeSet<String>,
    /// DHCP parameter request list (option 55) as `1,3,6,15`: the usual DHCP fingerprint.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub dhcp_fingerprint: BTreeSet<String>,
    /// LLDP system name, CDP device id.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub lldp_system_name: BTreeSet<String>,
    /// LLDP system description, CDP platform and software version.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub lldp_description: BTreeSet<String>,
    /// mDNS/DNS-SD service types and instance names it announces.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub mdns_services: BTreeSet<String>,
}

/// A peer and service: `peer` on `proto`/`port` (the server port; 0 for ephemeral ports ≥ 49152).
/// `inbound`: the peer initiated (only kept for peers outside the internal networks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edge {
    pub peer: IpAddr,
    pub proto: u8,
    pub port: u16,
    pub inbound: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EdgeStats {
    /// Application protocols seen on this edge (bit per `Protocol`, see `proto_bit`).
    pub apps: u8,
    /// Largest flow seen (bytes both ways).
    pub max_bytes: u64,
    pub flows: u64,
    /// Best TLS version negotiated on this edge (rank: 1 SSLv3 … 5 TLS 1.3; 0 none).
    #[serde(default)]
    pub tls_best: u8,
    /// Largest bytes the device sent on this edge in one 10-minute window (see `volume`).
    #[serde(default)]
    pub sent_max: u64,
    /// Largest bytes the device received on this edge in one 10-minute window.
    #[serde(default)]
    pub recv_max: u64,
    /// Learned 10-minute windows with traffic on this edge.
    #[serde(default)]
    pub vol_windows: u32,
}

/// Periodicity of a device's own activity (bursts: activity separated by ≥ 10 s of quiet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rhythm {
    pub last_burst_ns: u64,
    pub last_activity_ns: u64,
    pub intervals: u64,
    pub sum_s: f64,
    pub max_gap_s: f64,
    /// Bursts by hour of day (UTC).
    pub by_hour: [u32; 24],
}

impl Rhythm {
    pub fn mean_s(&self) -> f64 {
        if self.intervals == 0 {
            0.0
        } else {
            self.sum_s / self.intervals as f64
        }
    }

    /// A device reporting on a schedule: enough intervals and no gap far above the mean.
    pub fn periodic(&self) -> bool {
        self.intervals >= 20 && self.max_gap_s <= 3.0 * self.mean_s() && self.mean_s() > 0.0
    }

    /// Capture seconds of quiet after which a periodic device is silent.
    pub fn silence_threshold_s(&self) -> f64 {
        (1.5 * self.max_gap_s + 60.0).max(120.0)
    }
}

/// Learned maxima of per-window counts (60 s windows unless said otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Messages the device sent plus connections it opened, per minute.
    pub max_msgs_per_min: u64,
    /// Distinct (host, port) targets it opened connections to, per minute.
    pub max_targets_per_min: u64,
    /// Distinct hosts it opened connections to, per minute.
    pub max_hosts_per_min: u64,
    /// Protocol anomalies in its traffic, per 10 minutes.
    pub max_anomalies_per_10min: u64,
    /// DICOM C-MOVE/C-GET requests, per 10 minutes.
    pub max_retrieves_per_10min: u64,
    /// Windows observed (how much there is behind these maxima).
    pub windows: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    #[serde(with = "edges_as_vec", default)]
    pub edges: crate::FastMap<Edge, EdgeStats>,
    /// AE titles this address used as calling AE.
    #[serde(default)]
    pub dicom_calling: BTreeSet<String>,
    /// AE titles this address answered as (called AE of associations it accepted).
    #[serde(default)]
    pub dicom_called: BTreeSet<String>,
    /// DIMSE requests it sent.
    #[serde(default)]
    pub dicom_commands: BTreeSet<String>,
    /// SOP classes of the requests it sent (any peer).
    #[serde(default)]
    pub dicom_sop_classes: BTreeSet<String>,
    /// SOP classes of the requests it sent, per peer (`dicom_new_sop_class`); at most
    /// [`MAX_SOP_PEERS`] peers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dicom_sop_by_peer: BTreeMap<IpAddr, BTreeSet<String>>,
    /// It sent universal-match (bulk) C-FINDs.
    #[serde(default)]
    pub dicom_bulk_query: bool,
    #[serde(default)]
    pub hl7_sent: BTreeSet<String>,
    #[serde(default)]
    pub hl7_received: BTreeSet<String>,
    /// SDC consumers of this provider, and those that invoked remote-control operations.
    #[serde(default)]
    pub sdc_consumers: BTreeSet<IpAddr>,
    #[serde(default)]
    pub sdc_control_consumers: BTreeSet<IpAddr>,
    #[serde(default)]
    pub sdc_operations: BTreeSet<String>,
    #[serde(default)]
    pub ieee20601_peers: BTreeSet<IpAddr>,
    #[serde(default)]
    pub rhythm: Rhythm,
    #[serde(default)]
    pub rates: Rates,
    /// Activity by hour of the week (`off_hours_activity`).
    #[serde(default)]
    pub week: crate::rhythm::WeekRhythm,
    /// Learned 10-minute activity windows and their K-Means model (`activity_outlier`).
    #[serde(default)]
    pub activity: crate::outlier::ActivityModel,
}

mod edges_as_vec {
    use super::{Edge, EdgeStats};
    use crate::FastMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &FastMap<Edge, EdgeStats>, s: S) -> Result<S::Ok, S::Error> {
        let mut v: Vec<(&Edge, &EdgeStats)> = m.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<FastMap<Edge, EdgeStats>, D::Error> {
        let v: Vec<(Edge, EdgeStats)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub ip: Option<IpAddr>,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Seen while learning (part of the baseline population).
    pub learned: bool,
    #[serde(default)]
    pub macs: Vec<MacSeen>,
    /// Addresses this device (same MAC) used before.
    #[serde(default)]
    pub previous_ips: Vec<IpAddr>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub facts: u32,
    /// Application protocols spoken (`dicom`, `hl7`, …).
    #[serde(default)]
    pub protocols: BTreeSet<String>,
    /// `tcp/104` style services it answered on, with the application protocol where known.
    #[serde(default)]
    pub services_offered: BTreeSet<String>,
    #[serde(default)]
    pub services_used: BTreeSet<String>,
    #[serde(default)]
    pub identity: Identity,
    #[serde(default)]
    pub baseline: Baseline,
    /// Counters (flows opened/answered, bytes, events, anomalies).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    /// The engine's per-observation shortcuts (not stored).
    #[serde(skip)]
    pub hot: Hot,
}

/// Shortcuts the engine keeps beside a profile so that the checks it repeats for every
/// observation (is this protocol listed, is this the MAC last seen) need not walk the profile's
/// sets and strings. Derived from the profile, never stored, and ignored by `==`: two profiles
/// with the same content are equal whatever their shortcuts hold. The empty value is always
/// valid (every check then takes the long way, which refills it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hot {
    /// Application protocols (bit per `Protocol`, as `EdgeStats::apps`) known to be in
    /// `protocols`.
    pub protocols: u8,
    /// The MAC of the last entry of `macs`, when known.
    pub last_mac: Option<[u8; 6]>,
}

impl PartialEq for Hot {
    fn eq(&self, _: &Hot) -> bool {
        true
    }
}

impl Device {
    pub fn has(&self, f: u32) -> bool {
        self.facts & f != 0
    }

    /// Role inferred from what it speaks (most specific first).
    pub fn role(&self) -> &'static str {
        use facts::*;
        let dicom_server = self.has(DICOM_STORE_SCP) || self.has(DICOM_QR_SCP);
        if self.has(PUMP_HINT) {
            "infusion pump"
        } else if self.has(SDC_PROVIDER) && self.has(MONITOR_HINT) {
            "bedside monitor (SDC)"
        } else if self.has(SDC_PROVIDER) {
            "SDC medical device"
        } else if self.has(SDC_CONSUMER) {
            "SDC gateway / central station"
        } else if self.has(PHD_MANAGER) {
            "PHD manager (11073-20601)"
        } else if self.has(PHD_AGENT) {
            "PHD agent (11073-20601)"
        } else if dicom_server && self.has(DICOM_QR_SCP) {
            "PACS"
        } else if dicom_server {
            "DICOM archive / store SCP"
        } else if self.has(DICOM_QR_SCU) {
            "imaging workstation"
        } else if self.has(DICOM_STORE_SCU) {
            "imaging modality"
        } else if self.has(HL7_RECEIVER) && self.baseline.hl7_received.len() >= 2 {
            "HL7 interface engine"
        } else if self.has(HL7_ORU_SENDER) {
            "bedside monitor / observation source (HL7 ORU)"
        } else if self.has(HL7_ADT_SENDER) {
            "HIS / ADT system"
        } else if self.has(HL7_ORDER_SENDER) {
            "order entry / RIS"
        } else if self.has(HL7_RECEIVER) {
            "HL7 receiver"
        } else if self.has(HL7_OTHER_SENDER) {
            "HL7 sender"
        } else if self.has(DICOM_SCP) {
            "DICOM node"
        } else if self.has(TLS_SERVER) {
            "TLS server"
        } else if self.has(TLS_CLIENT) {
            "TLS client"
        } else {
            "unknown"
        }
    }

    pub fn bump(&mut self, counter: &'static str, by: u64) {
        if let Some(v) = self.counters.get_mut(counter) {
            *v = v.saturating_add(by);
        } else {
            self.counters.insert(counter.to_string(), by);
        }
    }
}
