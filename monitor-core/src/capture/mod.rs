//! The failure path: turning an `Err` value or a panic into a capped,
//! owned [`Failure`]. Nothing here runs on the success path.

mod capped_text;
mod classify;
mod deferred;
mod details;
mod limits;
mod panic_hook;
mod stack_trace;
mod staged;
mod trace_gate;

pub(crate) use capped_text::{capture_text, prefix_within};
pub use classify::{
    Classify, ClassifyAny, ClassifyBoxError, ClassifyCloneError, ClassifyDebug, ClassifyDisplay,
    ClassifyDynError, ClassifyError, ClassifyResult, Outcome,
};
pub use deferred::Carried;
#[cfg(test)]
pub(crate) use details::DetailsWriter;
pub(crate) use limits::current_limits;
pub(crate) use limits::set_limits;
pub use limits::CaptureLimits;
pub(crate) use panic_hook::{install_panic_hook, take_panic_failure, FLUSH_ON_PANIC};
#[cfg(test)]
pub(crate) use staged::stage;
pub use staged::Staged;
pub(crate) use staged::{
    decode as decode_staged, decode_carried, record_id as staged_record_id,
    record_len as staged_record_len, with_record as with_staged_record, Byte as StagedByte,
};
pub(crate) use trace_gate::{
    gated_stack_trace, next_interval as next_trace_interval, shape_of, TRACE_INTERVAL,
};

use std::borrow::Cow;

use serde::Serialize;

/// Details of an error or a panic, as written to the errors log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The error's type name (`std::io::error::Error`), or `"panic"`.
    pub error_type: Cow<'static, str>,
    /// `Display` of the error (else `Debug`, else the type name), or the panic message.
    pub message: String,
    /// True when `message` was cut at the configured limit.
    pub message_truncated: bool,
    /// Each `source()` of the error, outermost first.
    pub chain: Vec<String>,
    /// A stack trace, when backtraces are enabled (`RUST_BACKTRACE`/`RUST_LIB_BACKTRACE`,
    /// or [`MonitorBuilder::capture_backtraces`](crate::MonitorBuilder::capture_backtraces)).
    pub stack_trace: Option<String>,
    /// `file:line:column` where a panic happened.
    pub location: Option<String>,
    /// A captured but not yet symbolised stack trace: symbolising takes
    /// milliseconds, so the collector does it (into `stack_trace`), not the
    /// host's thread.
    #[serde(skip)]
    pub(crate) unresolved_trace: Option<UnresolvedTrace>,
}

/// A stack trace captured on the failing thread, symbolised later.
#[derive(Clone)]
pub(crate) struct UnresolvedTrace(std::sync::Arc<std::backtrace::Backtrace>);

impl UnresolvedTrace {
    pub(crate) fn new(trace: std::backtrace::Backtrace) -> Self {
        UnresolvedTrace(std::sync::Arc::new(trace))
    }
}

impl std::fmt::Debug for UnresolvedTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnresolvedTrace")
    }
}

impl PartialEq for UnresolvedTrace {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for UnresolvedTrace {}

impl Failure {
    /// An error's details, without a stack trace (the caller adds one when
    /// the trace gate lets it, see `trace_gate.rs`). `message` is the capped
    /// text and whether it was cut.
    pub(crate) fn captured(
        error_type: &'static str,
        message: (String, bool),
        chain: Vec<String>,
    ) -> Failure {
        Failure {
            error_type: Cow::Borrowed(error_type),
            message: message.0,
            message_truncated: message.1,
            chain,
            stack_trace: None,
            location: None,
            unresolved_trace: None,
        }
    }

    /// Symbolises a captured stack trace into `stack_trace`, starting at the
    /// host's first frame (the monitor's and the standard library's frames
    /// above it are trimmed), capped. Runs on the collector thread.
    pub(crate) fn resolve_trace(&mut self) {
        if let Some(trace) = self.unresolved_trace.take() {
            let limit = limits::current_limits().max_stack_trace_bytes;
            let trace = stack_trace::trim_own_frames(&trace.0.to_string());
            self.stack_trace = Some(capped_text::cap_string(trace, limit).0);
        }
    }
}
