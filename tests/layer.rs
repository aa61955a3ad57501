//! `monitor::layer()`: tracing spans become executions, through the public API
//! as a host application uses it.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use common::{block_on, errors, exclusive, executions, lines_named, poll_once, temp_dir};
use monitor::{ExecutionTrace, Monitor, Overflow};
use serde_json::Value;
use tracing::{info_span, Dispatch, Instrument};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

/// A subscriber with the monitor layer (and nothing else).
fn with_layer<R>(layer: monitor::MonitorLayer, work: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), work)
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

fn yield_now() -> YieldNow {
    YieldNow(false)
}

fn names(nodes: &Value) -> Vec<&str> {
    nodes
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {nodes}"))
        .iter()
        .map(|node| node["name"].as_str().unwrap())
        .collect()
}

/// The children of a trace node (absent when it has none).
fn children(node: &Value) -> &Value {
    static EMPTY: Value = Value::Array(Vec::new());
    node.get("children").unwrap_or(&EMPTY)
}

/// Every node's start offset is non-negative, siblings are in start order,
/// and a node starts no earlier than its parent.
fn assert_offsets_ordered(nodes: &Value, parent_offset: f64) {
    let mut previous = parent_offset;
    for node in nodes.as_array().unwrap() {
        let offset = node["start_offset_ms"].as_f64().unwrap();
        assert!(
            offset >= 0.0 && offset >= previous,
            "offset {offset} before {previous}: {node}"
        );
        assert!(node["duration_ms"].as_f64().unwrap() >= 0.0);
        previous = offset;
        assert_offsets_ordered(children(node), offset);
    }
}

#[tracing::instrument]
fn handle(job: u32) -> u32 {
    job * 2
}

