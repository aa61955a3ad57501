//! What travels through the queue: one small fixed-size [`Event`] per execution.
//!
//! On the success path an event is four words and a tag. An `Err`'s details
//! ride as bytes in the thread's byte ring beside the event ring (`staged`);
//! the rarer details (a stack trace, context fields, a panic, a span) ride in
//! a `Box` that only those paths allocate.

use std::fmt;

use serde::Serialize;

use crate::callsite::Callsite;
use crate::capture::Failure;
use crate::fields::Field;
use crate::local_id::LocalId;
use crate::span_trace::SpanExtra;

/// How an execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Returned normally (anything but `Err`).
    Success,
    /// Returned `Err(_)`, or a span saw an ERROR event.
    Error,
    /// Unwound with a panic.
    Panic,
    /// An async execution whose future was dropped before it completed.
    Cancelled,
}

impl Status {
    /// The lowercase word used in logs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Panic => "panic",
            Status::Cancelled => "cancelled",
        }
    }

    /// True for `Error` and `Panic`: the executions written to the errors log.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Error | Status::Panic)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the caller hands the collector about one execution.
pub(crate) struct Event {
    pub(crate) callsite: &'static Callsite,
    /// Raw monotonic ticks (see [`crate::ticks`]).
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) status: Status,
    /// The starting thread's number and sequence (see [`crate::local_id`]):
    /// they sit in the padding beside `status`.
    pub(crate) thread: u16,
    pub(crate) sequence: u32,
    /// An error whose details travel as a record in the thread's byte ring
    /// (`capture/staged.rs`), not in `extra`. Also in the padding.
    pub(crate) staged: bool,
    pub(crate) extra: Option<Box<EventExtra>>,
}

/// The rarely present parts of an event: failure details, span data,
/// context fields.
#[derive(Default)]
pub(crate) struct EventExtra {
    pub(crate) failure: Option<Box<Failure>>,
    pub(crate) span: Option<SpanExtra>,
    /// Context fields (failures only, unless the attribute says `always`).
    pub(crate) fields: Vec<Field>,
    /// The OpenTelemetry span the call ran under (feature `otlp-tracing`).
    #[cfg(feature = "otlp-tracing")]
    pub(crate) parent: Option<crate::otlp::Parent>,
}

impl Event {
    pub(crate) fn local_id(&self) -> LocalId {
        LocalId {
            thread: self.thread,
            sequence: self.sequence,
        }
    }

    pub(crate) fn failure(&self) -> Option<&Failure> {
        self.extra
            .as_ref()
            .and_then(|extra| extra.failure.as_deref())
    }

    pub(crate) fn span(&self) -> Option<&SpanExtra> {
        self.extra.as_ref().and_then(|extra| extra.span.as_ref())
    }

    pub(crate) fn fields(&self) -> &[Field] {
        self.extra.as_ref().map_or(&[], |extra| &extra.fields)
    }

    /// The OpenTelemetry span the call ran under (feature `otlp-tracing`).
    #[cfg(feature = "otlp")]
    pub(crate) fn otlp_parent(&self) -> Option<crate::otlp::Parent> {
        #[cfg(feature = "otlp-tracing")]
        return self.extra.as_ref().and_then(|extra| extra.parent);
        #[cfg(not(feature = "otlp-tracing"))]
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_success_path_event_stays_small() {
        assert!(
            std::mem::size_of::<Event>() <= 40,
            "{}",
            std::mem::size_of::<Event>()
        );
    }
}
