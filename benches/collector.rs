//! Collector throughput: executions per second written to the JSONL log and
//! counted in the statistics, by the one collector thread.
//!
//! One producer thread records executions in batches no larger than its ring
//! (so nothing is ever dropped), then `flush()`es; the time per execution is
//! wall time including the flush, so it is the collector's cost per execution
//! whenever the collector is the slower side (it is: the caller's side is
//! tens of nanoseconds). At the end the benchmark checks that none was
//! dropped, that every recorded execution was counted, and that every one is
//! a whole line in the executions log (and every error one in the errors
//! log), so the time measured is the time to write them.
//!
//! "Written" is `write(2)` returning: the lines are in the page cache, as
//! for any buffered logger. Before each sample (untimed) the logs are
//! `fsync`ed, so every sample starts with no dirty pages. Without that, a
//! sample ran while the kernel was still writing back earlier samples' (and
//! the other group's) gigabytes, and throttled the writer to the disk's own
//! speed: the errors group measured 0.34 to 1.08 M executions/s from one
//! run to the next, in whatever order the groups ran. Sustained for longer
//! than the page cache absorbs, the logs cannot go faster than the disk
//! (BENCHMARKS.md has this machine's).
//!
//! A second group, `collector_default_retention`, times the errors again
//! under the library's default retention: the errors log rotates before
//! 10 MiB and keeps at most 256 MiB, the executions log rotates before
//! 128 MiB and keeps at most 1 GiB, so rotations and deletions are in the
//! timing, and the page cache the logs use stays bounded. Lines that were
//! deleted cannot be read back, so there the check is that none was dropped,
//! every one was counted, no log reported failing (`sink_failing`), every
//! file left holds whole lines, and the logs stayed within their caps.
//!
//! Run: `cargo bench --bench collector`; tabulate: `python3 benches/report.py`.

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use monitor::{monitored, Alert, AlertRule, Monitor, Retention};

/// Executions recorded between two flushes; also the per-thread ring size.
const BATCH: u64 = 1 << 16;

/// `Clone` and plain data, like `overhead`'s `WorkError`: the collector
/// formats its message and chain (`capture/deferred.rs`), so that work is
/// timed here, not on the caller.
#[derive(Debug, Clone)]
pub struct JobError {
    code: u64,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job failed with code {}", self.code)
    }
}

impl Error for JobError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&CAUSE)
    }
}

/// The `source()` of every [`JobError`] (an error with a chain, as in `overhead`).
#[derive(Debug)]
pub struct JobCause;

impl fmt::Display for JobCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by peer")
    }
}

impl Error for JobCause {}

static CAUSE: JobCause = JobCause;

/// What every line of [`job`] holds, in both logs.
const JOB_LINE: &[u8] = b"\"name\":\"bench_job\"";

/// `Ok` on even input, `Err` on odd input.
#[monitored(name = "bench_job")]
#[inline(never)]
fn job(x: u64) -> Result<u64, JobError> {
    let mixed = (x ^ (x >> 29))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9)
        .rotate_left(23);
    if x & 1 == 0 {
        Ok(mixed)
    } else {
        Err(JobError { code: mixed })
    }
}

/// Records `iters` executions of the given parity in ring-sized batches, each
/// followed by a flush; returns the wall time of the whole thing.
fn record_and_flush(iters: u64, parity: u64) -> Duration {
    let started = Instant::now();
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BATCH);
        for i in 0..n {
            let _ = black_box(job(black_box(((done + i) << 1) | parity)));
        }
        assert!(monitor::flush(), "the collector answered the flush");
        done += n;
    }
    started.elapsed()
}

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    every_line_kept(&mut c);
    default_retention(&mut c);
    c.final_summary();
}

/// Times `group/name`: ring-sized batches of executions of `parity`, after
/// the logs under `dir` are written back (untimed); returns how many were
/// recorded.
fn time_executions(
    c: &mut Criterion,
    group: &str,
    name: &str,
    parity: u64,
    dir: &std::path::Path,
) -> u64 {
    let recorded = Cell::new(0u64);
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            write_back(dir);
            let elapsed = record_and_flush(iters, parity);
            recorded.set(recorded.get() + iters);
            elapsed
        });
    });
    group.finish();
    recorded.get()
}

