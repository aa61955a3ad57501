//! Error fingerprints: the error's type plus its message with numbers and
//! ids normalised away, so "timeout after 1503 ms" and "timeout after 998 ms"
//! are one pattern.
//!
//! The message is cut into words (letters, digits, `-`, `_`) and the rest.
//! A word that is a UUID becomes `<id>`; any other word is cut at `-` and
//! `_`, and each part is judged on its own:
//!
//! | part | becomes | examples |
//! |---|---|---|
//! | digits only | `<n>` | `42`, `2024` |
//! | `0x` and hex digits | `<hex>` | `0xdeadbeef` |
//! | 8 or more hex digits, at least one a digit | `<hex>` | `3f2a9c1b`, a git hash |
//! | starts with a digit | each run of digits `<n>` | `5ms` → `<n>ms`, `12T08` → `<n>T<n>` |
//! | starts with a letter | kept | `line1`, `sha256`, `v2`, `ipv4` |
//!
//! So `user_42` → `user_<n>` and `req-7f3a9c1b` → `req-<hex>`, while a word
//! that merely ends in a digit (`line1`) stays a word.

use serde::{Deserialize, Serialize};

use super::ErrorPattern;
use crate::execution_id::ExecutionId;
use crate::timestamp::Timestamp;

/// Most patterns kept per function; failures of further new patterns are still
/// counted in the statistics but raise no new-pattern alert.
pub(crate) const MAX_PATTERNS: usize = 100;

/// Fingerprints are cut after this many bytes of normalised message.
const MAX_FINGERPRINT: usize = 512;

/// `std::io::error::Error` + `"read 42 bytes from 0xdeadbeef"` →
/// `std::io::error::Error: read <n> bytes from <hex>`.
pub(crate) fn fingerprint(error_type: &str, message: &str) -> String {
    let mut out = String::with_capacity(error_type.len() + 2 + message.len().min(256));
    fingerprint_into(error_type, message, &mut out);
    out
}

/// [`fingerprint`] into `out` (cleared first), reusing its memory.
pub(crate) fn fingerprint_into(error_type: &str, message: &str, out: &mut String) {
    out.clear();
    out.push_str(error_type);
    out.push_str(": ");
    if message.is_ascii() {
        // Normalising makes no byte more than three (`5` → `<n>`): with
        // room for three times the message the cap cannot be reached.
        if out.len() + 3 * message.len() <= MAX_FINGERPRINT {
            normalise_short_ascii(message, out);
        } else {
            normalise_ascii(message, out);
        }
        return;
    }
    for word in split_keep_separators(message) {
        if out.len() > MAX_FINGERPRINT {
            break;
        }
        normalise_word(word, out);
    }
}

/// A word byte (ASCII letter or digit, `-`, `_`), in [`BYTE_CLASS`].
const WORD: u8 = 1;
/// An ASCII digit (also a [`WORD`] byte).
const DIGIT: u8 = 2;

/// [`WORD`] and [`DIGIT`] of each byte (0 for every non-ASCII byte).
static BYTE_CLASS: [u8; 256] = {
    let mut class = [0; 256];
    let mut byte = 0;
    while byte < 128 {
        let b = byte as u8;
        if b.is_ascii_digit() {
            class[byte] = WORD | DIGIT;
        } else if is_word_byte(b) {
            class[byte] = WORD;
        }
        byte += 1;
    }
    class
};

/// [`normalise_ascii`] for a message too short to reach the cap: only the
/// words with a digit are looked at, found from their digits (eight bytes at
/// a time); the text between them is copied as it is.
fn normalise_short_ascii(message: &str, out: &mut String) {
    let bytes = message.as_bytes();
    let is_word = |b: u8| BYTE_CLASS[usize::from(b)] & WORD != 0;
    // `message[copied..]` is still to be appended.
    let mut copied = 0;
    while let Some(digit) = first_digit(&bytes[copied..]).map(|at| copied + at) {
        // The word the digit is in: back to its start (the byte before
        // `copied`, if any, ended the previous word: not a word byte)...
        let mut start = digit;
        while start > copied && is_word(bytes[start - 1]) {
            start -= 1;
        }
        // ...and on to its end.
        let mut end = digit + 1;
        let mut all_digits = start == digit;
        while let Some(&b) = bytes.get(end) {
            let class = BYTE_CLASS[usize::from(b)];
            if class & WORD == 0 {
                break;
            }
            all_digits &= class & DIGIT != 0;
            end += 1;
        }
        out.push_str(&message[copied..start]);
        if all_digits {
            out.push_str("<n>");
        } else {
            normalise_word(&message[start..end], out);
        }
        copied = end;
    }
    out.push_str(&message[copied..]);
}

