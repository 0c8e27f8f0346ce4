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
use crate::FastMap;
use crate::FlowInfo;
use iomt_parsers::netid::NetIdEvent;
use std::net::IpAddr;

/// Two MACs claiming one IPv4 address within this much capture time is a conflict.
const ARP_CONFLICT_WINDOW_NS: u64 = 300 * NS;

/// Identity learned per MAC and the ARP bindings, both capped at [`MAX_DEVICES`] entries.
#[derive(Default)]
pub(super) struct LinkState {
    by_mac: FastMap<[u8; 6], Identity>,
    /// IPv4 address → (MAC that last claimed it, when).
    arp: FastMap<IpAddr, ([u8; 6], u64)>,
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
                let mac = parse_mac(&d.client_mac);
                if let (Some(yi), Some(m), "ack") = (d.your_ip, mac, d.message_type) {
                    self.leased(yi, m, f.src, out);
                }
                (mac, ip)
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

    /// A DHCP server (`server`) leased `ip` to `mac`: a device joined the network, with or without
    /// talking to anyone yet. A never-seen one is a `new_device`.
    fn leased(&mut self, ip: IpAddr, mac: [u8; 6], server: IpAddr, out: &mut Vec<Alert>) {
        if ip.is_unspecified() || !unicast(mac) || !self.internal(ip) {
            return;
        }
        if self.touch(ip, Some(mac)) && !self.learning() {
            let names = self
                .link
                .by_mac
                .get(&mac)
                .map(|i| {
                    i.hostnames
                        .iter()
                        .chain(&i.dhcp_vendor_class)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let mac_s = crate::oui::mac_string(mac);
            let seen = if names.is_empty() {
                format!("{ip} leased to {mac_s}")
            } else {
                format!("{ip} leased to {mac_s} ({names})")
            };
            self.new_device_alert(
                out,
                ip,
                server,
                format!("never-seen device {ip} ({mac_s}) got a DHCP lease from {server}"),
                seen,
            );
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

#[cfg(test)]
mod tests {
    use crate::engine::{Config, Mode, Models};
    use crate::{Alert, FlowInfo, Observation, Observed};
    use iomt_parsers::netid::{ArpInfo, DhcpInfo, LinkInfo, MdnsInfo, NetIdEvent};
    use iomt_parsers::{AppEvent, Ts};
    use std::net::IpAddr;

    const PUMP_MAC: [u8; 6] = [0x00, 0x10, 0x5d, 0x01, 0x02, 0x03];
    const ROGUE_MAC: [u8; 6] = [0x00, 0x10, 0x5d, 0x09, 0x09, 0x09];

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn learning() -> Models {
        let cfg = Config {
            mode: Mode::Learn,
            ..Config::default()
        };
        Models::open(cfg, None).unwrap()
    }

    /// A link-layer record as the sensor makes it: no IP flow, the frame's source MAC.
    fn link(mac: [u8; 6]) -> FlowInfo {
        let any = ip("0.0.0.0");
        FlowInfo {
            id: 0,
            src: any,
            sport: 0,
            dst: any,
            dport: 0,
            proto: 0,
            src_mac: Some(mac),
            dst_mac: None,
        }
    }

    fn udp(src: &str, mac: [u8; 6], dst: &str, sport: u16, dport: u16) -> FlowInfo {
        FlowInfo {
            id: 7,
            src: ip(src),
            sport,
            dst: ip(dst),
            dport,
            proto: 17,
            src_mac: Some(mac),
            dst_mac: None,
        }
    }

    fn see(m: &mut Models, t: f64, flow: FlowInfo, e: NetIdEvent) -> Vec<Alert> {
        let ev = AppEvent::NetId(e);
        let mut out = Vec::new();
        m.observe(
            &Observation {
                ts: Ts((t * 1e9) as u64),
                flow,
                what: Observed::App(&ev),
            },
            &mut out,
        );
        out
    }

    fn arp(mac: [u8; 6], addr: &str, op: &'static str) -> NetIdEvent {
        NetIdEvent::Arp(Box::new(ArpInfo {
            op,
            sender_mac: crate::oui::mac_string(mac),
            sender_ip: ip(addr),
            target_mac: "00:00:00:00:00:00".into(),
            target_ip: ip("10.1.0.1"),
        }))
    }

    fn dhcp(kind: &'static str, mac: [u8; 6], your_ip: Option<&str>) -> NetIdEvent {
        NetIdEvent::Dhcp(Box::new(DhcpInfo {
            message_type: kind,
            client_mac: crate::oui::mac_string(mac),
            xid: 1,
            client_ip: None,
            your_ip: your_ip.map(ip),
            requested_ip: None,
            hostname: (kind != "ack").then(|| "pump-ward3-07".into()),
            vendor_class: (kind != "ack").then(|| "MedVendor Infusion 4.2".into()),
            client_id: None,
            param_request_list: vec![1, 3, 6, 15],
            fingerprint: Some("1,3,6,15".into()),
            server_id: None,
            fqdn: None,
            truncated: false,
        }))
    }

    #[test]
    fn dhcp_identity_reaches_the_profile_and_a_new_lease_is_a_new_device() {
        let mut m = learning();
        // Learning: a known pump renews its lease; the ACK makes it a device with its DHCP identity.
        let client = link(PUMP_MAC);
        assert!(see(&mut m, 10.0, client, dhcp("request", PUMP_MAC, None)).is_empty());
        let server = udp("10.1.0.1", [0x00, 0x10, 0x5d, 0, 0, 1], "10.1.0.50", 67, 68);
        assert!(see(
            &mut m,
            10.1,
            server,
            dhcp("ack", PUMP_MAC, Some("10.1.0.50"))
        )
        .is_empty());
        let d = &m.devices()[&ip("10.1.0.50")];
        assert!(d.identity.hostnames.contains("pump-ward3-07"));
        assert!(d
            .identity
            .dhcp_vendor_class
            .contains("MedVendor Infusion 4.2"));
        assert!(d.identity.dhcp_fingerprint.contains("1,3,6,15"));
        // Detecting: the same pump renewing raises nothing; a never-seen MAC leased an address does.
        m.set_mode(Mode::Detect);
        assert!(see(
            &mut m,
            100.0,
            server,
            dhcp("ack", PUMP_MAC, Some("10.1.0.50"))
        )
        .is_empty());
        let a = see(
            &mut m,
            101.0,
            link(ROGUE_MAC),
            dhcp("discover", ROGUE_MAC, None),
        );
        assert!(a.is_empty());
        let a = see(
            &mut m,
            102.0,
            server,
            dhcp("ack", ROGUE_MAC, Some("10.1.0.77")),
        );
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].kind, "new_device");
        assert_eq!(a[0].device_ip, ip("10.1.0.77"));
        assert!(a[0].evidence.seen.contains("pump-ward3-07"), "{:?}", a[0]);
    }

    #[test]
    fn lldp_and_mdns_identity_follow_the_mac_to_the_profile() {
        let mut m = learning();
        let lldp = NetIdEvent::Lldp(Box::new(LinkInfo {
            chassis_id: Some(crate::oui::mac_string(PUMP_MAC)),
            port_id: Some("eth0".into()),
            system_name: Some("infusion-gw-3".into()),
            system_description: Some("Pump gateway fw 2.1".into()),
            platform: None,
            software_version: None,
            mgmt_addrs: vec![],
            capabilities: vec!["station"],
            ttl_s: Some(120),
            truncated: false,
        }));
        // Heard before the device has an address: kept per MAC ...
        see(&mut m, 1.0, link(PUMP_MAC), lldp);
        let mdns = NetIdEvent::Mdns(Box::new(MdnsInfo {
            response: true,
            services: vec!["_dicom._tcp.local".into()],
            instances: vec!["CT01._dicom._tcp.local".into()],
            hostnames: vec!["ct01.local".into()],
            addrs: vec![ip("10.1.0.60")],
            txt: vec![],
            truncated: false,
        }));
        see(
            &mut m,
            2.0,
            udp("10.1.0.60", PUMP_MAC, "224.0.0.251", 5353, 5353),
            mdns,
        );
        // ... and adopted when the MAC shows up behind an address.
        let f = udp("10.1.0.60", PUMP_MAC, "10.1.0.1", 40000, 104);
        let mut out = Vec::new();
        m.observe(
            &Observation {
                ts: Ts(3_000_000_000),
                flow: FlowInfo { proto: 6, ..f },
                what: Observed::FlowStart,
            },
            &mut out,
        );
        let id = &m.devices()[&ip("10.1.0.60")].identity;
        assert!(id.lldp_system_name.contains("infusion-gw-3"), "{id:?}");
        assert!(id.lldp_description.contains("Pump gateway fw 2.1"));
        assert!(id.hostnames.contains("ct01.local"));
        assert!(id.mdns_services.contains("_dicom._tcp.local"));
    }

    #[test]
    fn two_macs_claiming_one_address_is_an_arp_conflict() {
        let mut m = learning();
        // Learning: the binding is learned, and even a conflict then raises nothing.
        assert!(see(
            &mut m,
            1.0,
            link(PUMP_MAC),
            arp(PUMP_MAC, "10.1.0.50", "reply")
        )
        .is_empty());
        m.set_mode(Mode::Detect);
        // The same MAC again, and another MAC for another address: fine.
        assert!(see(
            &mut m,
            50.0,
            link(PUMP_MAC),
            arp(PUMP_MAC, "10.1.0.50", "reply")
        )
        .is_empty());
        assert!(see(
            &mut m,
            51.0,
            link(ROGUE_MAC),
            arp(ROGUE_MAC, "10.1.0.66", "request")
        )
        .is_empty());
        // A different MAC answering for the pump's address a minute later: spoofing.
        let a = see(
            &mut m,
            110.0,
            link(ROGUE_MAC),
            arp(ROGUE_MAC, "10.1.0.50", "reply"),
        );
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].kind, "arp_conflict");
        assert_eq!(a[0].device_ip, ip("10.1.0.50"));
        assert!(
            a[0].evidence.expected.contains("00:10:5d:01:02:03"),
            "{:?}",
            a[0]
        );
        assert!(
            a[0].evidence.seen.contains("00:10:5d:09:09:09"),
            "{:?}",
            a[0]
        );
        // An address that changes hands after the old holder was quiet for over five minutes (a
        // DHCP lease given to another device) is not a conflict.
        assert!(see(
            &mut m,
            400.0,
            link(PUMP_MAC),
            arp(PUMP_MAC, "10.1.0.66", "request")
        )
        .is_empty());
        // Probes (sender 0.0.0.0) bind nothing.
        assert!(see(
            &mut m,
            901.0,
            link(PUMP_MAC),
            arp(PUMP_MAC, "0.0.0.0", "probe")
        )
        .is_empty());
    }
}
