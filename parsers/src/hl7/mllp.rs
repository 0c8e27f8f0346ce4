//! One direction of an HL7 connection: MLLP blocks or unframed messages, as a stream.
//!
//! MLLP (HL7 v2.5 Appendix C, "Lower Layer Protocols", "Minimal Lower Layer Protocol"; the same block
//! format as the stand-alone MLLP release 1 and the HL7 Transport Specification MLLP release 2):
//! `<SB> message <EB><CR>` with SB = 0x0B and EB = 0x1C. An unframed stream (HL7 written straight onto
//! TCP) is recognised when a line starts with `MSH`; its message ends at the next `MSH`
//! segment, when the other direction starts talking after a segment end, at a gap, or at the flow end.
//!
//! MLLP release 2 (HL7 Transport Specification: MLLP, release 2, commit acknowledgement) adds
//! blocks holding the single byte 0x06 (ACK) or 0x15 (NAK); they are counted (`mllp_commit_acks`,
//! `mllp_commit_naks` in the summary), not reported as malformed messages.
//!
//! Between blocks CR and LF are tolerated; any other byte is `garbage_between_frames` (once per run).
//! A block over the message cap is `message_too_large` and the stream resynchronises on the next SB
//! (nothing of the oversized message is kept: its bytes are counted, never buffered).

use super::msg::{find3, AnomalySink, MsgInfo, Scan, Scanner};
use crate::Ts;

pub const SB: u8 = 0x0B;
pub const EB: u8 = 0x1C;
/// MLLP release 2 commit acknowledgement bytes.
pub const ACK: u8 = 0x06;
pub const NAK: u8 = 0x15;
const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// How the messages of a direction are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Unknown,
    Mllp,
    None,
}

impl Framing {
    pub const fn name(self) -> &'static str {
        match self {
            Framing::Mllp => "mllp",
            Framing::None | Framing::Unknown => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside a message: looking for SB, or (unless MLLP was seen) `MSH` at a line start.
    Between,
    /// Inside an MLLP block.
    InBlock,
    /// After EB: expecting the final CR.
    AfterEb,
    /// Inside an unframed message.
    InRaw,
}

/// A message that ended and could be read.
#[derive(Debug)]
pub struct Completed {
    pub info: MsgInfo,
    pub framing: Framing,
    /// Message bytes between the framing (SB/EB/CR excluded).
    pub bytes: u64,
    /// Capture time of the feed that held the message's last byte.
    pub last_ts: Ts,
}

/// What the direction reports upward.
pub trait Events: AnomalySink {
    fn message(&mut self, done: Completed);
    /// A message that could not be read (its anomaly was reported).
    fn malformed(&mut self);
    /// An MLLP release 2 commit acknowledgement block (`<SB><ACK|NAK><EB><CR>`), `true` for ACK.
    fn commit_ack(&mut self, positive: bool);
    /// The flow hit its anomaly cap: stop scanning this input.
    fn stopped(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone)]
pub struct DirStream {
    state: State,
    framing: Framing,
    scanner: Scanner,
    msg_bytes: u64,
    last_ts: Ts,
    max_message: u64,
    /// Bytes of this direction seen so far (for anomaly offsets).
    offset: u64,
    garbage_run: bool,
    /// After a gap or an oversized message: skip silently to the next message start.
    resync: bool,
    line_start: bool,
    msh_match: u8,
    lf_reported: bool,
}

impl DirStream {
    pub const fn new(max_message: u64) -> Self {
        DirStream {
            state: State::Between,
            framing: Framing::Unknown,
            scanner: Scanner::new(),
            msg_bytes: 0,
            last_ts: Ts(0),
            max_message,
            offset: 0,
            garbage_run: false,
            resync: false,
            line_start: true,
            msh_match: 0,
            lf_reported: false,
        }
    }

