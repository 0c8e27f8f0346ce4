//! ClientHello / ServerHello decoding (RFC 8446 §4.1.2, §4.1.3, §4.2; RFC 5246 §7.4.1.2, §7.4.1.3).
//!
//! Input is one complete handshake message body (after the 4-byte handshake header), reassembled by the
//! record layer in `mod.rs`. Lists are kept up to [`MAX_LIST`] entries (the rest is counted, not kept),
//! so memory never follows a length field. GREASE values (RFC 8701) are dropped from every list, as JA4
//! does.

use crate::wire::Reader;

/// Most entries kept per list (cipher suites, extensions, groups, signature algorithms, versions).
pub const MAX_LIST: usize = 128;
/// Most ALPN protocol names kept.
pub const MAX_ALPN: usize = 16;

// Extension types (IANA "TLS ExtensionType Values").
pub const EXT_SERVER_NAME: u16 = 0x0000;
pub const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
pub const EXT_ALPN: u16 = 0x0010;
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// RFC 8701 GREASE: 0x0a0a, 0x1a1a, ... 0xfafa.
pub const fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A problem found inside a hello that still decoded: (anomaly kind, detail).
pub type Issue = (&'static str, String);

/// Most issues kept per hello (the rest are only counted).
pub const MAX_ISSUES: usize = 8;

/// Issues of one hello: at most [`MAX_ISSUES`] kept, the rest counted.
#[derive(Debug, Default)]
pub struct Issues {
    pub list: Vec<Issue>,
    pub dropped: usize,
}

impl Issues {
    pub fn push(&mut self, issue: Issue) {
        if self.list.len() < MAX_ISSUES {
            self.list.push(issue);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

fn push_capped<T>(v: &mut Vec<T>, cap: usize, x: T) {
    if v.len() < cap {
        v.push(x);
    }
}

/// A decoded ClientHello. Slices borrow the reassembled handshake message.
#[derive(Debug, Default)]
pub struct ClientHelloView<'a> {
    pub legacy_version: u16,
    /// Non-GREASE cipher suites in wire order (at most [`MAX_LIST`]).
    pub ciphers: Vec<u16>,
    /// Every non-GREASE cipher suite, kept or not.
    pub cipher_count: usize,
    /// Non-GREASE extension types in wire order (at most [`MAX_LIST`]).
    pub extensions: Vec<u16>,
    pub extension_count: usize,
    /// The first host_name of server_name (RFC 6066 §3).
    pub sni: Option<&'a [u8]>,
    pub alpn: Vec<&'a [u8]>,
    pub signature_algorithms: Vec<u16>,
    pub supported_groups: Vec<u16>,
    /// supported_versions (RFC 8446 §4.2.1), non-GREASE.
    pub supported_versions: Vec<u16>,
    pub issues: Issues,
}

/// A decoded ServerHello.
#[derive(Debug, Default)]
pub struct ServerHelloView<'a> {
    pub legacy_version: u16,
    pub cipher: u16,
    /// Extension types in wire order (at most [`MAX_LIST`]).
    pub extensions: Vec<u16>,
    pub extension_count: usize,
    /// supported_versions selected_version (RFC 8446 §4.2.1).
    pub selected_version: Option<u16>,
    pub alpn: Option<&'a [u8]>,
    /// RFC 8446 §4.1.3: a ServerHello whose random is the HelloRetryRequest constant.
    pub hello_retry_request: bool,
    pub issues: Issues,
}

impl ServerHelloView<'_> {
    /// The negotiated version: supported_versions if present, else legacy_version.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3.
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Reads a `<u16 length>` vector and returns its reader.
fn vec16<'a>(r: &mut Reader<'a>) -> Option<Reader<'a>> {
    let n = r.be_u16()?;
    r.sub(usize::from(n))
}

fn vec8<'a>(r: &mut Reader<'a>) -> Option<Reader<'a>> {
    let n = r.u8()?;
    r.sub(usize::from(n))
}

