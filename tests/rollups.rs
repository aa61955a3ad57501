//! Per-minute roll-ups: `monitor::stats_window`, `monitor::trend` and the
//! read-only `monitor::rollup_reader`, with the injected clock (no sleeps
//! for synchronisation: `flush()` and the clock).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{exclusive, poll_once, temp_dir};
use monitor::{monitored, rollup_reader, Clock, ManualClock, Monitor, NameFilter, WindowStats};

#[monitored(name = "rollups::work")]
fn work(fail: bool, micros: u64) -> Result<(), String> {
    // Gives the execution a duration; the test compares with the durations
    // the executions log holds, never with this number.
    std::thread::sleep(Duration::from_micros(micros));
    if fail {
        Err("work failed".into())
    } else {
        Ok(())
    }
}

#[monitored(name = "rollups::explode")]
fn explode() {
    panic!("exploded on purpose");
}

#[monitored(name = "rollups::never_finishes")]
async fn never_finishes() {
    std::future::pending::<()>().await
}

#[monitored(name = "other::thing")]
fn other_thing() {}

/// A UTC time.
fn utc(year: i64, month: u32, day: u32, hour: u64, minute: u64, second: u64) -> SystemTime {
    let days = monitor_sinks::time::days_from_civil(year, month, day);
    UNIX_EPOCH + Duration::from_secs(days as u64 * 86_400 + hour * 3600 + minute * 60 + second)
}

fn install(dir: &Path, clock: &ManualClock) -> monitor::MonitorGuard {
    Monitor::builder()
        .log_dir(dir)
        .clock(clock.clone())
        .install()
        .unwrap()
}

fn panics() {
    let _ = std::panic::catch_unwind(explode);
}

fn cancel_one() {
    let mut future = std::pin::pin!(never_finishes());
    assert!(poll_once(future.as_mut()).is_pending());
}

fn function<'a>(stats: &'a WindowStats, name: &str) -> &'a monitor::WindowSummary {
    &stats
        .functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} not in the window: {stats:?}"))
        .summary
}

fn counts(summary: &monitor::WindowSummary) -> (u64, u64, u64, u64, u64) {
    (
        summary.total,
        summary.success,
        summary.error,
        summary.panic,
        summary.cancelled,
    )
}

/// The durations the executions log holds for `name` (completed ones).
fn logged_durations(dir: &Path, name: &str) -> Vec<f64> {
    let mut durations: Vec<f64> = common::executions(dir)
        .iter()
        .filter(|line| line["name"] == name && line["status"] != "cancelled")
        .map(|line| line["duration_ms"].as_f64().unwrap())
        .collect();
    durations.sort_by(f64::total_cmp);
    durations
}

/// The exact value at quantile `q` (the rank the histogram uses).
fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn assert_close(actual: Option<f64>, exact: f64, tolerance: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (actual - exact).abs() <= exact * tolerance,
        "{what}: {actual} is not within {tolerance} of {exact}"
    );
}

fn stats_db(dir: &Path) -> PathBuf {
    dir.join("stats.db")
}

