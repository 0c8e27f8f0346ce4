//! IEEE 11073 SDC in clear text: WS-Discovery over UDP, and DPWS / BICEPS SOAP messages over HTTP/1.1.
//!
//! Standards: IEEE 11073-20701-2018 (SDC architecture and binding: §9 discovery scopes, location scope
//! `sdc.ctxt.loc`), IEEE 11073-20702-2016 (MDPWS: the `mdpws:MedicalDevice` type), IEEE 11073-10207
//! (BICEPS message model: reports, states, set/control operations, `InvocationInfo`), OASIS DPWS 1.1
//! (§4 ThisModel/ThisDevice metadata, §6 eventing), OASIS WS-Discovery 1.1 with SOAP-over-UDP 1.1, W3C
//! SOAP 1.2 Part 1 (envelope) and WS-Addressing 1.0 (Action, MessageID, RelatesTo, To), RFC 9112
//! (HTTP/1.1 message framing: §2.2 leading empty lines, §6.3 body length, §7.1 chunked coding).
//!
//! # What is decoded
//!
//! * **Discovery** ([`parse_discovery`], one UDP datagram): Hello, Bye, Probe, ProbeMatches, Resolve,
//!   ResolveMatches with EPR, types (QNames expanded to `{namespace}Local`), scopes, XAddrs, metadata
//!   version, the SDC location scope parts, and `device_class` (`medical`, `onvif`, `printer`,
//!   `computer`, `dpws`, `other`) from the types and scopes, never from the port.
//! * **HTTP/1.1** ([`SdcParser`], reassembled TCP): headers with httparse into a caller-side array of
//!   [`http::MAX_HEADERS`]; Content-Length, chunked and read-until-close bodies; keep-alive with any
//!   number of exchanges; pipelined requests are queued (at most [`http::MAX_PENDING`]) and paired with
//!   responses in order. HEAD/1xx/204/304 responses have no body.
//! * **Content codings**: gzip and deflate bodies (sdc11073 compresses whenever the peer offers it) are
//!   inflated with miniz_oxide into a capped buffer ([`coding`]); other codings are counted only.
//! * **SOAP** (each HTTP body, streamed into a bounded buffer and scanned once with quick-xml): the
//!   WS-Addressing headers, the message name (first element of the Body: `GetMdib`,
//!   `EpisodicMetricReport`, `SetValue`, `Subscribe`, `GetResponse`'s `Metadata`, `Fault`…), DPWS
//!   ThisModel/ThisDevice for the inventory, the operation handle and `InvocationState`/`TransactionId`
//!   of set/control operations and their responses and `OperationInvokedReport`s, WS-Eventing filter
//!   actions and expiry, `MdibVersion`, SOAP fault code/subcode, counts of metric/alert/component/
//!   context/operation states with the descriptor handles involved (first [`soap::MAX_HANDLES`]).
//!   Values are never copied; a `PatientContextState` only sets `patient_context_present`.
//!
//! A response is paired with the request it answers (HTTP order on the connection) and carries
//! `request_message`, and the request's operation handle when the response has none (BICEPS
//! `SetValueResponse` carries only the InvocationInfo). A response whose `RelatesTo` differs from the
//! request's `MessageID` is the anomaly `soap_relates_to_mismatch`. A 2xx response with an empty body
//! (the `202 Accepted` of every notification) only completes the pairing and emits no event.
//!
//! # Caps (allocation per flow is bounded by these, never by a length field)
//!
//! Per flow at most 2 × (16 KiB head + 256 KiB body) of buffers, plus 256 KiB of inflated body while
//! one message is scanned; buffers over 16 KiB are freed after each message.
//!
//! | what | cap | over the cap |
//! |---|---|---|
//! | HTTP header block | [`http::HEAD_CAP`] = 16 KiB | `http_head_over_cap`, resync |
//! | headers per message | [`http::MAX_HEADERS`] = 64 | `http_too_many_headers`, resync |
//! | inflated gzip/deflate body ([`coding`], miniz_oxide) | [`coding::INFLATE_CAP`] = 256 KiB | decoding stops, the prefix is scanned, `body_truncated` (no anomaly: a decompression bomb costs at most the cap) |
//! | body buffered for XML scanning | [`http::BODY_CAP`] = 256 KiB | `http_body_over_cap`; the rest is counted, not stored; the prefix is scanned (WS-Addressing header and the first elements are in it) |
//! | chunk-size line | [`http::CHUNK_LINE_CAP`] = 1 KiB | `http_chunk_invalid`, resync |
//! | trailer section | [`http::TRAILER_CAP`] = 8 KiB | `http_chunk_invalid`, resync |
//! | pipelined requests awaiting a response | [`http::MAX_PENDING`] = 32 | `http_pipeline_overflow` (once per flow: normal when only one direction is visible), oldest dropped |
//! | anomalies per flow | [`http::MAX_ANOMALIES`] = 64 | `too_many_anomalies`, parser gives up (`Done`) |
//! | XML depth / elements / namespace bindings | [`soap::MAX_DEPTH`] 64 / [`soap::MAX_ELEMENTS`] 50 000 / [`soap::MAX_NS_BINDINGS`] 256 | `xml_too_deep` / `xml_too_many_elements` / `xml_malformed`, scan stops, fields found so far are kept |
//! | copied text field / list text / list items / handles / discovery matches | [`soap::MAX_FIELD`] 256 B / [`soap::MAX_LIST_TEXT`] 4 KiB / [`soap::MAX_LIST`] 16 / [`soap::MAX_HANDLES`] 32 / [`soap::MAX_MATCHES`] 16 | cut; `lists_truncated` / `handles_truncated` / `discovery_too_many_matches` |
//!
//! # Anomaly kinds (`anomaly.protocol` = `sdc`)
//!
//! HTTP: `http_malformed_head` (httparse error), `http_head_over_cap`, `http_too_many_headers`,
//! `http_content_length_invalid` (unparsable or conflicting Content-Length), `http_te_and_cl` (both
//! Transfer-Encoding and Content-Length: a request-smuggling pattern, RFC 9112 §6.3 ¶3; chunked wins),
//! `http_transfer_encoding_unsupported` (a request whose final coding is not chunked),
//! `http_chunk_invalid`, `http_body_over_cap`, `http_pipeline_overflow`, `http_incomplete_at_end`
//! (the flow ended inside a message), `http_resync` (bytes skipped to find the next message start after
//! an error or gap), `too_many_anomalies`.
//! SOAP/XML: `not_soap_envelope` (discovery only: over HTTP a non-SOAP XML body such as a WSDL is
//! reported by its root element name), `xml_malformed`, `xml_doctype` (SOAP 1.2 Part 1 §5 forbids DTDs),
//! `xml_too_deep`, `xml_too_many_elements`, `soap_relates_to_mismatch`, `soap_content_encoded` (a
//! body in a content coding other than gzip/deflate: counted, not scanned; raised once per flow),
//! `http_content_decode_error` (a gzip/deflate body that does not inflate; the prefix decoded before
//! the error is scanned).
//! Discovery: `discovery_not_xml`, `discovery_unknown_message`, `discovery_too_many_matches`.

