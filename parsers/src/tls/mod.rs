//! TLS handshake metadata: record framing, ClientHello / ServerHello, alerts in clear, JA4/JA4S. No
//! decryption.
//!
//! # Standards
//! * Record layer: RFC 8446 §5.1 (TLSPlaintext: type, legacy_record_version, u16 length ≤ 2^14; a
//!   TLSCiphertext may reach 2^14 + 256, TLS 1.2 RFC 5246 §6.2.3 allows 2^14 + 2048); content types 20
//!   change_cipher_spec, 21 alert, 22 handshake, 23 application_data, 24 heartbeat (RFC 6520).
//! * Handshake framing: RFC 8446 §4 (u8 msg_type, u24 length). Messages may span records and a record
//!   may hold several messages: they are reassembled here.
//! * ClientHello RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2; ServerHello and HelloRetryRequest RFC 8446
//!   §4.1.3; extensions RFC 8446 §4.2: server_name (RFC 6066 §3), supported_groups, signature_algorithms,
//!   ALPN (RFC 7301), supported_versions. GREASE (RFC 8701) is ignored everywhere.
//! * Alerts RFC 8446 §6 (level, description), reported while in clear.
//! * Fingerprints: FoxIO JA4 / JA4S (see [`ja4`]).
//!
//! # What is decoded, what is skipped
//! Each direction is framed record by record (5-byte header, body skipped by count). Handshake records
//! in clear go through a handshake reassembler: ClientHello and ServerHello bodies are copied into a
//! buffer capped at [`MAX_HANDSHAKE`] (64 KiB) and decoded; every other handshake message (Certificate,
//! key exchange, …) is skipped by count. A direction turns opaque after application data, after its
//! ChangeCipherSpec when the negotiated version is below TLS 1.3 (in TLS 1.3 CCS is a compatibility
//! no-op, RFC 8446 §D.4, and a client may still send a second ClientHello after it), or when a handshake
//! message type is unknown (encrypted Finished without a visible CCS). Opaque records are only counted
//! (records and bytes), so the cost of a long session is one 5-byte header per record.
//!
//! # Events
//! [`TlsEvent`] with `type`:
//! * `client_hello`: `client_versions`, `sni`, `alpn_offered`, `cipher_suites` (offered, names for
//!   common IANA suites, else hex), `signature_algorithms`, `supported_groups`, `extensions`, `ja4`;
//! * `server_hello`: negotiated `version`, `cipher_suite`, `alpn`, `ja4s`, `hello_retry_request`, plus
//!   the `sni` and `ja4` of the ClientHello it answers (so one event describes the session);
//! * `alert`: `alert_level`, `alert_description`, `from` (`client`/`server`), only while in clear;
//! * `session_end` (at [`StreamParser::end`]): record and opaque byte counts.
//!
//! # Caps and anomalies (`AppEvent::anomaly("tls", kind, …)`)
//! Lists keep at most [`hello::MAX_LIST`] (128) entries, ALPN 16 names, strings 255 bytes (non-printable
//! bytes escaped as `\xNN`). Per direction: a 5-byte header buffer, a 4-byte handshake header, the
//! hello buffer (≤ 64 KiB, released after decoding). Kinds: `bad_record_type`, `bad_record_version`,
//! `record_too_long`, `handshake_too_long`, `interleaved_handshake`, `unknown_handshake_type`,
//! `malformed_client_hello`, `malformed_server_hello`, `malformed_extension`, `duplicate_extension`,
//! `trailing_bytes`, `sni_not_printable`, `heartbeat_in_clear`, `resync_failed`, `more_anomalies` (at
//! most 8 anomalies are reported per hello, then this one with the count of the rest),
//! `anomalies_suppressed` (at [`StreamParser::end`], when more than [`MAX_ANOMALIES_PER_FLOW`] (100)
//! anomalies were raised in the flow: the rest are counted, not reported). After a framing error
//! or a gap past the current record the direction hunts for a plausible record header (sliding 5-byte
//! window) for up to [`HUNT_LIMIT`] bytes, then gives up (`resync_failed`); when both directions gave up
//! `feed` returns [`Progress::Done`].

