//! Alert history and acknowledgement through the public API: every
//! notification in `stats.db` with its episode, `monitor::alerts()`,
//! `monitor::acknowledge()`, an acknowledgement written by another
//! connection to the store (as `monitor ack` does), and one that survives a
//! restart. An injected clock and `flush()`, no sleeps.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{exclusive, temp_dir};
use monitor::{
    monitored, Alert, AlertQuery, AlertRule, AlertState, AlertsError, ManualClock, Monitor,
    MonitorGuard, Severity, Verdict,
};

const MIN: Duration = Duration::from_secs(60);

#[monitored(name = "hist_job")]
fn hist_job(fail: bool) -> Result<(), String> {
    if fail {
        Err("connection refused".into())
    } else {
        Ok(())
    }
}

#[monitored(name = "hist_other")]
fn hist_other(fail: bool) -> Result<(), String> {
    if fail {
        Err("connection refused".into())
    } else {
        Ok(())
    }
}

type Seen = Arc<Mutex<Vec<Alert>>>;

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 8 * 3600)
}

fn install(dir: &std::path::Path, clock: &ManualClock) -> (MonitorGuard, Seen) {
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let guard = Monitor::builder()
        .log_dir(dir)
        .clock(clock.clone())
        .alert_tracing_events(false)
        .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()))
        .install()
        .unwrap();
    (guard, seen)
}

fn of_rule(seen: &Seen, rule: AlertRule) -> Vec<Alert> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|a| a.rule == rule)
        .cloned()
        .collect()
}

/// What the history keeps of a notification (times to the microsecond).
type Key = (Option<u64>, String, bool, Option<String>, String, u128);

