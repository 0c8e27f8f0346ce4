//! The floor under any sensor: walk every frame of a capture and slice its headers with etherparse,
//! nothing else. `framewalk [--mmap] FILE...` prints frames, bytes and seconds.
use iomt_sensor::capture::{FileReader, ReadMode};
use std::time::Instant;

fn main() {
    let mut mode = ReadMode::Read;
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        if a == "--mmap" {
            mode = ReadMode::Mmap;
        } else {
            files.push(a);
        }
    }
    let start = Instant::now();
    let (mut frames, mut bytes, mut l4) = (0u64, 0u64, 0u64);
    for f in &files {
        let mut r = FileReader::open(f.as_ref(), mode).unwrap_or_else(|e| {
            eprintln!("framewalk: {e}");
            std::process::exit(2)
        });
        while let Ok(Some(chunk)) = r.next_chunk() {
            for frame in chunk.iter() {
                frames += 1;
                bytes += frame.data.len() as u64;
                if let Ok(p) = etherparse::LaxSlicedPacket::from_ethernet(frame.data) {
                    l4 += u64::from(p.transport.is_some());
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "framewalk: {frames} frames ({l4} with L4), {bytes} bytes, {secs:.3} s, {:.2} Gbit/s",
        bytes as f64 * 8.0 / secs / 1e9
    );
}
