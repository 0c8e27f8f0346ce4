//! Scoring alerts against labels (ARCHITECTURE.md, "Labels CSV"): an attack counts as detected when
//! an alert names its `device_ip` as device or peer with a timestamp inside
//! `[start_ts, end_ts + 60]`; every other alert is a false alert.

use crate::alert::Alert;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Seconds after a label's end during which an alert still counts for it.
pub const GRACE_S: f64 = 60.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub start: f64,
    pub end: f64,
    pub device: IpAddr,
    pub kind: String,
}

/// Parses the labels CSV (header `start_ts,end_ts,device_ip,attack_kind,description`).
pub fn parse_labels(text: &str) -> Result<Vec<Label>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.starts_with("start_ts")) {
            continue;
        }
        let mut f = line.splitn(5, ',');
        let mut next = |what: &str| {
            f.next()
                .map(str::trim)
                .ok_or_else(|| format!("labels line {}: missing {what}", n + 1))
        };
        let start: f64 = next("start_ts")?
            .parse()
            .map_err(|e| format!("labels line {}: start_ts: {e}", n + 1))?;
        let end: f64 = next("end_ts")?
            .parse()
            .map_err(|e| format!("labels line {}: end_ts: {e}", n + 1))?;
        let device: IpAddr = next("device_ip")?
            .parse()
            .map_err(|e| format!("labels line {}: device_ip: {e}", n + 1))?;
        let kind = next("attack_kind")?.to_string();
        out.push(Label {
            start,
            end,
            device,
            kind,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelResult {
    pub device_ip: IpAddr,
    pub attack_kind: String,
    pub start_ts: f64,
    pub detected: bool,
    /// Seconds from the label's start to the first matching alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_alert_s: Option<f64>,
    /// Kinds of the matching alerts.
    pub alert_kinds: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FalseAlert {
    pub ts: f64,
    pub kind: String,
    pub device_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<IpAddr>,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub labels: Vec<LabelResult>,
    pub alerts: usize,
    pub true_alerts: usize,
    pub false_alerts: Vec<FalseAlert>,
    pub false_by_kind: BTreeMap<String, usize>,
    pub precision: f64,
    pub recall: f64,
    pub test_capture_s: f64,
    pub false_alerts_per_24h: f64,
}

fn secs(a: &Alert) -> f64 {
    a.ts.0 as f64 / 1e9
}

pub fn score(labels: &[Label], alerts: &[Alert], test_capture_s: f64) -> Report {
    let matches = |l: &Label, a: &Alert| {
        let t = secs(a);
        (a.device_ip == l.device || a.peer_ip == Some(l.device))
            && t >= l.start
            && t <= l.end + GRACE_S
    };
    let mut results = Vec::new();
    for l in labels {
        let hits: Vec<&Alert> = alerts.iter().filter(|a| matches(l, a)).collect();
        let first = hits.iter().map(|a| secs(a)).fold(f64::INFINITY, f64::min);
        let mut kinds: Vec<String> = hits.iter().map(|a| a.kind.clone()).collect();
        kinds.sort();
        kinds.dedup();
        results.push(LabelResult {
            device_ip: l.device,
            attack_kind: l.kind.clone(),
            start_ts: l.start,
            detected: !hits.is_empty(),
            time_to_alert_s: first.is_finite().then_some(first - l.start),
            alert_kinds: kinds,
        });
    }
    let mut false_alerts = Vec::new();
    let mut by_kind = BTreeMap::new();
    let mut true_alerts = 0;
    for a in alerts {
        if labels.iter().any(|l| matches(l, a)) {
            true_alerts += 1;
        } else {
            *by_kind.entry(a.kind.clone()).or_insert(0) += 1;
            false_alerts.push(FalseAlert {
                ts: secs(a),
                kind: a.kind.clone(),
                device_ip: a.device_ip,
                peer_ip: a.peer_ip,
                summary: a.summary.clone(),
            });
        }
    }
    let detected = results.iter().filter(|r| r.detected).count();
    let precision = if alerts.is_empty() {
        if labels.is_empty() {
            1.0
        } else {
            0.0
        }
    } else {
        true_alerts as f64 / alerts.len() as f64
    };
    let recall = if labels.is_empty() {
        1.0
    } else {
        detected as f64 / labels.len() as f64
    };
    let per_day = if test_capture_s > 0.0 {
        false_alerts.len() as f64 * 86_400.0 / test_capture_s
    } else {
        false_alerts.len() as f64
    };
    Report {
        labels: results,
        alerts: alerts.len(),
        true_alerts,
        false_alerts,
        false_by_kind: by_kind,
        precision,
        recall,
        test_capture_s,
        false_alerts_per_24h: per_day,
    }
}

impl Report {
    /// The table for people.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "label                        device           detected  time_to_alert  alert kinds\n",
        );
        for l in &self.labels {
            s.push_str(&format!(
                "{:<28} {:<16} {:<9} {:<14} {}\n",
                l.attack_kind,
                l.device_ip.to_string(),
                if l.detected { "yes" } else { "MISSED" },
                l.time_to_alert_s
                    .map(|t| format!("{t:.1} s"))
                    .unwrap_or_else(|| "-".into()),
                l.alert_kinds.join(",")
            ));
        }
        s.push_str(&format!(
            "\nalerts {}  true {}  false {}  precision {:.3}  recall {:.3}  false alerts per 24 h {:.2} (test capture {:.0} s)\n",
            self.alerts,
            self.true_alerts,
            self.false_alerts.len(),
            self.precision,
            self.recall,
            self.false_alerts_per_24h,
            self.test_capture_s
        ));
        for f in &self.false_alerts {
            s.push_str(&format!(
                "false alert: {} {} — {}\n",
                f.kind, f.device_ip, f.summary
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Evidence;

    fn alert(ts: f64, kind: &str, dev: &str, peer: Option<&str>) -> Alert {
        Alert {
            id: "x".into(),
            ts: iomt_parsers::Ts((ts * 1e9) as u64),
            kind: kind.into(),
            severity: 5,
            device_ip: dev.parse().unwrap(),
            peer_ip: peer.map(|p| p.parse().unwrap()),
            protocol: None,
            summary: "s".into(),
            evidence: Evidence {
                expected: "e".into(),
                seen: "s".into(),
            },
            count: 1,
        }
    }

    #[test]
    fn scoring() {
        let labels = parse_labels(
            "start_ts,end_ts,device_ip,attack_kind,description\n100.0,110.0,10.0.0.1,scan,a, b\n500,500,10.0.0.2,x,y\n",
        )
        .unwrap();
        assert_eq!(labels.len(), 2);
        let alerts = vec![
            alert(105.0, "port_scan", "10.0.0.1", None),
            alert(169.0, "new_peer_or_service", "10.0.0.9", Some("10.0.0.1")),
            alert(171.0, "new_device", "10.0.0.1", None),
            alert(90.0, "flood", "10.0.0.3", None),
        ];
        let r = score(&labels, &alerts, 86_400.0 / 2.0);
        assert!(r.labels[0].detected);
        assert_eq!(r.labels[0].time_to_alert_s, Some(5.0));
        assert!(!r.labels[1].detected);
        assert_eq!(r.true_alerts, 2);
        assert_eq!(r.false_alerts.len(), 2);
        assert_eq!(r.recall, 0.5);
        assert_eq!(r.precision, 0.5);
        assert_eq!(r.false_alerts_per_24h, 4.0);
        assert!(parse_labels("1,2,notanip,k,d").is_err());
    }
}
