//! HTTP/1.1 message framing over reassembled TCP (RFC 9112), carrying SOAP 1.2 envelopes (DPWS 1.1
//! §3.1 HTTP binding; IEEE 11073-20702 §6).
//!
//! One state machine per direction: `Head` (bytes up to the empty line are copied into a [`CapBuf`]
//! of [`HEAD_CAP`] and parsed by httparse into a fixed array of [`MAX_HEADERS`]), then `Body` by
//! Content-Length, chunked coding or until close (RFC 9112 §6.3), then `Head` again (keep-alive). Body
//! bytes go into a second [`CapBuf`] of [`BODY_CAP`] for the SOAP scan; bytes past it are counted only.
//! After an error or a gap the direction goes to `Resync`: it skips to the next line that starts like
//! a request line or a status line. Requests and responses can arrive in either direction (a DPWS event
//! source is the HTTP client of its sink): the start line decides, and both directions share one queue
//! of requests awaiting their response, so pipelining pairs in order.

use std::collections::VecDeque;

use super::coding::{self, Decoded};
use super::soap::{self, capped, Mode};
use super::{SdcEvent, SdcKind};
use crate::wire::CapBuf;
use crate::{AppEvent, Direction, Probe, Progress, Protocol, StreamParser, Ts};

/// Largest header block (start line, fields and the empty line).
pub const HEAD_CAP: usize = 16 * 1024;
/// Most header fields per message (the httparse array).
pub const MAX_HEADERS: usize = 64;
/// Most body bytes kept for the XML scan; the rest of a longer body is counted only.
pub const BODY_CAP: usize = 256 * 1024;
/// Longest chunk-size line (size, extensions).
pub const CHUNK_LINE_CAP: usize = 1024;
/// Largest trailer section after the last chunk.
pub const TRAILER_CAP: usize = 8 * 1024;
/// Most requests waiting for their response.
pub const MAX_PENDING: usize = 32;
/// Anomalies per flow before the parser gives up on it.
pub const MAX_ANOMALIES: u32 = 64;
/// How far [`probe`] looks for the end of the header block.
pub const PROBE_LIMIT: usize = 8 * 1024;

/// Start-of-message tokens for [`probe`] and resync.
const STARTS: [&[u8]; 8] = [
    b"HTTP/1.",
    b"POST ",
    b"GET ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
];

/// Body bytes kept after a message when the buffer grew past this are freed (idle flows stay small).
const BODY_KEEP: usize = 16 * 1024;

/// Whether the first bytes of a flow look like HTTP carrying SOAP.
///
/// `Yes` once the header block (or what there is of it) has a `Content-Type` with `soap+xml`, a
/// `SOAPAction` field, or an XML body whose first bytes name a SOAP `Envelope`; `NeedMore` while the
/// start line is a prefix of a known token or the header block is incomplete (up to [`PROBE_LIMIT`]);
/// `No` otherwise.
pub fn probe(_dir: Direction, data: &[u8]) -> Probe {
    let mut start_ok = false;
    for s in STARTS {
        let n = s.len().min(data.len());
        if data.get(..n) == s.get(..n) {
            if data.len() < s.len() {
                return Probe::NeedMore;
            }
            start_ok = true;
            break;
        }
    }
    if !start_ok {
        return Probe::No;
    }
    let window = data.get(..PROBE_LIMIT).unwrap_or(data);
    let head_end = find_head_end(window);
    let head = match head_end {
        Some(e) => window.get(..e).unwrap_or(window),
        None => window,
    };
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default();
        if name.eq_ignore_ascii_case(b"content-type") && contains_ci(value, b"soap+xml") {
            return Probe::Yes;
        }
        if name.eq_ignore_ascii_case(b"soapaction") {
            return Probe::Yes;
        }
    }
    match head_end {
        None if data.len() >= PROBE_LIMIT => Probe::No,
        None => Probe::NeedMore,
        Some(e) => {
            let body = window.get(e..).unwrap_or_default();
            let xmlish = head.split(|&b| b == b'\n').any(|l| {
                l.len() > 13
                    && l.get(..13)
                        .is_some_and(|n| n.eq_ignore_ascii_case(b"content-type:"))
                    && contains_ci(l, b"xml")
            });
            if !xmlish {
                return Probe::No;
            }
            if contains_ci(body, b"envelope") {
                Probe::Yes
            } else if body.len() < 512 && data.len() < PROBE_LIMIT {
                Probe::NeedMore
            } else {
                Probe::No
            }
        }
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Offset just past the empty line ending a header block (CRLF CRLF or bare LF LF), if present.
fn find_head_end(data: &[u8]) -> Option<usize> {
    let mut line = 0usize;
    let mut started = false;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            if line == 0 && started {
                return i.checked_add(1);
            }
            line = 0;
        } else if b != b'\r' {
            line = line.saturating_add(1);
            started = true;
        }
    }
    None
}

/// A request waiting for its response.
#[derive(Debug, Clone)]
struct Pending {
    head_method: bool,
    message: Option<String>,
    operation_handle: Option<String>,
    message_id: Option<String>,
}

/// The parsed header block of the current message.
#[derive(Debug, Clone, Default)]
struct Head {
    request: bool,
    method: Option<String>,
    path: Option<String>,
    status: Option<u16>,
    content_encoding: Option<String>,
    user_agent: Option<String>,
    server: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// In a chunk-size line: value so far, hex digits seen, in an extension, line length.
    Size {
        val: u64,
        digits: u8,
        ext: bool,
        line: usize,
    },
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd {
        cr: bool,
    },
    Trailer {
        line: usize,
        total: usize,
    },
}

const CHUNK_START: Chunk = Chunk::Size {
    val: 0,
    digits: 0,
    ext: false,
    line: 0,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a header block; `line` is the length of the current line so far (CR excluded).
    Head {
        line: usize,
    },
    Fixed(u64),
    Chunked(Chunk),
    UntilClose,
    /// Looking for a message start (a start token at a line start or after `>`); `skipped` counts the
    /// bytes passed over so far (the partial match is in `HttpDir::cand`).
    Resync {
        at_line_start: bool,
        skipped: u64,
    },
    /// After a `101 Switching Protocols`: the rest is not HTTP.
    Closed,
}

