//! Capture: frames from files (replay) or an interface (live).
//!
//! Replay hands out frames in [`Chunk`]s: a chunk is a run of whole records plus a small index of where
//! each frame lies in it, and it owns (by reference count) the bytes it indexes, so a chunk can be sent
//! to a worker thread and its frames read there without a copy. Two sources, chosen by
//! [`ReadMode`]:
//!
//! * [`ReadMode::Read`] (the default, measured faster: see the README's performance section) reads the
//!   file into a small pool of reused buffers. Each chunk is one buffer; a record cut by the end of a
//!   buffer is moved to the start of the next one (one partial record per chunk is the only copy).
//!   Resident memory is the pool, whatever the file size.
//! * [`ReadMode::Mmap`] maps the file (memmap2), advises sequential access, and releases pages behind
//!   the cursor, so the resident set stays small even for captures larger than memory.
//!
//! Live capture ([`live`]) copies each frame once from libpcap's ring into a batch buffer.

pub mod format;
pub mod live;

pub use format::{FileParser, Frame, Item, LinkType};

use format::FormatError;
use iomt_parsers::Ts;
use memmap2::Mmap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How replay reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReadMode {
    /// Reused read buffers.
    #[default]
    Read,
    /// Memory map with sequential advice and release of pages behind the cursor.
    Mmap,
}

/// Why a capture file could not be read. Displayed as one line naming the file (and offset).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: {err}")]
    Format { path: PathBuf, err: FormatError },
    #[error("{path}: file too short to be a capture ({len} bytes)")]
    TooShort { path: PathBuf, len: usize },
}

/// Where one frame lies in its chunk.
#[derive(Debug, Clone, Copy)]
pub struct FrameMeta {
    pub ts: Ts,
    pub link: LinkType,
    pub start: u32,
    pub len: u32,
    pub orig_len: u32,
}

/// The bytes behind a chunk.
#[derive(Debug, Clone)]
enum Storage {
    Map(Arc<Mmap>),
    Buf(Arc<PooledBuf>),
}

/// A buffer that goes back to its pool when the last chunk using it is dropped.
#[derive(Debug)]
pub struct PooledBuf {
    buf: Vec<u8>,
    home: crossbeam_channel::Sender<Vec<u8>>,
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // The pool may be gone (reader finished): then the buffer is simply freed.
        let _ = self.home.try_send(buf);
    }
}

/// A run of whole frames from one file, cheap to clone and safe to send to another thread.
#[derive(Debug, Clone)]
pub struct Chunk {
    storage: Storage,
    /// Offset of the chunk's bytes in the storage.
    base: usize,
    len: usize,
    pub frames: Vec<FrameMeta>,
}

impl Chunk {
    pub fn bytes(&self) -> &[u8] {
        let all: &[u8] = match &self.storage {
            Storage::Map(m) => m,
            Storage::Buf(b) => &b.buf,
        };
        let end = self.base.saturating_add(self.len);
        all.get(self.base..end).unwrap_or_default()
    }

    pub fn frame(&self, meta: &FrameMeta) -> Frame<'_> {
        let start = meta.start as usize;
        let data = self
            .bytes()
            .get(start..start.saturating_add(meta.len as usize))
            .unwrap_or_default();
        Frame {
            ts: meta.ts,
            link: meta.link,
            data,
            orig_len: meta.orig_len,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Frame<'_>> {
        self.frames.iter().map(|m| self.frame(m))
    }

    /// Bytes of the file this chunk covers (records and headers).
    pub fn file_bytes(&self) -> usize {
        self.len
    }
}

/// Target size of a chunk (and of each pooled read buffer).
pub const CHUNK_BYTES: usize = 1 << 20;
/// Read buffers in flight per file: enough to keep workers busy while the reader refills.
pub const POOL_BUFFERS: usize = 16;

enum Source {
    Map {
        map: Arc<Mmap>,
        pos: usize,
        released: usize,
    },
    Read {
        file: File,
        pool_tx: crossbeam_channel::Sender<Vec<u8>>,
        pool_rx: crossbeam_channel::Receiver<Vec<u8>>,
        /// Bytes of a record cut by the previous buffer's end.
        carry: Vec<u8>,
        /// The size the walker asked to see at once (a record larger than a buffer).
        min_fill: usize,
        eof: bool,
    },
}

/// Reads one capture file as a sequence of chunks.
pub struct FileReader {
    path: PathBuf,
    parser: FileParser,
    src: Source,
    /// Set when the file ended inside a record: (offset, bytes needed, bytes left).
    truncated: Option<(u64, usize, usize)>,
    file_len: u64,
}

