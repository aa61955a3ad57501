//! Execution ids through the public API, as a host sees them: the `"id"` of
//! every execution line, the same in both logs, in the statistics, in the
//! alert that names the execution and in what sinks are handed; unique
//! across threads and restarts; time-ordered within a second of the line's
//! timestamp, also when the (injected) wall clock jumps.

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{alert_recorder, block_on, errors, exclusive, executions, lines_named, temp_dir};
use monitor::{
    monitored, AlertRule, ExecutionId, ExecutionRecord, ManualClock, Monitor, Overflow, Sink,
    Timestamp,
};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

#[monitored(name = "ids::work")]
fn work(x: u64) -> u64 {
    x.wrapping_mul(31)
}

#[monitored(name = "ids::marker")]
fn marker() {}

#[monitored(name = "ids::refuse")]
fn refuse(attempt: u32) -> Result<(), String> {
    Err(format!("connection refused on attempt {attempt}"))
}

/// The `"id"` of a line, parsed; panics if it is missing or not an id.
fn id_of(line: &Value) -> ExecutionId {
    line["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {line}"))
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// The ids of the lines of `name` in the executions log of `dir`.
fn ids_named(dir: &Path, name: &str) -> Vec<ExecutionId> {
    lines_named(&executions(dir), name)
        .into_iter()
        .map(id_of)
        .collect()
}

/// A sink that keeps `(name, id)` of every execution it is handed.
#[derive(Clone, Default)]
struct IdSink(Arc<Mutex<Vec<(String, ExecutionId)>>>);

impl Sink for IdSink {
    fn record(&mut self, execution: &ExecutionRecord<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((execution.name.to_owned(), execution.id()));
    }
}

#[test]
fn ids_are_unique_over_4_threads_of_10_000_calls_and_sinks_see_the_logged_ones() {
    let _lock = exclusive();
    let dir = temp_dir("ids-unique");
    let sink = IdSink::default();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        // Nothing dropped, whatever the collector's pace on a loaded machine.
        .overflow(Overflow::Block)
        .sink(sink.clone())
        .install()
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for x in 0..10_000 {
                    std::hint::black_box(work(x));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(guard.flush());
    let logged = ids_named(&dir, "ids::work");
    assert_eq!(logged.len(), 40_000);
    let unique: HashSet<ExecutionId> = logged.iter().copied().collect();
    assert_eq!(unique.len(), 40_000, "every execution has its own id");
    let threads: HashSet<u16> = logged.iter().map(|id| id.thread_number()).collect();
    assert_eq!(threads.len(), 4, "numbered by the thread that ran it");
    let runs: HashSet<u32> = logged.iter().map(|id| id.run()).collect();
    assert_eq!(runs.len(), 1, "one run per install");
    let seen: Vec<ExecutionId> = sink
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(name, _)| name == "ids::work")
        .map(|&(_, id)| id)
        .collect();
    assert_eq!(seen, logged, "the sink is handed the ids the log carries");
}

#[test]
fn one_failing_execution_has_the_same_id_in_both_logs_the_statistics_and_its_alert() {
    let _lock = exclusive();
    let dir = temp_dir("ids-same");
    let (alerts, on_alert) = alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .on_alert(on_alert)
        .install()
        .unwrap();
    marker();
    let _ = refuse(1);
    assert!(guard.flush());
    let executions = executions(&dir);
    let failed = lines_named(&executions, "ids::refuse");
    assert_eq!(failed.len(), 1);
    let id = id_of(failed[0]);
    let errors = errors(&dir);
    let in_errors = lines_named(&errors, "ids::refuse");
    assert_eq!(in_errors.len(), 1);
    assert_eq!(id_of(in_errors[0]), id, "the same id in the errors log");
    assert_ne!(id_of(lines_named(&executions, "ids::marker")[0]), id);
    // The id is the first field of both lines, and only of execution lines.
    let first_line = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .find(|line| line.contains("ids::refuse"))
            .unwrap()
            .to_owned()
    };
    for log in ["executions/current.log", "errors/current_errors.log"] {
        let line = first_line(&dir.join(log));
        assert!(
            line.starts_with(&format!("{{\"id\":\"{id}\",\"timestamp\":")),
            "{line}"
        );
    }

    let stats = monitor::stats();
    let function = stats.get("ids::refuse").unwrap();
    assert_eq!(function.last_error.as_ref().unwrap().execution_id, Some(id));
    assert_eq!(function.top_error_patterns[0].example_id, Some(id));

    let alert = alerts
        .lock()
        .unwrap()
        .iter()
        .find(|alert| alert.rule == AlertRule::NewErrorPattern)
        .cloned()
        .expect("a new error pattern is notified");
    assert_eq!(alert.execution_id(), Some(id), "{alert}");
    drop(guard);
    let logged_alert = common::read_json_lines(&dir.join("alerts/current_alerts.log"))
        .into_iter()
        .find(|line| line["rule"] == "new_error_pattern")
        .expect("the alert is logged");
    assert_eq!(logged_alert["execution_id"], id.to_string());
}

