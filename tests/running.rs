//! `monitor::running()`, the `stuck_execution` rule and `<log_dir>/status.json`,
//! through the public API as a host uses them. Every wait is on a channel or
//! a condition; time moves only through an injected `ManualClock`.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{block_on, exclusive, executions, lines_named, poll_once, temp_dir};
use monitor::{
    monitored, Alert, AlertQuery, AlertRule, AlertRules, AlertState, AlertsError, ManualClock,
    Monitor, MonitorBuilder, RunningExecution, Verdict,
};
use serde_json::Value;

const MIN: Duration = Duration::from_secs(60);

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 10 * 3600)
}

type Received = Arc<Mutex<Vec<Alert>>>;

/// A builder on a fresh directory with a manual clock; alerts are collected.
fn builder(name: &str) -> (MonitorBuilder, ManualClock, Received, std::path::PathBuf) {
    let dir = temp_dir(name);
    let clock = ManualClock::new(start());
    let (received, on_alert) = common::alert_recorder();
    let builder = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .on_alert(on_alert);
    (builder, clock, received, dir)
}

fn stuck_alerts(received: &Received, state: AlertState) -> Vec<Alert> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|alert| alert.rule == AlertRule::StuckExecution && alert.state == state)
        .cloned()
        .collect()
}

fn named(name: &str) -> Vec<RunningExecution> {
    monitor::running()
        .into_iter()
        .filter(|execution| execution.name.ends_with(name))
        .collect()
}

/// Signals that it runs, then waits until told to return.
#[monitored]
fn wait_for_release(entered: Sender<()>, release: Receiver<()>) -> Result<(), String> {
    entered.send(()).unwrap();
    release.recv().map_err(|error| error.to_string())
}

/// Starts `wait_for_release` on a thread called `name`; returns once it runs.
fn blocked_on_thread(
    name: &str,
    call: fn(Sender<()>, Receiver<()>) -> Result<(), String>,
) -> (Sender<()>, std::thread::JoinHandle<()>) {
    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || call(entered_tx, release_rx).unwrap())
        .unwrap();
    entered_rx.recv().unwrap();
    (release_tx, thread)
}

#[test]
fn a_blocked_call_is_running_grows_older_fires_stuck_while_it_runs_and_resolves_when_released() {
    let _lock = exclusive();
    let (builder, clock, received, _dir) = builder("running-blocked");
    let guard = builder.install().unwrap();
    assert!(monitor::running().is_empty());

    let (release, thread) = blocked_on_thread("blocked-worker", wait_for_release);
    let first = named("wait_for_release");
    assert_eq!(first.len(), 1, "{first:?}");
    let execution = &first[0];
    assert_eq!(
        execution.name,
        format!("{}::wait_for_release", module_path!())
    );
    assert_eq!(execution.thread, "blocked-worker");
    assert!(!execution.stuck);
    assert_eq!(execution.stuck_after, Duration::from_secs(3600));
    let apart = |a: SystemTime, b: SystemTime| a.duration_since(b).or(b.duration_since(a));
    let id_time = execution.id.timestamp().system_time();
    assert!(apart(execution.started.system_time(), id_time).unwrap() < Duration::from_secs(1));

    clock.advance(10 * MIN);
    let later = named("wait_for_release");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].id, execution.id, "the same execution, the same id");
    assert_eq!(later[0].started, execution.started);
    // Older by the ten minutes the clock moved (its start, a few
    // milliseconds after install, is younger than the clock's reading then).
    assert!(
        later[0].elapsed > execution.elapsed
            && later[0].elapsed + Duration::from_secs(1) > 10 * MIN,
        "{:?} then {:?}",
        execution.elapsed,
        later[0].elapsed
    );
    // Listed in the status report once older than a second, not yet stuck.
    let report = monitor::status_report();
    assert_eq!(report.running.len(), 1, "{report}");
    assert!(report.to_string().contains("wait_for_release"), "{report}");
    assert!(guard.flush());
    assert!(stuck_alerts(&received, AlertState::Firing).is_empty());

    // Past the default hour: stuck while it still runs.
    clock.advance(55 * MIN);
    assert!(guard.flush());
    let firing = stuck_alerts(&received, AlertState::Firing);
    assert_eq!(firing.len(), 1, "{:?}", received.lock().unwrap());
    let alert = &firing[0];
    assert_eq!(alert.severity, monitor::Severity::Error);
    assert_eq!(alert.execution_id(), Some(execution.id));
    assert_eq!(alert.numbers["stuck"], 1.0);
    assert!(
        alert.message.contains("blocked-worker"),
        "{}",
        alert.message
    );
    assert!(alert.message.contains("still running"), "{}", alert.message);
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert!(health.to_string().contains("stuck execution"), "{health}");
    let stuck = named("wait_for_release");
    assert!(stuck[0].stuck);
    let report = monitor::status_report();
    assert!(report.running[0].stuck, "{report}");
    assert!(report.to_string().contains("stuck"), "{report}");

    // Released: it ends, the alert resolves saying how long and how.
    release.send(()).unwrap();
    thread.join().unwrap();
    assert!(guard.flush());
    assert!(named("wait_for_release").is_empty());
    let resolved = stuck_alerts(&received, AlertState::Resolved);
    assert_eq!(resolved.len(), 1, "{:?}", received.lock().unwrap());
    let message = &resolved[0].message;
    assert!(message.contains(&execution.id.to_string()), "{message}");
    assert!(message.contains("(success)"), "{message}");
    assert!(message.contains("ended after"), "{message}");
    // It ran for the 65 minutes the clock moved while it ran.
    let ran_ms = resolved[0].numbers["duration_ms"];
    assert!((ran_ms - 65.0 * 60e3).abs() < 1e3, "{ran_ms} ms: {message}");
    assert_eq!(monitor::health().verdict, Verdict::Green);
    assert!(monitor::status_report().running.is_empty());
}

