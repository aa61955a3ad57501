//! Per-function statistics: what the collector keeps ([`FunctionRecord`]) and
//! what hosts read ([`FunctionStats`] inside a [`StatsSnapshot`]).

mod function_record;
mod histogram;
mod patterns;
mod persisted;

pub(crate) use function_record::FunctionRecord;
#[cfg(any(feature = "http", feature = "otlp"))]
pub(crate) use histogram::EXPOSED_POWERS;
pub(crate) use histogram::{Histogram, SparseHistogram, EXPOSED_BUCKETS};
pub(crate) use patterns::{fingerprint, PatternTable};

use serde::Serialize;

use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::timestamp::Timestamp;

/// Whether a function is healthy, as judged by the alert rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FunctionStatus {
    /// Running normally.
    #[default]
    Active,
    /// Failing often: the high-error-rate rule fires.
    Degraded,
    /// Failing every time: the consecutive-failures rule fires.
    Error,
}

impl FunctionStatus {
    /// The lowercase word used in reports and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionStatus::Active => "active",
            FunctionStatus::Degraded => "degraded",
            FunctionStatus::Error => "error",
        }
    }

    pub(crate) fn parse(text: &str) -> FunctionStatus {
        match text {
            "degraded" => FunctionStatus::Degraded,
            "error" => FunctionStatus::Error,
            _ => FunctionStatus::Active,
        }
    }
}

/// The latest error of a function.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LastError {
    /// When it happened.
    pub time: Timestamp,
    /// The error's type name, or `panic`.
    pub error_type: String,
    /// Its message (capped).
    pub message: String,
    /// The id of the execution that failed (see [`ExecutionId`]): its line
    /// in the executions log and the errors log. `None` for an error
    /// recorded by a version without ids.
    pub execution_id: Option<ExecutionId>,
}

/// One recurring kind of error of a function: type plus message with numbers,
/// ids and hex normalised away.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ErrorPattern {
    /// The normalised `type: message` text.
    pub fingerprint: String,
    /// How many errors matched it.
    pub count: u64,
    /// The latest full message that matched it.
    pub example: String,
    /// The id of the execution that produced [`example`](Self::example).
    /// `None` for a pattern last seen by a version without ids.
    pub example_id: Option<ExecutionId>,
    /// When it was last seen.
    pub last_seen: Timestamp,
}

/// Statistics of one monitored function (or span name).
///
/// `total_executions == success_count + error_count + panic_count`; futures
/// dropped before completion are counted apart in `cancelled_count`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FunctionStats {
    /// The function's name (`module::function`, `module::Type::method`, the
    /// attribute's `name`, or `target::span` for spans).
    pub name: String,
    /// The `trigger` label (`call`, `span`, or what the attribute says).
    pub trigger_type: String,
    /// `active`, `degraded` or `error`.
    pub status: FunctionStatus,
    /// This function's share of [`health`](crate::health): red or yellow
    /// while an alert about it of severity `error`/`critical` or `warning`
    /// fires, yellow while its success rate over the window is low, else
    /// green. The status report's icon shows it (⚪ instead of green before
    /// the first completed execution). Never `not_installed`.
    pub health: crate::alerts::Verdict,
    /// Completed executions: successes, errors and panics.
    pub total_executions: u64,
    /// Executions that returned anything but `Err`.
    pub success_count: u64,
    /// Executions that returned `Err` (or spans with an ERROR event).
    pub error_count: u64,
    /// Executions that panicked.
    pub panic_count: u64,
    /// Async executions dropped before they completed (not in `total_executions`).
    pub cancelled_count: u64,
    /// `success_count / total_executions`, from 0 to 1 (1 with no executions).
    pub success_rate: f64,
    /// Failures in a row up to the latest execution.
    pub consecutive_failures: u64,
    /// Mean duration in milliseconds.
    pub mean_ms: Option<f64>,
    /// Shortest duration in milliseconds.
    pub min_ms: Option<f64>,
    /// Longest duration in milliseconds.
    pub max_ms: Option<f64>,
    /// Median duration in milliseconds (histogram, within 1.6 %).
    pub p50_ms: Option<f64>,
    /// 95th percentile duration in milliseconds.
    pub p95_ms: Option<f64>,
    /// 99th percentile duration in milliseconds.
    pub p99_ms: Option<f64>,
    /// When the latest execution started.
    pub last_execution_time: Option<Timestamp>,
    /// How the latest execution ended.
    pub last_execution_status: Option<Status>,
    /// The latest error or panic.
    pub last_error: Option<LastError>,
    /// For functions declared `every = "…"`: when the next run is due.
    pub next_scheduled_time: Option<Timestamp>,
    /// The most frequent error patterns, most frequent first (at most 5).
    pub top_error_patterns: Vec<ErrorPattern>,
}

/// One function's duration histogram in exposition form (the Prometheus
/// `monitor_execution_duration_seconds` histogram), cut from the collector's
/// own histogram at exact bucket edges.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Durations {
    /// Executions shorter than `2^k` ns, for each `k` in [`EXPOSED_POWERS`].
    pub(crate) below: [u64; EXPOSED_BUCKETS],
    /// Every execution in the histogram.
    pub(crate) count: u64,
    /// The sum of their durations in nanoseconds.
    pub(crate) sum_nanos: u128,
}

impl Durations {
    pub(crate) fn of(record: &FunctionRecord) -> Durations {
        Durations {
            below: record.histogram.cumulative_below_powers_of_two(),
            count: record.histogram.total(),
            sum_nanos: record.total_nanos,
        }
    }
}

/// What the collector publishes at every tick and flush, for the readers
/// that must not wait for it (`stats()` on a busy collector, the HTTP server).
#[derive(Debug, Default)]
pub(crate) struct Published {
    /// Every function's statistics.
    pub(crate) stats: StatsSnapshot,
    /// Duration histograms in `stats.functions` order; empty unless the
    /// HTTP server asked for them.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) durations: Vec<Durations>,
}

/// A consistent copy of every function's statistics, taken by the collector.
///
/// ```
/// let snapshot = monitor_core::stats();
/// // Without an installed monitor the snapshot is empty.
/// assert!(snapshot.iter().next().is_none());
/// assert_eq!(snapshot.dropped_events, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Every function seen, sorted by name.
    pub functions: Vec<FunctionStats>,
    /// Executions dropped because a queue was full (exact).
    pub dropped_events: u64,
}

impl StatsSnapshot {
    /// The statistics of the function called `name`.
    pub fn get(&self, name: &str) -> Option<&FunctionStats> {
        self.functions
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()
            .map(|index| &self.functions[index])
    }

    /// Every function, sorted by name.
    pub fn iter(&self) -> std::slice::Iter<'_, FunctionStats> {
        self.functions.iter()
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// True when no function has been seen.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

impl<'a> IntoIterator for &'a StatsSnapshot {
    type Item = &'a FunctionStats;
    type IntoIter = std::slice::Iter<'a, FunctionStats>;

    fn into_iter(self) -> Self::IntoIter {
        self.functions.iter()
    }
}
