//! The models: inventory upkeep, baseline learning and the detectors, driven by observations in
//! capture-time order. One owner (the sensor's merger thread), no locks.
//!
//! Per observation the work is a few hash-map look-ups keyed by addresses; strings are allocated
//! only for facts never seen before (a new AE title, a new service) and for alerts.

use crate::alert::{Alert, Evidence};
use crate::net::{self, Cidr};
use crate::oui;
use crate::outlier::{self, Fitted};
use crate::profile::{
    add_capped, add_str, facts, Device, Edge, EdgeStats, MacSeen, MAX_EDGES, MAX_SOP_PEERS,
};
use crate::rhythm;
use crate::store::{Meta, Store};
use crate::volume::{self, Volumes};
use crate::{DeviceMap, FastMap, FastSet};
use crate::{FlowInfo, FlowSummary, Observation, Observed};
use iomt_parsers::{AppEvent, Protocol};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Instant;

mod linkid;

const NS: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * NS;
const TEN_MIN: u64 = 600 * NS;
const HOUR: u64 = 3600 * NS;
/// Activity separated by less than this is one burst (one report).
const BURST_GAP: u64 = 10 * NS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Learn only; no alerts.
    Learn,
    /// Alert against the stored baseline.
    Detect,
    /// Learn for `learn_for` of capture time from the first observation ever, then detect.
    Auto,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "learn" => Ok(Mode::Learn),
            "detect" => Ok(Mode::Detect),
            "auto" => Ok(Mode::Auto),
            _ => Err(format!("{s}: expected learn, detect or auto")),
        }
    }
}

/// `2d`, `36h`, `90m`, `45s`, `1w` (or plain seconds) to nanoseconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s}: expected e.g. 2d, 36h, 90m"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{s}: unit must be s, m, h, d or w")),
    };
    n.checked_mul(mult)
        .and_then(|v| v.checked_mul(NS))
        .ok_or_else(|| format!("{s}: too long"))
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Auto mode: capture time spent learning.
    pub learn_for_ns: u64,
    pub internal: Vec<Cidr>,
    /// One alert per (kind, device, peer) per this much capture time.
    pub dedup_window_ns: u64,
    /// A flow to or from outside the internal networks above this many bytes is a large transfer.
    pub external_bytes: u64,
    /// Most `new_peer_or_service` alerts per device per dedup window (a scan is one `port_scan`).
    pub new_peer_alerts_per_window: u32,
    /// `off_hours_activity`: flows opened plus reports sent within one off-hours hour before it
    /// fires (a lone NTP query is not a shift change).
    pub off_hours_min_activity: u32,
    /// `volume_anomaly`: a direction of a known edge above `factor ×` its learned 10-minute
    /// maximum and above `floor` bytes.
    pub volume_factor: u64,
    pub volume_floor_bytes: u64,
    /// `activity_outlier`: excess over the closest learned mode, in `ln` units (ln 10: an order
    /// of magnitude in one feature).
    pub outlier_margin: f64,
    /// New device profiles created per 10 minutes at most (a spoofed-source flood stays small);
    /// past it addresses are counted in `devices_over_cap`.
    pub max_new_devices_per_10min: u32,
    /// `new_device` alerts per dedup window at most; past it one alert counts the rest.
    pub new_device_alerts_per_window: u32,
}

/// Default learning period of `--mode auto`.
pub const DEFAULT_LEARN_FOR: &str = "7d";

impl Default for Config {
    fn default() -> Config {
        Config {
            mode: Mode::Auto,
            learn_for_ns: 7 * 86_400 * NS,
            internal: net::default_internal(),
            dedup_window_ns: 3600 * NS,
            external_bytes: 10 << 20,
            new_peer_alerts_per_window: 3,
            off_hours_min_activity: 10,
            volume_factor: 10,
            volume_floor_bytes: 128 << 10,
            outlier_margin: std::f64::consts::LN_10,
            max_new_devices_per_10min: 2048,
            new_device_alerts_per_window: 20,
        }
    }
}

/// Per-device counters of the current windows (not persisted).
#[derive(Debug, Default)]
struct Live {
    min: u64,
    msgs: u64,
    targets: FastSet<(IpAddr, u16)>,
    hosts: FastSet<IpAddr>,
    ten: u64,
    anomalies: u64,
    retrieves: u64,
    silent_alerted: bool,
    new_peer_window: u64,
    new_peer_alerts: u32,
    /// off-hours: absolute capture hour, activities in it, first one, alerted
    hour: u64,
    hour_n: u32,
    hour_first: u64,
    off_alerted: bool,
    /// the current 10-minute activity window (`activity_outlier`)
    act: outlier::Win,
}

const MAX_WINDOW_SET: usize = 1024;
/// Device profiles kept at most. Past it (a flood from spoofed internal sources) new addresses are
/// counted in `devices_over_cap`, not profiled, so memory stays bounded whatever the traffic.
pub const MAX_DEVICES: usize = 100_000;
/// Per-address activity windows kept at most; idle ones are pruned when full (once per ten minutes
/// of capture time), and past it new addresses share one scratch window.
pub const MAX_LIVE: usize = 100_000;
/// Open (deduplicating) alerts kept at most; past it closed ones are dropped, then the oldest.
pub const MAX_OPEN_ALERTS: usize = 16_384;
/// Entries of the service-string cache before it is cleared.
const MAX_SERVICES_SEEN: usize = 1 << 16;

struct Open {
    start: u64,
    id: String,
    count: u64,
}

pub struct Models {
    cfg: Config,
    devices: DeviceMap,
    dirty: FastSet<IpAddr>,
    /// Internal address last seen behind each MAC, and how many addresses it showed (routers show
    /// many: those MACs say nothing about identity).
    mac_ip: FastMap<[u8; 6], (IpAddr, u16)>,
    ae_index: FastMap<String, BTreeSet<IpAddr>>,
    live: FastMap<IpAddr, Live>,
    open: FastMap<(&'static str, IpAddr, Option<IpAddr>), Open>,
    /// Flows to or from outside, judged at their first application event or their end.
    pending_external: FastMap<u64, (u64, IpAddr, IpAddr, Edge, bool)>,
    /// (device, offered?, L4, port, app bit) already in the profile's service lists.
    services_seen: FastSet<(IpAddr, bool, u8, u16, u8)>,
    /// Flows to or from outside already judged: their events teach and raise nothing else.
    external_flows: FastSet<u64>,
    /// Recent C-MOVE destinations: AE title → (requester, time).
    move_dest: FastMap<String, (IpAddr, u64)>,
    meta: Meta,
    now: u64,
    watch_since: u64,
    last_tick: u64,
    store: Option<Store>,
    alerts_new: Vec<Alert>,
    alert_counts: FastMap<String, u64>,
    /// Addresses not profiled because [`MAX_DEVICES`] was reached.
    pub devices_over_cap: u64,
    /// Activity windows not kept because [`MAX_LIVE`] was reached.
    pub live_over_cap: u64,
    live_pruned_ten: u64,
    scratch_live: Live,
    since_flush: u64,
    flush_capture: u64,
    flush_wall: Instant,
    started: bool,
    /// Identity from DHCP, LLDP/CDP, mDNS and ARP, per MAC; ARP bindings.
    link: linkid::LinkState,
    volumes: Volumes,
    /// Role models for devices with too few windows of their own (built at the first need).
    role_models: Option<FastMap<&'static str, Fitted>>,
    /// Absolute capture hour being watched (credited to the weekly rhythm when it ends).
    cover_hour: u64,
    /// New profiles in the current 10 minutes, and `new_device` alerts in the dedup window.
    new_dev_ten: u64,
    new_dev_count: u32,
    new_dev_alert_window: u64,
    new_dev_alerts: u32,
    /// The alert that counts never-seen devices past the alert cap, in its window.
    new_dev_burst: Option<IpAddr>,
}

fn proto_bit(p: Protocol) -> u8 {
    match p {
        Protocol::Dicom => 1,
        Protocol::Hl7 => 2,
        Protocol::Sdc => 4,
        Protocol::Ieee20601 => 8,
        Protocol::Tls => 16,
    }
}

fn service_port(p: u16) -> u16 {
    if p >= 49152 {
        0
    } else {
        p
    }
}

fn l4(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        _ => "ip",
    }
}

fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

const SDC_CONTROL: &[&str] = &[
    "SetValue",
    "SetString",
    "Activate",
    "SetAlertState",
    "SetMetricState",
    "SetComponentState",
    "SetContextState",
    "SetOperatingMode",
];

fn sdc_request(m: &str) -> bool {
    (m.starts_with("Get") || m.starts_with("Set") || SDC_CONTROL.contains(&m))
        && !m.ends_with("Response")
        || matches!(
            m,
            "Subscribe" | "Renew" | "Unsubscribe" | "Probe" | "Resolve"
        )
}

impl Models {
    /// Models over a state directory (`None`: in memory only, for tests).
    pub fn open(cfg: Config, state: Option<&Path>) -> anyhow::Result<Models> {
        let (store, devices, meta) = match state {
            Some(dir) => {
                let mut s = Store::open(dir)?;
                let devices = s.load_devices()?;
                let meta = s.load_meta()?;
                (Some(s), devices, meta)
            }
            None => (None, FastMap::default(), Meta::default()),
        };
        let mut m = Models {
            cfg,
            devices,
            dirty: FastSet::default(),
            mac_ip: FastMap::default(),
            ae_index: FastMap::default(),
            live: FastMap::default(),
            open: FastMap::default(),
            pending_external: FastMap::default(),
            external_flows: FastSet::default(),
            services_seen: FastSet::default(),
            move_dest: FastMap::default(),
            meta,
            now: 0,
            watch_since: 0,
            last_tick: 0,
            store,
            alerts_new: Vec::new(),
            alert_counts: FastMap::default(),
            devices_over_cap: 0,
            live_over_cap: 0,
            live_pruned_ten: u64::MAX,
            scratch_live: Live::default(),
            since_flush: 0,
            flush_capture: 0,
            flush_wall: Instant::now(),
            started: false,
            link: linkid::LinkState::default(),
            volumes: Volumes::default(),
            role_models: None,
            cover_hour: 0,
            new_dev_ten: u64::MAX,
            new_dev_count: 0,
            new_dev_alert_window: u64::MAX,
            new_dev_alerts: 0,
            new_dev_burst: None,
        };
        for (ip, d) in &m.devices {
            for ae in d
                .baseline
                .dicom_calling
                .iter()
                .chain(&d.baseline.dicom_called)
            {
                m.ae_index.entry(ae.clone()).or_default().insert(*ip);
            }
            if let Some(mac) = d.macs.last().and_then(|s| parse_mac(&s.mac)) {
                m.mac_ip.insert(mac, (*ip, 1));
            }
        }
        Ok(m)
    }

