//! Extension point: user sinks receive every execution on the collector thread.

use crate::execution_record::ExecutionRecord;

/// Receives every execution, on the collector thread, after it was counted and
/// logged. A sink must not block for long: it delays everything behind it. A
/// sink that panics is caught, counted (`sink_panics` in the `sink_failing`
/// alert's numbers), and called again for later executions.
///
/// ```
/// use monitor_core::{ExecutionRecord, Sink, Status};
///
/// #[derive(Default)]
/// struct CountFailures(u64);
///
/// impl Sink for CountFailures {
///     fn record(&mut self, execution: &ExecutionRecord<'_>) {
///         if execution.status != Status::Success {
///             self.0 += 1;
///         }
///     }
/// }
/// let builder = monitor_core::Monitor::builder().sink(CountFailures::default());
/// # drop(builder);
/// ```
pub trait Sink: Send + 'static {
    /// One finished execution.
    fn record(&mut self, execution: &ExecutionRecord<'_>);

    /// Called on [`MonitorGuard::flush`](crate::MonitorGuard::flush) and at shutdown.
    fn flush(&mut self) {}
}
