//! What `#[monitored(fields(…))]` holds from the start of an execution to
//! its end, chosen by the value's type with autoref specialisation (as
//! `capture/classify.rs` chooses a classification):
//!
//! - a reference (`&str`, `&T`) is turned into its [`FieldValue`] at once:
//!   held as it is, it could borrow something the body moves;
//! - another `Copy` value (`u64`, `bool`, a `Copy` id type) is held as it is,
//!   and turned into a value only if the execution fails (or, with
//!   `always`, when it ends);
//! - anything else (`String`, a struct) is turned into its value at once,
//!   so the body may move it.
//!
//! The expansion writes `(&&&&FieldDisplay(&(expr))).__monitor_hold_display()`
//! (and the `Debug` and bare forms); the held values of one function form a
//! tuple, a [`HeldFields`].

use std::borrow::Cow;
use std::fmt::{Debug, Display};

use super::{Field, FieldValue};

/// `%expr`: recorded with `Display`.
pub struct FieldDisplay<'a, T: ?Sized>(pub &'a T);
/// `?expr`: recorded with `Debug`.
pub struct FieldDebug<'a, T: ?Sized>(pub &'a T);
/// A bare `expr`: numbers, booleans and strings keep their JSON type.
pub struct FieldBare<'a, T: ?Sized>(pub &'a T);

/// A value held until the execution ends.
pub trait HeldValue {
    /// The value as it is written.
    fn into_value(self) -> FieldValue;
}

impl HeldValue for FieldValue {
    #[inline]
    fn into_value(self) -> FieldValue {
        self
    }
}

/// A `Copy` value held for `Display`.
#[derive(Clone, Copy)]
pub struct HeldDisplay<T>(T);
/// A `Copy` value held for `Debug`.
#[derive(Clone, Copy)]
pub struct HeldDebug<T>(T);
/// A `Copy` bare value held as it is.
#[derive(Clone, Copy)]
pub struct HeldBare<T>(T);

impl<T: Display> HeldValue for HeldDisplay<T> {
    fn into_value(self) -> FieldValue {
        FieldValue::display(&self.0)
    }
}

impl<T: Debug> HeldValue for HeldDebug<T> {
    fn into_value(self) -> FieldValue {
        FieldValue::debug(&self.0)
    }
}

impl<T: BareValue> HeldValue for HeldBare<T> {
    fn into_value(self) -> FieldValue {
        self.0.field_value()
    }
}

/// A type a bare field (`fields(count)`, `fields(name = user.name)`) can
/// hold: integers, floats, booleans and `char` keep their JSON type, strings
/// are strings. Anything else takes `%` (`Display`) or `?` (`Debug`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a bare field value",
    label = "write `%…` to record it with `Display`, or `?…` with `Debug`"
)]
pub trait BareValue {
    /// The value as it is written.
    fn field_value(&self) -> FieldValue;
}

macro_rules! bare_from {
    ($($ty:ty),*) => {$(
        impl BareValue for $ty {
            #[inline]
            fn field_value(&self) -> FieldValue {
                FieldValue::from(*self)
            }
        }
    )*};
}
bare_from!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, bool);

impl BareValue for char {
    fn field_value(&self) -> FieldValue {
        FieldValue::Str(self.to_string())
    }
}

impl BareValue for str {
    fn field_value(&self) -> FieldValue {
        FieldValue::text(self)
    }
}

impl BareValue for String {
    fn field_value(&self) -> FieldValue {
        FieldValue::text(self)
    }
}

impl BareValue for Cow<'_, str> {
    fn field_value(&self) -> FieldValue {
        FieldValue::text(self)
    }
}

impl<T: BareValue + ?Sized> BareValue for &T {
    fn field_value(&self) -> FieldValue {
        (**self).field_value()
    }
}

impl<T: BareValue + ?Sized> BareValue for &mut T {
    fn field_value(&self) -> FieldValue {
        (**self).field_value()
    }
}

impl<T: BareValue + ?Sized> BareValue for Box<T> {
    fn field_value(&self) -> FieldValue {
        (**self).field_value()
    }
}

macro_rules! hold_traits {
    ($wrapper:ident, $bound:path, $method:ident, $held:ident, $now:expr,
     $ref_trait:ident, $copy_trait:ident, $other_trait:ident) => {
        /// A reference: its value now (held, it could borrow what the body moves).
        pub trait $ref_trait {
            /// Turns the value into what is held.
            fn $method(&self) -> FieldValue;
        }
        /// A `Copy` value: held as it is.
        pub trait $copy_trait {
            /// The value itself, wrapped.
            type Held: HeldValue;
            /// Turns the value into what is held.
            fn $method(&self) -> Self::Held;
        }
        /// Anything else: its value now.
        pub trait $other_trait {
            /// Turns the value into what is held.
            fn $method(&self) -> FieldValue;
        }

        impl<U: $bound + ?Sized> $ref_trait for &&&$wrapper<'_, &U> {
            #[inline]
            fn $method(&self) -> FieldValue {
                let value: &U = self.0;
                $now(value)
            }
        }

        impl<T: $bound + Copy> $copy_trait for &&$wrapper<'_, T> {
            type Held = $held<T>;
            #[inline(always)]
            fn $method(&self) -> $held<T> {
                $held(*self.0)
            }
        }

        impl<T: $bound + ?Sized> $other_trait for &$wrapper<'_, T> {
            #[inline]
            fn $method(&self) -> FieldValue {
                $now(self.0)
            }
        }
    };
}

