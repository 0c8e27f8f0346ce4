//! Safe readers over untrusted bytes, shared by every decoder.
//!
//! [`Reader`] walks a borrowed slice: every read returns `Option` and never panics, so a length field
//! from the wire can be passed straight in (after `take(len)` the bytes are known to exist). [`CapBuf`]
//! accumulates a small header that arrived split across `feed` calls, up to a hard cap fixed at
//! construction: its storage never grows past the cap whatever a length field says.

/// A cursor over borrowed bytes. Reads advance the cursor only when they succeed.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub const fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far (an offset for anomaly details).
    pub const fn offset(&self) -> usize {
        self.pos
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes, or `None` (cursor unchanged) if fewer remain.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// Everything left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let out = self.rest();
        self.pos = self.buf.len();
        out
    }

    /// A sub-reader over the next `n` bytes (a length-prefixed item).
    pub fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        self.take(n).map(Reader::new)
    }

    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let bytes = self.take(N)?;
        bytes.try_into().ok()
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }
    pub fn be_u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }
    pub fn be_u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
    pub fn le_u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }
    pub fn le_u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// Peeks at the next byte without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
}

/// Fills a fixed-size header that arrives split across `feed` calls: copies from the front of `input`
/// into `buf[*len..want]`, advancing `input` and `*len`. Returns true when the header is complete
/// (`*len == want`). `want` is capped at `buf.len()`, so no length field can overrun the buffer.
pub fn fill_fixed(buf: &mut [u8], len: &mut usize, want: usize, input: &mut &[u8]) -> bool {
    let want = want.min(buf.len());
    let n = want.saturating_sub(*len).min(input.len());
    let (head, rest) = input.split_at_checked(n).unwrap_or((&[], input));
    if let Some(dst) = buf.get_mut(*len..len.saturating_add(n)) {
        dst.copy_from_slice(head);
    }
    *len = len.saturating_add(n);
    *input = rest;
    *len == want
}

/// A bounded accumulator for headers split across `feed` calls.
///
/// Typical use: `if !buf.fill(&mut input, 6) { return }` — copies from `input` until the buffer holds 6
/// bytes (or input runs out), advancing `input` past what it took.
#[derive(Debug, Clone)]
pub struct CapBuf {
    buf: Vec<u8>,
    cap: usize,
}

impl CapBuf {
    /// An empty buffer that will never hold more than `cap` bytes. Nothing is allocated until needed.
    pub const fn new(cap: usize) -> Self {
        CapBuf {
            buf: Vec::new(),
            cap,
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes allocated (for tests of growth policy).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Makes room for `total` bytes in all (at most the cap) in one allocation, when the caller
    /// knows how much is coming. Callers bound `total` by data actually received, never by a length
    /// field alone.
    pub fn reserve_total(&mut self, total: usize) {
        let total = total.min(self.cap);
        if self.buf.capacity() < total {
            self.buf.reserve_exact(total.saturating_sub(self.buf.len()));
        }
    }

    /// Empties the buffer, keeping its storage for reuse.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Frees the storage (for idle flows).
    pub fn release(&mut self) {
        self.buf = Vec::new();
    }

    /// Copies from the front of `input` until the buffer holds `want` bytes (at most the cap). Returns
    /// `true` when it does. `input` is advanced past what was taken. A `want` above the cap returns
    /// `false` without taking anything: the caller treats that as an over-cap anomaly.
    pub fn fill(&mut self, input: &mut &[u8], want: usize) -> bool {
        if want > self.cap {
            return false;
        }
        let missing = want.saturating_sub(self.buf.len());
        let n = missing.min(input.len());
        let (head, tail) = input.split_at(n);
        self.buf.extend_from_slice(head);
        *input = tail;
        self.buf.len() >= want
    }

    /// Appends as much of `data` as fits under the cap; returns how many bytes were taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let room = self.cap.saturating_sub(self.buf.len());
        let n = room.min(data.len());
        if let Some(head) = data.get(..n) {
            self.buf.extend_from_slice(head);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.be_u16(), Some(0x0102));
        assert_eq!(r.be_u16(), None);
        assert_eq!(r.offset(), 2);
        assert_eq!(r.take(usize::MAX), None);
        assert_eq!(r.u8(), Some(3));
        assert!(r.is_empty());
    }

    #[test]
    fn fixed_header_fills_across_calls() {
        let mut buf = [0u8; 5];
        let mut len = 0;
        let mut input: &[u8] = &[1, 2, 3];
        assert!(!fill_fixed(&mut buf, &mut len, 5, &mut input));
        assert!(input.is_empty());
        let mut input: &[u8] = &[4, 5, 6];
        assert!(fill_fixed(&mut buf, &mut len, 5, &mut input));
        assert_eq!((buf, input), ([1, 2, 3, 4, 5], &[6u8][..]));
    }

    #[test]
    fn capbuf_fills_across_calls_and_respects_cap() {
        let mut b = CapBuf::new(4);
        let mut input: &[u8] = &[1, 2];
        assert!(!b.fill(&mut input, 4));
        assert!(input.is_empty());
        let mut input: &[u8] = &[3, 4, 5];
        assert!(b.fill(&mut input, 4));
        assert_eq!(b.as_slice(), &[1, 2, 3, 4]);
        assert_eq!(input, &[5]);
        assert!(!b.fill(&mut input, 5));
        assert_eq!(b.push(&[9, 9]), 0);
    }
}
