//! A learned multivariate model of a device's 10-minute activity windows (smartcore K-Means), for
//! `activity_outlier`.
//!
//! Each window is a vector of six features, log-scaled (`ln(1 + x)`): flows opened, bytes sent,
//! bytes received, distinct peers, messages (application messages sent) and protocol anomalies.
//! Learning keeps the windows quantised to quarter steps of `ln(1 + x)` with a count (a periodic
//! device has only a handful of distinct windows, so this stays small: at most [`MAX_CODES`]).
//!
//! At the end of learning (lazily, on the first detect-mode window, or at `finish` of a learning
//! run) K-Means (k ≤ 4, fixed seed: refitting the same windows gives the same model) groups the
//! windows into modes of activity ("a report", "an imaging study", "a night of queries"), and each
//! mode keeps the per-feature range of its member windows. A detect-mode window is judged one-sided
//! against every mode: how far each feature exceeds the mode's learned maximum, in `ln` units; the
//! window's score is the Euclidean norm of that excess for the mode it exceeds least. Above the
//! margin (default `ln 10`: an order of magnitude beyond every learned mode in one feature, or
//! the equivalent spread over several), `activity_outlier` fires, naming the feature that deviates
//! most with the mode's learned range and the value seen. One-sided judging means a window still
//! filling up (the check runs on every update, so the alert comes within seconds) never looks
//! abnormal for being small.
//!
//! A device with fewer than [`MIN_WINDOWS`] learned windows is judged by its role's model (all
//! learned devices of that role pooled), when that has enough windows.

use serde::{Deserialize, Serialize};
use smartcore::cluster::kmeans::{KMeans, KMeansParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const NF: usize = 6;
pub const FEATURES: [&str; NF] = [
    "flows opened",
    "bytes sent",
    "bytes received",
    "distinct peers",
    "messages sent",
    "protocol anomalies",
];
/// Windows needed for a model.
pub const MIN_WINDOWS: u64 = 30;
/// Distinct quantised windows kept per device.
pub const MAX_CODES: usize = 1024;
/// Most clusters.
pub const MAX_K: usize = 4;
/// Distinct peers counted per window at most.
const MAX_PEERS: usize = 64;
const SEED: u64 = 0x0069_6f6d_7400;
/// Quantisation: units of `ln(1 + x)` per code step.
const Q: f64 = 4.0;

pub type Code = [u8; NF];

fn code(x: &[f64; NF]) -> Code {
    let mut c = [0u8; NF];
    for (o, v) in c.iter_mut().zip(x) {
        *o = (v * Q).round().clamp(0.0, 255.0) as u8;
    }
    c
}

fn decode(c: &Code) -> [f64; NF] {
    let mut x = [0f64; NF];
    for (o, v) in x.iter_mut().zip(c) {
        *o = f64::from(*v) / Q;
    }
    x
}

/// One mode of activity: the range of each feature over its member windows (ln units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub centroid: [f64; NF],
    pub lo: [f64; NF],
    pub hi: [f64; NF],
    pub windows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    pub clusters: Vec<Cluster>,
    pub windows: u64,
}

/// A device's learned windows and the model fitted on them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityModel {
    #[serde(with = "codes_as_vec", default)]
    pub windows: BTreeMap<Code, u32>,
    /// Learned windows (sum of the counts, including those past [`MAX_CODES`]).
    #[serde(default)]
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted: Option<Fitted>,
    /// `total` when `fitted` was last computed (a fit is redone when more was learned).
    #[serde(default)]
    pub fit_total: u64,
}

