//! Capture file formats: classic pcap and pcapng, walked over a byte window without copying.
//!
//! Classic pcap (draft-ietf-opsawg-pcap): a 24-byte file header whose magic gives the byte order and the
//! timestamp resolution (`a1b2c3d4` µs, `a1b23c4d` ns, either byte order), then records of a 16-byte
//! header and `incl_len` bytes.
//!
//! pcapng (draft-ietf-opsawg-pcapng): blocks of `type, total_length, body, total_length`. A Section
//! Header Block (SHB) sets the byte order of its section and resets the interface list; each Interface
//! Description Block (IDB) adds an interface with its link type and timestamp resolution (`if_tsresol`)
//! and offset (`if_tsoffset`); Enhanced (EPB) and Simple (SPB) Packet Blocks carry frames; every other
//! block type is skipped by its length.
//!
//! Why not the pcap-parser crate: its pcapng path collects each block's options into a `Vec` (an
//! allocation per frame on captures whose EPBs carry flags or comments, which dumpcap writes) and its
//! errors do not carry the byte offset our error lines must name. This walker is small, allocation-free
//! per frame, and every length it reads is checked against a cap before use.
//!
//! The walker works on any window of the file: [`FileParser::next`] either returns one item and how
//! many bytes it used, or says how many bytes it needs to see at once. The memory-mapped source passes
//! the whole rest of the map; the read-buffer source refills its buffer and calls again.

use iomt_parsers::Ts;
use std::fmt;

/// The largest record or block we accept. Real snap lengths are at most 262144; pcapng blocks other
/// than packets (name resolution, journal export) can be larger, so blocks get more room.
pub const MAX_RECORD: usize = 256 * 1024;
pub const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// At most this many interfaces per pcapng section (each costs 24 bytes).
pub const MAX_INTERFACES: usize = 4096;

/// A libpcap LINKTYPE_ value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// DLT_RAW as some BSDs number it in files.
    pub const RAW_BSD: LinkType = LinkType(12);
    pub const RAW_BSD2: LinkType = LinkType(14);
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One captured frame, borrowing its bytes from the capture.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Ts,
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length on the wire (`data` may be shorter: snap length).
    pub orig_len: u32,
}

/// Why a capture file cannot be read further. `offset` is the byte offset in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not a pcap or pcapng file (magic {magic:#010x})")]
    BadMagic { magic: u32 },
    #[error("unsupported pcap version {major}.{minor}")]
    BadVersion { major: u16, minor: u16 },
    #[error("record length {len} at offset {offset} exceeds the {max}-byte limit")]
    RecordTooLong { offset: u64, len: u64, max: usize },
    #[error("pcapng block at offset {offset} has invalid length {len}")]
    BadBlockLength { offset: u64, len: u32 },
    #[error("pcapng block at offset {offset}: trailing length {trailer} differs from leading length {len}")]
    BlockTrailerMismatch { offset: u64, len: u32, trailer: u32 },
    #[error("pcapng block at offset {offset}: {what}")]
    BadBlock { offset: u64, what: &'static str },
    #[error(
        "pcapng packet at offset {offset} names interface {iface}, but the section has {count}"
    )]
    UnknownInterface {
        offset: u64,
        iface: u32,
        count: usize,
    },
}

/// One step of the walk.
#[derive(Debug)]
pub enum Item<'a> {
    /// A frame; the walker used `used` bytes.
    Frame(Frame<'a>, usize),
    /// A block or header that carries no frame (SHB, IDB, statistics, unknown): `used` bytes skipped.
    Skip(usize),
    /// The window is too short: at least this many bytes must be visible at once.
    Need(usize),
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    link: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
    snaplen: u32,
}

#[derive(Debug, Clone)]
enum Kind {
    Pcap {
        be: bool,
        nanos: bool,
        link: LinkType,
    },
    PcapNg {
        be: bool,
        ifaces: Vec<Iface>,
    },
}

