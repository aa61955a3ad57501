//! The caller's side of an execution: start a clock, run the body, classify
//! the result, push one event. Everything `#[monitored]` expands to calls here
//! (through `monitor::__private`).
//!
//! The outcome is decided by *how the guard ends*, never by
//! `thread::panicking()` alone: [`ExecutionGuard::finish`] records a normal
//! return; a guard dropped without `finish` was unwound through, a panic. A
//! monitored `Drop` impl that runs fine during another panic's unwinding is
//! therefore a success, as it should be.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::callsite::Callsite;
use crate::capture::{
    gated_stack_trace, shape_of, take_panic_failure, Carried, Failure, Outcome, Staged,
    UnresolvedTrace,
};
use crate::event::{Event, EventExtra, Extra, Status};
use crate::fields::{Field, FieldSlot, Held, HeldFields, NoFields};
use crate::local_id::LocalId;
use crate::queue;
use crate::running::{open::OpenHandle, stack};

use crate::ticks::now;

/// Times one synchronous execution. Dropped without [`finish`](Self::finish)
/// (the body unwound), it records a panic.
///
/// `S` is what it holds of the function's `fields(…)`: nothing
/// ([`NoFields`], a zero-sized type) for a function without them.
#[must_use = "an execution guard records nothing unless finished or unwound through"]
pub struct ExecutionGuard<S: FieldSlot = NoFields> {
    callsite: &'static Callsite,
    start: u64,
    /// The execution's [`LocalId`], kept as two fields so that they share a
    /// word with `active` (the guard stays three words).
    thread: u16,
    sequence: u32,
    active: bool,
    /// Listed on this thread's stack of running executions (every active
    /// sync guard; not the one inside an [`AsyncInlineGuard`], which can
    /// move between threads).
    listed: bool,
    fields: S,
}

impl ExecutionGuard {
    /// Starts timing when a monitor is installed, and takes the thread's
    /// next execution number (a thread-local counter); otherwise an inactive
    /// guard that costs one relaxed atomic load.
    #[inline(always)]
    pub fn start(callsite: &'static Callsite) -> Self {
        let active = queue::enabled();
        let (start, id) = if active {
            let (start, id) = (now(), LocalId::next());
            stack::push(callsite, start, id);
            (start, id)
        } else {
            (0, LocalId::default())
        };
        ExecutionGuard {
            callsite,
            start,
            thread: id.thread,
            sequence: id.sequence,
            active,
            listed: active,
            fields: NoFields,
        }
    }

    /// Like [`start`](Self::start), for methods: remembers the `Self` type so
    /// the function is named `module::Type::method`.
    #[inline(always)]
    pub fn start_method(callsite: &'static Callsite, self_type: fn() -> &'static str) -> Self {
        let guard = Self::start(callsite);
        if guard.active {
            callsite.note_self_type(self_type);
        }
        guard
    }

    /// Whether a monitor was installed when it started: the function's
    /// `fields(…)` are evaluated only then.
    #[inline(always)]
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The guard, holding the values of the function's `fields(…)`
    /// (evaluated by the expansion when [`is_active`](Self::is_active)).
    #[inline(always)]
    pub fn with_fields<H: HeldFields>(self, fields: Held<H>) -> ExecutionGuard<Held<H>> {
        let guard = ExecutionGuard {
            callsite: self.callsite,
            start: self.start,
            thread: self.thread,
            sequence: self.sequence,
            active: self.active,
            listed: self.listed,
            fields,
        };
        std::mem::forget(self);
        guard
    }
}

impl<S: FieldSlot> ExecutionGuard<S> {
    /// Takes the execution off this thread's stack of running ones.
    #[inline(always)]
    fn unlist(&mut self) {
        if self.listed {
            self.listed = false;
            stack::pop();
        }
    }

    #[inline(always)]
    fn id(&self) -> LocalId {
        LocalId {
            thread: self.thread,
            sequence: self.sequence,
        }
    }

