use std::time::UNIX_EPOCH;

use super::*;
use crate::alerts::health::NotifierHealth;
use crate::alerts::text;
use crate::timestamp::Timestamp;

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

struct Harness {
    engine: AlertEngine,
    functions: Vec<FunctionRecord>,
    now: SystemTime,
    inputs: HealthInputs,
    /// The id of the latest execution run (its sequence counts the runs).
    last_id: ExecutionId,
}

impl Harness {
    fn new(rules: AlertRules) -> Self {
        Self::with(rules, HashMap::new())
    }

    fn with(rules: AlertRules, per_function: HashMap<String, AlertRules>) -> Self {
        Harness {
            engine: AlertEngine::new(rules, per_function),
            functions: Vec::new(),
            now: UNIX_EPOCH + Duration::from_secs(20_000 * 86_400),
            inputs: HealthInputs::default(),
            last_id: ExecutionId::from_u128(0),
        }
    }

    fn index(&mut self, name: &str) -> usize {
        if let Some(index) = self.functions.iter().position(|f| &*f.name == name) {
            return index;
        }
        self.functions
            .push(FunctionRecord::new(name.into(), "call"));
        self.functions.len() - 1
    }

    fn run(
        &mut self,
        name: &str,
        status: Status,
        duration: Duration,
        error: Option<(&str, &str)>,
    ) -> Notable {
        let index = self.index(name);
        let failure = error.map(|(error_type, message)| Failure {
            error_type: error_type.to_owned().into(),
            message: message.into(),
            ..Failure::default()
        });
        let record = &mut self.functions[index];
        let nanos = duration.as_nanos() as u64;
        let started_ms = self.now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let id = ExecutionId::from_parts(started_ms, 7, 1, self.last_id.sequence() + 1);
        self.last_id = id;
        let now_text = crate::Timestamp(self.now).to_string();
        let observation = record.observe(status, nanos, self.now, &now_text, id, failure.as_ref());
        let facts = ExecutionFacts {
            id,
            status,
            duration,
            started: self.now,
            failure: failure.as_ref(),
            new_pattern: observation.new_pattern,
        };
        self.engine.observe(index, &self.functions[index], &facts)
    }

    fn fail(&mut self, name: &str, n: usize) {
        for _ in 0..n {
            self.run(
                name,
                Status::Error,
                Duration::from_millis(1),
                Some(("NoCredentialsError", "unable to locate credentials")),
            );
        }
    }

    fn succeed(&mut self, name: &str, n: usize) {
        for _ in 0..n {
            self.run(name, Status::Success, Duration::from_millis(1), None);
        }
    }

    fn eval(&mut self, full: bool) -> Vec<Alert> {
        self.engine
            .evaluate(self.now, &mut self.functions, &self.inputs, full)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    fn status(&self, name: &str) -> FunctionStatus {
        self.functions
            .iter()
            .find(|f| &*f.name == name)
            .unwrap()
            .status
    }
}

fn of(alerts: &[Alert], rule: AlertRule) -> Vec<&Alert> {
    alerts.iter().filter(|a| a.rule == rule).collect()
}

#[test]
fn notices_about_an_execution_name_its_id_and_resolved_ones_none() {
    let rules = AlertRules {
        consecutive_failures: 3,
        slow_threshold: Some(Duration::from_millis(100)),
        ..AlertRules::default()
    };
    let mut h = Harness::new(rules);
    h.succeed("job", 1);
    h.run(
        "job",
        Status::Error,
        Duration::from_millis(1),
        Some(("E", "refused")),
    );
    let first_of_pattern = h.last_id;
    h.fail("job", 2);
    h.run(
        "job",
        Status::Error,
        Duration::from_millis(1),
        Some(("E", "refused again")),
    );
    let latest_failure = h.last_id;
    h.run("job", Status::Success, Duration::from_millis(250), None);
    let slow = h.last_id;
    h.fail("job", 3);
    let streak_end = h.last_id;
    let alerts = h.eval(false);
    let streak = of(&alerts, AlertRule::ConsecutiveFailures);
    assert_eq!(streak.len(), 1, "{alerts:#?}");
    assert_eq!(streak[0].execution_id(), Some(streak_end));
    assert_ne!(streak_end, latest_failure);
    let slow_alerts = of(&alerts, AlertRule::SlowExecution);
    assert_eq!(slow_alerts.len(), 1, "{alerts:#?}");
    assert_eq!(slow_alerts[0].execution_id(), Some(slow));
    let patterns = of(&alerts, AlertRule::NewErrorPattern);
    assert_eq!(patterns.len(), 1, "{alerts:#?}");
    // Three new patterns (refused, credentials, refused again): the notice
    // names the latest one's first execution.
    assert_eq!(patterns[0].execution_id(), Some(latest_failure));
    assert_ne!(patterns[0].execution_id(), Some(first_of_pattern));
    h.succeed("job", 1);
    let resolved = h.eval(false);
    let resolved = of(&resolved, AlertRule::ConsecutiveFailures);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    assert_eq!(resolved[0].execution_id(), None);
}

#[test]
fn consecutive_failures_fire_once_remind_per_interval_and_resolve() {
    let mut h = Harness::new(AlertRules::default());
    let mut all = Vec::new();
    for _ in 0..15 {
        h.fail("scale_ec2", 1);
        all.extend(h.eval(false));
    }
    let fired = of(&all, AlertRule::ConsecutiveFailures);
    assert_eq!(fired.len(), 1, "{all:#?}");
    let alert = fired[0];
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.severity, Severity::Error);
    assert_eq!(alert.function.as_deref(), Some("scale_ec2"));
    assert!(!alert.reminder);
    assert_eq!(alert.number("consecutive_failures"), Some(5.0));
    assert!(
        alert
            .message
            .starts_with("scale_ec2: 5 failures in a row since "),
        "{}",
        alert.message
    );
    assert!(
        alert
            .message
            .contains("last error NoCredentialsError: unable to locate credentials. Status error. Suggest: deactivate and fix configuration"),
        "{}",
        alert.message
    );
    assert_eq!(h.status("scale_ec2"), FunctionStatus::Error);
    // The error rate fires once too (more than 10 executions), the new pattern once.
    assert_eq!(of(&all, AlertRule::HighErrorRate).len(), 1);
    assert_eq!(of(&all, AlertRule::NewErrorPattern).len(), 1);
    let rate = of(&all, AlertRule::HighErrorRate)[0];
    assert!(
        rate.message
            .starts_with("scale_ec2: 11 errors in the last 11 executions (100%) within 15 min"),
        "{}",
        rate.message
    );