/// Walks one capture file. Create with [`FileParser::open`] on the file's first bytes.
#[derive(Debug, Clone)]
pub struct FileParser {
    kind: Kind,
    /// File offset of the next unread byte (for error messages).
    offset: u64,
    /// The last frame's timestamp: Simple Packet Blocks carry none and take this one.
    last_ts: Ts,
}

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const SHB: u32 = 0x0a0d_0d0a;
const BOM: u32 = 0x1a2b_3c4d;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

fn u16_at(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let bytes: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

fn u32_at(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

/// Rounds up to a multiple of 4 (pcapng padding).
fn pad4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

impl FileParser {
    /// Recognises the file from its first bytes. `Ok(Err(need))` asks for more bytes (a file shorter
    /// than a header is reported by the caller as truncated).
    pub fn open(head: &[u8]) -> Result<Result<(FileParser, usize), usize>, FormatError> {
        let Some(magic_le) = u32_at(head, 0, false) else {
            return Ok(Err(4));
        };
        if magic_le == SHB {
            // The SHB itself is walked by `next`, which sets the byte order.
            let parser = FileParser {
                kind: Kind::PcapNg {
                    be: false,
                    ifaces: Vec::new(),
                },
                offset: 0,
                last_ts: Ts(0),
            };
            return Ok(Ok((parser, 0)));
        }
        let (be, nanos) = match (magic_le, magic_le.swap_bytes()) {
            (PCAP_MAGIC_US, _) => (false, false),
            (PCAP_MAGIC_NS, _) => (false, true),
            (_, PCAP_MAGIC_US) => (true, false),
            (_, PCAP_MAGIC_NS) => (true, true),
            _ => return Err(FormatError::BadMagic { magic: magic_le }),
        };
        if head.len() < 24 {
            return Ok(Err(24));
        }
        let major = u16_at(head, 4, be).unwrap_or(0);
        let minor = u16_at(head, 6, be).unwrap_or(0);
        if major != 2 {
            return Err(FormatError::BadVersion { major, minor });
        }
        // The link type is the low 16 bits of the field (the upper bits may carry FCS info).
        let link = LinkType(u32_at(head, 20, be).unwrap_or(0) as u16);
        let parser = FileParser {
            kind: Kind::Pcap { be, nanos, link },
            offset: 24,
            last_ts: Ts(0),
        };
        Ok(Ok((parser, 24)))
    }

    /// File offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next item from `window`, which must start at [`FileParser::offset`].
    pub fn next<'a>(&mut self, window: &'a [u8]) -> Result<Item<'a>, FormatError> {
        let mut item = match &mut self.kind {
            Kind::Pcap { be, nanos, link } => pcap_record(window, *be, *nanos, *link, self.offset)?,
            Kind::PcapNg { be, ifaces } => pcapng_block(window, be, ifaces, self.offset)?,
        };
        if let Item::Frame(frame, _) = &mut item {
            if frame.ts == Ts(0) {
                frame.ts = self.last_ts;
            }
            self.last_ts = frame.ts;
        }
        let used = match &item {
            Item::Frame(_, used) | Item::Skip(used) => *used,
            Item::Need(_) => 0,
        };
        self.offset = self.offset.saturating_add(used as u64);
        Ok(item)
    }
}

fn pcap_record<'a>(
    w: &'a [u8],
    be: bool,
    nanos: bool,
    link: LinkType,
    offset: u64,
) -> Result<Item<'a>, FormatError> {
    let (Some(sec), Some(frac), Some(incl), Some(orig)) = (
        u32_at(w, 0, be),
        u32_at(w, 4, be),
        u32_at(w, 8, be),
        u32_at(w, 12, be),
    ) else {
        return Ok(Item::Need(16));
    };
    let incl = incl as usize;
    if incl > MAX_RECORD {
        return Err(FormatError::RecordTooLong {
            offset,
            len: incl as u64,
            max: MAX_RECORD,
        });
    }
    let total = 16 + incl;
    let Some(data) = w.get(16..total) else {
        return Ok(Item::Need(total));
    };
    let sub = if nanos {
        u64::from(frac)
    } else {
        u64::from(frac).saturating_mul(1_000)
    };
    let ts = Ts(u64::from(sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(sub));
    Ok(Item::Frame(
        Frame {
            ts,
            link,
            data,
            orig_len: orig,
        },
        total,
    ))
}

