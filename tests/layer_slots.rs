//! `monitor::layer()` under concurrency and odd span shapes: the layer's
//! table of open spans (slots picked from the span id, an overflow map),
//! its busy time added without a lock, and the parent it finds for a new
//! span, through the public API as a host uses them.

mod common;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::Barrier;

use common::{exclusive, executions, lines_named, temp_dir};
use monitor::{Monitor, Overflow};
use serde_json::Value;
use tracing::{info_span, Dispatch};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

fn busy_ms(line: &Value) -> f64 {
    line["busy_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no busy_ms: {line}"))
}

fn trace_names(line: &Value) -> Vec<&str> {
    line["execution_trace"]["children"]
        .as_array()
        .unwrap_or_else(|| panic!("no trace: {line}"))
        .iter()
        .map(|node| node["name"].as_str().unwrap())
        .collect()
}

/// Work inside an entered span, so that its busy time is not zero: timed
/// work, not synchronisation (nothing waits on it).
fn work() {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_micros(50) {
        std::hint::spin_loop();
    }
}

/// A per-layer filter hides a span from the monitor, but not its children:
/// they hang from its nearest recorded ancestor (as the layer documents),
/// also when the hidden span is entered where that ancestor is not (a task
/// span made inside a request and polled on another thread, there inside a
/// recorded span of the worker's or not, or a span given an explicit
/// parent).
#[test]
fn a_child_of_a_filtered_out_span_hangs_from_its_recorded_ancestor_wherever_it_is_entered() {
    let _lock = exclusive();
    let dir = temp_dir("slots-filtered-parent");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    // Beside a layer that sees every span: the spans the monitor's filter
    // rejects exist (alone, it would leave them disabled altogether).
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(monitor::layer().roots_only(true).with_filter(
                tracing_subscriber::filter::filter_fn(|metadata| metadata.target() == "kept"),
            ))
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink)),
    );

    tracing::dispatcher::with_default(&dispatch, || {
        let request = info_span!(target: "kept", "request");
        // Made inside the request, entered (polled) on another thread.
        let (task, polled) = request.in_scope(|| {
            (
                info_span!(target: "other", "task"),
                info_span!(target: "other", "polled"),
            )
        });
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        task.in_scope(|| info_span!(target: "kept", "query").in_scope(|| {}));
                        // The worker's own recorded span around the poll.
                        info_span!(target: "kept", "worker").in_scope(|| {
                            polled.in_scope(|| info_span!(target: "kept", "fetch").in_scope(|| {}));
                        });
                    });
                })
                .join()
                .unwrap();
        });
        // Given the request as its parent explicitly, entered on this thread.
        let side = info_span!(target: "other", parent: &request, "side");
        side.in_scope(|| info_span!(target: "kept", "cache").in_scope(|| {}));
        drop((task, polled, side));
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    let names: Vec<&str> = stats.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["kept::request", "kept::worker"],
        "under roots_only the children are in the request's trace, not roots"
    );
    let lines = executions(&dir);
    let request = lines_named(&lines, "kept::request");
    assert_eq!(request.len(), 1);
    assert_eq!(
        trace_names(request[0]),
        ["kept::query", "kept::fetch", "kept::cache"]
    );
    let worker = lines_named(&lines, "kept::worker");
    assert!(worker[0].get("execution_trace").is_none(), "{}", worker[0]);
}