/// Shared per-flow context handed to a direction.
struct Ctx<'o> {
    out: &'o mut Vec<AppEvent>,
    pending: &'o mut VecDeque<Pending>,
    anomalies: &'o mut u32,
    done: &'o mut bool,
    /// Once-per-flow anomalies already raised ([`NOTE_ENCODED`], [`NOTE_OVERFLOW`]).
    noted: &'o mut u8,
}

/// `soap_content_encoded` was raised on this flow.
const NOTE_ENCODED: u8 = 1;
/// `http_pipeline_overflow` was raised on this flow.
const NOTE_OVERFLOW: u8 = 2;

impl Ctx<'_> {
    /// Raises `kind` only the first time `note` is seen on this flow.
    fn anomaly_once(&mut self, note: u8, kind: &'static str, detail: String) {
        if *self.noted & note == 0 {
            *self.noted |= note;
            self.anomaly(kind, detail);
        }
    }

    fn anomaly(&mut self, kind: &'static str, detail: String) {
        if *self.done {
            return;
        }
        *self.anomalies = self.anomalies.saturating_add(1);
        if *self.anomalies > MAX_ANOMALIES {
            self.out.push(AppEvent::anomaly(
                "sdc",
                "too_many_anomalies",
                format!("more than {MAX_ANOMALIES} anomalies on this flow; giving up"),
            ));
            *self.done = true;
            return;
        }
        self.out.push(AppEvent::anomaly("sdc", kind, detail));
    }
}

/// One direction of an HTTP connection.
#[derive(Debug)]
struct HttpDir {
    state: State,
    head_buf: CapBuf,
    /// Bytes of a resync candidate matched so far.
    cand: CapBuf,
    body: CapBuf,
    body_len: u64,
    over_cap: bool,
    body_gap: bool,
    head: Option<Head>,
}

impl HttpDir {
    fn new() -> Self {
        HttpDir {
            state: State::Head { line: 0 },
            head_buf: CapBuf::new(HEAD_CAP),
            cand: CapBuf::new(16),
            body: CapBuf::new(BODY_CAP),
            body_len: 0,
            over_cap: false,
            body_gap: false,
            head: None,
        }
    }

    fn feed(&mut self, mut input: &[u8], ctx: &mut Ctx<'_>) {
        while !input.is_empty() && !*ctx.done {
            match self.state {
                State::Head { line } => self.feed_head(&mut input, line, ctx),
                State::Fixed(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (data, rest) = input.split_at(n);
                    input = rest;
                    // A long body grows to its announced length in one step once a quarter of it
                    // has arrived, instead of doubling from its first segment (copies at every
                    // step): the allocation stays within four times the bytes received.
                    let have = self.body.len().saturating_add(n);
                    let total = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .saturating_add(self.body.len());
                    if total > 4 * 1024 && have >= total / 4 {
                        self.body.reserve_total(total);
                    }
                    self.store(data, ctx);
                    let left = left.saturating_sub(n as u64);
                    self.state = State::Fixed(left);
                    if left == 0 {
                        self.complete(ctx);
                    }
                }
                State::Chunked(c) => self.feed_chunked(&mut input, c, ctx),
                State::UntilClose => {
                    self.store(input, ctx);
                    input = &[];
                }
                State::Resync {
                    at_line_start,
                    skipped,
                } => self.feed_resync(&mut input, at_line_start, skipped, ctx),
                State::Closed => return,
            }
        }
    }

    fn reset_message(&mut self) {
        self.head_buf.clear();
        if self.body.len() > BODY_KEEP {
            self.body.release();
        } else {
            self.body.clear();
        }
        self.body_len = 0;
        self.over_cap = false;
        self.body_gap = false;
        self.head = None;
        self.state = State::Head { line: 0 };
    }

    fn resync(&mut self, skipped: u64) {
        self.reset_message();
        self.cand.clear();
        self.state = State::Resync {
            at_line_start: true,
            skipped,
        };
    }

    fn feed_head(&mut self, input: &mut &[u8], mut line: usize, ctx: &mut Ctx<'_>) {
        // RFC 9112 §2.2: empty lines before the start line are ignored.
        if self.head_buf.is_empty() {
            let skip = input
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(input.len());
            *input = input.get(skip..).unwrap_or_default();
            if input.is_empty() {
                return;
            }
        }
        let mut end = None;
        for (i, &b) in input.iter().enumerate() {
            if b == b'\n' {
                if line == 0 {
                    end = Some(i);
                    break;
                }
                line = 0;
            } else if b != b'\r' {
                line = line.saturating_add(1);
            }
        }
        let take = match end {
            Some(i) => i.saturating_add(1),
            None => input.len(),
        };
        let (part, rest) = input.split_at(take.min(input.len()));
        if self.head_buf.push(part) < part.len() {
            ctx.anomaly(
                "http_head_over_cap",
                format!("header block longer than {HEAD_CAP} bytes"),
            );
            *input = rest;
            self.resync(0);
            return;
        }
        *input = rest;
        if end.is_none() {
            self.state = State::Head { line };
            return;
        }
        self.parse_head(ctx);
    }