    /// Records a normal return. `classify` runs only when a monitor is installed.
    #[inline(always)]
    pub fn finish(mut self, classify: impl FnOnce() -> Outcome) {
        if !self.active {
            return;
        }
        self.active = false;
        let end = now();
        self.unlist();
        record(
            self.callsite,
            self.start,
            self.id(),
            end,
            classify(),
            &mut self.fields,
        );
    }
}

impl<S: FieldSlot> Drop for ExecutionGuard<S> {
    // Inlined so a finished guard costs no call on the success path (benches/overhead.rs).
    #[inline]
    fn drop(&mut self) {
        if self.active {
            self.unlist();
            record_panic(
                self.callsite,
                self.start,
                self.id(),
                now(),
                self.fields.take(),
            );
        }
    }
}

/// Times the body of a `-> !` function (it never returns a value to
/// classify). Ends as a success when dropped normally, as a panic when
/// dropped by an unwind that began inside the body.
#[must_use = "an inline guard times the scope it lives in"]
pub struct InlineGuard<S: FieldSlot = NoFields> {
    inner: ExecutionGuard<S>,
    panicking_at_start: bool,
}

impl InlineGuard {
    /// Starts timing (see [`ExecutionGuard::start`]).
    #[inline(always)]
    pub fn start(callsite: &'static Callsite) -> Self {
        let inner = ExecutionGuard::start(callsite);
        let panicking_at_start = inner.active && std::thread::panicking();
        InlineGuard {
            inner,
            panicking_at_start,
        }
    }

    /// Like [`start`](Self::start), for methods.
    #[inline(always)]
    pub fn start_method(callsite: &'static Callsite, self_type: fn() -> &'static str) -> Self {
        let guard = Self::start(callsite);
        if guard.inner.active {
            callsite.note_self_type(self_type);
        }
        guard
    }

    /// Whether a monitor was installed when it started (see
    /// [`ExecutionGuard::is_active`]).
    #[inline(always)]
    pub fn is_active(&self) -> bool {
        self.inner.active
    }

    /// The guard, holding the values of the function's `fields(…)`.
    #[inline(always)]
    pub fn with_fields<H: HeldFields>(self, fields: Held<H>) -> InlineGuard<Held<H>> {
        let panicking_at_start = self.panicking_at_start;
        // `InlineGuard` has a `Drop` impl: its inner guard cannot be moved out.
        let this = std::mem::ManuallyDrop::new(self);
        let inner = ExecutionGuard {
            callsite: this.inner.callsite,
            start: this.inner.start,
            thread: this.inner.thread,
            sequence: this.inner.sequence,
            active: this.inner.active,
            listed: this.inner.listed,
            fields,
        };
        InlineGuard {
            inner,
            panicking_at_start,
        }
    }
}

impl<S: FieldSlot> Drop for InlineGuard<S> {
    #[inline]
    fn drop(&mut self) {
        if !self.inner.active {
            return;
        }
        self.inner.active = false;
        let end = now();
        self.inner.unlist();
        let id = self.inner.id();
        let inner = &mut self.inner;
        if std::thread::panicking() && !self.panicking_at_start {
            record_panic(inner.callsite, inner.start, id, end, inner.fields.take());
        } else {
            record(
                inner.callsite,
                inner.start,
                id,
                end,
                Outcome::Success,
                &mut inner.fields,
            );
        }
    }
}

/// Times the body of an `async fn` whose output is `impl Trait`, kept in
/// place (see the macro's `keeps_body_in_place`): created at the first poll,
/// told by the expansion when the body reaches its tail or a `return`
/// ([`completed`](Self::completed)), and dropped with the body's other
/// locals. Dropped completed: a success; by an unwind that began inside the
/// body: a panic; otherwise the future was dropped mid-flight: cancelled.
#[must_use = "an async inline guard times the body it lives in"]
pub struct AsyncInlineGuard<S: FieldSlot = NoFields> {
    inner: InlineGuard<S>,
    completed: bool,
    /// Its entry among the running executions (the body can move between
    /// threads at each `.await`: not on a thread's stack).
    open: Option<OpenHandle>,
}

impl AsyncInlineGuard {
    /// Starts timing (see [`ExecutionGuard::start`]).
    #[inline(always)]
    pub fn start(callsite: &'static Callsite) -> Self {
        AsyncInlineGuard::listed(InlineGuard::start(callsite))
    }

