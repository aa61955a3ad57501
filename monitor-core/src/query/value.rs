//! [`JsonValue`]: a JSON value read from a log line, for the parts of a line
//! whose shape is open (context fields, unknown fields, the `context`
//! object).

use std::fmt;
use std::str::FromStr;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::json::Value;

/// A JSON value as read from a log line. Objects keep their members in the
/// order of the line.
///
/// `Display` gives the value's text form, the one a field filter compares
/// (`user_id=42`): a string as it is (no quotes), a number as JSON writes
/// it, `true`/`false`, `null`, and arrays and objects as compact JSON.
/// `Serialize` writes it back as JSON.
///
/// ```
/// use monitor_core::query::JsonValue;
/// let value = JsonValue::String("abc".into());
/// assert_eq!(value.to_string(), "abc");
/// assert_eq!(JsonValue::Unsigned(42).to_string(), "42");
/// assert_eq!(JsonValue::Float(1.5).to_string(), "1.5");
/// assert_eq!(monitor_core::query::to_json(&value), "\"abc\"");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum JsonValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number from 0 to `u64::MAX`.
    Unsigned(u64),
    /// A negative whole number from `i64::MIN`.
    Signed(i64),
    /// Any other number (with a fraction or an exponent, or out of range).
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object, its members in order.
    Object(Vec<(String, JsonValue)>),
}

impl JsonValue {
    /// The string, when the value is one.
    ///
    /// ```
    /// use monitor_core::query::JsonValue;
    /// assert_eq!(JsonValue::String("x".into()).as_str(), Some("x"));
    /// assert_eq!(JsonValue::Null.as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// The number, when the value is one (whole numbers converted).
    ///
    /// ```
    /// use monitor_core::query::JsonValue;
    /// assert_eq!(JsonValue::Unsigned(3).as_f64(), Some(3.0));
    /// assert_eq!(JsonValue::Bool(true).as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            JsonValue::Unsigned(value) => Some(value as f64),
            JsonValue::Signed(value) => Some(value as f64),
            JsonValue::Float(value) => Some(value),
            _ => None,
        }
    }

    /// The member named `key`, when the value is an object that has one
    /// (the first, should a line repeat a key).
    ///
    /// ```
    /// use monitor_core::query::JsonValue;
    /// let object = JsonValue::Object(vec![("line".into(), JsonValue::Unsigned(7))]);
    /// assert_eq!(object.get("line"), Some(&JsonValue::Unsigned(7)));
    /// assert_eq!(object.get("file"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        match self {
            JsonValue::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }
}

impl From<Value> for JsonValue {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => JsonValue::Null,
            Value::Bool(value) => JsonValue::Bool(value),
            Value::Unsigned(value) => JsonValue::Unsigned(value),
            Value::Signed(value) => JsonValue::Signed(value),
            Value::Float(value) => JsonValue::Float(value),
            Value::String(value) => JsonValue::String(value),
            Value::Array(items) => JsonValue::Array(items.into_iter().map(Into::into).collect()),
            Value::Object(members) => JsonValue::Object(
                members
                    .into_iter()
                    .map(|(key, value)| (key, value.into()))
                    .collect(),
            ),
        }
    }
}

impl FromStr for JsonValue {
    type Err = ParseJsonError;

    /// Parses one JSON value (surrounding whitespace allowed), with the
    /// crate's own strict parser: a log line read on its own, as
    /// `monitor tail` does.
    ///
    /// ```
    /// use monitor_core::query::JsonValue;
    /// let line: JsonValue = r#"{"name":"jobs::sync","duration_ms":3.5}"#.parse()?;
    /// assert_eq!(line.get("name").and_then(JsonValue::as_str), Some("jobs::sync"));
    /// assert_eq!(line.get("duration_ms").and_then(JsonValue::as_f64), Some(3.5));
    /// assert!(r#"{"cut"#.parse::<JsonValue>().is_err());
    /// # Ok::<(), monitor_core::query::ParseJsonError>(())
    /// ```
    fn from_str(text: &str) -> Result<JsonValue, ParseJsonError> {
        crate::json::parse(text)
            .map(JsonValue::from)
            .map_err(|error| ParseJsonError {
                message: error.to_string(),
            })
    }
}

/// Why a text is not JSON ([`JsonValue`]'s `FromStr`).
///
/// ```
/// let error = "{".parse::<monitor_core::query::JsonValue>().unwrap_err();
/// assert!(!error.to_string().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseJsonError {
    message: String,
}

impl fmt::Display for ParseJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not JSON: {}", self.message)
    }
}

impl std::error::Error for ParseJsonError {}

impl fmt::Display for JsonValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonValue::String(text) => f.write_str(text),
            JsonValue::Null => f.write_str("null"),
            JsonValue::Bool(value) => write!(f, "{value}"),
            JsonValue::Unsigned(value) => f.write_str(itoa::Buffer::new().format(*value)),
            JsonValue::Signed(value) => f.write_str(itoa::Buffer::new().format(*value)),
            JsonValue::Float(value) if value.is_finite() => {
                f.write_str(ryu::Buffer::new().format_finite(*value))
            }
            JsonValue::Float(_) => f.write_str("null"),
            JsonValue::Array(_) | JsonValue::Object(_) => f.write_str(&super::to_json(self)),
        }
    }
}

impl Serialize for JsonValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonValue::Null => serializer.serialize_unit(),
            JsonValue::Bool(value) => serializer.serialize_bool(*value),
            JsonValue::Unsigned(value) => serializer.serialize_u64(*value),
            JsonValue::Signed(value) => serializer.serialize_i64(*value),
            JsonValue::Float(value) => serializer.serialize_f64(*value),
            JsonValue::String(text) => serializer.serialize_str(text),
            JsonValue::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            JsonValue::Object(members) => serialize_members(members, serializer),
        }
    }
}

/// Writes `members` as a JSON object, in order.
pub(super) fn serialize_members<S: Serializer>(
    members: &[(String, JsonValue)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(members.len()))?;
    for (key, value) in members {
        map.serialize_entry(key, value)?;
    }
    map.end()
}
