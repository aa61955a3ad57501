//! Capped text capture: formatting that stops keeping bytes at a limit and
//! never lets a panicking `Display` impl reach the host.

use std::fmt::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a formatting that panicked leaves instead of its text.
pub(crate) const FORMAT_PANICKED: &str = "<the error's formatting panicked>";

/// A `fmt::Write` that keeps at most `limit` bytes (on a char boundary) and
/// remembers whether anything was cut.
pub(crate) struct CappedWriter {
    pub(crate) text: String,
    limit: usize,
    pub(crate) truncated: bool,
}

impl CappedWriter {
    pub(crate) fn new(limit: usize) -> Self {
        CappedWriter {
            // Most messages fit: one allocation instead of a few regrowths.
            text: String::with_capacity(limit.min(128)),
            limit,
            truncated: false,
        }
    }
}

impl Write for CappedWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Err(fmt::Error);
        }
        let room = self.limit - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
            Ok(())
        } else {
            self.text.push_str(prefix_within(s, room));
            self.truncated = true;
            // Stop the formatter early: a 1 MB message costs no more than the cap.
            Err(fmt::Error)
        }
    }
}

/// Formats `value` with `format` into at most `limit` bytes. A panic inside the
/// formatting is caught and reported in the text instead.
pub(crate) fn capture_text<T: ?Sized>(
    value: &T,
    limit: usize,
    format: impl FnOnce(&T, &mut CappedWriter) -> fmt::Result,
) -> (String, bool) {
    let writer = capture_with(CappedWriter::new(limit), value, format);
    (writer.text, writer.truncated)
}

/// [`capture_text`] into `text`, emptied first, whose memory is reused (no
/// allocation once it is big enough); returns whether the text was cut.
pub(crate) fn capture_text_into<T: ?Sized>(
    text: &mut String,
    value: &T,
    limit: usize,
    format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
) -> bool {
    let mut reused = std::mem::take(text);
    reused.clear();
    let writer = CappedWriter {
        text: reused,
        limit,
        truncated: false,
    };
    let writer = capture_with(writer, value, |value, writer| format(value, writer));
    *text = writer.text;
    writer.truncated
}

fn capture_with<T: ?Sized>(
    mut writer: CappedWriter,
    value: &T,
    format: impl FnOnce(&T, &mut CappedWriter) -> fmt::Result,
) -> CappedWriter {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _ = format(value, &mut writer);
    }));
    if result.is_err() {
        writer.text.clear();
        writer.truncated = false;
        writer.text.push_str(FORMAT_PANICKED);
    }
    writer
}

/// Cuts `text` to at most `limit` bytes on a char boundary.
pub(crate) fn cap_string(mut text: String, limit: usize) -> (String, bool) {
    let kept = prefix_within(&text, limit).len();
    let truncated = kept < text.len();
    text.truncate(kept);
    (text, truncated)
}

/// The longest start of `s` of at most `room` bytes that ends on a char
/// boundary (all of `s` when it fits).
#[inline]
pub(crate) fn prefix_within(s: &str, room: usize) -> &str {
    if s.len() <= room {
        return s;
    }
    let mut cut = room;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_char_boundary_and_marked() {
        let long = "é".repeat(100);
        let (text, truncated) = capture_text(&long, 5, |v, w| write!(w, "{v}"));
        assert_eq!(text, "éé");
        assert!(truncated);
    }

    #[test]
    fn a_panicking_display_is_contained() {
        struct Bad;
        impl fmt::Display for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("display panicked")
            }
        }
        let (text, _) = capture_text(&Bad, 100, |v, w| write!(w, "{v}"));
        assert!(text.contains("panicked"));
        let mut reused = String::from("earlier text");
        assert!(!capture_text_into(&mut reused, &Bad, 100, |v, w| write!(
            w,
            "{v}"
        )));
        assert_eq!(reused, FORMAT_PANICKED);
    }

    #[test]
    fn text_into_a_string_reuses_its_memory_and_is_cut_alike() {
        let mut reused = String::with_capacity(64);
        reused.push_str("earlier");
        let capacity = reused.capacity();
        let long = "é".repeat(100);
        assert!(capture_text_into(&mut reused, &long, 5, |v, w| write!(
            w,
            "{v}"
        )));
        assert_eq!((reused.as_str(), reused.capacity()), ("éé", capacity));
        assert!(!capture_text_into(&mut reused, "short", 5, |v, w| w.write_str(v)));
        assert_eq!(reused, "short");
    }
}
