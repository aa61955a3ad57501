//! An `Err`'s details as bytes: formatted into a reusable thread-local
//! buffer on the caller, copied into the thread's byte ring beside its event
//! ring (`queue.rs`), decoded by the collector. No allocation at steady
//! state on either side.
//!
//! A record, in native byte order (it never leaves the process):
//!
//! | bytes | what |
//! | --- | --- |
//! | 4 | the record's length, header included |
//! | 2 + 4 | the execution's thread number and sequence ([`LocalId`]) |
//! | 2 × word | the error type name: a `&'static str`'s address and length |
//! | 1 | whether the message was cut at the limit |
//! | 4 | how many `source()` entries follow the message |
//! | 4 + n | the message |
//! | (4 + n) each | the chain, outermost first |
//!
//! The execution's id makes the collector skip the record of an event that
//! was dropped after its bytes went in (a full event ring): it reads records
//! until one carries the id of the event it holds.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::Failure;
use crate::local_id::LocalId;

const WORD: usize = std::mem::size_of::<usize>();
const ID_AT: usize = 4;
const TYPE_AT: usize = ID_AT + 6;
const TRUNCATED_AT: usize = TYPE_AT + 2 * WORD;
const CHAIN_COUNT_AT: usize = TRUNCATED_AT + 1;
/// The fixed part of a record, before the message.
pub(crate) const HEADER: usize = CHAIN_COUNT_AT + 4;

/// What a formatting that panicked leaves instead of its text (the same
/// words the boxed path used).
const FORMAT_PANICKED: &str = "<the error's formatting panicked>";

thread_local! {
    /// The record being built for this thread's latest `Err`.
    static STAGE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// An `Err` whose details wait in this thread's stage (the token
/// [`Outcome::Error`](super::Outcome) carries instead of a boxed
/// [`Failure`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Staged {
    pub(crate) type_name: &'static str,
}

/// Builds one record in the stage.
pub(crate) struct StageWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl StageWriter<'_> {
    /// Writes the message: `format` of `value`, cut at `limit` bytes.
    pub(crate) fn message<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    ) {
        let truncated = self.text(value, limit, format);
        self.out[TRUNCATED_AT] = u8::from(truncated);
    }

    /// Appends one `source()` entry, cut at `limit` bytes.
    pub(crate) fn cause<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    ) {
        self.text(value, limit, format);
        let count = read_u32(self.out, CHAIN_COUNT_AT) + 1;
        self.out[CHAIN_COUNT_AT..CHAIN_COUNT_AT + 4].copy_from_slice(&count.to_ne_bytes());
    }

    /// A length-prefixed text; true when it was cut. A panic inside the
    /// formatting is caught and reported in the text instead.
    fn text<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    ) -> bool {
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        let mut writer = CappedBytes {
            out: &mut *self.out,
            room: limit,
            truncated: false,
        };
        let formatted = catch_unwind(AssertUnwindSafe(|| {
            let _ = format(value, &mut writer);
        }));
        let mut truncated = writer.truncated;
        if formatted.is_err() {
            self.out.truncate(at + 4);
            self.out.extend_from_slice(FORMAT_PANICKED.as_bytes());
            truncated = false;
        }
        let len = (self.out.len() - at - 4) as u32;
        self.out[at..at + 4].copy_from_slice(&len.to_ne_bytes());
        truncated
    }
}

/// A `fmt::Write` into the stage that keeps at most `room` bytes (cut on a
/// char boundary) and stops the formatter there.
struct CappedBytes<'a> {
    out: &'a mut Vec<u8>,
    room: usize,
    truncated: bool,
}

impl Write for CappedBytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Err(fmt::Error);
        }
        if s.len() <= self.room {
            self.out.extend_from_slice(s.as_bytes());
            self.room -= s.len();
            return Ok(());
        }
        let mut cut = self.room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.out.extend_from_slice(&s.as_bytes()[..cut]);
        self.room = 0;
        self.truncated = true;
        // Stop the formatter early: a 1 MB message costs no more than the cap.
        Err(fmt::Error)
    }
}