/// The file names in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_window_holds_exactly_the_executions_recorded_in_it() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-window");
    let clock = ManualClock::new(utc(2026, 12, 6, 10, 0, 30));
    let guard = install(&dir, &clock);

    // 10:00 — outside the last hour at the end.
    for _ in 0..3 {
        work(false, 50).unwrap();
    }
    assert!(guard.flush());
    // 11:30:30 and 11:31:30 — inside.
    clock.set(utc(2026, 12, 6, 11, 30, 30));
    for i in 0..30u64 {
        work(i % 6 == 0, 100 + 40 * i).ok();
    }
    panics();
    panics();
    cancel_one();
    assert!(guard.flush());
    clock.advance(Duration::from_secs(60));
    for i in 0..10u64 {
        work(false, 1500 + 100 * i).unwrap();
    }
    other_thing();
    assert!(guard.flush());

    clock.set(utc(2026, 12, 6, 12, 0, 45));
    let hour = monitor::stats_window(Duration::from_secs(3600));
    assert_eq!(hour.window, Duration::from_secs(3600));
    assert_eq!(hour.from.to_string(), "2026-12-06T11:00:00.000000Z");
    assert_eq!(hour.to.to_string(), "2026-12-06T12:00:45.000000Z");
    let work_hour = function(&hour, "rollups::work");
    assert_eq!(counts(work_hour), (40, 35, 5, 0, 0));
    assert_eq!(counts(function(&hour, "rollups::explode")), (2, 0, 0, 2, 0));
    assert_eq!(
        counts(function(&hour, "rollups::never_finishes")),
        (0, 0, 0, 0, 1)
    );
    assert_eq!(
        function(&hour, "rollups::never_finishes").success_rate,
        None
    );
    assert_eq!(counts(&hour.totals), (43, 36, 5, 2, 1));
    assert_eq!(work_hour.success_rate, Some(35.0 / 40.0));

    // Percentiles, mean and max against the exact durations of the log
    // (the executions of 10:00 are not in the window: the 40 latest are).
    let all = logged_durations(&dir, "rollups::work");
    assert_eq!(all.len(), 43);
    let lines = common::executions(&dir);
    let mut in_window: Vec<f64> = lines
        .iter()
        .filter(|line| line["name"] == "rollups::work")
        .filter(|line| line["timestamp"].as_str().unwrap() >= "2026-12-06T11")
        .map(|line| line["duration_ms"].as_f64().unwrap())
        .collect();
    in_window.sort_by(f64::total_cmp);
    assert_eq!(in_window.len(), 40);
    for (q, value) in [
        (0.50, work_hour.p50_ms),
        (0.95, work_hour.p95_ms),
        (0.99, work_hour.p99_ms),
    ] {
        assert_close(
            value,
            exact_quantile(&in_window, q),
            0.016,
            &format!("p{q}"),
        );
    }
    assert_eq!(work_hour.max_ms, in_window.last().copied());
    let mean = in_window.iter().sum::<f64>() / 40.0;
    assert_close(work_hour.mean_ms, mean, 1e-9, "mean");

    // A window over everything equals the lifetime statistics exactly.
    let day = monitor::stats_window(Duration::from_secs(86_400));
    let lifetime = monitor::stats();
    for name in ["rollups::work", "rollups::explode", "other::thing"] {
        let window = function(&day, name);
        let stats = lifetime.get(name).unwrap();
        assert_eq!(window.total, stats.total_executions, "{name}");
        assert_eq!(window.error, stats.error_count, "{name}");
        assert_eq!(window.panic, stats.panic_count, "{name}");
        assert_eq!(window.p50_ms, stats.p50_ms, "{name}");
        assert_eq!(window.p95_ms, stats.p95_ms, "{name}");
        assert_eq!(window.p99_ms, stats.p99_ms, "{name}");
        assert_eq!(window.max_ms, stats.max_ms, "{name}");
        assert_close(window.mean_ms, stats.mean_ms.unwrap(), 1e-9, name);
    }
    assert_eq!(function(&day, "rollups::work").total, 43);

    // A minute: 12:00 and nothing else.
    let minute = monitor::stats_window(Duration::from_secs(30));
    assert!(minute.functions.is_empty(), "{minute:?}");
    assert_eq!(minute.totals.total, 0);
    assert_eq!(minute.totals.p95_ms, None);

    // The same answer from another process's point of view, stopped or not.
    let now = clock.now();
    let read =
        rollup_reader::window(&stats_db(&dir), Duration::from_secs(3600), now, None).unwrap();
    assert_eq!(read, hour);
    drop(guard);
    let after =
        rollup_reader::window(&stats_db(&dir), Duration::from_secs(3600), now, None).unwrap();
    assert_eq!(after, hour);
}

