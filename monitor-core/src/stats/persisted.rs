//! Converting statistics to and from rows of the SQLite stats store.
//!
//! Counts, sums, min and max continue exactly across restarts. Percentiles
//! continue exactly too: the histogram's buckets are stored (sparse JSON in
//! `latency_histogram`). A row written by an older schema without a histogram
//! keeps its counts and mean; its percentiles restart from the executions
//! recorded after the upgrade.

use std::sync::Arc;
use std::time::SystemTime;

use monitor_sinks::stats_store::StoredFunctionStats;

use super::{FunctionRecord, FunctionStatus, Histogram, LastError, PatternTable, SparseHistogram};
use crate::event::Status;
use crate::timestamp::Timestamp;

fn status_from_str(text: &str) -> Option<Status> {
    Some(match text {
        "success" => Status::Success,
        "error" => Status::Error,
        "panic" => Status::Panic,
        "cancelled" => Status::Cancelled,
        _ => return None,
    })
}

fn time(text: &Option<String>) -> Option<SystemTime> {
    text.as_deref()
        .and_then(Timestamp::parse)
        .map(Timestamp::system_time)
}

fn nanos_from_ms(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1e6).round() as u64
    } else {
        0
    }
}

/// The largest count taken up from a stored row: far beyond what a process
/// can count, far below where adding a row's counts up could overflow.
const STORED_COUNT_LIMIT: u64 = 1 << 60;

impl FunctionRecord {
    /// The row the stats store keeps for this function, stamped as updated
    /// at `now` (the monitor's clock).
    pub(crate) fn to_stored(&self, now: SystemTime) -> StoredFunctionStats {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        StoredFunctionStats {
            name: self.name.to_string(),
            trigger_type: self.trigger_type.clone(),
            status: self.status.as_str().to_owned(),
            total_executions: self.total_executions(),
            success_count: self.success_count,
            error_count: self.error_count,
            panic_count: self.panic_count,
            cancelled_count: self.cancelled_count,
            total_duration_ms: self.total_nanos as f64 / 1e6,
            avg_execution_time_ms: self.mean_nanos().map_or(0.0, |nanos| nanos / 1e6),
            min_execution_time_ms: self.min_nanos.map(ms),
            max_execution_time_ms: self.max_nanos.map(ms),
            p50_execution_time_ms: self.quantile_ms(0.50),
            p95_execution_time_ms: self.quantile_ms(0.95),
            p99_execution_time_ms: self.quantile_ms(0.99),
            last_execution_time: self.last_execution.map(|(t, _)| Timestamp(t).to_string()),
            last_execution_status: self.last_execution.map(|(_, s)| s.as_str().to_owned()),
            last_error_time: self.last_error.as_ref().map(|e| e.time.to_string()),
            last_error_type: self.last_error.as_ref().map(|e| e.error_type.clone()),
            last_error_message: self.last_error.as_ref().map(|e| e.message.clone()),
            next_scheduled_time: self.next_scheduled.map(|t| Timestamp(t).to_string()),
            latency_histogram: crate::json::to_string(&self.histogram.to_sparse()).ok(),
            error_patterns: (!self.patterns.is_empty())
                .then(|| crate::json::to_string(&self.patterns).ok())
                .flatten(),
            updated_at: Some(Timestamp(now).to_string()),
            consecutive_failures: self.consecutive_failures,
            alert_state: self.alert_state.clone(),
        }
    }

    /// Statistics loaded from a stored row.
    pub(crate) fn from_stored(row: &StoredFunctionStats) -> Self {
        let mut record = FunctionRecord::new(Arc::from(row.name.as_str()), &row.trigger_type);
        record.status = FunctionStatus::parse(&row.status);
        // Another tool may have written any count (as text, as a real
        // number): bounded, the sums of a record's counts and this run's
        // additions to them cannot overflow.
        record.success_count = row.success_count.min(STORED_COUNT_LIMIT);
        record.error_count = row.error_count.min(STORED_COUNT_LIMIT);
        record.panic_count = row.panic_count.min(STORED_COUNT_LIMIT);
        record.cancelled_count = row.cancelled_count.min(STORED_COUNT_LIMIT);
        record.consecutive_failures = row.consecutive_failures.min(STORED_COUNT_LIMIT);
        let total_ms = if row.total_duration_ms > 0.0 {
            row.total_duration_ms
        } else {
            row.avg_execution_time_ms * row.total_executions as f64
        };
        record.total_nanos = u128::from(nanos_from_ms(total_ms));
        record.min_nanos = row.min_execution_time_ms.map(nanos_from_ms);
        record.max_nanos = row.max_execution_time_ms.map(nanos_from_ms);
        record.histogram = row
            .latency_histogram
            .as_deref()
            .and_then(|text| crate::json::from_str::<SparseHistogram>(text).ok())
            .map(|sparse| Histogram::from_sparse(&sparse))
            .unwrap_or_default();
        record.last_execution = time(&row.last_execution_time).zip(
            row.last_execution_status
                .as_deref()
                .and_then(status_from_str),
        );
        record.next_scheduled = time(&row.next_scheduled_time);
        record.patterns = row
            .error_patterns
            .as_deref()
            .and_then(|text| crate::json::from_str::<PatternTable>(text).ok())
            .unwrap_or_default();
        // The row keeps no id for the last error: it is its pattern's latest
        // example, whose id the pattern table keeps.
        record.last_error = time(&row.last_error_time).map(|t| {
            let error_type = row.last_error_type.clone().unwrap_or_default();
            let message = row.last_error_message.clone().unwrap_or_default();
            let execution_id = record
                .patterns
                .example_id_of(&error_type, &message, Timestamp(t));
            LastError {
                time: Timestamp(t),
                error_type,
                message,
                execution_id,
            }
        });
        record.alert_state = row.alert_state.clone();
        record
    }

    /// Adds statistics counted elsewhere (a row the store could only load
    /// late) to these.
    pub(crate) fn absorb(&mut self, earlier: FunctionRecord) {
        if self.consecutive_failures == self.total_executions() {
            // Every execution since the restart failed: the earlier streak goes on.
            self.consecutive_failures += earlier.consecutive_failures;
        }
        self.success_count += earlier.success_count;
        self.error_count += earlier.error_count;
        self.panic_count += earlier.panic_count;
        self.cancelled_count += earlier.cancelled_count;
        self.total_nanos += earlier.total_nanos;
        self.min_nanos = match (self.min_nanos, earlier.min_nanos) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_nanos = match (self.max_nanos, earlier.max_nanos) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.histogram.merge(&earlier.histogram);
        // Not run in this process: its due time is the stored one (from its
        // last run), not the one given at install.
        let ran_here = self.last_execution.is_some();
        if !ran_here {
            self.last_execution = earlier.last_execution;
        }
        if self.last_error.is_none() {
            self.last_error = earlier.last_error;
        }
        self.next_scheduled = if ran_here {
            self.next_scheduled.or(earlier.next_scheduled)
        } else {
            earlier.next_scheduled.or(self.next_scheduled)
        };
        self.patterns.merge(earlier.patterns);
        // The alert engine reads a stored state only when it first meets the
        // function; a state of this run (if any) replaces it on the next save.
        if self.alert_state.is_none() {
            self.alert_state = earlier.alert_state;
        }
        self.dirty = true;
    }
}
