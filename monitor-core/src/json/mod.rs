//! JSON without `serde_json`: escaping helpers for the hand-written log
//! lines, a `serde` serializer ([`to_vec`], [`to_string`]) for the
//! structured parts (span trees, alerts, the statistics stored as JSON text),
//! and a small parser ([`from_str`]) for reading those stored values back.
//!
//! Why not `serde_json`: its `Value` type brings `impl PartialEq<Value> for
//! u8` (and for every other number type) into every crate that has it in its
//! dependency graph, so a host that adds `monitor` saw
//! `assert_eq!(&[1u8][..], &sum[..])` with `let mut sum = Vec::new()` stop
//! compiling (E0283, ambiguous type). Nothing here implements a trait for a
//! type it does not own (`tests/type_inference.rs` keeps it that way).

mod de;
mod ser;

use std::fmt;

pub(crate) use de::{from_str, parse, Value};
pub(crate) use ser::{to_string, write_value};

/// A JSON error: a value that cannot be written (a map key that is not a
/// string or a number) or text that is not the JSON expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error(message.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error(message.to_string())
    }
}

/// Appends `text` as a JSON string (with quotes). Control characters and
/// DEL are escaped, so a string never breaks a line.
pub(crate) fn push_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if clean(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    // Most text needs no escape: skip it eight bytes at a time.
    let clean = clean_prefix(bytes);
    out.extend_from_slice(&bytes[..clean]);
    let mut start = clean;
    for (index, &byte) in bytes.iter().enumerate().skip(clean) {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => {
                out.extend_from_slice(&bytes[start..index]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(byte >> 4) as usize]);
                out.push(HEX[(byte & 0xf) as usize]);
                start = index + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        out.extend_from_slice(escape);
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True when one of the eight bytes of `word` may need an escape: a byte
/// below 0x20, or `"`, `\\` or DEL (0x7f). Exact when it says no.
fn may_need_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    /// A high bit in each byte of `word` that is zero (exact where it
    /// matters: at least one is set whenever a byte is zero).
    fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGHS
    }
    // Bytes below 0x20 (ignoring ones ≥ 0x80, which never need an
    // escape: `word & !HIGHS` clears their high bit first).
    let low = (word & !HIGHS).wrapping_sub(ONES * 0x20) & !word & HIGHS;
    let special = zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\')))
        | zero_bytes(word ^ (ONES * 0x7f));
    low | special != 0
}

/// True when no byte of `bytes` needs an escape (eight at a time; the last
/// few padded with spaces).
fn clean(bytes: &[u8]) -> bool {
    let chunks = bytes.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        if may_need_escape(u64::from_le_bytes(chunk.try_into().expect("eight bytes"))) {
            return false;
        }
    }
    let mut last = [b' '; 8];
    last[..tail.len()].copy_from_slice(tail);
    !may_need_escape(u64::from_le_bytes(last))
}

/// How many leading bytes of `bytes` need no escape, in whole words of 8
/// (the rest, from the first word with a byte to escape, is left to the
/// byte loop).
fn clean_prefix(bytes: &[u8]) -> usize {
    let mut clean = 0;
    for chunk in bytes.chunks_exact(8) {
        if may_need_escape(u64::from_le_bytes(chunk.try_into().expect("eight bytes"))) {
            break;
        }
        clean += 8;
    }
    clean
}

/// Appends an unsigned integer.
pub(crate) fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a number; `null` for NaN and the infinities (JSON has none).
pub(crate) fn push_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `00` to `99`.
static DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

/// Writes `n` (below 1,000,000) as six ASCII digits, with leading zeros,
/// into `out[..6]`.
pub(crate) fn put_six_digits(out: &mut [u8], n: u32) {
    let n = n % 1_000_000;
    let (high, low) = ((n / 10_000) as usize, n % 10_000);
    let (middle, last) = ((low / 100) as usize, (low % 100) as usize);
    out[..2].copy_from_slice(&DIGIT_PAIRS[high]);
    out[2..4].copy_from_slice(&DIGIT_PAIRS[middle]);
    out[4..6].copy_from_slice(&DIGIT_PAIRS[last]);
}

