//! The sdc parser alone, in bytes/s: HTTP/SOAP over TCP (a real sdc11073 GetMdib/Set/eventing
//! connection, a notification connection, a synthetic large EpisodicMetricReport stream) and
//! WS-Discovery datagrams (the 18 datagrams of the same capture).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iomt_parsers::sdc::{parse_discovery, SdcParser};
use iomt_parsers::{Direction, StreamParser, Ts};

const GS_Q: &[u8] =
    include_bytes!("../../parsers/src/sdc/testdata/sdc11073_consumer_get_set.toserver");
const GS_R: &[u8] =
    include_bytes!("../../parsers/src/sdc/testdata/sdc11073_consumer_get_set.toclient");
const NT_Q: &[u8] =
    include_bytes!("../../parsers/src/sdc/testdata/sdc11073_provider_notifications.toserver");
const NT_R: &[u8] =
    include_bytes!("../../parsers/src/sdc/testdata/sdc11073_provider_notifications.toclient");
const DISCO: &[u8] = include_bytes!("../../parsers/src/sdc/testdata/sdc11073_discovery.bin");
const REPORT: &[u8] =
    include_bytes!("../../parsers/src/sdc/testdata/biceps_episodic_metric_report.xml");

fn flow(q: &[u8], r: &[u8], segment: usize) -> usize {
    let mut p = SdcParser::new();
    let mut out = Vec::new();
    for c in q.chunks(segment) {
        let _ = p.feed(Direction::ToServer, c, Ts(0), &mut out);
    }
    for c in r.chunks(segment) {
        let _ = p.feed(Direction::ToClient, c, Ts(0), &mut out);
    }
    p.end(Ts(1), &mut out);
    out.len()
}

fn datagrams() -> Vec<&'static [u8]> {
    let mut v = Vec::new();
    let mut rest = DISCO;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let n = usize::from(u16::from_be_bytes(*len));
        let Some((d, tail)) = tail.split_at_checked(n) else {
            break;
        };
        v.push(d);
        rest = tail;
    }
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sdc");
    g.throughput(Throughput::Bytes((GS_Q.len() + GS_R.len()) as u64));
    g.bench_function("get_set_connection_1460B_segments", |b| {
        b.iter(|| flow(GS_Q, GS_R, 1460))
    });
    g.throughput(Throughput::Bytes((NT_Q.len() + NT_R.len()) as u64));
    g.bench_function("notification_connection_1460B_segments", |b| {
        b.iter(|| flow(NT_Q, NT_R, 1460))
    });
    // 200 keep-alive EpisodicMetricReport POSTs with their 202 answers.
    let mut q = Vec::new();
    let mut r = Vec::new();
    for _ in 0..200 {
        q.extend_from_slice(
            format!(
                "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\n\r\n",
                REPORT.len()
            )
            .as_bytes(),
        );
        q.extend_from_slice(REPORT);
        r.extend_from_slice(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    }
    g.throughput(Throughput::Bytes((q.len() + r.len()) as u64));
    g.bench_function("episodic_reports_x200", |b| b.iter(|| flow(&q, &r, 1460)));
    let dg = datagrams();
    let total: usize = dg.iter().map(|d| d.len()).sum();
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("discovery_18_datagrams", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            for d in &dg {
                parse_discovery(d, Ts(0), &mut out);
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