    /// Like [`start`](Self::start), for methods.
    #[inline(always)]
    pub fn start_method(callsite: &'static Callsite, self_type: fn() -> &'static str) -> Self {
        AsyncInlineGuard::listed(InlineGuard::start_method(callsite, self_type))
    }

    /// Moves the execution from this thread's stack to an entry of its own.
    #[inline]
    fn listed(mut inner: InlineGuard) -> Self {
        let guard = &mut inner.inner;
        let open = if guard.active {
            guard.unlist();
            OpenHandle::new(guard.callsite, guard.start, guard.id())
        } else {
            None
        };
        AsyncInlineGuard {
            inner,
            completed: false,
            open,
        }
    }

    /// Whether a monitor was installed when it started (see
    /// [`ExecutionGuard::is_active`]).
    #[inline(always)]
    pub fn is_active(&self) -> bool {
        self.inner.inner.active
    }

    /// The guard, holding the values of the function's `fields(…)`.
    #[inline(always)]
    pub fn with_fields<H: HeldFields>(self, fields: Held<H>) -> AsyncInlineGuard<Held<H>> {
        let mut this = std::mem::ManuallyDrop::new(self);
        let open = this.open.take();
        let inline = &this.inner;
        AsyncInlineGuard {
            inner: InlineGuard {
                inner: ExecutionGuard {
                    callsite: inline.inner.callsite,
                    start: inline.inner.start,
                    thread: inline.inner.thread,
                    sequence: inline.inner.sequence,
                    active: inline.inner.active,
                    listed: inline.inner.listed,
                    fields,
                },
                panicking_at_start: inline.panicking_at_start,
            },
            completed: this.completed,
            open,
        }
    }
}

impl<S: FieldSlot> AsyncInlineGuard<S> {
    /// The body reached its value: dropping the guard now ends a success
    /// (or a panic, if an unwind drops it).
    #[inline(always)]
    pub fn completed(&mut self) {
        self.completed = true;
    }
}

impl<S: FieldSlot> Drop for AsyncInlineGuard<S> {
    #[inline]
    fn drop(&mut self) {
        self.open = None;
        let guard = &mut self.inner.inner;
        if guard.active && !self.completed && !std::thread::panicking() {
            guard.active = false;
            record_cancelled(guard.callsite, guard.start, guard.id());
        }
        // Otherwise the inline guard's own drop records a success or a panic.
    }
}

/// A token the closure shape moves into the body's closure, so the closure
/// is `FnOnce` (and may return borrows of what it captured) although it is
/// called in place, with no helper frame between the caller and the body.
#[derive(Debug)]
pub struct CallOnce;

impl CallOnce {
    /// Consumes the token.
    #[inline(always)]
    pub fn take(self) {}
}

#[inline(always)]
fn record(
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    end: u64,
    outcome: Outcome,
    fields: &mut impl FieldSlot,
) {
    match outcome {
        // `always()` is a constant `false` without fields: this arm is gone.
        Outcome::Success if fields.always() => {
            record_success_with_fields(callsite, start, id, end, fields.take(), None);
        }
        Outcome::Success => {
            #[cfg(feature = "otlp-tracing")]
            if let Some(parent) = crate::otlp::parent::current() {
                return record_success_with_fields(
                    callsite,
                    start,
                    id,
                    end,
                    Vec::new(),
                    Some(parent),
                );
            }
            queue::push(Event::new(
                callsite,
                (start, end),
                Status::Success,
                id,
                Extra::NONE,
            ));
        }
        Outcome::Carried(carried) => {
            record_carried(callsite, start, id, end, carried, fields.take());
        }
        Outcome::Staged(staged) => record_staged(callsite, start, id, end, staged, fields.take()),
        Outcome::Error(failure) => record_error(callsite, start, id, end, failure, fields.take()),
    }
}