/// Decodes a ClientHello body (RFC 8446 §4.1.2). `Err((field, offset))` when the fixed part is malformed.
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHelloView<'_>, (&'static str, usize)> {
    let mut r = Reader::new(body);
    let mut ch = ClientHelloView {
        legacy_version: r.be_u16().ok_or(("legacy_version", r.offset()))?,
        ..Default::default()
    };
    r.skip(32).ok_or(("random", r.offset()))?;
    let sid = vec8(&mut r).ok_or(("legacy_session_id", r.offset()))?;
    if sid.remaining() > 32 {
        ch.issues.push((
            "malformed_client_hello",
            format!("session_id length {} > 32", sid.remaining()),
        ));
    }
    let mut cs = vec16(&mut r).ok_or(("cipher_suites", r.offset()))?;
    if cs.remaining() % 2 != 0 {
        ch.issues
            .push(("malformed_client_hello", "odd cipher_suites length".into()));
    }
    while let Some(c) = cs.be_u16() {
        if !is_grease(c) {
            ch.cipher_count = ch.cipher_count.saturating_add(1);
            push_capped(&mut ch.ciphers, MAX_LIST, c);
        }
    }
    vec8(&mut r).ok_or(("legacy_compression_methods", r.offset()))?;
    if r.is_empty() {
        // RFC 5246 §7.4.1.2: extensions may be absent.
        return Ok(ch);
    }
    let mut exts = vec16(&mut r).ok_or(("extensions", r.offset()))?;
    if !r.is_empty() {
        ch.issues.push((
            "trailing_bytes",
            format!("{} bytes after ClientHello extensions", r.remaining()),
        ));
    }
    while !exts.is_empty() {
        let (Some(typ), Some(mut data)) = (exts.be_u16(), vec16(&mut exts)) else {
            ch.issues.push((
                "malformed_extension",
                format!(
                    "truncated extension header in ClientHello at {}",
                    exts.offset()
                ),
            ));
            break;
        };
        if is_grease(typ) {
            continue;
        }
        if ch.extensions.contains(&typ) {
            ch.issues.push((
                "duplicate_extension",
                format!("ClientHello extension 0x{typ:04x} repeated"),
            ));
        }
        ch.extension_count = ch.extension_count.saturating_add(1);
        push_capped(&mut ch.extensions, MAX_LIST, typ);
        let ok = match typ {
            EXT_SERVER_NAME => parse_sni(&mut data, &mut ch.sni),
            EXT_ALPN => parse_alpn_list(&mut data, &mut ch.alpn),
            EXT_SIGNATURE_ALGORITHMS => u16_list(vec16(&mut data), &mut ch.signature_algorithms),
            EXT_SUPPORTED_GROUPS => u16_list(vec16(&mut data), &mut ch.supported_groups),
            EXT_SUPPORTED_VERSIONS => u16_list(vec8(&mut data), &mut ch.supported_versions),
            _ => {
                data.take_rest();
                true
            }
        };
        if !ok || !data.is_empty() {
            ch.issues.push((
                "malformed_extension",
                format!("ClientHello extension 0x{typ:04x} does not match its length"),
            ));
        }
    }
    Ok(ch)
}

/// Keeps non-GREASE u16 values of a list; false when the list is missing or has an odd length.
fn u16_list(list: Option<Reader<'_>>, into: &mut Vec<u16>) -> bool {
    let Some(mut list) = list else { return false };
    while let Some(v) = list.be_u16() {
        if !is_grease(v) {
            push_capped(into, MAX_LIST, v);
        }
    }
    list.is_empty()
}

/// RFC 6066 §3 ServerNameList: keeps the first host_name (type 0).
fn parse_sni<'a>(data: &mut Reader<'a>, sni: &mut Option<&'a [u8]>) -> bool {
    let Some(mut list) = vec16(data) else {
        return false;
    };
    while !list.is_empty() {
        let (Some(name_type), Some(name)) = (list.u8(), vec16(&mut list)) else {
            return false;
        };
        if name_type == 0 && sni.is_none() {
            *sni = Some(name.rest());
        }
    }
    true
}

/// RFC 7301 §3.1 ProtocolNameList.
fn parse_alpn_list<'a>(data: &mut Reader<'a>, alpn: &mut Vec<&'a [u8]>) -> bool {
    let Some(mut list) = vec16(data) else {
        return false;
    };
    while !list.is_empty() {
        let Some(name) = vec8(&mut list) else {
            return false;
        };
        push_capped(alpn, MAX_ALPN, name.rest());
    }
    true
}

