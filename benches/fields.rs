//! What context fields cost on the success path, beside the same function
//! without them (`#[monitored]`) and without the attribute (`bare`):
//!
//! - `copy_field`: `fields(id = x)`, a `Copy` value, failure-only: held as
//!   it is, nothing formatted or allocated on success;
//! - `string_field`: `fields(user = user)`, a `&str`, failure-only: copied
//!   to text at the start of every call (an allocation and a copy);
//! - `always_copy_field`: `fields(always, id = x)`: every execution carries
//!   its fields (an `EventExtra` box: one allocation per call, and the
//!   collector's work to write them);
//! - `error_copy_field`: the `Err` path of `copy_field`, beside
//!   `error_no_fields` (`#[monitored]`'s `Err` path).
//!
//! Timed in batches of 4,096 calls with a flush between batches (outside
//! the timing), as `benches/overhead.rs` does, so nothing is ever dropped.
//!
//! Run: `cargo bench --bench fields`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use monitor::{monitored, Monitor};

#[macro_use]
mod work;

use work::{bare, monitored_work, WorkError};

const BATCH: u64 = 4096;

#[monitored(fields(id = x))]
#[inline(never)]
fn copy_field(x: u64) -> Result<u64, WorkError> {
    work_body!(x)
}

#[monitored(fields(user = user))]
#[inline(never)]
fn string_field(x: u64, user: &str) -> Result<u64, WorkError> {
    work_body!(x)
}

#[monitored(fields(always, id = x))]
#[inline(never)]
fn always_copy_field(x: u64) -> Result<u64, WorkError> {
    work_body!(x)
}

fn batches(iters: u64, parity: u64, work: impl Fn(u64) -> Result<u64, WorkError>) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BATCH);
        let started = Instant::now();
        for i in 0..n {
            let _ = black_box(work(black_box((i << 1) | parity)));
        }
        total += started.elapsed();
        assert!(monitor::flush());
        done += n;
    }
    assert_eq!(
        monitor::stats().dropped_events,
        0,
        "this would time the drop path"
    );
    total
}

fn main() {
    let dir = std::env::temp_dir().join(format!("monitor-bench-fields-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .install()
        .expect("install the monitor");
    let user = String::from("user-1234@example.com");
    let user = user.as_str();

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    let mut group = c.benchmark_group("fields_success");
    group.bench_function("bare", |b| b.iter_custom(|n| batches(n, 0, bare)));
    group.bench_function("no_fields", |b| {
        b.iter_custom(|n| batches(n, 0, monitored_work))
    });
    group.bench_function("copy_field", |b| {
        b.iter_custom(|n| batches(n, 0, copy_field))
    });
    group.bench_function("string_field", |b| {
        b.iter_custom(|n| batches(n, 0, |x| string_field(x, user)))
    });
    group.bench_function("always_copy_field", |b| {
        b.iter_custom(|n| batches(n, 0, always_copy_field))
    });
    group.finish();
    let mut group = c.benchmark_group("fields_error");
    group.bench_function("error_no_fields", |b| {
        b.iter_custom(|n| batches(n, 1, monitored_work))
    });
    group.bench_function("error_copy_field", |b| {
        b.iter_custom(|n| batches(n, 1, copy_field))
    });
    group.finish();
    c.final_summary();

    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}
