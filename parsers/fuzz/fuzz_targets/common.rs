// Shared by every target (included with `include!`): feeds one input to a fresh parser of `proto`,
// split at cut points taken from the input's first byte, alternating directions on a marker byte,
// and finally reports a gap and the flow end. Nothing may panic.
use iomt_parsers::{new_parser, Direction, Protocol, Ts};

pub fn run(proto: Protocol, data: &[u8]) {
    let Some((&step, body)) = data.split_first() else { return };
    let step = usize::from(step % 64) + 1;
    let mut parser = new_parser(proto);
    let mut out = Vec::new();
    let mut dir = Direction::ToServer;
    for (i, chunk) in body.chunks(step).enumerate() {
        let _ = parser.feed(dir, chunk, Ts(i as u64), &mut out);
        if chunk.first() == Some(&0xff) {
            dir = dir.reverse();
        }
        if out.len() > 4096 {
            out.clear();
        }
    }
    let _ = parser.gap(dir, 7, Ts(0), &mut out);
    let _ = parser.feed(dir, body, Ts(1), &mut out);
    parser.end(Ts(2), &mut out);
}
