//! Soak: a sustained load for a long time, watching the process's resident
//! memory and open file descriptors (Linux: `/proc/self`).
//!
//! Two threads record 100,000 executions per second in all (one in ten an
//! `Err` with a source, one in a thousand a panic), the executions log rotates
//! at 16 MiB (every few seconds at this rate) and the errors log at 2 MiB,
//! with rotated files capped at four per log so the disk stays bounded.
//! Every second the bench samples RSS and the number of open descriptors; at
//! the end it prints the start (after a warm-up), peak and end values, and
//! checks that every execution was counted.
//!
//! Run: `SOAK_SECS=600 cargo bench --bench soak` (default 600 s; `SOAK_RATE`
//! sets executions per second). Not a test: it takes minutes and its numbers
//! belong in BENCHMARKS.md.

use std::error::Error;
use std::fmt;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor::{monitored, Monitor, Retention, Rotation};

#[derive(Debug)]
struct Cause;

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by peer")
    }
}

impl Error for Cause {}

#[derive(Debug)]
struct JobError {
    attempt: u64,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upload attempt {} failed", self.attempt)
    }
}

impl Error for JobError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&Cause)
    }
}

#[monitored(name = "soak_job")]
#[inline(never)]
fn job(i: u64) -> Result<u64, JobError> {
    if i % 1000 == 999 {
        panic!("soak panic {i}");
    }
    if i % 10 == 3 {
        return Err(JobError { attempt: i });
    }
    Ok(black_box(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Resident set size in KiB (`VmRSS` of `/proc/self/status`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Calls `job` at `per_second` until `stop`, in 1 ms slices.
fn produce(per_second: u64, offset: u64, stop: &AtomicBool, calls: &AtomicU64) {
    let per_slice = (per_second / 1000).max(1);
    let started = Instant::now();
    let mut slice = 0u64;
    let mut i = offset;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..per_slice {
            let _ = std::panic::catch_unwind(|| job(i));
            i += 2;
        }
        calls.fetch_add(per_slice, Ordering::Relaxed);
        slice += 1;
        // Pacing, not synchronisation: hold the rate steady.
        let due = started + Duration::from_millis(slice);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument means "not this one".
    if std::env::args().skip(1).any(|arg| !arg.starts_with("--")) {
        return;
    }
    let seconds = env_u64("SOAK_SECS", 600);
    let rate = env_u64("SOAK_RATE", 100_000);
    let warm_up = seconds.min(10);
    let dir = std::env::temp_dir().join(format!("monitor-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::panic::set_hook(Box::new(|_| {}));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .executions_rotation(Rotation::Size(16 << 20))
        .executions_retention(Retention::days(1).with_max_files(4))
        .errors_rotation(Rotation::Size(2 << 20))
        .errors_retention(Retention::days(1).with_max_files(4))
        .install()
        .expect("install");

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..2)
        .map(|offset| {
            let (stop, calls) = (Arc::clone(&stop), Arc::clone(&calls));
            std::thread::Builder::new()
                .name(format!("soak-{offset}"))
                .spawn(move || produce(rate / 2, offset, &stop, &calls))
                .unwrap()
        })
        .collect();

    let mut start = (0, 0);
    let mut peak_rss = 0;
    let mut max_fds = 0;
    let began = Instant::now();
    for second in 1..=seconds {
        let due = began + Duration::from_secs(second);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (rss, fds) = (rss_kib(), open_fds());
        if second == warm_up {
            start = (rss, fds);
        }
        if second >= warm_up {
            peak_rss = peak_rss.max(rss);
            max_fds = max_fds.max(fds);
        }
        if second % 60 == 0 {
            eprintln!(
                "soak: {second:>4} s  rss {rss:>7} KiB  fds {fds:>3}  calls {}",
                calls.load(Ordering::Relaxed)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for producer in producers {
        producer.join().unwrap();
    }
    assert!(guard.flush());
    let end = (rss_kib(), open_fds());
    let stats = monitor::stats();
    let recorded = stats.get("soak_job").map_or(0, |f| f.total_executions);
    let made = calls.load(Ordering::Relaxed);
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);

    println!("soak: {seconds} s at {rate} executions/s (10 % errors, 0.1 % panics)");
    println!("| | RSS (KiB) | open fds |");
    println!("| --- | ---: | ---: |");
    println!("| start (after {warm_up} s) | {} | {} |", start.0, start.1);
    println!("| peak | {peak_rss} | {max_fds} |");
    println!("| end | {} | {} |", end.0, end.1);
    println!(
        "executions: {made} made, {recorded} counted, {} dropped",
        stats.dropped_events
    );
    assert_eq!(
        recorded + stats.dropped_events,
        made,
        "every execution counted or dropped"
    );
}
