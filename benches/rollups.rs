//! Windowed statistics and trends from the roll-ups (issue 13): a `stats.db`
//! holding 7 days of roll-ups of 100 functions, every minute busy (1,008,000
//! minute rows, 16,800 hour rows and 800 day rows), then
//!
//! * `rollup_reader::window` over 24 hours and over 7 days, and
//!   `rollup_reader::trend` over 7 days (another process's read);
//! * `monitor::stats_window` over 7 days and `monitor::trend(7)` in a host
//!   installed on that directory (the file plus the unsaved roll-ups).
//!
//! Then the retention's fold (issue 16): minute rows kept one day instead
//! of seven, so six days of minute rows (864,000) are deleted in batches of
//! 200 rows, each its own transaction, as the collector does after a save
//! (`StatsStore::fold_batch`); every batch is timed (the target: a save,
//! and a fold batch, never more than 50 ms), and a save of a minute of all
//! functions is timed between batches.
//!
//! Not a criterion benchmark: each case runs [`REPEAT`] times and every
//! time is printed, with the median; the target is "well under 200 ms".
//! Generating the file takes a while (it is built with the store's own
//! save, in batches, as a host would have written it).
//!
//! Run: `cargo bench --bench rollups`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use monitor::{rollup_reader, ManualClock, Monitor};
use monitor_sinks::stats_store::{RollupRetention, RollupRow, SaveStamp, StatsStore, MINUTE_SECS};

const FUNCTIONS: usize = 100;
const DAYS: i64 = 7;
const REPEAT: usize = 7;
/// 2026-12-06T12:00:00Z: the end of the generated history.
const END: i64 = 1_796_558_400;

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// A minute of one function: a few hundred executions with a spread of
/// durations (a histogram of a few dozen buckets, as a real one has).
fn minute_row(function: usize, minute: i64) -> RollupRow {
    let mut row = RollupRow::new(
        format!("bench::function_{function:03}"),
        minute,
        MINUTE_SECS,
    );
    let seed = (minute as u64 / 60)
        .wrapping_mul(31)
        .wrapping_add(function as u64);
    row.success = 200 + seed % 50;
    row.error = seed % 7;
    row.panic = u64::from(seed.is_multiple_of(97));
    let total = row.success + row.error + row.panic;
    let mut left = total;
    for i in 0..24u32 {
        let count = if i == 23 {
            left
        } else {
            (total / 24).min(left)
        };
        left -= count;
        if count > 0 {
            // Buckets around 1 ms to 16 ms.
            row.histogram
                .push((950 + i * 11 + (seed % 5) as u32, count));
        }
    }
    row.sum_ms = total as f64 * 3.5;
    row.min_ms = Some(0.9);
    row.max_ms = Some(17.0 + (seed % 10) as f64);
    row
}

fn generate(db: &Path) {
    let started = Instant::now();
    let mut store = StatsStore::open(db).expect("open the store");
    let first = END - DAYS * 86_400;
    let mut batch = Vec::with_capacity(FUNCTIONS * 60);
    let mut saves = 0;
    let mut minute = first;
    while minute < END {
        for function in 0..FUNCTIONS {
            batch.push(minute_row(function, minute));
        }
        minute += 60;
        if batch.len() >= FUNCTIONS * 60 || minute >= END {
            saves += 1;
            store
                .save_batch(&[], &batch, Some(SaveStamp { run: 1, saves }))
                .expect("save a batch");
            batch.clear();
        }
    }
    eprintln!(
        "generated {} minute rows of {FUNCTIONS} functions over {DAYS} days in {:.1} s ({:.0} MB)",
        FUNCTIONS as i64 * DAYS * 1440,
        started.elapsed().as_secs_f64(),
        std::fs::metadata(db).map_or(0, |m| m.len()) as f64 / 1e6
    );
}

fn time<T>(name: &str, mut case: impl FnMut() -> T, check: impl Fn(&T)) {
    let mut times = Vec::with_capacity(REPEAT);
    for _ in 0..REPEAT {
        let started = Instant::now();
        let answer = case();
        times.push(started.elapsed());
        check(&answer);
    }
    let shown: Vec<String> = times
        .iter()
        .map(|t| format!("{:.1}", t.as_secs_f64() * 1e3))
        .collect();
    times.sort();
    println!(
        "{name:<32} median {:>7.1} ms   runs (ms): {}",
        times[REPEAT / 2].as_secs_f64() * 1e3,
        shown.join(" ")
    );
}

/// Rows deleted per fold batch (the collector's default).
const FOLD_BATCH: usize = 200;

/// Folds six days of minute rows away in batches, timing each batch and,
/// every 50 batches, a save of one more minute of every function.
fn fold(db: &Path) {
    let mut store = StatsStore::open(db).expect("open the store");
    let retention = RollupRetention {
        minutes: Duration::from_secs(86_400),
        hours: Duration::from_secs(90 * 86_400),
    };
    let mut batches = Vec::new();
    let mut saves = Vec::new();
    let mut deleted = 0;
    let started = Instant::now();
    loop {
        let at = Instant::now();
        let progress = store.fold_batch(&retention, END, FOLD_BATCH).expect("fold");
        batches.push(at.elapsed());
        deleted += progress.deleted;
        if batches.len() % 50 == 0 {
            let rows: Vec<RollupRow> = (0..FUNCTIONS).map(|f| minute_row(f, END - 60)).collect();
            let at = Instant::now();
            store.save_batch(&[], &rows, None).expect("save");
            saves.push(at.elapsed());
        }
        if !progress.more {
            break;
        }
    }
    let report = |name: &str, times: &mut Vec<Duration>| {
        times.sort();
        let ms = |t: Duration| t.as_secs_f64() * 1e3;
        println!(
            "{name:<32} {} runs: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            times.len(),
            ms(times[times.len() / 2]),
            ms(times[times.len() * 99 / 100]),
            ms(times[times.len() - 1]),
        );
    };
    println!(
        "fold: {deleted} rows deleted in {} batches of {FOLD_BATCH}, {:.1} s in all",
        batches.len(),
        started.elapsed().as_secs_f64()
    );
    report("fold batch (200 rows)", &mut batches);
    report("save of 100 minute rows", &mut saves);
}

fn main() {
    let dir = scratch_dir("rollups");
    let db = dir.join("stats.db");
    generate(&db);
    let now = UNIX_EPOCH + Duration::from_secs(END as u64) - Duration::from_secs(30);
    let week = Duration::from_secs(DAYS as u64 * 86_400);
    let all_functions = |n: usize| assert_eq!(n, FUNCTIONS);

    time(
        "reader window 24h",
        || rollup_reader::window(&db, Duration::from_secs(86_400), now, None).unwrap(),
        |w| all_functions(w.functions.len()),
    );
    time(
        "reader window 7d",
        || rollup_reader::window(&db, week, now, None).unwrap(),
        |w| all_functions(w.functions.len()),
    );
    time(
        "reader trend 7d",
        || rollup_reader::trend(&db, 7, now, None).unwrap(),
        |t| all_functions(t.len()),
    );

    let clock = ManualClock::new(now);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock)
        .install()
        .expect("install on the generated directory");
    time(
        "monitor::stats_window(7d)",
        || monitor::stats_window(week),
        |w| all_functions(w.functions.len()),
    );
    time(
        "monitor::trend(7)",
        || monitor::trend(7),
        |t| all_functions(t.len()),
    );
    drop(guard);
    fold(&db);
    if std::env::var_os("KEEP_ROLLUPS_BENCH_DIR").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("kept {}", dir.display());
    }
}
