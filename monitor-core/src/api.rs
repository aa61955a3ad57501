//! The free functions a host calls: [`stats`], [`flush`], [`health`],
//! [`running`], [`status_report`], [`stats_window`], [`trend`]. Each reads the installed monitor through
//! [`installed::current`](crate::installed::current), never a lock the
//! collector holds while it works.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::alerts::Health;
use crate::collector::Control;
use crate::installed::current;
use crate::report::StatusReport;
use crate::running::RunningExecution;
use crate::stats::StatsSnapshot;
use crate::timestamp::Timestamp;
use crate::windows::{FunctionTrend, WindowStats};

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

/// The process's resources: the latest sample (resident and virtual
/// memory, CPU time and percent, threads, open file descriptors) and the
/// last hour (see [`Resources`](crate::Resources)). The collector samples
/// once a second; this copies what it has (a short lock, at most 420
/// samples). Empty without a monitor, before the first sample, or on a
/// platform [`OsSampler`](crate::OsSampler) cannot read.
///
/// ```
/// let resources = monitor_core::resources();
/// match &resources.latest {
///     Some(latest) => println!("RSS {} MiB", latest.rss_bytes >> 20),
///     None => assert!(resources.history.is_empty()),
/// }
/// ```
pub fn resources() -> crate::resources::Resources {
    match current() {
        Some(handle) => handle.resources.lock().resources(),
        None => crate::resources::Resources::default(),
    }
}

/// Flushes the installed monitor, if any (see [`MonitorGuard::flush`](crate::MonitorGuard::flush)).
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

/// The alerts firing now and the notifications of the alert history that
/// `query` asks for (by rule, function, severity, time range, episode;
/// newest first, at most its limit).
///
/// The history is kept in `stats.db` (`alert_history`, `alert_episodes`,
/// see QUERIES.md): every notification — firing, reminder, resolved — with
/// the episode it belongs to and that episode's acknowledgement. It
/// includes the notifications the collector has not saved yet. A monitor
/// [`without_stats_db`](crate::MonitorBuilder::without_stats_db) keeps
/// none: the history is an [`AlertsError::Store`](crate::AlertsError::Store)
/// error there (the firing alerts are in
/// [`status_report`]).
///
/// ```no_run
/// use monitor_core::{AlertQuery, AlertRule};
/// let alerts = monitor_core::alerts(&AlertQuery::new().rule(AlertRule::ConsecutiveFailures).limit(10))?;
/// for alert in &alerts.firing {
///     println!("episode {:?}: {alert}", alert.episode());
/// }
/// for notification in &alerts.history {
///     println!("{} {notification}", notification.time);
/// }
/// # Ok::<(), monitor_core::AlertsError>(())
/// ```
pub fn alerts(query: &crate::AlertQuery) -> Result<crate::Alerts, crate::AlertsError> {
    let handle = current().ok_or(crate::AlertsError::NotInstalled)?;
    let firing = handle.alerts.firing();
    let Some(path) = &handle.stats_path else {
        return Err(crate::AlertsError::Store(
            "this monitor keeps no statistics database (without_stats_db), so no alert history"
                .to_owned(),
        ));
    };
    let unsaved = handle.alerts.unsaved_history();
    let history = crate::alerts::read_history(path, query, &unsaved)?;
    Ok(crate::Alerts { firing, history })
}

/// Acknowledges the firing episode `episode` (an [`Alert::episode`](crate::Alert::episode))
/// as `by`, with an optional `note`: its reminders stop until it resolves;
/// it still counts in [`health`] (red or yellow as before), whose reason
/// ends with "(acknowledged by `by`)"; the firing alerts and the history
/// carry the acknowledgement (who, when by the monitor's clock, the note),
/// which `stats.db` keeps across restarts. Acknowledging again replaces it.
///
/// An episode that resolved already is an
/// [`AlertsError::EpisodeResolved`](crate::AlertsError::EpisodeResolved),
/// an id no episode had an
/// [`AlertsError::UnknownEpisode`](crate::AlertsError::UnknownEpisode), an
/// empty or blank `by` an
/// [`AlertsError::NoAcknowledger`](crate::AlertsError::NoAcknowledger).
///
/// ```
/// let err = monitor_core::acknowledge(7, "alice", Some("on it")).unwrap_err();
/// assert_eq!(err, monitor_core::AlertsError::NotInstalled);
/// ```
pub fn acknowledge(episode: u64, by: &str, note: Option<&str>) -> Result<(), crate::AlertsError> {
    let handle = current().ok_or(crate::AlertsError::NotInstalled)?;
    if by.trim().is_empty() {
        return Err(crate::AlertsError::NoAcknowledger);
    }
    if crate::collector::on_collector_thread() {
        return Err(crate::AlertsError::NoAnswer);
    }
    let ack = crate::Acknowledgement::new(by, note, Timestamp(handle.clock.now()));
    handle
        .request(
            |reply| Control::Acknowledge(episode, ack, reply),
            handle.flush_timeout,
        )
        .ok_or(crate::AlertsError::NoAnswer)?
}

