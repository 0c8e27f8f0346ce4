//! Live capture with libpcap (the `pcap` crate).
//!
//! Frames are copied once, from libpcap's buffer into a batch buffer, and handed on as a [`Chunk`] like
//! replay's. The capture is non-blocking: a batch is closed when it is full or as soon as libpcap has
//! nothing more to give, so a quiet link delivers its last packets at once (a blocking read on Linux's
//! TPACKET_V3 ring can hold a partial batch until the next packet arrives). While the link is idle the
//! reader sleeps 1 ms, backing off to 10 ms. A stop flag (set on SIGINT/SIGTERM) is checked between
//! reads.

use super::{Chunk, FrameMeta, LinkType, PooledBuf, Storage, CHUNK_BYTES};
use iomt_parsers::Ts;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub iface: String,
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub promisc: bool,
    /// Kernel buffer size in bytes (libpcap's default when `None`).
    pub buffer_size: Option<i32>,
}

/// libpcap's counters at the end of capture.
#[derive(Debug, Clone, Copy, Default)]
pub struct PcapCounters {
    pub received: u32,
    pub dropped: u32,
    pub if_dropped: u32,
}

pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    pool_tx: crossbeam_channel::Sender<Vec<u8>>,
    pool_rx: crossbeam_channel::Receiver<Vec<u8>>,
}

impl LiveSource {
    pub fn open(opts: &LiveOptions) -> anyhow::Result<LiveSource> {
        use anyhow::Context;
        let mut inactive = pcap::Capture::from_device(opts.iface.as_str())
            .with_context(|| format!("interface {}", opts.iface))?
            .snaplen(opts.snaplen)
            .promisc(opts.promisc)
            .timeout(100)
            .immediate_mode(false);
        if let Some(size) = opts.buffer_size {
            inactive = inactive.buffer_size(size);
        }
        let mut cap = inactive
            .open()
            .with_context(|| format!("cannot capture on {}", opts.iface))?
            .setnonblock()
            .with_context(|| format!("cannot set {} non-blocking", opts.iface))?;
        if let Some(bpf) = &opts.bpf {
            cap.filter(bpf, true)
                .with_context(|| format!("bad BPF filter {bpf:?}"))?;
        }
        let link = LinkType(cap.get_datalink().0 as u16);
        let (pool_tx, pool_rx) = crossbeam_channel::bounded(super::POOL_BUFFERS);
        Ok(LiveSource {
            cap,
            link,
            pool_tx,
            pool_rx,
        })
    }

    /// A handle another thread can use to wake a blocked capture.
    pub fn breakloop_handle(&mut self) -> pcap::BreakLoop {
        self.cap.breakloop_handle()
    }

    pub fn counters(&mut self) -> PcapCounters {
        self.cap
            .stats()
            .map(|s| PcapCounters {
                received: s.received,
                dropped: s.dropped,
                if_dropped: s.if_dropped,
            })
            .unwrap_or_default()
    }

    /// The next batch of frames; `None` once `stop` is set (or the interface went away).
    pub fn next_chunk(&mut self, stop: &AtomicBool) -> anyhow::Result<Option<Chunk>> {
        let mut buf = self
            .pool_rx
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES));
        buf.clear();
        let mut frames = Vec::new();
        let mut idle = std::time::Duration::from_millis(1);
        loop {
            if stop.load(Ordering::Relaxed) {
                if frames.is_empty() {
                    return Ok(None);
                }
                break;
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    idle = std::time::Duration::from_millis(1);
                    let start = buf.len();
                    buf.extend_from_slice(p.data);
                    let ts = Ts((p.header.ts.tv_sec.max(0) as u64)
                        .saturating_mul(1_000_000_000)
                        .saturating_add((p.header.ts.tv_usec.max(0) as u64).saturating_mul(1_000)));
                    frames.push(FrameMeta {
                        ts,
                        link: self.link,
                        start: start as u32,
                        len: p.data.len() as u32,
                        orig_len: p.header.len,
                    });
                    if buf.len() >= CHUNK_BYTES - 65_536 {
                        break;
                    }
                }
                Err(pcap::Error::TimeoutExpired) => {
                    // Nothing waiting: hand on what we have, or wait a little.
                    if !frames.is_empty() {
                        break;
                    }
                    std::thread::sleep(idle);
                    idle = (idle * 2).min(std::time::Duration::from_millis(10));
                }
                Err(pcap::Error::NoMorePackets) => {
                    if frames.is_empty() {
                        return Ok(None);
                    }
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let len = buf.len();
        Ok(Some(Chunk {
            storage: Storage::Buf(Arc::new(PooledBuf {
                buf,
                home: self.pool_tx.clone(),
            })),
            base: 0,
            len,
            frames,
        }))
    }
}