    // Nothing more within the repeat interval, however often it is evaluated.
    for _ in 0..59 {
        h.advance(MIN);
        h.fail("scale_ec2", 1);
        let again = h.eval(true);
        assert!(
            of(&again, AlertRule::ConsecutiveFailures).is_empty(),
            "{again:#?}"
        );
    }
    h.advance(MIN);
    let reminder = h.eval(true);
    let reminder = of(&reminder, AlertRule::ConsecutiveFailures);
    assert_eq!(reminder.len(), 1);
    assert!(reminder[0].reminder);
    assert_eq!(reminder[0].state, AlertState::Firing);
    assert_eq!(reminder[0].number("consecutive_failures"), Some(74.0));

    // Recovery: one resolved notification.
    h.succeed("scale_ec2", 1);
    let resolved = h.eval(false);
    let resolved = of(&resolved, AlertRule::ConsecutiveFailures);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    assert!(
        resolved[0]
            .message
            .starts_with("scale_ec2: succeeded again after 74 failures in a row"),
        "{}",
        resolved[0].message
    );
    // Still degraded: the window holds mostly errors.
    assert_eq!(h.status("scale_ec2"), FunctionStatus::Degraded);
    assert!(of(&h.eval(true), AlertRule::ConsecutiveFailures).is_empty());
}

#[test]
fn a_run_of_failures_that_ended_inside_one_batch_still_fires_then_resolves() {
    let mut h = Harness::new(AlertRules::default());
    h.fail("job", 6);
    h.succeed("job", 1);
    let first = h.eval(false);
    assert_eq!(of(&first, AlertRule::ConsecutiveFailures).len(), 1);
    assert_eq!(
        of(&first, AlertRule::ConsecutiveFailures)[0].number("consecutive_failures"),
        Some(6.0)
    );
    let second = h.eval(true);
    let resolved = of(&second, AlertRule::ConsecutiveFailures);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    assert!(resolved[0].message.contains("after 6 failures in a row"));
}

#[test]
fn a_burst_of_200_failures_gives_a_handful_of_notifications() {
    let mut h = Harness::new(AlertRules::default());
    let mut all = Vec::new();
    for i in 0..200 {
        h.run(
            "burst",
            Status::Error,
            Duration::from_millis(1),
            Some(("E", &format!("request {i} failed"))),
        );
        all.extend(h.eval(false));
    }
    all.extend(h.eval(true));
    assert_eq!(all.len(), 3, "{all:#?}");
}