#[test]
fn each_closed_span_is_one_execution_named_target_and_name() {
    let _lock = exclusive();
    let dir = temp_dir("layer-counts");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(monitor::layer(), || {
        for n in 0..5 {
            let span = info_span!(target: "app::jobs", "tick", n);
            span.in_scope(|| handle(n));
        }
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    let tick = stats
        .get("app::jobs::tick")
        .unwrap_or_else(|| panic!("no tick in {stats:#?}"));
    assert_eq!((tick.total_executions, tick.success_count), (5, 5));
    assert_eq!(tick.trigger_type, "span");
    let handled = stats.get("layer::handle").unwrap();
    assert_eq!(
        (handled.total_executions, handled.trigger_type.as_str()),
        (5, "span")
    );

    let lines = executions(&dir);
    let ticks = lines_named(&lines, "app::jobs::tick");
    assert_eq!(ticks.len(), 5);
    for line in ticks {
        assert_eq!(line["trigger_type"], "span");
        assert_eq!(line["status"], "success");
        let busy = line["busy_ms"].as_f64().unwrap();
        let duration = line["duration_ms"].as_f64().unwrap();
        assert!(
            busy >= 0.0 && busy <= duration + 1e-3,
            "busy {busy} > duration {duration}"
        );
        // Each tick had a child (`handle`): the root's line carries its tree.
        assert_eq!(
            names(&line["execution_trace"]["children"]),
            ["layer::handle"]
        );
    }
    for line in lines_named(&lines, "layer::handle") {
        assert!(
            line.get("execution_trace").is_none(),
            "children carry no trace: {line}"
        );
    }
    assert!(errors(&dir).is_empty());
}

#[test]
fn a_re_entered_span_is_one_execution_and_its_time_counts_once() {
    let _lock = exclusive();
    let dir = temp_dir("layer-re-enter");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(monitor::layer(), || {
        let span = info_span!(target: "app", "session");
        span.in_scope(|| {
            span.in_scope(|| {
                info_span!(target: "app", "step").in_scope(|| {});
                // Work long enough that counting this stretch twice would
                // push busy time past the span's whole duration.
                let started = std::time::Instant::now();
                while started.elapsed() < std::time::Duration::from_millis(2) {
                    std::hint::spin_loop();
                }
            });
        });
        span.in_scope(|| {});
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.get("app::session").unwrap().total_executions, 1);
    let lines = executions(&dir);
    let session = lines_named(&lines, "app::session");
    assert_eq!(session.len(), 1);
    let busy = session[0]["busy_ms"].as_f64().unwrap();
    let duration = session[0]["duration_ms"].as_f64().unwrap();
    assert!(
        busy <= duration,
        "busy {busy} ms counted twice? duration {duration} ms"
    );
    assert_eq!(names_of_trace(session[0]), ["app::step"]);
}

#[derive(Debug)]
struct ParseError(String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a number: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

#[tracing::instrument(err)]
fn parse(input: &str) -> Result<u32, ParseError> {
    input.parse().map_err(|_| ParseError(input.to_owned()))
}

#[test]
fn instrument_err_makes_the_span_an_error_with_its_message() {
    let _lock = exclusive();
    let dir = temp_dir("layer-instrument-err");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(monitor::layer(), || {
        assert_eq!(parse("12").unwrap(), 12);
        assert!(parse("twelve").is_err());
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    let parse_stats = stats.get("layer::parse").unwrap();
    assert_eq!(
        (
            parse_stats.total_executions,
            parse_stats.success_count,
            parse_stats.error_count
        ),
        (2, 1, 1)
    );
    let last = parse_stats.last_error.as_ref().unwrap();
    assert_eq!(last.message, "not a number: twelve");
    assert_eq!(last.error_type, "tracing::error");

    let lines = executions(&dir);
    let parsed = lines_named(&lines, "layer::parse");
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0]["status"], "success");
    assert_eq!(parsed[1]["status"], "error");
    assert_eq!(parsed[1]["error_message"], "not a number: twelve");
    let error_lines = errors(&dir);
    assert_eq!(error_lines.len(), 1);
    assert_eq!(error_lines[0]["name"], "layer::parse");
    assert_eq!(error_lines[0]["error_message"], "not a number: twelve");
    assert_eq!(error_lines[0]["error_type"], "tracing::error");
}

/// Propagates `parse`'s error: the failure is this span's too.
#[tracing::instrument(err)]
fn parse_strict(input: &str) -> Result<u32, ParseError> {
    parse(input)
}

/// The rule for nested spans: a span's status is its own. A child's ERROR
/// event makes the child an error and leaves its parent `success`; the
/// child's failure shows in the root's `execution_trace`. The parent fails
/// only when the failure reaches it too (an `Err` it returns with
/// `#[instrument(err)]`, an ERROR event of its own, a panic through it).
#[test]
fn a_childs_failure_leaves_its_parent_success_and_shows_in_the_parents_trace() {
    let _lock = exclusive();
    let dir = temp_dir("layer-child-failure");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(monitor::layer(), || {
        info_span!(target: "rule", "lenient").in_scope(|| {
            // The child fails; the parent handles it and goes on.
            let value = parse("seven").unwrap_or(7);
            assert_eq!(value, 7);
        });
        info_span!(target: "rule", "strict").in_scope(|| {
            assert!(parse_strict("seven").is_err());
        });
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    let lenient = stats.get("rule::lenient").unwrap();
    assert_eq!((lenient.success_count, lenient.error_count), (1, 0));
    let strict = stats.get("layer::parse_strict").unwrap();
    assert_eq!(strict.error_count, 1, "the error it returned is its own");
    assert_eq!(stats.get("layer::parse").unwrap().error_count, 2);
    assert_eq!(
        stats.get("rule::strict").unwrap().success_count,
        1,
        "its child returned Err to it, but this span saw no ERROR event itself"
    );

    let lines = executions(&dir);
    let lenient = lines_named(&lines, "rule::lenient")[0];
    assert_eq!(lenient["status"], "success");
    let child = &lenient["execution_trace"]["children"][0];
    assert_eq!(child["name"], "layer::parse");
    assert_eq!(child["status"], "error");
    assert_eq!(child["error"], "not a number: seven");

    let strict = lines_named(&lines, "rule::strict")[0];
    assert_eq!(strict["status"], "success");
    let outer = &strict["execution_trace"]["children"][0];
    assert_eq!(outer["name"], "layer::parse_strict");
    assert_eq!(outer["status"], "error");
    let inner = &children(outer)[0];
    assert_eq!(inner["name"], "layer::parse");
    assert_eq!(inner["status"], "error");
}

#[test]
fn an_error_event_inside_a_span_marks_it_error() {
    let _lock = exclusive();
    let dir = temp_dir("layer-error-event");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(monitor::layer(), || {
        info_span!(target: "app", "backup").in_scope(|| {
            tracing::warn!("slow disk");
            tracing::error!(disk = "/dev/sda", "disk full");
        });
        info_span!(target: "app", "backup").in_scope(|| tracing::info!("all good"));
        // The `error` field wins over the message; Display of `%` values.
        info_span!(target: "app", "upload").in_scope(|| {
            let cause = std::io::Error::other("connection reset");
            tracing::error!(error = %cause, "upload failed");
        });
        // An error event outside any span is nobody's execution.
        tracing::error!("no span here");
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    let backup = stats.get("app::backup").unwrap();
    assert_eq!(
        (
            backup.total_executions,
            backup.error_count,
            backup.success_count
        ),
        (2, 1, 1)
    );
    assert_eq!(backup.last_error.as_ref().unwrap().message, "disk full");
    let upload = stats.get("app::upload").unwrap();
    assert_eq!(upload.error_count, 1);
    assert_eq!(
        upload.last_error.as_ref().unwrap().message,
        "connection reset"
    );
    assert_eq!(stats.len(), 2, "{stats:#?}");
    let error_lines = errors(&dir);
    assert_eq!(error_lines.len(), 2);
    assert_eq!(error_lines[0]["error_message"], "disk full");
}

/// root ── child_a ── grand_a1
///     │           └─ grand_a2 (error)
///     └─ child_b
fn nested_tree() {
    let root = info_span!(target: "tree", "root");
    root.in_scope(|| {
        info_span!(target: "tree", "child_a").in_scope(|| {
            info_span!(target: "tree", "grand_a1").in_scope(|| {});
            info_span!(target: "tree", "grand_a2")
                .in_scope(|| tracing::error!("grandchild failed"));
        });
        info_span!(target: "tree", "child_b").in_scope(|| {});
    });
}

fn assert_nested_shape(root: &Value) {
    let trace = &root["execution_trace"];
    assert_eq!(trace["truncated"], false);
    assert_eq!(trace["omitted"], 0);
    let top = &trace["children"];
    assert_eq!(names(top), ["tree::child_a", "tree::child_b"]);
    let child_a = &top[0];
    assert_eq!(
        names(children(child_a)),
        ["tree::grand_a1", "tree::grand_a2"]
    );
    assert_eq!(child_a["status"], "success");
    let grand_a2 = &children(child_a)[1];
    assert_eq!(grand_a2["status"], "error");
    assert_eq!(grand_a2["error"], "grandchild failed");
    assert!(children(&top[1]).as_array().unwrap().is_empty());
    assert_offsets_ordered(top, 0.0);
    let root_ms = root["duration_ms"].as_f64().unwrap();
    for node in top.as_array().unwrap() {
        let end = node["start_offset_ms"].as_f64().unwrap() + node["duration_ms"].as_f64().unwrap();
        assert!(
            end <= root_ms + 1e-3,
            "a child ends after its root: {end} > {root_ms}"
        );
    }
}

#[test]
fn nested_spans_make_the_roots_trace_and_executions_of_their_own() {
    let _lock = exclusive();
    let dir = temp_dir("layer-tree");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(monitor::layer(), nested_tree);

    assert!(guard.flush());
    let stats = monitor::stats();
    for name in [
        "tree::root",
        "tree::child_a",
        "tree::child_b",
        "tree::grand_a1",
        "tree::grand_a2",
    ] {
        assert_eq!(
            stats.get(name).map(|s| s.total_executions),
            Some(1),
            "{name}"
        );
    }
    assert_eq!(stats.get("tree::grand_a2").unwrap().error_count, 1);
    assert_eq!(stats.get("tree::root").unwrap().success_count, 1);

    let lines = executions(&dir);
    let roots = lines_named(&lines, "tree::root");
    assert_eq!(roots.len(), 1);
    assert_nested_shape(roots[0]);
    // The root closes last, after every descendant.
    assert_eq!(lines.last().unwrap()["name"], "tree::root");
}

#[test]
fn roots_only_records_roots_with_their_whole_tree() {
    let _lock = exclusive();
    let dir = temp_dir("layer-roots-only");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    let layer = monitor::layer().roots_only(true);
    assert!(layer.is_roots_only());
    with_layer(layer, nested_tree);

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.len(), 1, "{stats:#?}");
    assert_eq!(stats.get("tree::root").unwrap().total_executions, 1);
    let lines = executions(&dir);
    assert_eq!(lines.len(), 1);
    assert_nested_shape(&lines[0]);
    assert!(
        errors(&dir).is_empty(),
        "the failed grandchild is in the tree only"
    );
}

async fn fetch(part: u32) -> u32 {
    yield_now().await;
    async { yield_now().await }
        .instrument(info_span!(target: "net", "decode", part))
        .await;
    part
}

async fn request() -> u32 {
    let a = fetch(1)
        .instrument(info_span!(target: "net", "fetch", part = 1))
        .await;
    yield_now().await;
    let b = fetch(2)
        .instrument(info_span!(target: "net", "fetch", part = 2))
        .await;
    a + b
}

fn assert_request_shape(line: &Value) {
    let top = &line["execution_trace"]["children"];
    assert_eq!(names(top), ["net::fetch", "net::fetch"]);
    for fetch in top.as_array().unwrap() {
        assert_eq!(names(children(fetch)), ["net::decode"]);
    }
    assert_offsets_ordered(top, 0.0);
    let first_end =
        top[0]["start_offset_ms"].as_f64().unwrap() + top[0]["duration_ms"].as_f64().unwrap();
    assert!(
        top[1]["start_offset_ms"].as_f64().unwrap() >= first_end - 1e-3,
        "the second fetch starts after the first ends: {top}"
    );
}

#[test]
fn async_instrumented_futures_keep_their_shape_across_awaits() {
    let _lock = exclusive();
    let dir = temp_dir("layer-async");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    let total = with_layer(monitor::layer(), || {
        block_on(request().instrument(info_span!(target: "net", "request")))
    });
    assert_eq!(total, 3);

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.get("net::request").unwrap().total_executions, 1);
    assert_eq!(stats.get("net::fetch").unwrap().total_executions, 2);
    assert_eq!(stats.get("net::decode").unwrap().total_executions, 2);
    let lines = executions(&dir);
    let roots = lines_named(&lines, "net::request");
    assert_eq!(roots.len(), 1);
    assert_request_shape(roots[0]);
    let busy = roots[0]["busy_ms"].as_f64().unwrap();
    assert!(busy <= roots[0]["duration_ms"].as_f64().unwrap() + 1e-3);
}

#[test]
fn a_future_that_hops_threads_is_one_execution_with_the_right_tree() {
    let _lock = exclusive();
    let dir = temp_dir("layer-thread-hop");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    let dispatch = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));
    // Created under the dispatch on this thread, polled first on one thread and
    // finished on another.
    let mut future = tracing::dispatcher::with_default(&dispatch, || {
        Box::pin(request().instrument(info_span!(target: "net", "request")))
    });
    let first_thread = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tracing::dispatcher::with_default(&dispatch, || {
                    assert!(poll_once(future.as_mut()).is_pending())
                });
                format!("{:?}", std::thread::current().id())
            })
            .join()
            .unwrap()
    });
    let (total, second_thread) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let total =
                    tracing::dispatcher::with_default(&dispatch, || block_on(future.as_mut()));
                drop(future);
                (total, format!("{:?}", std::thread::current().id()))
            })
            .join()
            .unwrap()
    });
    assert_eq!(total, 3);
    assert_ne!(first_thread, second_thread);

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.get("net::request").unwrap().total_executions, 1);
    assert_eq!(stats.get("net::fetch").unwrap().total_executions, 2);
    let lines = executions(&dir);
    let roots = lines_named(&lines, "net::request");
    assert_eq!(roots.len(), 1);
    assert_request_shape(roots[0]);
    assert_eq!(
        roots[0]["thread"],
        second_thread.as_str(),
        "recorded where it closed"
    );
    let busy = roots[0]["busy_ms"].as_f64().unwrap();
    let duration = roots[0]["duration_ms"].as_f64().unwrap();
    assert!(
        busy < duration,
        "not entered between the two threads' polls: busy {busy} ms, duration {duration} ms"
    );
}

