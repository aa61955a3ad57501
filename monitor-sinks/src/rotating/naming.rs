//! File names: the current file, rotated stamps, counters, and the exact
//! pattern that retention and start-up clean-up recognise.

use crate::time::{parse_date, put2, put4, valid_date, UtcDateTime, SECS_PER_DAY};

/// How the stamp of a rotated file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StampFormat {
    /// `YYYY-MM-DD`: start of a UTC day.
    Day,
    /// `YYYY-MM-DDTHH`: start of a UTC hour.
    Hour,
    /// `YYYYMMDDTHHMMSSZ`: an instant, to the second.
    Instant,
}

impl StampFormat {
    /// Writes the stamp of `secs` (Unix seconds) in this format.
    pub(crate) fn push(self, secs: i64, out: &mut String) {
        let dt = UtcDateTime::from_unix(secs, 0);
        // Years outside 0..=9999 cannot be named; clamp rather than panic.
        let year = dt.year.clamp(0, 9999) as u32;
        match self {
            StampFormat::Day | StampFormat::Hour => {
                let mut b = *b"0000-00-00T00";
                put4(&mut b[0..4], year);
                put2(&mut b[5..7], dt.month);
                put2(&mut b[8..10], dt.day);
                put2(&mut b[11..13], dt.hour);
                let n = if self == StampFormat::Day { 10 } else { 13 };
                crate::time::push_ascii(out, &b[..n]);
            }
            StampFormat::Instant => {
                let mut b = *b"00000000T000000Z";
                put4(&mut b[0..4], year);
                put2(&mut b[4..6], dt.month);
                put2(&mut b[6..8], dt.day);
                put2(&mut b[9..11], dt.hour);
                put2(&mut b[11..13], dt.minute);
                put2(&mut b[13..15], dt.second);
                crate::time::push_ascii(out, &b);
            }
        }
    }

    /// Parses a stamp in any of the three formats, returning its Unix seconds.
    pub(crate) fn parse_any(s: &str) -> Option<(StampFormat, i64)> {
        let b = s.as_bytes();
        let two = |i: usize| -> Option<u32> {
            let (h, l) = (*b.get(i)?, *b.get(i + 1)?);
            (h.is_ascii_digit() && l.is_ascii_digit())
                .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
        };
        match b.len() {
            10 => {
                let (y, m, d) = parse_date(b)?;
                Some((StampFormat::Day, day_secs(y, m, d)))
            }
            13 if b[10] == b'T' => {
                let (y, m, d) = parse_date(&b[..10])?;
                let h = two(11)?;
                (h < 24).then(|| (StampFormat::Hour, day_secs(y, m, d) + i64::from(h) * 3600))
            }
            16 if b[8] == b'T' && b[15] == b'Z' => {
                let y = two(0)? * 100 + two(2)?;
                let (y, m, d) = valid_date(i64::from(y), two(4)?, two(6)?)?;
                let (h, mi, sec) = (two(9)?, two(11)?, two(13)?);
                (h < 24 && mi < 60 && sec < 60).then(|| {
                    let secs = day_secs(y, m, d) + i64::from(h * 3600 + mi * 60 + sec);
                    (StampFormat::Instant, secs)
                })
            }
            _ => None,
        }
    }
}

fn day_secs(y: i64, m: u32, d: u32) -> i64 {
    crate::time::days_from_civil(y, m, d) * SECS_PER_DAY
}

/// What a recognised file name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedName {
    /// Stamp format found in the name.
    pub format: StampFormat,
    /// Unix seconds of the stamp (period start, or the rotation instant).
    pub stamp_secs: i64,
    /// Collision counter; 0 when the name has none.
    pub counter: u32,
    /// The name ends in `.gz` (or `.gz.tmp`).
    pub gz: bool,
    /// The name ends in `.gz.tmp`: an unfinished compression.
    pub tmp: bool,
}

/// Names of one log: `current{_base}.log` and `{stamp}{_base}[.N].log[.gz]`.
#[derive(Debug, Clone)]
pub(crate) struct Naming {
    /// `""` or `"_" + base`.
    suffix: String,
}

impl Naming {
    /// Names for `base` (already validated: ASCII letters, digits, `-`, `_`).
    pub(crate) fn new(base: &str) -> Self {
        let suffix = if base.is_empty() {
            String::new()
        } else {
            format!("_{base}")
        };
        Naming { suffix }
    }

