//! HTTP content codings (RFC 9110 §8.4.1) on SOAP bodies: `gzip` (RFC 1952) and `deflate` (zlib,
//! RFC 1950; a raw RFC 1951 stream is accepted too, as many servers send one). sdc11073 compresses
//! responses with gzip whenever the peer offers it, so a sensor that cannot inflate sees no content.
//!
//! The (already capped) compressed body is inflated with miniz_oxide into a buffer that grows to at
//! most [`INFLATE_CAP`] bytes: a decompression bomb stops at the cap and the prefix is scanned like an
//! over-cap plain body. Nothing is sized by a length field on the wire (the gzip ISIZE trailer is
//! ignored).

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::wire::Reader;

/// Most decoded bytes kept for the XML scan.
pub const INFLATE_CAP: usize = super::http::BODY_CAP;

/// The outcome of decoding a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Decoded bytes; `truncated` when the output hit [`INFLATE_CAP`] or the input ended early.
    Bytes { data: Vec<u8>, truncated: bool },
    /// A coding this module does not decode (`br`, `x-lz4`, `compress`, a list of codings…).
    Unsupported,
    /// Not a valid stream of the announced coding; what was decoded before the error is kept.
    Corrupt { data: Vec<u8>, what: &'static str },
}

/// Decodes `body` in the content coding `coding` (a Content-Encoding value). `input_truncated` says
/// the body is only a prefix (over the body cap, or a gap), so running out of input is expected.
pub fn decode(coding: &str, body: &[u8], input_truncated: bool) -> Decoded {
    let c = coding.trim();
    if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") {
        match gzip_payload(body) {
            Ok(deflate) => inflate(deflate, false, input_truncated),
            Err(what) => Decoded::Corrupt {
                data: Vec::new(),
                what,
            },
        }
    } else if c.eq_ignore_ascii_case("deflate") {
        // RFC 1950 §2.2: CMF/FLG with CM = 8 and a header checksum divisible by 31.
        let zlib = match body {
            [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
            _ => false,
        };
        inflate(body, zlib, input_truncated)
    } else {
        Decoded::Unsupported
    }
}

/// The raw deflate stream inside a gzip member (RFC 1952 §2.3).
fn gzip_payload(body: &[u8]) -> Result<&[u8], &'static str> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    let mut r = Reader::new(body);
    let [id1, id2, cm, flg] = r.array::<4>().ok_or("gzip header truncated")?;
    if id1 != 0x1f || id2 != 0x8b {
        return Err("not a gzip member");
    }
    if cm != 8 {
        return Err("gzip compression method is not deflate");
    }
    r.skip(6).ok_or("gzip header truncated")?; // MTIME, XFL, OS
    if flg & FEXTRA != 0 {
        let n = r.le_u16().ok_or("gzip header truncated")?;
        r.skip(usize::from(n)).ok_or("gzip extra field truncated")?;
    }
    for flag in [FNAME, FCOMMENT] {
        if flg & flag != 0 {
            let rest = r.rest();
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or("gzip name or comment not terminated")?;
            r.skip(nul.saturating_add(1))
                .ok_or("gzip header truncated")?;
        }
    }
    if flg & FHCRC != 0 {
        r.skip(2).ok_or("gzip header truncated")?;
    }
    Ok(r.rest())
}

fn inflate(mut input: &[u8], zlib: bool, input_truncated: bool) -> Decoded {
    let mut flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    if zlib {
        flags |= inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER;
    }
    let mut out = vec![0u8; input.len().saturating_mul(4).clamp(1024, INFLATE_CAP)];
    let mut pos = 0usize;
    let mut st = Box::<DecompressorOxide>::default();
    loop {
        let (status, used_in, used_out) = decompress(&mut st, input, &mut out, pos, flags);
        input = input.get(used_in..).unwrap_or_default();
        pos = pos.saturating_add(used_out).min(out.len());
        match status {
            TINFLStatus::Done => {
                out.truncate(pos);
                return Decoded::Bytes {
                    data: out,
                    truncated: false,
                };
            }
            TINFLStatus::HasMoreOutput => {
                if out.len() >= INFLATE_CAP {
                    out.truncate(pos);
                    return Decoded::Bytes {
                        data: out,
                        truncated: true,
                    };
                }
                let grown = out.len().saturating_mul(2).min(INFLATE_CAP);
                out.resize(grown, 0);
            }
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                out.truncate(pos);
                if input_truncated {
                    return Decoded::Bytes {
                        data: out,
                        truncated: true,
                    };
                }
                return Decoded::Corrupt {
                    data: out,
                    what: "compressed stream ends early",
                };
            }
            _ => {
                out.truncate(pos);
                return Decoded::Corrupt {
                    data: out,
                    what: "invalid compressed data",
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `printf 'hello' | gzip -n | xxd -i` (RFC 1952 member: no name, mtime 0).
    const HELLO_GZ: [u8; 25] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0x07, 0x00, 0x86, 0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
    ];

    fn bytes(d: Decoded) -> (Vec<u8>, bool) {
        match d {
            Decoded::Bytes { data, truncated } => (data, truncated),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_and_deflate() {
        assert_eq!(
            bytes(decode("gzip", &HELLO_GZ, false)),
            (b"hello".to_vec(), false)
        );
        assert_eq!(bytes(decode(" X-GZIP ", &HELLO_GZ, false)).0, b"hello");
        // The same deflate stream raw, and zlib-wrapped (78 9c ... adler32 of "hello").
        let raw = &HELLO_GZ[10..17];
        assert_eq!(bytes(decode("deflate", raw, false)).0, b"hello");
        let zlib = [&[0x78, 0x9c][..], raw, &[0x06, 0x2c, 0x02, 0x15]].concat();
        assert_eq!(bytes(decode("deflate", &zlib, false)).0, b"hello");
        assert_eq!(decode("br", &HELLO_GZ, false), Decoded::Unsupported);
        assert_eq!(decode("gzip, br", &HELLO_GZ, false), Decoded::Unsupported);
    }

    #[test]
    fn truncated_and_corrupt() {
        assert!(bytes(decode("gzip", &HELLO_GZ[..14], true)).1);
        assert!(matches!(
            decode("gzip", &HELLO_GZ[..14], false),
            Decoded::Corrupt { .. }
        ));
        assert!(matches!(
            decode("gzip", b"PK\x03\x04", false),
            Decoded::Corrupt { .. }
        ));
        assert!(matches!(
            decode("gzip", &HELLO_GZ[..5], false),
            Decoded::Corrupt { .. }
        ));
        let mut fname = HELLO_GZ.to_vec();
        fname[3] = 0x08; // FNAME without a terminating NUL
        assert!(matches!(
            decode("gzip", &fname[..12], false),
            Decoded::Corrupt { .. }
        ));
    }

    // A decompression bomb: 8 MiB of zeros deflates to a few KiB; the output stops at the cap.
    #[test]
    fn bomb_stops_at_cap() {
        let zeros = vec![0u8; 8 << 20];
        let packed = miniz_oxide::deflate::compress_to_vec(&zeros, 9);
        assert!(packed.len() < 64 * 1024);
        let (data, truncated) = bytes(decode("deflate", &packed, false));
        assert_eq!(data.len(), INFLATE_CAP);
        assert!(truncated);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(d in proptest::collection::vec(proptest::num::u8::ANY, 0..512), t in proptest::bool::ANY) {
            let _ = decode("gzip", &d, t);
            let _ = decode("deflate", &d, t);
            let mut g = HELLO_GZ[..10].to_vec();
            g.extend_from_slice(&d);
            let _ = decode("gzip", &g, t);
        }
    }
}
