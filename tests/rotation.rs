//! Rotation and retention through the builder, with an injected clock.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{exclusive, read_json_lines, temp_dir};
use monitor::{monitored, ManualClock, Monitor, Retention, Rotation, Timestamp};

#[monitored(name = "rotating_job")]
fn job(fail: bool) -> Result<(), String> {
    if fail {
        Err("x".repeat(200))
    } else {
        Ok(())
    }
}

fn at(text: &str) -> SystemTime {
    Timestamp::parse(text).unwrap().system_time()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn job_lines(path: &Path) -> usize {
    read_json_lines(path)
        .iter()
        .filter(|l| l["name"] == "rotating_job")
        .count()
}

#[test]
fn executions_rotate_at_utc_midnight_and_expire_after_30_days() {
    let _lock = exclusive();
    let dir = temp_dir("rotation-daily");
    std::fs::create_dir_all(dir.join("executions")).unwrap();
    std::fs::write(dir.join("executions/notes.txt"), "not ours").unwrap();
    let clock = ManualClock::new(at("2026-12-03T23:59:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    for _ in 0..10 {
        job(false).unwrap();
    }
    guard.flush();
    clock.advance(Duration::from_secs(120));
    for _ in 0..5 {
        job(false).unwrap();
    }
    guard.flush();
    let executions = dir.join("executions");
    assert_eq!(
        names(&executions),
        ["2026-12-03.log", "current.log", "notes.txt"]
    );
    assert_eq!(job_lines(&executions.join("2026-12-03.log")), 10);
    assert_eq!(job_lines(&executions.join("current.log")), 5);

    // Now 2027-01-03T00:00:00Z: the file of 2026-12-03 is 31 days old and goes;
    // the file of 2026-12-04 is exactly 30 days old and stays; so does the foreign file.
    clock.set(at("2027-01-03T00:00:00Z"));
    job(false).unwrap();
    guard.flush();
    assert_eq!(
        names(&executions),
        ["2026-12-04.log", "current.log", "notes.txt"]
    );
    assert_eq!(job_lines(&executions.join("current.log")), 1);
}

#[test]
fn errors_rotate_by_size_and_every_line_survives() {
    let _lock = exclusive();
    let dir = temp_dir("rotation-size");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .errors_rotation(Rotation::Size(4096))
        .errors_retention(Retention::days(90))
        .install()
        .unwrap();
    for _ in 0..100 {
        job(true).unwrap_err();
    }
    guard.flush();
    let errors = dir.join("errors");
    let files = names(&errors);
    assert!(files.len() > 5, "{files:?}");
    let mut total = 0;
    for file in &files {
        assert!(
            file == "current_errors.log" || file.contains("Z_errors"),
            "{file}"
        );
        let path = errors.join(file);
        assert!(std::fs::metadata(&path).unwrap().len() <= 4096);
        total += job_lines(&path);
    }
    assert_eq!(total, 100);
}

#[test]
fn yesterdays_file_is_rotated_at_start_up() {
    let _lock = exclusive();
    let dir = temp_dir("rotation-startup");
    std::fs::create_dir_all(dir.join("executions")).unwrap();
    std::fs::write(
        dir.join("executions/current.log"),
        "{\"timestamp\":\"2026-12-02T10:00:00.000000Z\",\"name\":\"old\",\"status\":\"success\"}\n",
    )
    .unwrap();
    let clock = ManualClock::new(at("2026-12-03T08:00:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock)
        .install()
        .unwrap();
    job(false).unwrap();
    guard.flush();
    assert_eq!(
        names(&dir.join("executions")),
        ["2026-12-02.log", "current.log"]
    );
    assert_eq!(
        read_json_lines(&dir.join("executions/2026-12-02.log"))[0]["name"],
        "old"
    );
}

#[test]
fn an_unwritable_log_never_reaches_the_host() {
    let _lock = exclusive();
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = temp_dir("rotation-dev-full");
    std::fs::create_dir_all(dir.join("executions")).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join("executions/current.log")).unwrap();
    let (alerts, on_alert) = common::alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .on_alert(on_alert)
        .install()
        .unwrap();
    for _ in 0..100 {
        job(false).unwrap();
    }
    assert!(guard.flush());
    assert_eq!(common::total_executions("rotating_job"), 100);
    let alerts = alerts.lock().unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.rule == monitor::AlertRule::SinkFailing && a.is_firing()),
        "a failing log raises a sink alert: {alerts:?}"
    );
    let health = monitor::health();
    assert_ne!(health.verdict, monitor::Verdict::Green, "{health}");
}

#[monitored(name = "rotating_numbered")]
fn numbered(n: u64) -> Result<u64, String> {
    if n.is_multiple_of(2) {
        Err(format!("call {n} failed"))
    } else {
        Ok(n)
    }
}

/// `rotating_numbered`'s lines in a log, in file order: the number of a
/// failed call, `None` for a success.
fn numbered_lines(path: &Path) -> Vec<Option<u64>> {
    read_json_lines(path)
        .iter()
        .filter(|l| l["name"] == "rotating_numbered")
        .map(|l| {
            let message = l["error_message"].as_str()?;
            Some(message.split(' ').nth(1).unwrap().parse().unwrap())
        })
        .collect()
}

/// Both logs on a full disk: the lines are kept in memory, `sink_failing`
/// fires for each log once a flush has tried to write them; when the disk
/// is usable again the next flush writes every kept line, in order, before
/// the newer ones, and the alert resolves.
#[test]
fn lines_kept_while_the_disk_is_full_are_written_in_order_when_it_comes_back() {
    let _lock = exclusive();
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = temp_dir("rotation-disk-back");
    let current = [
        dir.join("executions/current.log"),
        dir.join("errors/current_errors.log"),
    ];
    for path in &current {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/dev/full", path).unwrap();
    }
    let (alerts, on_alert) = common::alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .on_alert(on_alert)
        .capture_backtraces(false)
        .install()
        .unwrap();
    let sink_failing = |state: monitor::AlertState| {
        alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.rule == monitor::AlertRule::SinkFailing && a.state == state)
            .count()
    };
    for n in 0..100 {
        let _ = numbered(n);
    }
    assert!(guard.flush());
    assert!(
        sink_failing(monitor::AlertState::Firing) > 0,
        "{:?}",
        alerts.lock().unwrap()
    );
    assert_eq!(sink_failing(monitor::AlertState::Resolved), 0);
    let health = monitor::health().to_string();
    assert!(
        health.contains("executions log") && health.contains("errors log"),
        "{health}"
    );

    for path in &current {
        std::fs::remove_file(path).unwrap();
    }
    for n in 100..200 {
        let _ = numbered(n);
    }
    assert!(guard.flush()); // writes the kept lines, then the new ones
    assert!(guard.flush()); // the rules see both logs working again
    assert!(
        sink_failing(monitor::AlertState::Resolved) > 0,
        "{:?}",
        alerts.lock().unwrap()
    );
    assert_eq!(
        numbered_lines(&current[0]),
        (0..200)
            .map(|n: u64| n.is_multiple_of(2).then_some(n))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        numbered_lines(&current[1]),
        (0..200)
            .filter(|n: &u64| n.is_multiple_of(2))
            .map(Some)
            .collect::<Vec<_>>()
    );
    let health = monitor::health().to_string();
    assert!(!health.contains(" log"), "{health}");
    drop(guard);
}

