//! `monitor alerts` and `monitor ack` with the real binary against a
//! running host (this test binary, with an injected clock): the history and
//! the firing episodes as the host saved them, and an acknowledgement
//! written by the command that the host takes up (its next tick; a flush
//! runs one) and keeps.
#![cfg(feature = "cli")]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{exclusive, temp_dir};
use monitor::{monitored, Alert, AlertRule, ManualClock, Monitor, Verdict};
use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn monitor(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_monitor"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("the monitor binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn json_lines(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = monitor(dir, &all);
    assert_eq!(run.code, 0, "monitor {args:?}: {}", run.stderr);
    run.stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[monitored(name = "cli_alert_job")]
fn cli_alert_job(fail: bool) -> Result<(), String> {
    if fail {
        Err("queue unreachable".into())
    } else {
        Ok(())
    }
}

#[test]
fn alerts_lists_the_history_and_ack_reaches_the_running_host() {
    let _lock = exclusive();
    let dir = temp_dir("cli-alerts");
    // The history is read with --since 7d from the system clock: the
    // host's clock starts an hour ago.
    let clock = ManualClock::new(std::time::SystemTime::now() - Duration::from_secs(3600));
    let seen: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .alert_tracing_events(false)
        .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()))
        .install()
        .unwrap();
    for _ in 0..5 {
        cli_alert_job(true).unwrap_err();
    }
    assert!(guard.flush());
    let episode = seen
        .lock()
        .unwrap()
        .iter()
        .find(|a| a.rule == AlertRule::ConsecutiveFailures)
        .and_then(Alert::episode)
        .unwrap();

    let history = json_lines(&dir, &["alerts", "--rule", "consecutive_failures"]);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["episode"], episode);
    assert_eq!(history[0]["function"], "cli_alert_job");
    assert_eq!(history[0]["state"], "firing");
    let firing = json_lines(&dir, &["alerts", "--firing"]);
    assert!(firing
        .iter()
        .any(|a| a["episode"] == episode && a["acknowledged"].is_null()));

    // Mistakes are named.
    let unknown = monitor(&dir, &["ack", "9999", "--by", "alice"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no alert episode has the id 9999"),
        "{}",
        unknown.stderr
    );
    let no_by = monitor(&dir, &["ack", &episode.to_string()]);
    assert_eq!(no_by.code, 2, "{}", no_by.stderr);
    assert!(no_by.stderr.contains("--by"), "{}", no_by.stderr);
    let bad = monitor(&dir, &["ack", "twelve", "--by", "alice"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no episode number"), "{}", bad.stderr);

    // The acknowledgement, written by the command.
    let ack = monitor(
        &dir,
        &[
            "ack",
            &format!("#{episode}"),
            "--by",
            "alice",
            "--note",
            "rotating the queue",
        ],
    );
    assert_eq!(ack.code, 0, "{}", ack.stderr);
    assert!(
        ack.stdout
            .contains(&format!("Acknowledged episode #{episode} as alice")),
        "{}",
        ack.stdout
    );
    // The running host takes it up at its next tick.
    assert!(guard.flush());
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red);
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("acknowledged by alice")),
        "{health}"
    );
    // The command's own health and status read it from the store too.
    let health = monitor(&dir, &["health"]);
    assert_eq!(health.code, 2, "still red: {}", health.stdout);
    assert!(
        health.stdout.contains("acknowledged by alice"),
        "{}",
        health.stdout
    );
    let status = json_lines(&dir, &["status"]);
    let firing = status[0]["alerts"].as_array().unwrap();
    let acked = firing
        .iter()
        .find(|a| a["rule"] == "consecutive_failures")
        .unwrap();
    assert_eq!(acked["episode"], episode);
    assert_eq!(acked["acknowledged"]["by"], "alice");
    clock.advance(Duration::from_secs(2 * 3600));
    assert!(guard.flush());
    let reminders = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.rule == AlertRule::ConsecutiveFailures)
        .count();
    assert_eq!(reminders, 1, "no reminder once acknowledged");

    let text = monitor(&dir, &["alerts", "--firing"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains(&format!("#{episode} ")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("acknowledged by alice"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("rotating the queue"),
        "{}",
        text.stdout
    );

    // Resolved: acknowledging it again says so.
    cli_alert_job(false).unwrap();
    assert!(guard.flush());
    let late = monitor(&dir, &["ack", &episode.to_string(), "--by", "bob"]);
    assert_eq!(late.code, 1);
    assert!(late.stderr.contains("resolved already"), "{}", late.stderr);
    let history = json_lines(&dir, &["alerts", "--rule", "consecutive_failures"]);
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["state"], "resolved");
    assert_eq!(history[0]["acknowledged"]["by"], "alice");
    assert!(json_lines(
        &dir,
        &["alerts", "--firing", "--rule", "consecutive_failures"]
    )
    .is_empty());
    drop(guard);
}

#[test]
fn ack_in_a_directory_without_stats_db_says_there_is_no_such_episode() {
    let dir = temp_dir("cli-ack-no-db");
    std::fs::create_dir_all(dir.join("executions")).unwrap();
    let run = monitor(&dir, &["ack", "5", "--by", "alice"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no alert episode has the id 5"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("read-only"), "{}", run.stderr);
    assert!(!dir.join("stats.db").exists());
}
