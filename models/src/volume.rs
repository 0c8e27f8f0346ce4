//! Per-direction volumes per peer: bytes a device sent to and received from each learned edge
//! (peer, L4 protocol, service port) per 10-minute window. Learning keeps the largest window each
//! way (`EdgeStats::sent_max` / `recv_max`, `vol_windows`); `volume_anomaly` fires when a known
//! edge carries, in one direction, more than `max(factor × learned max, floor)` within a window.
//!
//! Bytes are those of flows that ended (the flow summary): a flow's bytes land in the window in
//! which it ends. Long-lived flows are therefore judged late, and a single huge flow is also the
//! `large_transfer` detector's business.
//!
//! Memory: one small accumulator per active (device, edge) in the current window, at most
//! [`MAX_OPEN`]; closed windows are folded and dropped.

use crate::profile::{Edge, EdgeStats};
use std::net::IpAddr;

/// Window length (capture time).
pub const WINDOW_NS: u64 = 600 * 1_000_000_000;
/// Learned windows needed before an edge's volumes are judged.
pub const MIN_WINDOWS: u32 = 3;
/// Open accumulators kept at most; past it closed ones are folded, then new edges are not tracked.
pub const MAX_OPEN: usize = 65_536;

#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    window: u64,
    sent: u64,
    recv: u64,
    /// accumulated while learning (folded into the baseline when the window closes)
    learn: bool,
    alerted_sent: bool,
    alerted_recv: bool,
}

/// One direction over its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Over {
    /// true: the device sent; false: it received.
    pub sent: bool,
    pub seen: u64,
    pub learned_max: u64,
    pub threshold: u64,
    /// the other direction, seen and learned, for the evidence
    pub other_seen: u64,
    pub other_max: u64,
}

#[derive(Debug, Default)]
pub struct Volumes {
    open: crate::FastMap<(IpAddr, Edge), Acc>,
    /// accumulators not kept because [`MAX_OPEN`] was reached
    pub over_cap: u64,
}

/// Folds a closed learning window into the edge's maxima.
fn fold(st: &mut EdgeStats, a: &Acc) {
    if a.learn && (a.sent > 0 || a.recv > 0) {
        st.sent_max = st.sent_max.max(a.sent);
        st.recv_max = st.recv_max.max(a.recv);
        st.vol_windows = st.vol_windows.saturating_add(1);
    }
}

pub fn threshold(max: u64, factor: u64, floor: u64) -> u64 {
    max.saturating_mul(factor).max(floor)
}

impl Volumes {
    /// Adds a flow's bytes (device's view: `sent` by the device, `recv` by it) to the edge's
    /// current window; learns or judges. `st` is the edge's learned statistics.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        now: u64,
        owner: IpAddr,
        edge: Edge,
        st: &mut EdgeStats,
        sent: u64,
        recv: u64,
        learning: bool,
        judge: bool,
        factor: u64,
        floor: u64,
    ) -> Vec<Over> {
        let window = now / WINDOW_NS;
        if self.open.len() >= MAX_OPEN && !self.open.contains_key(&(owner, edge)) {
            // closed windows of other edges are folded when they are next touched or at the
            // end; here they are only dropped (a learning window lost is a smaller maximum)
            self.open.retain(|_, a| a.window >= window);
            if self.open.len() >= MAX_OPEN {
                self.over_cap = self.over_cap.saturating_add(1);
                return Vec::new();
            }
        }
        let a = self.open.entry((owner, edge)).or_default();
        if a.window != window {
            fold(st, a);
            *a = Acc {
                window,
                learn: learning,
                ..Acc::default()
            };
        }
        a.learn &= learning;
        a.sent = a.sent.saturating_add(sent);
        a.recv = a.recv.saturating_add(recv);
        let mut out = Vec::new();
        if learning || !judge || st.vol_windows < MIN_WINDOWS {
            return out;
        }
        // Each direction against its own learned maximum, the other shown beside it.
        let dirs = [
            (
                true,
                a.sent,
                st.sent_max,
                a.recv,
                st.recv_max,
                &mut a.alerted_sent,
            ),
            (
                false,
                a.recv,
                st.recv_max,
                a.sent,
                st.sent_max,
                &mut a.alerted_recv,
            ),
        ];
        for (sent, seen, learned_max, other_seen, other_max, alerted) in dirs {
            let threshold = threshold(learned_max, factor, floor);
            if seen > threshold && !*alerted {
                *alerted = true;
                out.push(Over {
                    sent,
                    seen,
                    learned_max,
                    threshold,
                    other_seen,
                    other_max,
                });
            }
        }
        out
    }

    /// Drains the open accumulators (for folding by the caller).
    pub fn drain(&mut self) -> Vec<(IpAddr, Edge, u64, u64, bool)> {
        self.open
            .drain()
            .map(|((ip, e), a)| (ip, e, a.sent, a.recv, a.learn))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// Folds a drained accumulator (see [`Volumes::drain`]).
pub fn fold_drained(st: &mut EdgeStats, sent: u64, recv: u64, learn: bool) {
    fold(
        st,
        &Acc {
            sent,
            recv,
            learn,
            ..Acc::default()
        },
    );
}

/// "1.5 MB" style sizes for evidence.
pub fn human(b: u64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0usize;
    while v >= 1000.0 && i + 1 < U.len() {
        v /= 1000.0;
        i += 1;
    }
    let u = U.get(i).copied().unwrap_or("B");
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {u}")
    }
}
