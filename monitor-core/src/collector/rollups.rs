//! The collector's per-minute roll-ups of the executions it has not handed
//! to the stats store yet: one bucket per function and minute (the minute
//! in which the execution finished, by the monitor's clock).
//!
//! Recording is a short search from the end of the function's few open
//! minutes and an increment: no hashing, no allocation once a minute's
//! bucket exists. At each save the buckets are handed to the store as
//! deltas (merged into the stored rows there) and emptied. Without a
//! store, the buckets of minutes that have ended move at each tick into
//! shared, immutable chunks ([`Unsaved::archived`]), kept for
//! [`MEMORY_ONLY_KEEP`]: a reader gets them by cloning pointers, so the
//! collector never copies a day of rows for it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use monitor_sinks::stats_store::{RollupRow, SaveStamp, MINUTE_SECS};

use super::unix_time::UnixTime;
use crate::event::Status;
use crate::stats::Histogram;

/// How long the roll-ups are kept without a stats store (in memory only):
/// a day and an hour, so that a 24-hour window is whole.
pub(crate) const MEMORY_ONLY_KEEP: Duration = Duration::from_secs(25 * 3600);

/// The minute (its start, in Unix seconds) holding `time`.
pub(crate) fn minute_of(time: SystemTime) -> i64 {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        // Before 1970: round down, towards the earlier minute.
        Err(before) => -(before.duration().as_secs_f64().ceil() as i64),
    };
    secs.div_euclid(i64::from(MINUTE_SECS)) * i64::from(MINUTE_SECS)
}

/// [`minute_of`] the time `unix` splits (`time`): from its whole seconds,
/// unless it is before 1970.
pub(crate) fn minute_of_unix(unix: UnixTime, time: impl FnOnce() -> SystemTime) -> i64 {
    if unix.secs >= 0 {
        unix.secs - unix.secs % i64::from(MINUTE_SECS)
    } else {
        minute_of(time())
    }
}

/// The executions of one function in one minute.
#[derive(Clone, Debug)]
struct Bucket {
    minute: i64,
    success: u64,
    error: u64,
    panic: u64,
    cancelled: u64,
    sum_nanos: u128,
    min_nanos: Option<u64>,
    max_nanos: Option<u64>,
    histogram: Histogram,
}

impl Bucket {
    fn new(minute: i64) -> Self {
        Bucket {
            minute,
            success: 0,
            error: 0,
            panic: 0,
            cancelled: 0,
            sum_nanos: 0,
            min_nanos: None,
            max_nanos: None,
            histogram: Histogram::default(),
        }
    }

    fn row(&self, name: &str) -> RollupRow {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        RollupRow {
            name: name.to_owned(),
            bucket_start: self.minute,
            bucket_secs: MINUTE_SECS,
            success: self.success,
            error: self.error,
            panic: self.panic,
            cancelled: self.cancelled,
            sum_ms: self.sum_nanos as f64 / 1e6,
            min_ms: self.min_nanos.map(ms),
            max_ms: self.max_nanos.map(ms),
            histogram: self.histogram.to_sparse().0,
        }
    }
}

/// The roll-ups not yet handed to the store, by function index (the
/// collector's `functions` order).
#[derive(Debug, Default)]
pub(crate) struct RollupBuffer {
    by_function: Vec<Vec<Bucket>>,
    /// Buckets held, across functions.
    buckets: usize,
}

