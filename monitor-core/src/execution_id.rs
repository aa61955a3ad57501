//! Execution ids: 128 bits, time-ordered, written as 26 characters of
//! Crockford's base32 (the ULID text form).
//!
//! Layout, most significant bits first:
//!
//! | bits | what |
//! | --- | --- |
//! | 48 | the execution's start, milliseconds since the Unix epoch |
//! | 32 | the run: a random number drawn when the monitor is installed |
//! | 16 | the thread that started the execution (numbered in the process, from 1) |
//! | 32 | that thread's sequence number of the execution (wrapping) |
//!
//! The caller contributes only its thread's number and sequence (a
//! thread-local counter, no shared atomic); the collector adds the start time
//! and the run. Ids sort by start time, and the time prefix tells a reader
//! which log file to open first.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::timestamp::Timestamp;

/// Crockford's base32 alphabet: digits and upper-case letters without I, L, O, U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in the text form.
const TEXT_LEN: usize = 26;

/// The id of one execution, unique across restarts of the host and ordered
/// by start time. It is written as the `"id"` field of the executions log
/// and the errors log, and shown as 26 characters (`01JEX3S8Q4…`).
///
/// ```
/// use monitor_core::ExecutionId;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let id: ExecutionId = "01JEX3S8Q40000000100000007".parse()?;
/// assert_eq!(id.to_string(), "01JEX3S8Q40000000100000007");
/// assert!(id.timestamp().system_time() > UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// // Lower case is accepted too.
/// assert_eq!("01jex3s8q40000000100000007".parse::<ExecutionId>()?, id);
/// # Ok::<(), monitor_core::ParseExecutionIdError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExecutionId(u128);

impl ExecutionId {
    /// Assembles an id from its parts (see the module documentation).
    /// `start_ms` keeps its low 48 bits.
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// let id = ExecutionId::from_parts(1_733_000_000_000, 0xDEAD_BEEF, 3, 41);
    /// assert_eq!(id.start_ms(), 1_733_000_000_000);
    /// assert_eq!(id.thread_number(), 3);
    /// assert_eq!(id.sequence(), 41);
    /// ```
    pub fn from_parts(start_ms: u64, run: u32, thread: u16, sequence: u32) -> ExecutionId {
        let start = u128::from(start_ms & ((1 << 48) - 1));
        ExecutionId(
            start << 80 | u128::from(run) << 48 | u128::from(thread) << 32 | u128::from(sequence),
        )
    }

    /// The id as a number.
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// let id = ExecutionId::from_u128(7);
    /// assert_eq!(id.as_u128(), 7);
    /// ```
    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// The id with this numeric value.
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// assert_eq!(ExecutionId::from_u128(1).to_string(), "00000000000000000000000001");
    /// ```
    pub fn from_u128(value: u128) -> ExecutionId {
        ExecutionId(value)
    }

    /// When the execution started, in milliseconds since the Unix epoch.
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// assert_eq!(ExecutionId::from_parts(1_500, 1, 1, 1).start_ms(), 1_500);
    /// ```
    pub fn start_ms(self) -> u64 {
        (self.0 >> 80) as u64
    }

    /// When the execution started, to the millisecond: where a reader
    /// starts looking for its line.
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// let id = ExecutionId::from_parts(1_500, 1, 1, 1);
    /// assert_eq!(id.timestamp().to_string(), "1970-01-01T00:00:01.500000Z");
    /// ```
    pub fn timestamp(self) -> Timestamp {
        Timestamp(UNIX_EPOCH + Duration::from_millis(self.start_ms()))
    }

    /// The random number of the run (one installed monitor) that made it.
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// assert_eq!(ExecutionId::from_parts(0, 99, 1, 1).run(), 99);
    /// ```
    pub fn run(self) -> u32 {
        (self.0 >> 48) as u32
    }

    /// The number of the thread that started the execution (from 1, in the
    /// order threads first recorded; wraps after 65,535).
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// assert_eq!(ExecutionId::from_parts(0, 1, 12, 1).thread_number(), 12);
    /// ```
    pub fn thread_number(self) -> u16 {
        (self.0 >> 32) as u16
    }

    /// The execution's sequence number on its thread.
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// assert_eq!(ExecutionId::from_parts(0, 1, 1, 5).sequence(), 5);
    /// ```
    pub fn sequence(self) -> u32 {
        self.0 as u32
    }

    /// Writes the 26-character text form into `out`.
    pub(crate) fn encode(self, out: &mut [u8; TEXT_LEN]) {
        for (index, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (TEXT_LEN - 1 - index);
            *slot = ALPHABET[((self.0 >> shift) & 0x1f) as usize];
        }
    }

