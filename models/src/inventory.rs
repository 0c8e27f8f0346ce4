//! The inventory as people and tools read it (`iomt-sensor inventory [--json]`).

use crate::DeviceMap;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// One inventory line: identity, services and a short baseline summary (no patient data).
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub ip: IpAddr,
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<&'a str>,
    pub first_seen: f64,
    pub last_seen: f64,
    pub learned: bool,
    pub macs: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previous_ips: Vec<IpAddr>,
    pub protocols: &'a BTreeSet<String>,
    pub services_offered: &'a BTreeSet<String>,
    pub services_used: &'a BTreeSet<String>,
    pub identity: &'a crate::profile::Identity,
    pub peers: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_period_s: Option<f64>,
}

pub fn entries(devices: &DeviceMap) -> Vec<Entry<'_>> {
    let mut v: Vec<Entry<'_>> = devices
        .iter()
        .map(|(ip, d)| Entry {
            ip: *ip,
            role: d.role(),
            mac: d.macs.last().map(|m| m.mac.as_str()),
            vendor: d.vendor.as_deref(),
            first_seen: d.first_seen_ns as f64 / 1e9,
            last_seen: d.last_seen_ns as f64 / 1e9,
            learned: d.learned,
            macs: d.macs.iter().map(|m| m.mac.as_str()).collect(),
            previous_ips: d.previous_ips.clone(),
            protocols: &d.protocols,
            services_offered: &d.services_offered,
            services_used: &d.services_used,
            identity: &d.identity,
            peers: d
                .baseline
                .edges
                .keys()
                .map(|e| e.peer)
                .collect::<BTreeSet<_>>()
                .len(),
            report_period_s: d
                .baseline
                .rhythm
                .periodic()
                .then(|| d.baseline.rhythm.mean_s()),
        })
        .collect();
    v.sort_by_key(|a| a.ip);
    v
}

fn first(s: &BTreeSet<String>) -> &str {
    s.iter().next().map(String::as_str).unwrap_or("")
}

/// A table for people: one device per line.
pub fn table(devices: &DeviceMap) -> String {
    let mut s = format!(
        "{:<16} {:<34} {:<18} {:<22} {:<16} {}\n",
        "ip", "role", "mac", "vendor", "protocols", "identity"
    );
    for e in entries(devices) {
        let id = e.identity;
        let mut ident = Vec::new();
        if !id.hostnames.is_empty() {
            ident.push(format!("name {}", first(&id.hostnames)));
        }
        if !id.lldp_system_name.is_empty() {
            ident.push(format!("LLDP/CDP {}", first(&id.lldp_system_name)));
        }
        if !id.dhcp_vendor_class.is_empty() {
            ident.push(format!("DHCP {}", first(&id.dhcp_vendor_class)));
        }
        if !id.mdns_services.is_empty() {
            ident.push(format!("mDNS {}", first(&id.mdns_services)));
        }
        if !id.dicom_ae_titles.is_empty() {
            ident.push(format!(
                "AE {}",
                id.dicom_ae_titles
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("/")
            ));
        }
        if !id.hl7_applications.is_empty() {
            ident.push(format!("HL7 {}", first(&id.hl7_applications)));
        }
        if !id.manufacturer.is_empty() || !id.model.is_empty() {
            ident.push(
                format!("{} {}", first(&id.manufacturer), first(&id.model))
                    .trim()
                    .to_string(),
            );
        }
        if !id.ieee20601_system_ids.is_empty() {
            ident.push(format!("sys-id {}", first(&id.ieee20601_system_ids)));
        }
        if !id.tls_versions.is_empty() {
            ident.push(
                id.tls_versions
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
        if let Some(p) = e.report_period_s {
            ident.push(format!("reports every {p:.0} s"));
        }
        let vendor: String = e.vendor.unwrap_or("-").chars().take(22).collect();
        s.push_str(&format!(
            "{:<16} {:<34} {:<18} {:<22} {:<16} {}\n",
            e.ip.to_string(),
            e.role,
            e.mac.unwrap_or("-"),
            vendor,
            e.protocols.iter().cloned().collect::<Vec<_>>().join(","),
            ident.join("; ")
        ));
    }
    s
}
