//! One log directory, one process: a second host is refused at install,
//! with the holder's pid; a lock left by a killed process is no obstacle.

use crate::child::Host;
use crate::common::{read_json_lines, temp_dir};

pub fn a_second_process_on_the_same_log_dir_is_refused_with_the_holders_pid() {
    let dir = temp_dir("lock-second-process");
    let mut first = Host::start("hold", &dir, None);
    let holder_pid = first.expect("INSTALLED");
    assert_eq!(holder_pid, first.child.id().to_string());
    first.expect("READY");

    let mut second = Host::start("try", &dir, None);
    let refusal = second.expect("LOCKED");
    let rest = second.finish();
    assert!(!rest.contains("INSTALLED"), "{rest}");
    let (pid, message) = refusal.split_once(' ').unwrap();
    assert_eq!(pid, holder_pid, "{refusal}");
    let canonical = dir.canonicalize().unwrap();
    assert!(
        message.contains(&canonical.display().to_string()),
        "names the directory: {message}"
    );
    assert!(
        message.contains(&format!("process {holder_pid}")) && message.contains("another `log_dir`"),
        "names the holder and suggests a fix: {message}"
    );

    // Once the first host has stopped, the directory is free again, and the
    // first host's executions are all there.
    first.finish();
    let mut third = Host::start("try", &dir, None);
    third.expect("INSTALLED");
    third.finish();
    let lines = read_json_lines(&dir.join("executions/current.log"));
    let jobs = lines.iter().filter(|l| l["name"] == "child_job").count();
    assert_eq!(jobs, 5 + 1, "both hosts' executions, one after the other");
}

pub fn a_lock_left_by_a_killed_process_does_not_block_the_next_start() {
    let dir = temp_dir("lock-killed-holder");
    let mut first = Host::start("hold", &dir, None);
    let dead_pid = first.expect("INSTALLED");
    first.expect("READY");
    first.kill();
    // The lock file stays behind, naming the dead process…
    let left = std::fs::read_to_string(dir.join(".lock")).unwrap();
    assert_eq!(left.trim(), dead_pid);
    // …and does not stop the next start.
    let mut next = Host::start("try", &dir, None);
    let pid = next.expect("INSTALLED");
    next.finish();
    assert_ne!(pid, dead_pid);
}

pub fn a_stats_db_outside_the_log_dir_is_locked_too() {
    let root = temp_dir("lock-shared-db");
    let db = root.join("shared").join("stats.db");
    let mut first = Host::start("hold", &root.join("a"), Some(&db));
    let holder_pid = first.expect("INSTALLED");
    first.expect("READY");

    let mut second = Host::start("try", &root.join("b"), Some(&db));
    let refusal = second.expect("LOCKED");
    second.finish();
    assert!(refusal.starts_with(&format!("{holder_pid} ")), "{refusal}");
    assert!(
        refusal.contains("statistics database") && refusal.contains("another `stats_db`"),
        "{refusal}"
    );
    first.finish();
}