/// Decodes a ServerHello body (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHelloView<'_>, (&'static str, usize)> {
    let mut r = Reader::new(body);
    let mut sh = ServerHelloView {
        legacy_version: r.be_u16().ok_or(("legacy_version", r.offset()))?,
        ..Default::default()
    };
    let random = r.array::<32>().ok_or(("random", r.offset()))?;
    sh.hello_retry_request = random == HRR_RANDOM;
    vec8(&mut r).ok_or(("legacy_session_id", r.offset()))?;
    sh.cipher = r.be_u16().ok_or(("cipher_suite", r.offset()))?;
    r.u8().ok_or(("legacy_compression_method", r.offset()))?;
    if r.is_empty() {
        return Ok(sh);
    }
    let mut exts = vec16(&mut r).ok_or(("extensions", r.offset()))?;
    if !r.is_empty() {
        sh.issues.push((
            "trailing_bytes",
            format!("{} bytes after ServerHello extensions", r.remaining()),
        ));
    }
    while !exts.is_empty() {
        let (Some(typ), Some(mut data)) = (exts.be_u16(), vec16(&mut exts)) else {
            sh.issues.push((
                "malformed_extension",
                format!(
                    "truncated extension header in ServerHello at {}",
                    exts.offset()
                ),
            ));
            break;
        };
        sh.extension_count = sh.extension_count.saturating_add(1);
        push_capped(&mut sh.extensions, MAX_LIST, typ);
        let ok = match typ {
            // In a ServerHello / HRR: the single selected_version.
            EXT_SUPPORTED_VERSIONS => {
                sh.selected_version = data.be_u16();
                sh.selected_version.is_some()
            }
            EXT_ALPN => {
                let mut names = Vec::new();
                let ok = parse_alpn_list(&mut data, &mut names);
                sh.alpn = names.first().copied();
                ok && names.len() == 1
            }
            _ => {
                data.take_rest();
                true
            }
        };
        if !ok || !data.is_empty() {
            sh.issues.push((
                "malformed_extension",
                format!("ServerHello extension 0x{typ:04x} does not match its length"),
            ));
        }
    }
    Ok(sh)
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub const HRR_RANDOM: [u8; 32] = super::HRR_RANDOM;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_rfc8701() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(is_grease(0x3a3a));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn client_hello_minimal_without_extensions() {
        // RFC 5246 §7.4.1.2: version 3.1, random, empty session id, 1 suite, null compression, no ext.
        let mut b = vec![0x03, 0x01];
        b.extend([0u8; 32]);
        b.extend([0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00]);
        let ch = parse_client_hello(&b).unwrap();
        assert_eq!(ch.legacy_version, 0x0301);
        assert_eq!(ch.ciphers, vec![0x002f]);
        assert!(ch.extensions.is_empty());
        assert!(ch.issues.is_empty());
    }

    #[test]
    fn client_hello_truncated_is_error() {
        let mut b = vec![0x03, 0x03];
        b.extend([0u8; 20]);
        assert_eq!(parse_client_hello(&b).unwrap_err().0, "random");
    }

    #[test]
    fn huge_cipher_list_is_capped() {
        let mut b = vec![0x03, 0x03];
        b.extend([0u8; 32]);
        b.push(0);
        let n: u16 = 1000;
        b.extend((n * 2).to_be_bytes());
        for i in 0..n {
            b.extend((0x1000 + i).to_be_bytes());
        }
        b.extend([0x01, 0x00]);
        let ch = parse_client_hello(&b).unwrap();
        assert_eq!(ch.ciphers.len(), MAX_LIST);
        assert_eq!(ch.cipher_count, 1000);
    }

    #[test]
    fn hello_retry_request_detected() {
        // RFC 8446 §4.1.3: HRR = ServerHello with the special random.
        let mut b = vec![0x03, 0x03];
        b.extend(HRR_RANDOM);
        b.extend([
            0x00, 0x13, 0x01, 0x00, 0x00, 0x06, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
        ]);
        let sh = parse_server_hello(&b).unwrap();
        assert!(sh.hello_retry_request);
        assert_eq!(sh.version(), 0x0304);
        assert_eq!(sh.cipher, 0x1301);
    }
}
