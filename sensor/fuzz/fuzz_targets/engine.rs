#![no_main]
//! Decode + flow table + reassembly + every parser over a sequence of frames: the input is cut into
//! frames at 0xfe 0xfe markers, each given a link type by its first byte and a time from its index,
//! with small caps so eviction, reassembly caps and timeouts are reached.
use iomt_parsers::Ts;
use iomt_sensor::capture::{Frame, LinkType};
use iomt_sensor::engine::{Engine, EngineConfig};
use iomt_sensor::flow::Timeouts;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let cfg = EngineConfig {
        max_flows: 8,
        timeouts: Timeouts { new: 2, established: 5, closed: 1, udp: 2 },
        stream_cap: 4096,
        reassembly_cap: 16384,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(cfg);
    let mut out = Vec::new();
    let links = [LinkType::ETHERNET, LinkType::RAW, LinkType::LINUX_SLL, LinkType::LINUX_SLL2, LinkType::NULL];
    for (i, piece) in data.split(|&b| b == 0xfe).filter(|p| !p.is_empty()).enumerate() {
        let Some((&l, body)) = piece.split_first() else { continue };
        let frame = Frame {
            ts: Ts(1_000_000_000 * (i as u64 / 4)),
            link: links[usize::from(l) % links.len()],
            data: body,
            orig_len: body.len() as u32,
        };
        engine.process(&frame, &mut out);
        if out.len() > 1024 {
            out.clear();
        }
    }
    engine.finish(&mut out);
});
