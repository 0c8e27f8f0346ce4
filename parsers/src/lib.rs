//! Pure, zero-copy, streaming decoders for the protocols medical devices speak.
//!
//! Bytes in, events out. Nothing here does I/O, spawns threads, reads a clock, keeps globals or logs:
//! capture time is an argument ([`Ts`]).
//!
//! # The stream contract
//!
//! The sensor reassembles each TCP direction and hands the bytes to one [`StreamParser`] per flow (both
//! directions go to the same object, so a parser can pair requests with responses):
//!
//! * [`StreamParser::feed`] takes the next in-order bytes of one direction. The parser **consumes all of
//!   them**: what it must see whole (a PDU header, a DICOM command set, an HL7 MSH segment) it copies into
//!   its own small buffers, each with a hard cap; bulk data (pixel data, metric payloads) it skips by
//!   count and never copies. Any split of the byte stream gives the same events: a header cut in two, many
//!   PDUs in one call, one byte per call.
//! * [`StreamParser::gap`] says `len` bytes of a direction are lost (reassembly gave up on a hole). The
//!   parser resynchronises (probes for a plausible message start) or gives up on the flow.
//! * [`StreamParser::end`] says the flow ended (FIN/RST, idle timeout, eviction, end of capture): the
//!   parser emits what it summarises (a DICOM association summary, unacknowledged HL7 messages).
//!
//! Inside a module, decoders are views that borrow from the input (`FooView<'a>`); what leaves through
//! `out` is an owned, small [`AppEvent`] (no payload bytes, never patient data) that can cross a channel.
//! Allocation is bounded per flow by each parser's documented caps, never sized by a length field.
//!
//! Malformed input yields an [`AppEvent::Anomaly`] with a stable snake_case `kind`; the parser then
//! resynchronises or returns [`Progress::Done`] and ignores the rest of the flow. Nothing panics.
//!
//! Datagram protocols (WS-Discovery over UDP) have plain functions in their module instead.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

mod budget;
pub mod dicom;
pub mod hl7;
pub mod ieee20601;
pub mod netid;
pub mod sdc;
#[cfg(test)]
pub(crate) mod testutil;
pub mod tls;
pub mod wire;

use serde::Serialize;

/// A short owned string in an event: an identifier, code or name, each capped by its parser. Up to 24
/// bytes live inline (no allocation for the usual HL7 code, control id or DICOM AE title), longer ones on
/// the heap. It derefs to `str` and serialises as a JSON string.
pub type Text = compact_str::CompactString;

/// Capture time: nanoseconds since the Unix epoch (UTC). Parsers never read a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Ts(pub u64);

impl Ts {
    pub const fn from_micros(us: u64) -> Ts {
        Ts(us.saturating_mul(1_000))
    }
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }
    /// Saturating difference in nanoseconds (`self - earlier`).
    pub const fn nanos_since(self, earlier: Ts) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Which way bytes flow on a connection, relative to the side that opened it (the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub const fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
    pub const fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// This direction's half of a per-direction pair (`[to_server, to_client]`).
    pub fn of<T>(self, pair: &mut [T; 2]) -> &mut T {
        let [a, b] = pair;
        match self {
            Direction::ToServer => a,
            Direction::ToClient => b,
        }
    }
}

/// Application protocols the sensor decodes over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Dicom,
    Hl7,
    /// SDC: HTTP/SOAP (DPWS, BICEPS) in clear text.
    Sdc,
    Ieee20601,
    Tls,
}

impl Protocol {
    /// The EVE name (`app_proto`, the protocol object's key, `anomaly.protocol`).
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Dicom => "dicom",
            Protocol::Hl7 => "hl7",
            Protocol::Sdc => "sdc",
            Protocol::Ieee20601 => "ieee20601",
            Protocol::Tls => "tls",
        }
    }

    pub const ALL: [Protocol; 5] = [
        Protocol::Dicom,
        Protocol::Hl7,
        Protocol::Sdc,
        Protocol::Ieee20601,
        Protocol::Tls,
    ];
}

/// What a parser says after a `feed`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding.
    Continue,
    /// The parser gave up on this flow (it already emitted the anomaly that says why); the caller may
    /// stop feeding it. Further calls are harmless no-ops.
    Done,
}

/// A protocol-anomaly event: malformed or non-conforming input, named by a stable snake_case `kind`.
/// `detail` describes the problem (lengths, offsets, codes), never payload bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// `dicom`, `hl7`, `sdc`, `ieee20601`, `tls`, `tcp`, `ip`, `capture`.
    pub protocol: &'static str,
    pub kind: &'static str,
    pub detail: String,
}