#[test]
fn a_million_executions_across_fifty_rotations_lose_no_line() {
    let _lock = exclusive();
    let dir = temp_dir("rotation-million");
    const CALLS: usize = 1_000_000;
    let guard = Monitor::builder()
        .log_dir(&dir)
        .overflow(monitor::Overflow::Block)
        .without_stats_db()
        .executions_rotation(Rotation::Size(2 << 20))
        .executions_retention(Retention::keep_all())
        .install()
        .unwrap();
    for _ in 0..CALLS {
        job(false).unwrap();
    }
    assert!(guard.flush());
    drop(guard);
    let executions = dir.join("executions");
    let files = names(&executions);
    assert!(files.len() > 50, "{} files", files.len());
    let mut total = 0;
    for file in &files {
        let text = std::fs::read_to_string(executions.join(file)).unwrap();
        assert!(text.len() <= 2 << 20, "{file} is {} bytes", text.len());
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{file} ends mid-line"
        );
        for line in text.lines() {
            assert!(
                line.starts_with("{\"id\":\"") && line.ends_with('}'),
                "torn line in {file}: {line}"
            );
            if line.contains("\"name\":\"rotating_job\"") {
                total += 1;
            }
        }
    }
    assert_eq!(total, CALLS);
}

#[test]
fn rotated_logs_are_gzipped_when_compression_is_on() {
    use std::io::Read;
    let _lock = exclusive();
    let dir = temp_dir("rotation-gzip");
    let clock = ManualClock::new(at("2026-12-03T23:59:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .capture_backtraces(false)
        .compress_rotated_logs(true)
        .install()
        .unwrap();
    for _ in 0..10 {
        job(false).unwrap();
    }
    job(true).unwrap_err();
    assert!(guard.flush());
    clock.advance(Duration::from_secs(120));
    for _ in 0..5 {
        job(false).unwrap();
    }
    assert!(guard.flush());
    drop(guard); // waits for the background compression

    let executions = dir.join("executions");
    assert_eq!(names(&executions), ["2026-12-03.log.gz", "current.log"]);
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(executions.join("2026-12-03.log.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let rotated: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        rotated
            .iter()
            .filter(|l| l["name"] == "rotating_job")
            .count(),
        11
    );
    assert!(text.ends_with('\n'));
    assert_eq!(job_lines(&executions.join("current.log")), 5);
}