pub mod hello;
pub mod ja4;

use crate::wire::CapBuf;
use crate::{AppEvent, Direction, Probe, Progress, Protocol, StreamParser, Ts};
use hello::{parse_client_hello, parse_server_hello, ClientHelloView, ServerHelloView};
use serde::Serialize;

/// Largest record body accepted (RFC 5246 §6.2.3 TLSCiphertext bound).
pub const MAX_RECORD: usize = 16384 + 2048;
/// Largest ClientHello/ServerHello reassembled.
pub const MAX_HANDSHAKE: usize = 64 * 1024;
/// Bytes scanned for a record header after losing framing before giving up on a direction.
pub const HUNT_LIMIT: u64 = 64 * 1024;
/// Alerts reported per alert record (a record may carry several 2-byte alerts).
const MAX_ALERTS_PER_RECORD: usize = 4;
/// Longest SNI / ALPN string kept (bytes of input).
const MAX_STR: usize = 255;

const CT_CCS: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPDATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;

/// The EVE `tls` object: a box around [`TlsInfo`] (serialised transparently), so that
/// [`AppEvent`] stays small whatever the number of fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TlsEvent(pub Box<TlsInfo>);

impl std::ops::Deref for TlsEvent {
    type Target = TlsInfo;
    fn deref(&self) -> &TlsInfo {
        &self.0
    }
}

impl From<TlsInfo> for TlsEvent {
    fn from(i: TlsInfo) -> Self {
        TlsEvent(Box::new(i))
    }
}

/// The fields of the EVE `tls` object. Empty and absent fields are not serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TlsInfo {
    /// `client_hello`, `server_hello`, `alert`, `session_end`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Negotiated version (`TLS 1.3`, `TLS 1.2`, …), on `server_hello`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Versions the client offered (supported_versions, else its legacy_version).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_versions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// Selected cipher suite (IANA name or `0x....`), on `server_hello`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// Offered cipher suites, on `client_hello`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    /// Selected ALPN protocol, on `server_hello`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// Offered ALPN protocols, on `client_hello`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn_offered: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signature_algorithms: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supported_groups: Vec<u16>,
    /// Extension types in wire order (GREASE removed on the client side).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4s: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hello_retry_request: bool,
    /// `warning`, `fatal` or the number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_level: Option<String>,
    /// RFC 8446 §6 name or the number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_description: Option<String>,
    /// Who sent an alert: `client` or `server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_toserver: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_toclient: Option<u64>,
    /// Bytes of records that were not inspected (encrypted), both directions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opaque_bytes: Option<u64>,
}

/// The name used in `version` / `client_versions`.
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0200 | 0x0002 => "SSL 2.0".into(),
        _ => format!("0x{v:04x}"),
    }
}

/// IANA name of common cipher suites, else `0x....`.
pub fn cipher_name(c: u16) -> String {
    let name = match c {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0x1304 => "TLS_AES_128_CCM_SHA256",
        0x1305 => "TLS_AES_128_CCM_8_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccaa => "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccab => "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xccac => "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc0ac => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        0xc0ad => "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
        0xc0ae => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        0xc0af => "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
        0xc037 => "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
        0xd001 => "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x00a8 => "TLS_PSK_WITH_AES_128_GCM_SHA256",
        0x00a9 => "TLS_PSK_WITH_AES_256_GCM_SHA384",
        0x00ae => "TLS_PSK_WITH_AES_128_CBC_SHA256",
        0x00af => "TLS_PSK_WITH_AES_256_CBC_SHA384",
        0xc0a4 => "TLS_PSK_WITH_AES_128_CCM",
        0xc0a8 => "TLS_PSK_WITH_AES_128_CCM_8",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x0067 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        0x006b => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x0004 => "TLS_RSA_WITH_RC4_128_MD5",
        0x0000 => "TLS_NULL_WITH_NULL_NULL",
        0x0001 => "TLS_RSA_WITH_NULL_MD5",
        0x0002 => "TLS_RSA_WITH_NULL_SHA",
        0x003b => "TLS_RSA_WITH_NULL_SHA256",
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x5600 => "TLS_FALLBACK_SCSV",
        _ => return format!("0x{c:04x}"),
    };
    name.to_string()
}