fn pcapng_block<'a>(
    w: &'a [u8],
    be: &mut bool,
    ifaces: &mut Vec<Iface>,
    offset: u64,
) -> Result<Item<'a>, FormatError> {
    let Some(btype_le) = u32_at(w, 0, false) else {
        return Ok(Item::Need(12));
    };
    if btype_le == SHB {
        // Byte order comes from the byte-order magic inside the SHB body.
        let Some(bom) = u32_at(w, 8, false) else {
            return Ok(Item::Need(12));
        };
        *be = match bom {
            BOM => false,
            _ if bom.swap_bytes() == BOM => true,
            _ => {
                return Err(FormatError::BadBlock {
                    offset,
                    what: "section header has no byte-order magic",
                })
            }
        };
        ifaces.clear();
    }
    let Some(len) = u32_at(w, 4, *be) else {
        return Ok(Item::Need(12));
    };
    let btype = u32_at(w, 0, *be).unwrap_or(btype_le);
    let len_usize = len as usize;
    if len < 12 || len % 4 != 0 {
        return Err(FormatError::BadBlockLength { offset, len });
    }
    if len_usize > MAX_BLOCK {
        return Err(FormatError::RecordTooLong {
            offset,
            len: u64::from(len),
            max: MAX_BLOCK,
        });
    }
    let Some(block) = w.get(..len_usize) else {
        return Ok(Item::Need(len_usize));
    };
    let trailer = u32_at(block, len_usize - 4, *be).unwrap_or(0);
    if trailer != len {
        return Err(FormatError::BlockTrailerMismatch {
            offset,
            len,
            trailer,
        });
    }
    let body = block.get(8..len_usize - 4).unwrap_or_default();
    match btype {
        IDB => {
            let iface = parse_idb(body, *be).ok_or(FormatError::BadBlock {
                offset,
                what: "interface description block too short",
            })?;
            if ifaces.len() >= MAX_INTERFACES {
                return Err(FormatError::BadBlock {
                    offset,
                    what: "more than 4096 interfaces in one section",
                });
            }
            ifaces.push(iface);
            Ok(Item::Skip(len_usize))
        }
        EPB | OPB => {
            // EPB: if_id u32, ts_high u32, ts_low u32, caplen u32, origlen u32, data, options.
            // OPB (obsolete): if_id u16, drops u16, then the same.
            let (if_id, rest) = if btype == EPB {
                (u32_at(body, 0, *be), 4)
            } else {
                (u16_at(body, 0, *be).map(u32::from), 4)
            };
            let fields = (
                if_id,
                u32_at(body, rest, *be),
                u32_at(body, rest + 4, *be),
                u32_at(body, rest + 8, *be),
                u32_at(body, rest + 12, *be),
            );
            let (Some(if_id), Some(hi), Some(lo), Some(cap), Some(orig)) = fields else {
                return Err(FormatError::BadBlock {
                    offset,
                    what: "packet block too short",
                });
            };
            let iface = *ifaces
                .get(if_id as usize)
                .ok_or(FormatError::UnknownInterface {
                    offset,
                    iface: if_id,
                    count: ifaces.len(),
                })?;
            let start = rest + 16;
            let data = pad4(cap as usize)
                .and_then(|padded| body.get(start..start.checked_add(padded)?))
                .and_then(|d| d.get(..cap as usize))
                .ok_or(FormatError::BadBlock {
                    offset,
                    what: "captured length overruns the block",
                })?;
            let raw = (u64::from(hi) << 32) | u64::from(lo);
            Ok(Item::Frame(
                Frame {
                    ts: ts_from_units(raw, iface.units_per_sec, iface.offset_secs),
                    link: iface.link,
                    data,
                    orig_len: orig,
                },
                len_usize,
            ))
        }
        SPB => {
            let iface = *ifaces.first().ok_or(FormatError::UnknownInterface {
                offset,
                iface: 0,
                count: 0,
            })?;
            let orig = u32_at(body, 0, *be).ok_or(FormatError::BadBlock {
                offset,
                what: "simple packet block too short",
            })?;
            // SPB captured length = min(original length, snaplen, what the block holds).
            let room = body.len().saturating_sub(4);
            let mut cap = (orig as usize).min(room);
            if iface.snaplen != 0 {
                cap = cap.min(iface.snaplen as usize);
            }
            let data = body.get(4..4 + cap).unwrap_or_default();
            Ok(Item::Frame(
                Frame {
                    ts: Ts(0),
                    link: iface.link,
                    data,
                    orig_len: orig,
                },
                len_usize,
            ))
        }
        _ => Ok(Item::Skip(len_usize)),
    }
}