#[test]
fn executions_not_saved_yet_are_in_the_window_once() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-unsaved");
    let clock = ManualClock::new(utc(2026, 12, 6, 9, 15, 10));
    // Saves only at flushes: what a window sees between is unsaved.
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .stats_save_interval(Duration::from_secs(3600))
        .install()
        .unwrap();
    for _ in 0..4 {
        work(false, 10).unwrap();
    }
    assert!(guard.flush()); // saved
    for _ in 0..3 {
        work(true, 10).ok();
    }
    // Counted by the collector (stats() answers after it took the queue),
    // not saved: the store has 4, the window says 7.
    while monitor::stats()
        .get("rollups::work")
        .is_none_or(|s| s.total_executions < 7)
    {
        std::thread::yield_now();
    }
    let window = monitor::stats_window(Duration::from_secs(600));
    assert_eq!(counts(function(&window, "rollups::work")), (7, 4, 3, 0, 0));
    let saved = rollup_reader::window(&stats_db(&dir), Duration::from_secs(600), clock.now(), None)
        .unwrap();
    assert_eq!(function(&saved, "rollups::work").total, 4);
    assert!(guard.flush());
    let window = monitor::stats_window(Duration::from_secs(600));
    assert_eq!(counts(function(&window, "rollups::work")), (7, 4, 3, 0, 0));
}

#[test]
fn windows_and_trends_cross_midnight() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-midnight");
    let clock = ManualClock::new(utc(2026, 12, 6, 23, 59, 30));
    let guard = install(&dir, &clock);
    for i in 0..4 {
        work(i == 0, 10).ok();
    }
    assert!(guard.flush());
    clock.set(utc(2026, 12, 7, 0, 0, 30));
    work(false, 10).unwrap();
    work(false, 10).unwrap();
    assert!(guard.flush());

    let across = monitor::stats_window(Duration::from_secs(120));
    assert_eq!(across.from.to_string(), "2026-12-06T23:58:00.000000Z");
    assert_eq!(counts(function(&across, "rollups::work")), (6, 5, 1, 0, 0));
    let today = monitor::stats_window(Duration::from_secs(30));
    assert_eq!(counts(function(&today, "rollups::work")), (2, 2, 0, 0, 0));

    let trend = monitor::trend(2);
    assert_eq!(trend.len(), 1);
    let points = &trend[0].points;
    assert_eq!(trend[0].name, "rollups::work");
    assert_eq!(
        points
            .iter()
            .map(|p| (p.day.as_str(), p.total, p.success_rate))
            .collect::<Vec<_>>(),
        vec![("2026-12-06", 4, Some(0.75)), ("2026-12-07", 2, Some(1.0))]
    );
    // An hour spanning midnight in an hour-row window: 22:00:30 .. 00:00:30.
    let two_hours = monitor::stats_window(Duration::from_secs(7200));
    assert_eq!(function(&two_hours, "rollups::work").total, 6);
    drop(guard);
}

