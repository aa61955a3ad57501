//! Statistics persist in `<log_dir>/stats.db` and continue across restarts.

mod common;

use common::{exclusive, temp_dir};
use monitor::{monitored, Monitor};
use monitor_sinks::stats_store::{legacy_schema, StoredFunctionStats};

#[monitored(name = "nightly_backup")]
fn nightly_backup(fail: bool) -> Result<(), String> {
    if fail {
        Err("bucket unreachable".into())
    } else {
        Ok(())
    }
}

fn stored_count(dir: &std::path::Path, name: &str) -> Option<(i64, i64)> {
    let connection = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    connection
        .query_row(
            "SELECT total_executions, error_count FROM function_stats WHERE name = ?1",
            [name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .ok()
}

#[test]
fn counts_add_up_across_restarts() {
    let _lock = exclusive();
    let dir = temp_dir("persist-restart");
    {
        let guard = Monitor::builder().log_dir(&dir).install().unwrap();
        for i in 0..10 {
            nightly_backup(i % 5 == 0).ok();
        }
        drop(guard);
    }
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((10, 2)));
    {
        let guard = Monitor::builder().log_dir(&dir).install().unwrap();
        let before = monitor::stats();
        let loaded = before
            .get("nightly_backup")
            .expect("loaded from the store at install");
        assert_eq!((loaded.total_executions, loaded.error_count), (10, 2));
        assert!(
            loaded.p50_ms.is_some(),
            "percentiles continue from the stored histogram"
        );
        for _ in 0..5 {
            nightly_backup(false).unwrap();
        }
        guard.flush();
        let after = monitor::stats();
        let stats = after.get("nightly_backup").unwrap();
        assert_eq!(
            (
                stats.total_executions,
                stats.success_count,
                stats.error_count
            ),
            (15, 13, 2)
        );
        assert_eq!(
            stats.last_error.as_ref().unwrap().message,
            "bucket unreachable"
        );
    }
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((15, 2)));
}

#[test]
fn a_fresh_log_dir_starts_from_nothing_and_the_store_can_be_disabled() {
    let _lock = exclusive();
    let dir = temp_dir("persist-disabled");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .install()
        .unwrap();
    assert!(monitor::stats().is_empty());
    nightly_backup(false).unwrap();
    guard.flush();
    drop(guard);
    assert!(!dir.join("stats.db").exists());
}

#[test]
fn nothing_is_lost_while_another_connection_holds_the_write_lock() {
    let _lock = exclusive();
    let dir = temp_dir("persist-locked");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(false).unwrap();
    guard.flush();
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((1, 0)));

    let blocker = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    for _ in 0..20 {
        nightly_backup(true).ok();
    }
    guard.flush(); // the save fails on the lock; statistics stay in memory
    let stats = monitor::stats();
    assert_eq!(stats.get("nightly_backup").unwrap().total_executions, 21);
    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);

    guard.flush(); // the store is writable again: pending statistics land
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((21, 20)));
    drop(guard);
}

#[test]
fn a_corrupt_database_is_moved_aside_and_monitoring_goes_on() {
    let _lock = exclusive();
    let dir = temp_dir("persist-corrupt");
    std::fs::write(
        dir.join("stats.db"),
        b"this is not a database, it is a shopping list",
    )
    .unwrap();
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(false).unwrap();
    guard.flush();
    assert_eq!(common::total_executions("nightly_backup"), 1);
    drop(guard);
    let moved: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("stats.db.corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1, "the corrupt file is kept, never deleted");
    let kept = std::fs::read(dir.join(&moved[0])).unwrap();
    assert_eq!(kept, b"this is not a database, it is a shopping list");
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((1, 0)));
}

#[test]
fn a_file_from_an_older_schema_is_migrated_and_its_counts_continue() {
    let _lock = exclusive();
    let dir = temp_dir("persist-migrate");
    let old = StoredFunctionStats {
        name: "nightly_backup".into(),
        trigger_type: "call".into(),
        status: "active".into(),
        total_executions: 40,
        success_count: 38,
        error_count: 2,
        avg_execution_time_ms: 2.5,
        last_execution_status: Some("success".into()),
        last_execution_time: Some("2026-12-01T03:00:00.000000Z".into()),
        ..StoredFunctionStats::default()
    };
    legacy_schema::write_legacy_file(&dir.join("stats.db"), 1, &[old]).unwrap();
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(false).unwrap();
    guard.flush();
    let stats = monitor::stats();
    let backup = stats.get("nightly_backup").unwrap();
    assert_eq!(
        (
            backup.total_executions,
            backup.success_count,
            backup.error_count
        ),
        (41, 39, 2)
    );
    drop(guard);
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((41, 2)));
}

