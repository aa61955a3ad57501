//! `"200ms"`, `"1.5s"`, `"1h30m"` → nanoseconds, at compile time.
//!
//! A duration is one or more parts, each a number (fractions allowed) and a
//! unit, largest unit first, optionally separated by spaces: `"90s"`,
//! `"1.5h"`, `"1h30m"`, `"1m 30s"`. Every mistake gets a message that says
//! what is wrong with the text and what to write instead.

/// What to write, appended to most messages.
const EXAMPLES: &str = "write e.g. \"200ms\", \"5s\", \"1h\" or \"1h30m\"";

/// Units, largest first, with their length in nanoseconds.
const UNITS: [(&[&str], f64); 7] = [
    (&["d"], 86_400e9),
    (&["h"], 3_600e9),
    (&["m", "min"], 60e9),
    (&["s"], 1e9),
    (&["ms"], 1e6),
    (&["us", "µs"], 1e3),
    (&["ns"], 1.0),
];

/// Parses a duration; the error says what is wrong and what is accepted.
pub(crate) fn parse_nanos(text: &str) -> Result<u64, String> {
    let whole = text.trim();
    if whole.is_empty() {
        return Err(format!("the duration is empty; {EXAMPLES}"));
    }
    let mut rest = whole;
    let mut total = 0.0_f64;
    // Position in `UNITS` of the previous part's unit.
    let mut previous: Option<usize> = None;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(match rest.chars().next() {
                Some('-') => format!("`{whole}` is negative; durations must be longer than zero"),
                Some(c) if c.is_alphabetic() && previous.is_none() => {
                    format!("`{whole}` does not start with a number; {EXAMPLES}")
                }
                Some(c) => format!(
                    "unexpected `{c}` in `{whole}`; a duration is numbers with units, {EXAMPLES}"
                ),
                None => format!("`{whole}` is not a duration; {EXAMPLES}"),
            });
        }
        if number.matches('.').count() > 1 {
            return Err(format!(
                "`{number}` in `{whole}` is not a number: it has more than one `.`"
            ));
        }
        if number == "." {
            return Err(format!("`{whole}`: `.` is not a number; {EXAMPLES}"));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{number}` in `{whole}` is not a number; {EXAMPLES}"))?;
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(if after.is_empty() && previous.is_none() {
                format!("`{whole}` has no unit; {EXAMPLES}")
            } else if after.is_empty() {
                format!("`{number}` at the end of `{whole}` has no unit; {EXAMPLES}")
            } else {
                format!(
                    "unexpected `{}` in `{whole}`; a duration is numbers with units, {EXAMPLES}",
                    after.chars().next().unwrap_or(' ')
                )
            });
        }
        let Some(position) = UNITS.iter().position(|(names, _)| names.contains(&unit)) else {
            return Err(format!(
                "unknown unit `{unit}`; use ns, us, ms, s, m, h or d"
            ));
        };
        if previous.is_some_and(|before| position <= before) {
            return Err(format!(
                "`{whole}`: in a compound duration each unit comes once, largest first (e.g. \"1h30m\", \"1m30s\")"
            ));
        }
        previous = Some(position);
        total += value * UNITS[position].1;
        rest = after.trim_start();
    }
    if !(total >= 1.0 && total < u64::MAX as f64) {
        return Err(format!(
            "`{whole}` must be longer than zero and shorter than 500 years"
        ));
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn single_units() {
        assert_eq!(parse_nanos("200ms"), Ok(200_000_000));
        assert_eq!(parse_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_nanos("1h"), Ok(3_600 * SECOND));
        assert_eq!(parse_nanos(" 2 min "), Ok(120 * SECOND));
        assert_eq!(parse_nanos("3µs"), Ok(3_000));
        assert_eq!(parse_nanos("1d"), Ok(86_400 * SECOND));
    }

    #[test]
    fn compound_durations_add_up() {
        assert_eq!(parse_nanos("1h30m"), Ok(5_400 * SECOND));
        assert_eq!(parse_nanos("1m 30s"), Ok(90 * SECOND));
        assert_eq!(parse_nanos("1d2h3m4s5ms"), Ok(93_784 * SECOND + 5_000_000));
        assert_eq!(parse_nanos("1.5h15m"), Ok(6_300 * SECOND));
    }

    fn error(text: &str) -> String {
        parse_nanos(text).expect_err(text)
    }

    #[test]
    fn each_mistake_is_named() {
        assert_eq!(
            error("1.5.5s"),
            "`1.5.5` in `1.5.5s` is not a number: it has more than one `.`"
        );
        assert!(error("60").starts_with("`60` has no unit"));
        assert!(error("1h30").starts_with("`30` at the end of `1h30` has no unit"));
        assert!(error("5 parsecs").starts_with("unknown unit `parsecs`"));
        assert!(error("1h30x").starts_with("unknown unit `x`"));
        assert!(error("ms").starts_with("`ms` does not start with a number"));
        assert!(error("-5s").contains("is negative"));
        assert!(error("30m1h").contains("largest first"));
        assert!(error("1h1h").contains("each unit comes once"));
        assert!(error("1h, 30m").starts_with("unexpected `,` in `1h, 30m`"));
        assert!(error(".s").contains("`.` is not a number"));
        assert!(error("").starts_with("the duration is empty"));
        assert!(error("0s").contains("longer than zero"));
        assert!(error("0.1ns").contains("longer than zero"));
        assert!(error("1000000d").contains("shorter than 500 years"));
    }
}
