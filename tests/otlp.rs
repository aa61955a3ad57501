//! OTLP export (feature `otlp`) against a real receiver: a local OTLP/HTTP
//! server that decodes every request with the `opentelemetry-proto` types.
//! Spans (names, times, status, attributes, exception event, trace trees),
//! metrics equal to `stats()`, sampling, a receiver that refuses then
//! answers (retries, counts, the `sink_failing` alert firing and resolving),
//! a full exporter queue, and a receiver that never answers (shutdown within
//! `shutdown_timeout`). No sleeps: the test waits on the receiver's channel,
//! on `flush()` and on alert notifications.
#![cfg(feature = "otlp")]

mod common;
#[path = "common/otlp_receiver.rs"]
mod receiver;

use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{exclusive, temp_dir};
use monitor::{monitored, AlertRule, AlertState, InstallError, Monitor, OtlpConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};
use receiver::{attribute, spans, Received, Receiver, PATIENCE};
use tracing_subscriber::prelude::*;

#[monitored(name = "otlp::ok", fields(always, user_id = user))]
fn ok(user: u64) -> Result<u64, String> {
    Ok(user)
}

#[monitored(name = "otlp::failing")]
fn failing() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("disk on fire"))
}

#[monitored(name = "otlp::panicking")]
fn panicking() {
    panic!("boom at the end");
}

#[monitored(name = "otlp::slow", slow = "1ns")]
fn slow() {}

/// Quiet config for tests: spans and metrics go out at `flush()` only.
fn config(receiver: &Receiver) -> OtlpConfig {
    OtlpConfig::http(receiver.endpoint())
        .export_interval(Duration::from_secs(3600))
        .schedule_delay(Duration::from_secs(3600))
        .max_batch_size(10_000)
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn by_name<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|span| span.name == name).collect()
}

fn points<'a>(
    metrics: &'a [Metric],
    name: &str,
) -> &'a [opentelemetry_proto::tonic::metrics::v1::NumberDataPoint] {
    let metric = metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"));
    match metric.data.as_ref().unwrap() {
        metric::Data::Sum(sum) => &sum.data_points,
        metric::Data::Gauge(gauge) => &gauge.data_points,
        other => panic!("{name} is not a number: {other:?}"),
    }
}

fn int(point: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint) -> i64 {
    match point.value {
        Some(number_data_point::Value::AsInt(value)) => value,
        other => panic!("not an integer point: {other:?}"),
    }
}

/// Makes every request sent so far counted in `otlp_stats()`: the exporter
/// answers one request at a time, so once the metrics request of a new flush
/// arrives, it has counted the answers to every earlier one.
fn settle(receiver: &Receiver) {
    assert!(monitor::flush());
    let (answered, _) = receiver.next_metrics();
    assert_eq!(answered, 200);
}

