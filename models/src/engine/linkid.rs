//! Identity from the broadcast and link-local chatter of a span port (`iomt_parsers::netid`): DHCP
//! (host name, FQDN, vendor class, parameter request list), LLDP and CDP (system name and
//! description, platform, software), mDNS/DNS-SD (host names, service types and instances), and ARP
//! (IP-to-MAC bindings, and conflicts: two MACs claiming one address).
//!
//! Much of this arrives before the device has an address (DHCP DISCOVER) or without one (LLDP), so it
//! is kept per MAC and merged into a device profile when the MAC shows up behind exactly one internal
//! address ([`Models::adopt_link_identity`], called when a profile is created), or at once when the
//! address is already known.

use super::{parse_mac, Models, MAX_DEVICES, NS};
use crate::alert::Alert;
use crate::profile::{add_str, Identity};
use crate::FlowInfo;
use iomt_parsers::netid::NetIdEvent;
use std::collections::HashMap;
use std::net::IpAddr;

/// Two MACs claiming one IPv4 address within this much capture time is a conflict.
const ARP_CONFLICT_WINDOW_NS: u64 = 300 * NS;

/// Identity learned per MAC and the ARP bindings, both capped at [`MAX_DEVICES`] entries.
#[derive(Default)]
pub(super) struct LinkState {
    by_mac: HashMap<[u8; 6], Identity>,
    /// IPv4 address → (MAC that last claimed it, when).
    arp: HashMap<IpAddr, ([u8; 6], u64)>,
    /// Entries not kept because a cap was reached.
    pub(super) over_cap: u64,
}

fn unicast(m: [u8; 6]) -> bool {
    m.first().is_some_and(|b| b & 1 == 0) && m != [0; 6]
}

/// Copies the link-layer identity fields of `from` into `into` (capped sets); true if anything new.
pub(super) fn merge(into: &mut Identity, from: &Identity) -> bool {
    let mut new = false;
    let pairs = [
        (&mut into.hostnames, &from.hostnames),
        (&mut into.dhcp_vendor_class, &from.dhcp_vendor_class),
        (&mut into.dhcp_fingerprint, &from.dhcp_fingerprint),
        (&mut into.lldp_system_name, &from.lldp_system_name),
        (&mut into.lldp_description, &from.lldp_description),
        (&mut into.mdns_services, &from.mdns_services),
    ];
    for (a, b) in pairs {
        for v in b {
            new |= add_str(a, v);
        }
    }
    new
}

