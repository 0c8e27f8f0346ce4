//! JA4 and JA4S fingerprints (FoxIO JA4+ specification, "JA4: TLS Client Fingerprinting" and "JA4S").
//!
//! JA4 = `a_b_c` where
//! * `a` = `t` (TCP) + version (highest non-GREASE supported_versions entry, else legacy_version: `13`,
//!   `12`, `11`, `10`, `s3`, `s2`, `00` unknown) + `d`/`i` (server_name extension present or not) + number
//!   of non-GREASE cipher suites (2 digits, at most 99) + number of non-GREASE extensions (same) + first
//!   and last character of the first ALPN value (`00` without ALPN; the first and last hex digit of the
//!   value when either character is not ASCII alphanumeric);
//! * `b` = first 12 hex digits of SHA-256 over the sorted cipher suites as 4-digit lowercase hex joined
//!   by `,` (`000000000000` when there are none);
//! * `c` = the same over the sorted extension types without SNI (0x0000) and ALPN (0x0010), then `_` and
//!   the signature algorithms in wire order (no `_` when there are none; `000000000000` when both lists
//!   are empty).
//!
//! JA4S = `t` + version + extension count + ALPN chars, `_` the selected cipher (4 hex), `_` the truncated
//! SHA-256 of the ServerHello extension types in wire order.
//!
//! SHA-256 comes from the RustCrypto `sha2` crate, the field's standard implementation.

use super::hello::{ClientHelloView, ServerHelloView, EXT_ALPN, EXT_SERVER_NAME};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

const ZERO_HASH: &str = "000000000000";

/// The 2-character JA4 version code.
pub fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0200 | 0x0002 => "s2",
        0x0100 => "s1",
        _ => "00",
    }
}

fn count2(n: usize) -> String {
    format!("{:02}", n.min(99))
}

/// First and last character of the first ALPN value, per the JA4 rule.
fn alpn_chars(alpn: Option<&[u8]>) -> String {
    let Some(v) = alpn else { return "00".into() };
    let (Some(&first), Some(&last)) = (v.first(), v.last()) else {
        return "00".into();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        let mut s = String::with_capacity(2);
        s.push(char::from(first));
        s.push(char::from(last));
        s
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hi = HEX.get(usize::from(first >> 4)).copied().unwrap_or(b'0');
        let lo = HEX.get(usize::from(last & 0x0f)).copied().unwrap_or(b'0');
        let mut s = String::with_capacity(2);
        s.push(char::from(hi));
        s.push(char::from(lo));
        s
    }
}

fn hex_list(vals: &[u16]) -> String {
    let mut s = String::with_capacity(vals.len().saturating_mul(5));
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    s
}

/// The first 12 hex digits of SHA-256(`s`).
pub fn sha256_12(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(12);
    for b in digest.iter().take(6) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// JA4 of a ClientHello (GREASE was already removed by the decoder).
pub fn ja4(ch: &ClientHelloView<'_>) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .max()
        .unwrap_or(ch.legacy_version);
    let sni = if ch.extensions.contains(&EXT_SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let a = format!(
        "t{}{}{}{}{}",
        version_code(version),
        sni,
        count2(ch.cipher_count),
        count2(ch.extension_count),
        alpn_chars(ch.alpn.first().copied())
    );
    let mut ciphers = ch.ciphers.clone();
    ciphers.sort_unstable();
    let b = if ciphers.is_empty() {
        ZERO_HASH.to_string()
    } else {
        sha256_12(&hex_list(&ciphers))
    };
    let mut exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|&e| e != EXT_SERVER_NAME && e != EXT_ALPN)
        .collect();
    exts.sort_unstable();
    let c = if exts.is_empty() && ch.signature_algorithms.is_empty() {
        ZERO_HASH.to_string()
    } else if ch.signature_algorithms.is_empty() {
        sha256_12(&hex_list(&exts))
    } else {
        sha256_12(&format!(
            "{}_{}",
            hex_list(&exts),
            hex_list(&ch.signature_algorithms)
        ))
    };
    format!("{a}_{b}_{c}")
}

/// JA4S of a ServerHello.
pub fn ja4s(sh: &ServerHelloView<'_>) -> String {
    let a = format!(
        "t{}{}{}",
        version_code(sh.version()),
        count2(sh.extension_count),
        alpn_chars(sh.alpn)
    );
    let c = if sh.extensions.is_empty() {
        ZERO_HASH.to_string()
    } else {
        sha256_12(&hex_list(&sh.extensions))
    };
    format!("{a}_{:04x}_{c}", sh.cipher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vectors_fips_180_4() {
        // FIPS 180-4 / NIST CSRC examples: SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(sha256_12("abc"), "ba7816bf8f01");
        // SHA-256("") = e3b0c44298fc1c14...
        assert_eq!(sha256_12(""), "e3b0c44298fc");
    }

    #[test]
    fn ja4_example_from_the_spec() {
        // FoxIO JA4 technical details: the Chrome example ClientHello gives
        // t13d1516h2_8daaf6152771_e5627efa2ab1. Cipher and extension lists as printed there.
        let ciphers = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let exts = [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let ch = ClientHelloView {
            legacy_version: 0x0303,
            ciphers: ciphers.to_vec(),
            cipher_count: ciphers.len(),
            extensions: exts.to_vec(),
            extension_count: exts.len(),
            alpn: vec![b"h2".as_slice(), b"http/1.1".as_slice()],
            signature_algorithms: sigs.to_vec(),
            supported_versions: vec![0x0304, 0x0303],
            ..Default::default()
        };
        assert_eq!(ja4(&ch), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn alpn_non_alphanumeric_uses_hex() {
        assert_eq!(alpn_chars(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(alpn_chars(Some(b"h")), "hh");
        assert_eq!(alpn_chars(Some(b"")), "00");
        assert_eq!(alpn_chars(None), "00");
    }
}