#[test]
fn a_minute_saved_then_touched_again_after_a_clock_step_back_is_merged() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-step-back");
    let clock = ManualClock::new(utc(2026, 12, 6, 10, 5, 30));
    let guard = install(&dir, &clock);
    for _ in 0..3 {
        work(false, 10).unwrap();
    }
    assert!(guard.flush());
    clock.set(utc(2026, 12, 6, 10, 10, 30));
    work(true, 10).ok();
    work(true, 10).ok();
    assert!(guard.flush());
    // The wall clock steps back into the minute already saved.
    clock.set(utc(2026, 12, 6, 10, 5, 50));
    for _ in 0..4 {
        work(false, 10).unwrap();
    }
    assert!(guard.flush());

    let minute = monitor::stats_window(Duration::from_secs(10));
    assert_eq!(counts(function(&minute, "rollups::work")), (7, 7, 0, 0, 0));
    drop(guard);

    let conn = rusqlite::Connection::open(stats_db(&dir)).unwrap();
    let row = |secs: i64, start: SystemTime| -> (i64, i64) {
        let start = start.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        conn.query_row(
            "SELECT success, error FROM rollups WHERE name = 'rollups::work' \
             AND bucket_secs = ?1 AND bucket_start = ?2",
            (secs, start),
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!(row(60, utc(2026, 12, 6, 10, 5, 0)), (7, 0));
    assert_eq!(row(60, utc(2026, 12, 6, 10, 10, 0)), (0, 2));
    assert_eq!(row(3600, utc(2026, 12, 6, 10, 0, 0)), (7, 2));
}

#[test]
fn a_restart_keeps_the_rollups() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-restart");
    let clock = ManualClock::new(utc(2026, 12, 6, 8, 0, 10));
    {
        let _guard = install(&dir, &clock);
        for i in 0..5 {
            work(i == 4, 10).ok();
        }
    } // dropped: saved at shutdown
    clock.set(utc(2026, 12, 6, 8, 0, 40)); // the same minute
    let guard = install(&dir, &clock);
    work(false, 10).unwrap();
    assert!(guard.flush());
    let window = monitor::stats_window(Duration::from_secs(60));
    assert_eq!(counts(function(&window, "rollups::work")), (6, 5, 1, 0, 0));
    let trend = monitor::trend(1);
    assert_eq!(trend[0].points[0].total, 6);
    drop(guard);
}

#[test]
fn trend_gives_one_point_per_day() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-trend");
    let clock = ManualClock::new(utc(2026, 11, 30, 12, 0, 0));
    let guard = install(&dir, &clock);
    // Eight days ago: outside a 7-day trend.
    work(false, 10).unwrap();
    assert!(guard.flush());
    // Six days ago: 4 successes; three days ago: 1 of 2; today: 3 of 3.
    let plan: [(u32, u64, u64); 3] = [(2, 4, 0), (5, 1, 1), (8, 3, 0)];
    for (day, successes, errors) in plan {
        clock.set(utc(2026, 12, day, 12, 0, 0) + Duration::from_millis(500));
        for _ in 0..successes {
            work(false, 10).unwrap();
        }
        for _ in 0..errors {
            work(true, 10).ok();
        }
        assert!(guard.flush());
    }
    clock.set(utc(2026, 12, 8, 18, 0, 0));
    let trend = monitor::trend(7);
    assert_eq!(trend.len(), 1);
    let points = &trend[0].points;
    let days: Vec<&str> = points.iter().map(|p| p.day.as_str()).collect();
    assert_eq!(
        days,
        [
            "2026-12-02",
            "2026-12-03",
            "2026-12-04",
            "2026-12-05",
            "2026-12-06",
            "2026-12-07",
            "2026-12-08"
        ]
    );
    let totals: Vec<(u64, Option<f64>)> =
        points.iter().map(|p| (p.total, p.success_rate)).collect();
    assert_eq!(
        totals,
        [
            (4, Some(1.0)),
            (0, None),
            (0, None),
            (2, Some(0.5)),
            (0, None),
            (0, None),
            (3, Some(1.0))
        ]
    );
    for point in points {
        assert_eq!(point.p95_ms.is_some(), point.total > 0, "{point:?}");
    }
    // The same from the file, and with a name filter.
    let filter: NameFilter = "rollups::*".parse().unwrap();
    let read = rollup_reader::trend(&stats_db(&dir), 7, clock.now(), Some(&filter)).unwrap();
    assert_eq!(read, trend);
    let none: NameFilter = "other::*".parse().unwrap();
    assert!(
        rollup_reader::trend(&stats_db(&dir), 7, clock.now(), Some(&none))
            .unwrap()
            .is_empty()
    );
    assert!(monitor::trend(0).is_empty());
    let eight = monitor::trend(9);
    assert_eq!(eight[0].points[0].day, "2026-11-30");
    assert_eq!(eight[0].points[0].total, 1);
    drop(guard);
}

