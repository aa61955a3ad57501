//! JSON Lines written by hand: no `core::fmt`, no allocation per line once the
//! buffer has grown. Every string is escaped, so a line is always one complete
//! JSON object whatever the message holds.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use super::unix_time::UnixTime;
use crate::callsite::Callsite;
use crate::capture::Failure;
use crate::event::Status;
use crate::execution_record::ExecutionRecord;
use crate::fields::{Field, FieldValue};
use crate::json::{push_f64, push_millis, push_str, push_u64, put_six_digits, write_value};

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

/// A timestamp as [`format_rfc3339_micros`](monitor_sinks::time::format_rfc3339_micros)
/// writes it: `2026-12-04T15:29:49.123456Z`.
#[derive(Clone, Copy)]
pub(crate) struct Stamp([u8; 27]);

impl Stamp {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn as_str(&self) -> &str {
        debug_assert!(self.0.is_ascii());
        // SAFETY: every byte is ASCII, so the bytes are UTF-8: `LineParts::stamp`
        // writes ASCII digits into a copy of `format_rfc3339_micros`'s
        // output, which is ASCII (digits, `-`, `T`, `:`, `.`, `Z`).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

/// The bytes of an execution's lines that repeat from one execution to the
/// next (the date and time to the second; the function's name, trigger,
/// error type, chain and source location; the thread), formatted and escaped
/// once. Each part keeps what it was made from and is made again when that
/// differs: a line is always exactly what formatting it from scratch would
/// write.
#[derive(Default)]
pub(crate) struct LineParts {
    /// `YYYY-MM-DDTHH:MM:SS` of the latest timestamp, and its Unix second.
    second: Option<(i64, [u8; 19])>,
    /// `,"thread":"…"`: one per ring, so the same for a run of executions.
    thread: Kept<Arc<str>>,
    /// The parts of each function, by its index in the collector.
    functions: Vec<FunctionParts>,
    scratch: String,
}

/// The parts of one function's lines.
#[derive(Default)]
struct FunctionParts {
    /// `,"name":"…"`
    name: Kept<Arc<str>>,
    /// `,"trigger_type":"…"`
    trigger: Part,
    /// `,"error_type":"…","error_message":` of a `'static` type name.
    error_type: Kept<&'static str>,
    /// `,"error_chain":[…]`
    chain: Part,
    /// `,"context":{"module":"…","file":"…","line":N` (not closed)
    context: Kept<&'static Callsite>,
}

/// What a line was made from, besides its record.
pub(crate) struct Origin<'a> {
    /// The function's index in the collector (the parts kept are its own).
    pub(crate) function: usize,
    /// The record's `name`, shared.
    pub(crate) name: &'a Arc<str>,
    /// The record's `thread`, shared.
    pub(crate) thread: &'a Arc<str>,
    /// The callsite the record's `module_path`, `file` and `line` are from.
    pub(crate) callsite: &'static Callsite,
    /// The record's `timestamp` ([`LineParts::stamp_at`]).
    pub(crate) stamp: Stamp,
}

/// A key that tells, without reading the text it stands for, whether a part
/// was made from the same text: the text cannot change while the key is
/// kept.
trait SameText: Clone {
    fn same_text(&self, other: &Self) -> bool;
}

/// Immutable shared text: kept (a reference held), its address is its own.
impl SameText for Arc<str> {
    fn same_text(&self, other: &Self) -> bool {
        Arc::ptr_eq(self, other)
    }
}

/// `'static` text never changes: the same address and length, the same text.
impl SameText for &'static str {
    fn same_text(&self, other: &Self) -> bool {
        std::ptr::eq(*self, *other)
    }
}

/// A `'static` callsite's module, file and line never change.
impl SameText for &'static Callsite {
    fn same_text(&self, other: &Self) -> bool {
        std::ptr::eq(*self, *other)
    }
}

/// Formatted bytes and the key of the text they were made from.
struct Kept<K> {
    key: Option<K>,
    bytes: Vec<u8>,
}

impl<K> Default for Kept<K> {
    fn default() -> Self {
        Kept {
            key: None,
            bytes: Vec::new(),
        }
    }
}

impl<K: SameText> Kept<K> {
    /// The bytes made from `key`'s text: those kept, or `make`'s.
    fn get(&mut self, key: &K, make: impl FnOnce(&mut Vec<u8>)) -> &[u8] {
        if !self.key.as_ref().is_some_and(|kept| kept.same_text(key)) {
            self.bytes.clear();
            make(&mut self.bytes);
            self.key = Some(key.clone());
        }
        &self.bytes
    }
}

