//! Records: what the engine produces for outputs and models (small, owned, no payload bytes), and their
//! EVE JSON form (ARCHITECTURE.md, "EVE JSON lines").

use crate::flow::{EndReason, Flow};
use iomt_parsers::{AppEvent, Direction, Ts};
use serde::Serialize;
use std::io::Write;
use std::net::IpAddr;

/// The flow an event belongs to, oriented as the event: `src` sent the bytes that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRef {
    pub id: u64,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub proto: u8,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
}

impl FlowRef {
    /// A link-layer record's reference (ARP, LLDP, CDP): no IP flow, only the frame's MACs.
    pub fn is_link(&self) -> bool {
        self.proto == 0 && self.id == 0
    }

    pub fn of(f: &Flow, dir: Direction) -> FlowRef {
        let (a, b) = match dir {
            Direction::ToServer => (&f.client, &f.server),
            Direction::ToClient => (&f.server, &f.client),
        };
        FlowRef {
            id: f.id,
            src: a.ip,
            sport: a.port,
            dst: b.ip,
            dport: b.port,
            proto: f.proto,
            src_mac: a.mac,
            dst_mac: b.mac,
        }
    }
}

/// The EVE `flow` object: a flow that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRecord {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    #[serde(serialize_with = "ser_ts")]
    pub start: Ts,
    #[serde(serialize_with = "ser_ts")]
    pub end: Ts,
    pub state: &'static str,
    pub reason: &'static str,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub app_proto: &'static str,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_mac")]
    pub client_mac: Option<[u8; 6]>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_mac")]
    pub server_mac: Option<[u8; 6]>,
    #[serde(skip_serializing_if = "is_zero")]
    pub vlan: u16,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

fn ser_ts<S: serde::Serializer>(ts: &Ts, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Rfc3339(*ts))
}

/// Displays a MAC address as `aa:bb:cc:dd:ee:ff` without allocating.
pub struct Mac(pub [u8; 6]);

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

fn ser_mac<S: serde::Serializer>(m: &Option<[u8; 6]>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.collect_str(&Mac(*m)),
        None => s.serialize_none(),
    }
}

impl FlowRecord {
    pub fn of(f: &Flow, reason: EndReason) -> FlowRecord {
        let streams = || f.streams.iter().flat_map(|s| s.iter());
        let gaps = streams().map(|s| s.counters.gaps).sum();
        let gap_bytes = streams().map(|s| s.counters.gap_bytes).sum();
        FlowRecord {
            pkts_toserver: f.pkts[0],
            pkts_toclient: f.pkts[1],
            bytes_toserver: f.bytes[0],
            bytes_toclient: f.bytes[1],
            start: f.first,
            end: f.last,
            state: f.state.name(),
            reason: reason.name(),
            gaps,
            gap_bytes,
            app_proto: f.app.protocol().map(|p| p.name()).unwrap_or("unknown"),
            client_mac: f.client.mac,
            server_mac: f.server.mac,
            vlan: f.vlan,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A flow's first packet: for the models only, never written to EVE.
    FlowStart,
    /// A flow ended.
    Flow(FlowRecord),
    App(AppEvent),
    /// Boxed: alerts are rare and large, records are many.
    Alert(Box<iomt_models::Alert>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub ts: Ts,
    pub flow: Option<FlowRef>,
    pub body: Body,
}

impl Record {
    pub fn event_type(&self) -> &'static str {
        match &self.body {
            Body::FlowStart => "flow_start",
            Body::Flow(_) => "flow",
            Body::App(e) => e.event_type(),
            Body::Alert(_) => "alert",
        }
    }

    /// Writes the record as one EVE JSON line (with the trailing newline).
    pub fn write_eve(&self, w: &mut Vec<u8>) {
        let et = self.event_type();
        let _ = write!(w, "{{\"timestamp\":\"{}\"", Rfc3339(self.ts));
        if let Some(f) = self.flow.filter(FlowRef::is_link) {
            // A link-layer record (ARP, LLDP, CDP): no IP flow, the frame's MACs.
            for (k, m) in [("src_mac", f.src_mac), ("dest_mac", f.dst_mac)] {
                if let Some(m) = m {
                    let _ = write!(w, ",\"{k}\":\"{}\"", Mac(m));
                }
            }
        } else if let Some(f) = &self.flow {
            let _ = write!(
                w,
                ",\"flow_id\":{},\"src_ip\":\"{}\",\"src_port\":{},\"dest_ip\":\"{}\",\"dest_port\":{},\"proto\":\"{}\"",
                f.id,
                f.src,
                f.sport,
                f.dst,
                f.dport,
                proto_name(f.proto)
            );
        }
        let _ = write!(w, ",\"event_type\":\"{et}\"");
        if let Body::Flow(fr) = &self.body {
            let _ = write!(w, ",\"app_proto\":\"{}\"", fr.app_proto);
        }
        let _ = write!(w, ",\"{et}\":");
        let _ = match &self.body {
            Body::FlowStart => serde_json::to_writer(&mut *w, &serde_json::Map::new()),
            Body::Flow(fr) => serde_json::to_writer(&mut *w, fr),
            Body::App(AppEvent::Anomaly(a)) => serde_json::to_writer(&mut *w, a),
            Body::App(e) => serde_json::to_writer(&mut *w, e),
            Body::Alert(a) => serde_json::to_writer(&mut *w, a),
        };
        w.extend_from_slice(b"}\n");
    }
}

pub fn proto_name(p: u8) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "IPv6-ICMP".into(),
        n => n.to_string(),
    }
}

/// RFC 3339 in UTC with microseconds: `2026-11-23T17:30:51.123456Z`.
pub fn rfc3339(ts: Ts) -> String {
    Rfc3339(ts).to_string()
}

/// Displays a timestamp as RFC 3339 (UTC, microseconds) without allocating.
pub struct Rfc3339(pub Ts);

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ts = self.0;
        let secs = ts.0 / 1_000_000_000;
        let micros = (ts.0 % 1_000_000_000) / 1_000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records and flows are held by the hundred thousand under a SYN flood: keep them small.
    #[test]
    fn records_and_flows_stay_small() {
        assert!(
            std::mem::size_of::<Record>() <= 224,
            "{}",
            std::mem::size_of::<Record>()
        );
        assert!(
            std::mem::size_of::<crate::flow::Flow>() <= 192,
            "{}",
            std::mem::size_of::<crate::flow::Flow>()
        );
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(Ts(0)), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29T12:34:56.789012Z = 951827696 s
        assert_eq!(
            rfc3339(Ts(951_827_696_789_012_345)),
            "2000-02-29T12:34:56.789012Z"
        );
        assert_eq!(
            rfc3339(Ts(1_795_455_051_000_000_000)),
            "2026-11-23T17:30:51.000000Z"
        );
    }
}