impl RollupBuffer {
    /// Counts one execution of function `index` that finished in `minute`
    /// ([`minute_of`] its end).
    pub(crate) fn observe(&mut self, index: usize, minute: i64, status: Status, nanos: u64) {
        if index >= self.by_function.len() {
            self.by_function.resize_with(index + 1, Vec::new);
        }
        let buckets = &mut self.by_function[index];
        let position = match buckets.iter().rposition(|bucket| bucket.minute == minute) {
            Some(position) => position,
            None => {
                buckets.push(Bucket::new(minute));
                self.buckets += 1;
                buckets.len() - 1
            }
        };
        let bucket = &mut buckets[position];
        match status {
            Status::Success => bucket.success += 1,
            Status::Error => bucket.error += 1,
            Status::Panic => bucket.panic += 1,
            Status::Cancelled => {
                // Not completed: counted, not timed (as in the statistics).
                bucket.cancelled += 1;
                return;
            }
        }
        bucket.sum_nanos += u128::from(nanos);
        bucket.min_nanos = Some(bucket.min_nanos.map_or(nanos, |min| min.min(nanos)));
        bucket.max_nanos = Some(bucket.max_nanos.map_or(nanos, |max| max.max(nanos)));
        bucket.histogram.record(nanos);
    }

    /// Every bucket as a minute row (`name_of` gives a function's name by
    /// index), emptying the buffer.
    pub(crate) fn take_rows<'a>(&mut self, name_of: impl Fn(usize) -> &'a str) -> Vec<RollupRow> {
        let rows = self.rows(&name_of);
        for buckets in &mut self.by_function {
            buckets.clear();
        }
        self.buckets = 0;
        rows
    }

    /// Every bucket as a minute row, leaving the buffer as it is.
    pub(crate) fn rows<'a>(&self, name_of: impl Fn(usize) -> &'a str) -> Vec<RollupRow> {
        let mut rows = Vec::with_capacity(self.buckets);
        for (index, buckets) in self.by_function.iter().enumerate() {
            if buckets.is_empty() {
                continue;
            }
            let name = name_of(index);
            rows.extend(buckets.iter().map(|bucket| bucket.row(name)));
        }
        rows
    }

    /// Takes out the buckets of minutes before `minute` as rows (empty if
    /// there are none).
    pub(crate) fn take_before<'a>(
        &mut self,
        minute: i64,
        name_of: impl Fn(usize) -> &'a str,
    ) -> Vec<RollupRow> {
        let mut rows = Vec::new();
        let mut held = 0;
        for (index, buckets) in self.by_function.iter_mut().enumerate() {
            if buckets.iter().any(|bucket| bucket.minute < minute) {
                let name = name_of(index);
                buckets.retain(|bucket| {
                    let ended = bucket.minute < minute;
                    if ended {
                        rows.push(bucket.row(name));
                    }
                    !ended
                });
            }
            held += buckets.len();
        }
        self.buckets = held;
        rows
    }
}

/// A store-less monitor's roll-ups of minutes that have ended: chunks that
/// never change once made (one per tick that closed a minute), shared with
/// readers.
#[derive(Debug, Default)]
pub(crate) struct MemoryArchive {
    chunks: Vec<Arc<[RollupRow]>>,
}

impl MemoryArchive {
    /// Adds the rows of minutes that ended; drops the chunks whose every
    /// row is older than `oldest_minute`. Returns whether anything changed.
    pub(crate) fn update(&mut self, mut rows: Vec<RollupRow>, oldest_minute: i64) -> bool {
        rows.retain(|row| row.bucket_start >= oldest_minute);
        let before = self.chunks.len();
        self.chunks
            .retain(|chunk| chunk.iter().any(|row| row.bucket_start >= oldest_minute));
        let pruned = self.chunks.len() != before;
        if rows.is_empty() {
            return pruned;
        }
        self.chunks.push(rows.into());
        true
    }

    /// The chunks, for a reader (pointer copies).
    pub(crate) fn chunks(&self) -> Vec<Arc<[RollupRow]>> {
        self.chunks.clone()
    }
}

/// The roll-ups a reader in this process adds to what the store holds: the
/// minute rows of every execution not saved yet, and the stamp the store
/// has once everything before is saved (`None` without a store). Without a
/// store, `archived` holds the minutes that have ended.
#[derive(Clone, Debug, Default)]
pub(crate) struct Unsaved {
    pub(crate) rows: Vec<RollupRow>,
    pub(crate) archived: Vec<Arc<[RollupRow]>>,
    pub(crate) stamp: Option<SaveStamp>,
}

