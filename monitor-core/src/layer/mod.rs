//! `tracing` spans as executions: the [`MonitorLayer`] returned by [`layer()`].
//!
//! Per span, the layer keeps one small [`SpanState`] in its own table keyed
//! by span id (`states.rs`: no allocation for it, unlike the registry's
//! extensions, which box each value). The state of a span recorded as an
//! execution is also its entry among the running executions: the
//! collector's sampler reads the table ([`sample_running`]), so a span
//! allocates nothing at steady state. Closing a span pushes one
//! [`Event`] into the same per-thread ring `#[monitored]` uses. Spans below a
//! root share the root's bounded [`TraceBuilder`], which becomes the root's
//! `execution_trace`.

mod callsites;
mod entered;
mod fields;
mod states;
mod tree;
mod values;

use std::sync::Arc;

use parking_lot::Mutex;
use tracing_core::span::{Attributes, Id};
use tracing_core::{Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::callsite::Callsite;
use crate::capture::{gated_stack_trace, shape_of, take_panic_failure, Failure};
use crate::event::{Event, EventExtra, Extra, Status};
use crate::fields::Field;
use crate::local_id::LocalId;
use crate::queue;
use crate::running::stack::SpanThread;
use crate::span_trace::SpanExtra;
use crate::ticks::{nanos_between, now};

use tree::{Parent, TraceBuilder};
use values::SpanValues;

/// A [`tracing_subscriber::Layer`] that records every closed `tracing` span as
/// an execution, beside the `#[monitored]` functions: the same queue,
/// statistics, logs, alert rules and sinks.
///
/// Build one with [`layer()`] and add it to a subscriber built on
/// [`tracing_subscriber::Registry`] (it looks spans and their parents up
/// there, and keeps its own state in a table of its own):
///
/// ```text
/// tracing_subscriber::registry().with(monitor::layer()).with(tracing_subscriber::fmt::layer()).init();
/// ```
///
/// What it records:
///
/// - **One execution per span**, when the span closes. Its name is
///   `target::name` (for `#[instrument] fn f` in module `app::jobs`:
///   `app::jobs::f`), its `trigger_type` is `"span"`, its duration runs from
///   the span's creation to its close, and `busy_ms` is the time it was
///   entered (summed over its enters: the polls of an instrumented future;
///   a re-entry of a span already entered on the thread counts once).
///   Callsites are made once per span site (interned by metadata
///   address), so recording a span formats and hashes no strings.
/// - **Errors**: an ERROR-level event inside a span (including the one
///   `#[instrument(err)]` emits for an `Err`) makes the span's execution an
///   error, with `error_type` `"tracing::error"` and as message the event's
///   `error` field if it has one, else its `message` (capped at the installed
///   monitor's [`CaptureLimits`](crate::CaptureLimits)). With several, the
///   last one wins. The event must reach this layer: a per-layer filter that
///   rejects it hides it. The event belongs to one span only (its explicit
///   `parent:`, else the innermost entered span): a child span's ERROR event
///   leaves its parent `success`, and shows in the root's trace.
/// - **Fields**: a span's own fields (`info_span!("job", user_id = 42)`,
///   and values given later with `span.record`), all but `message`, are
///   written as the execution's `"fields"` (see
///   [`ExecutionRecord::fields`](crate::ExecutionRecord::fields)) only when
///   the span ends as an error or a panic, capped as the attribute's are
///   ([`MAX_FIELDS`](crate::MAX_FIELDS), names cut at
///   [`MAX_NAME_BYTES`](crate::MAX_NAME_BYTES), text at
///   [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES)). Their values are taken
///   when the span is created or recorded; a span site without fields
///   besides `message` costs nothing more.
/// - **Panics**: a panic unwinding through an entered span (exited while the
///   thread panics, which it was not doing when it entered) makes the span's
///   execution a panic with the panic's message. A panic caught inside the
///   span is not the span's panic.
/// - **Trees**: the execution of a root span (one with no recorded parent)
///   that had child spans carries `execution_trace`, an
///   [`ExecutionTrace`](crate::ExecutionTrace) of its descendants (name,
///   status, duration, start offset from the root, error), bounded by
///   [`ExecutionTrace::MAX_NODES`](crate::ExecutionTrace::MAX_NODES) nodes and
///   [`ExecutionTrace::MAX_DEPTH`](crate::ExecutionTrace::MAX_DEPTH) levels;
///   what does not fit is counted in `omitted`, and `truncated` is set. Child
///   spans are also recorded as executions of their own unless
///   [`roots_only`](Self::roots_only) is set.
/// - **`#[monitored]` functions**: the span of a `#[monitored]` function (a
///   `#[tracing::instrument]` beside the attribute, in either order: a span
///   with the function's name, module and file) is not an execution of its
///   own, since the function already records each call under its name and
///   `trigger`. It is a node, named after the function, in its parent's
///   trace; without a recorded parent it is left out, and its child spans
///   start traces of their own. Recognised once per span site, from the
///   program's registry of `#[monitored]` functions.
/// - **Async**: a future carrying a span (`.instrument(span)`,
///   `#[instrument] async fn`) is one execution from the span's creation to
///   its close however many polls and threads it takes; `busy_ms` counts the
///   polls.
///
/// What it does not record: anything while no monitor is installed (spans
/// created then are ignored even if a monitor is installed before they close;
/// the cost is one relaxed atomic load per span callback, and a look at an
/// empty thread-local stack on exit); spans created on
/// the monitor's own threads (the collector and the notifier threads, known
/// by a flag they set when they start, not by their names), so the monitor
/// never records its own work; spans a per-layer filter
/// (`monitor::layer().with_filter(…)`) rejects: a filtered-out span's
/// children hang from its nearest recorded ancestor. (Filter the layer with
/// its own `with_filter`, as here, not `Filtered::new` or a boxed layer's:
/// then it knows it is filtered and asks the registry for a new span's
/// parent; otherwise it takes the innermost span it entered on the thread,
/// which differs when a filtered-out span made below one recorded span is
/// entered where another, or none, is.)
///
/// Add one `MonitorLayer` per subscriber: two in the same subscriber would
/// share each span's state and count busy time twice.
///
/// Memory: a span's state lives in a table of the layer's, from the span's
/// creation to its close (a fixed table of about 200 KiB, made at the first
/// span, and for a span whose slot is taken, such as past 1,024 spans open
/// at once, a map whose memory is that of the most open at once, reused
/// afterwards: a span costs no allocation at steady state, and its state is
/// also what [`running`](crate::running) lists);
/// a root's tree never holds more than `MAX_NODES` nodes however many spans
/// open and close below it, so spans that stay open (or never close) cannot
/// make memory grow without bound. Each span site leaks one small callsite,
/// bounded by the program's span sites.
///
/// # Example
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("monitor-layer-doc-{}", std::process::id()));
/// let guard = monitor_core::Monitor::builder().log_dir(&dir).install()?;
/// let subscriber = tracing_subscriber::registry().with(monitor_core::layer().roots_only(false));
/// tracing::subscriber::with_default(subscriber, || {
///     let _request = tracing::info_span!(target: "app", "request").entered();
///     let _query = tracing::info_span!(target: "app::db", "query").entered();
/// });
/// guard.flush();
/// let stats = monitor_core::stats();
/// assert_eq!(stats.get("app::request").unwrap().total_executions, 1);
/// assert_eq!(stats.get("app::db::query").unwrap().trigger_type, "span");
/// # drop(guard);
/// # let _ = std::fs::remove_dir_all(&dir);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MonitorLayer {
    roots_only: bool,
    /// Made into a per-layer filtered layer by its own `with_filter`: the
    /// registry's current span may then be one this layer never sees
    /// entered, so a new span's parent is asked of the registry.
    filtered: bool,
}

