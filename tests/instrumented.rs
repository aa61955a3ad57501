//! `#[monitored]` beside `#[tracing::instrument]` with `monitor::layer()`
//! installed: one execution per call, under the function's name and trigger,
//! in either attribute order, sync and async; the function's span still
//! appears in its parent's trace tree.

mod common;

use common::{block_on, errors, exclusive, executions, lines_named, temp_dir};
use monitor::{monitored, Monitor};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Zero;

impl std::fmt::Display for Zero {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("zero")
    }
}

impl std::error::Error for Zero {}

fn check(n: u32) -> Result<u32, Zero> {
    if n == 0 {
        Err(Zero)
    } else {
        Ok(n)
    }
}

#[monitored(trigger = "cron")]
#[tracing::instrument(err)]
fn monitored_first(n: u32) -> Result<u32, Zero> {
    check(n)
}

#[tracing::instrument(err)]
#[monitored(trigger = "cron")]
fn instrument_first(n: u32) -> Result<u32, Zero> {
    check(n)
}

#[monitored(trigger = "cron")]
#[tracing::instrument(err)]
async fn async_monitored_first(n: u32) -> Result<u32, Zero> {
    check(n)
}

#[tracing::instrument(err)]
#[monitored(trigger = "cron")]
async fn async_instrument_first(n: u32) -> Result<u32, Zero> {
    check(n)
}

/// A `name` of its own: the trace shows that name too.
#[monitored(name = "nightly_export", trigger = "cron")]
#[tracing::instrument(err)]
fn export(n: u32) -> Result<u32, Zero> {
    check(n)
}

const NAMES: [&str; 4] = [
    "instrumented::monitored_first",
    "instrumented::instrument_first",
    "instrumented::async_monitored_first",
    "instrumented::async_instrument_first",
];

/// Calls each of the four with `n`.
fn call_all(n: u32) -> [Result<u32, Zero>; 4] {
    [
        monitored_first(n),
        instrument_first(n),
        block_on(async_monitored_first(n)),
        block_on(async_instrument_first(n)),
    ]
}

fn with_layer<R>(work: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(monitor::layer());
    tracing::subscriber::with_default(subscriber, work)
}

#[test]
fn each_call_is_one_execution_under_the_functions_name_and_trigger_in_either_order() {
    let _lock = exclusive();
    let dir = temp_dir("instrumented-once");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(|| {
        for n in [1, 2, 0] {
            for result in call_all(n) {
                assert_eq!(result.is_err(), n == 0);
            }
        }
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(
        stats.len(),
        NAMES.len(),
        "nothing but the four functions: {stats:#?}"
    );
    let lines = executions(&dir);
    let error_lines = errors(&dir);
    for name in NAMES {
        let s = stats
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {stats:#?}"));
        assert_eq!(
            (s.total_executions, s.success_count, s.error_count),
            (3, 2, 1),
            "{name}"
        );
        assert_eq!(s.trigger_type, "cron", "{name}");
        assert_eq!(
            s.top_error_patterns.len(),
            1,
            "{name}: {:#?}",
            s.top_error_patterns
        );
        assert_eq!(
            s.top_error_patterns[0].fingerprint, "instrumented::Zero: zero",
            "{name}"
        );
        let mine = lines_named(&lines, name);
        assert_eq!(mine.len(), 3, "{name}: {mine:#?}");
        for line in &mine {
            assert_eq!(line["trigger_type"], "cron", "{line}");
        }
        let failed = lines_named(&error_lines, name);
        assert_eq!(failed.len(), 1, "{name}: {failed:#?}");
        assert_eq!(failed[0]["error_type"], "instrumented::Zero");
        assert_eq!(failed[0]["error_message"], "zero");
    }
    assert_eq!(lines.len(), 3 * NAMES.len(), "{lines:#?}");
}

#[test]
fn the_functions_span_still_appears_in_its_parents_trace() {
    let _lock = exclusive();
    let dir = temp_dir("instrumented-tree");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    with_layer(|| {
        let request = tracing::info_span!(target: "app", "request");
        request.in_scope(|| {
            for result in call_all(0) {
                assert!(result.is_err());
            }
            export(5).unwrap();
        });
    });

    assert!(guard.flush());
    let stats = monitor::stats();
    for name in NAMES.iter().copied().chain(["nightly_export"]) {
        let s = stats
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {stats:#?}"));
        assert_eq!(s.total_executions, 1, "{name}");
        assert_eq!(s.trigger_type, "cron", "{name}");
    }
    assert_eq!(
        stats.len(),
        NAMES.len() + 2,
        "the four, the export and the request: {stats:#?}"
    );

    let lines = executions(&dir);
    let request = lines_named(&lines, "app::request");
    assert_eq!(request.len(), 1);
    let children = request[0]["execution_trace"]["children"]
        .as_array()
        .unwrap_or_else(|| panic!("no trace: {}", request[0]));
    let names: Vec<&str> = children
        .iter()
        .map(|node| node["name"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = NAMES.to_vec();
    expected.push("nightly_export");
    assert_eq!(names, expected);
    for node in &children[..NAMES.len()] {
        assert_eq!(node["status"], "error", "{node}");
        assert_eq!(node["error"], "zero", "{node}");
    }
    assert_eq!(children[NAMES.len()]["status"], "success");
    // The request itself succeeded: a child's error is the child's.
    assert_eq!(request[0]["status"], "success");
    assert_eq!(
        errors(&dir).len(),
        NAMES.len(),
        "one error line per failed call"
    );
}
