#![no_main]
//! The pcap/pcapng walker on arbitrary file contents: it must end (no loop without progress) and never
//! panic, whatever the lengths say.
use iomt_sensor::capture::{FileParser, Item};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(Ok((mut p, mut at))) = FileParser::open(data) else { return };
    while let Some(rest) = data.get(at..) {
        match p.next(rest) {
            Ok(Item::Frame(f, n)) => {
                assert!(n > 0 && f.data.len() <= n);
                at += n;
            }
            Ok(Item::Skip(n)) => {
                assert!(n > 0);
                at += n;
            }
            Ok(Item::Need(_)) | Err(_) => break,
        }
    }
});