    /// Switches mode (the next observation learns or detects accordingly).
    pub fn set_mode(&mut self, mode: Mode) {
        self.cfg.mode = mode;
    }

    pub fn devices(&self) -> &DeviceMap {
        &self.devices
    }

    /// Learning at the current capture time?
    pub fn learning(&self) -> bool {
        match self.cfg.mode {
            Mode::Learn => true,
            Mode::Detect => false,
            Mode::Auto => match self.meta.learn_start_ns {
                None => true,
                Some(s) => self.now < s.saturating_add(self.cfg.learn_for_ns),
            },
        }
    }

    pub fn internal(&self, ip: IpAddr) -> bool {
        self.cfg.internal.iter().any(|c| c.contains(ip))
    }

    fn outside(&self, ip: IpAddr) -> bool {
        !net::is_group(ip) && !self.internal(ip)
    }

    pub fn observe(&mut self, o: &Observation<'_>, out: &mut Vec<Alert>) {
        self.clock(o.ts.0, out);
        match o.what {
            Observed::FlowStart => self.on_flow_start(&o.flow, out),
            Observed::FlowEnd(s) => self.on_flow_end(&o.flow, s, out),
            Observed::App(AppEvent::NetId(e)) => self.on_netid(&o.flow, e, out),
            Observed::App(e) => self.on_app(&o.flow, e, out),
        }
        self.since_flush = self.since_flush.saturating_add(1);
    }

    /// Capture time moves on: phase, silence checks (once per capture second), periodic commits.
    fn clock(&mut self, ts: u64, out: &mut Vec<Alert>) {
        if !self.started {
            self.started = true;
            self.watch_since = ts;
            self.last_tick = ts;
            self.flush_capture = ts;
            if self.meta.learn_start_ns.is_none() {
                self.meta.learn_start_ns = Some(ts);
            }
            self.meta.run_start_ns = Some(ts);
            self.cover_hour = ts / HOUR;
        } else if ts > self.now.saturating_add(3600 * NS) {
            // The sensor saw nothing for an hour (a gap between capture files): silence timers
            // restart rather than blaming devices for time nobody watched.
            self.watch_since = ts;
        }
        if ts > self.now {
            self.now = ts;
        }
        self.meta.run_end_ns = Some(self.now);
        if self.now / HOUR != self.cover_hour {
            let watched = self.cover_hour;
            self.cover_hour = self.now / HOUR;
            if self.learning() {
                self.cover(watched);
            }
        }
        if self.now >= self.last_tick.saturating_add(NS) {
            self.last_tick = self.now;
            if !self.learning() {
                self.check_silence(out);
            }
            // Every 60 s of capture time or 50 000 observations, whichever comes first, but at
            // most once per second of wall time: live, a minute of capture is a minute of wall
            // time and this changes nothing; a replay runs hours of capture per second and would
            // otherwise rewrite every profile every few tens of milliseconds, where a crash
            // loses at most a second of replay (replayed again) either way.
            let due = self.now >= self.flush_capture.saturating_add(60 * NS)
                || self.since_flush >= 50_000;
            if self.store.is_some() && due && self.flush_wall.elapsed().as_millis() >= 1000 {
                if let Err(e) = self.flush() {
                    eprintln!("iomt-sensor: warning: state store: {e}");
                }
            }
        }
    }

    fn check_silence(&mut self, out: &mut Vec<Alert>) {
        let mut silent = Vec::new();
        for (ip, d) in &self.devices {
            let r = &d.baseline.rhythm;
            if !d.learned || !r.periodic() {
                continue;
            }
            let last = r.last_burst_ns.max(self.watch_since);
            let quiet_s = self.now.saturating_sub(last) as f64 / NS as f64;
            if quiet_s > r.silence_threshold_s() {
                let l = self.live.entry(*ip).or_default();
                if !l.silent_alerted {
                    l.silent_alerted = true;
                    silent.push((*ip, r.mean_s(), r.silence_threshold_s(), quiet_s));
                }
            }
        }
        for (ip, mean, thr, quiet) in silent {
            self.alert(
                out,
                "device_silent",
                8,
                ip,
                None,
                None,
                format!("{ip} reported every {mean:.0} s and has been silent for {quiet:.0} s"),
                format!("a report at least every {thr:.0} s (learned period {mean:.0} s)"),
                format!("nothing for {quiet:.0} s"),
            );
        }
    }

    /// The capture hour `hour` (absolute) was watched while learning: every known device's weekly
    /// rhythm covers its slot once more.
    fn cover(&mut self, hour: u64) {
        let slot = rhythm::slot(hour.saturating_mul(HOUR));
        for (ip, d) in self.devices.iter_mut() {
            if d.learned {
                d.baseline.week.note_covered(slot);
                self.dirty.insert(*ip);
            }
        }
    }

    /// The device opened a flow or sent a report: learns its weekly rhythm, or judges the hour.
    fn rhythm_tick(&mut self, ip: IpAddr, out: &mut Vec<Alert>) {
        let now = self.now;
        if self.learning() {
            if let Some(d) = self.devices.get_mut(&ip) {
                d.baseline.week.note_activity(now);
            }
            return;
        }
        if !self.devices.get(&ip).is_some_and(|d| d.learned) {
            return;
        }
        let min = self.cfg.off_hours_min_activity.max(1);
        let l = self.live(ip);
        if l.hour != now / HOUR {
            l.hour = now / HOUR;
            l.hour_n = 0;
            l.hour_first = now;
            l.off_alerted = false;
        }
        l.hour_n = l.hour_n.saturating_add(1);
        if l.hour_n < min || l.off_alerted {
            return;
        }
        l.off_alerted = true;
        let (n, first) = (l.hour_n, l.hour_first);
        let slot = rhythm::slot(now);
        let Some(off) = self
            .devices
            .get(&ip)
            .and_then(|d| d.baseline.week.off_hours(slot))
        else {
            return;
        };
        let secs = first / NS;
        let when = format!(
            "{} {:02}:{:02} UTC",
            rhythm::day_name(slot),
            secs % 86_400 / 3600,
            secs % 3600 / 60
        );
        self.alert(
            out,
            "off_hours_activity",
            5,
            ip,
            None,
            None,
            format!("{ip} is active at an hour it never was while learning: {n} flows/reports since {when}"),
            off.expected,
            format!("{n} flows/reports from {when}"),
        );
    }

    /// Updates the device's current 10-minute activity window (learning closed windows) and, in
    /// detect mode, judges it against the learned model. `f` updates the window (`l.act`) and may
    /// count in the device's other windows of `l` at the same look-up; its result is returned.
    /// `None`: the device has no profile (nothing counted).
    fn act_update<R>(
        &mut self,
        ip: IpAddr,
        out: &mut Vec<Alert>,
        f: impl FnOnce(&mut Live) -> R,
    ) -> Option<R> {
        if !self.devices.contains_key(&ip) {
            return None;
        }
        let learning = self.learning();
        let ten = self.now / TEN_MIN;
        let l = self.live(ip);
        let closed = l.act.roll(ten, learning);
        let r = f(l);
        // the feature vector (six ln_1p) only when the window is to be judged
        let x = (!learning && !l.act.alerted).then(|| l.act.vector());
        if let Some(c) = closed {
            if let Some(d) = self.devices.get_mut(&ip) {
                d.baseline.activity.learn(c);
                self.dirty.insert(ip);
            }
        }
        if let Some(x) = x {
            self.act_judge(ip, x, out);
        }
        Some(r)
    }

