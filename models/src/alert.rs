//! The alert contract (ARCHITECTURE.md, "EVE JSON lines": the `alert` object). No field ever holds
//! patient data: summaries and evidence describe the exchange (addresses, AE titles, message types,
//! counts), never its clinical content.

use iomt_parsers::Ts;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What was expected and what was seen, in words and numbers a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub expected: String,
    pub seen: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable identifier (hex): the same alert resent after a reconnect has the same id, so a
    /// receiver can drop duplicates.
    pub id: String,
    /// Capture time of the alert (the latest observation it aggregates).
    #[serde(skip)]
    pub ts: Ts,
    /// Stable snake_case name of the detector (`new_device`, `dicom_bulk_query`, …).
    pub kind: String,
    /// 1 (informational) to 10 (direct patient-safety impact).
    pub severity: u8,
    pub device_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<IpAddr>,
    /// `dicom`, `hl7`, `sdc`, `ieee20601`, `tls`, `tcp`, `udp`, … when one protocol is involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// One sentence a person can act on.
    pub summary: String,
    pub evidence: Evidence,
    /// Observations aggregated into this alert (deduplication window).
    pub count: u64,
}
