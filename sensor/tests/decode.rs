//! The direct Ethernet/IP/TCP decoder (`decode`'s fast path) against etherparse's general slicing
//! (`decode_general`): the same `Packet` or the same error for every frame of every committed capture,
//! for hand-built edge cases (VLAN stacks, IPv4 options, IPv6, fragments, truncation) and for real
//! frames with their header bytes mutated.

mod common;

use common::all_captures;
use etherparse::PacketBuilder;
use iomt_parsers::Ts;
use iomt_sensor::capture::{FileReader, Frame, LinkType, ReadMode};
use iomt_sensor::decode::{decode, decode_general};

fn frame(data: &[u8]) -> Frame<'_> {
    Frame {
        ts: Ts(0),
        link: LinkType::ETHERNET,
        data,
        orig_len: data.len() as u32,
    }
}

fn agree(f: &Frame<'_>, what: &str) {
    assert_eq!(decode(f), decode_general(f), "{what}: {:02x?}", f.data);
}

#[test]
fn every_committed_frame_decodes_the_same_both_ways() {
    let mut frames = 0u64;
    for path in all_captures() {
        let mut r = FileReader::open(&path, ReadMode::Read).unwrap();
        while let Some(c) = r.next_chunk().unwrap() {
            for f in c.iter() {
                agree(&f, &path.display().to_string());
                frames += 1;
            }
        }
    }
    assert!(frames > 10_000, "{frames} frames");
}

fn tcp_v4(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 2575, 7, 1000)
        .ack(99)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn tcp_v6(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv6([1; 16], [2; 16], 5)
        .tcp(104, 40000, 9, 1000)
        .syn()
        .write(&mut v, payload)
        .unwrap();
    v
}

/// `tags` 4-byte tags of the given TPIDs inserted after the MACs.
fn tagged(frame: &[u8], tpids: &[u16]) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    for (i, t) in tpids.iter().enumerate() {
        v.extend(t.to_be_bytes());
        v.extend((100 + i as u16).to_be_bytes());
    }
    v.extend(&frame[12..]);
    v
}

#[test]
fn edge_cases_decode_the_same_both_ways() {
    let v4 = tcp_v4(b"MSH|^~\\&|A|B\r");
    let v6 = tcp_v6(b"x");
    let mut cases: Vec<(String, Vec<u8>)> = vec![("v4".into(), v4.clone()), ("v6".into(), v6)];
    for tpids in [
        &[0x8100][..],
        &[0x88a8, 0x8100],
        &[0x8100, 0x8100, 0x8100],
        &[0x9100],
        &[0x9100, 0x8100],
        &[0x8100, 0x9100],
    ] {
        cases.push((format!("tags {tpids:x?}"), tagged(&v4, tpids)));
    }
    // IPv4 options (IHL 6 with a NOP word), checksum left stale and fixed.
    let mut opt = v4[..34].to_vec();
    opt.extend([1, 1, 1, 0]);
    opt.extend(&v4[34..]);
    opt[14] = 0x46;
    let total = u16::from_be_bytes([opt[16], opt[17]]) + 4;
    opt[16..18].copy_from_slice(&total.to_be_bytes());
    cases.push(("options, stale checksum".into(), opt));
    // Fragments, the DF and reserved bits, other protocols, bad versions and lengths.
    for (at, val) in [
        (20, 0x20),
        (21, 0x01),
        (20, 0x40),
        (20, 0x80),
        (23, 17),
        (23, 1),
        (14, 0x65),
        (14, 0x44),
        (16, 0),
        (17, 0),
        (16, 0xff),
        (46, 0x40),
        (46, 0xf0),
        (46, 0x10),
    ] {
        let mut m = v4.clone();
        m[at] = val;
        cases.push((format!("byte {at} = {val:#x}"), m));
    }
    // Ethernet padding after a short packet, and every truncation.
    let mut padded = tcp_v4(b"");
    padded.extend([0u8; 6]);
    cases.push(("padded".into(), padded));
    for n in 0..v4.len() {
        cases.push((format!("cut at {n}"), v4[..n].to_vec()));
    }
    for (what, data) in &cases {
        agree(&frame(data), what);
    }
}

/// Real frames with header bytes set to boundary and random values, and cut short.
#[test]
fn mutated_real_frames_decode_the_same_both_ways() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut tested = 0u64;
    for path in all_captures().into_iter().take(40) {
        let mut r = FileReader::open(&path, ReadMode::Read).unwrap();
        let Some(c) = r.next_chunk().unwrap() else {
            continue;
        };
        for f in c.iter().filter(|f| f.link == LinkType::ETHERNET).take(30) {
            let head = f.data.len().min(80);
            for at in 0..head {
                for val in [0u8, 0xff, f.data[at] ^ 1, f.data[at] ^ 0x80, rnd() as u8] {
                    let mut m = f.data.to_vec();
                    m[at] = val;
                    agree(
                        &frame(&m),
                        &format!("{} byte {at} = {val:#x}", path.display()),
                    );
                    let cut = (rnd() as usize) % (m.len() + 1);
                    agree(
                        &frame(&m[..cut]),
                        &format!("{} cut at {cut}", path.display()),
                    );
                    tested += 2;
                }
            }
        }
    }
    assert!(tested > 50_000, "{tested}");
}