#[test]
fn the_reader_reads_a_stopped_host_and_a_read_only_copy_without_writing() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-reader");
    let clock = ManualClock::new(utc(2026, 12, 6, 14, 30, 0));
    let guard = install(&dir, &clock);
    for i in 0..6 {
        work(i % 3 == 0, 10).ok();
    }
    other_thing();
    assert!(guard.flush());
    let now = clock.now();
    let expected = monitor::stats_window(Duration::from_secs(900));
    drop(guard);

    let db = stats_db(&dir);
    let before = std::fs::read(&db).unwrap();
    let files = files_in(&dir);
    let read = rollup_reader::window(&db, Duration::from_secs(900), now, None).unwrap();
    assert_eq!(read, expected);
    let exact: NameFilter = "other::thing".parse().unwrap();
    let one = rollup_reader::window(&db, Duration::from_secs(900), now, Some(&exact)).unwrap();
    assert_eq!(one.functions.len(), 1);
    assert_eq!(one.totals.total, 1);
    assert_eq!(std::fs::read(&db).unwrap(), before, "the reader wrote");
    assert_eq!(files_in(&dir), files, "the reader made files");

    // A copy in a read-only directory (no -shm can be made beside it).
    let copy = temp_dir("rollups-reader-copy");
    std::fs::copy(&db, copy.join("stats.db")).unwrap();
    set_read_only(&copy, true);
    let from_copy =
        rollup_reader::window(&copy.join("stats.db"), Duration::from_secs(900), now, None);
    let copied_files = files_in(&copy);
    set_read_only(&copy, false);
    assert_eq!(from_copy.unwrap(), expected);
    assert_eq!(copied_files, ["stats.db"]);
}

#[cfg(unix)]
fn set_read_only(dir: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    let (dir_mode, file_mode) = if read_only {
        (0o555, 0o444)
    } else {
        (0o755, 0o644)
    };
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file_mode)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode)).unwrap();
}

#[cfg(not(unix))]
fn set_read_only(dir: &Path, read_only: bool) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        permissions.set_readonly(read_only);
        std::fs::set_permissions(&path, permissions).unwrap();
    }
}

#[test]
fn an_older_schema_reads_as_empty_and_is_not_written() {
    let _lock = exclusive();
    for version in [1, 5] {
        let dir = temp_dir(&format!("rollups-old-schema-{version}"));
        let db = stats_db(&dir);
        let row = monitor_sinks::stats_store::StoredFunctionStats {
            name: "old::job".into(),
            total_executions: 3,
            success_count: 3,
            ..Default::default()
        };
        monitor_sinks::stats_store::legacy_schema::write_legacy_file(&db, version, &[row]).unwrap();
        let before = std::fs::read(&db).unwrap();
        let now = utc(2026, 12, 6, 10, 0, 0);
        let window = rollup_reader::window(&db, Duration::from_secs(86_400), now, None).unwrap();
        assert!(window.functions.is_empty());
        assert_eq!(window.totals.total, 0);
        assert!(rollup_reader::trend(&db, 7, now, None).unwrap().is_empty());
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "version {version} was written"
        );
        assert_eq!(files_in(&dir), ["stats.db"]);
    }
    // A missing file is an error naming it.
    let missing = temp_dir("rollups-missing").join("stats.db");
    let error = rollup_reader::window(&missing, Duration::from_secs(60), SystemTime::now(), None)
        .unwrap_err();
    assert!(error.to_string().contains("stats.db"), "{error}");
}

#[test]
fn a_version_5_store_is_migrated_and_gains_rollups() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-migrate-5");
    let row = monitor_sinks::stats_store::StoredFunctionStats {
        name: "rollups::work".into(),
        total_executions: 3,
        success_count: 3,
        ..Default::default()
    };
    monitor_sinks::stats_store::legacy_schema::write_legacy_file(&stats_db(&dir), 5, &[row])
        .unwrap();
    let clock = ManualClock::new(utc(2026, 12, 6, 10, 0, 30));
    let guard = install(&dir, &clock);
    work(false, 10).unwrap();
    assert!(guard.flush());
    assert_eq!(
        monitor::stats()
            .get("rollups::work")
            .unwrap()
            .total_executions,
        4
    );
    // The window holds the executions after the upgrade only.
    let window = monitor::stats_window(Duration::from_secs(3600));
    assert_eq!(function(&window, "rollups::work").total, 1);
    drop(guard);
    let conn = rusqlite::Connection::open(stats_db(&dir)).unwrap();
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, monitor_sinks::stats_store::SCHEMA_VERSION);
}

