//! Context fields: named values recorded with an execution
//! (`#[monitored(fields(user_id = req.user, chat = %chat_id))]`, or a
//! `tracing` span's own fields), written as a `"fields"` object in both logs.
//!
//! Capped: at most [`MAX_FIELDS`] fields, a name at most [`MAX_NAME_BYTES`]
//! bytes, a string value at most [`MAX_VALUE_BYTES`] bytes (cut on a char
//! boundary; a cut value ends with `…`).

mod capture;

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::capture::prefix_within;

pub use capture::{
    BareValue, FieldBare, FieldDebug, FieldDisplay, FieldSlot, Held, HeldFields, HeldValue,
    HoldBare, HoldBareCopy, HoldBareRef, HoldDebug, HoldDebugCopy, HoldDebugRef, HoldDisplay,
    HoldDisplayCopy, HoldDisplayRef, NoFields,
};

/// Most fields kept per execution; later ones are left out.
pub const MAX_FIELDS: usize = 16;
/// Longest field name kept, in bytes (a longer span field name is cut on a
/// char boundary; the attribute rejects one at compile time).
pub const MAX_NAME_BYTES: usize = 64;
/// Longest string value kept, in bytes, the `…` that marks a cut value
/// included.
pub const MAX_VALUE_BYTES: usize = 256;

const CUT_MARK: &str = "…";

/// One field's value, as it is written in the logs.
///
/// ```
/// use monitor_core::FieldValue;
///
/// assert_eq!(FieldValue::from(42_u64).to_string(), "42");
/// assert_eq!(FieldValue::from("abc").to_string(), "abc");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// A signed integer (written as a JSON number).
    I64(i64),
    /// An unsigned integer (written as a JSON number).
    U64(u64),
    /// A finite float (written as a JSON number; NaN and the infinities are
    /// kept as text: JSON has no such numbers).
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// Text: a string value, or a `%` (Display) or `?` (Debug) value, capped
    /// at [`MAX_VALUE_BYTES`].
    Str(String),
}

impl FieldValue {
    /// A text value capped at [`MAX_VALUE_BYTES`].
    ///
    /// ```
    /// let long = "é".repeat(200);
    /// let monitor_core::FieldValue::Str(text) = monitor_core::FieldValue::text(&long) else { unreachable!() };
    /// assert!(text.len() <= monitor_core::MAX_VALUE_BYTES && text.ends_with('…'));
    /// ```
    pub fn text(text: &str) -> FieldValue {
        FieldValue::Str(capped(text))
    }

    /// A float; NaN and the infinities become text (`NaN`, `inf`, `-inf`).
    ///
    /// ```
    /// use monitor_core::FieldValue;
    /// assert_eq!(FieldValue::float(1.5), FieldValue::F64(1.5));
    /// assert_eq!(FieldValue::float(f64::NAN), FieldValue::Str("NaN".into()));
    /// ```
    pub fn float(value: f64) -> FieldValue {
        if value.is_finite() {
            FieldValue::F64(value)
        } else {
            FieldValue::Str(value.to_string())
        }
    }

    /// `Display` of `value`, capped; a panicking `Display` gives a note
    /// instead of reaching the host.
    pub(crate) fn display<T: fmt::Display + ?Sized>(value: &T) -> FieldValue {
        FieldValue::Str(format_capped(|out| write!(out, "{value}")))
    }

    /// `Debug` of `value`, capped (see [`display`](Self::display)).
    pub(crate) fn debug<T: fmt::Debug + ?Sized>(value: &T) -> FieldValue {
        FieldValue::Str(format_capped(|out| write!(out, "{value:?}")))
    }
}

/// The value's text form, as filters compare it: a string as it is, a
/// number as JSON writes it, `true`/`false`.
impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::I64(value) => write!(f, "{value}"),
            FieldValue::U64(value) => write!(f, "{value}"),
            FieldValue::F64(value) => {
                let mut buffer = ryu::Buffer::new();
                f.write_str(buffer.format(*value))
            }
            FieldValue::Bool(value) => write!(f, "{value}"),
            FieldValue::Str(value) => f.write_str(value),
        }
    }
}

macro_rules! from_int {
    ($variant:ident as $wide:ty: $($ty:ty),*) => {$(
        impl From<$ty> for FieldValue {
            fn from(value: $ty) -> FieldValue {
                FieldValue::$variant(<$wide>::from(value))
            }
        }
    )*};
}
from_int!(I64 as i64: i8, i16, i32, i64);
from_int!(U64 as u64: u8, u16, u32, u64);

impl From<isize> for FieldValue {
    fn from(value: isize) -> FieldValue {
        i64::try_from(value).map_or_else(|_| FieldValue::Str(value.to_string()), FieldValue::I64)
    }
}

impl From<usize> for FieldValue {
    fn from(value: usize) -> FieldValue {
        u64::try_from(value).map_or_else(|_| FieldValue::Str(value.to_string()), FieldValue::U64)
    }
}

impl From<i128> for FieldValue {
    fn from(value: i128) -> FieldValue {
        i64::try_from(value).map_or_else(|_| FieldValue::Str(value.to_string()), FieldValue::I64)
    }
}

impl From<u128> for FieldValue {
    fn from(value: u128) -> FieldValue {
        u64::try_from(value).map_or_else(|_| FieldValue::Str(value.to_string()), FieldValue::U64)
    }
}

impl From<f64> for FieldValue {
    fn from(value: f64) -> FieldValue {
        FieldValue::float(value)
    }
}

impl From<f32> for FieldValue {
    fn from(value: f32) -> FieldValue {
        FieldValue::float(f64::from(value))
    }
}