mod codes_as_vec {
    use super::Code;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(m: &BTreeMap<Code, u32>, s: S) -> Result<S::Ok, S::Error> {
        m.iter().collect::<Vec<_>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Code, u32>, D::Error> {
        let v: Vec<(Code, u32)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

impl ActivityModel {
    pub fn learn(&mut self, c: Code) {
        self.total = self.total.saturating_add(1);
        if let Some(n) = self.windows.get_mut(&c) {
            *n = n.saturating_add(1);
        } else if self.windows.len() < MAX_CODES {
            self.windows.insert(c, 1);
        }
    }

    /// Fits (or refits) when more windows were learned since the last fit. True when it changed.
    pub fn refit(&mut self) -> bool {
        if self.fit_total == self.total {
            return false;
        }
        self.fit_total = self.total;
        self.fitted = fit(&self.windows);
        true
    }
}

/// K-Means over the quantised windows (weighted by repetition, capped), then per-cluster ranges.
pub fn fit(windows: &BTreeMap<Code, u32>) -> Option<Fitted> {
    let total: u64 = windows.values().map(|n| u64::from(*n)).sum();
    if total < MIN_WINDOWS || windows.is_empty() {
        return None;
    }
    let codes: Vec<(&Code, &u32)> = windows.iter().collect();
    let k = MAX_K.min(codes.len());
    let labels: Vec<usize> = if k < 2 {
        vec![0; codes.len()]
    } else {
        let mut rows: Vec<Vec<f64>> = Vec::new();
        for (c, n) in &codes {
            let x = decode(c);
            for _ in 0..(**n).min(32) {
                rows.push(x.to_vec());
            }
        }
        let distinct: Vec<Vec<f64>> = codes.iter().map(|(c, _)| decode(c).to_vec()).collect();
        // smartcore is third-party numeric code: a panic in it must not take the sensor down
        let r = std::panic::catch_unwind(|| -> Option<Vec<usize>> {
            let m = DenseMatrix::from_2d_vec(&rows).ok()?;
            let mut params = KMeansParameters::default().with_k(k).with_max_iter(100);
            params.seed = Some(SEED);
            let km: KMeans<f64, usize, DenseMatrix<f64>, Vec<usize>> =
                KMeans::fit(&m, params).ok()?;
            let q = DenseMatrix::from_2d_vec(&distinct).ok()?;
            km.predict(&q).ok()
        });
        match r {
            Ok(Some(l)) if l.len() == codes.len() => l,
            _ => vec![0; codes.len()],
        }
    };
    let mut clusters: BTreeMap<usize, Cluster> = BTreeMap::new();
    for ((c, n), l) in codes.iter().zip(&labels) {
        let x = decode(c);
        let w = u64::from(**n);
        let e = clusters.entry(*l).or_insert(Cluster {
            centroid: [0.0; NF],
            lo: x,
            hi: x,
            windows: 0,
        });
        for i in 0..NF {
            if let (Some(cv), Some(lo), Some(hi), Some(v)) = (
                e.centroid.get_mut(i),
                e.lo.get_mut(i),
                e.hi.get_mut(i),
                x.get(i),
            ) {
                *cv += v * w as f64;
                *lo = lo.min(*v);
                *hi = hi.max(*v);
            }
        }
        e.windows = e.windows.saturating_add(w);
    }
    let clusters: Vec<Cluster> = clusters
        .into_values()
        .map(|mut c| {
            let n = c.windows.max(1) as f64;
            for v in c.centroid.iter_mut() {
                *v /= n;
            }
            c
        })
        .collect();
    Some(Fitted {
        clusters,
        windows: total,
    })
}

/// A window beyond every learned mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    pub score: f64,
    /// the mode it exceeds least
    pub cluster: usize,
    /// the feature that deviates most from it
    pub feature: usize,
    pub seen: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Fitted {
    /// One-sided excess over the closest mode; `Some` when above `margin`.
    pub fn judge(&self, x: &[f64; NF], margin: f64) -> Option<Outlier> {
        let mut best: Option<(f64, usize)> = None;
        for (ci, c) in self.clusters.iter().enumerate() {
            let s = x
                .iter()
                .zip(&c.hi)
                .map(|(v, h)| (v - h).max(0.0).powi(2))
                .sum::<f64>()
                .sqrt();
            match best {
                Some((b, _)) if b <= s => {}
                _ => best = Some((s, ci)),
            }
        }
        let (score, ci) = best?;
        if score <= margin {
            return None;
        }
        let c = self.clusters.get(ci)?;
        let (feature, _) = x.iter().zip(&c.hi).map(|(v, h)| v - h).enumerate().fold(
            (0usize, f64::MIN),
            |acc, (i, d)| if d > acc.1 { (i, d) } else { acc },
        );
        Some(Outlier {
            score,
            cluster: ci,
            feature,
            seen: x.get(feature).copied().unwrap_or(0.0),
            lo: c.lo.get(feature).copied().unwrap_or(0.0),
            hi: c.hi.get(feature).copied().unwrap_or(0.0),
        })
    }
}

/// Raw value of a log feature (`e^x - 1`), rounded.
pub fn raw(x: f64) -> u64 {
    x.exp_m1().round().max(0.0) as u64
}

/// A feature value for people.
pub fn show(feature: usize, x: f64) -> String {
    let v = raw(x);
    if feature == 1 || feature == 2 {
        crate::volume::human(v)
    } else {
        v.to_string()
    }
}

/// The current 10-minute window of one device.
#[derive(Debug, Default, Clone)]
pub struct Win {
    pub ten: u64,
    pub flows: u64,
    pub sent: u64,
    pub recv: u64,
    pub peers: Vec<IpAddr>,
    /// per peer (same order): bytes plus one per flow or message, to name the main contributor
    pub weights: Vec<u64>,
    pub msgs: u64,
    pub anomalies: u64,
    /// accumulated while learning
    pub learn: bool,
    pub alerted: bool,
    pub started: bool,
}

impl Win {
    pub fn vector(&self) -> [f64; NF] {
        let f = |v: u64| (v as f64).ln_1p();
        [
            f(self.flows),
            f(self.sent),
            f(self.recv),
            f(self.peers.len() as u64),
            f(self.msgs),
            f(self.anomalies),
        ]
    }

    pub fn code(&self) -> Code {
        code(&self.vector())
    }

    pub fn empty(&self) -> bool {
        self.flows == 0 && self.sent == 0 && self.recv == 0 && self.msgs == 0 && self.anomalies == 0
    }

    /// Moves to window `ten`; returns the closed learning window's code, if any.
    pub fn roll(&mut self, ten: u64, learning: bool) -> Option<Code> {
        if self.started && self.ten == ten {
            self.learn &= learning;
            return None;
        }
        let closed = (self.started && self.learn && !self.empty()).then(|| self.code());
        *self = Win {
            ten,
            learn: learning,
            started: true,
            ..Win::default()
        };
        closed
    }

    /// Counts peer `p` with weight `w` (bytes, or 1 per flow or message).
    pub fn peer(&mut self, p: IpAddr, w: u64) {
        if let Some(i) = self.peers.iter().position(|x| *x == p) {
            if let Some(v) = self.weights.get_mut(i) {
                *v = v.saturating_add(w);
            }
        } else if self.peers.len() < MAX_PEERS {
            self.peers.push(p);
            self.weights.push(w);
        }
    }

    /// The peer that contributed most to this window.
    pub fn top_peer(&self) -> Option<IpAddr> {
        self.peers
            .iter()
            .zip(&self.weights)
            .max_by_key(|(_, w)| **w)
            .map(|(p, _)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(flows: u64, sent: u64, recv: u64, peers: u64, msgs: u64) -> Win {
        let mut v = Win {
            flows,
            sent,
            recv,
            msgs,
            ..Win::default()
        };
        for i in 0..peers {
            v.peer(IpAddr::from([10, 0, 0, i as u8]), 1);
        }
        v
    }

    /// Two modes: report windows (1 flow, ~2 KB each way) and study windows (3 flows, 50 MB out).
    fn model() -> Fitted {
        let mut m = ActivityModel::default();
        for i in 0..200u64 {
            m.learn(w(1, 1500 + i % 7 * 100, 2000, 1, 1).code());
            if i % 10 == 0 {
                m.learn(w(3, 50_000_000, 20_000, 1, 60).code());
            }
        }
        assert!(m.refit());
        assert!(!m.refit(), "nothing new learned: no refit");
        m.fitted.clone().unwrap()
    }

    #[test]
    fn fit_is_deterministic_and_finds_the_modes() {
        let a = model();
        assert_eq!(a, model());
        assert!(a.clusters.len() >= 2, "{a:?}");
        assert_eq!(a.windows, 220);
    }

    #[test]
    fn normal_windows_and_partial_windows_pass() {
        let f = model();
        for v in [
            w(1, 1600, 2000, 1, 1),
            w(3, 50_000_000, 20_000, 1, 60),
            w(1, 0, 0, 1, 0),
            w(0, 0, 0, 0, 0),
        ] {
            assert!(f.judge(&v.vector(), 10f64.ln()).is_none(), "{v:?}");
        }
    }

    #[test]
    fn a_window_beyond_every_mode_is_an_outlier() {
        let f = model();
        // 60 messages and 50 MB are each normal, but only in study windows of 3 flows; 40 report
        // connections each sending 1 MB is beyond both modes
        let v = w(40, 40_000_000, 80_000, 1, 40);
        let o = f.judge(&v.vector(), 10f64.ln()).expect("outlier");
        assert_eq!(FEATURES[o.feature], "flows opened");
        assert_eq!(raw(o.seen), 40);
        // the global maxima of each feature alone would pass it: flows 40 > 3 is what is new
        assert!(raw(o.hi) <= 3);
    }

    #[test]
    fn too_few_windows_no_model() {
        let mut m = ActivityModel::default();
        for _ in 0..10 {
            m.learn(w(1, 100, 100, 1, 1).code());
        }
        m.refit();
        assert!(m.fitted.is_none());
    }

    #[test]
    fn serde_round_trip() {
        let mut m = ActivityModel::default();
        for i in 0..40u64 {
            m.learn(w(1 + i % 3, 100 * i, 100, 1, 1).code());
        }
        m.refit();
        let s = serde_json::to_string(&m).unwrap();
        let back: ActivityModel = serde_json::from_str(&s).unwrap();
        assert_eq!(back.windows, m.windows);
        assert_eq!(back.total, m.total);
        assert!(back.fitted.is_some());
    }
}
