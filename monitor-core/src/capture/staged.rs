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
//! | 1 | the record's kind: 0 text, 1 deferred |
//!
//! A *text* record goes on with the formatted details:
//!
//! | bytes | what |
//! | --- | --- |
//! | 2 × word | the error type name: a `&'static str`'s address and length |
//! | 1 | whether the message was cut at the limit |
//! | 4 | how many `source()` entries follow the message |
//! | 4 + n | the message |
//! | (4 + n) each | the chain, outermost first |
//!
//! A *deferred* record (`capture/deferred.rs`) carries the error itself, to
//! be formatted by the collector (which knows its type name), and nothing
//! else: 27 bytes for an 8-byte error.
//!
//! | bytes | what |
//! | --- | --- |
//! | word | the address of the function that formats it ([`FormatDeferred`]) |
//! | `size_of::<E>()` | a clone of the error, moved bitwise |
//!
//! The bytes are `MaybeUninit<u8>` from the stage to the collector: a moved
//! value's padding is uninitialised, so the byte ring and the records are
//! never read as `u8` beyond what was written from integers and text.
//!
//! The execution's id makes the collector skip the record of an event that
//! was dropped after its bytes went in (a full event ring): it reads records
//! until one carries the id of the event it holds.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{self, Write};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::details::DetailsWriter;
use super::Failure;
use crate::local_id::LocalId;

/// A byte of a record: possibly uninitialised (a deferred error's padding).
pub(crate) type Byte = MaybeUninit<u8>;

const WORD: usize = std::mem::size_of::<usize>();
const ID_AT: usize = 4;
const KIND_AT: usize = ID_AT + 6;
const TYPE_AT: usize = KIND_AT + 1;
const TRUNCATED_AT: usize = TYPE_AT + 2 * WORD;
const CHAIN_COUNT_AT: usize = TRUNCATED_AT + 1;
/// The fixed part of a record, before the message.
pub(crate) const HEADER: usize = CHAIN_COUNT_AT + 4;

const KIND_TEXT: u8 = 0;
const KIND_DEFERRED: u8 = 1;
/// The part every record starts with: length, id, kind.
const COMMON: usize = KIND_AT + 1;
const FORMAT_AT: usize = COMMON;
/// Where a deferred record's value starts.
pub(crate) const DEFERRED_VALUE_AT: usize = FORMAT_AT + WORD;
/// The longest deferred record: errors whose clone does not fit are
/// formatted on the caller.
pub(crate) const DEFERRED_MAX: usize = DEFERRED_VALUE_AT + 128;

/// Formats the deferred error at `value` into `into` (its details only:
/// type, message and chain; no stack trace), reusing its memory.
///
/// # Safety
///
/// `value` must point at `size_of::<E>()` bytes moved from a value of the
/// `E` the function was instantiated for, that no one else reads as a value.
pub(crate) type FormatDeferred = unsafe fn(value: *const u8, into: &mut Failure);

use super::capped_text::prefix_within;
pub(crate) use super::capped_text::FORMAT_PANICKED;

thread_local! {
    /// The record being built for this thread's latest `Err`.
    static STAGE: RefCell<Stage> = const { RefCell::new(Stage::new()) };
}

/// This thread's latest `Err`: a text record, or a deferred one.
struct Stage {
    text: Vec<u8>,
    /// Starts zeroed: the header's length and id are written only by
    /// [`with_record`], but [`Staged::into_failure`] reads the header as
    /// `u8` before it (the first deferred error of a thread, with a stack
    /// trace or fields). Only a value's bytes (its padding) may be
    /// uninitialised.
    deferred: [Byte; DEFERRED_MAX],
    /// The deferred record's length; 0 when the latest record is text.
    deferred_len: usize,
    /// The deferred error's shape for the trace gate (not in the record:
    /// only the caller asks for it).
    deferred_shape: u64,
}

impl Stage {
    const fn new() -> Self {
        Stage {
            text: Vec::new(),
            deferred: [MaybeUninit::new(0); DEFERRED_MAX],
            deferred_len: 0,
            deferred_shape: 0,
        }
    }
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

impl DetailsWriter for StageWriter<'_> {
    fn message<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    ) {
        let truncated = self.text(value, limit, format);
        self.out[TRUNCATED_AT] = u8::from(truncated);
    }

    fn cause<T: ?Sized>(
        &mut self,
        value: &T,
        limit: usize,
        format: impl FnOnce(&T, &mut dyn Write) -> fmt::Result,
    ) {
        self.text(value, limit, format);
        let count = read_u32(self.out, CHAIN_COUNT_AT) + 1;
        self.out[CHAIN_COUNT_AT..CHAIN_COUNT_AT + 4].copy_from_slice(&count.to_ne_bytes());
    }
}