#[test]
fn a_running_execution_has_the_id_its_finished_line_carries() {
    let _lock = exclusive();
    let dir = temp_dir("running-ids");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let (release, thread) = blocked_on_thread("id-worker", wait_for_release);
    let running = named("wait_for_release");
    release.send(()).unwrap();
    thread.join().unwrap();
    drop(guard);
    let lines = executions(&dir);
    let finished = lines_named(&lines, &running[0].name);
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["id"], Value::from(running[0].id.to_string()));
    assert_eq!(finished[0]["thread"], "id-worker");
}

#[monitored(stuck_after = "5m")]
fn quick_to_be_stuck(entered: Sender<()>, release: Receiver<()>) -> Result<(), String> {
    entered.send(()).unwrap();
    release.recv().map_err(|error| error.to_string())
}

#[monitored]
fn stuck_by_its_rules(entered: Sender<()>, release: Receiver<()>) -> Result<(), String> {
    entered.send(()).unwrap();
    release.recv().map_err(|error| error.to_string())
}

#[test]
fn thresholds_come_from_the_attribute_then_alert_rules_for_and_several_stuck_are_one_alert() {
    let _lock = exclusive();
    let (builder, clock, received, _dir) = builder("running-thresholds");
    let by_rules = format!("{}::stuck_by_its_rules", module_path!());
    let guard = builder
        .alert_rules_for(&by_rules, |rules| rules.stuck_after = 20 * MIN)
        .install()
        .unwrap();
    let (release_a, thread_a) = blocked_on_thread("quick-a", quick_to_be_stuck);
    let (release_b, thread_b) = blocked_on_thread("quick-b", quick_to_be_stuck);
    let (release_c, thread_c) = blocked_on_thread("rules-c", stuck_by_its_rules);
    let quick = named("quick_to_be_stuck");
    assert_eq!(quick.len(), 2);
    assert!(quick.iter().all(|e| e.stuck_after == 5 * MIN));
    assert_eq!(named("stuck_by_its_rules")[0].stuck_after, 20 * MIN);

    clock.advance(6 * MIN);
    assert!(guard.flush());
    let firing = stuck_alerts(&received, AlertState::Firing);
    assert_eq!(firing.len(), 1, "one alert for both: {firing:?}");
    assert!(firing[0]
        .function
        .as_deref()
        .unwrap()
        .ends_with("quick_to_be_stuck"));
    assert_eq!(firing[0].numbers["stuck"], 2.0);
    assert!(
        firing[0].message.contains("2 executions are stuck"),
        "{}",
        firing[0].message
    );
    assert!(!named("stuck_by_its_rules")[0].stuck);

    clock.advance(15 * MIN);
    assert!(guard.flush());
    assert_eq!(stuck_alerts(&received, AlertState::Firing).len(), 2);

    // One of two ends: still stuck. Both: resolved, naming both.
    release_a.send(()).unwrap();
    thread_a.join().unwrap();
    assert!(guard.flush());
    assert!(stuck_alerts(&received, AlertState::Resolved).is_empty());
    release_b.send(()).unwrap();
    thread_b.join().unwrap();
    assert!(guard.flush());
    let resolved = stuck_alerts(&received, AlertState::Resolved);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].numbers["ended"], 2.0, "{}", resolved[0].message);
    release_c.send(()).unwrap();
    thread_c.join().unwrap();
    assert!(guard.flush());
    assert_eq!(stuck_alerts(&received, AlertState::Resolved).len(), 2);
    assert!(monitor::running().is_empty());
}

