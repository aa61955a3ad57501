//! The `rollups` table of the statistics store: merged on save, staged
//! deltas kept across failures, read back read-only.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use monitor_sinks::stats_store::{
    legacy_schema, NameMatch, PersistEvent, PersistOptions, PersistentStats, RollupReader,
    RollupRow, SaveStamp, StatsStore, DAY_SECS, HOUR_SECS, MINUTE_SECS, SCHEMA_VERSION,
};
use rusqlite::Connection;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "monitor-sinks-rollups-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("stats.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// 2026-12-06T10:00:00Z.
const TEN: i64 = 1_796_551_200;

fn delta(name: &str, minute: i64, success: u64, error: u64, ms: &[f64]) -> RollupRow {
    let mut row = RollupRow::new(name, minute, MINUTE_SECS);
    row.success = success;
    row.error = error;
    row.sum_ms = ms.iter().sum();
    row.min_ms = ms.iter().copied().reduce(f64::min);
    row.max_ms = ms.iter().copied().reduce(f64::max);
    row.histogram = vec![(1000, ms.len() as u64)];
    row
}

fn read_all(path: &std::path::Path, secs: u32) -> Vec<RollupRow> {
    let mut rows = RollupReader::open(path)
        .unwrap()
        .read(secs, i64::MIN / 2, i64::MAX / 2, NameMatch::All)
        .unwrap()
        .rows;
    rows.sort_by(|a, b| (&a.name, a.bucket_start).cmp(&(&b.name, b.bucket_start)));
    rows
}

#[test]
fn saved_deltas_add_up_in_minute_and_hour_rows() {
    let dir = TempDir::new("merge");
    let mut store = StatsStore::open(&dir.db()).unwrap();
    let stamp = |saves| SaveStamp { run: 7, saves };
    store
        .save_batch(
            &[],
            &[
                delta("f", TEN + 60, 2, 0, &[1.0, 3.0]),
                delta("f", TEN + 120, 1, 1, &[2.0, 2.0]),
                delta("g", TEN + 3600, 1, 0, &[5.0]),
            ],
            Some(stamp(1)),
        )
        .unwrap();
    // The same minute again (a late execution): added, not replaced.
    store
        .save_batch(&[], &[delta("f", TEN + 60, 0, 1, &[9.0])], Some(stamp(2)))
        .unwrap();

    let minutes = read_all(&dir.db(), MINUTE_SECS);
    assert_eq!(minutes.len(), 3);
    let f = &minutes[0];
    assert_eq!((f.bucket_start, f.success, f.error), (TEN + 60, 2, 1));
    assert_eq!((f.sum_ms, f.min_ms, f.max_ms), (13.0, Some(1.0), Some(9.0)));
    assert_eq!(f.histogram, vec![(1000, 3)]);

    let hours = read_all(&dir.db(), HOUR_SECS);
    assert_eq!(
        hours
            .iter()
            .map(|r| (
                r.name.as_str(),
                r.bucket_start,
                r.success,
                r.error,
                r.sum_ms
            ))
            .collect::<Vec<_>>(),
        vec![("f", TEN, 3, 2, 17.0), ("g", TEN + 3600, 1, 0, 5.0)]
    );
    let days = read_all(&dir.db(), DAY_SECS);
    let midnight = TEN - 10 * 3600;
    assert_eq!(
        days.iter()
            .map(|r| (r.name.as_str(), r.bucket_start, r.total(), r.max_ms))
            .collect::<Vec<_>>(),
        vec![("f", midnight, 5, Some(9.0)), ("g", midnight, 1, Some(5.0))]
    );
    let mut reader = RollupReader::open(&dir.db()).unwrap();
    let read = reader
        .read(MINUTE_SECS, TEN, TEN + 120, NameMatch::Prefix("f"))
        .unwrap();
    assert_eq!(read.stamp, Some(stamp(2)));
    assert_eq!(read.rows.len(), 1, "bucket starts from..to, `to` excluded");
    assert!(reader
        .read(HOUR_SECS, TEN, TEN + 7200, NameMatch::Exact("h"))
        .unwrap()
        .rows
        .is_empty());
}

#[test]
fn staged_rollups_survive_a_locked_database_and_are_saved_once() {
    let dir = TempDir::new("locked");
    let t0 = Instant::now();
    let options = PersistOptions {
        busy_timeout: Duration::from_millis(20),
        ..PersistOptions::new(dir.db())
    };
    let (mut persist, _) = PersistentStats::open(options, t0);
    let run = persist.stamp().run;
    assert_eq!(persist.stamp().saves, 0);
    persist.stage_rollup(delta("f", TEN, 1, 0, &[1.0]));
    persist.stage_rollup(delta("f", TEN, 1, 0, &[2.0]));
    assert_eq!(persist.pending_rollups().len(), 1, "merged while pending");

    let locker = Connection::open(dir.db()).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert!(matches!(
        persist.save_now(t0),
        Some(PersistEvent::Failed { .. })
    ));
    assert_eq!(persist.pending_rollups().len(), 1);
    assert_eq!(persist.stamp().saves, 0);
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    assert!(matches!(
        persist.save_now(t0 + Duration::from_secs(1)),
        Some(PersistEvent::Recovered { .. })
    ));
    assert!(persist.pending_rollups().is_empty());
    assert_eq!(persist.stamp(), SaveStamp { run, saves: 1 });
    let rows = read_all(&dir.db(), MINUTE_SECS);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].success, rows[0].sum_ms), (2, 3.0));
    // Nothing pending: nothing to save, no second copy.
    assert_eq!(persist.save_now(t0 + Duration::from_secs(2)), None);
    assert_eq!(read_all(&dir.db(), MINUTE_SECS)[0].success, 2);
}

#[test]
fn a_version_5_file_is_migrated_to_6_with_empty_rollups() {
    let dir = TempDir::new("v5");
    legacy_schema::write_legacy_file(&dir.db(), 5, &[]).unwrap();
    let mut reader = RollupReader::open(&dir.db()).unwrap();
    assert!(!reader.has_rollups());
    assert_eq!(
        reader
            .read(MINUTE_SECS, 0, i64::MAX, NameMatch::All)
            .unwrap()
            .rows,
        Vec::new()
    );
    drop(reader);
    let store = StatsStore::open(&dir.db()).unwrap();
    assert_eq!(store.report().migrated_from, Some(5));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    drop(store);
    let reader = RollupReader::open(&dir.db()).unwrap();
    assert!(reader.has_rollups());
}
