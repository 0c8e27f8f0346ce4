#![no_main]
include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(Protocol::Hl7, data));
