// HL7 v2 / MLLP parser under arbitrary bytes, splits, direction changes and gaps (see common.rs).
// Seeds: corpus-seeds/hl7/ (MLLP ADT+ACK, ORU+NAK with ERR, unframed pair, CRLF terminators, custom
// delimiters, garbage and broken MSH). Run:
//   cd parsers/fuzz && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=/work/target-fuzz \
//     cargo fuzz run hl7 corpus-seeds/hl7 -- -max_total_time=600
// 2026-11-23 (cargo-fuzz 0.13.2, ASan, shared 2-core box): 1,606,882 runs in 601 s, cov 1449,
// ft 8477, corpus 2034 inputs, no crash; after the commit-block/repeated-ACK changes, a second 600 s
// run continuing from that corpus (kept out of git): 1,235,548 runs, cov 1509, ft 9338, no crash;
// on the final code, 240 s more: 761,764 runs, cov 1559, ft 9812, no crash.
#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(Protocol::Hl7, data));
