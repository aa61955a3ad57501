//! Tests of the persistent statistics store (`monitor_sinks::stats_store`).
//!
//! Deterministic: time is injected as `Instant` values; lock contention is
//! produced with a second `rusqlite::Connection` holding a transaction.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use monitor_sinks::stats_store::legacy_schema;
use monitor_sinks::stats_store::{
    PersistEvent, PersistOptions, PersistentStats, RollupRow, SaveStamp, StatsStore,
    StoreErrorKind, StoreOptions, StoredFunctionStats, MINUTE_SECS, SCHEMA_VERSION,
};
use rusqlite::Connection;

// ---------------------------------------------------------------------------
// helpers

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "monitor-sinks-stats-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("stats.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
            if let Ok(entries) = fs::read_dir(&self.0) {
                for entry in entries.flatten() {
                    let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o644));
                }
            }
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn full_row(name: &str) -> StoredFunctionStats {
    StoredFunctionStats {
        name: name.to_owned(),
        trigger_type: "schedule".to_owned(),
        status: "degraded".to_owned(),
        total_executions: 1000,
        success_count: 900,
        error_count: 70,
        panic_count: 20,
        cancelled_count: 10,
        total_duration_ms: 12_345.678,
        avg_execution_time_ms: 12.345678,
        min_execution_time_ms: Some(0.125),
        max_execution_time_ms: Some(987.5),
        p50_execution_time_ms: Some(10.0),
        p95_execution_time_ms: Some(45.25),
        p99_execution_time_ms: Some(120.75),
        last_execution_time: Some("2024-05-01T12:34:56.123456Z".to_owned()),
        last_execution_status: Some("error".to_owned()),
        last_error_time: Some("2024-05-01T12:34:56.123456Z".to_owned()),
        last_error_type: Some("std::io::Error".to_owned()),
        last_error_message: Some("connection refused — «ünïcödé» 'quoted'".to_owned()),
        next_scheduled_time: Some("2024-05-01T13:00:00.000000Z".to_owned()),
        latency_histogram: Some(r#"{"buckets":[[1,2],[3,4]]}"#.to_owned()),
        error_patterns: Some(r#"[{"pattern":"refused","count":70}]"#.to_owned()),
        updated_at: Some("2024-05-01T12:34:57.000001Z".to_owned()),
        consecutive_failures: 3,
        alert_state: Some(r#"{"streak_start":"2024-05-01T12:30:00.000000Z"}"#.to_owned()),
    }
}

fn counted_row(name: &str, total: u64) -> StoredFunctionStats {
    StoredFunctionStats {
        name: name.to_owned(),
        trigger_type: "call".to_owned(),
        status: "active".to_owned(),
        total_executions: total,
        success_count: total,
        total_duration_ms: total as f64 * 2.0,
        avg_execution_time_ms: 2.0,
        updated_at: Some("2024-01-01T00:00:00.000000Z".to_owned()),
        ..StoredFunctionStats::default()
    }
}

fn options(path: &Path) -> PersistOptions {
    PersistOptions {
        busy_timeout: Duration::from_millis(20),
        initial_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(1),
        ..PersistOptions::new(path)
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Reads the rows with a separate connection, as an outside observer.
fn rows_in_db(path: &Path) -> Vec<StoredFunctionStats> {
    StatsStore::open(path)
        .expect("open for inspection")
        .load_all()
        .expect("load")
}

fn total_of(rows: &[StoredFunctionStats], name: &str) -> Option<u64> {
    rows.iter()
        .find(|r| r.name == name)
        .map(|r| r.total_executions)
}

/// A second connection holding the write lock (`BEGIN IMMEDIATE`).
fn hold_write_lock(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open locker");
    conn.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    conn
}

fn version_in_file(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .unwrap()
}

// ---------------------------------------------------------------------------
// StatsStore

#[test]
fn round_trip_of_every_field() {
    let dir = TempDir::new("roundtrip");
    let mut store = StatsStore::open(&dir.db()).unwrap();
    assert!(store.report().created);
    assert_eq!(store.report().moved_aside, None);

    let full = full_row("app::jobs::sync");
    let sparse = StoredFunctionStats {
        name: "app::handler".to_owned(),
        ..StoredFunctionStats::default()
    };
    let huge = StoredFunctionStats {
        name: "app::huge".to_owned(),
        total_executions: u64::MAX,
        avg_execution_time_ms: f64::NAN,
        p95_execution_time_ms: Some(f64::NAN),
        updated_at: Some("x".to_owned()),
        ..StoredFunctionStats::default()
    };
    store.save(&[full.clone(), sparse.clone(), huge]).unwrap();

    let rows = store.load_all().unwrap();
    assert_eq!(rows.len(), 3);
    // Ordered by name.
    assert_eq!(rows[0].name, "app::handler");
    assert_eq!(rows[1].name, "app::huge");
    assert_eq!(rows[2], full, "every field of a full row survives");

    // A row saved without updated_at gets the save time, the rest is as given.
    let loaded_sparse = &rows[0];
    let stamp = loaded_sparse
        .updated_at
        .clone()
        .expect("updated_at filled in");
    assert_eq!(stamp.len(), "2024-05-01T12:34:56.123456Z".len(), "{stamp}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "{stamp}"
    );
    assert_eq!(
        StoredFunctionStats {
            updated_at: None,
            ..loaded_sparse.clone()
        },
        sparse
    );

    // Counts above i64::MAX saturate, NaN does not poison the save.
    assert_eq!(rows[1].total_executions, i64::MAX as u64);
    assert_eq!(rows[1].avg_execution_time_ms, 0.0);
    assert_eq!(rows[1].p95_execution_time_ms, None);
}

#[test]
fn saving_twice_updates_the_row_instead_of_duplicating_it() {
    let dir = TempDir::new("upsert");
    let mut store = StatsStore::open(&dir.db()).unwrap();
    store
        .save(&[counted_row("a", 1), counted_row("b", 5)])
        .unwrap();
    let mut a = full_row("a");
    a.total_executions = 2;
    store.save(&[a.clone()]).unwrap();
    // The same batch again (a retry) changes nothing.
    store.save(&[a.clone()]).unwrap();

    let rows = store.load_all().unwrap();
    assert_eq!(rows, vec![a, counted_row("b", 5)]);
    let count: i64 = Connection::open(dir.db())
        .unwrap()
        .query_row("SELECT count(*) FROM function_stats", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
}

#[test]
fn reopening_loads_the_saved_rows() {
    let dir = TempDir::new("reopen");
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        store.save(&[full_row("x"), counted_row("y", 7)]).unwrap();
    }
    let store = StatsStore::open(&dir.db()).unwrap();
    assert!(!store.report().created);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        store.load_all().unwrap(),
        vec![full_row("x"), counted_row("y", 7)]
    );
    drop(store);

    let (persist, loaded) = PersistentStats::open(options(&dir.db()), Instant::now());
    assert_eq!(loaded, vec![full_row("x"), counted_row("y", 7)]);
    assert!(!persist.health().failing);
}

#[test]
fn creates_the_parent_directory_and_uses_wal() {
    let dir = TempDir::new("mkdir");
    let path = dir.0.join("nested").join("logs").join("stats.db");
    let store = StatsStore::open(&path).unwrap();
    drop(store);
    let mode: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(version_in_file(&path), SCHEMA_VERSION);
}

#[test]
fn corrupt_file_is_moved_aside_and_a_fresh_database_works() {
    let dir = TempDir::new("corrupt");
    // Deterministic pseudo-random bytes after a readable prefix.
    let mut bytes = b"this is not a database\n".to_vec();
    let mut x: u32 = 0x9E37_79B9;
    for _ in 0..8192 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    fs::write(dir.db(), &bytes).unwrap();
    let wal = dir.0.join("stats.db-wal");
    fs::write(&wal, b"stale wal").unwrap();

    let mut store = StatsStore::open(&dir.db()).expect("opens a fresh database");
    let aside = store.report().moved_aside.clone().expect("moved aside");
    let aside_name = aside.file_name().unwrap().to_string_lossy().into_owned();
    assert!(aside_name.starts_with("stats.db.corrupt-"), "{aside_name}");
    assert_eq!(fs::read(&aside).unwrap(), bytes, "original bytes preserved");
    let aside_wal = PathBuf::from(format!("{}-wal", aside.display()));
    assert_eq!(fs::read(aside_wal).unwrap(), b"stale wal");
    assert!(store.report().created);

    store.save(&[full_row("f")]).unwrap();
    assert_eq!(store.load_all().unwrap(), vec![full_row("f")]);
    drop(store);
    // The corrupt copy is still there after a normal reopen.
    assert!(aside.exists());
    assert_eq!(rows_in_db(&dir.db()), vec![full_row("f")]);
}

#[test]
fn short_garbage_and_malformed_pages_are_also_moved_aside() {
    // A short text file.
    let dir = TempDir::new("corrupt-short");
    fs::write(dir.db(), b"this is not a database").unwrap();
    let store = StatsStore::open(&dir.db()).unwrap();
    let aside = store.report().moved_aside.clone().expect("moved aside");
    assert_eq!(fs::read(aside).unwrap(), b"this is not a database");

    // A real database whose table pages were overwritten: passes the header
    // check but fails `quick_check`.
    let dir = TempDir::new("corrupt-pages");
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        let rows: Vec<_> = (0..200).map(|i| full_row(&format!("f{i}"))).collect();
        store.save(&rows).unwrap();
    }
    let mut bytes = fs::read(dir.db()).unwrap();
    assert!(bytes.len() > 3 * 4096);
    for b in &mut bytes[4096..3 * 4096] {
        *b = 0xA5;
    }
    fs::write(dir.db(), &bytes).unwrap();
    let mut store = StatsStore::open(&dir.db()).unwrap();
    let aside = store.report().moved_aside.clone().expect("moved aside");
    assert_eq!(fs::read(aside).unwrap(), bytes);
    store.save(&[counted_row("fresh", 1)]).unwrap();
    assert_eq!(store.load_all().unwrap(), vec![counted_row("fresh", 1)]);
}

#[test]
fn persistent_stats_reports_a_file_moved_aside() {
    let dir = TempDir::new("corrupt-persist");
    fs::write(dir.db(), b"garbage garbage garbage garbage").unwrap();
    let t0 = Instant::now();
    let (mut persist, loaded) = PersistentStats::open(options(&dir.db()), t0);
    assert!(loaded.is_empty());
    let health = persist.health();
    assert!(!health.failing);
    let aside = health.moved_aside.expect("moved aside is reported");
    assert_eq!(fs::read(aside).unwrap(), b"garbage garbage garbage garbage");
    persist.stage(counted_row("a", 1));
    assert_eq!(persist.save_now(t0), Some(PersistEvent::Saved { rows: 1 }));
}

#[test]
fn persistent_stats_notices_its_file_deleted_and_recreates_it() {
    let dir = TempDir::new("deleted");
    let t0 = Instant::now();
    let (mut persist, _) = PersistentStats::open(options(&dir.db()), t0);
    persist.stage(counted_row("a", 1));
    assert_eq!(persist.save_now(t0), Some(PersistEvent::Saved { rows: 1 }));
    assert_eq!(persist.maybe_save(t0), None, "nothing to do, file in place");

    fs::remove_dir_all(&dir.0).unwrap();
    match persist.maybe_save(t0) {
        Some(PersistEvent::Lost { reason }) => assert_eq!(reason, "was deleted"),
        other => panic!("expected Lost, got {other:?}"),
    }
    // The caller hands every row over again; the file and its directory
    // are created anew.
    persist.stage(counted_row("a", 2));
    persist.stage(counted_row("b", 1));
    assert_eq!(persist.save_now(t0), Some(PersistEvent::Saved { rows: 2 }));
    assert!(!persist.health().failing);
    let rows = StatsStore::open(&dir.db()).unwrap().load_all().unwrap();
    assert_eq!(rows.len(), 2);

    // Replaced by another file: noticed too.
    fs::rename(dir.db(), dir.0.join("elsewhere.db")).unwrap();
    StatsStore::open(&dir.db()).unwrap();
    match persist.save_now(t0) {
        Some(PersistEvent::Lost { reason }) => assert_eq!(reason, "was replaced by another file"),
        other => panic!("expected Lost, got {other:?}"),
    }
}

fn migration_row() -> StoredFunctionStats {
    StoredFunctionStats {
        cancelled_count: 4,
        total_duration_ms: 5_000.0,
        latency_histogram: Some("{\"h\":1}".to_owned()),
        ..full_row("legacy::job")
    }
}

#[test]
fn migrates_a_version_1_file() {
    let dir = TempDir::new("v1");
    legacy_schema::write_legacy_file(&dir.db(), 1, &[migration_row()]).unwrap();
    assert_eq!(version_in_file(&dir.db()), 1);

    let store = StatsStore::open(&dir.db()).unwrap();
    assert_eq!(store.report().migrated_from, Some(1));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let rows = store.load_all().unwrap();
    let expected = StoredFunctionStats {
        // Not in version 1: defaulted.
        cancelled_count: 0,
        // Backfilled so the mean can be continued: avg * total.
        total_duration_ms: 12.345678 * 1000.0,
        latency_histogram: None,
        error_patterns: None,
        updated_at: None,
        consecutive_failures: 0,
        alert_state: None,
        ..migration_row()
    };
    assert_eq!(rows.len(), 1);
    assert!((rows[0].total_duration_ms - expected.total_duration_ms).abs() < 1e-6);
    assert_eq!(
        StoredFunctionStats {
            total_duration_ms: expected.total_duration_ms,
            ..rows[0].clone()
        },
        expected
    );
    drop(store);
    assert_eq!(version_in_file(&dir.db()), SCHEMA_VERSION);
    let single_row: i64 = Connection::open(dir.db())
        .unwrap()
        .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(single_row, 1);

    // Reopening does not migrate again.
    let store = StatsStore::open(&dir.db()).unwrap();
    assert_eq!(store.report().migrated_from, None);
}

#[test]
fn migrates_a_version_1_file_from_the_raw_sql_and_without_a_version_table() {
    let dir = TempDir::new("v1-raw");
    {
        let conn = Connection::open(dir.db()).unwrap();
        conn.execute_batch(legacy_schema::V1).unwrap();
        conn.execute_batch(
            "INSERT INTO function_stats (name, trigger_type, status, total_executions,
                 success_count, avg_execution_time_ms, last_execution_status)
             VALUES ('raw', 'call', 'active', 4, 4, 2.5, 'success');
             DROP TABLE schema_version;",
        )
        .unwrap();
    }
    let store = StatsStore::open(&dir.db()).unwrap();
    assert_eq!(store.report().migrated_from, Some(1));
    let rows = store.load_all().unwrap();
    assert_eq!(
        rows,
        vec![StoredFunctionStats {
            name: "raw".to_owned(),
            trigger_type: "call".to_owned(),
            status: "active".to_owned(),
            total_executions: 4,
            success_count: 4,
            avg_execution_time_ms: 2.5,
            total_duration_ms: 10.0,
            last_execution_status: Some("success".to_owned()),
            ..StoredFunctionStats::default()
        }]
    );
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn migrates_a_version_2_file() {
    let dir = TempDir::new("v2");
    legacy_schema::write_legacy_file(&dir.db(), 2, &[migration_row()]).unwrap();
    assert_eq!(version_in_file(&dir.db()), 2);

    let (persist, loaded) = PersistentStats::open(options(&dir.db()), Instant::now());
    assert!(!persist.health().failing);
    assert_eq!(
        loaded,
        vec![StoredFunctionStats {
            error_patterns: None,
            updated_at: None,
            consecutive_failures: 0,
            alert_state: None,
            ..migration_row()
        }]
    );
    drop(persist);
    assert_eq!(version_in_file(&dir.db()), SCHEMA_VERSION);
}

#[test]
fn migrates_a_version_4_file_adding_the_alert_state() {
    let dir = TempDir::new("v4");
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        store.save(&[full_row("job")]).unwrap();
    }
    {
        // What version 4 wrote: every column but `alert_state`.
        let conn = Connection::open(dir.db()).unwrap();
        conn.execute_batch(
            "ALTER TABLE function_stats DROP COLUMN alert_state;
             UPDATE schema_version SET version = 4;",
        )
        .unwrap();
    }
    assert_eq!(version_in_file(&dir.db()), 4);
    let store = StatsStore::open(&dir.db()).unwrap();
    assert_eq!(store.report().migrated_from, Some(4));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        store.load_all().unwrap(),
        vec![StoredFunctionStats {
            alert_state: None,
            ..full_row("job")
        }]
    );
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let dir = TempDir::new("newer");
    legacy_schema::write_legacy_file(&dir.db(), 2, &[migration_row()]).unwrap();
    Connection::open(dir.db())
        .unwrap()
        .execute_batch("UPDATE schema_version SET version = 99")
        .unwrap();
    let before = fs::read(dir.db()).unwrap();

    let err = StatsStore::open(&dir.db()).unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::NewerSchema);
    assert_eq!(err.schema_versions(), Some((99, SCHEMA_VERSION)));
    let message = err.to_string();
    assert!(
        message.contains("99") && message.contains("newer"),
        "{message}"
    );

    let t0 = Instant::now();
    let (mut persist, loaded) = PersistentStats::open(options(&dir.db()), t0);
    assert!(loaded.is_empty());
    assert!(persist.health().failing);
    persist.stage(counted_row("legacy::job", 1));
    match persist.maybe_save(t0 + ms(250)) {
        Some(PersistEvent::Failed {
            first_in_episode: false,
            error,
        }) => assert!(error.contains("newer"), "{error}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(persist.pending_len(), 1);
    drop(persist);

    assert_eq!(fs::read(dir.db()).unwrap(), before, "file untouched");
    assert_eq!(version_in_file(&dir.db()), 99);
}

#[test]
fn error_kinds_have_distinct_messages() {
    let dir = TempDir::new("kinds");
    let mut store = StatsStore::open_with(
        &dir.db(),
        &StoreOptions {
            busy_timeout: ms(10),
        },
    )
    .unwrap();
    let locker = hold_write_lock(&dir.db());
    let err = store.save(&[counted_row("a", 1)]).unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Busy);
    let message = err.to_string();
    assert!(
        message.contains("locked") && message.contains("stats.db"),
        "{message}"
    );
    assert!(std::error::Error::source(&err).is_some());
    drop(locker);
    store.save(&[counted_row("a", 1)]).unwrap();

    // A directory where the file should be: cannot be opened.
    let err = StatsStore::open(&dir.0).unwrap_err();
    assert_ne!(err.kind(), StoreErrorKind::Busy);
    assert!(!err.to_string().is_empty());
}

// ---------------------------------------------------------------------------
// PersistentStats

#[test]
fn saves_when_the_interval_elapses_or_enough_rows_are_pending() {
    let dir = TempDir::new("due");
    let t0 = Instant::now();
    let (mut persist, loaded) = PersistentStats::open(
        PersistOptions {
            max_pending: 3,
            ..options(&dir.db())
        },
        t0,
    );
    assert!(loaded.is_empty());
    assert_eq!(persist.maybe_save(t0 + ms(499)), None, "nothing pending");

    persist.stage(counted_row("a", 1));
    persist.stage(counted_row("a", 2)); // latest wins
    persist.stage(counted_row("b", 1));
    assert_eq!(persist.pending_len(), 2);
    assert_eq!(persist.maybe_save(t0 + ms(100)), None, "not due yet");
    assert_eq!(
        persist.maybe_save(t0 + ms(500)),
        Some(PersistEvent::Saved { rows: 2 })
    );
    assert_eq!(persist.pending_len(), 0);
    assert_eq!(total_of(&rows_in_db(&dir.db()), "a"), Some(2));

    // max_pending reached: saved before the interval.
    persist.stage(counted_row("a", 3));
    persist.stage(counted_row("b", 3));
    assert_eq!(persist.maybe_save(t0 + ms(510)), None);
    persist.stage(counted_row("c", 3));
    assert_eq!(
        persist.maybe_save(t0 + ms(520)),
        Some(PersistEvent::Saved { rows: 3 })
    );

    // save_now ignores the interval; nothing pending → nothing to do.
    persist.stage(counted_row("d", 1));
    assert_eq!(
        persist.save_now(t0 + ms(521)),
        Some(PersistEvent::Saved { rows: 1 })
    );
    assert_eq!(persist.save_now(t0 + ms(522)), None);
    assert_eq!(rows_in_db(&dir.db()).len(), 4);
    assert!(!persist.health().failing);
}

#[test]
fn a_locked_database_fails_backs_off_and_recovers_without_losing_rows() {
    let dir = TempDir::new("locked");
    let t0 = Instant::now();
    let (mut persist, _) = PersistentStats::open(options(&dir.db()), t0);
    persist.stage(counted_row("a", 1));
    persist.stage(counted_row("b", 1));
    assert_eq!(
        persist.maybe_save(t0 + ms(500)),
        Some(PersistEvent::Saved { rows: 2 })
    );

    let locker = hold_write_lock(&dir.db());
    persist.stage(counted_row("a", 2));
    persist.stage(counted_row("c", 1));
    match persist.maybe_save(t0 + ms(1000)) {
        Some(PersistEvent::Failed {
            error,
            first_in_episode: true,
        }) => assert!(error.contains("locked"), "{error}"),
        other => panic!("expected the first failure, got {other:?}"),
    }
    let health = persist.health();
    assert!(health.failing);
    assert_eq!(health.consecutive_failures, 1);
    assert_eq!(health.pending_rows, 2, "rows kept after a failed save");
    assert!(health.last_error.is_some());

    // Back-off of 250 ms: no attempt before it ends.
    assert_eq!(persist.maybe_save(t0 + ms(1249)), None);
    assert_eq!(persist.health().consecutive_failures, 1);
    // Then a retry, which fails again (not the first of the episode).
    assert!(matches!(
        persist.maybe_save(t0 + ms(1250)),
        Some(PersistEvent::Failed {
            first_in_episode: false,
            ..
        })
    ));
    assert_eq!(persist.health().consecutive_failures, 2);

    // The lock is released, but the back-off (now 500 ms) is still running:
    // no attempt is made, so the rows are not in the database yet.
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    persist.stage(counted_row("b", 2));
    assert_eq!(persist.maybe_save(t0 + ms(1749)), None);
    assert_eq!(total_of(&rows_in_db(&dir.db()), "c"), None);
    assert_eq!(persist.pending_len(), 3);

    assert_eq!(
        persist.maybe_save(t0 + ms(1750)),
        Some(PersistEvent::Recovered { rows: 3 })
    );
    let health = persist.health();
    assert!(!health.failing);
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(health.pending_rows, 0);
    let rows = rows_in_db(&dir.db());
    assert_eq!(total_of(&rows, "a"), Some(2));
    assert_eq!(total_of(&rows, "b"), Some(2));
    assert_eq!(total_of(&rows, "c"), Some(1));

    // Back to normal: the next save is a plain Saved.
    persist.stage(counted_row("a", 3));
    assert_eq!(
        persist.maybe_save(t0 + ms(2250)),
        Some(PersistEvent::Saved { rows: 1 })
    );
}

#[test]
fn the_back_off_doubles_up_to_the_maximum_and_resets_after_success() {
    let dir = TempDir::new("backoff");
    let t0 = Instant::now();
    let (mut persist, _) = PersistentStats::open(options(&dir.db()), t0);
    let locker = hold_write_lock(&dir.db());
    persist.stage(counted_row("a", 1));

    // initial 250 ms, doubling, capped at max_backoff = 1 s.
    let mut at = t0 + ms(500);
    for wait in [250, 500, 1000, 1000, 1000] {
        assert!(matches!(
            persist.maybe_save(at),
            Some(PersistEvent::Failed { .. })
        ));
        assert_eq!(persist.maybe_save(at + ms(wait - 1)), None);
        at += ms(wait);
    }
    assert_eq!(persist.health().consecutive_failures, 5);

    // save_now ignores the back-off (flush / shutdown).
    assert!(matches!(
        persist.save_now(at - ms(10)),
        Some(PersistEvent::Failed { .. })
    ));
    assert_eq!(persist.health().consecutive_failures, 6);

    drop(locker);
    assert_eq!(
        persist.save_now(at),
        Some(PersistEvent::Recovered { rows: 1 })
    );

    // After success the back-off starts again from the initial value.
    let locker = hold_write_lock(&dir.db());
    persist.stage(counted_row("a", 2));
    let at = at + ms(500);
    assert!(matches!(
        persist.maybe_save(at),
        Some(PersistEvent::Failed {
            first_in_episode: true,
            ..
        })
    ));
    assert_eq!(persist.maybe_save(at + ms(249)), None);
    assert!(matches!(
        persist.maybe_save(at + ms(250)),
        Some(PersistEvent::Failed { .. })
    ));
    drop(locker);
}

#[test]
fn unavailable_at_start_then_late_load_never_overwrites_stored_counts() {
    let dir = TempDir::new("late");
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        store
            .save(&[counted_row("a", 100), counted_row("b", 50)])
            .unwrap();
    }
    // In rollback-journal mode an exclusive transaction blocks readers too, so
    // the open at start fails (busy).
    let locker = Connection::open(dir.db()).unwrap();
    let mode: String = locker
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let t0 = Instant::now();
    let (mut persist, loaded) = PersistentStats::open(options(&dir.db()), t0);
    assert!(loaded.is_empty(), "nothing could be loaded");
    let health = persist.health();
    assert!(health.failing);
    assert_eq!(health.consecutive_failures, 1);
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("locked"),
        "{health:?}"
    );

    // The core counts from zero meanwhile.
    persist.stage(counted_row("a", 3));
    persist.stage(counted_row("new", 1));
    assert_eq!(persist.maybe_save(t0 + ms(249)), None, "back-off");
    assert!(matches!(
        persist.maybe_save(t0 + ms(250)),
        Some(PersistEvent::Failed {
            first_in_episode: false,
            ..
        })
    ));
    assert_eq!(persist.pending_len(), 2);

    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    // Available now: the stored rows are handed over instead of saving.
    let stored = match persist.maybe_save(t0 + ms(750)) {
        Some(PersistEvent::LateLoad(rows)) => rows,
        other => panic!("expected a late load, got {other:?}"),
    };
    assert_eq!(stored, vec![counted_row("a", 100), counted_row("b", 50)]);
    assert!(!persist.health().failing);
    // The zero-based row of "a" was dropped; "new" is still pending.
    assert_eq!(persist.pending_len(), 1);
    assert_eq!(total_of(&rows_in_db(&dir.db()), "a"), Some(100));

    // The core merges (100 stored + 3 since start) and stages the result.
    persist.stage(counted_row("a", 103));
    assert_eq!(
        persist.maybe_save(t0 + ms(1250)),
        Some(PersistEvent::Saved { rows: 2 })
    );
    let rows = rows_in_db(&dir.db());
    assert_eq!(total_of(&rows, "a"), Some(103));
    assert_eq!(total_of(&rows, "b"), Some(50), "untouched");
    assert_eq!(total_of(&rows, "new"), Some(1));
}

