//! A time as Unix seconds and nanoseconds, for the collector's per-event
//! arithmetic: the monitor's clock is split once per drain pass, and each
//! event's start and end times are that minus the event's age, in integers,
//! instead of asking `SystemTime` to split each of them again.

use std::time::SystemTime;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Whole Unix seconds, rounded towards negative infinity (so times before
/// 1970 work), and the nanoseconds within that second: what
/// [`unix_parts`](monitor_sinks::time::unix_parts) gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnixTime {
    pub(crate) secs: i64,
    /// Below 1,000,000,000.
    pub(crate) nanos: u32,
}

impl UnixTime {
    pub(crate) fn of(time: SystemTime) -> Self {
        let (secs, nanos) = monitor_sinks::time::unix_parts(time);
        UnixTime { secs, nanos }
    }

    /// `nanos` earlier (`None` past the earliest second an `i64` holds).
    pub(crate) fn minus_nanos(self, nanos: u64) -> Option<UnixTime> {
        let (whole, part) = (nanos / NANOS_PER_SEC, (nanos % NANOS_PER_SEC) as u32);
        // At most 18,446,744,073 whole seconds: always an i64.
        let mut secs = self.secs.checked_sub(whole as i64)?;
        let mut within = self.nanos;
        if within < part {
            secs = secs.checked_sub(1)?;
            within += NANOS_PER_SEC as u32;
        }
        Some(UnixTime {
            secs,
            nanos: within - part,
        })
    }

    /// Nanoseconds since the epoch (negative before it).
    pub(crate) fn as_nanos(self) -> i128 {
        i128::from(self.secs) * i128::from(NANOS_PER_SEC) + i128::from(self.nanos)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// Subtracting in integers gives what `SystemTime` gives, on both sides
    /// of the epoch and across second boundaries.
    #[test]
    fn minus_nanos_is_what_system_time_subtraction_gives() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut times = vec![
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_nanos(1),
            UNIX_EPOCH - Duration::from_nanos(1),
            UNIX_EPOCH + Duration::from_secs(1_796_342_399) + Duration::from_nanos(999_999_999),
        ];
        for _ in 0..2_000 {
            let offset = Duration::from_nanos(next() >> (next() % 64));
            times.push(UNIX_EPOCH + offset);
            times.push(UNIX_EPOCH - offset);
        }
        for time in times {
            let split = UnixTime::of(time);
            assert!(split.nanos < 1_000_000_000);
            let nanos_since = match time.duration_since(UNIX_EPOCH) {
                Ok(after) => after.as_nanos() as i128,
                Err(before) => -(before.duration().as_nanos() as i128),
            };
            assert_eq!(split.as_nanos(), nanos_since, "{time:?}");
            for age in [0, 1, 999_999_999, 1_000_000_000, next() >> (next() % 64)] {
                let earlier = time.checked_sub(Duration::from_nanos(age)).unwrap();
                assert_eq!(
                    split.minus_nanos(age),
                    Some(UnixTime::of(earlier)),
                    "{time:?} - {age} ns"
                );
            }
        }
        let first = UnixTime {
            secs: i64::MIN,
            nanos: 5,
        };
        assert_eq!(first.minus_nanos(6), None);
        assert_eq!(first.minus_nanos(5).map(|t| t.nanos), Some(0));
    }
}