/// The alert rules the installed monitor uses now (the defaults without
/// one): what [`set_alert_rules`] and [`set_alert_rules_for`] changed last,
/// else what the builder set.
///
/// ```
/// assert_eq!(monitor_core::alert_rules().global, monitor_core::AlertRules::default());
/// ```
pub fn alert_rules() -> crate::AlertRulesInUse {
    current().map_or_else(Default::default, |handle| handle.alerts.rules())
}

/// Replaces the global alert rules of the installed monitor, without a
/// restart: they apply from the next evaluation (at most 250 ms later, or
/// at the next [`flush`]). Functions with a rule set of their own
/// ([`set_alert_rules_for`], [`alert_rules_for`](crate::MonitorBuilder::alert_rules_for))
/// keep it. Nothing is forgotten: each function's sliding window (its
/// counts move into buckets of the new length when `window` changes), its
/// run of failures and every rule's state stay, so a rule that fires goes on
/// firing (same `since`, reminders as before) if its condition holds under
/// the new rules, and resolves at the next evaluation if not.
///
/// Invalid rules ([`AlertRules::validate`](crate::AlertRules::validate))
/// are an [`AlertsError::InvalidRules`](crate::AlertsError::InvalidRules)
/// and the rules in use stay. The change lasts until the process ends (the
/// builder's rules apply again at the next install).
///
/// ```
/// let err = monitor_core::set_alert_rules(monitor_core::AlertRules::default()).unwrap_err();
/// assert_eq!(err, monitor_core::AlertsError::NotInstalled);
/// ```
pub fn set_alert_rules(rules: crate::AlertRules) -> Result<(), crate::AlertsError> {
    send_rules(rules, None)
}

/// Gives the function `name` (as in the statistics) a whole rule set of its
/// own, replacing the one it had, as [`set_alert_rules`] does for the global
/// rules. Start from [`alert_rules`] to change one value. The monitor's own
/// rules and the memory rules read the global rules only, never a
/// function's.
///
/// ```no_run
/// let mut rules = monitor_core::alert_rules().for_function("scale_ec2").clone();
/// rules.consecutive_failures = 2;
/// monitor_core::set_alert_rules_for("scale_ec2", rules)?;
/// # Ok::<(), monitor_core::AlertsError>(())
/// ```
pub fn set_alert_rules_for(
    name: impl Into<String>,
    rules: crate::AlertRules,
) -> Result<(), crate::AlertsError> {
    send_rules(rules, Some(name.into()))
}

fn send_rules(
    rules: crate::AlertRules,
    function: Option<String>,
) -> Result<(), crate::AlertsError> {
    if let Err(crate::AlertsError::InvalidRules { reason }) = rules.validate() {
        return Err(crate::AlertsError::InvalidRules {
            reason: match &function {
                Some(name) => format!("rules for `{name}`: {reason}"),
                None => reason,
            },
        });
    }
    let handle = current().ok_or(crate::AlertsError::NotInstalled)?;
    if crate::collector::on_collector_thread() {
        // A sink cannot wait for the collector it runs on.
        return Err(crate::AlertsError::NoAnswer);
    }
    handle
        .request(
            |reply| Control::SetAlertRules(rules, function, reply),
            handle.flush_timeout,
        )
        .ok_or(crate::AlertsError::NoAnswer)
}

