//! Context fields, as a host uses them: `#[monitored(fields(…))]` and a span's
//! own fields, written as a `"fields"` object in both logs for failures only
//! (every execution with `always`), capped, and handed to sinks.

#![deny(warnings)]

mod common;

use std::fmt;
use std::sync::{Arc, Mutex};

use common::{block_on, errors, exclusive, executions, lines_named, temp_dir};
use monitor::{monitored, ExecutionRecord, FieldValue, Monitor, MonitorGuard, Sink};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
struct UserId(u64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user-{}", self.0)
    }
}

#[derive(Debug)]
struct Request {
    user: u64,
    chat: String,
    tags: Vec<&'static str>,
}

/// `req` is moved into the body (and dropped there): the fields were taken
/// at the start.
#[monitored(fields(user_id = req.user, chat = %req.chat, ?tags_len, attempt, "user.kind" = "admin"))]
fn handle(req: Request, tags_len: usize, attempt: u32) -> Result<u64, String> {
    let owned = req;
    if owned.tags.contains(&"bad") {
        return Err(format!("bad request from {}", owned.user));
    }
    Ok(owned.user)
}

#[monitored(fields(%id, id_dbg = ?id, ratio = 0.5, ok = true))]
fn display_debug(id: UserId, fail: bool) -> Result<(), &'static str> {
    if fail {
        Err("nope")
    } else {
        Ok(())
    }
}

/// Field paths, as tracing writes them: `?req.tags` is the field `req.tags`.
#[monitored(fields(?req.tags, req.user))]
fn dotted(req: Request) -> Result<(), ()> {
    drop(req);
    Err(())
}

#[monitored(fields(always, n = count, name = %label))]
fn every_time(count: i32, label: &str) -> usize {
    label.len() + count.unsigned_abs() as usize
}

#[monitored(fields(order = order_id))]
fn explodes(order_id: u64) -> u8 {
    if order_id == 13 {
        panic!("unlucky order {order_id}");
    }
    1
}

/// `#[track_caller]` without an early exit keeps its body in place.
#[track_caller]
#[monitored(fields(slot))]
fn tracked(slot: u8) -> u8 {
    assert!(slot < 10, "slot {slot} out of range");
    slot
}

#[monitored(fields(job = %name, retries))]
async fn fetch(name: String, retries: u8) -> Result<u8, String> {
    if retries > 2 {
        Err(format!("{name} gave up"))
    } else {
        Ok(retries)
    }
}

#[monitored(fields(key = %prefix))]
fn matcher(prefix: String) -> impl Fn(&str) -> bool {
    move |text| text.starts_with(&prefix)
}

#[monitored(fields(always, key = %prefix))]
async fn async_matcher(prefix: String) -> impl Fn(&str) -> bool {
    move |text| text.starts_with(&prefix)
}

#[monitored(fields(big = %text))]
fn long_value(text: &str) -> Result<(), ()> {
    let _ = text;
    Err(())
}

struct Account {
    owner: String,
    balance: i64,
}

impl Account {
    #[monitored(fields(owner = self.owner, balance = self.balance, amount))]
    fn withdraw(&mut self, amount: i64) -> Result<i64, String> {
        if amount > self.balance {
            return Err(format!("{} cannot withdraw {amount}", self.owner));
        }
        self.balance -= amount;
        Ok(self.balance)
    }
}

#[async_trait::async_trait]
trait Service {
    async fn call(&self, input: u32) -> Result<u32, String>;
}

struct Doubler {
    region: &'static str,
}

#[async_trait::async_trait]
impl Service for Doubler {
    #[monitored(name = "fields::doubler", fields(input, region = self.region))]
    async fn call(&self, input: u32) -> Result<u32, String> {
        if input == 0 {
            return Err("zero".into());
        }
        Ok(input * 2)
    }
}

fn install(dir: &std::path::Path) -> MonitorGuard {
    Monitor::builder().log_dir(dir).install().unwrap()
}

fn only(lines: &[Value], name: &str) -> Value {
    let named = lines_named(lines, name);
    assert_eq!(named.len(), 1, "{name}: {named:?}");
    named[0].clone()
}