/// Formatted bytes and the inputs they were made from, for text that can
/// change in place (compared byte for byte).
#[derive(Default)]
struct Part {
    made: bool,
    /// Each input after its length (8 bytes, little-endian).
    inputs: Vec<u8>,
    bytes: Vec<u8>,
}

impl Part {
    /// The bytes made from `inputs`: those kept, or `make`'s when the
    /// inputs differ from the ones they were made from.
    fn get<'a, I>(&mut self, inputs: I, make: impl FnOnce(&mut Vec<u8>)) -> &[u8]
    where
        I: Iterator<Item = &'a [u8]> + Clone,
    {
        if !self.made || !self.holds(inputs.clone()) {
            self.inputs.clear();
            for input in inputs {
                self.inputs
                    .extend_from_slice(&(input.len() as u64).to_le_bytes());
                self.inputs.extend_from_slice(input);
            }
            self.bytes.clear();
            make(&mut self.bytes);
            self.made = true;
        }
        &self.bytes
    }

    /// True when `inputs` are the inputs kept.
    fn holds<'a>(&self, inputs: impl Iterator<Item = &'a [u8]>) -> bool {
        let mut rest = self.inputs.as_slice();
        for input in inputs {
            let Some((len, tail)) = rest.split_first_chunk::<8>() else {
                return false;
            };
            if u64::from_le_bytes(*len) != input.len() as u64 {
                return false;
            }
            let Some((kept, tail)) = tail.split_at_checked(input.len()) else {
                return false;
            };
            if kept != input {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }
}

impl LineParts {
    /// `time` as [`push_timestamp`] writes it (without the quotes): the
    /// date and time to the second are formatted again only when the second
    /// changes.
    #[cfg(test)]
    pub(crate) fn stamp(&mut self, time: SystemTime) -> Stamp {
        self.stamp_at(time, UnixTime::of(time))
    }

    /// [`stamp`](Self::stamp) of `time`, split already (`unix`).
    pub(crate) fn stamp_at(&mut self, time: SystemTime, unix: UnixTime) -> Stamp {
        // The years `format_rfc3339_micros` writes without clamping.
        const FIRST_SECOND: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
        const LAST_SECOND: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let UnixTime { secs, nanos } = unix;
        let mut stamp = *b"0000-00-00T00:00:00.000000Z";
        match self.second {
            Some((second, prefix)) if second == secs => stamp[..19].copy_from_slice(&prefix),
            _ => {
                self.scratch.clear();
                monitor_sinks::time::format_rfc3339_micros(time, &mut self.scratch);
                stamp.copy_from_slice(self.scratch.as_bytes());
                if (FIRST_SECOND..=LAST_SECOND).contains(&secs) {
                    let mut prefix = [0; 19];
                    prefix.copy_from_slice(&stamp[..19]);
                    self.second = Some((secs, prefix));
                }
                return Stamp(stamp);
            }
        }
        put_six_digits(&mut stamp[20..26], nanos / 1000);
        Stamp(stamp)
    }
}

/// The parts of the function at `index`.
fn parts_of(functions: &mut Vec<FunctionParts>, index: usize) -> &mut FunctionParts {
    if index >= functions.len() {
        functions.resize_with(index + 1, FunctionParts::default);
    }
    &mut functions[index]
}

/// One line of the executions log appended to `out`, and, for a failure,
/// its line of the errors log appended to `errors`: the same line with
/// `error_chain`, `stack_trace` and `context` after the message. Both may
/// already hold earlier lines (the collector builds the lines in the log
/// files' own buffers), which stay as they are. The shared fields are
/// formatted once; the errors line is put together from the executions
/// line's bytes and the errors-only part. The repeating parts come from
/// `parts` (made there when they are not kept yet).
pub(crate) fn execution_lines(
    out: &mut Vec<u8>,
    errors: &mut Vec<u8>,
    record: &ExecutionRecord<'_>,
    origin: &Origin<'_>,
    parts: &mut LineParts,
) {
    debug_assert!(std::ptr::eq(record.name, &**origin.name));
    debug_assert!(std::ptr::eq(record.thread, &**origin.thread));
    debug_assert!(
        std::ptr::eq(record.module_path, origin.callsite.module_path())
            && std::ptr::eq(record.file, origin.callsite.file())
            && record.line == origin.callsite.line()
    );
    let at = out.len();
    out.extend_from_slice(b"{\"id\":\"");
    let mut id = [0u8; 26];
    record.id.encode(&mut id);
    out.extend_from_slice(&id);
    out.extend_from_slice(b"\",\"timestamp\":\"");
    out.extend_from_slice(origin.stamp.as_bytes());
    out.push(b'"');
    let thread = parts.thread.get(origin.thread, |out| {
        key(out, "thread");
        push_str(out, record.thread);
    });
    let function_parts = parts_of(&mut parts.functions, origin.function);
    out.extend_from_slice(function_parts.name.get(origin.name, |out| {
        key(out, "name");
        push_str(out, record.name);
    }));
    out.extend_from_slice(status_part(record.status));
    key(out, "duration_ms");
    push_duration(out, record.duration);
    out.extend_from_slice(function_parts.trigger.get(
        std::iter::once(record.trigger_type.as_bytes()),
        |out| {
            key(out, "trigger_type");
            push_str(out, record.trigger_type);
        },
    ));
    out.extend_from_slice(thread);
    if let Some(busy) = record.busy {
        key(out, "busy_ms");
        push_duration(out, busy);
    }
    if let Some(failure) = record.failure {
        let make = |out: &mut Vec<u8>| {
            key(out, "error_type");
            push_str(out, &failure.error_type);
            key(out, "error_message");
        };
        match &failure.error_type {
            Cow::Borrowed(error_type) => {
                out.extend_from_slice(function_parts.error_type.get(error_type, make));
            }
            Cow::Owned(_) => make(out),
        }
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
    if record.status.is_failure() {
        errors.extend_from_slice(&out[at..shared]);
        if let Some(failure) = record.failure {
            errors_only(errors, record, origin.callsite, failure, function_parts);
        }
        errors.extend_from_slice(&out[shared..]);
    }
}

/// `,"status":"…"` (the statuses are plain words: nothing to escape).
fn status_part(status: Status) -> &'static [u8] {
    match status {
        Status::Success => b",\"status\":\"success\"",
        Status::Error => b",\"status\":\"error\"",
        Status::Panic => b",\"status\":\"panic\"",
        Status::Cancelled => b",\"status\":\"cancelled\"",
    }
}

/// A duration in milliseconds, as `push_f64` of its fractional milliseconds.
fn push_duration(out: &mut Vec<u8>, duration: std::time::Duration) {
    match u64::try_from(duration.as_nanos()) {
        Ok(nanos) => push_millis(out, nanos),
        Err(_) => push_f64(out, duration.as_nanos() as f64 / 1e6),
    }
}

/// The fields only the errors log has, after the message.
fn errors_only(
    out: &mut Vec<u8>,
    record: &ExecutionRecord<'_>,
    callsite: &'static Callsite,
    failure: &Failure,
    parts: &mut FunctionParts,
) {
    let causes = failure.chain.iter().map(|cause| cause.as_bytes());
    out.extend_from_slice(parts.chain.get(causes, |out| {
        key(out, "error_chain");
        out.push(b'[');
        for (index, cause) in failure.chain.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            push_str(out, cause);
        }
        out.push(b']');
    }));
    key(out, "stack_trace");
    match &failure.stack_trace {
        Some(trace) => push_str(out, trace),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(parts.context.get(&callsite, |out| {
        key(out, "context");
        out.extend_from_slice(b"{\"module\":");
        push_str(out, record.module_path);
        key(out, "file");
        push_str(out, record.file);
        key(out, "line");
        push_u64(out, u64::from(record.line));
    }));
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
                    // Subnormals hold fewer digits, where one step of the
                    // last bit is more than 1e-15 of the value.
                    FieldValue::F64(x) => {
                        let read = value.as_f64().unwrap();
                        let one_step = read.to_bits().abs_diff(x.to_bits()) <= 1;
                        prop_assert!(
                            (read - x).abs() <= x.abs() * 1e-15 || one_step,
                            "{} vs {}", read, x
                        );
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
        static APP_JOB: Callsite =
            Callsite::new(None, "app", "job", "span", "src/app.rs", 12, None, None);
        let mut failure = Failure::captured(
            "app::Error",
            ("bad \"input\"\n".to_owned(), true),
            vec!["cause one".to_owned()],
        );
        failure.stack_trace = Some("0: main".to_owned());
        let fields = vec![Field::new("user", FieldValue::U64(42))];
        let (name, thread): (Arc<str>, Arc<str>) = ("app::job".into(), "worker-1".into());
        let record = |status, failure| ExecutionRecord {
            id: crate::ExecutionId::from_parts(1_765_000_000_000, 7, 1, 1),
            name: &name,
            trigger_type: "span",
            status,
            timestamp: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_765_000_000_123),
            duration: std::time::Duration::from_micros(1500),
            thread: &thread,
            failure,
            busy: Some(std::time::Duration::from_micros(700)),
            trace: None,
            module_path: APP_JOB.module_path(),
            file: APP_JOB.file(),
            line: APP_JOB.line(),
            fields: &fields,
        };
        let (mut out, mut errors, mut parts) = (Vec::new(), Vec::new(), LineParts::default());
        let mut lines = |out: &mut Vec<u8>, errors: &mut Vec<u8>, record: &ExecutionRecord<'_>| {
            let origin = Origin {
                function: 0,
                name: &name,
                thread: &thread,
                callsite: &APP_JOB,
                stamp: parts.stamp(record.timestamp),
            };
            out.clear();
            errors.clear();
            execution_lines(out, errors, record, &origin, &mut parts);
        };
        lines(
            &mut out,
            &mut errors,
            &record(Status::Error, Some(&failure)),
        );
        let executions = String::from_utf8(out.clone()).unwrap();
        let errors_text = String::from_utf8(errors.clone()).unwrap();
        assert_eq!(
            executions,
            concat!(
                r#"{"id":"01KBS35CG0000001R004000001","timestamp":"2025-12-06T05:46:40.123000Z","#,
                r#""name":"app::job","status":"error","duration_ms":1.5,"trigger_type":"span","#,
                r#""thread":"worker-1","busy_ms":0.7,"error_type":"app::Error","#,
                r#""error_message":"bad \"input\"\n","error_message_truncated":true,"#,
                r#""fields":{"user":42}}"#,
                "\n"
            )
        );
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
        lines(&mut out, &mut errors, &record(Status::Success, None));
        assert!(errors.is_empty());
        lines(&mut out, &mut errors, &record(Status::Panic, None));
        assert_eq!(errors, out);
    }

    /// Lines made with the parts kept from earlier lines are the lines made
    /// from scratch, whichever input changes from one line to the next
    /// (the name, thread, trigger, error type, message, chain, callsite,
    /// status, timestamp) and whichever function they are kept for; lines
    /// appended after earlier ones leave those as they were.
    #[test]
    fn kept_parts_never_outlive_what_they_were_made_from() {
        static FIRST: Callsite =
            Callsite::new(None, "app", "job", "call", "src/app.rs", 12, None, None);
        static SECOND: Callsite = Callsite::new(
            None,
            "app::b",
            "run",
            "call",
            "src/b \"q\".rs",
            7,
            None,
            None,
        );
        static THIRD: Callsite = Callsite::new(
            None,
            "app::b",
            "run",
            "call",
            "src/b \"q\".rs",
            8,
            None,
            None,
        );
        let names: Vec<Arc<str>> = ["app::job", "app::job", "other\tname"]
            .into_iter()
            .map(Arc::from)
            .collect();
        let threads: Vec<Arc<str>> = ["main", "worker-1", "main"]
            .into_iter()
            .map(Arc::from)
            .collect();
        let triggers = ["call", "span", "call\n"];
        let error_types = [
            Cow::Borrowed("app::Error"),
            Cow::Borrowed("app::Other"),
            Cow::Owned("app::Owned".into()),
            Cow::Owned("app::Owned2".into()),
        ];
        let chains: [Vec<String>; 4] = [
            vec![],
            vec!["reset".into()],
            vec!["reset".into(), "by \"peer\"".into()],
            vec!["reset by".into(), "\"peer\"".into()],
        ];
        let callsites: [&'static Callsite; 3] = [&FIRST, &SECOND, &THIRD];
        let statuses = [
            Status::Error,
            Status::Success,
            Status::Panic,
            Status::Cancelled,
        ];
        let mut kept = LineParts::default();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut pick = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for step in 0..5_000u64 {
            let failure = Failure {
                error_type: error_types[pick(error_types.len())].clone(),
                message: ["boom", "bad \"x\"", "é ✓"][pick(3)].to_owned(),
                chain: chains[pick(chains.len())].clone(),
                location: (pick(4) == 0).then(|| "src/app.rs:3:9".to_owned()),
                ..Failure::default()
            };
            let (name, thread) = (&names[pick(names.len())], &threads[pick(threads.len())]);
            let callsite = callsites[pick(callsites.len())];
            let status = statuses[pick(statuses.len())];
            let record = ExecutionRecord {
                id: crate::ExecutionId::from_parts(1_765_000_000_000 + step, 7, 1, step as u32),
                name,
                trigger_type: triggers[pick(triggers.len())],
                status,
                timestamp: SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_nanos(
                        1_765_000_000_000_000_000 + step * 333_333_337,
                    ),
                duration: std::time::Duration::from_nanos(step * 7_919),
                thread,
                failure: status.is_failure().then_some(&failure),
                busy: None,
                trace: None,
                module_path: callsite.module_path(),
                file: callsite.file(),
                line: callsite.line(),
                fields: &[],
            };
            let function = pick(3);
            let lines = |parts: &mut LineParts, earlier: (&[u8], &[u8])| {
                let origin = Origin {
                    function,
                    name,
                    thread,
                    callsite,
                    stamp: parts.stamp(record.timestamp),
                };
                let (mut out, mut errors) = (earlier.0.to_vec(), earlier.1.to_vec());
                execution_lines(&mut out, &mut errors, &record, &origin, parts);
                (out, errors)
            };
            // Appended after earlier lines (as into a log's buffer), with
            // the kept parts; from scratch into empty vectors.
            let earlier: (&[u8], &[u8]) = match step % 3 {
                0 => (b"", b""),
                1 => (b"{\"earlier\":1}\n", b""),
                _ => (b"{\"earlier\":1}\n", b"{\"earlier\":2}\n{\"x\":3}\n"),
            };
            let with_kept = lines(&mut kept, earlier);
            let from_scratch = lines(&mut LineParts::default(), (b"", b""));
            assert_eq!(
                String::from_utf8(with_kept.0).unwrap(),
                String::from_utf8([earlier.0, &from_scratch.0].concat()).unwrap()
            );
            assert_eq!(
                String::from_utf8(with_kept.1).unwrap(),
                String::from_utf8([earlier.1, &from_scratch.1].concat()).unwrap()
            );
        }
    }

    #[test]
    fn each_status_part_is_the_status_as_a_json_field() {
        for status in [
            Status::Success,
            Status::Error,
            Status::Panic,
            Status::Cancelled,
        ] {
            let mut out = Vec::new();
            key(&mut out, "status");
            push_str(&mut out, status.as_str());
            assert_eq!(status_part(status), out.as_slice());
        }
    }

    /// The stamp is what `format_rfc3339_micros` writes, at every time
    /// (both ends of the years it writes, before 1970, within a second and
    /// across seconds, out of range); the cached second never leaks into
    /// another second.
    #[test]
    fn stamps_are_the_rfc_3339_text_of_their_time() {
        use std::time::Duration;
        let mut parts = LineParts::default();
        let epoch = SystemTime::UNIX_EPOCH;
        let mut times = vec![
            epoch,
            epoch + Duration::from_nanos(999),
            epoch - Duration::from_nanos(1),
            epoch - Duration::from_micros(1_500_001),
            epoch - Duration::from_secs(62_167_219_200),
            epoch - Duration::from_secs(62_167_219_201),
            epoch + Duration::from_secs(253_402_300_799) + Duration::from_nanos(999_999_999),
            epoch + Duration::from_secs(253_402_300_800),
        ];
        let base = epoch + Duration::from_secs(1_796_342_399);
        for step in 0..3_000u64 {
            times.push(base + Duration::from_nanos(step * 777_777));
            times.push(base - Duration::from_nanos(step * 1_234_567));
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let offset = Duration::from_nanos(x % (400 * 365 * 86_400 * 1_000_000_000));
            times.push(epoch + offset);
            times.push(epoch - offset);
        }
        for time in times {
            let mut expected = String::new();
            monitor_sinks::time::format_rfc3339_micros(time, &mut expected);
            let stamp = parts.stamp(time);
            assert_eq!(stamp.as_str(), expected, "{time:?}");
            assert!(stamp.as_bytes().is_ascii());
        }
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
