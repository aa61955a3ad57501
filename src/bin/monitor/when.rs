//! `--since`/`--until` (a duration ago or an RFC 3339 time), `--window` (a
//! duration) and `--days` (a count).
//!
//! Durations are written as in `#[monitored(slow = "…")]`: one or more parts,
//! each a number (fractions allowed) and a unit (`ns`, `us`/`µs`, `ms`, `s`,
//! `m`/`min`, `h`, `d`), largest unit first, each unit once: `90s`, `1.5h`,
//! `1h30m`, `7d`. A mistake gets one message that shows every accepted form.

use std::time::{Duration, SystemTime};

/// What `--window` accepts, for error messages.
pub(crate) const DURATION_FORMS: &str =
    "a duration such as `90s`, `15m`, `24h`, `7d` or `1h30m` (units ns, us, ms, s, m, h, d)";

/// What `--since`/`--until` accept, for error messages.
pub(crate) const SINCE_FORMS: &str = "a duration ago such as `90s`, `15m`, `24h`, `7d` or `1h30m` \
     (units ns, us, ms, s, m, h, d), or an RFC 3339 time such as `2026-12-06T08:00:00Z` or \
     `2026-12-06T09:00:00+01:00`";

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

/// A point in time given on the command line: relative to now, or absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Since {
    /// `24h`: that long before now.
    Ago(Duration),
    /// `2026-12-06T08:00:00Z`.
    At(SystemTime),
}

impl Since {
    /// The time it names, `now` being the present.
    pub(crate) fn resolve(self, now: SystemTime) -> SystemTime {
        match self {
            Since::Ago(ago) => now
                .checked_sub(ago)
                .filter(|at| *at >= SystemTime::UNIX_EPOCH)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            Since::At(at) => at,
        }
    }
}

/// `--since`/`--until`: a duration ago or an RFC 3339 time.
pub(crate) fn parse_since(text: &str) -> Result<Since, String> {
    if let Some(at) = monitor::Timestamp::parse(text.trim()) {
        return Ok(Since::At(at.system_time()));
    }
    duration(text)
        .map(Since::Ago)
        .ok_or_else(|| format!("`{text}` is not a time; write {SINCE_FORMS}"))
}

/// `--now`: an RFC 3339 time.
pub(crate) fn parse_now(text: &str) -> Result<SystemTime, String> {
    monitor::Timestamp::parse(text.trim())
        .map(|at| at.system_time())
        .ok_or_else(|| {
            format!(
                "`{text}` is not an RFC 3339 time; write e.g. `2026-12-06T08:00:00Z` or \
                 `2026-12-06T09:00:00+01:00`"
            )
        })
}

/// `--window`: a duration.
pub(crate) fn parse_window(text: &str) -> Result<Duration, String> {
    duration(text).ok_or_else(|| format!("`{text}` is not a duration; write {DURATION_FORMS}"))
}

/// `--days`: a whole number of days from 1 to 3660.
pub(crate) fn parse_days(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(days @ 1..=3660) => Ok(days),
        _ => Err(format!(
            "`{text}` is not a number of days; write a whole number from 1 to 3660, e.g. `7` or `30`"
        )),
    }
}

/// Parses the attribute's duration grammar; `None` for anything else,
/// including zero.
fn duration(text: &str) -> Option<Duration> {
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
    // Longer than zero, and shorter than 500 years.
    (1e-9..500.0 * 365.0 * 86_400.0)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn durations_are_written_as_in_the_attribute() {
        assert_eq!(parse_window("24h"), Ok(24 * HOUR));
        assert_eq!(parse_window("7d"), Ok(168 * HOUR));
        assert_eq!(parse_window("1h30m"), Ok(HOUR + HOUR / 2));
        assert_eq!(parse_window(" 1m 30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse_window("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_window("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_window("2min"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn a_bad_window_shows_the_accepted_forms() {
        for bad in [
            "", "24", "24 hours", "h", "-1h", "0s", "30m1h", "1h1h", "1..5s", "1h,30m",
        ] {
            let message = parse_window(bad).expect_err(bad);
            assert!(
                message.contains("`24h`") && message.contains("`1h30m`"),
                "{message}"
            );
            assert!(
                message.starts_with(&format!("`{bad}` is not a duration")),
                "{message}"
            );
        }
    }

    #[test]
    fn since_is_a_duration_ago_or_an_rfc_3339_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_since("1h").unwrap().resolve(now), now - HOUR);
        assert_eq!(
            parse_since("1970-01-01T01:00:00+01:00")
                .unwrap()
                .resolve(now),
            SystemTime::UNIX_EPOCH
        );
        assert_eq!(
            parse_since("1000000d").unwrap_err(),
            format!("`1000000d` is not a time; write {SINCE_FORMS}")
        );
        let message = parse_since("yesterday").unwrap_err();
        assert!(
            message.contains("`24h`") && message.contains("RFC 3339"),
            "{message}"
        );
        assert_eq!(
            parse_since("2h")
                .unwrap()
                .resolve(SystemTime::UNIX_EPOCH + HOUR),
            SystemTime::UNIX_EPOCH
        );
    }

    #[test]
    fn now_is_an_rfc_3339_time() {
        assert_eq!(
            parse_now("1970-01-01T00:00:01Z"),
            Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(1))
        );
        assert!(parse_now("24h")
            .unwrap_err()
            .contains("`2026-12-06T08:00:00Z`"));
    }

    #[test]
    fn days_are_a_whole_number_from_one() {
        assert_eq!(parse_days("7"), Ok(7));
        for bad in ["0", "-1", "7d", "1.5", "x", "99999"] {
            assert!(parse_days(bad).unwrap_err().contains("e.g. `7`"), "{bad}");
        }
    }
}