#[test]
fn executions_become_spans_with_their_times_status_attributes_and_trees() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    let dir = temp_dir("otlp-spans");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .otlp(
            config(&receiver)
                .service_name("otlp-test")
                .resource_attribute("deployment.environment", "test")
                .header("x-api-key", "k1"),
        )
        .install()
        .unwrap();
    let before = SystemTime::now();
    ok(7).unwrap();
    failing().unwrap_err();
    std::panic::catch_unwind(panicking).unwrap_err();
    let subscriber = tracing_subscriber::registry().with(monitor::layer().roots_only(true));
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("otlp_root");
        let _root = root.enter();
        let child = tracing::info_span!("otlp_child");
        let _child = child.enter();
        let grandchild = tracing::info_span!("otlp_grandchild");
        drop(grandchild.enter());
    });
    let after = SystemTime::now();
    assert!(monitor::flush());

    let Received::Traces {
        answered,
        headers,
        request,
    } = receiver.next()
    else {
        panic!("the spans come first");
    };
    assert_eq!(answered, 200);
    assert!(headers.contains(&("x-api-key".to_owned(), "k1".to_owned())));
    assert!(headers.contains(&(
        "content-type".to_owned(),
        "application/x-protobuf".to_owned()
    )));
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        attribute(&resource.attributes, "service.name").as_deref(),
        Some("otlp-test")
    );
    assert_eq!(
        attribute(&resource.attributes, "deployment.environment").as_deref(),
        Some("test")
    );
    let all = spans(&request);
    // ok, failing, panicking, the root span and its two descendants.
    assert_eq!(all.len(), 6, "{all:#?}");
    for span in &all {
        assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
        assert!(span.start_time_unix_nano + 1_000_000_000 >= nanos(before));
        assert!(span.end_time_unix_nano <= nanos(after) + 1_000_000_000);
        assert_eq!(span.trace_id.len(), 16);
        assert_eq!(span.span_id.len(), 8);
    }

    let stats = monitor::stats();
    let ok_span = by_name(&all, "otlp::ok")[0];
    assert_eq!(
        ok_span.status.as_ref().unwrap().code,
        StatusCode::Unset as i32
    );
    assert!(ok_span.parent_span_id.is_empty());
    let attrs = &ok_span.attributes;
    assert_eq!(
        attribute(attrs, "code.function").as_deref(),
        Some("otlp::ok")
    );
    assert!(attribute(attrs, "code.filepath")
        .unwrap()
        .ends_with("otlp.rs"));
    assert!(
        attribute(attrs, "code.lineno")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );
    assert_eq!(
        attribute(attrs, "monitor.trigger_type").as_deref(),
        Some("call")
    );
    assert_eq!(attribute(attrs, "user_id").as_deref(), Some("7"));
    assert!(ok_span.events.is_empty());

    let failing_span = by_name(&all, "otlp::failing")[0];
    let status = failing_span.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "disk on fire");
    let failing_stats = stats
        .functions
        .iter()
        .find(|f| f.name == "otlp::failing")
        .unwrap();
    let failing_id = failing_stats
        .last_error
        .as_ref()
        .unwrap()
        .execution_id
        .unwrap();
    assert_eq!(
        attribute(&failing_span.attributes, "monitor.execution_id"),
        Some(failing_id.to_string())
    );
    let exception = &failing_span.events[0];
    assert_eq!(exception.name, "exception");
    assert_eq!(
        attribute(&exception.attributes, "exception.type").as_deref(),
        Some(&*failing_stats.last_error.as_ref().unwrap().error_type)
    );
    assert_eq!(
        attribute(&exception.attributes, "exception.message").as_deref(),
        Some("disk on fire")
    );

    let panic_span = by_name(&all, "otlp::panicking")[0];
    assert_eq!(
        panic_span.status.as_ref().unwrap().code,
        StatusCode::Error as i32
    );
    assert_eq!(
        panic_span.status.as_ref().unwrap().message,
        "boom at the end"
    );
    let exception = &panic_span.events[0];
    assert_eq!(
        attribute(&exception.attributes, "exception.type").as_deref(),
        Some("panic")
    );
    assert!(attribute(&exception.attributes, "exception.stacktrace")
        .unwrap()
        .contains("otlp.rs"));

    // The root span's execution_trace: child spans of it, with their offsets.
    let root = by_name(&all, "otlp::otlp_root")[0];
    assert_eq!(
        attribute(&root.attributes, "monitor.trigger_type").as_deref(),
        Some("span")
    );
    let child = by_name(&all, "otlp::otlp_child")[0];
    let grandchild = by_name(&all, "otlp::otlp_grandchild")[0];
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(grandchild.parent_span_id, child.span_id);
    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(grandchild.trace_id, root.trace_id);
    assert!(child.start_time_unix_nano >= root.start_time_unix_nano);
    assert!(grandchild.start_time_unix_nano >= child.start_time_unix_nano);
    // Executions that are not in one tree are traces of their own.
    assert_ne!(ok_span.trace_id, failing_span.trace_id);

    // Then the statistics as metrics, equal to stats().
    let (answered, metrics) = receiver.next_metrics();
    assert_eq!(answered, 200);
    let metrics = &metrics.resource_metrics[0].scope_metrics[0].metrics;
    let executions = points(metrics, "monitor.executions");
    for function in &stats.functions {
        for (status, expected) in [
            ("success", function.success_count),
            ("error", function.error_count),
            ("panic", function.panic_count),
            ("cancelled", function.cancelled_count),
        ] {
            let point = executions
                .iter()
                .find(|p| {
                    attribute(&p.attributes, "function").as_deref() == Some(&*function.name)
                        && attribute(&p.attributes, "status").as_deref() == Some(status)
                })
                .unwrap_or_else(|| panic!("no point for {} {status}", function.name));
            assert_eq!(int(point) as u64, expected, "{} {status}", function.name);
        }
    }
    assert_eq!(executions.len(), stats.functions.len() * 4);
    let histogram = metrics
        .iter()
        .find(|m| m.name == "monitor.execution.duration")
        .unwrap();
    let Some(metric::Data::Histogram(histogram)) = &histogram.data else {
        panic!("not a histogram");
    };
    assert_eq!(histogram.data_points.len(), stats.functions.len());
    for point in &histogram.data_points {
        let name = attribute(&point.attributes, "function").unwrap();
        let function = stats.functions.iter().find(|f| f.name == name).unwrap();
        let completed = function.success_count + function.error_count + function.panic_count;
        assert_eq!(point.count, completed, "{name}");
        assert_eq!(point.bucket_counts.iter().sum::<u64>(), completed, "{name}");
        let mean_seconds = function.mean_ms.unwrap() / 1e3;
        let sum = point.sum.unwrap();
        assert!(
            (sum - mean_seconds * completed as f64).abs() <= 1e-9 + 1e-6 * sum,
            "{name}: sum {sum} vs mean {mean_seconds}"
        );
    }
    assert_eq!(
        int(&points(metrics, "monitor.dropped_executions")[0]) as u64,
        stats.dropped_events
    );
    assert!(metrics.iter().any(|m| m.name == "monitor.alert.firing"));
    // The process, from the collector's resource sample (taken at the
    // flush's tick if not before).
    #[cfg(target_os = "linux")]
    {
        assert!(int(&points(metrics, "process.memory.usage")[0]) > 0);
        assert!(int(&points(metrics, "process.thread.count")[0]) > 0);
        assert!(metrics.iter().any(|m| m.name == "process.cpu.time"));
    }

    settle(&receiver);
    let otlp = monitor::otlp_stats();
    assert_eq!(otlp.spans_exported, 6);
    // The first metrics request, and the settling one when counted already.
    assert!((1..=2).contains(&otlp.metric_exports), "{otlp:?}");
    assert_eq!(
        otlp.spans_failed + otlp.spans_dropped + otlp.spans_sampled_out,
        0
    );
    drop(guard);
}