pub mod coding;
pub mod discovery;
pub mod http;
pub mod soap;

pub use discovery::{looks_like_discovery, parse_discovery};
pub use http::{probe, SdcParser};

use serde::Serialize;

/// `sdc.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SdcKind {
    Discovery,
    Soap,
}

/// The EVE `sdc` object (ARCHITECTURE.md, "Protocol events"): a box around [`SdcFields`] (so
/// `AppEvent` stays small), serialised as the fields themselves. Derefs to the fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SdcEvent(pub Box<SdcFields>);

impl std::ops::Deref for SdcEvent {
    type Target = SdcFields;
    fn deref(&self) -> &SdcFields {
        &self.0
    }
}

impl std::ops::DerefMut for SdcEvent {
    fn deref_mut(&mut self) -> &mut SdcFields {
        &mut self.0
    }
}

impl SdcEvent {
    /// An event of the given type with every other field empty.
    pub fn new(kind: SdcKind) -> Self {
        SdcEvent(Box::new(SdcFields::new(kind)))
    }
}

/// The fields of an `sdc` event. `None`/empty fields are left out of the JSON. No field holds metric
/// values or patient data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SdcFields {
    #[serde(rename = "type")]
    pub kind: SdcKind,
    /// WS-Discovery message (`Hello`, …) or the SOAP Body's first element (`GetMdib`, `SetValue`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,

    // Discovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epr: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub xaddrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_version: Option<u64>,
    /// `medical`, `onvif`, `printer`, `computer`, `dpws`, `other` (see [`discovery::classify`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_facility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_building: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_floor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_point_of_care: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_room: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_bed: Option<String>,
    /// A types/scopes/xaddrs list was longer than the cap and was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lists_truncated: Option<bool>,

    // DPWS metadata (GetResponse / GetMetadataResponse ThisModel and ThisDevice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,

    // Set/control operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_handle: Option<String>,
    /// `Wait`, `Start`, `Cnclld`, `CnclldMan`, `Fin`, `FinMod`, `Fail` (BICEPS `InvocationState`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<u64>,

    // Eventing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_actions: Vec<String>,
    /// WS-Eventing `Expires` as sent (an xs:duration or dateTime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,

    // Reports and MDIB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mdib_version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_updates: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_updates: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_updates: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_updates: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_updates: Option<u32>,
    /// Descriptor handles of the states involved (first 32 distinct).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handles_truncated: Option<bool>,
    /// A PatientContext state (or a patient scope) was present; its content is never reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_context_present: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_subcode: Option<String>,

    // HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Body bytes seen (after de-chunking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// The body was longer than the scan buffer, or had a gap: only its prefix was scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// On a response: the message name of the request it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_message: Option<String>,
}

