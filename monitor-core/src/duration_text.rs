//! Durations written as text, in the grammar of `#[monitored(slow = "…")]`:
//! shared by the `monitor` command line (`--window`, `--since`) and the HTTP
//! API (`history=…`, `since=…`, `until=…`), so the same text means the same
//! everywhere.

use std::time::Duration;

/// Units, largest first, with their length in seconds.
const UNITS: [(&[&str], f64); 7] = [
    (&["d"], 86_400.0),
    (&["h"], 3_600.0),
    (&["m", "min"], 60.0),
    (&["s"], 1.0),
    (&["ms"], 1e-3),
    (&["us", "µs"], 1e-6),
    (&["ns"], 1e-9),
];

/// The longest duration accepted: just under 500 years, as in the attribute.
const LONGEST_SECS: f64 = 500.0 * 365.0 * 86_400.0;

/// Parses a duration written as in `#[monitored(slow = "…")]`: one or more
/// parts, each a number (fractions allowed) and a unit (`ns`, `us`/`µs`,
/// `ms`, `s`, `m`/`min`, `h`, `d`), largest unit first, each unit at most
/// once, spaces allowed between parts. `None` for anything else, for zero,
/// and for 500 years or more.
///
/// ```
/// use std::time::Duration;
/// use monitor_core::parse_duration;
///
/// assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
/// assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_duration("30m1h"), None); // largest unit first
/// assert_eq!(parse_duration("24"), None); // a unit is required
/// assert_eq!(parse_duration("0s"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut seconds = 0.0_f64;
    let mut previous: Option<usize> = None;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let position = UNITS.iter().position(|(names, _)| names.contains(&unit))?;
        if previous.is_some_and(|before| position <= before) {
            return None;
        }
        previous = Some(position);
        seconds += value * UNITS[position].1;
        rest = after.trim_start();
    }
    (1e-9..LONGEST_SECS)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn every_unit_and_combinations_largest_first() {
        assert_eq!(parse_duration("24h"), Some(24 * HOUR));
        assert_eq!(parse_duration("7d"), Some(168 * HOUR));
        assert_eq!(parse_duration("1h30m"), Some(HOUR + HOUR / 2));
        assert_eq!(parse_duration(" 1m 30s "), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3us"), Some(Duration::from_micros(3)));
        assert_eq!(parse_duration("3µs"), Some(Duration::from_micros(3)));
        assert_eq!(parse_duration("7ns"), Some(Duration::from_nanos(7)));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "", "24", "24 hours", "h", "-1h", "0s", "30m1h", "1h1h", "1..5s", "1h,30m", ".s",
            "500000d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
