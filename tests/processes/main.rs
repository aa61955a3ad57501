//! Tests that need real processes: two hosts on one log directory, kill -9
//! during heavy writing, termination signals.
//!
//! This binary has its own `main` (`harness = false`): run without
//! `MONITOR_TEST_CHILD` it runs the tests below, each of which starts copies
//! of this same binary with `MONITOR_TEST_CHILD=<role>`; such a copy plays
//! that role (a host application) and prints what the test needs to know on
//! standard output, one `KEY value` line at a time.
//!
//! `cargo test --test processes [filter]` runs the tests whose name contains
//! the filter.

#[path = "../common/mod.rs"]
mod common;

mod child;
mod dir_lock;
#[cfg(feature = "cli")]
mod heartbeat;
mod kill;
#[cfg(all(unix, feature = "termination"))]
mod termination;

use std::panic::{catch_unwind, AssertUnwindSafe};

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "a_second_process_on_the_same_log_dir_is_refused_with_the_holders_pid",
        dir_lock::a_second_process_on_the_same_log_dir_is_refused_with_the_holders_pid,
    ),
    (
        "a_lock_left_by_a_killed_process_does_not_block_the_next_start",
        dir_lock::a_lock_left_by_a_killed_process_does_not_block_the_next_start,
    ),
    (
        "a_stats_db_outside_the_log_dir_is_locked_too",
        dir_lock::a_stats_db_outside_the_log_dir_is_locked_too,
    ),
    (
        "kill_9_during_heavy_writing_and_rotation_loses_no_line_and_no_saved_count",
        kill::kill_9_during_heavy_writing_and_rotation_loses_no_line_and_no_saved_count,
    ),
    #[cfg(feature = "cli")]
    (
        "a_host_killed_with_sigkill_is_reported_stopped_unexpectedly",
        heartbeat::a_host_killed_with_sigkill_is_reported_stopped_unexpectedly,
    ),
    #[cfg(feature = "cli")]
    (
        "a_host_that_stopped_cleanly_is_reported_stopped",
        heartbeat::a_host_that_stopped_cleanly_is_reported_stopped,
    ),
    #[cfg(all(unix, feature = "termination"))]
    (
        "sigterm_writes_and_saves_everything_then_the_process_dies_of_sigterm",
        termination::sigterm_writes_and_saves_everything_then_the_process_dies_of_sigterm,
    ),
    #[cfg(all(unix, feature = "termination"))]
    (
        "sigint_writes_and_saves_everything_then_the_process_dies_of_sigint",
        termination::sigint_writes_and_saves_everything_then_the_process_dies_of_sigint,
    ),
];

fn main() {
    if let Some(role) = child::role() {
        child::play(&role);
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("running {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in selected {
        match catch_unwind(AssertUnwindSafe(test)) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        println!("failures: {failed:?}");
        std::process::exit(101);
    }
    println!("test result: ok");
}