impl StageWriter<'_> {
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
        self.out
            .extend_from_slice(prefix_within(s, self.room).as_bytes());
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
            let mut stage = stage.try_borrow_mut().ok()?;
            stage.deferred_len = 0;
            let out = &mut stage.text;
            out.clear();
            out.resize(HEADER, 0);
            out[KIND_AT] = KIND_TEXT;
            out[TYPE_AT..TYPE_AT + WORD]
                .copy_from_slice(&(type_name.as_ptr() as usize).to_ne_bytes());
            out[TYPE_AT + WORD..TYPE_AT + 2 * WORD].copy_from_slice(&type_name.len().to_ne_bytes());
            write(&mut StageWriter { out });
            Some(Staged { type_name })
        })
        .ok()
        .flatten()
}

/// Builds a deferred record in this thread's stage: `write_value` copies
/// the error's clone (at most `len` bytes) into the slice it is given and
/// returns true, or returns false to give up (its clone panicked). `None`
/// when the stage cannot be used or `write_value` gave up.
pub(crate) fn stage_deferred(
    type_name: &'static str,
    shape: u64,
    format: FormatDeferred,
    len: usize,
    write_value: impl FnOnce(&mut [Byte]) -> bool,
) -> Option<Staged> {
    let end = DEFERRED_VALUE_AT + len;
    if end > DEFERRED_MAX {
        return None;
    }
    STAGE
        .try_with(|stage| {
            let mut stage = stage.try_borrow_mut().ok()?;
            let stage = &mut *stage;
            let record = &mut stage.deferred;
            put(record, KIND_AT, [KIND_DEFERRED]);
            put(record, FORMAT_AT, (format as usize).to_ne_bytes());
            stage.deferred_len = 0;
            stage.deferred_shape = shape;
            if !write_value(&mut record[DEFERRED_VALUE_AT..end]) {
                return None;
            }
            stage.deferred_len = end;
            Some(Staged { type_name })
        })
        .ok()
        .flatten()
}

/// Runs `f` while this thread's stage is in use (tests of the fallbacks).
#[cfg(test)]
pub(crate) fn with_stage_in_use<R>(f: impl FnOnce() -> R) -> R {
    STAGE.with(|stage| {
        let _held = stage.borrow_mut();
        f()
    })
}

/// Writes `bytes` into `record` at `at`.
#[inline(always)]
fn put<const N: usize>(record: &mut [Byte], at: usize, bytes: [u8; N]) {
    let slots = &mut record[at..at + N];
    // SAFETY: `slots` is exactly `N` bytes long (the indexing checked it) and
    // cannot overlap `bytes`, a local; writing initialised bytes into
    // `MaybeUninit<u8>` slots is always allowed.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), slots.as_mut_ptr().cast::<u8>(), N) };
}

/// Hands the staged record, stamped with the execution's `id`, to `use_it`
/// (which copies it into the byte ring). `None` if there is none to give.
pub(crate) fn with_record<R>(id: LocalId, use_it: impl FnOnce(&[Byte]) -> R) -> Option<R> {
    STAGE
        .try_with(|stage| {
            let mut stage = stage.try_borrow_mut().ok()?;
            let stage = &mut *stage;
            let record = if stage.deferred_len > 0 {
                &mut stage.deferred[..stage.deferred_len]
            } else if stage.text.len() >= HEADER {
                // SAFETY: the only writes through the view are the `put`s
                // below, of initialised bytes.
                unsafe { as_bytes_maybe_uninit(&mut stage.text) }
            } else {
                return None;
            };
            put(record, 0, (record.len() as u32).to_ne_bytes());
            put(record, ID_AT, id.thread.to_ne_bytes());
            put(record, ID_AT + 2, id.sequence.to_ne_bytes());
            Some(use_it(record))
        })
        .ok()
        .flatten()
}