/// Appends `nanos` in milliseconds: byte for byte what
/// `push_f64(nanos as f64 / 1e6)` appends, without the float formatting.
///
/// Why the digits are the same: below 10^15 ns the value has at most 15
/// significant decimal digits (`q.ffffff`), and two decimals of at most 15
/// significant digits never round to the same `f64` (`f64::DIGITS` is 15).
/// So the shortest decimal that reads back as that `f64`, which `ryu` writes,
/// is this one, with its trailing zeros dropped; `ryu` writes it as
/// `q.ffffff` from 1e-5 up (`2.0`, `0.00004`) and in exponent form below
/// (`9e-6`). Longer durations (over 11 days) go through `ryu`.
pub(crate) fn push_millis(out: &mut Vec<u8>, nanos: u64) {
    const EXACT_BELOW: u64 = 1_000_000_000_000_000;
    if nanos >= EXACT_BELOW {
        push_f64(out, nanos as f64 / 1e6);
        return;
    }
    let whole = nanos / 1_000_000;
    let fraction = (nanos % 1_000_000) as u32;
    if whole == 0 && fraction < 10 {
        match fraction {
            0 => out.extend_from_slice(b"0.0"),
            digit => {
                out.push(b'0' + digit as u8);
                out.extend_from_slice(b"e-6");
            }
        }
        return;
    }
    // `whole` (below 10^9: at most 9 digits, written from the right before
    // the point), `.`, then the six digits of `fraction`: one copy.
    let mut text = [0u8; 16];
    let mut start = 9;
    let mut rest = whole;
    loop {
        start -= 1;
        text[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    text[9] = b'.';
    put_six_digits(&mut text[10..16], fraction);
    // Without the trailing zeros (one digit stays: `x.0` for a whole number).
    let mut end = text.len();
    let mut value = fraction;
    while end > 11 && value.is_multiple_of(10) {
        value /= 10;
        end -= 1;
    }
    out.extend_from_slice(&text[start..end]);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[test]
    fn every_byte_that_needs_an_escape_is_found_wherever_it_sits() {
        // The word-at-a-time skip must never pass over a byte to escape:
        // each ASCII byte, at each position of the first words, among
        // plain text and next to multi-byte characters.
        for byte in 0u8..0x80 {
            for at in 0..24 {
                for filler in ["abcdefgh", "é€ab"] {
                    let mut text: String = filler.repeat(4);
                    let at = (0..=at.min(text.len()))
                        .rev()
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(0);
                    text.insert(at, char::from(byte));
                    let mut out = Vec::new();
                    push_str(&mut out, &text);
                    let line = String::from_utf8(out).unwrap();
                    assert!(!line.bytes().any(|b| b < 0x20 || b == 0x7f), "{line:?}");
                    let back: String = serde_json::from_str(&line).unwrap();
                    assert_eq!(back, text);
                }
            }
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
        Fancy,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pairs(Vec<(u32, u64)>);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        text: String,
        count: u64,
        delta: i64,
        ratio: f64,
        flag: bool,
        missing: Option<String>,
        present: Option<u32>,
        kind: Kind,
        pairs: Pairs,
        nested: Vec<Vec<String>>,
        map: BTreeMap<String, f64>,
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        skipped: Vec<u8>,
    }

    fn sample() -> Everything {
        Everything {
            text: "quote \" backslash \\ newline \n nul \0 esc \x1b[31m é 🚀".into(),
            count: u64::MAX,
            delta: i64::MIN,
            ratio: 0.1 + 0.2,
            flag: true,
            missing: None,
            present: Some(7),
            kind: Kind::Fancy,
            pairs: Pairs(vec![(3, 10), (4_000, 1 << 40)]),
            nested: vec![vec![], vec!["a".into(), "".into()]],
            map: [("b".to_owned(), 1.5), ("a".to_owned(), -2.0)].into(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn writes_what_serde_json_writes_and_reads_it_back() {
        let value = sample();
        let ours = to_string(&value).unwrap();
        assert_eq!(ours, serde_json::to_string(&value).unwrap());
        let back: Everything = from_str(&ours).unwrap();
        assert_eq!(back, value);
        let theirs: Everything = serde_json::from_str(&ours).unwrap();
        assert_eq!(theirs, value);
        // One deliberate difference: DEL is escaped too (it is a control
        // character to a terminal); both read it back the same.
        let del = to_string("del \x7f").unwrap();
        assert_eq!(del, r#""del \u007f""#);
        assert_eq!(from_str::<String>(&del).unwrap(), "del \x7f");
        assert_eq!(serde_json::from_str::<String>(&del).unwrap(), "del \x7f");
    }

    #[test]
    fn reads_json_written_by_others() {
        let text = " { \"text\" : \"\\u00e9\\ud83d\\ude80\\/\\b\\f\", \"count\": 1000, \"delta\": -0,\n\"ratio\": 2.5E-3, \"flag\": false, \"missing\": null, \"present\": 1,\n\"kind\": \"plain\", \"pairs\": [], \"nested\": [[\"x\"]], \"map\": {}, \"unknown\": {\"deep\": [1, null]} } ";
        let value: Everything = from_str(text).unwrap();
        assert_eq!(value.text, "é🚀/\u{8}\u{c}");
        assert_eq!((value.count, value.delta, value.ratio), (1000, 0, 0.0025));
        assert_eq!(value.kind, Kind::Plain);
        assert_eq!(value.nested, vec![vec!["x".to_owned()]]);
    }

    #[test]
    fn rejects_what_is_not_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "\"unterminated",
            "\"bad escape \\q\"",
            "\"lone surrogate \\ud800\"",
            "01",
            "1.",
            "-",
            "nul",
            "[1] trailing",
            "\"raw control \u{1} char\"",
        ] {
            assert!(
                from_str::<Option<Vec<u8>>>(bad).is_err(),
                "accepted {bad:?}"
            );
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(from_str::<Vec<u8>>(&deep).is_err());
        assert!(from_str::<u8>("300").is_err());
        assert!(from_str::<Kind>("\"other\"").is_err());
    }

    /// What `push_f64` (ryu) writes for `nanos as f64 / 1e6`.
    fn millis_by_ryu(nanos: u64) -> Vec<u8> {
        let mut out = Vec::new();
        push_f64(&mut out, nanos as f64 / 1e6);
        out
    }

    #[test]
    fn six_digits_are_the_number_with_leading_zeros() {
        let mut out = [0; 6];
        for n in (0..1_000_000).step_by(7).chain([999_999, 10, 100_000]) {
            put_six_digits(&mut out, n);
            assert_eq!(out, format!("{n:06}").as_bytes());
        }
    }

    #[test]
    fn milliseconds_are_written_as_ryu_writes_them() {
        let mut out = Vec::new();
        let mut check = |nanos: u64| {
            out.clear();
            push_millis(&mut out, nanos);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&millis_by_ryu(nanos)),
                "{nanos} ns"
            );
        };
        // Every duration up to 1.2 ms, then around each power of ten and the
        // exact-digits bound, then a spread of large ones.
        for nanos in 0..1_200_000 {
            check(nanos);
        }
        for power in 0..20 {
            let at = 10u64.pow(power);
            for nanos in at.saturating_sub(1_000)..at.saturating_add(1_000) {
                check(nanos);
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..500_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(x >> (x % 64));
            check(x % 2_000_000_000_000_000);
        }
        check(u64::MAX);
    }

    #[test]
    fn number_keys_are_quoted_and_other_keys_refused() {
        let map: BTreeMap<u32, bool> = [(1, true), (20, false)].into();
        assert_eq!(to_string(&map).unwrap(), r#"{"1":true,"20":false}"#);
        let bad: BTreeMap<Vec<u8>, bool> = [(vec![1], true)].into();
        assert!(to_string(&bad).is_err());
    }
}
