//! The tls parser alone, in bytes/s. Placeholder until the parser lands: it feeds nothing.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iomt_parsers::{new_parser, Protocol, Ts};

fn bench(c: &mut Criterion) {
    let input: Vec<u8> = Vec::new();
    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Bytes(input.len().max(1) as u64));
    g.bench_function("feed", |b| {
        b.iter(|| {
            let mut p = new_parser(Protocol::Tls);
            let mut out = Vec::new();
            let _ = p.feed(iomt_parsers::Direction::ToServer, &input, Ts(0), &mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