/// Builds a record for an `Err` of `type_name` in this thread's stage.
/// `None` when the stage cannot be used (thread-local storage torn down at
/// thread exit, or an error's `Display` that fails a monitored function
/// while its own error is being staged): the caller boxes a [`Failure`].
pub(crate) fn stage(
    type_name: &'static str,
    write: impl FnOnce(&mut StageWriter<'_>),
) -> Option<Staged> {
    STAGE
        .try_with(|stage| {
            let mut out = stage.try_borrow_mut().ok()?;
            out.clear();
            out.resize(HEADER, 0);
            out[TYPE_AT..TYPE_AT + WORD]
                .copy_from_slice(&(type_name.as_ptr() as usize).to_ne_bytes());
            out[TYPE_AT + WORD..TYPE_AT + 2 * WORD].copy_from_slice(&type_name.len().to_ne_bytes());
            write(&mut StageWriter { out: &mut out });
            Some(Staged { type_name })
        })
        .ok()
        .flatten()
}

/// Hands the staged record, stamped with the execution's `id`, to `use_it`
/// (which copies it into the byte ring). `None` if there is none to give.
pub(crate) fn with_record<R>(id: LocalId, use_it: impl FnOnce(&[u8]) -> R) -> Option<R> {
    STAGE
        .try_with(|stage| {
            let mut out = stage.try_borrow_mut().ok()?;
            if out.len() < HEADER {
                return None;
            }
            let len = out.len() as u32;
            out[..4].copy_from_slice(&len.to_ne_bytes());
            out[ID_AT..ID_AT + 2].copy_from_slice(&id.thread.to_ne_bytes());
            out[ID_AT + 2..ID_AT + 6].copy_from_slice(&id.sequence.to_ne_bytes());
            Some(use_it(&out))
        })
        .ok()
        .flatten()
}

impl Staged {
    /// The staged error's shape (`trace_gate.rs`): its type and message.
    pub(crate) fn shape(&self) -> u64 {
        STAGE
            .try_with(|stage| {
                let out = stage.try_borrow().ok()?;
                let len = read_u32(out.get(..HEADER + 4)?, HEADER) as usize;
                let message = out.get(HEADER + 4..HEADER + 4 + len)?;
                Some(super::trace_gate::shape_of(self.type_name, message))
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| super::trace_gate::shape_of(self.type_name, b""))
    }

    /// The staged details as an owned [`Failure`] (without a stack trace):
    /// for the rare errors that travel boxed (with a trace, with context
    /// fields, or when the byte ring is full).
    pub(crate) fn into_failure(self) -> Failure {
        let mut failure = Failure::default();
        let decoded = STAGE
            .try_with(|stage| {
                let out = stage.try_borrow().ok()?;
                (out.len() >= HEADER).then(|| decode(&out, &mut failure))
            })
            .ok()
            .flatten();
        if decoded.is_none() {
            failure.error_type = Cow::Borrowed(self.type_name);
            failure.message = self.type_name.to_owned();
        }
        failure
    }
}

/// The total length of the record starting with `prefix` (its first 4 bytes).
pub(crate) fn record_len(prefix: [u8; 4]) -> usize {
    u32::from_ne_bytes(prefix) as usize
}

/// Decodes `record` into `into`, reusing its strings' memory; returns the
/// execution id the record belongs to. `into` gets no stack trace.
pub(crate) fn decode(record: &[u8], into: &mut Failure) -> LocalId {
    let id = LocalId {
        thread: u16::from_ne_bytes([record[ID_AT], record[ID_AT + 1]]),
        sequence: read_u32(record, ID_AT + 2),
    };
    let type_ptr = read_word(record, TYPE_AT) as *const u8;
    let type_len = read_word(record, TYPE_AT + WORD);
    // SAFETY: the address and length were written by `stage` from a
    // `&'static str` of this process (records never leave it), so they
    // describe valid UTF-8 that lives for the rest of the program.
    let type_name: &'static str =
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(type_ptr, type_len)) };
    into.error_type = Cow::Borrowed(type_name);
    into.message_truncated = record[TRUNCATED_AT] != 0;
    let chain_len = read_u32(record, CHAIN_COUNT_AT) as usize;
    let mut at = HEADER;
    let mut next_text = || {
        let len = read_u32(record, at) as usize;
        let text = &record[at + 4..at + 4 + len];
        at += 4 + len;
        // Cut on char boundaries when written: valid UTF-8 (checked anyway).
        match std::str::from_utf8(text) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(text),
        }
    };
    into.message.clear();
    into.message.push_str(&next_text());
    for index in 0..chain_len {
        let text = next_text();
        match into.chain.get_mut(index) {
            Some(slot) => {
                slot.clear();
                slot.push_str(&text);
            }
            None => into.chain.push(text.into_owned()),
        }
    }
    into.chain.truncate(chain_len);
    into.stack_trace = None;
    into.location = None;
    into.unresolved_trace = None;
    id
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_ne_bytes(raw)
}

