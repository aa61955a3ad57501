//! Size caps for captured failure text, set by the installed monitor.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Caps on the text captured from one failure. Keeps every log line bounded.
///
/// ```
/// let limits = monitor_core::CaptureLimits::default();
/// assert_eq!(limits.max_message_bytes, 4096);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureLimits {
    /// Longest error or panic message kept, in bytes (default 4 KiB, at least 16).
    pub max_message_bytes: usize,
    /// Most `source()` entries kept (default 16), each capped at `max_message_bytes / 4`.
    pub max_chain_len: usize,
    /// Longest stack trace kept, in bytes (default 16 KiB, at least 16).
    pub max_stack_trace_bytes: usize,
    /// Capture stack traces: `None` follows `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE`,
    /// `Some(true)` always, `Some(false)` never.
    pub backtraces: Option<bool>,
}

impl Default for CaptureLimits {
    fn default() -> Self {
        CaptureLimits {
            max_message_bytes: 4096,
            max_chain_len: 16,
            max_stack_trace_bytes: 16 * 1024,
            backtraces: None,
        }
    }
}

static MAX_MESSAGE: AtomicUsize = AtomicUsize::new(4096);
static MAX_CHAIN: AtomicUsize = AtomicUsize::new(16);
static MAX_TRACE: AtomicUsize = AtomicUsize::new(16 * 1024);
/// 0: follow the environment, 1: always, 2: never.
static BACKTRACES: AtomicU8 = AtomicU8::new(0);

pub(crate) fn set_limits(limits: CaptureLimits) {
    MAX_MESSAGE.store(limits.max_message_bytes, Ordering::Relaxed);
    MAX_CHAIN.store(limits.max_chain_len, Ordering::Relaxed);
    MAX_TRACE.store(limits.max_stack_trace_bytes, Ordering::Relaxed);
    let mode = match limits.backtraces {
        None => 0,
        Some(true) => 1,
        Some(false) => 2,
    };
    BACKTRACES.store(mode, Ordering::Relaxed);
}

pub(crate) fn current_limits() -> CaptureLimits {
    CaptureLimits {
        max_message_bytes: MAX_MESSAGE.load(Ordering::Relaxed),
        max_chain_len: MAX_CHAIN.load(Ordering::Relaxed),
        max_stack_trace_bytes: MAX_TRACE.load(Ordering::Relaxed),
        backtraces: match BACKTRACES.load(Ordering::Relaxed) {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        },
    }
}
