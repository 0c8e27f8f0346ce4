//! Weekly rhythm: when in the week a device is active (flows it opens and reports it sends),
//! learned per hour-of-week slot (168 slots, UTC), with how many hours of each slot the learning
//! period covered while the device was known. The `off_hours_activity` detector asks whether an
//! hour is one where the device was never active although learning watched it.
//!
//! Judging is deliberately conservative, because a device with a few events a day leaves many
//! hours empty by chance:
//! - hour of day: hour `h` is quiet when the device had no activity in `h - 1`, `h` and `h + 1`
//!   on any learned day, each of those hours was covered on at least [`MIN_COVER`] days, and the
//!   device has at least [`MIN_TOTAL`] learned activities (a rhythm to speak of);
//! - weekday (only when learning covered every weekday for at least [`MIN_DAY_HOURS`] hours,
//!   i.e. about a week): a weekday on which the device was never active, although it was active
//!   on at least three other weekdays.
//!
//! Memory: two fixed arrays per device.

use serde::{Deserialize, Serialize};

pub const SLOTS: usize = 168;
/// Learned activities below which a device has no rhythm to judge.
pub const MIN_TOTAL: u64 = 20;
/// Days an hour of day must have been watched to be called quiet.
pub const MIN_COVER: u32 = 2;
/// Hours of a weekday watched before the weekday can be called quiet.
pub const MIN_DAY_HOURS: u32 = 20;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Hour-of-week slot (Monday 00h = 0) of a capture time in ns (UTC). 1970-01-01 was a Thursday.
pub fn slot(ns: u64) -> usize {
    let hours = ns / 3_600_000_000_000;
    let day = (hours / 24 + 3) % 7;
    (day * 24 + hours % 24) as usize
}

pub fn day_name(slot: usize) -> &'static str {
    DAYS.get(slot / 24 % 7).copied().unwrap_or("?")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekRhythm {
    /// Activities (flows opened, reports sent) per hour-of-week slot while learning.
    pub active: Vec<u32>,
    /// Hours of each slot the learning period watched while the device was known.
    pub covered: Vec<u16>,
}

impl Default for WeekRhythm {
    fn default() -> WeekRhythm {
        WeekRhythm {
            active: vec![0; SLOTS],
            covered: vec![0; SLOTS],
        }
    }
}

/// Why an hour is outside the device's rhythm.
#[derive(Debug, Clone, PartialEq)]
pub struct OffHours {
    /// "active 07-09, 11, 15-17 h UTC on Mon-Fri"
    pub expected: String,
}

impl WeekRhythm {
    fn fix(&mut self) {
        // profiles from older stores or hostile JSON: always exactly SLOTS entries
        self.active.resize(SLOTS, 0);
        self.covered.resize(SLOTS, 0);
    }

    pub fn note_activity(&mut self, ns: u64) {
        self.fix();
        if let Some(a) = self.active.get_mut(slot(ns)) {
            *a = a.saturating_add(1);
        }
    }

    pub fn note_covered(&mut self, slot: usize) {
        self.fix();
        if let Some(c) = self.covered.get_mut(slot) {
            *c = c.saturating_add(1);
        }
    }

    pub fn total(&self) -> u64 {
        self.active.iter().map(|a| u64::from(*a)).sum()
    }

    fn by_hour(&self) -> ([u64; 24], [u32; 24]) {
        let mut a = [0u64; 24];
        let mut c = [0u32; 24];
        for (s, (act, cov)) in self.active.iter().zip(&self.covered).enumerate() {
            let h = s % 24;
            if let (Some(x), Some(y)) = (a.get_mut(h), c.get_mut(h)) {
                *x = x.saturating_add(u64::from(*act));
                *y = y.saturating_add(u32::from(*cov));
            }
        }
        (a, c)
    }

    fn by_day(&self) -> ([u64; 7], [u32; 7]) {
        let mut a = [0u64; 7];
        let mut c = [0u32; 7];
        for (s, (act, cov)) in self.active.iter().zip(&self.covered).enumerate() {
            let d = s / 24 % 7;
            if let (Some(x), Some(y)) = (a.get_mut(d), c.get_mut(d)) {
                *x = x.saturating_add(u64::from(*act));
                *y = y.saturating_add(u32::from(*cov));
            }
        }
        (a, c)
    }

    /// Learning covered every weekday (about a week or more).
    pub fn weekly(&self) -> bool {
        self.by_day().1.iter().all(|c| *c >= MIN_DAY_HOURS)
    }

