//! The success path of one `#[monitored]` call, for instruction counts under
//! callgrind (repeatable on a loaded machine, unlike wall time):
//!
//! ```text
//! cargo build --release --example success_path
//! valgrind --tool=callgrind --toggle-collect='success_path::batch' \
//!     target/release/examples/success_path
//! callgrind_annotate callgrind.out.<pid> | head
//! ```
//!
//! Instructions of `batch` divided by [`CALLS`] is the cost of one call,
//! the body included (a multiply). The monitor is flushed between batches,
//! outside `batch`, so every call takes the recording path.

use std::hint::black_box;

use monitor::{monitored, Monitor};

/// Calls per batch (half of a thread's default ring).
const BATCH: u64 = 4096;
/// Calls measured in all.
const CALLS: u64 = 100 * BATCH;

#[monitored]
#[inline(never)]
fn work(x: u64) -> Result<u64, std::io::Error> {
    Ok(x.wrapping_mul(31))
}

#[inline(never)]
fn batch(from: u64) -> u64 {
    let mut sum = 0u64;
    for x in from..from + BATCH {
        sum = sum.wrapping_add(black_box(work(black_box(x))).unwrap_or(0));
    }
    sum
}

fn main() {
    let dir = std::env::temp_dir().join(format!("monitor-success-path-{}", std::process::id()));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .without_stats_db()
        .install()
        .expect("install");
    work(0).unwrap(); // the thread's ring and stack, once
    let mut sum = 0u64;
    for round in 0..CALLS / BATCH {
        sum = sum.wrapping_add(batch(round * BATCH));
        assert!(guard.flush());
    }
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
    println!("{} calls, checksum {sum}", CALLS);
}
