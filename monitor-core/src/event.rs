//! What travels through the queue: one small fixed-size [`Event`] per execution.
//!
//! On the success path an event is four words and a tag. An `Err`'s details
//! ride as bytes in the thread's byte ring beside the event ring, or, for an
//! error of at most 8 bytes that the collector formats, in the event's last
//! word ([`Details`]);
//! the rarer details (a stack trace, context fields, a panic, a span) ride in
//! a `Box` that only those paths allocate; a span that ended well carries its
//! busy time inline in the same word ([`Extra`]).

use std::fmt;
use std::mem::MaybeUninit;

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
    /// Where an error's details are, and what [`word`](Self::word) holds.
    /// Also in the padding.
    details: Details,
    word: Word,
}

/// Where an event's error details travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Details {
    /// In the [`Extra`] word, boxed (or no details at all).
    InExtra,
    /// As a record in the thread's byte ring (`capture/staged.rs`); the
    /// word holds [`Extra::NONE`].
    InByteRing,
    /// In the word itself: the bytes of an error of at most 8 bytes that
    /// the collector formats with its callsite's formatter
    /// (`capture/deferred.rs`, [`Callsite::carried_format`]).
    Carried,
}

/// The event's last word: its [`Extra`], or a carried error's bytes
/// (possibly uninitialised: a moved value's padding), told apart by
/// [`Event::details`].
union Word {
    extra: std::mem::ManuallyDrop<Extra>,
    carried: MaybeUninit<u64>,
}

impl Event {
    /// An event whose details, if any, are in `extra`.
    #[inline(always)]
    pub(crate) fn new(
        callsite: &'static Callsite,
        (start, end): (u64, u64),
        status: Status,
        id: LocalId,
        extra: Extra,
    ) -> Event {
        Event {
            callsite,
            start,
            end,
            status,
            thread: id.thread,
            sequence: id.sequence,
            details: Details::InExtra,
            word: Word {
                extra: std::mem::ManuallyDrop::new(extra),
            },
        }
    }

    /// An error whose details are a record in the thread's byte ring.
    #[inline(always)]
    pub(crate) fn in_byte_ring(
        callsite: &'static Callsite,
        span: (u64, u64),
        id: LocalId,
    ) -> Event {
        let mut event = Event::new(callsite, span, Status::Error, id, Extra::NONE);
        event.details = Details::InByteRing;
        event
    }

    /// An error carried in the event's word: `value` holds the bytes of an
    /// error that `callsite`'s [`Callsite::carried_format`] formats.
    #[inline(always)]
    pub(crate) fn carried(
        callsite: &'static Callsite,
        (start, end): (u64, u64),
        id: LocalId,
        value: MaybeUninit<u64>,
    ) -> Event {
        Event {
            callsite,
            start,
            end,
            status: Status::Error,
            thread: id.thread,
            sequence: id.sequence,
            details: Details::Carried,
            word: Word { carried: value },
        }
    }

    /// Where the event's error details are.
    pub(crate) fn details(&self) -> Details {
        self.details
    }

    /// The event's [`Extra`] ([`Extra::NONE`] for a carried error).
    pub(crate) fn extra(&self) -> &Extra {
        match self.details {
            Details::Carried => &NO_EXTRA,
            // SAFETY: `details` says the word holds an `Extra`.
            _ => unsafe { &self.word.extra },
        }
    }

    /// The event's [`Extra`], to change (`None` for a carried error).
    pub(crate) fn extra_mut(&mut self) -> Option<&mut Extra> {
        match self.details {
            Details::Carried => None,
            // SAFETY: `details` says the word holds an `Extra`.
            _ => Some(unsafe { &mut self.word.extra }),
        }
    }

    /// Makes `extra` the event's details, in place of a byte ring record
    /// or a carried error.
    pub(crate) fn set_extra(&mut self, extra: Extra) {
        if self.details != Details::Carried {
            // SAFETY: `details` says the word holds an `Extra`, dropped here
            // once and replaced below.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.word.extra) };
        }
        self.word.extra = std::mem::ManuallyDrop::new(extra);
        self.details = Details::InExtra;
    }

