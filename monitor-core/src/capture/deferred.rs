//! An `Err` formatted by the collector, not by the failing thread.
//!
//! Most of what an `Err` costs its caller is the formatting of its message
//! and its `source()` chain (the host's `Display` and `core::fmt`). When the
//! error's type is `Clone + Send + 'static` and its clone is *plain data*
//! (no drop glue, so it owns no heap memory and cloning it cannot allocate,
//! and at most [`MAX_VALUE`] bytes), the caller clones it into its stage
//! instead and the clone travels to the collector in the thread's byte ring,
//! moved bitwise, with the address of the function that formats an error of
//! that type ([`format`]). The collector formats it with the same limits
//! and the same code as the caller would have ([`write_error_details`]):
//! the recorded type, message and chain are the same.
//!
//! Other errors (an `io::Error`, one holding a `String` or an `Arc`) are
//! formatted on the caller as before: cloning them would allocate.
//!
//! What the collector sees is the error as it was when it was returned: its
//! `Display` runs a few milliseconds later, on the collector's thread. A
//! `Display` that reads something else that changes meanwhile (a global,
//! the clock) shows the later value.

use std::error::Error;
use std::hash::Hasher;
use std::mem::{needs_drop, size_of, ManuallyDrop, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use super::classify::{error_failure, write_error_details};
use super::details::{DetailsWriter, FailureWriter};
use super::limits::current_limits;
use super::staged::{
    decode_carried, stage_deferred, FormatDeferred, Staged, DEFERRED_MAX, DEFERRED_VALUE_AT,
    FORMAT_PANICKED,
};
use super::{Failure, Outcome};

/// The largest error value the collector formats.
pub(crate) const MAX_VALUE: usize = DEFERRED_MAX - DEFERRED_VALUE_AT;

/// Whether an `E`'s clone can travel to the collector: plain data that fits.
const fn deferrable<E>() -> bool {
    !needs_drop::<E>() && size_of::<E>() <= MAX_VALUE
}

/// The largest error carried in an event's last word.
const CARRIED_MAX: usize = size_of::<u64>();

/// Whether an `E`'s clone can travel in an event's word: plain data of at
/// most 8 bytes.
const fn carriable<E>() -> bool {
    !needs_drop::<E>() && size_of::<E>() <= CARRIED_MAX
}

/// Classifies an `Err(error)` of a `Clone + Send + 'static` error type.
#[inline]
pub(super) fn classify<E: Error + Clone + Send + 'static>(error: &E) -> Outcome {
    if carriable::<E>() {
        if let Some(carried) = Carried::of(error) {
            return Outcome::Carried(carried);
        }
    } else if deferrable::<E>() {
        if let Some(staged) = stage_clone(error) {
            return Outcome::Staged(staged);
        }
    }
    error_failure(core::any::type_name::<E>(), error)
}

/// An `Err` of a plain-data type of at most 8 bytes, cloned: the caller
/// hands its bytes to the collector in the event's last word (when its
/// callsite carries this type's formatter, see `Callsite::carries`), and
/// the collector formats it. Otherwise it goes through the stage like a
/// larger one (`into_staged`).
pub struct Carried {
    /// The clone's bytes (its padding possibly uninitialised).
    value: MaybeUninit<u64>,
    format: FormatDeferred,
    type_name: &'static str,
    /// Its shape for the trace gate (see [`deferred_shape`]).
    shape: u64,
}

