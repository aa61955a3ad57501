//! Panic details for the failure record.
//!
//! Unwinding carries the payload past our guards but not the location, so a
//! process-wide panic hook (installed once, chaining whatever hook was there)
//! leaves the message and location of the latest panic in a thread-local slot
//! that the execution guard reads when it is dropped by the unwind.

use std::cell::RefCell;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use super::capped_text::cap_string;
use super::limits::current_limits;
use super::trace_gate::capture_stack_trace;
use super::Failure;

thread_local! {
    /// The latest panic on this thread and when (raw ticks) the hook saw it.
    static LAST_PANIC: RefCell<Option<(u64, Failure)>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Set while a monitor built with `flush_on_panic(true)` is installed.
pub(crate) static FLUSH_ON_PANIC: AtomicBool = AtomicBool::new(false);

/// Installs the recording hook in front of the current one (once per process).
pub(crate) fn install_panic_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            record(info);
            if FLUSH_ON_PANIC.load(Ordering::Relaxed) {
                // With `panic = "abort"` nothing runs after the hooks: write
                // what was recorded so far while we still can.
                crate::installed::flush_from_panic_hook();
            }
            previous(info);
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

fn record(info: &PanicHookInfo<'_>) {
    let raw = payload_text(info.payload());
    let (message, message_truncated) = cap_string(raw, current_limits().max_message_bytes);
    let failure = Failure {
        error_type: "panic".into(),
        message,
        message_truncated,
        chain: Vec::new(),
        stack_trace: None,
        unresolved_trace: capture_stack_trace(),
        location: info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
    };
    let _ = LAST_PANIC.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some((crate::ticks::now(), failure));
        }
    });
}

/// The details of the panic unwinding an execution that started at
/// `started` (raw ticks): the hook's latest record if it was made since then
/// (a copy: nested monitored functions unwinding through the same panic each
/// record it). An older record belongs to another panic, so it is not used:
/// the panic was re-raised with `resume_unwind` (no hook runs) or another
/// hook replaced ours.
pub(crate) fn take_panic_failure(started: u64) -> Failure {
    LAST_PANIC
        .try_with(|slot| {
            slot.try_borrow().ok().and_then(|slot| match &*slot {
                Some((seen, failure)) if *seen >= started => Some(failure.clone()),
                _ => None,
            })
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| Failure {
            error_type: "panic".into(),
            message: "panic (message unavailable: re-raised with resume_unwind, or another panic hook replaced monitor's)"
                .to_owned(),
            ..Failure::default()
        })
}
