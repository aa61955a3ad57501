//! Span-only data carried by an execution that came from a `tracing` span:
//! busy time, and for root spans the tree of their child spans.

use serde::Serialize;

use crate::event::Status;

/// Extra data of a span execution.
pub(crate) struct SpanExtra {
    /// Time the span was entered (busy), in nanoseconds.
    pub(crate) busy_ns: u64,
    /// The tree of child spans, on root spans only.
    pub(crate) trace: Option<ExecutionTrace>,
}

/// The tree of spans under a root span, as written in `execution_trace`.
///
/// Bounded: at most [`ExecutionTrace::MAX_NODES`] nodes and
/// [`ExecutionTrace::MAX_DEPTH`] levels; what does not fit is counted in
/// `omitted` and `truncated` is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExecutionTrace {
    /// The root span's direct children, in start order.
    pub children: Vec<TraceNode>,
    /// True when some spans were left out.
    pub truncated: bool,
    /// How many spans were left out.
    pub omitted: u64,
}

impl ExecutionTrace {
    /// Most nodes kept in one trace.
    pub const MAX_NODES: usize = 256;
    /// Deepest nesting kept below the root.
    pub const MAX_DEPTH: usize = 32;
}

/// One span in an [`ExecutionTrace`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceNode {
    /// `target::name` of the span.
    pub name: String,
    /// How the span ended.
    pub status: Status,
    /// Time from creation to close, in milliseconds.
    pub duration_ms: f64,
    /// Time from the root span's creation to this span's creation, in milliseconds.
    pub start_offset_ms: f64,
    /// The error message, when the span saw an ERROR event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Child spans, in start order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TraceNode>,
}
