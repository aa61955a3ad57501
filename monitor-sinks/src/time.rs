//! Small, allocation-free UTC calendar helpers.
//!
//! The crate never reads the system clock itself: every function here converts a
//! [`SystemTime`] handed in by the caller. The conversions use Howard Hinnant's
//! `days_from_civil` / `civil_from_days` algorithms on the proleptic Gregorian
//! calendar, so no calendar library is needed.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use monitor_sinks::time::{format_rfc3339_micros, parse_rfc3339};
//!
//! let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_796_342_399_123_456);
//! let mut s = String::new();
//! format_rfc3339_micros(t, &mut s);
//! assert_eq!(s, "2026-12-03T23:59:59.123456Z");
//! assert_eq!(parse_rfc3339(&s), Some(t));
//! ```

#![warn(missing_docs)]

use std::cell::Cell;
use std::time::{Duration, SystemTime};

/// Seconds in one UTC day (leap seconds are not counted, as in Unix time).
pub const SECS_PER_DAY: i64 = 86_400;

/// Number of days from 1970-01-01 to the given proleptic Gregorian date.
///
/// `month` is 1–12 and `day` 1–31; out-of-range values are not checked and
/// give an arithmetically continued result.
///
/// ```
/// use monitor_sinks::time::days_from_civil;
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(2000, 3, 1), 11_017);
/// assert_eq!(days_from_civil(1969, 12, 31), -1);
/// ```
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day number counted from
/// 1970-01-01 (day 0). Month and day are 1-based.
///
/// ```
/// use monitor_sinks::time::civil_from_unix_days;
/// assert_eq!(civil_from_unix_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_unix_days(20_790), (2026, 12, 3));
/// assert_eq!(civil_from_unix_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_unix_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Splits a [`SystemTime`] into whole Unix seconds (rounded towards negative
/// infinity, so times before 1970 work) and the nanoseconds within that second.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use monitor_sinks::time::unix_parts;
/// assert_eq!(unix_parts(SystemTime::UNIX_EPOCH + Duration::from_millis(1500)), (1, 500_000_000));
/// assert_eq!(unix_parts(SystemTime::UNIX_EPOCH - Duration::from_millis(500)), (-1, 500_000_000));
/// ```
pub fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (clamp_secs(d.as_secs()), d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let secs = clamp_secs(d.as_secs());
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

fn clamp_secs(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 2)
}

/// The [`SystemTime`] that is `secs` seconds plus `nanos` nanoseconds after the
/// Unix epoch (`secs` may be negative). Saturates instead of panicking when the
/// result is not representable.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use monitor_sinks::time::{system_time_from_unix, unix_parts};
/// let t = system_time_from_unix(-1, 500_000_000);
/// assert_eq!(unix_parts(t), (-1, 500_000_000));
/// ```
pub fn system_time_from_unix(secs: i64, nanos: u32) -> SystemTime {
    let nanos = nanos.min(999_999_999);
    if secs >= 0 {
        let d = Duration::new(secs.unsigned_abs(), nanos);
        SystemTime::UNIX_EPOCH
            .checked_add(d)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    } else {
        let back = Duration::from_secs(secs.unsigned_abs());
        let t = SystemTime::UNIX_EPOCH
            .checked_sub(back)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        t.checked_add(Duration::from_nanos(u64::from(nanos)))
            .unwrap_or(t)
    }
}

/// A broken-down UTC date and time.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use monitor_sinks::time::UtcDateTime;
/// let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_342_399);
/// let dt = UtcDateTime::from_system_time(t);
/// assert_eq!((dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second), (2026, 12, 3, 23, 59, 59));
/// assert_eq!(dt.to_system_time(), t);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDateTime {
    /// Proleptic Gregorian year (may be outside 0–9999 for extreme inputs).
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute, 0–59.
    pub minute: u32,
    /// Second, 0–59.
    pub second: u32,
    /// Nanoseconds within the second, 0–999 999 999.
    pub nanosecond: u32,
}

impl UtcDateTime {
    /// Breaks `t` down into its UTC calendar fields.
    pub fn from_system_time(t: SystemTime) -> Self {
        let (secs, nanos) = unix_parts(t);
        Self::from_unix(secs, nanos)
    }

