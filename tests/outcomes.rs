//! Every outcome kind, counted exactly in `stats()` and in both log files.

mod common;

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use common::{block_on, errors, exclusive, executions, lines_named, poll_once, temp_dir};
use monitor::{monitored, Monitor, Status};

#[derive(Debug)]
struct DbError {
    source: std::io::Error,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("query failed")
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

type AppResult<T> = Result<T, DbError>;

#[monitored]
fn query(fail: bool) -> AppResult<u32> {
    if fail {
        return Err(DbError {
            source: std::io::Error::other("connection reset"),
        });
    }
    Ok(7)
}

#[monitored(name = "io_job", trigger = "schedule")]
fn io_job(fail: bool) -> std::io::Result<()> {
    if fail {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "config.toml missing",
        ))
    } else {
        Ok(())
    }
}

#[monitored]
fn lookup(key: u8) -> Option<u8> {
    (key > 1).then_some(key)
}

#[monitored]
fn explode(really: bool) -> u8 {
    if really {
        let pressure = 42;
        panic!("boiler pressure {pressure} too high");
    }
    1
}

#[monitored]
fn string_error() -> Result<(), String> {
    Err("plain string error".to_owned())
}

/// Called by `errors_carry_a_stack_trace_when_backtraces_are_on` only: a
/// callsite traces one error of a shape per trace interval, so an earlier
/// test's `string_error` in the same second would leave it untraced.
#[monitored]
fn traced_string_error() -> Result<(), String> {
    Err("plain string error".to_owned())
}

#[monitored]
async fn fetch(fail: bool) -> Result<u8, String> {
    if fail {
        Err("upstream 503".into())
    } else {
        Ok(3)
    }
}

struct Pending;
impl Future for Pending {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

#[monitored]
async fn never_finishes() -> u8 {
    Pending.await;
    0
}

struct Thermostat {
    target: u8,
}

impl Thermostat {
    #[monitored]
    fn set(&mut self, target: u8) -> Result<u8, String> {
        if target > 30 {
            return Err(format!("{target} is too hot"));
        }
        self.target = target;
        Ok(self.target)
    }

