//! The tls parser alone, in bytes/s: a real TLS 1.3 handshake captured on loopback (see
//! parsers/src/tls/testdata/README.md), and the same handshake followed by 4 MiB of application-data
//! records (the cost of following an encrypted session: one 5-byte header per record).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iomt_parsers::{new_parser, Direction, Protocol, Ts};

fn load_hex(text: &str) -> Vec<(Direction, Vec<u8>)> {
    text.lines()
        .filter_map(|l| {
            let (d, hex) = l.split_once(' ')?;
            let dir = if d == ">" {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let bytes = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            Some((dir, bytes))
        })
        .collect()
}

fn run(segments: &[(Direction, Vec<u8>)]) -> usize {
    let mut p = new_parser(Protocol::Tls);
    let mut out = Vec::new();
    for (dir, bytes) in segments {
        let _ = p.feed(*dir, bytes, Ts(0), &mut out);
    }
    p.end(Ts(0), &mut out);
    out.len()
}

fn bench(c: &mut Criterion) {
    let handshake = load_hex(include_str!(
        "../../parsers/src/tls/testdata/tls13_loopback.hex"
    ));
    let mut bulk = handshake.clone();
    // 256 records of 16 KiB application data to the client, fed in 1448-byte segments.
    let mut stream = Vec::new();
    for _ in 0..256 {
        stream.extend([23u8, 3, 3, 0x40, 0x00]);
        stream.extend(vec![0xa5u8; 16384]);
    }
    for seg in stream.chunks(1448) {
        bulk.push((Direction::ToClient, seg.to_vec()));
    }
    let bytes = |s: &[(Direction, Vec<u8>)]| s.iter().map(|(_, b)| b.len() as u64).sum::<u64>();

    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Bytes(bytes(&handshake)));
    g.bench_function("handshake", |b| b.iter(|| run(&handshake)));
    g.throughput(Throughput::Bytes(bytes(&bulk)));
    g.bench_function("handshake_plus_4MiB_appdata", |b| b.iter(|| run(&bulk)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
