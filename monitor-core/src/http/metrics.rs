//! The Prometheus text exposition (format 0.0.4) and OpenMetrics 1.0.
//!
//! Counters, a gauge and a histogram per the names; the duration
//! histogram's buckets are cut from the collector's own histogram at powers
//! of two (256 ns to 34.4 s), which are exact bucket edges of it: nothing is
//! recorded twice. Label values are escaped (`\\`, `\"`, `\n`).

use std::sync::OnceLock;

use super::process;
use super::routes::Sources;
use crate::alerts::Alert;
use crate::running::RunningExecution;
use crate::stats::{Durations, Published, EXPOSED_BUCKETS, EXPOSED_POWERS};
use std::sync::atomic::Ordering;

/// Which exposition format to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `Accept` names it, else the Prometheus text format.
    pub(crate) fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The `le` values of the buckets, in seconds.
fn bucket_bounds() -> &'static [String; EXPOSED_BUCKETS] {
    static BOUNDS: OnceLock<[String; EXPOSED_BUCKETS]> = OnceLock::new();
    BOUNDS.get_or_init(|| {
        std::array::from_fn(|slot| {
            let nanos = 1u64 << (EXPOSED_POWERS.start + slot as u32);
            format!("{}", nanos as f64 / 1e9)
        })
    })
}

/// The monitor's own numbers besides the statistics.
pub(crate) struct SelfNumbers {
    pub(crate) queue_depth: u64,
    pub(crate) restarts: u64,
}

/// Renders the whole exposition.
pub(crate) fn render(
    published: &Published,
    firing: &[Alert],
    sources: &Sources,
    format: Format,
) -> String {
    let numbers = SelfNumbers {
        queue_depth: sources.self_stats.queue_depth.load(Ordering::Relaxed),
        restarts: sources.self_stats.restarts.load(Ordering::Relaxed),
    };
    let mut out = String::with_capacity(256 + published.stats.len() * 2600);
    let running = sources.running();
    write_all(
        &mut out,
        published,
        firing,
        &running.executions,
        &numbers,
        format,
    );
    let latest = sources.resources.lock().latest().cloned();
    process::write(&mut out, format, latest.as_ref());
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, format: Format) {
    // OpenMetrics names a counter family without its `_total` suffix.
    let family = match (format, kind) {
        (Format::OpenMetrics, "counter") => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    out.push_str("# HELP ");
    out.push_str(family);
    out.push(' ');
    out.push_str(help);
    out.push_str("\n# TYPE ");
    out.push_str(family);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// Appends `value` escaped as a label value.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn push_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

fn push_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(ryu::Buffer::new().format(value));
    } else {
        out.push_str("NaN");
    }
}

