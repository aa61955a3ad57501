//! The collector's running statistics for one function.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{FunctionStats, FunctionStatus, Histogram, LastError, PatternTable};
use crate::alerts::Verdict;
use crate::capture::Failure;
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::timestamp::Timestamp;

/// Running statistics of one function, owned by the collector thread.
#[derive(Clone, Debug)]
pub(crate) struct FunctionRecord {
    pub(crate) name: Arc<str>,
    pub(crate) trigger_type: String,
    pub(crate) status: FunctionStatus,
    /// Its verdict as of the latest evaluation of the alert rules.
    pub(crate) health: Verdict,
    pub(crate) success_count: u64,
    pub(crate) error_count: u64,
    pub(crate) panic_count: u64,
    pub(crate) cancelled_count: u64,
    pub(crate) consecutive_failures: u64,
    /// Sum of all durations, in nanoseconds (also of executions before a restart).
    pub(crate) total_nanos: u128,
    pub(crate) min_nanos: Option<u64>,
    pub(crate) max_nanos: Option<u64>,
    pub(crate) histogram: Histogram,
    pub(crate) last_execution: Option<(SystemTime, Status)>,
    pub(crate) last_error: Option<LastError>,
    pub(crate) next_scheduled: Option<SystemTime>,
    pub(crate) patterns: PatternTable,
    /// Declared schedule (`every = "…"`).
    pub(crate) every: Option<Duration>,
    /// Per-function slow-call threshold.
    pub(crate) slow_threshold: Option<Duration>,
    /// The alert engine's state of this function as stored text (JSON):
    /// loaded from the stats store, and refreshed from the engine before each
    /// copy for the store.
    pub(crate) alert_state: Option<String>,
    /// Changed since the stats store last took a copy.
    pub(crate) dirty: bool,
}

/// What one observed execution changed, for the alert rules.
pub(crate) struct Observation {
    pub(crate) new_pattern: bool,
}

impl FunctionRecord {
    pub(crate) fn new(name: Arc<str>, trigger_type: &str) -> Self {
        FunctionRecord {
            name,
            trigger_type: trigger_type.to_owned(),
            status: FunctionStatus::Active,
            health: Verdict::Green,
            success_count: 0,
            error_count: 0,
            panic_count: 0,
            cancelled_count: 0,
            consecutive_failures: 0,
            total_nanos: 0,
            min_nanos: None,
            max_nanos: None,
            histogram: Histogram::default(),
            last_execution: None,
            last_error: None,
            next_scheduled: None,
            patterns: PatternTable::default(),
            every: None,
            slow_threshold: None,
            alert_state: None,
            dirty: false,
        }
    }

    pub(crate) fn total_executions(&self) -> u64 {
        self.success_count + self.error_count + self.panic_count
    }

    /// Counts one execution that started at `started` (`started_text`: the
    /// same time in RFC 3339, as [`Timestamp`] shows it).
    pub(crate) fn observe(
        &mut self,
        status: Status,
        nanos: u64,
        started: SystemTime,
        started_text: &str,
        id: ExecutionId,
        failure: Option<&Failure>,
    ) -> Observation {
        self.dirty = true;
        let mut new_pattern = false;
        match status {
            Status::Success => {
                self.success_count += 1;
                self.consecutive_failures = 0;
            }
            Status::Error | Status::Panic => {
                if status == Status::Error {
                    self.error_count += 1;
                } else {
                    self.panic_count += 1;
                }
                self.consecutive_failures += 1;
                if let Some(failure) = failure {
                    let time = Timestamp(started);
                    new_pattern = self.patterns.observe(
                        &failure.error_type,
                        &failure.message,
                        started_text,
                        id,
                    );
                    // Rings are drained one after another: an older error of
                    // another thread may arrive after a newer one.
                    match &mut self.last_error {
                        // In place: its strings keep their memory.
                        Some(last) if last.time <= time => {
                            last.time = time;
                            last.error_type.clear();
                            last.error_type.push_str(&failure.error_type);
                            last.message.clear();
                            last.message.push_str(&failure.message);
                            last.execution_id = Some(id);
                        }
                        Some(_) => {}
                        None => {
                            self.last_error = Some(LastError {
                                time,
                                error_type: failure.error_type.to_string(),
                                message: failure.message.clone(),
                                execution_id: Some(id),
                            });
                        }
                    }
                }
            }
            Status::Cancelled => {
                self.cancelled_count += 1;
                if self.last_execution.is_none_or(|(last, _)| last <= started) {
                    self.last_execution = Some((started, status));
                }
                return Observation { new_pattern };
            }
        }
        self.total_nanos += u128::from(nanos);
        self.min_nanos = Some(self.min_nanos.map_or(nanos, |min| min.min(nanos)));
        self.max_nanos = Some(self.max_nanos.map_or(nanos, |max| max.max(nanos)));
        self.histogram.record(nanos);
        // Rings are drained one after another: only the latest execution
        // moves "last execution" and the next scheduled run.
        if self.last_execution.is_none_or(|(last, _)| last <= started) {
            self.last_execution = Some((started, status));
            self.next_scheduled = self.every.map(|every| started + every);
        } else if self.every.is_none() {
            self.next_scheduled = None;
        }
        // Without a declared schedule in this process (removed, or never
        // declared), a stored next run time would only raise false alarms:
        // both branches above clear it then.
        Observation { new_pattern }
    }

