//! Stack traces start at the host's code: the frames of the monitor's own
//! crates and of the standard library's capture and panic machinery above
//! it are trimmed from the top.

mod common;

use common::{errors, exclusive, temp_dir};
use monitor::{monitored, Monitor};

#[monitored(name = "parse_invoice")]
#[inline(never)]
fn parse_invoice(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[monitored(name = "check_totals")]
#[inline(never)]
fn check_totals(total: u32) -> u32 {
    assert!(total < 100, "total {total} out of range");
    total
}

/// The function name of every frame of a `std::backtrace` text, in order.
fn frame_names(trace: &str) -> Vec<&str> {
    trace
        .lines()
        .filter_map(|line| {
            let (index, name) = line.trim_start().split_once(": ")?;
            index.parse::<usize>().ok()?;
            Some(name.trim())
        })
        .collect()
}

fn first_frames(dir: &std::path::Path, name: &str) -> (String, Vec<String>) {
    let lines = errors(dir);
    let line = lines
        .iter()
        .find(|line| line["name"] == name)
        .unwrap_or_else(|| panic!("no error line for {name}"));
    let trace = line["stack_trace"]
        .as_str()
        .unwrap_or_else(|| panic!("no stack trace for {name}: {line}"))
        .to_owned();
    let names = frame_names(&trace).into_iter().map(str::to_owned).collect();
    (trace, names)
}

#[test]
fn stack_traces_start_at_the_hosts_frame() {
    let _lock = exclusive();
    let dir = temp_dir("stack-traces");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(true)
        .install()
        .unwrap();
    parse_invoice("12x").unwrap_err();
    std::panic::catch_unwind(|| check_totals(120)).unwrap_err();
    assert!(guard.flush());

    for (name, host_frame) in [
        ("parse_invoice", "stack_traces::parse_invoice"),
        ("check_totals", "stack_traces::check_totals"),
    ] {
        let (trace, frames) = first_frames(&dir, name);
        assert!(!frames.is_empty(), "{trace}");
        assert!(
            frames[0].starts_with(host_frame),
            "the first frame is the host's {host_frame}, not the library's:\n{trace}"
        );
        assert!(
            !frames
                .iter()
                .any(|f| f.starts_with("monitor_core::capture")),
            "{trace}"
        );
        assert!(
            trace.trim_start().starts_with("0: "),
            "renumbered from 0:\n{trace}"
        );
        // Deeper frames are kept: the test harness that called us.
        assert!(frames.len() > 1, "{trace}");
    }
}

#[monitored(name = "load_config")]
#[inline(never)]
fn load_config(text: &str) -> Result<u32, String> {
    Err(format!("bad config {text}"))
}

/// The `stack_trace` of each `load_config` error line, in order.
fn traced(dir: &std::path::Path) -> Vec<bool> {
    errors(dir)
        .iter()
        .filter(|line| line["name"] == "load_config")
        .map(|line| line["stack_trace"].is_string())
        .collect()
}

#[test]
fn a_callsite_gets_one_trace_per_interval_plus_one_per_new_shape() {
    use std::time::{Duration, UNIX_EPOCH};
    let _lock = exclusive();
    let dir = temp_dir("stack-traces-rate");
    let clock = monitor::ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .capture_backtraces(true)
        .install()
        .unwrap();
    // A burst: the first error gets a trace, the next ones (same shape:
    // only the number differs) do not.
    for line in 0..5 {
        load_config(&format!("at line {line}")).unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(traced(&dir), [true, false, false, false, false]);

    // A new shape in the same interval gets one; its repeats do not.
    load_config("file missing").unwrap_err();
    load_config("file missing").unwrap_err();
    assert!(guard.flush());
    assert_eq!(traced(&dir)[5..], [true, false]);

    // After the interval (the collector's clock), the next error gets one again.
    clock.advance(Duration::from_millis(1500));
    assert!(guard.flush());
    for line in 0..3 {
        load_config(&format!("at line {line}")).unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(traced(&dir)[7..], [true, false, false]);

    // At most four traces per callsite and interval, however many shapes.
    for shape in ["a", "b", "c", "d", "e", "f"] {
        load_config(shape).unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(
        traced(&dir)[10..],
        [true, true, true, false, false, false],
        "three more shapes fill the interval's four traces"
    );
    // Every line keeps its message whether or not it carries a trace.
    let messages: Vec<_> = errors(&dir)
        .iter()
        .filter(|line| line["name"] == "load_config")
        .map(|line| line["error_message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages[0], "bad config at line 0");
    assert_eq!(messages[15], "bad config f");
}

#[monitored(name = "parse_quantity")]
#[inline(never)]
fn parse_quantity(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[monitored(name = "parse_price")]
#[inline(never)]
fn parse_price(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

/// Whether the first error of `name` (a callsite no other test uses: a
/// callsite gets one trace per interval) got a trace under a monitor built
/// with traces chosen `on`, then capture limits that leave `backtraces` unset.
fn traced_after_limits(on: bool) -> bool {
    let name = if on { "parse_quantity" } else { "parse_price" };
    let _lock = exclusive();
    let dir = temp_dir(&format!("stack-traces-limits-{on}"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(on)
        .capture_limits(monitor::CaptureLimits {
            max_message_bytes: 64,
            ..monitor::CaptureLimits::default()
        })
        .install()
        .unwrap();
    if on {
        parse_quantity("12x").unwrap_err();
    } else {
        parse_price("12x").unwrap_err();
    }
    assert!(guard.flush());
    drop(guard);
    let lines = errors(&dir);
    let line = lines
        .iter()
        .find(|line| line["name"] == name)
        .expect("an error line");
    line["stack_trace"].is_string()
}

#[test]
fn capture_limits_keep_the_choice_of_capture_backtraces() {
    // Both ways, so that whatever `RUST_BACKTRACE` says here, one of the
    // two would fail if the limits' `None` undid the choice.
    assert!(traced_after_limits(true));
    assert!(!traced_after_limits(false));
}
