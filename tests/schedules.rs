//! `every = "…"` schedules and the `missed_schedule` rule, end to end: an
//! injected clock, restarts on one `stats.db`, `flush()`, and what `on_alert`,
//! `health()`, `stats()`, the status report and the database see. No sleeps.
//!
//! Every `#[monitored(every = "…")]` function of this binary is known from
//! `install()` on, whether a test calls it or not; each test watches the
//! schedules it is about and turns the rule off for the others.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{exclusive, temp_dir};
use monitor::{
    monitored, Alert, AlertRule, AlertState, ManualClock, Monitor, MonitorBuilder, Verdict,
};

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

#[monitored(name = "hourly_report", every = "1h")]
fn hourly_report() {}

/// Never called by any test: a job whose scheduler died before its first run.
#[monitored(name = "never_called", every = "2s")]
fn never_called() {}

#[monitored(name = "retired_job", every = "1s")]
fn retired_job() {}

/// Named `schedules::sweep` (no `name = "…"`): known before its first call too.
#[monitored(every = "10m")]
fn sweep() {}

/// Every declared schedule of this binary.
const SCHEDULED: [&str; 4] = [
    "hourly_report",
    "never_called",
    "retired_job",
    "schedules::sweep",
];

/// Every notification `on_alert` received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Alert>>>);

impl Received {
    fn all(&self) -> Vec<Alert> {
        self.0.lock().unwrap().clone()
    }

    /// The `missed_schedule` notifications about `function`.
    fn missed(&self, function: &str) -> Vec<Alert> {
        self.all()
            .into_iter()
            .filter(|a| a.rule == AlertRule::MissedSchedule)
            .filter(|a| a.function.as_deref() == Some(function))
            .collect()
    }
}

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 10 * 3600)
}

/// A builder on `dir` with `clock` and an `on_alert` that collects; the
/// `missed_schedule` rule is off for every declared schedule but `watched`.
fn watching(
    dir: &std::path::Path,
    clock: &ManualClock,
    watched: &[&str],
) -> (MonitorBuilder, Received) {
    let received = Received::default();
    let sink = received.clone();
    let mut builder = Monitor::builder()
        .log_dir(dir)
        .clock(clock.clone())
        .on_alert(move |alert: &Alert| sink.0.lock().unwrap().push(alert.clone()));
    for name in SCHEDULED.iter().filter(|name| !watched.contains(name)) {
        builder = builder.alert_rules_for(*name, |rules| {
            rules.disabled.insert(AlertRule::MissedSchedule);
        });
    }
    (builder, received)
}

fn stored_next_run(dir: &std::path::Path, name: &str) -> Option<String> {
    rusqlite::Connection::open(dir.join("stats.db"))
        .unwrap()
        .query_row(
            "SELECT next_scheduled_time FROM function_stats WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .unwrap()
}

#[test]
fn a_missed_schedule_fires_after_interval_plus_grace_and_resolves_on_the_next_run() {
    let _lock = exclusive();
    let dir = temp_dir("schedules-hourly");
    let clock = ManualClock::new(start());
    let (builder, received) = watching(&dir, &clock, &["hourly_report"]);
    let guard = builder.install().unwrap();
    hourly_report();
    assert!(guard.flush());
    // Due one hour after it ran; the grace is min(1 min, 25 % of 1 h) = 1 min.
    clock.advance(60 * MIN + MIN - Duration::from_secs(1));
    assert!(guard.flush());
    assert!(received.missed("hourly_report").is_empty());
    clock.advance(Duration::from_secs(2));
    assert!(guard.flush());
    let missed = received.missed("hourly_report");
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].state, AlertState::Firing);
    assert!(
        missed[0]
            .message
            .starts_with("hourly_report: did not run when due: declared every 1 h"),
        "{}",
        missed[0]
    );
    assert_eq!(monitor::health().verdict, Verdict::Red);
    clock.advance(10 * MIN);
    assert!(guard.flush());
    assert_eq!(received.missed("hourly_report").len(), 1);
    hourly_report();
    assert!(guard.flush());
    let missed = received.missed("hourly_report");
    assert_eq!(missed.len(), 2);
    assert_eq!(missed[1].state, AlertState::Resolved);
    assert!(
        missed[1].message.starts_with("hourly_report: ran again"),
        "{}",
        missed[1]
    );
    assert_eq!(
        monitor::health().verdict,
        Verdict::Green,
        "{}",
        monitor::health()
    );
}