    /// The mean duration in nanoseconds.
    pub(crate) fn mean_nanos(&self) -> Option<f64> {
        let total = self.total_executions();
        (total > 0).then(|| self.total_nanos as f64 / total as f64)
    }

    pub(crate) fn success_rate(&self) -> f64 {
        let total = self.total_executions();
        if total == 0 {
            1.0
        } else {
            self.success_count as f64 / total as f64
        }
    }

    pub(crate) fn snapshot(&self) -> FunctionStats {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        FunctionStats {
            name: self.name.to_string(),
            trigger_type: self.trigger_type.clone(),
            status: self.status,
            health: self.health,
            total_executions: self.total_executions(),
            success_count: self.success_count,
            error_count: self.error_count,
            panic_count: self.panic_count,
            cancelled_count: self.cancelled_count,
            success_rate: self.success_rate(),
            consecutive_failures: self.consecutive_failures,
            mean_ms: self.mean_nanos().map(|nanos| nanos / 1e6),
            min_ms: self.min_nanos.map(ms),
            max_ms: self.max_nanos.map(ms),
            p50_ms: self.quantile_ms(0.50),
            p95_ms: self.quantile_ms(0.95),
            p99_ms: self.quantile_ms(0.99),
            last_execution_time: self.last_execution.map(|(time, _)| Timestamp(time)),
            last_execution_status: self.last_execution.map(|(_, status)| status),
            last_error: self.last_error.clone(),
            next_scheduled_time: self.next_scheduled.map(Timestamp),
            top_error_patterns: self.patterns.top(5),
        }
    }

    /// A histogram quantile clamped to the exact min and max.
    pub(crate) fn quantile_ms(&self, q: f64) -> Option<f64> {
        let value = self.histogram.quantile(q)?;
        let value = match (self.min_nanos, self.max_nanos) {
            (Some(min), Some(max)) => value.clamp(min, max),
            _ => value,
        };
        Some(value as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_failures_run_in_a_row() {
        let mut record = FunctionRecord::new("f".into(), "call");
        let now = SystemTime::UNIX_EPOCH;
        let failure = Failure {
            error_type: "E".into(),
            message: "boom 1".into(),
            ..Failure::default()
        };
        let id = |n| ExecutionId::from_parts(0, 1, 1, n);
        let text = Timestamp(now).to_string();
        record.observe(Status::Success, 1_000, now, &text, id(1), None);
        record.observe(Status::Error, 2_000, now, &text, id(2), Some(&failure));
        record.observe(Status::Panic, 3_000, now, &text, id(3), Some(&failure));
        record.observe(Status::Cancelled, 4_000, now, &text, id(4), None);
        let stats = record.snapshot();
        assert_eq!(stats.total_executions, 3);
        assert_eq!(stats.cancelled_count, 1);
        assert_eq!(stats.consecutive_failures, 2);
        assert_eq!(stats.min_ms, Some(0.001));
        assert_eq!(stats.max_ms, Some(0.003));
        assert_eq!(stats.mean_ms, Some(0.002));
        let last_error = stats.last_error.unwrap();
        assert_eq!(last_error.message, "boom 1");
        assert_eq!(last_error.execution_id, Some(id(3)));
        assert_eq!(stats.top_error_patterns[0].example_id, Some(id(3)));
    }
}
