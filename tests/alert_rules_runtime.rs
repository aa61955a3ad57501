//! Alert rules changed while the host runs (`set_alert_rules`,
//! `set_alert_rules_for`): they apply at the next evaluation, the windows'
//! counts and the rules' states stay, bad rules are refused and the old ones
//! kept. An injected clock and `flush()`, no sleeps.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use common::{exclusive, temp_dir};
use monitor::{
    monitored, Alert, AlertRule, AlertRules, AlertState, AlertsError, ManualClock, Monitor,
};

#[monitored(name = "rt_rate_job")]
fn rate_job(fail: bool) -> Result<(), String> {
    if fail {
        Err("upstream said 503".into())
    } else {
        Ok(())
    }
}

#[monitored(name = "rt_streak_job")]
fn streak_job() -> Result<(), String> {
    Err("disk quota exceeded".into())
}

#[monitored(name = "rt_other_job")]
fn other_job() -> Result<(), String> {
    Err("disk quota exceeded".into())
}

type Seen = Arc<Mutex<Vec<Alert>>>;

fn install(name: &str) -> (monitor::MonitorGuard, ManualClock, Seen) {
    let dir = temp_dir(name);
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(20_000 * 86_400));
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .alert_tracing_events(false)
        .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()))
        .install()
        .unwrap();
    (guard, clock, seen)
}

fn count(seen: &Seen, rule: AlertRule, function: &str, state: AlertState) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|a| a.rule == rule && a.function.as_deref() == Some(function) && a.state == state)
        .count()
}

#[test]
fn a_lower_error_rate_threshold_fires_on_the_executions_already_in_the_window() {
    let _lock = exclusive();
    let (guard, _clock, seen) = install("rt-rules-window");
    // 12 executions, 4 failures (33 %): below the default threshold (50 %).
    for i in 0..12 {
        let _ = rate_job(i % 3 == 0);
    }
    assert!(guard.flush());
    assert_eq!(
        count(
            &seen,
            AlertRule::HighErrorRate,
            "rt_rate_job",
            AlertState::Firing
        ),
        0
    );

    monitor::set_alert_rules(AlertRules {
        error_rate_threshold: 0.25,
        ..AlertRules::default()
    })
    .unwrap();
    assert_eq!(monitor::alert_rules().global.error_rate_threshold, 0.25);
    // No new execution: the window kept its 12, and the next evaluation fires.
    assert!(guard.flush());
    let fired: Vec<Alert> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.rule == AlertRule::HighErrorRate && a.state == AlertState::Firing)
        .cloned()
        .collect();
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].number("executions"), Some(12.0));
    assert_eq!(fired[0].number("failures"), Some(4.0));

    // Back to the default: the condition no longer holds, the rule resolves.
    monitor::set_alert_rules(AlertRules::default()).unwrap();
    assert!(guard.flush());
    assert_eq!(
        count(
            &seen,
            AlertRule::HighErrorRate,
            "rt_rate_job",
            AlertState::Resolved
        ),
        1
    );
    drop(guard);
}

#[test]
fn a_longer_window_keeps_the_counts_and_a_firing_rule_keeps_its_since() {
    let _lock = exclusive();
    let (guard, clock, seen) = install("rt-rules-resize");
    for _ in 0..6 {
        streak_job().unwrap_err();
    }
    assert!(guard.flush());
    let of_rule = |seen: &Seen| -> Vec<Alert> {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|a| a.rule == AlertRule::ConsecutiveFailures)
            .cloned()
            .collect()
    };
    let first = of_rule(&seen)[0].clone();
    clock.advance(Duration::from_secs(60));
    monitor::set_alert_rules(AlertRules {
        window: Duration::from_secs(3600),
        ..AlertRules::default()
    })
    .unwrap();
    assert!(guard.flush());
    // Still firing, nothing new notified, same since; the window still holds the 6.
    assert_eq!(of_rule(&seen).len(), 1);
    let report = monitor::status_report();
    let firing = report
        .alerts
        .iter()
        .find(|a| a.rule == AlertRule::ConsecutiveFailures)
        .expect("still firing");
    assert_eq!(firing.since, first.since);
    assert_eq!(firing.number("executions"), Some(6.0), "{firing:?}");
    drop(guard);
}

#[test]
fn one_function_gets_its_own_rules_and_the_others_keep_the_global_ones() {
    let _lock = exclusive();
    let (guard, _clock, seen) = install("rt-rules-for");
    let mut strict = monitor::alert_rules().for_function("rt_streak_job").clone();
    strict.consecutive_failures = 2;
    monitor::set_alert_rules_for("rt_streak_job", strict).unwrap();
    for _ in 0..3 {
        streak_job().unwrap_err();
        other_job().unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(
        count(
            &seen,
            AlertRule::ConsecutiveFailures,
            "rt_streak_job",
            AlertState::Firing
        ),
        1
    );
    assert_eq!(
        count(
            &seen,
            AlertRule::ConsecutiveFailures,
            "rt_other_job",
            AlertState::Firing
        ),
        0
    );
    let rules = monitor::alert_rules();
    assert_eq!(rules.for_function("rt_streak_job").consecutive_failures, 2);
    assert_eq!(rules.for_function("rt_other_job").consecutive_failures, 5);
    drop(guard);
}

#[test]
fn invalid_rules_are_an_error_and_the_old_rules_stay() {
    let _lock = exclusive();
    let (guard, _clock, _seen) = install("rt-rules-invalid");
    let before = monitor::alert_rules();
    let err = monitor::set_alert_rules(AlertRules {
        error_rate_threshold: -0.5,
        ..AlertRules::default()
    })
    .unwrap_err();
    assert!(matches!(err, AlertsError::InvalidRules { .. }), "{err:?}");
    assert!(err.to_string().contains("error_rate_threshold"), "{err}");
    let err = monitor::set_alert_rules_for(
        "rt_streak_job",
        AlertRules {
            window: Duration::ZERO,
            ..AlertRules::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("rules for `rt_streak_job`"),
        "{err}"
    );
    assert!(err.to_string().contains("`window`"), "{err}");
    assert_eq!(monitor::alert_rules(), before);
    // The old rules still work: 5 failures in a row fire.
    for _ in 0..5 {
        streak_job().unwrap_err();
    }
    assert!(guard.flush());
    assert!(monitor::status_report()
        .alerts
        .iter()
        .any(|a| a.rule == AlertRule::ConsecutiveFailures));
    drop(guard);
    assert_eq!(
        monitor::set_alert_rules(AlertRules::default()),
        Err(AlertsError::NotInstalled)
    );
}
