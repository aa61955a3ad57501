//! Alert rules end to end: an injected clock, `flush()`, and what `on_alert`,
//! the notifiers, the alerts log and `health()` see. No sleeps.

mod common;

use std::fmt;
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{exclusive, read_json_lines, temp_dir};
use monitor::{
    monitored, Alert, AlertRule, AlertRules, AlertState, ManualClock, Monitor, MonitorBuilder,
    Notifier, Overflow, Severity, Verdict,
};

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct NoCredentialsError;

impl fmt::Display for NoCredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unable to locate credentials")
    }
}

impl std::error::Error for NoCredentialsError {}

#[monitored(name = "scale_ec2")]
fn scale_ec2(fail: bool) -> Result<(), NoCredentialsError> {
    if fail {
        Err(NoCredentialsError)
    } else {
        Ok(())
    }
}

#[monitored(name = "burst_job")]
fn burst_job(request: u32) -> Result<(), String> {
    Err(format!("request {request} failed with status 503"))
}

#[monitored(name = "parse_feed")]
fn parse_feed(line: u32) -> Result<(), String> {
    Err(format!("unexpected token at line {line}"))
}

#[monitored(name = "slow_attr", slow = "1ns")]
fn slow_attr() -> u64 {
    (0..1_000u64).map(std::hint::black_box).sum()
}

#[monitored(name = "slow_global")]
fn slow_global() -> u64 {
    (0..1_000u64).map(std::hint::black_box).sum()
}

#[monitored(name = "tiny")]
fn tiny(x: u64) -> u64 {
    x + 1
}

#[monitored(name = "flaky")]
fn flaky(fail: bool) -> Result<(), String> {
    if fail {
        Err("connection reset by peer".into())
    } else {
        Ok(())
    }
}

#[monitored(name = "hovering")]
fn hovering(fail: bool) -> Result<(), String> {
    if fail {
        Err("upstream timed out".into())
    } else {
        Ok(())
    }
}

#[monitored(name = "strict_job")]
fn strict_job() -> Result<(), String> {
    Err("disk quota exceeded".into())
}

#[monitored(name = "lenient_job")]
fn lenient_job() -> Result<(), String> {
    Err("disk quota exceeded".into())
}

/// Every notification `on_alert` received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Alert>>>);

impl Received {
    fn all(&self) -> Vec<Alert> {
        self.0.lock().unwrap().clone()
    }

    fn of(&self, rule: AlertRule) -> Vec<Alert> {
        self.all().into_iter().filter(|a| a.rule == rule).collect()
    }

    fn count(&self, rule: AlertRule, state: AlertState) -> usize {
        self.of(rule).iter().filter(|a| a.state == state).count()
    }
}

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 10 * 3600)
}

/// A builder with a manual clock and an `on_alert` that collects.
fn builder(name: &str) -> (MonitorBuilder, ManualClock, Received, std::path::PathBuf) {
    let dir = temp_dir(name);
    let clock = ManualClock::new(start());
    let (builder, received) = builder_in(&dir, &clock);
    (builder, clock, received, dir)
}

/// A builder on `dir` with `clock`, whose alerts are collected.
fn builder_in(dir: &std::path::Path, clock: &ManualClock) -> (MonitorBuilder, Received) {
    let received = Received::default();
    let sink = received.clone();
    let builder = Monitor::builder()
        .log_dir(dir)
        .clock(clock.clone())
        .on_alert(move |alert: &Alert| sink.0.lock().unwrap().push(alert.clone()));
    (builder, received)
}

#[test]
fn fifteen_consecutive_errors_fire_once_remind_after_the_repeat_interval_and_resolve_once() {
    let _lock = exclusive();
    let (builder, clock, received, _dir) = builder("alerts-consecutive");
    let guard = builder.install().unwrap();

    for _ in 0..15 {
        scale_ec2(true).unwrap_err();
    }
    assert!(guard.flush());
    let fired = received.of(AlertRule::ConsecutiveFailures);
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let alert = &fired[0];
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.severity, Severity::Error);
    assert_eq!(alert.function.as_deref(), Some("scale_ec2"));
    assert_eq!(alert.time.0, start(), "the clock stood still");
    assert!(
        alert.since <= alert.time,
        "since: when the run of failures started"
    );
    assert!(alert.message.starts_with("scale_ec2: "), "{alert}");
    assert!(
        alert
            .message
            .contains("last error tests_alerts::NoCredentialsError: unable to locate credentials")
            || alert
                .message
                .contains("NoCredentialsError: unable to locate credentials"),
        "{alert}"
    );
    assert!(
        alert
            .message
            .contains("Suggest: deactivate and fix configuration"),
        "{alert}"
    );
    assert!(alert
        .to_string()
        .starts_with("[error] consecutive_failures firing: scale_ec2: "));
    let stats = monitor::stats();
    assert_eq!(
        stats.get("scale_ec2").unwrap().status,
        monitor::FunctionStatus::Error
    );

    // Nothing more within the repeat interval.
    assert!(guard.flush());
    clock.advance(30 * MIN);
    assert!(guard.flush());
    assert_eq!(received.of(AlertRule::ConsecutiveFailures).len(), 1);

    // One reminder once the repeat interval (1 h) has passed.
    clock.advance(31 * MIN);
    assert!(guard.flush());
    let after = received.of(AlertRule::ConsecutiveFailures);
    assert_eq!(after.len(), 2, "{after:#?}");
    assert!(after[1].reminder && after[1].state == AlertState::Firing);
    assert!(guard.flush());
    assert_eq!(received.of(AlertRule::ConsecutiveFailures).len(), 2);

    // Recovery: exactly one resolved notification.
    scale_ec2(false).unwrap();
    assert!(guard.flush());
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Resolved),
        1
    );
    let resolved = received.of(AlertRule::ConsecutiveFailures).pop().unwrap();
    assert!(
        resolved
            .message
            .starts_with("scale_ec2: succeeded again after 15 failures in a row"),
        "{resolved}"
    );
    assert!(guard.flush());
    assert_eq!(received.of(AlertRule::ConsecutiveFailures).len(), 3);
    assert_ne!(
        monitor::stats().get("scale_ec2").unwrap().status,
        monitor::FunctionStatus::Error
    );
}

