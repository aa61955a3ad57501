//! The monitor's own rules, the health verdict, per-function and disabled
//! rules, cancelled executions.

use super::*;

#[test]
fn monitor_rules_fire_on_drops_sinks_restarts_queue_and_notifiers() {
    let mut h = Harness::new(AlertRules::default());
    assert!(h.eval(true).is_empty());
    h.inputs.dropped_total = 7;
    h.inputs.restarts = 1;
    h.inputs.queue_fill = 0.9;
    h.inputs.components = vec![ComponentHealth {
        name: "errors log",
        failing: true,
        error: Some("No space left on device".into()),
        lost: 3,
    }];
    h.inputs.notifiers = vec![NotifierHealth {
        name: "pager".into(),
        failures: 2,
    }];
    let alerts = h.eval(false);
    let rules: Vec<AlertRule> = alerts.iter().map(|a| a.rule).collect();
    assert_eq!(
        rules,
        [
            AlertRule::DroppedExecutions,
            AlertRule::SinkFailing,
            AlertRule::CollectorRestarted,
            AlertRule::QueueFull,
            AlertRule::NotifierFailing
        ]
    );
    assert!(alerts
        .iter()
        .all(|a| a.function.is_none() && a.message.starts_with("monitor: ")));
    assert_eq!(alerts[0].number("dropped"), Some(7.0));
    assert!(alerts[1]
        .message
        .contains("errors log failing (No space left on device)"));
    assert!(alerts[4].message.contains("notifier pager failed 2 times"));
    let health = h.engine.health().clone();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert_eq!(health.reasons[0], "monitor: errors log failing");
    // More drops while firing: no new notification.
    h.inputs.dropped_total = 50;
    h.inputs.queue_fill = 0.0;
    assert!(h.eval(false).is_empty());
    // The sink recovers: resolved at once. The rest resolve a window after their last event.
    h.inputs.components[0].failing = false;
    let alerts = h.eval(true);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule, AlertRule::SinkFailing);
    assert_eq!(alerts[0].state, AlertState::Resolved);
    h.advance(16 * MIN);
    let alerts = h.eval(true);
    assert_eq!(alerts.len(), 4, "{alerts:#?}");
    assert!(alerts.iter().all(|a| a.state == AlertState::Resolved));
    assert_eq!(alerts[0].number("dropped"), Some(50.0));
    assert!(h.engine.health().is_green());
}

#[test]
fn health_is_yellow_below_the_success_rate_and_red_on_errors() {
    let mut h = Harness::new(AlertRules::default());
    h.succeed("lights", 24);
    h.eval(true);
    assert_eq!(h.engine.health(), &Health::green());
    // 3 failures in 20: 85% success.
    for _ in 0..3 {
        h.succeed("scale_ec2", 5);
        h.fail("scale_ec2", 1);
    }
    h.succeed("scale_ec2", 2);
    h.eval(true);
    let health = h.engine.health().clone();
    assert_eq!(health.verdict, Verdict::Yellow);
    assert_eq!(
        health.reasons,
        ["scale_ec2 success rate 85% < 90% (last 15 min)"]
    );
    assert_eq!(
        health.to_string(),
        "🟡 yellow — scale_ec2 success rate 85% < 90% (last 15 min)"
    );
    h.fail("broken", 5);
    h.eval(false);
    let health = h.engine.health().clone();
    assert_eq!(health.verdict, Verdict::Red);
    assert_eq!(health.reasons[0], "broken: 5 failures in a row");
    assert_eq!(health.reasons.len(), 2);
    // Firing alerts list for the status report.
    let firing = h.engine.firing();
    let names: Vec<(Option<&str>, AlertRule)> = firing
        .iter()
        .map(|a| (a.function.as_deref(), a.rule))
        .collect();
    assert_eq!(
        names,
        [
            (Some("broken"), AlertRule::ConsecutiveFailures),
            (Some("broken"), AlertRule::NewErrorPattern),
            (Some("scale_ec2"), AlertRule::NewErrorPattern)
        ]
    );
}

#[test]
fn per_function_rules_and_disabled_rules_apply() {
    let global = AlertRules::default().without(AlertRule::NewErrorPattern);
    let strict = AlertRules {
        consecutive_failures: 2,
        ..global.clone()
    }
    .with_severity(AlertRule::ConsecutiveFailures, Severity::Critical);
    let mut h = Harness::with(global, [("strict".to_owned(), strict)].into());
    h.fail("strict", 2);
    h.fail("lenient", 2);
    let alerts = h.eval(false);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].function.as_deref(), Some("strict"));
    assert_eq!(alerts[0].severity, Severity::Critical);
    assert_eq!(h.engine.state_of(1, AlertRule::ConsecutiveFailures), None);
    assert_eq!(
        h.engine.state_of(0, AlertRule::ConsecutiveFailures),
        Some(AlertState::Firing)
    );
}

#[test]
fn cancelled_executions_are_not_counted() {
    let mut h = Harness::new(AlertRules::default());
    for _ in 0..20 {
        h.run("f", Status::Cancelled, Duration::ZERO, None);
    }
    assert!(h.eval(true).is_empty());
    assert!(h.engine.health().is_green());
}
