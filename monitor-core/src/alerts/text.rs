//! Wording helpers for alert messages: durations, times, percentages,
//! suggested actions, and escaping for a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Characters that must not reach a terminal or a text line raw: control
/// characters (C0 with `\n` and `\x1b`, DEL, C1) and the Unicode bidi
/// overrides and isolates, which reorder what a terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` safe for one line of human-readable output: every control
/// character (and bidi override) is written as an escape (`\n`, `\r`, `\t`,
/// else `\u{1b}`), so a name or message cannot split a line or send escape
/// sequences to a terminal. Borrowed when nothing needed escaping.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`printable`], keeping the `String` when nothing needed escaping.
pub(crate) fn printable_owned(text: String) -> String {
    match printable(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

/// `1 error`, `2 errors`: a count with its noun in the right number.
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `2026-12-04T15:29:49Z`: the RFC 3339 form without the fraction.
pub(crate) fn time(time: SystemTime) -> String {
    let mut text = String::with_capacity(27);
    monitor_sinks::time::format_rfc3339_micros(time, &mut text);
    if let Some(dot) = text.rfind('.') {
        text.truncate(dot);
        text.push('Z');
    }
    text
}

/// `250 ms`, `1.5 s`, `15 min`, `1 h 30 min`, `2 d`.
pub(crate) fn duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos < 1_000 {
        return format!("{nanos} ns");
    }
    if nanos < 1_000_000 {
        return format!("{} µs", trim(duration.as_secs_f64() * 1e6));
    }
    if nanos < 1_000_000_000 {
        return format!("{} ms", trim(duration.as_secs_f64() * 1e3));
    }
    let secs = duration.as_secs();
    if secs < 60 {
        return format!("{} s", trim(duration.as_secs_f64()));
    }
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes} min"));
    }
    if seconds > 0 && days == 0 && hours == 0 {
        parts.push(format!("{seconds} s"));
    }
    parts.join(" ")
}

/// At most three significant digits, without trailing zeros.
fn trim(value: f64) -> String {
    let text = if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// `512 B`, `1.5 KiB`, `612 MiB`, `2.25 GiB`: binary units, three
/// significant digits.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", trim(value), UNITS[unit])
}

/// `0.853` → `85.3%`, `1.0` → `100%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{}%", trim(fraction * 100.0))
}

/// A suggested action for a function failing with `error_type: message`.
pub(crate) fn suggestion(error_type: Option<&str>, message: Option<&str>) -> &'static str {
    let text = format!("{} {}", error_type.unwrap_or(""), message.unwrap_or("")).to_lowercase();
    let mentions = |words: &[&str]| words.iter().any(|word| text.contains(word));
    if error_type == Some("panic") {
        "a panic is a bug: see its message, location and stack trace in errors/current_errors.log and fix the code"
    } else if mentions(&[
        "credential",
        "unauthori",
        "forbidden",
        "permission",
        "access denied",
        "api key",
        "token",
        "config",
        "not configured",
    ]) {
        "deactivate and fix configuration (credentials, permissions, settings)"
    } else if mentions(&[
        "timeout",
        "timed out",
        "connection",
        "refused",
        "reset",
        "unreachable",
        "unavailable",
        "503",
        "502",
        "dns",
    ]) {
        "check the service it depends on (network, availability, limits); it may recover by itself"
    } else {
        "see errors/current_errors.log for the full error chain and fix the cause"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_nanos(1)), "1 ns");
        assert_eq!(duration(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(duration(Duration::from_millis(200)), "200 ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(duration(Duration::from_secs(15 * 60)), "15 min");
        assert_eq!(duration(Duration::from_secs(3600 + 90)), "1 h 1 min");
        assert_eq!(duration(Duration::from_secs(90)), "1 min 30 s");
        assert_eq!(duration(Duration::from_secs(2 * 86_400)), "2 d");
    }

    #[test]
    fn byte_counts_read_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(612 << 20), "612 MiB");
        assert_eq!(bytes(9 << 50), "9 PiB");
        assert_eq!(bytes(u64::MAX), "16384 PiB");
    }

    #[test]
    fn control_characters_are_escaped_for_a_terminal() {
        assert!(matches!(printable("plain text ü"), Cow::Borrowed(_)));
        assert_eq!(printable("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(printable("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(
            printable("x\u{7f}\u{9b}\u{202e}y"),
            "x\\u{7f}\\u{9b}\\u{202e}y"
        );
        assert_eq!(printable_owned("ok".to_owned()), "ok");
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "error", "errors"), "1 error");
        assert_eq!(count(0, "error", "errors"), "0 errors");
        assert_eq!(
            count(2, "slow execution", "slow executions"),
            "2 slow executions"
        );
    }

    #[test]
    fn times_percentages_and_suggestions() {
        assert_eq!(
            time(UNIX_EPOCH + Duration::from_millis(1500)),
            "1970-01-01T00:00:01Z"
        );
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.854), "85.4%");
        assert_eq!(percent(0.0), "0%");
        assert!(suggestion(
            Some("NoCredentialsError"),
            Some("unable to locate credentials")
        )
        .starts_with("deactivate"));
        assert!(suggestion(Some("io"), Some("connection reset")).contains("service"));
        assert!(suggestion(Some("panic"), Some("boom")).contains("bug"));
    }
}
