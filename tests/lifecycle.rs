//! Installing, flushing, uninstalling; faults inside the monitor never reach
//! the host.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{exclusive, executions, temp_dir};
use monitor::{monitored, ExecutionRecord, InstallError, Monitor, Sink};

#[monitored(name = "lifecycle_job")]
fn job(i: u64) -> Result<u64, String> {
    if i % 10 == 9 {
        Err(format!("job {i} failed"))
    } else {
        Ok(i)
    }
}

#[test]
fn dropping_the_guard_writes_everything() {
    let _lock = exclusive();
    let dir = temp_dir("drop-flushes");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for i in 0..500 {
        let _ = job(i);
    }
    drop(guard); // no explicit flush
    let lines = executions(&dir);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["name"] == "lifecycle_job")
            .count(),
        500
    );
    assert_eq!(common::errors(&dir).len(), 50);
}

#[test]
fn a_second_install_is_refused_until_the_first_guard_drops() {
    let _lock = exclusive();
    let dir = temp_dir("double-install");
    let first = Monitor::builder().log_dir(&dir).install().unwrap();
    let second = Monitor::builder()
        .log_dir(temp_dir("double-install-2"))
        .install();
    assert!(matches!(second, Err(InstallError::AlreadyInstalled)));
    job(1).unwrap();
    drop(first);
    let third = Monitor::builder()
        .log_dir(&dir)
        .install()
        .expect("installing again works");
    job(2).unwrap();
    third.flush();
    assert_eq!(common::total_executions("lifecycle_job"), 2);
}

#[test]
fn bad_configuration_is_an_error_from_install() {
    let _lock = exclusive();
    let err = Monitor::builder().queue_capacity(0).install().unwrap_err();
    assert!(
        matches!(
            err,
            InstallError::InvalidConfig {
                setting: "queue_capacity",
                ..
            }
        ),
        "{err}"
    );
    let err = Monitor::builder()
        .shutdown_timeout(Duration::ZERO)
        .install()
        .unwrap_err();
    assert!(
        matches!(
            err,
            InstallError::InvalidConfig {
                setting: "shutdown_timeout",
                ..
            }
        ),
        "{err}"
    );
    let err = Monitor::builder()
        .log_file_mode(0o17777)
        .install()
        .unwrap_err();
    assert!(
        matches!(
            err,
            InstallError::InvalidConfig {
                setting: "log_file_mode",
                ..
            }
        ),
        "{err}"
    );
    let err = Monitor::builder().log_dir("").install().unwrap_err();
    assert!(err.to_string().contains("log_dir"), "{err}");
    let file = temp_dir("log-dir-is-a-file").join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Monitor::builder().log_dir(&file).install().unwrap_err();
    assert!(matches!(err, InstallError::LogDir { .. }), "{err}");
    // Nothing was installed by the failed attempts.
    let guard = Monitor::builder()
        .log_dir(temp_dir("after-bad-config"))
        .install()
        .unwrap();
    drop(guard);
}