/// The OpenTelemetry span the call runs under (feature `otlp-tracing`).
#[cfg(feature = "otlp-tracing")]
type Parent = Option<crate::otlp::Parent>;
/// Nothing, without the `otlp-tracing` feature.
#[cfg(not(feature = "otlp-tracing"))]
type Parent = Option<std::convert::Infallible>;

/// The OpenTelemetry span the call runs under, if any (always `None`
/// without the `otlp-tracing` feature): a call under one carries the span's
/// ids, boxed, like one with fields.
#[inline(always)]
fn otel_parent() -> Parent {
    #[cfg(feature = "otlp-tracing")]
    return crate::otlp::parent::current();
    #[cfg(not(feature = "otlp-tracing"))]
    None
}

/// A success of a function with `fields(always, …)`, or one under an
/// OpenTelemetry span: its fields and the span's ids ride in an
/// [`EventExtra`] (with the list, two allocations; measured in
/// BENCHMARKS.md). `parent`: the span, when the caller looked it up.
#[inline(never)]
fn record_success_with_fields(
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    end: u64,
    fields: Vec<Field>,
    parent: Parent,
) {
    #[cfg(feature = "otlp-tracing")]
    let parent = parent.or_else(crate::otlp::parent::current);
    let extra = if fields.is_empty() && parent.is_none() {
        Extra::NONE
    } else {
        Extra::boxed(EventExtra {
            fields,
            #[cfg(feature = "otlp-tracing")]
            parent,
            ..EventExtra::default()
        })
    };
    queue::push(Event::new(
        callsite,
        (start, end),
        Status::Success,
        id,
        extra,
    ));
}

/// The boxed error arm of [`record`] (an `Err` classified while this
/// thread's stage could not be used), out of line like [`record_staged`]
/// (benches/overhead.rs): inlined, its `Failure` move and second push made
/// every monitored function's frame bigger and spilled the success path's
/// registers.
#[cold]
#[inline(never)]
#[allow(clippy::boxed_local)] // taken boxed: unboxing in the caller would put the copy back in its frame
fn record_error(
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    end: u64,
    mut failure: Box<Failure>,
    fields: Vec<Field>,
) {
    failure.unresolved_trace = gated_stack_trace(callsite, || {
        shape_of(&failure.error_type, failure.message.as_bytes())
    });
    push_failure(callsite, (start, end), id, failure, fields, otel_parent());
}

/// Pushes an error whose details travel boxed.
fn push_failure(
    callsite: &'static Callsite,
    span: (u64, u64),
    id: LocalId,
    failure: Box<Failure>,
    fields: Vec<Field>,
    parent: Parent,
) {
    #[cfg(not(feature = "otlp-tracing"))]
    let _ = parent;
    queue::push(Event::new(
        callsite,
        span,
        Status::Error,
        id,
        Extra::boxed(EventExtra {
            failure: Some(failure),
            span: None,
            fields,
            #[cfg(feature = "otlp-tracing")]
            parent,
        }),
    ));
}

/// An `Err` of at most 8 bytes that the collector formats
/// (`capture/deferred.rs`): the event carries it in its last word, nothing
/// else is written. With a stack trace or context fields, under an
/// OpenTelemetry span, or from a callsite that carries another error type
/// (a generic function's), it goes through the stage instead.
#[cold]
#[inline(never)]
fn record_carried(
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    end: u64,
    carried: Carried,
    fields: Vec<Field>,
) {
    let trace = gated_stack_trace(callsite, || carried.shape());
    let parent = otel_parent();
    if parent.is_none()
        && trace.is_none()
        && fields.is_empty()
        && callsite.carries(carried.format_address())
    {
        queue::push(Event::carried(callsite, (start, end), id, carried.value()));
        return;
    }
    match carried.into_staged() {
        Ok(staged) => send_staged(callsite, (start, end), id, staged, fields, trace, parent),
        Err(mut failure) => {
            failure.unresolved_trace = trace;
            push_failure(callsite, (start, end), id, failure, fields, parent);
        }
    }
}