/// Where the first ASCII digit of `bytes` (all ASCII) is.
fn first_digit(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Each byte is below 0x80, so neither sum carries into the next
        // byte: the high bit says `byte >= b'0'` in the first, `byte > b'9'`
        // in the second.
        let at_least_zero = word.wrapping_add(ONES * (0x80 - u64::from(b'0')));
        let above_nine = word.wrapping_add(ONES * (0x7f - u64::from(b'9')));
        let digits = at_least_zero & !above_nine & HIGHS;
        if digits != 0 {
            return Some(offset + (digits.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(u8::is_ascii_digit)
        .map(|at| offset + at)
}

/// The loop of [`fingerprint_into`] for an ASCII message, one pass over its
/// bytes: the same runs, judged the same way, but only a word with a digit
/// is looked at again (plain words and separators are copied in stretches).
fn normalise_ascii(message: &str, out: &mut String) {
    let bytes = message.as_bytes();
    // `message[copied..at]` is still to be appended as it is.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if out.len() + (at - copied) > MAX_FINGERPRINT {
            break;
        }
        let start = at;
        if BYTE_CLASS[usize::from(bytes[at])] & WORD == 0 {
            while at < bytes.len() && BYTE_CLASS[usize::from(bytes[at])] & WORD == 0 {
                at += 1;
            }
            continue;
        }
        let (mut any_digit, mut all_digits) = (false, true);
        while let Some(&b) = bytes.get(at) {
            let class = BYTE_CLASS[usize::from(b)];
            if class & WORD == 0 {
                break;
            }
            any_digit |= class & DIGIT != 0;
            all_digits &= class & DIGIT != 0;
            at += 1;
        }
        if any_digit {
            out.push_str(&message[copied..start]);
            if all_digits {
                out.push_str("<n>");
            } else {
                normalise_word(&message[start..at], out);
            }
            copied = at;
        }
    }
    out.push_str(&message[copied..at]);
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

/// [`is_word_char`] of an ASCII byte.
const fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Where the run of word characters (`word`) or of separators that starts
/// `text` ends. ASCII bytes are classified as bytes; only a non-ASCII
/// character is decoded (and asked `is_alphanumeric`).
fn run_end(text: &str, word: bool) -> usize {
    let bytes = text.as_bytes();
    let mut index = 0;
    while let Some(&b) = bytes.get(index) {
        if b.is_ascii() {
            if is_word_byte(b) != word {
                return index;
            }
            index += 1;
        } else {
            let c = text[index..].chars().next().unwrap_or_default();
            if is_word_char(c) != word {
                return index;
            }
            index += c.len_utf8();
        }
    }
    bytes.len()
}

fn split_keep_separators(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first_is_word = rest.chars().next().map(is_word_char)?;
        let (word, tail) = rest.split_at(run_end(rest, first_is_word));
        rest = tail;
        Some(word)
    })
}