#[test]
fn successes_are_sampled_and_errors_panics_and_slow_executions_always_kept() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    let dir = temp_dir("otlp-sampling");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .otlp(config(&receiver).success_sample_ratio(0.0))
        .install()
        .unwrap();
    for user in 0..50 {
        ok(user).unwrap();
    }
    failing().unwrap_err();
    std::panic::catch_unwind(panicking).unwrap_err();
    slow();
    assert!(monitor::flush());
    let (_, request) = receiver.next_traces();
    let mut names: Vec<String> = spans(&request).into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, ["otlp::failing", "otlp::panicking", "otlp::slow"]);
    assert_eq!(monitor::otlp_stats().spans_sampled_out, 50);
    // Metrics count every execution whatever the ratio.
    let (_, metrics) = receiver.next_metrics();
    let metrics = &metrics.resource_metrics[0].scope_metrics[0].metrics;
    let success = points(metrics, "monitor.executions")
        .iter()
        .find(|p| {
            attribute(&p.attributes, "function").as_deref() == Some("otlp::ok")
                && attribute(&p.attributes, "status").as_deref() == Some("success")
        })
        .map(int);
    assert_eq!(success, Some(50));
    // A slow threshold set at run time (monitor::set_alert_rules_for) keeps
    // the function's executions over it too, from the next flush on.
    let mut rules = monitor::alert_rules().for_function("otlp::ok").clone();
    rules.slow_threshold = Some(Duration::from_nanos(1));
    monitor::set_alert_rules_for("otlp::ok", rules).unwrap();
    assert!(monitor::flush());
    ok(50).unwrap();
    assert!(monitor::flush());
    let (_, request) = receiver.next_traces();
    let names: Vec<String> = spans(&request).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["otlp::ok"]);
    assert_eq!(monitor::otlp_stats().spans_sampled_out, 50);
    drop(guard);

    // Half: every success is either exported or counted as sampled out.
    let receiver = Receiver::start();
    let guard = Monitor::builder()
        .log_dir(temp_dir("otlp-sampling-half"))
        .otlp(config(&receiver).success_sample_ratio(0.5))
        .install()
        .unwrap();
    for user in 0..400 {
        ok(user).unwrap();
    }
    assert!(monitor::flush());
    let sampled_out = monitor::otlp_stats().spans_sampled_out;
    assert!(0 < sampled_out && sampled_out < 400, "{sampled_out}");
    let (_, request) = receiver.next_traces();
    assert_eq!(spans(&request).len() as u64, 400 - sampled_out);
    drop(guard);
}

