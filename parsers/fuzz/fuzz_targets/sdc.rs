#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Part 1: HTTP/SOAP over TCP through the stream contract (splits, direction flips, gap, end).
    run(Protocol::Sdc, data);
    // Part 2: the same bytes as one WS-Discovery datagram, and each half as its own datagram.
    let mut out = Vec::new();
    iomt_parsers::sdc::parse_discovery(data, Ts(0), &mut out);
    let (a, b) = data.split_at(data.len() / 2);
    iomt_parsers::sdc::parse_discovery(a, Ts(0), &mut out);
    iomt_parsers::sdc::parse_discovery(b, Ts(0), &mut out);
    let _ = iomt_parsers::sdc::looks_like_discovery(data);
    let _ = iomt_parsers::sdc::probe(Direction::ToServer, data);
});