/// An `Err` whose details wait in the thread's stage (the usual case): they
/// go into the thread's byte ring beside the event, no allocation. With a
/// stack trace (rate-limited, see `capture/trace_gate.rs`) or context
/// fields, or when the byte ring is full, they travel boxed instead.
#[cold]
#[inline(never)]
fn record_staged(
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    end: u64,
    staged: Staged,
    fields: Vec<Field>,
) {
    let trace = gated_stack_trace(callsite, || staged.shape());
    let parent = otel_parent();
    send_staged(callsite, (start, end), id, staged, fields, trace, parent);
}

/// [`record_staged`] once the trace gate and the OpenTelemetry parent were
/// asked.
fn send_staged(
    callsite: &'static Callsite,
    span: (u64, u64),
    id: LocalId,
    staged: Staged,
    fields: Vec<Field>,
    trace: Option<UnresolvedTrace>,
    parent: Parent,
) {
    let mut event = Event::in_byte_ring(callsite, span, id);
    if parent.is_none() && trace.is_none() && fields.is_empty() {
        match queue::push_staged(event, id) {
            Ok(()) => return,
            Err(back) => event = back,
        }
    }
    let mut failure = staged.into_failure();
    failure.unresolved_trace = trace;
    event.set_extra(Extra::boxed(EventExtra {
        failure: Some(Box::new(failure)),
        span: None,
        fields,
        #[cfg(feature = "otlp-tracing")]
        parent,
    }));
    queue::push(event);
}

#[cold]
fn record_panic(
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    end: u64,
    fields: Vec<Field>,
) {
    queue::push(Event::new(
        callsite,
        (start, end),
        Status::Panic,
        id,
        Extra::boxed(EventExtra {
            failure: Some(Box::new(take_panic_failure(start))),
            span: None,
            fields,
            #[cfg(feature = "otlp-tracing")]
            parent: crate::otlp::parent::current(),
        }),
    ));
}

#[cold]
fn record_cancelled(callsite: &'static Callsite, start: u64, id: LocalId) {
    queue::push(Event::new(
        callsite,
        (start, now()),
        Status::Cancelled,
        id,
        Extra::NONE,
    ));
}