/// `550e8400-e29b-41d4-a716-446655440000`: 8-4-4-4-12 hex digits.
fn is_uuid(word: &str) -> bool {
    if word.len() != 36 {
        return false;
    }
    let mut groups = word.split('-');
    [8, 4, 4, 4, 12].iter().all(|&len| {
        groups
            .next()
            .is_some_and(|group| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
    }) && groups.next().is_none()
}

/// Appends `word` (a run of word characters, or of separators) normalised.
fn normalise_word(word: &str, out: &mut String) {
    if !word.bytes().any(|b| b.is_ascii_digit()) {
        out.push_str(word);
        return;
    }
    if is_uuid(word) {
        out.push_str("<id>");
        return;
    }
    let mut rest = word;
    while !rest.is_empty() {
        let end = rest.find(['-', '_']).unwrap_or(rest.len());
        normalise_part(&rest[..end], out);
        // The separator itself, if any, is kept.
        let separator = rest[end..].chars().next().map_or(0, char::len_utf8);
        out.push_str(&rest[end..end + separator]);
        rest = &rest[end + separator..];
    }
}

/// Appends one part of a word (no `-` or `_` in it) normalised.
fn normalise_part(part: &str, out: &mut String) {
    let bytes = part.as_bytes();
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    if !has_digit {
        out.push_str(part);
    } else if bytes.iter().all(u8::is_ascii_digit) {
        out.push_str("<n>");
    } else if part
        .strip_prefix("0x")
        .or_else(|| part.strip_prefix("0X"))
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        || (bytes.len() >= 8 && bytes.iter().all(u8::is_ascii_hexdigit))
    {
        out.push_str("<hex>");
    } else if bytes[0].is_ascii_digit() {
        // A number with a unit or a compact date/time: each run of digits.
        let mut in_digits = false;
        for c in part.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push_str("<n>");
                }
                in_digits = true;
            } else {
                out.push(c);
                in_digits = false;
            }
        }
    } else {
        // A word that contains or ends in a digit (`line1`, `sha256`).
        out.push_str(part);
    }
}

/// The pattern table of one function.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PatternTable {
    entries: Vec<PatternEntry>,
    /// The buffer each error's fingerprint is built in (not part of the
    /// table's value: neither stored nor compared).
    #[serde(skip)]
    scratch: Scratch,
}

/// A reused buffer that every table compares equal on.
#[derive(Clone, Debug, Default)]
struct Scratch(String);

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PatternEntry {
    fingerprint: String,
    count: u64,
    example: String,
    /// The execution of `example` (absent in tables stored without ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    example_id: Option<ExecutionId>,
    last_seen: String,
}

