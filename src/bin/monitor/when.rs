//! `--since`/`--until` (a duration ago or an RFC 3339 time), `--window` (a
//! duration) and `--days` (a count).
//!
//! Durations are written as in `#[monitored(slow = "…")]`
//! ([`monitor::parse_duration`], the same as the HTTP API's): one or more
//! parts, each a number (fractions allowed) and a unit (`ns`, `us`/`µs`,
//! `ms`, `s`, `m`/`min`, `h`, `d`), largest unit first, each unit once:
//! `90s`, `1.5h`, `1h30m`, `7d`. A mistake gets one message that shows every
//! accepted form.

use std::time::{Duration, SystemTime};

/// What `--window` accepts, for error messages.
pub(crate) const DURATION_FORMS: &str =
    "a duration such as `90s`, `15m`, `24h`, `7d` or `1h30m` (units ns, us, ms, s, m, h, d)";

/// What `--since`/`--until` accept, for error messages.
pub(crate) const SINCE_FORMS: &str = "a duration ago such as `90s`, `15m`, `24h`, `7d` or `1h30m` \
     (units ns, us, ms, s, m, h, d), or an RFC 3339 time such as `2026-12-06T08:00:00Z` or \
     `2026-12-06T09:00:00+01:00`";

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
    monitor::parse_duration(text)
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
    monitor::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration; write {DURATION_FORMS}"))
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