impl FileReader {
    pub fn open(path: &Path, mode: ReadMode) -> Result<FileReader, CaptureError> {
        let io = |source| CaptureError::Io {
            path: path.to_owned(),
            err: source,
        };
        let fmt = |source| CaptureError::Format {
            path: path.to_owned(),
            err: source,
        };
        let mut file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut head = [0u8; 24];
        let n = read_full(&mut file, &mut head).map_err(io)?;
        let head = head.get(..n).unwrap_or_default();
        let (parser, used) = match FileParser::open(head).map_err(fmt)? {
            Ok(p) => p,
            Err(_) => {
                return Err(CaptureError::TooShort {
                    path: path.to_owned(),
                    len: n,
                })
            }
        };
        let src = match mode {
            ReadMode::Mmap => {
                #[expect(
                    unsafe_code,
                    reason = "memmap2::Mmap::map is unsafe because another process could truncate \
                              or modify the file while mapped; replay inputs are capture files we \
                              only read, as every mmap-based pcap reader does"
                )]
                // SAFETY: the map is read-only and private; see the reason above.
                let map = unsafe { Mmap::map(&file) }.map_err(io)?;
                let _ = map.advise(memmap2::Advice::Sequential);
                Source::Map {
                    map: Arc::new(map),
                    pos: used,
                    released: 0,
                }
            }
            ReadMode::Read => {
                let (pool_tx, pool_rx) = crossbeam_channel::bounded(POOL_BUFFERS);
                Source::Read {
                    file,
                    pool_tx,
                    pool_rx,
                    carry: head.get(used..).unwrap_or_default().to_vec(),
                    min_fill: 0,
                    eof: false,
                }
            }
        };
        Ok(FileReader {
            path: path.to_owned(),
            parser,
            src,
            truncated: None,
            file_len,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// `Some((offset, needed, left))` when the file ended inside a record.
    pub fn truncated(&self) -> Option<(u64, usize, usize)> {
        self.truncated
    }

    /// The next chunk of whole frames, `None` at the end of the file.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, CaptureError> {
        match &mut self.src {
            Source::Map { map, pos, released } => {
                let all: &[u8] = map;
                let start = *pos;
                if start >= all.len() {
                    return Ok(None);
                }
                let window = all.get(start..).unwrap_or_default();
                let limit = CHUNK_BYTES.min(window.len());
                let (used, frames, need) =
                    walk(&mut self.parser, window, limit).map_err(|source| {
                        CaptureError::Format {
                            path: self.path.clone(),
                            err: source,
                        }
                    })?;
                if used == 0 {
                    if need.is_some() {
                        self.truncated =
                            Some((self.parser.offset(), need.unwrap_or(0), window.len()));
                    }
                    *pos = all.len();
                    return Ok(None);
                }
                *pos = start + used;
                // Release what lies well behind the cursor: chunks in flight stay resident.
                let keep = CHUNK_BYTES * (POOL_BUFFERS + 2);
                let behind = pos.saturating_sub(keep) & !0xfff;
                if behind > *released {
                    release_pages(map, *released, behind - *released);
                    *released = behind;
                }
                Ok(Some(Chunk {
                    storage: Storage::Map(map.clone()),
                    base: start,
                    len: used,
                    frames,
                }))
            }
            Source::Read {
                file,
                pool_tx,
                pool_rx,
                carry,
                min_fill,
                eof,
            } => loop {
                if *eof && carry.is_empty() {
                    return Ok(None);
                }
                // Pooled buffers keep their length, so a refill neither reallocates nor zeroes.
                let mut buf = pool_rx.try_recv().unwrap_or_default();
                let want = CHUNK_BYTES.max(*min_fill).max(carry.len());
                *min_fill = 0;
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let mut filled = carry.len();
                if let Some(head) = buf.get_mut(..filled) {
                    head.copy_from_slice(carry);
                }
                carry.clear();
                let io = |source| CaptureError::Io {
                    path: self.path.clone(),
                    err: source,
                };
                if !*eof {
                    let n = read_full(file, buf.get_mut(filled..want).unwrap_or_default())
                        .map_err(io)?;
                    filled += n;
                    if filled < want {
                        *eof = true;
                    }
                }
                let window = buf.get(..filled).unwrap_or_default();
                let (used, frames, need) =
                    walk(&mut self.parser, window, filled).map_err(|source| {
                        CaptureError::Format {
                            path: self.path.clone(),
                            err: source,
                        }
                    })?;
                carry.extend_from_slice(window.get(used..).unwrap_or_default());
                if used == 0 {
                    if *eof {
                        if !carry.is_empty() {
                            self.truncated =
                                Some((self.parser.offset(), need.unwrap_or(0), carry.len()));
                        }
                        carry.clear();
                        return Ok(None);
                    }
                    // One record larger than the buffer: grow (bounded by the format's caps).
                    *min_fill = need.unwrap_or(0);
                    let _ = pool_tx.try_send(buf);
                    continue;
                }
                let len = used;
                return Ok(Some(Chunk {
                    storage: Storage::Buf(Arc::new(PooledBuf {
                        buf,
                        home: pool_tx.clone(),
                    })),
                    base: 0,
                    len,
                    frames,
                }));
            },
        }
    }
}