#[test]
fn a_burst_of_200_failures_does_not_produce_200_notifications() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-burst");
    let guard = builder.install().unwrap();
    for request in 0..200 {
        burst_job(request).unwrap_err();
    }
    assert!(guard.flush());
    let all = received.all();
    let rules: Vec<AlertRule> = all.iter().map(|a| a.rule).collect();
    assert_eq!(all.len(), 3, "{rules:?}");
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Firing),
        1
    );
    assert_eq!(
        received.count(AlertRule::HighErrorRate, AlertState::Firing),
        1
    );
    assert_eq!(
        received.count(AlertRule::NewErrorPattern, AlertState::Firing),
        1
    );
    assert_eq!(
        monitor::stats().get("burst_job").unwrap().status,
        monitor::FunctionStatus::Error
    );
}

#[test]
fn a_new_error_pattern_fires_once() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-pattern");
    let guard = builder.install().unwrap();
    for line in 0..4 {
        parse_feed(line).unwrap_err();
    }
    assert!(guard.flush());
    parse_feed(99).unwrap_err();
    assert!(guard.flush());
    let new = received.of(AlertRule::NewErrorPattern);
    assert_eq!(new.len(), 1, "{new:#?}");
    assert_eq!(new[0].severity, Severity::Info);
    assert!(
        new[0].message.starts_with(
            "parse_feed: new error pattern alloc::string::String: unexpected token at line 0"
        ),
        "{}",
        new[0]
    );
    let stats = monitor::stats();
    let patterns = &stats.get("parse_feed").unwrap().top_error_patterns;
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0].count, 5);
    assert!(monitor::status_report()
        .to_string()
        .contains("unexpected token at line <n>"));
}

#[monitored(name = "lookup_user")]
fn lookup_user(database_up: bool) -> Result<(), String> {
    if database_up {
        Err("user 7 not found".into())
    } else {
        Err("database unavailable".into())
    }
}

#[test]
fn each_new_error_pattern_is_named_with_its_own_first_seen_time() {
    use monitor::Clock as _;
    let _lock = exclusive();
    let (builder, clock, received, _dir) = builder("alerts-two-patterns");
    let guard = builder.install().unwrap();
    lookup_user(false).unwrap_err();
    assert!(guard.flush());
    let first_seen = clock.now();
    clock.advance(MIN);
    lookup_user(true).unwrap_err();
    assert!(guard.flush());
    let second_seen = clock.now();
    let new = received.of(AlertRule::NewErrorPattern);
    assert_eq!(new.len(), 2, "one notice per new pattern: {new:#?}");
    // Each execution is stamped with the (manual) clock when it was
    // collected, minus its age: a little before the flush that collected it.
    for (alert, pattern, after, until) in [
        (
            &new[0],
            "database unavailable",
            first_seen - MIN,
            first_seen,
        ),
        (&new[1], "user 7 not found", first_seen, second_seen),
    ] {
        assert_eq!(alert.state, AlertState::Firing);
        assert!(alert.message.contains(pattern), "{alert}");
        assert!(
            after < alert.since.0 && alert.since.0 <= until,
            "`since` is this pattern's first-seen time: {alert}"
        );
        assert_eq!(alert.number("new_patterns"), Some(1.0), "{alert}");
    }
    assert!(!new[1].message.contains("database"), "{}", new[1]);
}

struct Panicky;

impl Notifier for Panicky {
    fn notify(&mut self, _alert: &Alert) {
        panic!("this notifier is broken");
    }

    fn name(&self) -> &str {
        "panicky"
    }
}

