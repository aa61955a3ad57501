//! The collector's record of the samples: the short history
//! [`resources`](crate::resources) returns (bounded), the previous reading
//! for the CPU percentage, and the per-minute roll-ups not saved yet.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use monitor_sinks::stats_store::{ResourceRollupRow, MINUTE_SECS};

use super::{ProcessReading, ResourceSample, Resources};
use crate::timestamp::Timestamp;

/// Every sample of the last minute is kept as it is.
const RECENT: Duration = Duration::from_secs(60);
/// Older samples are kept one per this long…
const POINT_EVERY_SECS: u64 = 10;
/// …for this long.
const HISTORY: Duration = Duration::from_secs(3600);

/// The samples so far (owned by the collector, read by
/// [`resources`](crate::resources) under a short lock).
#[derive(Debug, Default)]
pub(crate) struct ResourceHistory {
    /// Every sample of the last minute, oldest first.
    recent: VecDeque<ResourceSample>,
    /// One sample per 10 s before that, for the rest of the hour.
    older: VecDeque<ResourceSample>,
}

/// Seconds since the epoch of `time` (0 before it).
fn secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// CPU seconds per wall second between two samples, in percent.
fn percent_between(before: &ResourceSample, after: &ResourceSample) -> Option<f64> {
    let wall = after.time.0.duration_since(before.time.0).ok()?;
    if wall.is_zero() {
        return None;
    }
    let cpu = (after.cpu_secs() - before.cpu_secs()).max(0.0);
    Some(cpu / wall.as_secs_f64() * 100.0)
}

impl ResourceHistory {
    /// The sample `reading` makes at `now` (its CPU percentage against the
    /// latest sample), added to the history. A clock that went back starts
    /// the history again.
    pub(crate) fn record(&mut self, now: SystemTime, reading: &ProcessReading) -> ResourceSample {
        let mut sample = ResourceSample {
            time: Timestamp(now),
            rss_bytes: reading.rss_bytes,
            virtual_bytes: reading.virtual_bytes,
            cpu_user_secs: reading.cpu_user.as_secs_f64(),
            cpu_system_secs: reading.cpu_system.as_secs_f64(),
            cpu_percent: None,
            threads: reading.threads,
            open_fds: reading.open_fds,
        };
        if let Some(latest) = self.latest() {
            if latest.time.0 > now {
                self.recent.clear();
                self.older.clear();
            } else {
                sample.cpu_percent = percent_between(latest, &sample);
            }
        }
        self.recent.push_back(sample.clone());
        while let Some(front) = self.recent.front() {
            if now.duration_since(front.time.0).unwrap_or_default() <= RECENT {
                break;
            }
            let Some(old) = self.recent.pop_front() else {
                break;
            };
            self.keep_point(old);
        }
        while self
            .older
            .front()
            .is_some_and(|front| now.duration_since(front.time.0).unwrap_or_default() > HISTORY)
        {
            self.older.pop_front();
        }
        sample
    }

    /// Keeps `sample` as the point of its 10 s (the last of them wins), its
    /// CPU percentage the mean since the point before.
    fn keep_point(&mut self, mut sample: ResourceSample) {
        let slot = secs(sample.time.0) / POINT_EVERY_SECS;
        if self
            .older
            .back()
            .is_some_and(|last| secs(last.time.0) / POINT_EVERY_SECS == slot)
        {
            self.older.pop_back();
        }
        if let Some(before) = self.older.back() {
            sample.cpu_percent = percent_between(before, &sample).or(sample.cpu_percent);
        }
        self.older.push_back(sample);
    }

    /// The latest sample.
    pub(crate) fn latest(&self) -> Option<&ResourceSample> {
        self.recent.back().or_else(|| self.older.back())
    }

    /// The latest sample and the history, copied.
    pub(crate) fn resources(&self) -> Resources {
        Resources {
            latest: self.latest().cloned(),
            history: self.older.iter().chain(&self.recent).cloned().collect(),
        }
    }
}

/// The samples of the minutes not handed to the store yet: one row per
/// minute, merged exactly into the stored minute and hour rows at the next
/// save.
#[derive(Debug, Default)]
pub(crate) struct MinuteRollup {
    open: Vec<ResourceRollupRow>,
    /// CPU time (µs) of the previous sample, to count the CPU used between
    /// two samples in the minute of the later one.
    previous_cpu_micros: Option<u64>,
}

