//! A `tracing` span's own fields, recorded by `monitor::layer()` the way
//! `#[monitored(fields(…))]` records its own: kept only when the span ends as
//! a failure, in both logs, capped identically.

mod common;

use common::{errors, exclusive, executions, lines_named, temp_dir};
use monitor::Monitor;
use serde_json::{json, Value};
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

fn with_layer<R>(work: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(monitor::layer());
    tracing::subscriber::with_default(subscriber, work)
}

fn only<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    let named = lines_named(lines, name);
    assert_eq!(named.len(), 1, "{name}: {named:?}");
    named[0]
}

#[derive(Debug)]
struct Order {
    id: u32,
}

#[tracing::instrument(target = "spans", err, skip(order, fail), fields(order_id = order.id, stage = %stage))]
fn place(order: Order, stage: &str, fail: bool) -> Result<u32, String> {
    if fail {
        Err(format!("order {} rejected", order.id))
    } else {
        Ok(order.id)
    }
}

#[test]
fn a_failed_spans_fields_are_in_both_logs_a_successful_ones_are_not() {
    let _lock = exclusive();
    let dir = temp_dir("span-fields");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    with_layer(|| {
        place(Order { id: 1 }, "new", false).unwrap();
        place(Order { id: 2 }, "paid \"twice\"\n", true).unwrap_err();
        let span = tracing::info_span!(
            target: "spans",
            "job",
            user_id = 42_u64,
            delta = -3_i64,
            ratio = 0.25,
            admin = true,
            who = "ada",
            thing = ?Order { id: 9 },
            later = Empty,
        );
        span.in_scope(|| {
            tracing::Span::current().record("later", "recorded");
            tracing::error!("went wrong");
        });
        drop(span);
        // Without fields beyond `message`, and successful: nothing.
        tracing::info_span!(target: "spans", "quiet").in_scope(|| {});
    });
    guard.flush();
    let lines = executions(&dir);
    let placed = lines_named(&lines, "spans::place");
    assert_eq!(placed.len(), 2);
    assert!(placed[0].get("fields").is_none(), "{}", placed[0]);
    let expected_place = json!({"order_id": 2, "stage": "paid \"twice\"\n"});
    assert_eq!(placed[1]["fields"], expected_place);
    let expected_job = json!({
        "user_id": 42,
        "delta": -3,
        "ratio": 0.25,
        "admin": true,
        "who": "ada",
        "thing": "Order { id: 9 }",
        "later": "recorded",
    });
    assert_eq!(only(&lines, "spans::job")["fields"], expected_job);
    assert!(only(&lines, "spans::quiet").get("fields").is_none());
    let errors = errors(&dir);
    assert_eq!(only(&errors, "spans::place")["fields"], expected_place);
    assert_eq!(only(&errors, "spans::job")["fields"], expected_job);
    drop(guard);
}

#[test]
fn span_fields_are_capped_like_the_attributes() {
    let _lock = exclusive();
    let dir = temp_dir("span-fields-caps");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let long = "ü".repeat(300);
    with_layer(|| {
        let span = tracing::info_span!(
            target: "spans",
            "wide",
            f01 = 1, f02 = 2, f03 = 3, f04 = 4, f05 = 5, f06 = 6, f07 = 7, f08 = 8,
            f09 = 9, f10 = 10, f11 = 11, f12 = 12, f13 = 13, f14 = 14, f15 = %long, f16 = 16,
            f17 = 17, f18 = 18,
        );
        span.in_scope(|| tracing::error!("boom"));
    });
    guard.flush();
    let lines = executions(&dir);
    let fields = only(&lines, "spans::wide")["fields"]
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(fields.len(), monitor::MAX_FIELDS);
    assert!(fields.get("f17").is_none() && fields.get("f16").is_some());
    let cut = fields["f15"].as_str().unwrap();
    assert!(cut.len() <= monitor::MAX_VALUE_BYTES && cut.ends_with('…'));
    assert!(long.starts_with(cut.trim_end_matches('…')));
    drop(guard);
}

#[test]
fn a_panicking_spans_fields_are_kept() {
    let _lock = exclusive();
    let dir = temp_dir("span-fields-panic");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    with_layer(|| {
        let result = std::panic::catch_unwind(|| {
            let _span = tracing::info_span!(target: "spans", "risky", attempt = 3_u8).entered();
            panic!("gave up");
        });
        assert!(result.is_err());
    });
    guard.flush();
    let errors = errors(&dir);
    let line = only(&errors, "spans::risky");
    assert_eq!(line["status"], "panic");
    assert_eq!(line["fields"], json!({"attempt": 3}));
    drop(guard);
}