#[test]
fn a_panicking_notifier_is_counted_and_the_others_and_the_collector_carry_on() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-panicky");
    let guard = builder.notifier(Panicky).install().unwrap();
    for _ in 0..5 {
        scale_ec2(true).unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Firing),
        1
    );
    // The panics are noticed at the next evaluation and alerted on.
    assert!(guard.flush());
    let failing = received.of(AlertRule::NotifierFailing);
    assert_eq!(failing.len(), 1, "{:#?}", received.all());
    assert!(
        failing[0].message.contains("notifier panicky failed"),
        "{}",
        failing[0]
    );
    assert!(failing[0].function.is_none());
    // The collector keeps counting and alerting.
    scale_ec2(false).unwrap();
    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.get("scale_ec2").unwrap().total_executions, 6);
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Resolved),
        1
    );
    let health = monitor::health();
    assert!(
        health.reasons.iter().any(|r| r.contains("panicky")),
        "{health}"
    );
}

/// A notifier that blocks until the test lets it go.
struct Stuck(Arc<Mutex<mpsc::Receiver<()>>>);

impl Notifier for Stuck {
    fn notify(&mut self, _alert: &Alert) {
        let _ = self.0.lock().unwrap().recv();
    }
}

#[test]
fn a_blocked_notifier_cannot_hang_flush_or_the_collector() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-stuck");
    let (release, blocked) = mpsc::channel::<()>();
    let guard = builder
        .notifier(Stuck(Arc::new(Mutex::new(blocked))))
        .notifier_timeout(Duration::from_millis(200))
        .install()
        .unwrap();
    for _ in 0..5 {
        scale_ec2(true).unwrap_err();
    }
    // Returning at all (and with `false`) is what "bounded" means here; how
    // long it took depends on the machine's load, not asserted.
    let complete = guard.flush();
    assert!(!complete, "one notifier has not returned");
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Firing),
        1
    );
    scale_ec2(false).unwrap();
    guard.flush();
    assert_eq!(common::total_executions("scale_ec2"), 6);
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Resolved),
        1
    );
    // The blocked call is counted once it has lasted the timeout; flushes
    // meanwhile return at once (the stuck notifier is not waited for).
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.count(AlertRule::NotifierFailing, AlertState::Firing) == 0
        && Instant::now() < deadline
    {
        guard.flush();
    }
    assert_eq!(
        received.count(AlertRule::NotifierFailing, AlertState::Firing),
        1
    );
    drop(release);
    drop(guard);
}

#[test]
fn the_alerts_log_has_one_line_per_notification() {
    let _lock = exclusive();
    let (builder, clock, received, dir) = builder("alerts-log");
    let guard = builder.install().unwrap();
    for _ in 0..5 {
        flaky(true).unwrap_err();
    }
    assert!(guard.flush());
    flaky(false).unwrap();
    assert!(guard.flush());
    clock.advance(16 * MIN);
    assert!(guard.flush());
    drop(guard);
    let lines = read_json_lines(&dir.join("alerts/current_alerts.log"));
    let all = received.all();
    assert_eq!(lines.len(), all.len(), "{lines:#?}");
    assert!(lines.len() >= 4, "{lines:#?}"); // consecutive fired + resolved, new pattern fired + resolved
    for (line, alert) in lines.iter().zip(&all) {
        for field in [
            "timestamp",
            "rule",
            "state",
            "severity",
            "message",
            "since",
            "numbers",
        ] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
        assert_eq!(line["rule"], alert.rule.as_str());
        assert_eq!(line["function"], "flaky");
        assert_eq!(line["state"], alert.state.as_str());
        assert_eq!(line["message"], alert.message.as_str());
        assert_eq!(line["timestamp"], alert.time.to_string().as_str());
    }
    let first = lines
        .iter()
        .find(|l| l["rule"] == "consecutive_failures")
        .unwrap();
    assert_eq!(first["state"], "firing");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["numbers"]["consecutive_failures"], 5);
    assert_eq!(first["numbers"]["threshold"], 5);
    assert_eq!(first["numbers"]["window_secs"], 900);
    assert!(lines
        .iter()
        .any(|l| l["rule"] == "consecutive_failures" && l["state"] == "resolved"));
}

#[test]
fn health_is_green_yellow_or_red_with_reasons() {
    let _lock = exclusive();
    let (builder, clock, _received, _dir) = builder("alerts-health");
    let guard = builder.install().unwrap();
    assert!(guard.flush());
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Green, "{health}");
    assert!(health.reasons.is_empty());

    // 3 failures in 20 runs, never two in a row: 85% success.
    for round in 0..20 {
        flaky(round % 7 == 3).ok();
    }
    assert!(guard.flush());
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Yellow, "{health}");
    assert_eq!(
        health.reasons,
        ["flaky success rate 85% < 90% (last 15 min)"]
    );
    let report = monitor::status_report();
    assert_eq!(report.health, health);
    let text = report.to_string();
    assert!(
        text.starts_with(
            "Monitored functions: 1      Health: 🟡 yellow — flaky success rate 85% < 90%"
        ),
        "{text}"
    );

    for _ in 0..5 {
        flaky(true).unwrap_err();
    }
    assert!(guard.flush());
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert_eq!(health.reasons[0], "flaky: 5 failures in a row");
    let text = monitor::status_report().to_string();
    assert!(text.contains("Firing alerts:"), "{text}");
    assert!(
        text.contains("[error] consecutive_failures firing: flaky: 5 failures in a row"),
        "{text}"
    );

    flaky(false).unwrap();
    clock.advance(16 * MIN);
    assert!(guard.flush());
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Green, "{health}");
    assert_eq!(
        monitor::stats().get("flaky").unwrap().status,
        monitor::FunctionStatus::Active
    );
}

