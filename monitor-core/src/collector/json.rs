//! JSON Lines written by hand: no `core::fmt`, no allocation per line once the
//! buffer has grown. Every string is escaped, so a line is always one complete
//! JSON object whatever the message holds.

use std::time::SystemTime;

use crate::capture::Failure;
use crate::execution_record::ExecutionRecord;
use crate::fields::{Field, FieldValue};
use crate::json::{push_f64, push_str, push_u64, write_value};

pub(crate) fn push_timestamp(out: &mut Vec<u8>, time: SystemTime, scratch: &mut String) {
    scratch.clear();
    monitor_sinks::time::format_rfc3339_micros(time, scratch);
    out.push(b'"');
    out.extend_from_slice(scratch.as_bytes());
    out.push(b'"');
}

/// Starts an object with the `"key":` of its first field.
fn key(out: &mut Vec<u8>, name: &str) {
    out.push(b',');
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Milliseconds, fractional.
fn millis(nanos: u128) -> f64 {
    nanos as f64 / 1e6
}

/// One line of the executions log into `out`, and, for a failure, its line
/// of the errors log into `errors`: the same line with `error_chain`,
/// `stack_trace` and `context` after the message. The shared fields are
/// formatted once; the errors line is put together from the executions
/// line's bytes and the errors-only part.
pub(crate) fn execution_lines(
    out: &mut Vec<u8>,
    errors: &mut Vec<u8>,
    record: &ExecutionRecord<'_>,
    scratch: &mut String,
) {
    out.clear();
    out.extend_from_slice(b"{\"id\":\"");
    let mut id = [0u8; 26];
    record.id.encode(&mut id);
    out.extend_from_slice(&id);
    out.extend_from_slice(b"\",\"timestamp\":");
    push_timestamp(out, record.timestamp, scratch);
    key(out, "name");
    push_str(out, record.name);
    key(out, "status");
    push_str(out, record.status.as_str());
    key(out, "duration_ms");
    push_f64(out, millis(record.duration.as_nanos()));
    key(out, "trigger_type");
    push_str(out, record.trigger_type);
    key(out, "thread");
    push_str(out, record.thread);
    if let Some(busy) = record.busy {
        key(out, "busy_ms");
        push_f64(out, millis(busy.as_nanos()));
    }
    if let Some(failure) = record.failure {
        key(out, "error_type");
        push_str(out, &failure.error_type);
        key(out, "error_message");
        push_str(out, &failure.message);
        if failure.message_truncated {
            key(out, "error_message_truncated");
            out.extend_from_slice(b"true");
        }
    }
    let shared = out.len();
    if !record.fields.is_empty() {
        key(out, "fields");
        push_fields(out, record.fields);
    }
    if let Some(trace) = record.trace {
        key(out, "execution_trace");
        let before = out.len();
        if write_value(out, trace).is_err() {
            // Unreachable (the trace is plain data); keep the line valid.
            out.truncate(before);
            out.extend_from_slice(b"null");
        }
    }
    out.extend_from_slice(b"}\n");
    errors.clear();
    if record.status.is_failure() {
        errors.extend_from_slice(&out[..shared]);
        if let Some(failure) = record.failure {
            errors_only(errors, record, failure);
        }
        errors.extend_from_slice(&out[shared..]);
    }
}

/// The fields only the errors log has, after the message.
fn errors_only(out: &mut Vec<u8>, record: &ExecutionRecord<'_>, failure: &Failure) {
    key(out, "error_chain");
    out.push(b'[');
    for (index, cause) in failure.chain.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_str(out, cause);
    }
    out.push(b']');
    key(out, "stack_trace");
    match &failure.stack_trace {
        Some(trace) => push_str(out, trace),
        None => out.extend_from_slice(b"null"),
    }
    key(out, "context");
    out.extend_from_slice(b"{\"module\":");
    push_str(out, record.module_path);
    key(out, "file");
    push_str(out, record.file);
    key(out, "line");
    push_u64(out, u64::from(record.line));
    if let Some(location) = &failure.location {
        key(out, "panic_location");
        push_str(out, location);
    }
    out.push(b'}');
}

