//! UTC timestamps as they appear in logs, statistics and reports.

use std::fmt;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

/// A UTC point in time, shown and serialized as RFC 3339 with microseconds
/// (`2026-12-04T15:29:49.123456Z`).
///
/// ```
/// use monitor_core::Timestamp;
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = Timestamp::from(UNIX_EPOCH + Duration::from_micros(1_500_000));
/// assert_eq!(t.to_string(), "1970-01-01T00:00:01.500000Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    /// The wrapped time.
    pub fn system_time(self) -> SystemTime {
        self.0
    }

    /// Parses the RFC 3339 form this type prints (also without fraction).
    pub fn parse(text: &str) -> Option<Timestamp> {
        monitor_sinks::time::parse_rfc3339(text).map(Timestamp)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Timestamp(time)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(27);
        monitor_sinks::time::format_rfc3339_micros(self.0, &mut text);
        f.write_str(&text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
