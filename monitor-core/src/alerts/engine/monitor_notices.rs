//! The wording of the notices and health reasons about the monitor itself
//! (drops, sinks, restarts, queues, notifiers, size caps); the function
//! ones are in [`notices`](super::notices).

use std::time::SystemTime;

use super::notices::{make_alert, Wording};
use super::per_rule::MonitorRule;
use super::MonitorAlerts;
use crate::alerts::health::{ComponentHealth, HealthInputs};
use crate::alerts::rules::AlertRules;
use crate::alerts::size_cap;
use crate::alerts::state::Transition;
use crate::alerts::text;
use crate::alerts::types::Alert;

pub(super) fn monitor_alert(
    rule: MonitorRule,
    transition: Transition,
    monitor: &MonitorAlerts,
    rules: &AlertRules,
    inputs: &HealthInputs,
    now: SystemTime,
) -> Alert {
    let window = text::duration(rules.window);
    let resolved = matches!(transition, Transition::Resolved { .. });
    let since = match transition {
        Transition::Fired { since }
        | Transition::Reminder { since }
        | Transition::Resolved { since } => since,
    };
    let since_text = text::time(since);
    let notice = MonitorNotice {
        window: &window,
        resolved,
        since_text: &since_text,
        monitor,
        rules,
        inputs,
    };
    let (message, numbers) = match rule {
        MonitorRule::DroppedExecutions => notice.dropped_executions(),
        MonitorRule::SinkFailing => notice.sink_failing(),
        MonitorRule::CollectorRestarted => notice.collector_restarted(),
        MonitorRule::QueueFull => notice.queue_full(),
        MonitorRule::NotifierFailing => notice.notifier_failing(),
        MonitorRule::LogSizeCap => notice.log_size_cap(),
        MonitorRule::MemoryHigh => notice.memory_high(),
        MonitorRule::MemoryGrowth => notice.memory_growth(),
    };
    make_alert(rule.rule(), None, rules, transition, now, message, numbers)
}

#[derive(Clone, Copy)]
struct MonitorNotice<'a> {
    window: &'a str,
    resolved: bool,
    since_text: &'a str,
    monitor: &'a MonitorAlerts,
    rules: &'a AlertRules,
    inputs: &'a HealthInputs,
}