#[test]
fn every_invalid_setting_is_an_install_error_naming_it() {
    let _lock = exclusive();
    let dir = temp_dir("invalid-settings");
    let file = dir.join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let cases: Vec<(&str, monitor::MonitorBuilder)> = vec![
        ("stats_db", Monitor::builder().stats_db(&dir)),
        ("stats_db", Monitor::builder().stats_db("")),
        // Its directory would have to be created inside a plain file.
        (
            "stats_db",
            Monitor::builder().stats_db(file.join("stats.db")),
        ),
        (
            "stats_save_interval",
            Monitor::builder().stats_save_interval(Duration::ZERO),
        ),
        (
            "flush_timeout",
            Monitor::builder().flush_timeout(Duration::ZERO),
        ),
        (
            "notifier_timeout",
            Monitor::builder().notifier_timeout(Duration::ZERO),
        ),
        ("log_file_mode", Monitor::builder().log_file_mode(0o040)),
        ("log_file_mode", Monitor::builder().log_file_mode(0o17777)),
        (
            "capture_limits",
            Monitor::builder().capture_limits(monitor::CaptureLimits {
                max_stack_trace_bytes: 0,
                ..monitor::CaptureLimits::default()
            }),
        ),
        (
            "executions_rotation",
            Monitor::builder().executions_rotation(monitor::Rotation::Size(0)),
        ),
        (
            "alert_rules",
            Monitor::builder().alert_rules(monitor::AlertRules {
                window: Duration::ZERO,
                ..monitor::AlertRules::default()
            }),
        ),
    ];
    for (expected, builder) in cases {
        let err = builder.log_dir(&dir).install().unwrap_err();
        match &err {
            InstallError::InvalidConfig { setting, reason } => {
                assert_eq!(*setting, expected, "{err}");
                assert!(!reason.is_empty());
            }
            other => panic!("expected InvalidConfig for {expected}, got {other}"),
        }
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert!(!dir.join("stats.db").exists(), "nothing was opened");
}

#[test]
fn the_longest_durations_are_valid_and_never_panic() {
    let _lock = exclusive();
    let dir = temp_dir("longest-durations");
    let (alerts, on_alert) = common::alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .flush_timeout(Duration::MAX)
        .shutdown_timeout(Duration::MAX)
        .notifier_timeout(Duration::MAX)
        .stats_save_interval(Duration::MAX)
        .alert_rules(
            monitor::AlertRules {
                window: Duration::MAX,
                repeat_interval: Duration::MAX,
                schedule_grace: Duration::MAX,
                slow_threshold: Some(Duration::MAX),
                ..monitor::AlertRules::default()
            }
            .with_pending_for(monitor::AlertRule::NewErrorPattern, Duration::MAX),
        )
        .on_alert(on_alert)
        .install()
        .unwrap();
    for _ in 0..6 {
        job(9).unwrap_err();
    }
    assert!(guard.flush());
    assert!(alerts
        .lock()
        .unwrap()
        .iter()
        .any(|alert| alert.rule == monitor::AlertRule::ConsecutiveFailures));
    assert!(
        !alerts
            .lock()
            .unwrap()
            .iter()
            .any(|alert| alert.rule == monitor::AlertRule::CollectorRestarted),
        "the collector panicked on a long duration"
    );
    drop(guard);
    let lines = executions(&dir);
    assert_eq!(common::lines_named(&lines, "lifecycle_job").len(), 6);
}

/// Counts what the collector processed.
struct CountingSink(Arc<AtomicUsize>);
impl Sink for CountingSink {
    fn record(&mut self, _: &ExecutionRecord<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn dropping_the_guard_under_load_loses_no_line_and_blocks_no_caller() {
    let _lock = exclusive();
    let dir = temp_dir("drop-under-load");
    let processed = Arc::new(AtomicUsize::new(0));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .sink(CountingSink(Arc::clone(&processed)))
        .install()
        .unwrap();
    let stop = AtomicBool::new(false);
    let calls = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let _ = job(i);
                    i += 1;
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while calls.load(Ordering::Relaxed) < 20_000 {
            std::thread::yield_now();
        }
        drop(guard); // the callers keep calling while the monitor shuts down
        stop.store(true, Ordering::Relaxed);
    });
    // Every execution the collector processed is in the log, each line one
    // complete JSON object (read_json_lines checks), none torn by the shutdown.
    let lines = executions(&dir);
    let logged = lines
        .iter()
        .filter(|l| l["name"] == "lifecycle_job")
        .count();
    assert_eq!(logged, processed.load(Ordering::Relaxed));
    assert!(logged > 0);
}

struct PanickingSink(Arc<AtomicUsize>);
impl Sink for PanickingSink {
    fn record(&mut self, _: &ExecutionRecord<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
        panic!("sink bug");
    }
}

struct StatsReadingSink(Arc<AtomicUsize>);
impl Sink for StatsReadingSink {
    fn record(&mut self, _: &ExecutionRecord<'_>) {
        // Must not wait for the collector it runs on.
        let _ = monitor::stats();
        monitor::flush();
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_panicking_sink_and_a_re_entrant_sink_do_not_stop_the_collector() {
    let _lock = exclusive();
    let dir = temp_dir("bad-sinks");
    let panics = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .sink(PanickingSink(Arc::clone(&panics)))
        .sink(StatsReadingSink(Arc::clone(&reads)))
        .install()
        .unwrap();
    for i in 0..20 {
        let _ = job(i);
    }
    assert!(guard.flush());
    assert_eq!(panics.load(Ordering::Relaxed), 20);
    assert_eq!(reads.load(Ordering::Relaxed), 20);
    assert_eq!(common::total_executions("lifecycle_job"), 20);
}

#[test]
fn the_collector_is_restarted_after_a_crash_without_losing_queued_executions() {
    let _lock = exclusive();
    let dir = temp_dir("collector-crash");
    let (alerts, on_alert) = common::alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .on_alert(on_alert)
        .install()
        .unwrap();
    for i in 0..100 {
        let _ = job(i);
    }
    // The collector panics in the middle of its next pass over the rings.
    guard.__crash_collector();
    for i in 0..100 {
        let _ = job(i);
    }
    let _ = guard.flush(); // may be the request the crash interrupted
    assert!(guard.flush());
    assert_eq!(common::total_executions("lifecycle_job"), 200);
    assert_eq!(executions(&dir).len(), 200);
    let alerts = alerts.lock().unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.rule == monitor::AlertRule::CollectorRestarted && a.is_firing()),
        "{alerts:?}"
    );
}

/// A panic inside the processing of an event already popped from its ring
/// (the realistic case: a bug in the statistics, the alert rules, the JSON)
/// must not lose that event uncounted. Before it reached the statistics it is
/// counted as dropped, with a gap line; after, it is counted once, as an
/// execution.
#[test]
fn a_collector_crash_while_processing_an_event_counts_that_event_exactly_once() {
    let _lock = exclusive();
    let here = std::thread::current().name().unwrap().to_owned();
    for after_counting in [false, true] {
        let dir = temp_dir("collector-crash-mid-event");
        let (alerts, on_alert) = common::alert_recorder();
        let guard = Monitor::builder()
            .log_dir(&dir)
            .on_alert(on_alert)
            .install()
            .unwrap();
        guard.__crash_collector_mid_event(after_counting);
        assert!(
            guard.flush(),
            "nothing queued: the hook is armed, not fired"
        );
        for i in 0..100 {
            let _ = job(i);
        }
        let _ = guard.flush(); // may be the request the crash interrupted
        assert!(guard.flush());

        let stats = monitor::stats();
        let job_stats = stats.get("lifecycle_job").unwrap();
        let lines = executions(&dir);
        let written = lines
            .iter()
            .filter(|l| l["name"] == "lifecycle_job")
            .count();
        let gaps: Vec<_> = lines.iter().filter(|l| l["status"] == "gap").collect();
        assert_eq!(
            job_stats.total_executions + stats.dropped_events,
            100,
            "after_counting: {after_counting}"
        );
        if after_counting {
            assert_eq!(job_stats.total_executions, 100);
            assert_eq!(stats.dropped_events, 0);
            assert!(gaps.is_empty(), "{gaps:?}");
            // The one line being written when the collector panicked is the
            // only thing missing.
            assert_eq!(written, 99);
        } else {
            assert_eq!(job_stats.total_executions, 99);
            assert_eq!(stats.dropped_events, 1);
            assert_eq!(gaps.len(), 1, "{gaps:?}");
            assert_eq!(gaps[0]["dropped_events"], 1);
            assert_eq!(gaps[0]["thread"], here.as_str());
            assert_eq!(written, 99);
        }
        let alerts = alerts.lock().unwrap();
        assert!(
            alerts
                .iter()
                .any(|a| a.rule == monitor::AlertRule::CollectorRestarted && a.is_firing()),
            "{alerts:?}"
        );
        assert_eq!(
            alerts
                .iter()
                .any(|a| a.rule == monitor::AlertRule::DroppedExecutions && a.is_firing()),
            !after_counting,
            "{alerts:?}"
        );
        drop(alerts);
        drop(guard);
    }
}

struct PanicBomb;
impl Drop for PanicBomb {
    fn drop(&mut self) {
        panic!("the panic payload's own drop panics");
    }
}

struct BombSink;
impl Sink for BombSink {
    fn record(&mut self, execution: &ExecutionRecord<'_>) {
        if execution.status != monitor::Status::Success {
            std::panic::panic_any(PanicBomb);
        }
    }
}

#[test]
fn a_sink_whose_panic_payload_panics_on_drop_loses_nothing() {
    let _lock = exclusive();
    let dir = temp_dir("bomb-sink");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .sink(BombSink)
        .install()
        .unwrap();
    let _ = job(9); // fails: the sink panics with a bomb
    for i in 0..100 {
        let _ = job(i);
    }
    assert!(guard.flush());
    assert_eq!(common::total_executions("lifecycle_job"), 101);
}

/// Records every execution it sees by calling a monitored function: on the
/// collector thread that must not be recorded (or it would feed itself).
struct MonitoredSink;
impl Sink for MonitoredSink {
    fn record(&mut self, _: &ExecutionRecord<'_>) {
        for i in 0..8 {
            let _ = job(i);
        }
    }
}

#[test]
fn monitored_functions_called_by_a_sink_are_not_recorded_and_cannot_deadlock() {
    use monitor::Overflow;
    let _lock = exclusive();
    for overflow in [Overflow::Block, Overflow::DropNewest] {
        let dir = temp_dir("sink-calls-monitored");
        let guard = Monitor::builder()
            .log_dir(&dir)
            .queue_capacity(4)
            .overflow(overflow)
            .sink(MonitoredSink)
            .install()
            .unwrap();
        for i in 0..8 {
            let _ = job(i);
        }
        assert!(guard.flush());
        let stats = monitor::stats();
        let recorded = stats.get("lifecycle_job").unwrap().total_executions;
        assert_eq!(recorded + stats.dropped_events, 8, "{overflow:?}");
        drop(guard);
    }
}

struct StuckSink(crossbeam_like::Gate);
impl Sink for StuckSink {
    fn record(&mut self, _: &ExecutionRecord<'_>) {
        self.0.wait();
    }
}

mod crossbeam_like {
    use std::sync::{Arc, Condvar, Mutex};

    /// Blocks until opened.
    #[derive(Clone, Default)]
    pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

    impl Gate {
        pub fn wait(&self) {
            let (open, condvar) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = condvar.wait(open).unwrap();
            }
        }

        pub fn open(&self) {
            *self.0 .0.lock().unwrap() = true;
            self.0 .1.notify_all();
        }
    }
}