fn read_word(bytes: &[u8], at: usize) -> usize {
    let mut raw = [0; WORD];
    raw.copy_from_slice(&bytes[at..at + WORD]);
    usize::from_ne_bytes(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_failure(write: impl FnOnce(&mut StageWriter<'_>)) -> (Failure, LocalId) {
        let staged = stage("app::Error", write).expect("the stage is free");
        let id = LocalId {
            thread: 7,
            sequence: 99,
        };
        let record = with_record(id, <[u8]>::to_vec).expect("a record");
        assert_eq!(record_len(record[..4].try_into().unwrap()), record.len());
        let mut failure = Failure {
            chain: vec!["old".into(), "older".into(), "oldest".into()],
            ..Failure::default()
        };
        let got = decode(&record, &mut failure);
        assert_eq!(staged.type_name, "app::Error");
        (failure, got)
    }

    #[test]
    fn a_record_carries_type_message_chain_and_id() {
        let (failure, id) = staged_failure(|w| {
            w.message("outer failed", 100, |v, out| out.write_str(v));
            w.cause("disk gone", 25, |v, out| out.write_str(v));
        });
        assert_eq!(failure.error_type, "app::Error");
        assert_eq!(failure.message, "outer failed");
        assert!(!failure.message_truncated);
        assert_eq!(failure.chain, vec!["disk gone".to_owned()]);
        assert_eq!((id.thread, id.sequence), (7, 99));
    }

    #[test]
    fn text_is_cut_on_a_char_boundary_and_marked() {
        let long = "é".repeat(100);
        let (failure, _) = staged_failure(|w| w.message(&long, 5, |v, out| write!(out, "{v}")));
        assert_eq!(failure.message, "éé");
        assert!(failure.message_truncated);
        assert!(failure.chain.is_empty());
    }

    #[test]
    fn a_panicking_display_is_contained() {
        struct Bad;
        impl fmt::Display for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("display panicked")
            }
        }
        let (failure, _) = staged_failure(|w| {
            w.message(&Bad, 100, |v, out| write!(out, "{v}"));
            w.cause(&Bad, 100, |v, out| write!(out, "{v}"));
        });
        assert_eq!(failure.message, FORMAT_PANICKED);
        assert_eq!(failure.chain, vec![FORMAT_PANICKED.to_owned()]);
    }

    #[test]
    fn into_failure_reads_the_stage() {
        let staged = stage("app::Error", |w| {
            w.message("boom", 100, |v, out| out.write_str(v))
        })
        .expect("the stage is free");
        let failure = staged.into_failure();
        assert_eq!(failure.message, "boom");
        assert_eq!(failure.error_type, "app::Error");
    }
}