    /// Feeds the next bytes of this direction.
    pub fn feed(&mut self, data: &[u8], ts: Ts, ev: &mut dyn Events) {
        let mut rest = data;
        while !rest.is_empty() && !ev.stopped() {
            let used = match self.state {
                State::Between => self.between(rest, ts, ev),
                State::InBlock => self.in_block(rest, ts, ev),
                State::AfterEb => {
                    let used = usize::from(rest.first() == Some(&CR));
                    if used == 0 {
                        ev.anomaly(
                            "missing_end_cr",
                            format!("end block not followed by CR at offset {}", self.offset),
                        );
                    }
                    self.finish(ev);
                    used
                }
                State::InRaw => self.in_raw(rest, ts, ev),
            };
            self.offset = self.offset.saturating_add(used as u64);
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    fn start(&mut self, framing: Framing, ts: Ts) {
        self.state = if framing == Framing::Mllp {
            State::InBlock
        } else {
            State::InRaw
        };
        self.framing = framing;
        self.scanner.reset();
        self.msg_bytes = 0;
        self.last_ts = ts;
        self.garbage_run = false;
        self.resync = false;
        self.msh_match = 0;
    }

    fn garbage(&mut self, at: usize, ev: &mut dyn Events) {
        if !self.garbage_run && !self.resync {
            ev.anomaly(
                "garbage_between_frames",
                format!(
                    "non-HL7 bytes between messages at offset {}",
                    self.offset.saturating_add(at as u64)
                ),
            );
        }
        self.garbage_run = true;
        self.line_start = false;
    }

    /// Outside a message. Returns bytes consumed.
    fn between(&mut self, data: &[u8], ts: Ts, ev: &mut dyn Events) -> usize {
        for (i, &b) in data.iter().enumerate() {
            let at = i.saturating_add(1);
            if b == SB {
                if self.msh_match > 0 {
                    self.garbage(i, ev);
                }
                self.start(Framing::Mllp, ts);
                return at;
            }
            if self.framing != Framing::Mllp {
                let want = b"MSH".get(usize::from(self.msh_match)).copied();
                if Some(b) == want && (self.msh_match > 0 || self.line_start) {
                    self.msh_match = self.msh_match.saturating_add(1);
                    if self.msh_match == 3 {
                        self.start(Framing::None, ts);
                        self.feed_scanner(b"MSH", true, ev);
                        return at;
                    }
                    continue;
                }
            }
            if self.msh_match > 0 {
                self.msh_match = 0;
                self.garbage(i, ev);
            }
            if b == CR || b == LF {
                self.line_start = true;
            } else {
                self.garbage(i, ev);
            }
        }
        data.len()
    }

    /// Passes message bytes to the scanner, counting them.
    fn feed_scanner(&mut self, data: &[u8], unframed: bool, ev: &mut dyn Events) -> Scan {
        let r = self.scanner.feed(data, unframed, ev);
        let n = match r {
            Scan::All => data.len(),
            Scan::NewMessage(n) => n,
        };
        self.msg_bytes = self.msg_bytes.saturating_add(n as u64);
        r
    }

    /// Room left under the message cap.
    fn room(&self) -> usize {
        usize::try_from(self.max_message.saturating_sub(self.msg_bytes)).unwrap_or(usize::MAX)
    }

    fn too_large(&mut self, ev: &mut dyn Events) {
        ev.anomaly(
            "message_too_large",
            format!(
                "message over {} bytes without an end; skipped to the next start",
                self.max_message
            ),
        );
        ev.malformed();
        self.state = State::Between;
        self.resync = true;
        self.line_start = false;
        self.msh_match = 0;
    }

    fn in_block(&mut self, data: &[u8], ts: Ts, ev: &mut dyn Events) -> usize {
        let pos = find3(data, EB, SB, SB);
        let content = data.get(..pos.unwrap_or(data.len())).unwrap_or_default();
        let room = self.room();
        if content.len() > room {
            let _ = self.feed_scanner(content.get(..room).unwrap_or_default(), false, ev);
            self.too_large(ev);
            return room;
        }
        let _ = self.feed_scanner(content, false, ev);
        self.last_ts = ts;
        match pos.and_then(|p| data.get(p)) {
            None => data.len(),
            Some(&EB) => {
                self.state = State::AfterEb;
                content.len().saturating_add(1)
            }
            Some(_) => {
                // SB inside a block: the message lost its end.
                ev.anomaly(
                    "start_block_in_message",
                    format!(
                        "start block inside a message of {} bytes; message dropped",
                        self.msg_bytes
                    ),
                );
                ev.malformed();
                self.start(Framing::Mllp, ts);
                content.len().saturating_add(1)
            }
        }
    }

    fn in_raw(&mut self, data: &[u8], ts: Ts, ev: &mut dyn Events) -> usize {
        let pos = find3(data, SB, SB, SB);
        let content = data.get(..pos.unwrap_or(data.len())).unwrap_or_default();
        let room = self.room();
        let part = content.get(..room).unwrap_or(content);
        if let Scan::NewMessage(n) = self.feed_scanner(part, true, ev) {
            // `MSH` (already counted) starts the next message.
            self.msg_bytes = self.msg_bytes.saturating_sub(3);
            if n > 0 {
                self.last_ts = ts;
            }
            self.finish(ev);
            self.start(Framing::None, ts);
            let _ = self.feed_scanner(b"MSH", true, ev);
            return n;
        }
        if !part.is_empty() {
            self.last_ts = ts;
        }
        if part.len() < content.len() {
            self.too_large(ev);
            return part.len();
        }
        if pos.is_some() {
            self.finish(ev);
        }
        content.len()
    }

    /// The current message is complete.
    fn finish(&mut self, ev: &mut dyn Events) {
        let framing = self.framing;
        self.state = State::Between;
        self.line_start = true;
        self.msh_match = 0;
        if framing == Framing::Mllp {
            if let Some(b @ (ACK | NAK)) = self.scanner.single_byte() {
                ev.commit_ack(b == ACK);
                self.scanner.reset();
                return;
            }
        }
        match self.scanner.finish(ev) {
            Some(info) => {
                if info.terminator() != "cr" && !self.lf_reported {
                    self.lf_reported = true;
                    ev.anomaly(
                        "non_cr_segment_terminator",
                        format!(
                            "segments end with {} instead of CR (reported once per direction)",
                            info.terminator()
                        ),
                    );
                }
                ev.message(Completed {
                    info,
                    framing,
                    bytes: self.msg_bytes,
                    last_ts: self.last_ts,
                });
            }
            None => ev.malformed(),
        }
        self.scanner.reset();
    }

    /// An unframed message that stands at a segment end is taken as complete (the other direction
    /// started talking: it is answering).
    pub fn flush_unframed(&mut self, ev: &mut dyn Events) {
        if self.state == State::InRaw && self.scanner.at_segment_start() && self.scanner.has_msh() {
            self.finish(ev);
        }
    }

    /// `len` bytes of this direction were lost.
    pub fn gap(&mut self, len: u64, ev: &mut dyn Events) {
        if self.state != State::Between {
            ev.anomaly(
                "gap_in_message",
                format!(
                    "{len} bytes lost inside a message of {} bytes; message dropped",
                    self.msg_bytes
                ),
            );
            ev.malformed();
            self.scanner.reset();
        }
        self.state = State::Between;
        self.resync = true;
        self.line_start = false;
        self.msh_match = 0;
        self.offset = self.offset.saturating_add(len);
    }

    /// The flow ended: an unframed message or one whose EB came is complete; a block without its
    /// end is `unterminated_message`.
    pub fn end(&mut self, ev: &mut dyn Events) {
        match self.state {
            State::Between => {}
            State::AfterEb | State::InRaw => self.finish(ev),
            State::InBlock => {
                ev.anomaly(
                    "unterminated_message",
                    format!(
                        "flow ended inside a message of {} bytes (no end block)",
                        self.msg_bytes
                    ),
                );
                ev.malformed();
                self.state = State::Between;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rec {
        kinds: Vec<&'static str>,
        msgs: Vec<(Option<crate::Text>, Framing, u64)>,
        malformed: u32,
    }
    impl AnomalySink for Rec {
        fn anomaly(&mut self, kind: &'static str, _d: String) {
            self.kinds.push(kind);
        }
    }
    impl Events for Rec {
        fn message(&mut self, c: Completed) {
            self.msgs.push((c.info.msh.control_id, c.framing, c.bytes));
        }
        fn malformed(&mut self) {
            self.malformed += 1;
        }
        fn commit_ack(&mut self, positive: bool) {
            self.kinds
                .push(if positive { "commit_ack" } else { "commit_nak" });
        }
    }

    fn run(data: &[u8], max: u64) -> Rec {
        let mut d = DirStream::new(max);
        let mut r = Rec::default();
        d.feed(data, Ts(0), &mut r);
        d.end(&mut r);
        r
    }

    const M1: &[u8] = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|ID1|P|2.5\rEVN|A01\r";
    const M2: &[u8] = b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|ID2|P|2.5\rEVN|A01\r";

    fn framed(m: &[u8]) -> Vec<u8> {
        [&[SB], m, &[EB, CR]].concat()
    }

    #[test]
    fn several_blocks_in_one_feed() {
        let data = [framed(M1), b"\r\n".to_vec(), framed(M2)].concat();
        let r = run(&data, 1 << 20);
        assert!(r.kinds.is_empty(), "{:?}", r.kinds);
        assert_eq!(r.msgs.len(), 2);
        assert_eq!(
            r.msgs[0],
            (Some("ID1".into()), Framing::Mllp, M1.len() as u64)
        );
        assert_eq!(r.msgs[1].0.as_deref(), Some("ID2"));
    }

    #[test]
    fn garbage_and_missing_cr() {
        let data = [
            b"\x00\x01junk".to_vec(),
            framed(M1),
            b"xx".to_vec(),
            [&[SB], M2, &[EB]].concat(),
        ]
        .concat();
        let r = run(&data, 1 << 20);
        assert_eq!(
            r.kinds,
            ["garbage_between_frames", "garbage_between_frames"]
        );
        assert_eq!(r.msgs.len(), 2);
        let data = [[&[SB], M1, &[EB]].concat(), framed(M2)].concat();
        let r = run(&data, 1 << 20);
        assert_eq!(r.kinds, ["missing_end_cr"]);
        assert_eq!(r.msgs.len(), 2);
    }

    #[test]
    fn oversized_block_is_skipped_and_stream_resyncs() {
        let mut big = vec![SB];
        big.extend_from_slice(M1);
        big.extend(std::iter::repeat_n(b'x', 3 << 20));
        big.extend_from_slice(&[EB, CR]);
        let data = [big, framed(M2)].concat();
        let mut d = DirStream::new(1 << 20);
        let mut r = Rec::default();
        for c in data.chunks(1400) {
            d.feed(c, Ts(0), &mut r);
        }
        d.end(&mut r);
        assert_eq!(r.kinds, ["message_too_large"]);
        assert_eq!(r.msgs.len(), 1);
        assert_eq!(r.msgs[0].0.as_deref(), Some("ID2"));
        // A megabyte without any end block at all.
        let mut big = vec![SB];
        big.extend_from_slice(M1);
        big.extend(std::iter::repeat_n(b'y', 3 << 20));
        let r = run(&big, 1 << 20);
        assert_eq!(r.kinds, ["message_too_large"]);
        assert!(r.msgs.is_empty());
    }

    #[test]
    fn mllp2_commit_acks_are_not_messages() {
        let data = [
            framed(M1),
            vec![SB, ACK, EB, CR],
            vec![SB, NAK, EB, CR],
            framed(b"X"),
        ]
        .concat();
        let r = run(&data, 1 << 20);
        assert_eq!(r.kinds, ["commit_ack", "commit_nak", "truncated_msh"]);
        assert_eq!(r.msgs.len(), 1);
        assert_eq!(r.malformed, 1);
    }

    #[test]
    fn unterminated_and_start_in_block() {
        let r = run(&[&[SB], M1].concat(), 1 << 20);
        assert_eq!(r.kinds, ["unterminated_message"]);
        let data = [&[SB], M1, &framed(M2)].concat();
        let r = run(&data, 1 << 20);
        assert_eq!(r.kinds, ["start_block_in_message"]);
        assert_eq!(r.msgs.len(), 1);
    }

    #[test]
    fn unframed_stream() {
        let data = [M1, M2].concat();
        let r = run(&data, 1 << 20);
        assert!(r.kinds.is_empty(), "{:?}", r.kinds);
        assert_eq!(
            r.msgs,
            [
                (Some("ID1".into()), Framing::None, M1.len() as u64),
                (Some("ID2".into()), Framing::None, M2.len() as u64)
            ]
        );
        // Byte at a time: the same.
        let mut d = DirStream::new(1 << 20);
        let mut r2 = Rec::default();
        for b in data.chunks(1) {
            d.feed(b, Ts(0), &mut r2);
        }
        d.end(&mut r2);
        assert_eq!(r.msgs, r2.msgs);
    }

    #[test]
    fn gap_drops_the_message_and_resyncs_silently() {
        let mut d = DirStream::new(1 << 20);
        let mut r = Rec::default();
        d.feed(&[&[SB], &M1[..10]].concat(), Ts(0), &mut r);
        d.gap(100, &mut r);
        d.feed(&M1[20..], Ts(0), &mut r);
        d.feed(&[EB, CR], Ts(0), &mut r);
        d.feed(&framed(M2), Ts(0), &mut r);
        d.end(&mut r);
        assert_eq!(r.kinds, ["gap_in_message"]);
        assert_eq!(r.msgs.len(), 1);
        assert_eq!(r.malformed, 1);
    }
}