#[test]
fn slow_calls_fire_with_the_attribute_or_the_global_threshold() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-slow");
    let guard = builder
        .alert_rules_for("slow_global", |rules| {
            rules.slow_threshold = Some(Duration::from_nanos(1));
        })
        .install()
        .unwrap();
    slow_attr();
    slow_global();
    tiny(1);
    assert!(guard.flush());
    let slow = received.of(AlertRule::SlowExecution);
    let mut names: Vec<&str> = slow.iter().filter_map(|a| a.function.as_deref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["slow_attr", "slow_global"], "{slow:#?}");
    assert!(slow
        .iter()
        .all(|a| a.state == AlertState::Firing && a.severity == Severity::Warning));
    let attr = slow
        .iter()
        .find(|a| a.function.as_deref() == Some("slow_attr"))
        .unwrap();
    assert!(
        attr.message.contains("1 of 1 execution slower than 1 ns"),
        "{attr}"
    );
    assert_eq!(attr.number("threshold_ms"), Some(1e-6));
    assert_eq!(monitor::health().verdict, Verdict::Yellow);
}

#[test]
fn a_global_slow_threshold_applies_to_every_function() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-slow-global");
    let guard = builder
        .alert_rules(AlertRules {
            slow_threshold: Some(Duration::from_nanos(1)),
            ..AlertRules::default()
        })
        .install()
        .unwrap();
    slow_global();
    assert!(guard.flush());
    assert_eq!(
        received.count(AlertRule::SlowExecution, AlertState::Firing),
        1
    );
}

#[test]
fn dropped_executions_raise_an_alert() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-dropped");
    let guard = builder
        .queue_capacity(1)
        .queue_memory_budget(0)
        .overflow(Overflow::DropNewest)
        .install()
        .unwrap();
    let mut sum = 0;
    for x in 0..20_000 {
        sum += tiny(x);
    }
    assert!(sum > 0);
    assert!(guard.flush());
    let stats = monitor::stats();
    assert!(
        stats.dropped_events > 0,
        "a one-slot queue under a burst drops"
    );
    let recorded = stats.get("tiny").map_or(0, |s| s.total_executions);
    assert_eq!(recorded + stats.dropped_events, 20_000);
    let dropped = received.of(AlertRule::DroppedExecutions);
    assert_eq!(dropped.len(), 1, "{dropped:#?}");
    assert_eq!(dropped[0].state, AlertState::Firing);
    assert!(dropped[0].function.is_none());
    assert!(
        dropped[0].message.starts_with("monitor: "),
        "{}",
        dropped[0]
    );
    assert!(
        dropped[0].message.contains("queue_memory_budget")
            && dropped[0].message.contains("queue_capacity"),
        "{}",
        dropped[0]
    );
    let reported = dropped[0].number("dropped_total").unwrap();
    assert!(reported > 0.0 && reported <= stats.dropped_events as f64);
    assert_eq!(received.count(AlertRule::QueueFull, AlertState::Firing), 1);
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Yellow, "{health}");
    assert!(
        health.reasons.iter().any(|r| r.contains("dropped")),
        "{health}"
    );
}

#[test]
fn per_function_rules_override_the_global_ones() {
    let _lock = exclusive();
    let (builder, _clock, received, _dir) = builder("alerts-per-function");
    let guard = builder
        .alert_rules(AlertRules::default().without(AlertRule::NewErrorPattern))
        .alert_rules_for("strict_job", |rules| {
            rules.consecutive_failures = 2;
            rules
                .severities
                .insert(AlertRule::ConsecutiveFailures, Severity::Critical);
        })
        .install()
        .unwrap();
    for _ in 0..2 {
        strict_job().unwrap_err();
        lenient_job().unwrap_err();
    }
    assert!(guard.flush());
    let all = received.all();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].function.as_deref(), Some("strict_job"));
    assert_eq!(all[0].severity, Severity::Critical);
}