/// A [`MonitorLayer`] with the default settings: every span recorded, root
/// spans with their trees.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::Layer as _;
///
/// // Beside a `fmt` layer, and with a per-layer filter: only spans of the
/// // `jobs` target become executions.
/// let subscriber = tracing_subscriber::registry().with(
///     monitor_core::layer().with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
///         metadata.target().starts_with("jobs")
///     })),
/// );
/// tracing::subscriber::with_default(subscriber, || {
///     // No monitor installed: recorded nowhere, at the cost of one atomic load.
///     tracing::info_span!(target: "jobs", "nightly").in_scope(|| {});
/// });
/// ```
#[must_use]
pub fn layer() -> MonitorLayer {
    MonitorLayer::default()
}

impl MonitorLayer {
    /// With `true`, only root spans are recorded as executions; their
    /// descendants still appear in the root's `execution_trace` (and count as
    /// nothing in the statistics). Default: `false`, every span is recorded.
    ///
    /// ```
    /// let layer = monitor_core::layer().roots_only(true);
    /// assert!(layer.is_roots_only());
    /// ```
    #[must_use]
    pub fn roots_only(mut self, roots_only: bool) -> Self {
        self.roots_only = roots_only;
        self
    }

    /// Whether only root spans are recorded (see [`roots_only`](Self::roots_only)).
    pub fn is_roots_only(&self) -> bool {
        self.roots_only
    }