    /// Breaks Unix seconds plus nanoseconds down into UTC calendar fields.
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
        let (year, month, day) = civil_from_unix_days(days);
        UtcDateTime {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            nanosecond: nanos,
        }
    }

    /// Whole Unix seconds of this date and time (the nanoseconds are ignored).
    pub fn unix_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * SECS_PER_DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The [`SystemTime`] of this date and time.
    pub fn to_system_time(&self) -> SystemTime {
        system_time_from_unix(self.unix_seconds(), self.nanosecond)
    }
}

/// Writes `n` (0–99) as two ASCII digits.
#[inline]
pub(crate) fn put2(buf: &mut [u8], n: u32) {
    buf[0] = b'0' + (n / 10 % 10) as u8;
    buf[1] = b'0' + (n % 10) as u8;
}

/// Writes `n` (0–9999) as four ASCII digits.
#[inline]
pub(crate) fn put4(buf: &mut [u8], n: u32) {
    put2(&mut buf[0..2], n / 100);
    put2(&mut buf[2..4], n % 100);
}

/// Pushes ASCII bytes produced by this module onto a `String`.
#[inline]
pub(crate) fn push_ascii(out: &mut String, bytes: &[u8]) {
    // Every byte written by the put* helpers is an ASCII digit or punctuation,
    // so the UTF-8 check always succeeds; it is a single fast pass.
    if let Ok(s) = std::str::from_utf8(bytes) {
        out.push_str(s);
    }
}

/// Appends `t` as an RFC 3339 UTC timestamp with microseconds, e.g.
/// `2026-12-03T23:59:59.123456Z` (always 27 bytes).
///
/// The sub-microsecond part is truncated. Times before year 0000 or after year
/// 9999 are clamped to `0000-01-01T00:00:00.000000Z` and
/// `9999-12-31T23:59:59.999999Z`. No allocation beyond growing `out`, no
/// `format!`; the date and time of the last second formatted is cached per
/// thread, so consecutive calls within one second only write the micros.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use monitor_sinks::time::format_rfc3339_micros;
/// let mut s = String::from("at ");
/// format_rfc3339_micros(SystemTime::UNIX_EPOCH + Duration::from_nanos(1_999), &mut s);
/// assert_eq!(s, "at 1970-01-01T00:00:00.000001Z");
/// ```
pub fn format_rfc3339_micros(t: SystemTime, out: &mut String) {
    const MIN_SECS: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX_SECS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let (mut secs, mut nanos) = unix_parts(t);
    if secs < MIN_SECS {
        (secs, nanos) = (MIN_SECS, 0);
    } else if secs > MAX_SECS {
        (secs, nanos) = (MAX_SECS, 999_999_999);
    }
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    b[..19].copy_from_slice(&second_prefix(secs));
    let micros = nanos / 1000;
    put2(&mut b[20..22], micros / 10_000);
    put4(&mut b[22..26], micros % 10_000);
    push_ascii(out, &b);
}