#[test]
fn invalid_alert_rules_are_refused_at_install() {
    let _lock = exclusive();
    let dir = temp_dir("alerts-invalid");
    let error = Monitor::builder()
        .log_dir(&dir)
        .alert_rules(AlertRules {
            error_rate_threshold: 2.0,
            ..AlertRules::default()
        })
        .install()
        .unwrap_err();
    assert!(matches!(
        error,
        monitor::InstallError::InvalidConfig {
            setting: "alert_rules",
            ..
        }
    ));
    let error = Monitor::builder()
        .log_dir(&dir)
        .alert_rules_for("x", |rules| rules.repeat_interval = Duration::ZERO)
        .install()
        .unwrap_err();
    assert!(error.to_string().contains("rules for `x`"), "{error}");
}

/// A `tracing` event with target `monitor::alert`: the thread it came from,
/// its message and its `execution_id` field (empty when absent).
type TracedAlert = (String, String, String);

/// Alerts seen as `tracing` events with target `monitor::alert`.
fn tracing_alerts() -> &'static Mutex<Vec<TracedAlert>> {
    use tracing_subscriber::layer::SubscriberExt;
    static EVENTS: OnceLock<&'static Mutex<Vec<TracedAlert>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let events: &'static Mutex<Vec<TracedAlert>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::registry().with(Capture(events));
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        events
    })
}

struct Capture(&'static Mutex<Vec<TracedAlert>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "monitor::alert" {
            return;
        }
        struct Message(String, String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                match field.name() {
                    "message" => self.0 = format!("{value:?}"),
                    "execution_id" => self.1 = format!("{value:?}"),
                    _ => {}
                }
            }
        }
        let mut message = Message(String::new(), String::new());
        event.record(&mut message);
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        self.0.lock().unwrap().push((thread, message.0, message.1));
    }
}

#[test]
fn alerts_are_also_tracing_events_from_a_notifier_thread() {
    let _lock = exclusive();
    let events = tracing_alerts();
    let (builder, _clock, _received, dir) = builder("alerts-tracing");
    let guard = builder.install().unwrap();
    for _ in 0..5 {
        strict_job().unwrap_err();
    }
    assert!(guard.flush());
    let events = events.lock().unwrap().clone();
    let event = events
        .iter()
        .find(|(_, message, _)| message.starts_with("strict_job: 5 failures in a row"))
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert!(event.0.starts_with("monitor-notifier-"), "{}", event.0);
    // It names the latest failure, as its line in the errors log does.
    let errors = common::errors(&dir);
    let latest = common::lines_named(&errors, "strict_job").last().unwrap()["id"].clone();
    assert_eq!(event.2, latest.as_str().unwrap(), "{event:?}");
}

#[monitored(name = "quiet_job")]
fn quiet_job() -> Result<(), String> {
    Err("disk quota exceeded".into())
}

#[test]
fn alert_tracing_events_false_turns_the_tracing_notifier_off() {
    let _lock = exclusive();
    let events = tracing_alerts();
    let (builder, _clock, received, _dir) = builder("alerts-tracing-off");
    let guard = builder.alert_tracing_events(false).install().unwrap();
    for _ in 0..5 {
        quiet_job().unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Firing),
        1,
        "on_alert still gets it: {:#?}",
        received.all()
    );
    let events = events.lock().unwrap().clone();
    assert!(
        !events
            .iter()
            .any(|(_, message, _)| message.starts_with("quiet_job:")),
        "no tracing event: {events:#?}"
    );
}

#[test]
fn health_without_an_installed_monitor_is_not_installed_and_never_green() {
    let _lock = exclusive();
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::NotInstalled, "{health}");
    assert!(!health.is_green());
    assert!(
        health.verdict >= Verdict::Yellow,
        "a `>= Yellow` check catches it"
    );
    assert!(health.to_string().contains("not installed"), "{health}");
    let report = monitor::status_report();
    assert_eq!(report.health.verdict, Verdict::NotInstalled);

    let (builder, _clock, _received, _dir) = builder("alerts-not-installed");
    let guard = builder.install().unwrap();
    assert!(guard.flush());
    assert_eq!(monitor::health().verdict, Verdict::Green);
    drop(guard);
    assert_eq!(monitor::health().verdict, Verdict::NotInstalled);
}

/// The promise of every (rule, function) pair, however its condition flaps:
/// notifications alternate between firing (fired or reminder) and resolved,
/// start with firing, and firing ones are at least `repeat` apart.
fn assert_throttled(alerts: &[Alert], repeat: Duration) {
    let mut pairs: Vec<(AlertRule, Option<&str>)> = alerts
        .iter()
        .map(|a| (a.rule, a.function.as_deref()))
        .collect();
    pairs.sort();
    pairs.dedup();
    for (rule, function) in pairs {
        let mut told_firing = false;
        let mut last_firing: Option<SystemTime> = None;
        for alert in alerts
            .iter()
            .filter(|a| a.rule == rule && a.function.as_deref() == function)
        {
            match alert.state {
                AlertState::Firing => {
                    assert_eq!(alert.reminder, told_firing, "{alert}");
                    if let Some(last) = last_firing {
                        let apart = alert.time.0.duration_since(last).unwrap_or_default();
                        assert!(apart >= repeat, "{apart:?} after the previous: {alert}");
                    }
                    last_firing = Some(alert.time.0);
                    told_firing = true;
                }
                _ => {
                    assert!(told_firing, "resolved without firing first: {alert}");
                    told_firing = false;
                }
            }
        }
    }
}