/// `{"name":value,…}`: numbers and booleans as JSON writes them, text as a
/// string (escaped like every other string).
fn push_fields(out: &mut Vec<u8>, fields: &[Field]) {
    out.push(b'{');
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_str(out, field.name());
        out.push(b':');
        match field.value() {
            FieldValue::I64(value) => {
                out.extend_from_slice(itoa::Buffer::new().format(*value).as_bytes());
            }
            FieldValue::U64(value) => push_u64(out, *value),
            FieldValue::F64(value) => push_f64(out, *value),
            FieldValue::Bool(value) => {
                out.extend_from_slice(if *value { b"true" } else { b"false" });
            }
            FieldValue::Str(text) => push_str(out, text),
        }
    }
    out.push(b'}');
}

/// Starts a monitor record of the executions log: `status` is `gap`
/// (executions dropped on overflow) or `clock_jump`.
fn monitor_line_start(
    out: &mut Vec<u8>,
    time: SystemTime,
    status: &str,
    thread: &str,
    scratch: &mut String,
) {
    out.clear();
    out.extend_from_slice(b"{\"timestamp\":");
    push_timestamp(out, time, scratch);
    key(out, "name");
    push_str(out, "monitor");
    key(out, "status");
    push_str(out, status);
    key(out, "trigger_type");
    push_str(out, "monitor");
    key(out, "thread");
    push_str(out, thread);
}

/// `{"status":"gap","dropped_events":N,...}`: executions lost on overflow.
pub(crate) fn gap_line(
    out: &mut Vec<u8>,
    time: SystemTime,
    thread: &str,
    dropped: u64,
    scratch: &mut String,
) {
    monitor_line_start(out, time, "gap", thread, scratch);
    key(out, "dropped_events");
    push_u64(out, dropped);
    out.extend_from_slice(b"}\n");
}

