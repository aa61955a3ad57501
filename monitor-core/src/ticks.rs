//! The monotonic clock callers read: raw ticks of the fastest source quanta
//! finds (the TSC where it is invariant, else `CLOCK_MONOTONIC`), scaled to
//! nanoseconds only on the collector thread.

use std::sync::OnceLock;
use std::time::Duration;

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// The shared clock; calibrated once (up to ~200 ms), at install.
#[inline(always)]
pub(crate) fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Current raw ticks. Two of these bracket every monitored execution.
#[inline(always)]
pub(crate) fn now() -> u64 {
    clock().raw()
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
