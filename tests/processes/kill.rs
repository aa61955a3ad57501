//! kill -9 during heavy writing and rotation, five times, then a restart:
//! every line of every file is whole JSON, and the statistics continue from
//! the last save.

use std::path::Path;

use crate::child::Host;
use crate::common::temp_dir;

/// Every log file under `dir` (rotated ones included): each must end with a
/// newline and hold only non-empty JSON objects. Returns how many
/// executions of `child_job` the executions logs hold.
fn check_every_line(dir: &Path) -> u64 {
    let mut jobs = 0;
    let mut files = 0;
    for sub in ["executions", "errors", "alerts"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            files += 1;
            let data = std::fs::read(&path).unwrap();
            if data.is_empty() {
                continue;
            }
            assert_eq!(
                data.last(),
                Some(&b'\n'),
                "{} ends mid-line",
                path.display()
            );
            let text = String::from_utf8(data).unwrap();
            for (number, line) in text.lines().enumerate() {
                let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "{}:{}: not JSON ({e}): {line:?}",
                        path.display(),
                        number + 1
                    )
                });
                assert!(value.is_object(), "{}: {line}", path.display());
                if sub == "executions" && value["name"] == "child_job" {
                    jobs += 1;
                }
            }
        }
    }
    assert!(files > 10, "rotation happened: {files} files");
    jobs
}

pub fn kill_9_during_heavy_writing_and_rotation_loses_no_line_and_no_saved_count() {
    let dir = temp_dir("kill-9");
    let mut saved = 0; // the last count known to be in stats.db
    let mut lower_bound_of_lines = 0;
    for round in 0..5u64 {
        let mut host = Host::start("writer", &dir, None);
        host.expect("INSTALLED");
        let loaded: u64 = host.expect("LOADED").parse().unwrap();
        assert!(
            loaded >= saved,
            "round {round}: statistics continue from the last save ({loaded} < {saved})"
        );
        let mut flushed = loaded;
        for _ in 0..3 + round % 3 {
            flushed = host.expect("FLUSHED").parse().unwrap();
        }
        host.kill();
        lower_bound_of_lines += flushed - loaded;
        saved = flushed;
    }
    let mut host = Host::start("restart", &dir, None);
    host.expect("INSTALLED");
    let loaded: u64 = host.expect("LOADED").parse().unwrap();
    let after: u64 = host.expect("AFTER").parse().unwrap();
    host.finish();
    assert!(loaded >= saved, "{loaded} < {saved}");
    assert_eq!(
        after,
        loaded + 100,
        "counting continues on top of the loaded total"
    );
    let lines = check_every_line(&dir);
    assert!(
        lines >= lower_bound_of_lines + 100,
        "every execution counted at a flush is in the logs: {lines} < {lower_bound_of_lines} + 100"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