/// Signals that it runs, then waits until told to return.
#[monitored(name = "otlp::waiting", stuck_after = "5m")]
fn waiting(entered: mpsc::Sender<()>, release: mpsc::Receiver<()>) {
    entered.send(()).unwrap();
    release.recv().unwrap();
}

/// Starts `waiting` on a thread; returns once it runs.
fn waiting_on_a_thread() -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let thread = std::thread::spawn(move || waiting(entered_tx, release_rx));
    entered_rx.recv().unwrap();
    (release_tx, thread)
}

#[test]
fn an_execution_listed_as_stuck_is_kept_whatever_the_ratio() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    let clock = monitor::ManualClock::new(SystemTime::now());
    let guard = Monitor::builder()
        .log_dir(temp_dir("otlp-stuck"))
        .clock(clock.clone())
        .otlp(config(&receiver).success_sample_ratio(0.0))
        .install()
        .unwrap();
    // Released before it was ever stuck: a plain success, sampled out.
    let (release, thread) = waiting_on_a_thread();
    release.send(()).unwrap();
    thread.join().unwrap();
    assert!(monitor::flush());
    assert_eq!(monitor::otlp_stats().spans_sampled_out, 1);

    // Past its five minutes while it runs: stuck, then released.
    let (release, thread) = waiting_on_a_thread();
    let running = monitor::running();
    assert_eq!(running.len(), 1, "{running:?}");
    assert!(!running[0].stuck, "{running:?}");
    // Its id without the leading 48-bit time (10 characters): the run,
    // thread and sequence name the execution. The time part follows the
    // manual clock's jump, which moves the anchor ids' times come from.
    let stuck_id = running[0].id.to_string()[10..].to_owned();
    clock.advance(Duration::from_secs(600));
    assert!(monitor::flush());
    let running = monitor::running();
    assert!(running[0].stuck, "{running:?}");
    release.send(()).unwrap();
    thread.join().unwrap();
    assert!(monitor::flush());
    let (_, request) = receiver.next_traces();
    let spans = spans(&request);
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].name, "otlp::waiting");
    let exported_id = attribute(&spans[0].attributes, "monitor.execution_id").unwrap();
    assert_eq!(exported_id[10..], stuck_id);
    assert_eq!(monitor::otlp_stats().spans_sampled_out, 1);
    drop(guard);
}

/// The `monitor.running_executions` point of `function` in `metrics`.
fn running_count(request: &ExportMetricsServiceRequest, function: &str) -> i64 {
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    let gauge = points(metrics, "monitor.running_executions");
    let point = gauge
        .iter()
        .find(|p| attribute(&p.attributes, "function").as_deref() == Some(function))
        .unwrap_or_else(|| panic!("no running point for {function}: {gauge:?}"));
    int(point)
}

#[test]
fn the_running_executions_are_a_gauge_as_on_metrics() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    let guard = Monitor::builder()
        .log_dir(temp_dir("otlp-running"))
        .otlp(config(&receiver))
        .install()
        .unwrap();
    let (release, thread) = waiting_on_a_thread();
    assert!(ok(1).is_ok());
    assert!(monitor::flush());
    let (_, request) = receiver.next_metrics();
    assert_eq!(running_count(&request, "otlp::waiting"), 1);
    // Every function has a point, 0 for one with nothing running.
    assert_eq!(running_count(&request, "otlp::ok"), 0);
    release.send(()).unwrap();
    thread.join().unwrap();
    assert!(monitor::flush());
    let (_, request) = receiver.next_metrics();
    assert_eq!(running_count(&request, "otlp::waiting"), 0);
    drop(guard);
}