#[test]
fn a_function_hovering_around_the_error_rate_threshold_notifies_once_per_repeat_interval() {
    let _lock = exclusive();
    let (builder, clock, received, _dir) = builder("alerts-flapping");
    // A window longer than the repeat interval (1 h), so that the condition
    // still holds once the interval has passed.
    let guard = builder
        .alert_rules(AlertRules {
            window: 2 * HOUR,
            ..AlertRules::default()
        })
        .install()
        .unwrap();
    let hovering_alerts = |rule: AlertRule| -> Vec<Alert> {
        received
            .of(rule)
            .into_iter()
            .filter(|a| a.function.as_deref() == Some("hovering"))
            .collect()
    };
    let high_rate_reason = || {
        monitor::health()
            .reasons
            .iter()
            .any(|r| r.starts_with("hovering: ") && r.contains("executions failed"))
    };
    let reported_firing = |rule: AlertRule| {
        monitor::status_report()
            .alerts
            .iter()
            .any(|a| a.rule == rule && a.function.as_deref() == Some("hovering"))
    };

    // The error rate crosses 50 % up and down, twice a second, for 40 s: the
    // high error rate (and six failures in a row) start and stop 40 times.
    for round in 0..40 {
        clock.advance(Duration::from_secs(1));
        for _ in 0..6 {
            hovering(true).unwrap_err();
        }
        assert!(guard.flush());
        if round > 0 {
            // 6 (round + 1) of 12 round + 6 failed: above 50 %. Told or not,
            // the rule fires, and health and the report say so.
            assert!(high_rate_reason(), "{}", monitor::health());
            assert!(reported_firing(AlertRule::HighErrorRate));
            assert!(reported_firing(AlertRule::ConsecutiveFailures));
            assert_eq!(monitor::health().verdict, Verdict::Red);
        }
        for _ in 0..6 {
            hovering(false).unwrap();
        }
        assert!(guard.flush());
        // Exactly 50 %: not above the threshold any more.
        assert!(!high_rate_reason(), "{}", monitor::health());
        assert!(!reported_firing(AlertRule::HighErrorRate));
        assert!(!reported_firing(AlertRule::ConsecutiveFailures));
    }
    // The last batch leaves it above the threshold.
    for _ in 0..6 {
        hovering(true).unwrap_err();
    }
    assert!(guard.flush());
    assert!(high_rate_reason(), "{}", monitor::health());

    // Within the repeat interval: one firing and one resolved notice per rule
    // (the first episode), nothing for the 39 episodes after it.
    for rule in [AlertRule::HighErrorRate, AlertRule::ConsecutiveFailures] {
        let told = hovering_alerts(rule);
        let states: Vec<AlertState> = told.iter().map(|a| a.state).collect();
        assert_eq!(
            states,
            [AlertState::Firing, AlertState::Resolved],
            "{rule}: {told:#?}"
        );
    }
    assert_eq!(hovering_alerts(AlertRule::NewErrorPattern).len(), 1);
    let about_hovering: Vec<Alert> = received
        .all()
        .into_iter()
        .filter(|a| a.function.as_deref() == Some("hovering"))
        .collect();
    assert_eq!(about_hovering.len(), 5, "{about_hovering:#?}");
    let first_fired = hovering_alerts(AlertRule::HighErrorRate)[0].time.0;

    // Still firing once the repeat interval has passed: told again, as a new
    // firing (the latest notice said resolved).
    clock.advance(HOUR);
    assert!(guard.flush());
    for rule in [AlertRule::HighErrorRate, AlertRule::ConsecutiveFailures] {
        let told = hovering_alerts(rule);
        assert_eq!(told.len(), 3, "{rule}: {told:#?}");
        let again = &told[2];
        assert_eq!(again.state, AlertState::Firing, "{again}");
        assert!(!again.reminder, "{again}");
        assert!(again.time.0 >= first_fired + HOUR, "{again}");
    }
    let high = hovering_alerts(AlertRule::HighErrorRate);
    assert!(
        high[2]
            .message
            .starts_with("hovering: 246 errors in the last 486 executions"),
        "{}",
        high[2]
    );
    assert!(guard.flush());
    assert_eq!(hovering_alerts(AlertRule::HighErrorRate).len(), 3);

    // Recovery is told once.
    for _ in 0..6 {
        hovering(false).unwrap();
    }
    assert!(guard.flush());
    for rule in [AlertRule::HighErrorRate, AlertRule::ConsecutiveFailures] {
        let told = hovering_alerts(rule);
        assert_eq!(told.len(), 4, "{rule}: {told:#?}");
        assert_eq!(told[3].state, AlertState::Resolved, "{}", told[3]);
    }
    assert_throttled(&received.all(), HOUR);
}