#[test]
fn a_per_layer_filter_picks_the_spans_beside_a_fmt_layer() {
    let _lock = exclusive();
    let dir = temp_dir("layer-filter");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    let subscriber = tracing_subscriber::registry()
        .with(
            monitor::layer().with_filter(tracing_subscriber::filter::filter_fn(|m| {
                m.target() == "kept"
            })),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::sink),
        );
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..3 {
            info_span!(target: "kept", "wanted").in_scope(|| {
                // Filtered out: not recorded, and its child hangs from `wanted`.
                info_span!(target: "other", "unwanted").in_scope(|| {
                    info_span!(target: "kept", "inner").in_scope(|| {});
                });
            });
            info_span!(target: "other", "skipped").in_scope(|| {});
        }
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    let names: Vec<&str> = stats.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["kept::inner", "kept::wanted"]);
    assert_eq!(stats.get("kept::wanted").unwrap().total_executions, 3);
    assert_eq!(stats.get("kept::inner").unwrap().total_executions, 3);
    let lines = executions(&dir);
    for root in lines_named(&lines, "kept::wanted") {
        assert_eq!(names_of_trace(root), ["kept::inner"]);
    }
}

/// More spans open at once than the layer's table has slots (1,024), from
/// two subscribers whose registries hand out the same ids: every span keeps
/// its own state (fields, busy time, error) wherever it is kept, is listed
/// as running until it closes, and is recorded once.
#[test]
fn many_spans_open_at_once_in_two_subscribers_each_keep_their_own_state() {
    const OPEN: u64 = 1_500;
    let _lock = exclusive();
    let dir = temp_dir("layer-many-open");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let first = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));
    let second = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));

    let open = |dispatch: &Dispatch, name: &'static str| {
        tracing::dispatcher::with_default(dispatch, || {
            (0..OPEN)
                .map(|n| {
                    let span = match name {
                        "first" => info_span!(target: "many", "first", n),
                        _ => info_span!(target: "many", "second", n),
                    };
                    span.in_scope(|| {
                        if n % 100 == 7 {
                            tracing::error!(error = %format!("{name} {n} failed"), "failed");
                        }
                    });
                    span
                })
                .collect::<Vec<_>>()
        })
    };
    let first_spans = open(&first, "first");
    let second_spans = open(&second, "second");
    let running = monitor::running();
    for name in ["many::first", "many::second"] {
        let listed = running.iter().filter(|run| run.name == name).count();
        assert_eq!(listed as u64, OPEN, "{name} listed as running");
    }
    // Closed in an order unlike creation: the second's spans in reverse.
    drop(first_spans);
    for span in second_spans.into_iter().rev() {
        drop(span);
    }
    assert!(monitor::running().is_empty());

    assert!(guard.flush());
    let stats = monitor::stats();
    for name in ["many::first", "many::second"] {
        let function = stats.get(name).unwrap();
        assert_eq!(
            (function.total_executions, function.error_count),
            (OPEN, OPEN / 100),
            "{name}"
        );
    }
    let lines = executions(&dir);
    for (name, short) in [("many::first", "first"), ("many::second", "second")] {
        let recorded = lines_named(&lines, name);
        assert_eq!(recorded.len() as u64, OPEN);
        let mut failed: Vec<u64> = Vec::new();
        for line in recorded {
            assert!(line["busy_ms"].as_f64().unwrap() >= 0.0, "{line}");
            if line["status"] == "error" {
                let n = line["fields"]["n"].as_u64().unwrap();
                assert_eq!(line["error_message"], format!("{short} {n} failed"));
                failed.push(n);
            } else {
                assert!(line.get("fields").is_none(), "{line}");
            }
        }
        failed.sort_unstable();
        let expected: Vec<u64> = (0..OPEN).filter(|n| n % 100 == 7).collect();
        assert_eq!(failed, expected, "{name}");
    }
}

