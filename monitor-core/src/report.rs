//! The status report a person reads at a glance ([`status_report`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::alerts::text::{count, printable};
use crate::alerts::{Alert, Health, Verdict};
use crate::event::Status;
use crate::resources::ResourceSample;
use crate::running::RunningExecution;
use crate::stats::{FunctionStats, StatsSnapshot};
use crate::timestamp::Timestamp;

/// The monitor's [`Health`] verdict, then every monitored function on one
/// line: its icon (its share of the verdict, see [`FunctionStats::health`]), runs, success rate, p50/p99, the latest execution,
/// error count, top error patterns; then the executions running for more
/// than a second (stuck ones first); then the alerts firing now. `Display`
/// renders the text; `Serialize` gives the same data as JSON.
///
/// ```
/// let report = monitor_core::status_report();
/// assert!(report.to_string().starts_with("Monitored functions: 0"));
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// When the report was made (the monitor's clock).
    pub generated_at: Timestamp,
    /// The statistics it shows.
    pub stats: StatsSnapshot,
    /// The verdict of [`health`](crate::health) and its reasons.
    pub health: Health,
    /// The latest notification of every alert firing now.
    pub alerts: Vec<Alert>,
    /// The process's latest resource sample (see
    /// [`resources`](crate::resources)); `None` before the first. In a
    /// report read from a directory, the last minute's figures saved in
    /// `stats.db` (see
    /// [`LogDir::status_report`](crate::query::LogDir::status_report)).
    pub resources: Option<ResourceSample>,
    /// The executions running for more than [`RUNNING_LISTED_AFTER`]: the
    /// stuck ones first, each group oldest first.
    pub running: Vec<RunningExecution>,
}

/// How long an execution runs before the status report lists it.
pub const RUNNING_LISTED_AFTER: Duration = Duration::from_secs(1);

/// The executions a status report lists, from everything running (oldest
/// first): longer than [`RUNNING_LISTED_AFTER`], stuck ones first.
pub(crate) fn listed_running(all: &[RunningExecution]) -> Vec<RunningExecution> {
    let mut listed: Vec<RunningExecution> = all
        .iter()
        .filter(|execution| execution.elapsed > RUNNING_LISTED_AFTER)
        .cloned()
        .collect();
    // Stable: each group keeps its order, oldest first.
    listed.sort_by_key(|execution| !execution.stuck);
    listed
}

/// The function's colour: its verdict in [`health`](crate::health) (see
/// [`FunctionStats::health`]), ⚪ instead of 🟢 before its first completed
/// execution.
pub(crate) fn icon(function: &FunctionStats) -> &'static str {
    match function.health {
        Verdict::Green if function.total_executions == 0 => "⚪",
        verdict => verdict.emoji(),
    }
}

/// A duration in milliseconds as the status report writes it: `420 ns`,
/// `850 µs`, `2.1 ms`, `1.2 s` (for tools that show durations beside it,
/// such as the `monitor` command).
///
/// ```
/// use monitor_core::query::human_ms;
/// assert_eq!(human_ms(0.00042), "420 ns");
/// assert_eq!(human_ms(0.85), "850 µs");
/// assert_eq!(human_ms(2.14), "2.1 ms");
/// assert_eq!(human_ms(1234.0), "1.2 s");
/// ```
pub fn human_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else if ms >= 0.001 {
        format!("{:.0} µs", ms * 1000.0)
    } else {
        format!("{:.0} ns", ms * 1e6)
    }
}

/// `just now`, `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`.
pub(crate) fn human_ago(then: SystemTime, now: SystemTime) -> String {
    let elapsed = now.duration_since(then).unwrap_or(Duration::ZERO).as_secs();
    match elapsed {
        0 => "just now".to_owned(),
        1..=59 => format!("{elapsed} s ago"),
        60..=3599 => format!("{} min ago", elapsed / 60),
        3600..=86_399 => format!("{} h ago", elapsed / 3600),
        _ => format!("{} d ago", elapsed / 86_400),
    }
}

fn percent(rate: f64) -> String {
    let percent = rate * 100.0;
    if percent >= 99.95 || percent == 0.0 {
        format!("{percent:.0}%")
    } else {
        format!("{percent:.1}%")
    }
}

