//! Outcome classification by *type*, not by the spelling of the return type.
//!
//! The `#[monitored]` expansion calls
//! `(&&&&&&&&Classify(&value)).__monitor_outcome()` where the value's type is
//! concrete. Method resolution then picks the most specific impl that applies
//! ("autoref specialisation"): an `Err` of an `Error` type that is `Clone +
//! Send + 'static` goes to the collector as a clone, when that clone is
//! plain data (`capture/deferred.rs`), to be formatted there; an `Err` of
//! any other `Error` type gets its message and `source()` chain formatted
//! on the caller, `anyhow::Error` and boxed errors get theirs through
//! `AsRef<dyn Error>`, then `Display`, then `Debug`, then the type name;
//! anything that is not a `Result` is a success. Aliases such as `io::Result<T>` or a crate's own
//! `Result<T>` resolve to `core::result::Result` and are handled the same way.

use std::error::Error;
use std::fmt::{Debug, Display, Write};

use super::capped_text::capture_text;
use super::details::DetailsWriter;
use super::limits::{current_limits, CaptureLimits};
use super::staged::{stage, Staged};
use super::Failure;

/// How a returned value is classified.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not an `Err`.
    Success,
    /// An `Err`, with its captured details (boxed: when this thread's stage
    /// could not be used).
    Error(Box<Failure>),
    /// An `Err` whose details wait in this thread's stage, formatted there
    /// without an allocation (see `capture/staged.rs`).
    Staged(Staged),
    /// An `Err` of at most 8 bytes that the collector formats, cloned
    /// (see `capture/deferred.rs`).
    Carried(super::deferred::Carried),
}

/// Wraps a reference to the returned value for classification.
pub struct Classify<'a, T>(pub &'a T);

macro_rules! classify_trait {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub trait $name {
            /// Classifies the wrapped value.
            fn __monitor_outcome(&self) -> Outcome;
        }
    };
}

classify_trait!(
    /// `Err(E)` with `E: Error + Clone + Send + 'static`: formatted by the
    /// collector from a clone when the clone is plain data (no drop glue, at
    /// most 128 bytes), else like [`ClassifyError`].
    ClassifyCloneError
);
classify_trait!(
    /// `Err(E)` with `E: Error`: message, type and `source()` chain.
    ClassifyError
);
classify_trait!(
    /// `Err(E)` with `E: AsRef<dyn Error + Send + Sync>` (`anyhow::Error`, boxed errors).
    ClassifyDynError
);
classify_trait!(
    /// `Err(E)` with `E: AsRef<dyn Error>` (`Box<dyn Error>`).
    ClassifyBoxError
);
classify_trait!(
    /// `Err(E)` with `E: Display`.
    ClassifyDisplay
);
classify_trait!(
    /// `Err(E)` with `E: Debug`.
    ClassifyDebug
);
classify_trait!(
    /// `Err(E)` for any `E`: the message is the type name.
    ClassifyResult
);
classify_trait!(
    /// Anything that is not a `Result`: a success.
    ClassifyAny
);

impl<T, E: Error + Clone + Send + 'static> ClassifyCloneError
    for &&&&&&&Classify<'_, Result<T, E>>
{
    fn __monitor_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => super::deferred::classify(error),
        }
    }
}

impl<T, E: Error> ClassifyError for &&&&&&Classify<'_, Result<T, E>> {
    fn __monitor_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => error_failure(core::any::type_name::<E>(), error),
        }
    }
}

// The levels below format the error on the caller, which costs far more
// than a call: their `Err` arms are out of line (`#[cold]`), so the `Ok`
// arm inlines into the monitored function. Without this, a
// `Result<_, String>` function's success path made a call and moved an
// `Outcome` through memory: 240 instructions per successful call against
// 204 with it (182 for a carried error type, 190 for `io::Error`, whose
// `ClassifyError` above is left as it was: moved out of line, its success
// path cost 5 more; callgrind, examples driver not kept).

impl<T, E: AsRef<dyn Error + Send + Sync>> ClassifyDynError for &&&&&Classify<'_, Result<T, E>> {
    #[inline(always)]
    fn __monitor_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => dyn_error_outcome(error),
        }
    }
}

#[cold]
#[inline(never)]
fn dyn_error_outcome<E: AsRef<dyn Error + Send + Sync>>(error: &E) -> Outcome {
    error_failure(core::any::type_name::<E>(), error.as_ref())
}

impl<T, E: AsRef<dyn Error>> ClassifyBoxError for &&&&Classify<'_, Result<T, E>> {
    #[inline(always)]
    fn __monitor_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => box_error_outcome(error),
        }
    }
}

#[cold]
#[inline(never)]
fn box_error_outcome<E: AsRef<dyn Error>>(error: &E) -> Outcome {
    error_failure(core::any::type_name::<E>(), error.as_ref())
}

impl<T, E: Display> ClassifyDisplay for &&&Classify<'_, Result<T, E>> {
    #[inline(always)]
    fn __monitor_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => display_outcome(error),
        }
    }
}

#[cold]
#[inline(never)]
fn display_outcome<E: Display>(error: &E) -> Outcome {
    text_failure(core::any::type_name::<E>(), error, |e, w| write!(w, "{e}"))
}

impl<T, E: Debug> ClassifyDebug for &&Classify<'_, Result<T, E>> {
    #[inline(always)]
    fn __monitor_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(error) => debug_outcome(error),
        }
    }
}

#[cold]
#[inline(never)]
fn debug_outcome<E: Debug>(error: &E) -> Outcome {
    text_failure(core::any::type_name::<E>(), error, |e, w| {
        write!(w, "{e:?}")
    })
}

