//! A sliding time window of execution counts, in 60 buckets: bounded memory
//! whatever the call rate, and O(1) per execution.
//!
//! An execution is counted from its start time until the end of its bucket
//! lies a whole window in the past: at most `window / 60` longer than the
//! window itself.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Buckets per window.
pub(crate) const BUCKETS: u64 = 60;

/// Counts over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) executions: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    id: u64,
    counts: Counts,
    /// Longest slow execution in the bucket, in nanoseconds.
    max_slow_nanos: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Window {
    bucket_nanos: u64,
    buckets: VecDeque<Bucket>,
    totals: Counts,
    /// `[start, end)` in nanoseconds since the epoch of the latest bucket
    /// looked up, and its id: most executions land in it, without a division.
    last_lookup: (u128, u128, u64),
}

fn nanos_since_epoch(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

impl Window {
    pub(crate) fn new(window: Duration) -> Self {
        let bucket_nanos =
            (window.as_nanos() / u128::from(BUCKETS)).clamp(1, u128::from(u64::MAX)) as u64;
        Window {
            bucket_nanos,
            buckets: VecDeque::with_capacity(4),
            totals: Counts::default(),
            last_lookup: (1, 0, 0),
        }
    }

    /// The same counts in a window of another length (rules changed at run
    /// time): each bucket moves, whole, into the new bucket its start falls
    /// in, so no execution is lost or counted twice; what the new length
    /// leaves out goes at the next [`expire`](Self::expire).
    pub(crate) fn resize(&mut self, window: Duration) {
        let mut resized = Window::new(window);
        if resized.bucket_nanos == self.bucket_nanos {
            return;
        }
        for bucket in &self.buckets {
            let start = u128::from(bucket.id) * u128::from(self.bucket_nanos);
            let id = (start / u128::from(resized.bucket_nanos)).min(u128::from(u64::MAX)) as u64;
            if resized.buckets.back().is_none_or(|back| back.id != id) {
                resized.buckets.push_back(Bucket::empty(id));
            }
            if let Some(back) = resized.buckets.back_mut() {
                back.counts.executions += bucket.counts.executions;
                back.counts.failures += bucket.counts.failures;
                back.counts.slow += bucket.counts.slow;
                back.max_slow_nanos = back.max_slow_nanos.max(bucket.max_slow_nanos);
            }
        }
        resized.totals = self.totals;
        *self = resized;
    }

    fn bucket_id(&self, time: SystemTime) -> u64 {
        (nanos_since_epoch(time) / u128::from(self.bucket_nanos)).min(u128::from(u64::MAX)) as u64
    }

    /// [`bucket_id`](Self::bucket_id), remembering the bucket's bounds.
    fn cached_bucket_id(&mut self, time: SystemTime) -> u64 {
        let nanos = nanos_since_epoch(time);
        let (start, end, id) = self.last_lookup;
        if (start..end).contains(&nanos) {
            return id;
        }
        let len = u128::from(self.bucket_nanos);
        let id = (nanos / len).min(u128::from(u64::MAX)) as u64;
        let start = u128::from(id) * len;
        self.last_lookup = (start, start + len, id);
        id
    }

    /// Counts one execution that started at `started`.
    pub(crate) fn record(&mut self, started: SystemTime, failed: bool, slow_nanos: Option<u64>) {
        let id = self.cached_bucket_id(started);
        let position = match self.buckets.back() {
            Some(back) if back.id == id => self.buckets.len() - 1,
            Some(back) if back.id > id => {
                // Late (an older start time): find or insert its bucket in order.
                match self.buckets.iter().rposition(|bucket| bucket.id <= id) {
                    Some(index) if self.buckets[index].id == id => index,
                    Some(index) => {
                        self.buckets.insert(index + 1, Bucket::empty(id));
                        index + 1
                    }
                    None => {
                        self.buckets.push_front(Bucket::empty(id));
                        0
                    }
                }
            }
            _ => {
                self.buckets.push_back(Bucket::empty(id));
                self.buckets.len() - 1
            }
        };
        let bucket = &mut self.buckets[position];
        bucket.counts.executions += 1;
        self.totals.executions += 1;
        if failed {
            bucket.counts.failures += 1;
            self.totals.failures += 1;
        }
        if let Some(nanos) = slow_nanos {
            bucket.counts.slow += 1;
            bucket.max_slow_nanos = bucket.max_slow_nanos.max(nanos);
            self.totals.slow += 1;
        }
    }

    /// Forgets the buckets that ended a whole window before `now`.
    pub(crate) fn expire(&mut self, now: SystemTime) {
        let now_id = self.bucket_id(now);
        // Bucket `id` ends at (id + 1) * len; it is out once that is at or
        // before now - window, i.e. id + 1 + BUCKETS <= now_id (in bucket units).
        while let Some(front) = self.buckets.front() {
            if front.id.saturating_add(BUCKETS) < now_id {
                self.totals.executions -= front.counts.executions;
                self.totals.failures -= front.counts.failures;
                self.totals.slow -= front.counts.slow;
                self.buckets.pop_front();
            } else {
                break;
            }
        }
    }

    /// Counts in the window (as of the latest [`expire`](Self::expire)).
    pub(crate) fn counts(&self) -> Counts {
        self.totals
    }

    /// The longest slow execution in the window.
    pub(crate) fn max_slow(&self) -> Option<Duration> {
        self.buckets
            .iter()
            .map(|bucket| bucket.max_slow_nanos)
            .max()
            .filter(|&nanos| nanos > 0)
            .map(Duration::from_nanos)
    }
}

/// A window as kept in the stats store: its bucket length and, per bucket,
/// `[id, executions, failures, slow, longest slow in ns]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredWindow {
    bucket_nanos: u64,
    buckets: Vec<[u64; 5]>,
}

