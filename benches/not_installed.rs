//! What `#[monitored]` costs while no monitor is installed. The README says:
//! "monitored functions run normally and record nothing, at the cost of one
//! relaxed atomic load". This bench times the bare function, the same
//! function with `#[monitored]` (its `Ok` and `Err` paths) and, for scale, one
//! relaxed load of a static atomic, all in one group of one run. Calls are
//! timed in a plain loop (`iter_custom`), as in `benches/overhead.rs`.
//!
//! At the end it checks that nothing was recorded: `monitor::stats()` is empty
//! and `monitor::flush()` reports that no monitor answered.
//!
//! Run: `cargo bench --bench not_installed`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;

#[macro_use]
mod work;

use work::{bare, monitored_work, WorkError};

static FLAG: AtomicU32 = AtomicU32::new(0);

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();

    let mut group = c.benchmark_group("not_installed");
    for (name, parity, work) in [
        ("bare", 0, bare as fn(u64) -> Result<u64, WorkError>),
        ("monitored", 0, monitored_work),
        ("bare_error", 1, bare),
        ("monitored_error", 1, monitored_work),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for i in 0..iters {
                    let _ = black_box(work(black_box((i << 1) | parity)));
                }
                started.elapsed()
            })
        });
    }
    group.bench_function("one_relaxed_load", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                black_box(black_box(&FLAG).load(Ordering::Relaxed));
            }
            started.elapsed()
        })
    });
    group.finish();
    c.final_summary();

    assert!(
        monitor::stats().is_empty(),
        "nothing is recorded without a monitor"
    );
    assert!(!monitor::flush(), "no monitor is installed");
}
