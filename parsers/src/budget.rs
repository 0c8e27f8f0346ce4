//! The per-flow anomaly budget shared by the parsers that use it (TLS, IEEE 11073-20601): the first
//! [`MAX_ANOMALIES_PER_FLOW`] anomalies of a flow are reported, later ones only counted.

use crate::AppEvent;

/// Anomalies reported per flow; later ones are counted and summed up at `StreamParser::end` in one
/// `anomalies_suppressed` anomaly, so hostile input cannot flood the event stream. Suppression goes by
/// the order of anomalies, so it does not depend on how the stream was split.
pub const MAX_ANOMALIES_PER_FLOW: u32 = 100;

#[derive(Debug, Default)]
pub(crate) struct AnomalyBudget {
    reported: u32,
    suppressed: u64,
}

impl AnomalyBudget {
    /// Drops anomalies pushed since `from` once the budget is spent.
    pub(crate) fn apply(&mut self, out: &mut Vec<AppEvent>, from: usize) {
        let is_anomaly = |e: &AppEvent| matches!(e, AppEvent::Anomaly(_));
        let new = out
            .get(from..)
            .map_or(0, |s| s.iter().filter(|e| is_anomaly(e)).count());
        let room = MAX_ANOMALIES_PER_FLOW.saturating_sub(self.reported) as usize;
        if new <= room {
            self.reported = self
                .reported
                .saturating_add(u32::try_from(new).unwrap_or(u32::MAX));
            return;
        }
        let tail = out.split_off(from.min(out.len()));
        for e in tail {
            if is_anomaly(&e) {
                if self.reported >= MAX_ANOMALIES_PER_FLOW {
                    self.suppressed = self.suppressed.saturating_add(1);
                    continue;
                }
                self.reported = self.reported.saturating_add(1);
            }
            out.push(e);
        }
    }

    pub(crate) fn end(&self, protocol: &'static str, out: &mut Vec<AppEvent>) {
        if self.suppressed > 0 {
            out.push(AppEvent::anomaly(
                protocol,
                "anomalies_suppressed",
                format!(
                    "{} further anomalies after the first {MAX_ANOMALIES_PER_FLOW} of this flow",
                    self.suppressed
                ),
            ));
        }
    }
}