/// Sets the "file format write version" byte of an SQLite database header
/// (offset 18) and returns the previous value. Above 2, SQLite opens the file
/// read-only for every user, root included (file permissions bind only users
/// without privileges, and CI runs as root).
fn set_sqlite_write_version(db: &std::path::Path, version: u8) -> u8 {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db)
        .unwrap();
    let mut previous = [0u8];
    file.seek(SeekFrom::Start(18)).unwrap();
    file.read_exact(&mut previous).unwrap();
    file.seek(SeekFrom::Start(18)).unwrap();
    file.write_all(&[version]).unwrap();
    previous[0]
}

#[test]
fn a_read_only_database_keeps_statistics_in_memory_and_merges_them_once_writable() {
    let _lock = exclusive();
    let dir = temp_dir("persist-readonly");
    {
        let guard = Monitor::builder().log_dir(&dir).install().unwrap();
        nightly_backup(false).unwrap();
        drop(guard);
    }
    let db = dir.join("stats.db");
    assert!(!dir.join("stats.db-wal").exists(), "checkpointed on close");
    let writable = set_sqlite_write_version(&db, 3);

    let (alerts, on_alert) = common::alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .on_alert(on_alert)
        .install()
        .unwrap();
    nightly_backup(true).unwrap_err();
    assert!(guard.flush());
    // The stored run could not be read: this run's execution is counted in
    // memory, and the failing database is reported.
    let backup = monitor::stats().get("nightly_backup").cloned().unwrap();
    assert_eq!((backup.total_executions, backup.error_count), (1, 1));
    assert!(
        alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.rule == monitor::AlertRule::SinkFailing && a.is_firing()),
        "{:?}",
        alerts.lock().unwrap()
    );
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((1, 0)));

    // Writable again: the stored run and this one are merged and saved.
    set_sqlite_write_version(&db, writable);
    assert!(guard.flush());
    let backup = monitor::stats().get("nightly_backup").cloned().unwrap();
    assert_eq!((backup.total_executions, backup.error_count), (2, 1));
    drop(guard);
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((2, 1)));
}

#[test]
fn deleting_the_log_directory_while_running_loses_no_statistics() {
    let _lock = exclusive();
    let dir = temp_dir("persist-deleted-dir");
    {
        let guard = Monitor::builder().log_dir(&dir).install().unwrap();
        for i in 0..10 {
            nightly_backup(i % 5 == 0).ok();
        }
        assert!(guard.flush());
        assert_eq!(stored_count(&dir, "nightly_backup"), Some((10, 2)));

        std::fs::remove_dir_all(&dir).unwrap();
        for _ in 0..10 {
            nightly_backup(false).unwrap();
        }
        assert!(guard.flush());
        assert_eq!(common::total_executions("nightly_backup"), 20);
        // Noticed, and recreated from memory: the file holds every execution,
        // also the ten whose file was deleted.
        assert_eq!(stored_count(&dir, "nightly_backup"), Some((20, 2)));
    }
    assert_eq!(stored_count(&dir, "nightly_backup"), Some((20, 2)));
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    assert_eq!(common::total_executions("nightly_backup"), 20);
    nightly_backup(true).ok();
    assert!(guard.flush());
    let stats = monitor::stats();
    let backup = stats.get("nightly_backup").unwrap();
    assert_eq!((backup.total_executions, backup.error_count), (21, 3));
}

#[test]
fn a_database_that_cannot_be_recreated_raises_sink_failing_until_it_can() {
    let _lock = exclusive();
    let dir = temp_dir("persist-unrecreatable");
    let db_dir = temp_dir("persist-unrecreatable-db");
    let db = db_dir.join("stats.db");
    let count = |path: &std::path::Path| stored_count(path.parent().unwrap(), "nightly_backup");
    let (alerts, on_alert) = common::alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .stats_db(&db)
        .on_alert(on_alert)
        .install()
        .unwrap();
    for _ in 0..3 {
        nightly_backup(false).unwrap();
    }
    assert!(guard.flush());
    assert_eq!(count(&db), Some((3, 0)));

    // The database's directory is removed and a plain file takes its name:
    // the database can be neither found nor created.
    std::fs::remove_dir_all(&db_dir).unwrap();
    std::fs::write(&db_dir, b"in the way").unwrap();
    nightly_backup(true).ok();
    assert!(guard.flush()); // notices the loss; recreating fails
    assert!(guard.flush()); // the rules see the failing store
    let sink_failing = |state: monitor::AlertState| {
        alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.rule == monitor::AlertRule::SinkFailing && a.state == state)
    };
    assert!(
        sink_failing(monitor::AlertState::Firing),
        "a missing stats database is reported: {:?}",
        alerts.lock().unwrap()
    );
    let health = monitor::health();
    assert_eq!(health.verdict, monitor::Verdict::Red, "{health}");
    assert!(
        health.to_string().contains("statistics database"),
        "{health}"
    );
    assert_eq!(common::total_executions("nightly_backup"), 4);

    std::fs::remove_file(&db_dir).unwrap();
    assert!(guard.flush()); // recreated, directory and file
    assert!(guard.flush()); // the rules see it working again
    assert!(
        sink_failing(monitor::AlertState::Resolved),
        "{:?}",
        alerts.lock().unwrap()
    );
    assert_eq!(count(&db), Some((4, 1)));
    drop(guard);
    assert_eq!(count(&db), Some((4, 1)));
}