/// An owned event that leaves a parser. Each variant serialises to the EVE object named by
/// [`AppEvent::event_type`] (ARCHITECTURE.md, "Protocol events").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AppEvent {
    Dicom(dicom::DicomEvent),
    Hl7(hl7::Hl7Event),
    Sdc(sdc::SdcEvent),
    Ieee20601(ieee20601::Ieee20601Event),
    Tls(tls::TlsEvent),
    NetId(netid::NetIdEvent),
    Anomaly(Anomaly),
}

impl AppEvent {
    /// EVE `event_type`, also the key of the protocol object.
    pub const fn event_type(&self) -> &'static str {
        match self {
            AppEvent::Dicom(_) => "dicom",
            AppEvent::Hl7(_) => "hl7",
            AppEvent::Sdc(_) => "sdc",
            AppEvent::Ieee20601(_) => "ieee20601",
            AppEvent::Tls(_) => "tls",
            AppEvent::NetId(e) => e.event_type(),
            AppEvent::Anomaly(_) => "anomaly",
        }
    }

    pub fn anomaly(protocol: &'static str, kind: &'static str, detail: impl Into<String>) -> Self {
        AppEvent::Anomaly(Anomaly {
            protocol,
            kind,
            detail: detail.into(),
        })
    }
}

/// One application parser per TCP flow; see the module docs for the contract.
pub trait StreamParser: Send {
    fn protocol(&self) -> Protocol;
    /// The next in-order bytes of `dir`. All of `data` is consumed.
    fn feed(&mut self, dir: Direction, data: &[u8], ts: Ts, out: &mut Vec<AppEvent>) -> Progress;
    /// `len` bytes of `dir` were lost before the next `feed` of that direction.
    fn gap(&mut self, dir: Direction, len: u64, ts: Ts, out: &mut Vec<AppEvent>) -> Progress;
    /// The flow ended; emit summaries. No call follows.
    fn end(&mut self, ts: Ts, out: &mut Vec<AppEvent>);
}

/// A protocol's verdict on the first bytes of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Not this protocol.
    No,
    /// Could be; show me more bytes (the caller gives up after a bounded amount).
    NeedMore,
    /// This protocol.
    Yes,
}

/// The result of [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detect {
    Found(Protocol),
    NeedMore,
    Unknown,
}

/// Chooses the parser for a flow from its first bytes in one direction (`data` is everything seen so far
/// in that direction, from the start of the stream) and the server port as a hint. Detection is by
/// content: every protocol is recognised on any port; the port only breaks ties.
pub fn detect(dir: Direction, data: &[u8], server_port: u16) -> Detect {
    let hinted = port_hint(server_port);
    let mut any_more = false;
    // The hinted protocol first, so an ambiguous start goes to the expected protocol.
    for p in hinted.into_iter().chain(Protocol::ALL) {
        match probe(p, dir, data) {
            Probe::Yes => return Detect::Found(p),
            Probe::NeedMore => any_more = true,
            Probe::No => {}
        }
    }
    if any_more {
        Detect::NeedMore
    } else {
        Detect::Unknown
    }
}

/// The protocol usually found on a server port.
pub fn port_hint(server_port: u16) -> Option<Protocol> {
    match server_port {
        104 | 11112 | 4242 => Some(Protocol::Dicom),
        2575 => Some(Protocol::Hl7),
        443 | 8443 => Some(Protocol::Tls),
        _ => None,
    }
}

/// One protocol's content probe.
pub fn probe(p: Protocol, dir: Direction, data: &[u8]) -> Probe {
    match p {
        Protocol::Dicom => dicom::probe(dir, data),
        Protocol::Hl7 => hl7::probe(dir, data),
        Protocol::Sdc => sdc::probe(dir, data),
        Protocol::Ieee20601 => ieee20601::probe(dir, data),
        Protocol::Tls => tls::probe(dir, data),
    }
}

/// A fresh parser for a flow of protocol `p`.
pub fn new_parser(p: Protocol) -> Box<dyn StreamParser> {
    match p {
        Protocol::Dicom => Box::new(dicom::DicomParser::new()),
        Protocol::Hl7 => Box::new(hl7::Hl7Parser::new()),
        Protocol::Sdc => Box::new(sdc::SdcParser::new()),
        Protocol::Ieee20601 => Box::new(ieee20601::Ieee20601Parser::new()),
        Protocol::Tls => Box::new(tls::TlsParser::new()),
    }
}