impl fmt::Display for StatusReport {
    /// One line per function; names, messages and patterns have their control
    /// characters escaped (`\n`, `\u{1b}`), so no line splits and nothing
    /// drives the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Monitored functions: {}      Health: {}",
            self.stats.len(),
            self.health
        )?;
        if let Some(sample) = &self.resources {
            writeln!(f, "{}", process_line(sample))?;
        }
        let width = self
            .stats
            .iter()
            .map(|s| printable(&s.name).chars().count())
            .max()
            .unwrap_or(0);
        for function in self.stats.iter() {
            let latency = match (function.p50_ms, function.p99_ms) {
                (Some(p50), Some(p99)) => {
                    format!("p50 {:<8} p99 {:<8}", human_ms(p50), human_ms(p99))
                }
                _ => format!("{:<26}", "no timings"),
            };
            let runs = if function.total_executions == 1 {
                "run "
            } else {
                "runs"
            };
            // No completed execution: no success rate to show.
            let ok = if function.total_executions == 0 {
                "–".to_owned()
            } else {
                percent(function.success_rate)
            };
            write!(
                f,
                "{} {:<width$}  {:>6} {runs}  {:>6} ok   {}",
                icon(function),
                printable(&function.name),
                function.total_executions,
                ok,
                latency,
            )?;
            if let (Some(time), Some(status)) =
                (function.last_execution_time, function.last_execution_status)
            {
                write!(
                    f,
                    "  last {}: {status}",
                    human_ago(time.0, self.generated_at.0)
                )?;
                if status == Status::Error || status == Status::Panic {
                    if let Some(error) = &function.last_error {
                        let short: String = error.message.chars().take(60).collect();
                        write!(f, " ({})", printable(&short))?;
                    }
                }
            }
            let failures = function.error_count + function.panic_count;
            if failures > 0 {
                write!(f, "   {}", count(failures, "error", "errors"))?;
            }
            if function.cancelled_count > 0 {
                write!(f, "   {} cancelled", function.cancelled_count)?;
            }
            writeln!(f)?;
            for pattern in function.top_error_patterns.iter().take(3) {
                writeln!(
                    f,
                    "     {:>5}× {}",
                    pattern.count,
                    printable(&pattern.fingerprint)
                )?;
            }
        }
        if self.stats.dropped_events > 0 {
            writeln!(
                f,
                "⚠ {} dropped because a queue was full",
                count(
                    self.stats.dropped_events,
                    "execution was",
                    "executions were"
                )
            )?;
        }
        if !self.running.is_empty() {
            writeln!(f, "Running for more than 1 s: {}", self.running.len())?;
            for execution in &self.running {
                writeln!(
                    f,
                    "  {} {}  {}  for {}  since {}  thread {}  id {}",
                    if execution.stuck { "⏳ stuck" } else { "▶" },
                    printable(&execution.name),
                    if execution.stuck {
                        format!(
                            "(over {})",
                            crate::alerts::text::duration(execution.stuck_after)
                        )
                    } else {
                        String::new()
                    },
                    crate::alerts::text::duration(execution.elapsed),
                    execution.started,
                    printable(&execution.thread),
                    execution.id,
                )?;
            }
        }
        if !self.alerts.is_empty() {
            writeln!(f, "Firing alerts: {}", self.alerts.len())?;
            for alert in &self.alerts {
                writeln!(f, "  {alert}")?;
            }
        }
        Ok(())
    }
}

/// `Process: RSS 612 MiB, CPU 12.5%, 24 threads, 57 open files`: what is
/// known of the latest sample.
fn process_line(sample: &ResourceSample) -> String {
    let mut line = format!(
        "Process: RSS {}",
        crate::alerts::text::bytes(sample.rss_bytes)
    );
    match sample.cpu_percent {
        Some(cpu) => line.push_str(&format!(", CPU {cpu:.1}%")),
        None => line.push_str(&format!(", CPU time {:.1} s", sample.cpu_secs())),
    }
    if let Some(threads) = sample.threads {
        line.push_str(&format!(", {}", count(threads, "thread", "threads")));
    }
    if let Some(fds) = sample.open_fds {
        line.push_str(&format!(", {}", count(fds, "open file", "open files")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_line_shows_what_is_known() {
        let mut sample = ResourceSample {
            time: Timestamp(SystemTime::UNIX_EPOCH),
            rss_bytes: 612 << 20,
            virtual_bytes: None,
            cpu_user_secs: 1.5,
            cpu_system_secs: 0.5,
            cpu_percent: Some(12.54),
            threads: Some(24),
            open_fds: Some(1),
        };
        assert_eq!(
            process_line(&sample),
            "Process: RSS 612 MiB, CPU 12.5%, 24 threads, 1 open file"
        );
        sample.cpu_percent = None;
        sample.threads = None;
        sample.open_fds = None;
        assert_eq!(
            process_line(&sample),
            "Process: RSS 612 MiB, CPU time 2.0 s"
        );
    }

    #[test]
    fn human_units() {
        assert_eq!(human_ms(0.85), "850 µs");
        assert_eq!(human_ms(0.00042), "420 ns");
        assert_eq!(human_ms(2.14), "2.1 ms");
        assert_eq!(human_ms(1234.0), "1.2 s");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100_000);
        assert_eq!(human_ago(now - Duration::from_secs(300), now), "5 min ago");
        assert_eq!(human_ago(now, now), "just now");
        assert_eq!(percent(0.854), "85.4%");
        assert_eq!(percent(1.0), "100%");
    }
}
