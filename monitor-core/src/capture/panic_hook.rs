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

use super::classify::capture_stack_trace;
use super::limits::current_limits;
use super::text::cap_string;
use super::Failure;

thread_local! {
    static LAST_PANIC: RefCell<Option<Failure>> = const { RefCell::new(None) };
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
                crate::monitor::flush_from_panic_hook();
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

/// Called with the payload of a panic unwinding out of a monitored body: the
/// slot keeps the hook's record (with location and stack trace) only if it
/// is about this very panic; otherwise (a `resume_unwind`, a replaced hook)
/// the payload's message replaces the stale record.
pub(crate) fn note_unwinding_payload(payload: &(dyn std::any::Any + Send)) {
    let (message, message_truncated) =
        cap_string(payload_text(payload), current_limits().max_message_bytes);
    let _ = LAST_PANIC.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            if slot
                .as_ref()
                .is_some_and(|failure| failure.message == message)
            {
                return;
            }
            *slot = Some(Failure {
                error_type: "panic".to_owned(),
                message,
                message_truncated,
                ..Failure::default()
            });
        }
    });
}

fn record(info: &PanicHookInfo<'_>) {
    let raw = payload_text(info.payload());
    let (message, message_truncated) = cap_string(raw, current_limits().max_message_bytes);
    let failure = Failure {
        error_type: "panic".to_owned(),
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
            *slot = Some(failure);
        }
    });
}

/// The details of the panic unwinding this thread now (a copy: nested monitored
/// functions unwinding through the same panic each record it).
pub(crate) fn take_panic_failure() -> Failure {
    LAST_PANIC
        .try_with(|slot| slot.try_borrow().ok().and_then(|slot| slot.clone()))
        .ok()
        .flatten()
        .unwrap_or_else(|| Failure {
            error_type: "panic".to_owned(),
            message: "panic (message unavailable: another panic hook replaced monitor's)"
                .to_owned(),
            ..Failure::default()
        })
}
