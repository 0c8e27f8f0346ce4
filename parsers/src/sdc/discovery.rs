//! WS-Discovery 1.1 (OASIS, 1 July 2009) over SOAP-over-UDP 1.1: one datagram in, events out.
//!
//! The sensor calls [`parse_discovery`] for UDP port 3702 (multicast 239.255.255.250 / ff02::c and the
//! unicast replies). Each Hello, Bye, Probe and Resolve gives one `sdc` event of type `discovery`; a
//! ProbeMatches / ResolveMatches gives one event per match (at most [`MAX_MATCHES`]; an empty
//! ProbeMatches gives one event without endpoint). The device class comes from the advertised types
//! and scopes, never from the port: port 3702 is shared by SDC devices, ONVIF cameras, WSD printers and
//! Windows computers.

use super::soap::{self, DiscoEntry, Mode, MAX_MATCHES};
use super::{SdcEvent, SdcFields, SdcKind};
use crate::{AppEvent, Ts};

/// The MDPWS namespace (IEEE 11073-20702-2016 §5; `mdpws:MedicalDevice` is the type every SDC
/// provider's hosting service advertises, 11073-20702 R0001 / 11073-20701 §9.2).
pub const NS_MDPWS: &str = "http://standards.ieee.org/downloads/11073/11073-20702-2016";
/// DPWS 1.1 (`dpws:Device`).
pub const NS_DPWS: &str = "http://docs.oasis-open.org/ws-dd/ns/dpws/2009/01";

/// WS-Discovery message names this function reports (WS-Discovery 1.1 §4–§6).
const MESSAGES: [&str; 6] = [
    "Hello",
    "Bye",
    "Probe",
    "ProbeMatches",
    "Resolve",
    "ResolveMatches",
];

/// Parses one WS-Discovery datagram (the UDP payload). Never panics; malformed input yields `sdc`
/// anomalies (`discovery_not_xml`, `not_soap_envelope`, `xml_*`, `discovery_unknown_message`,
/// `discovery_too_many_matches`). `_ts` is the capture time (events carry no time; the sensor adds it).
pub fn parse_discovery(datagram: &[u8], _ts: Ts, out: &mut Vec<AppEvent>) {
    let start = datagram
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| datagram.get(i..))
        .unwrap_or_default();
    // UTF-8 BOM is allowed before the XML declaration.
    let start = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(start);
    if start.first() != Some(&b'<') {
        out.push(AppEvent::anomaly(
            "sdc",
            "discovery_not_xml",
            format!("{}-byte datagram does not start with '<'", datagram.len()),
        ));
        return;
    }
    let scan = soap::scan(start, Mode::Discovery, false);
    for (kind, detail) in &scan.anomalies {
        out.push(AppEvent::anomaly("sdc", kind, detail.clone()));
    }
    if !scan.envelope {
        return;
    }
    let Some(message) = scan.message.as_deref() else {
        out.push(AppEvent::anomaly(
            "sdc",
            "discovery_unknown_message",
            "SOAP body is empty",
        ));
        return;
    };
    let Some(&message) = MESSAGES.iter().find(|m| **m == message) else {
        out.push(AppEvent::anomaly(
            "sdc",
            "discovery_unknown_message",
            format!("body element {message} is not a WS-Discovery message"),
        ));
        return;
    };
    if scan.matches_truncated {
        out.push(AppEvent::anomaly(
            "sdc",
            "discovery_too_many_matches",
            format!("more than {MAX_MATCHES} matches in one {message}"),
        ));
    }
    let base = SdcEvent(Box::new(SdcFields {
        message: Some(message.to_owned()),
        action: scan.action.clone(),
        message_id: scan.message_id.clone(),
        relates_to: scan.relates_to.clone(),
        ..SdcFields::new(SdcKind::Discovery)
    }));
    if scan.entries.is_empty() {
        out.push(AppEvent::Sdc(base));
        return;
    }
    for entry in scan.entries {
        out.push(AppEvent::Sdc(entry_event(base.clone(), entry)));
    }
}