impl Window {
    /// What the stats store keeps of this window.
    pub(crate) fn to_stored(&self) -> StoredWindow {
        StoredWindow {
            bucket_nanos: self.bucket_nanos,
            buckets: self
                .buckets
                .iter()
                .map(|b| {
                    [
                        b.id,
                        b.counts.executions,
                        b.counts.failures,
                        b.counts.slow,
                        b.max_slow_nanos,
                    ]
                })
                .collect(),
        }
    }

    /// Adds the stored buckets to this (empty) window; ignored when they were
    /// cut for another window length or are out of order.
    pub(crate) fn restore(&mut self, stored: &StoredWindow) {
        let ordered = stored
            .buckets
            .windows(2)
            .all(|pair| pair[0][0] < pair[1][0]);
        if stored.bucket_nanos != self.bucket_nanos || !ordered || !self.buckets.is_empty() {
            return;
        }
        // A value edited by hand or written by a broken run: counts whose
        // sum does not fit (with room for this run's own executions) are
        // ignored, or adding them up would overflow in the collector, which
        // would take them up again after every restart.
        let executions = stored
            .buckets
            .iter()
            .try_fold(0u64, |sum, bucket| sum.checked_add(bucket[1]));
        if executions.is_none_or(|sum| sum > u64::MAX / 2) {
            return;
        }
        for &[id, executions, failures, slow, max_slow_nanos] in &stored.buckets {
            let counts = Counts {
                executions,
                failures: failures.min(executions),
                slow: slow.min(executions),
            };
            self.totals.executions += counts.executions;
            self.totals.failures += counts.failures;
            self.totals.slow += counts.slow;
            self.buckets.push_back(Bucket {
                id,
                counts,
                max_slow_nanos,
            });
        }
    }
}

impl Bucket {
    fn empty(id: u64) -> Self {
        Bucket {
            id,
            counts: Counts::default(),
            max_slow_nanos: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resized_window_keeps_every_count() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut window = Window::new(Duration::from_secs(600));
        for second in 0..300 {
            window.record(start + Duration::from_secs(second), second % 3 == 0, None);
        }
        let before = window.counts();
        window.resize(Duration::from_secs(3600));
        assert_eq!(window.counts(), before);
        window.expire(start + Duration::from_secs(300));
        assert_eq!(window.counts(), before, "all within the longer window");
        // A shorter window: an old (one-minute) bucket moves whole to its
        // start, so it leaves as soon as its start does. The last one held
        // seconds 260 to 299 (buckets start at multiples of 60 s since the
        // epoch): its 40 executions are still in the last minute.
        window.resize(Duration::from_secs(60));
        window.expire(start + Duration::from_secs(300));
        assert_eq!(window.counts().executions, 40);
        assert_eq!(window.counts().failures, 13);
    }

    const MIN: Duration = Duration::from_secs(60);

    fn at(minutes: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 * 60) + MIN * minutes as u32
    }

    #[test]
    fn executions_leave_the_window_after_it_passed() {
        let mut window = Window::new(15 * MIN);
        window.record(at(0), true, None);
        window.record(at(0), false, Some(5));
        window.record(at(10), true, None);
        window.expire(at(14));
        assert_eq!(
            window.counts(),
            Counts {
                executions: 3,
                failures: 2,
                slow: 1
            }
        );
        assert_eq!(window.max_slow(), Some(Duration::from_nanos(5)));
        window.expire(at(15) + Duration::from_secs(16));
        assert_eq!(window.counts().executions, 1);
        assert_eq!(window.max_slow(), None);
        window.expire(at(26));
        assert_eq!(window.counts(), Counts::default());
    }

    #[test]
    fn a_stored_window_counts_on_where_it_left_off() {
        let mut window = Window::new(15 * MIN);
        window.record(at(0), true, None);
        window.record(at(5), false, Some(9));
        let stored = window.to_stored();
        let mut again = Window::new(15 * MIN);
        again.restore(&stored);
        assert_eq!(again.counts(), window.counts());
        assert_eq!(again.max_slow(), Some(Duration::from_nanos(9)));
        again.expire(at(17));
        assert_eq!(again.counts().executions, 1);
        // Cut for another window length: not used.
        let mut other = Window::new(60 * MIN);
        other.restore(&stored);
        assert_eq!(other.counts(), Counts::default());
    }

    #[test]
    fn late_executions_land_in_their_own_bucket() {
        let mut window = Window::new(15 * MIN);
        window.record(at(5), false, None);
        window.record(at(1), true, None);
        window.record(at(3), true, None);
        window.record(at(3), true, None);
        assert_eq!(window.counts().failures, 3);
        window.expire(at(17));
        assert_eq!(window.counts().executions, 3, "the minute-1 bucket expired");
        window.expire(at(19));
        assert_eq!(window.counts().executions, 1);
    }
}