#[test]
fn a_zero_stuck_after_is_refused_at_install() {
    let _lock = exclusive();
    let dir = temp_dir("running-zero");
    let Err(error) = Monitor::builder()
        .log_dir(&dir)
        .alert_rules(AlertRules {
            stuck_after: Duration::ZERO,
            ..AlertRules::default()
        })
        .install()
    else {
        panic!("a zero stuck_after is refused");
    };
    assert!(error.to_string().contains("stuck_after"), "{error}");
}

/// Returns `Pending` until `gate` is opened, then `Ready`.
struct Gate(Arc<Mutex<bool>>);

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if *self.0.lock().unwrap() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[monitored]
async fn waits_at_the_gate(gate: Arc<Mutex<bool>>) -> Result<u32, String> {
    Gate(gate).await;
    Ok(7)
}

#[test]
fn an_async_call_is_running_from_its_first_pending_across_threads_until_it_completes_or_is_dropped()
{
    let _lock = exclusive();
    let (builder, _clock, _received, dir) = builder("running-async");
    let guard = builder.install().unwrap();
    let gate = Arc::new(Mutex::new(false));
    let mut future = Box::pin(waits_at_the_gate(Arc::clone(&gate)));
    assert!(named("waits_at_the_gate").is_empty(), "not polled yet");

    // First poll on one thread, pending.
    let (future_back, first) = std::thread::Builder::new()
        .name("first-poller".to_owned())
        .spawn(move || {
            assert!(poll_once(future.as_mut()).is_pending());
            (future, named("waits_at_the_gate"))
        })
        .unwrap()
        .join()
        .unwrap();
    let mut future = future_back;
    assert_eq!(first.len(), 1, "listed after its first Pending");
    assert_eq!(first[0].thread, "first-poller");
    // Polled again on another thread: the same execution, still running.
    let (future_back, again) = std::thread::spawn(move || {
        assert!(poll_once(future.as_mut()).is_pending());
        (future, named("waits_at_the_gate"))
    })
    .join()
    .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].thread, "first-poller");
    *gate.lock().unwrap() = true;
    assert_eq!(block_on(future_back), Ok(7));
    assert!(named("waits_at_the_gate").is_empty());

    // Dropped mid-flight: gone, and recorded as cancelled.
    *gate.lock().unwrap() = false;
    let mut dropped = Box::pin(waits_at_the_gate(Arc::clone(&gate)));
    assert!(poll_once(dropped.as_mut()).is_pending());
    let id = named("waits_at_the_gate")[0].id;
    drop(dropped);
    assert!(named("waits_at_the_gate").is_empty());
    assert!(guard.flush());
    drop(guard);
    let lines = executions(&dir);
    let cancelled: Vec<_> = lines_named(&lines, &format!("{}::waits_at_the_gate", module_path!()))
        .into_iter()
        .filter(|line| line["id"] == id.to_string().as_str())
        .collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["status"], "cancelled");
}

#[monitored]
fn short(x: u64) -> u64 {
    x + 1
}

#[monitored]
async fn short_async(x: u64) -> Result<u64, String> {
    Ok(x + 1)
}

#[monitored]
fn fails(x: u64) -> Result<u64, String> {
    Err(format!("no {x}"))
}

#[test]
fn ten_thousand_short_calls_leave_nothing_running() {
    let _lock = exclusive();
    let (builder, _clock, _received, _dir) = builder("running-short");
    let guard = builder.install().unwrap();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for i in 0..10_000 {
                    std::hint::black_box(short(i));
                    if i % 10 == 0 {
                        assert_eq!(block_on(short_async(i)), Ok(i + 1));
                        assert!(fails(i).is_err());
                    }
                }
            });
        }
    });
    assert!(guard.flush());
    assert!(monitor::running().is_empty(), "{:?}", monitor::running());
    assert_eq!(
        common::total_executions(&format!("{}::short", module_path!())),
        20_000
    );
}

