//! The collector's half of an [`ExecutionId`]: the run number and the start
//! time in milliseconds.
//!
//! The start time is a function of the execution's start tick alone, so the
//! same execution always gets the same id, whoever asks and when (the
//! finished line, or a sample of a running execution): an anchor (a wall
//! time and the tick read with it, taken at install) gives
//! `start ms = anchor wall + (start tick − anchor tick)`, scaled to
//! milliseconds. The logged `timestamp` is computed otherwise (the monitor's
//! clock when the event is processed, minus its age), so the two can drift
//! apart when the wall clock jumps (or an injected `ManualClock` is moved);
//! when they differ by more than [`REANCHOR_AFTER`], the anchor moves to the
//! event's own (timestamp, start tick) and ids are within a second of their
//! lines' timestamps again.

use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::execution_id::ExecutionId;
use crate::local_id::LocalId;
use crate::ticks;

/// How far an id's time may stray from the logged timestamp before the
/// anchor is taken again.
pub(crate) const REANCHOR_AFTER: Duration = Duration::from_secs(1);

/// Run number and anchor of one installed monitor.
pub(crate) struct IdClock {
    run: u32,
    /// Nanoseconds since the Unix epoch at `anchor_tick` (may be negative
    /// with a clock set before 1970).
    anchor_nanos: i128,
    anchor_tick: u64,
}

impl IdClock {
    /// A new run: a random run number, anchored at `wall` (the monitor's
    /// clock) and the tick read now.
    pub(crate) fn new(wall: SystemTime) -> Self {
        IdClock {
            run: random_run(),
            anchor_nanos: nanos_since_epoch(wall),
            anchor_tick: ticks::now(),
        }
    }

    /// The run number of this installed monitor.
    #[cfg(test)]
    pub(crate) fn run(&self) -> u32 {
        self.run
    }

    /// The start time (ns since the epoch) the anchor gives `start_tick`.
    fn derived_nanos(&self, start_tick: u64) -> i128 {
        if start_tick >= self.anchor_tick {
            self.anchor_nanos + i128::from(ticks::nanos_between(self.anchor_tick, start_tick))
        } else {
            self.anchor_nanos - i128::from(ticks::nanos_between(start_tick, self.anchor_tick))
        }
    }

    /// The wall time the anchor gives `start_tick` (the monitor's clock).
    pub(crate) fn wall_of(&self, start_tick: u64) -> SystemTime {
        let nanos = self.derived_nanos(start_tick);
        if nanos >= 0 {
            UNIX_EPOCH + Duration::from_nanos(nanos.min(u64::MAX as i128) as u64)
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::from_nanos((-nanos).min(u64::MAX as i128) as u64))
                .unwrap_or(UNIX_EPOCH)
        }
    }

    /// The id the anchor gives the execution that started at `start_tick`
    /// as `local` (a running one), without moving the anchor.
    pub(crate) fn peek(&self, start_tick: u64, local: LocalId) -> ExecutionId {
        let ms = self.derived_nanos(start_tick).div_euclid(1_000_000).max(0) as u64;
        ExecutionId::from_parts(ms, self.run, local.thread, local.sequence)
    }

    /// The id of the execution that started at `start_tick` as `local`,
    /// logged as started at `started`; moves the anchor first if the two
    /// times are more than [`REANCHOR_AFTER`] apart.
    #[cfg(test)]
    pub(crate) fn id(
        &mut self,
        start_tick: u64,
        local: LocalId,
        started: SystemTime,
    ) -> ExecutionId {
        self.id_logged_at(start_tick, local, nanos_since_epoch(started))
    }

    /// [`id`](Self::id), with the logged start time in nanoseconds since
    /// the epoch.
    pub(crate) fn id_logged_at(
        &mut self,
        start_tick: u64,
        local: LocalId,
        logged: i128,
    ) -> ExecutionId {
        let mut derived = self.derived_nanos(start_tick);
        if (derived - logged).unsigned_abs() > REANCHOR_AFTER.as_nanos() {
            self.anchor_nanos = logged;
            self.anchor_tick = start_tick;
            derived = logged;
        }
        // Before the epoch: 0. Dividing a u64 when it fits (the usual case)
        // instead of an i128.
        let ms = match u64::try_from(derived) {
            Ok(nanos) => nanos / 1_000_000,
            Err(_) => derived.div_euclid(1_000_000).max(0) as u64,
        };
        ExecutionId::from_parts(ms, self.run, local.thread, local.sequence)
    }
}

fn nanos_since_epoch(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// A random 32-bit run number, without a dependency: std's randomly keyed
/// hasher over the process id and the time.
fn random_run() -> u32 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .hash(&mut hasher);
    ticks::now().hash(&mut hasher);
    let value = hasher.finish();
    (value ^ value >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_start_tick_gets_the_same_time_until_the_clocks_part() {
        let wall = UNIX_EPOCH + Duration::from_secs(1_765_000_000);
        let mut clock = IdClock::new(wall);
        let tick = clock.anchor_tick;
        let local = LocalId {
            thread: 3,
            sequence: 9,
        };
        let first = clock.id(tick, local, wall + Duration::from_millis(400));
        assert_eq!(
            first.start_ms(),
            1_765_000_000_000,
            "derived from the anchor"
        );
        assert_eq!(clock.id(tick, local, wall), first);
        assert_eq!((first.thread_number(), first.sequence()), (3, 9));
        assert_eq!(first.run(), clock.run());
        // The wall clock jumped an hour ahead: the anchor follows it.
        let later = wall + Duration::from_secs(3_600);
        let jumped = clock.id(tick, local, later);
        assert_eq!(jumped.start_ms(), 1_765_003_600_000);
        assert_eq!(clock.id(tick, local, later), jumped);
    }

    #[test]
    fn each_install_draws_its_own_run_number() {
        let runs: std::collections::HashSet<u32> = (0..8).map(|_| random_run()).collect();
        assert!(runs.len() >= 7, "{runs:?}");
    }
}
