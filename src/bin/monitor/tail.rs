//! `monitor tail [-f] [--errors]`: the latest lines of the executions log
//! (or the errors log), and with `-f` every new one as it is written,
//! across rotations, until Ctrl-C (SIGINT) or until the reader of stdout
//! goes away; both end it cleanly with exit code 0.
//!
//! Text: one line per execution, coloured by status on a terminal. With
//! `--json`: the log's lines as they are (one JSON object per line). Lines
//! that are not JSON, or JSON objects without a `"status"` (no execution),
//! are skipped, counted once on stderr at the end, and do not count toward
//! `-n`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use monitor::query::{JsonValue, LogDir};

use crate::args::{Common, TailArgs};
use crate::follow::{Follower, Polled};
use crate::out::{Colour, Failure, Out};
use crate::table::{cut, one_line, WIDTH};
use monitor::query::human_ms;

/// How long to wait for new lines before looking again.
const IDLE: Duration = Duration::from_millis(200);

pub(crate) fn run(
    logs: &LogDir,
    common: &Common,
    args: &TailArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    let path: PathBuf = if args.errors {
        logs.path().join("errors").join("current_errors.log")
    } else {
        logs.path().join("executions").join("current.log")
    };
    let json = common.json;
    let colour = out.coloured();
    let mut skipped = 0u64;
    let mut not_executions = 0u64;
    let mut emit = |line: &[u8]| -> io::Result<()> {
        match render(line, json, colour) {
            Some(text) => out.line_io(&text),
            None if is_json_object(line) => {
                not_executions += 1;
                Ok(())
            }
            None => {
                skipped += 1;
                Ok(())
            }
        }
    };
    let result = follow(&path, args, &mut emit);
    crate::report_skipped(logs, skipped);
    if not_executions > 0 {
        let (lines, are) = if not_executions == 1 {
            ("line", "is")
        } else {
            ("lines", "are")
        };
        eprintln!(
            "monitor: skipped {not_executions} {lines} in {} that {are} JSON objects but no execution (no \"status\")",
            logs.path().display()
        );
    }
    result.map(|()| 0)
}

/// Hands the last lines of `path` to `emit`, then with `-f` every new one
/// until SIGINT/SIGTERM or until stdout's reader goes away.
fn follow(
    path: &Path,
    args: &TailArgs,
    mut emit: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), Failure> {
    // Lines that print nothing (junk) do not count toward `-n`.
    let counts = |line: &[u8]| render(line, true, false).is_some();
    let mut follower = Follower::start_counting(path.to_path_buf(), args.lines, counts, &mut emit)
        .map_err(|error| read_failure(path, error))?;
    if !args.follow {
        return Ok(());
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))
            .map_err(|error| Failure::new(format_args!("cannot watch for Ctrl-C: {error}")))?;
    }
    while !interrupted.load(Ordering::Relaxed) {
        let polled = follower
            .poll(&mut emit)
            .map_err(|error| read_failure(path, error))?;
        for notice in follower.take_notices() {
            eprintln!("monitor: {notice}");
        }
        if polled == Polled::Idle && wait_or_closed(IDLE) {
            break;
        }
    }
    Ok(())
}

/// A failed read names the file; a failed write to a closed pipe is a quiet end.
fn read_failure(path: &Path, error: io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::BrokenPipe => Failure::ClosedOutput,
        _ => Failure::new(format_args!("{}: {error}", path.display())),
    }
}

/// The text to print for one log line; `None` when it is not a JSON object
/// with a `"status"` string (an execution, or a monitor record such as a
/// gap): `{}` or `{"a":1}` would print as a blank line.
fn render(line: &[u8], json: bool, colour: bool) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let value: JsonValue = text.parse().ok()?;
    if !matches!(value, JsonValue::Object(_)) {
        return None;
    }
    value.get("status")?.as_str()?;
    if json {
        return Some(text.to_owned());
    }
    Some(human(&value, colour))
}

/// Whether `line` is a JSON object (skipped by `render` for another reason).
fn is_json_object(line: &[u8]) -> bool {
    std::str::from_utf8(line)
        .ok()
        .and_then(|text| text.parse::<JsonValue>().ok())
        .is_some_and(|value| matches!(value, JsonValue::Object(_)))
}

