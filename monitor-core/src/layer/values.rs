//! A span's own field values (all but `message`), from its creation (and
//! `span.record`) to its close.
//!
//! Most span fields are numbers or booleans (`info_span!("request", id = n)`):
//! up to [`HELD`] of those are held as they are, in the span's state, and
//! become [`Field`]s only if the span fails, so a span that ends well
//! formats nothing, allocates nothing and has no list to give back. A text
//! value (`%`, `?`, a string: formatted at once, since it borrows from the
//! caller), a float that is not finite, an integer beyond 64 bits or a value
//! past the first [`HELD`] turns the held values into a list (taken from
//! this thread's spare lists, see [`recycle_list`]) and the span goes on with
//! that list, so names keep the order in which they first came and a value
//! given again replaces the earlier one in place, as [`set_field`] does. The
//! fields written are the same either way.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;

use tracing_core::field::{Field as TracingField, ValueSet, Visit};

use crate::fields::{capped_name, set_field, Field, FieldValue};

/// Values held as they are before the span's values become a list.
const HELD: usize = 2;

/// Emptied field lists kept per thread for the next spans (at most this
/// many): a span with text fields that ends well allocates no list.
const SPARE_LISTS: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<Vec<Field>>> = const { RefCell::new(Vec::new()) };
}

/// A value that needs no formatting.
#[derive(Clone, Copy)]
pub(super) enum Held {
    I64(i64),
    U64(u64),
    /// Finite (others are written as text).
    F64(f64),
    Bool(bool),
}

impl Held {
    fn value(self) -> FieldValue {
        match self {
            Held::I64(value) => FieldValue::I64(value),
            Held::U64(value) => FieldValue::U64(value),
            Held::F64(value) => FieldValue::F64(value),
            Held::Bool(value) => FieldValue::Bool(value),
        }
    }
}

/// The field values of one open span.
pub(super) enum SpanValues {
    /// The first `len` entries: names (already cut at
    /// [`MAX_NAME_BYTES`](crate::MAX_NAME_BYTES)) with their values, in the
    /// order they came.
    Held {
        len: u8,
        values: [(&'static str, Held); HELD],
    },
    /// Every value as it will be written.
    Listed(Vec<Field>),
}

impl Default for SpanValues {
    fn default() -> SpanValues {
        SpanValues::Held {
            len: 0,
            values: [("", Held::Bool(false)); HELD],
        }
    }
}

impl SpanValues {
    /// The values of a new span.
    pub(super) fn of(values: &ValueSet<'_>) -> SpanValues {
        let mut span = SpanValues::default();
        values.record(&mut Recorder(&mut span));
        span
    }

    /// The values of a `span.record`, to [`merge`](Self::merge) into the
    /// span's once its state is locked (formatting runs host code: not under
    /// the lock).
    pub(super) fn of_record(values: &tracing_core::span::Record<'_>) -> SpanValues {
        let mut span = SpanValues::default();
        values.record(&mut Recorder(&mut span));
        span
    }

    /// Sets `name`, keeping its place if it has one.
    fn set(&mut self, name: &'static str, value: FieldValue) {
        let held = match value {
            FieldValue::I64(value) => Held::I64(value),
            FieldValue::U64(value) => Held::U64(value),
            FieldValue::F64(value) => Held::F64(value),
            FieldValue::Bool(value) => Held::Bool(value),
            FieldValue::Str(_) => return set_field(self.list(), Field::new(name, value)),
        };
        self.hold(name, held);
    }

    fn hold(&mut self, name: &'static str, held: Held) {
        match self {
            SpanValues::Held { len, values } => {
                let name = capped_name(name);
                let count = usize::from(*len);
                if let Some(slot) = values[..count].iter_mut().find(|slot| slot.0 == name) {
                    slot.1 = held;
                } else if count < HELD {
                    values[count] = (name, held);
                    *len += 1;
                } else {
                    set_field(self.list(), Field::new(name, held.value()));
                }
            }
            SpanValues::Listed(list) => set_field(list, Field::new(name, held.value())),
        }
    }

    /// The values as a list, which they stay from now on.
    fn list(&mut self) -> &mut Vec<Field> {
        if let SpanValues::Held { len, values } = *self {
            let mut list = spare_list();
            list.extend(
                values[..usize::from(len)]
                    .iter()
                    .map(|&(name, held)| Field::new(name, held.value())),
            );
            *self = SpanValues::Listed(list);
        }
        match self {
            SpanValues::Listed(list) => list,
            SpanValues::Held { .. } => unreachable!("turned into a list above"),
        }
    }

    /// Sets every value of `other` (a `span.record`), in its order.
    pub(super) fn merge(&mut self, other: SpanValues) {
        match other {
            SpanValues::Held { len, values } => {
                for &(name, held) in &values[..usize::from(len)] {
                    self.hold(name, held);
                }
            }
            SpanValues::Listed(mut fields) => {
                let list = self.list();
                for field in fields.drain(..) {
                    set_field(list, field);
                }
                recycle_list(fields);
            }
        }
    }

    /// The fields to write, for a span that failed.
    pub(super) fn into_fields(self) -> Vec<Field> {
        match self {
            SpanValues::Held { len, values } => values[..usize::from(len)]
                .iter()
                .map(|&(name, held)| Field::new(name, held.value()))
                .collect(),
            SpanValues::Listed(list) => list,
        }
    }

    /// The fields to write if the span failed (`failed`), else none; a list
    /// not written goes back to this thread's spare lists. Leaves no values
    /// behind.
    pub(super) fn take_fields(&mut self, failed: bool) -> Vec<Field> {
        match self {
            SpanValues::Held { len, .. } if !failed => {
                *len = 0;
                Vec::new()
            }
            SpanValues::Held { .. } => std::mem::take(self).into_fields(),
            SpanValues::Listed(list) => {
                let list = std::mem::take(list);
                if failed {
                    return list;
                }
                recycle_list(list);
                Vec::new()
            }
        }
    }
}

/// Records a span's values (all but `message`) into [`SpanValues`], capped
/// like the attribute's.
struct Recorder<'a>(&'a mut SpanValues);

impl Recorder<'_> {
    fn set(&mut self, field: &TracingField, value: FieldValue) {
        if field.name() != "message" {
            self.0.set(field.name(), value);
        }
    }

