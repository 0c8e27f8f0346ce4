//! The dicom parser alone, in bytes/s, on a storage association shaped like dcmtk's storescu talking to
//! storescp: A-ASSOCIATE-RQ/AC, then 8 C-STOREs of 4 MiB CT data sets, each sent as a command PDU and
//! data PDUs of the negotiated maximum length (16 KiB, dcmtk's default, and 128 KiB), C-STORE-RSPs,
//! release. The stream is fed in TCP-segment-sized pieces (1448 bytes) and in 64 KiB pieces. Pixel data
//! is skipped by count, so the cost is per PDU, not per byte.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iomt_parsers::{new_parser, Direction, Protocol, Ts};

fn item(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 0];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn pdu(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 0];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn ae(s: &str) -> [u8; 16] {
    let mut a = [b' '; 16];
    a[..s.len()].copy_from_slice(s.as_bytes());
    a
}

fn associate(ty: u8, max: u32) -> Vec<u8> {
    let mut b = vec![0, 1, 0, 0];
    b.extend_from_slice(&ae("STORESCP"));
    b.extend_from_slice(&ae("STORESCU"));
    b.extend_from_slice(&[0; 32]);
    b.extend(item(0x10, b"1.2.840.10008.3.1.1.1"));
    let mut pc = vec![1, 0, 0, 0];
    if ty == 1 {
        pc.extend(item(0x30, b"1.2.840.10008.5.1.4.1.1.2"));
    }
    pc.extend(item(0x40, b"1.2.840.10008.1.2"));
    b.extend(item(if ty == 1 { 0x20 } else { 0x21 }, &pc));
    let mut ui = item(0x51, &max.to_be_bytes());
    ui.extend(item(0x52, b"1.2.276.0.7230010.3.0.3.6.7"));
    ui.extend(item(0x55, b"OFFIS_DCMTK_367"));
    b.extend(item(0x50, &ui));
    pdu(ty, &b)
}

fn el(elem: u16, value: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0];
    v.extend_from_slice(&elem.to_le_bytes());
    v.extend_from_slice(&(value.len() as u32).to_le_bytes());
    v.extend_from_slice(value);
    v
}

fn command(elems: &[Vec<u8>]) -> Vec<u8> {
    let body = elems.concat();
    let mut v = el(0, &(body.len() as u32).to_le_bytes());
    v.extend(body);
    v
}