#[test]
fn flush_is_bounded_even_with_a_stuck_sink() {
    let _lock = exclusive();
    let dir = temp_dir("stuck-sink");
    let gate = crossbeam_like::Gate::default();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .sink(StuckSink(gate.clone()))
        .flush_timeout(Duration::from_millis(200))
        .install()
        .unwrap();
    job(1).unwrap();
    assert!(
        !guard.flush(),
        "the collector is stuck in the sink: flush gives up"
    );
    gate.open();
    // Unstuck, the collector first finishes the flush it gave up on (a
    // save, status.json): on a loaded machine that can take longer than the
    // 200 ms, so a flush that times out meanwhile is asked again.
    assert!(
        (0..100).any(|_| guard.flush()),
        "the collector never came back from the sink"
    );
    assert_eq!(common::total_executions("lifecycle_job"), 1);
}

#[test]
fn flush_on_panic_writes_what_was_recorded_before_a_panic() {
    let _lock = exclusive();
    let dir = temp_dir("flush-on-panic");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .flush_on_panic(true)
        .install()
        .unwrap();
    for i in 0..10 {
        let _ = job(i);
    }
    // A thread dies; with `panic = "abort"` the process would end right after
    // the hooks ran. The monitor's hook has flushed by then.
    let _ = std::thread::spawn(|| panic!("worker died")).join();
    let lines = executions(&dir);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["name"] == "lifecycle_job")
            .count(),
        10
    );
    drop(guard);
}