    fn hold(&mut self, field: &TracingField, held: Held) {
        if field.name() != "message" {
            self.0.hold(field.name(), held);
        }
    }
}

impl Visit for Recorder<'_> {
    fn record_f64(&mut self, field: &TracingField, value: f64) {
        self.set(field, FieldValue::float(value));
    }
    fn record_i64(&mut self, field: &TracingField, value: i64) {
        self.hold(field, Held::I64(value));
    }
    fn record_u64(&mut self, field: &TracingField, value: u64) {
        self.hold(field, Held::U64(value));
    }
    fn record_i128(&mut self, field: &TracingField, value: i128) {
        self.set(field, FieldValue::from(value));
    }
    fn record_u128(&mut self, field: &TracingField, value: u128) {
        self.set(field, FieldValue::from(value));
    }
    fn record_bool(&mut self, field: &TracingField, value: bool) {
        self.hold(field, Held::Bool(value));
    }
    fn record_str(&mut self, field: &TracingField, value: &str) {
        self.set(field, FieldValue::text(value));
    }
    fn record_error(&mut self, field: &TracingField, value: &(dyn Error + 'static)) {
        self.set(field, FieldValue::display(value));
    }
    fn record_debug(&mut self, field: &TracingField, value: &dyn fmt::Debug) {
        // `%value` fields arrive here as a `Debug` that writes `Display`.
        self.set(field, FieldValue::debug(value));
    }
}

/// An empty list, reused from an earlier span of this thread when there is
/// one.
fn spare_list() -> Vec<Field> {
    SPARE
        .try_with(|spare| {
            spare
                .try_borrow_mut()
                .ok()
                .and_then(|mut spare| spare.pop())
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `list` for this thread's next spans (its values are dropped; a list
/// that never allocated is not kept).
pub(super) fn recycle_list(mut list: Vec<Field>) {
    if list.capacity() == 0 {
        return;
    }
    list.clear();
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < SPARE_LISTS {
                spare.push(list);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(values: &SpanValues) -> usize {
        match values {
            SpanValues::Held { len, .. } => usize::from(*len),
            SpanValues::Listed(_) => usize::MAX,
        }
    }

    #[test]
    fn numbers_are_held_until_a_text_value_makes_a_list_in_the_same_order() {
        let mut values = SpanValues::default();
        values.set("a", FieldValue::U64(1));
        values.set("b", FieldValue::Bool(true));
        values.set("a", FieldValue::I64(-2));
        assert_eq!(held(&values), 2);
        values.set("c", FieldValue::text("x"));
        values.set("b", FieldValue::F64(0.5));
        assert_eq!(
            values.into_fields(),
            [
                Field::new("a", FieldValue::I64(-2)),
                Field::new("b", FieldValue::F64(0.5)),
                Field::new("c", FieldValue::text("x")),
            ]
        );
    }

    #[test]
    fn a_third_value_makes_a_list_and_caps_match_set_field() {
        let long_a: &'static str = Box::leak(format!("{}a", "n".repeat(70)).into_boxed_str());
        let long_b: &'static str = Box::leak(format!("{}b", "n".repeat(70)).into_boxed_str());
        let mut values = SpanValues::default();
        values.set(long_a, FieldValue::U64(1));
        // Same name once cut at MAX_NAME_BYTES: replaces, as set_field does.
        values.set(long_b, FieldValue::U64(2));
        values.set("x", FieldValue::U64(3));
        values.set("y", FieldValue::U64(4));
        assert_eq!(held(&values), usize::MAX);
        let mut expected = Vec::new();
        for (name, value) in [(long_a, 1_u64), (long_b, 2), ("x", 3), ("y", 4)] {
            set_field(&mut expected, Field::new(name, FieldValue::U64(value)));
        }
        assert_eq!(values.into_fields(), expected);
    }

    #[test]
    fn a_record_merges_in_place() {
        let mut values = SpanValues::default();
        values.set("a", FieldValue::U64(1));
        let mut record = SpanValues::default();
        record.set("b", FieldValue::text("late"));
        record.set("a", FieldValue::U64(7));
        values.merge(record);
        assert_eq!(
            values.into_fields(),
            [
                Field::new("a", FieldValue::U64(7)),
                Field::new("b", FieldValue::text("late")),
            ]
        );
    }
}