pin_project_lite::pin_project! {
    /// Times an async body from its first poll to completion. Completing
    /// yields the output and a [`Completion`] to classify it with; a panic
    /// inside a poll is recorded as a panic; dropped before completion, a
    /// cancellation.
    ///
    /// The expansion writes `MonitoredFuture::<Ret, _>::new(&CALLSITE, async move { body })`,
    /// which pins the async block's output to the declared return type.
    #[must_use = "futures do nothing unless polled"]
    pub struct MonitoredFuture<R, F: Future<Output = R>, S: FieldSlot = NoFields> {
        #[pin]
        inner: F,
        callsite: &'static Callsite,
        self_type: Option<fn() -> &'static str>,
        state: State,
        fields: S,
        // Its entry among the running executions, from its first `Pending`.
        open: Option<OpenHandle>,
    }

    impl<R, F: Future<Output = R>, S: FieldSlot> PinnedDrop for MonitoredFuture<R, F, S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            *this.open = None;
            if let State::Running(start, id) = *this.state {
                *this.state = State::Done;
                record_cancelled(this.callsite, start, id);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum State {
    NotStarted,
    /// Started at this tick, as this execution of the thread that polled first.
    Running(u64, LocalId),
    /// Completed, panicked, or started while no monitor was installed.
    Done,
}

impl<R, F: Future<Output = R>> MonitoredFuture<R, F> {
    /// Wraps `inner`.
    #[inline]
    pub fn new(callsite: &'static Callsite, inner: F) -> Self {
        MonitoredFuture {
            inner,
            callsite,
            self_type: None,
            state: State::NotStarted,
            fields: NoFields,
            open: None,
        }
    }

    /// Wraps `inner` of a method (see [`ExecutionGuard::start_method`]).
    #[inline]
    pub fn new_method(
        callsite: &'static Callsite,
        self_type: fn() -> &'static str,
        inner: F,
    ) -> Self {
        MonitoredFuture {
            inner,
            callsite,
            self_type: Some(self_type),
            state: State::NotStarted,
            fields: NoFields,
            open: None,
        }
    }
}

impl<R, F: Future<Output = R>, H: HeldFields> MonitoredFuture<R, F, Held<H>> {
    /// Wraps `inner`, holding the values of the function's `fields(…)`
    /// (evaluated by the expansion when [`enabled`] said a monitor is
    /// installed, just before the first poll).
    #[inline]
    pub fn with_fields(callsite: &'static Callsite, fields: Held<H>, inner: F) -> Self {
        MonitoredFuture {
            inner,
            callsite,
            self_type: None,
            state: State::NotStarted,
            fields,
            open: None,
        }
    }

    /// [`with_fields`](Self::with_fields) of a method (see [`ExecutionGuard::start_method`]).
    #[inline]
    pub fn with_fields_method(
        callsite: &'static Callsite,
        self_type: fn() -> &'static str,
        fields: Held<H>,
        inner: F,
    ) -> Self {
        MonitoredFuture {
            inner,
            callsite,
            self_type: Some(self_type),
            state: State::NotStarted,
            fields,
            open: None,
        }
    }
}

/// Whether a monitor is installed (one relaxed load): a function's
/// `fields(…)` are evaluated only then.
#[inline(always)]
pub fn enabled() -> bool {
    queue::enabled()
}

/// The timing of a completed async execution, waiting to be classified.
#[must_use = "a completion records nothing unless finished"]
pub struct Completion<S: FieldSlot = NoFields> {
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    end: u64,
    active: bool,
    fields: S,
}

impl<S: FieldSlot> Completion<S> {
    /// Records the completed execution with the outcome `classify` gives.
    #[inline(always)]
    pub fn finish(mut self, classify: impl FnOnce() -> Outcome) {
        if self.active {
            record(
                self.callsite,
                self.start,
                self.id,
                self.end,
                classify(),
                &mut self.fields,
            );
        }
    }
}

/// Records a panic if a poll unwinds.
struct PollGuard<'a, S: FieldSlot> {
    state: &'a mut State,
    callsite: &'static Callsite,
    fields: &'a mut S,
    open: &'a mut Option<OpenHandle>,
}

impl<S: FieldSlot> Drop for PollGuard<'_, S> {
    fn drop(&mut self) {
        *self.open = None;
        if let State::Running(start, id) = *self.state {
            *self.state = State::Done;
            record_panic(self.callsite, start, id, now(), self.fields.take());
        }
    }
}

impl<R, F: Future<Output = R>, S: FieldSlot> Future for MonitoredFuture<R, F, S> {
    type Output = (R, Completion<S>);

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let State::NotStarted = *this.state {
            *this.state = if queue::enabled() {
                if let Some(self_type) = this.self_type {
                    this.callsite.note_self_type(*self_type);
                }
                // Numbered on the thread of the first poll, wherever it ends.
                State::Running(now(), LocalId::next())
            } else {
                State::Done
            };
        }
        let callsite = *this.callsite;
        let guard = PollGuard {
            state: &mut *this.state,
            callsite,
            fields: &mut *this.fields,
            open: &mut *this.open,
        };
        let poll = this.inner.poll(cx);
        std::mem::forget(guard);
        match poll {
            Poll::Pending => {
                if let (State::Running(start, id), None) = (*this.state, &*this.open) {
                    // Listed from its first `Pending`: a future that
                    // completes on its first poll pays nothing for it.
                    *this.open = OpenHandle::new(callsite, start, id);
                }
                Poll::Pending
            }
            Poll::Ready(output) => {
                *this.open = None;
                let completion = match *this.state {
                    State::Running(start, id) => Completion {
                        callsite,
                        start,
                        id,
                        end: now(),
                        active: true,
                        fields: this.fields.moved(),
                    },
                    _ => Completion {
                        callsite,
                        start: 0,
                        id: LocalId::default(),
                        end: 0,
                        active: false,
                        fields: this.fields.moved(),
                    },
                };
                *this.state = State::Done;
                Poll::Ready((output, completion))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_stays_three_words_with_its_execution_number() {
        assert!(
            std::mem::size_of::<ExecutionGuard>() <= 24,
            "{}",
            std::mem::size_of::<ExecutionGuard>()
        );
    }
}