impl Unsaved {
    pub(crate) fn new(rows: Vec<RollupRow>, stamp: Option<SaveStamp>) -> Arc<Unsaved> {
        Arc::new(Unsaved {
            rows,
            archived: Vec::new(),
            stamp,
        })
    }

    /// Every row: the unsaved ones, then the archived ones.
    pub(crate) fn all_rows(&self) -> impl Iterator<Item = &RollupRow> {
        self.rows
            .iter()
            .chain(self.archived.iter().flat_map(|chunk| chunk.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minute_of_a_split_time_is_its_minute() {
        let mut times = vec![UNIX_EPOCH - Duration::from_nanos(1), UNIX_EPOCH];
        for secs in [59, 60, 61, 119, 120, 1_796_342_399] {
            for nanos in [0, 1, 999_999_999] {
                let offset = Duration::from_secs(secs) + Duration::from_nanos(nanos);
                times.push(UNIX_EPOCH + offset);
                times.push(UNIX_EPOCH - offset);
            }
        }
        for time in times {
            assert_eq!(
                minute_of_unix(UnixTime::of(time), || time),
                minute_of(time),
                "{time:?}"
            );
        }
    }

    #[test]
    fn minutes_round_down_on_both_sides_of_the_epoch() {
        assert_eq!(minute_of(UNIX_EPOCH + Duration::from_secs(119)), 60);
        assert_eq!(minute_of(UNIX_EPOCH + Duration::from_secs(120)), 120);
        assert_eq!(minute_of(UNIX_EPOCH - Duration::from_secs(1)), -60);
        assert_eq!(minute_of(UNIX_EPOCH - Duration::from_millis(60_500)), -120);
    }

    #[test]
    fn buckets_per_minute_count_statuses_and_time_completed_executions_only() {
        let mut buffer = RollupBuffer::default();
        let t = UNIX_EPOCH + Duration::from_secs(600);
        let minute = |time| minute_of(time);
        buffer.observe(1, minute(t), Status::Success, 1_000);
        buffer.observe(1, minute(t + Duration::from_secs(59)), Status::Error, 3_000);
        buffer.observe(1, minute(t + Duration::from_secs(60)), Status::Panic, 5_000);
        buffer.observe(1, minute(t), Status::Cancelled, 99_000);
        let names = ["zero", "one"];
        let rows = buffer.take_rows(|i| names[i]);
        assert_eq!(rows.len(), 2);
        let first = &rows[0];
        assert_eq!((first.name.as_str(), first.bucket_start), ("one", 600));
        assert_eq!((first.success, first.error, first.cancelled), (1, 1, 1));
        assert_eq!((first.min_ms, first.max_ms), (Some(0.001), Some(0.003)));
        assert_eq!(first.sum_ms, 0.004);
        assert_eq!(rows[1].bucket_start, 660);
        assert_eq!(rows[1].panic, 1);
        assert!(buffer.rows(|i| names[i]).is_empty());
    }

    #[test]
    fn ended_minutes_move_to_the_archive_and_age_out() {
        let mut buffer = RollupBuffer::default();
        let t = UNIX_EPOCH + Duration::from_secs(600);
        buffer.observe(0, minute_of(t), Status::Success, 1);
        buffer.observe(
            0,
            minute_of(t + Duration::from_secs(60)),
            Status::Success,
            1,
        );
        let names = ["f"];
        let ended = buffer.take_before(660, |i| names[i]);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].bucket_start, 600);
        assert_eq!(buffer.rows(|i| names[i]).len(), 1, "660 is still open");
        let mut archive = MemoryArchive::default();
        assert!(archive.update(ended, 0));
        assert!(!archive.update(Vec::new(), 600));
        assert_eq!(archive.chunks().len(), 1);
        assert!(archive.update(Vec::new(), 601), "pruned");
        assert!(archive.chunks().is_empty());
        let late = vec![RollupRow::new("f", 540, 60)];
        assert!(!archive.update(late, 600), "too old to keep");
        assert!(archive.chunks().is_empty());
    }
}