    /// Tells this layer's entries in the per-thread enter stack from those of
    /// another subscriber's layer (span ids are per subscriber). A layer in use
    /// lives inside its subscriber's `Dispatch`, so its address is stable.
    #[inline]
    fn key(&self) -> usize {
        self as *const Self as usize
    }
}

/// What the layer keeps about one open span, in its table (`states.rs`).
struct SpanState {
    callsite: &'static Callsite,
    /// False for the span of a `#[monitored]` function: a node in its
    /// parent's trace, not an execution of its own.
    own_execution: bool,
    /// Raw ticks at creation.
    start: u64,
    /// Taken at creation, on the creating thread: the execution id's
    /// thread number and sequence, wherever the span closes.
    id: LocalId,
    /// Raw ticks spent entered so far (added at each exit).
    busy: u64,
    status: Status,
    failure: Option<Box<Failure>>,
    /// The span's own field values (none for a site without fields);
    /// written only if the span ends as a failure.
    fields: SpanValues,
    /// Whether the site declares fields (see `callsites::Site::has_fields`).
    has_fields: bool,
    tree: Tree,
    /// The thread that started it, for a span listed among the running
    /// executions (a span recorded as an execution, from creation until
    /// close: the collector's sampler reads the table, `sample_running`);
    /// `None` for the others.
    listed: Option<SpanThread>,
}

/// The span's place in a trace.
enum Tree {
    /// A root span without children so far.
    Root,
    /// A root span whose children write into this builder.
    RootWithChildren(Arc<Mutex<TraceBuilder>>),
    /// A span below a root: its node in the root's builder (`None`: left out)
    /// and its depth (1 for the root's children).
    Child {
        builder: Arc<Mutex<TraceBuilder>>,
        node: Option<u32>,
        depth: usize,
    },
}