/// Two subscribers' registries hand out the same ids, and a closed span's
/// id place is reused by the next span: spans that meet in one slot of the
/// layer's table (or its overflow map) keep their own busy time. A span
/// never entered has none, whatever was entered beside it.
#[test]
fn busy_time_stays_with_its_own_span_when_spans_share_a_slot() {
    let _lock = exclusive();
    let dir = temp_dir("slots-busy-own");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .overflow(Overflow::Block)
        .install()
        .unwrap();
    let first = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));
    let second = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));

    // The same ids in both subscribers: the first's spans take the slots, the
    // second's go to the overflow map. Each pair has one span entered.
    let idle_first: Vec<_> = tracing::dispatcher::with_default(&first, || {
        (0..8)
            .map(|_| info_span!(target: "slots", "idle_first"))
            .collect()
    });
    let worked_second: Vec<_> = tracing::dispatcher::with_default(&second, || {
        (0..8)
            .map(|_| info_span!(target: "slots", "worked_second"))
            .collect()
    });
    tracing::dispatcher::with_default(&second, || {
        for span in &worked_second {
            span.in_scope(work);
        }
    });
    let idle_second: Vec<_> = tracing::dispatcher::with_default(&second, || {
        (0..8)
            .map(|_| info_span!(target: "slots", "idle_second"))
            .collect()
    });
    let worked_first: Vec<_> = tracing::dispatcher::with_default(&first, || {
        (0..8)
            .map(|_| info_span!(target: "slots", "worked_first"))
            .collect()
    });
    tracing::dispatcher::with_default(&first, || {
        for span in &worked_first {
            span.in_scope(work);
        }
    });
    // The slots' spans close while the overflow map's stay open; new spans
    // take the slots (same id places, other generations) and are never
    // entered, while the overflow map's spans are entered again.
    drop((idle_first, worked_first));
    let refilled: Vec<_> = tracing::dispatcher::with_default(&first, || {
        (0..8)
            .map(|_| info_span!(target: "slots", "idle_refilled"))
            .collect()
    });
    tracing::dispatcher::with_default(&second, || {
        for span in &worked_second {
            span.in_scope(work);
        }
    });
    drop((refilled, worked_second, idle_second));

    // One subscriber, one span at a time: each reuses the last one's id place
    // (and so its slot), alternately entered and not.
    tracing::dispatcher::with_default(&first, || {
        for _ in 0..20 {
            info_span!(target: "slots", "worked_reused").in_scope(work);
            drop(info_span!(target: "slots", "idle_reused"));
        }
    });

    assert!(guard.flush());
    assert_eq!(monitor::stats().dropped_events, 0);
    let lines = executions(&dir);
    for (name, count) in [
        ("slots::idle_first", 8),
        ("slots::idle_second", 8),
        ("slots::idle_refilled", 8),
        ("slots::idle_reused", 20),
    ] {
        let recorded = lines_named(&lines, name);
        assert_eq!(recorded.len(), count, "{name}");
        for line in recorded {
            assert_eq!(busy_ms(line), 0.0, "never entered, yet busy: {line}");
        }
    }
    for (name, count) in [
        ("slots::worked_first", 8),
        ("slots::worked_second", 8),
        ("slots::worked_reused", 20),
    ] {
        let recorded = lines_named(&lines, name);
        assert_eq!(recorded.len(), count, "{name}");
        for line in recorded {
            let busy = busy_ms(line);
            assert!(busy > 0.0, "its entered time was lost: {line}");
            assert!(
                busy <= line["duration_ms"].as_f64().unwrap() + 1e-3,
                "busy past its duration: {line}"
            );
        }
    }
}

/// One span entered on two threads at once (a `Span` is `Sync`), given a
/// value from a third while both are inside, failing on one of them: one
/// execution, with the value, the error, and the child each thread made.
#[test]
fn a_span_entered_on_two_threads_at_once_is_one_execution_with_everything_given_to_it() {
    let _lock = exclusive();
    let dir = temp_dir("slots-shared-span");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));

    let span = tracing::dispatcher::with_default(
        &dispatch,
        || info_span!(target: "shared", "batch", size = tracing::field::Empty, part = 0u64),
    );
    let inside = Barrier::new(3);
    let recorded = Barrier::new(3);
    std::thread::scope(|scope| {
        for part in 1..=2u64 {
            let (span, dispatch, inside, recorded) = (&span, &dispatch, &inside, &recorded);
            scope.spawn(move || {
                tracing::dispatcher::with_default(dispatch, || {
                    span.in_scope(|| {
                        inside.wait();
                        recorded.wait();
                        match part {
                            1 => info_span!(target: "shared", "left").in_scope(|| {}),
                            _ => info_span!(target: "shared", "right").in_scope(|| {
                                // Belongs to `right`, not to the batch.
                                tracing::error!("right failed");
                            }),
                        }
                        if part == 2 {
                            tracing::error!(error = "batch failed", "failed");
                        }
                    });
                });
            });
        }
        scope.spawn(|| {
            inside.wait();
            // Both threads are inside the span now.
            span.record("size", 42u64);
            span.record("part", 7u64);
            recorded.wait();
        });
    });
    drop(span);

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.get("shared::batch").unwrap().total_executions, 1);
    assert_eq!(stats.get("shared::batch").unwrap().error_count, 1);
    assert_eq!(stats.get("shared::right").unwrap().error_count, 1);
    assert_eq!(stats.get("shared::left").unwrap().success_count, 1);
    let lines = executions(&dir);
    let batch = lines_named(&lines, "shared::batch");
    assert_eq!(batch.len(), 1);
    let batch = batch[0];
    assert_eq!(batch["status"], "error");
    assert_eq!(batch["error_message"], "batch failed");
    assert_eq!(batch["fields"]["size"], 42);
    assert_eq!(batch["fields"]["part"], 7);
    let mut children = trace_names(batch);
    children.sort_unstable();
    assert_eq!(children, ["shared::left", "shared::right"]);
    assert!(busy_ms(batch) >= 0.0);
}