fn key(alert: &Alert) -> Key {
    (
        alert.episode(),
        alert.state.to_string(),
        alert.reminder,
        alert.function.clone(),
        alert.message.clone(),
        alert
            .since
            .0
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
}

fn keys(alerts: &[Alert]) -> Vec<Key> {
    alerts.iter().map(key).collect()
}

fn fail_five(f: fn(bool) -> Result<(), String>) {
    for _ in 0..5 {
        f(true).unwrap_err();
    }
}

#[test]
fn every_notification_is_in_the_history_with_the_episode_of_its_firing() {
    let _lock = exclusive();
    let dir = temp_dir("hist-episodes");
    let clock = ManualClock::new(start());
    let (guard, seen) = install(&dir, &clock);

    fail_five(hist_job);
    assert!(guard.flush());
    clock.advance(61 * MIN);
    assert!(guard.flush()); // the reminder
    hist_job(false).unwrap();
    assert!(guard.flush()); // resolved
    fail_five(hist_job);
    clock.advance(61 * MIN);
    assert!(guard.flush()); // a second episode
    fail_five(hist_other);
    assert!(guard.flush());

    let notified = of_rule(&seen, AlertRule::ConsecutiveFailures);
    assert_eq!(notified.len(), 5, "{notified:#?}");
    let first = notified[0].episode().expect("an episode");
    assert_eq!(notified[1].episode(), Some(first), "the reminder");
    assert!(notified[1].reminder);
    assert_eq!(notified[2].episode(), Some(first), "the resolution");
    assert_eq!(notified[2].state, AlertState::Resolved);
    let second = notified[3].episode().unwrap();
    assert_ne!(second, first);
    assert_ne!(notified[4].episode(), Some(second), "another function");

    // The whole history, newest first, as notified (saved or not).
    let all = monitor::alerts(&AlertQuery::new().rule(AlertRule::ConsecutiveFailures)).unwrap();
    let mut expected = notified.clone();
    expected.reverse();
    assert_eq!(keys(&all.history), keys(&expected));
    assert_eq!(all.history[0].numbers, expected[0].numbers);
    assert_eq!(all.history[0].execution_id(), expected[0].execution_id());
    // Firing now: the second episode of hist_job and hist_other's.
    let firing: Vec<(Option<String>, Option<u64>)> = all
        .firing
        .iter()
        .filter(|a| a.rule == AlertRule::ConsecutiveFailures)
        .map(|a| (a.function.clone(), a.episode()))
        .collect();
    assert_eq!(
        firing,
        vec![
            (Some("hist_job".into()), Some(second)),
            (Some("hist_other".into()), notified[4].episode())
        ]
    );

    // Filters: function, severity, time range, limit, episode.
    let job = monitor::alerts(
        &AlertQuery::new()
            .function("hist_job")
            .rule(AlertRule::ConsecutiveFailures),
    )
    .unwrap();
    assert_eq!(job.history.len(), 4);
    let errors = monitor::alerts(&AlertQuery::new().min_severity(Severity::Error)).unwrap();
    assert!(errors.history.iter().all(|a| a.severity >= Severity::Error));
    assert_eq!(errors.history.len(), 5);
    let infos = monitor::alerts(&AlertQuery::new().min_severity(Severity::Info)).unwrap();
    assert!(
        infos.history.len() > 5,
        "new_error_pattern notices are info"
    );
    let late = monitor::alerts(
        &AlertQuery::new()
            .rule(AlertRule::ConsecutiveFailures)
            .since(start() + 90 * MIN),
    )
    .unwrap();
    assert_eq!(keys(&late.history), keys(&expected[..2]));
    let early = monitor::alerts(
        &AlertQuery::new()
            .rule(AlertRule::ConsecutiveFailures)
            .until(start() + MIN),
    )
    .unwrap();
    assert_eq!(keys(&early.history), keys(&notified[..1]));
    let two = monitor::alerts(
        &AlertQuery::new()
            .rule(AlertRule::ConsecutiveFailures)
            .limit(2),
    )
    .unwrap();
    assert_eq!(keys(&two.history), keys(&expected[..2]));
    let episode = monitor::alerts(&AlertQuery::new().episode(first)).unwrap();
    assert_eq!(episode.history.len(), 3);

    // In stats.db: one row per notification, their episodes.
    drop(guard);
    let db = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    let rows: i64 = db
        .query_row(
            "SELECT count(*) FROM alert_history WHERE rule = 'consecutive_failures'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(rows, 5);
    let resolved: Option<String> = db
        .query_row(
            "SELECT resolved_at FROM alert_episodes WHERE episode = ?1",
            [first as i64],
            |row| row.get(0),
        )
        .unwrap();
    assert!(resolved.is_some());
    // The alerts log carries the episode too.
    let lines = common::read_json_lines(&dir.join("alerts/current_alerts.log"));
    assert!(lines
        .iter()
        .filter(|l| l["rule"] == "consecutive_failures")
        .all(|l| l["episode"].is_u64()));
}

#[test]
fn an_acknowledged_episode_stops_reminding_and_health_says_who() {
    let _lock = exclusive();
    let dir = temp_dir("hist-ack");
    let clock = ManualClock::new(start());
    let (guard, seen) = install(&dir, &clock);
    fail_five(hist_job);
    assert!(guard.flush());
    let episode = of_rule(&seen, AlertRule::ConsecutiveFailures)[0]
        .episode()
        .unwrap();

    assert_eq!(
        monitor::acknowledge(episode + 1000, "alice", None),
        Err(AlertsError::UnknownEpisode(episode + 1000))
    );
    monitor::acknowledge(episode, "alice", Some("rotating the credentials")).unwrap();
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("hist_job") && r.contains("acknowledged by alice")),
        "{health}"
    );
    let firing = monitor::alerts(&AlertQuery::new()).unwrap().firing;
    let ack = firing
        .iter()
        .find(|a| a.episode() == Some(episode))
        .and_then(|a| a.acknowledged())
        .expect("acknowledged")
        .clone();
    assert_eq!(ack.by, "alice");
    assert_eq!(ack.note.as_deref(), Some("rotating the credentials"));
    assert_eq!(ack.at.0, start());

    // No reminder however long it fires.
    for _ in 0..3 {
        clock.advance(61 * MIN);
        assert!(guard.flush());
    }
    assert_eq!(of_rule(&seen, AlertRule::ConsecutiveFailures).len(), 1);
    // The resolution is notified, and carries the acknowledgement.
    hist_job(false).unwrap();
    assert!(guard.flush());
    let notified = of_rule(&seen, AlertRule::ConsecutiveFailures);
    assert_eq!(notified.len(), 2);
    assert_eq!(notified[1].state, AlertState::Resolved);
    assert_eq!(
        notified[1].acknowledged().map(|a| a.by.as_str()),
        Some("alice")
    );
    assert!(monitor::health()
        .reasons
        .iter()
        .all(|r| !r.contains("acknowledged")));
    // The history says who acknowledged it.
    assert!(guard.flush());
    let history = monitor::alerts(&AlertQuery::new().episode(episode))
        .unwrap()
        .history;
    assert_eq!(history.len(), 2);
    assert!(
        history.iter().all(|a| a.acknowledged() == Some(&ack)),
        "{history:#?}"
    );
    assert_eq!(
        monitor::acknowledge(episode, "bob", None),
        Err(AlertsError::EpisodeResolved(episode))
    );
    drop(guard);
}