    /// `current{_base}.log`.
    pub(crate) fn current(&self) -> String {
        format!("current{}.log", self.suffix)
    }

    /// `{stamp}{_base}[.N].log`; the counter is left out when 0.
    pub(crate) fn rotated(&self, format: StampFormat, stamp_secs: i64, counter: u32) -> String {
        let mut s = String::with_capacity(40);
        format.push(stamp_secs, &mut s);
        s.push_str(&self.suffix);
        if counter > 0 {
            s.push('.');
            s.push_str(&counter.to_string());
        }
        s.push_str(".log");
        s
    }

    /// Recognises exactly our rotated names (also `.gz` and `.gz.tmp`).
    pub(crate) fn parse(&self, name: &str) -> Option<ParsedName> {
        let (rest, gz, tmp) = if let Some(r) = name.strip_suffix(".log.gz.tmp") {
            (r, true, true)
        } else if let Some(r) = name.strip_suffix(".log.gz") {
            (r, true, false)
        } else {
            (name.strip_suffix(".log")?, false, false)
        };
        // Neither the stamp nor the base contain '.', so a '.' marks a counter.
        let (rest, counter) = match rest.rsplit_once('.') {
            Some((r, n)) => (r, parse_counter(n)?),
            None => (rest, 0),
        };
        let stamp = rest.strip_suffix(self.suffix.as_str())?;
        let (format, stamp_secs) = StampFormat::parse_any(stamp)?;
        Some(ParsedName {
            format,
            stamp_secs,
            counter,
            gz,
            tmp,
        })
    }
}

/// A counter: decimal, no leading zero, at least 1.
fn parse_counter(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::days_from_civil;

    fn secs(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, m, d) * SECS_PER_DAY + h * 3600 + mi * 60 + s
    }

    #[test]
    fn formats() {
        let n = Naming::new("errors");
        let t = secs(2026, 12, 4, 7, 8, 9);
        assert_eq!(n.current(), "current_errors.log");
        assert_eq!(
            n.rotated(StampFormat::Instant, t, 0),
            "20261204T070809Z_errors.log"
        );
        assert_eq!(
            n.rotated(StampFormat::Hour, t, 2),
            "2026-12-04T07_errors.2.log"
        );
        let e = Naming::new("");
        assert_eq!(e.current(), "current.log");
        assert_eq!(e.rotated(StampFormat::Day, t, 0), "2026-12-04.log");
        assert_eq!(e.rotated(StampFormat::Day, t, 1), "2026-12-04.1.log");
    }

    #[test]
    fn parse_exact() {
        let e = Naming::new("");
        let day = secs(2026, 12, 4, 0, 0, 0);
        let p = e.parse("2026-12-04.12.log.gz").unwrap();
        assert_eq!(
            (p.stamp_secs, p.counter, p.gz, p.tmp),
            (day, 12, true, false)
        );
        assert_eq!(
            e.parse("2026-12-04T13.log").unwrap().stamp_secs,
            day + 13 * 3600
        );
        assert_eq!(e.parse("20261204T000001Z.log").unwrap().stamp_secs, day + 1);
        assert!(e.parse("2026-12-04.log.gz.tmp").unwrap().tmp);
        for foreign in [
            "current.log",
            "notes.txt",
            "current.log.bak",
            "2026-12-04-other.log",
            "2026-12-04_errors.log",
            "2026-12-04.0.log",
            "2026-12-04.01.log",
            "2026-12-04..log",
            "2026-12-04.log.bak",
            "2026-12-04.LOG",
            "2026-02-30.log",
            "2026-12-04T24.log",
            "20261204T000060Z.log",
            "20261204T000000.log",
            "x2026-12-04.log",
            "2026-12-04.1.2.log",
            ".log",
        ] {
            assert_eq!(e.parse(foreign), None, "{foreign}");
        }
        let a = Naming::new("alerts");
        assert!(a.parse("2026-12-04_alerts.3.log").is_some());
        assert!(a.parse("2026-12-04.log").is_none());
        assert!(a.parse("2026-12-04_my_alerts.log").is_none());
        assert!(a.parse("2026-12-04_alerts.log.gz").is_some());
    }
}