    fn parse_head(&mut self, ctx: &mut Ctx<'_>) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let buf = self.head_buf.as_slice();
        let mut head = Head::default();
        let parsed: Result<&[httparse::Header<'_>], httparse::Error> = if buf.starts_with(b"HTTP/")
        {
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(_)) => {
                    head.status = resp.code;
                    Ok(resp.headers)
                }
                Ok(httparse::Status::Partial) => Err(httparse::Error::Token),
                Err(e) => Err(e),
            }
        } else {
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(_)) => {
                    head.request = true;
                    head.method = req.method.map(|m| capped(m, 16));
                    head.path = req.path.map(|p| capped(p, soap::MAX_FIELD));
                    Ok(req.headers)
                }
                Ok(httparse::Status::Partial) => Err(httparse::Error::Token),
                Err(e) => Err(e),
            }
        };
        let fields = match parsed {
            Ok(f) => f,
            Err(httparse::Error::TooManyHeaders) => {
                ctx.anomaly(
                    "http_too_many_headers",
                    format!("more than {MAX_HEADERS} header fields"),
                );
                self.resync(0);
                return;
            }
            Err(e) => {
                let n = buf.len();
                ctx.anomaly(
                    "http_malformed_head",
                    format!("{e} in a {n}-byte header block"),
                );
                self.resync(0);
                return;
            }
        };
        let mut content_length: Option<u64> = None;
        let mut cl_bad = false;
        let mut te: Option<bool> = None; // Some(final coding is chunked)
        for h in fields.iter() {
            let v = std::str::from_utf8(h.value).unwrap_or("").trim();
            if h.name.eq_ignore_ascii_case("content-length") {
                // RFC 9112 §6.3 ¶5: a list of identical values may be folded; anything else is invalid.
                for item in v.split(',') {
                    let item = item.trim();
                    let ok = !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit());
                    match (
                        ok.then(|| item.parse::<u64>().ok()).flatten(),
                        content_length,
                    ) {
                        (Some(n), None) => content_length = Some(n),
                        (Some(n), Some(prev)) if n == prev => {}
                        _ => cl_bad = true,
                    }
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                let last = v.rsplit(',').next().unwrap_or("").trim();
                te = Some(last.eq_ignore_ascii_case("chunked"));
            } else if h.name.eq_ignore_ascii_case("content-encoding") {
                if !v.eq_ignore_ascii_case("identity") && !v.is_empty() {
                    head.content_encoding = Some(capped(v, 64));
                }
            } else if h.name.eq_ignore_ascii_case("user-agent") {
                head.user_agent = Some(capped(v, 128));
            } else if h.name.eq_ignore_ascii_case("server") {
                head.server = Some(capped(v, 128));
            }
        }
        let status = head.status.unwrap_or(0);
        let request = head.request;
        self.head = Some(head);
        if !request {
            if (100..200).contains(&status) {
                // Interim response: no body, no pairing, no event (RFC 9110 §15.2).
                self.head_buf.clear();
                self.head = None;
                self.state = if status == 101 {
                    State::Closed
                } else {
                    State::Head { line: 0 }
                };
                return;
            }
            let head_req = ctx.pending.front().is_some_and(|p| p.head_method);
            if head_req || status == 204 || status == 304 {
                self.complete(ctx);
                return;
            }
        }
        if te.is_some() && content_length.is_some() {
            ctx.anomaly(
                "http_te_and_cl",
                "both Transfer-Encoding and Content-Length; chunked framing used".into(),
            );
        }
        match te {
            Some(true) => {
                self.state = State::Chunked(CHUNK_START);
                return;
            }
            Some(false) if request => {
                ctx.anomaly(
                    "http_transfer_encoding_unsupported",
                    "request whose final transfer coding is not chunked".into(),
                );
                self.resync(0);
                return;
            }
            Some(false) => {
                self.state = State::UntilClose;
                return;
            }
            None => {}
        }
        if cl_bad {
            ctx.anomaly(
                "http_content_length_invalid",
                "unparsable or conflicting Content-Length".into(),
            );
            self.resync(0);
            return;
        }
        match content_length {
            Some(0) => self.complete(ctx),
            Some(n) => self.state = State::Fixed(n),
            None if request => self.complete(ctx),
            None => self.state = State::UntilClose,
        }
    }

    fn store(&mut self, data: &[u8], ctx: &mut Ctx<'_>) {
        self.body_len = self.body_len.saturating_add(data.len() as u64);
        if self.body_gap || self.over_cap {
            return;
        }
        if self.body.push(data) < data.len() {
            self.over_cap = true;
            ctx.anomaly(
                "http_body_over_cap",
                format!("body longer than {BODY_CAP} bytes; only its prefix is scanned"),
            );
        }
    }

    fn feed_chunked(&mut self, input: &mut &[u8], mut c: Chunk, ctx: &mut Ctx<'_>) {
        while let Some((&b, rest)) = input.split_first() {
            match c {
                Chunk::Data(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (data, rest) = input.split_at(n);
                    *input = rest;
                    self.store(data, ctx);
                    let left = left.saturating_sub(n as u64);
                    c = if left == 0 {
                        Chunk::DataEnd { cr: false }
                    } else {
                        Chunk::Data(left)
                    };
                    continue;
                }
                Chunk::Size {
                    val,
                    digits,
                    ext,
                    line,
                } => {
                    *input = rest;
                    let line = line.saturating_add(1);
                    if line > CHUNK_LINE_CAP {
                        return self.chunk_error(ctx, "chunk-size line over cap");
                    }
                    c = if b == b'\n' {
                        if digits == 0 {
                            return self.chunk_error(ctx, "chunk-size line without a size");
                        }
                        if val == 0 {
                            Chunk::Trailer { line: 0, total: 0 }
                        } else {
                            Chunk::Data(val)
                        }
                    } else if ext || b == b'\r' {
                        // Extensions are ignored (RFC 9112 §7.1.1).
                        Chunk::Size {
                            val,
                            digits,
                            ext,
                            line,
                        }
                    } else if let Some(d) = char::from(b).to_digit(16) {
                        let Some(v) = val
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(u64::from(d)))
                        else {
                            return self.chunk_error(ctx, "chunk size overflows 64 bits");
                        };
                        Chunk::Size {
                            val: v,
                            digits: digits.saturating_add(1),
                            ext,
                            line,
                        }
                    } else if b == b';' || b == b' ' || b == b'\t' {
                        Chunk::Size {
                            val,
                            digits,
                            ext: true,
                            line,
                        }
                    } else {
                        return self.chunk_error(ctx, "invalid byte in chunk-size line");
                    };
                }
                Chunk::DataEnd { cr } => {
                    *input = rest;
                    if b == b'\n' {
                        c = CHUNK_START;
                    } else if b == b'\r' && !cr {
                        c = Chunk::DataEnd { cr: true };
                    } else {
                        return self.chunk_error(ctx, "chunk data not followed by CRLF");
                    }
                }
                Chunk::Trailer { line, total } => {
                    *input = rest;
                    let total = total.saturating_add(1);
                    if total > TRAILER_CAP {
                        return self.chunk_error(ctx, "trailer section over cap");
                    }
                    if b == b'\n' {
                        if line == 0 {
                            self.complete(ctx);
                            return;
                        }
                        c = Chunk::Trailer { line: 0, total };
                    } else if b == b'\r' {
                        c = Chunk::Trailer { line, total };
                    } else {
                        c = Chunk::Trailer {
                            line: line.saturating_add(1),
                            total,
                        };
                    }
                }
            }
        }
        self.state = State::Chunked(c);
    }

    fn chunk_error(&mut self, ctx: &mut Ctx<'_>, what: &str) {
        ctx.anomaly("http_chunk_invalid", what.to_owned());
        self.resync(0);
    }

    fn feed_resync(
        &mut self,
        input: &mut &[u8],
        mut at_line_start: bool,
        mut skipped: u64,
        ctx: &mut Ctx<'_>,
    ) {
        while let Some((&b, rest)) = input.split_first() {
            *input = rest;
            if at_line_start || !self.cand.is_empty() {
                self.cand.push(&[b]);
                let c = self.cand.as_slice();
                let prefix_of = STARTS.iter().any(|s| s.starts_with(c));
                if STARTS.contains(&c) {
                    ctx.anomaly(
                        "http_resync",
                        format!("skipped {skipped} bytes to the next message start"),
                    );
                    let n = self.cand.len();
                    self.head_buf.clear();
                    let _ = self.head_buf.push(self.cand.as_slice());
                    self.cand.clear();
                    self.state = State::Head { line: n };
                    return;
                }
                if prefix_of {
                    at_line_start = false;
                    continue;
                }
                skipped = skipped.saturating_add(self.cand.len() as u64);
                self.cand.clear();
            } else {
                skipped = skipped.saturating_add(1);
            }
            // A message starts at a line start, or right after the '>' that ended an XML body.
            at_line_start = b == b'\n' || b == b'>';
        }
        self.state = State::Resync {
            at_line_start,
            skipped,
        };
    }

    fn gap(&mut self, len: u64, ctx: &mut Ctx<'_>) {
        match self.state {
            State::Fixed(left) if len <= left => {
                self.body_gap = true;
                self.body_len = self.body_len.saturating_add(len);
                let left = left.saturating_sub(len);
                self.state = State::Fixed(left);
                if left == 0 {
                    self.complete(ctx);
                }
            }
            State::UntilClose => {
                self.body_gap = true;
                self.body_len = self.body_len.saturating_add(len);
            }
            State::Closed => {}
            State::Resync {
                at_line_start: _,
                skipped,
            } => {
                self.cand.clear();
                self.state = State::Resync {
                    at_line_start: true,
                    skipped: skipped.saturating_add(len),
                };
            }
            _ => {
                // Framing is lost: pairing by order is no longer reliable either.
                ctx.pending.clear();
                self.resync(len);
            }
        }
    }

    fn end(&mut self, ctx: &mut Ctx<'_>) {
        match self.state {
            State::UntilClose => self.complete(ctx),
            State::Fixed(_) | State::Chunked(_) => {
                ctx.anomaly(
                    "http_incomplete_at_end",
                    format!("flow ended inside a body after {} bytes", self.body_len),
                );
                self.body_gap = true;
                self.complete(ctx);
            }
            State::Head { .. } if !self.head_buf.is_empty() => {
                let n = self.head_buf.len();
                ctx.anomaly(
                    "http_incomplete_at_end",
                    format!("flow ended inside a {n}-byte header block"),
                );
                self.reset_message();
            }
            _ => {}
        }
    }

    /// The current message is complete: scan its body, pair it, emit its event.
    fn complete(&mut self, ctx: &mut Ctx<'_>) {
        let head = self.head.take().unwrap_or_default();
        let mut truncated = self.over_cap || self.body_gap;
        let mut ev = SdcEvent::new(SdcKind::Soap);
        let raw = self.body.as_slice();
        let mut has_body = self.body_len > 0;
        // Content coding: gzip/deflate are inflated (capped); others are counted, not scanned.
        let decoded: Option<Vec<u8>> = match (&head.content_encoding, raw.is_empty()) {
            (Some(enc), false) => match coding::decode(enc, raw, truncated) {
                Decoded::Bytes { data, truncated: t } => {
                    truncated |= t;
                    has_body = !data.is_empty();
                    Some(data)
                }
                Decoded::Unsupported => {
                    ctx.anomaly_once(
                        NOTE_ENCODED,
                        "soap_content_encoded",
                        format!("body in content coding {enc} is counted, not scanned (noted once per flow)"),
                    );
                    Some(Vec::new())
                }
                Decoded::Corrupt { data, what } => {
                    ctx.anomaly("http_content_decode_error", format!("{enc}: {what}"));
                    truncated = true;
                    Some(data)
                }
            },
            _ => None,
        };
        let body = decoded.as_deref().unwrap_or(raw);
        let body = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .and_then(|i| body.get(i..))
            .unwrap_or_default();
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        if body.first() == Some(&b'<') {
            let scan = soap::scan(body, Mode::Http, truncated);
            for (kind, detail) in &scan.anomalies {
                ctx.anomaly(kind, detail.clone());
            }
            ev.apply_scan(scan);
        }
        ev.http_method = head.method.clone();
        ev.http_path = head.path;
        ev.http_status = head.status;
        ev.content_length = Some(self.body_len);
        ev.content_encoding = head.content_encoding;
        ev.body_truncated = truncated.then_some(true);
        ev.user_agent = head.user_agent;
        ev.server = head.server;
        let mut emit = true;
        if head.request {
            if ctx.pending.len() >= MAX_PENDING {
                ctx.pending.pop_front();
                // Normal when the sensor sees one direction only (asymmetric routing): once per flow.
                ctx.anomaly_once(
                    NOTE_OVERFLOW,
                    "http_pipeline_overflow",
                    format!(
                        "more than {MAX_PENDING} requests without a response (noted once per flow)"
                    ),
                );
            }
            ctx.pending.push_back(Pending {
                head_method: head.method.as_deref() == Some("HEAD"),
                message: ev.message.clone(),
                operation_handle: ev.operation_handle.clone(),
                message_id: ev.message_id.clone(),
            });
        } else {
            if let Some(req) = ctx.pending.pop_front() {
                if let (Some(rel), Some(mid)) = (&ev.relates_to, &req.message_id) {
                    if rel != mid {
                        ctx.anomaly(
                            "soap_relates_to_mismatch",
                            "response RelatesTo differs from the request's MessageID".into(),
                        );
                    }
                }
                ev.request_message = req.message;
                if ev.operation_handle.is_none() {
                    ev.operation_handle = req.operation_handle;
                }
            }
            let ok = ev.http_status.is_some_and(|s| (200..300).contains(&s));
            emit = !ok || has_body;
        }
        if emit && !*ctx.done {
            ctx.out.push(AppEvent::Sdc(ev));
        }
        self.reset_message();
    }
}