impl MonitorNotice<'_> {
    /// The wording of `dropped_executions`.
    fn dropped_executions(self) -> Wording {
        let MonitorNotice {
            window,
            resolved,
            since_text,
            monitor,
            inputs,
            ..
        } = self;
        let episode = monitor.dropped.in_episode;
        let numbers = vec![
            ("dropped", episode as f64),
            ("dropped_total", inputs.dropped_total as f64),
        ];
        let message = if resolved {
            format!("monitor: no execution dropped in the last {window} ({episode} dropped since {since_text}).")
        } else {
            format!(
                "monitor: {} dropped since {since_text} because a recording queue was full and the queue memory budget spent ({} since start; counted in dropped_events, gap lines in the executions log). Suggest: raise `queue_memory_budget` (or `queue_capacity`), or use `Overflow::Block` to slow callers down instead.",
                text::count(episode, "execution", "executions"),
                inputs.dropped_total
            )
        };
        (message, numbers)
    }

    /// The wording of `sink_failing`.
    fn sink_failing(self) -> Wording {
        let MonitorNotice {
            resolved,
            since_text,
            monitor,
            ..
        } = self;
        let failing: Vec<&ComponentHealth> =
            monitor.components.iter().filter(|c| c.failing).collect();
        let lost: u64 = monitor.components.iter().map(|c| c.lost).sum();
        let numbers = vec![
            ("failing_sinks", failing.len() as f64),
            ("lost_lines", lost as f64),
            ("sink_panics", monitor.sink_panics.in_episode as f64),
        ];
        let message = if resolved {
            format!("monitor: every sink is writing again (failing since {since_text}; {} lost in total).", text::count(lost, "line", "lines"))
        } else {
            let mut parts: Vec<String> = failing
                .iter()
                .map(|c| match &c.error {
                    Some(error) => format!("{} failing ({error})", c.name),
                    None => format!("{} failing", c.name),
                })
                .collect();
            if monitor.sink_panics.in_episode > 0 {
                parts.push(format!(
                    "a sink panicked {}",
                    times(monitor.sink_panics.in_episode)
                ));
            }
            // The OTLP exporter drops what it cannot send, the files keep
            // their lines and retry, status.json is rewritten whole: each
            // gets its own advice.
            let exporter = failing.iter().any(|c| c.name == "OTLP exporter");
            let status_file = failing.iter().any(|c| c.name == "status file");
            let files = failing
                .iter()
                .any(|c| c.name != "OTLP exporter" && c.name != "status file");
            let mut advice = Vec::new();
            if files {
                advice.push("lines are kept in memory and retried; check free disk space and the permissions of the log directory, and the database file");
            }
            if status_file {
                advice.push("status.json is written again every second, whole; check the permissions and free space of the log directory");
            }
            if exporter {
                advice.push("spans that cannot be sent are dropped and counted; check that the OTLP receiver (the Collector) is up and reachable, and its answers");
            }
            if advice.is_empty() {
                advice.push("check the sinks given to `MonitorBuilder::sink`");
            }
            format!(
                "monitor: {} since {since_text} ({lost} lost so far). Suggest: {}.",
                parts.join(", "),
                advice.join("; ")
            )
        };
        (message, numbers)
    }

    /// The wording of `collector_restarted`.
    fn collector_restarted(self) -> Wording {
        let MonitorNotice {
            window,
            resolved,
            since_text,
            monitor,
            inputs,
            ..
        } = self;
        let episode = monitor.restarts.in_episode;
        let numbers = vec![
            ("restarts", episode as f64),
            ("restarts_total", inputs.restarts as f64),
        ];
        let message = if resolved {
            format!("monitor: no collector restart in the last {window} ({episode} since {since_text}).")
        } else {
            format!(
                "monitor: the collector thread panicked and was restarted {} since {since_text} ({} in total); queued executions were kept. Suggest: report a bug with the panic message printed on stderr.",
                times(episode),
                inputs.restarts
            )
        };
        (message, numbers)
    }

    /// The wording of `queue_full`.
    fn queue_full(self) -> Wording {
        let MonitorNotice {
            window,
            resolved,
            since_text,
            monitor,
            rules,
            ..
        } = self;
        let numbers = vec![
            ("queue_fill", monitor.peak_queue_fill),
            ("threshold", rules.queue_fill_threshold),
        ];
        let message = if resolved {
            format!(
                "monitor: recording queues stayed below {} full for {window} (since {since_text} they reached {}).",
                text::percent(rules.queue_fill_threshold),
                text::percent(monitor.peak_queue_fill)
            )
        } else {
            format!(
                "monitor: a recording queue was {} full since {since_text} (threshold {}; its own chunks and what the queue memory budget could still lend it). Suggest: raise `queue_memory_budget` (or `queue_capacity`); once a queue is full, executions are dropped (or callers wait, with `Overflow::Block`).",
                text::percent(monitor.peak_queue_fill),
                text::percent(rules.queue_fill_threshold)
            )
        };
        (message, numbers)
    }

    /// The wording of `notifier_failing`.
    fn notifier_failing(self) -> Wording {
        let MonitorNotice {
            window,
            resolved,
            since_text,
            monitor,
            ..
        } = self;
        let episode = monitor.notifier_failures.in_episode;
        let names: Vec<&str> = monitor
            .failing_notifiers
            .iter()
            .map(|name| &**name)
            .collect();
        let numbers = vec![("failures", episode as f64)];
        let message = if resolved {
            format!("monitor: notifiers delivered without failure for {window} ({episode} failures since {since_text}).")
        } else {
            format!(
                "monitor: notifier {} failed {} since {since_text} (panicked, blocked longer than the notifier timeout, or fell behind and missed alerts). Suggest: fix the notifier; the other notifiers still receive every alert.",
                names.join(", "),
                times(episode)
            )
        };
        (message, numbers)
    }

    /// The wording of `log_size_cap`.
    fn log_size_cap(self) -> Wording {
        let MonitorNotice {
            resolved,
            since_text,
            monitor,
            inputs,
            ..
        } = self;
        size_cap::alert_text(monitor.size_cap.in_episode, inputs, resolved, since_text)
    }

    /// The wording of `memory_high`.
    fn memory_high(self) -> Wording {
        let MonitorNotice {
            resolved,
            since_text,
            monitor,
            rules,
            ..
        } = self;
        let rss = monitor.memory.latest.map_or(0, |(_, rss)| rss);
        let threshold = rules.memory_threshold.unwrap_or(0);
        let peak = monitor.memory.peak_in_episode.max(rss);
        let numbers = vec![
            ("rss_bytes", rss as f64),
            ("threshold_bytes", threshold as f64),
            ("peak_bytes", peak as f64),
        ];
        let message = if resolved {
            format!(
                "monitor: resident memory {} is back under {} (above since {since_text}, peak {}).",
                text::bytes(rss),
                text::bytes(threshold),
                text::bytes(peak)
            )
        } else {
            format!(
                "monitor: resident memory {} is above {} since {since_text} (peak {}). Suggest: look for what holds memory (caches, queues, buffers without a bound), or raise `memory_threshold` if the process needs it.",
                text::bytes(rss),
                text::bytes(threshold),
                text::bytes(peak)
            )
        };
        (message, numbers)
    }

    /// The wording of `memory_growth`.
    fn memory_growth(self) -> Wording {
        let MonitorNotice {
            resolved,
            since_text,
            monitor,
            rules,
            ..
        } = self;
        let window = rules.memory_growth.map(|g| g.window).unwrap_or_default();
        let window_text = text::duration(window);
        let (start, rss) = monitor.memory.growth_ends().unwrap_or((0, 0));
        let growth = if start > 0 {
            rss as f64 / start as f64 - 1.0
        } else {
            0.0
        };
        let numbers = vec![
            ("rss_bytes", rss as f64),
            ("start_bytes", start as f64),
            ("growth", growth),
            ("window_secs", window.as_secs() as f64),
        ];
        let message = if resolved {
            format!(
                "monitor: resident memory stopped growing steadily (growing since {since_text}; now {}).",
                text::bytes(rss)
            )
        } else {
            format!(
                "monitor: resident memory grew from {} to {} (+{}) over the last {window_text} without dropping, since {since_text}. Suggest: look for a leak (a cache or queue without a bound, data kept per request).",
                text::bytes(start),
                text::bytes(rss),
                text::percent(growth)
            )
        };
        (message, numbers)
    }
}