impl<S> tracing_subscriber::Layer<S> for MonitorLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// As [`Layer::with_filter`](tracing_subscriber::Layer::with_filter),
    /// and the layer then finds a new span's parent through the registry
    /// (a span the filter rejects never reaches the layer's own stack of
    /// entered spans).
    fn with_filter<F>(mut self, filter: F) -> tracing_subscriber::filter::Filtered<Self, F, S>
    where
        Self: Sized,
        F: tracing_subscriber::layer::Filter<S>,
    {
        self.filtered = true;
        tracing_subscriber::filter::Filtered::new(self, filter)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !queue::enabled() {
            return;
        }
        let Some(site) = callsites::for_span(attrs.metadata()) else {
            return;
        };
        let callsite = site.callsite;
        let start = now();
        let tree = match recorded_parent(self.key(), self.filtered, attrs, id, &ctx) {
            Some(parent) => join(self.key(), parent, callsite, start),
            None => Tree::Root,
        };
        if !site.own_execution && matches!(tree, Tree::Root) {
            // The span of a `#[monitored]` function with no recorded parent:
            // no trace to appear in, and the call is recorded by the function.
            // Its child spans start traces of their own.
            return;
        }
        // Formatting runs host code (`Display` impls): not under the span's lock.
        let fields = if site.has_fields {
            SpanValues::of(attrs.values())
        } else {
            SpanValues::default()
        };
        let local = LocalId::next();
        // Listed as running only if it will be recorded as an execution.
        let recorded =
            site.own_execution && !(self.roots_only && matches!(tree, Tree::Child { .. }));
        let listed = if recorded {
            SpanThread::current()
        } else {
            None
        };
        states::insert(self.key(), id.into_u64(), || SpanState {
            callsite,
            own_execution: site.own_execution,
            start,
            id: local,
            listed,
            busy: 0,
            status: Status::Success,
            failure: None,
            fields,
            has_fields: site.has_fields,
            tree,
        });
    }

    fn on_record(&self, id: &Id, values: &tracing_core::span::Record<'_>, _ctx: Context<'_, S>) {
        if values.is_empty() || !queue::enabled() {
            return;
        }
        let (layer, id) = (self.key(), id.into_u64());
        if states::with(layer, id, |state| state.has_fields) != Some(true) {
            return;
        }
        // Formatting runs host code (`Display` impls): not under the table's lock.
        let recorded = SpanValues::of_record(values);
        states::with(layer, id, |state| state.fields.merge(recorded));
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        if queue::enabled() {
            entered::push(self.key(), id.into_u64(), now());
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        // Popped even when the monitor went away meanwhile, so no stale entry
        // stays behind for a later span with the same id.
        let Some(entry) = entered::pop(self.key(), id.into_u64()) else {
            return;
        };
        if !queue::enabled() {
            return;
        }
        let unwinding = std::thread::panicking() && !entry.panicking;
        if entry.nested && !unwinding {
            return;
        }
        let exited = now();
        if !entry.nested {
            states::add_busy(self.key(), id.into_u64(), exited.saturating_sub(entry.at));
        }
        if unwinding {
            states::with(self.key(), id.into_u64(), |state| {
                if state.status != Status::Panic {
                    mark_panic(state);
                }
            });
        }
    }

    fn on_event(&self, event: &tracing_core::Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR || !queue::enabled() {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let (layer, id) = (self.key(), span.id().into_u64());
        drop(span);
        let Some(callsite) = states::with(layer, id, |state| state.callsite) else {
            return;
        };
        // Formatting runs host code (`Display` impls): not under the span's lock.
        let mut failure = fields::failure_of(event);
        failure.unresolved_trace = gated_stack_trace(callsite, || {
            shape_of(&failure.error_type, failure.message.as_bytes())
        });
        states::with(layer, id, |state| {
            if state.status != Status::Panic {
                state.status = Status::Error;
                state.failure = Some(Box::new(failure));
            }
        });
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        // Taken out even when the monitor went away meanwhile, so no state
        // stays behind for a later span with the same id.
        let enabled = queue::enabled();
        let Some((closing, notable)) = states::remove_with(self.key(), id.into_u64(), |state| {
            Closing::take(state, enabled)
        }) else {
            return;
        };
        if !enabled {
            return;
        }
        // Out of the table, so off the running list, before the execution is
        // recorded as ended.
        let end = now();
        match notable {
            // The usual span: a root with nothing boxed, its busy time inline.
            None => queue::push(Event::new(
                closing.callsite,
                (closing.start, end),
                closing.status,
                closing.id,
                Extra::span_busy(closing.busy),
            )),
            Some(notable) => self.close_notable(closing, end, notable),
        }
    }
}

impl MonitorLayer {
    /// The close of a span with a failure, fields to write or a place in a
    /// trace (out of line: the usual close stays small).
    #[inline(never)]
    fn close_notable(&self, closing: Closing, end: u64, notable: Notable) {
        let Notable {
            failure,
            fields,
            tree,
        } = notable;
        let trace = match tree {
            Tree::Root => None,
            Tree::RootWithChildren(builder) => Some(builder.lock().finish(closing.start, end)),
            Tree::Child { builder, node, .. } => {
                if let Some(node) = node {
                    let error = failure.as_ref().map(|failure| failure.message.clone());
                    builder.lock().close(node, end, closing.status, error);
                }
                if self.roots_only || !closing.own_execution {
                    values::recycle_list(fields);
                    return;
                }
                None
            }
        };
        // Its busy time inline, with no allocation, when nothing is boxed.
        let extra = if failure.is_none() && trace.is_none() && fields.is_empty() {
            Extra::span_busy(closing.busy)
        } else {
            Extra::boxed(EventExtra {
                failure,
                span: Some(SpanExtra {
                    busy_ns: nanos_between(0, closing.busy),
                    trace,
                }),
                fields,
                // A span is exported by tracing-opentelemetry itself, if at all.
                #[cfg(feature = "otlp-tracing")]
                parent: None,
            })
        };
        queue::push(Event::new(
            closing.callsite,
            (closing.start, end),
            closing.status,
            closing.id,
            extra,
        ));
    }
}

/// What every closing span's execution is made of, copied from its state
/// where it lies in the table (the state itself is not moved).
#[derive(Clone, Copy)]
struct Closing {
    callsite: &'static Callsite,
    own_execution: bool,
    start: u64,
    id: LocalId,
    busy: u64,
    status: Status,
}

/// What only some closing spans have: a failure, fields to write (only if
/// the span failed, as `#[monitored]` keeps them) or a place in a trace.
struct Notable {
    failure: Option<Box<Failure>>,
    fields: Vec<Field>,
    tree: Tree,
}

impl Closing {
    /// Takes what the execution needs out of `state`, with its [`Notable`]
    /// parts if it has any; with `recording` false (no monitor any more),
    /// only gives its field list back.
    #[inline]
    fn take(state: &mut SpanState, recording: bool) -> (Closing, Option<Notable>) {
        let closing = Closing {
            callsite: state.callsite,
            own_execution: state.own_execution,
            start: state.start,
            id: state.id,
            busy: state.busy,
            status: state.status,
        };
        let fields = state
            .fields
            .take_fields(recording && state.status.is_failure());
        if state.failure.is_none() && fields.is_empty() && matches!(state.tree, Tree::Root) {
            return (closing, None);
        }
        let notable = Notable {
            failure: state.failure.take(),
            fields,
            tree: std::mem::replace(&mut state.tree, Tree::Root),
        };
        (closing, Some(notable))
    }
}

/// Calls `each` with every span recorded as an execution that is open now
/// (the layer's table, all layers): callsite, start tick, id and the thread
/// that started it. Holds each slot's (or overflow shard's) lock in turn
/// while reading it.
pub(crate) fn sample_running(mut each: impl FnMut(&'static Callsite, u64, LocalId, &SpanThread)) {
    states::for_each(|state| {
        if let Some(thread) = &state.listed {
            each(state.callsite, state.start, state.id, thread);
        }
    });
}

/// The id of span `id`'s parent as this layer sees it (its nearest ancestor
/// a per-layer filter lets through), as `ctx.span(id)?.parent()` gives it,
/// but without looking the new span itself up in the registry. A contextual
/// span's parent (the most common kind, root or not) is the innermost span
/// this layer entered on the thread (`entered.rs`), which is the registry's
/// current span as the layer sees it: no lookup at all. Not for a `filtered`
/// layer: there the registry's current span may be one the filter rejected,
/// whose nearest recorded ancestor need not be entered on this thread (a
/// task span made inside a request and polled on another thread), so it is
/// looked up, as an explicit parent is.
fn recorded_parent<S>(
    layer: usize,
    filtered: bool,
    attrs: &Attributes<'_>,
    id: &Id,
    ctx: &Context<'_, S>,
) -> Option<u64>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if attrs.is_root() {
        return None;
    }
    let current;
    let direct = if attrs.is_contextual() {
        if !filtered {
            return entered::innermost(layer);
        }
        current = ctx.current_span();
        current.id()?
    } else {
        attrs.parent()?
    };
    if let Some(parent) = ctx.span(direct) {
        return Some(parent.id().into_u64());
    }
    // Filtered out for this layer: its nearest ancestor that is not.
    let parent = ctx.span(id)?.parent()?;
    Some(parent.id().into_u64())
}

/// A new span below `parent`: takes a node in the root's trace (making the
/// trace if `parent` is a root without children so far).
fn join(layer: usize, parent: u64, callsite: &'static Callsite, start: u64) -> Tree {
    // A parent the layer does not know (created before the monitor was
    // installed, or on a monitor thread): the new span is a root.
    let Some((builder, position, parent_depth)) =
        states::with(layer, parent, |state| match &state.tree {
            Tree::Root => {
                let builder = Arc::new(Mutex::new(TraceBuilder::default()));
                state.tree = Tree::RootWithChildren(Arc::clone(&builder));
                (builder, Parent::Root, 0)
            }
            Tree::RootWithChildren(builder) => (Arc::clone(builder), Parent::Root, 0),
            Tree::Child {
                builder,
                node,
                depth,
            } => {
                let position = node.map_or(Parent::Omitted, Parent::Node);
                (Arc::clone(builder), position, *depth)
            }
        })
    else {
        return Tree::Root;
    };
    let depth = parent_depth + 1;
    let node = builder.lock().add(position, depth, callsite, start);
    Tree::Child {
        builder,
        node,
        depth,
    }
}

#[cold]
fn mark_panic(state: &mut SpanState) {
    state.status = Status::Panic;
    // The span's panic is the latest one on this thread, whenever it began.
    state.failure = Some(Box::new(take_panic_failure(0)));
}