    /// The smallest id that can have started at `time` (for range scans).
    ///
    /// ```
    /// use monitor_core::ExecutionId;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let first = ExecutionId::first_at(UNIX_EPOCH + Duration::from_millis(1_500));
    /// assert!(first <= ExecutionId::from_parts(1_500, 0, 0, 0));
    /// assert!(first > ExecutionId::from_parts(1_499, u32::MAX, u16::MAX, u32::MAX));
    /// ```
    pub fn first_at(time: SystemTime) -> ExecutionId {
        let ms = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis().min((1 << 48) - 1) as u64);
        ExecutionId::from_parts(ms, 0, 0, 0)
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; TEXT_LEN];
        self.encode(&mut text);
        // The alphabet is ASCII.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for ExecutionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Read from its text form (as the statistics store keeps it).
impl<'de> Deserialize<'de> for ExecutionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a text is not an [`ExecutionId`].
///
/// ```
/// use monitor_core::ExecutionId;
/// let error = "42".parse::<ExecutionId>().unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "`42` is not an execution id: expected 26 characters of Crockford base32 (0-9, A-Z without I, L, O, U), got 2"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseExecutionIdError {
    text: String,
    problem: String,
}

impl fmt::Display for ParseExecutionIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an execution id: {}",
            self.text.escape_debug(),
            self.problem
        )
    }
}

impl std::error::Error for ParseExecutionIdError {}

impl FromStr for ExecutionId {
    type Err = ParseExecutionIdError;

    fn from_str(text: &str) -> Result<ExecutionId, ParseExecutionIdError> {
        let error = |problem: String| ParseExecutionIdError {
            text: text.chars().take(64).collect(),
            problem,
        };
        let bytes = text.as_bytes();
        if bytes.len() != TEXT_LEN {
            return Err(error(format!(
                "expected 26 characters of Crockford base32 (0-9, A-Z without I, L, O, U), got {}",
                text.chars().count()
            )));
        }
        let mut value: u128 = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            let upper = byte.to_ascii_uppercase();
            let Some(digit) = ALPHABET.iter().position(|&letter| letter == upper) else {
                return Err(error(format!(
                    "character {} (`{}`) is not Crockford base32 (0-9, A-Z without I, L, O, U)",
                    index + 1,
                    text[index..].chars().next().unwrap_or('?').escape_debug()
                )));
            };
            if index == 0 && digit > 7 {
                return Err(error(
                    "it is larger than 128 bits (the first character is at most 7)".to_owned(),
                ));
            }
            value = value << 5 | digit as u128;
        }
        Ok(ExecutionId(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_sorts_like_the_number() {
        let ids = [
            ExecutionId::from_u128(0),
            ExecutionId::from_parts(1, 0, 0, 0),
            ExecutionId::from_parts(1_733_000_000_000, 0xDEAD_BEEF, 3, 41),
            ExecutionId::from_parts(1_733_000_000_001, 0, 0, 0),
            ExecutionId::from_u128(u128::MAX),
        ];
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_string() < pair[1].to_string());
        }
        for id in ids {
            assert_eq!(id.to_string().parse::<ExecutionId>(), Ok(id));
        }
        assert_eq!(
            ExecutionId::from_u128(u128::MAX).to_string(),
            "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
        );
    }

    #[test]
    fn parts_come_back_out() {
        let id = ExecutionId::from_parts(1_733_000_000_000, 0xDEAD_BEEF, 65_535, u32::MAX);
        assert_eq!(id.start_ms(), 1_733_000_000_000);
        assert_eq!(id.run(), 0xDEAD_BEEF);
        assert_eq!(id.thread_number(), 65_535);
        assert_eq!(id.sequence(), u32::MAX);
    }

    #[test]
    fn bad_text_is_refused_with_the_reason() {
        let too_big = "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"
            .parse::<ExecutionId>()
            .unwrap_err();
        assert!(
            too_big.to_string().contains("larger than 128 bits"),
            "{too_big}"
        );
        let letter = "01JEX3S8Q4000000010000000U"
            .parse::<ExecutionId>()
            .unwrap_err();
        assert!(
            letter.to_string().contains("character 26 (`U`)"),
            "{letter}"
        );
        let multibyte = "01JEX3S8Q400000001000000é"
            .parse::<ExecutionId>()
            .unwrap_err();
        assert!(
            multibyte.to_string().contains("character 25 (`é`)"),
            "{multibyte}"
        );
    }
}