#[test]
fn save_now_while_unavailable_at_start_hands_over_the_stored_rows_first() {
    let dir = TempDir::new("late-flush");
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        store.save(&[counted_row("a", 10)]).unwrap();
    }
    let locker = Connection::open(dir.db()).unwrap();
    locker
        .query_row("PRAGMA journal_mode = DELETE", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let t0 = Instant::now();
    let (mut persist, loaded) = PersistentStats::open(options(&dir.db()), t0);
    assert!(loaded.is_empty());
    persist.stage(counted_row("a", 1));
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    // Shutdown flush: even with back-off running, the late load comes first.
    assert_eq!(
        persist.save_now(t0 + ms(1)),
        Some(PersistEvent::LateLoad(vec![counted_row("a", 10)]))
    );
    assert_eq!(persist.pending_len(), 0);
    persist.stage(counted_row("a", 11));
    assert_eq!(
        persist.save_now(t0 + ms(2)),
        Some(PersistEvent::Saved { rows: 1 })
    );
    assert_eq!(total_of(&rows_in_db(&dir.db()), "a"), Some(11));
}

/// Sets the "file format write version" byte of an SQLite database header
/// (offset 18) and returns the previous value. Above 2, SQLite opens the file
/// read-only for every user, root included: a read-only database that does
/// not depend on file permissions.
fn set_sqlite_write_version(db: &Path, version: u8) -> u8 {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = fs::OpenOptions::new()
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
fn a_read_only_database_is_reported_as_failing() {
    let dir = TempDir::new("readonly");
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        store.save(&[counted_row("a", 42)]).unwrap();
    }
    assert!(
        !dir.0.join("stats.db-wal").exists(),
        "checkpointed on close: the header read is the file's own"
    );
    let writable = set_sqlite_write_version(&dir.db(), 3);
    assert!(writable <= 2, "{writable}");
    assert_read_only_then_recovering(&dir, || {
        set_sqlite_write_version(&dir.db(), writable);
    });
}