/// The installed monitor's status report (an empty one without a monitor).
pub fn status_report() -> StatusReport {
    let handle = current();
    let now = handle
        .as_ref()
        .map_or_else(SystemTime::now, |handle| handle.clock.now());
    let stats = stats();
    let running = crate::report::listed_running(&running());
    StatusReport {
        generated_at: Timestamp(now),
        stats,
        health: health(),
        alerts: handle
            .as_ref()
            .map(|handle| handle.alerts.firing())
            .unwrap_or_default(),
        resources: handle.and_then(|handle| handle.resources.lock().latest().cloned()),
        running,
    }
}

/// The executions that have started and not finished, oldest first: sync
/// `#[monitored]` functions while they are on the stack, async ones from
/// their first `Pending` until they complete or are dropped (across threads
/// and `.await`s), and the spans the [`layer`](crate::layer) records, from
/// creation until close. Each carries the id its finished line will carry,
/// its thread, start time, elapsed time and whether it is stuck (see
/// [`AlertRule::StuckExecution`](crate::AlertRule::StuckExecution)).
///
/// The collector samples them when asked (waiting at most a second, like
/// [`stats`]); from a sink or notifier, or when the collector is busy, the
/// answer is its latest sample (at most 250 ms old). Callers pay nothing for
/// this list but a few stores per execution: see ARCHITECTURE.md.
/// Without an installed monitor nothing is recorded: the list is empty.
///
/// ```
/// for execution in monitor_core::running() {
///     println!("{} {} for {:?} on {}{}", execution.id, execution.name, execution.elapsed,
///         execution.thread, if execution.stuck { " (stuck)" } else { "" });
/// }
/// assert!(monitor_core::running().is_empty()); // no monitor installed here
/// ```
pub fn running() -> Vec<RunningExecution> {
    let Some(handle) = current() else {
        return Vec::new();
    };
    let latest = || Arc::clone(&handle.running.lock());
    let sample = if crate::collector::on_collector_thread() {
        latest()
    } else {
        handle
            .request(Control::Running, STATS_TIMEOUT.min(handle.flush_timeout))
            .unwrap_or_else(latest)
    };
    sample.executions.clone()
}

/// Whether a file whose stamp is `file` holds exactly the saves made before
/// the collector took its unsaved rows (stamped `mine`): then the file plus
/// those rows count every execution once.
fn consistent(
    file: Option<monitor_sinks::stats_store::SaveStamp>,
    mine: monitor_sinks::stats_store::SaveStamp,
) -> bool {
    if mine.saves == 0 {
        // Nothing saved by this run yet: the file holds an earlier run's
        // saves (or none), none of the unsaved rows.
        file.is_none_or(|file| file.run != mine.run)
    } else {
        file == Some(mine)
    }
}

/// How many times an in-process read of the roll-ups tries again when the
/// collector saved between taking its unsaved rows and reading the file.
const ROLLUP_READ_ATTEMPTS: usize = 3;

/// The roll-ups of `span` (passing `name`) in this process: what the store
/// holds plus what the collector has not saved yet, each execution once;
/// and the span they cover (its start moved back to a whole hour or day
/// where the store's retention folded the minute or hour rows).
fn rollup_rows(
    handle: &crate::installed::Handle,
    mut span: crate::windows::Span,
    name: Option<&crate::NameFilter>,
) -> (
    Vec<monitor_sinks::stats_store::RollupRow>,
    crate::windows::Span,
) {
    use monitor_sinks::stats_store::RollupReader;

    let matcher = crate::windows::name_match(name);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let unsaved = if crate::collector::on_collector_thread() {
            Arc::clone(&handle.unsaved.lock())
        } else {
            handle
                .request(Control::Rollups, STATS_TIMEOUT.min(handle.flush_timeout))
                .unwrap_or_else(|| Arc::clone(&handle.unsaved.lock()))
        };
        let pending = |span: crate::windows::Span| {
            unsaved
                .all_rows()
                .filter(move |row| span.holds(row) && matcher.matches(&row.name))
                .cloned()
        };
        let (Some(path), Some(stamp)) = (&handle.stats_path, unsaved.stamp) else {
            return (pending(span).collect(), span);
        };
        // The file may not exist yet (or be unreadable): the unsaved rows
        // are all there is then.
        let Ok(read) = RollupReader::open(path).and_then(|mut reader| {
            let folded = reader.folded_before()?;
            span = span.within(folded);
            reader.read_many(&span.ranges(), matcher)
        }) else {
            return (pending(span).collect(), span);
        };
        if consistent(read.stamp, stamp) || attempt >= ROLLUP_READ_ATTEMPTS {
            let mut rows = read.rows;
            rows.extend(pending(span));
            return (rows, span);
        }
    }
}