    /// `activity_outlier`: the device's current window `x` against its (or its role's) model.
    fn act_judge(&mut self, ip: IpAddr, x: [f64; outlier::NF], out: &mut Vec<Alert>) {
        let margin = self.cfg.outlier_margin;
        let Some(d) = self.devices.get_mut(&ip) else {
            return;
        };
        if !d.learned {
            return;
        }
        if d.baseline.activity.refit() {
            self.dirty.insert(ip);
        }
        let role = d.role();
        // Judged on every update: borrow the model; clone it and build the words only for an alert.
        let (o, model, source) = if let Some(m) = d.baseline.activity.fitted.as_ref() {
            let Some(o) = m.judge(&x, margin) else {
                return;
            };
            (o, m.clone(), "its own".to_string())
        } else {
            if self.role_models.is_none() {
                self.role_models = Some(self.fit_role_models());
            }
            let Some(m) = self.role_models.as_ref().and_then(|m| m.get(role)) else {
                return;
            };
            let Some(o) = m.judge(&x, margin) else {
                return;
            };
            (o, m.clone(), format!("the {role} role's"))
        };
        let Some(l) = self.live.get_mut(&ip) else {
            return;
        };
        l.act.alerted = true;
        let w = &l.act;
        let seen_now = format!(
            "flows {}, sent {}, received {}, peers {}, messages {}, anomalies {}",
            w.flows,
            volume::human(w.sent),
            volume::human(w.recv),
            w.peers.len(),
            w.msgs,
            w.anomalies
        );
        let top = w.top_peer();
        let Some(c) = model.clusters.get(o.cluster) else {
            return;
        };
        let fname = outlier::FEATURES.get(o.feature).copied().unwrap_or("?");
        let mode = (0..outlier::NF)
            .map(|i| {
                format!(
                    "{} ≤ {}",
                    outlier::FEATURES.get(i).copied().unwrap_or("?"),
                    outlier::show(i, c.hi.get(i).copied().unwrap_or(0.0))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        self.alert(
            out,
            "activity_outlier",
            5,
            ip,
            top,
            None,
            format!(
                "{ip}'s activity in the current 10 minutes is unlike any learned window: {fname} {} where similar windows had {}-{}",
                outlier::show(o.feature, o.seen),
                outlier::show(o.feature, o.lo),
                outlier::show(o.feature, o.hi)
            ),
            format!(
                "10-minute windows like the closest of {} learned modes ({} of {} windows: {mode}); model: {source} K-Means",
                model.clusters.len(),
                c.windows,
                model.windows
            ),
            format!(
                "{seen_now}{} (excess {:.1} > margin {margin:.1} ln units)",
                top.map(|p| format!("; most of it with {p}")).unwrap_or_default(),
                o.score
            ),
        );
    }

    /// Role models: the windows of every learned device of a role, pooled.
    fn fit_role_models(&self) -> FastMap<&'static str, Fitted> {
        let mut pooled: FastMap<&'static str, std::collections::BTreeMap<outlier::Code, u32>> =
            FastMap::default();
        for d in self.devices.values().filter(|d| d.learned) {
            let p = pooled.entry(d.role()).or_default();
            for (c, n) in &d.baseline.activity.windows {
                if let Some(v) = p.get_mut(c) {
                    *v = v.saturating_add(*n);
                } else if p.len() < outlier::MAX_CODES {
                    p.insert(*c, *n);
                }
            }
        }
        pooled
            .into_iter()
            .filter_map(|(r, w)| outlier::fit(&w).map(|f| (r, f)))
            .collect()
    }

    /// `new_device`, at most `new_device_alerts_per_window` per dedup window; past it one alert
    /// counts the rest (a spoofed-source flood is one alert, not thousands).
    #[allow(clippy::too_many_arguments)]
    fn new_device_alert(
        &mut self,
        out: &mut Vec<Alert>,
        ip: IpAddr,
        peer: IpAddr,
        summary: String,
        seen: String,
    ) {
        let w = self.now / self.cfg.dedup_window_ns.max(1);
        if self.new_dev_alert_window != w {
            self.new_dev_alert_window = w;
            self.new_dev_alerts = 0;
            self.new_dev_burst = None;
        }
        let cap = self.cfg.new_device_alerts_per_window;
        if self.new_dev_alerts < cap {
            self.new_dev_alerts = self.new_dev_alerts.saturating_add(1);
            self.alert(
                out,
                "new_device",
                5,
                ip,
                Some(peer),
                None,
                summary,
                "only devices of the learned inventory".into(),
                seen,
            );
            return;
        }
        let first = *self.new_dev_burst.get_or_insert(ip);
        self.alert(
            out,
            "new_device",
            5,
            first,
            None,
            None,
            format!("more than {cap} never-seen internal addresses within the hour; from {first} on each one is counted in this alert (spoofed sources or an unknown subnet)"),
            "only devices of the learned inventory".into(),
            format!("{ip} and the other never-seen addresses this alert counts"),
        );
    }

    /// Creates the profile if needed; true when the device is new.
    fn touch(&mut self, ip: IpAddr, mac: Option<[u8; 6]>) -> bool {
        let now = self.now;
        let learning = self.learning();
        if self.devices.len() >= MAX_DEVICES && !self.devices.contains_key(&ip) {
            self.devices_over_cap = self.devices_over_cap.saturating_add(1);
            return false;
        }
        self.dirty.insert(ip);
        if let Some(d) = self.devices.get_mut(&ip) {
            d.last_seen_ns = now;
            if learning {
                d.learned = true;
            }
            if let Some(m) = mac {
                note_mac(d, m, now);
            }
            return false;
        }
        let ten = now / TEN_MIN;
        if self.new_dev_ten != ten {
            self.new_dev_ten = ten;
            self.new_dev_count = 0;
        }
        if self.new_dev_count >= self.cfg.max_new_devices_per_10min {
            self.dirty.remove(&ip);
            self.devices_over_cap = self.devices_over_cap.saturating_add(1);
            return false;
        }
        self.new_dev_count = self.new_dev_count.saturating_add(1);
        let mut d = Device {
            ip: Some(ip),
            first_seen_ns: now,
            last_seen_ns: now,
            learned: learning,
            ..Device::default()
        };
        let mut moved = false;
        if let Some(m) = mac {
            note_mac(&mut d, m, now);
            // The same MAC behind another internal address (DHCP renumbering): the same device.
            // A MAC seen behind several live addresses is a router's and says nothing.
            let entry = self.mac_ip.entry(m).or_insert((ip, 0));
            if entry.0 != ip {
                let old = entry.0;
                entry.0 = ip;
                let first_change = entry.1 <= 1;
                entry.1 = entry.1.saturating_add(1);
                let idle = self
                    .devices
                    .get(&old)
                    .is_some_and(|p| p.last_seen_ns.saturating_add(60 * NS) < now);
                if first_change && idle {
                    if let Some(prev) = self.devices.get(&old) {
                        let mut copy = prev.clone();
                        copy.ip = Some(ip);
                        copy.previous_ips.push(old);
                        copy.previous_ips.truncate(16);
                        copy.last_seen_ns = now;
                        copy.macs = d.macs.clone();
                        copy.hot = d.hot;
                        d = copy;
                        moved = true;
                    }
                }
            } else {
                entry.1 = entry.1.max(1);
            }
        }
        self.devices.insert(ip, d);
        if let Some(m) = mac {
            self.adopt_link_identity(ip, m);
        }
        !moved
    }

    fn activity(&mut self, ip: IpAddr, out: &mut Vec<Alert>) {
        self.rhythm_tick(ip, out);
        let now = self.now;
        let learning = self.learning();
        let Some(d) = self.devices.get_mut(&ip) else {
            return;
        };
        let r = &mut d.baseline.rhythm;
        if now.saturating_sub(r.last_activity_ns) >= BURST_GAP || r.last_activity_ns == 0 {
            if learning && r.last_burst_ns != 0 && now > r.last_burst_ns {
                let gap = (now - r.last_burst_ns) as f64 / NS as f64;
                r.intervals = r.intervals.saturating_add(1);
                r.sum_s += gap;
                if gap > r.max_gap_s {
                    r.max_gap_s = gap;
                }
            }
            if learning {
                let hour = ((now / NS) % 86_400 / 3600) as usize;
                if let Some(h) = r.by_hour.get_mut(hour) {
                    *h = h.saturating_add(1);
                }
            }
            r.last_burst_ns = now;
            if let Some(l) = self.live.get_mut(&ip) {
                l.silent_alerted = false;
            }
        }
        r.last_activity_ns = now;
    }

    /// Rolls the device's windows, learning their maxima.
    fn live(&mut self, ip: IpAddr) -> &mut Live {
        let now = self.now;
        let learning = self.learning();
        if self.live.len() >= MAX_LIVE && !self.live.contains_key(&ip) {
            let ten = now / TEN_MIN;
            if self.live_pruned_ten != ten {
                self.live_pruned_ten = ten;
                self.live.retain(|_, l| l.ten.saturating_add(1) >= ten);
            }
            if self.live.len() >= MAX_LIVE {
                self.live_over_cap = self.live_over_cap.saturating_add(1);
                self.scratch_live = Live::default();
                return &mut self.scratch_live;
            }
        }
        let l = self.live.entry(ip).or_default();
        let min = now / MINUTE;
        let ten = now / TEN_MIN;
        if l.min != min || l.ten != ten {
            if learning {
                if let Some(d) = self.devices.get_mut(&ip) {
                    let r = &mut d.baseline.rates;
                    if l.min != min {
                        r.max_msgs_per_min = r.max_msgs_per_min.max(l.msgs);
                        r.max_targets_per_min = r.max_targets_per_min.max(l.targets.len() as u64);
                        r.max_hosts_per_min = r.max_hosts_per_min.max(l.hosts.len() as u64);
                        if l.msgs > 0 {
                            r.windows = r.windows.saturating_add(1);
                        }
                    }
                    if l.ten != ten {
                        r.max_anomalies_per_10min = r.max_anomalies_per_10min.max(l.anomalies);
                        r.max_retrieves_per_10min = r.max_retrieves_per_10min.max(l.retrieves);
                    }
                }
            }
            if l.min != min {
                l.min = min;
                l.msgs = 0;
                l.targets.clear();
                l.hosts.clear();
            }
            if l.ten != ten {
                l.ten = ten;
                l.anomalies = 0;
                l.retrieves = 0;
            }
        }
        l
    }

    /// A message from `ip` (of protocol `proto`): activity window and flood check.
    fn count_msg(&mut self, ip: IpAddr, peer: IpAddr, proto: &'static str, out: &mut Vec<Alert>) {
        let n = self.act_update(ip, out, |l| {
            l.act.msgs = l.act.msgs.saturating_add(1);
            l.act.peer(peer, 1);
            l.msgs = l.msgs.saturating_add(1);
            l.msgs
        });
        if let Some(n) = n {
            self.flood_check(ip, peer, Some(proto), n, out);
        }
    }

    /// `flood`: `n` messages/connections from `ip` in the current minute.
    fn flood_check(
        &mut self,
        ip: IpAddr,
        peer: IpAddr,
        proto: Option<&'static str>,
        n: u64,
        out: &mut Vec<Alert>,
    ) {
        if self.learning() {
            return;
        }
        let Some(d) = self.devices.get(&ip) else {
            return;
        };
        if !d.learned || d.baseline.rates.windows < 10 {
            return;
        }
        let max = d.baseline.rates.max_msgs_per_min;
        let thr = max.saturating_mul(3).max(max.saturating_add(30));
        if n == thr {
            self.alert(
                out,
                "flood",
                7,
                ip,
                Some(peer),
                proto,
                format!(
                    "{ip} sent {n} messages/connections within a minute, far above its usual rate"
                ),
                format!("at most {max} per minute (alert at {thr})"),
                format!("{n} in the current minute"),
            );
        }
    }

    fn on_flow_start(&mut self, f: &FlowInfo, out: &mut Vec<Alert>) {
        let (client, server) = (f.src, f.dst);
        let learning = self.learning();
        if self.internal(client) && !net::is_group(client) {
            if self.touch(client, f.src_mac) && !learning {
                self.new_device_alert(
                    out,
                    client,
                    server,
                    format!(
                        "never-seen device {client} opened a connection to {server} port {}",
                        f.dport
                    ),
                    format!("{client} ({} to {server}:{})", l4(f.proto), f.dport),
                );
            }
            self.bump(client, "flows_opened");
            self.rhythm_tick(client, out);
            // the activity window, the connection counted as a message (flood) and scans:
            // distinct targets per minute, at one look-up (profiled devices only: an address
            // past the admission cap gets no per-source state)
            let counts = self.act_update(client, out, |l| {
                l.act.flows = l.act.flows.saturating_add(1);
                l.act.peer(server, 1);
                l.msgs = l.msgs.saturating_add(1);
                if l.targets.len() < MAX_WINDOW_SET {
                    l.targets.insert((server, f.dport));
                }
                if l.hosts.len() < MAX_WINDOW_SET {
                    l.hosts.insert(server);
                }
                (l.msgs, l.targets.len() as u64, l.hosts.len() as u64)
            });
            if let Some((n, nt, nh)) = counts {
                self.flood_check(client, server, None, n, out);
                if !learning {
                    self.scan_check(client, server, nt, nh, out);
                }
            }
        }
        // the peer/service edge, owned by the internal end
        let owner_is_client = self.internal(client);
        let (owner, peer, inbound) = if owner_is_client {
            (client, server, false)
        } else if self.internal(server) {
            (server, client, true)
        } else {
            return;
        };
        let edge = Edge {
            peer,
            proto: f.proto,
            port: service_port(f.dport),
            inbound,
        };
        let outside_peer = self.outside(peer);
        let Some(d) = self.devices.get_mut(&owner) else {
            return;
        };
        if let Some(s) = d.baseline.edges.get_mut(&edge) {
            if learning {
                s.flows = s.flows.saturating_add(1);
            } else if outside_peer && d.learned && self.pending_external.len() < 4096 {
                // every flow to or from outside is judged at its first application event
                self.pending_external
                    .insert(f.id, (self.now, owner, peer, edge, false));
            }
            return;
        }
        let d_learned = d.learned;
        if d.baseline.edges.len() < MAX_EDGES {
            d.baseline.edges.insert(edge, EdgeStats::default());
        }
        self.dirty.insert(owner);
        if learning || !d_learned {
            return;
        }
        if outside_peer {
            // judged at the first application event or the flow's end
            if self.pending_external.len() < 4096 {
                self.pending_external
                    .insert(f.id, (self.now, owner, peer, edge, true));
            }
            return;
        }
        self.new_peer_alert(owner, edge, out);
    }

    fn new_peer_alert(&mut self, owner: IpAddr, edge: Edge, out: &mut Vec<Alert>) {
        let now = self.now;
        let window = self.cfg.dedup_window_ns.max(1);
        let cap = self.cfg.new_peer_alerts_per_window;
        let l = self.live.entry(owner).or_default();
        if l.new_peer_window != now / window {
            l.new_peer_window = now / window;
            l.new_peer_alerts = 0;
        }
        if l.new_peer_alerts >= cap {
            self.bump(owner, "new_peer_alerts_suppressed");
            return;
        }
        l.new_peer_alerts = l.new_peer_alerts.saturating_add(1);
        let (dir, what) = if edge.inbound {
            (
                "was contacted by",
                format!("{} from {}", l4(edge.proto), edge.peer),
            )
        } else {
            (
                "talked to",
                format!("{} to {}:{}", l4(edge.proto), edge.peer, edge.port),
            )
        };
        self.alert(
            out,
            "new_peer_or_service",
            4,
            owner,
            Some(edge.peer),
            None,
            format!(
                "{owner} {dir} a never-seen peer or service: {} port {}",
                edge.peer, edge.port
            ),
            "only the peers and services learned for this device".into(),
            what,
        );
    }

    fn scan_check(
        &mut self,
        ip: IpAddr,
        peer: IpAddr,
        targets: u64,
        hosts: u64,
        out: &mut Vec<Alert>,
    ) {
        let (mt, mh) = match self.devices.get(&ip) {
            Some(d) if d.learned => (
                d.baseline.rates.max_targets_per_min,
                d.baseline.rates.max_hosts_per_min,
            ),
            _ => (0, 0),
        };
        let thr_h = mh.saturating_mul(3).max(10).max(mh.saturating_add(10));
        let thr_t = mt.saturating_mul(3).max(20).max(mt.saturating_add(20));
        if hosts == thr_h {
            self.alert(
                out,
                "host_scan",
                6,
                ip,
                Some(peer),
                None,
                format!("{ip} opened connections to {hosts} different hosts within a minute (host scan)"),
                format!("at most {mh} hosts per minute (alert at {thr_h})"),
                format!("{hosts} hosts in the current minute"),
            );
        } else if targets == thr_t {
            self.alert(
                out,
                "port_scan",
                6,
                ip,
                Some(peer),
                None,
                format!(
                    "{ip} probed {targets} different host:port targets within a minute (port scan)"
                ),
                format!("at most {mt} targets per minute (alert at {thr_t})"),
                format!("{targets} targets in the current minute"),
            );
        }
    }

    fn on_flow_end(&mut self, f: &FlowInfo, s: &FlowSummary, out: &mut Vec<Alert>) {
        let (client, server) = (f.src, f.dst);
        let learning = self.learning();
        // The server really served: an application protocol was recognised, a UDP answer, or TCP
        // segments carrying payload (more than bare headers per packet: a RST to a probe is not a
        // service).
        let answered = s.app_proto.is_some()
            || (f.proto != 6 && s.pkts_toclient > 0)
            || (f.proto == 6 && s.bytes_toclient > s.pkts_toclient.saturating_mul(80));
        let bytes = s.bytes_toserver.saturating_add(s.bytes_toclient);
        let app = s.app_proto.map(|p| p.name()).unwrap_or("unknown");
        if answered && self.internal(server) && !net::is_group(server) {
            if self.touch(server, f.dst_mac) && !learning {
                self.new_device_alert(
                    out,
                    server,
                    client,
                    format!(
                        "never-seen device {server} answered {client} on port {}",
                        f.dport
                    ),
                    format!("{server} serving {}/{}", l4(f.proto), f.dport),
                );
            }
            self.bump(server, "flows_answered");
            // strings are built once per new (device, service), not per flow
            let bit = s.app_proto.map(proto_bit).unwrap_or(0);
            if self.services_seen.len() >= MAX_SERVICES_SEEN {
                self.services_seen.clear();
            }
            if self
                .services_seen
                .insert((server, true, f.proto, f.dport, bit))
            {
                if let Some(d) = self.devices.get_mut(&server) {
                    let svc = format!("{}/{} {app}", l4(f.proto), f.dport);
                    if !d.services_offered.contains(&svc) && d.services_offered.len() < 64 {
                        d.services_offered.insert(svc);
                    }
                }
            }
            let port = service_port(f.dport);
            if self.services_seen.len() >= MAX_SERVICES_SEEN {
                self.services_seen.clear();
            }
            if self
                .services_seen
                .insert((client, false, f.proto, port, bit))
            {
                if let Some(d) = self.devices.get_mut(&client) {
                    let used = format!("{}/{} {app}", l4(f.proto), port);
                    if !d.services_used.contains(&used) && d.services_used.len() < 64 {
                        d.services_used.insert(used);
                    }
                }
            }
        }
        for ip in [client, server] {
            if let Some(d) = self.devices.get_mut(&ip) {
                d.bump("bytes", bytes);
            }
        }
        // an exchange with outside that already raised its alert feeds no other detector
        let judged_external = self.external_flows.contains(&f.id);
        self.act_update(client, out, |l| {
            let w = &mut l.act;
            if judged_external {
                return;
            }
            w.sent = w.sent.saturating_add(s.bytes_toserver);
            w.recv = w.recv.saturating_add(s.bytes_toclient);
            w.peer(server, bytes);
        });
        if self.internal(server) && !judged_external {
            self.act_update(server, out, |l| {
                let w = &mut l.act;
                w.sent = w.sent.saturating_add(s.bytes_toclient);
                w.recv = w.recv.saturating_add(s.bytes_toserver);
                w.peer(client, bytes.saturating_add(1));
            });
        }
        // edge statistics and downgrade
        let (owner, edge) = if self.internal(client) {
            (
                client,
                Edge {
                    peer: server,
                    proto: f.proto,
                    port: service_port(f.dport),
                    inbound: false,
                },
            )
        } else {
            (
                server,
                Edge {
                    peer: client,
                    proto: f.proto,
                    port: service_port(f.dport),
                    inbound: true,
                },
            )
        };
        let mut downgrade = None;
        let mut large = None;
        // per-direction volume of the edge in its 10-minute window
        let (o_sent, o_recv) = if owner == client {
            (s.bytes_toserver, s.bytes_toclient)
        } else {
            (s.bytes_toclient, s.bytes_toserver)
        };
        let (factor, floor) = (self.cfg.volume_factor, self.cfg.volume_floor_bytes);
        let mut overs = Vec::new();
        // one look-up of the edge: its statistics and downgrade, then its volume window
        if let Some(d) = self.devices.get_mut(&owner) {
            let d_learned = d.learned;
            if let Some(st) = d.baseline.edges.get_mut(&edge) {
                let bit = s.app_proto.map(proto_bit).unwrap_or(0);
                if learning {
                    st.apps |= bit;
                    st.max_bytes = st.max_bytes.max(bytes);
                } else if d_learned {
                    if st.apps == proto_bit(Protocol::Tls) && bit != 0 && bit != st.apps {
                        downgrade = Some(app);
                    }
                    let thr = st.max_bytes.saturating_mul(10).max(50 << 20);
                    if st.flows >= 3 && bytes > thr {
                        large = Some((st.max_bytes, thr));
                    }
                    st.apps |= bit;
                }
                overs = self.volumes.add(
                    self.now, owner, edge, st, o_sent, o_recv, learning, d_learned, factor, floor,
                );
                if learning {
                    self.dirty.insert(owner);
                }
            }
        }
        for o in overs {
            let svc = format!("{}/{}", l4(edge.proto), edge.port);
            let peer = edge.peer;
            let (summary, expected, seen) = if o.sent {
                (
                    format!("{owner} sent {} to {peer} ({svc}) within 10 minutes, far above the most it ever sent there ({})", volume::human(o.seen), volume::human(o.learned_max)),
                    format!("at most {} sent and {} received per 10 minutes on this peer/service (alert above {} sent)", volume::human(o.learned_max), volume::human(o.other_max), volume::human(o.threshold)),
                    format!("{} sent, {} received in the current 10 minutes", volume::human(o.seen), volume::human(o.other_seen)),
                )
            } else {
                (
                    format!("{peer} sent {} to {owner} ({svc}) within 10 minutes, far above the most {owner} ever received there ({})", volume::human(o.seen), volume::human(o.learned_max)),
                    format!("at most {} received and {} sent per 10 minutes on this peer/service (alert above {} received)", volume::human(o.learned_max), volume::human(o.other_max), volume::human(o.threshold)),
                    format!("{} received, {} sent in the current 10 minutes", volume::human(o.seen), volume::human(o.other_seen)),
                )
            };
            self.alert(
                out,
                "volume_anomaly",
                6,
                owner,
                Some(peer),
                s.app_proto.map(|p| p.name()),
                summary,
                expected,
                seen,
            );
        }
        if let Some(app) = downgrade {
            self.alert(
                out,
                "tls_downgrade",
                7,
                owner,
                Some(edge.peer),
                Some(app),
                format!(
                    "{client} spoke plaintext {app} to {server}:{} where it always used TLS",
                    f.dport
                ),
                "TLS on this peer and service".into(),
                format!("plaintext {app}"),
            );
        }
        if let Some((max, thr)) = large {
            self.alert(
                out,
                "large_transfer",
                5,
                owner,
                Some(edge.peer),
                s.app_proto.map(|p| p.name()),
                format!("{client} and {server}:{} exchanged {bytes} bytes in one flow, far above the usual", f.dport),
                format!("at most {max} bytes per flow (alert above {thr})"),
                format!("{bytes} bytes"),
            );
        }
        let pending = self.pending_external.remove(&f.id);
        self.external_flows.remove(&f.id);
        let ext = if self.outside(server) {
            Some((client, server))
        } else if self.outside(client) {
            Some((server, client))
        } else {
            None
        };
        if let Some((inside, outside)) = ext {
            if !learning && self.internal(inside) && bytes > self.cfg.external_bytes {
                self.alert(
                    out,
                    "external_transfer",
                    8,
                    inside,
                    Some(outside),
                    s.app_proto.map(|p| p.name()),
                    format!("{bytes} bytes between {inside} and {outside}, outside the internal networks"),
                    format!("no transfer above {} bytes to outside addresses", self.cfg.external_bytes),
                    format!("{bytes} bytes ({app})"),
                );
            } else if let Some((_, owner, _, edge, true)) = pending {
                self.new_peer_alert(owner, edge, out);
            }
        }
    }

    fn bump(&mut self, ip: IpAddr, c: &'static str) {
        if let Some(d) = self.devices.get_mut(&ip) {
            d.bump(c, 1);
        }
    }

    fn on_app(&mut self, f: &FlowInfo, e: &AppEvent, out: &mut Vec<Alert>) {
        let (sender, receiver) = (f.src, f.dst);
        let learning = self.learning();
        if let AppEvent::Anomaly(a) = e {
            self.bump(sender, "anomalies");
            let Some(n) = self.act_update(sender, out, |l| {
                l.act.anomalies = l.act.anomalies.saturating_add(1);
                l.act.peer(receiver, 1);
                l.anomalies = l.anomalies.saturating_add(1);
                l.anomalies
            }) else {
                return;
            };
            if learning {
                return;
            }
            let max = self.devices.get(&sender).map(|d| {
                if d.learned {
                    d.baseline.rates.max_anomalies_per_10min
                } else {
                    0
                }
            });
            let max = max.unwrap_or(0);
            let thr = max.saturating_mul(2).max(max.saturating_add(3));
            if n == thr {
                self.alert(
                    out,
                    "protocol_anomalies",
                    5,
                    sender,
                    Some(receiver),
                    Some(a.protocol),
                    format!("{n} malformed or abnormal {} exchanges from {sender} to {receiver} within 10 minutes (latest: {})", a.protocol, a.kind),
                    format!("at most {max} protocol anomalies per 10 minutes (alert at {thr})"),
                    format!("{n} anomalies, latest {}", a.kind),
                );
            }
            return;
        }
        let proto = e.event_type();
        let bit = match e {
            AppEvent::Dicom(_) => proto_bit(Protocol::Dicom),
            AppEvent::Hl7(_) => proto_bit(Protocol::Hl7),
            AppEvent::Sdc(_) => proto_bit(Protocol::Sdc),
            AppEvent::Ieee20601(_) => proto_bit(Protocol::Ieee20601),
            AppEvent::Tls(_) => proto_bit(Protocol::Tls),
            AppEvent::NetId(_) | AppEvent::Anomaly(_) => 0,
        };
        for (ip, mac) in [(sender, f.src_mac), (receiver, f.dst_mac)] {
            if let Some(d) = self.devices.get_mut(&ip) {
                if bit == 0 || d.hot.protocols & bit == 0 {
                    if !d.protocols.contains(proto) {
                        d.protocols.insert(proto.to_string());
                    }
                    d.hot.protocols |= bit;
                }
                if let Some(m) = mac {
                    if d.macs.is_empty() {
                        note_mac(d, m, self.now);
                    }
                }
            }
        }
        // first application event of a flow to or from outside
        if let Some((_, owner, peer, edge, new_edge)) = self.pending_external.remove(&f.id) {
            if self.external_app(f, e, owner, peer, out) {
                if self.external_flows.len() < 4096 {
                    self.external_flows.insert(f.id);
                }
            } else if new_edge {
                self.new_peer_alert(owner, edge, out);
            }
        }
        if self.external_flows.contains(&f.id) {
            // the exchange with outside raised its alert: nothing else is learned or raised from it
            return;
        }
        match e {
            AppEvent::Dicom(ev) => self.on_dicom(f, &ev.0, out),
            AppEvent::Hl7(ev) => self.on_hl7(f, &ev.0, out),
            AppEvent::Sdc(ev) => self.on_sdc(f, &ev.0, out),
            AppEvent::Ieee20601(ev) => {
                let i = &ev.0;
                let agent_side = match i.apdu {
                    "aarq" | "prst" => Some(true),
                    "aare" => Some(false),
                    _ => None,
                };
                let learning = self.learning();
                if let Some(d) = self.devices.get_mut(&sender) {
                    match agent_side {
                        Some(true) => d.facts |= facts::PHD_AGENT,
                        Some(false) => d.facts |= facts::PHD_MANAGER,
                        None => {}
                    }
                    if let Some(s) = &i.system_id {
                        add_str(&mut d.identity.ieee20601_system_ids, s);
                    }
                    for v in [&i.manufacturer, &i.model].into_iter().flatten() {
                        add_str(&mut d.identity.model, v);
                    }
                    if learning {
                        add_capped(&mut d.baseline.ieee20601_peers, receiver);
                    }
                }
                if i.apdu == "prst" {
                    self.activity(sender, out);
                }
                self.count_msg(sender, receiver, "ieee20601", out);
            }
            AppEvent::Tls(ev) => {
                let t = &ev.0;
                let learning = self.learning();
                let mut downgrade = None;
                if t.kind == "client_hello" {
                    if let Some(d) = self.devices.get_mut(&sender) {
                        d.facts |= facts::TLS_CLIENT;
                        if let Some(j) = &t.ja4 {
                            add_str(&mut d.identity.tls_ja4, j);
                        }
                    }
                } else if t.kind == "server_hello" {
                    if let Some(v) = &t.version {
                        for ip in [sender, receiver] {
                            if let Some(d) = self.devices.get_mut(&ip) {
                                if !d.identity.tls_versions.contains(v) {
                                    add_str(&mut d.identity.tls_versions, v);
                                }
                            }
                        }
                        // the best version on this client-server edge so far
                        let (client, server) = (receiver, sender);
                        let port = service_port(f.sport);
                        let (owner, edge) = if self.internal(client) {
                            (
                                client,
                                Edge {
                                    peer: server,
                                    proto: f.proto,
                                    port,
                                    inbound: false,
                                },
                            )
                        } else {
                            (
                                server,
                                Edge {
                                    peer: client,
                                    proto: f.proto,
                                    port,
                                    inbound: true,
                                },
                            )
                        };
                        let rank = tls_rank(v);
                        if let Some(d) = self.devices.get_mut(&owner) {
                            let d_learned = d.learned;
                            if let Some(st) = d.baseline.edges.get_mut(&edge) {
                                if learning {
                                    st.tls_best = st.tls_best.max(rank);
                                } else if d_learned && rank > 0 && rank < st.tls_best {
                                    downgrade = Some((tls_name(st.tls_best), v.clone()));
                                }
                            }
                        }
                    }
                    if let Some(d) = self.devices.get_mut(&sender) {
                        d.facts |= facts::TLS_SERVER;
                    }
                }
                if let Some((best, v)) = downgrade {
                    self.alert(
                        out,
                        "tls_downgrade",
                        7,
                        receiver,
                        Some(sender),
                        Some("tls"),
                        format!("{receiver} negotiated {v} with {sender}, below the {best} it used with that server before"),
                        format!("{best} or newer"),
                        v,
                    );
                }
            }
            AppEvent::Anomaly(_) | AppEvent::NetId(_) => {}
        }
    }

    /// A medical protocol crossing the internal boundary. True when an alert was raised.
    fn external_app(
        &mut self,
        f: &FlowInfo,
        e: &AppEvent,
        owner: IpAddr,
        peer: IpAddr,
        out: &mut Vec<Alert>,
    ) -> bool {
        let proto = e.event_type();
        if proto == "tls" {
            return false;
        }
        // a DICOM association whose called AE is a recent C-MOVE destination: the mover exfiltrates
        if let AppEvent::Dicom(d) = e {
            let d = &d.0;
            if let Some(called) = &d.called_ae {
                let now = self.now;
                if let Some((requester, t)) = self.move_dest.get(called.trim()).copied() {
                    if now.saturating_sub(t) <= 600 * NS {
                        self.alert(
                            out,
                            "dicom_exfiltration",
                            9,
                            requester,
                            Some(peer),
                            Some("dicom"),
                            format!(
                                "C-MOVE requested by {requester} sends images from {owner} to {peer} (AE {}), outside the internal networks",
                                called.trim()
                            ),
                            "C-MOVE destinations inside the internal networks".into(),
                            format!("{owner} opened a DICOM association to {peer}:{}", f.dport),
                        );
                        return true;
                    }
                }
                // the called AE title belongs to an internal device: its images go outside
                let owners: Vec<IpAddr> = self
                    .ae_index
                    .get(called.trim())
                    .map(|s| {
                        s.iter()
                            .filter(|i| self.internal(**i) && **i != owner)
                            .copied()
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(ae_owner) = owners.first().copied() {
                    self.alert(
                        out,
                        "dicom_exfiltration",
                        9,
                        ae_owner,
                        Some(peer),
                        Some("dicom"),
                        format!(
                            "{owner} sends DICOM to AE {} at {peer}, outside the internal networks; that AE title belongs to {ae_owner}",
                            called.trim()
                        ),
                        format!("AE {} at {}", called.trim(), join_ips(&owners)),
                        format!("{owner} opened a DICOM association to {peer}:{}", f.dport),
                    );
                    return true;
                }
            }
        }
        self.alert(
            out,
            "external_transfer",
            8,
            owner,
            Some(peer),
            Some(proto),
            format!("{owner} speaks {proto} with {peer}, outside the internal networks"),
            "medical protocols stay inside the internal networks".into(),
            format!("{proto} between {owner} and {peer}"),
        );
        true
    }

    fn on_dicom(
        &mut self,
        f: &FlowInfo,
        d: &iomt_parsers::dicom::DicomRecord,
        out: &mut Vec<Alert>,
    ) {
        let (sender, receiver) = (f.src, f.dst);
        let learning = self.learning();
        match d.kind {
            "associate_rq" => {
                let calling = d.calling_ae.as_deref().map(str::trim);
                let called = d.called_ae.as_deref().map(str::trim);
                let mut alert = None;
                if let Some(dev) = self.devices.get_mut(&sender) {
                    if let Some(imp) = &d.implementation_class_uid {
                        let s = match &d.implementation_version {
                            Some(v) => format!("{imp} ({v})"),
                            None => imp.clone(),
                        };
                        add_capped(&mut dev.identity.dicom_implementation, s);
                    }
                    if let Some(ae) = calling {
                        if !dev.baseline.dicom_calling.contains(ae) {
                            let elsewhere: Vec<IpAddr> = self
                                .ae_index
                                .get(ae)
                                .map(|s| s.iter().filter(|i| **i != sender).copied().collect())
                                .unwrap_or_default();
                            if !learning {
                                if !elsewhere.is_empty() {
                                    alert =
                                        Some(("dicom_ae_new_address", ae.to_string(), elsewhere));
                                } else if dev.learned {
                                    alert = Some(("dicom_new_ae_title", ae.to_string(), elsewhere));
                                }
                            }
                            add_str(&mut dev.baseline.dicom_calling, ae);
                            add_str(&mut dev.identity.dicom_ae_titles, ae);
                            let set = self.ae_index.entry(ae.to_string()).or_default();
                            if set.len() < 64 {
                                set.insert(sender);
                            }
                        }
                    }
                }
                if let (Some(ae), Some(dev)) = (called, self.devices.get_mut(&receiver)) {
                    dev.facts |= facts::DICOM_SCP;
                    if !dev.baseline.dicom_called.contains(ae) {
                        add_str(&mut dev.baseline.dicom_called, ae);
                        add_str(&mut dev.identity.dicom_ae_titles, ae);
                        let set = self.ae_index.entry(ae.to_string()).or_default();
                        if set.len() < 64 {
                            set.insert(receiver);
                        }
                    }
                }
                if let Some((kind, ae, elsewhere)) = alert {
                    let (summary, expected) = if kind == "dicom_ae_new_address" {
                        (
                            format!("DICOM AE title {ae}, known from {}, now used by {sender} (to {receiver})", join_ips(&elsewhere)),
                            format!("{ae} only from {}", join_ips(&elsewhere)),
                        )
                    } else {
                        let known = self
                            .devices
                            .get(&sender)
                            .map(|d| {
                                d.baseline
                                    .dicom_calling
                                    .iter()
                                    .filter(|a| a.as_str() != ae)
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default();
                        (
                            format!("{sender} called {receiver} with DICOM AE title {ae}, never used from this address"),
                            if known.is_empty() { "no DICOM associations from this address".into() } else { format!("calling AE titles {known}") },
                        )
                    };
                    self.alert(
                        out,
                        kind,
                        6,
                        sender,
                        Some(receiver),
                        Some("dicom"),
                        summary,
                        expected,
                        format!("calling AE {ae}"),
                    );
                }
            }
            "command" => {
                let Some(cmd) = d.command.as_deref() else {
                    return;
                };
                if !cmd.ends_with("-RQ") {
                    self.count_msg(sender, receiver, "dicom", out);
                    return;
                }
                self.activity(sender, out);
                self.count_msg(sender, receiver, "dicom", out);
                let (scu, scp) = match cmd {
                    "C-STORE-RQ" => (facts::DICOM_STORE_SCU, facts::DICOM_STORE_SCP),
                    "C-FIND-RQ" | "C-MOVE-RQ" | "C-GET-RQ" => {
                        (facts::DICOM_QR_SCU, facts::DICOM_QR_SCP)
                    }
                    _ => (0, 0),
                };
                if let Some(dev) = self.devices.get_mut(&receiver) {
                    dev.facts |= scp;
                }
                let mut alerts: Vec<(&'static str, u8, String, String, String)> = Vec::new();
                let bulk = d.query_bulk == Some(true) && cmd == "C-FIND-RQ";
                if let Some(dev) = self.devices.get_mut(&sender) {
                    dev.facts |= scu;
                    // SOP classes actually requested (the affected SOP class of a DIMSE request,
                    // not the many abstract syntaxes an A-ASSOCIATE-RQ proposes), per peer; with a
                    // peer it never sent requests to, the device's whole vocabulary is the
                    // reference (the new peer is `new_peer_or_service`'s business), as for
                    // profiles from stores older than the per-peer sets
                    let sop_new = d.sop_class_uid.as_deref().and_then(|sop| {
                        let b = &mut dev.baseline;
                        let known = match b.dicom_sop_by_peer.get(&receiver) {
                            Some(set) => set.contains(sop),
                            None => b.dicom_sop_classes.contains(sop),
                        };
                        let had = match b.dicom_sop_by_peer.get(&receiver) {
                            Some(set) => set.iter().map(|u| sop_name(u)).collect::<Vec<_>>(),
                            None => b.dicom_sop_classes.iter().map(|u| sop_name(u)).collect(),
                        }
                        .join(", ");
                        add_str(&mut b.dicom_sop_classes, sop);
                        if b.dicom_sop_by_peer.contains_key(&receiver)
                            || b.dicom_sop_by_peer.len() < MAX_SOP_PEERS
                        {
                            add_str(b.dicom_sop_by_peer.entry(receiver).or_default(), sop);
                        }
                        (!known && !learning && dev.learned).then(|| (sop.to_string(), had))
                    });
                    let known = dev.baseline.dicom_commands.contains(cmd);
                    if !known {
                        if !learning && dev.learned {
                            let had = dev
                                .baseline
                                .dicom_commands
                                .iter()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ");
                            alerts.push((
                                "dicom_new_command",
                                5,
                                format!("{sender} sent {cmd} to {receiver}, a DICOM request it never sent before"),
                                if had.is_empty() { "no DICOM requests".into() } else { format!("requests {had}") },
                                cmd.to_string(),
                            ));
                        }
                        add_str(&mut dev.baseline.dicom_commands, cmd);
                    }
                    // a new request already says it; otherwise a new SOP class with this peer
                    if let Some((sop, had)) = sop_new.filter(|_| alerts.is_empty()) {
                        alerts.push((
                            "dicom_new_sop_class",
                            4,
                            format!("{sender} sent {cmd} for {} to {receiver}, a SOP class it never used with that peer", sop_name(&sop)),
                            if had.is_empty() { "no DICOM requests to this peer".into() } else { format!("SOP classes {had}") },
                            format!("{cmd} {}", sop_name(&sop)),
                        ));
                    }
                    if bulk {
                        if !learning && dev.learned && !dev.baseline.dicom_bulk_query {
                            alerts.push((
                                "dicom_bulk_query",
                                6,
                                format!("{sender} sent a universal-match C-FIND ({} level) to {receiver}: a query for everything", d.query_level.as_deref().unwrap_or("unknown")),
                                "only C-FINDs with matching keys from this device".into(),
                                "universal-match C-FIND".into(),
                            ));
                        }
                        if learning {
                            dev.baseline.dicom_bulk_query = true;
                        }
                    }
                }
                if cmd == "C-MOVE-RQ" || cmd == "C-GET-RQ" {
                    if let Some(dest) = &d.move_destination {
                        if self.move_dest.len() >= 1024 {
                            self.move_dest.clear();
                        }
                        self.move_dest
                            .insert(dest.trim().to_string(), (sender, self.now));
                    }
                    if self.devices.contains_key(&sender) {
                        let l = self.live(sender);
                        l.retrieves = l.retrieves.saturating_add(1);
                        let n = l.retrieves;
                        if !learning {
                            let max = self
                                .devices
                                .get(&sender)
                                .map(|d| {
                                    if d.learned {
                                        d.baseline.rates.max_retrieves_per_10min
                                    } else {
                                        0
                                    }
                                })
                                .unwrap_or(0);
                            let thr = max.saturating_mul(3).max(5);
                            if n == thr {
                                alerts.push((
                                    "dicom_bulk_retrieve",
                                    7,
                                    format!("{sender} requested {n} C-MOVE/C-GET retrievals from {receiver} within 10 minutes"),
                                    format!("at most {max} retrievals per 10 minutes (alert at {thr})"),
                                    format!("{n} retrievals"),
                                ));
                            }
                        }
                    }
                }
                for (kind, sev, summary, expected, seen) in alerts {
                    self.alert(
                        out,
                        kind,
                        sev,
                        sender,
                        Some(receiver),
                        Some("dicom"),
                        summary,
                        expected,
                        seen,
                    );
                }
            }
            _ => {}
        }
    }

    fn on_hl7(&mut self, f: &FlowInfo, h: &iomt_parsers::hl7::Hl7Fields, out: &mut Vec<Alert>) {
        let (sender, receiver) = (f.src, f.dst);
        let learning = self.learning();
        if h.kind != "message" {
            self.count_msg(sender, receiver, "hl7", out);
            return;
        }
        self.activity(sender, out);
        self.count_msg(sender, receiver, "hl7", out);
        let Some(mt) = h.message_type.as_deref() else {
            return;
        };
        if let Some(dev) = self.devices.get_mut(&receiver) {
            dev.facts |= facts::HL7_RECEIVER;
            if !dev.baseline.hl7_received.contains(mt) {
                add_str(&mut dev.baseline.hl7_received, mt);
            }
        }
        let mut alert = None;
        if let Some(dev) = self.devices.get_mut(&sender) {
            dev.facts |= match mt.get(..3) {
                Some("ORU") => facts::HL7_ORU_SENDER,
                Some("ADT") => facts::HL7_ADT_SENDER,
                Some("ORM") | Some("OML") | Some("OMG") | Some("OMI") => facts::HL7_ORDER_SENDER,
                _ => facts::HL7_OTHER_SENDER,
            };
            if let Some(app) = h.sending_application.as_deref() {
                // Any entry starting with `app` ("app" or "app@facility")? Such entries sort
                // contiguously from `app` on: the first one at or after it tells (no scan).
                if !dev
                    .identity
                    .hl7_applications
                    .range::<str, _>((std::ops::Bound::Included(app), std::ops::Bound::Unbounded))
                    .next()
                    .is_some_and(|a| a.starts_with(app))
                {
                    let s = match &h.sending_facility {
                        Some(fac) => format!("{app}@{fac}"),
                        None => app.to_string(),
                    };
                    add_capped(&mut dev.identity.hl7_applications, s);
                }
            }
            if let Some(v) = &h.version {
                if !dev.identity.hl7_versions.contains(v.as_str()) {
                    add_str(&mut dev.identity.hl7_versions, v);
                }
            }
            if !dev.baseline.hl7_sent.contains(mt) {
                if !learning && dev.learned {
                    let had = dev
                        .baseline
                        .hl7_sent
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ");
                    alert = Some((mt.to_string(), had));
                }
                add_str(&mut dev.baseline.hl7_sent, mt);
            }
        }
        if let Some((mt, had)) = alert {
            let app = h.sending_application.as_deref().unwrap_or("?");
            self.alert(
                out,
                "hl7_new_message_type",
                5,
                sender,
                Some(receiver),
                Some("hl7"),
                format!("{sender} (application {app}) sent HL7 {mt} to {receiver}, a message type it never sent"),
                if had.is_empty() { "no HL7 messages from this device".into() } else { format!("message types {had}") },
                mt,
            );
        }
    }

    fn on_sdc(&mut self, f: &FlowInfo, s: &iomt_parsers::sdc::SdcFields, out: &mut Vec<Alert>) {
        let (sender, receiver) = (f.src, f.dst);
        let learning = self.learning();
        if let Some(dev) = self.devices.get_mut(&sender) {
            if let Some(epr) = &s.epr {
                add_str(&mut dev.identity.sdc_epr, epr);
                if s.types.iter().any(|t| t.contains("MedicalDevice")) {
                    dev.facts |= facts::SDC_PROVIDER;
                }
            }
            for sc in &s.scopes {
                if sc.contains("sdc.ctxt.loc") || sc.contains("/loc") {
                    add_str(&mut dev.identity.location, sc);
                }
            }
            for (set, v) in [
                (&mut dev.identity.manufacturer, &s.manufacturer),
                (&mut dev.identity.model, &s.model),
                (&mut dev.identity.firmware, &s.firmware),
                (&mut dev.identity.serial, &s.serial),
            ] {
                if let Some(v) = v {
                    if !set.contains(v) {
                        add_capped(set, v.clone());
                    }
                }
            }
            if let Some(m) = &s.model {
                // metadata responses only (rare): the model name hints at the device class
                let model = m.to_ascii_lowercase();
                if model.contains("pump") || model.contains("infus") {
                    dev.facts |= facts::PUMP_HINT | facts::SDC_PROVIDER;
                } else if model.contains("monitor") {
                    dev.facts |= facts::MONITOR_HINT | facts::SDC_PROVIDER;
                }
            }
        }
        let Some(msg) = s.message.as_deref() else {
            return;
        };
        if msg.starts_with("Episodic") || msg.ends_with("Report") {
            self.activity(sender, out);
        }
        self.count_msg(sender, receiver, "sdc", out);
        if !sdc_request(msg) || net::is_group(receiver) {
            return;
        }
        // sender is a consumer, receiver the provider
        let control = SDC_CONTROL.contains(&msg);
        if let Some(dev) = self.devices.get_mut(&sender) {
            dev.facts |= facts::SDC_CONSUMER;
        }
        let mut alerts = Vec::new();
        if let Some(dev) = self.devices.get_mut(&receiver) {
            dev.facts |= facts::SDC_PROVIDER;
            let b = &mut dev.baseline;
            if !b.sdc_operations.contains(msg) {
                add_str(&mut b.sdc_operations, msg);
            }
            if !b.sdc_consumers.contains(&sender) {
                if !learning && dev.learned {
                    alerts.push(("sdc_new_consumer", 6u8, format!("{sender} connected to SDC device {receiver} as a never-seen consumer ({msg})"), format!("consumers {}", join_ips(&b.sdc_consumers.iter().copied().collect::<Vec<_>>())), format!("{sender} sent {msg}")));
                }
                add_capped(&mut b.sdc_consumers, sender);
            }
            if control && !b.sdc_control_consumers.contains(&sender) {
                if !learning && dev.learned {
                    alerts.push(("sdc_remote_control", 9u8, format!("{sender} invoked remote-control operation {msg} on SDC device {receiver}, which it never did before"), format!("remote control only from {}", join_ips(&b.sdc_control_consumers.iter().copied().collect::<Vec<_>>())), format!("{msg} from {sender}")));
                }
                add_capped(&mut b.sdc_control_consumers, sender);
            }
        }
        for (kind, sev, summary, expected, seen) in alerts {
            self.alert(
                out,
                kind,
                sev,
                receiver,
                Some(sender),
                Some("sdc"),
                summary,
                expected,
                seen,
            );
        }
    }

    /// Raises (or aggregates into an open) alert.
    #[allow(clippy::too_many_arguments)]
    fn alert(
        &mut self,
        out: &mut Vec<Alert>,
        kind: &'static str,
        severity: u8,
        device: IpAddr,
        peer: Option<IpAddr>,
        protocol: Option<&'static str>,
        summary: String,
        expected: String,
        seen: String,
    ) {
        if self.learning() {
            return;
        }
        let now = self.now;
        let key = (kind, device, peer);
        if let Some(o) = self.open.get_mut(&key) {
            if now.saturating_sub(o.start) < self.cfg.dedup_window_ns {
                o.count = o.count.saturating_add(1);
                self.alert_counts.insert(o.id.clone(), o.count);
                return;
            }
        }
        let dev = device.to_string();
        let peer_s = peer.map(|p| p.to_string()).unwrap_or_default();
        let id = format!(
            "{:016x}",
            fnv(&[
                kind.as_bytes(),
                dev.as_bytes(),
                peer_s.as_bytes(),
                &now.to_be_bytes()
            ])
        );
        if self.open.len() >= MAX_OPEN_ALERTS {
            let w = self.cfg.dedup_window_ns;
            self.open.retain(|_, o| now.saturating_sub(o.start) < w);
            if self.open.len() >= MAX_OPEN_ALERTS {
                // the oldest half goes (their counts are already queued in alert_counts)
                let mut starts: Vec<u64> = self.open.values().map(|o| o.start).collect();
                let mid = starts.len() / 2;
                let cut = *starts.select_nth_unstable(mid).1;
                self.open.retain(|_, o| o.start > cut);
            }
        }
        self.open.insert(
            key,
            Open {
                start: now,
                id: id.clone(),
                count: 1,
            },
        );
        let a = Alert {
            id,
            ts: iomt_parsers::Ts(now),
            kind: kind.to_string(),
            severity: severity.clamp(1, 10),
            device_ip: device,
            peer_ip: peer,
            protocol: protocol.map(str::to_string),
            summary,
            evidence: Evidence { expected, seen },
            count: 1,
        };
        if self.store.is_some() {
            self.alerts_new.push(a.clone());
        }
        out.push(a);
    }

    /// Commits dirty profiles, new alerts and counts in one transaction.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let dirty: Vec<(IpAddr, &Device)> = self
            .dirty
            .iter()
            .filter_map(|ip| self.devices.get(ip).map(|d| (*ip, d)))
            .collect();
        store.save(&dirty, &self.alerts_new, &self.alert_counts, &self.meta)?;
        self.dirty.clear();
        self.alerts_new.clear();
        self.alert_counts.clear();
        self.since_flush = 0;
        self.flush_capture = self.now;
        self.flush_wall = Instant::now();
        Ok(())
    }

    /// End of input: learn the last windows and commit.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        if self.learning() {
            let ips: Vec<IpAddr> = self.live.keys().copied().collect();
            let now = self.now;
            self.now = now.saturating_add(TEN_MIN);
            let ten = self.now / TEN_MIN;
            for ip in ips {
                let l = self.live(ip);
                let closed = l.act.roll(ten, true);
                if let (Some(c), Some(d)) = (closed, self.devices.get_mut(&ip)) {
                    d.baseline.activity.learn(c);
                }
                self.dirty.insert(ip);
            }
            self.now = now;
            for (ip, edge, sent, recv, learn) in self.volumes.drain() {
                if let Some(st) = self
                    .devices
                    .get_mut(&ip)
                    .and_then(|d| d.baseline.edges.get_mut(&edge))
                {
                    volume::fold_drained(st, sent, recv, learn);
                    self.dirty.insert(ip);
                }
            }
            // the hour being watched, and the activity models fitted at the end of learning
            self.cover(self.now / HOUR);
            for (ip, d) in self.devices.iter_mut() {
                if d.baseline.activity.refit() {
                    self.dirty.insert(*ip);
                }
            }
        }
        self.flush()
    }
}

/// A SOP class UID with its PS3.4 / PS3.6 name when it is a common one.
fn sop_name(uid: &str) -> String {
    let name = match uid {
        "1.2.840.10008.1.1" => "Verification",
        "1.2.840.10008.5.1.4.1.1.1" => "CR Image Storage",
        "1.2.840.10008.5.1.4.1.1.1.1" => "Digital X-Ray Image Storage",
        "1.2.840.10008.5.1.4.1.1.2" => "CT Image Storage",
        "1.2.840.10008.5.1.4.1.1.3.1" => "Ultrasound Multi-frame Image Storage",
        "1.2.840.10008.5.1.4.1.1.4" => "MR Image Storage",
        "1.2.840.10008.5.1.4.1.1.6.1" => "Ultrasound Image Storage",
        "1.2.840.10008.5.1.4.1.1.7" => "Secondary Capture Image Storage",
        "1.2.840.10008.5.1.4.1.1.88.11" => "Basic Text SR Storage",
        "1.2.840.10008.5.1.4.1.1.9.1.3" => "Ambulatory ECG Waveform Storage",
        "1.2.840.10008.5.1.4.1.1.104.1" => "Encapsulated PDF Storage",
        "1.2.840.10008.5.1.4.1.2.1.1" => "Patient Root Q/R FIND",
        "1.2.840.10008.5.1.4.1.2.1.2" => "Patient Root Q/R MOVE",
        "1.2.840.10008.5.1.4.1.2.1.3" => "Patient Root Q/R GET",
        "1.2.840.10008.5.1.4.1.2.2.1" => "Study Root Q/R FIND",
        "1.2.840.10008.5.1.4.1.2.2.2" => "Study Root Q/R MOVE",
        "1.2.840.10008.5.1.4.1.2.2.3" => "Study Root Q/R GET",
        "1.2.840.10008.5.1.4.31" => "Modality Worklist FIND",
        "1.2.840.10008.3.1.2.3.3" => "Modality Performed Procedure Step",
        "1.2.840.10008.1.20.1" => "Storage Commitment Push",
        _ => return uid.to_string(),
    };
    format!("{name} ({uid})")
}

fn tls_rank(v: &str) -> u8 {
    match v {
        "SSL 2.0" | "SSLv3" | "SSL 3.0" => 1,
        "TLSv1.0" | "TLS 1.0" | "TLSv1" => 2,
        "TLSv1.1" | "TLS 1.1" => 3,
        "TLSv1.2" | "TLS 1.2" => 4,
        "TLSv1.3" | "TLS 1.3" => 5,
        _ => 0,
    }
}

fn tls_name(rank: u8) -> &'static str {
    match rank {
        1 => "SSLv3",
        2 => "TLS 1.0",
        3 => "TLS 1.1",
        4 => "TLS 1.2",
        5 => "TLS 1.3",
        _ => "unknown",
    }
}

fn join_ips(v: &[IpAddr]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn note_mac(d: &mut Device, m: [u8; 6], now: u64) {
    if m[0] & 1 != 0 {
        return; // group address
    }
    // Called for every observation: the MAC of the last entry is usually known; else compare
    // with the canonical text on the stack (a profile from an older or edited store may hold
    // another spelling: parsed then).
    if d.hot.last_mac == Some(m) {
        if let Some(seen) = d.macs.last_mut() {
            seen.last_seen = now;
            return;
        }
    }
    let text = mac_text(m);
    let last = d.macs.len().checked_sub(1);
    if let Some((i, seen)) = d
        .macs
        .iter_mut()
        .enumerate()
        .rev()
        .find(|(_, x)| x.mac.as_bytes() == text.as_slice() || parse_mac(&x.mac) == Some(m))
    {
        seen.last_seen = now;
        if Some(i) == last {
            d.hot.last_mac = Some(m);
        }
        return;
    }
    let s = oui::mac_string(m);
    if d.macs.len() >= 8 {
        d.macs.remove(0);
    }
    d.macs.push(MacSeen {
        mac: s,
        first_seen: now,
        last_seen: now,
    });
    d.hot.last_mac = Some(m);
    if d.vendor.is_none() {
        d.vendor = oui::vendor(m).map(str::to_string);
    }
}

/// `aa:bb:cc:dd:ee:ff` (as [`oui::mac_string`]) without allocating.
fn mac_text(m: [u8; 6]) -> [u8; 17] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b':'; 17];
    for (chunk, b) in out.chunks_mut(3).zip(m) {
        if let [hi, lo, ..] = chunk {
            *hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            *lo = HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0');
        }
    }
    out
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut it = s.split(':');
    for b in m.iter_mut() {
        *b = u8::from_str_radix(it.next()?, 16).ok()?;
    }
    Some(m)
}

#[cfg(test)]
mod hot_tests {
    use super::*;

    const M1: [u8; 6] = [0x00, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f];
    const M2: [u8; 6] = [0x00, 0x1b, 0x2c, 0x3d, 0x4e, 0x60];

    #[test]
    fn mac_text_is_the_canonical_spelling() {
        assert_eq!(mac_text(M1).as_slice(), oui::mac_string(M1).as_bytes());
        let all = [0xff, 0xa0, 0x0a, 0x10, 0x01, 0x99];
        assert_eq!(mac_text(all).as_slice(), b"ff:a0:0a:10:01:99");
    }

    #[test]
    fn note_mac_shortcut_matches_the_search() {
        let mut d = Device::default();
        note_mac(&mut d, M1, 1);
        assert_eq!(d.hot.last_mac, Some(M1));
        note_mac(&mut d, M1, 2);
        note_mac(&mut d, M2, 3);
        assert_eq!(d.hot.last_mac, Some(M2));
        // an older MAC again: its own entry is updated, the last one stays the shortcut
        note_mac(&mut d, M1, 4);
        assert_eq!(d.macs.len(), 2);
        assert_eq!((d.macs[0].first_seen, d.macs[0].last_seen), (1, 4));
        assert_eq!((d.macs[1].first_seen, d.macs[1].last_seen), (3, 3));
        assert_eq!(d.hot.last_mac, Some(M2));
        note_mac(&mut d, M2, 5);
        assert_eq!(d.macs[1].last_seen, 5);
        assert_eq!(d.macs[0].last_seen, 4);
    }

    #[test]
    fn a_stored_profile_has_no_shortcuts_and_another_spelling_still_matches() {
        let mut d = Device::default();
        d.macs.push(MacSeen {
            mac: "00:1B:2C:3D:4E:5F".into(),
            first_seen: 1,
            last_seen: 1,
        });
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("hot"), "{json}");
        let mut back: Device = serde_json::from_str(&json).unwrap();
        assert_eq!(back.hot.last_mac, None);
        note_mac(&mut back, M1, 9);
        assert_eq!(back.macs.len(), 1, "{:?}", back.macs);
        assert_eq!(back.macs[0].last_seen, 9);
        assert_eq!(back.hot.last_mac, Some(M1));
        // shortcuts are not content: equal profiles stay equal
        let mut a = back.clone();
        a.hot = crate::profile::Hot::default();
        assert_eq!(a, back);
    }
}