impl Models {
    pub(super) fn on_netid(&mut self, f: &FlowInfo, e: &NetIdEvent, out: &mut Vec<Alert>) {
        let mut id = Identity::default();
        // The MAC the identity belongs to, and an address it is known to use.
        let (mac, ip): (Option<[u8; 6]>, Option<IpAddr>) = match e {
            NetIdEvent::Arp(a) => {
                let mac = parse_mac(&a.sender_mac);
                if let Some(m) = mac {
                    self.arp_claim(a.sender_ip, m, a.op, out);
                }
                (mac, Some(a.sender_ip))
            }
            NetIdEvent::Dhcp(d) => {
                let client = matches!(
                    d.message_type,
                    "discover" | "request" | "inform" | "decline" | "release" | "bootp"
                );
                if client {
                    for h in d.hostname.iter().chain(d.fqdn.iter()) {
                        add_str(&mut id.hostnames, h);
                    }
                    if let Some(v) = &d.vendor_class {
                        add_str(&mut id.dhcp_vendor_class, v);
                    }
                    if let Some(p) = &d.fingerprint {
                        add_str(&mut id.dhcp_fingerprint, p);
                    }
                }
                // The address the client has or was given (ACK), else the one it asks for.
                let ip = d.your_ip.or(d.client_ip).or(d.requested_ip);
                (parse_mac(&d.client_mac), ip)
            }
            NetIdEvent::Lldp(l) | NetIdEvent::Cdp(l) => {
                if let Some(n) = &l.system_name {
                    add_str(&mut id.lldp_system_name, n);
                }
                for d in [&l.system_description, &l.platform, &l.software_version]
                    .into_iter()
                    .flatten()
                {
                    add_str(&mut id.lldp_description, d);
                }
                (f.src_mac, l.mgmt_addrs.first().copied())
            }
            NetIdEvent::Mdns(m) => {
                if !m.response {
                    return;
                }
                for h in &m.hostnames {
                    add_str(&mut id.hostnames, h);
                }
                for s in m.services.iter().chain(m.instances.iter()) {
                    add_str(&mut id.mdns_services, s);
                }
                (f.src_mac, Some(f.src))
            }
        };
        let mac = mac.filter(|m| unicast(*m));
        if id == Identity::default() {
            return;
        }
        if let Some(m) = mac {
            let full = self.link.by_mac.len() >= MAX_DEVICES;
            match self.link.by_mac.get_mut(&m) {
                Some(have) => {
                    merge(have, &id);
                }
                None if full => self.link.over_cap = self.link.over_cap.saturating_add(1),
                None => {
                    self.link.by_mac.insert(m, id.clone());
                }
            }
        }
        // Straight into the profile when the address is known: the one named in the event, or the
        // one address the MAC shows.
        let ip = ip
            .filter(|ip| !ip.is_unspecified() && self.internal(*ip))
            .or_else(|| {
                mac.and_then(|m| self.mac_ip.get(&m))
                    .filter(|(_, n)| *n <= 1)
                    .map(|(ip, _)| *ip)
            });
        if let Some(ip) = ip {
            if let Some(d) = self.devices.get_mut(&ip) {
                if merge(&mut d.identity, &id) {
                    self.dirty.insert(ip);
                }
            }
        }
    }

    /// A new profile behind `mac`: what the link layer said about that MAC.
    pub(super) fn adopt_link_identity(&mut self, ip: IpAddr, mac: [u8; 6]) {
        if let (Some(li), Some(d)) = (self.link.by_mac.get(&mac), self.devices.get_mut(&ip)) {
            merge(&mut d.identity, li);
        }
    }

    /// `mac` says it holds `ip` (ARP sender). A different MAC that claimed the address within the
    /// last five minutes is a conflict: ARP spoofing (a man in the middle between a device and its
    /// peers) or two devices configured with one address; either can cut a device off the network.
    fn arp_claim(&mut self, ip: IpAddr, mac: [u8; 6], op: &str, out: &mut Vec<Alert>) {
        if ip.is_unspecified() || !unicast(mac) || !self.internal(ip) {
            return;
        }
        let now = self.now;
        let full = self.link.arp.len() >= MAX_DEVICES;
        let prev = match self.link.arp.get_mut(&ip) {
            Some(b) => {
                let prev = *b;
                *b = (mac, now);
                Some(prev)
            }
            None if full => {
                self.link.over_cap = self.link.over_cap.saturating_add(1);
                None
            }
            None => {
                self.link.arp.insert(ip, (mac, now));
                None
            }
        };
        let Some((old, at)) = prev else { return };
        if old == mac || now.saturating_sub(at) > ARP_CONFLICT_WINDOW_NS {
            return;
        }
        let name = |m: [u8; 6]| {
            let v = crate::oui::vendor(m).unwrap_or("unknown vendor");
            format!("{} ({v})", crate::oui::mac_string(m))
        };
        let secs = now.saturating_sub(at) / NS;
        self.alert(
            out,
            "arp_conflict",
            7,
            ip,
            None,
            Some("arp"),
            format!(
                "{ip} is claimed by two MACs within {secs} s: ARP spoofing or an address conflict"
            ),
            format!("{ip} at {}", name(old)),
            format!("{ip} at {} ({op}) {secs} s later", name(mac)),
        );
    }
}