impl<T, E> ClassifyResult for &Classify<'_, Result<T, E>> {
    #[inline(always)]
    fn __monitor_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(_) => type_name_outcome::<E>(),
        }
    }
}

#[cold]
#[inline(never)]
fn type_name_outcome<E>() -> Outcome {
    let type_name = core::any::type_name::<E>();
    text_failure(type_name, type_name, |name, w| w.write_str(name))
}

impl<T> ClassifyAny for Classify<'_, T> {
    #[inline(always)]
    fn __monitor_outcome(&self) -> Outcome {
        Outcome::Success
    }
}

/// An `Err` of an `Error` type, formatted on the caller into its stage.
pub(super) fn error_failure(type_name: &'static str, error: &(dyn Error + '_)) -> Outcome {
    let limits = current_limits();
    let staged = stage(type_name, |w| write_error_details(w, error, &limits));
    match staged {
        Some(staged) => Outcome::Staged(staged),
        None => boxed_error_failure(type_name, error),
    }
}

/// What is recorded of an `Error`: its message and its `source()` chain,
/// within `limits` (on the caller, or on the collector for a deferred one).
pub(super) fn write_error_details(
    w: &mut impl DetailsWriter,
    error: &(dyn Error + '_),
    limits: &CaptureLimits,
) {
    w.message(error, limits.max_message_bytes, |e, w| write!(w, "{e}"));
    let mut source = error.source();
    let mut kept = 0;
    while let Some(cause) = source {
        if kept == limits.max_chain_len {
            break;
        }
        w.cause(cause, limits.max_message_bytes / 4, |e, w| write!(w, "{e}"));
        kept += 1;
        source = cause.source();
    }
}

/// [`error_failure`] when the stage cannot be used: the details boxed.
#[cold]
fn boxed_error_failure(type_name: &'static str, error: &(dyn Error + '_)) -> Outcome {
    let limits = current_limits();
    let (message, message_truncated) =
        capture_text(error, limits.max_message_bytes, |e, w| write!(w, "{e}"));
    let mut chain = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        if chain.len() == limits.max_chain_len {
            break;
        }
        let (text, _) = capture_text(cause, limits.max_message_bytes / 4, |e, w| write!(w, "{e}"));
        chain.push(text);
        source = cause.source();
    }
    Outcome::Error(Box::new(Failure::captured(
        type_name,
        (message, message_truncated),
        chain,
    )))
}

fn text_failure<E: ?Sized>(
    type_name: &'static str,
    error: &E,
    format: impl Fn(&E, &mut dyn Write) -> std::fmt::Result,
) -> Outcome {
    let limits = current_limits();
    let staged = stage(type_name, |w| {
        w.message(error, limits.max_message_bytes, &format);
    });
    match staged {
        Some(staged) => Outcome::Staged(staged),
        None => {
            let (message, message_truncated) =
                capture_text(error, limits.max_message_bytes, |e, w| format(e, w));
            Outcome::Error(Box::new(Failure::captured(
                type_name,
                (message, message_truncated),
                Vec::new(),
            )))
        }
    }
}

#[cfg(test)]
// The borrows select the impl (autoref specialisation); they are the point.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;
    use std::fmt;

    fn message(outcome: Outcome) -> Failure {
        match outcome {
            Outcome::Error(failure) => *failure,
            Outcome::Staged(staged) => staged.into_failure(),
            Outcome::Carried(carried) => match carried.into_staged() {
                Ok(staged) => staged.into_failure(),
                Err(failure) => *failure,
            },
            Outcome::Success => panic!("expected an error"),
        }
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn errors_carry_their_source_chain() {
        let value: Result<(), Outer> = Err(Outer(std::io::Error::other("disk gone")));
        let failure = message((&&&&&&&&Classify(&value)).__monitor_outcome());
        assert_eq!(failure.message, "outer failed");
        assert_eq!(failure.chain, vec!["disk gone".to_owned()]);
        assert!(failure.error_type.ends_with("Outer"));
    }

    #[test]
    fn display_then_debug_then_type_name() {
        let displayed: Result<u8, &str> = Err("plain text");
        assert_eq!(
            message((&&&&&&&&Classify(&displayed)).__monitor_outcome()).message,
            "plain text"
        );
        #[derive(Debug)]
        struct OnlyDebug;
        let debugged: Result<u8, OnlyDebug> = Err(OnlyDebug);
        assert_eq!(
            message((&&&&&&&&Classify(&debugged)).__monitor_outcome()).message,
            "OnlyDebug"
        );
        struct Nothing;
        let bare: Result<u8, Nothing> = Err(Nothing);
        assert!(message((&&&&&&&&Classify(&bare)).__monitor_outcome())
            .message
            .ends_with("Nothing"));
    }

    #[test]
    fn boxed_errors_and_non_results() {
        let boxed: Result<(), Box<dyn Error + Send + Sync>> = Err("boxed".into());
        assert_eq!(
            message((&&&&&&&&Classify(&boxed)).__monitor_outcome()).message,
            "boxed"
        );
        let plain_box: Result<(), Box<dyn Error>> = Err("plain".into());
        assert_eq!(
            message((&&&&&&&&Classify(&plain_box)).__monitor_outcome()).message,
            "plain"
        );
        let ok: Result<u8, std::io::Error> = Ok(1);
        assert_eq!(
            (&&&&&&&&Classify(&ok)).__monitor_outcome(),
            Outcome::Success
        );
        let none: Option<u8> = None;
        assert_eq!(
            (&&&&&&&&Classify(&none)).__monitor_outcome(),
            Outcome::Success
        );
    }
}
