//! What sinks are handed: one borrowed view of a finished execution.

use std::time::{Duration, SystemTime};

use crate::capture::Failure;
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::fields::Field;
use crate::span_trace::ExecutionTrace;

/// One finished execution, as the collector hands it to every [`Sink`](crate::Sink).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ExecutionRecord<'a> {
    /// The execution's id (read it with [`id`](Self::id)).
    pub(crate) id: ExecutionId,
    /// The function's (or span's) name.
    pub name: &'a str,
    /// The `trigger` label.
    pub trigger_type: &'a str,
    /// How it ended.
    pub status: Status,
    /// When it started (UTC, from the monitor's clock).
    pub timestamp: SystemTime,
    /// How long it took (monotonic clock).
    pub duration: Duration,
    /// The name of the thread it ran on (`ThreadId(N)` for unnamed threads).
    pub thread: &'a str,
    /// Error or panic details.
    pub failure: Option<&'a Failure>,
    /// For spans: the time the span was entered.
    pub busy: Option<Duration>,
    /// For root spans: the tree of child spans.
    pub trace: Option<&'a ExecutionTrace>,
    /// Module the function was written in (`target` for spans).
    pub module_path: &'a str,
    /// Source file.
    pub file: &'a str,
    /// Source line.
    pub line: u32,
    /// Context fields (see [`fields`](Self::fields)).
    pub(crate) fields: &'a [Field],
}

impl<'a> ExecutionRecord<'a> {
    /// The execution's context fields, in the order they were declared: the
    /// attribute's `fields(…)` (recorded for failures only, unless it says
    /// `always`) or a span's own fields (failures only). Empty when there
    /// are none. At most [`MAX_FIELDS`](crate::MAX_FIELDS).
    ///
    /// ```
    /// struct PrintFields;
    /// impl monitor_core::Sink for PrintFields {
    ///     fn record(&mut self, execution: &monitor_core::ExecutionRecord<'_>) {
    ///         for field in execution.fields() {
    ///             println!("{} = {}", field.name(), field.value());
    ///         }
    ///     }
    /// }
    /// ```
    pub fn fields(&self) -> &'a [Field] {
        self.fields
    }
}

impl ExecutionRecord<'_> {
    /// The execution's id: the `"id"` of its lines in the executions log and
    /// the errors log, and of any alert that names it as an example.
    ///
    /// ```
    /// use monitor_core::{ExecutionRecord, Sink};
    ///
    /// /// Forwards the id of every failure.
    /// struct FailureIds(std::sync::mpsc::Sender<String>);
    ///
    /// impl Sink for FailureIds {
    ///     fn record(&mut self, execution: &ExecutionRecord<'_>) {
    ///         if execution.status.is_failure() {
    ///             let _ = self.0.send(execution.id().to_string());
    ///         }
    ///     }
    /// }
    /// # let (sender, _receiver) = std::sync::mpsc::channel();
    /// # let _sink = FailureIds(sender);
    /// ```
    pub fn id(&self) -> ExecutionId {
        self.id
    }
}