    /// `Some` when activity in `slot` is outside the learned rhythm.
    pub fn off_hours(&self, slot: usize) -> Option<OffHours> {
        if self.total() < MIN_TOTAL || self.active.len() != SLOTS || self.covered.len() != SLOTS {
            return None;
        }
        let (ah, ch) = self.by_hour();
        let h = slot % 24;
        let quiet_hour = [23usize, 0, 1].iter().all(|d| {
            let i = (h + d) % 24;
            ah.get(i) == Some(&0) && ch.get(i).is_some_and(|c| *c >= MIN_COVER)
        });
        let (ad, cd) = self.by_day();
        let weekly = cd.iter().all(|c| *c >= MIN_DAY_HOURS);
        let d = slot / 24 % 7;
        let quiet_day =
            weekly && ad.get(d) == Some(&0) && ad.iter().filter(|a| **a > 0).count() >= 3;
        if !quiet_hour && !quiet_day {
            return None;
        }
        let mut expected = format!("active {} h UTC", hour_ranges(&ah));
        if weekly {
            let days: Vec<usize> = (0..7)
                .filter(|i| ad.get(*i).is_some_and(|a| *a > 0))
                .collect();
            expected.push_str(" on ");
            expected.push_str(&day_ranges(&days));
        }
        Some(OffHours { expected })
    }
}

/// "07-09, 11, 15-17" from per-hour counts.
fn hour_ranges(a: &[u64; 24]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut h = 0usize;
    while h < 24 {
        if a.get(h).is_some_and(|x| *x > 0) {
            let start = h;
            while h + 1 < 24 && a.get(h + 1).is_some_and(|x| *x > 0) {
                h += 1;
            }
            out.push(if start == h {
                format!("{start:02}")
            } else {
                format!("{start:02}-{h:02}")
            });
        }
        h += 1;
    }
    if out.is_empty() {
        "never".into()
    } else {
        out.join(", ")
    }
}

fn day_ranges(days: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0usize;
    while let Some(&s) = days.get(i) {
        let mut e = s;
        while days.get(i + 1) == Some(&(e + 1)) {
            i += 1;
            e += 1;
        }
        let n = |d: usize| DAYS.get(d).copied().unwrap_or("?");
        out.push(if e == s {
            n(s).to_string()
        } else {
            format!("{}-{}", n(s), n(e))
        });
        i += 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000_000_000;
    /// 2026-11-09 00:00 UTC, a Monday.
    const MON: u64 = 1_794_182_400 * 1_000_000_000;

    #[test]
    fn slots() {
        assert_eq!(slot(MON), 0);
        assert_eq!(slot(MON + 27 * H), 24 + 3);
        assert_eq!(day_name(slot(MON + 6 * 24 * H)), "Sun");
    }

    fn day_shift(days: u64) -> WeekRhythm {
        let mut r = WeekRhythm::default();
        for d in 0..days {
            for h in 0..24 {
                r.note_covered(slot(MON + d * 24 * H + h * H));
            }
            if d % 7 < 5 {
                for h in 8..18 {
                    r.note_activity(MON + d * 24 * H + h * H);
                }
            }
        }
        r
    }

    #[test]
    fn quiet_hours_of_day() {
        let r = day_shift(3);
        let o = r
            .off_hours(slot(MON + 3 * 24 * H + 3 * H))
            .expect("03h is off hours");
        assert_eq!(o.expected, "active 08-17 h UTC");
        // an hour next to the active ones is not judged (margin of one hour)
        assert!(r.off_hours(slot(MON + 3 * 24 * H + 7 * H)).is_none());
        assert!(r.off_hours(slot(MON + 3 * 24 * H + 12 * H)).is_none());
        // one day of learning is not enough to call an hour quiet
        let r1 = day_shift(1);
        assert!(r1.off_hours(slot(MON + 24 * H + 3 * H)).is_none());
    }

    #[test]
    fn quiet_weekday_needs_a_week() {
        let r = day_shift(7);
        assert!(r.weekly());
        let sun_noon = slot(MON + 6 * 24 * H + 12 * H);
        let o = r.off_hours(sun_noon).expect("Sunday is off");
        assert_eq!(o.expected, "active 08-17 h UTC on Mon-Fri");
        // less than a week: weekdays are not judged
        let r = day_shift(5);
        assert!(!r.weekly());
        assert!(r.off_hours(slot(MON + 5 * 24 * H + 12 * H)).is_none());
    }

    #[test]
    fn too_little_activity_has_no_rhythm() {
        let mut r = WeekRhythm::default();
        for h in 0..72 {
            r.note_covered(slot(MON + h * H));
        }
        r.note_activity(MON + 10 * H);
        assert!(r.off_hours(slot(MON + 50 * H + 3 * H)).is_none());
    }
}
