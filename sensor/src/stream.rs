//! TCP reassembly of one direction of a flow.
//!
//! In-order payload goes straight to the consumer as the borrowed slice it arrived in. Out-of-order
//! segments are copied into a buffer keyed by stream offset, up to a per-stream cap and a global
//! [`Budget`] shared by every stream of a worker. Rules (the same as Suricata's default "first data
//! wins" policy, as in RFC 9293's model of a receive window):
//!
//! * sequence numbers become 64-bit stream offsets by their signed 32-bit distance from the next
//!   expected byte, so wrap-around is transparent and streams may exceed 4 GiB;
//! * retransmitted bytes that were already delivered are dropped (counted); overlapping out-of-order
//!   bytes keep the first copy, and a copy whose bytes differ is a *conflicting overlap* (counted,
//!   reported as a `tcp` anomaly by the caller);
//! * a hole that will not fill becomes a gap of N bytes for the consumer: when buffering would pass a
//!   cap, when the flow ends with data still buffered (FIN, RST, idle timeout, eviction);
//! * without a SYN (capture started mid-connection) the first data segment sets the start.

use std::collections::BTreeMap;

/// What the consumer receives, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    Data(&'a [u8]),
    Gap(u64),
}

/// Bytes of out-of-order data buffered by all streams of one worker, against a cap.
#[derive(Debug, Clone)]
pub struct Budget {
    pub used: usize,
    pub cap: usize,
    pub peak: usize,
}

impl Budget {
    pub fn new(cap: usize) -> Self {
        Budget {
            used: 0,
            cap,
            peak: 0,
        }
    }
}

/// Per-stream counters the flow record and the stats report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    pub gaps: u64,
    pub gap_bytes: u64,
    pub retransmitted_bytes: u64,
    pub conflicting_overlaps: u64,
    pub cap_hits: u64,
}