/// The SDC parser for one TCP flow: HTTP/1.1 framing both ways, a SOAP scan of every body.
#[derive(Debug)]
pub struct SdcParser {
    dirs: [HttpDir; 2],
    pending: VecDeque<Pending>,
    anomalies: u32,
    done: bool,
    noted: u8,
}

impl Default for SdcParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SdcParser {
    pub fn new() -> Self {
        SdcParser {
            dirs: [HttpDir::new(), HttpDir::new()],
            pending: VecDeque::new(),
            anomalies: 0,
            done: false,
            noted: 0,
        }
    }

    fn with_dir<R>(
        &mut self,
        dir: Direction,
        out: &mut Vec<AppEvent>,
        f: impl FnOnce(&mut HttpDir, &mut Ctx<'_>) -> R,
    ) -> R {
        let SdcParser {
            dirs,
            pending,
            anomalies,
            done,
            noted,
        } = self;
        let [to_server, to_client] = dirs;
        let d = match dir {
            Direction::ToServer => to_server,
            Direction::ToClient => to_client,
        };
        let mut ctx = Ctx {
            out,
            pending,
            anomalies,
            done,
            noted,
        };
        f(d, &mut ctx)
    }

    fn progress(&self) -> Progress {
        if self.done {
            Progress::Done
        } else {
            Progress::Continue
        }
    }
}

impl StreamParser for SdcParser {
    fn protocol(&self) -> Protocol {
        Protocol::Sdc
    }