#[test]
fn wall_clock_jumps_are_logged_and_durations_are_unaffected() {
    let _lock = exclusive();
    let dir = temp_dir("clock-jump");
    let start = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = monitor::ManualClock::new(start);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .detect_clock_jumps(true)
        .install()
        .unwrap();
    job(1).unwrap();
    guard.flush();
    clock.advance(Duration::from_secs(3600));
    job(2).unwrap();
    guard.flush();
    clock.set(start);
    job(3).unwrap();
    guard.flush();
    let lines = executions(&dir);
    let jumps: Vec<f64> = lines
        .iter()
        .filter(|l| l["status"] == "clock_jump")
        .map(|l| l["jump_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(jumps.len(), 2, "{lines:#?}");
    for line in &lines {
        // Execution lines have an id; monitor records (clock jumps) have none.
        assert_eq!(
            line.get("id").is_some(),
            line["status"] != "clock_jump",
            "{line}"
        );
    }
    assert!(
        jumps[0] > 3_500_000.0 && jumps[0] <= 3_600_000.0,
        "{jumps:?}"
    );
    assert!(jumps[1] < -3_500_000.0, "{jumps:?}");
    let runs: Vec<_> = lines
        .iter()
        .filter(|l| l["name"] == "lifecycle_job")
        .collect();
    assert_eq!(runs.len(), 3);
    for run in runs {
        assert!(
            run["duration_ms"].as_f64().unwrap() < 60_000.0,
            "durations come from the monotonic clock"
        );
    }
}

#[test]
fn only_a_wall_clock_step_beyond_two_seconds_is_a_jump_and_an_injected_clock_is_trusted() {
    let _lock = exclusive();
    let jumps = |dir: &std::path::Path| -> Vec<f64> {
        executions(dir)
            .iter()
            .filter(|l| l["status"] == "clock_jump")
            .map(|l| l["jump_ms"].as_f64().unwrap())
            .collect()
    };
    let start = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);

    let dir = temp_dir("clock-jump-threshold");
    let clock = monitor::ManualClock::new(start);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .detect_clock_jumps(true)
        .install()
        .unwrap();
    job(1).unwrap();
    assert!(guard.flush());
    // 1.9 s ahead: the monotonic clock moved too (by any amount >= 0), so
    // the step is at most 1.9 s, below the threshold, whatever the load.
    clock.advance(Duration::from_millis(1900));
    job(2).unwrap();
    assert!(guard.flush());
    assert_eq!(jumps(&dir), Vec::<f64>::new());
    // 2.1 s back: at least 2.1 s against the monotonic clock.
    clock.set(start + Duration::from_millis(1900) - Duration::from_millis(2100));
    job(3).unwrap();
    assert!(guard.flush());
    let found = jumps(&dir);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0] <= -2100.0, "{found:?}");
    drop(guard);

    // An injected clock is trusted unless detection is asked for.
    let dir = temp_dir("clock-jump-injected");
    let clock = monitor::ManualClock::new(start);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    job(1).unwrap();
    assert!(guard.flush());
    clock.advance(Duration::from_secs(3600));
    job(2).unwrap();
    assert!(guard.flush());
    assert_eq!(jumps(&dir), Vec::<f64>::new());
    assert_eq!(common::total_executions("lifecycle_job"), 2);
}

