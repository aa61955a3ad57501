//! Where an error's details (message, `source()` chain) are written: the
//! same code ([`write_error_details`](super::classify)) fills a record in the
//! thread's stage on the caller ([`StageWriter`](super::staged::StageWriter))
//! or, for an error the collector formats (`capture/deferred.rs`), the
//! collector's reused [`Failure`] directly ([`FailureWriter`]), with no
//! record between them to encode and decode.

use std::borrow::Cow;
use std::fmt::{self, Write};

use super::capped_text::capture_text_into;
use super::Failure;

/// A place for an error's message and its `source()` entries, each cut at a
/// limit; a panic inside a formatting is caught and written as
/// [`FORMAT_PANICKED`](super::capped_text::FORMAT_PANICKED) instead.
pub(crate) trait DetailsWriter {
    /// Writes the message: `format` of `value`, cut at `limit` bytes.
    fn message<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    );

    /// Appends one `source()` entry, cut at `limit` bytes.
    fn cause<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    );
}

/// Writes an error's details straight into a [`Failure`], reusing the
/// memory of its message and chain entries.
pub(crate) struct FailureWriter<'a> {
    failure: &'a mut Failure,
    /// Chain entries written so far (the rest are dropped by `finish`).
    causes: usize,
}

impl<'a> FailureWriter<'a> {
    /// Starts the details of an error of `type_name` in `failure`: no
    /// message, chain, stack trace or location yet.
    pub(crate) fn new(failure: &'a mut Failure, type_name: &'static str) -> Self {
        failure.error_type = Cow::Borrowed(type_name);
        failure.message.clear();
        failure.message_truncated = false;
        failure.stack_trace = None;
        failure.location = None;
        failure.unresolved_trace = None;
        FailureWriter { failure, causes: 0 }
    }

    /// Forgets what was written, to write again (after a panic).
    pub(crate) fn restart(&mut self) {
        self.failure.message.clear();
        self.failure.message_truncated = false;
        self.causes = 0;
    }

    /// Ends the details: drops chain entries left from an earlier error.
    pub(crate) fn finish(self) {
        self.failure.chain.truncate(self.causes);
    }
}

impl DetailsWriter for FailureWriter<'_> {
    fn message<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    ) {
        self.failure.message_truncated =
            capture_text_into(&mut self.failure.message, value, limit, format);
    }

    fn cause<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    ) {
        let chain = &mut self.failure.chain;
        if chain.len() == self.causes {
            chain.push(String::new());
        }
        capture_text_into(&mut chain[self.causes], value, limit, format);
        self.causes += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::capped_text::FORMAT_PANICKED;

    #[test]
    fn details_replace_an_earlier_failures_and_reuse_its_memory() {
        let mut failure = Failure {
            error_type: "old".into(),
            message: String::with_capacity(64),
            message_truncated: true,
            chain: vec!["a".to_owned(), "b".to_owned(), "c".to_owned()],
            stack_trace: Some("trace".to_owned()),
            location: Some("here".to_owned()),
            ..Failure::default()
        };
        let capacity = failure.message.capacity();
        let mut writer = FailureWriter::new(&mut failure, "new::Error");
        writer.message("a long message", 6, |text, w| w.write_str(text));
        writer.cause("first cause", 100, |text, w| w.write_str(text));
        writer.finish();
        assert_eq!(failure.error_type, "new::Error");
        assert_eq!(
            (failure.message.as_str(), failure.message_truncated),
            ("a long", true)
        );
        assert_eq!(failure.message.capacity(), capacity);
        assert_eq!(failure.chain, ["first cause"]);
        assert!(failure.stack_trace.is_none() && failure.location.is_none());
    }

    #[test]
    fn a_panicking_display_is_written_as_such_and_restart_forgets() {
        struct Bad;
        impl fmt::Display for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("display panicked")
            }
        }
        let mut failure = Failure::default();
        let mut writer = FailureWriter::new(&mut failure, "t");
        writer.message(&Bad, 100, |bad, w| write!(w, "{bad}"));
        writer.cause(&Bad, 100, |bad, w| write!(w, "{bad}"));
        writer.finish();
        assert_eq!(failure.message, FORMAT_PANICKED);
        assert_eq!(failure.chain, [FORMAT_PANICKED]);
        let mut writer = FailureWriter::new(&mut failure, "t");
        writer.message("x", 100, |text, w| w.write_str(text));
        writer.cause("y", 100, |text, w| w.write_str(text));
        writer.restart();
        writer.message("z", 100, |text, w| w.write_str(text));
        writer.finish();
        assert_eq!((failure.message.as_str(), failure.chain.len()), ("z", 0));
    }
}
