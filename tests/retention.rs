//! Retention of the roll-ups in `stats.db`: minute rows kept 7 days, hour
//! rows 90 days, day rows kept; the collector deletes older rows in small
//! batches as the injected clock moves. 100 days pass: the row counts are
//! what the retention keeps, and every window and trend still counts every
//! execution exactly (whole hours or days where the minutes are gone).

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{exclusive, temp_dir};
use monitor::{monitored, rollup_reader, ManualClock, Monitor, WindowStats};
use monitor_sinks::stats_store::{NameMatch, RollupReader, RollupRow};

const DAY: u64 = 86_400;

#[monitored(name = "retention::job")]
fn job(fail: bool) -> Result<(), String> {
    if fail {
        Err("job failed".into())
    } else {
        Ok(())
    }
}

/// Day 0 of the test, at midnight UTC.
fn day0() -> u64 {
    20_000 * DAY
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// (successes, errors) run on day `d`.
fn runs(d: u64) -> (u64, u64) {
    (d % 3 + 1, d % 2)
}

fn sum_days(days: std::ops::Range<u64>) -> (u64, u64) {
    days.map(runs)
        .fold((0, 0), |(s, e), (ds, de)| (s + ds, e + de))
}

fn rows(db: &Path, secs: u32) -> Vec<RollupRow> {
    RollupReader::open(db)
        .unwrap()
        .read(secs, 0, i64::MAX, NameMatch::Exact("retention::job"))
        .unwrap()
        .rows
}

fn sums(rows: &[RollupRow]) -> (u64, u64) {
    rows.iter()
        .fold((0, 0), |(s, e), row| (s + row.success, e + row.error))
}

fn window_counts(stats: &WindowStats) -> (u64, u64) {
    (stats.totals.success, stats.totals.error)
}

#[test]
fn a_hundred_days_keep_minutes_a_week_hours_ninety_days_and_every_count_exact() {
    let _lock = exclusive();
    let dir = temp_dir("retention-100-days");
    let db = dir.join("stats.db");
    let clock = ManualClock::new(at(day0()));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    for d in 0..100 {
        // 10:17:30: well inside the minute the executions finish in.
        clock.set(at(day0() + d * DAY + 10 * 3600 + 17 * 60 + 30));
        // A drain pass that read the clock before it was set is over once
        // this returns: the calls below are timed by the new day (an
        // execution's time is the clock at its drain pass, minus the ticks
        // since it ended; a pass begun a day earlier put one day's calls
        // into the day before, 1 run in about 20 under load).
        assert!(guard.flush());
        let (successes, errors) = runs(d);
        for _ in 0..successes {
            job(false).unwrap();
        }
        for _ in 0..errors {
            job(true).unwrap_err();
        }
        assert!(guard.flush());
    }
    // Day 100, 10:10: minute rows are kept from day 93 10:00 on (7 days
    // back, whole hours), hour rows from day 10 on (90 days back, whole
    // days). A window starting at 10:10 some day past that holds that
    // day's 10:17 executions: read from its whole hour or day.
    let now = day0() + 100 * DAY + 10 * 3600 + 10 * 60;
    clock.set(at(now));
    assert!(guard.flush());
    let minutes_from = (day0() + 93 * DAY + 10 * 3600) as i64;
    let hours_from = (day0() + 10 * DAY) as i64;

    let minute_rows = rows(&db, 60);
    let hour_rows = rows(&db, 3600);
    let day_rows = rows(&db, 86_400);
    assert_eq!(minute_rows.len(), 7, "{minute_rows:#?}");
    assert!(minute_rows
        .iter()
        .all(|row| row.bucket_start >= minutes_from));
    assert_eq!(hour_rows.len(), 90);
    assert!(hour_rows.iter().all(|row| row.bucket_start >= hours_from));
    assert_eq!(day_rows.len(), 100, "day rows are kept");
    // The sums of what is kept, exactly.
    assert_eq!(sums(&minute_rows), sum_days(93..100));
    assert_eq!(sums(&hour_rows), sum_days(10..100));
    assert_eq!(sums(&day_rows), sum_days(0..100));
    let folded = RollupReader::open(&db).unwrap().folded_before().unwrap();
    assert_eq!(
        (folded.minutes_from, folded.hours_from),
        (minutes_from, hours_from)
    );

    // Windows: unchanged where the minutes are kept, from the whole hour or
    // day where they are not; every execution counted once.
    let week = monitor::stats_window(Duration::from_secs(7 * DAY));
    assert_eq!(window_counts(&week), sum_days(93..100));
    assert_eq!(week.from.0, at(now - 7 * DAY), "minute rows: not moved");
    let eight = monitor::stats_window(Duration::from_secs(8 * DAY));
    assert_eq!(window_counts(&eight), sum_days(92..100));
    assert_eq!(
        eight.from.0,
        at(day0() + 92 * DAY + 10 * 3600),
        "10:10 moved to its hour"
    );
    let month = monitor::stats_window(Duration::from_secs(30 * DAY));
    assert_eq!(window_counts(&month), sum_days(70..100));
    let hundred = monitor::stats_window(Duration::from_secs(100 * DAY));
    assert_eq!(window_counts(&hundred), sum_days(0..100));
    assert_eq!(
        hundred.from.0,
        at(day0()),
        "hour rows gone: moved to its day"
    );
    assert_eq!(
        hundred.functions[0].summary.total,
        sum_days(0..100).0 + sum_days(0..100).1
    );

    // Trends read day rows: every day exact.
    let trend = monitor::trend(101);
    assert_eq!(trend.len(), 1);
    for (d, point) in trend[0].points.iter().take(100).enumerate() {
        let (successes, errors) = runs(d as u64);
        assert_eq!(point.total, successes + errors, "day {d}");
    }

    // Another process reads the same answers from the file.
    drop(guard);
    for (days, first) in [(7, 93), (8, 92), (30, 70), (100, 0)] {
        let read =
            rollup_reader::window(&db, Duration::from_secs(days * DAY), at(now), None).unwrap();
        assert_eq!(window_counts(&read), sum_days(first..100), "{days} days");
    }
    let trend = rollup_reader::trend(&db, 101, at(now), None).unwrap();
    let totals: u64 = trend[0].points.iter().map(|point| point.total).sum();
    assert_eq!(totals, sum_days(0..100).0 + sum_days(0..100).1);

    // The resource samples (one a day here) folded the same way.
    let mut reader = RollupReader::open(&db).unwrap();
    let resource_minutes = reader.read_resources(60, 0, i64::MAX).unwrap();
    assert!(resource_minutes
        .iter()
        .all(|row| row.bucket_start >= minutes_from));
    assert_eq!(
        resource_minutes.len(),
        8,
        "days 93 to 99 and day 100's 10:10"
    );
    let resource_hours = reader.read_resources(3600, 0, i64::MAX).unwrap();
    assert!(resource_hours
        .iter()
        .all(|row| row.bucket_start >= hours_from));
    assert_eq!(
        resource_hours.iter().map(|row| row.samples).sum::<u64>(),
        91
    );
}

#[test]
fn a_retention_the_roll_ups_cannot_keep_is_refused_by_install() {
    let _lock = exclusive();
    let dir = temp_dir("retention-bad");
    let day = Duration::from_secs(DAY);
    for (minutes, hours, says) in [
        (Duration::from_secs(59 * 60), 90 * day, "at least an hour"),
        (7 * day, Duration::from_secs(3600), "at least a day"),
        (30 * day, 7 * day, "at least as long as minute rows"),
    ] {
        let error = Monitor::builder()
            .log_dir(&dir)
            .rollup_retention(minutes, hours)
            .install()
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("rollup_retention") && text.contains(says),
            "{text}"
        );
    }
}

#[test]
fn a_version_6_store_is_migrated_step_by_step_and_gains_the_resource_tables() {
    let _lock = exclusive();
    let dir = temp_dir("retention-v6");
    let db = dir.join("stats.db");
    let row = monitor_sinks::stats_store::StoredFunctionStats {
        name: "retention::job".into(),
        total_executions: 5,
        success_count: 5,
        ..Default::default()
    };
    monitor_sinks::stats_store::legacy_schema::write_legacy_file(&db, 6, &[row]).unwrap();
    let clock = ManualClock::new(at(day0() + 3600));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    job(false).unwrap();
    clock.advance(Duration::from_secs(1));
    assert!(guard.flush());
    assert_eq!(
        monitor::stats()
            .get("retention::job")
            .unwrap()
            .total_executions,
        6
    );
    drop(guard);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, monitor_sinks::stats_store::SCHEMA_VERSION);
    let samples: i64 = conn
        .query_row(
            "SELECT SUM(samples) FROM resource_rollups WHERE bucket_secs = 3600",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        samples >= 1,
        "the resource samples are saved in the new table"
    );
}
