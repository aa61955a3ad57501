//! The `monitor` command end to end: this test binary is a host that
//! records known executions (with an injected clock), drops its guard, then
//! runs the real `monitor` binary on the directory and checks each
//! command's `--json` output and exit code.
#![cfg(feature = "cli")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use common::{exclusive, read_json_lines, temp_dir};
use monitor::{monitored, ManualClock, Monitor, Timestamp};
use serde_json::Value;

/// What one run of `monitor` gave.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Stdout as JSON Lines: every line one object.
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{}", self.stderr));
                assert!(value.is_object(), "not an object: {line}");
                value
            })
            .collect()
    }

    /// Stdout as one JSON object on one line.
    fn object(&self) -> Value {
        let lines = self.lines();
        assert_eq!(lines.len(), 1, "one object expected:\n{}", self.stdout);
        lines.into_iter().next().unwrap()
    }
}

fn monitor_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_monitor"));
    command
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("NO_COLOR");
    command
}

/// Runs `monitor --dir DIR ARGS…` to its end.
fn monitor(dir: &Path, args: &[&str]) -> Run {
    let output = monitor_command(dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("the monitor binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs a command that must succeed and print JSON Lines.
fn json_lines(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = monitor(dir, &all);
    assert_eq!(run.code, 0, "monitor {args:?}: {}", run.stderr);
    run.lines()
}

fn at(text: &str) -> SystemTime {
    Timestamp::parse(text).unwrap().system_time()
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for Refused {}

#[derive(Debug)]
struct SyncFailed(Refused);

impl std::fmt::Display for SyncFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sync failed")
    }
}

impl std::error::Error for SyncFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[monitored(name = "cli::ok")]
fn ok() -> Result<u32, SyncFailed> {
    Ok(1)
}

#[monitored(name = "cli::sync")]
fn sync() -> Result<u32, SyncFailed> {
    Err(SyncFailed(Refused))
}

#[monitored(name = "cli::explode")]
fn explode() {
    panic!("boiler pressure out of range");
}

/// Panics inside a monitored function and catches it (the monitor's panic
/// hook records the message; replacing the hook would hide it).
fn panic_caught() {
    assert!(std::panic::catch_unwind(explode).is_err());
}

/// Every line of the executions log, oldest first: the rotated (gzipped)
/// files in name order, then `current.log`.
fn logged_executions(dir: &Path) -> Vec<Value> {
    let executions = dir.join("executions");
    let mut names: Vec<String> = std::fs::read_dir(&executions)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "current.log")
        .collect();
    names.sort();
    let mut lines = Vec::new();
    for name in names {
        let mut text = String::new();
        let file = std::fs::File::open(executions.join(&name)).unwrap();
        if name.ends_with(".gz") {
            flate2::read::GzDecoder::new(file)
                .read_to_string(&mut text)
                .unwrap();
        } else {
            BufReader::new(file).read_to_string(&mut text).unwrap();
        }
        lines.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    lines.extend(read_json_lines(&executions.join("current.log")));
    lines
}

/// A stopped host's directory: before UTC midnight 3 successes, 2 errors
/// with a chain and a panic; after it 2 successes and 1 error. The
/// executions log rotated at midnight and its old file is gzipped.
fn across_midnight(name: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    let clock = ManualClock::new(at("2026-12-05T23:58:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .capture_backtraces(false)
        .compress_rotated_logs(true)
        .install()
        .unwrap();
    // Each execution is collected (and so stamped) before the clock moves on.
    let step = |run: &dyn Fn()| {
        run();
        assert!(guard.flush());
        clock.advance(Duration::from_secs(1));
    };
    for _ in 0..3 {
        step(&|| {
            ok().unwrap();
        });
    }
    step(&|| {
        sync().unwrap_err();
    });
    step(&panic_caught);
    step(&|| {
        sync().unwrap_err();
    });
    clock.set(at("2026-12-06T00:01:00Z"));
    step(&|| {
        ok().unwrap();
    });
    step(&|| {
        sync().unwrap_err();
    });
    step(&|| {
        ok().unwrap();
    });
    drop(guard); // waits for the compression
    let mut names: Vec<String> = std::fs::read_dir(dir.join("executions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["2026-12-05.log.gz", "current.log"]);
    dir
}

fn ids(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            line["id"]
                .as_str()
                .unwrap_or_else(|| panic!("an id: {line}"))
                .to_owned()
        })
        .collect()
}

#[test]
fn executions_are_listed_newest_first_with_the_ids_of_the_logs() {
    let _lock = exclusive();
    let dir = across_midnight("cli-executions");
    let logged = logged_executions(&dir);
    assert_eq!(logged.len(), 9);

    let listed = json_lines(&dir, &["executions", "--limit", "100"]);
    let mut newest_first = logged.clone();
    newest_first.reverse();
    assert_eq!(ids(&listed), ids(&newest_first));
    assert_eq!(ids(&listed).iter().collect::<BTreeSet<_>>().len(), 9);
    for (listed, logged) in listed.iter().zip(&newest_first) {
        for key in ["id", "timestamp", "name", "status", "duration_ms"] {
            assert_eq!(listed[key], logged[key], "{key} of {listed}");
        }
        match listed["status"].as_str().unwrap() {
            "success" => assert!(listed.get("error_type").is_none(), "{listed}"),
            "error" => {
                assert_eq!(listed["error_message"], "sync failed");
                assert!(listed["error_type"]
                    .as_str()
                    .unwrap()
                    .ends_with("SyncFailed"));
            }
            "panic" => {
                assert_eq!(listed["error_type"], "panic");
                assert_eq!(listed["error_message"], "boiler pressure out of range");
            }
            other => panic!("unexpected status {other}"),
        }
    }

    // Filters: name (exact and prefix), status, a time range across midnight.
    let errors = json_lines(
        &dir,
        &["executions", "--name", "cli::sync", "--status", "error"],
    );
    assert_eq!(errors.len(), 3);
    assert_eq!(
        json_lines(&dir, &["executions", "--name", "cli::*"]).len(),
        9
    );
    assert_eq!(
        json_lines(&dir, &["executions", "--status", "panic"]).len(),
        1
    );
    let after = json_lines(&dir, &["executions", "--since", "2026-12-06T00:00:00Z"]);
    assert_eq!(after.len(), 3);
    let before = json_lines(&dir, &["executions", "--until", "2026-12-06T00:00:00Z"]);
    assert_eq!(before.len(), 6);
    // `--since` a duration ago, as of `--now`: from 23:58:02.5, both
    // failures and the panic before midnight (in the gzipped file; each
    // started just before its second) and the 3 after.
    let last_minutes = json_lines(
        &dir,
        &[
            "executions",
            "--since",
            "2m",
            "--now",
            "2026-12-06T00:00:02.5Z",
        ],
    );
    assert_eq!(last_minutes.len(), 6);
    assert_eq!(
        last_minutes
            .iter()
            .filter(|e| e["status"] != "success")
            .count(),
        4
    );

    // Text: one aligned line per execution within 100 columns, no colour
    // into a pipe, then the hint for the next page.
    let text = monitor(&dir, &["executions", "--limit", "4"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", text.stdout);
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    assert!(lines[5].contains("--cursor "), "{}", lines[5]);
    assert!(lines.iter().all(|line| columns(line) <= 100));
    assert!(!text.stdout.contains('\x1b'));
    let status_column = lines[0].find("STATUS").unwrap();
    for (line, execution) in lines[1..5].iter().zip(&listed) {
        assert!(
            line.starts_with(execution["id"].as_str().unwrap()),
            "{line}"
        );
        let status = execution["status"].as_str().unwrap();
        assert_eq!(
            &line[status_column..status_column + status.len()],
            status,
            "{line}"
        );
    }
}

#[test]
fn the_cursor_pages_through_every_execution_once_across_rotated_files() {
    let _lock = exclusive();
    let dir = across_midnight("cli-cursor");
    let all = ids(&json_lines(&dir, &["executions", "--limit", "100"]));
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["--json", "executions", "--limit", "4"];
        if let Some(cursor) = &cursor {
            args.extend(["--cursor", cursor.as_str()]);
        }
        let run = monitor(&dir, &args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        paged.extend(ids(&run.lines()));
        pages += 1;
        // The next cursor is a JSON line on stderr, so stdout holds
        // executions only.
        cursor = run
            .stderr
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|line| line["next_cursor"].as_str().map(str::to_owned));
        if cursor.is_none() {
            break;
        }
        assert!(pages < 10, "the cursor never ends");
    }
    assert_eq!(pages, 3, "4 + 4 + 1");
    assert_eq!(paged, all);

    // The "More:" hint (over lines when the cursor is long) names the
    // cursor; every line fits 100 columns.
    let hint_cursor = |stdout: &str| -> String {
        assert!(stdout.lines().all(|line| columns(line) <= 100), "{stdout}");
        let hint: Vec<&str> = stdout
            .lines()
            .skip_while(|line| !line.starts_with("More:"))
            .collect();
        hint.iter()
            .flat_map(|line| line.split_whitespace())
            .skip_while(|word| *word != "--cursor")
            .nth(1)
            .unwrap_or_else(|| panic!("a cursor in {hint:?}"))
            .to_owned()
    };
    let text = monitor(&dir, &["executions", "--limit", "4"]);
    let cursor = hint_cursor(&text.stdout);
    let second = json_lines(&dir, &["executions", "--limit", "4", "--cursor", &cursor]);
    assert_eq!(ids(&second), all[4..8]);
    let text = monitor(&dir, &["executions", "--limit", "4", "--cursor", &cursor]);
    let third = hint_cursor(&text.stdout);
    let last = json_lines(&dir, &["executions", "--limit", "4", "--cursor", &third]);
    assert_eq!(ids(&last), all[8..]);

    let bad = monitor(&dir, &["executions", "--cursor", "page-two"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("`page-two` is not a cursor"),
        "{}",
        bad.stderr
    );
}

#[test]
fn show_gives_one_execution_whole_with_the_errors_logs_detail() {
    let _lock = exclusive();
    let dir = across_midnight("cli-show");
    let listed = json_lines(&dir, &["executions", "--limit", "100"]);
    let error_log = read_json_lines(&dir.join("errors/current_errors.log"));
    assert_eq!(error_log.len(), 4);
    let failed: Vec<&Value> = listed
        .iter()
        .filter(|line| line["status"] != "success")
        .collect();
    // The same executions, with the same ids, in both logs.
    let logged_ids: BTreeSet<String> = ids(&error_log).into_iter().collect();
    let listed_ids: BTreeSet<String> = failed
        .iter()
        .map(|line| line["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged_ids, listed_ids);

    for execution in &listed {
        let id = execution["id"].as_str().unwrap();
        let run = monitor(&dir, &["--json", "show", id]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let shown = run.object();
        for key in ["id", "timestamp", "name", "status", "duration_ms", "thread"] {
            assert_eq!(shown[key], execution[key], "{key}");
        }
        match execution["status"].as_str().unwrap() {
            "error" => {
                assert_eq!(
                    shown["error_chain"],
                    serde_json::json!(["connection refused"])
                );
                assert_eq!(shown["context"]["module"], "cli");
                assert!(shown["context"]["file"]
                    .as_str()
                    .unwrap()
                    .ends_with("cli.rs"));
                assert!(shown["stack_trace"].is_null());
            }
            "panic" => {
                assert_eq!(shown["error_message"], "boiler pressure out of range");
                let location = shown["context"]["panic_location"].as_str().unwrap();
                assert!(location.contains("cli.rs"), "{location}");
            }
            _ => assert!(shown.get("error_chain").is_none(), "{shown}"),
        }
    }

    let panic_id = failed
        .iter()
        .find(|line| line["status"] == "panic")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = monitor(&dir, &["show", &panic_id]);
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("boiler pressure out of range"));
    assert!(text.stdout.lines().all(|line| columns(line) <= 100));

    // An unknown id (well formed: the first one's with another sequence).
    let first = listed[0]["id"].as_str().unwrap();
    let unknown = format!(
        "{}{}",
        &first[..25],
        if first.ends_with('Z') { 'Y' } else { 'Z' }
    );
    let run = monitor(&dir, &["show", &unknown]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains(&format!("no execution {unknown}")),
        "{}",
        run.stderr
    );
    let run = monitor(&dir, &["show", "not-an-id"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("26 characters"), "{}", run.stderr);
}

#[test]
fn errors_are_grouped_largest_first_with_an_example_id() {
    let _lock = exclusive();
    let dir = across_midnight("cli-errors");
    let failed: BTreeMap<String, String> = json_lines(&dir, &["executions", "--limit", "100"])
        .iter()
        .filter(|line| line["status"] != "success")
        .map(|line| {
            (
                line["id"].as_str().unwrap().to_owned(),
                line["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let groups = json_lines(&dir, &["errors", "--since", "2026-12-05T00:00:00Z"]);
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[0]["name"], "cli::sync");
    assert_eq!(groups[0]["count"], 3);
    assert_eq!(groups[0]["message"], "sync failed");
    assert_eq!(groups[1]["name"], "cli::explode");
    assert_eq!(groups[1]["count"], 1);
    for group in &groups {
        let example = group["example_id"].as_str().unwrap();
        assert_eq!(
            failed.get(example),
            group["name"].as_str().map(str::to_owned).as_ref()
        );
    }
    // A window starting at midnight holds the one failure after it.
    let today = json_lines(
        &dir,
        &["errors", "--since", "5m", "--now", "2026-12-06T00:05:00Z"],
    );
    assert_eq!(today.len(), 1);
    assert_eq!(today[0]["count"], 1);
    let one = json_lines(
        &dir,
        &[
            "errors",
            "--since",
            "2026-12-05T00:00:00Z",
            "--name",
            "cli::explode",
        ],
    );
    assert_eq!(one.len(), 1);
}

#[test]
fn stats_and_trend_answer_windows_across_midnight() {
    let _lock = exclusive();
    let dir = across_midnight("cli-stats");
    let run = monitor(
        &dir,
        &[
            "--json",
            "stats",
            "--window",
            "10m",
            "--now",
            "2026-12-06T00:05:00Z",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stats = run.object();
    assert_eq!(stats["window_secs"], 600);
    let functions: BTreeMap<&str, &Value> = stats["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f))
        .collect();
    assert_eq!(functions["cli::ok"]["total"], 5);
    assert_eq!(functions["cli::ok"]["success_rate"], 1.0);
    assert_eq!(functions["cli::sync"]["error"], 3);
    assert_eq!(functions["cli::sync"]["success_rate"], 0.0);
    assert_eq!(functions["cli::explode"]["panic"], 1);
    for function in functions.values() {
        for key in ["mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"] {
            assert!(function[key].as_f64().is_some(), "{key}: {function}");
        }
    }
    assert_eq!(stats["totals"]["total"], 9);
    assert_eq!(stats["totals"]["success"], 5);

    // The window after midnight only.
    let after = monitor(
        &dir,
        &[
            "--json",
            "stats",
            "--window",
            "3m",
            "--now",
            "2026-12-06T00:03:00Z",
            "--name",
            "cli::*",
        ],
    )
    .object();
    assert_eq!(after["totals"]["total"], 3);

    let trend = json_lines(
        &dir,
        &[
            "trend",
            "--days",
            "2",
            "--now",
            "2026-12-06T12:00:00Z",
            "--name",
            "cli::ok",
        ],
    );
    assert_eq!(trend.len(), 1);
    assert_eq!(trend[0]["name"], "cli::ok");
    let points = trend[0]["points"].as_array().unwrap();
    let days: Vec<(&str, u64)> = points
        .iter()
        .map(|p| (p["day"].as_str().unwrap(), p["total"].as_u64().unwrap()))
        .collect();
    assert_eq!(days, [("2026-12-05", 3), ("2026-12-06", 2)]);

    let text = monitor(
        &dir,
        &["stats", "--window", "10m", "--now", "2026-12-06T00:05:00Z"],
    );
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("cli::sync"));
    assert!(text.stdout.lines().all(|line| columns(line) <= 100));
}

#[test]
fn status_and_health_exit_codes_follow_the_verdict() {
    let _lock = exclusive();
    #[monitored(name = "cli::steady")]
    fn steady() -> Result<(), String> {
        Ok(())
    }
    #[monitored(name = "cli::flaky")]
    fn flaky(fail: bool) -> Result<(), String> {
        if fail {
            Err("flaky".into())
        } else {
            Ok(())
        }
    }
    #[monitored(name = "cli::broken")]
    fn broken() -> Result<(), String> {
        Err("broken".into())
    }
    let host = |name: &str, run: &dyn Fn()| {
        let dir = temp_dir(name);
        let guard = Monitor::builder()
            .log_dir(&dir)
            .capture_backtraces(false)
            .install()
            .unwrap();
        run();
        assert!(guard.flush());
        drop(guard);
        dir
    };
    let green = host("cli-green", &|| {
        for _ in 0..3 {
            steady().unwrap();
        }
    });
    // Two failures in three: a high error rate (a warning), never five in a row.
    let yellow = host("cli-yellow", &|| {
        for _ in 0..5 {
            flaky(true).unwrap_err();
            flaky(true).unwrap_err();
            flaky(false).unwrap();
        }
    });
    let red = host("cli-red", &|| {
        for _ in 0..6 {
            broken().unwrap_err();
        }
    });
    for (dir, verdict, code) in [
        (&green, "green", 0),
        (&yellow, "yellow", 1),
        (&red, "red", 2),
    ] {
        let run = monitor(dir, &["--json", "health"]);
        assert_eq!(run.code, code, "{verdict}: {}{}", run.stdout, run.stderr);
        let health = run.object();
        assert_eq!(health["verdict"], verdict);
        let text = monitor(dir, &["health"]);
        assert_eq!(text.code, code);
        assert!(
            text.stdout.lines().next().unwrap().ends_with(verdict),
            "{}",
            text.stdout
        );
    }
    let reasons = monitor(&red, &["--json", "health"]).object()["reasons"].clone();
    assert!(
        reasons[0].as_str().unwrap().contains("cli::broken"),
        "{reasons}"
    );

    let status = monitor(&red, &["--json", "status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let report = status.object();
    assert_eq!(report["health"]["verdict"], "red");
    let text = monitor(&red, &["status"]);
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("cli::broken"));
    if cfg!(target_os = "linux") {
        // The host's last minute of resource samples, from stats.db.
        assert!(report["resources"]["rss_bytes"].as_u64().unwrap() > 0);
        assert!(
            text.stdout
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("Process: RSS "),
            "{}",
            text.stdout
        );
    }
    assert!(text.stdout.lines().all(|line| columns(line) <= 100));
}

#[test]
fn bad_input_is_named_with_the_accepted_forms() {
    let _lock = exclusive();
    let dir = across_midnight("cli-bad-input");

    let missing = dir.join("no-such-dir");
    // `health` has no verdict to give: 3, which no verdict uses.
    let run = monitor(&missing, &["health"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains(&missing.display().to_string()));
    for command in ["status", "executions", "errors", "stats", "trend", "tail"] {
        let run = monitor(&missing, &[command]);
        assert_eq!(run.code, 1, "{command}");
        assert!(
            run.stderr.contains(&missing.display().to_string()),
            "{command}: {}",
            run.stderr
        );
    }
    let foreign = temp_dir("cli-not-a-monitor");
    std::fs::write(foreign.join("notes.txt"), "hello").unwrap();
    assert_eq!(monitor(&foreign, &["health"]).code, 3);
    let run = monitor(&foreign, &["executions"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&foreign.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("not a monitor's"), "{}", run.stderr);

    for (args, accepted) in [
        (
            &["executions", "--since", "yesterday"][..],
            &["`24h`", "RFC 3339"][..],
        ),
        (
            &["executions", "--until", "24 hours"],
            &["`24h`", "RFC 3339"],
        ),
        (&["errors", "--since=-1h"], &["`24h`", "RFC 3339"]),
        (&["stats", "--window", "5"], &["`24h`", "`1h30m`"]),
        (&["trend", "--days", "0"], &["e.g. `7`"]),
        (&["trend", "--days", "week"], &["e.g. `7`"]),
        (
            &["executions", "--status", "failed"],
            &["success, error, panic or cancelled"],
        ),
        (
            &["executions", "--field", "user_id"],
            &["KEY=VALUE", "user_id=42"],
        ),
        (&["executions", "--name", "a*b"], &["`prefix::*`"]),
        (&["executions", "--now", "today"], &["RFC 3339"]),
    ] {
        let run = monitor(&dir, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        for form in accepted {
            assert!(
                run.stderr.contains(form),
                "{args:?}: {form} not in {}",
                run.stderr
            );
        }
        assert!(run.stderr.contains("--help"), "{}", run.stderr);
    }

    // A window that ends before it starts: refused, saying why.
    let run = monitor(
        &dir,
        &[
            "executions",
            "--since",
            "2026-12-06T00:00:00Z",
            "--until",
            "1h",
        ],
    );
    let run_backwards = monitor(
        &dir,
        &[
            "executions",
            "--since",
            "2026-12-06T00:00:10Z",
            "--until",
            "2026-12-06T00:00:05Z",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run_backwards.code, 2);
    assert!(run_backwards.stdout.is_empty());
    assert!(
        run_backwards
            .stderr
            .contains("--until (2026-12-06T00:00:05.000000Z) is not after --since"),
        "{}",
        run_backwards.stderr
    );
    // A status in capitals is the same status.
    assert_eq!(
        json_lines(&dir, &["executions", "--status", "ERROR"]),
        json_lines(&dir, &["executions", "--status", "error"])
    );

    // A line that is not JSON: skipped, and reported once.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("executions/current.log"))
        .unwrap();
    std::io::Write::write_all(&mut log, b"this is not JSON\n").unwrap();
    drop(log);
    let run = monitor(&dir, &["--json", "executions"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.lines().len(), 9);
    assert_eq!(
        run.stderr.matches("skipped 1 line").count(),
        1,
        "{}",
        run.stderr
    );
    let tail = monitor(&dir, &["--json", "tail", "-n", "2"]);
    assert_eq!(
        tail.lines().len(),
        2,
        "the garbage line is not printed, nor counted toward -n"
    );
    assert_eq!(
        tail.stderr.matches("skipped 1 line").count(),
        1,
        "{}",
        tail.stderr
    );
    // JSON objects that are no execution: no blank line for them.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("executions/current.log"))
        .unwrap();
    std::io::Write::write_all(&mut log, b"{}\n{\"a\":1}\n").unwrap();
    drop(log);
    let tail = monitor(&dir, &["tail", "-n", "4"]);
    assert_eq!(tail.code, 0, "{}", tail.stderr);
    // Every execution of current.log (fewer than 4): the junk lines at
    // its end do not use up -n.
    let current = std::fs::read_to_string(dir.join("executions/current.log")).unwrap();
    let executions = current.matches("\"status\"").count();
    assert!(executions < 4, "{current}");
    assert_eq!(tail.stdout.lines().count(), executions, "{}", tail.stdout);
    assert!(
        tail.stdout.lines().all(|line| !line.trim().is_empty()),
        "{:?}",
        tail.stdout
    );
    assert!(
        tail.stderr.contains("skipped 2 lines") && tail.stderr.contains("no execution"),
        "{}",
        tail.stderr
    );
}

#[test]
fn a_closed_stdout_is_a_clean_end() {
    let _lock = exclusive();
    let dir = across_midnight("cli-closed-pipe");
    for args in [
        &["executions"][..],
        &["--json", "executions"],
        &["errors", "--since", "7d", "--now", "2026-12-06T12:00:00Z"],
        &["status"],
        &["tail"],
    ] {
        // A pipe whose reader is gone before the command starts: every
        // write fails with EPIPE (`monitor executions | head -0`).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = monitor_command(&dir, args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{args:?}");
    }
}

#[monitored(name = "cli::live")]
fn live(fail: bool) -> Result<(), String> {
    if fail {
        Err("live failure".into())
    } else {
        Ok(())
    }
}

/// A `monitor tail -f` child and its stdout lines, arriving on a channel.
struct Tail {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Tail {
    fn start(dir: &Path, args: &[&str]) -> Tail {
        let mut child = monitor_command(dir, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Tail { child, lines }
    }

    /// The next line; fails the test (instead of hanging) after a minute.
    fn next(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .expect("tail printed the line within a minute")
    }

    /// The exit code, waited for at most a minute.
    fn exit_code(mut self) -> Option<i32> {
        let (sender, done) = mpsc::channel();
        let pid = self.child.id();
        std::thread::spawn(move || {
            let _ = sender.send(self.child.wait().map(|status| status.code()));
        });
        match done.recv_timeout(Duration::from_secs(60)) {
            Ok(status) => status.unwrap(),
            Err(_) => {
                // SAFETY: plain kill(2) of our own child's pid.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                panic!("monitor tail did not end within a minute");
            }
        }
    }
}

#[test]
fn tail_follows_a_live_log_across_rotation_without_loss_or_repeats() {
    let _lock = exclusive();
    let dir = temp_dir("cli-tail");
    let clock = ManualClock::new(at("2026-12-05T23:59:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .capture_backtraces(false)
        .compress_rotated_logs(true)
        .install()
        .unwrap();
    live(false).unwrap();
    assert!(guard.flush());

    // The last line comes first: once it is printed, tail has the file open.
    let tail = Tail::start(&dir, &["--json", "tail", "-f", "-n", "1"]);
    let mut printed = vec![tail.next()];
    for fail in [false, true, false] {
        live(fail).unwrap_or(());
    }
    assert!(guard.flush());
    // Midnight: the next line rotates current.log (then gzipped) and starts a new one.
    clock.set(at("2026-12-06T00:00:30Z"));
    for fail in [true, false, false, false] {
        live(fail).unwrap_or(());
    }
    assert!(guard.flush());
    // 1 + 3 + 4 lines so far; the rotated file may be being gzipped, so
    // the files are compared once the host has stopped.
    while printed.len() < 8 {
        printed.push(tail.next());
    }

    // More after the rotation, then Ctrl-C ends it cleanly.
    live(true).unwrap_err();
    assert!(guard.flush());
    printed.push(tail.next());
    // SAFETY: plain kill(2) of our own child's pid.
    assert_eq!(
        unsafe { libc::kill(tail.child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    assert_eq!(tail.exit_code(), Some(0));

    // A reader that goes away ends an idle `tail -f` too (`| head -1`).
    let tail = Tail::start(&dir, &["tail", "-f", "-n", "1", "--errors"]);
    let line = tail.next();
    let last_error = read_json_lines(&dir.join("errors/current_errors.log"))
        .pop()
        .unwrap();
    assert!(line.contains(last_error["id"].as_str().unwrap()), "{line}");
    assert!(
        line.contains(" error ") && line.contains("cli::live"),
        "{line}"
    );
    assert!(columns(&line) <= 100, "{line}");
    let Tail { child, lines } = tail;
    drop(lines); // the reading thread stops, and closes the pipe
                 // The reader thread ends only when it reads again: a line appended
                 // wakes it, after which the pipe is closed and tail must notice.
    live(true).unwrap_err();
    assert!(guard.flush());
    assert_eq!(
        Tail {
            child,
            lines: mpsc::channel().1
        }
        .exit_code(),
        Some(0)
    );
    drop(guard); // waits for the compression

    let logged = logged_executions(&dir);
    assert_eq!(logged.len(), 10);
    let printed: Vec<Value> = printed
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        printed,
        logged[..9],
        "every line once, in order, across the rotation"
    );
    let names: Vec<String> = std::fs::read_dir(dir.join("executions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"2026-12-05.log.gz".to_owned()), "{names:?}");
}

#[test]
fn help_fits_100_columns() {
    let dir = temp_dir("cli-help");
    for command in [
        "",
        "status",
        "health",
        "executions",
        "show",
        "errors",
        "stats",
        "trend",
        "tail",
    ] {
        let mut args = vec!["--help"];
        if !command.is_empty() {
            args.insert(0, command);
        }
        let run = monitor(&dir, &args);
        assert_eq!(run.code, 0, "{command}");
        assert!(run.stdout.contains("Usage: monitor"), "{}", run.stdout);
        for line in run.stdout.lines() {
            assert!(columns(line) <= 100, "{command}: {line}");
        }
    }
}

/// Runs `monitor` with its stdout on a pseudo-terminal, as in a shell, and
/// returns what it printed there.
#[cfg(target_os = "linux")]
fn on_terminal(dir: &Path, args: &[&str], no_color: Option<&str>) -> String {
    use std::os::fd::FromRawFd;
    // SAFETY: posix_openpt, grantpt, unlockpt and ptsname_r on the fd just
    // opened, with a buffer of the length passed; the fd is then owned by
    // the File.
    let (master, slave_path) = unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "a pseudo-terminal");
        let master = std::fs::File::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_str()
            .unwrap()
            .to_owned();
        (master, path)
    };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave_path)
        .unwrap();
    let mut child = {
        let mut command = monitor_command(dir, args);
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        command
            .stdin(Stdio::null())
            .stdout(slave)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
        // The command, and with it the parent's copy of the slave, ends here.
    };
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut master = master;
        // Reading ends with EIO once the child has closed the terminal.
        let _ = master.read_to_end(&mut bytes);
        bytes
    });
    assert_eq!(child.wait().unwrap().code(), Some(0));
    String::from_utf8(reader.join().unwrap()).unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn status_is_coloured_on_a_terminal_unless_no_color_is_set() {
    let _lock = exclusive();
    let dir = across_midnight("cli-colour");
    let coloured = on_terminal(&dir, &["executions", "--limit", "9"], None);
    assert!(coloured.contains("\x1b[32msuccess\x1b[0m"), "{coloured:?}");
    assert!(coloured.contains("\x1b[31merror\x1b[0m"), "{coloured:?}");
    assert!(coloured.contains("\x1b[35mpanic\x1b[0m"), "{coloured:?}");
    let header = coloured.lines().next().unwrap();
    assert!(
        !header.contains('\x1b'),
        "only statuses are coloured: {header:?}"
    );
    for no_color in ["1", ""] {
        let plain = on_terminal(&dir, &["executions", "--limit", "9"], Some(no_color));
        assert!(plain.contains("success"), "{plain:?}");
        assert!(!plain.contains('\x1b'), "NO_COLOR={no_color:?}: {plain:?}");
    }
    let tail = on_terminal(&dir, &["tail", "-n", "3"], None);
    assert!(tail.contains("\x1b[32msuccess"), "{tail:?}");
}

#[monitored(name = "cli::charge", fields(always, user_id = user, plan = %plan))]
fn charge(user: u64, plan: &str, fail: bool) -> Result<(), String> {
    if fail {
        Err(format!("card of user {user} declined"))
    } else {
        Ok(())
    }
}

#[test]
fn executions_filter_on_fields_and_show_prints_them() {
    let _lock = exclusive();
    let dir = temp_dir("cli-fields");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for i in 0..12u64 {
        let plan = if i % 2 == 0 { "pro" } else { "free" };
        let _ = charge(40 + i % 3, plan, i % 4 == 0);
    }
    assert!(guard.flush());
    drop(guard);

    // (user, plan, failed) of each call, newest first as the command lists them.
    let calls: Vec<(u64, &str, bool)> = (0..12u64)
        .rev()
        .map(|i| {
            (
                40 + i % 3,
                if i % 2 == 0 { "pro" } else { "free" },
                i % 4 == 0,
            )
        })
        .collect();
    let for_42 = json_lines(&dir, &["executions", "--field", "user_id=42"]);
    assert_eq!(for_42.len(), calls.iter().filter(|c| c.0 == 42).count());
    for (line, call) in for_42.iter().zip(calls.iter().filter(|c| c.0 == 42)) {
        assert_eq!(line["fields"]["user_id"], 42, "{line}");
        assert_eq!(line["fields"]["plan"], call.1, "{line}");
    }
    let failed_pro = json_lines(
        &dir,
        &["executions", "--field", "plan=pro", "--status", "error"],
    );
    assert_eq!(failed_pro.len(), calls.iter().filter(|c| c.2).count());
    assert!(json_lines(&dir, &["executions", "--field", "user_id=4"]).is_empty());

    // `show` has the fields of both logs.
    let id = failed_pro[0]["id"].as_str().unwrap();
    let shown = monitor(&dir, &["--json", "show", id]).object();
    assert_eq!(shown["fields"], failed_pro[0]["fields"]);
    assert!(shown["error_message"]
        .as_str()
        .unwrap()
        .starts_with("card of user"));
    let text = monitor(&dir, &["show", id]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("plan"), "{}", text.stdout);
    assert!(text.stdout.contains("pro"), "{}", text.stdout);
}

/// The terminal columns of `line`: 2 for the emoji and East Asian wide
/// characters the commands may print, 1 for the rest.
fn columns(line: &str) -> usize {
    line.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFF00..=0xFF60
            | 0x1F300..=0x1F64F
            | 0x1F680..=0x1F6FF
            | 0x1F7E0..=0x1F7EB
            | 0x1F900..=0x1F9FF => 2,
            _ => 1,
        })
        .sum()
}

/// The "More:" hint whose cursor names a file rotated by size (a long
/// name) is broken over lines of at most 100 columns, the cursor whole.
#[test]
fn the_more_hint_fits_100_columns_with_a_long_cursor() {
    let _lock = exclusive();
    let dir = temp_dir("cli-more-hint");
    let clock = ManualClock::new(at("2026-12-06T10:00:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .capture_backtraces(false)
        .executions_rotation(monitor::Rotation::Size(2_000))
        .install()
        .unwrap();
    for _ in 0..40 {
        ok().unwrap();
        assert!(guard.flush());
        clock.advance(Duration::from_secs(1));
    }
    drop(guard);
    let all = ids(&json_lines(&dir, &["executions", "--limit", "100"]));
    assert_eq!(all.len(), 40);
    let mut cursor: Option<String> = None;
    let mut paged = Vec::new();
    let mut longest = 0;
    for _ in 0..40 {
        let mut args = vec!["executions", "--limit", "3"];
        if let Some(cursor) = &cursor {
            args.extend(["--cursor", cursor.as_str()]);
        }
        let text = monitor(&dir, &args);
        assert_eq!(text.code, 0, "{}", text.stderr);
        assert!(
            text.stdout.lines().all(|line| columns(line) <= 100),
            "{}",
            text.stdout
        );
        let mut json = vec!["--json"];
        json.extend_from_slice(&args);
        paged.extend(ids(&monitor(&dir, &json).lines()));
        let hint: Vec<&str> = text
            .stdout
            .lines()
            .skip_while(|line| !line.starts_with("More:"))
            .collect();
        cursor = hint
            .iter()
            .flat_map(|line| line.split_whitespace())
            .skip_while(|word| *word != "--cursor")
            .nth(1)
            .map(str::to_owned);
        match &cursor {
            Some(next) => longest = longest.max(next.len()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    // The hint on one line would not have fitted.
    let one_line = "More: the same command with --cursor  gives the next page.".len();
    assert!(longest + one_line > 100, "longest cursor: {longest}");
}