impl Carried {
    /// `error`'s clone. `None` when its `Clone` panicked.
    #[inline]
    fn of<E: Error + Clone + Send + 'static>(error: &E) -> Option<Carried> {
        debug_assert!(carriable::<E>());
        let mut value = MaybeUninit::<u64>::uninit();
        // SAFETY: `E` is at most 8 bytes (`carriable`), the size of `value`,
        // a local that cannot overlap `error`.
        if !unsafe { move_clone_to(error, value.as_mut_ptr().cast::<u8>()) } {
            return None;
        }
        Some(Carried {
            value,
            format: format::<E>,
            type_name: core::any::type_name::<E>(),
            shape: deferred_shape::<E>(error),
        })
    }

    /// The error's shape for the trace gate (`trace_gate.rs`): its type and
    /// enum variant.
    pub(crate) fn shape(&self) -> u64 {
        self.shape
    }

    /// The address of the function that formats it (what a callsite
    /// claims, `Callsite::carries`).
    pub(crate) fn format_address(&self) -> usize {
        self.format as usize
    }

    /// The clone's bytes, to travel in an event's word.
    pub(crate) fn value(&self) -> MaybeUninit<u64> {
        self.value
    }

    /// The error as a deferred record in this thread's stage, or, when the
    /// stage cannot be used, formatted on the spot.
    pub(crate) fn into_staged(self) -> Result<Staged, Box<Failure>> {
        let bytes = self.value.as_ptr().cast::<MaybeUninit<u8>>();
        let staged = stage_deferred(
            self.type_name,
            self.shape,
            self.format,
            CARRIED_MAX,
            |slot| {
                // SAFETY: `slot` is `CARRIED_MAX` bytes (the length given
                // to `stage_deferred`), `bytes` the 8 bytes of `value`, a
                // field of `self`: they cannot overlap. The formatter reads
                // the first `size_of::<E>()` of them.
                unsafe { ptr::copy_nonoverlapping(bytes, slot.as_mut_ptr(), CARRIED_MAX) };
                true
            },
        );
        staged.ok_or_else(|| {
            let mut failure = Box::<Failure>::default();
            // SAFETY: `format` was instantiated for the type whose bytes
            // `value` holds (`of`), and they are read once: the stage
            // refused them.
            unsafe { decode_carried(self.format as usize, &self.value, &mut failure) };
            failure
        })
    }
}

impl PartialEq for Carried {
    /// The same error type (the bytes are not compared: their padding may
    /// be uninitialised).
    fn eq(&self, other: &Self) -> bool {
        self.type_name == other.type_name && self.format_address() == other.format_address()
    }
}

impl Eq for Carried {}

impl std::fmt::Debug for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carried")
            .field("type_name", &self.type_name)
            .finish_non_exhaustive()
    }
}

/// Clones `error` into this thread's stage as a deferred record. `None`
/// when the stage cannot be used or the clone panicked.
fn stage_clone<E: Error + Clone + Send + 'static>(error: &E) -> Option<Staged> {
    stage_deferred(
        core::any::type_name::<E>(),
        deferred_shape::<E>(error),
        format::<E>,
        size_of::<E>(),
        |slot| {
            // SAFETY: `slot` is exactly `size_of::<E>()` bytes (the length
            // given to `stage_deferred`), in the stage: it cannot overlap
            // `error`.
            unsafe { move_clone_to(error, slot.as_mut_ptr().cast::<u8>()) }
        },
    )
}

/// Clones `error` and moves the clone's bytes to `to`, for the collector
/// to read out once. False when its `Clone` panicked: a panicking `Clone`
/// must not reach the host's function, the error is formatted on the
/// caller instead. The copy is untyped: the padding it copies stays
/// uninitialised, so `to` must be read as `MaybeUninit` bytes.
///
/// # Safety
///
/// `to` must be valid for writes of `size_of::<E>()` bytes and must not
/// overlap `error`.
#[inline]
unsafe fn move_clone_to<E: Clone>(error: &E, to: *mut u8) -> bool {
    let Ok(clone) = catch_unwind(AssertUnwindSafe(|| error.clone())) else {
        return false;
    };
    let clone = ManuallyDrop::new(clone);
    // SAFETY: the caller's promise for `to`; the clone is a local.
    unsafe {
        ptr::copy_nonoverlapping(ptr::from_ref::<E>(&clone).cast::<u8>(), to, size_of::<E>())
    };
    true
}