impl PatternTable {
    /// Counts one error (of the execution `id`, at `time`: RFC 3339 as
    /// [`Timestamp`] shows it); returns true when its pattern was not seen
    /// before.
    pub(crate) fn observe(
        &mut self,
        error_type: &str,
        message: &str,
        time: &str,
        id: ExecutionId,
    ) -> bool {
        // Into a reused buffer: a known pattern (the usual case) allocates nothing.
        let mut fingerprint = std::mem::take(&mut self.scratch.0);
        fingerprint_into(error_type, message, &mut fingerprint);
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.fingerprint == fingerprint)
        {
            // Saturating: a stored count may be anything (a hand edit).
            entry.count = entry.count.saturating_add(1);
            entry.example.clear();
            entry.example.push_str(message);
            entry.example_id = Some(id);
            entry.last_seen.clear();
            entry.last_seen.push_str(time);
            self.scratch.0 = fingerprint;
            return false;
        }
        if self.entries.len() >= MAX_PATTERNS {
            self.scratch.0 = fingerprint;
            return false;
        }
        self.entries.push(PatternEntry {
            fingerprint: fingerprint.clone(),
            count: 1,
            example: message.to_owned(),
            example_id: Some(id),
            last_seen: time.to_owned(),
        });
        self.scratch.0 = fingerprint;
        true
    }

    /// The execution whose error was `error_type: message` at `time`, if it
    /// is still its pattern's latest example (so a last error loaded from the
    /// store finds its id again).
    pub(crate) fn example_id_of(
        &self,
        error_type: &str,
        message: &str,
        time: Timestamp,
    ) -> Option<ExecutionId> {
        let fingerprint = fingerprint(error_type, message);
        let time = time.to_string();
        self.entries
            .iter()
            .find(|e| e.fingerprint == fingerprint && e.example == message && e.last_seen == time)
            .and_then(|e| e.example_id)
    }

    /// The `n` most frequent patterns.
    pub(crate) fn top(&self, n: usize) -> Vec<ErrorPattern> {
        let mut entries: Vec<&PatternEntry> = self.entries.iter().collect();
        entries.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        entries
            .into_iter()
            .take(n)
            .map(|entry| ErrorPattern {
                fingerprint: entry.fingerprint.clone(),
                count: entry.count,
                example: entry.example.clone(),
                example_id: entry.example_id,
                last_seen: Timestamp::parse(&entry.last_seen)
                    .unwrap_or(Timestamp(std::time::UNIX_EPOCH)),
            })
            .collect()
    }

    /// Adds another table's patterns (counts of equal fingerprints add up).
    pub(crate) fn merge(&mut self, other: PatternTable) {
        for entry in other.entries {
            if let Some(mine) = self
                .entries
                .iter_mut()
                .find(|e| e.fingerprint == entry.fingerprint)
            {
                mine.count = mine.count.saturating_add(entry.count);
            } else if self.entries.len() < MAX_PATTERNS {
                self.entries.push(entry);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The runs as the char-by-char split made them before the ASCII path.
    fn reference_runs(text: &str) -> Vec<&str> {
        let mut runs = Vec::new();
        let mut rest = text;
        while let Some(first) = rest.chars().next() {
            let first_is_word = is_word_char(first);
            let end = rest
                .char_indices()
                .find(|&(_, c)| is_word_char(c) != first_is_word)
                .map_or(rest.len(), |(index, _)| index);
            runs.push(&rest[..end]);
            rest = &rest[end..];
        }
        runs
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// Words and separators split the same with the ASCII fast path, for
        /// any text (non-ASCII letters are word characters, other non-ASCII
        /// characters separators).
        #[test]
        fn the_ascii_fast_path_splits_like_the_char_walk(
            text in "([a-z0-9_ .:/-]|é|日本|\\u{2003}|✓|[\\PC]){0,40}"
        ) {
            let runs: Vec<&str> = split_keep_separators(&text).collect();
            prop_assert_eq!(runs, reference_runs(&text));
        }
    }

    /// The fingerprint as the run-by-run loop makes it (the path of a
    /// message that is not all ASCII).
    fn reference_fingerprint(error_type: &str, message: &str) -> String {
        let mut out = format!("{error_type}: ");
        for word in reference_runs(message) {
            if out.len() > MAX_FINGERPRINT {
                break;
            }
            normalise_word(word, &mut out);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

        /// An ASCII message's one-pass fingerprint is the run-by-run one:
        /// numbers, hex, ids, dates and separators, up to past the length cap.
        #[test]
        fn the_ascii_pass_normalises_like_the_run_by_run_loop(
            words in proptest::collection::vec(prop_oneof![
                "[a-z]{1,8}",
                "[0-9]{1,20}",
                "0[xX][0-9a-fA-F]{0,12}",
                "[0-9a-f]{6,40}",
                "[0-9a-fA-F]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "[a-zA-Z0-9_-]{1,16}",
                "[ -~]{1,6}",
                "[\\x00-\\x7f]{1,4}",
            ], 0..60),
            error_type in "[A-Za-z:_]{0,30}",
        ) {
            let message: String = words.concat();
            let mut out = String::new();
            fingerprint_into(&error_type, &message, &mut out);
            prop_assert_eq!(out, reference_fingerprint(&error_type, &message));
        }
    }

    #[test]
    fn the_first_digit_is_found_wherever_it_sits() {
        for length in 0..40 {
            let plain: Vec<u8> = (0..length).map(|i| b"az/:-_ \x7f\x00"[i % 9]).collect();
            assert_eq!(first_digit(&plain), None);
            for at in 0..length {
                for digit in b'0'..=b'9' {
                    let mut bytes = plain.clone();
                    bytes[at] = digit;
                    assert_eq!(first_digit(&bytes), Some(at));
                }
            }
        }
        for byte in 0u8..0x80 {
            let found = first_digit(&[byte; 11]);
            assert_eq!(found.is_some(), byte.is_ascii_digit(), "{byte}");
        }
    }

    #[test]
    fn the_ascii_pass_stops_at_the_cap_where_the_loop_does() {
        for length in 490..530 {
            for message in [
                "a".repeat(length) + " 42 b",
                "x1 ".repeat(length / 3),
                "7".repeat(length) + "-x 9",
                format!("{} user_42 {}", "w ".repeat(length / 2), "z".repeat(30)),
            ] {
                for error_type in ["", "E", "some::long::ErrorType"] {
                    let mut out = String::new();
                    fingerprint_into(error_type, &message, &mut out);
                    assert_eq!(out, reference_fingerprint(error_type, &message));
                }
            }
        }
    }

    #[test]
    fn a_uuid_is_five_hex_groups_of_8_4_4_4_12() {
        assert!(is_uuid("550e8400-e29b-41d4-a716-446655440000"));
        assert!(!is_uuid("550e8400-e29b-41d4-a716-44665544000g"));
        assert!(!is_uuid("550e8400e-29b-41d4-a716-446655440000"));
        assert!(!is_uuid("550e8400-e29b-41d4-a716-4466554400-0"));
        assert!(!is_uuid("550e8400-e29b-41d4-a716"));
    }

    #[test]
    fn numbers_ids_and_hex_are_normalised() {
        assert_eq!(
            fingerprint("E", "timeout after 1503 ms on 0xdeadbeef for user_42"),
            "E: timeout after <n> ms on <hex> for user_<n>"
        );
        assert_eq!(
            fingerprint("E", "job 550e8400-e29b-41d4-a716-446655440000 failed"),
            "E: job <id> failed"
        );
        assert_eq!(
            fingerprint("E", "timeout after 7 ms"),
            fingerprint("E", "timeout after 99999 ms")
        );
        assert_eq!(
            fingerprint(
                "E",
                "commit 3f2a9c1b7e not found, req-7f3a9c1b0d retried 3x"
            ),
            "E: commit <hex> not found, req-<hex> retried <n>x"
        );
        assert_eq!(
            fingerprint("E", "at 2026-12-04T16:07:54.123Z took 250ms, -5 left"),
            "E: at <n>-<n>-<n>T<n>:<n>:<n>.<n>Z took <n>ms, -<n> left"
        );
    }

    #[test]
    fn words_that_end_in_a_digit_stay_words() {
        assert_eq!(
            fingerprint("E", "unexpected token at line1 of sha256 in v2 (ipv4)"),
            "E: unexpected token at line1 of sha256 in v2 (ipv4)"
        );
        assert_eq!(fingerprint("E", "utf8 error"), "E: utf8 error");
        assert_ne!(
            fingerprint("E", "line1 failed"),
            fingerprint("E", "line2 failed")
        );
    }

    #[test]
    fn a_new_pattern_is_reported_once() {
        let mut table = PatternTable::default();
        let now = Timestamp(std::time::UNIX_EPOCH);
        let now_text = now.to_string();
        let id = |n| ExecutionId::from_parts(0, 1, 1, n);
        assert!(table.observe("E", "timeout after 5 ms", &now_text, id(1)));
        assert!(!table.observe("E", "timeout after 6 ms", &now_text, id(2)));
        assert!(table.observe("E", "refused", &now_text, id(3)));
        let top = table.top(5);
        assert_eq!(top[0].count, 2);
        assert_eq!(
            top[0].example_id,
            Some(id(2)),
            "the latest example's execution"
        );
        assert_eq!(
            table.example_id_of("E", "timeout after 6 ms", now),
            Some(id(2))
        );
        assert_eq!(table.example_id_of("E", "timeout after 5 ms", now), None);
    }

    #[test]
    fn a_table_stored_without_ids_reads_back_and_gains_them() {
        let stored = r#"{"entries":[{"fingerprint":"E: refused","count":3,"example":"refused","last_seen":"2026-12-01T00:00:00.000000Z"}]}"#;
        let mut table: PatternTable = crate::json::from_str(stored).unwrap();
        assert_eq!(table.top(1)[0].example_id, None);
        assert_eq!(table.top(1)[0].count, 3);
        let id = ExecutionId::from_parts(1_765_000_000_000, 7, 1, 1);
        let now = Timestamp(std::time::UNIX_EPOCH).to_string();
        assert!(!table.observe("E", "refused", &now, id));
        let text = crate::json::to_string(&table).unwrap();
        assert!(text.contains(&format!(r#""example_id":"{id}""#)), "{text}");
        let back: PatternTable = crate::json::from_str(&text).unwrap();
        assert_eq!(back.top(1)[0].example_id, Some(id));
    }

    /// A word of a message that is not an id: letters, maybe ending in
    /// digits (starting with a letter past `f`, so it cannot read as hex).
    fn plain_word() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z]{1,10}",
            "[g-z][a-z]{0,7}[0-9]{1,3}",
            Just("line1".to_owned()),
            Just("sha256".to_owned()),
        ]
    }

    /// How messages carry numbers and ids.
    const KINDS: u8 = 6;

    /// A number or id of `kind`, made from `n`.
    fn render(kind: u8, n: u128) -> String {
        match kind {
            0 => (n as u64).to_string(),
            1 => format!("0x{:x}", n as u32),
            // A 16-digit hex id with a letter in it.
            2 => format!("{:016x}", (n as u64) | (0xa << 60)),
            3 => {
                let h = format!("{n:032x}");
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                )
            }
            4 => format!("{}ms", n % 100_000),
            _ => format!("user_{}", n % 10_000),
        }
    }

    /// A message template: words, and slots (`None`) for numbers and ids.
    fn template() -> impl Strategy<Value = Vec<Option<String>>> {
        prop::collection::vec(prop::option::weighted(0.7, plain_word()), 1..12)
    }

    /// The message of `template` with slot `i` filled by `render(kinds[i], values[i])`.
    fn fill(
        template: &[Option<String>],
        kinds: &[u8],
        values: &[u128],
        separators: &[&str],
    ) -> String {
        let mut message = String::new();
        for (i, word) in template.iter().enumerate() {
            if i > 0 {
                message.push_str(separators[i % separators.len()]);
            }
            match word {
                Some(word) => message.push_str(word),
                None => message.push_str(&render(kinds[i], values[i])),
            }
        }
        message
    }

    proptest! {
        /// Two messages that differ only in their numbers and ids are one pattern.
        #[test]
        fn messages_differing_only_in_numbers_and_ids_share_a_fingerprint(
            template in template(),
            kinds in prop::collection::vec(0..KINDS, 12),
            a in prop::collection::vec(any::<u128>(), 12),
            b in prop::collection::vec(any::<u128>(), 12),
        ) {
            let separators = [" ", ": ", " (", ") ", ", ", "="];
            let first = fingerprint("E", &fill(&template, &kinds, &a, &separators));
            let second = fingerprint("E", &fill(&template, &kinds, &b, &separators));
            prop_assert_eq!(first, second);
        }

        /// Words are kept, whatever digits they end in; numbers and ids never are.
        #[test]
        fn plain_words_are_kept_and_numbers_and_ids_are_not(
            template in template(),
            kinds in prop::collection::vec(0..KINDS, 12),
            values in prop::collection::vec(any::<u128>(), 12),
        ) {
            let message = fill(&template, &kinds, &values, &[" "]);
            let normalised = fingerprint("E", &message);
            let words: Vec<&str> = normalised["E: ".len()..].split(' ').collect();
            prop_assert_eq!(words.len(), template.len());
            for (word, slot) in words.iter().zip(&template) {
                match slot {
                    Some(plain) => prop_assert_eq!(*word, plain.as_str()),
                    None => prop_assert!(
                        word.contains('<') && !word.bytes().any(|b| b.is_ascii_digit()),
                        "{} in {}", word, message
                    ),
                }
            }
        }

        /// Normalising twice changes nothing, and any text is handled
        /// (each byte grows to at most `<n>`).
        #[test]
        fn normalising_is_idempotent_and_total(message in "\\PC{0,120}") {
            let once = fingerprint("E", &message);
            let twice = fingerprint("E", &once["E: ".len()..]);
            prop_assert_eq!(&once, &twice);
            prop_assert!(once.len() <= "E: ".len() + 3 * message.len());
        }
    }
}
