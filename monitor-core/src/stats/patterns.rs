//! Error fingerprints: the error's type plus its message with numbers, ids and
//! hex normalised away, so "timeout after 1503 ms" and "timeout after 998 ms"
//! are one pattern.

use serde::{Deserialize, Serialize};

use super::ErrorPattern;
use crate::timestamp::Timestamp;

/// Most patterns kept per function; failures of further new patterns are still
/// counted in the statistics but raise no new-pattern alert.
pub(crate) const MAX_PATTERNS: usize = 100;

/// `std::io::error::Error` + `"read 42 bytes from 0xdeadbeef"` →
/// `std::io::error::Error: read <n> bytes from <hex>`.
pub(crate) fn fingerprint(error_type: &str, message: &str) -> String {
    let mut out = String::with_capacity(error_type.len() + 2 + message.len().min(256));
    out.push_str(error_type);
    out.push_str(": ");
    for word in split_keep_separators(message) {
        if out.len() > 512 {
            break;
        }
        out.push_str(normalise_word(word));
    }
    out
}

fn split_keep_separators(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let is_word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
        let first_is_word = rest.chars().next().is_some_and(is_word);
        let end = rest
            .char_indices()
            .find(|&(_, c)| is_word(c) != first_is_word)
            .map_or(rest.len(), |(index, _)| index);
        let (word, tail) = rest.split_at(end);
        rest = tail;
        Some(word)
    })
}

fn normalise_word(word: &str) -> &str {
    let has_digit = word.bytes().any(|b| b.is_ascii_digit());
    if !has_digit {
        return word;
    }
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return "<n>";
    }
    let hex_body = word.strip_prefix("0x").unwrap_or(word);
    if hex_body.bytes().all(|b| b.is_ascii_hexdigit()) {
        return "<hex>";
    }
    if word.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') && word.len() >= 8 {
        return "<id>";
    }
    // Mixed words with digits (`user42`, `req_7f3a`) are ids.
    "<id>"
}

/// The pattern table of one function.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PatternTable {
    entries: Vec<PatternEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PatternEntry {
    fingerprint: String,
    count: u64,
    example: String,
    last_seen: String,
}

impl PatternTable {
    /// Counts one error; returns true when its pattern was not seen before.
    pub(crate) fn observe(&mut self, error_type: &str, message: &str, time: Timestamp) -> bool {
        let fingerprint = fingerprint(error_type, message);
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.fingerprint == fingerprint)
        {
            entry.count += 1;
            entry.example.clear();
            entry.example.push_str(message);
            entry.last_seen = time.to_string();
            return false;
        }
        if self.entries.len() >= MAX_PATTERNS {
            return false;
        }
        self.entries.push(PatternEntry {
            fingerprint,
            count: 1,
            example: message.to_owned(),
            last_seen: time.to_string(),
        });
        true
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
                mine.count += entry.count;
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

    #[test]
    fn numbers_ids_and_hex_are_normalised() {
        assert_eq!(
            fingerprint("E", "timeout after 1503 ms on 0xdeadbeef for user42"),
            "E: timeout after <n> ms on <hex> for <id>"
        );
        assert_eq!(
            fingerprint("E", "job 550e8400-e29b-41d4-a716-446655440000 failed"),
            "E: job <id> failed"
        );
        assert_eq!(
            fingerprint("E", "timeout after 7 ms"),
            fingerprint("E", "timeout after 99999 ms")
        );
    }

    #[test]
    fn a_new_pattern_is_reported_once() {
        let mut table = PatternTable::default();
        let now = Timestamp(std::time::UNIX_EPOCH);
        assert!(table.observe("E", "timeout after 5 ms", now));
        assert!(!table.observe("E", "timeout after 6 ms", now));
        assert!(table.observe("E", "refused", now));
        assert_eq!(table.top(5)[0].count, 2);
    }
}
