//! The OpenTelemetry span a `#[monitored]` call runs under (feature
//! `otlp-tracing`): the context `tracing-opentelemetry` keeps on the
//! current `tracing` span, read on the calling thread when the call ends
//! (its enclosing span is still entered then), so that the exported span
//! joins that trace as a child.
//!
//! Cost: only while a monitor with an OTLP exporter is installed, every
//! monitored call looks up the current span (a thread-local read and a
//! registry lookup); a call inside a span with OpenTelemetry context then
//! carries 24 bytes of ids in one small allocation. Without `otlp-tracing`
//! none of this is compiled.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::Parent;

/// True while an installed monitor exports over OTLP.
static LINKING: AtomicBool = AtomicBool::new(false);

/// Called at install and when the guard drops.
pub(crate) fn set_linking(on: bool) {
    LINKING.store(on, Ordering::Relaxed);
}

/// The current span's OpenTelemetry context, if an exporter is installed
/// and the span has a valid one.
#[inline]
pub(crate) fn current() -> Option<Parent> {
    if !LINKING.load(Ordering::Relaxed) {
        return None;
    }
    current_slow()
}

#[inline(never)]
fn current_slow() -> Option<Parent> {
    let span = tracing::Span::current();
    if span.is_none() {
        return None;
    }
    let context = span.context();
    let otel = context.span();
    let span_context = otel.span_context();
    span_context.is_valid().then(|| Parent {
        trace_id: span_context.trace_id().to_bytes(),
        span_id: span_context.span_id().to_bytes(),
    })
}