#[test]
fn fields_are_written_for_failures_only_in_both_logs() {
    let _lock = exclusive();
    let dir = temp_dir("fields-failure-only");
    let guard = install(&dir);
    let ok = Request {
        user: 7,
        chat: "general".into(),
        tags: vec!["a"],
    };
    assert_eq!(handle(ok, 1, 1), Ok(7));
    let bad = Request {
        user: 42,
        chat: "ops \"room\"\nline two".into(),
        tags: vec!["bad", "x"],
    };
    assert!(handle(bad, 2, 3).is_err());
    guard.flush();
    let lines = executions(&dir);
    let handled = lines_named(&lines, "fields::handle");
    assert_eq!(handled.len(), 2);
    let success = handled.iter().find(|l| l["status"] == "success").unwrap();
    assert!(success.get("fields").is_none(), "{success}");
    let failure = handled.iter().find(|l| l["status"] == "error").unwrap();
    let expected = json!({
        "user_id": 42,
        "chat": "ops \"room\"\nline two",
        "tags_len": "2",
        "attempt": 3,
        "user.kind": "admin",
    });
    assert_eq!(failure["fields"], expected);
    // The object comes after the error fields, in declaration order.
    let text = std::fs::read_to_string(dir.join("executions/current.log")).unwrap();
    let line = text.lines().find(|l| l.contains("\"error\"")).unwrap();
    assert!(line.find("\"error_message\"").unwrap() < line.find("\"fields\"").unwrap());
    assert!(line.contains(r#""fields":{"user_id":42,"chat":"#), "{line}");
    let error_line = only(&errors(&dir), "fields::handle");
    assert_eq!(error_line["fields"], expected);
    drop(guard);
}

#[test]
fn display_debug_and_bare_values_keep_their_kind() {
    let _lock = exclusive();
    let dir = temp_dir("fields-kinds");
    let guard = install(&dir);
    display_debug(UserId(9), false).unwrap();
    display_debug(UserId(9), true).unwrap_err();
    dotted(Request {
        user: 5,
        chat: String::new(),
        tags: vec!["x"],
    })
    .unwrap_err();
    guard.flush();
    let line = only(&errors(&dir), "fields::display_debug");
    assert_eq!(
        line["fields"],
        json!({"id": "user-9", "id_dbg": "UserId(9)", "ratio": 0.5, "ok": true})
    );
    assert_eq!(
        only(&errors(&dir), "fields::dotted")["fields"],
        json!({"req.tags": "[\"x\"]", "req.user": 5})
    );
    drop(guard);
}

#[test]
fn always_records_every_execution() {
    let _lock = exclusive();
    let dir = temp_dir("fields-always");
    let guard = install(&dir);
    assert_eq!(every_time(-3, "abc"), 6);
    assert_eq!(every_time(1, "x"), 2);
    let matches = block_on(async_matcher("ab".into()));
    assert!(matches("abc"));
    guard.flush();
    let lines = executions(&dir);
    let all: Vec<&Value> = lines_named(&lines, "fields::every_time");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["status"], "success");
    assert_eq!(all[0]["fields"], json!({"n": -3, "name": "abc"}));
    assert_eq!(all[1]["fields"], json!({"n": 1, "name": "x"}));
    assert!(errors(&dir).is_empty());
    let inline = only(&lines, "fields::async_matcher");
    assert_eq!(inline["fields"], json!({"key": "ab"}));
    drop(guard);
}

#[test]
fn panics_async_methods_and_inline_shapes_carry_fields() {
    let _lock = exclusive();
    let dir = temp_dir("fields-shapes");
    let guard = install(&dir);
    assert_eq!(explodes(1), 1);
    std::panic::catch_unwind(|| explodes(13)).unwrap_err();
    assert_eq!(tracked(1), 1);
    std::panic::catch_unwind(|| tracked(11)).unwrap_err();
    assert_eq!(block_on(fetch("sync".into(), 1)), Ok(1));
    block_on(fetch("sync".into(), 5)).unwrap_err();
    let mut account = Account {
        owner: "ada".into(),
        balance: 10,
    };
    account.withdraw(3).unwrap();
    account.withdraw(100).unwrap_err();
    assert!(matcher("x".into())("xy"));
    let doubler = Doubler { region: "eu" };
    assert_eq!(block_on(doubler.call(2)), Ok(4));
    block_on(doubler.call(0)).unwrap_err();
    guard.flush();
    let errors = errors(&dir);
    let panic = only(&errors, "fields::explodes");
    assert_eq!(panic["status"], "panic");
    assert_eq!(panic["fields"], json!({"order": 13}));
    assert_eq!(
        only(&errors, "fields::tracked")["fields"],
        json!({"slot": 11})
    );
    assert_eq!(
        only(&errors, "fields::fetch")["fields"],
        json!({"job": "sync", "retries": 5})
    );
    assert_eq!(
        only(&errors, "fields::Account::withdraw")["fields"],
        json!({"owner": "ada", "balance": 7, "amount": 100})
    );
    assert_eq!(
        only(&errors, "fields::doubler")["fields"],
        json!({"input": 0, "region": "eu"})
    );
    let lines = executions(&dir);
    for line in &lines {
        if line["status"] == "success" {
            assert!(line.get("fields").is_none(), "{line}");
        }
    }
    // `-> impl Fn`: kept in place, a success, no fields without `always`.
    assert_eq!(only(&lines, "fields::matcher")["status"], "success");
    drop(guard);
}

#[test]
fn long_values_are_cut_on_a_char_boundary() {
    let _lock = exclusive();
    let dir = temp_dir("fields-caps");
    let guard = install(&dir);
    let text = "é".repeat(500);
    long_value(&text).unwrap_err();
    guard.flush();
    let line = only(&errors(&dir), "fields::long_value");
    let value = line["fields"]["big"].as_str().unwrap();
    assert!(value.len() <= monitor::MAX_VALUE_BYTES, "{}", value.len());
    assert!(value.ends_with('…'));
    assert!(text.starts_with(value.trim_end_matches('…')));
    drop(guard);
}

/// The status and the fields of one execution, as a sink saw them.
type Seen = (String, Vec<(String, FieldValue)>);

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

impl Sink for Collect {
    fn record(&mut self, execution: &ExecutionRecord<'_>) {
        let fields = execution
            .fields()
            .iter()
            .map(|field| (field.name().to_owned(), field.value().clone()))
            .collect();
        self.0
            .lock()
            .unwrap()
            .push((execution.status.to_string(), fields));
    }
}

#[test]
fn sinks_see_the_fields() {
    let _lock = exclusive();
    let dir = temp_dir("fields-sink");
    let sink = Collect::default();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .sink(sink.clone())
        .install()
        .unwrap();
    display_debug(UserId(1), false).unwrap();
    display_debug(UserId(2), true).unwrap_err();
    guard.flush();
    let seen = sink.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].1.is_empty());
    assert_eq!(seen[1].0, "error");
    assert_eq!(
        seen[1].1[0],
        ("id".to_owned(), FieldValue::Str("user-2".into()))
    );
    assert_eq!(seen[1].1[2], ("ratio".to_owned(), FieldValue::F64(0.5)));
    drop(guard);
}

/// Without a monitor nothing is evaluated: the field's expression (which
/// counts its calls) does not run.
#[monitored(fields(never = unreachable_if_installed(x)))]
fn guarded(x: u8) -> u8 {
    x
}

fn unreachable_if_installed(x: u8) -> u8 {
    EVALUATED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    x
}

static EVALUATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn nothing_is_evaluated_without_a_monitor() {
    let _lock = exclusive();
    let before = EVALUATED.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(guarded(0), 0);
    assert_eq!(EVALUATED.load(std::sync::atomic::Ordering::SeqCst), before);
    let dir = temp_dir("fields-not-installed");
    let guard = install(&dir);
    assert_eq!(guarded(5), 5);
    assert_eq!(
        EVALUATED.load(std::sync::atomic::Ordering::SeqCst),
        before + 1
    );
    drop(guard);
}