#[monitored]
fn panics_while_running() {
    panic!("this thread ends here");
}

#[monitored]
fn outer_of_the_panic() {
    panics_while_running();
}

#[test]
fn a_thread_that_unwinds_out_of_open_executions_leaves_nothing_behind() {
    let _lock = exclusive();
    let (builder, _clock, _received, _dir) = builder("running-unwind");
    let guard = builder.install().unwrap();
    let result = std::thread::spawn(outer_of_the_panic).join();
    assert!(result.is_err());
    assert!(guard.flush());
    assert!(monitor::running().is_empty(), "{:?}", monitor::running());
    // The thread's stack is still usable by a new thread afterwards.
    let (release, thread) = blocked_on_thread("after-unwind", wait_for_release);
    assert_eq!(named("wait_for_release").len(), 1);
    release.send(()).unwrap();
    thread.join().unwrap();
    assert!(named("wait_for_release").is_empty());
}

/// Nests `depth` calls, the innermost blocked until released.
#[monitored]
fn nested(depth: u32, entered: &Sender<()>, release: &Receiver<()>) {
    if depth == 0 {
        entered.send(()).unwrap();
        release.recv().unwrap();
    } else {
        nested(depth - 1, entered, release);
    }
}

#[test]
fn executions_nested_deeper_than_the_thread_lists_are_counted_in_status_json() {
    let _lock = exclusive();
    let (builder, _clock, _received, dir) = builder("running-deep");
    let guard = builder.install().unwrap();
    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel();
    let thread = std::thread::spawn(move || nested(39, &entered_tx, &release_rx));
    entered_rx.recv().unwrap();
    let listed = named("nested");
    assert_eq!(listed.len(), 32, "the outermost 32 of 40");
    assert!(guard.flush());
    let status = read_status(&dir);
    assert_eq!(status["running_unlisted"], 8);
    assert_eq!(status["running"].as_array().unwrap().len(), 32);
    release_tx.send(()).unwrap();
    thread.join().unwrap();
    assert!(guard.flush());
    assert!(monitor::running().is_empty());
    assert_eq!(read_status(&dir)["running_unlisted"], 0);
}

#[test]
fn a_span_is_running_from_creation_until_close() {
    use tracing_subscriber::layer::SubscriberExt;
    let _lock = exclusive();
    let (builder, _clock, _received, _dir) = builder("running-span");
    let guard = builder.install().unwrap();
    let subscriber = tracing_subscriber::registry().with(monitor::layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("import_batch");
        let open = named("import_batch");
        assert_eq!(open.len(), 1, "{:?}", monitor::running());
        {
            let _entered = span.enter();
        }
        assert_eq!(named("import_batch").len(), 1, "open until closed");
        drop(span);
        assert!(named("import_batch").is_empty());
    });
    assert!(guard.flush());
}

#[test]
fn a_span_started_on_a_thread_that_ended_is_listed_with_that_threads_name_until_it_closes() {
    use tracing_subscriber::layer::SubscriberExt;
    let _lock = exclusive();
    let (builder, _clock, _received, dir) = builder("running-span-thread-ended");
    let guard = builder.install().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));
    let opener = dispatch.clone();
    let span = std::thread::Builder::new()
        .name("span-opener".to_owned())
        .spawn(move || {
            tracing::dispatcher::with_default(&opener, || tracing::info_span!("handed_over"))
        })
        .unwrap()
        .join()
        .unwrap();
    // Each `running()` is a sample: the first sees the thread ended, the
    // later ones must still name it while its span is open.
    for _ in 0..3 {
        let open = named("handed_over");
        assert_eq!(open.len(), 1, "{:?}", monitor::running());
        assert_eq!(open[0].thread, "span-opener");
    }
    drop(span);
    assert!(named("handed_over").is_empty());
    assert!(guard.flush());
    let finished = executions(&dir);
    let finished: Vec<_> = finished
        .iter()
        .filter(|line| line["name"] == "running::handed_over")
        .collect();
    assert_eq!(finished.len(), 1, "{finished:?}");
}