#[test]
fn without_a_stats_db_the_rollups_live_in_memory() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-memory");
    let clock = ManualClock::new(utc(2026, 12, 6, 10, 0, 30));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .without_stats_db()
        .install()
        .unwrap();
    work(false, 10).unwrap();
    work(true, 10).ok();
    assert!(guard.flush());
    let window = monitor::stats_window(Duration::from_secs(60));
    assert_eq!(counts(function(&window, "rollups::work")), (2, 1, 1, 0, 0));
    assert_eq!(monitor::trend(1)[0].points[0].total, 2);
    // Minutes that ended are kept (archived), with the open one.
    clock.advance(Duration::from_secs(120));
    assert!(guard.flush());
    work(false, 10).unwrap();
    assert!(guard.flush());
    let window = monitor::stats_window(Duration::from_secs(300));
    assert_eq!(counts(function(&window, "rollups::work")), (3, 2, 1, 0, 0));
    let recent = monitor::stats_window(Duration::from_secs(30));
    assert_eq!(counts(function(&recent, "rollups::work")), (1, 1, 0, 0, 0));
    // After 25 hours they are gone from memory.
    clock.advance(Duration::from_secs(26 * 3600));
    assert!(guard.flush());
    let two_days = monitor::stats_window(Duration::from_secs(2 * 86_400));
    assert!(two_days.functions.is_empty(), "{two_days:?}");
    drop(guard);
    assert!(!stats_db(&dir).exists());
}

#[test]
fn the_json_shape_is_the_documented_one() {
    let _lock = exclusive();
    let dir = temp_dir("rollups-json");
    let clock = ManualClock::new(utc(2026, 12, 6, 10, 0, 30));
    let guard = install(&dir, &clock);
    work(false, 10).unwrap();
    assert!(guard.flush());
    let window = monitor::stats_window(Duration::from_secs(86_400));
    let json = serde_json::to_value(&window).unwrap();
    assert_eq!(json["window_secs"], 86_400);
    assert_eq!(json["from"], "2026-12-05T10:00:00.000000Z");
    assert_eq!(json["to"], "2026-12-06T10:00:30.000000Z");
    let keys = |value: &serde_json::Value| -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    };
    let summary_keys = [
        "cancelled",
        "error",
        "max_ms",
        "mean_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "panic",
        "success",
        "success_rate",
        "total",
    ];
    let mut with_name: Vec<&str> = summary_keys.to_vec();
    with_name.push("name");
    with_name.sort();
    let mut function_keys = keys(&json["functions"][0]);
    function_keys.sort();
    assert_eq!(function_keys, with_name);
    let mut total_keys = keys(&json["totals"]);
    total_keys.sort();
    assert_eq!(total_keys, summary_keys);
    assert_eq!(json["functions"][0]["name"], "rollups::work");
    assert_eq!(json["functions"][0]["success_rate"], 1.0);

    clock.advance(Duration::from_secs(120));
    let empty = serde_json::to_value(monitor::stats_window(Duration::from_secs(30))).unwrap();
    assert_eq!(empty["functions"], serde_json::json!([]));
    assert_eq!(empty["totals"]["total"], 0);
    assert!(empty["totals"]["success_rate"].is_null());
    assert!(empty["totals"]["p95_ms"].is_null());
    let trend = serde_json::to_value(monitor::trend(2)).unwrap();
    assert_eq!(trend[0]["points"][0]["day"], "2026-12-05");
    assert!(trend[0]["points"][0]["success_rate"].is_null());
    assert_eq!(trend[0]["points"][1]["total"], 1);
    drop(guard);
}