    #[monitored]
    fn target_mut(&mut self) -> &mut u8 {
        &mut self.target
    }
}

#[test]
fn every_outcome_is_counted_and_logged() {
    let _lock = exclusive();
    let dir = temp_dir("outcomes");
    let started = std::time::Instant::now();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(true)
        .install()
        .unwrap();

    assert_eq!(query(false).unwrap(), 7);
    assert!(query(true).is_err());
    io_job(false).unwrap();
    io_job(true).unwrap_err();
    assert_eq!(lookup(0), None);
    assert_eq!(lookup(5), Some(5));
    assert_eq!(explode(false), 1);
    let panic = std::panic::catch_unwind(|| explode(true)).unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
    assert_eq!(
        message.as_deref(),
        Some("boiler pressure 42 too high"),
        "the panic keeps unwinding unchanged"
    );
    string_error().unwrap_err();
    assert_eq!(block_on(fetch(false)), Ok(3));
    assert!(block_on(fetch(true)).is_err());
    {
        let mut future = pin!(never_finishes());
        assert!(poll_once(future.as_mut()).is_pending());
    }
    let mut thermostat = Thermostat { target: 20 };
    assert_eq!(thermostat.set(21), Ok(21));
    assert!(thermostat.set(99).is_err());
    *thermostat.target_mut() += 1;
    assert_eq!(thermostat.target, 22);

    assert!(guard.flush());
    let stats = monitor::stats();
    let module = module_path!();
    let get = |name: &str| {
        stats
            .get(name)
            .unwrap_or_else(|| panic!("no stats for {name}: {stats:#?}"))
    };

    let q = get(&format!("{module}::query"));
    assert_eq!(
        (q.total_executions, q.success_count, q.error_count),
        (2, 1, 1)
    );
    let last = q.last_error.as_ref().unwrap();
    assert_eq!(last.message, "query failed");
    assert!(last.error_type.ends_with("DbError"));

    let io = get("io_job");
    assert_eq!(
        (
            io.total_executions,
            io.error_count,
            io.trigger_type.as_str()
        ),
        (2, 1, "schedule")
    );

    let l = get(&format!("{module}::lookup"));
    assert_eq!(
        (l.total_executions, l.success_count),
        (2, 2),
        "None is a success"
    );

    let e = get(&format!("{module}::explode"));
    assert_eq!(
        (e.total_executions, e.success_count, e.panic_count),
        (2, 1, 1)
    );
    assert_eq!(
        e.last_error.as_ref().unwrap().message,
        "boiler pressure 42 too high"
    );

    let s = get(&format!("{module}::string_error"));
    assert_eq!(s.last_error.as_ref().unwrap().message, "plain string error");

    let f = get(&format!("{module}::fetch"));
    assert_eq!(
        (f.total_executions, f.success_count, f.error_count),
        (2, 1, 1)
    );

    let n = get(&format!("{module}::never_finishes"));
    assert_eq!((n.total_executions, n.cancelled_count), (0, 1));
    assert_eq!(n.last_execution_status, Some(Status::Cancelled));

    let t = get(&format!("{module}::Thermostat::set"));
    assert_eq!((t.total_executions, t.error_count), (2, 1));
    assert_eq!(t.last_error.as_ref().unwrap().message, "99 is too hot");
    assert_eq!(
        get(&format!("{module}::Thermostat::target_mut")).total_executions,
        1
    );

    for function in stats.iter() {
        assert_eq!(
            function.total_executions,
            function.success_count + function.error_count + function.panic_count
        );
    }

    let lines = executions(&dir);
    let query_lines = lines_named(&lines, &format!("{module}::query"));
    assert_eq!(query_lines.len(), 2);
    assert_eq!(query_lines[0]["status"], "success");
    assert_eq!(query_lines[1]["status"], "error");
    for line in &lines {
        for field in [
            "timestamp",
            "name",
            "status",
            "duration_ms",
            "trigger_type",
            "thread",
        ] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
        // The line's duration agrees with the statistics of its function
        // (two separate conversions from the same ticks), and no execution
        // lasted longer than this whole test.
        let duration = line["duration_ms"].as_f64().unwrap();
        assert!(duration <= started.elapsed().as_secs_f64() * 1e3, "{line}");
        if line["status"] != "cancelled" {
            let function = stats.get(line["name"].as_str().unwrap()).unwrap();
            let (min, max) = (function.min_ms.unwrap(), function.max_ms.unwrap());
            assert!(
                duration >= min - 1e-3 && duration <= max + 1e-3,
                "{line}: outside [{min}, {max}]"
            );
        }
    }
    assert_eq!(
        lines_named(&lines, &format!("{module}::never_finishes"))[0]["status"],
        "cancelled"
    );

    let error_lines = errors(&dir);
    // query, io_job, explode, string_error, fetch, Thermostat::set
    assert_eq!(error_lines.len(), 6, "{error_lines:#?}");
    let query_error = lines_named(&error_lines, &format!("{module}::query"))[0];
    assert_eq!(query_error["error_message"], "query failed");
    assert_eq!(
        query_error["error_chain"],
        serde_json::json!(["connection reset"])
    );
    let trace = query_error["stack_trace"]
        .as_str()
        .unwrap_or_else(|| panic!("a stack trace string: {query_error}"));
    assert!(trace.contains("query"), "{trace}");
    assert_eq!(query_error["context"]["module"], module);
    let panic_line = lines_named(&error_lines, &format!("{module}::explode"))[0];
    assert_eq!(panic_line["status"], "panic");
    assert_eq!(panic_line["error_type"], "panic");
    assert!(panic_line["context"]["panic_location"]
        .as_str()
        .unwrap()
        .contains("outcomes.rs"));
    drop(guard);
}

#[test]
fn a_drop_impl_running_during_another_panic_is_not_a_panic() {
    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            cleanup_step();
        }
    }
    #[monitored(name = "cleanup_step")]
    fn cleanup_step() {}

    let _lock = exclusive();
    let dir = temp_dir("drop-during-unwind");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let result = std::panic::catch_unwind(|| {
        let _cleanup = Cleanup;
        panic!("outer failure");
    });
    assert!(result.is_err());
    guard.flush();
    let cleanup = monitor::stats().get("cleanup_step").cloned().unwrap();
    assert_eq!((cleanup.success_count, cleanup.panic_count), (1, 0));
}

#[monitored(name = "rethrows")]
fn rethrows(payload: Box<dyn std::any::Any + Send>) {
    std::panic::resume_unwind(payload)
}

#[test]
fn panics_resumed_without_a_hook_are_not_given_an_older_message() {
    let _lock = exclusive();
    let dir = temp_dir("resume-unwind");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    // An unrelated earlier panic on this thread…
    let _ = std::panic::catch_unwind(|| panic!("old unrelated panic"));
    // …then a panic re-raised with resume_unwind (as thread pools do): no hook runs.
    let caught = std::panic::catch_unwind(|| rethrows(Box::new("worker job failed")));
    assert_eq!(
        *caught.unwrap_err().downcast::<&str>().unwrap(),
        "worker job failed"
    );
    guard.flush();
    let stats = monitor::stats();
    let rethrown = stats.get("rethrows").unwrap();
    assert_eq!(rethrown.panic_count, 1);
    // No hook ran for the re-raised panic: its message is not known, and the
    // earlier, unrelated panic's message must not be reported in its place.
    let message = &rethrown.last_error.as_ref().unwrap().message;
    assert!(!message.contains("old unrelated panic"), "{message}");
    assert!(message.contains("resume_unwind"), "{message}");
}