#[test]
fn with_roots_only_a_child_span_is_not_listed_as_running() {
    use tracing_subscriber::layer::SubscriberExt;
    let _lock = exclusive();
    let (builder, _clock, _received, _dir) = builder("running-roots-only");
    let guard = builder.install().unwrap();
    let layer = monitor::layer().roots_only(true);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("nightly_export");
        let _entered = root.enter();
        let child = tracing::info_span!("export_table");
        // Only the root is recorded as an execution, so only it is running.
        assert_eq!(named("nightly_export").len(), 1, "{:?}", monitor::running());
        assert!(named("export_table").is_empty(), "{:?}", monitor::running());
        drop(child);
    });
    assert!(guard.flush());
    assert!(monitor::running().is_empty());
}

fn read_status(dir: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(dir.join("status.json")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[test]
fn status_json_says_who_runs_what_and_is_stopped_on_clean_shutdown() {
    let _lock = exclusive();
    let (builder, clock, _received, dir) = builder("running-status");
    let guard = builder.install().unwrap();
    let (release, thread) = blocked_on_thread("status-worker", wait_for_release);
    clock.advance(2 * 3600 * Duration::from_secs(1));
    assert!(guard.flush()); // evaluates: stuck
    assert!(guard.flush()); // writes what it evaluated
    let status = read_status(&dir);
    assert_eq!(status["format"], 1);
    assert_eq!(status["state"], "running");
    assert_eq!(status["pid"], std::process::id());
    assert!(status["hostname"].is_string());
    assert!(status["process_started"].is_string());
    let updated = monitor::Timestamp::parse(status["updated_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        updated.system_time(),
        start() + 2 * 3600 * Duration::from_secs(1)
    );
    assert_eq!(status["health"]["verdict"], "red");
    assert_eq!(status["alerts"][0]["rule"], "stuck_execution");
    assert!(status["alerts"][0]["episode"].is_u64(), "{status}");
    // The latest resource sample, as monitor::resources() has it.
    let latest = monitor::resources().latest.expect("a sample at the flush");
    let resources = &status["resources"];
    assert_eq!(resources["rss_bytes"], latest.rss_bytes, "{status}");
    assert_eq!(
        resources["time"],
        latest.time.to_string().as_str(),
        "{status}"
    );
    for field in ["cpu_percent", "threads", "open_fds", "cpu_user_secs"] {
        assert!(resources.get(field).is_some(), "{field}: {status}");
    }
    let host = monitor::query::LogDir::open(&dir)
        .unwrap()
        .host_status()
        .unwrap()
        .unwrap();
    assert_eq!(host.resources.unwrap().rss_bytes, latest.rss_bytes);
    // The directory's report on a running host: its latest sample (with the
    // CPU time since the process started), not the minute's roll-up (which
    // has none: 0).
    let report = monitor::query::LogDir::open(&dir)
        .unwrap()
        .status_report()
        .unwrap();
    assert_eq!(report.resources, Some(latest));
    let running = &status["running"][0];
    assert_eq!(running["thread"], "status-worker");
    assert_eq!(running["stuck"], true);
    assert!(
        running["elapsed_ms"].as_f64().unwrap() > 7_199_000.0,
        "{running}"
    );
    assert!(running["id"].is_string());
    assert!(running["started"].is_string());
    assert_eq!(status["queue_depth"], 0);
    assert_eq!(status["dropped"], 0);
    release.send(()).unwrap();
    thread.join().unwrap();
    drop(guard);
    let status = read_status(&dir);
    assert_eq!(status["state"], "stopped");
    assert_eq!(status["running"].as_array().unwrap().len(), 0);
    assert!(!dir.join("status.json.tmp").exists());
}

#[test]
fn status_json_parses_at_every_moment_while_it_is_rewritten_ten_thousand_times() {
    let _lock = exclusive();
    let (builder, _clock, _received, dir) = builder("running-rewrites");
    let guard = builder.without_stats_db().install().unwrap();
    assert!(guard.flush());
    let path = dir.join("status.json");
    let done = std::sync::atomic::AtomicBool::new(false);
    let reads = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0u64;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let text = std::fs::read_to_string(&path).unwrap();
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|error| panic!("read {reads}: {error}: {text:?}"));
                assert_eq!(value["state"], "running");
                reads += 1;
            }
            reads
        });
        for i in 0..10_000u64 {
            std::hint::black_box(short(i));
            assert!(guard.flush()); // every flush rewrites the file
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        reader.join().unwrap()
    });
    assert!(reads > 0);
    drop(guard);
    assert_eq!(read_status(&dir)["state"], "stopped");
}