hold_traits!(
    FieldDisplay,
    Display,
    __monitor_hold_display,
    HeldDisplay,
    FieldValue::display,
    HoldDisplayRef,
    HoldDisplayCopy,
    HoldDisplay
);
hold_traits!(
    FieldDebug,
    Debug,
    __monitor_hold_debug,
    HeldDebug,
    FieldValue::debug,
    HoldDebugRef,
    HoldDebugCopy,
    HoldDebug
);
hold_traits!(
    FieldBare,
    BareValue,
    __monitor_hold_bare,
    HeldBare,
    BareValue::field_value,
    HoldBareRef,
    HoldBareCopy,
    HoldBare
);

/// The held values of one function's fields, in the order of their names.
pub trait HeldFields {
    /// The fields, named.
    fn into_fields(self, names: &'static [&'static str]) -> Vec<Field>;
}

macro_rules! held_tuple {
    ($($name:ident $index:tt),+) => {
        impl<$($name: HeldValue),+> HeldFields for ($($name,)+) {
            fn into_fields(self, names: &'static [&'static str]) -> Vec<Field> {
                let mut fields = Vec::with_capacity(names.len());
                $(
                    if let Some(name) = names.get($index) {
                        fields.push(Field::new(Cow::Borrowed(*name), self.$index.into_value()));
                    }
                )+
                fields
            }
        }
    };
}

held_tuple!(A 0);
held_tuple!(A 0, B 1);
held_tuple!(A 0, B 1, C 2);
held_tuple!(A 0, B 1, C 2, D 3);
held_tuple!(A 0, B 1, C 2, D 3, E 4);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
held_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

/// What a guard carries about its fields: nothing ([`NoFields`], the
/// functions without `fields(…)`), or the held values, their names and
/// whether every execution records them.
pub trait FieldSlot {
    /// Whether a successful execution records them too.
    fn always(&self) -> bool;
    /// The fields, once (empty afterwards, and when nothing was held).
    fn take(&mut self) -> Vec<Field>;
    /// What is held, moved out (this slot holds nothing afterwards).
    fn moved(&mut self) -> Self;
}

/// A function without fields: nothing held, nothing recorded.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFields;

impl FieldSlot for NoFields {
    #[inline(always)]
    fn always(&self) -> bool {
        false
    }
    #[inline(always)]
    fn take(&mut self) -> Vec<Field> {
        Vec::new()
    }
    #[inline(always)]
    fn moved(&mut self) -> Self {
        NoFields
    }
}

/// The held values of a function with fields (`None`: no monitor was
/// installed when it started, so nothing was evaluated).
pub struct Held<H> {
    held: Option<H>,
    names: &'static [&'static str],
    always: bool,
}

impl<H: HeldFields> Held<H> {
    /// The values held at the start, their names, and `always`.
    #[inline(always)]
    pub fn new(held: Option<H>, names: &'static [&'static str], always: bool) -> Self {
        Held {
            held,
            names,
            always,
        }
    }
}

impl<H: HeldFields> FieldSlot for Held<H> {
    #[inline(always)]
    fn always(&self) -> bool {
        self.always
    }
    fn take(&mut self) -> Vec<Field> {
        self.held
            .take()
            .map_or_else(Vec::new, |held| held.into_fields(self.names))
    }
    #[inline]
    fn moved(&mut self) -> Self {
        Held {
            held: self.held.take(),
            names: self.names,
            always: self.always,
        }
    }
}

#[cfg(test)]
// The borrows select the impl (autoref specialisation); they are the point.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    struct Id(u32);
    impl Display for Id {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "id-{}", self.0)
        }
    }

    #[test]
    fn copy_values_are_held_others_are_turned_into_values_at_once() {
        let number = 42_u64;
        let held: HeldBare<u64> = (&&&&FieldBare(&number)).__monitor_hold_bare();
        assert_eq!(held.into_value(), FieldValue::U64(42));

        let text = String::from("abc");
        let now: FieldValue = (&&&&FieldBare(&text)).__monitor_hold_bare();
        assert_eq!(now, FieldValue::Str("abc".into()));

        let borrowed: &str = "xyz";
        let now: FieldValue = (&&&&FieldBare(&borrowed)).__monitor_hold_bare();
        assert_eq!(now, FieldValue::Str("xyz".into()));

        let id = Id(7);
        let held: HeldDisplay<Id> = (&&&&FieldDisplay(&id)).__monitor_hold_display();
        assert_eq!(held.into_value(), FieldValue::Str("id-7".into()));
        let held: HeldDebug<Id> = (&&&&FieldDebug(&id)).__monitor_hold_debug();
        assert_eq!(held.into_value(), FieldValue::Str("Id(7)".into()));

        let by_ref: &Id = &id;
        let now: FieldValue = (&&&&FieldDisplay(&by_ref)).__monitor_hold_display();
        assert_eq!(now, FieldValue::Str("id-7".into()));

        let vec = vec![1, 2];
        let now: FieldValue = (&&&&FieldDebug(&vec)).__monitor_hold_debug();
        assert_eq!(now, FieldValue::Str("[1, 2]".into()));
    }

    #[test]
    fn a_tuple_names_its_values() {
        let mut slot = Held::new(
            Some((HeldBare(1_i32), FieldValue::Bool(true))),
            &["a", "b.c"],
            false,
        );
        let fields = slot.take();
        assert_eq!(fields[0], Field::new("a", FieldValue::I64(1)));
        assert_eq!(fields[1], Field::new("b.c", FieldValue::Bool(true)));
        assert!(slot.take().is_empty());
    }
}