impl From<bool> for FieldValue {
    fn from(value: bool) -> FieldValue {
        FieldValue::Bool(value)
    }
}

impl From<&str> for FieldValue {
    fn from(value: &str) -> FieldValue {
        FieldValue::text(value)
    }
}

/// One named value recorded with an execution.
///
/// ```
/// use monitor_core::{Field, FieldValue};
///
/// let field = Field::new("user_id", FieldValue::U64(42));
/// assert_eq!(field.name(), "user_id");
/// assert_eq!(field.value(), &FieldValue::U64(42));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    name: Cow<'static, str>,
    value: FieldValue,
}

impl Field {
    /// A field; a name longer than [`MAX_NAME_BYTES`] is cut on a char
    /// boundary, a text value longer than [`MAX_VALUE_BYTES`] is cut with `…`.
    pub fn new(name: impl Into<Cow<'static, str>>, value: FieldValue) -> Field {
        let mut name = name.into();
        if name.len() > MAX_NAME_BYTES {
            let cut = prefix_within(&name, MAX_NAME_BYTES).len();
            name = match name {
                Cow::Borrowed(name) => Cow::Borrowed(&name[..cut]),
                Cow::Owned(mut name) => {
                    name.truncate(cut);
                    Cow::Owned(name)
                }
            };
        }
        let value = match value {
            FieldValue::Str(text) if text.len() > MAX_VALUE_BYTES => FieldValue::text(&text),
            other => other,
        };
        Field { name, value }
    }

    /// The field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's value.
    pub fn value(&self) -> &FieldValue {
        &self.value
    }
}

/// Adds `field` to `fields` unless [`MAX_FIELDS`] are there already; a field
/// of the same name replaces the earlier one (a span's `record` of a value
/// it declared).
pub(crate) fn set_field(fields: &mut Vec<Field>, field: Field) {
    if let Some(slot) = fields.iter_mut().find(|slot| slot.name == field.name) {
        slot.value = field.value;
    } else if fields.len() < MAX_FIELDS {
        fields.push(field);
    }
}

/// `name` cut at [`MAX_NAME_BYTES`] on a char boundary, as [`Field::new`]
/// cuts it.
#[inline]
pub(crate) fn capped_name(name: &'static str) -> &'static str {
    prefix_within(name, MAX_NAME_BYTES)
}

/// `text` cut to [`MAX_VALUE_BYTES`] (the `…` included) when longer.
fn capped(text: &str) -> String {
    if text.len() <= MAX_VALUE_BYTES {
        return text.to_owned();
    }
    let kept = prefix_within(text, MAX_VALUE_BYTES - CUT_MARK.len());
    let mut out = String::with_capacity(kept.len() + CUT_MARK.len());
    out.push_str(kept);
    out.push_str(CUT_MARK);
    out
}

/// A writer that keeps at most [`MAX_VALUE_BYTES`] (`…` included) and stops
/// the formatter once past them, so a huge `Debug` costs no more than the cap.
struct CappedValue {
    text: String,
    cut: bool,
}

impl Write for CappedValue {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Err(fmt::Error);
        }
        if self.text.len() + s.len() <= MAX_VALUE_BYTES {
            self.text.push_str(s);
            return Ok(());
        }
        // Too long: keep what fits before the mark, on a char boundary.
        let keep = MAX_VALUE_BYTES - CUT_MARK.len();
        if self.text.len() > keep {
            let cut = prefix_within(&self.text, keep).len();
            self.text.truncate(cut);
        } else {
            self.text.push_str(prefix_within(s, keep - self.text.len()));
        }
        self.text.push_str(CUT_MARK);
        self.cut = true;
        Err(fmt::Error)
    }
}

fn format_capped(format: impl FnOnce(&mut CappedValue) -> fmt::Result) -> String {
    let mut out = CappedValue {
        text: String::new(),
        cut: false,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _ = format(&mut out);
    }));
    if result.is_err() {
        return "<the value's formatting panicked>".to_owned();
    }
    out.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_char_boundary_with_a_mark() {
        for text in ["a".repeat(1000), "é".repeat(300), "🚀".repeat(100)] {
            let FieldValue::Str(cut) = FieldValue::text(&text) else {
                panic!()
            };
            assert!(cut.len() <= MAX_VALUE_BYTES, "{}", cut.len());
            assert!(cut.ends_with('…'));
            assert!(text.starts_with(cut.trim_end_matches('…')));
            let FieldValue::Str(shown) = FieldValue::display(&text) else {
                panic!()
            };
            assert_eq!(shown, cut);
        }
        let exact = "x".repeat(MAX_VALUE_BYTES);
        assert_eq!(FieldValue::text(&exact), FieldValue::Str(exact.clone()));
        assert_eq!(FieldValue::display(&exact), FieldValue::Str(exact));
    }

    #[test]
    fn a_panicking_display_gives_a_note() {
        struct Bad;
        impl fmt::Display for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("no")
            }
        }
        let FieldValue::Str(text) = FieldValue::display(&Bad) else {
            panic!()
        };
        assert!(text.contains("panicked"));
    }

    #[test]
    fn names_are_capped_and_fields_counted() {
        let field = Field::new("n".repeat(100), FieldValue::Bool(true));
        assert_eq!(field.name().len(), MAX_NAME_BYTES);
        let mut fields = Vec::new();
        for index in 0..20_u64 {
            set_field(&mut fields, Field::new(format!("f{index}"), index.into()));
        }
        set_field(&mut fields, Field::new("f3", FieldValue::U64(99)));
        assert_eq!(fields.len(), MAX_FIELDS);
        assert_eq!(fields[3].value(), &FieldValue::U64(99));
    }
}