#[test]
fn an_acknowledgement_that_names_nobody_is_refused() {
    let _lock = exclusive();
    let dir = temp_dir("hist-ack-nobody");
    let clock = ManualClock::new(start());
    let (guard, seen) = install(&dir, &clock);
    fail_five(hist_job);
    assert!(guard.flush());
    let episode = of_rule(&seen, AlertRule::ConsecutiveFailures)[0]
        .episode()
        .unwrap();
    for by in ["", "   "] {
        assert_eq!(
            monitor::acknowledge(episode, by, Some("on it")),
            Err(AlertsError::NoAcknowledger),
            "{by:?}"
        );
        assert_eq!(
            monitor::query::LogDir::open(&dir)
                .unwrap()
                .acknowledge(episode, by, None, start()),
            Err(AlertsError::NoAcknowledger),
            "{by:?}"
        );
    }
    assert!(guard.flush());
    let firing = monitor::alerts(&AlertQuery::new()).unwrap().firing;
    let alert = firing
        .iter()
        .find(|a| a.rule == AlertRule::ConsecutiveFailures)
        .unwrap();
    assert_eq!(alert.acknowledged(), None);
    drop(guard);
}

#[test]
fn an_acknowledgement_written_by_another_connection_reaches_the_host() {
    let _lock = exclusive();
    let dir = temp_dir("hist-ack-store");
    let clock = ManualClock::new(start());
    let (guard, seen) = install(&dir, &clock);
    fail_five(hist_job);
    assert!(guard.flush());
    let episode = of_rule(&seen, AlertRule::ConsecutiveFailures)[0]
        .episode()
        .unwrap();
    // What `monitor ack` does: a second writer on stats.db.
    let outcome = monitor_sinks::stats_store::acknowledge_episode(
        &dir.join("stats.db"),
        episode as i64,
        "carol",
        Some("from the CLI"),
        "2024-10-04T08:00:00.000000Z",
    )
    .unwrap();
    assert!(matches!(
        outcome,
        monitor_sinks::stats_store::AckOutcome::Acknowledged(_)
    ));
    // The host takes it up at its next tick (a flush runs one).
    assert!(guard.flush());
    assert!(
        monitor::health()
            .reasons
            .iter()
            .any(|r| r.contains("acknowledged by carol")),
        "{}",
        monitor::health()
    );
    clock.advance(61 * MIN);
    assert!(guard.flush());
    assert_eq!(
        of_rule(&seen, AlertRule::ConsecutiveFailures).len(),
        1,
        "no reminder"
    );
    drop(guard);
}

