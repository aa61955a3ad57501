//! The free functions a host calls: [`stats`], [`flush`], [`health`],
//! [`status_report`]. Each reads the installed monitor through
//! [`installed::current`](crate::installed::current), never a lock the
//! collector holds while it works.

use std::time::{Duration, SystemTime};

use crate::alerts::Health;
use crate::collector::Control;
use crate::installed::current;
use crate::report::StatusReport;
use crate::stats::StatsSnapshot;
use crate::timestamp::Timestamp;

/// Longest [`stats`] waits for the collector before it answers with the
/// snapshot published at the latest tick (a health endpoint must not hang
/// behind a slow sink).
const STATS_TIMEOUT: Duration = Duration::from_secs(1);

/// A consistent snapshot of every function's statistics. Empty when no
/// monitor is installed. Called from a sink or notifier (on the collector
/// thread), or when the collector is busy for more than a second, it returns
/// the snapshot published at the latest flush or tick (at most 250 ms old).
pub fn stats() -> StatsSnapshot {
    let Some(handle) = current() else {
        return StatsSnapshot::default();
    };
    if crate::collector::on_collector_thread() {
        return handle.published().stats.clone();
    }
    handle
        .request(Control::Snapshot, STATS_TIMEOUT.min(handle.flush_timeout))
        .unwrap_or_else(|| handle.published().stats.clone())
}

/// Flushes the installed monitor, if any (see [`MonitorGuard::flush`]).
pub fn flush() -> bool {
    current().is_some_and(|handle| handle.flush())
}

/// The installed monitor's verdict on itself and on the functions it
/// watches, as of the collector's latest evaluation (every 250 ms, and at
/// every [`flush`](crate::flush)), plus the collector's lag. See [`Health`]
/// for the thresholds.
///
/// Without an installed monitor the verdict is [`Verdict::NotInstalled`](crate::Verdict::NotInstalled),
/// never green: nothing is watched.
///
/// ```
/// let health = monitor_core::health();
/// assert_eq!(health.verdict, monitor_core::Verdict::NotInstalled);
/// assert!(!health.is_green());
/// assert_eq!(health.to_string(), "⚪ not_installed — monitor: not installed (nothing is recorded until `install()` succeeds)");
/// ```
pub fn health() -> Health {
    match current() {
        Some(handle) => handle.alerts.health(),
        None => Health::not_installed(),
    }
}

/// The installed monitor's status report (an empty one without a monitor).
pub fn status_report() -> StatusReport {
    let handle = current();
    let now = handle
        .as_ref()
        .map_or_else(SystemTime::now, |handle| handle.clock.now());
    let stats = stats();
    StatusReport {
        generated_at: Timestamp(now),
        stats,
        health: health(),
        alerts: handle
            .map(|handle| handle.alerts.firing())
            .unwrap_or_default(),
    }
}