fn names_of_trace(line: &Value) -> Vec<&str> {
    names(&line["execution_trace"]["children"])
}

#[test]
fn without_an_installed_monitor_nothing_is_recorded_and_nothing_panics() {
    let _lock = exclusive();
    let opened_before_install = with_layer(monitor::layer(), || {
        nested_tree();
        let _ = parse("nope");
        let _ = std::panic::catch_unwind(|| {
            let _span = info_span!(target: "none", "boom").entered();
            panic!("nobody is listening");
        });
        assert_eq!(
            block_on(request().instrument(info_span!(target: "net", "request"))),
            3
        );
        info_span!(target: "none", "opened_before_install")
    });
    assert!(monitor::stats().is_empty());

    // A span opened while no monitor was installed is not recorded later.
    let dir = temp_dir("layer-no-monitor");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    drop(opened_before_install);
    assert!(guard.flush());
    assert!(monitor::stats().is_empty(), "{:#?}", monitor::stats());
    assert!(executions(&dir).is_empty());
}

#[tracing::instrument]
fn jammed(depth: u32) {
    if depth == 0 {
        panic!("gears jammed");
    }
    jammed(depth - 1);
}

struct LogsOnDrop;

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        // Runs during the unwinding, fine: its span is not a panic.
        info_span!(target: "panics", "cleanup").in_scope(|| {});
    }
}