    fn feed(&mut self, dir: Direction, data: &[u8], _ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        if !self.done {
            self.with_dir(dir, out, |d, ctx| d.feed(data, ctx));
        }
        self.progress()
    }

    fn gap(&mut self, dir: Direction, len: u64, _ts: Ts, out: &mut Vec<AppEvent>) -> Progress {
        if !self.done {
            self.with_dir(dir, out, |d, ctx| d.gap(len, ctx));
        }
        self.progress()
    }

    fn end(&mut self, _ts: Ts, out: &mut Vec<AppEvent>) {
        if self.done {
            return;
        }
        self.with_dir(Direction::ToServer, out, |d, ctx| d.end(ctx));
        self.with_dir(Direction::ToClient, out, |d, ctx| d.end(ctx));
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdc::SdcFields;

    const GETMDIB: &[u8] = include_bytes!("testdata/biceps_getmdib.xml");
    const GETMDIB_RESP: &[u8] = include_bytes!("testdata/biceps_getmdib_response.xml");
    const SETVALUE: &[u8] = include_bytes!("testdata/biceps_setvalue.xml");
    const SETVALUE_RESP: &[u8] = include_bytes!("testdata/biceps_setvalue_response.xml");
    const REPORT: &[u8] = include_bytes!("testdata/biceps_episodic_metric_report.xml");
    const SUBSCRIBE: &[u8] = include_bytes!("testdata/wse_subscribe.xml");

    // RFC 9112 §3 request line, §6.2 Content-Length; DPWS 1.1 R0007-style SOAP 1.2 media type.
    fn post(path: &str, body: &[u8]) -> Vec<u8> {
        let mut m = format!(
            "POST {path} HTTP/1.1\r\nHost: 192.0.2.10:6464\r\nUser-Agent: sdc-consumer/1.0\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        m.extend_from_slice(body);
        m
    }

    fn resp(status: u16, body: &[u8]) -> Vec<u8> {
        let mut m = format!(
            "HTTP/1.1 {status} X\r\nServer: sdc-provider/2.0\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        m.extend_from_slice(body);
        m
    }

    // RFC 9112 §7.1 chunked coding, with an extension and a trailer field.
    fn chunked_resp(body: &[u8], size: usize) -> Vec<u8> {
        let mut m = b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for c in body.chunks(size) {
            m.extend_from_slice(format!("{:X};ext=1\r\n", c.len()).as_bytes());
            m.extend_from_slice(c);
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
        m
    }

    /// A long body is buffered in one allocation once a quarter of it is in, never more than four
    /// times what arrived: a huge Content-Length with a few bytes behind it allocates little.
    #[test]
    fn body_buffer_grows_with_the_data_not_the_length_field() {
        let body = vec![b'x'; 100_000];
        let msg = post("/x", &body);
        let head = msg.len() - body.len();
        let mut p = SdcParser::new();
        let mut out = Vec::new();
        let mut fed = 0;
        for seg in msg.chunks(1448) {
            let _ = p.feed(Direction::ToServer, seg, Ts(0), &mut out);
            fed += seg.len();
            let held = fed.saturating_sub(head);
            let cap = p.dirs[0].body.capacity();
            assert!(cap <= 4 * held.max(1448), "{cap} bytes for {held}");
            if held >= body.len() / 4 && held < body.len() {
                assert_eq!(cap, body.len(), "one step to the announced length");
            }
        }
        // 256 KiB announced, 1 KiB sent.
        let mut p = SdcParser::new();
        let lie = b"POST /x HTTP/1.1\r\nContent-Length: 262144\r\n\r\n";
        let _ = p.feed(Direction::ToServer, lie, Ts(0), &mut out);
        let _ = p.feed(Direction::ToServer, &[b'x'; 1024], Ts(0), &mut out);
        assert!(p.dirs[0].body.capacity() <= 4096);
    }

    fn run(segments: &[(Direction, &[u8])]) -> Vec<AppEvent> {
        let mut p = SdcParser::new();
        let mut out = Vec::new();
        for (d, s) in segments {
            let _ = p.feed(*d, s, Ts(0), &mut out);
        }
        p.end(Ts(1), &mut out);
        out
    }

    fn sdc(out: &[AppEvent]) -> Vec<&SdcFields> {
        out.iter()
            .filter_map(|e| match e {
                AppEvent::Sdc(s) => Some(&*s.0),
                _ => None,
            })
            .collect()
    }

    fn kinds(out: &[AppEvent]) -> Vec<&'static str> {
        out.iter()
            .filter_map(|e| match e {
                AppEvent::Anomaly(a) => Some(a.kind),
                _ => None,
            })
            .collect()
    }

    fn requests() -> Vec<u8> {
        let mut r = post("/dev/Get", GETMDIB);
        r.extend(post("/dev/Set", SETVALUE));
        r.extend(post("/dev/Subscription", SUBSCRIBE));
        r
    }

    fn responses() -> Vec<u8> {
        let mut r = resp(200, GETMDIB_RESP);
        r.extend(chunked_resp(SETVALUE_RESP, 100));
        r.extend(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
        r
    }

    #[test]
    fn keep_alive_exchanges_pair_in_order() {
        let (q, r) = (requests(), responses());
        let out = run(&[(Direction::ToServer, &q), (Direction::ToClient, &r)]);
        assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
        let e = sdc(&out);
        // 3 requests + 2 responses (the empty 202 only completes the pairing).
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].message.as_deref(), Some("GetMdib"));
        assert_eq!(e[0].http_method.as_deref(), Some("POST"));
        assert_eq!(e[0].http_path.as_deref(), Some("/dev/Get"));
        assert_eq!(e[0].user_agent.as_deref(), Some("sdc-consumer/1.0"));
        assert_eq!(e[0].content_length, Some(GETMDIB.len() as u64));
        assert_eq!(e[1].message.as_deref(), Some("SetValue"));
        assert_eq!(e[2].message.as_deref(), Some("Subscribe"));
        assert_eq!(e[3].message.as_deref(), Some("GetMdibResponse"));
        assert_eq!(e[3].http_status, Some(200));
        assert_eq!(e[3].request_message.as_deref(), Some("GetMdib"));
        assert_eq!(e[3].metric_updates, Some(1));
        assert_eq!(e[3].patient_context_present, Some(true));
        assert_eq!(e[3].server.as_deref(), Some("sdc-provider/2.0"));
        // The chunked SetValueResponse inherits the request's operation handle.
        assert_eq!(e[4].message.as_deref(), Some("SetValueResponse"));
        assert_eq!(e[4].request_message.as_deref(), Some("SetValue"));
        assert_eq!(e[4].operation_handle.as_deref(), Some("op_set_hr_limit"));
        assert_eq!(e[4].invocation_state.as_deref(), Some("Wait"));
        assert_eq!(e[4].content_length, Some(SETVALUE_RESP.len() as u64));
        let json = serde_json::to_string(&out).unwrap();
        for phi in ["Jane", "Roe", "PAT-0042", "1970-01-01"] {
            assert!(!json.contains(phi), "{phi} in {json}");
        }
    }

    /// Every cut point of each direction, and byte-at-a-time, gives the one-shot events.
    #[test]
    fn every_split_equals_one_shot() {
        let (q, r) = (requests(), responses());
        let whole = run(&[(Direction::ToServer, &q), (Direction::ToClient, &r)]);
        for cut in 0..=q.len() {
            let got = run(&[
                (Direction::ToServer, &q[..cut]),
                (Direction::ToServer, &q[cut..]),
                (Direction::ToClient, &r),
            ]);
            assert_eq!(got, whole, "request cut at {cut}");
        }
        for cut in 0..=r.len() {
            let got = run(&[
                (Direction::ToServer, &q),
                (Direction::ToClient, &r[..cut]),
                (Direction::ToClient, &r[cut..]),
            ]);
            assert_eq!(got, whole, "response cut at {cut}");
        }
        let mut segs: Vec<(Direction, &[u8])> =
            q.chunks(1).map(|c| (Direction::ToServer, c)).collect();
        segs.extend(r.chunks(1).map(|c| (Direction::ToClient, c)));
        assert_eq!(run(&segs), whole);
    }

    // A provider delivering notifications (it is the HTTP client of the consumer's sink).
    #[test]
    fn notifications_and_their_202() {
        let mut q = post("/sink", REPORT);
        q.extend(post("/sink", REPORT));
        let a = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".repeat(2);
        let out = run(&[(Direction::ToServer, &q), (Direction::ToClient, &a)]);
        let e = sdc(&out);
        assert_eq!(e.len(), 2);
        assert!(e
            .iter()
            .all(|e| e.message.as_deref() == Some("EpisodicMetricReport")));
        assert_eq!(e[0].handles, ["hr", "spo2"]);
    }

    #[test]
    fn error_response_is_reported() {
        let q = post("/dev/Set", SETVALUE);
        let r = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
        let e = run(&[(Direction::ToServer, &q), (Direction::ToClient, r)]);
        let e = sdc(&e);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].http_status, Some(500));
        assert_eq!(e[1].request_message.as_deref(), Some("SetValue"));
    }