fn write_all(
    out: &mut String,
    published: &Published,
    firing: &[Alert],
    running: &[RunningExecution],
    numbers: &SelfNumbers,
    format: Format,
) {
    let functions = &published.stats.functions;
    // One escaped `function="…"` label per function, reused by every line.
    let labels: Vec<String> = functions
        .iter()
        .map(|function| {
            let mut label = String::with_capacity(function.name.len() + 12);
            label.push_str("function=\"");
            escape_into(&mut label, &function.name);
            label.push('"');
            label
        })
        .collect();

    family(
        out,
        "monitor_executions_total",
        "counter",
        "Executions of each monitored function by how they ended (cancelled: async executions dropped before completing, not in the other three).",
        format,
    );
    for (function, label) in functions.iter().zip(&labels) {
        for (status, count) in [
            ("success", function.success_count),
            ("error", function.error_count),
            ("panic", function.panic_count),
            ("cancelled", function.cancelled_count),
        ] {
            out.push_str("monitor_executions_total{");
            out.push_str(label);
            out.push_str(",status=\"");
            out.push_str(status);
            out.push_str("\"} ");
            push_u64(out, count);
            out.push('\n');
        }
    }

    family(
        out,
        "monitor_execution_duration_seconds",
        "histogram",
        "How long completed executions took (buckets at powers of two nanoseconds, from the collector's own histogram).",
        format,
    );
    let bounds = bucket_bounds();
    let empty = Durations::default();
    for (index, label) in labels.iter().enumerate() {
        let durations = published.durations.get(index).unwrap_or(&empty);
        for (bound, &count) in bounds.iter().zip(&durations.below) {
            bucket_line(out, label, bound, count);
        }
        bucket_line(out, label, "+Inf", durations.count);
        out.push_str("monitor_execution_duration_seconds_sum{");
        out.push_str(label);
        out.push_str("} ");
        push_f64(out, durations.sum_nanos as f64 / 1e9);
        out.push_str("\nmonitor_execution_duration_seconds_count{");
        out.push_str(label);
        out.push_str("} ");
        push_u64(out, durations.count);
        out.push('\n');
    }

    family(
        out,
        "monitor_alert_firing",
        "gauge",
        "1 for every alert firing now (function is empty for the monitor's own rules).",
        format,
    );
    for alert in firing {
        out.push_str("monitor_alert_firing{rule=\"");
        out.push_str(alert.rule.as_str());
        out.push_str("\",function=\"");
        escape_into(out, alert.function.as_deref().unwrap_or(""));
        out.push_str("\",severity=\"");
        out.push_str(alert.severity.as_str());
        out.push_str("\"} 1\n");
    }

    family(
        out,
        "monitor_running_executions",
        "gauge",
        "Executions of each function started and not finished, at the collector's latest sample (0 for a function with none).",
        format,
    );
    let mut counts: std::collections::BTreeMap<&str, u64> = functions
        .iter()
        .map(|function| (function.name.as_str(), 0))
        .collect();
    for execution in running {
        *counts.entry(execution.name.as_str()).or_default() += 1;
    }
    for (name, count) in counts {
        out.push_str("monitor_running_executions{function=\"");
        escape_into(out, name);
        out.push_str("\"} ");
        push_u64(out, count);
        out.push('\n');
    }

    for (name, kind, help, value) in [
        (
            "monitor_dropped_executions_total",
            "counter",
            "Executions dropped because a queue was full.",
            published.stats.dropped_events,
        ),
        (
            "monitor_queue_depth",
            "gauge",
            "Executions waiting in the queues when the collector last looked.",
            numbers.queue_depth,
        ),
        (
            "monitor_collector_restarts_total",
            "counter",
            "Times the collector panicked and was restarted.",
            numbers.restarts,
        ),
    ] {
        family(out, name, kind, help, format);
        out.push_str(name);
        out.push(' ');
        push_u64(out, value);
        out.push('\n');
    }
}

fn bucket_line(out: &mut String, label: &str, bound: &str, count: u64) {
    out.push_str("monitor_execution_duration_seconds_bucket{");
    out.push_str(label);
    out.push_str(",le=\"");
    out.push_str(bound);
    out.push_str("\"} ");
    push_u64(out, count);
    out.push('\n');
}

/// Benchmark hook (not a public API): the exposition of `functions`
/// made-up functions, each with executions in every status and a spread
/// of durations.
#[doc(hidden)]
pub struct MetricsBench {
    published: Published,
}

impl MetricsBench {
    /// `functions` functions named `bench::function_N`.
    pub fn new(functions: usize) -> Self {
        use crate::event::Status;
        use crate::stats::FunctionRecord;
        let now = std::time::SystemTime::now();
        let now_text = crate::Timestamp(now).to_string();
        let mut records: Vec<FunctionRecord> = (0..functions)
            .map(|index| {
                let mut record =
                    FunctionRecord::new(format!("bench::function_{index}").into(), "call");
                for run in 0..200u64 {
                    let status = if run.is_multiple_of(10) {
                        Status::Error
                    } else {
                        Status::Success
                    };
                    let id = crate::ExecutionId::from_parts(0, 1, 1, run as u32);
                    record.observe(status, 500 + run * run * 997, now, &now_text, id, None);
                }
                record
            })
            .collect();
        records.sort_by(|a, b| a.name.cmp(&b.name));
        MetricsBench {
            published: Published {
                stats: crate::stats::StatsSnapshot {
                    functions: records.iter().map(FunctionRecord::snapshot).collect(),
                    dropped_events: 0,
                },
                durations: records.iter().map(Durations::of).collect(),
            },
        }
    }

    /// Renders the exposition in `format` (`openmetrics`: OpenMetrics);
    /// returns its length.
    pub fn render(&self, openmetrics: bool) -> usize {
        let format = if openmetrics {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        };
        let numbers = SelfNumbers {
            queue_depth: 0,
            restarts: 0,
        };
        let mut out = String::with_capacity(256 + self.published.stats.len() * 2600);
        write_all(&mut out, &self.published, &[], &[], &numbers, format);
        out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_into(&mut out, "a\"b\\c\nd");
        assert_eq!(out, "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn bounds_are_seconds_at_powers_of_two() {
        let bounds = bucket_bounds();
        assert_eq!(bounds[0], "0.000000256");
        assert_eq!(bounds[2], "0.000001024");
        assert_eq!(bounds[EXPOSED_BUCKETS - 1], "34.359738368");
    }

    #[test]
    fn accept_chooses_the_format() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
    }
}
