//! `flush_on_termination(true)`: SIGTERM or SIGINT writes every execution
//! recorded before it to the logs and `stats.db`, then the process dies of
//! that signal as it would have.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use crate::child::Host;
use crate::common::{read_json_lines, temp_dir};

fn stored_total(dir: &std::path::Path) -> Option<i64> {
    let connection = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    connection
        .query_row(
            "SELECT total_executions FROM function_stats WHERE name = 'child_job'",
            [],
            |row| row.get(0),
        )
        .ok()
}

fn signal_flushes_then_kills(signal_name: &str, signal_number: i32) {
    let dir = temp_dir(&format!("termination-{signal_name}"));
    let mut host = Host::start("terminate", &dir, None);
    host.expect("INSTALLED");
    host.expect("RECORDED");
    let pid = host.child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{signal_name}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let rest = host.rest();
    let status = host.child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(signal_number),
        "killed by {signal_name}, as without the monitor: {status}; output {rest}"
    );
    assert!(!rest.contains("NOT SIGNALLED"), "{rest}");

    let lines = read_json_lines(&dir.join("executions/current.log"));
    let jobs = lines.iter().filter(|l| l["name"] == "child_job").count();
    assert_eq!(
        jobs, 500,
        "every execution recorded before the signal is in the log"
    );
    let errors = read_json_lines(&dir.join("errors/current_errors.log"));
    assert_eq!(
        errors.iter().filter(|l| l["name"] == "child_job").count(),
        50
    );
    assert_eq!(stored_total(&dir), Some(500), "and counted in stats.db");
}

pub fn sigterm_writes_and_saves_everything_then_the_process_dies_of_sigterm() {
    signal_flushes_then_kills("TERM", 15);
}

pub fn sigint_writes_and_saves_everything_then_the_process_dies_of_sigint() {
    signal_flushes_then_kills("INT", 2);
}