#[test]
fn errors_carry_a_stack_trace_when_backtraces_are_on() {
    let _lock = exclusive();
    let dir = temp_dir("backtraces-on");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(true)
        .install()
        .unwrap();
    traced_string_error().unwrap_err();
    guard.flush();
    let error_lines = errors(&dir);
    let trace = error_lines[0]["stack_trace"]
        .as_str()
        .expect("a stack trace string");
    assert!(trace.contains("traced_string_error"), "{trace}");
    drop(guard);
    let dir = temp_dir("backtraces-off");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .install()
        .unwrap();
    string_error().unwrap_err();
    guard.flush();
    assert!(errors(&dir)[0]["stack_trace"].is_null());
}

#[test]
fn the_status_report_reads_at_a_glance_and_serializes_to_json() {
    let _lock = exclusive();
    let dir = temp_dir("status-report");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for _ in 0..3 {
        io_job(false).unwrap();
    }
    io_job(true).unwrap_err();
    guard.flush();
    let report = monitor::status_report();
    let text = report.to_string();
    assert!(text.starts_with("Monitored functions: 1"), "{text}");
    let line = text.lines().find(|l| l.contains("io_job")).unwrap();
    assert!(line.contains("4 runs"), "{line}");
    assert!(line.contains("75.0% ok"), "{line}");
    assert!(line.contains("error (config.toml missing)"), "{line}");
    assert!(line.contains("1 error"), "{line}");
    let json = serde_json::to_value(&report).unwrap();
    let function = &json["stats"]["functions"][0];
    assert_eq!(function["name"], "io_job");
    assert_eq!(function["total_executions"], 4);
    assert_eq!(function["last_error"]["message"], "config.toml missing");
    assert!(json["generated_at"].as_str().unwrap().ends_with('Z'));
}

#[monitored(name = "maybe_polled")]
async fn maybe_polled() -> u8 {
    1
}

#[test]
fn a_future_dropped_before_its_first_poll_is_not_counted() {
    let _lock = exclusive();
    let dir = temp_dir("never-polled");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    drop(maybe_polled());
    let unpolled = maybe_polled();
    drop(unpolled);
    // One that runs, so the function is known and its counts can be read.
    assert_eq!(block_on(maybe_polled()), 1);
    assert!(guard.flush());
    let stats = monitor::stats();
    let function = stats.get("maybe_polled").unwrap();
    assert_eq!(
        (
            function.total_executions,
            function.success_count,
            function.cancelled_count
        ),
        (1, 1, 0)
    );
    assert_eq!(stats.dropped_events, 0);
    assert_eq!(lines_named(&executions(&dir), "maybe_polled").len(), 1);
}

/// A plain-data error (`Clone`, nothing to drop): the collector formats a
/// clone of it (`capture/deferred.rs`), unless it travels boxed (a stack
/// trace, fields), when the caller does.
#[derive(Debug, Clone, Copy)]
enum Plain {
    Busy { retry_ms: u32 },
    Gone,
}

#[derive(Debug)]
struct PlainCause;

impl fmt::Display for PlainCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the pool is empty")
    }
}

impl std::error::Error for PlainCause {}

impl fmt::Display for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plain::Busy { retry_ms } => write!(f, "busy, retry in {retry_ms} ms"),
            // A `Display` that calls a monitored function: on the collector's
            // thread when the collector formats it.
            Plain::Gone => write!(f, "gone after {} tries", tries(1)),
        }
    }
}

impl std::error::Error for Plain {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        static CAUSE: PlainCause = PlainCause;
        match self {
            Plain::Busy { .. } => Some(&CAUSE),
            Plain::Gone => None,
        }
    }
}

#[monitored]
fn tries(n: u32) -> u32 {
    n + 1
}

#[monitored]
fn generic_failure<E: std::error::Error + Clone + Send + 'static>(error: E) -> Result<(), E> {
    Err(error)
}

#[monitored]
async fn async_failure(error: Plain) -> Result<u8, Plain> {
    Err(error)
}

#[monitored(fields(attempt))]
fn failure_with_fields(attempt: u32) -> Result<(), Plain> {
    Err(Plain::Busy { retry_ms: attempt })
}

