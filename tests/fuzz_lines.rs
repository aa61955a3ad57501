//! Arbitrary text in every field a host controls (function names, error
//! messages and their sources, panic payloads, context field values) never
//! breaks a log line: each
//! line is one JSON object that `serde_json` parses, and the text comes back
//! exactly, or cut at the documented cap and marked.

mod common;

use std::fmt;

use common::{errors, exclusive, executions, temp_dir};
use monitor::__private::{Callsite, ExecutionGuard, Outcome};
use monitor::{monitored, Monitor};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// `CaptureLimits::default().max_message_bytes`.
const MESSAGE_CAP: usize = 4096;

/// Any text: every Unicode scalar value (control characters, quotes,
/// backslashes, line and paragraph separators, astral planes), up to past
/// the message cap.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..64).prop_map(String::from_iter),
        proptest::collection::vec(any::<char>(), MESSAGE_CAP / 3..MESSAGE_CAP + 64)
            .prop_map(String::from_iter),
        "[\"\\\\\n\r\t\u{0}\u{1b}\u{2028}\u{7f}a-z]{0,40}",
    ]
}

#[derive(Debug)]
struct Cause(String);

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cause {}

#[derive(Debug)]
struct Failed {
    message: String,
    cause: Cause,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

#[monitored(name = "fuzz::fails", fields(shown = %field, bare = field))]
fn fails(message: String, cause: String, field: String) -> Result<(), Failed> {
    Err(Failed {
        message,
        cause: Cause(cause),
    })
}

#[monitored(name = "fuzz::panics")]
fn panics(payload: String) {
    std::panic::panic_any(payload)
}

/// Records one successful execution under `name`, as `#[monitored(name = …)]`
/// expands (the callsite is leaked: names are normally literals).
fn succeed_as(name: String) {
    let callsite: &'static Callsite = Box::leak(Box::new(Callsite::new(
        Some(Box::leak(name.into_boxed_str())),
        module_path!(),
        "succeed_as",
        "call",
        file!(),
        line!(),
        None,
        None,
    )));
    ExecutionGuard::start(callsite).finish(|| Outcome::Success);
}

/// `got` is `expected`, or `expected` cut at a character boundary at most
/// `cap` bytes long with `truncated` set.
fn assert_round_trip(got: &str, truncated: bool, expected: &str, cap: usize, what: &str) {
    if truncated {
        assert!(
            expected.len() > cap && got.len() <= cap && expected.starts_with(got),
            "{what}: cut wrongly: {} of {} bytes kept",
            got.len(),
            expected.len()
        );
        assert!(
            cap - got.len() < 4,
            "{what}: cut further than one character"
        );
    } else {
        assert_eq!(got, expected, "{what}");
    }
}

/// A field value comes back exactly, or cut on a char boundary to at most
/// `MAX_VALUE_BYTES` with `…` at its end.
fn assert_field_round_trip(got: &str, expected: &str) {
    let cap = monitor::MAX_VALUE_BYTES;
    if expected.len() <= cap {
        assert_eq!(got, expected, "field value");
        return;
    }
    let kept = got.strip_suffix('…').expect("a cut value ends with …");
    assert!(got.len() <= cap, "{} bytes", got.len());
    assert!(expected.starts_with(kept), "cut value is a prefix");
    assert!(
        cap - '…'.len_utf8() - kept.len() < 4,
        "cut further than one character"
    );
}

#[derive(Debug, Clone)]
enum Case {
    Named(String),
    Error {
        message: String,
        cause: String,
        field: String,
    },
    Panic(String),
}

fn any_case() -> impl Strategy<Value = Case> {
    prop_oneof![
        any_text()
            .prop_filter("a name is not empty", |name| !name.trim().is_empty())
            .prop_map(Case::Named),
        (any_text(), any_text(), any_text()).prop_map(|(message, cause, field)| Case::Error {
            message,
            cause,
            field
        }),
        any_text().prop_map(Case::Panic),
    ]
}

#[test]
fn arbitrary_text_never_breaks_a_line_and_round_trips() {
    let _lock = exclusive();
    let dir = temp_dir("fuzz-lines");
    // Silence the default hook's report of each generated panic; the
    // monitor's hook chains to this one.
    std::panic::set_hook(Box::new(|_| {}));
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let cases = proptest::collection::vec(any_case(), 1..8);
    // Every run is recorded, shrinking runs included.
    let recorded = std::cell::RefCell::new(Vec::new());
    runner
        .run(&cases, |batch| {
            for case in &batch {
                match case.clone() {
                    Case::Named(name) => succeed_as(name),
                    Case::Error {
                        message,
                        cause,
                        field,
                    } => {
                        assert!(fails(message, cause, field).is_err());
                    }
                    Case::Panic(payload) => {
                        assert!(std::panic::catch_unwind(|| panics(payload)).is_err());
                    }
                }
            }
            recorded.borrow_mut().extend(batch);
            Ok(())
        })
        .unwrap();
    assert!(guard.flush());
    drop(guard);
    let _ = std::panic::take_hook();
    let recorded = recorded.into_inner();

    // `executions()`/`errors()` parse every line with serde_json and panic on
    // one that is not a whole JSON object; a split line would be two such.
    let execution_lines = executions(&dir);
    let error_lines = errors(&dir);
    assert_eq!(
        execution_lines.len(),
        recorded.len(),
        "one line per execution"
    );
    let failures = recorded
        .iter()
        .filter(|case| !matches!(case, Case::Named(_)))
        .count();
    assert_eq!(
        error_lines.len(),
        failures,
        "one errors-log line per failure"
    );

    let mut error_lines = error_lines.iter();
    for (case, line) in recorded.iter().zip(&execution_lines) {
        let text = |field: &str| line[field].as_str().unwrap_or_default().to_owned();
        match case {
            Case::Named(name) => {
                assert_eq!(text("name"), *name);
                assert_eq!(text("status"), "success");
            }
            Case::Error {
                message,
                cause,
                field,
            } => {
                let detail = error_lines.next().unwrap();
                for name in ["shown", "bare"] {
                    assert_eq!(detail["fields"][name], line["fields"][name]);
                    assert_field_round_trip(line["fields"][name].as_str().unwrap(), field);
                }
                assert_eq!(detail["name"], "fuzz::fails");
                assert_eq!(text("status"), "error");
                let truncated = line["error_message_truncated"] == true;
                assert_round_trip(
                    &text("error_message"),
                    truncated,
                    message,
                    MESSAGE_CAP,
                    "message",
                );
                let chain = detail["error_chain"].as_array().unwrap();
                assert_eq!(chain.len(), 1);
                let got = chain[0].as_str().unwrap();
                let chain_cap = MESSAGE_CAP / 4;
                assert_round_trip(got, cause.len() > chain_cap, cause, chain_cap, "cause");
            }
            Case::Panic(payload) => {
                let detail = error_lines.next().unwrap();
                assert_eq!(detail["name"], "fuzz::panics");
                assert_eq!(text("status"), "panic");
                let truncated = line["error_message_truncated"] == true;
                assert_round_trip(
                    &text("error_message"),
                    truncated,
                    payload,
                    MESSAGE_CAP,
                    "payload",
                );
            }
        }
    }
}