/// `19:19:08.123  01KBSV…  error      1.2 ms  app::sync  app::Error: timeout`.
fn human(line: &JsonValue, colour: bool) -> String {
    let text = |key: &str| line.get(key).map(|value| one_line(&value.to_string()));
    let time = text("timestamp")
        .and_then(|t| t.get(11..23).map(str::to_owned))
        .unwrap_or_default();
    let id = text("id").unwrap_or_default();
    let status = text("status").unwrap_or_default();
    let name = text("name").unwrap_or_default();
    let duration = line
        .get("duration_ms")
        .and_then(JsonValue::as_f64)
        .map(human_ms)
        .unwrap_or_default();
    let detail = match status.as_str() {
        "gap" => format!(
            "{} executions dropped on {}",
            text("dropped_events").unwrap_or_default(),
            text("thread").unwrap_or_default()
        ),
        "clock_jump" => format!(
            "the wall clock jumped {} ms",
            text("jump_ms").unwrap_or_default()
        ),
        _ => match (text("error_type"), text("error_message")) {
            (Some(kind), Some(message)) => format!("{kind}: {message}"),
            (kind, message) => kind.or(message).unwrap_or_default(),
        },
    };
    let head = format!("{time:<12}  {id:<26}  ");
    let painted = crate::out::paint(&format!("{status:<10}"), Colour::of_status(&status), colour);
    let middle = format!(" {duration:>9}  ");
    let room = WIDTH - head.chars().count() - 10 - middle.chars().count();
    let rest = if detail.is_empty() {
        cut(&name, room)
    } else {
        let name = cut(
            &name,
            (room / 2).max(room.saturating_sub(detail.chars().count() + 2)),
        );
        let used = name.chars().count() + 2;
        format!("{name}  {}", cut(&detail, room.saturating_sub(used)))
    };
    let line = format!("{head}{painted}{middle}{rest}");
    line.trim_end().to_owned()
}

/// Waits up to `timeout`; true when stdout's reader has gone away (a pipe
/// closed at its other end), so that an idle `tail -f | head -1` ends too.
#[cfg(unix)]
fn wait_or_closed(timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: `fd` is one valid pollfd that lives across the call, and the
    // count passed is 1. poll only writes its `revents`.
    let ready = unsafe { libc::poll(&mut fd, 1, timeout.as_millis() as libc::c_int) };
    ready > 0 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

#[cfg(not(unix))]
fn wait_or_closed(timeout: Duration) -> bool {
    std::thread::sleep(timeout);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERROR: &str = r#"{"id":"01KBSV2Y5T0000000100010000","timestamp":"2026-12-06T10:00:00.123456Z","name":"jobs::sync","status":"error","duration_ms":3.5,"trigger_type":"call","thread":"main","error_type":"app::Error","error_message":"timeout after 30 s"}"#;

    #[test]
    fn an_execution_is_one_aligned_line() {
        let line = render(ERROR.as_bytes(), false, false).unwrap();
        assert_eq!(
            line,
            "10:00:00.123  01KBSV2Y5T0000000100010000  error         3.5 ms  jobs::sync  app::Error: timeout aft…"
        );
        assert!(line.chars().count() <= WIDTH);
    }

    #[test]
    fn json_is_the_line_as_written_and_garbage_is_skipped() {
        assert_eq!(
            render(ERROR.as_bytes(), true, false).as_deref(),
            Some(ERROR)
        );
        assert_eq!(render(b"{\"cut", true, false), None);
        assert_eq!(render(b"[1]", false, false), None);
        assert_eq!(render(&[0xff, b'{'], false, false), None);
        // JSON objects that are no execution print no blank line.
        assert_eq!(render(b"{}", false, false), None);
        assert_eq!(render(br#"{"a":1}"#, true, false), None);
        assert_eq!(render(br#"{"status":1}"#, false, false), None);
    }

    #[test]
    fn long_names_and_messages_are_cut_to_100_columns() {
        let long = ERROR
            .replace("jobs::sync", &"n".repeat(80))
            .replace("timeout after 30 s", &"m".repeat(300));
        let line = render(long.as_bytes(), false, false).unwrap();
        assert_eq!(line.chars().count(), WIDTH, "{line}");
        assert!(line.contains("nnn…  app::Error: mmm"), "{line}");
        assert!(line.ends_with('…'));
    }

    #[test]
    fn monitor_records_say_what_happened() {
        let gap = r#"{"timestamp":"2026-12-06T10:00:01.000000Z","name":"monitor","status":"gap","trigger_type":"monitor","thread":"w2","dropped_events":12}"#;
        let line = render(gap.as_bytes(), false, false).unwrap();
        let expected = format!("gap{}monitor  12 executions dropped on w2", " ".repeat(19));
        assert!(line.ends_with(&expected), "{line}");
    }

    #[test]
    fn the_status_is_coloured_only_when_asked() {
        let line = render(ERROR.as_bytes(), false, true).unwrap();
        assert!(line.contains("\x1b[31merror     \x1b[0m"), "{line:?}");
    }
}