#[test]
fn the_later_of_an_in_process_and_a_cli_acknowledgement_wins_in_the_host_and_the_file() {
    let _lock = exclusive();
    let dir = temp_dir("hist-ack-both");
    let clock = ManualClock::new(start());
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    // No save between the two acknowledgements but the ones they cause.
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .alert_tracing_events(false)
        .stats_save_interval(Duration::from_secs(24 * 3600))
        .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()))
        .install()
        .unwrap();
    fail_five(hist_job);
    assert!(guard.flush());
    let episode = of_rule(&seen, AlertRule::ConsecutiveFailures)[0]
        .episode()
        .unwrap();
    monitor::acknowledge(episode, "alice", None).unwrap();
    // Then `monitor ack` from another process.
    let outcome = monitor_sinks::stats_store::acknowledge_episode(
        &dir.join("stats.db"),
        episode as i64,
        "bob",
        None,
        "2024-10-04T08:00:00.000000Z",
    )
    .unwrap();
    assert!(matches!(
        outcome,
        monitor_sinks::stats_store::AckOutcome::Acknowledged(_)
    ));
    assert!(guard.flush());
    let firing = monitor::alerts(&AlertQuery::new()).unwrap().firing;
    let alert = firing
        .iter()
        .find(|a| a.rule == AlertRule::ConsecutiveFailures)
        .unwrap();
    assert_eq!(alert.acknowledged().unwrap().by, "bob");
    let stored = monitor_sinks::stats_store::read_episode(&dir.join("stats.db"), episode as i64)
        .unwrap()
        .unwrap();
    assert_eq!(stored.acknowledged_by.as_deref(), Some("bob"), "{stored:?}");
    drop(guard);
}

#[test]
fn an_acknowledgement_survives_a_restart() {
    let _lock = exclusive();
    let dir = temp_dir("hist-ack-restart");
    let clock = ManualClock::new(start());
    let episode = {
        let (guard, seen) = install(&dir, &clock);
        fail_five(hist_job);
        assert!(guard.flush());
        let episode = of_rule(&seen, AlertRule::ConsecutiveFailures)[0]
            .episode()
            .unwrap();
        monitor::acknowledge(episode, "dave", Some("known outage")).unwrap();
        episode
    };
    clock.advance(2 * 61 * MIN);
    let (guard, seen) = install(&dir, &clock);
    assert!(guard.flush());
    clock.advance(61 * MIN);
    assert!(guard.flush());
    assert!(
        of_rule(&seen, AlertRule::ConsecutiveFailures).is_empty(),
        "no reminder after the restart"
    );
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("acknowledged by dave")),
        "{health}"
    );
    let firing = monitor::alerts(&AlertQuery::new()).unwrap().firing;
    let alert = firing
        .iter()
        .find(|a| a.rule == AlertRule::ConsecutiveFailures)
        .unwrap();
    assert_eq!(alert.episode(), Some(episode));
    assert_eq!(
        alert.acknowledged().unwrap().note.as_deref(),
        Some("known outage")
    );
    // The resolution after the restart closes the same episode.
    hist_job(false).unwrap();
    assert!(guard.flush());
    let resolved = of_rule(&seen, AlertRule::ConsecutiveFailures);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    assert_eq!(resolved[0].episode(), Some(episode));
    // A new episode after the restart gets a new id.
    clock.advance(61 * MIN);
    fail_five(hist_job);
    assert!(guard.flush());
    let next = of_rule(&seen, AlertRule::ConsecutiveFailures)[1]
        .episode()
        .unwrap();
    assert!(next > episode);
    drop(guard);
}

#[test]
fn without_a_monitor_or_a_store_the_history_is_an_error() {
    let _lock = exclusive();
    assert_eq!(
        monitor::alerts(&AlertQuery::new()).unwrap_err(),
        AlertsError::NotInstalled
    );
    let dir = temp_dir("hist-no-store");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .install()
        .unwrap();
    let err = monitor::alerts(&AlertQuery::new()).unwrap_err();
    assert!(matches!(err, AlertsError::Store(_)), "{err:?}");
    drop(guard);
}