fn ts_from_units(raw: u64, units_per_sec: u64, offset_secs: i64) -> Ts {
    let units = units_per_sec.max(1);
    let secs = raw / units;
    let rem = raw % units;
    // rem < units, so rem * 1e9 fits in u128 and the quotient < 1e9.
    let nanos = (u128::from(rem) * 1_000_000_000 / u128::from(units)) as u64;
    let secs = secs.saturating_add_signed(offset_secs);
    Ts(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}

/// IDB body: linktype u16, reserved u16, snaplen u32, options.
fn parse_idb(body: &[u8], be: bool) -> Option<Iface> {
    let link = LinkType(u16_at(body, 0, be)?);
    let snaplen = u32_at(body, 4, be)?;
    let mut iface = Iface {
        link,
        units_per_sec: 1_000_000,
        offset_secs: 0,
        snaplen,
    };
    let mut at = 8usize;
    // Options: code u16, length u16, value padded to 4. A malformed option list ends the walk (the
    // defaults stand); it is not worth failing the file for.
    while let (Some(code), Some(olen)) = (u16_at(body, at, be), u16_at(body, at + 2, be)) {
        let vstart = at + 4;
        let Some(value) = body.get(vstart..vstart + olen as usize) else {
            break;
        };
        match (code, value) {
            (0, _) => break,
            (9, [r]) => {
                // if_tsresol: MSB clear = 10^-n, set = 2^-n.
                let n = u32::from(r & 0x7f);
                iface.units_per_sec = if r & 0x80 == 0 {
                    10u64.checked_pow(n).unwrap_or(1_000_000)
                } else {
                    1u64.checked_shl(n).filter(|_| n < 64).unwrap_or(1_000_000)
                };
            }
            (14, v) if v.len() == 8 => {
                let b: [u8; 8] = v.try_into().ok()?;
                iface.offset_secs = if be {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                };
            }
            _ => {}
        }
        let Some(next) = pad4(olen as usize).and_then(|p| vstart.checked_add(p)) else {
            break;
        };
        at = next;
    }
    Some(iface)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a classic pcap file. `be`: big-endian; `nanos`: ns timestamps.
    pub fn pcap_file(be: bool, nanos: bool, link: u16, frames: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut f = Vec::new();
        f.extend(w32(if nanos { PCAP_MAGIC_NS } else { PCAP_MAGIC_US }));
        f.extend(w16(2));
        f.extend(w16(4));
        f.extend(w32(0));
        f.extend(w32(0));
        f.extend(w32(65535));
        f.extend(w32(u32::from(link)));
        for (sec, frac, data) in frames {
            f.extend(w32(*sec));
            f.extend(w32(*frac));
            f.extend(w32(data.len() as u32));
            f.extend(w32(data.len() as u32));
            f.extend_from_slice(data);
        }
        f
    }

    pub struct NgBuilder {
        pub be: bool,
        pub out: Vec<u8>,
    }

    impl NgBuilder {
        pub fn new(be: bool) -> Self {
            let mut b = NgBuilder {
                be,
                out: Vec::new(),
            };
            b.shb();
            b
        }
        fn w32(&self, v: u32) -> [u8; 4] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn w16(&self, v: u16) -> [u8; 2] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        pub fn block(&mut self, btype: u32, body: &[u8]) {
            let padded = body.len().div_ceil(4) * 4;
            let len = (12 + padded) as u32;
            let mut b = Vec::new();
            b.extend(self.w32(btype));
            b.extend(self.w32(len));
            b.extend_from_slice(body);
            b.resize(8 + padded, 0);
            b.extend(self.w32(len));
            self.out.extend(b);
        }
        pub fn shb(&mut self) {
            let mut body = Vec::new();
            body.extend(self.w32(BOM));
            body.extend(self.w16(1));
            body.extend(self.w16(0));
            body.extend([0xff; 8]);
            self.block(SHB, &body);
        }
        /// `tsresol`: the if_tsresol byte, if any.
        pub fn idb(&mut self, link: u16, tsresol: Option<u8>) {
            let mut body = Vec::new();
            body.extend(self.w16(link));
            body.extend(self.w16(0));
            body.extend(self.w32(0));
            if let Some(r) = tsresol {
                body.extend(self.w16(9));
                body.extend(self.w16(1));
                body.extend([r, 0, 0, 0]);
                body.extend(self.w16(0));
                body.extend(self.w16(0));
            }
            self.block(IDB, &body);
        }
        pub fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) {
            let mut body = Vec::new();
            body.extend(self.w32(iface));
            body.extend(self.w32((ts >> 32) as u32));
            body.extend(self.w32(ts as u32));
            body.extend(self.w32(data.len() as u32));
            body.extend(self.w32(data.len() as u32));
            body.extend_from_slice(data);
            body.resize(20 + data.len().div_ceil(4) * 4, 0);
            // An option (epb_flags) as dumpcap writes it, then opt_endofopt.
            body.extend(self.w16(2));
            body.extend(self.w16(4));
            body.extend(self.w32(1));
            body.extend([0, 0, 0, 0]);
            self.block(EPB, &body);
        }
        pub fn spb(&mut self, data: &[u8]) {
            let mut body = Vec::new();
            body.extend(self.w32(data.len() as u32));
            body.extend_from_slice(data);
            self.block(SPB, &body);
        }
    }

    fn walk(file: &[u8]) -> Result<Vec<(u64, u16, Vec<u8>)>, FormatError> {
        let (mut p, used) = FileParser::open(file).unwrap().unwrap();
        let mut at = used;
        let mut frames = Vec::new();
        loop {
            match p.next(&file[at..])? {
                Item::Frame(f, n) => {
                    frames.push((f.ts.0, f.link.0, f.data.to_vec()));
                    at += n;
                }
                Item::Skip(n) => at += n,
                Item::Need(_) => break,
            }
        }
        Ok(frames)
    }

    #[test]
    fn classic_pcap_all_byte_orders_and_resolutions() {
        for be in [false, true] {
            for nanos in [false, true] {
                let f = pcap_file(be, nanos, 1, &[(10, 5, b"abc"), (11, 0, b"")]);
                let frames = walk(&f).unwrap();
                let sub = if nanos { 5 } else { 5_000 };
                assert_eq!(frames.len(), 2, "be={be} nanos={nanos}");
                assert_eq!(frames[0], (10_000_000_000 + sub, 1, b"abc".to_vec()));
                assert_eq!(frames[1].0, 11_000_000_000);
            }
        }
    }

    #[test]
    fn pcapng_interfaces_resolutions_epb_spb_unknown_both_orders() {
        for be in [false, true] {
            let mut b = NgBuilder::new(be);
            b.idb(1, None); // µs
            b.idb(101, Some(9)); // ns
            b.block(0x0bad_0001, b"custom block body"); // unknown: skipped
            b.epb(0, 1_500_000, b"eth-frame");
            b.epb(1, 2_000_000_001, b"raw-ip");
            b.spb(b"simple!");
            let frames = walk(&b.out).unwrap();
            assert_eq!(frames.len(), 3, "be={be}");
            assert_eq!(frames[0], (1_500_000_000, 1, b"eth-frame".to_vec()));
            assert_eq!(frames[1], (2_000_000_001, 101, b"raw-ip".to_vec()));
            assert_eq!(frames[2].2, b"simple!".to_vec());
        }
    }

    #[test]
    fn pcapng_binary_resolution_and_new_section_resets_interfaces() {
        let mut b = NgBuilder::new(false);
        b.idb(1, Some(0x80 | 10)); // 2^-10 s
        b.epb(0, 1024 * 3 + 512, b"x");
        b.shb();
        b.epb(0, 1, b"y"); // no interface in the new section
        let err = walk(&b.out).unwrap_err();
        assert!(matches!(
            err,
            FormatError::UnknownInterface {
                iface: 0,
                count: 0,
                ..
            }
        ));
        let mut b = NgBuilder::new(false);
        b.idb(1, Some(0x80 | 10));
        b.epb(0, 1024 * 3 + 512, b"x");
        assert_eq!(walk(&b.out).unwrap()[0].0, 3_500_000_000);
    }

    #[test]
    fn bad_inputs_name_the_offset() {
        assert!(matches!(
            FileParser::open(b"GIF89a.........................."),
            Err(FormatError::BadMagic { .. })
        ));
        let mut f = pcap_file(false, false, 1, &[(1, 0, b"abcd")]);
        // Inflate incl_len of the first record (at offset 24 + 8) past the cap.
        f[32..36].copy_from_slice(&(10_000_000u32).to_le_bytes());
        assert_eq!(
            walk(&f).unwrap_err(),
            FormatError::RecordTooLong {
                offset: 24,
                len: 10_000_000,
                max: MAX_RECORD
            }
        );
        let mut b = NgBuilder::new(false);
        b.idb(1, None);
        let at = b.out.len();
        b.epb(0, 1, b"abcd");
        let n = b.out.len();
        b.out[n - 4..].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(
            walk(&b.out).unwrap_err(),
            FormatError::BlockTrailerMismatch { offset, .. } if offset == at as u64
        ));
        b.out[at + 4..at + 8].copy_from_slice(&13u32.to_le_bytes());
        assert!(matches!(
            walk(&b.out).unwrap_err(),
            FormatError::BadBlockLength { len: 13, .. }
        ));
    }

    #[test]
    fn truncated_record_asks_for_more() {
        let f = pcap_file(false, false, 1, &[(1, 0, b"abcdef")]);
        let (mut p, used) = FileParser::open(&f).unwrap().unwrap();
        match p.next(&f[used..f.len() - 2]).unwrap() {
            Item::Need(n) => assert_eq!(n, 22),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            for prefix in [&[0xd4u8, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0][..], &[0x0a, 0x0d, 0x0d, 0x0a][..], &[][..]] {
                let mut f = prefix.to_vec();
                f.extend_from_slice(&data);
                if let Ok(Ok((mut p, mut at))) = FileParser::open(&f) {
                    for _ in 0..1000 {
                        match p.next(f.get(at..).unwrap_or_default()) {
                            Ok(Item::Frame(_, n)) | Ok(Item::Skip(n)) => at += n,
                            _ => break,
                        }
                    }
                }
            }
        }
    }
}