fn entry_event(mut ev: SdcEvent, e: DiscoEntry) -> SdcEvent {
    ev.device_class = classify(&e.types, &e.scopes).map(str::to_owned);
    if let Some(loc) = e.scopes.iter().find_map(|s| Location::parse(s)) {
        ev.location_facility = loc.fac;
        ev.location_building = loc.bldng;
        ev.location_floor = loc.flr;
        ev.location_point_of_care = loc.poc;
        ev.location_room = loc.rm;
        ev.location_bed = loc.bed;
    }
    ev.epr = e.epr;
    ev.types = e.types;
    ev.scopes = e.scopes;
    ev.xaddrs = e.xaddrs;
    ev.metadata_version = e.metadata_version;
    if e.lists_truncated {
        ev.lists_truncated = Some(true);
    }
    if e.patient_scope {
        ev.patient_context_present = Some(true);
    }
    ev
}

/// `medical` (SDC: MDPWS MedicalDevice type or an `sdc.` scope of IEEE 11073-20701 §9.4), `onvif`,
/// `printer` (WSD print/scan services), `computer` (Windows `pub:Computer`), `dpws` (any other
/// `dpws:Device`), `other` (types or scopes that match none of these); `None` when the message
/// advertises neither (a Bye, a Resolve).
pub fn classify(types: &[String], scopes: &[String]) -> Option<&'static str> {
    if types.is_empty() && scopes.is_empty() {
        return None;
    }
    let type_in = |ns_frag: &str, local: &str| {
        types.iter().any(|t| {
            let (ns, l) = split_clark(t);
            ns.contains(ns_frag) && (local.is_empty() || l == local)
        })
    };
    let medical_type = types.iter().any(|t| {
        let (ns, l) = split_clark(t);
        l == "MedicalDevice" && (ns == NS_MDPWS || ns.contains("11073"))
    });
    let sdc_scope = scopes.iter().any(|s| {
        let s = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        s.starts_with("sdc.")
    });
    if medical_type || sdc_scope {
        return Some("medical");
    }
    if type_in("onvif.org", "") || scopes.iter().any(|s| s.starts_with("onvif://")) {
        return Some("onvif");
    }
    if types.iter().any(|t| {
        let (ns, l) = split_clark(t);
        ns.contains("/print") || ns.contains("/scan") || l.contains("Print") || l.contains("Scan")
    }) {
        return Some("printer");
    }
    if type_in("schemas.microsoft.com/windows/pub", "Computer") {
        return Some("computer");
    }
    if type_in(NS_DPWS, "Device") || type_in("schemas.xmlsoap.org/ws/2006/02/devprof", "Device") {
        return Some("dpws");
    }
    Some("other")
}

/// `{ns}local` into (ns, local); a QName that did not resolve gives ("", local part).
fn split_clark(t: &str) -> (&str, &str) {
    if let Some(rest) = t.strip_prefix('{') {
        if let Some((ns, local)) = rest.split_once('}') {
            return (ns, local);
        }
    }
    ("", t.rsplit(':').next().unwrap_or(t))
}

/// The location parts of an SDC location scope (IEEE 11073-20701 §9.4.1.1):
/// `sdc.ctxt.loc:/sdc.ctxt.loc.detail/<ext>%2F<root>?fac=..&bldng=..&poc=..&flr=..&rm=..&bed=..`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub fac: Option<String>,
    pub bldng: Option<String>,
    pub poc: Option<String>,
    pub flr: Option<String>,
    pub rm: Option<String>,
    pub bed: Option<String>,
}

impl Location {
    pub fn parse(scope: &str) -> Option<Location> {
        let head = scope.get(..13)?;
        if !head.eq_ignore_ascii_case("sdc.ctxt.loc:") {
            return None;
        }
        let (_, query) = scope.split_once('?')?;
        let mut loc = Location::default();
        for pair in query.split('&') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let v = percent_decode(v);
            if v.is_empty() {
                continue;
            }
            let slot = match k {
                "fac" => &mut loc.fac,
                "bldng" => &mut loc.bldng,
                "poc" => &mut loc.poc,
                "flr" => &mut loc.flr,
                "rm" => &mut loc.rm,
                "bed" => &mut loc.bed,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        Some(loc)
    }
}

/// RFC 3986 percent-decoding of a short value (input is already capped); invalid escapes stay as is,
/// invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b.get(i.saturating_add(1)..i.saturating_add(3));
            if let Some(v) = hex
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i = i.saturating_add(3);
                continue;
            }
        }
        out.push(c);
        i = i.saturating_add(1);
    }
    String::from_utf8_lossy(&out).into_owned()
}