/// `{"status":"clock_jump","jump_ms":X,...}`: the wall clock moved by X ms
/// more than the monotonic clock (negative: backwards).
pub(crate) fn clock_jump_line(
    out: &mut Vec<u8>,
    time: SystemTime,
    jump_ms: f64,
    scratch: &mut String,
) {
    monitor_line_start(out, time, "clock_jump", "monitor-collector", scratch);
    key(out, "jump_ms");
    push_f64(out, jump_ms);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Status;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any names and values: one line, valid JSON, each name and value
        /// back exactly or cut at its cap.
        #[test]
        fn arbitrary_fields_stay_one_valid_json_object(
            entries in proptest::collection::vec(
                (any::<String>(), prop_oneof![
                    any::<String>().prop_map(|text| FieldValue::text(&text)),
                    any::<i64>().prop_map(FieldValue::I64),
                    any::<u64>().prop_map(FieldValue::U64),
                    any::<f64>().prop_map(FieldValue::float),
                    any::<bool>().prop_map(FieldValue::Bool),
                ]),
                0..20,
            )
        ) {
            let mut fields = Vec::new();
            for (name, value) in &entries {
                crate::fields::set_field(&mut fields, Field::new(name.clone(), value.clone()));
            }
            let mut out = Vec::new();
            push_fields(&mut out, &fields);
            let text = String::from_utf8(out).unwrap();
            prop_assert!(!text.contains('\n') && !text.contains('\r'));
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            let object = back.as_object().unwrap();
            prop_assert_eq!(object.len(), fields.len());
            for field in &fields {
                let value = &object[field.name()];
                match field.value() {
                    FieldValue::Str(text) => {
                        prop_assert!(text.len() <= crate::MAX_VALUE_BYTES);
                        prop_assert_eq!(value.as_str().unwrap(), text.as_str());
                    }
                    FieldValue::I64(n) => prop_assert_eq!(value.as_i64(), Some(*n)),
                    FieldValue::U64(n) => prop_assert_eq!(value.as_u64(), Some(*n)),
                    // serde_json (without `float_roundtrip`) may read the
                    // last digit differently; ryu wrote the shortest exact form.
                    FieldValue::F64(x) => {
                        let read = value.as_f64().unwrap();
                        prop_assert!((read - x).abs() <= x.abs() * 1e-15, "{} vs {}", read, x);
                    }
                    FieldValue::Bool(b) => prop_assert_eq!(value.as_bool(), Some(*b)),
                }
                prop_assert!(field.name().len() <= crate::MAX_NAME_BYTES);
            }
        }
    }

    /// The errors line is the executions line with `error_chain`,
    /// `stack_trace` and `context` right after the message: every other
    /// field, before and after, byte for byte the same.
    #[test]
    fn the_errors_line_is_the_executions_line_with_the_errors_only_fields() {
        let mut failure = Failure::captured(
            "app::Error",
            ("bad \"input\"\n".to_owned(), true),
            vec!["cause one".to_owned()],
        );
        failure.stack_trace = Some("0: main".to_owned());
        let fields = vec![Field::new("user", FieldValue::U64(42))];
        let record = |status, failure| ExecutionRecord {
            id: crate::ExecutionId::from_parts(1_765_000_000_000, 7, 1, 1),
            name: "app::job",
            trigger_type: "span",
            status,
            timestamp: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_765_000_000_123),
            duration: std::time::Duration::from_micros(1500),
            thread: "worker-1",
            failure,
            busy: Some(std::time::Duration::from_micros(700)),
            trace: None,
            module_path: "app",
            file: "src/app.rs",
            line: 12,
            fields: &fields,
        };
        let (mut out, mut errors, mut scratch) = (Vec::new(), Vec::new(), String::new());
        execution_lines(
            &mut out,
            &mut errors,
            &record(Status::Error, Some(&failure)),
            &mut scratch,
        );
        let executions = String::from_utf8(out.clone()).unwrap();
        let errors_text = String::from_utf8(errors.clone()).unwrap();
        let cut = executions.find(",\"fields\"").unwrap();
        let (head, tail) = executions.split_at(cut);
        assert!(
            errors_text.starts_with(head) && errors_text.ends_with(tail),
            "{errors_text}"
        );
        let middle = &errors_text[head.len()..errors_text.len() - tail.len()];
        assert_eq!(
            middle,
            r#","error_chain":["cause one"],"stack_trace":"0: main","context":{"module":"app","file":"src/app.rs","line":12}"#
        );
        let line: serde_json::Value = serde_json::from_str(&errors_text).unwrap();
        assert_eq!(line["error_message"], "bad \"input\"\n");
        assert_eq!(line["error_message_truncated"], true);
        assert_eq!(line["fields"]["user"], 42);
        assert_eq!(line["busy_ms"], 0.7);
        // A success has no errors line; a failure without details gets the
        // executions line as it is.
        execution_lines(
            &mut out,
            &mut errors,
            &record(Status::Success, None),
            &mut scratch,
        );
        assert!(errors.is_empty());
        execution_lines(
            &mut out,
            &mut errors,
            &record(Status::Panic, None),
            &mut scratch,
        );
        assert_eq!(errors, out);
    }

    #[test]
    fn hostile_text_stays_one_valid_json_string() {
        let hostile =
            "quote \" backslash \\ newline \n cr \r tab \t nul \0 bell \x07 del \x7f é 🚀";
        let mut out = Vec::new();
        push_str(&mut out, hostile);
        let line = String::from_utf8(out).unwrap();
        assert!(!line.contains('\n'));
        let back: String = serde_json::from_str(&line).unwrap();
        assert_eq!(back, hostile);
    }
}
