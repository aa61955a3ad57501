//! Stack traces without a per-error toll: whether an `Err` gets a trace.
//!
//! Capturing a trace costs the failing thread about 10 µs (walking the
//! stack), so a burst of errors with `RUST_BACKTRACE=1` would cost its
//! callers 50× more exactly when the service is in trouble. An `Err` gets a
//! trace only when traces are enabled and its callsite has not had one in
//! the current *trace interval* ([`TRACE_INTERVAL`], advanced by the
//! collector with its clock, so tests move it with an injected clock);
//! besides, an error of a new *shape* at that callsite gets one too, up to
//! [`MAX_PER_INTERVAL`] traces per callsite and interval. The shape is what
//! the caller can tell cheaply of a new error pattern: a hash of the error
//! type and of the message with its ASCII digits left out (the collector's
//! patterns also fold hex ids, quoted strings and the like, which the caller
//! does not), compared with the latest traced error's at the callsite; it is
//! computed only while traces are enabled. Panics always get a trace when
//! traces are enabled (the panic hook takes it; they are rare, and std's own
//! hook prints one then too).

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use super::limits::current_limits;
use super::UnresolvedTrace;
use crate::callsite::Callsite;

/// How long a callsite waits for its next trace (after its first).
pub(crate) const TRACE_INTERVAL: Duration = Duration::from_secs(1);

/// Most traces one callsite gets in one interval (the first error, then
/// errors of a shape other than the latest traced one's).
pub(crate) const MAX_PER_INTERVAL: u64 = 4;

/// The current trace interval's number: advanced by the collector every
/// [`TRACE_INTERVAL`] of its clock. Starts at 1 so that a callsite's
/// initial gate (0) is always behind.
static CURRENT_INTERVAL: AtomicU64 = AtomicU64::new(1);

/// `RUST_LIB_BACKTRACE`/`RUST_BACKTRACE` as std reads them: 0 not read
/// yet, 1 off, 2 on.
static ENVIRONMENT: AtomicU8 = AtomicU8::new(0);

/// Starts the next trace interval (the collector, every [`TRACE_INTERVAL`]).
pub(crate) fn next_interval() {
    CURRENT_INTERVAL.fetch_add(1, Ordering::Relaxed);
}

/// Whether traces are enabled: the builder's `capture_backtraces`, else the
/// environment the way `std::backtrace::Backtrace::capture` reads it (once).
#[inline]
pub(crate) fn traces_enabled() -> bool {
    match current_limits().backtraces {
        Some(on) => on,
        None => match ENVIRONMENT.load(Ordering::Relaxed) {
            1 => false,
            2 => true,
            _ => read_environment(),
        },
    }
}

#[cold]
fn read_environment() -> bool {
    let enabled = match std::env::var_os("RUST_LIB_BACKTRACE") {
        Some(value) => value != "0",
        None => std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0"),
    };
    ENVIRONMENT.store(if enabled { 2 } else { 1 }, Ordering::Relaxed);
    enabled
}

/// The shape of an error of `type_name` with `message`: FNV-1a over the
/// type name and the message without its ASCII digits.
pub(crate) fn shape_of(type_name: &str, message: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in type_name.as_bytes().iter().chain(message) {
        if !byte.is_ascii_digit() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A trace of the current thread for an `Err` at `callsite`, if traces are
/// enabled and the gate lets it through (`shape` is computed only then).
#[inline]
pub(crate) fn gated_stack_trace(
    callsite: &Callsite,
    shape: impl FnOnce() -> u64,
) -> Option<UnresolvedTrace> {
    if !traces_enabled() {
        return None;
    }
    let interval = CURRENT_INTERVAL.load(Ordering::Relaxed);
    if !callsite.trace_due(interval, shape, MAX_PER_INTERVAL) {
        return None;
    }
    take_trace()
}

/// A trace of the current thread, if traces are enabled (for panics: not
/// rate-limited).
pub(crate) fn capture_stack_trace() -> Option<UnresolvedTrace> {
    if !traces_enabled() {
        return None;
    }
    take_trace()
}

#[cold]
#[inline(never)]
fn take_trace() -> Option<UnresolvedTrace> {
    Some(UnresolvedTrace::new(Backtrace::force_capture()))
}