fn alert_description(d: u8) -> String {
    let name = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return d.to_string(),
    };
    name.to_string()
}

/// Printable ASCII kept, anything else as `\xNN`; at most [`MAX_STR`] input bytes.
fn printable(b: &[u8]) -> (String, bool) {
    let mut s = String::with_capacity(b.len().min(MAX_STR));
    let mut clean = true;
    for &c in b.iter().take(MAX_STR) {
        if (0x20..0x7f).contains(&c) && c != b'\\' {
            s.push(char::from(c));
        } else {
            clean = false;
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    (s, clean)
}

fn plausible_header(h: &[u8; 5]) -> bool {
    let [typ, major, minor, hi, lo] = *h;
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    (CT_CCS..=CT_HEARTBEAT).contains(&typ)
        && major == 3
        && minor <= 4
        && len > 0
        && len <= MAX_RECORD
}

/// Content probe: a handshake record (0x16 0x03 0x0X, sane length) starting a ClientHello (to the
/// server) or ServerHello (to the client, when the capture missed the client's first bytes).
pub fn probe(dir: Direction, data: &[u8]) -> Probe {
    let want_hs = match dir {
        Direction::ToServer => HS_CLIENT_HELLO,
        Direction::ToClient => HS_SERVER_HELLO,
    };
    let checks: [&dyn Fn(u8) -> bool; 3] = [&|b| b == CT_HANDSHAKE, &|b| b == 3, &|b| b <= 4];
    for (i, check) in checks.iter().enumerate() {
        match data.get(i) {
            None => return Probe::NeedMore,
            Some(&b) if !check(b) => return Probe::No,
            Some(_) => {}
        }
    }
    let (Some(&hi), Some(&lo)) = (data.get(3), data.get(4)) else {
        return Probe::NeedMore;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if !(4..=MAX_RECORD).contains(&len) {
        return Probe::No;
    }
    match data.get(5) {
        None => Probe::NeedMore,
        Some(&t) if t == want_hs => Probe::Yes,
        Some(_) => Probe::No,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecState {
    /// Collecting the 5-byte record header in `hdr`.
    Header,
    /// Inside a record body of type `typ` with `left` bytes to go.
    Body { typ: u8, left: usize },
    /// Framing lost: sliding a 5-byte window over the input.
    Hunt { scanned: u64 },
    /// Given up on this direction.
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HsState {
    /// Collecting a 4-byte handshake header.
    Header,
    /// Copying a ClientHello/ServerHello body (`left` bytes to go).
    Keep { typ: u8, left: usize },
    /// Skipping another handshake message by count.
    Skip { left: usize },
}

#[derive(Debug)]
struct Dir {
    hdr: [u8; 5],
    hdr_len: usize,
    rec: RecState,
    /// No further inspection of this direction's records (encryption started).
    opaque: bool,
    hs: HsState,
    hs_hdr: [u8; 4],
    hs_hdr_len: usize,
    hs_buf: CapBuf,
    alert: [u8; 2],
    alert_len: usize,
    /// Alerts seen in the current alert record (only the first few are reported).
    alerts_in_record: usize,
    records: u64,
    opaque_bytes: u64,
}

impl Dir {
    fn new() -> Self {
        Dir {
            hdr: [0; 5],
            hdr_len: 0,
            rec: RecState::Header,
            opaque: false,
            hs: HsState::Header,
            hs_hdr: [0; 4],
            hs_hdr_len: 0,
            hs_buf: CapBuf::new(MAX_HANDSHAKE),
            alert: [0; 2],
            alert_len: 0,
            alerts_in_record: 0,
            records: 0,
            opaque_bytes: 0,
        }
    }

    fn reset_handshake(&mut self) {
        self.hs = HsState::Header;
        self.hs_hdr_len = 0;
        self.hs_buf.release();
    }

    fn handshake_pending(&self) -> bool {
        self.hs != HsState::Header || self.hs_hdr_len != 0
    }
}

/// What the client said, carried onto the `server_hello` event.
#[derive(Debug, Clone, Default)]
struct ClientSummary {
    sni: Option<String>,
    ja4: Option<String>,
}

use crate::budget::AnomalyBudget;
pub use crate::budget::MAX_ANOMALIES_PER_FLOW;

/// One TLS connection (both directions).
#[derive(Debug)]
pub struct TlsParser {
    dirs: [Dir; 2],
    client: Option<ClientSummary>,
    /// Version chosen by the last ServerHello.
    negotiated: Option<u16>,
    budget: AnomalyBudget,
}

impl Default for TlsParser {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsParser {
    pub fn new() -> Self {
        TlsParser {
            dirs: [Dir::new(), Dir::new()],
            client: None,
            negotiated: None,
            budget: AnomalyBudget::default(),
        }
    }

    fn dir_mut(&mut self, dir: Direction) -> &mut Dir {
        dir.of(&mut self.dirs)
    }

    fn progress(&self) -> Progress {
        if self.dirs.iter().all(|d| d.rec == RecState::Dead) {
            Progress::Done
        } else {
            Progress::Continue
        }
    }

    fn lose_framing(
        &mut self,
        dir: Direction,
        kind: &'static str,
        detail: String,
        out: &mut Vec<AppEvent>,
    ) {
        out.push(AppEvent::anomaly("tls", kind, detail));
        let d = self.dir_mut(dir);
        d.rec = RecState::Hunt { scanned: 0 };
        d.hdr_len = 0;
        d.reset_handshake();
        d.alert_len = 0;
    }

    /// A complete record header is in `hdr`.
    fn on_header(&mut self, dir: Direction, out: &mut Vec<AppEvent>) {
        let d = self.dir_mut(dir);
        let [typ, major, minor, hi, lo] = d.hdr;
        d.hdr_len = 0;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if !(CT_CCS..=CT_HEARTBEAT).contains(&typ) {
            return self.lose_framing(
                dir,
                "bad_record_type",
                format!("record content type {typ}"),
                out,
            );
        }
        if major != 3 || minor > 4 {
            return self.lose_framing(
                dir,
                "bad_record_version",
                format!("record version 0x{major:02x}{minor:02x}"),
                out,
            );
        }
        if len > MAX_RECORD {
            return self.lose_framing(
                dir,
                "record_too_long",
                format!("record length {len} > {MAX_RECORD}"),
                out,
            );
        }
        d.records = d.records.saturating_add(1);
        d.alerts_in_record = 0;
        if typ != CT_ALERT {
            // An alert cut across records continues only in the next alert record.
            d.alert_len = 0;
        }
        if !d.opaque && typ != CT_HANDSHAKE && d.handshake_pending() {
            d.reset_handshake();
            out.push(AppEvent::anomaly(
                "tls",
                "interleaved_handshake",
                format!("record type {typ} inside a fragmented handshake message"),
            ));
        }
        if typ == CT_APPDATA {
            d.opaque = true;
        }
        if typ == CT_HEARTBEAT && !d.opaque {
            out.push(AppEvent::anomaly(
                "tls",
                "heartbeat_in_clear",
                format!("heartbeat record of {len} bytes before encryption"),
            ));
        }
        d.rec = RecState::Body { typ, left: len };
        if len == 0 {
            self.on_record_end(dir, typ);
        }
    }

    fn on_record_end(&mut self, dir: Direction, typ: u8) {
        let tls13 = self.negotiated == Some(0x0304);
        let d = self.dir_mut(dir);
        d.rec = RecState::Header;
        if typ == CT_CCS && !tls13 {
            d.opaque = true;
            d.reset_handshake();
        }
    }

    fn on_body(&mut self, dir: Direction, typ: u8, chunk: &[u8], out: &mut Vec<AppEvent>) {
        let d = self.dir_mut(dir);
        if d.opaque {
            d.opaque_bytes = d.opaque_bytes.saturating_add(chunk.len() as u64);
            return;
        }
        match typ {
            CT_HANDSHAKE => self.on_handshake_bytes(dir, chunk, out),
            CT_ALERT => {
                for &b in chunk {
                    if let Some(slot) = d.alert.get_mut(d.alert_len) {
                        *slot = b;
                        d.alert_len = d.alert_len.saturating_add(1);
                    }
                    if d.alert_len == 2 {
                        d.alert_len = 0;
                        d.alerts_in_record = d.alerts_in_record.saturating_add(1);
                        if d.alerts_in_record > MAX_ALERTS_PER_RECORD {
                            continue;
                        }
                        let [level, desc] = d.alert;
                        out.push(AppEvent::Tls(TlsEvent::from(TlsInfo {
                            kind: "alert",
                            alert_level: Some(match level {
                                1 => "warning".into(),
                                2 => "fatal".into(),
                                n => n.to_string(),
                            }),
                            alert_description: Some(alert_description(desc)),
                            from: Some(match dir {
                                Direction::ToServer => "client",
                                Direction::ToClient => "server",
                            }),
                            ..Default::default()
                        })));
                    }
                }
            }
            _ => {}
        }
    }

    /// Handshake-protocol bytes (reassembly across and within records).
    fn on_handshake_bytes(&mut self, dir: Direction, mut chunk: &[u8], out: &mut Vec<AppEvent>) {
        while !chunk.is_empty() {
            let d = self.dir_mut(dir);
            if d.opaque {
                d.opaque_bytes = d.opaque_bytes.saturating_add(chunk.len() as u64);
                return;
            }
            match d.hs {
                HsState::Header => {
                    let Some((&b, rest)) = chunk.split_first() else {
                        return;
                    };
                    chunk = rest;
                    if let Some(slot) = d.hs_hdr.get_mut(d.hs_hdr_len) {
                        *slot = b;
                    }
                    d.hs_hdr_len = d.hs_hdr_len.saturating_add(1);
                    if d.hs_hdr_len < 4 {
                        continue;
                    }
                    d.hs_hdr_len = 0;
                    let [typ, a, b1, c] = d.hs_hdr;
                    let len = (usize::from(a) << 16) | (usize::from(b1) << 8) | usize::from(c);
                    if !known_handshake_type(typ) {
                        // Most likely an encrypted Finished whose CCS we did not see.
                        d.opaque = true;
                        out.push(AppEvent::anomaly(
                            "tls",
                            "unknown_handshake_type",
                            format!("handshake type {typ}, length {len}; direction treated as encrypted"),
                        ));
                        continue;
                    }
                    let keep = typ == HS_CLIENT_HELLO || typ == HS_SERVER_HELLO;
                    if keep && len > MAX_HANDSHAKE {
                        out.push(AppEvent::anomaly(
                            "tls",
                            "handshake_too_long",
                            format!("handshake type {typ} length {len} > {MAX_HANDSHAKE}"),
                        ));
                    }
                    d.hs = if keep && len <= MAX_HANDSHAKE {
                        d.hs_buf.clear();
                        HsState::Keep { typ, left: len }
                    } else {
                        HsState::Skip { left: len }
                    };
                    if len == 0 {
                        self.finish_message(dir, out);
                    }
                }
                HsState::Skip { left } => {
                    let n = left.min(chunk.len());
                    let (_, rest) = chunk.split_at(n);
                    chunk = rest;
                    let left = left.saturating_sub(n);
                    d.hs = HsState::Skip { left };
                    if left == 0 {
                        d.hs = HsState::Header;
                    }
                }
                HsState::Keep { typ, left } => {
                    let n = left.min(chunk.len());
                    let (head, rest) = chunk.split_at(n);
                    chunk = rest;
                    d.hs_buf.push(head);
                    let left = left.saturating_sub(n);
                    d.hs = HsState::Keep { typ, left };
                    if left == 0 {
                        self.finish_message(dir, out);
                    }
                }
            }
        }
    }

    /// A kept (or empty) handshake message is complete.
    fn finish_message(&mut self, dir: Direction, out: &mut Vec<AppEvent>) {
        let d = self.dir_mut(dir);
        let typ = match d.hs {
            HsState::Keep { typ, .. } => typ,
            _ => 0,
        };
        d.hs = HsState::Header;
        let body = std::mem::replace(&mut d.hs_buf, CapBuf::new(MAX_HANDSHAKE));
        match typ {
            HS_CLIENT_HELLO => match parse_client_hello(body.as_slice()) {
                Ok(ch) => self.client_hello(&ch, out),
                Err((field, off)) => out.push(AppEvent::anomaly(
                    "tls",
                    "malformed_client_hello",
                    format!(
                        "ClientHello {field} truncated at offset {off} of {}",
                        body.len()
                    ),
                )),
            },
            HS_SERVER_HELLO => match parse_server_hello(body.as_slice()) {
                Ok(sh) => self.server_hello(&sh, out),
                Err((field, off)) => out.push(AppEvent::anomaly(
                    "tls",
                    "malformed_server_hello",
                    format!(
                        "ServerHello {field} truncated at offset {off} of {}",
                        body.len()
                    ),
                )),
            },
            _ => {}
        }
    }

    fn client_hello(&mut self, ch: &ClientHelloView<'_>, out: &mut Vec<AppEvent>) {
        emit_issues(&ch.issues, out);
        let sni = ch.sni.map(|s| {
            let (s, clean) = printable(s);
            if !clean {
                out.push(AppEvent::anomaly(
                    "tls",
                    "sni_not_printable",
                    "server_name holds non-printable bytes (escaped)",
                ));
            }
            s
        });
        let fingerprint = ja4::ja4(ch);
        let client_versions = if ch.supported_versions.is_empty() {
            vec![version_name(ch.legacy_version)]
        } else {
            ch.supported_versions
                .iter()
                .map(|&v| version_name(v))
                .collect()
        };
        self.client = Some(ClientSummary {
            sni: sni.clone(),
            ja4: Some(fingerprint.clone()),
        });
        out.push(AppEvent::Tls(TlsEvent::from(TlsInfo {
            kind: "client_hello",
            client_versions,
            sni,
            cipher_suites: ch.ciphers.iter().map(|&c| cipher_name(c)).collect(),
            alpn_offered: ch.alpn.iter().map(|a| printable(a).0).collect(),
            signature_algorithms: ch.signature_algorithms.clone(),
            supported_groups: ch.supported_groups.clone(),
            extensions: ch.extensions.clone(),
            ja4: Some(fingerprint),
            ..Default::default()
        })));
    }

    fn server_hello(&mut self, sh: &ServerHelloView<'_>, out: &mut Vec<AppEvent>) {
        emit_issues(&sh.issues, out);
        let version = sh.version();
        self.negotiated = Some(version);
        let client = self.client.clone().unwrap_or_default();
        out.push(AppEvent::Tls(TlsEvent::from(TlsInfo {
            kind: "server_hello",
            version: Some(version_name(version)),
            sni: client.sni,
            cipher_suite: Some(cipher_name(sh.cipher)),
            alpn: sh.alpn.map(|a| printable(a).0),
            extensions: sh.extensions.clone(),
            ja4: client.ja4,
            ja4s: Some(ja4::ja4s(sh)),
            hello_retry_request: sh.hello_retry_request,
            ..Default::default()
        })));
    }

    fn feed_dir(&mut self, dir: Direction, mut data: &[u8], out: &mut Vec<AppEvent>) {
        while !data.is_empty() {
            let d = self.dir_mut(dir);
            match d.rec {
                RecState::Dead => return,
                RecState::Header => {
                    if crate::wire::fill_fixed(&mut d.hdr, &mut d.hdr_len, 5, &mut data) {
                        self.on_header(dir, out);
                    }
                }
                RecState::Body { typ, left } => {
                    let n = left.min(data.len());
                    let (chunk, rest) = data.split_at(n);
                    data = rest;
                    let left = left.saturating_sub(n);
                    d.rec = RecState::Body { typ, left };
                    self.on_body(dir, typ, chunk, out);
                    if left == 0 {
                        self.on_record_end(dir, typ);
                    }
                }
                RecState::Hunt { scanned } => {
                    let Some((&b, rest)) = data.split_first() else {
                        return;
                    };
                    data = rest;
                    if d.hdr_len == 5 {
                        d.hdr.copy_within(1.., 0);
                        d.hdr_len = 4;
                    }
                    if let Some(slot) = d.hdr.get_mut(d.hdr_len) {
                        *slot = b;
                    }
                    d.hdr_len = d.hdr_len.saturating_add(1);
                    let scanned = scanned.saturating_add(1);
                    d.rec = RecState::Hunt { scanned };
                    if d.hdr_len == 5 && plausible_header(&d.hdr) {
                        d.rec = RecState::Header;
                        self.on_header(dir, out);
                    } else if scanned >= HUNT_LIMIT {
                        d.rec = RecState::Dead;
                        out.push(AppEvent::anomaly(
                            "tls",
                            "resync_failed",
                            format!("no record header in {HUNT_LIMIT} bytes; direction abandoned"),
                        ));
                    }
                }
            }
        }
    }
}

fn emit_issues(issues: &hello::Issues, out: &mut Vec<AppEvent>) {
    for (kind, detail) in &issues.list {
        out.push(AppEvent::anomaly("tls", kind, detail.clone()));
    }
    if issues.dropped > 0 {
        out.push(AppEvent::anomaly(
            "tls",
            "more_anomalies",
            format!(
                "{} further anomalies in this message not reported",
                issues.dropped
            ),
        ));
    }
}

fn known_handshake_type(t: u8) -> bool {
    // RFC 8446 §4 HandshakeType plus the TLS 1.2 ones (RFC 5246 §7.4) and certificate_status (RFC 6066).
    matches!(t, 0..=2 | 3 | 4 | 5 | 6 | 8 | 11..=16 | 20..=24 | 25 | 254)
}

impl StreamParser for TlsParser {
    fn protocol(&self) -> Protocol {
        Protocol::Tls
    }

    fn feed(&mut self, dir: Direction, data: &[u8], _ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        let from = out.len();
        self.feed_dir(dir, data, out);
        self.budget.apply(out, from);
        self.progress()
    }

    fn gap(&mut self, dir: Direction, len: u64, _ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        let d = self.dir_mut(dir);
        match d.rec {
            RecState::Dead => {}
            // A hole inside the current record body keeps the record framing.
            RecState::Body { typ, left } if len < left as u64 => {
                d.rec = RecState::Body {
                    typ,
                    left: left.saturating_sub(usize::try_from(len).unwrap_or(usize::MAX)),
                };
                if typ == CT_HANDSHAKE && !d.opaque {
                    // Handshake message boundaries are lost: stop inspecting this direction.
                    d.opaque = true;
                    d.reset_handshake();
                }
                d.opaque_bytes = d.opaque_bytes.saturating_add(len);
            }
            _ => {
                d.rec = RecState::Hunt { scanned: 0 };
                d.hdr_len = 0;
                d.reset_handshake();
                d.alert_len = 0;
            }
        }
        let _ = out;
        self.progress()
    }

    fn end(&mut self, _ts: Ts, out: &mut Vec<AppEvent>) {
        self.budget.end("tls", out);
        let [c, s] = &self.dirs;
        if c.records == 0 && s.records == 0 {
            return;
        }
        out.push(AppEvent::Tls(TlsEvent::from(TlsInfo {
            kind: "session_end",
            version: self.negotiated.map(version_name),
            records_toserver: Some(c.records),
            records_toclient: Some(s.records),
            opaque_bytes: Some(c.opaque_bytes.saturating_add(s.opaque_bytes)),
            ..Default::default()
        })));
    }
}

#[cfg(test)]
mod tests;