/// `monitor::running()` sampled again and again while threads create,
/// enter and close thousands of spans (more than the table's 1,024 slots
/// open at once, so some overflow): every sample lists the spans held open
/// throughout, lists nothing that is not a span of this test, and at the end
/// nothing is left; every span is recorded once, a never-entered one with no
/// busy time.
#[test]
fn running_sampled_while_threads_churn_spans_sees_every_long_span_and_loses_nothing() {
    const THREADS: usize = 3;
    const ROUNDS: usize = 4;
    const OPEN: usize = 400;
    let _lock = exclusive();
    let dir = temp_dir("slots-churn");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .overflow(Overflow::Block)
        .install()
        .unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));

    let (ready_tx, ready) = mpsc::channel::<()>();
    let (done_tx, done) = mpsc::channel::<()>();
    let mut closes = Vec::new();
    let samples = std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (dispatch, ready_tx, done_tx) = (&dispatch, ready_tx.clone(), done_tx.clone());
            let (close_tx, close) = mpsc::channel::<()>();
            closes.push(close_tx);
            std::thread::Builder::new()
                .name(format!("churn-{t}"))
                .spawn_scoped(scope, move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        let held = info_span!(target: "churn", "held", t);
                        ready_tx.send(()).unwrap();
                        for round in 0..ROUNDS {
                            // Open at once: 3 x 400 (+ 3 held) on the slots.
                            let open: Vec<_> = (0..OPEN)
                                .map(|n| info_span!(target: "churn", "open", n))
                                .collect();
                            for (n, span) in open.iter().enumerate() {
                                if n % 2 == 0 {
                                    span.in_scope(|| {
                                        info_span!(target: "churn", "child").in_scope(|| {
                                            if n % 100 == 0 {
                                                tracing::error!("child {round} {n} failed");
                                            }
                                        });
                                    });
                                }
                            }
                            // Closed in an order unlike creation.
                            for span in open.into_iter().rev() {
                                drop(span);
                            }
                        }
                        done_tx.send(()).unwrap();
                        close.recv().unwrap();
                        drop(held);
                    });
                })
                .unwrap();
        }
        drop((ready_tx, done_tx));
        for _ in 0..THREADS {
            ready.recv().unwrap();
        }
        let mut samples = 0;
        let mut finished = 0;
        while finished < THREADS {
            let running = monitor::running();
            let mut held: Vec<&str> = Vec::new();
            for run in &running {
                match run.name.as_str() {
                    "churn::held" => held.push(&run.thread),
                    "churn::open" | "churn::child" => {
                        assert!(run.thread.starts_with("churn-"), "{run:?}");
                    }
                    _ => panic!("not a span of this test: {run:?}"),
                }
            }
            held.sort_unstable();
            assert_eq!(held, ["churn-0", "churn-1", "churn-2"], "{running:?}");
            samples += 1;
            while done.try_recv().is_ok() {
                finished += 1;
            }
        }
        let running = monitor::running();
        assert_eq!(running.len(), THREADS, "only the held spans: {running:?}");
        for close in &closes {
            close.send(()).unwrap();
        }
        samples
    });
    assert!(samples > 0);
    assert!(monitor::running().is_empty(), "{:?}", monitor::running());

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.dropped_events, 0);
    let per_thread_open = (ROUNDS * OPEN) as u64;
    let count = |name: &str| stats.get(name).unwrap().total_executions;
    assert_eq!(count("churn::held"), THREADS as u64);
    assert_eq!(count("churn::open"), THREADS as u64 * per_thread_open);
    assert_eq!(count("churn::child"), THREADS as u64 * per_thread_open / 2);
    assert_eq!(
        stats.get("churn::child").unwrap().error_count,
        (THREADS * ROUNDS * OPEN.div_ceil(100)) as u64
    );
    let lines = executions(&dir);
    let mut per_thread: BTreeMap<&str, usize> = BTreeMap::new();
    for line in lines_named(&lines, "churn::open") {
        *per_thread
            .entry(line["thread"].as_str().unwrap())
            .or_default() += 1;
        let n = line["fields"]["n"].as_u64();
        assert!(n.is_none(), "a success writes no fields: {line}");
        assert_eq!(line["status"], "success");
        let entered = line["execution_trace"]["children"].is_array();
        if !entered {
            assert_eq!(busy_ms(line), 0.0, "never entered, yet busy: {line}");
        } else {
            assert_eq!(trace_names(line), ["churn::child"]);
        }
    }
    assert_eq!(
        per_thread.values().copied().collect::<Vec<_>>(),
        vec![ROUNDS * OPEN; THREADS]
    );
}

