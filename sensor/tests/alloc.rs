//! Zero allocation per frame in steady state: flow lookup, in-order reassembly and the DICOM parser
//! skipping a data set, proven with a counting global allocator.
#![expect(
    unsafe_code,
    reason = "a GlobalAlloc wrapper is unsafe by definition; it only counts and forwards to System"
)]

use etherparse::PacketBuilder;
use iomt_parsers::Ts;
use iomt_sensor::capture::{Frame, LinkType};
use iomt_sensor::engine::{Engine, EngineConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn len_prefixed(ty: u8, body: &[u8], wide: bool) -> Vec<u8> {
    let mut v = vec![ty, 0];
    if wide {
        v.extend((body.len() as u32).to_be_bytes());
    } else {
        v.extend((body.len() as u16).to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// PS3.8 §9.3.2/§9.3.3: an A-ASSOCIATE-RQ (1) or -AC (2) for CT Image Storage, implicit VR LE.
fn associate(ty: u8) -> Vec<u8> {
    let mut b = vec![0, 1, 0, 0];
    b.extend(*b"STORESCP        STORESCU        ");
    b.extend([0; 32]);
    b.extend(len_prefixed(0x10, b"1.2.840.10008.3.1.1.1", false));
    let mut pc = vec![1, 0, 0, 0];
    if ty == 1 {
        pc.extend(len_prefixed(0x30, b"1.2.840.10008.5.1.4.1.1.2", false));
    }
    pc.extend(len_prefixed(0x40, b"1.2.840.10008.1.2", false));
    b.extend(len_prefixed(if ty == 1 { 0x20 } else { 0x21 }, &pc, false));
    b.extend(len_prefixed(
        0x50,
        &len_prefixed(0x51, &16384u32.to_be_bytes(), false),
        false,
    ));
    len_prefixed(ty, &b, true)
}

/// PS3.7 §9.3.1.1 C-STORE-RQ command set (group 0000, implicit VR LE) in one P-DATA-TF PDU.
fn c_store_rq() -> Vec<u8> {
    let el = |e: u16, v: &[u8]| {
        [
            &[0u8, 0][..],
            &e.to_le_bytes(),
            &(v.len() as u32).to_le_bytes(),
            v,
        ]
        .concat()
    };
    let body = [
        el(0x0002, b"1.2.840.10008.5.1.4.1.1.2\0"),
        el(0x0100, &1u16.to_le_bytes()),
        el(0x0110, &7u16.to_le_bytes()),
        el(0x0700, &0u16.to_le_bytes()),
        el(0x0800, &0u16.to_le_bytes()),
        el(0x1000, b"1.2.3.4\0"),
    ]
    .concat();
    let cmd = [el(0x0000, &(body.len() as u32).to_le_bytes()), body].concat();
    let pdv = [
        &((cmd.len() + 2) as u32).to_be_bytes()[..],
        &[1, 0x03],
        &cmd,
    ]
    .concat();
    len_prefixed(4, &pdv, true)
}

/// A P-DATA-TF PDU carrying one data-set fragment (not the last).
fn data_pdu(n: usize) -> Vec<u8> {
    let pdv = [
        &((n + 2) as u32).to_be_bytes()[..],
        &[1, 0x00],
        &vec![0x5a; n],
    ]
    .concat();
    len_prefixed(4, &pdv, true)
}

#[test]
fn steady_state_tcp_dicom_allocates_nothing_per_frame() {
    let client = [10, 20, 0, 5];
    let server = [10, 20, 0, 10];
    let seg = |from_client: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
        let (s, d, sp, dp) = if from_client {
            (client, server, 40000, 104)
        } else {
            (server, client, 104, 40000)
        };
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(s, d, 64)
            .tcp(sp, dp, seq, 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    };
    // Handshake, association, one C-STORE-RQ command, then a 40 MB data set in 16 KiB PDUs cut into
    // 1448-byte segments: the client's byte stream, segment by segment.
    let mut frames = vec![
        seg(true, 100, 0, "S", b""),
        seg(false, 500, 101, "SA", b""),
        seg(true, 101, 501, "A", b""),
    ];
    let mut cseq = 101u32;
    let mut sseq = 501u32;
    let mut send = |frames: &mut Vec<Vec<u8>>, from_client: bool, bytes: &[u8]| {
        for piece in bytes.chunks(1448) {
            let (seq, ack) = if from_client {
                (cseq, sseq)
            } else {
                (sseq, cseq)
            };
            frames.push(seg(from_client, seq, ack, "A", piece));
            if from_client {
                cseq = cseq.wrapping_add(piece.len() as u32)
            } else {
                sseq = sseq.wrapping_add(piece.len() as u32)
            }
        }
    };
    send(&mut frames, true, &associate(1));
    send(&mut frames, false, &associate(2));
    send(&mut frames, true, &c_store_rq());
    let warm = frames.len() + 200;
    let stream: Vec<u8> = (0..2500).flat_map(|_| data_pdu(16378)).collect();
    send(&mut frames, true, &stream);

    let mut engine = Engine::new(EngineConfig::default());
    let mut out = Vec::with_capacity(1 << 16);
    let process = |engine: &mut Engine, out: &mut Vec<_>, i: usize, f: &Vec<u8>| {
        let frame = Frame {
            ts: Ts(1_700_000_000_000_000_000 + i as u64 * 1000),
            link: LinkType::ETHERNET,
            data: f,
            orig_len: f.len() as u32,
        };
        engine.process(&frame, out);
    };
    for (i, f) in frames.iter().enumerate().take(warm) {
        process(&mut engine, &mut out, i, f);
    }
    let events_before = out.len();
    let before = ALLOCS.load(Ordering::Relaxed);
    for (i, f) in frames.iter().enumerate().skip(warm) {
        process(&mut engine, &mut out, i, f);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let measured = frames.len() - warm;
    assert!(measured > 25_000, "{measured} frames measured");
    assert_eq!(
        out.len(),
        events_before,
        "no events expected while the data set streams"
    );
    assert_eq!(
        allocs, 0,
        "{allocs} allocations over {measured} steady-state frames"
    );
    // The parser really followed the stream: ending the flow yields the association summary.
    engine.finish(&mut out);
    assert!(out.iter().any(|r| r.event_type() == "dicom"));
}
