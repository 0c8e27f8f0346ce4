//! TCP/UDP checksum verification (RFC 9293 §3.1, RFC 768), used only with `--checksums count|drop`.

use crate::capture::Frame;
use crate::decode::Packet;
use std::net::IpAddr;

/// Whether the transport checksum of `pkt` is right. A frame cut by the snap length, a UDP checksum of
/// zero over IPv4 (none sent) and non-TCP/UDP packets count as right: there is nothing to verify.
pub fn l4_ok(frame: &Frame<'_>, pkt: &Packet<'_>) -> bool {
    if frame.data.len() < frame.orig_len as usize || (pkt.proto != 6 && pkt.proto != 17) {
        return true;
    }
    // The transport header + payload is the tail of the frame that ends with the payload.
    let hdr = if pkt.proto == 6 {
        tcp_header_len(frame, pkt)
    } else {
        Some(8)
    };
    let Some(hdr) = hdr else { return true };
    let end = (pkt.payload.as_ptr() as usize + pkt.payload.len())
        .saturating_sub(frame.data.as_ptr() as usize);
    let start = (pkt.payload.as_ptr() as usize)
        .saturating_sub(frame.data.as_ptr() as usize)
        .saturating_sub(hdr);
    let Some(segment) = frame.data.get(start..end) else {
        return true;
    };
    if pkt.proto == 17 && matches!(pkt.src, IpAddr::V4(_)) && segment.get(6..8) == Some(&[0, 0]) {
        return true;
    }
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            sum += u64::from(match pair {
                [a, b] => u16::from_be_bytes([*a, *b]),
                [a] => u16::from_be_bytes([*a, 0]),
                _ => 0,
            });
        }
    };
    match (pkt.src, pkt.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(x) => x.to_ipv6_mapped().octets(),
                IpAddr::V6(x) => x.octets(),
            };
            add(&v6(s));
            add(&v6(d));
        }
    }
    add(&[0, pkt.proto]);
    add(&(segment.len() as u32).to_be_bytes());
    add(segment);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn tcp_header_len(frame: &Frame<'_>, pkt: &Packet<'_>) -> Option<usize> {
    // The data offset nibble sits 12 bytes into the TCP header; find the header by scanning back from
    // the payload for a candidate whose data offset points at the payload.
    let payload_at = (pkt.payload.as_ptr() as usize).checked_sub(frame.data.as_ptr() as usize)?;
    (20..=60).step_by(4).find(|&len| {
        payload_at
            .checked_sub(len)
            .and_then(|h| frame.data.get(h + 12))
            .is_some_and(|b| usize::from(b >> 4) * 4 == len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::decode::{decode, tests::tcp_frame};
    use iomt_parsers::Ts;

    #[test]
    fn builder_checksums_verify_and_corruption_is_caught() {
        let mut f = tcp_frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            40000,
            104,
            7,
            "AP",
            b"hello world",
        );
        let fr = Frame {
            ts: Ts(0),
            link: LinkType::ETHERNET,
            data: &f,
            orig_len: f.len() as u32,
        };
        assert!(l4_ok(&fr, &decode(&fr).unwrap()));
        let n = f.len();
        f[n - 1] ^= 1;
        let fr = Frame {
            ts: Ts(0),
            link: LinkType::ETHERNET,
            data: &f,
            orig_len: f.len() as u32,
        };
        assert!(!l4_ok(&fr, &decode(&fr).unwrap()));
    }
}