/// Milliseconds between an id's time and its line's timestamp.
fn skew_ms(line: &Value) -> f64 {
    let timestamp = Timestamp::parse(line["timestamp"].as_str().unwrap()).unwrap();
    let logged = timestamp
        .system_time()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3;
    (id_of(line).start_ms() as f64 - logged).abs()
}

/// An id's time is kept within 1 s of its line's timestamp (plus the
/// millisecond the id's time is cut to).
const MAX_SKEW_MS: f64 = 1_001.0;

#[test]
fn an_ids_time_stays_within_a_second_of_its_timestamp_when_the_clock_jumps() {
    let _lock = exclusive();
    let dir = temp_dir("ids-time");
    let start = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    let clock = ManualClock::new(start);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .clock(clock.clone())
        .install()
        .unwrap();
    work(1);
    assert!(guard.flush());
    // Forward an hour, back a day: the wall clock jumps, the ticks do not.
    clock.advance(Duration::from_secs(3_600));
    work(2);
    assert!(guard.flush());
    clock.set(start - Duration::from_secs(86_400));
    work(3);
    assert!(guard.flush());
    // Going back a day rotated the log: read every file, in call order.
    let mut logged: Vec<Value> = std::fs::read_dir(dir.join("executions"))
        .unwrap()
        .flat_map(|entry| common::read_json_lines(&entry.unwrap().path()))
        .collect();
    logged.sort_by_key(|line| id_of(line).sequence());
    let lines = lines_named(&logged, "ids::work");
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert!(skew_ms(line) <= MAX_SKEW_MS, "{} ms: {line}", skew_ms(line));
    }
    assert!(id_of(lines[2]).timestamp() < id_of(lines[0]).timestamp());

    // With the system clock: ids sort like the calls that made them.
    drop(guard);
    let dir = temp_dir("ids-time-system");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .install()
        .unwrap();
    for x in 0..100 {
        work(x);
    }
    assert!(guard.flush());
    let logged = executions(&dir);
    let lines = lines_named(&logged, "ids::work");
    assert_eq!(lines.len(), 100);
    let before = SystemTime::now();
    for line in &lines {
        assert!(skew_ms(line) <= MAX_SKEW_MS, "{} ms: {line}", skew_ms(line));
        assert!(id_of(line).timestamp().system_time() <= before);
    }
    let ids: Vec<ExecutionId> = lines.iter().map(|line| id_of(line)).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "one thread's ids sort in call order");
}