#[monitored(name = "restart_job")]
fn restart_job(fail: bool) -> Result<(), NoCredentialsError> {
    if fail {
        Err(NoCredentialsError)
    } else {
        Ok(())
    }
}

#[test]
fn a_restart_neither_notifies_a_firing_alert_again_nor_misdates_it() {
    use monitor::Clock as _;
    let _lock = exclusive();
    // Run A: six failures in a row fire once.
    let (builder, clock, received, dir) = builder("alerts-restart");
    let guard = builder.install().unwrap();
    for _ in 0..6 {
        restart_job(true).unwrap_err();
    }
    assert!(guard.flush());
    let fired = received.of(AlertRule::ConsecutiveFailures);
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let since = fired[0].since.to_string();
    let noticed = clock.now();
    drop(guard);

    // Run B, two minutes later, on the same directory: one more failure.
    let later = ManualClock::new(noticed + 2 * MIN);
    let (builder, received) = builder_in(&dir, &later);
    let guard = builder.install().unwrap();
    restart_job(true).unwrap_err();
    assert!(guard.flush());
    assert!(
        received.all().is_empty(),
        "nothing is sent again: {:#?}",
        received.all()
    );
    let report = monitor::status_report();
    let firing = report
        .alerts
        .iter()
        .find(|a| a.rule == AlertRule::ConsecutiveFailures)
        .unwrap_or_else(|| panic!("still firing: {report}"));
    assert_eq!(firing.function.as_deref(), Some("restart_job"));
    assert_eq!(
        firing.since.to_string(),
        since,
        "the streak started in run A"
    );
    assert_eq!(firing.number("consecutive_failures"), Some(7.0), "{firing}");
    assert_eq!(firing.number("failures"), Some(7.0), "{firing}");
    assert_eq!(firing.number("executions"), Some(7.0), "{firing}");
    let since_text = &since[..19];
    assert!(
        firing.message.starts_with(&format!(
            "restart_job: 7 failures in a row since {since_text}Z (7 errors in the last 7 executions, 100%"
        )),
        "{firing}"
    );
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert_eq!(
        monitor::stats().get("restart_job").unwrap().status,
        monitor::FunctionStatus::Error
    );

    // The repeat interval counts from run A's notification.
    later.advance(HOUR - 2 * MIN - Duration::from_secs(1));
    assert!(guard.flush());
    assert!(
        received.of(AlertRule::ConsecutiveFailures).is_empty(),
        "{:#?}",
        received.all()
    );
    // (Run A's new error pattern is older than the window now: resolved.)
    let patterns = received.of(AlertRule::NewErrorPattern);
    assert_eq!(patterns.len(), 1, "{patterns:#?}");
    assert_eq!(patterns[0].state, AlertState::Resolved);
    later.advance(Duration::from_secs(1));
    assert!(guard.flush());
    let reminders = received.of(AlertRule::ConsecutiveFailures);
    assert_eq!(reminders.len(), 1, "{reminders:#?}");
    assert!(reminders[0].reminder && reminders[0].is_firing());
    assert_eq!(reminders[0].since.to_string(), since);

    // A success resolves what run A fired, with run A's start.
    restart_job(false).unwrap();
    assert!(guard.flush());
    let resolved: Vec<Alert> = received
        .of(AlertRule::ConsecutiveFailures)
        .into_iter()
        .filter(|a| a.state == AlertState::Resolved)
        .collect();
    assert_eq!(resolved.len(), 1, "{:#?}", received.all());
    assert_eq!(resolved[0].since.to_string(), since);
    assert!(
        resolved[0]
            .message
            .starts_with("restart_job: succeeded again after 7 failures in a row"),
        "{}",
        resolved[0]
    );
}

#[monitored(name = "tampered_job")]
fn tampered_job(error: Option<&str>) -> Result<(), String> {
    error.map_or(Ok(()), |message| Err(message.to_owned()))
}