#[test]
fn a_function_failing_every_time_is_still_failing_after_a_restart() {
    let _lock = exclusive();
    let dir = temp_dir("persist-streak");
    {
        let guard = Monitor::builder().log_dir(&dir).install().unwrap();
        for _ in 0..6 {
            nightly_backup(true).ok();
        }
        guard.flush();
        assert_eq!(
            monitor::stats().get("nightly_backup").unwrap().status,
            monitor::FunctionStatus::Error
        );
    }
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(true).ok();
    guard.flush();
    let stats = monitor::stats();
    let backup = stats.get("nightly_backup").unwrap();
    assert_eq!(backup.consecutive_failures, 7);
    assert_eq!(backup.status, monitor::FunctionStatus::Error);
}

#[test]
fn the_sources_trigger_wins_over_the_stored_one() {
    let _lock = exclusive();
    let dir = temp_dir("persist-trigger");
    {
        let guard = Monitor::builder().log_dir(&dir).install().unwrap();
        nightly_backup(false).unwrap();
        drop(guard);
    }
    let connection = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    connection
        .execute(
            "UPDATE function_stats SET trigger_type = 'cron' WHERE name = 'nightly_backup'",
            [],
        )
        .unwrap();
    drop(connection);
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(false).unwrap();
    guard.flush();
    assert_eq!(
        monitor::stats().get("nightly_backup").unwrap().trigger_type,
        "call"
    );
    let lines = common::executions(&dir);
    assert!(lines
        .iter()
        .all(|l| l["name"] != "nightly_backup" || l["trigger_type"] == "call"));
}

#[test]
fn updated_at_is_stamped_by_the_monitors_clock() {
    let _lock = exclusive();
    let dir = temp_dir("persist-updated-at");
    let moment = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_234_567_890);
    let clock = monitor::ManualClock::new(moment);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    nightly_backup(false).unwrap();
    assert!(guard.flush());
    drop(guard);
    let connection = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    let updated_at: String = connection
        .query_row(
            "SELECT updated_at FROM function_stats WHERE name = 'nightly_backup'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(updated_at, "2009-02-13T23:31:30.000000Z");
}

#[test]
fn stored_histogram_and_pattern_counts_that_overflow_do_not_crash_the_monitor() {
    let _lock = exclusive();
    let dir = temp_dir("persist-tampered-counts");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(true).unwrap_err();
    nightly_backup(false).unwrap();
    drop(guard);
    // Counts no run can produce (a hand edit, a bad restore): they add up to
    // more than a u64.
    let db = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    let patterns: String = db
        .query_row(
            "SELECT error_patterns FROM function_stats WHERE name = 'nightly_backup'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let mut patterns: serde_json::Value = serde_json::from_str(&patterns).unwrap();
    patterns["entries"][0]["count"] = u64::MAX.into();
    let max = u64::MAX;
    db.execute(
        "UPDATE function_stats SET latency_histogram = ?1, error_patterns = ?2 \
         WHERE name = 'nightly_backup'",
        [
            format!("[[1,{max}],[2,{max}],[3,{max}]]"),
            patterns.to_string(),
        ],
    )
    .unwrap();
    drop(db);

    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(true).unwrap_err();
    nightly_backup(false).unwrap();
    assert!(guard.flush());
    let stats = monitor::stats();
    let record = stats.get("nightly_backup").unwrap();
    assert_eq!((record.total_executions, record.error_count), (4, 2));
    let report = monitor::status_report();
    assert!(
        !report
            .alerts
            .iter()
            .any(|a| a.rule == monitor::AlertRule::CollectorRestarted),
        "{report}"
    );
}

#[test]
fn stored_execution_counts_too_large_to_add_to_do_not_crash_the_monitor() {
    let _lock = exclusive();
    let dir = temp_dir("persist-tampered-columns");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(true).unwrap_err();
    drop(guard);
    // SQLite keeps whatever it is given: a count written as text or as a
    // real number by another tool can exceed what the monitor writes.
    let db = rusqlite::Connection::open(dir.join("stats.db")).unwrap();
    db.execute(
        "UPDATE function_stats SET success_count = '18446744073709551615', \
         error_count = 1e30, panic_count = 9223372036854775807, \
         cancelled_count = 9223372036854775807 WHERE name = 'nightly_backup'",
        [],
    )
    .unwrap();
    drop(db);

    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    nightly_backup(true).unwrap_err();
    nightly_backup(false).unwrap();
    assert!(guard.flush());
    let stats = monitor::stats();
    let record = stats.get("nightly_backup").unwrap();
    assert!(
        record.success_count > 1 && record.error_count > 1,
        "{record:?}"
    );
    let report = monitor::status_report();
    assert!(
        !report
            .alerts
            .iter()
            .any(|a| a.rule == monitor::AlertRule::CollectorRestarted),
        "{report}"
    );
    drop(guard);
}