#[test]
fn a_second_install_on_the_same_directory_gives_new_ids() {
    let _lock = exclusive();
    let dir = temp_dir("ids-restart");
    let install = || {
        Monitor::builder()
            .log_dir(&dir)
            .stats_db(dir.join("stats.db"))
            .install()
            .unwrap()
    };
    let guard = install();
    work(1);
    let _ = refuse(1);
    drop(guard);
    let guard = install();
    work(1);
    let _ = refuse(2);
    assert!(guard.flush());
    let ids = ids_named(&dir, "ids::work");
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert_ne!(
        ids[0].run(),
        ids[1].run(),
        "each install is a run of its own"
    );
    // The latest error found in the statistics is the second run's.
    let refused = ids_named(&dir, "ids::refuse");
    let stats = monitor::stats();
    let function = stats.get("ids::refuse").unwrap();
    assert_eq!(function.total_executions, 2, "counted across the restart");
    assert_eq!(
        function.last_error.as_ref().unwrap().execution_id,
        Some(refused[1])
    );
    drop(guard);
    // Loaded from the stats store by a third install: still known.
    let guard = install();
    let stats = monitor::stats();
    let function = stats.get("ids::refuse").unwrap();
    assert_eq!(
        function.last_error.as_ref().unwrap().execution_id,
        Some(refused[1]),
        "{function:#?}"
    );
    assert_eq!(function.top_error_patterns[0].example_id, Some(refused[1]));
    drop(guard);
}

/// Returns `Pending` once (waking itself), then `Ready`: an await point.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[monitored(name = "ids::hop")]
async fn hop() -> u32 {
    YieldNow(false).await;
    7
}

/// Runs `f` on a new thread named `name` and returns what it returns.
fn on_thread<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn an_async_execution_keeps_the_id_of_the_thread_it_started_on() {
    let _lock = exclusive();
    let dir = temp_dir("ids-async");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .install()
        .unwrap();
    let started = on_thread("ids-starter", || {
        marker();
        let mut future = Box::pin(hop());
        assert!(common::poll_once(future.as_mut()).is_pending());
        future
    });
    let output = on_thread("ids-finisher", move || {
        marker();
        block_on(started)
    });
    assert_eq!(output, 7);
    assert!(guard.flush());
    let executions = executions(&dir);
    let markers = lines_named(&executions, "ids::marker");
    let thread_number = |thread: &str| {
        let line = markers
            .iter()
            .find(|line| line["thread"] == thread)
            .unwrap();
        id_of(line).thread_number()
    };
    let hop = lines_named(&executions, "ids::hop");
    assert_eq!(hop.len(), 1);
    assert_eq!(hop[0]["thread"], "ids-finisher", "recorded where it ended");
    assert_eq!(id_of(hop[0]).thread_number(), thread_number("ids-starter"));
    assert_ne!(thread_number("ids-starter"), thread_number("ids-finisher"));
    assert!(skew_ms(hop[0]) <= MAX_SKEW_MS);
}

#[test]
fn spans_get_ids_from_the_thread_that_created_them() {
    let _lock = exclusive();
    let dir = temp_dir("ids-spans");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .install()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));
    let creating = dispatch.clone();
    let span = on_thread("ids-span-creator", move || {
        marker();
        tracing::dispatcher::with_default(&creating, || {
            let inner = tracing::info_span!(target: "ids", "inner");
            drop(inner);
            tracing::info_span!(target: "ids", "request")
        })
    });
    let (closed, was_closed) = mpsc::channel();
    on_thread("ids-span-closer", move || {
        marker();
        drop(span);
        let _ = closed.send(());
    });
    was_closed.recv().unwrap();
    drop(dispatch);
    assert!(guard.flush());
    let executions = executions(&dir);
    let creator = lines_named(&executions, "ids::marker")
        .into_iter()
        .find(|line| line["thread"] == "ids-span-creator")
        .map(id_of)
        .unwrap();
    let request = lines_named(&executions, "ids::request");
    let inner = lines_named(&executions, "ids::inner");
    assert_eq!((request.len(), inner.len()), (1, 1));
    assert_eq!(request[0]["thread"], "ids-span-closer");
    for span in [request[0], inner[0]] {
        let id = id_of(span);
        assert_eq!(id.thread_number(), creator.thread_number(), "{span}");
        assert_eq!(id.run(), creator.run());
        assert!(skew_ms(span) <= MAX_SKEW_MS);
    }
    let (inner, request) = (id_of(inner[0]), id_of(request[0]));
    assert_ne!(inner, request);
    // Numbered in creation order on their thread: the marker, inner, request.
    assert_eq!(inner.sequence(), creator.sequence().wrapping_add(1));
    assert_eq!(request.sequence(), creator.sequence().wrapping_add(2));
}