#[test]
fn an_unwritable_status_json_raises_sink_failing_until_it_can_be_written() {
    let _lock = exclusive();
    let (builder, _clock, received, dir) = builder("running-unwritable");
    let guard = builder.install().unwrap();
    assert!(guard.flush());
    // Something in the way of the temporary file: a directory by its name.
    std::fs::create_dir(dir.join("status.json.tmp")).unwrap();
    assert!(guard.flush()); // the write fails
    assert!(guard.flush()); // the rules see it
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert!(health.to_string().contains("status file"), "{health}");
    let sink_failing = |state: AlertState| {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.rule == AlertRule::SinkFailing && a.state == state)
    };
    assert!(sink_failing(AlertState::Firing));
    let message = received
        .lock()
        .unwrap()
        .iter()
        .find(|a| a.rule == AlertRule::SinkFailing && a.state == AlertState::Firing)
        .unwrap()
        .message
        .clone();
    // Its own advice; nothing is lost, the next write replaces the file.
    assert!(
        message.contains("status.json is written again"),
        "{message}"
    );
    assert!(!message.contains("lines are kept"), "{message}");
    assert!(message.contains("(0 lost so far)"), "{message}");
    std::fs::remove_dir(dir.join("status.json.tmp")).unwrap();
    assert!(guard.flush());
    assert!(guard.flush());
    let health = monitor::health();
    assert!(!health.to_string().contains("status file"), "{health}");
    assert!(sink_failing(AlertState::Resolved));
    assert_eq!(read_status(&dir)["state"], "running");
}

