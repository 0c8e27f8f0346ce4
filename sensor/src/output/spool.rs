//! The delivery spool: every alert bound for syslog is written here (in `<state>/iomt.db`, SQLite in
//! WAL mode) before any destination sends it. Each destination keeps a cursor, the highest spool
//! sequence number it has confirmed; rows every destination has confirmed are purged. Past the size cap
//! the oldest alerts of the lowest severity are evicted first, and counted.
//!
//! Tables (this component's only): `spool_alert`, `spool_cursor`, and a row `('spool', 1)` in the
//! shared `schema_version(component, version)` table.

use iomt_models::Alert;
use iomt_parsers::Ts;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::time::Duration;

pub const SCHEMA_VERSION: i64 = 1;

/// An alert read back from the spool.
#[derive(Debug, Clone)]
pub struct Spooled {
    pub seq: i64,
    pub alert: Alert,
    /// The alert's EVE JSON line (no newline).
    pub eve: String,
}

pub struct Spool {
    conn: Connection,
}

fn err(e: rusqlite::Error) -> anyhow::Error {
    anyhow::anyhow!("spool: {e}")
}

impl Spool {
    /// Opens (creating if needed) the spool tables in the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Spool> {
        let conn =
            Connection::open(path).map_err(|e| anyhow::anyhow!("spool {}: {e}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        // WAL + FULL: a committed spool write survives a crash and a power loss.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version(component TEXT PRIMARY KEY, version INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS spool_alert(
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 id TEXT NOT NULL,
                 severity INTEGER NOT NULL,
                 ts INTEGER NOT NULL,
                 alert TEXT NOT NULL,
                 eve TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS spool_alert_evict ON spool_alert(severity, seq);
             CREATE TABLE IF NOT EXISTS spool_cursor(dest TEXT PRIMARY KEY, confirmed INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS spool_counter(name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )
        .map_err(err)?;
        let v: Option<i64> = conn
            .query_row(
                "SELECT version FROM schema_version WHERE component = 'spool'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match v {
            None => {
                conn.execute(
                    "INSERT INTO schema_version(component, version) VALUES ('spool', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(err)?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(n) => anyhow::bail!(
                "spool {}: schema version {n}, this sensor knows {SCHEMA_VERSION}",
                path.display()
            ),
        }
        Ok(Spool { conn })
    }

    /// Appends alerts in one transaction, then evicts past `cap` rows. Returns how many were evicted.
    pub fn push(&mut self, batch: &[(Alert, String)], cap: u64) -> anyhow::Result<u64> {
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO spool_alert(id, severity, ts, alert, eve) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(err)?;
            for (a, eve) in batch {
                let json = serde_json::to_string(a)?;
                let ts = i64::try_from(a.ts.0).unwrap_or(i64::MAX);
                st.execute(params![a.id, a.severity, ts, json, eve.trim_end()])
                    .map_err(err)?;
            }
        }
        let n: i64 = tx
            .query_row("SELECT COUNT(*) FROM spool_alert", [], |r| r.get(0))
            .map_err(err)?;
        let over = u64::try_from(n).unwrap_or(0).saturating_sub(cap);
        if over > 0 {
            tx.execute(
                "DELETE FROM spool_alert WHERE seq IN
                   (SELECT seq FROM spool_alert ORDER BY severity ASC, seq ASC LIMIT ?1)",
                [i64::try_from(over).unwrap_or(i64::MAX)],
            )
            .map_err(err)?;
            tx.execute(
                "INSERT INTO spool_counter(name, value) VALUES ('evicted', ?1)
                 ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                [i64::try_from(over).unwrap_or(i64::MAX)],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(over)
    }

    /// The destination's confirmed cursor; a destination seen for the first time starts after the
    /// newest spooled alert (a new receiver is not flooded with other receivers' backlog).
    pub fn cursor(&self, dest: &str) -> anyhow::Result<i64> {
        let c: Option<i64> = self
            .conn
            .query_row(
                "SELECT confirmed FROM spool_cursor WHERE dest = ?1",
                [dest],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if let Some(c) = c {
            return Ok(c);
        }
        let top = self.max_seq()?;
        self.set_cursor(dest, top)?;
        Ok(top)
    }

    pub fn set_cursor(&self, dest: &str, confirmed: i64) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT INTO spool_cursor(dest, confirmed) VALUES (?1, ?2)
                 ON CONFLICT(dest) DO UPDATE SET confirmed = excluded.confirmed",
                params![dest, confirmed],
            )
            .map_err(err)?;
        Ok(())
    }

    /// The highest sequence number ever handed out (0 when none).
    pub fn max_seq(&self) -> anyhow::Result<i64> {
        let s: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'spool_alert'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        Ok(s.unwrap_or(0))
    }

    /// Up to `limit` spooled alerts after `seq`, oldest first.
    pub fn after(&self, seq: i64, limit: usize) -> anyhow::Result<Vec<Spooled>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, ts, alert, eve FROM spool_alert WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(err)?;
        let rows = st
            .query_map(
                params![seq, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, ts, alert, eve) = row.map_err(err)?;
            let mut alert: Alert = serde_json::from_str(&alert)?;
            alert.ts = Ts(u64::try_from(ts).unwrap_or(0));
            out.push(Spooled { seq, alert, eve });
        }
        Ok(out)
    }

    /// Deletes the rows every destination in `dests` has confirmed, and the cursors of destinations
    /// no longer configured. Returns the rows deleted.
    pub fn purge(&self, dests: &[String]) -> anyhow::Result<u64> {
        let mut min = i64::MAX;
        for d in dests {
            min = min.min(self.cursor(d)?);
        }
        if dests.is_empty() {
            return Ok(0);
        }
        let n = self
            .conn
            .execute("DELETE FROM spool_alert WHERE seq <= ?1", [min])
            .map_err(err)?;
        let keep: Vec<String> = dests.to_vec();
        let all: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT dest FROM spool_cursor")
                .map_err(err)?;
            let v = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            v
        };
        for d in all.iter().filter(|d| !keep.contains(d)) {
            self.conn
                .execute("DELETE FROM spool_cursor WHERE dest = ?1", [d])
                .map_err(err)?;
        }
        Ok(n as u64)
    }

    /// Alerts held after `seq`.
    pub fn count_after(&self, seq: i64) -> anyhow::Result<u64> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM spool_alert WHERE seq > ?1",
                [seq],
                |r| r.get(0),
            )
            .map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Alerts held now.
    pub fn len(&self) -> anyhow::Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM spool_alert", [], |r| r.get(0))
            .map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn is_empty(&self) -> anyhow::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Alerts evicted by the cap since the spool was created.
    pub fn evicted_total(&self) -> anyhow::Result<u64> {
        let n: Option<i64> = self
            .conn
            .query_row(
                "SELECT value FROM spool_counter WHERE name = 'evicted'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iomt_models::Evidence;

    fn alert(i: u32, sev: u8) -> (Alert, String) {
        (
            Alert {
                id: format!("{i:04x}"),
                ts: Ts(u64::from(i) * 1_000_000_000),
                kind: "test".into(),
                severity: sev,
                device_ip: "10.0.0.1".parse().unwrap(),
                peer_ip: None,
                protocol: None,
                summary: format!("alert {i}"),
                evidence: Evidence {
                    expected: "a".into(),
                    seen: "b".into(),
                },
                count: 1,
            },
            format!("{{\"n\":{i}}}\n"),
        )
    }

    #[test]
    fn cursors_purge_and_cap_evicts_low_severity_first() {
        let dir = std::env::temp_dir().join(format!("iomt-spool-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("iomt.db");
        let mut s = Spool::open(&db).unwrap();
        assert_eq!(s.cursor("tcp://a").unwrap(), 0);
        let batch: Vec<_> = (1..=6)
            .map(|i| alert(i, if i % 2 == 0 { 9 } else { 2 }))
            .collect();
        assert_eq!(s.push(&batch, 4).unwrap(), 2);
        // The two oldest low-severity alerts (1 and 3) went.
        let left: Vec<i64> = s.after(0, 100).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(left, vec![2, 4, 5, 6]);
        let back = s.after(4, 1).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].alert.id, "0005");
        assert_eq!(back[0].alert.ts, Ts(5_000_000_000));
        assert_eq!(back[0].eve, "{\"n\":5}");
        s.set_cursor("tcp://a", 5).unwrap();
        assert_eq!(s.purge(&["tcp://a".into()]).unwrap(), 3);
        assert_eq!(s.len().unwrap(), 1);
        assert_eq!(s.evicted_total().unwrap(), 2);
        drop(s);
        // Reopened: same schema version, same cursor.
        let s = Spool::open(&db).unwrap();
        assert_eq!(s.cursor("tcp://a").unwrap(), 5);
        assert_eq!(s.max_seq().unwrap(), 6);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