/// `bytes` seen as possibly uninitialised bytes.
///
/// # Safety
///
/// Only initialised bytes may be written through the view (with [`put`]):
/// `bytes` must stay initialised.
unsafe fn as_bytes_maybe_uninit(bytes: &mut [u8]) -> &mut [Byte] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8` and every `u8` is a
    // valid one; the caller keeps every byte initialised.
    unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<Byte>(), bytes.len()) }
}

/// The first `len` bytes of `record`, which were written from integers.
///
/// # Safety
///
/// Every one of those bytes must have been initialised.
unsafe fn assume_init(record: &[Byte], len: usize) -> &[u8] {
    let prefix = &record[..len];
    // SAFETY: the caller says these bytes are initialised; `MaybeUninit<u8>`
    // has the layout of `u8`.
    unsafe { std::slice::from_raw_parts(prefix.as_ptr().cast::<u8>(), prefix.len()) }
}

impl Staged {
    /// The staged error's shape (`trace_gate.rs`): its type and message.
    pub(crate) fn shape(&self) -> u64 {
        STAGE
            .try_with(|stage| {
                let stage = stage.try_borrow().ok()?;
                if stage.deferred_len > 0 {
                    return Some(stage.deferred_shape);
                }
                let out = &stage.text;
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
                let mut stage = stage.try_borrow_mut().ok()?;
                if stage.deferred_len > 0 {
                    let len = std::mem::take(&mut stage.deferred_len);
                    // SAFETY: the stage held a whole deferred record (its
                    // length and id zeroed if `with_record` never stamped
                    // one, see `Stage::new`), and taking its length leaves
                    // no one else to read it.
                    unsafe { format_deferred_record(&stage.deferred[..len], &mut failure) };
                    return Some(());
                }
                let out = &stage.text;
                (out.len() >= HEADER).then(|| decode_text(out, &mut failure))
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

/// The execution id a record belongs to.
pub(crate) fn record_id(record: &[Byte]) -> LocalId {
    // SAFETY: every record starts with its length, id and kind, written
    // from integers.
    let header = unsafe { assume_init(record, COMMON) };
    LocalId {
        thread: u16::from_ne_bytes([header[ID_AT], header[ID_AT + 1]]),
        sequence: read_u32(header, ID_AT + 2),
    }
}

/// Decodes the whole `record` (read from a byte ring) into `into`, reusing
/// its strings' memory (a deferred error is formatted straight into it).
/// `into` gets no stack trace.
///
/// # Safety
///
/// `record` must be one whole record as [`with_record`] gave it, read once:
/// a deferred record's value is moved out of it.
pub(crate) unsafe fn decode(record: &[Byte], into: &mut Failure) {
    // SAFETY: every record starts with its length, id and kind, written
    // from integers.
    let header = unsafe { assume_init(record, COMMON) };
    if header[KIND_AT] == KIND_DEFERRED {
        // SAFETY: the caller gives a whole record, once.
        unsafe { format_deferred_record(record, into) };
        return;
    }
    // SAFETY: a text record is written entirely from bytes (`stage`).
    decode_text(unsafe { assume_init(record, record.len()) }, into);
}

/// Formats the error carried in an event's word (`capture/deferred.rs`)
/// straight into `into`, reusing its memory.
///
/// # Safety
///
/// `format` must be the address of the [`FormatDeferred`] instantiated for
/// the type whose bytes `value` holds, and `value` read once.
pub(crate) unsafe fn decode_carried(format: usize, value: &MaybeUninit<u64>, into: &mut Failure) {
    // SAFETY: the caller's promise: a `FormatDeferred` of this process.
    let format: FormatDeferred = unsafe { std::mem::transmute::<usize, FormatDeferred>(format) };
    // SAFETY: the value's bytes, of the type `format` reads, read once.
    unsafe { format(value.as_ptr().cast::<u8>(), into) };
}

/// Formats the deferred `record`'s error straight into `into`.
///
/// # Safety
///
/// `record` must be one whole deferred record from [`stage_deferred`],
/// whose value no one else reads.
unsafe fn format_deferred_record(record: &[Byte], into: &mut Failure) {
    // SAFETY: a deferred record's length, id, kind and function address are
    // written from integers (the length and id start zeroed, `Stage::new`).
    let header = unsafe { assume_init(record, DEFERRED_VALUE_AT) };
    let format = read_word(header, FORMAT_AT);
    // SAFETY: `stage_deferred` wrote this address from a `FormatDeferred`
    // of this process (records never leave it), the one instantiated for
    // the type whose value follows.
    let format: FormatDeferred = unsafe { std::mem::transmute::<usize, FormatDeferred>(format) };
    // SAFETY: the value's bytes follow the header, moved from a clone that
    // only this record holds (the caller's promise).
    unsafe { format(record[DEFERRED_VALUE_AT..].as_ptr().cast::<u8>(), into) };
}

/// Decodes a text `record` into `into`, reusing its strings' memory (its
/// execution id is read by [`record_id`]).
fn decode_text(record: &[u8], into: &mut Failure) {
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
        let record = with_record(id, <[Byte]>::to_vec).expect("a record");
        // SAFETY: a record's header is written from integers.
        let prefix = unsafe { assume_init(&record, 4) };
        assert_eq!(record_len(prefix.try_into().unwrap()), record.len());
        let mut failure = Failure {
            chain: vec!["old".into(), "older".into(), "oldest".into()],
            ..Failure::default()
        };
        let got = record_id(&record);
        // SAFETY: a whole record, decoded once.
        unsafe { decode(&record, &mut failure) };
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
    fn a_fresh_stage_has_an_initialised_deferred_header() {
        // `Staged::shape` and `Staged::into_failure` read a deferred
        // record's header as `u8` before `with_record` stamped its length
        // and id (the first deferred error of a thread with a stack trace
        // or fields). Const evaluation rejects reading an uninitialised
        // byte, so this fails to build if the header starts uninitialised.
        const FRESH_HEADER: [u8; DEFERRED_VALUE_AT] = {
            let stage = Stage::new();
            let mut header = [0xff; DEFERRED_VALUE_AT];
            let mut at = 0;
            while at < DEFERRED_VALUE_AT {
                // SAFETY: what this checks: `Stage::new` initialises the
                // header (const evaluation would reject it otherwise).
                header[at] = unsafe { stage.deferred[at].assume_init() };
                at += 1;
            }
            std::mem::forget(stage);
            header
        };
        assert_eq!(FRESH_HEADER, [0; DEFERRED_VALUE_AT]);
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