/// The same with real file and directory permissions, which only bind a
/// user without privileges: run with `cargo test -- --ignored` as such a user.
#[cfg(unix)]
#[test]
#[ignore = "needs non-root: root ignores file permissions"]
fn a_read_only_database_is_reported_as_failing_for_real() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new("readonly-for-real");
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        store.save(&[counted_row("a", 42)]).unwrap();
    }
    fs::set_permissions(dir.db(), fs::Permissions::from_mode(0o444)).unwrap();
    fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o555)).unwrap();
    assert!(
        fs::write(dir.0.join("probe"), b"x").is_err(),
        "this user ignores file permissions: run this test as a user without privileges"
    );
    assert_read_only_then_recovering(&dir, || {
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir.db(), fs::Permissions::from_mode(0o644)).unwrap();
    });
}

/// The database at `dir` holds row `a` = 42 and cannot be written until
/// `restore` runs.
fn assert_read_only_then_recovering(dir: &TempDir, restore: impl FnOnce()) {
    let err = StatsStore::open(&dir.db()).unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::ReadOnly, "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");

    let t0 = Instant::now();
    let (mut persist, loaded) = PersistentStats::open(options(&dir.db()), t0);
    assert!(loaded.is_empty());
    let health = persist.health();
    assert!(health.failing, "{health:?}");
    assert!(health.last_error.is_some());
    persist.stage(counted_row("a", 1));
    assert!(matches!(
        persist.maybe_save(t0 + ms(250)),
        Some(PersistEvent::Failed { .. })
    ));
    assert_eq!(persist.pending_len(), 1);

    // Writable again: the stored row comes back as a late load.
    restore();
    assert_eq!(
        persist.maybe_save(t0 + ms(750)),
        Some(PersistEvent::LateLoad(vec![counted_row("a", 42)]))
    );
    assert_eq!(persist.pending_len(), 0);
}

