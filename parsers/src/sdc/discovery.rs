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

/// Whether a UDP payload looks like a WS-Discovery message (for the sensor's UDP dispatch): XML whose
/// first 2 KiB name the WS-Discovery 1.1 or the 2005/04 draft namespace. Unicast ProbeMatches and
/// ResolveMatches travel between ephemeral ports (sdc11073 answers from a port other than 3702), so the
/// port alone misses them.
pub fn looks_like_discovery(datagram: &[u8]) -> bool {
    let head = datagram.get(..2048).unwrap_or(datagram);
    let xml = head
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<' || b == 0xEF);
    xml && [
        &b"docs.oasis-open.org/ws-dd/ns/discovery"[..],
        b"schemas.xmlsoap.org/ws/2005/04/discovery",
    ]
    .iter()
    .any(|ns| head.windows(ns.len()).any(|w| w == *ns))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdc::SdcFields;

    fn events(d: &[u8]) -> (Vec<SdcFields>, Vec<&'static str>) {
        let mut out = Vec::new();
        parse_discovery(d, Ts(0), &mut out);
        let mut evs = Vec::new();
        let mut anomalies = Vec::new();
        for e in out {
            match e {
                AppEvent::Sdc(s) => evs.push(*s.0),
                AppEvent::Anomaly(a) => anomalies.push(a.kind),
                other => panic!("unexpected {other:?}"),
            }
        }
        (evs, anomalies)
    }

    // Modelled on the WS-Discovery 1.1 §4.1 Hello example (printer types, whitespace-padded text).
    #[test]
    fn spec_hello() {
        let (evs, an) = events(include_bytes!("testdata/wsd_hello_spec.xml"));
        assert!(an.is_empty(), "{an:?}");
        assert_eq!(evs.len(), 1);
        let e = &evs[0];
        assert_eq!(e.kind, SdcKind::Discovery);
        assert_eq!(e.message.as_deref(), Some("Hello"));
        assert_eq!(
            e.action.as_deref(),
            Some("http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/Hello")
        );
        assert_eq!(
            e.message_id.as_deref(),
            Some("urn:uuid:73948edc-3204-4455-bae2-7c7d0ff6c37c")
        );
        assert_eq!(
            e.epr.as_deref(),
            Some("urn:uuid:98190dc2-0890-4ef8-ac9a-5940995e6119")
        );
        assert_eq!(
            e.types,
            [
                "{http://printer.example.org/2003/imaging}PrintBasic",
                "{http://printer.example.org/2003/imaging}PrintAdvanced"
            ]
        );
        assert_eq!(e.scopes.len(), 3);
        assert_eq!(e.scopes[2], "http://itdept/imaging/deployment/2004-12-04");
        assert_eq!(e.xaddrs, ["http://prn-example/PRN42/b42-1668-a"]);
        assert_eq!(e.metadata_version, Some(75965));
        assert_eq!(e.device_class.as_deref(), Some("printer"));
    }

    // Modelled on the WS-Discovery 1.1 §5.2 Probe example: the types and scopes searched for.
    #[test]
    fn spec_probe() {
        let (evs, an) = events(include_bytes!("testdata/wsd_probe_spec.xml"));
        assert!(an.is_empty());
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].message.as_deref(), Some("Probe"));
        assert_eq!(evs[0].epr, None);
        assert_eq!(evs[0].scopes, ["ldap:///ou=engineering,o=examplecom,c=us"]);
    }

    // Modelled on the WS-Discovery 1.1 §5.3 ProbeMatches example: one event per match, RelatesTo
    // pairs with the Probe.
    #[test]
    fn spec_probe_matches() {
        let (evs, an) = events(include_bytes!("testdata/wsd_probematches_spec.xml"));
        assert!(an.is_empty());
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].message.as_deref(), Some("ProbeMatches"));
        assert_eq!(
            evs[0].relates_to.as_deref(),
            Some("urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a")
        );
        assert_eq!(evs[0].metadata_version, Some(75965));
    }

    // An SDC provider's Hello: MDPWS MedicalDevice type, location scope per IEEE 11073-20701 §9.4.1.1,
    // and a patient scope that must not be reported.
    #[test]
    fn sdc_hello_is_medical_with_location_and_no_patient_scope() {
        let (evs, an) = events(include_bytes!("testdata/sdc_hello.xml"));
        assert!(an.is_empty());
        let e = &evs[0];
        assert_eq!(e.device_class.as_deref(), Some("medical"));
        assert!(e.types.contains(&format!("{{{NS_MDPWS}}}MedicalDevice")));
        assert_eq!(e.location_facility.as_deref(), Some("HOSP1"));
        assert_eq!(e.location_point_of_care.as_deref(), Some("ICU"));
        assert_eq!(e.location_room.as_deref(), Some("R12"));
        assert_eq!(e.location_bed.as_deref(), Some("Bed3"));
        assert_eq!(e.scopes.len(), 2);
        assert_eq!(e.patient_context_present, Some(true));
        let json = serde_json::to_string(&AppEvent::Sdc(SdcEvent(Box::new(e.clone())))).unwrap();
        assert!(!json.contains("PAT-0042"), "{json}");
        assert!(json.contains("\"type\":\"discovery\""));
    }

    // The Hello sample of Microsoft's WSDAPI documentation ("Hello Message", DPWS 2006/02 and
    // WS-Discovery 2005/04 namespaces, as Windows hosts and WSD printers still send): a plain DPWS device.
    #[test]
    fn wsdapi_hello_is_dpws() {
        let (evs, an) = events(include_bytes!("testdata/wsdapi_hello.xml"));
        assert!(an.is_empty());
        assert_eq!(evs[0].message.as_deref(), Some("Hello"));
        assert_eq!(evs[0].device_class.as_deref(), Some("dpws"));
        assert_eq!(evs[0].metadata_version, Some(2));
        assert_eq!(
            evs[0].epr.as_deref(),
            Some("urn:uuid:37f86d35-e6ac-4241-964f-1d9ae46fb366")
        );
    }

    // WS-Discovery 1.1 §6: Resolve carries only the EPR; ResolveMatches one ResolveMatch with XAddrs.
    #[test]
    fn resolve_and_matches() {
        let env = |body: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:d="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01" xmlns:m="http://standards.ieee.org/downloads/11073/11073-20702-2016"><s:Body>{body}</s:Body></s:Envelope>"#
            )
        };
        let (e, an) = events(
            env("<d:Resolve><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference></d:Resolve>")
                .as_bytes(),
        );
        assert!(an.is_empty());
        assert_eq!(
            (e[0].message.as_deref(), e[0].epr.as_deref()),
            (Some("Resolve"), Some("urn:uuid:1"))
        );
        assert_eq!(e[0].device_class, None);
        let (e, an) = events(
            env("<d:ResolveMatches><d:ResolveMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference><d:Types>m:MedicalDevice</d:Types><d:XAddrs>https://10.1.2.3:6464/x</d:XAddrs><d:MetadataVersion>3</d:MetadataVersion></d:ResolveMatch></d:ResolveMatches>")
                .as_bytes(),
        );
        assert!(an.is_empty());
        assert_eq!(e[0].message.as_deref(), Some("ResolveMatches"));
        assert_eq!(e[0].device_class.as_deref(), Some("medical"));
        assert_eq!(e[0].xaddrs, ["https://10.1.2.3:6464/x"]);
        assert_eq!(e[0].metadata_version, Some(3));
        let (e, _) = events(env("<d:ProbeMatches/>").as_bytes());
        assert_eq!((e.len(), e[0].epr.as_deref()), (1, None));
    }

    #[test]
    fn many_matches_are_capped() {
        let m = "<d:ProbeMatch><a:EndpointReference><a:Address>urn:x</a:Address></a:EndpointReference><d:Types>x:Y</d:Types></d:ProbeMatch>";
        let doc = format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:d="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01"><s:Body><d:ProbeMatches>{}</d:ProbeMatches></s:Body></s:Envelope>"#,
            m.repeat(40)
        );
        let (evs, an) = events(doc.as_bytes());
        assert_eq!(evs.len(), MAX_MATCHES);
        assert_eq!(an, ["discovery_too_many_matches"]);
        assert_eq!(evs[0].device_class.as_deref(), Some("other"));
    }

    #[test]
    fn discovery_lookalike() {
        assert!(looks_like_discovery(include_bytes!(
            "testdata/sdc_hello.xml"
        )));
        assert!(looks_like_discovery(include_bytes!(
            "testdata/wsdapi_hello.xml"
        )));
        assert!(!looks_like_discovery(b"M-SEARCH * HTTP/1.1\r\n"));
        assert!(!looks_like_discovery(b""));
    }

    #[test]
    fn classification() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            classify(
                &t(&["{http://www.onvif.org/ver10/network/wsdl}NetworkVideoTransmitter"]),
                &[]
            ),
            Some("onvif")
        );
        assert_eq!(
            classify(&t(&[&format!("{{{NS_DPWS}}}Device")]), &[]),
            Some("dpws")
        );
        assert_eq!(
            classify(
                &t(&["{http://schemas.microsoft.com/windows/pub/2005/07}Computer"]),
                &[]
            ),
            Some("computer")
        );
        assert_eq!(
            classify(
                &t(&[&format!("{{{NS_DPWS}}}Device")]),
                &t(&["sdc.mds.pkp:1.2.840.10004.20701.1.1"])
            ),
            Some("medical")
        );
        assert_eq!(classify(&[], &[]), None);
    }

    #[test]
    fn malformed_datagrams_are_anomalies() {
        assert_eq!(events(b"M-SEARCH * HTTP/1.1\r\n").1, ["discovery_not_xml"]);
        assert_eq!(events(b"").1, ["discovery_not_xml"]);
        assert_eq!(events(b"<html><body/></html>").1, ["not_soap_envelope"]);
        let unknown = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x:Foo xmlns:x="u"/></s:Body></s:Envelope>"#;
        assert_eq!(events(unknown).1, ["discovery_unknown_message"]);
        let (evs, an) = events(&include_bytes!("testdata/sdc_hello.xml")[..300]);
        assert!(evs.is_empty());
        assert_eq!(an, ["xml_malformed"]);
        let dtd = br#"<!DOCTYPE x [<!ENTITY a "aaaa">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>"#;
        assert_eq!(events(dtd).1, ["xml_doctype"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(d in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let mut out = Vec::new();
            parse_discovery(&d, Ts(0), &mut out);
        }

        #[test]
        fn mutated_hello_never_panics(pos in 0usize..1239, byte in proptest::num::u8::ANY) {
            let mut d = include_bytes!("testdata/sdc_hello.xml").to_vec();
            if let Some(b) = d.get_mut(pos) { *b = byte; }
            let mut out = Vec::new();
            parse_discovery(&d, Ts(0), &mut out);
        }
    }
}