#[test]
fn stuck_after_changed_at_run_time_applies_at_the_next_evaluation_and_zero_is_refused() {
    let _lock = exclusive();
    let (builder, clock, received, _dir) = builder("running-set-rules");
    let guard = builder.install().unwrap();
    let (release, thread) = blocked_on_thread("rules-worker", wait_for_release);
    clock.advance(10 * MIN);
    assert!(guard.flush());
    assert!(stuck_alerts(&received, AlertState::Firing).is_empty());
    assert_eq!(
        named("wait_for_release")[0].stuck_after,
        Duration::from_secs(3600)
    );

    // A zero threshold is refused, the old rules staying.
    let zero = AlertRules {
        stuck_after: Duration::ZERO,
        ..monitor::alert_rules().global
    };
    let error = monitor::set_alert_rules(zero.clone()).unwrap_err();
    assert!(
        matches!(error, AlertsError::InvalidRules { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("stuck_after"), "{error}");
    assert!(zero.validate().is_err());
    let name = format!("{}::wait_for_release", module_path!());
    assert!(monitor::set_alert_rules_for(&name, zero).is_err());
    assert_eq!(
        monitor::alert_rules().global.stuck_after,
        Duration::from_secs(3600)
    );
    assert!(guard.flush());
    assert!(stuck_alerts(&received, AlertState::Firing).is_empty());

    // Five minutes: stuck at the next evaluation, the clock not moving.
    let mut rules = monitor::alert_rules().global;
    rules.stuck_after = 5 * MIN;
    monitor::set_alert_rules(rules.clone()).unwrap();
    assert!(guard.flush());
    let firing = stuck_alerts(&received, AlertState::Firing);
    assert_eq!(firing.len(), 1, "{:?}", received.lock().unwrap());
    assert_eq!(firing[0].numbers["threshold_ms"], 300_000.0);
    let running = named("wait_for_release");
    assert_eq!(running[0].stuck_after, 5 * MIN);
    assert!(running[0].stuck);

    // The function's own rules win: twenty minutes, no longer stuck, the
    // alert resolves while the execution still runs.
    rules.stuck_after = 20 * MIN;
    monitor::set_alert_rules_for(&name, rules).unwrap();
    assert!(guard.flush());
    let resolved = stuck_alerts(&received, AlertState::Resolved);
    assert_eq!(resolved.len(), 1, "{:?}", received.lock().unwrap());
    assert!(
        resolved[0]
            .message
            .contains("none is past its threshold now"),
        "{}",
        resolved[0].message
    );
    let running = named("wait_for_release");
    assert_eq!(running[0].stuck_after, 20 * MIN);
    assert!(!running[0].stuck);
    assert_eq!(monitor::alert_rules().global.stuck_after, 5 * MIN);

    release.send(()).unwrap();
    thread.join().unwrap();
    assert!(guard.flush());
}

#[test]
fn a_stuck_execution_has_episodes_in_the_history_and_an_acknowledgement_stops_its_reminders() {
    let _lock = exclusive();
    let (builder, clock, received, dir) = builder("running-ack");
    let guard = builder
        .alert_rules(AlertRules {
            stuck_after: 5 * MIN,
            ..AlertRules::default()
        })
        .install()
        .unwrap();
    let (release_a, thread_a) = blocked_on_thread("acked-worker", quick_to_be_stuck);
    let (release_b, thread_b) = blocked_on_thread("other-worker", wait_for_release);
    clock.advance(6 * MIN);
    assert!(guard.flush());
    let firing = stuck_alerts(&received, AlertState::Firing);
    assert_eq!(firing.len(), 2, "{firing:?}");
    let of = |alerts: &[Alert], name: &str| -> Vec<Alert> {
        alerts
            .iter()
            .filter(|alert| alert.function.as_deref().unwrap().ends_with(name))
            .cloned()
            .collect()
    };
    let acked = of(&firing, "quick_to_be_stuck")[0].episode().unwrap();
    let other = of(&firing, "wait_for_release")[0].episode().unwrap();
    assert_ne!(acked, other);

    monitor::acknowledge(acked, "alice", Some("attaching a debugger")).unwrap();
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    assert!(
        health.to_string().contains("(acknowledged by alice)"),
        "{health}"
    );
    // status.json's firing alerts carry their episode and acknowledgement.
    assert!(guard.flush());
    let status = read_status(&dir);
    let alerts = status["alerts"].as_array().unwrap();
    let in_file = |episode: u64| {
        alerts
            .iter()
            .find(|alert| alert["episode"] == episode)
            .unwrap_or_else(|| panic!("episode {episode} in {status}"))
    };
    assert_eq!(in_file(acked)["acknowledged"]["by"], "alice");
    assert_eq!(
        in_file(acked)["acknowledged"]["note"],
        "attaching a debugger"
    );
    assert!(in_file(other).get("acknowledged").is_none());
    let host = monitor::query::LogDir::open(&dir)
        .unwrap()
        .host_status()
        .unwrap()
        .unwrap();
    let read_back = host
        .alerts
        .iter()
        .find(|alert| alert.episode() == Some(acked))
        .unwrap();
    assert_eq!(read_back.acknowledged().unwrap().by, "alice");

    // An hour on: a reminder for the other episode only.
    clock.advance(61 * MIN);
    assert!(guard.flush());
    let reminders: Vec<Alert> = stuck_alerts(&received, AlertState::Firing)
        .into_iter()
        .filter(|alert| alert.reminder)
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:#?}");
    assert_eq!(reminders[0].episode(), Some(other));

    // Released: the resolution carries the episode and its acknowledgement.
    release_a.send(()).unwrap();
    thread_a.join().unwrap();
    assert!(guard.flush());
    let resolved = stuck_alerts(&received, AlertState::Resolved);
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0].episode(), Some(acked));
    assert_eq!(resolved[0].acknowledged().unwrap().by, "alice");

    // Every stuck_execution notification is in the history, with its episode.
    let history = monitor::alerts(&AlertQuery::new().rule(AlertRule::StuckExecution))
        .unwrap()
        .history;
    let notified = |alerts: &[Alert]| {
        let mut keys: Vec<(Option<u64>, AlertState, bool)> = alerts
            .iter()
            .map(|alert| (alert.episode(), alert.state, alert.reminder))
            .collect();
        keys.sort_by_key(|key| format!("{key:?}"));
        keys
    };
    let sent: Vec<Alert> = received
        .lock()
        .unwrap()
        .iter()
        .filter(|alert| alert.rule == AlertRule::StuckExecution)
        .cloned()
        .collect();
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert_eq!(notified(&history), notified(&sent));
    let episode = monitor::alerts(&AlertQuery::new().episode(acked))
        .unwrap()
        .history;
    assert_eq!(
        episode.len(),
        2,
        "its firing and its resolution: {episode:#?}"
    );

    release_b.send(()).unwrap();
    thread_b.join().unwrap();
    assert!(guard.flush());
}
