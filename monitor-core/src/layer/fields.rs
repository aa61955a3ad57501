//! The failure carried by an ERROR event: its `error` field when present
//! (what `#[instrument(err)]` emits), else its `message` (failure path
//! only); and a span's own field values.

use std::cell::RefCell;
use std::error::Error;
use std::fmt::{self, Write};

use tracing_core::field::{Field, Visit};

use crate::capture::{capture_text, current_limits, Failure};
use crate::fields::{set_field, Field as ContextField, FieldValue};

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

/// A span's field values (all but `message`), capped like the attribute's.
pub(super) struct FieldValues<'a>(pub(super) &'a mut Vec<ContextField>);

impl FieldValues<'_> {
    fn set(&mut self, field: &Field, value: FieldValue) {
        if field.name() != "message" {
            set_field(self.0, ContextField::new(field.name(), value));
        }
    }
}

impl Visit for FieldValues<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, FieldValue::float(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, FieldValue::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.set(field, FieldValue::from(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.set(field, FieldValue::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, FieldValue::text(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.set(field, FieldValue::display(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields arrive here as a `Debug` that writes `Display`.
        self.set(field, FieldValue::debug(value));
    }
}

/// Emptied field lists kept per thread for the next spans (at most this
/// many): a span with fields that ends well costs no allocation for them.
const SPARE_LISTS: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<Vec<ContextField>>> = const { RefCell::new(Vec::new()) };
}

/// The values a span was created with, in a list reused from an earlier span
/// of this thread when there is one.
pub(super) fn span_fields(values: &tracing_core::field::ValueSet<'_>) -> Vec<ContextField> {
    let mut fields = SPARE
        .try_with(|spare| {
            spare
                .try_borrow_mut()
                .ok()
                .and_then(|mut spare| spare.pop())
        })
        .ok()
        .flatten()
        .unwrap_or_default();
    values.record(&mut FieldValues(&mut fields));
    fields
}

/// Gives a span's field list back for reuse by this thread's next spans
/// (its values are dropped; a list that never allocated is not kept).
pub(super) fn recycle(mut fields: Vec<ContextField>) {
    if fields.capacity() == 0 {
        return;
    }
    fields.clear();
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < SPARE_LISTS {
                spare.push(fields);
            }
        }
    });
}
