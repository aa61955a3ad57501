//! Executions and statistics as OTLP messages (the `opentelemetry-proto`
//! types): one [`ExportTraceServiceRequest`] per batch of spans, one
//! [`ExportMetricsServiceRequest`] per metrics export. Only this file and
//! `export.rs` name those types.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status as SpanStatus,
};

use super::config::OtlpConfig;
use super::{Parent, SpanJob};
use crate::alerts::Alert;
use crate::event::Status;
use crate::fields::FieldValue;
use crate::resources::ResourceSample;
use crate::span_trace::TraceNode;
use crate::stats::{Durations, Published, EXPOSED_BUCKETS, EXPOSED_POWERS};

/// The instrumentation scope of everything exported.
const SCOPE_NAME: &str = "monitor";

fn key_value(key: impl Into<String>, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
    key_value(key, any_value::Value::StringValue(value.into()))
}

fn int(key: impl Into<String>, value: i64) -> KeyValue {
    key_value(key, any_value::Value::IntValue(value))
}

/// Nanoseconds since the Unix epoch (0 before it).
pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos().min(u128::from(u64::MAX)) as u64)
}

/// The resource of every request: `service.name`, the SDK's name, and the
/// configured attributes.
pub(crate) fn resource(config: &OtlpConfig) -> Resource {
    let service = config.service_name.clone().unwrap_or_else(|| {
        let program = std::env::current_exe()
            .ok()
            .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default();
        format!("unknown_service:{program}")
    });
    let mut attributes = vec![
        text("service.name", service),
        text("telemetry.sdk.name", "monitor"),
        text("telemetry.sdk.language", "rust"),
        text("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        int("process.pid", i64::from(std::process::id())),
    ];
    for (key, value) in &config.resource {
        attributes.retain(|kv| kv.key != *key);
        attributes.push(text(key.clone(), value.clone()));
    }
    Resource {
        attributes,
        ..Resource::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..InstrumentationScope::default()
    }
}

/// Trace and span ids: splitmix64 over a per-exporter seed (ids need to be
/// unique, not secret; OpenTelemetry's own SDK uses a small PRNG too).
pub(crate) struct IdGenerator(u64);

impl IdGenerator {
    pub(crate) fn new() -> Self {
        let local = 0u8;
        let seed = unix_nanos(SystemTime::now())
            ^ (u64::from(std::process::id()) << 32)
            ^ (&local as *const u8 as u64).rotate_left(17);
        IdGenerator(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A span id: 8 bytes, never all zero (invalid in OTLP).
    fn span_id(&mut self) -> [u8; 8] {
        loop {
            let id = self.next();
            if id != 0 {
                return id.to_be_bytes();
            }
        }
    }

    fn trace_id(&mut self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.span_id());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        id
    }
}

fn span_status(status: Status, message: Option<&str>) -> SpanStatus {
    match status {
        Status::Error | Status::Panic => SpanStatus {
            code: status::StatusCode::Error as i32,
            message: message.unwrap_or_default().to_owned(),
        },
        // Instrumentation leaves a success `Unset` (the OpenTelemetry
        // convention: `Ok` is for the application to set).
        _ => SpanStatus::default(),
    }
}

fn field_value(value: &FieldValue) -> any_value::Value {
    match value {
        FieldValue::I64(v) => any_value::Value::IntValue(*v),
        FieldValue::U64(v) => match i64::try_from(*v) {
            Ok(v) => any_value::Value::IntValue(v),
            Err(_) => any_value::Value::StringValue(v.to_string()),
        },
        FieldValue::F64(v) => any_value::Value::DoubleValue(*v),
        FieldValue::Bool(v) => any_value::Value::BoolValue(*v),
        FieldValue::Str(v) => any_value::Value::StringValue(v.clone()),
    }
}

/// The spans of one execution: its own, then one per node of its
/// `execution_trace` (children of it, with their offsets).
pub(crate) fn spans_of(job: &SpanJob, ids: &mut IdGenerator, out: &mut Vec<Span>) {
    let (trace_id, parent_span_id) = match job.parent {
        Some(Parent { trace_id, span_id }) => (trace_id, span_id.to_vec()),
        None => (ids.trace_id(), Vec::new()),
    };
    let span_id = ids.span_id();
    let start = unix_nanos(job.start);
    let end = start.saturating_add(duration_nanos(job.duration));
    let mut attributes = vec![
        text("code.function", &*job.name),
        text("code.namespace", job.module_path),
        text("code.filepath", job.file),
        int("code.lineno", i64::from(job.line)),
        text("monitor.trigger_type", job.trigger_type),
        text("monitor.execution_id", job.id.to_string()),
        text("monitor.status", job.status.as_str()),
        text("thread.name", &*job.thread),
    ];
    if let Some(busy) = job.busy {
        attributes.push(key_value(
            "monitor.busy_ms",
            any_value::Value::DoubleValue(busy.as_secs_f64() * 1e3),
        ));
    }
    for field in &job.fields {
        attributes.push(key_value(field.name(), field_value(field.value())));
    }
    let mut events = Vec::new();
    if let Some(failure) = job.failure.as_deref() {
        let mut exception = vec![
            text("exception.type", &*failure.error_type),
            text("exception.message", &failure.message),
        ];
        let mut stack = failure.stack_trace.clone().unwrap_or_default();
        if let Some(location) = &failure.location {
            if stack.is_empty() {
                stack = format!("at {location}");
            }
        }
        if !failure.chain.is_empty() {
            let chain = failure
                .chain
                .iter()
                .map(|cause| format!("caused by: {cause}"))
                .collect::<Vec<_>>()
                .join("\n");
            stack = if stack.is_empty() {
                chain
            } else {
                format!("{chain}\n{stack}")
            };
        }
        if !stack.is_empty() {
            exception.push(text("exception.stacktrace", stack));
        }
        if job.status == Status::Panic {
            exception.push(key_value(
                "exception.escaped",
                any_value::Value::BoolValue(true),
            ));
        }
        events.push(span::Event {
            time_unix_nano: end,
            name: "exception".to_owned(),
            attributes: exception,
            ..span::Event::default()
        });
    }
    let message = job
        .failure
        .as_deref()
        .map(|failure| failure.message.as_str());
    out.push(Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id,
        name: job.name.to_string(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        events,
        status: Some(span_status(job.status, message)),
        ..Span::default()
    });
    if let Some(trace) = job.trace.as_deref() {
        for node in &trace.children {
            node_spans(node, &trace_id, &span_id, start, ids, out);
        }
    }
}

fn node_spans(
    node: &TraceNode,
    trace_id: &[u8; 16],
    parent: &[u8; 8],
    root_start: u64,
    ids: &mut IdGenerator,
    out: &mut Vec<Span>,
) {
    let span_id = ids.span_id();
    let start = root_start.saturating_add(millis_to_nanos(node.start_offset_ms));
    let end = start.saturating_add(millis_to_nanos(node.duration_ms));
    out.push(Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: parent.to_vec(),
        name: node.name.clone(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: vec![
            text("code.function", &node.name),
            text("monitor.status", node.status.as_str()),
        ],
        status: Some(span_status(node.status, node.error.as_deref())),
        ..Span::default()
    });
    for child in &node.children {
        node_spans(child, trace_id, &span_id, root_start, ids, out);
    }
}

fn duration_nanos(duration: Duration) -> u64 {
    duration.as_nanos().min(u128::from(u64::MAX)) as u64
}

fn millis_to_nanos(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1e6).round() as u64
    } else {
        0
    }
}