#[test]
fn high_error_rate_degrades_and_recovers_when_the_window_moves_on() {
    let mut h = Harness::new(AlertRules::default());
    // 6 of 11 fail: 54.5% > 50% with 11 > 10 executions, never 5 in a row.
    for _ in 0..3 {
        h.fail("api", 2);
        h.succeed("api", 1);
    }
    h.succeed("api", 1);
    let alerts = h.eval(false);
    assert!(
        of(&alerts, AlertRule::HighErrorRate).is_empty(),
        "10 executions are not enough"
    );
    h.run(
        "api",
        Status::Panic,
        Duration::from_millis(1),
        Some(("panic", "boom")),
    );
    let alerts = h.eval(false);
    let rate = of(&alerts, AlertRule::HighErrorRate);
    assert_eq!(rate.len(), 1, "{alerts:#?}");
    assert_eq!(rate[0].number("failures"), Some(7.0));
    assert_eq!(rate[0].number("executions"), Some(11.0));
    assert_eq!(h.status("api"), FunctionStatus::Degraded);
    // More than a window later, nothing is left in it.
    h.advance(16 * MIN);
    let alerts = h.eval(true);
    let resolved = of(&alerts, AlertRule::HighErrorRate);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    assert_eq!(h.status("api"), FunctionStatus::Active);
}

#[test]
fn pending_for_delays_firing_and_a_short_episode_never_notifies() {
    let rules = AlertRules::default().with_pending_for(AlertRule::ConsecutiveFailures, 5 * MIN);
    let mut h = Harness::new(rules);
    h.fail("job", 5);
    assert!(of(&h.eval(false), AlertRule::ConsecutiveFailures).is_empty());
    h.advance(4 * MIN);
    assert!(of(&h.eval(true), AlertRule::ConsecutiveFailures).is_empty());
    assert_eq!(
        h.status("job"),
        FunctionStatus::Active,
        "pending is not firing"
    );
    h.advance(MIN);
    let fired = h.eval(true);
    assert_eq!(of(&fired, AlertRule::ConsecutiveFailures).len(), 1);
    // A new episode that ends while pending sends nothing.
    h.succeed("job", 1);
    assert_eq!(of(&h.eval(false), AlertRule::ConsecutiveFailures).len(), 1);
    h.fail("job", 5);
    assert!(of(&h.eval(false), AlertRule::ConsecutiveFailures).is_empty());
    h.succeed("job", 1);
    assert!(of(&h.eval(false), AlertRule::ConsecutiveFailures).is_empty());
}

#[test]
fn slow_executions_use_the_attribute_threshold_over_the_global_one() {
    let rules = AlertRules {
        slow_threshold: Some(Duration::from_millis(100)),
        ..AlertRules::default()
    };
    let mut h = Harness::new(rules);
    let attr = h.index("with_attr");
    h.functions[attr].slow_threshold = Some(Duration::from_millis(10));
    h.run(
        "with_attr",
        Status::Success,
        Duration::from_millis(20),
        None,
    );
    h.run("global", Status::Success, Duration::from_millis(20), None);
    let alerts = h.eval(false);
    let slow = of(&alerts, AlertRule::SlowExecution);
    assert_eq!(slow.len(), 1, "{alerts:#?}");
    assert_eq!(slow[0].function.as_deref(), Some("with_attr"));
    assert_eq!(slow[0].number("threshold_ms"), Some(10.0));
    assert_eq!(slow[0].number("max_ms"), Some(20.0));
    assert!(
        slow[0].message.contains("slower than 10 ms"),
        "{}",
        slow[0].message
    );
    h.run("global", Status::Success, Duration::from_millis(150), None);
    assert_eq!(of(&h.eval(false), AlertRule::SlowExecution).len(), 1);
    h.advance(16 * MIN);
    let resolved = h.eval(true);
    assert_eq!(of(&resolved, AlertRule::SlowExecution).len(), 2);
    assert!(resolved.iter().all(|a| a.state == AlertState::Resolved));
}

#[test]
fn a_missed_schedule_fires_after_interval_plus_grace_and_resolves_on_the_next_run() {
    let mut h = Harness::new(AlertRules::default());
    let index = h.index("nightly");
    h.functions[index].every = Some(HOUR);
    h.succeed("nightly", 1);
    assert!(h.eval(false).is_empty());
    h.advance(HOUR + MIN);
    assert!(
        h.eval(true).is_empty(),
        "exactly interval + grace is still on time"
    );
    h.advance(Duration::from_secs(1));
    let alerts = h.eval(true);
    let missed = of(&alerts, AlertRule::MissedSchedule);
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].severity, Severity::Error);
    assert!(
        missed[0]
            .message
            .starts_with("nightly: did not run when due: declared every 1 h"),
        "{}",
        missed[0].message
    );
    assert_eq!(missed[0].number("every_secs"), Some(3600.0));
    assert_eq!(h.engine.health().verdict, Verdict::Red);
    h.advance(10 * MIN);
    assert!(h.eval(true).is_empty());
    h.succeed("nightly", 1);
    let resolved = h.eval(false);
    let resolved = of(&resolved, AlertRule::MissedSchedule);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    assert!(resolved[0].message.starts_with("nightly: ran again at"));
}