/// Walks whole items in `window` up to about `limit` bytes. Returns bytes used, the frames, and the
/// size the walker asked for if it stopped on an incomplete item.
fn walk(
    parser: &mut FileParser,
    window: &[u8],
    limit: usize,
) -> Result<(usize, Vec<FrameMeta>, Option<usize>), FormatError> {
    let mut used = 0usize;
    let mut frames = Vec::with_capacity(limit / 256 + 16);
    while used < limit {
        let rest = window.get(used..).unwrap_or_default();
        match parser.next(rest)? {
            Item::Frame(f, n) => {
                // The frame's data lies inside `rest`; its offset in the window is data - window.
                let start = (f.data.as_ptr() as usize).saturating_sub(window.as_ptr() as usize);
                frames.push(FrameMeta {
                    ts: f.ts,
                    link: f.link,
                    start: start as u32,
                    len: f.data.len() as u32,
                    orig_len: f.orig_len,
                });
                used += n;
            }
            Item::Skip(n) => used += n,
            Item::Need(n) => return Ok((used, frames, Some(n))),
        }
    }
    Ok((used, frames, None))
}

fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn release_pages(map: &Mmap, offset: usize, len: usize) {
    #[expect(
        unsafe_code,
        reason = "MADV_DONTNEED on a private read-only file mapping drops clean pages; a later read \
                  of them (a chunk still in flight) faults them back in from the file, so no reader \
                  ever sees different bytes"
    )]
    // SAFETY: see the reason above; the range lies inside the map.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
}

#[cfg(test)]
mod tests {
    use super::format::tests::{pcap_file, NgBuilder};
    use super::*;

    type Frames = Vec<(u64, Vec<u8>)>;

    fn frames_of(path: &Path, mode: ReadMode) -> (Frames, Option<(u64, usize, usize)>) {
        let mut r = FileReader::open(path, mode).unwrap();
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            out.extend(c.iter().map(|f| (f.ts.0, f.data.to_vec())));
        }
        (out, r.truncated())
    }

    #[test]
    fn both_modes_give_the_same_frames_across_chunk_boundaries() {
        let dir = std::env::temp_dir().join(format!("iomt-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Enough frames of odd sizes that records straddle the 1 MiB buffer boundary many times.
        let payloads: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| vec![(i % 251) as u8; 700 + (i as usize % 977)])
            .collect();
        let recs: Vec<(u32, u32, &[u8])> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u32, 0, p.as_slice()))
            .collect();
        let pcap = dir.join("a.pcap");
        std::fs::write(&pcap, pcap_file(false, false, 1, &recs)).unwrap();
        let mut ng = NgBuilder::new(true);
        ng.idb(1, None);
        for (i, p) in payloads.iter().enumerate() {
            ng.epb(0, i as u64 * 1_000_000, p);
        }
        let pcapng = dir.join("a.pcapng");
        std::fs::write(&pcapng, &ng.out).unwrap();
        for path in [&pcap, &pcapng] {
            let (a, ta) = frames_of(path, ReadMode::Read);
            let (b, tb) = frames_of(path, ReadMode::Mmap);
            assert_eq!(a.len(), 3000);
            assert_eq!(a, b);
            assert_eq!((ta, tb), (None, None));
            assert_eq!(a[2999].1, payloads[2999]);
        }
        // Cut mid-record: everything before the cut, and a truncation note.
        let full = std::fs::read(&pcap).unwrap();
        std::fs::write(&pcap, &full[..full.len() - 100]).unwrap();
        for mode in [ReadMode::Read, ReadMode::Mmap] {
            let (a, t) = frames_of(&pcap, mode);
            assert_eq!(a.len(), 2999);
            assert!(t.is_some());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