/// What the caller can tell cheaply of a deferred error's pattern, for the
/// trace gate (`trace_gate.rs`): its type, as the address of its formatter
/// (one per type; two for one type only costs a trace), and its enum
/// variant (a hash of its discriminant; constant for a struct). No hash of
/// the type's name: the gate asks for the shape of nearly every error while
/// traces are on.
fn deferred_shape<E: Error + 'static>(error: &E) -> u64 {
    let format: FormatDeferred = format::<E>;
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325 ^ (format as usize as u64));
    std::hash::Hash::hash(&std::mem::discriminant(error), &mut hasher);
    hasher.0
}

/// FNV-1a: a few instructions for the few bytes of a discriminant.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// A whole word in one step (an enum's discriminant is an `isize`).
    fn write_usize(&mut self, word: usize) {
        self.0 = (self.0 ^ word as u64).wrapping_mul(0x0100_0000_01b3);
    }
}

/// Formats the `E` at `value` straight into `into` (a
/// [`FormatDeferred`](super::staged::FormatDeferred)), reusing its memory.
///
/// # Safety
///
/// `value` must point at `size_of::<E>()` bytes moved from a value of `E`
/// (see [`stage_clone`]) that no one else reads as a value.
unsafe fn format<E: Error + 'static>(value: *const u8, into: &mut Failure) {
    // SAFETY: the caller's promise: the bytes of an `E`, read out once. The
    // record is not aligned for `E`, hence the unaligned read.
    let error: E = unsafe { ptr::read_unaligned(value.cast::<E>()) };
    let limits = current_limits();
    let mut writer = FailureWriter::new(into, core::any::type_name::<E>());
    // `Display` panics are caught text by text; a panicking `source()` is
    // caught here: it must not take the collector down.
    let formatted = catch_unwind(AssertUnwindSafe(|| {
        write_error_details(&mut writer, &error, &limits);
    }));
    if formatted.is_err() {
        writer.restart();
        writer.message(FORMAT_PANICKED, limits.max_message_bytes, |text, w| {
            w.write_str(text)
        });
    }
    writer.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::staged::{decode, record_id, with_record, with_stage_in_use, Byte, HEADER};
    use crate::capture::Failure;
    use crate::local_id::LocalId;
    use std::fmt;

    #[derive(Debug, Clone, Copy)]
    enum Fetch {
        Timeout { after_ms: u64 },
        Refused,
    }

    impl fmt::Display for Fetch {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Fetch::Timeout { after_ms } => write!(f, "timed out after {after_ms} ms"),
                Fetch::Refused => f.write_str("connection refused"),
            }
        }
    }

    impl Error for Fetch {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            static CAUSE: Cause = Cause;
            Some(&CAUSE)
        }
    }

    #[derive(Debug)]
    struct Cause;

    impl fmt::Display for Cause {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the peer went away")
        }
    }

    impl Error for Cause {}

    const ID: LocalId = LocalId {
        thread: 4,
        sequence: 17,
    };

    /// The staged record as the collector reads it, decoded.
    fn through_the_ring() -> (Vec<Byte>, Failure) {
        let record = with_record(ID, <[Byte]>::to_vec).expect("a staged record");
        let mut failure = Failure::default();
        // SAFETY: a whole record, decoded once.
        unsafe { decode(&record, &mut failure) };
        (record, failure)
    }

    /// A carried error as the collector reads it from an event's word.
    fn through_the_word(outcome: Outcome) -> Failure {
        let Outcome::Carried(carried) = outcome else {
            panic!("expected a carried error");
        };
        let mut failure = Failure::default();
        // SAFETY: the formatter of the type whose bytes it holds, read once.
        unsafe {
            decode_carried(carried.format_address(), &carried.value(), &mut failure);
        };
        failure
    }

    /// What the caller-formatted path records for `error`.
    fn formatted_on_the_caller(error: &(dyn Error + 'static)) -> Failure {
        match error_failure("the type", error) {
            Outcome::Staged(staged) => {
                let mut failure = staged.into_failure();
                failure.error_type = "the type".into();
                failure
            }
            _ => panic!("expected a staged error"),
        }
    }

    #[test]
    fn a_plain_data_error_is_formatted_by_the_reader_with_the_same_text() {
        let error = Fetch::Timeout { after_ms: 250 };
        let Outcome::Staged(staged) = classify(&error) else {
            panic!("expected a staged error");
        };
        assert!(staged.type_name.ends_with("Fetch"));
        let (record, failure) = through_the_ring();
        // The record holds the value, not its text.
        assert!(record.len() < 80, "a {}-byte record", record.len());
        assert_eq!(record_id(&record), ID);
        assert_eq!(failure.message, "timed out after 250 ms");
        assert_eq!(failure.chain, vec!["the peer went away".to_owned()]);
        assert!(failure.error_type.ends_with("deferred::tests::Fetch"));
        let mut expected = formatted_on_the_caller(&error);
        expected.error_type = failure.error_type.clone();
        assert_eq!(failure, expected);
    }

    #[test]
    fn an_error_that_owns_memory_is_formatted_on_the_caller() {
        #[derive(Debug, Clone)]
        struct Owning(String);
        impl fmt::Display for Owning {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl Error for Owning {}
        assert!(!deferrable::<Owning>());
        assert!(deferrable::<Fetch>());
        assert!(!deferrable::<[u64; 17]>(), "larger than the record allows");
        let _ = classify(&Owning("disk full".to_owned()));
        let (record, failure) = through_the_ring();
        // A text record: the header, then the message with its length.
        assert_eq!(record.len(), HEADER + 4 + "disk full".len());
        assert_eq!(failure.message, "disk full");
    }

    #[test]
    fn a_panicking_clone_falls_back_to_the_callers_formatting() {
        #[derive(Debug)]
        struct BadClone;
        impl Clone for BadClone {
            fn clone(&self) -> Self {
                panic!("clone panicked")
            }
        }
        impl fmt::Display for BadClone {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("formatted here")
            }
        }
        impl Error for BadClone {}
        let _ = classify(&BadClone);
        let (_, failure) = through_the_ring();
        assert_eq!(failure.message, "formatted here");
    }

    #[test]
    fn a_panicking_source_on_the_reader_is_contained() {
        #[derive(Debug, Clone, Copy)]
        struct BadSource;
        impl fmt::Display for BadSource {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("fine so far")
            }
        }
        impl Error for BadSource {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                panic!("source panicked")
            }
        }
        let failure = through_the_word(classify(&BadSource));
        assert_eq!(failure.message, FORMAT_PANICKED);
        assert!(failure.chain.is_empty());
    }

    #[test]
    fn into_failure_formats_a_deferred_error_on_the_spot() {
        let Outcome::Staged(staged) = classify(&Fetch::Refused) else {
            panic!("expected a staged error");
        };
        let failure = staged.into_failure();
        assert_eq!(failure.message, "connection refused");
        assert_eq!(failure.chain, vec!["the peer went away".to_owned()]);
    }

    #[test]
    fn zero_sized_padded_and_interior_mutable_errors_read_back_as_the_caller_saw_them() {
        // A zero-sized error: no value bytes at all.
        #[derive(Debug, Clone, Copy)]
        struct Empty;
        impl fmt::Display for Empty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("nothing to say")
            }
        }
        impl Error for Empty {}
        assert_eq!(through_the_word(classify(&Empty)).message, "nothing to say");

        // Variants of different sizes: the small one leaves padding
        // (uninitialised bytes) in the record.
        #[derive(Debug, Clone, Copy)]
        enum Mixed {
            Small(u8),
            Large([u64; 4]),
        }
        impl fmt::Display for Mixed {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    Mixed::Small(byte) => write!(f, "small {byte}"),
                    Mixed::Large(words) => write!(f, "large {}", words.iter().sum::<u64>()),
                }
            }
        }
        impl Error for Mixed {}
        for (error, text) in [
            (Mixed::Small(7), "small 7"),
            (Mixed::Large([1, 2, 3, 4]), "large 10"),
        ] {
            assert!(matches!(classify(&error), Outcome::Staged(_)));
            assert_eq!(through_the_ring().1.message, text);
        }

        // A `Cell` is `Clone + Send` and plain data: the clone taken when the
        // error is returned is what the reader formats, whatever the caller
        // does with its own value afterwards.
        #[derive(Debug, Clone)]
        struct Counted(std::cell::Cell<u32>);
        impl fmt::Display for Counted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "attempt {}", self.0.get())
            }
        }
        impl Error for Counted {}
        let error = Counted(std::cell::Cell::new(3));
        let outcome = classify(&error);
        error.0.set(4);
        assert_eq!(through_the_word(outcome).message, "attempt 3");
    }

    /// An 8-byte error, one variant with padding.
    #[derive(Debug, Clone, Copy)]
    enum Small {
        Code(u32),
        Flag(bool),
    }

    impl fmt::Display for Small {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Small::Code(code) => write!(f, "failed with code {code}"),
                Small::Flag(flag) => write!(f, "flag was {flag}"),
            }
        }
    }

    impl Error for Small {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            static CAUSE: Cause = Cause;
            Some(&CAUSE)
        }
    }

    #[test]
    fn an_error_of_at_most_8_bytes_is_carried_with_the_same_text() {
        assert!(carriable::<Small>() && !carriable::<Fetch>());
        for error in [Small::Code(503), Small::Flag(true)] {
            let carried = through_the_word(classify(&error));
            let mut expected = formatted_on_the_caller(&error);
            expected.error_type = carried.error_type.clone();
            assert!(carried.error_type.ends_with("deferred::tests::Small"));
            assert_eq!(carried, expected);
        }
    }

    #[test]
    fn a_carried_error_can_go_through_the_stage_instead() {
        // From a callsite that carries another type (a generic function's),
        // or with a stack trace or fields: the stage, then the byte ring or
        // a box.
        let Outcome::Carried(carried) = classify(&Small::Code(7)) else {
            panic!("expected a carried error");
        };
        let shape = carried.shape();
        let Ok(staged) = carried.into_staged() else {
            panic!("the stage is free");
        };
        assert_eq!(staged.shape(), shape, "the trace gate sees the same shape");
        let (record, failure) = through_the_ring();
        assert_eq!(record.len(), DEFERRED_VALUE_AT + CARRIED_MAX);
        assert_eq!(failure.message, "failed with code 7");
        assert_eq!(failure.chain, vec!["the peer went away".to_owned()]);

        // The stage in use (an error's `Display` failing a monitored
        // function while its own error is staged): formatted on the spot.
        let Outcome::Carried(carried) = classify(&Small::Flag(false)) else {
            panic!("expected a carried error");
        };
        let failure = with_stage_in_use(|| carried.into_staged());
        let failure = failure.expect_err("the stage is in use");
        assert_eq!(failure.message, "flag was false");
    }

    #[test]
    fn the_shape_tells_variants_apart() {
        let shape = |error: Fetch| match classify(&error) {
            Outcome::Staged(staged) => staged.shape(),
            _ => panic!("expected a staged error"),
        };
        assert_eq!(
            shape(Fetch::Timeout { after_ms: 1 }),
            shape(Fetch::Timeout { after_ms: 2 })
        );
        assert_ne!(shape(Fetch::Timeout { after_ms: 1 }), shape(Fetch::Refused));
        // The first variant of two types: told apart by the type.
        let Outcome::Carried(small) = classify(&Small::Code(1)) else {
            panic!("expected a carried error");
        };
        assert_ne!(small.shape(), shape(Fetch::Timeout { after_ms: 1 }));
    }
}