#[test]
fn a_stored_alert_state_with_impossible_counts_does_not_crash_the_collector() {
    let _lock = exclusive();
    let (builder, clock, received, dir) = builder("alerts-tampered-state");
    let guard = builder.install().unwrap();
    tampered_job(Some("disk full")).unwrap_err();
    assert!(guard.flush());
    drop(guard);
    // An operator's hand edit, a bad restore or a bug in another version:
    // the window's counts add up to more than a u64, and the pattern
    // counters are at their largest.
    let db = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    let text: String = db
        .query_row(
            "SELECT alert_state FROM function_stats WHERE name = 'tampered_job'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let bucket = state["window"]["buckets"][0][0].as_u64().unwrap();
    state["window"]["buckets"] = serde_json::json!([
        [bucket, u64::MAX, u64::MAX, u64::MAX, 0],
        [bucket + 1, u64::MAX, u64::MAX, u64::MAX, 0]
    ]);
    state["new_patterns_in_episode"] = u64::MAX.into();
    state["unlisted_patterns"] = u64::MAX.into();
    db.execute(
        "UPDATE function_stats SET alert_state = ?1 WHERE name = 'tampered_job'",
        [state.to_string()],
    )
    .unwrap();
    drop(db);

    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    // New patterns, more than the alert state keeps.
    for k in 0..12 {
        tampered_job(Some(&format!("quota of user{k} exceeded"))).unwrap_err();
    }
    tampered_job(None).unwrap();
    assert!(guard.flush());
    let stats = monitor::stats();
    let job = stats.get("tampered_job").unwrap();
    assert_eq!((job.total_executions, job.error_count), (14, 13));
    let report = monitor::status_report();
    assert!(
        !report
            .alerts
            .iter()
            .any(|a| a.rule == AlertRule::CollectorRestarted),
        "{report}"
    );
    drop(received);
}

#[monitored(name = "terminal\njob")]
fn terminal_job() -> Result<(), String> {
    Err("\x1b[31mred\x1b[0m\nsecond line".into())
}

#[test]
fn alert_tracing_events_carry_no_control_characters_in_their_message() {
    let _lock = exclusive();
    let events = tracing_alerts();
    let (builder, _clock, received, _dir) = builder("alerts-tracing-escaped");
    let guard = builder.install().unwrap();
    for _ in 0..5 {
        terminal_job().unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(
        received.count(AlertRule::ConsecutiveFailures, AlertState::Firing),
        1
    );
    let events = events.lock().unwrap().clone();
    let about_it: Vec<&String> = events
        .iter()
        .map(|(_, message, _)| message)
        .filter(|message| message.starts_with("terminal\\njob"))
        .collect();
    // The consecutive failures and the new error pattern.
    assert_eq!(about_it.len(), 2, "{events:#?}");
    for message in about_it {
        assert!(!message.contains(char::is_control), "{message:?}");
        assert!(message.contains("\\u{1b}[31mred"), "{message:?}");
    }
}

#[monitored(name = "reminded_job")]
fn reminded_job(fail: bool) -> Result<(), NoCredentialsError> {
    if fail {
        Err(NoCredentialsError)
    } else {
        Ok(())
    }
}

#[test]
fn a_reminder_sent_without_a_new_execution_is_not_sent_again_after_a_restart() {
    use monitor::Clock as _;
    let _lock = exclusive();
    // Run A: six failures fire; an hour later, with no execution since, the
    // reminder goes out.
    let (builder, clock, received, dir) = builder("alerts-restart-reminder");
    let guard = builder.install().unwrap();
    for _ in 0..6 {
        reminded_job(true).unwrap_err();
    }
    assert!(guard.flush());
    clock.advance(HOUR);
    assert!(guard.flush());
    let told = received.of(AlertRule::ConsecutiveFailures);
    assert_eq!(told.len(), 2, "{told:#?}");
    assert!(told[1].reminder, "{}", told[1]);
    let reminded = clock.now();
    drop(guard);

    // Run B, two minutes after the reminder: one more failure is no news.
    let later = ManualClock::new(reminded + 2 * MIN);
    let (builder, received) = builder_in(&dir, &later);
    let guard = builder.install().unwrap();
    reminded_job(true).unwrap_err();
    assert!(guard.flush());
    assert!(
        received.of(AlertRule::ConsecutiveFailures).is_empty(),
        "the reminder of run A is sent again: {:#?}",
        received.all()
    );
}

#[monitored(name = "pattern_job")]
fn pattern_job(fail: bool) -> Result<(), NoCredentialsError> {
    if fail {
        Err(NoCredentialsError)
    } else {
        Ok(())
    }
}

#[test]
fn an_alert_resolved_by_time_alone_is_not_resolved_again_after_a_restart() {
    use monitor::Clock as _;
    let _lock = exclusive();
    // Run A: a new error pattern fires, and resolves once it is older than
    // the window, with no execution in between.
    let (builder, clock, received, dir) = builder("alerts-restart-resolved");
    let guard = builder.install().unwrap();
    pattern_job(true).unwrap_err();
    assert!(guard.flush());
    clock.advance(HOUR);
    assert!(guard.flush());
    let told = received.of(AlertRule::NewErrorPattern);
    assert_eq!(told.len(), 2, "{told:#?}");
    assert_eq!(told[1].state, AlertState::Resolved, "{}", told[1]);
    let resolved = clock.now();
    drop(guard);

    // Run B: a success, then time passes; nothing about run A is news.
    let later = ManualClock::new(resolved + 2 * MIN);
    let (builder, received) = builder_in(&dir, &later);
    let guard = builder.install().unwrap();
    pattern_job(false).unwrap();
    assert!(guard.flush());
    later.advance(HOUR);
    assert!(guard.flush());
    assert!(
        received.all().is_empty(),
        "run A's alert is told again: {:#?}",
        received.all()
    );
}
