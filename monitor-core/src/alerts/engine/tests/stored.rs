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

/// The text stored for a function's alert state is the format earlier
/// versions wrote and read back after a restart: pinned byte for byte (the
/// texts below are what the engine wrote before its rules had names).
#[test]
fn the_stored_alert_state_text_is_unchanged() {
    let rules = AlertRules {
        error_rate_min_executions: 3,
        slow_threshold: Some(Duration::from_secs(1)),
        ..AlertRules::default()
    };
    let mut h = Harness::new(rules);
    h.run("scale_ec2", Status::Success, Duration::from_secs(2), None);
    h.fail("scale_ec2", 6);
    assert!(!h.eval(false).is_empty());
    let index = h.index("scale_ec2");
    let firing = h.engine.stored_state(index).unwrap();
    h.advance(MIN);
    h.succeed("scale_ec2", 1);
    h.eval(false);
    let after = h.engine.stored_state(index).unwrap();
    assert_eq!(firing, PINNED_FIRING);
    assert_eq!(after, PINNED_AFTER);
}

/// A state stored before executions had ids reads back whole (its ids are
/// unknown) and is written again as it was.
#[test]
fn an_alert_state_stored_without_ids_reads_back() {
    for old in [PINNED_FIRING_WITHOUT_IDS, PINNED_AFTER_WITHOUT_IDS] {
        let stored = persisted::from_text(old).expect("an old state parses");
        assert_eq!(crate::json::to_string(&stored).unwrap(), old);
    }
    let slow_id = "01J9AD7000000001R004000001".parse().unwrap();
    for (text, id) in [
        (PINNED_FIRING, Some(slow_id)),
        (PINNED_FIRING_WITHOUT_IDS, None),
    ] {
        let rules = AlertRules {
            slow_threshold: Some(Duration::from_secs(1)),
            ..AlertRules::default()
        };
        let mut h = Harness::new(rules);
        let index = h.index("scale_ec2");
        h.functions[index].alert_state = Some(text.to_owned());
        // (The restored streak resolves: this record has no failures.)
        h.eval(true);
        let firing = h.engine.firing();
        let slow = of(&firing, AlertRule::SlowExecution);
        assert_eq!(slow.len(), 1, "{firing:#?}");
        assert_eq!(slow[0].execution_id(), id);
    }
}

const PINNED_FIRING: &str = r#"{"streak_start":"2024-10-04T00:00:00.000000Z","peak_streak":6,"rules":{"consecutive_failures":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"high_error_rate":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"new_error_pattern":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"slow_execution":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true}},"last_slow":{"time":"2024-10-04T00:00:00.000000Z","nanos":2000000000,"id":"01J9AD7000000001R004000001"},"new_patterns":[{"time":"2024-10-04T00:00:00.000000Z","description":"NoCredentialsError: unable to locate credentials","announced":true,"id":"01J9AD7000000001R004000002"}],"unlisted_patterns":0,"new_patterns_in_episode":1,"window":{"bucket_nanos":15000000000,"buckets":[[115200000,7,6,1,2000000000]]}}"#;

const PINNED_AFTER: &str = r#"{"streak_start":null,"peak_streak":0,"rules":{"consecutive_failures":{"state":"inactive","since":null,"held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":false},"high_error_rate":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"new_error_pattern":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"slow_execution":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true}},"last_slow":{"time":"2024-10-04T00:00:00.000000Z","nanos":2000000000,"id":"01J9AD7000000001R004000001"},"new_patterns":[{"time":"2024-10-04T00:00:00.000000Z","description":"NoCredentialsError: unable to locate credentials","announced":true,"id":"01J9AD7000000001R004000002"}],"unlisted_patterns":0,"new_patterns_in_episode":1,"window":{"bucket_nanos":15000000000,"buckets":[[115200000,7,6,1,2000000000],[115200004,1,0,0,0]]}}"#;

/// What the engine wrote before executions had ids.
const PINNED_FIRING_WITHOUT_IDS: &str = r#"{"streak_start":"2024-10-04T00:00:00.000000Z","peak_streak":6,"rules":{"consecutive_failures":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"high_error_rate":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"new_error_pattern":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"slow_execution":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true}},"last_slow":{"time":"2024-10-04T00:00:00.000000Z","nanos":2000000000},"new_patterns":[{"time":"2024-10-04T00:00:00.000000Z","description":"NoCredentialsError: unable to locate credentials","announced":true}],"unlisted_patterns":0,"new_patterns_in_episode":1,"window":{"bucket_nanos":15000000000,"buckets":[[115200000,7,6,1,2000000000]]}}"#;

const PINNED_AFTER_WITHOUT_IDS: &str = r#"{"streak_start":null,"peak_streak":0,"rules":{"consecutive_failures":{"state":"inactive","since":null,"held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":false},"high_error_rate":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"new_error_pattern":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true},"slow_execution":{"state":"firing","since":"2024-10-04T00:00:00.000000Z","held_since":null,"last_notice":"2024-10-04T00:00:00.000000Z","announced":true}},"last_slow":{"time":"2024-10-04T00:00:00.000000Z","nanos":2000000000},"new_patterns":[{"time":"2024-10-04T00:00:00.000000Z","description":"NoCredentialsError: unable to locate credentials","announced":true}],"unlisted_patterns":0,"new_patterns_in_episode":1,"window":{"bucket_nanos":15000000000,"buckets":[[115200000,7,6,1,2000000000],[115200004,1,0,0,0]]}}"#;
