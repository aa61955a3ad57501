//! Bursts after an idle moment: how many executions a burst loses.
//!
//! The scenario of issue 19: recording threads have each made one call (their
//! ring is registered), the process is idle for 50 ms (so the collector has
//! backed off to its longest sleep), then every thread calls a trivial
//! monitored function N times in a loop. After the burst, `monitor::flush()`
//! and `monitor::stats()` tell how many executions were recorded and how many
//! were dropped; recorded + dropped must equal the calls made (asserted).
//!
//! Not a criterion benchmark: the result is a loss percentage, not a time
//! (the burst's wall time is printed too, as a sanity check). Each case runs
//! [`REPEAT`] times on a freshly installed monitor, and every run is printed.
//!
//! Setups: `defaults` (256 MiB queue memory budget), `budget_64MiB`, and
//! `budget_0` (fixed rings of `queue_capacity`, as before the budget existed,
//! but with the fill-mark wake-up).
//!
//! Run: `cargo bench --bench burst` (a setup name as argument runs only the
//! setups whose name contains it).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use monitor::{monitored, Monitor, MonitorBuilder};

/// Runs per case.
const REPEAT: usize = 3;
/// Idle time before the burst.
const IDLE: Duration = Duration::from_millis(50);

#[monitored(name = "burst_unit")]
#[inline(never)]
fn unit(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

/// One configuration of the monitor the cases run under.
struct Setup {
    name: &'static str,
    builder: fn() -> MonitorBuilder,
}

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Result of one burst.
struct Run {
    dropped: u64,
    calls: u64,
    elapsed: Duration,
}

fn burst(setup: &Setup, threads: usize, calls_per_thread: u64) -> Run {
    let dir = scratch_dir("burst");
    let guard = (setup.builder)()
        .log_dir(&dir)
        .without_stats_db()
        .install()
        .expect("install the monitor");
    let barrier = Barrier::new(threads + 1);
    let elapsed = std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                black_box(unit(0)); // registers this thread's ring
                barrier.wait();
                barrier.wait();
                for i in 0..calls_per_thread {
                    black_box(unit(black_box(i)));
                }
            });
        }
        barrier.wait();
        assert!(monitor::flush());
        std::thread::sleep(IDLE);
        let started = Instant::now();
        barrier.wait();
        started
    })
    .elapsed();
    assert!(monitor::flush());
    let stats = monitor::stats();
    let recorded = stats.get("burst_unit").map_or(0, |s| s.total_executions);
    let calls = threads as u64 * calls_per_thread;
    assert_eq!(
        recorded + stats.dropped_events,
        calls + threads as u64,
        "recorded + dropped must equal the calls made"
    );
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        dropped: stats.dropped_events,
        calls,
        elapsed,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects setups by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let setups = [
        Setup {
            name: "defaults",
            builder: Monitor::builder,
        },
        Setup {
            name: "budget_64MiB",
            builder: || Monitor::builder().queue_memory_budget(64 << 20),
        },
        Setup {
            name: "budget_0",
            builder: || Monitor::builder().queue_memory_budget(0),
        },
    ];
    println!("| setup | threads | calls per thread | run | dropped | loss | burst wall time | ns per call (all threads) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for setup in &setups {
        if filter.as_deref().is_some_and(|f| !setup.name.contains(f)) {
            continue;
        }
        for threads in [1, 4] {
            for calls in [10_000, 100_000, 1_000_000] {
                for run in 1..=REPEAT {
                    let result = burst(setup, threads, calls);
                    println!(
                        "| {} | {threads} | {calls} | {run} | {} | {:.1} % | {:.1} ms | {:.1} |",
                        setup.name,
                        result.dropped,
                        100.0 * result.dropped as f64 / result.calls as f64,
                        result.elapsed.as_secs_f64() * 1e3,
                        result.elapsed.as_nanos() as f64 / result.calls as f64,
                    );
                }
            }
        }
    }
}