impl SdcFields {
    /// Fields of an event of the given type, every other field empty.
    pub fn new(kind: SdcKind) -> Self {
        SdcFields {
            kind,
            message: None,
            action: None,
            message_id: None,
            relates_to: None,
            to: None,
            epr: None,
            types: Vec::new(),
            scopes: Vec::new(),
            xaddrs: Vec::new(),
            metadata_version: None,
            device_class: None,
            location_facility: None,
            location_building: None,
            location_floor: None,
            location_point_of_care: None,
            location_room: None,
            location_bed: None,
            lists_truncated: None,
            manufacturer: None,
            model: None,
            model_number: None,
            firmware: None,
            serial: None,
            friendly_name: None,
            operation_handle: None,
            invocation_state: None,
            transaction_id: None,
            filter_actions: Vec::new(),
            expires: None,
            mdib_version: None,
            metric_updates: None,
            alert_updates: None,
            component_updates: None,
            context_updates: None,
            operation_updates: None,
            handles: Vec::new(),
            handles_truncated: None,
            patient_context_present: None,
            fault_code: None,
            fault_subcode: None,
            http_method: None,
            http_path: None,
            http_status: None,
            content_length: None,
            content_encoding: None,
            body_truncated: None,
            user_agent: None,
            server: None,
            request_message: None,
        }
    }

    /// Fills the SOAP fields from a scan.
    pub(crate) fn apply_scan(&mut self, s: soap::Scan) {
        let nz = |n: u32| (n > 0).then_some(n);
        // An empty Body (WS-Transfer Get, DPWS §5.1) is named by the last segment of its Action.
        self.message = s.message.or_else(|| {
            let a = s.action.as_deref()?;
            let tail = a.rsplit(['/', ':']).next().filter(|t| !t.is_empty())?;
            Some(soap::capped(tail, 64))
        });
        self.action = s.action;
        self.message_id = s.message_id;
        self.relates_to = s.relates_to;
        self.to = s.to;
        self.manufacturer = s.manufacturer;
        self.model = s.model;
        self.model_number = s.model_number;
        self.firmware = s.firmware;
        self.serial = s.serial;
        self.friendly_name = s.friendly_name;
        self.operation_handle = s.operation_handle;
        self.invocation_state = s.invocation_state;
        self.transaction_id = s.transaction_id;
        self.filter_actions = s.filter_actions;
        self.expires = s.expires;
        self.mdib_version = s.mdib_version;
        self.metric_updates = nz(s.metric_updates);
        self.alert_updates = nz(s.alert_updates);
        self.component_updates = nz(s.component_updates);
        self.context_updates = nz(s.context_updates);
        self.operation_updates = nz(s.operation_updates);
        self.handles = s.handles;
        self.handles_truncated = s.handles_truncated.then_some(true);
        self.patient_context_present = s.patient_context_present.then_some(true);
        self.fault_code = s.fault_code;
        self.fault_subcode = s.fault_subcode;
    }
}

