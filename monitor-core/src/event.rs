//! What travels through the queue: one small fixed-size [`Event`] per execution.
//!
//! On the success path an event is four words and a tag. An `Err`'s details
//! ride as bytes in the thread's byte ring beside the event ring (`staged`);
//! the rarer details (a stack trace, context fields, a panic, a span) ride in
//! a `Box` that only those paths allocate; a span that ended well carries its
//! busy time inline in the same word ([`Extra`]).

use std::fmt;

use serde::Serialize;

use crate::callsite::Callsite;
use crate::capture::Failure;
use crate::fields::Field;
use crate::local_id::LocalId;
use crate::span_trace::{ExecutionTrace, SpanExtra};

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
    pub(crate) extra: Extra,
}

/// An `Option<Box<EventExtra>>` in one word, which can instead hold a span's
/// busy time inline: a span with no failure, no trace and no fields then
/// crosses to the collector without an allocation.
///
/// The word is 0 for nothing, a `Box<EventExtra>` pointer (even: the box is
/// aligned to at least 2), or `busy_ns << 1 | 1` (odd).
pub(crate) struct Extra(usize);

// `Extra` owns what its pointer points to, like the `Box` it stands for: it
// may cross threads because that box may.
const _: () = {
    const fn send<T: Send>() {}
    send::<Box<EventExtra>>();
    assert!(std::mem::align_of::<EventExtra>() >= 2);
};

impl Extra {
    /// Nothing beyond the event's own fields.
    pub(crate) const NONE: Extra = Extra(0);

    /// The boxed details.
    pub(crate) fn boxed(extra: EventExtra) -> Extra {
        Extra(Box::into_raw(Box::new(extra)) as usize)
    }

    /// A span's busy time and nothing else: inline when it fits in the word
    /// beside the tag bit (on 64-bit targets, up to 292 years), boxed
    /// otherwise.
    pub(crate) fn span_busy(busy_ns: u64) -> Extra {
        match usize::try_from(busy_ns) {
            Ok(busy) if busy <= usize::MAX >> 1 => Extra(busy << 1 | 1),
            _ => Extra::boxed(EventExtra {
                span: Some(SpanExtra {
                    busy_ns,
                    trace: None,
                }),
                ..EventExtra::default()
            }),
        }
    }

    fn pointer(&self) -> Option<*mut EventExtra> {
        (self.0 != 0 && self.0 & 1 == 0).then_some(self.0 as *mut EventExtra)
    }

    /// The boxed details, if any.
    pub(crate) fn get(&self) -> Option<&EventExtra> {
        // SAFETY: an even non-zero word is the pointer of a live
        // `Box<EventExtra>` this value owns (made in `boxed`, freed only in
        // `drop`); the shared borrow of `self` keeps it alive, and no `&mut`
        // to it exists meanwhile.
        self.pointer().map(|pointer| unsafe { &*pointer })
    }

    /// The boxed details, if any, to change.
    pub(crate) fn get_mut(&mut self) -> Option<&mut EventExtra> {
        // SAFETY: as in `get`; the exclusive borrow of `self` makes this the
        // only reference to the box.
        self.pointer().map(|pointer| unsafe { &mut *pointer })
    }

    /// A span's busy time, inline or boxed.
    fn busy_ns(&self) -> Option<u64> {
        if self.0 & 1 == 1 {
            return Some((self.0 >> 1) as u64);
        }
        self.get()
            .and_then(|extra| extra.span.as_ref())
            .map(|span| span.busy_ns)
    }
}

impl Drop for Extra {
    #[inline(always)]
    fn drop(&mut self) {
        // Inline and tiny for the success path's empty word; the box's
        // drop stays out of line.
        if self.0 != 0 && self.0 & 1 == 0 {
            free(self.0 as *mut EventExtra);
        }
    }
}

#[cold]
#[inline(never)]
fn free(pointer: *mut EventExtra) {
    // SAFETY: only `Extra::drop` calls this, with the pointer of the box it
    // owns (from `Box::into_raw` in `Extra::boxed`), once.
    drop(unsafe { Box::from_raw(pointer) });
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
        self.extra.get().and_then(|extra| extra.failure.as_deref())
    }

    /// A span's busy time (spans only).
    pub(crate) fn busy_ns(&self) -> Option<u64> {
        self.extra.busy_ns()
    }

    /// A root span's tree of child spans.
    pub(crate) fn trace(&self) -> Option<&ExecutionTrace> {
        self.extra
            .get()
            .and_then(|extra| extra.span.as_ref())
            .and_then(|span| span.trace.as_ref())
    }

    pub(crate) fn fields(&self) -> &[Field] {
        self.extra.get().map_or(&[], |extra| &extra.fields)
    }

    /// The OpenTelemetry span the call ran under (feature `otlp-tracing`).
    #[cfg(feature = "otlp")]
    pub(crate) fn otlp_parent(&self) -> Option<crate::otlp::Parent> {
        #[cfg(feature = "otlp-tracing")]
        return self.extra.get().and_then(|extra| extra.parent);
        #[cfg(not(feature = "otlp-tracing"))]
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_word_holds_nothing_a_box_or_a_busy_time() {
        assert!(Extra::NONE.get().is_none() && Extra::NONE.busy_ns().is_none());
        for busy in [0, 1, 12_345, u64::MAX >> 1, u64::MAX] {
            let extra = Extra::span_busy(busy);
            assert_eq!(extra.busy_ns(), Some(busy));
            assert_eq!(extra.get().is_some(), busy > u64::MAX >> 1);
        }
        let mut boxed = Extra::boxed(EventExtra {
            fields: vec![Field::new("k", crate::FieldValue::U64(7))],
            ..EventExtra::default()
        });
        assert_eq!(boxed.get().unwrap().fields.len(), 1);
        boxed.get_mut().unwrap().fields.clear();
        assert!(boxed.get().unwrap().fields.is_empty() && boxed.busy_ns().is_none());
    }

    #[test]
    fn the_success_path_event_stays_small() {
        assert!(
            std::mem::size_of::<Event>() <= 40,
            "{}",
            std::mem::size_of::<Event>()
        );
    }
}
