//! The netid datagram decoders, per frame: real ARP and DHCP (dhclient DHCPREQUEST) payloads from
//! captures/noise/noise.pcap, and LLDP, CDP and DNS-SD frames built by scapy 2.8 (an independent
//! encoder); all are the fuzz seeds in parsers/fuzz/corpus-seeds/netid (first byte = decoder selector).
//! Each decoder is measured whole (events out) and its borrowed view alone (walk every TLV/option/name).
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use iomt_parsers::netid::{self, ArpView, CdpView, DhcpView, DnsHeader, LldpTlvs, NameBuf};
use iomt_parsers::AppEvent;

macro_rules! seed {
    ($name:literal) => {
        &include_bytes!(concat!("../../parsers/fuzz/corpus-seeds/netid/", $name))[1..]
    };
}

type Decoder = fn(&[u8], &mut Vec<AppEvent>);

fn bench(c: &mut Criterion) {
    let frames: [(&str, &[u8], Decoder); 5] = [
        ("arp", seed!("noise-arp0"), netid::arp),
        ("lldp", seed!("lldp"), netid::lldp),
        ("cdp", seed!("cdp"), netid::cdp),
        ("dhcp", seed!("noise-dhcp1"), netid::dhcp),
        ("mdns", seed!("mdns-response"), netid::mdns),
    ];
    let mut g = c.benchmark_group("netid");
    let mut out = Vec::with_capacity(16);
    for (name, frame, f) in frames {
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("{name}_event/{}B", frame.len()), |b| {
            b.iter(|| {
                out.clear();
                f(black_box(frame), &mut out);
                out.len()
            })
        });
    }
    g.bench_function("arp_view", |b| {
        b.iter(|| ArpView::parse(black_box(seed!("noise-arp0"))).map(|v| v.op))
    });
    g.bench_function("lldp_view", |b| {
        b.iter(|| {
            LldpTlvs::new(black_box(seed!("lldp")))
                .filter(Result::is_ok)
                .count()
        })
    });
    g.bench_function("cdp_view", |b| {
        b.iter(|| {
            CdpView::parse(black_box(seed!("cdp")))
                .map(|v| (v.checksum_ok(), v.tlvs().filter(Result::is_ok).count()))
        })
    });
    g.bench_function("dhcp_view", |b| {
        b.iter(|| {
            DhcpView::parse(black_box(seed!("noise-dhcp1")))
                .map(|v| v.options().filter(Result::is_ok).count())
        })
    });
    let mut name = NameBuf::default();
    g.bench_function("dns_header_and_first_name", |b| {
        b.iter(|| {
            let m = black_box(seed!("mdns-response"));
            let h = DnsHeader::parse(m).map(|h| h.records());
            (
                h,
                netid::read_name(m, 12, &mut name).map(|_| name.as_bytes().len()),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