pub(super) fn monitor_reason(
    rule: MonitorRule,
    monitor: &MonitorAlerts,
    rules: &AlertRules,
) -> String {
    match rule {
        MonitorRule::DroppedExecutions => format!(
            "monitor: {} dropped (queue full) in the last {}",
            text::count(monitor.dropped.in_episode, "execution", "executions"),
            text::duration(rules.window)
        ),
        MonitorRule::SinkFailing => {
            let failing: Vec<&str> = monitor
                .components
                .iter()
                .filter(|c| c.failing)
                .map(|c| c.name)
                .collect();
            if failing.is_empty() {
                format!(
                    "monitor: a sink panicked {}",
                    times(monitor.sink_panics.in_episode)
                )
            } else {
                format!("monitor: {} failing", failing.join(", "))
            }
        }
        MonitorRule::CollectorRestarted => {
            format!(
                "monitor: collector restarted {}",
                times(monitor.restarts.in_episode)
            )
        }
        MonitorRule::QueueFull => format!(
            "monitor: a recording queue was {} full",
            text::percent(monitor.peak_queue_fill)
        ),
        MonitorRule::NotifierFailing => format!(
            "monitor: notifier failures ({})",
            monitor
                .failing_notifiers
                .iter()
                .map(|name| &**name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        MonitorRule::LogSizeCap => size_cap::reason(monitor.size_cap.in_episode),
        MonitorRule::MemoryHigh => format!(
            "monitor: resident memory {} above {}",
            text::bytes(monitor.memory.latest.map_or(0, |(_, rss)| rss)),
            text::bytes(rules.memory_threshold.unwrap_or(0))
        ),
        MonitorRule::MemoryGrowth => {
            let (start, rss) = monitor.memory.growth_ends().unwrap_or((0, 0));
            format!(
                "monitor: resident memory growing steadily ({} to {} in {})",
                text::bytes(start),
                text::bytes(rss),
                text::duration(rules.memory_growth.map(|g| g.window).unwrap_or_default())
            )
        }
    }
}

/// `once`, `2 times`.
fn times(n: u64) -> String {
    if n == 1 {
        "once".to_owned()
    } else {
        format!("{n} times")
    }
}
