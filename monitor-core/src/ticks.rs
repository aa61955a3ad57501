//! The monotonic clock callers read: raw ticks of the fastest source quanta
//! finds (the TSC where it is invariant, else `CLOCK_MONOTONIC`), scaled to
//! nanoseconds only on the collector thread.
//!
//! `quanta::Clock::raw` is not inlined across crates, so on x86_64, once we
//! know quanta reads the TSC, callers execute `rdtsc` themselves: the same
//! raw units, without two calls per monitored execution.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
/// True once the calibrated clock's raw ticks are known to be the TSC.
static RAW_IS_TSC: AtomicBool = AtomicBool::new(false);

/// The shared clock; calibrated once (up to ~200 ms), at install.
#[inline(always)]
pub(crate) fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        RAW_IS_TSC.store(raw_reads_the_tsc(&clock), Ordering::Relaxed);
        clock
    })
}

/// Current raw ticks. Two of these bracket every monitored execution.
#[inline(always)]
pub(crate) fn now() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if RAW_IS_TSC.load(Ordering::Relaxed) {
        // SAFETY: `rdtsc` exists on every x86_64 CPU and only reads the time
        // stamp counter; the cfg above guarantees the target.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    clock().raw()
}

/// Whether `clock.raw()` returns the TSC: its reading must fall between two
/// `rdtsc` reads taken around it (a `CLOCK_MONOTONIC` nanosecond count does
/// not, as the TSC runs at GHz rates from boot).
fn raw_reads_the_tsc(clock: &quanta::Clock) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        (0..3).all(|_| {
            // SAFETY: see `now`.
            let before = unsafe { core::arch::x86_64::_rdtsc() };
            let raw = clock.raw();
            // SAFETY: see `now`.
            let after = unsafe { core::arch::x86_64::_rdtsc() };
            before <= raw && raw <= after
        })
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let _ = clock;
        false
    }
}

/// Nanoseconds from `start` to `end` (zero if `end` is not later: ticks read on
/// different cores can disagree by a few cycles).
#[inline]
pub(crate) fn nanos_between(start: u64, end: u64) -> u64 {
    clock().delta_as_nanos(start, end)
}

/// [`nanos_between`] as a `Duration`.
pub(crate) fn duration_between(start: u64, end: u64) -> Duration {
    Duration::from_nanos(nanos_between(start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_scale_to_plausible_durations() {
        let start = now();
        std::thread::sleep(Duration::from_millis(20)); // work being timed, not synchronisation
        let elapsed = duration_between(start, now());
        assert!(elapsed >= Duration::from_millis(15), "{elapsed:?}");
        assert_eq!(
            nanos_between(now(), start),
            0,
            "ticks never run backwards into a duration"
        );
    }
}
