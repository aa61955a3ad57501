//! The failure carried by an ERROR event: its `error` field when present
//! (what `#[instrument(err)]` emits), else its `message` (failure path
//! only). A span's own field values are in `values.rs`.

use std::error::Error;
use std::fmt::{self, Write};

use tracing_core::field::{Field, Visit};

use crate::capture::{capture_text, current_limits, Failure};

/// `error_type` of failures that come from an ERROR event.
pub(super) const ERROR_TYPE: &str = "tracing::error";

#[derive(Default)]
struct ErrorFields {
    limit: usize,
    max_chain: usize,
    error: Option<(String, bool)>,
    chain: Vec<String>,
    message: Option<(String, bool)>,
}

impl ErrorFields {
    fn slot(&mut self, field: &Field) -> Option<&mut Option<(String, bool)>> {
        match field.name() {
            "error" => Some(&mut self.error),
            "message" => Some(&mut self.message),
            _ => None,
        }
    }
}

impl Visit for ErrorFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let limit = self.limit;
        if let Some(slot) = self.slot(field) {
            // `%value` fields arrive here as a `Debug` that writes `Display`.
            *slot = Some(capture_text(value, limit, |value, out| {
                write!(out, "{value:?}")
            }));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let limit = self.limit;
        if let Some(slot) = self.slot(field) {
            *slot = Some(capture_text(value, limit, |value, out| {
                out.write_str(value)
            }));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let limit = self.limit;
        let Some(slot) = self.slot(field) else { return };
        *slot = Some(capture_text(value, limit, |value, out| {
            write!(out, "{value}")
        }));
        if field.name() == "error" {
            self.chain.clear();
            let mut source = value.source();
            while let Some(cause) = source {
                if self.chain.len() == self.max_chain {
                    break;
                }
                let (text, _) = capture_text(cause, limit / 4, |cause, out| write!(out, "{cause}"));
                self.chain.push(text);
                source = cause.source();
            }
        }
    }
}

/// The failure described by `event`, its message capped at the configured
/// [`CaptureLimits`](crate::CaptureLimits).
pub(super) fn failure_of(event: &tracing_core::Event<'_>) -> Failure {
    let limits = current_limits();
    let mut fields = ErrorFields {
        limit: limits.max_message_bytes,
        max_chain: limits.max_chain_len,
        ..ErrorFields::default()
    };
    event.record(&mut fields);
    let chain = if fields.error.is_some() {
        fields.chain
    } else {
        Vec::new()
    };
    let (message, message_truncated) = fields
        .error
        .or(fields.message)
        .unwrap_or_else(|| (event.metadata().name().to_owned(), false));
    Failure::captured(ERROR_TYPE, (message, message_truncated), chain)
}