/// A span moved to another thread, entered there by a panic that unwinds
/// through it and its child, and closed on a third thread: one panic
/// execution with its fields and its child, listed as running until it
/// closes, recorded on the thread that closed it.
#[test]
fn a_span_that_panics_on_another_thread_and_closes_on_a_third_is_one_panic() {
    let _lock = exclusive();
    let dir = temp_dir("slots-panic-thread");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));

    let span = tracing::dispatcher::with_default(
        &dispatch,
        || info_span!(target: "moved", "job", n = 3u64),
    );
    let kept = span.clone();
    let runner = std::thread::Builder::new()
        .name("runner".into())
        .spawn({
            let dispatch = dispatch.clone();
            move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let _entered = span.entered();
                    info_span!(target: "moved", "step").in_scope(|| panic!("runner broke"));
                })
            }
        })
        .unwrap();
    assert!(runner.join().is_err());
    let running: Vec<String> = monitor::running().into_iter().map(|run| run.name).collect();
    assert_eq!(running, ["moved::job"]);
    std::thread::Builder::new()
        .name("closer".into())
        .spawn(move || drop(kept))
        .unwrap()
        .join()
        .unwrap();
    assert!(monitor::running().is_empty(), "{:?}", monitor::running());

    assert!(guard.flush());
    let lines = executions(&dir);
    let job = lines_named(&lines, "moved::job");
    assert_eq!(job.len(), 1);
    let job = job[0];
    assert_eq!(job["status"], "panic");
    assert_eq!(job["error_message"], "runner broke");
    assert_eq!(job["fields"]["n"], 3);
    assert_eq!(job["thread"], "closer");
    assert_eq!(trace_names(job), ["moved::step"]);
    let step = lines_named(&lines, "moved::step");
    assert_eq!(
        (step[0]["status"].as_str(), step[0]["thread"].as_str()),
        (Some("panic"), Some("runner"))
    );
}

/// A span entered again inside one of its children is not the current span
/// there (tracing's registry skips a re-entry: the child stays current), so
/// a span made inside, and an error event, both belong to the child, as the
/// registry and every other layer see them.
#[test]
fn a_span_re_entered_inside_its_child_leaves_the_child_the_parent_of_new_spans() {
    let _lock = exclusive();
    let dir = temp_dir("slots-re-entered-parent");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));

    tracing::dispatcher::with_default(&dispatch, || {
        let outer = info_span!(target: "again", "outer");
        outer.in_scope(|| {
            info_span!(target: "again", "middle").in_scope(|| {
                outer.in_scope(|| {
                    info_span!(target: "again", "inner").in_scope(|| {});
                    tracing::error!("middle failed");
                });
            });
        });
    });

    assert!(guard.flush());
    let lines = executions(&dir);
    let outer = lines_named(&lines, "again::outer");
    assert_eq!(outer[0]["status"], "success");
    let top = &outer[0]["execution_trace"]["children"];
    assert_eq!(trace_names(outer[0]), ["again::middle"], "{top}");
    assert_eq!(top[0]["status"], "error");
    assert_eq!(top[0]["children"][0]["name"], "again::inner", "{top}");
}