#[test]
fn a_panic_unwinding_through_an_entered_span_is_a_panic() {
    let _lock = exclusive();
    let dir = temp_dir("layer-panic");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(monitor::layer(), || {
        let caught = std::panic::catch_unwind(|| {
            let _span = info_span!(target: "panics", "outer").entered();
            let _cleanup = LogsOnDrop;
            jammed(1);
        });
        assert!(caught.is_err());
        // A panic caught inside the span is not the span's.
        info_span!(target: "panics", "survivor").in_scope(|| {
            let _ = std::panic::catch_unwind(|| panic!("caught inside"));
        });
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    let outer = stats.get("panics::outer").unwrap();
    assert_eq!((outer.total_executions, outer.panic_count), (1, 1));
    assert_eq!(outer.last_error.as_ref().unwrap().message, "gears jammed");
    let jammed = stats.get("layer::jammed").unwrap();
    assert_eq!((jammed.total_executions, jammed.panic_count), (2, 2));
    let cleanup = stats.get("panics::cleanup").unwrap();
    assert_eq!((cleanup.total_executions, cleanup.success_count), (1, 1));
    let survivor = stats.get("panics::survivor").unwrap();
    assert_eq!((survivor.total_executions, survivor.success_count), (1, 1));

    let lines = executions(&dir);
    let outer_line = lines_named(&lines, "panics::outer")[0];
    assert_eq!(outer_line["status"], "panic");
    let top = &outer_line["execution_trace"]["children"];
    assert_eq!(names(top), ["layer::jammed", "panics::cleanup"]);
    assert_eq!(top[0]["status"], "panic");
    assert_eq!(top[0]["error"], "gears jammed");
    assert_eq!(names(children(&top[0])), ["layer::jammed"]);
    assert_eq!(top[1]["status"], "success");
    let panic_lines: Vec<_> = errors(&dir)
        .into_iter()
        .filter(|line| line["status"] == "panic")
        .collect();
    assert_eq!(panic_lines.len(), 3);
}

#[test]
fn a_very_wide_or_deep_tree_is_truncated_and_says_so() {
    let _lock = exclusive();
    let dir = temp_dir("layer-wide");
    // Block rather than drop: every one of the 10,000 children is counted.
    let guard = Monitor::builder()
        .log_dir(&dir)
        .overflow(Overflow::Block)
        .install()
        .unwrap();

    const WIDE: usize = 10_000;
    const DEEP: usize = 100;
    with_layer(monitor::layer(), || {
        info_span!(target: "big", "wide").in_scope(|| {
            for _ in 0..WIDE {
                info_span!(target: "big", "leaf").in_scope(|| {});
            }
        });
        fn nest(level: usize) {
            if level < DEEP {
                info_span!(target: "big", "level").in_scope(|| nest(level + 1));
            }
        }
        info_span!(target: "big", "deep").in_scope(|| nest(0));
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.dropped_events, 0);
    assert_eq!(
        stats.get("big::leaf").unwrap().total_executions,
        WIDE as u64
    );
    assert_eq!(
        stats.get("big::level").unwrap().total_executions,
        DEEP as u64
    );

    let lines = executions(&dir);
    let wide = lines_named(&lines, "big::wide")[0];
    let text = wide.to_string();
    assert!(
        text.len() < 64 * 1024,
        "the root's line stays bounded: {} bytes",
        text.len()
    );
    let trace = &wide["execution_trace"];
    assert_eq!(trace["truncated"], true);
    assert_eq!(
        trace["children"].as_array().unwrap().len(),
        ExecutionTrace::MAX_NODES
    );
    assert_eq!(trace["omitted"], (WIDE - ExecutionTrace::MAX_NODES) as u64);
    assert_offsets_ordered(&trace["children"], 0.0);

    let deep = &lines_named(&lines, "big::deep")[0]["execution_trace"];
    assert_eq!(deep["truncated"], true);
    assert_eq!(deep["omitted"], (DEEP - ExecutionTrace::MAX_DEPTH) as u64);
    let mut depth = 0;
    let mut level = &deep["children"];
    while let Some(node) = level.as_array().and_then(|nodes| nodes.first()) {
        depth += 1;
        level = children(node);
    }
    assert_eq!(depth, ExecutionTrace::MAX_DEPTH);
}

#[monitor::monitored(name = "layer_host_job")]
fn host_job() {}

#[monitor::monitored(name = "layer_failing_job")]
fn failing_job() -> Result<(), String> {
    Err("refused".to_owned())
}

/// Called only by the sink and the notifier below: never recorded.
#[monitor::monitored(name = "layer_internal_job")]
fn internal_job() {}

/// What a real sink or notifier may do: call a monitored function, inside a
/// span of a subscriber with the monitor layer.
fn internal_work(dispatch: &Dispatch, calls: &AtomicUsize, span_name: &'static str) {
    calls.fetch_add(1, Ordering::Relaxed);
    internal_job();
    tracing::dispatcher::with_default(dispatch, || match span_name {
        "sink" => info_span!(target: "internal", "sink").in_scope(internal_job),
        _ => info_span!(target: "internal", "notifier").in_scope(internal_job),
    });
}

struct BusySink(Dispatch, Arc<AtomicUsize>);

impl monitor::Sink for BusySink {
    fn record(&mut self, _: &monitor::ExecutionRecord<'_>) {
        internal_work(&self.0, &self.1, "sink");
    }
}

struct BusyNotifier(Dispatch, Arc<AtomicUsize>);

impl monitor::Notifier for BusyNotifier {
    fn notify(&mut self, _: &monitor::Alert) {
        internal_work(&self.0, &self.1, "notifier");
    }
}

#[test]
fn the_monitors_own_threads_record_nothing_and_host_threads_named_monitor_do() {
    let _lock = exclusive();
    let dir = temp_dir("layer-monitor-threads");
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));
    let (sink_calls, notifier_calls) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .sink(BusySink(dispatch.clone(), Arc::clone(&sink_calls)))
        .notifier(BusyNotifier(dispatch.clone(), Arc::clone(&notifier_calls)))
        .install()
        .unwrap();

    // Host threads whose names happen to look like the monitor's own.
    for name in ["monitor-worker", "monitor-collector", "monitor-notifier-0"] {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn_scoped(scope, || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        info_span!(target: "host", "work").in_scope(host_job);
                    });
                })
                .unwrap()
                .join()
                .unwrap();
        });
    }
    // Five failures in a row: the notifier is called.
    for _ in 0..5 {
        failing_job().unwrap_err();
    }
    assert!(guard.flush());
    assert!(guard.flush()); // anything the notifier pushed is drained too

    assert_eq!(sink_calls.load(Ordering::Relaxed), 3 + 3 + 5);
    assert!(notifier_calls.load(Ordering::Relaxed) > 0);
    let stats = monitor::stats();
    let mut names: Vec<&str> = stats.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["host::work", "layer_failing_job", "layer_host_job"],
        "nothing from the sink or the notifier"
    );
    assert_eq!(common::total_executions("host::work"), 3);
    assert_eq!(common::total_executions("layer_host_job"), 3);
    assert_eq!(stats.dropped_events, 0);
    let lines = executions(&dir);
    let mut threads: Vec<&str> = lines_named(&lines, "host::work")
        .iter()
        .map(|line| line["thread"].as_str().unwrap())
        .collect();
    threads.sort_unstable();
    assert_eq!(
        threads,
        ["monitor-collector", "monitor-notifier-0", "monitor-worker"]
    );
}