    // DPWS consumers fetch the WSDL with a plain GET (as sdc11073 does): named by its root, no anomaly.
    #[test]
    fn wsdl_fetch_is_not_an_anomaly() {
        let q = b"GET /dev/Get/?wsdl HTTP/1.1\r\nHost: a\r\n\r\n";
        let body = br#"<?xml version="1.0"?><wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"><wsdl:types/></wsdl:definitions>"#;
        let r = [
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
            body,
        ]
        .concat();
        let out = run(&[(Direction::ToServer, q), (Direction::ToClient, &r)]);
        assert!(kinds(&out).is_empty());
        let e = sdc(&out);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].http_method.as_deref(), Some("GET"));
        assert_eq!(e[0].message, None);
        assert_eq!(e[1].message.as_deref(), Some("definitions"));
    }

    // RFC 9110 §8.4.1.3 gzip (what sdc11073 sends when the peer accepts it): inflated and scanned; an
    // empty gzip body (the 20-byte answer to a notification) emits nothing; `br` is noted once per flow.
    #[test]
    fn content_codings() {
        fn gzip(data: &[u8]) -> Vec<u8> {
            let mut g = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
            g.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
            g.extend([0u8; 8]); // CRC32 and ISIZE: not checked
            g
        }
        fn coded(enc: &str, body: &[u8]) -> Vec<u8> {
            let mut m = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Encoding: {enc}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            m.extend_from_slice(body);
            m
        }
        let q = [
            post("/dev/Set", SETVALUE),
            post("/sink", REPORT),
            post("/a", GETMDIB),
            post("/b", GETMDIB),
        ]
        .concat();
        let r = [
            coded("gzip", &gzip(SETVALUE_RESP)),
            coded("gzip", &gzip(b"")),
            coded("br", b"\x0b\x02\x80abc"),
            coded("br", b"\x0b\x02\x80abc"),
        ]
        .concat();
        let out = run(&[(Direction::ToServer, &q), (Direction::ToClient, &r)]);
        assert_eq!(kinds(&out), ["soap_content_encoded"]);
        let e = sdc(&out);
        assert_eq!(e.len(), 4 + 3);
        assert_eq!(e[4].message.as_deref(), Some("SetValueResponse"));
        assert_eq!(e[4].invocation_state.as_deref(), Some("Wait"));
        assert_eq!(e[4].content_encoding.as_deref(), Some("gzip"));
        assert_eq!(e[5].content_encoding.as_deref(), Some("br"));
        assert_eq!(e[5].message, None);
        // Corrupt gzip: an anomaly, and the flow goes on.
        let r = [
            coded("gzip", b"\x1f\x8b\x08\x00garbage"),
            coded("gzip", &gzip(SETVALUE_RESP)),
        ]
        .concat();
        let out = run(&[(Direction::ToServer, &q), (Direction::ToClient, &r)]);
        // (The SetValueResponse answers the second request, the report: RelatesTo says so.)
        assert_eq!(
            kinds(&out),
            ["http_content_decode_error", "soap_relates_to_mismatch"]
        );
        assert_eq!(
            sdc(&out).last().and_then(|e| e.message.as_deref()),
            Some("SetValueResponse")
        );
    }

    #[test]
    fn relates_to_mismatch() {
        let q = post("/dev/Get", GETMDIB);
        let body = String::from_utf8(GETMDIB_RESP.to_vec())
            .unwrap()
            .replace("urn:uuid:req-1", "urn:uuid:other");
        let r = resp(200, body.as_bytes());
        let out = run(&[(Direction::ToServer, &q), (Direction::ToClient, &r)]);
        assert_eq!(kinds(&out), ["soap_relates_to_mismatch"]);
    }

    #[test]
    fn head_100_204_304_have_no_body() {
        let q = b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n";
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n";
        let out = run(&[(Direction::ToServer, q), (Direction::ToClient, r)]);
        assert!(kinds(&out).is_empty(), "{:?}", kinds(&out));
        let e = sdc(&out);
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].http_status, Some(304));
    }

    #[test]
    fn response_until_close() {
        let r = [
            b"HTTP/1.0 200 OK\r\nContent-Type: application/soap+xml\r\n\r\n".as_slice(),
            REPORT,
        ]
        .concat();
        let e = run(&[(Direction::ToClient, &r)]);
        let e = sdc(&e);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message.as_deref(), Some("EpisodicMetricReport"));
        assert_eq!(e[0].content_length, Some(REPORT.len() as u64));
    }

    #[test]
    fn body_over_cap_is_counted_and_its_prefix_scanned() {
        let states: String = (0..20_000)
            .map(|i| {
                format!(
                    r#"<msg:MetricState xsi:type="pm:NumericMetricState" DescriptorHandle="h{i}"/>"#
                )
            })
            .collect();
        let body = String::from_utf8(REPORT.to_vec())
            .unwrap()
            .replace("<msg:ReportPart>", &format!("<msg:ReportPart>{states}"));
        assert!(body.len() > BODY_CAP);
        let mut q = post("/sink", body.as_bytes());
        q.extend(post("/sink", REPORT));
        let out = run(&[(Direction::ToServer, &q)]);
        assert_eq!(kinds(&out), ["http_body_over_cap"]);
        let e = sdc(&out);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].message.as_deref(), Some("EpisodicMetricReport"));
        assert_eq!(e[0].content_length, Some(body.len() as u64));
        assert_eq!(e[0].body_truncated, Some(true));
        assert!(e[0].metric_updates.unwrap() > 1000);
        assert_eq!(e[0].handles_truncated, Some(true));
        // The next message on the connection is intact.
        assert_eq!(e[1].metric_updates, Some(2));
        assert_eq!(e[1].body_truncated, None);
    }

    #[test]
    fn framing_anomalies_resync_to_next_message() {
        let good = post("/dev/Get", GETMDIB);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n".to_vec(),
                "http_content_length_invalid",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".to_vec(),
                "http_content_length_invalid",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
                "http_transfer_encoding_unsupported",
            ),
            (
                b"POST / HTTP/1.1\r\nBad Header\r\n\r\n".to_vec(),
                "http_malformed_head",
            ),
            (
                format!(
                    "POST / HTTP/1.1\r\n{}\r\n",
                    "A: b\r\n".repeat(MAX_HEADERS + 1)
                )
                .into_bytes(),
                "http_too_many_headers",
            ),
            (
                format!("POST / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(HEAD_CAP)).into_bytes(),
                "http_head_over_cap",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
                "http_chunk_invalid",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n"
                    .to_vec(),
                "http_chunk_invalid",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY".to_vec(),
                "http_chunk_invalid",
            ),
        ];
        for (bad, kind) in cases {
            let mut s = bad.clone();
            s.extend_from_slice(b"\r\n");
            s.extend_from_slice(&good);
            let out = run(&[(Direction::ToServer, &s)]);
            let k = kinds(&out);
            assert_eq!(
                k.first(),
                Some(&kind),
                "{}: {k:?}",
                String::from_utf8_lossy(&bad[..40.min(bad.len())])
            );
            assert!(k.contains(&"http_resync"), "{kind}: {k:?}");
            let e = sdc(&out);
            assert_eq!(
                e.last().and_then(|e| e.message.as_deref()),
                Some("GetMdib"),
                "{kind}"
            );
        }
    }

    #[test]
    fn te_and_cl_uses_chunked() {
        let s =
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let out = run(&[(Direction::ToServer, s)]);
        assert_eq!(kinds(&out), ["http_te_and_cl"]);
        assert_eq!(sdc(&out)[0].content_length, Some(0));
    }

    #[test]
    fn gaps() {
        let q = [post("/sink", REPORT), post("/dev/Get", GETMDIB)].concat();
        let hdr = q.len() - GETMDIB.len() - post("/dev/Get", b"").len() - REPORT.len();
        // A gap inside a Content-Length body keeps framing: the body is marked truncated.
        let mut p = SdcParser::new();
        let mut out = Vec::new();
        let _ = p.feed(Direction::ToServer, &q[..hdr + 100], Ts(0), &mut out);
        let _ = p.gap(Direction::ToServer, 50, Ts(0), &mut out);
        let _ = p.feed(Direction::ToServer, &q[hdr + 150..], Ts(0), &mut out);
        let e = sdc(&out);
        assert_eq!(e.len(), 2, "{out:?}");
        assert_eq!(e[0].body_truncated, Some(true));
        assert_eq!(e[1].message.as_deref(), Some("GetMdib"));
        // A gap inside the header block: resync on the next request line.
        let mut p = SdcParser::new();
        let mut out = Vec::new();
        let _ = p.feed(Direction::ToServer, &q[..20], Ts(0), &mut out);
        let _ = p.gap(Direction::ToServer, 30, Ts(0), &mut out);
        let _ = p.feed(Direction::ToServer, &q[50..], Ts(0), &mut out);
        assert_eq!(kinds(&out), ["http_resync"]);
        assert_eq!(sdc(&out).len(), 1);
    }

    #[test]
    fn end_inside_a_message() {
        let q = post("/sink", REPORT);
        let out = run(&[(Direction::ToServer, &q[..q.len() - 10])]);
        assert_eq!(kinds(&out), ["http_incomplete_at_end"]);
        assert_eq!(sdc(&out)[0].body_truncated, Some(true));
        let out = run(&[(Direction::ToServer, &q[..30])]);
        assert_eq!(kinds(&out), ["http_incomplete_at_end"]);
    }

    #[test]
    fn pipeline_overflow_and_anomaly_limit() {
        let q = b"GET / HTTP/1.1\r\n\r\n".repeat(MAX_PENDING + 1);
        let out = run(&[(Direction::ToServer, &q)]);
        assert_eq!(kinds(&out), ["http_pipeline_overflow"]);
        let junk = b"POST x\r\n\r\n".repeat(200);
        let mut p = SdcParser::new();
        let mut out = Vec::new();
        let prog = p.feed(Direction::ToServer, &junk, Ts(0), &mut out);
        assert_eq!(prog, Progress::Done);
        assert_eq!(kinds(&out).last(), Some(&"too_many_anomalies"));
        assert!(out.len() <= MAX_ANOMALIES as usize + 1);
    }

    #[test]
    fn probe_verdicts() {
        let q = post("/dev/Get", GETMDIB);
        assert_eq!(probe(Direction::ToServer, &q), Probe::Yes);
        assert_eq!(probe(Direction::ToServer, &q[..60]), Probe::NeedMore);
        assert_eq!(probe(Direction::ToServer, &q[..120]), Probe::Yes);
        assert_eq!(probe(Direction::ToServer, b"PO"), Probe::NeedMore);
        assert_eq!(
            probe(Direction::ToServer, b"\x16\x03\x01\x02\x00"),
            Probe::No
        );
        assert_eq!(probe(Direction::ToServer, b"MSH|^~\\&|"), Probe::No);
        assert_eq!(
            probe(
                Direction::ToServer,
                b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"
            ),
            Probe::No
        );
        assert_eq!(
            probe(Direction::ToClient, &resp(200, GETMDIB_RESP)),
            Probe::Yes
        );
        let text_xml = [
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n".as_slice(),
            GETMDIB_RESP,
        ]
        .concat();
        assert_eq!(probe(Direction::ToClient, &text_xml), Probe::Yes);
        let big = [b"POST / HTTP/1.1\r\n".as_slice(), &b"X: y\r\n".repeat(2000)].concat();
        assert_eq!(probe(Direction::ToServer, &big), Probe::No);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            a in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            b in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            gap in 0u64..100,
        ) {
            let mut p = SdcParser::new();
            let mut out = Vec::new();
            let _ = p.feed(Direction::ToServer, &a, Ts(0), &mut out);
            let _ = p.feed(Direction::ToClient, &b, Ts(0), &mut out);
            let _ = p.gap(Direction::ToServer, gap, Ts(0), &mut out);
            let _ = p.feed(Direction::ToServer, &b, Ts(0), &mut out);
            p.end(Ts(0), &mut out);
            let _ = probe(Direction::ToServer, &a);
        }

        #[test]
        fn random_splits_equal_one_shot(cuts in proptest::collection::vec(0usize..4000, 0..12)) {
            let (q, r) = (requests(), responses());
            let whole = run(&[(Direction::ToServer, &q), (Direction::ToClient, &r)]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (q.len() + 1)).collect();
            cuts.sort_unstable();
            let mut segs: Vec<(Direction, &[u8])> = Vec::new();
            let mut prev = 0;
            for c in cuts {
                segs.push((Direction::ToServer, &q[prev..c]));
                prev = c;
            }
            segs.push((Direction::ToServer, &q[prev..]));
            segs.push((Direction::ToClient, &r));
            proptest::prop_assert_eq!(run(&segs), whole);
        }

        /// Any input, valid or not, split anywhere, gives the same events (anomalies included).
        #[test]
        fn garbage_splits_equal_one_shot(
            parts in proptest::collection::vec(0usize..12, 0..40),
            cut in 0usize..4000,
        ) {
            const VOCAB: [&[u8]; 12] = [
                b"POST / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", b"Content-Length: 5\r\n",
                b"Transfer-Encoding: chunked\r\n", b"\r\n", b"3\r\nabc\r\n", b"0\r\n\r\n",
                b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body><m:SetValue xmlns:m=\"u\"/></s:Body></s:Envelope>",
                b"GET ", b"zz\n", b">", b"Content-Length: x\r\n",
            ];
            let data: Vec<u8> = parts.iter().flat_map(|&i| VOCAB[i].iter().copied()).collect();
            let cut = cut % (data.len() + 1);
            let whole = run(&[(Direction::ToServer, &data)]);
            let split = run(&[(Direction::ToServer, &data[..cut]), (Direction::ToServer, &data[cut..])]);
            proptest::prop_assert_eq!(split, whole);
        }

        #[test]
        fn mutated_streams_never_panic(pos in 0usize..6000, byte in proptest::num::u8::ANY, step in 1usize..64) {
            let mut q = [requests(), responses()].concat();
            let n = q.len();
            q[pos % n] = byte;
            let mut p = SdcParser::new();
            let mut out = Vec::new();
            for c in q.chunks(step) {
                let _ = p.feed(Direction::ToServer, c, Ts(0), &mut out);
            }
            p.end(Ts(0), &mut out);
        }
    }
}
