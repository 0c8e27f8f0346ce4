//! The state store: `<state>/iomt.db`, SQLite (bundled) in WAL mode. Every write is one
//! transaction, so a crash loses at most the last uncommitted batch and never corrupts what was
//! committed.
//!
//! Schema (component `models`, version 1; see models/README.md):
//! - `schema_version(component TEXT PRIMARY KEY, version INTEGER)`: one row per component sharing
//!   the file (`models`, `spool`).
//! - `models_meta(key TEXT PRIMARY KEY, value INTEGER)`: `learn_start_ns` (first observation ever,
//!   the start of auto-mode learning), `run_start_ns`/`run_end_ns` (capture span of the latest run).
//! - `devices(ip TEXT PRIMARY KEY, mac TEXT, vendor TEXT, role TEXT, first_seen_ns INTEGER,
//!   last_seen_ns INTEGER, learned INTEGER, profile TEXT)`: the inventory; `profile` is the JSON of
//!   the whole profile (identity, services, baseline).
//! - `alerts(id TEXT PRIMARY KEY, ts_ns INTEGER, kind TEXT, severity INTEGER, device_ip TEXT,
//!   peer_ip TEXT, protocol TEXT, summary TEXT, expected TEXT, seen TEXT, count INTEGER)`.

use crate::alert::{Alert, Evidence};
use crate::profile::Device;
use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use std::net::IpAddr;
use std::path::Path;

pub const COMPONENT: &str = "models";
pub const SCHEMA_VERSION: i64 = 1;

/// Migrations: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS models_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    ip TEXT PRIMARY KEY,
    mac TEXT,
    vendor TEXT,
    role TEXT NOT NULL,
    first_seen_ns INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL,
    learned INTEGER NOT NULL,
    profile TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    severity INTEGER NOT NULL,
    device_ip TEXT NOT NULL,
    peer_ip TEXT,
    protocol TEXT,
    summary TEXT NOT NULL,
    expected TEXT NOT NULL,
    seen TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts_ns);
"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    pub learn_start_ns: Option<u64>,
    pub run_start_ns: Option<u64>,
    pub run_end_ns: Option<u64>,
}

pub struct Store {
    conn: Connection,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Opens (creating) `<dir>/iomt.db` and migrates it to the current schema.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("state directory {}", dir.display()))?;
        let path = dir.join("iomt.db");
        let conn = Connection::open(&path).with_context(|| format!("{}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut s = Store { conn };
        s.migrate()?;
        Ok(s)
    }

    fn migrate(&mut self) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        )?;
        let v: i64 = tx
            .query_row(
                "SELECT version FROM schema_version WHERE component = ?1",
                [COMPONENT],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if v > SCHEMA_VERSION {
            anyhow::bail!(
                "state store schema version {v} is newer than this sensor's {SCHEMA_VERSION}"
            );
        }
        for m in MIGRATIONS
            .iter()
            .skip(usize::try_from(v).unwrap_or(usize::MAX))
        {
            tx.execute_batch(m)?;
        }
        tx.execute(
            "INSERT INTO schema_version (component, version) VALUES (?1, ?2)
             ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            params![COMPONENT, SCHEMA_VERSION],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn load_devices(&mut self) -> anyhow::Result<crate::DeviceMap> {
        let mut st = self.conn.prepare("SELECT ip, profile FROM devices")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = crate::DeviceMap::default();
        for row in rows {
            let (ip, profile) = row?;
            let Ok(ip) = ip.parse::<IpAddr>() else {
                continue;
            };
            let d: Device = serde_json::from_str(&profile)
                .with_context(|| format!("device {ip}: unreadable profile"))?;
            out.insert(ip, d);
        }
        Ok(out)
    }

    pub fn load_meta(&mut self) -> anyhow::Result<Meta> {
        let get = |k: &str| -> anyhow::Result<Option<u64>> {
            Ok(self
                .conn
                .query_row("SELECT value FROM models_meta WHERE key = ?1", [k], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?
                .map(to_u64))
        };
        Ok(Meta {
            learn_start_ns: get("learn_start_ns")?,
            run_start_ns: get("run_start_ns")?,
            run_end_ns: get("run_end_ns")?,
        })
    }

    /// One transaction: profiles, new alerts, updated alert counts and the meta values.
    pub fn save(
        &mut self,
        devices: &[(IpAddr, &Device)],
        alerts: &[Alert],
        counts: &crate::FastMap<String, u64>,
        meta: &Meta,
    ) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut dev = tx.prepare_cached(
                "INSERT INTO devices (ip, mac, vendor, role, first_seen_ns, last_seen_ns, learned, profile)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, vendor = excluded.vendor,
                   role = excluded.role, first_seen_ns = excluded.first_seen_ns,
                   last_seen_ns = excluded.last_seen_ns, learned = excluded.learned,
                   profile = excluded.profile",
            )?;
            for (ip, d) in devices {
                let profile = serde_json::to_string(d)?;
                dev.execute(params![
                    ip.to_string(),
                    d.macs.last().map(|m| m.mac.clone()),
                    d.vendor,
                    d.role(),
                    to_i64(d.first_seen_ns),
                    to_i64(d.last_seen_ns),
                    d.learned,
                    profile
                ])?;
            }
            let mut al = tx.prepare_cached(
                "INSERT OR IGNORE INTO alerts (id, ts_ns, kind, severity, device_ip, peer_ip, protocol, summary, expected, seen, count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for a in alerts {
                al.execute(params![
                    a.id,
                    to_i64(a.ts.0),
                    a.kind,
                    a.severity,
                    a.device_ip.to_string(),
                    a.peer_ip.map(|p| p.to_string()),
                    a.protocol,
                    a.summary,
                    a.evidence.expected,
                    a.evidence.seen,
                    to_i64(a.count)
                ])?;
            }
            let mut cnt = tx.prepare_cached("UPDATE alerts SET count = ?2 WHERE id = ?1")?;
            for (id, c) in counts {
                cnt.execute(params![id, to_i64(*c)])?;
            }
            let mut m = tx.prepare_cached(
                "INSERT INTO models_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?;
            for (k, v) in [
                ("learn_start_ns", meta.learn_start_ns),
                ("run_start_ns", meta.run_start_ns),
                ("run_end_ns", meta.run_end_ns),
            ] {
                if let Some(v) = v {
                    m.execute(params![k, to_i64(v)])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Alerts with `ts_ns >= since`, in time order.
    pub fn alerts_since(&mut self, since: u64) -> anyhow::Result<Vec<Alert>> {
        let mut st = self.conn.prepare(
            "SELECT id, ts_ns, kind, severity, device_ip, peer_ip, protocol, summary, expected, seen, count
             FROM alerts WHERE ts_ns >= ?1 ORDER BY ts_ns, id",
        )?;
        let rows = st.query_map([to_i64(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, i64>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, ts, kind, sev, dev, peer, protocol, summary, expected, seen, count) = row?;
            let Ok(device_ip) = dev.parse() else { continue };
            out.push(Alert {
                id,
                ts: iomt_parsers::Ts(to_u64(ts)),
                kind,
                severity: u8::try_from(sev).unwrap_or(1),
                device_ip,
                peer_ip: peer.and_then(|p| p.parse().ok()),
                protocol,
                summary,
                evidence: Evidence { expected, seen },
                count: to_u64(count),
            });
        }
        Ok(out)
    }
}