impl MinuteRollup {
    /// Counts `sample` in its minute.
    pub(crate) fn observe(&mut self, sample: &ResourceSample) {
        let minute = crate::collector::minute_of(sample.time.0);
        let cpu_micros = (sample.cpu_secs() * 1e6).round().max(0.0) as u64;
        let cpu_used = self
            .previous_cpu_micros
            .map_or(0, |previous| cpu_micros.saturating_sub(previous));
        self.previous_cpu_micros = Some(cpu_micros);
        let row = match self
            .open
            .iter_mut()
            .rev()
            .find(|row| row.bucket_start == minute)
        {
            Some(row) => row,
            None => {
                self.open.push(ResourceRollupRow::new(minute, MINUTE_SECS));
                self.open.last_mut().expect("just pushed")
            }
        };
        row.add_sample(
            sample.rss_bytes,
            cpu_used,
            sample.virtual_bytes,
            sample.threads,
            sample.open_fds,
        );
    }

    /// Every open minute's row, emptying the buffer.
    pub(crate) fn take(&mut self) -> Vec<ResourceRollupRow> {
        std::mem::take(&mut self.open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(rss: u64, cpu_ms: u64) -> ProcessReading {
        let mut reading = ProcessReading::new(rss);
        reading.cpu_user = Duration::from_millis(cpu_ms);
        reading
    }

    #[test]
    fn cpu_percent_is_cpu_time_over_wall_time_since_the_previous_sample() {
        let mut history = ResourceHistory::default();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(history.record(t, &reading(1, 0)).cpu_percent, None);
        let second = history.record(t + Duration::from_secs(2), &reading(1, 500));
        assert_eq!(second.cpu_percent, Some(25.0));
        // The clock went back: no percentage, the history starts again.
        let back = history.record(t, &reading(1, 900));
        assert_eq!(back.cpu_percent, None);
        assert_eq!(history.resources().history.len(), 1);
    }

    #[test]
    fn two_hours_of_samples_keep_the_last_minute_and_one_point_per_ten_seconds() {
        let mut history = ResourceHistory::default();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for second in 0..7200u64 {
            // 10 ms of CPU per second: 1 %.
            history.record(
                t + Duration::from_secs(second),
                &reading(second, second * 10),
            );
        }
        let resources = history.resources();
        let latest = resources.latest.clone().unwrap();
        assert_eq!(latest.rss_bytes, 7199);
        assert_eq!(resources.history.last(), Some(&latest));
        // The latest is at 7199 s: the samples of 7139..=7199 s (61), then
        // the last sample of each 10 s from 3599 s (an hour back) to 7138 s:
        // the slots 359 to 713 (355 points).
        assert_eq!(resources.history.len(), 61 + 355, "bounded");
        let first = &resources.history[0];
        assert!(latest.time.0.duration_since(first.time.0).unwrap() <= HISTORY);
        for pair in resources.history.windows(2) {
            assert!(pair[0].time < pair[1].time, "oldest first");
        }
        for sample in &resources.history[1..] {
            let percent = sample.cpu_percent.unwrap();
            assert!((percent - 1.0).abs() < 1e-9, "{percent}");
        }
    }

    #[test]
    fn minute_rows_count_every_sample_and_the_cpu_between_samples() {
        let mut rollup = MinuteRollup::default();
        let mut history = ResourceHistory::default();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(600);
        for (second, rss) in [(0, 10), (30, 30), (60, 20)] {
            let sample = history.record(t + Duration::from_secs(second), &reading(rss, second * 2));
            rollup.observe(&sample);
        }
        let rows = rollup.take();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].bucket_start, rows[0].samples), (600, 2));
        assert_eq!(
            (rows[0].rss_min, rows[0].rss_max, rows[0].rss_sum),
            (10, 30, 40)
        );
        assert_eq!(
            rows[0].cpu_micros, 60_000,
            "0 → 60 ms, in the minute of the later sample"
        );
        assert_eq!((rows[1].bucket_start, rows[1].cpu_micros), (660, 60_000));
        assert!(rollup.take().is_empty());
    }
}