fn pdv(control: u8, frag: &[u8]) -> Vec<u8> {
    let mut v = ((frag.len() + 2) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(&[1, control]);
    v.extend_from_slice(frag);
    v
}

/// One association as the sequence of (direction, bytes) turns of the conversation.
fn association(max_pdu: u32, stores: u16, dataset: usize) -> Vec<(Direction, Vec<u8>)> {
    let mut turns = vec![
        (Direction::ToServer, associate(1, max_pdu)),
        (Direction::ToClient, associate(2, max_pdu)),
    ];
    let frag_max = max_pdu as usize - 6;
    let data = vec![0x11u8; dataset];
    for id in 1..=stores {
        let rq = command(&[
            el(0x0002, b"1.2.840.10008.5.1.4.1.1.2\0"),
            el(0x0100, &1u16.to_le_bytes()),
            el(0x0110, &id.to_le_bytes()),
            el(0x0700, &0u16.to_le_bytes()),
            el(0x0800, &0u16.to_le_bytes()),
            el(0x1000, b"1.2.826.0.1.3680043.2.1125.1.12345678\0"),
        ]);
        let mut ts = pdu(4, &pdv(3, &rq));
        let mut chunks = data.chunks(frag_max).peekable();
        while let Some(c) = chunks.next() {
            let control = if chunks.peek().is_none() { 2 } else { 0 };
            ts.extend(pdu(4, &pdv(control, c)));
        }
        let rsp = command(&[
            el(0x0002, b"1.2.840.10008.5.1.4.1.1.2\0"),
            el(0x0100, &0x8001u16.to_le_bytes()),
            el(0x0120, &id.to_le_bytes()),
            el(0x0800, &0x0101u16.to_le_bytes()),
            el(0x0900, &0u16.to_le_bytes()),
        ]);
        turns.push((Direction::ToServer, ts));
        turns.push((Direction::ToClient, pdu(4, &pdv(3, &rsp))));
    }
    turns.push((Direction::ToServer, pdu(5, &[0; 4])));
    turns.push((Direction::ToClient, pdu(6, &[0; 4])));
    turns
}

/// A real capture's segments, from the parser's test fixture (`testdata/extract.py`: dcmtk storescu ->
/// storescp, 5 associations, 14 C-STOREs; elided data-set bytes come back as zeros, which the parser
/// skips exactly like pixel data): (flow, direction, bytes) in capture order.
fn capture_segments(fixture: &[u8]) -> Vec<(usize, Direction, Vec<u8>)> {
    let mut segs = Vec::new();
    let mut i = 0;
    let take = |i: &mut usize, n: usize| {
        let s = &fixture[*i..*i + n];
        *i += n;
        s
    };
    while i < fixture.len() {
        let kind = take(&mut i, 1)[0];
        let flow = u16::from_le_bytes(take(&mut i, 2).try_into().unwrap()) as usize;
        let dir = if take(&mut i, 1)[0] == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let _ts = take(&mut i, 8);
        if kind == b'G' {
            let _ = take(&mut i, 8);
            continue;
        }
        let len = u32::from_le_bytes(take(&mut i, 4).try_into().unwrap()) as usize;
        let mut buf = Vec::with_capacity(len);
        while buf.len() < len {
            let k = take(&mut i, 1)[0];
            let n = u32::from_le_bytes(take(&mut i, 4).try_into().unwrap()) as usize;
            if k == 0 {
                buf.extend_from_slice(take(&mut i, n));
            } else {
                buf.resize(buf.len() + n, 0);
            }
        }
        segs.push((flow, dir, buf));
    }
    segs
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("dicom");
    let segs = capture_segments(include_bytes!(
        "../../parsers/src/dicom/testdata/dcmtk-store.bin"
    ));
    let flows = segs.iter().map(|s| s.0).max().unwrap_or(0) + 1;
    let total: usize = segs.iter().map(|s| s.2.len()).sum();
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("capture_dcmtk_store", |b| {
        b.iter(|| {
            let mut ps: Vec<_> = (0..flows).map(|_| new_parser(Protocol::Dicom)).collect();
            let mut out = Vec::new();
            for (f, dir, bytes) in &segs {
                let _ = ps[*f].feed(*dir, bytes, Ts(0), &mut out);
            }
            for p in &mut ps {
                p.end(Ts(1), &mut out);
            }
            assert_eq!(out.len(), 57, "5 associations x 5 events + 32 commands");
            out.len()
        })
    });
    for max_pdu in [16 * 1024u32, 128 * 1024] {
        let turns = association(max_pdu, 8, 4 * 1024 * 1024);
        let total: usize = turns.iter().map(|(_, b)| b.len()).sum();
        g.throughput(Throughput::Bytes(total as u64));
        for seg in [1448usize, 64 * 1024] {
            let name = format!("store_8x4MiB_pdu{}k_seg{}", max_pdu / 1024, seg);
            g.bench_function(name, |b| {
                b.iter(|| {
                    let mut p = new_parser(Protocol::Dicom);
                    let mut out = Vec::new();
                    for (i, (dir, bytes)) in turns.iter().enumerate() {
                        for c in bytes.chunks(seg) {
                            let _ = p.feed(*dir, c, Ts(i as u64), &mut out);
                        }
                    }
                    p.end(Ts(2), &mut out);
                    assert_eq!(out.len(), 2 + 16 + 3, "events: {out:?}");
                    out.len()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