/// Statistics over the last `window` of the installed monitor's clock, per
/// function and in total: counts by status, success rate, mean, p50, p95,
/// p99 and max (see [`WindowStats`] and [`WindowSummary`](crate::WindowSummary)).
///
/// Answered from the per-minute roll-ups the collector keeps, never by
/// reading the logs: the rows saved in `stats.db` (so a window reaches back
/// across restarts) plus the executions the collector counted and has not
/// saved yet. The window covers whole minutes: from the minute holding
/// `now - window` to the current one. Without a stats database
/// ([`without_stats_db`](crate::MonitorBuilder::without_stats_db)) the
/// roll-ups live in memory for the last 25 hours only (about 200 bytes per
/// function and busy minute).
///
/// Like [`stats`], it asks the collector for its unsaved rows (a copy of a
/// few rows, waiting at most a second) and reads the file on the calling
/// thread. Without an installed monitor the window is empty.
///
/// ```
/// use std::time::Duration;
///
/// let day = monitor_core::stats_window(Duration::from_secs(24 * 3600));
/// for function in &day.functions {
///     let s = &function.summary;
///     println!("{}: {} runs, {:?} ok, p95 {:?} ms", function.name, s.total, s.success_rate, s.p95_ms);
/// }
/// // Without a monitor installed: nothing.
/// assert!(day.functions.is_empty());
/// assert_eq!(day.totals.total, 0);
/// ```
pub fn stats_window(window: Duration) -> WindowStats {
    let handle = current();
    let now = handle
        .as_ref()
        .map_or_else(SystemTime::now, |handle| handle.clock.now());
    let span = crate::windows::Span::window(window, now);
    let (rows, span) = match handle {
        Some(handle) => rollup_rows(&handle, span, None),
        None => (Vec::new(), span),
    };
    crate::windows::window_from_rows(window, span, now, &rows)
}

/// Each function's success rate and p95 per UTC day over the last `days`
/// days of the installed monitor's clock, today (so far) last: one
/// [`TrendPoint`](crate::TrendPoint) per day, also for days without
/// executions (`total` 0, no rate). Functions without any execution in
/// those days are left out.
///
/// Answered from the roll-ups like [`stats_window`]. `days` is at most 3660
/// (a larger number is cut to it); 0 gives an empty list.
///
/// ```
/// let week = monitor_core::trend(7);
/// for function in &week {
///     assert_eq!(function.points.len(), 7);
///     for point in &function.points {
///         println!("{} {}: {:?}", function.name, point.day, point.success_rate);
///     }
/// }
/// assert!(week.is_empty()); // no monitor installed here
/// ```
pub fn trend(days: u32) -> Vec<FunctionTrend> {
    let days = days.min(crate::windows::MAX_TREND_DAYS);
    let Some(handle) = current() else {
        return Vec::new();
    };
    if days == 0 {
        return Vec::new();
    }
    let span = crate::windows::Span::days(days, handle.clock.now());
    // Whole days: the retention never moves the start of a trend.
    let (rows, _) = rollup_rows(&handle, span, None);
    crate::windows::trend_from_rows(span, &rows)
}

#[cfg(test)]
mod tests {
    use super::consistent;
    use monitor_sinks::stats_store::SaveStamp;

    #[test]
    fn the_file_and_the_unsaved_rows_agree_only_on_the_same_saves() {
        let mine = |saves| SaveStamp { run: 5, saves };
        let other_run = SaveStamp { run: 9, saves: 40 };
        // Before this run's first save: any other run's file, or none.
        assert!(consistent(None, mine(0)));
        assert!(consistent(Some(other_run), mine(0)));
        // After it: exactly this run's latest save.
        assert!(consistent(Some(mine(3)), mine(3)));
        // A save committed after the rows were taken: they are in the file
        // too, counting them again would be wrong.
        assert!(!consistent(Some(mine(4)), mine(3)));
        assert!(!consistent(Some(mine(1)), mine(0)));
        // A file another run wrote, or a new empty one (deleted meanwhile).
        assert!(!consistent(Some(other_run), mine(3)));
        assert!(!consistent(None, mine(3)));
    }
}