#[test]
fn a_function_never_called_is_known_from_install_and_alerts_when_its_first_run_is_missed() {
    let _lock = exclusive();
    let dir = temp_dir("schedules-never-called");
    let clock = ManualClock::new(start());
    let (builder, received) = watching(&dir, &clock, &["never_called", "schedules::sweep"]);
    let guard = builder.install().unwrap();
    assert!(guard.flush());

    // Known before any call: a row, a line in the report, a due time.
    let stats = monitor::stats();
    let never = stats
        .get("never_called")
        .unwrap_or_else(|| panic!("no row for never_called in {stats:#?}"));
    assert_eq!(never.total_executions, 0);
    assert_eq!(
        never.next_scheduled_time.map(|t| t.0),
        Some(start() + Duration::from_secs(2)),
        "due one interval after install"
    );
    let swept = stats.get("schedules::sweep").expect("named without `name`");
    assert_eq!(
        swept.next_scheduled_time.map(|t| t.0),
        Some(start() + 10 * MIN)
    );
    assert!(
        stored_next_run(&dir, "never_called").is_some(),
        "a row in stats.db"
    );
    let report = monitor::status_report().to_string();
    assert!(
        report.lines().any(|line| line.contains("never_called")),
        "{report}"
    );
    assert_eq!(monitor::health().verdict, Verdict::Green);

    // `every = "2s"`: the grace is min(1 min, 25 % of 2 s) = 500 ms.
    clock.advance(Duration::from_millis(2_499));
    assert!(guard.flush());
    assert!(
        received.missed("never_called").is_empty(),
        "{:#?}",
        received.all()
    );
    clock.advance(Duration::from_millis(2));
    assert!(guard.flush());
    let missed = received.missed("never_called");
    assert_eq!(missed.len(), 1, "{:#?}", received.all());
    assert_eq!(missed[0].state, AlertState::Firing);
    assert!(
        missed[0].message.contains("declared every 2 s"),
        "{}",
        missed[0]
    );
    assert!(received.missed("schedules::sweep").is_empty());
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert!(
        monitor::status_report()
            .alerts
            .iter()
            .any(|alert| alert.function.as_deref() == Some("never_called")),
        "the report lists the firing alert"
    );

    // `every = "10m"`: the grace is the 1 min cap.
    clock.advance(10 * MIN + MIN - Duration::from_secs(3));
    assert!(guard.flush());
    assert!(received.missed("schedules::sweep").is_empty());
    clock.advance(Duration::from_secs(2));
    assert!(guard.flush());
    assert_eq!(received.missed("schedules::sweep").len(), 1);

    // Its first run resolves it.
    sweep();
    assert!(guard.flush());
    let missed = received.missed("schedules::sweep");
    assert_eq!(missed.len(), 2);
    assert_eq!(missed[1].state, AlertState::Resolved);
    drop(guard);
}

#[test]
fn a_job_that_ran_in_the_previous_run_and_not_since_alerts_after_a_restart() {
    let _lock = exclusive();
    let dir = temp_dir("schedules-restart");
    let clock = ManualClock::new(start());
    let (builder, received) = watching(&dir, &clock, &["hourly_report"]);
    let guard = builder.install().unwrap();
    hourly_report();
    assert!(guard.flush());
    drop(guard);
    assert!(received.missed("hourly_report").is_empty());
    assert!(stored_next_run(&dir, "hourly_report").is_some());

    // The process restarts half an hour later and nothing runs the job.
    let later = ManualClock::new(start() + 30 * MIN);
    let (builder, received) = watching(&dir, &later, &["hourly_report"]);
    let guard = builder.install().unwrap();
    assert!(guard.flush());
    // Due an hour after it ran (it started a moment before the clock's reading
    // at flush), not an interval after the restart.
    let due = monitor::stats()
        .get("hourly_report")
        .and_then(|s| s.next_scheduled_time)
        .expect("the stored due time")
        .0;
    let ran_at = due - HOUR;
    assert!(
        ran_at <= start() && start() - Duration::from_secs(1) < ran_at,
        "due {due:?}: the stored due time is kept"
    );
    later.advance(30 * MIN + MIN - Duration::from_secs(2));
    assert!(guard.flush());
    assert!(received.missed("hourly_report").is_empty());
    later.advance(Duration::from_secs(3));
    assert!(guard.flush());
    let missed = received.missed("hourly_report");
    assert_eq!(missed.len(), 1, "{:#?}", received.all());
    assert_eq!(missed[0].state, AlertState::Firing);
    assert_eq!(missed[0].since.0, due);
    assert_eq!(monitor::health().verdict, Verdict::Red);
}

#[test]
fn a_schedule_stored_by_an_earlier_run_and_no_longer_declared_does_not_fire() {
    let _lock = exclusive();
    let dir = temp_dir("schedules-stale");
    let clock = ManualClock::new(start());
    let (builder, received) = watching(&dir, &clock, &[]);
    let guard = builder.install().unwrap();
    retired_job();
    assert!(guard.flush());
    drop(guard);
    assert!(received.all().is_empty());
    assert!(
        stored_next_run(&dir, "retired_job").is_some(),
        "the store keeps when it was due next"
    );
    // The next build of the host no longer declares it (deleted, renamed, or
    // its `every` removed): its row stays, under a name no callsite has.
    rusqlite::Connection::open(dir.join("stats.db"))
        .unwrap()
        .execute(
            "UPDATE function_stats SET name = 'removed_job' WHERE name = 'retired_job'",
            [],
        )
        .unwrap();

    let later = ManualClock::new(start() + 24 * HOUR);
    let (builder, received) = watching(&dir, &later, &["removed_job"]);
    let guard = builder.install().unwrap();
    assert!(guard.flush());
    later.advance(10 * MIN);
    assert!(guard.flush());
    assert!(
        monitor::stats().get("removed_job").is_some(),
        "its statistics were loaded"
    );
    assert!(
        received.missed("removed_job").is_empty(),
        "{:#?}",
        received.all()
    );
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Green, "{health}");
}