#[test]
fn a_stored_due_time_without_a_schedule_declared_in_this_process_never_fires() {
    let mut h = Harness::new(AlertRules::default());
    // Loaded from the store: a due time, but no `every` (the callsite was
    // not seen in this process: deleted, renamed, or `every` removed).
    let index = h.index("retired");
    h.functions[index].next_scheduled = Some(h.now - 24 * HOUR);
    assert!(h.functions[index].every.is_none());
    assert!(of(&h.eval(true), AlertRule::MissedSchedule).is_empty());
    h.advance(2 * HOUR);
    assert!(of(&h.eval(true), AlertRule::MissedSchedule).is_empty());
    assert_eq!(h.engine.state_of(index, AlertRule::MissedSchedule), None);
    assert_eq!(h.engine.health().verdict, Verdict::Green);
    // Seen with `every` in this process: the schedule applies again.
    h.functions[index].every = Some(HOUR);
    let alerts = h.eval(true);
    assert_eq!(of(&alerts, AlertRule::MissedSchedule).len(), 1);
}

#[test]
fn flapping_around_the_error_rate_notifies_once_per_repeat_interval() {
    // A window longer than the repeat interval, so that the condition can
    // still hold once the interval has passed.
    let rules = AlertRules {
        window: 2 * HOUR,
        ..AlertRules::default()
    };
    let mut h = Harness::new(rules.without(AlertRule::NewErrorPattern));
    let mut all = Vec::new();
    // Above, then exactly at, 50 % errors, every half second; never 5
    // failures in a row.
    for round in 0..40 {
        h.advance(Duration::from_millis(500));
        h.fail("hover", 4);
        h.succeed("hover", 1);
        h.fail("hover", 1);
        let fired = h.eval(false);
        if round > 0 {
            assert_eq!(
                h.engine.state_of(0, AlertRule::HighErrorRate),
                Some(AlertState::Firing)
            );
            assert_eq!(h.status("hover"), FunctionStatus::Degraded);
            assert!(
                h.engine
                    .health()
                    .reasons
                    .iter()
                    .any(|r| r.starts_with("hover: ")),
                "{}",
                h.engine.health()
            );
            assert!(h
                .engine
                .firing()
                .iter()
                .any(|a| a.rule == AlertRule::HighErrorRate));
        }
        all.extend(fired);
        h.succeed("hover", 4);
        all.extend(h.eval(false));
        assert_eq!(h.engine.state_of(0, AlertRule::HighErrorRate), None);
        assert_eq!(h.status("hover"), FunctionStatus::Active);
        assert!(h.engine.firing().is_empty());
    }
    let states: Vec<AlertState> = all.iter().map(|a| a.state).collect();
    assert_eq!(
        states,
        [AlertState::Firing, AlertState::Resolved],
        "{all:#?}"
    );
    // Still firing when the repeat interval has passed: told again.
    h.fail("hover", 2);
    assert!(h.eval(false).is_empty());
    h.advance(HOUR);
    let again = h.eval(true);
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!(again[0].state, AlertState::Firing);
    assert!(!again[0].reminder);
    h.succeed("hover", 4);
    let resolved = h.eval(false);
    assert_eq!(resolved.len(), 1, "{resolved:#?}");
    assert_eq!(resolved[0].state, AlertState::Resolved);
}

mod monitor_and_health;
mod new_patterns;
mod stored;

#[test]
fn an_execution_a_sample_missed_before_its_end_was_processed_is_still_known_as_stuck() {
    let mut h = Harness::new(AlertRules::default());
    let index = h.index("job");
    let started = h.now;
    // The harness's first run is sequence 1 of run 7 on thread 1.
    let stuck = StuckNow {
        ids: vec![ExecutionId::from_parts(0, 7, 1, 1)],
        started: vec![started],
        threshold: HOUR,
        oldest_started: started,
        oldest_elapsed: 2 * HOUR,
        oldest_thread: "worker".into(),
    };
    h.engine
        .set_stuck(&h.functions, HashMap::from([(index, stuck)]));
    // It ended and left the running list, and the next sample ran before its
    // event was processed.
    h.engine.set_stuck(&h.functions, HashMap::new());
    let notable = h.run("job", Status::Success, 2 * HOUR, None);
    assert!(notable.stuck, "{notable:?}");
    // Its end is known (how long it ran, how it ended) for the resolution.
    let state = h.engine.functions[index].as_ref().unwrap();
    assert_eq!(state.stuck_ended.len(), 1);
    assert_eq!(state.stuck_ended[0].duration, 2 * HOUR);
    // A later execution that never was stuck is not.
    let notable = h.run("job", Status::Success, Duration::from_millis(1), None);
    assert_eq!(notable, Notable::default());
}
