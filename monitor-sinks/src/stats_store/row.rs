//! The row type of the `function_stats` table.

/// One row of the `function_stats` table: the persisted statistics of one
/// monitored function.
///
/// This is plain data with no dependency on the rest of the workspace. The
/// core owns the totals and always hands the store *absolute* values (never
/// deltas), so writing the same row twice is harmless and a retried save is
/// idempotent.
///
/// Timestamps are RFC 3339 strings in UTC with microseconds, e.g.
/// `2024-05-01T12:34:56.123456Z`. Counts are `u64` in Rust and `INTEGER`
/// (signed 64-bit) in SQLite: values above `i64::MAX` are saturated to
/// `i64::MAX` when saved.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StoredFunctionStats {
    /// Fully qualified function name; the primary key.
    pub name: String,
    /// How the function is triggered (e.g. `"call"`, `"schedule"`, `"http"`).
    pub trigger_type: String,
    /// Health of the function: `"active"`, `"degraded"` or `"error"`.
    pub status: String,
    /// Completed executions: successes, errors and panics (cancelled async
    /// executions are counted apart, in `cancelled_count`).
    pub total_executions: u64,
    /// Executions that returned successfully.
    pub success_count: u64,
    /// Executions that returned an error.
    pub error_count: u64,
    /// Executions that panicked.
    pub panic_count: u64,
    /// Executions that were cancelled (e.g. a future dropped before completion).
    pub cancelled_count: u64,
    /// Sum of the measured execution times in milliseconds, kept so that the
    /// mean can be continued exactly after a restart.
    pub total_duration_ms: f64,
    /// Mean execution time in milliseconds.
    pub avg_execution_time_ms: f64,
    /// Fastest execution in milliseconds, if any was measured.
    pub min_execution_time_ms: Option<f64>,
    /// Slowest execution in milliseconds, if any was measured.
    pub max_execution_time_ms: Option<f64>,
    /// Median execution time in milliseconds.
    pub p50_execution_time_ms: Option<f64>,
    /// 95th percentile of the execution time in milliseconds.
    pub p95_execution_time_ms: Option<f64>,
    /// 99th percentile of the execution time in milliseconds.
    pub p99_execution_time_ms: Option<f64>,
    /// When the last execution started (RFC 3339 UTC, microseconds).
    pub last_execution_time: Option<String>,
    /// Outcome of the last execution: `"success"`, `"error"`, `"panic"` or
    /// `"cancelled"`.
    pub last_execution_status: Option<String>,
    /// When the last error or panic happened (RFC 3339 UTC, microseconds).
    pub last_error_time: Option<String>,
    /// Type of the last error (e.g. the Rust type name, or `"panic"`).
    pub last_error_type: Option<String>,
    /// Message of the last error or panic.
    pub last_error_message: Option<String>,
    /// Next planned run of a scheduled function (RFC 3339 UTC, microseconds).
    pub next_scheduled_time: Option<String>,
    /// Opaque text (JSON) owned by the core: the latency histogram from which
    /// the percentiles are continued exactly after a restart.
    pub latency_histogram: Option<String>,
    /// Opaque text (JSON) owned by the core: recurring error patterns.
    pub error_patterns: Option<String>,
    /// When this row was last written (RFC 3339 UTC, microseconds). If a row is
    /// saved with `None`, the store fills in the time of the save.
    pub updated_at: Option<String>,
    /// Failures (errors and panics) in a row up to the latest execution, so
    /// a function failing every time is still known as failing after a
    /// restart. Added in schema version 4.
    pub consecutive_failures: u64,
    /// Opaque text (JSON) owned by the core: the state of the function's
    /// alert rules (which fire, since when, when they last notified, where
    /// the current run of failures started, the recent executions the rules
    /// count), so that a restart neither notifies again nor misdates an
    /// alert. Added in schema version 5.
    pub alert_state: Option<String>,
}
