//! Size caps: per log (`Retention::with_max_total_bytes`) and for the whole
//! directory (`log_dir_max_bytes`); the oldest rotated files go first, the
//! current file never; early deletions raise one `log_size_cap` info alert
//! a day.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{alert_recorder, exclusive, read_json_lines, temp_dir};
use monitor::{
    monitored, AlertRule, AlertState, InstallError, ManualClock, Monitor, Retention, Rotation,
    Severity,
};

#[monitored(name = "budget_job")]
fn job(i: u64) -> Result<u64, String> {
    if i.is_multiple_of(4) {
        Err(format!("job {i} failed"))
    } else {
        Ok(i)
    }
}

/// Bytes of the files directly in `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().metadata().unwrap().len())
                .sum()
        })
        .unwrap_or(0)
}

fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

#[test]
fn the_executions_cap_keeps_the_newest_lines_and_alerts_once_a_day() {
    let _lock = exclusive();
    let dir = temp_dir("size-budget-executions");
    let clock = ManualClock::new(start());
    let (alerts, on_alert) = alert_recorder();
    let cap = 64 * 1024;
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .executions_rotation(Rotation::Size(8 * 1024))
        .executions_retention(Retention::days(30).with_max_total_bytes(cap))
        .on_alert(on_alert)
        .install()
        .unwrap();
    let size_alerts = || {
        alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.rule == AlertRule::LogSizeCap)
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut next = 0;
    let mut batch = |count: u64| {
        for _ in 0..count {
            next += 1;
            let _ = job(next);
            if next % 100 == 0 {
                assert!(guard.flush());
                let used = bytes_in(&dir.join("executions"));
                assert!(
                    used <= cap,
                    "{used} bytes > cap {cap} after {next} executions"
                );
            }
        }
        assert!(guard.flush());
        next
    };

    let last = batch(2_000);
    assert!(dir.join("executions/current.log").exists());
    // The newest executions are all there, in order, without a gap: the
    // failed ones carry their number.
    let mut files: Vec<(u64, String)> = std::fs::read_dir(dir.join("executions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "current.log")
        .map(|n| {
            // `<stamp>.log`, `<stamp>.<counter>.log` (one stamp: the clock stands still).
            let parts: Vec<&str> = n.split('.').collect();
            let counter = if parts.len() == 3 {
                parts[1].parse().unwrap()
            } else {
                0
            };
            (counter, n)
        })
        .collect();
    files.sort();
    files.push((u64::MAX, "current.log".to_owned()));
    let mut failed: Vec<u64> = Vec::new();
    for (_, name) in &files {
        for line in read_json_lines(&dir.join("executions").join(name)) {
            if let Some(message) = line["error_message"].as_str() {
                let number = message
                    .trim_start_matches("job ")
                    .trim_end_matches(" failed");
                failed.push(number.parse().unwrap());
            }
        }
    }
    let expected: Vec<u64> = (1..=last / 4)
        .map(|k| 4 * k)
        .skip(last as usize / 4 - failed.len())
        .collect();
    assert_eq!(failed, expected, "the newest lines, in order");
    assert!(
        failed.len() > 25 && failed.len() < 500,
        "{} kept",
        failed.len()
    );

    // One info alert, however many files went.
    let fired = size_alerts();
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].state, AlertState::Firing);
    assert_eq!(fired[0].severity, Severity::Info);
    assert!(
        fired[0].message.contains("size cap"),
        "{}",
        fired[0].message
    );
    assert!(
        fired[0].numbers["deleted_files"] >= 1.0,
        "{:?}",
        fired[0].numbers
    );

    // More deletions the same day, even hours later: no new notification.
    clock.advance(Duration::from_secs(3 * 3600));
    batch(1_000);
    assert_eq!(size_alerts().len(), 1);

    // A day later, still deleting: one reminder.
    clock.advance(Duration::from_secs(86_400));
    batch(1_000);
    let fired = size_alerts();
    assert_eq!(fired.len(), 2, "{fired:#?}");
    assert!(fired[1].reminder);
    drop(guard);
}

#[test]
fn the_directory_cap_bounds_every_log_together() {
    let _lock = exclusive();
    let dir = temp_dir("size-budget-dir");
    let cap = 200 * 1024;
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(ManualClock::new(start()))
        .executions_rotation(Rotation::Size(16 * 1024))
        .errors_rotation(Rotation::Size(8 * 1024))
        .log_dir_max_bytes(cap)
        .install()
        .unwrap();
    for i in 1..=5_000 {
        let _ = job(i);
        if i % 250 == 0 {
            assert!(guard.flush());
            let used = bytes_in(&dir.join("executions"))
                + bytes_in(&dir.join("errors"))
                + bytes_in(&dir.join("alerts"));
            assert!(used <= cap, "{used} bytes > cap {cap} after {i} executions");
        }
    }
    assert!(dir.join("executions/current.log").exists());
    assert!(dir.join("errors/current_errors.log").exists());
    drop(guard);
}

#[test]
fn a_directory_cap_too_small_for_the_rotation_size_is_refused() {
    let _lock = exclusive();
    let dir = temp_dir("size-budget-too-small");
    let error = Monitor::builder()
        .log_dir(&dir)
        .executions_rotation(Rotation::Size(1 << 20))
        .log_dir_max_bytes(1 << 20)
        .install()
        .unwrap_err();
    assert!(
        matches!(
            error,
            InstallError::InvalidConfig {
                setting: "log_dir_max_bytes",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("rotation size"), "{error}");
}