    /// A carried error's bytes.
    pub(crate) fn carried_value(&self) -> Option<&MaybeUninit<u64>> {
        if self.details != Details::Carried {
            return None;
        }
        // SAFETY: `details` says the word holds a carried error's bytes.
        Some(unsafe { &self.word.carried })
    }
}

/// The [`Extra`] of an event that carries its error in its word.
static NO_EXTRA: Extra = Extra::NONE;

impl Drop for Event {
    #[inline(always)]
    fn drop(&mut self) {
        if self.details != Details::Carried {
            // SAFETY: `details` says the word holds an `Extra`, dropped once.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.word.extra) };
        }
    }
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

    /// A span's busy time and nothing else, in raw ticks: inline when it
    /// fits in the word beside the tag bit (on 64-bit targets, up to 2^63
    /// ticks), boxed otherwise. The ticks become nanoseconds when read
    /// ([`busy_ns`](Self::busy_ns), on the collector), not on the span's
    /// thread.
    #[inline]
    pub(crate) fn span_busy(busy_ticks: u64) -> Extra {
        match usize::try_from(busy_ticks) {
            Ok(busy) if busy <= usize::MAX >> 1 => Extra(busy << 1 | 1),
            _ => Extra::boxed(EventExtra {
                span: Some(SpanExtra {
                    busy_ns: crate::ticks::nanos_between(0, busy_ticks),
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

    /// A span's busy time, inline (as ticks) or boxed (as nanoseconds).
    fn busy_ns(&self) -> Option<u64> {
        if self.0 & 1 == 1 {
            return Some(crate::ticks::nanos_between(0, (self.0 >> 1) as u64));
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
        self.extra()
            .get()
            .and_then(|extra| extra.failure.as_deref())
    }

    /// A span's busy time (spans only).
    pub(crate) fn busy_ns(&self) -> Option<u64> {
        self.extra().busy_ns()
    }

    /// A root span's tree of child spans.
    pub(crate) fn trace(&self) -> Option<&ExecutionTrace> {
        self.extra()
            .get()
            .and_then(|extra| extra.span.as_ref())
            .and_then(|span| span.trace.as_ref())
    }

    pub(crate) fn fields(&self) -> &[Field] {
        self.extra().get().map_or(&[], |extra| &extra.fields)
    }

    /// The OpenTelemetry span the call ran under (feature `otlp-tracing`).
    #[cfg(feature = "otlp")]
    pub(crate) fn otlp_parent(&self) -> Option<crate::otlp::Parent> {
        #[cfg(feature = "otlp-tracing")]
        return self.extra().get().and_then(|extra| extra.parent);
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
            assert_eq!(extra.busy_ns(), Some(crate::ticks::nanos_between(0, busy)));
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
    fn an_event_tells_a_carried_error_from_its_extra() {
        static CALLSITE: Callsite =
            Callsite::new(None, "event", "tests", "call", file!(), line!(), None, None);
        let id = LocalId {
            thread: 1,
            sequence: 2,
        };
        // Bytes that would be a box's pointer if read as an `Extra` (even,
        // not zero): dropping the event must not free them.
        let word = MaybeUninit::new(0x1000_u64);
        let mut event = Event::carried(&CALLSITE, (1, 2), id, word);
        assert_eq!(event.details(), Details::Carried);
        assert_eq!(event.status, Status::Error);
        // SAFETY: written from an integer just above.
        let carried = unsafe { event.carried_value().unwrap().assume_init() };
        assert_eq!(carried, 0x1000);
        assert!(event.extra().get().is_none() && event.extra_mut().is_none());
        drop(Event::carried(&CALLSITE, (1, 2), id, word));
        // Boxed instead (a stack trace, say): the word is an `Extra` again.
        event.set_extra(Extra::span_busy(5));
        assert_eq!(event.details(), Details::InExtra);
        assert!(event.carried_value().is_none());
        assert_eq!(event.busy_ns(), Some(crate::ticks::nanos_between(0, 5)));
        let mut ring = Event::in_byte_ring(&CALLSITE, (1, 2), id);
        assert_eq!(ring.details(), Details::InByteRing);
        ring.set_extra(Extra::boxed(EventExtra::default()));
        assert!(ring.extra().get().is_some());
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