#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver; `None` until a SYN or the first data.
    next_seq: Option<u32>,
    /// Stream offset of the next byte to deliver.
    offset: u64,
    /// Out-of-order segments by stream offset; never overlapping each other.
    pending: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    pub counters: StreamCounters,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// A reassembler for a direction whose SYN (if any) was already seen.
    pub fn starting_at(isn: Option<u32>) -> Self {
        let mut r = Self::new();
        if let Some(isn) = isn {
            r.syn(isn);
        }
        r
    }

    /// Bytes delivered or skipped so far (the stream offset).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// A SYN with sequence number `isn`: data starts at `isn + 1`. Retransmitted SYNs change nothing.
    pub fn syn(&mut self, isn: u32) {
        if self.next_seq.is_none() {
            self.next_seq = Some(isn.wrapping_add(1));
        }
    }

    /// One segment's payload. Calls `deliver` for everything now in order.
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        per_stream_cap: usize,
        budget: &mut Budget,
        mut deliver: impl FnMut(Delivery<'_>),
    ) {
        if payload.is_empty() {
            return;
        }
        let next = *self.next_seq.get_or_insert(seq);
        // Signed distance in sequence space from the next expected byte.
        let delta = i64::from(seq.wrapping_sub(next) as i32);
        let len = payload.len() as u64;
        if delta < 0 {
            let behind = delta.unsigned_abs();
            if behind >= len {
                self.counters.retransmitted_bytes += len;
                return;
            }
            self.counters.retransmitted_bytes += behind;
            let fresh = payload.get(behind as usize..).unwrap_or_default();
            self.deliver_in_order(fresh, budget, &mut deliver);
            return;
        }
        if delta == 0 {
            self.deliver_in_order(payload, budget, &mut deliver);
            return;
        }
        // Out of order: buffer what is new, first copy wins.
        let start = self.offset + delta as u64;
        self.insert(start, payload, per_stream_cap, budget, &mut deliver);
    }

    fn deliver_in_order(
        &mut self,
        data: &[u8],
        budget: &mut Budget,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        // Bytes of `data` that are also buffered already are compared (a conflict is counted) and
        // then dropped from the buffer: the in-order copy arrived first in stream terms.
        let end = self.offset + data.len() as u64;
        self.check_and_drop_pending_before(end, data, budget);
        self.advance(data.len() as u64);
        deliver(Delivery::Data(data));
        self.drain(budget, deliver);
    }

    /// Compares pending segments that start before `end` with `data` (which starts at `self.offset`)
    /// and removes the parts `data` covers.
    fn check_and_drop_pending_before(&mut self, end: u64, data: &[u8], budget: &mut Budget) {
        while let Some((&start, _)) = self.pending.range(..end).next() {
            let Some(seg) = self.pending.remove(&start) else {
                break;
            };
            self.release(seg.len(), budget);
            let seg_end = start + seg.len() as u64;
            let common_end = seg_end.min(end);
            let a = data
                .get((start - self.offset) as usize..(common_end - self.offset) as usize)
                .unwrap_or_default();
            let b = seg.get(..(common_end - start) as usize).unwrap_or_default();
            if a != b {
                self.counters.conflicting_overlaps += 1;
            }
            if seg_end > end {
                let tail = seg
                    .get((end - start) as usize..)
                    .unwrap_or_default()
                    .to_vec();
                self.hold(end, tail, budget);
            }
        }
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        if let Some(s) = self.next_seq.as_mut() {
            *s = s.wrapping_add(n as u32);
        }
    }

    /// Delivers buffered segments that are now in order. A segment that starts before the offset
    /// (the offset jumped over it at a gap) gives only its part beyond the offset. Every iteration
    /// removes a segment, so this always ends.
    fn drain(&mut self, budget: &mut Budget, deliver: &mut impl FnMut(Delivery<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.offset {
                break;
            }
            let seg = entry.remove();
            self.release(seg.len(), budget);
            let behind = usize::try_from(self.offset - start).unwrap_or(usize::MAX);
            if let Some(tail) = seg.get(behind..).filter(|t| !t.is_empty()) {
                self.advance(tail.len() as u64);
                deliver(Delivery::Data(tail));
            }
        }
    }

    fn insert(
        &mut self,
        start: u64,
        payload: &[u8],
        per_stream_cap: usize,
        budget: &mut Budget,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        let end = start + payload.len() as u64;
        // Split the new data around what is already buffered: first copy wins.
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut cursor = start;
        let overlapping: Vec<(u64, u64)> = self
            .pending
            .range(..end)
            .rev()
            .take_while(|(s, seg)| **s + seg.len() as u64 > start)
            .map(|(s, seg)| (*s, *s + seg.len() as u64))
            .collect();
        for (s, e) in overlapping.into_iter().rev() {
            if s > cursor {
                pieces.push((cursor, s));
            }
            // Compare the overlapping bytes.
            let lo = s.max(start);
            let hi = e.min(end);
            if lo < hi {
                let old = self
                    .pending
                    .get(&s)
                    .and_then(|seg| seg.get((lo - s) as usize..(hi - s) as usize));
                let new = payload.get((lo - start) as usize..(hi - start) as usize);
                if old != new {
                    self.counters.conflicting_overlaps += 1;
                }
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        for (s, e) in pieces {
            let bytes = payload
                .get((s - start) as usize..(e - start) as usize)
                .unwrap_or_default();
            let n = bytes.len();
            if self.buffered + n > per_stream_cap || budget.used + n > budget.cap {
                // The hole before the buffered data will not fill in time: give it up.
                self.counters.cap_hits += 1;
                self.skip_to_pending(budget, deliver);
                if s == self.offset {
                    self.advance(n as u64);
                    deliver(Delivery::Data(bytes));
                    self.drain(budget, deliver);
                    continue;
                }
                if s < self.offset {
                    continue;
                }
                if self.buffered + n > per_stream_cap || budget.used + n > budget.cap {
                    // Still no room: jump to this segment.
                    self.gap_to(s, deliver);
                    self.advance(n as u64);
                    deliver(Delivery::Data(bytes));
                    self.drain(budget, deliver);
                    continue;
                }
            }
            self.hold(s, bytes.to_vec(), budget);
        }
    }

    fn hold(&mut self, start: u64, seg: Vec<u8>, budget: &mut Budget) {
        self.buffered += seg.len();
        budget.used += seg.len();
        budget.peak = budget.peak.max(budget.used);
        self.pending.insert(start, seg);
    }

    fn release(&mut self, n: usize, budget: &mut Budget) {
        self.buffered = self.buffered.saturating_sub(n);
        budget.used = budget.used.saturating_sub(n);
    }

    fn gap_to(&mut self, target: u64, deliver: &mut impl FnMut(Delivery<'_>)) {
        if target > self.offset {
            let n = target - self.offset;
            self.counters.gaps += 1;
            self.counters.gap_bytes += n;
            self.advance(n);
            deliver(Delivery::Gap(n));
        }
    }

    /// Declares the hole before the first buffered segment lost and delivers what follows it. Removes
    /// at least one segment when any is buffered.
    fn skip_to_pending(&mut self, budget: &mut Budget, deliver: &mut impl FnMut(Delivery<'_>)) {
        if let Some((&first, _)) = self.pending.first_key_value() {
            self.gap_to(first, deliver);
            self.drain(budget, deliver);
        }
    }

    /// The stream ends (FIN, RST, timeout, eviction): every remaining hole is a gap, every buffered
    /// segment is delivered. Frees the buffer.
    pub fn flush(&mut self, budget: &mut Budget, mut deliver: impl FnMut(Delivery<'_>)) {
        while !self.pending.is_empty() {
            self.skip_to_pending(budget, &mut deliver);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds segments, flushes, and returns the delivered bytes with gaps as `None` runs.
    fn run(isn: u32, segs: &[(u32, Vec<u8>)], cap: usize) -> (Vec<Option<u8>>, StreamCounters) {
        let mut r = Reassembler::new();
        let mut budget = Budget::new(cap);
        r.syn(isn);
        let mut out: Vec<Option<u8>> = Vec::new();
        let mut sink = |d: Delivery<'_>| match d {
            Delivery::Data(b) => out.extend(b.iter().map(|&x| Some(x))),
            Delivery::Gap(n) => out.extend(std::iter::repeat_n(None, n as usize)),
        };
        for (seq, p) in segs {
            r.segment(*seq, p, cap, &mut budget, &mut sink);
        }
        r.flush(&mut budget, &mut sink);
        assert_eq!(budget.used, 0);
        (out, r.counters)
    }

    #[test]
    fn in_order_out_of_order_and_wraparound() {
        let isn = u32::MAX - 5; // data starts at MAX-4 and wraps after 5 bytes
        let data: Vec<u8> = (0..20).collect();
        let seg = |from: usize, to: usize| {
            (
                isn.wrapping_add(1).wrapping_add(from as u32),
                data[from..to].to_vec(),
            )
        };
        let (out, c) = run(isn, &[seg(10, 20), seg(0, 4), seg(4, 10)], 1 << 20);
        assert_eq!(out, data.iter().map(|&x| Some(x)).collect::<Vec<_>>());
        assert_eq!(c, StreamCounters::default());
    }

    #[test]
    fn retransmission_and_conflicting_overlap_first_wins() {
        let (out, c) = run(
            0,
            &[
                (1, b"abcd".to_vec()),
                (1, b"abcd".to_vec()),
                (7, b"gh".to_vec()),
                (6, b"fgX".to_vec()),
                (9, b"i".to_vec()),
                (5, b"e".to_vec()),
            ],
            1 << 20,
        );
        let s: String = out.iter().map(|b| b.unwrap() as char).collect();
        assert_eq!(s, "abcdefghi");
        assert_eq!(c.retransmitted_bytes, 4);
        assert_eq!(c.conflicting_overlaps, 1);
    }

    #[test]
    fn hole_that_never_fills_becomes_a_gap_at_the_cap() {
        // Byte 0..10 lost; 10 bytes of later data with a cap of 8 bytes.
        let (out, c) = run(0, &[(11, vec![1; 5]), (16, vec![2; 5])], 8);
        assert_eq!(out.iter().filter(|b| b.is_none()).count(), 10);
        assert_eq!(out.len(), 20);
        assert_eq!(c.gaps, 1);
        assert!(c.cap_hits >= 1);
    }

    #[test]
    fn midstream_pickup_starts_at_first_data() {
        let mut r = Reassembler::new();
        let mut b = Budget::new(100);
        let mut got = Vec::new();
        r.segment(1000, b"xyz", 100, &mut b, |d| got.push(format!("{d:?}")));
        r.segment(1003, b"!", 100, &mut b, |d| got.push(format!("{d:?}")));
        assert_eq!(got.len(), 2);
        assert_eq!(r.offset(), 4);
    }

    proptest! {
        /// Tiny caps force holes to be given up while data is buffered on both sides of the jump: every
        /// byte is still delivered or reported lost exactly once, delivered bytes are right, and flushing
        /// always ends.
        #[test]
        fn tiny_caps_never_lose_track(
            len in 1usize..2000,
            cap in 1usize..300,
            cuts in proptest::collection::vec(1usize..120, 1..40),
            order_seed in any::<u64>(),
            lost in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
            let mut segs = Vec::new();
            let mut at = 0;
            let mut i = 0;
            while at < len {
                let n = cuts[i % cuts.len()].min(len - at);
                segs.push((at, at + n));
                at += n;
                i += 1;
            }
            let last = segs.len() - 1;
            let mut sent: Vec<(usize, usize)> = segs.iter().enumerate().filter(|(k, _)| *k == last || !lost[k % lost.len()]).map(|(_, s)| *s).collect();
            let mut x = order_seed | 1;
            for k in (1..sent.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                sent.swap(k, (x % (k as u64 + 1)) as usize);
            }
            let input: Vec<(u32, Vec<u8>)> = sent.iter().map(|&(a, b)| (1u32.wrapping_add(a as u32), data[a..b].to_vec())).collect();
            let (out, _) = run(0, &input, cap);
            prop_assert!(out.len() <= len);
            for (j, b) in out.iter().enumerate() {
                if let Some(b) = b {
                    prop_assert_eq!(*b, data[j]);
                }
            }
        }

        /// Any segmentation, reordering, duplication and loss gives the original bytes back, with the
        /// lost ranges (and only those) reported as gaps.
        #[test]
        fn any_segmentation_reorder_dup_loss(
            len in 1usize..3000,
            isn in any::<u32>(),
            cuts in proptest::collection::vec(1usize..200, 1..60),
            order_seed in any::<u64>(),
            lost in proptest::collection::vec(any::<bool>(), 60),
            dups in proptest::collection::vec(any::<bool>(), 60),
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut segs = Vec::new();
            let mut at = 0;
            let mut i = 0;
            while at < len {
                let n = cuts[i % cuts.len()].min(len - at);
                segs.push((at, at + n));
                at += n;
                i += 1;
            }
            // Keep the last segment so the stream length is known; lose others at random.
            let last = segs.len() - 1;
            let kept: Vec<(usize, usize)> = segs.iter().enumerate().filter(|(k, _)| *k == last || !lost[k % lost.len()]).map(|(_, s)| *s).collect();
            let mut sent: Vec<(usize, usize)> = Vec::new();
            for (k, s) in kept.iter().enumerate() {
                sent.push(*s);
                if dups[k % dups.len()] { sent.push(*s); }
            }
            // Deterministic shuffle from the seed.
            let mut x = order_seed | 1;
            for k in (1..sent.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                sent.swap(k, (x % (k as u64 + 1)) as usize);
            }
            let input: Vec<(u32, Vec<u8>)> = sent.iter().map(|&(a, b)| (isn.wrapping_add(1).wrapping_add(a as u32), data[a..b].to_vec())).collect();
            let (out, _) = run(isn, &input, 1 << 20);
            prop_assert_eq!(out.len(), len);
            let mut expect: Vec<Option<u8>> = vec![None; len];
            for &(a, b) in &kept { for j in a..b { expect[j] = Some(data[j]); } }
            prop_assert_eq!(out, expect);
        }
    }
}
