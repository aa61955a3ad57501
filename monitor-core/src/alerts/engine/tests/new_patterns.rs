//! The new error pattern rule.

use super::*;

#[test]
fn a_new_error_pattern_fires_once_per_window_of_new_patterns() {
    let mut h = Harness::new(AlertRules::default());
    h.run(
        "f",
        Status::Error,
        Duration::ZERO,
        Some(("Timeout", "after 1503 ms")),
    );
    let alerts = h.eval(false);
    let new = of(&alerts, AlertRule::NewErrorPattern);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].severity, Severity::Info);
    assert!(
        new[0]
            .message
            .starts_with("f: new error pattern Timeout: after 1503 ms"),
        "{}",
        new[0].message
    );
    // The same pattern again (other numbers), then a success: nothing new.
    h.run(
        "f",
        Status::Error,
        Duration::ZERO,
        Some(("Timeout", "after 998 ms")),
    );
    h.succeed("f", 1);
    assert!(of(&h.eval(false), AlertRule::NewErrorPattern).is_empty());
    assert_eq!(
        h.engine.health().verdict,
        Verdict::Green,
        "info alerts keep the verdict"
    );
    h.advance(16 * MIN);
    let resolved = h.eval(true);
    assert_eq!(of(&resolved, AlertRule::NewErrorPattern).len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    h.run(
        "f",
        Status::Error,
        Duration::ZERO,
        Some(("Refused", "connection refused")),
    );
    assert_eq!(of(&h.eval(false), AlertRule::NewErrorPattern).len(), 1);
}

#[test]
fn every_new_pattern_is_named_with_its_own_first_seen_time() {
    let mut h = Harness::new(AlertRules::default());
    let t0 = h.now;
    h.run(
        "f",
        Status::Error,
        Duration::ZERO,
        Some(("Db", "database unavailable")),
    );
    h.advance(MIN);
    let t1 = h.now;
    h.run(
        "f",
        Status::Error,
        Duration::ZERO,
        Some(("NotFound", "user 7 not found")),
    );
    // Both in one batch: one notice names both, each with its time, and
    // `since` is the first of them.
    let alerts = h.eval(false);
    let new = of(&alerts, AlertRule::NewErrorPattern);
    assert_eq!(new.len(), 1, "{new:#?}");
    assert_eq!(new[0].since.0, t0);
    assert_eq!(new[0].number("new_patterns"), Some(2.0));
    let expected = format!(
        "f: 2 new error patterns: Db: database unavailable (first seen {}); NotFound: user 7 not found (first seen {}).",
        text::time(t0),
        text::time(t1)
    );
    assert!(new[0].message.starts_with(&expected), "{}", new[0].message);
    // A third pattern while the rule fires is news too, with its own time.
    h.advance(MIN);
    let t2 = h.now;
    h.run(
        "f",
        Status::Error,
        Duration::ZERO,
        Some(("Refused", "connection refused")),
    );
    let alerts = h.eval(false);
    let new = of(&alerts, AlertRule::NewErrorPattern);
    assert_eq!(new.len(), 1, "{new:#?}");
    assert_eq!(new[0].since.0, t2);
    assert_eq!(new[0].state, AlertState::Firing);
    assert!(
        new[0].message.starts_with(&format!(
            "f: new error pattern Refused: connection refused (first seen {})",
            text::time(t2)
        )),
        "{}",
        new[0].message
    );
    assert!(!new[0].message.contains("database"), "{}", new[0].message);
    // Nothing new: nothing sent.
    h.run(
        "f",
        Status::Error,
        Duration::ZERO,
        Some(("Refused", "connection refused")),
    );
    assert!(of(&h.eval(false), AlertRule::NewErrorPattern).is_empty());
}