// ---------------------------------------------------------------------------
// Documentation

/// Every ```sql block of QUERIES.md runs against a populated database and
/// the answers are the expected ones for a few of them.
#[test]
fn the_documented_queries_run() {
    let dir = TempDir::new("queries");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    {
        let mut store = StatsStore::open(&dir.db()).unwrap();
        store
            .save(&[full_row("failing"), counted_row("healthy", 10)])
            .unwrap();
        // Two minutes ago: in the last hour and, as an hour row, in the
        // last 24 hours and today or yesterday.
        let minute = (now as i64 - 120) / 60 * 60;
        let mut healthy = RollupRow::new("healthy", minute, MINUTE_SECS);
        healthy.success = 10;
        healthy.sum_ms = 15.0;
        let mut failing = RollupRow::new("failing", minute, MINUTE_SECS);
        failing.success = 1;
        failing.error = 2;
        failing.panic = 1;
        failing.sum_ms = 4.0;
        store
            .save_batch(&[], &[healthy, failing], Some(SaveStamp::default()))
            .unwrap();
    }
    let conn = Connection::open(dir.db()).unwrap();
    // Make "healthy" run a minute ago, with the format the core writes.
    conn.execute(
        "UPDATE function_stats SET last_execution_time =
             strftime('%Y-%m-%dT%H:%M:%f000Z', ?1, 'unixepoch'),
             p95_execution_time_ms = 1.5
         WHERE name = 'healthy'",
        [now as i64 - 60],
    )
    .unwrap();

    let doc = include_str!("../src/stats_store/QUERIES.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sql") => current = Some(String::new()),
            (Some(sql), "```") => {
                blocks.push(std::mem::take(sql));
                current = None;
            }
            (Some(sql), _) => {
                sql.push_str(line);
                sql.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(blocks.len() >= 5, "found {} sql blocks", blocks.len());

    let mut answers = Vec::new();
    for sql in &blocks {
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
        let columns = stmt.column_count();
        let first_column: Vec<String> = stmt
            .query_map([], |row| {
                let v: rusqlite::types::Value = row.get(0)?;
                Ok(format!("{v:?}"))
            })
            .unwrap_or_else(|e| panic!("{e}\n{sql}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        assert!(columns >= 1);
        answers.push((sql.clone(), first_column));
    }
    let answer = |needle: &str| {
        answers
            .iter()
            .find(|(sql, _)| sql.contains(needle))
            .map(|(_, rows)| rows.clone())
            .unwrap_or_else(|| panic!("no query containing {needle}"))
    };
    assert_eq!(
        answer("status IN ('error', 'degraded')"),
        vec![r#"Text("failing")"#]
    );
    assert_eq!(
        answer("error_rate_pct"),
        vec![r#"Text("failing")"#, r#"Text("healthy")"#]
    );
    assert_eq!(
        answer("ORDER BY p95_execution_time_ms DESC"),
        vec![r#"Text("failing")"#, r#"Text("healthy")"#]
    );
    assert_eq!(answer("'-1 hour'"), vec![r#"Text("healthy")"#]);
    assert_eq!(
        answer("'-24 hours'"),
        vec![r#"Text("failing")"#, r#"Text("healthy")"#]
    );
    assert_eq!(answer("AND name = 'healthy'").len(), 1);
    assert_eq!(
        answer("'-6 days'"),
        vec![r#"Text("failing")"#, r#"Text("healthy")"#]
    );
    assert_eq!(
        answer("FROM schema_version"),
        vec![format!("Integer({SCHEMA_VERSION})")]
    );
}