/// `collector`: successes, then errors, into logs with no size cap; every
/// line is read back at the end.
fn every_line_kept(c: &mut Criterion) {
    let dir = scratch_dir("collector");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .queue_capacity(BATCH as usize)
        .capture_backtraces(false)
        // No size cap: the check below reads every line back, and a run
        // writes more than the default 1 GiB cap of the executions log.
        .executions_retention(Retention::days(30))
        .errors_retention(Retention::days(30))
        .install()
        .expect("install the monitor");

    let successes = time_executions(c, "collector", "success_executions", 0, &dir);
    let errors = time_executions(c, "collector", "error_executions", 1, &dir);

    assert!(guard.flush());
    let counted = assert_all_counted(successes, errors);
    drop(guard); // everything written and synced
    let (lines, bytes) = count_lines(&dir.join("executions"), JOB_LINE);
    assert_eq!(
        lines,
        successes + errors,
        "every execution is a line in the executions log"
    );
    let (error_lines, _) = count_lines(&dir.join("errors"), JOB_LINE);
    assert_eq!(
        error_lines, errors,
        "every error is a line in the errors log"
    );
    eprintln!(
        "collector: {} executions recorded, counted and written, none dropped; executions log {:.1} MiB ({:.0} bytes/line)",
        counted,
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / counted.max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `collector_default_retention`: errors into logs with the default
/// rotation and size caps.
fn default_retention(c: &mut Criterion) {
    let dir = scratch_dir("collector-retention");
    let sink_failing = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&sink_failing);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .queue_capacity(BATCH as usize)
        .capture_backtraces(false)
        .on_alert(move |alert: &Alert| {
            if alert.rule == AlertRule::SinkFailing {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
        .install()
        .expect("install the monitor");

    let errors = time_executions(
        c,
        "collector_default_retention",
        "error_executions",
        1,
        &dir,
    );

    assert!(guard.flush());
    assert_all_counted(0, errors);
    drop(guard);
    assert_eq!(
        sink_failing.load(Ordering::Relaxed),
        0,
        "no log reported failing"
    );
    let (execution_lines, execution_bytes) = count_lines(&dir.join("executions"), JOB_LINE);
    let (error_lines, error_bytes) = count_lines(&dir.join("errors"), JOB_LINE);
    // The caps count the current file too; one file more allows for a
    // deletion the maintenance thread had not made when the guard returned.
    assert!(
        execution_bytes <= (1 << 30) + (128 << 20),
        "{execution_bytes} bytes of executions log"
    );
    assert!(
        error_bytes <= (256 << 20) + (10 << 20),
        "{error_bytes} bytes of errors log"
    );
    assert!(execution_lines <= errors && error_lines <= errors && error_lines > 0);
    eprintln!(
        "collector_default_retention: {errors} errors recorded, counted and written, none dropped; kept {:.1} MiB of executions log and {:.1} MiB of errors log",
        execution_bytes as f64 / (1 << 20) as f64,
        error_bytes as f64 / (1 << 20) as f64,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Asserts that nothing was dropped and that `bench_job` counted exactly
/// the successes and errors recorded; returns its total.
fn assert_all_counted(successes: u64, errors: u64) -> u64 {
    let stats = monitor::stats();
    assert_eq!(
        stats.dropped_events, 0,
        "the collector benchmark dropped executions"
    );
    let job = stats.get("bench_job").expect("bench_job was counted");
    assert_eq!(
        (job.success_count, job.error_count),
        (successes, errors),
        "every recorded execution is counted"
    );
    job.total_executions
}

/// Writes back every log file under `dir` (`fsync`), so that the next sample
/// does not run while the kernel writes back this one's lines.
fn write_back(dir: &std::path::Path) {
    for log in ["executions", "errors"] {
        let Ok(entries) = std::fs::read_dir(dir.join(log)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if let Ok(file) = std::fs::File::open(&path) {
                let _ = file.sync_all();
            }
        }
    }
}

/// Lines containing `needle` in every file of `dir` (rotated ones too), and
/// the bytes read; panics on a file that does not end with a whole line.
fn count_lines(dir: &std::path::Path, needle: &[u8]) -> (u64, u64) {
    use std::io::BufRead;
    let (mut lines, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(dir).expect("the log directory") {
        let path = entry.expect("a directory entry").path();
        let mut reader = std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(&path).expect("a log file"),
        );
        let mut line = Vec::with_capacity(512);
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).expect("readable");
            if n == 0 {
                break;
            }
            bytes += n as u64;
            assert!(
                line.first() == Some(&b'{') && line.ends_with(b"}\n"),
                "{} has a partial line",
                path.display()
            );
            if line.windows(needle.len()).any(|window| window == needle) {
                lines += 1;
            }
        }
    }
    (lines, bytes)
}
