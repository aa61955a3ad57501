//! The alert state stored with a function's statistics.

use super::*;

#[test]
fn a_stored_alert_state_that_does_not_parse_is_ignored() {
    let mut h = Harness::new(AlertRules::default());
    let index = h.index("scale_ec2");
    h.functions[index].alert_state = Some("{not json".to_owned());
    h.fail("scale_ec2", 5);
    let alerts = h.eval(false);
    assert_eq!(
        of(&alerts, AlertRule::ConsecutiveFailures).len(),
        1,
        "{alerts:#?}"
    );
}

#[test]
fn the_stored_alert_state_is_taken_up_by_a_new_engine() {
    let mut h = Harness::new(AlertRules::default());
    let t0 = h.now;
    h.fail("scale_ec2", 6);
    assert_eq!(of(&h.eval(false), AlertRule::ConsecutiveFailures).len(), 1);
    let index = h.index("scale_ec2");
    let stored = h.engine.stored_state(index).unwrap();
    // A new engine (a restart) with the stored statistics and state.
    let mut record = h.functions[index].clone();
    record.alert_state = Some(stored);
    let mut again = Harness::new(AlertRules::default());
    again.now = t0 + MIN;
    again.functions.push(record);
    again.fail("scale_ec2", 1);
    assert!(again.eval(true).is_empty(), "nothing is notified again");
    let firing = again.engine.firing();
    assert_eq!(firing.len(), 2, "{firing:#?}");
    let streak = of(&firing, AlertRule::ConsecutiveFailures)[0].clone();
    assert_eq!(streak.since, Timestamp(t0));
    assert_eq!(streak.number("consecutive_failures"), Some(7.0));
    assert_eq!(streak.number("executions"), Some(7.0));
}