#[test]
fn a_refusing_receiver_is_retried_counted_alerted_on_and_recovered_from() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    receiver.answer(503);
    let (alerts_tx, alerts_rx) = mpsc::channel();
    let guard = Monitor::builder()
        .log_dir(temp_dir("otlp-refusing"))
        .otlp(config(&receiver).retries(2, Duration::from_millis(1)))
        .on_alert(move |alert| {
            if alert.rule == AlertRule::SinkFailing {
                let _ = alerts_tx.send((alert.state, alert.message.clone()));
            }
        })
        .install()
        .unwrap();
    for user in 0..5 {
        ok(user).unwrap();
    }
    assert!(monitor::flush());
    // One attempt and two retries, all refused.
    for _ in 0..3 {
        let (answered, request) = receiver.next_traces();
        assert_eq!(answered, 503);
        assert_eq!(spans(&request).len(), 5);
    }
    let (state, message) = alerts_rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(state, AlertState::Firing);
    assert!(message.contains("OTLP exporter"), "{message}");
    assert!(message.contains("503"), "{message}");
    let otlp = monitor::otlp_stats();
    assert_eq!(otlp.spans_failed, 5);
    assert_eq!(otlp.spans_exported, 0);
    assert!(otlp.retries >= 2, "{otlp:?}");
    assert!(otlp.requests_failed >= 3, "{otlp:?}");
    assert!(otlp.failing);

    receiver.answer(200);
    for user in 0..3 {
        ok(user).unwrap();
    }
    assert!(monitor::flush());
    let (answered, request) = receiver.next_traces();
    assert_eq!(answered, 200);
    assert_eq!(spans(&request).len(), 3);
    let (state, message) = alerts_rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(state, AlertState::Resolved, "{message}");
    settle(&receiver);
    let otlp = monitor::otlp_stats();
    assert_eq!(otlp.spans_exported, 3);
    assert_eq!(otlp.spans_failed, 5);
    assert!(!otlp.failing);
    drop(guard);
}

#[test]
fn a_full_exporter_queue_drops_and_counts_and_a_silent_receiver_does_not_hold_up_shutdown() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    receiver.answer(0); // reads each request and never answers
    let guard = Monitor::builder()
        .log_dir(temp_dir("otlp-silent"))
        .shutdown_timeout(Duration::from_secs(2))
        .otlp(
            config(&receiver)
                .max_queue_size(1)
                .timeout(Duration::from_secs(120)),
        )
        .install()
        .unwrap();
    ok(1).unwrap();
    assert!(monitor::flush());
    // The exporter is now blocked in a request that is never answered.
    let (_, request) = receiver.next_traces();
    assert_eq!(spans(&request).len(), 1);
    for user in 0..10 {
        ok(user).unwrap();
    }
    assert!(monitor::flush());
    let otlp = monitor::otlp_stats();
    assert_eq!(otlp.spans_dropped, 9, "one waits in the queue: {otlp:?}");

    let started = Instant::now();
    drop(guard);
    let took = started.elapsed();
    // Far below the two-minute request timeout it would take otherwise.
    assert!(took < Duration::from_secs(60), "shutdown took {took:?}");
}

#[test]
fn the_longest_durations_are_accepted_and_never_panic() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    let guard = Monitor::builder()
        .log_dir(temp_dir("otlp-longest"))
        .shutdown_timeout(Duration::MAX)
        .otlp(
            config(&receiver)
                .export_interval(Duration::MAX)
                .schedule_delay(Duration::MAX)
                .timeout(Duration::from_secs(3600))
                .retries(u32::MAX, Duration::MAX),
        )
        .install()
        .unwrap();
    ok(1).unwrap();
    assert!(monitor::flush());
    let (answered, request) = receiver.next_traces();
    assert_eq!((answered, spans(&request).len()), (200, 1));
    ok(2).unwrap();
    drop(guard); // the last span and metrics go out at shutdown
    let (answered, request) = receiver.next_traces();
    assert_eq!((answered, spans(&request).len()), (200, 1));
}

#[test]
fn bad_otlp_settings_are_install_errors() {
    let _exclusive = exclusive();
    for config in [
        OtlpConfig::http("127.0.0.1:4318"),
        OtlpConfig::http("http://127.0.0.1:4318/v1/traces"),
        OtlpConfig::http("http://127.0.0.1:4318").success_sample_ratio(1.5),
        OtlpConfig::http("http://127.0.0.1:4318").header("bad name", "v"),
        OtlpConfig::http("http://127.0.0.1:4318").max_queue_size(0),
        OtlpConfig::http("http://127.0.0.1:4318").timeout(Duration::ZERO),
        OtlpConfig::http("http://127.0.0.1:4318").timeout(Duration::MAX),
    ] {
        let error = Monitor::builder()
            .log_dir(temp_dir("otlp-bad"))
            .otlp(config.clone())
            .install()
            .map(drop)
            .unwrap_err();
        assert!(
            matches!(
                error,
                InstallError::InvalidConfig {
                    setting: "otlp",
                    ..
                }
            ),
            "{config:?}: {error}"
        );
    }
}