#[test]
fn plain_data_errors_read_the_same_formatted_by_the_collector_or_the_caller() {
    let _lock = exclusive();
    let dir = temp_dir("deferred-paths");
    // A still clock: the trace interval does not move during the test.
    let clock = monitor::ManualClock::new(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
    );
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock)
        .capture_backtraces(true)
        .install()
        .unwrap();
    // The first error at a callsite gets a trace (formatted on the caller),
    // and so does one of a new shape (variant); the next of the same shape
    // in the same interval does not (formatted by the collector).
    for error in [
        Plain::Busy { retry_ms: 30 },
        Plain::Busy { retry_ms: 30 },
        Plain::Gone,
        Plain::Gone,
    ] {
        generic_failure(error).unwrap_err();
    }
    for _ in 0..2 {
        block_on(async_failure(Plain::Busy { retry_ms: 5 })).unwrap_err();
    }
    failure_with_fields(7).unwrap_err();
    assert!(guard.flush());
    let lines = errors(&dir);
    let module = module_path!();
    let generic = lines_named(&lines, &format!("{module}::generic_failure"));
    assert_eq!(generic.len(), 4, "{lines:#?}");
    for (line, message, chain) in [
        (
            generic[0],
            "busy, retry in 30 ms",
            serde_json::json!(["the pool is empty"]),
        ),
        (generic[2], "gone after 2 tries", serde_json::json!([])),
    ] {
        assert_eq!(line["error_type"], "outcomes::Plain", "{line}");
        assert_eq!(line["error_message"], message, "{line}");
        assert_eq!(line["error_chain"], chain, "{line}");
    }
    for (traced, deferred) in [(generic[0], generic[1]), (generic[2], generic[3])] {
        assert!(traced["stack_trace"].is_string(), "{traced}");
        assert!(deferred["stack_trace"].is_null(), "{deferred}");
        for field in [
            "error_type",
            "error_message",
            "error_message_truncated",
            "error_chain",
        ] {
            assert_eq!(traced[field], deferred[field], "{field}");
        }
    }
    let asynchronous = lines_named(&lines, &format!("{module}::async_failure"));
    assert_eq!(asynchronous.len(), 2);
    for line in asynchronous {
        assert_eq!(line["error_type"], "outcomes::Plain");
        assert_eq!(line["error_message"], "busy, retry in 5 ms");
        assert_eq!(
            line["error_chain"],
            serde_json::json!(["the pool is empty"])
        );
    }
    let with_fields = lines_named(&lines, &format!("{module}::failure_with_fields"));
    assert_eq!(with_fields.len(), 1);
    assert_eq!(with_fields[0]["error_message"], "busy, retry in 7 ms");
    assert_eq!(with_fields[0]["fields"]["attempt"], 7);
    let stats = monitor::stats();
    let generic = stats
        .get(&format!("{module}::generic_failure"))
        .expect("generic_failure's statistics");
    assert_eq!((generic.total_executions, generic.error_count), (4, 4));
    // `Gone`'s `Display` called `tries` twice: on the caller (recorded) and
    // on the collector's thread, whose monitored calls are not recorded.
    let tries = stats
        .get(&format!("{module}::tries"))
        .expect("tries' statistics");
    assert_eq!(tries.total_executions, 1);
    drop(guard);
}

/// A second plain-data error of at most 8 bytes, for a generic function
/// that fails with two types.
#[derive(Debug, Clone, Copy)]
struct Timeout {
    after_ms: u16,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {} ms", self.after_ms)
    }
}

impl std::error::Error for Timeout {}

#[monitored]
fn fails_with<E: std::error::Error + Clone + Send + 'static>(error: E) -> Result<(), E> {
    Err(error)
}

#[test]
fn a_generic_function_failing_with_two_small_types_records_both_right() {
    // A generic function's instantiations share one callsite: the first
    // error type carried from it claims it, and the other type's errors go
    // through the byte ring instead. Either way the text is the same.
    let _lock = exclusive();
    let dir = temp_dir("carried-two-types");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .install()
        .unwrap();
    for round in 0..3u16 {
        fails_with(Timeout { after_ms: round }).unwrap_err();
        fails_with(Plain::Busy {
            retry_ms: u32::from(round),
        })
        .unwrap_err();
    }
    assert!(guard.flush());
    let lines = errors(&dir);
    let failed = lines_named(&lines, &format!("{}::fails_with", module_path!()));
    assert_eq!(failed.len(), 6, "{lines:#?}");
    for (round, pair) in failed.chunks(2).enumerate() {
        assert_eq!(pair[0]["error_type"], "outcomes::Timeout");
        assert_eq!(
            pair[0]["error_message"],
            format!("timed out after {round} ms")
        );
        assert_eq!(pair[0]["error_chain"], serde_json::json!([]));
        assert_eq!(pair[1]["error_type"], "outcomes::Plain");
        assert_eq!(
            pair[1]["error_message"],
            format!("busy, retry in {round} ms")
        );
        assert_eq!(
            pair[1]["error_chain"],
            serde_json::json!(["the pool is empty"])
        );
    }
}