thread_local! {
    /// The `YYYY-MM-DDTHH:MM:SS` of the last second formatted on this thread:
    /// consecutive timestamps mostly share it.
    static LAST_SECOND: Cell<(i64, [u8; 19])> = const { Cell::new((i64::MIN, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` (year 0–9999), cached per thread.
fn second_prefix(secs: i64) -> [u8; 19] {
    let cached = LAST_SECOND.try_with(Cell::get).ok();
    if let Some((s, prefix)) = cached {
        if s == secs {
            return prefix;
        }
    }
    let dt = UtcDateTime::from_unix(secs, 0);
    let mut b = *b"0000-00-00T00:00:00";
    put4(&mut b[0..4], dt.year as u32);
    put2(&mut b[5..7], dt.month);
    put2(&mut b[8..10], dt.day);
    put2(&mut b[11..13], dt.hour);
    put2(&mut b[14..16], dt.minute);
    put2(&mut b[17..19], dt.second);
    let _ = LAST_SECOND.try_with(|c| c.set((secs, b)));
    b
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        s.iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0')),
    )
}

/// Number of days in `month` of `year` (proleptic Gregorian).
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parses `YYYY-MM-DD` strictly (valid month and day).
pub(crate) fn parse_date(s: &[u8]) -> Option<(i64, u32, u32)> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let y = digits(&s[0..4])?;
    let m = digits(&s[5..7])?;
    let d = digits(&s[8..10])?;
    valid_date(i64::from(y), m, d)
}

pub(crate) fn valid_date(y: i64, m: u32, d: u32) -> Option<(i64, u32, u32)> {
    ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)).then_some((y, m, d))
}

/// Parses an RFC 3339 date-time such as `2026-12-03T23:59:59.123456Z` or
/// `2026-12-04T01:59:59+02:00` into a [`SystemTime`].
///
/// Accepts `T`, `t` or a space between date and time, any number of fraction
/// digits (nanoseconds beyond the ninth digit are ignored), `Z`/`z` or a
/// `±HH:MM` offset. A leap second (`:60`) is read as the following second.
/// Returns `None` for anything else.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use monitor_sinks::time::parse_rfc3339;
/// let t = parse_rfc3339("1970-01-01T01:00:00.5+01:00").unwrap();
/// assert_eq!(t, SystemTime::UNIX_EPOCH + Duration::from_millis(500));
/// assert_eq!(parse_rfc3339("1970-13-01T00:00:00Z"), None);
/// ```
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = parse_date(&b[0..10])?;
    let h = digits(&b[11..13])?;
    let mi = digits(&b[14..16])?;
    let sec = digits(&b[17..19])?;
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset: i64 = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh @ .., b':', om1, om2] if oh.len() == 2 => {
            let oh = digits(oh)?;
            let om = digits(&[*om1, *om2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * SECS_PER_DAY
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(sec)
        - offset;
    Some(system_time_from_unix(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_a_wide_range() {
        for days in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_unix_days(days);
            assert!(valid_date(y, m, d).is_some(), "{days}");
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // Consecutive days advance the date by exactly one.
        let mut prev = civil_from_unix_days(-1000);
        for days in -999..100_000 {
            let cur = civil_from_unix_days(days);
            assert!(cur > prev);
            prev = cur;
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_unix_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2026, 12, 4), 20_791);
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
        assert_eq!(
            days_from_civil(2100, 2, 28) + 1,
            days_from_civil(2100, 3, 1)
        );
    }

    #[test]
    fn format_and_parse() {
        let cases = [
            (0i64, 0u32, "1970-01-01T00:00:00.000000Z"),
            (1_796_342_399, 123_456_789, "2026-12-03T23:59:59.123456Z"),
            (951_782_400, 1_000, "2000-02-29T00:00:00.000001Z"),
            (-1, 999_999_000, "1969-12-31T23:59:59.999999Z"),
        ];
        for (secs, nanos, text) in cases {
            let t = system_time_from_unix(secs, nanos);
            let mut s = String::new();
            format_rfc3339_micros(t, &mut s);
            assert_eq!(s, text);
            let back = parse_rfc3339(text).unwrap();
            assert_eq!(unix_parts(back), (secs, nanos / 1000 * 1000));
        }
    }

    #[test]
    fn parse_variants_and_rejects() {
        let base = parse_rfc3339("2026-12-04T00:00:00Z").unwrap();
        assert_eq!(parse_rfc3339("2026-12-03 23:59:60z"), Some(base));
        assert_eq!(parse_rfc3339("2026-12-04T02:30:00+02:30"), Some(base));
        assert_eq!(parse_rfc3339("2026-12-03T21:00:00-03:00"), Some(base));
        assert_eq!(
            parse_rfc3339("2026-12-04T00:00:00.1234567891Z"),
            Some(base + Duration::from_nanos(123_456_789))
        );
        for bad in [
            "",
            "2026-12-04",
            "2026-12-04T00:00:00",
            "2026-12-04T00:00:00.Z",
            "2026-02-30T00:00:00Z",
            "2026-12-04T24:00:00Z",
            "2026-12-04T00:00:00+0200",
            "2026-12-04T00:00:00Zjunk",
            "2026-1a-04T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_clamps_extremes() {
        let mut s = String::new();
        format_rfc3339_micros(system_time_from_unix(300_000_000_000, 0), &mut s);
        assert_eq!(s, "9999-12-31T23:59:59.999999Z");
    }
}
