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
//! Run: `cargo bench --bench collector`; tabulate: `python3 benches/report.py`.

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use monitor::{monitored, Monitor, Retention};

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

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();

    let recorded = [Cell::new(0u64), Cell::new(0u64)];
    let mut group = c.benchmark_group("collector");
    group.throughput(Throughput::Elements(1));
    for (name, parity) in [("success_executions", 0), ("error_executions", 1)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                write_back(&dir);
                let elapsed = record_and_flush(iters, parity);
                let recorded = &recorded[parity as usize];
                recorded.set(recorded.get() + iters);
                elapsed
            });
        });
    }
    group.finish();
    c.final_summary();

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(
        stats.dropped_events, 0,
        "the collector benchmark dropped executions"
    );
    let (successes, errors) = (recorded[0].get(), recorded[1].get());
    let job = stats.get("bench_job").expect("bench_job was counted");
    assert_eq!(
        (job.success_count, job.error_count),
        (successes, errors),
        "every recorded execution is counted"
    );
    let counted = job.total_executions;
    drop(guard); // everything written and synced
    let (lines, bytes) = count_lines(&dir.join("executions"), b"\"name\":\"bench_job\"");
    assert_eq!(
        lines,
        successes + errors,
        "every execution is a line in the executions log"
    );
    let (error_lines, _) = count_lines(&dir.join("errors"), b"\"name\":\"bench_job\"");
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