/// Whole lines of `lifecycle_job` in the executions log: a line being written
/// while the file is read is not counted yet.
fn whole_job_lines(dir: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(dir.join("executions/current.log")).unwrap_or_default();
    let whole = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
    whole
        .lines()
        .filter(|line| line.contains("\"name\":\"lifecycle_job\""))
        .count()
}

#[test]
fn lines_reach_the_file_on_the_periodic_tick_without_a_flush() {
    let _lock = exclusive();
    let dir = temp_dir("tick-writes");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for i in 0..3 {
        job(i).unwrap();
    }
    // No flush() and no drop: only the collector's periodic tick (every
    // 250 ms) writes the buffered lines out. Wait for that; the deadline only
    // turns a missing tick into a failure instead of a hang.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while whole_job_lines(&dir) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the lines never reached the file without a flush"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(whole_job_lines(&dir), 3);
    drop(guard);
}

#[test]
fn shutdown_is_bounded_even_with_a_stuck_sink() {
    let _lock = exclusive();
    let dir = temp_dir("stuck-shutdown");
    let gate = crossbeam_like::Gate::default();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .sink(StuckSink(gate.clone()))
        .flush_timeout(Duration::from_millis(100))
        .shutdown_timeout(Duration::from_millis(200))
        .install()
        .unwrap();
    job(1).unwrap();
    drop(guard); // returns after the shutdown timeout although the sink is stuck
                 // The stuck collector still owns the directory: a second monitor there is refused…
    let err = Monitor::builder().log_dir(&dir).install().unwrap_err();
    assert!(matches!(err, InstallError::LogDirInUse { .. }), "{err}");
    // …while another directory works at once.
    let other = Monitor::builder()
        .log_dir(temp_dir("stuck-shutdown-2"))
        .install()
        .unwrap();
    drop(other);
    gate.open();
}

#[test]
fn a_stats_db_that_is_one_of_the_logs_is_an_install_error() {
    let _lock = exclusive();
    let dir = temp_dir("stats-db-is-a-log");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    drop(guard);
    for log in [
        "executions/current.log",
        "errors/current_errors.log",
        "alerts/current_alerts.log",
        // A rotated log: retention would delete it one day.
        "executions/2026-12-06.log",
    ] {
        let path = dir.join(log);
        let err = Monitor::builder()
            .log_dir(&dir)
            .stats_db(&path)
            .install()
            .map(drop)
            .unwrap_err();
        assert!(
            matches!(
                err,
                InstallError::InvalidConfig {
                    setting: "stats_db",
                    ..
                }
            ),
            "{log}: {err}"
        );
    }
    // Relative to the log directory through `..`, the same file.
    let err = Monitor::builder()
        .log_dir(&dir)
        .stats_db(dir.join("alerts/../executions/current.log"))
        .install()
        .map(drop)
        .unwrap_err();
    assert!(err.to_string().contains("stats_db"), "{err}");
    assert!(dir.join("executions/current.log").is_file());
}