/// One request holding `spans`.
pub(crate) fn trace_request(resource: &Resource, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// The monitor's own numbers besides the statistics.
pub(crate) struct SelfNumbers {
    pub(crate) queue_depth: u64,
    pub(crate) restarts: u64,
    /// The collector's latest resource sample, if it took one.
    pub(crate) resources: Option<ResourceSample>,
    /// The collector's latest sample of the running executions.
    pub(crate) running: Arc<crate::collector::RunningNow>,
}

/// One point per function: how many of its executions the sample lists
/// (every function, 0 for one with none; by name, as `/metrics` does).
fn running_points(
    functions: &[crate::stats::FunctionStats],
    running: &crate::collector::RunningNow,
    point: impl Fn(&str, u64) -> NumberDataPoint,
) -> Vec<NumberDataPoint> {
    let mut counts: std::collections::BTreeMap<&str, u64> = functions
        .iter()
        .map(|function| (function.name.as_str(), 0))
        .collect();
    for execution in &running.executions {
        *counts.entry(execution.name.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(name, count)| point(name, count))
        .collect()
}

/// The metrics: the same set as the Prometheus exposition (`/metrics`),
/// under OpenTelemetry names (a Collector's Prometheus exporter gives back
/// the `monitor_…` names): cumulative since `start`.
pub(crate) fn metrics_request(
    resource: &Resource,
    published: &Published,
    firing: &[Alert],
    numbers: &SelfNumbers,
    start: SystemTime,
    now: SystemTime,
) -> ExportMetricsServiceRequest {
    let start = unix_nanos(start);
    let now = unix_nanos(now);
    let point = |attributes: Vec<KeyValue>, value: i64| NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsInt(value)),
        ..NumberDataPoint::default()
    };
    let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let functions = &published.stats.functions;
    let names: Vec<Arc<str>> = functions.iter().map(|f| Arc::from(&*f.name)).collect();

    let mut executions = Vec::with_capacity(functions.len() * 4);
    for (function, name) in functions.iter().zip(&names) {
        for (status, count) in [
            ("success", function.success_count),
            ("error", function.error_count),
            ("panic", function.panic_count),
            ("cancelled", function.cancelled_count),
        ] {
            executions.push(point(
                vec![text("function", &**name), text("status", status)],
                as_i64(count),
            ));
        }
    }

    let bounds: Vec<f64> = (0..EXPOSED_BUCKETS)
        .map(|slot| (1u64 << (EXPOSED_POWERS.start + slot as u32)) as f64 / 1e9)
        .collect();
    let empty = Durations::default();
    let histogram_points = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let durations = published.durations.get(index).unwrap_or(&empty);
            // OTLP bucket counts are per bucket; `below` is cumulative.
            let mut counts = Vec::with_capacity(EXPOSED_BUCKETS + 1);
            let mut previous = 0;
            for &below in &durations.below {
                counts.push(below.saturating_sub(previous));
                previous = below;
            }
            counts.push(durations.count.saturating_sub(previous));
            HistogramDataPoint {
                attributes: vec![text("function", &**name)],
                start_time_unix_nano: start,
                time_unix_nano: now,
                count: durations.count,
                sum: Some(durations.sum_nanos as f64 / 1e9),
                bucket_counts: counts,
                explicit_bounds: bounds.clone(),
                ..HistogramDataPoint::default()
            }
        })
        .collect();

    let cumulative = AggregationTemporality::Cumulative as i32;
    let sum = |name: &str, description: &str, unit: &str, data_points| Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: cumulative,
            is_monotonic: true,
        })),
        ..Metric::default()
    };
    let gauge = |name: &str, description: &str, unit: &str, data_points| Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Gauge(Gauge { data_points })),
        ..Metric::default()
    };
    let mut metrics = vec![
        sum(
            "monitor.executions",
            "Executions of each monitored function by how they ended (cancelled: async executions dropped before completing, not in the other three).",
            "{execution}",
            executions,
        ),
        Metric {
            name: "monitor.execution.duration".to_owned(),
            description: "How long completed executions took (buckets at powers of two nanoseconds, from the collector's own histogram).".to_owned(),
            unit: "s".to_owned(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: histogram_points,
                aggregation_temporality: cumulative,
            })),
            ..Metric::default()
        },
        gauge(
            "monitor.alert.firing",
            "1 for every alert firing now (function is empty for the monitor's own rules).",
            "{alert}",
            firing
                .iter()
                .map(|alert| {
                    point(
                        vec![
                            text("rule", alert.rule.as_str()),
                            text("function", alert.function.as_deref().unwrap_or("")),
                            text("severity", alert.severity.as_str()),
                        ],
                        1,
                    )
                })
                .collect(),
        ),
        gauge(
            "monitor.running_executions",
            "Executions of each function started and not finished, at the collector's latest sample (0 for a function with none).",
            "{execution}",
            running_points(functions, &numbers.running, |name, count| {
                point(vec![text("function", name)], as_i64(count))
            }),
        ),
        sum(
            "monitor.dropped_executions",
            "Executions dropped because a queue was full.",
            "{execution}",
            vec![point(Vec::new(), as_i64(published.stats.dropped_events))],
        ),
        gauge(
            "monitor.queue.depth",
            "Executions waiting in the queues when the collector last looked.",
            "{execution}",
            vec![point(Vec::new(), as_i64(numbers.queue_depth))],
        ),
        sum(
            "monitor.collector.restarts",
            "Times the collector panicked and was restarted.",
            "{restart}",
            vec![point(Vec::new(), as_i64(numbers.restarts))],
        ),
    ];
    // The process, from the collector's latest sample (the `process_*`
    // metrics of `/metrics`), under OpenTelemetry's semantic-convention
    // names; a value the platform does not give is left out.
    if let Some(sample) = &numbers.resources {
        let double = |value: f64| NumberDataPoint {
            start_time_unix_nano: start,
            time_unix_nano: now,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..NumberDataPoint::default()
        };
        metrics.push(Metric {
            name: "process.cpu.time".to_owned(),
            description: "Total user and system CPU time spent in seconds.".to_owned(),
            unit: "s".to_owned(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![double(sample.cpu_secs())],
                aggregation_temporality: cumulative,
                is_monotonic: true,
            })),
            ..Metric::default()
        });
        for (name, description, unit, value) in [
            (
                "process.memory.usage",
                "Resident memory size in bytes.",
                "By",
                Some(sample.rss_bytes),
            ),
            (
                "process.memory.virtual",
                "Virtual memory size in bytes.",
                "By",
                sample.virtual_bytes,
            ),
            (
                "process.open_file_descriptor.count",
                "Open file descriptors.",
                "{file_descriptor}",
                sample.open_fds,
            ),
            (
                "process.thread.count",
                "Threads of the process.",
                "{thread}",
                sample.threads,
            ),
        ] {
            if let Some(value) = value {
                metrics.push(gauge(
                    name,
                    description,
                    unit,
                    vec![point(Vec::new(), as_i64(value))],
                ));
            }
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource.clone()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_zero_and_differ() {
        let mut ids = IdGenerator(0);
        let a = ids.trace_id();
        let b = ids.trace_id();
        assert_ne!(a, [0; 16]);
        assert_ne!(a, b);
        assert_ne!(ids.span_id(), [0; 8]);
    }

    #[test]
    fn histogram_buckets_are_per_bucket_and_add_up_to_the_count() {
        let mut durations = Durations::default();
        durations.below[0] = 2;
        for slot in 1..EXPOSED_BUCKETS {
            durations.below[slot] = 5;
        }
        durations.count = 7;
        durations.sum_nanos = 3_000_000_000;
        let published = Published {
            stats: crate::stats::StatsSnapshot {
                functions: vec![crate::stats::FunctionRecord::new("f".into(), "call").snapshot()],
                dropped_events: 0,
            },
            durations: vec![durations],
        };
        let config = OtlpConfig::http("http://127.0.0.1:1");
        let request = metrics_request(
            &resource(&config),
            &published,
            &[],
            &SelfNumbers {
                queue_depth: 0,
                restarts: 0,
                resources: None,
                running: Arc::default(),
            },
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_secs(1),
        );
        let metric = &request.resource_metrics[0].scope_metrics[0].metrics[1];
        let Some(metric::Data::Histogram(histogram)) = &metric.data else {
            panic!("not a histogram: {metric:?}");
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.bucket_counts.len(), point.explicit_bounds.len() + 1);
        assert_eq!(point.bucket_counts[0], 2);
        assert_eq!(point.bucket_counts[1], 3);
        assert_eq!(*point.bucket_counts.last().unwrap(), 2);
        assert_eq!(point.bucket_counts.iter().sum::<u64>(), 7);
        assert_eq!(point.sum, Some(3.0));
    }
}