#[cfg(test)]
mod tests {
    //! Real captures: sdc11073 3.0.0 (pip) provider and consumer (its tutorial product, mdib.xml) on
    //! 127.0.0.1 in a private network namespace, plain HTTP, no compression, recorded with tcpdump on lo
    //! (2026-11-23). Fixtures extracted with tshark 4.x:
    //!   `tshark -r sdc11073.pcap -q -z follow,tcp,raw,0` (consumer -> provider Get/Set/eventing) and
    //!   `follow,tcp,raw,1` (provider -> consumer notifications), split into whole HTTP messages; the 4
    //!   `GET ...?wsdl` exchanges (~100 KB WSDL each) were dropped to keep the fixtures small, every other
    //!   message is byte-exact; `tshark -r sdc11073.pcap -Y udp -T fields -e udp.payload` for the 18
    //!   discovery datagrams (stored as 2-byte big-endian length + payload).
    //! Figures checked against tshark: stream 0 has 17 exchanges (13 kept), stream 1 has 14 POSTs each
    //! answered by `200` with Content-Length 0; the GetMdibResponse (`http.file_data`, 16 965 bytes) holds
    //! 36 `State` elements: 9 metric, 6 alert, 8 operation, 2 context (patient, location) and 11 other
    //! component states; UDP: 5 Hello, 5 Probe, 3 ProbeMatches (unicast, ephemeral ports), 5 Bye.
    use super::*;
    use crate::{AppEvent, Direction, StreamParser, Ts};

    const GS_Q: &[u8] = include_bytes!("testdata/sdc11073_consumer_get_set.toserver");
    const GS_R: &[u8] = include_bytes!("testdata/sdc11073_consumer_get_set.toclient");
    const NT_Q: &[u8] = include_bytes!("testdata/sdc11073_provider_notifications.toserver");
    const NT_R: &[u8] = include_bytes!("testdata/sdc11073_provider_notifications.toclient");
    const DISCO: &[u8] = include_bytes!("testdata/sdc11073_discovery.bin");

    fn run_flow(q: &[&[u8]], r: &[&[u8]]) -> Vec<AppEvent> {
        let mut p = SdcParser::new();
        let mut out = Vec::new();
        for s in q {
            let _ = p.feed(Direction::ToServer, s, Ts(0), &mut out);
        }
        for s in r {
            let _ = p.feed(Direction::ToClient, s, Ts(0), &mut out);
        }
        p.end(Ts(1), &mut out);
        out
    }

