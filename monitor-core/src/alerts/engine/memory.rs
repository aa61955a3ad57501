//! What the memory rules know of the resident memory samples: the latest,
//! the peak while `memory_high` fires, and one point per minute over the
//! `memory_growth` window.

use std::collections::VecDeque;
use std::time::SystemTime;

use crate::alerts::rules::{AlertRules, MemoryGrowth};
use crate::alerts::state::elapsed;
use crate::collector::minute_of;

/// The samples the memory rules look at (bounded: one point per minute of
/// the growth window).
#[derive(Debug, Default)]
pub(crate) struct MemoryWatch {
    /// The latest sample: its time and resident memory in bytes.
    pub(crate) latest: Option<(SystemTime, u64)>,
    /// Highest resident memory since `memory_high` started firing.
    pub(crate) peak_in_episode: u64,
    /// One point per minute (the minute's latest sample), oldest first: the
    /// first is the latest point at least a window old, once there is one.
    points: VecDeque<(SystemTime, u64)>,
}

impl MemoryWatch {
    /// Takes up the latest sample (once: the same sample again is ignored;
    /// a clock that went back starts the growth points again).
    pub(crate) fn update(&mut self, latest: Option<(SystemTime, u64)>, rules: &AlertRules) {
        let Some((time, rss)) = latest else {
            return;
        };
        if let Some((previous, _)) = self.latest {
            if previous == time {
                return;
            }
            if previous > time {
                self.points.clear();
            }
        }
        self.latest = Some((time, rss));
        if rules
            .memory_threshold
            .is_some_and(|threshold| rss > threshold)
        {
            self.peak_in_episode = self.peak_in_episode.max(rss);
        }
        match self.points.back_mut() {
            Some(last) if minute_of(last.0) == minute_of(time) => *last = (time, rss),
            _ => self.points.push_back((time, rss)),
        }
        let window = rules.memory_growth.map(|growth| growth.window);
        while self.points.len() >= 2 {
            let second = self.points[1].0;
            let keep_first = window.is_some_and(|window| elapsed(second, time) < window);
            if keep_first {
                break;
            }
            self.points.pop_front();
        }
    }

    /// `memory_high`: the latest sample is above `threshold`.
    pub(crate) fn above(&self, threshold: Option<u64>) -> bool {
        match (threshold, self.latest) {
            (Some(threshold), Some((_, rss))) => rss > threshold,
            _ => false,
        }
    }

    /// `memory_growth`: see [`MemoryGrowth`].
    pub(crate) fn growing(&self, growth: Option<&MemoryGrowth>) -> bool {
        let (Some(growth), Some(&(start_time, start)), Some(&(end_time, end))) =
            (growth, self.points.front(), self.points.back())
        else {
            return false;
        };
        if elapsed(start_time, end_time) < growth.window || start == 0 {
            return false;
        }
        if (end as f64) < start as f64 * (1.0 + growth.growth) {
            return false;
        }
        let mut highest = 0u64;
        self.points.iter().all(|&(_, rss)| {
            highest = highest.max(rss);
            rss as f64 >= highest as f64 * (1.0 - growth.drop_tolerance)
        })
    }

    /// The first point of the growth window and the latest sample.
    pub(crate) fn growth_ends(&self) -> Option<(u64, u64)> {
        Some((self.points.front()?.1, self.latest?.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rules(growth: MemoryGrowth) -> AlertRules {
        AlertRules {
            memory_growth: Some(growth),
            ..AlertRules::default()
        }
    }

    #[test]
    fn growth_needs_a_whole_window_the_growth_and_no_drop() {
        let growth = MemoryGrowth::default(); // +20 % in 30 min, 2 % tolerance
        let rules = rules(growth);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 * 60);
        let at = |minute: u64| t + Duration::from_secs(minute * 60);
        let mut watch = MemoryWatch::default();
        // 100 → 130 MB over 30 minutes, one point a minute.
        for minute in 0..=30 {
            watch.update(Some((at(minute), 100 + minute)), &rules);
            let whole = minute == 30;
            assert_eq!(watch.growing(Some(&growth)), whole, "minute {minute}");
        }
        // A dip of 1 % is within the tolerance, one of 5 % is a drop.
        let mut dipped = MemoryWatch::default();
        for minute in 0..=30 {
            let rss = if minute == 20 {
                119 * 99 / 100
            } else {
                100 + minute
            };
            dipped.update(Some((at(minute), rss * 1000)), &rules);
        }
        assert!(dipped.growing(Some(&growth)));
        let mut dropped = MemoryWatch::default();
        for minute in 0..=30 {
            let rss = if minute == 20 { 110 } else { 100 + minute };
            dropped.update(Some((at(minute), rss)), &rules);
        }
        assert!(!dropped.growing(Some(&growth)));
        // Flat: no growth. Off without the rule.
        let mut flat = MemoryWatch::default();
        for minute in 0..=40 {
            flat.update(Some((at(minute), 100)), &rules);
        }
        assert!(!flat.growing(Some(&growth)));
        assert!(!watch.growing(None));
        // The points stay bounded by the window.
        for minute in 31..=600 {
            watch.update(Some((at(minute), 100 + minute)), &rules);
        }
        assert!(watch.points.len() <= 32, "{}", watch.points.len());
    }

    #[test]
    fn above_compares_the_latest_sample_with_the_threshold() {
        let mut watch = MemoryWatch::default();
        assert!(!watch.above(Some(10)));
        let rules = AlertRules {
            memory_threshold: Some(10),
            ..AlertRules::default()
        };
        watch.update(Some((SystemTime::UNIX_EPOCH, 11)), &rules);
        assert!(watch.above(Some(10)));
        assert!(!watch.above(Some(11)));
        assert!(!watch.above(None));
        assert_eq!(watch.peak_in_episode, 11);
    }
}
