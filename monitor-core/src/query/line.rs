//! One log line read into an [`ExecutionSummary`] (and the rest of its
//! members, for [`ExecutionDetail`](super::ExecutionDetail)).

use std::str::FromStr;

use super::{JsonValue, ParseStatusError};
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::timestamp::Timestamp;

use super::ExecutionSummary;

impl FromStr for Status {
    type Err = ParseStatusError;

    /// `success`, `error`, `panic` or `cancelled`, as the logs write them.
    fn from_str(text: &str) -> Result<Status, ParseStatusError> {
        Ok(match text {
            "success" => Status::Success,
            "error" => Status::Error,
            "panic" => Status::Panic,
            "cancelled" => Status::Cancelled,
            _ => {
                return Err(ParseStatusError {
                    text: text.chars().take(64).collect(),
                })
            }
        })
    }
}

/// What a line is.
pub(super) enum Line {
    /// Not a JSON object, cut, or an execution's line with a member of the
    /// wrong type (`"duration_ms":"x"`, `"name":42`, an unknown `status`,
    /// a `timestamp` that does not parse): skipped and counted.
    Corrupt,
    /// A JSON object that is no execution (a `gap` or `clock_jump` record,
    /// or a line of some other shape): not listed, not counted.
    Other,
    /// An execution, and the members the summary does not hold.
    Execution(Box<ExecutionSummary>, Vec<(String, JsonValue)>),
}

/// Reads one line (without its `\n`).
pub(super) fn parse(bytes: &[u8]) -> Line {
    if bytes.first() != Some(&b'{') || bytes.last() != Some(&b'}') {
        return Line::Corrupt;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Line::Corrupt;
    };
    let Ok(crate::json::Value::Object(members)) = crate::json::parse(text) else {
        return Line::Corrupt;
    };
    let mut id = None;
    let mut timestamp = None;
    let mut name = None;
    let mut status = None;
    let mut duration_ms = None;
    let mut thread = None;
    let mut trigger_type = None;
    let mut error_type = None;
    let mut error_message = None;
    let mut fields = Vec::new();
    let mut rest = Vec::new();
    // The members every execution line has, present with whatever type.
    let mut present = [false; 4];
    for (key, value) in members {
        if let Some(at) = ["timestamp", "name", "status", "duration_ms"]
            .iter()
            .position(|member| *member == key)
        {
            present[at] = true;
        }
        let value = JsonValue::from(value);
        match (key.as_str(), value) {
            ("id", JsonValue::String(text)) if id.is_none() => match text.parse::<ExecutionId>() {
                Ok(parsed) => id = Some(parsed),
                Err(_) => rest.push((key, JsonValue::String(text))),
            },
            ("timestamp", JsonValue::String(text)) if timestamp.is_none() => {
                if let Some(parsed) = Timestamp::parse(&text) {
                    timestamp = Some(parsed);
                }
            }
            ("name", JsonValue::String(text)) if name.is_none() => name = Some(text),
            ("status", JsonValue::String(text)) if status.is_none() => {
                if let Ok(parsed) = text.parse::<Status>() {
                    status = Some(parsed);
                }
            }
            ("duration_ms", value) if duration_ms.is_none() && value.as_f64().is_some() => {
                duration_ms = value.as_f64();
            }
            ("thread", JsonValue::String(text)) if thread.is_none() => thread = Some(text),
            ("trigger_type", JsonValue::String(text)) if trigger_type.is_none() => {
                trigger_type = Some(text)
            }
            ("error_type", JsonValue::String(text)) if error_type.is_none() => {
                error_type = Some(text)
            }
            ("error_message", JsonValue::String(text)) if error_message.is_none() => {
                error_message = Some(text)
            }
            ("fields", JsonValue::Object(members)) if fields.is_empty() => fields = members,
            (_, value) => rest.push((key, value)),
        }
    }
    let (Some(timestamp), Some(name), Some(status), Some(duration_ms)) =
        (timestamp, name, status, duration_ms)
    else {
        // A line with an execution's members, one of them unreadable, is a
        // damaged execution; one without them is some other record.
        return if present.iter().all(|&present| present) {
            Line::Corrupt
        } else {
            Line::Other
        };
    };
    Line::Execution(
        Box::new(ExecutionSummary {
            id,
            timestamp,
            name,
            status,
            duration_ms,
            thread: thread.unwrap_or_default(),
            trigger_type: trigger_type.unwrap_or_default(),
            error_type,
            error_message,
            fields,
        }),
        rest,
    )
}

/// The value of a string member of a raw line, without parsing the whole
/// line (for the `timestamp`, which the writer puts near the start and
/// never escapes).
pub(super) fn raw_string<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::find(line, key)?;
    let rest = &line[at + key.len()..];
    let end = memchr::memchr(b'"', rest)?;
    Some(&rest[..end])
}