    fn soap(out: &[AppEvent]) -> Vec<&SdcFields> {
        out.iter()
            .map(|e| match e {
                AppEvent::Sdc(s) => &*s.0,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn names(evs: &[&SdcFields]) -> Vec<String> {
        evs.iter()
            .map(|e| e.message.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn sdc11073_get_set_and_eventing() {
        let out = run_flow(&[GS_Q], &[GS_R]);
        let e = soap(&out);
        assert_eq!(e.len(), 26);
        assert_eq!(
            names(&e[..13]),
            [
                "Get",
                "GetMetadata",
                "GetMetadata",
                "GetMetadata",
                "GetMetadata",
                "Subscribe",
                "Subscribe",
                "GetMdib",
                "SetValue",
                "SetString",
                "Activate",
                "Unsubscribe",
                "Unsubscribe"
            ]
        );
        assert_eq!(
            names(&e[13..]),
            [
                "Metadata",
                "Metadata",
                "Metadata",
                "Metadata",
                "Metadata",
                "SubscribeResponse",
                "SubscribeResponse",
                "GetMdibResponse",
                "SetValueResponse",
                "SetStringResponse",
                "ActivateResponse",
                "UnsubscribeResponse",
                "UnsubscribeResponse"
            ]
        );
        // Every response pairs with its request by HTTP order, and RelatesTo agrees.
        for (q, r) in e[..13].iter().zip(&e[13..]) {
            assert_eq!(r.relates_to, q.message_id);
            assert_eq!(r.request_message, q.message);
            assert_eq!(r.http_status, Some(200));
        }
        // DPWS ThisModel / ThisDevice from the WS-Transfer GetResponse.
        let m = e[13];
        assert_eq!(m.manufacturer.as_deref(), Some("Draeger"));
        assert_eq!(m.model.as_deref(), Some("TestDevice"));
        assert_eq!(m.model_number.as_deref(), Some("1.0"));
        assert_eq!(m.firmware.as_deref(), Some("Version1"));
        assert_eq!(m.serial.as_deref(), Some("12345"));
        assert_eq!(m.friendly_name.as_deref(), Some("TestDevice"));
        // Eventing.
        assert_eq!(e[5].filter_actions.len(), 13);
        assert_eq!(e[6].filter_actions.len(), 1);
        assert!(e[6].filter_actions[0].ends_with("/SetService/OperationInvokedReport"));
        assert_eq!(e[6].expires.as_deref(), Some("PT1M"));
        assert_eq!(e[18].expires.as_deref(), Some("PT15S"));
        // GetMdibResponse state counts (tshark figures in the module comment).
        let g = e[20];
        assert_eq!(g.mdib_version, Some(5));
        assert_eq!(
            (
                g.metric_updates,
                g.alert_updates,
                g.operation_updates,
                g.context_updates,
                g.component_updates
            ),
            (Some(9), Some(6), Some(8), Some(2), Some(11))
        );
        assert_eq!(g.handles.len(), 32);
        assert_eq!(g.handles_truncated, Some(true));
        assert_eq!(g.patient_context_present, Some(true));
        assert_eq!(g.content_length, Some(16965));
        // Remote control: request handle, response InvocationState and TransactionId.
        for (i, h, t) in [
            (8, "numeric.ch0.vmd1_sco_0", 1),
            (9, "string.ch0.vmd1_sco_0", 2),
            (10, "actop.vmd1_sco_0", 3),
        ] {
            assert_eq!(e[i].operation_handle.as_deref(), Some(h));
            assert_eq!(e[i + 13].operation_handle.as_deref(), Some(h));
            assert_eq!(e[i + 13].invocation_state.as_deref(), Some("Wait"));
            assert_eq!(e[i + 13].transaction_id, Some(t));
        }
        // The synthetic patient in the GetMdibResponse never reaches an event.
        assert!(GS_R.windows(7).any(|w| w == b"Synthia"));
        let json = serde_json::to_string(&out).unwrap();
        for phi in ["Synthia", "Testpatient", "PAT-SYNTH-7"] {
            assert!(!json.contains(phi));
        }
    }

    #[test]
    fn sdc11073_notifications() {
        let out = run_flow(&[NT_Q], &[NT_R]);
        let e = soap(&out);
        // 14 POSTs; their 200/Content-Length: 0 answers emit nothing.
        assert_eq!(e.len(), 14);
        let reports = e
            .iter()
            .filter(|e| e.message.as_deref() == Some("EpisodicMetricReport"))
            .count();
        assert_eq!(reports, 5);
        let states: Vec<(&str, &str, u64)> = e
            .iter()
            .filter(|e| e.message.as_deref() == Some("OperationInvokedReport"))
            .map(|e| {
                (
                    e.operation_handle.as_deref().unwrap(),
                    e.invocation_state.as_deref().unwrap(),
                    e.transaction_id.unwrap(),
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                ("numeric.ch0.vmd1_sco_0", "Wait", 1),
                ("numeric.ch0.vmd1_sco_0", "Start", 1),
                ("numeric.ch0.vmd1_sco_0", "Fin", 1),
                ("string.ch0.vmd1_sco_0", "Wait", 2),
                ("string.ch0.vmd1_sco_0", "Start", 2),
                ("string.ch0.vmd1_sco_0", "Fin", 2),
                ("actop.vmd1_sco_0", "Wait", 3),
                ("actop.vmd1_sco_0", "Start", 3),
                ("actop.vmd1_sco_0", "Fin", 3),
            ]
        );
        assert_eq!(e[0].metric_updates, Some(3));
    }

    /// Cuts through the real streams (every 61st byte, and byte-at-a-time) give the one-shot events.
    #[test]
    fn sdc11073_splits_equal_one_shot() {
        for (q, r) in [(GS_Q, GS_R), (NT_Q, NT_R)] {
            let whole = run_flow(&[q], &[r]);
            for cut in (0..=q.len()).step_by(61) {
                assert_eq!(
                    run_flow(&[&q[..cut], &q[cut..]], &[r]),
                    whole,
                    "request cut {cut}"
                );
            }
            for cut in (0..=r.len()).step_by(61) {
                assert_eq!(
                    run_flow(&[q], &[&r[..cut], &r[cut..]]),
                    whole,
                    "response cut {cut}"
                );
            }
            let qs: Vec<&[u8]> = q.chunks(1).collect();
            let rs: Vec<&[u8]> = r.chunks(1).collect();
            assert_eq!(run_flow(&qs, &rs), whole);
        }
    }

    #[test]
    fn sdc11073_probes() {
        assert_eq!(probe(Direction::ToServer, GS_Q), crate::Probe::Yes);
        assert_eq!(probe(Direction::ToClient, GS_R), crate::Probe::Yes);
        assert_eq!(probe(Direction::ToServer, NT_Q), crate::Probe::Yes);
    }

    #[test]
    fn sdc11073_discovery() {
        let mut r = crate::wire::Reader::new(DISCO);
        let mut counts = std::collections::BTreeMap::new();
        let mut n = 0;
        while let Some(len) = r.be_u16() {
            let dg = r.take(usize::from(len)).unwrap();
            assert!(discovery::looks_like_discovery(dg));
            n += 1;
            let mut out = Vec::new();
            parse_discovery(dg, Ts(0), &mut out);
            assert_eq!(out.len(), 1);
            let AppEvent::Sdc(e) = &out[0] else {
                panic!("{out:?}")
            };
            *counts.entry(e.message.clone().unwrap()).or_insert(0) += 1;
            match e.message.as_deref() {
                Some("Hello" | "ProbeMatches") => {
                    assert_eq!(e.device_class.as_deref(), Some("medical"));
                    assert_eq!(
                        e.epr.as_deref(),
                        Some("urn:uuid:beb4c83c-6d20-560a-bc9f-d90c1deb65cc")
                    );
                    assert_eq!(e.location_facility.as_deref(), Some("HOSP"));
                    assert_eq!(e.location_point_of_care.as_deref(), Some("CU2"));
                    assert_eq!(e.location_bed.as_deref(), Some("BedSim"));
                    assert_eq!(
                        e.xaddrs,
                        ["http://127.0.0.1:55999/beb4c83c6d20560abc9fd90c1deb65cc"]
                    );
                    assert_eq!(e.metadata_version, Some(1));
                    assert_eq!(e.scopes.len(), 3);
                }
                Some("Probe") => assert_eq!(e.device_class.as_deref(), Some("medical")),
                Some("Bye") => assert_eq!(e.device_class, None),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(n, 18);
        let want: std::collections::BTreeMap<String, i32> =
            [("Bye", 5), ("Hello", 5), ("Probe", 5), ("ProbeMatches", 3)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
        assert_eq!(counts, want);
    }

    /// The corpus capture `captures/sdc/sdc11073.pcap` (corpus helper, 2026-11-23 18:05: sdc11073 3.0.0
    /// monitor provider 172.30.0.60 with gzip-compressed responses, consumer 172.30.0.70), TCP stream 0
    /// extracted in capture order with `tshark -q -z follow,tcp,raw,0` into records of
    /// (direction byte, u32 BE length, bytes). tshark's HTTP dissector (`-d tcp.port==40515,http -e
    /// http.file_data`, which inflates gzip) shows 25 requests (4 GET ?wsdl, Get, 4 GetMetadata,
    /// 2 Subscribe, GetMdib, SetValue, Activate, 9 Renew, 2 Unsubscribe) and 25 gzip responses; its
    /// GetMdibResponse has 100 `State`s: 64 metric, 8 alert, 8 operation, 2 context, 18 other.
    /// The whole capture (5 streams, 31 datagrams) gave the tshark counts with no anomaly, and none of
    /// the 42 values of `captures/phi/synthetic_patients.tsv` in any event.
    #[test]
    fn corpus_monitor_gzip_stream() {
        let seq = include_bytes!("testdata/corpus_sdc11073_monitor_gzip.seq");
        let run = |step: usize| {
            let mut rd = crate::wire::Reader::new(seq);
            let mut p = SdcParser::new();
            let mut out = Vec::new();
            while let Some(d) = rd.u8() {
                let n = rd.be_u32().unwrap() as usize;
                let data = rd.take(n).unwrap();
                let dir = if d == 0 {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                for c in data.chunks(step) {
                    let _ = p.feed(dir, c, Ts(0), &mut out);
                }
            }
            p.end(Ts(1), &mut out);
            out
        };
        let out = run(usize::MAX);
        let e = soap(&out);
        let count = |req: bool, m: &str| {
            e.iter()
                .filter(|e| {
                    e.http_method.is_some() == req && e.message.as_deref().unwrap_or("") == m
                })
                .count()
        };
        for (m, n) in [
            ("", 4),
            ("Get", 1),
            ("GetMetadata", 4),
            ("Subscribe", 2),
            ("GetMdib", 1),
            ("SetValue", 1),
            ("Activate", 1),
            ("Renew", 9),
            ("Unsubscribe", 2),
        ] {
            assert_eq!(count(true, m), n, "{m}");
        }
        for (m, n) in [
            ("definitions", 4),
            ("Metadata", 5),
            ("SubscribeResponse", 2),
            ("GetMdibResponse", 1),
            ("SetValueResponse", 1),
            ("ActivateResponse", 1),
            ("RenewResponse", 9),
            ("UnsubscribeResponse", 2),
        ] {
            assert_eq!(count(false, m), n, "{m}");
        }
        assert_eq!(e.len(), 50);
        assert!(e
            .iter()
            .filter(|e| e.http_status.is_some())
            .all(|e| e.content_encoding.as_deref() == Some("gzip")));
        let meta = e.iter().find(|e| e.manufacturer.is_some()).unwrap();
        assert_eq!(
            (
                meta.manufacturer.as_deref(),
                meta.model.as_deref(),
                meta.firmware.as_deref(),
                meta.serial.as_deref()
            ),
            (
                Some("SynthMed Devices"),
                Some("SynthMonitor MX40"),
                Some("4.2.17"),
                Some("SMX40-000417")
            )
        );
        let g = e
            .iter()
            .find(|e| e.message.as_deref() == Some("GetMdibResponse"))
            .unwrap();
        assert_eq!(
            (
                g.metric_updates,
                g.alert_updates,
                g.operation_updates,
                g.context_updates,
                g.component_updates
            ),
            (Some(64), Some(8), Some(8), Some(2), Some(18))
        );
        assert_eq!(g.patient_context_present, Some(true));
        let set = e
            .iter()
            .find(|e| e.message.as_deref() == Some("SetValueResponse"))
            .unwrap();
        assert_eq!(set.operation_handle.as_deref(), Some("0x34F04383.op"));
        assert_eq!(set.invocation_state.as_deref(), Some("Fin"));
        let json = serde_json::to_string(&out).unwrap();
        for phi in ["DRAXMOLLEN", "FENWICKZ", "SYNPID8C1L4D", "1955-09-14"] {
            assert!(!json.contains(phi), "{phi}");
        }
        // The same events whatever the segmentation.
        assert_eq!(run(1), out);
        assert_eq!(run(7), out);
        assert_eq!(run(1000), out);
    }

    #[test]
    fn json_skips_empty_fields() {
        let mut e = SdcEvent::new(SdcKind::Soap);
        e.message = Some("SetValue".into());
        e.operation_handle = Some("op".into());
        let json = serde_json::to_string(&AppEvent::Sdc(e)).unwrap();
        assert_eq!(
            json,
            r#"{"type":"soap","message":"SetValue","operation_handle":"op"}"#
        );
    }
}
