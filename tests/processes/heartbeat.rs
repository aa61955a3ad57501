//! `status.json` read from outside by the real `monitor` command: a live
//! host's running executions, then the same host killed with SIGKILL is
//! "stopped unexpectedly", and a host that stopped cleanly is "stopped".

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::child::Host;
use crate::common::temp_dir;

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
        .output()
        .expect("the monitor binary runs");
    Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Makes `status.json` look written `age` ago (its modification time): the
/// 10 seconds after which a file is stale, without waiting for them.
fn age_status_file(dir: &Path, age: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(dir.join("status.json"))
        .unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

pub fn a_host_killed_with_sigkill_is_reported_stopped_unexpectedly() {
    let dir = temp_dir("heartbeat-kill");
    let mut host = Host::start("busy", &dir, None);
    host.expect("READY");

    let running = monitor(&dir, &["--json", "running"]);
    assert_eq!(running.code, 0, "{}", running.stderr);
    let lines: Vec<serde_json::Value> = running
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{}", running.stdout);
    assert_eq!(lines[0]["name"], "busy_job");
    assert_eq!(lines[0]["thread"], "busy-worker");
    assert_eq!(lines[0]["stuck"], false);
    let text = monitor(&dir, &["running"]);
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("busy_job"), "{}", text.stdout);
    let health = monitor(&dir, &["--json", "health"]);
    assert_eq!(health.code, 0, "a live, healthy host: {}", health.stdout);

    host.kill();
    // Killed a moment ago: the file is fresh, but its process is gone.
    // Stale once 10 s pass without a rewrite:
    age_status_file(&dir, Duration::from_secs(20));
    let health = monitor(&dir, &["--json", "health"]);
    assert_eq!(health.code, 2, "{}{}", health.stdout, health.stderr);
    let verdict: serde_json::Value = serde_json::from_str(health.stdout.trim()).unwrap();
    assert_eq!(verdict["verdict"], "not_running");
    let reason = verdict["reasons"][0].as_str().unwrap();
    assert!(reason.contains("stopped unexpectedly"), "{reason}");
    let status = monitor(&dir, &["--json", "status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let report: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(report["health"]["verdict"], "not_running");
    let reason = report["health"]["reasons"][0].as_str().unwrap();
    assert!(reason.contains("stopped unexpectedly"), "{reason}");
    assert_eq!(report["running"].as_array().unwrap().len(), 0);
    let text = monitor(&dir, &["status"]);
    assert!(text.stdout.contains("not_running"), "{}", text.stdout);
    let running = monitor(&dir, &["running"]);
    assert_eq!(running.code, 1);
    assert!(
        running.stderr.contains("stopped unexpectedly"),
        "{}",
        running.stderr
    );
}

pub fn a_host_that_stopped_cleanly_is_reported_stopped() {
    let dir = temp_dir("heartbeat-clean");
    let mut host = Host::start("busy", &dir, None);
    host.expect("READY");
    host.finish();
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(status["state"], "stopped");
    // No need to be stale: it said so itself, and its process is gone.
    let health = monitor(&dir, &["health"]);
    assert_eq!(health.code, 2);
    assert!(health.stdout.contains("not_running"), "{}", health.stdout);
    assert!(health.stdout.contains("stopped at"), "{}", health.stdout);
    assert!(!health.stdout.contains("unexpectedly"), "{}", health.stdout);
}
