//! Cost per `tracing` span (create, enter, exit, close) through
//! `registry().with(monitor::layer())`, against the same span through a JSON
//! `fmt` layer writing through `tracing-appender`'s non-blocking daily file.
//!
//! Every subscriber records the same span: `info_span!(target: "bench",
//! "request", id)` entered around the same tiny body. Spans are timed in
//! batches; between batches, outside the timing, the monitor is flushed so
//! its per-thread ring never overflows (asserted: `dropped_events == 0`), and
//! the appender runs with `lossy(false)` so no line is dropped either
//! (asserted through its error counter).
//!
//! Run: `cargo bench --bench span_layer`; tabulate: `python3 benches/report.py`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use monitor::Monitor;
use tracing::Dispatch;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;

/// Spans timed between two flushes (the monitor's ring holds 8,192 by default).
const BATCH: u64 = 4096;

#[inline(never)]
fn body(x: u64) -> u64 {
    (x ^ (x >> 29))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9)
        .rotate_left(23)
}

/// Times `iters` spans under `dispatch` in batches, running `between` after
/// each batch outside the timing.
fn spans(dispatch: &Dispatch, iters: u64, between: impl Fn()) -> Duration {
    tracing::dispatcher::with_default(dispatch, || {
        let mut total = Duration::ZERO;
        let mut done = 0;
        while done < iters {
            let n = (iters - done).min(BATCH);
            let started = Instant::now();
            for i in 0..n {
                let span = tracing::info_span!(target: "bench", "request", id = i);
                black_box(span.in_scope(|| body(black_box(i))));
            }
            total += started.elapsed();
            between();
            done += n;
        }
        total
    })
}

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// A non-blocking writer into a daily file that never drops a line.
fn appender(dir: &std::path::Path) -> (NonBlocking, ErrorCounter, WorkerGuard) {
    let file = tracing_appender::rolling::daily(dir, "spans.log");
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(file);
    let errors = writer.error_counter();
    (writer, errors, guard)
}

fn main() {
    let monitor_dir = scratch_dir("span-monitor");
    let tracing_dir = scratch_dir("span-tracing");
    let guard = Monitor::builder()
        .log_dir(&monitor_dir)
        .install()
        .expect("install the monitor");

    let registry_only = Dispatch::new(tracing_subscriber::registry());
    let monitor_layer = Dispatch::new(tracing_subscriber::registry().with(monitor::layer()));
    let (close_writer, close_errors, close_guard) = appender(&tracing_dir.join("close"));
    let fmt_json_close = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_span_events(FmtSpan::CLOSE)
                .with_writer(close_writer),
        ),
    );
    let (plain_writer, plain_errors, plain_guard) = appender(&tracing_dir.join("plain"));
    let fmt_json_no_span_events = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(plain_writer),
        ),
    );

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    let mut group = c.benchmark_group("span_layer");
    group.bench_function("registry_only", |b| {
        b.iter_custom(|iters| spans(&registry_only, iters, || {}))
    });
    group.bench_function("monitor_layer", |b| {
        b.iter_custom(|iters| {
            let elapsed = spans(&monitor_layer, iters, || assert!(monitor::flush()));
            assert_eq!(
                monitor::stats().dropped_events,
                0,
                "the monitor dropped spans"
            );
            elapsed
        })
    });
    group.bench_function("fmt_json_close_appender", |b| {
        b.iter_custom(|iters| spans(&fmt_json_close, iters, || {}))
    });
    group.bench_function("fmt_json_no_span_events_appender", |b| {
        b.iter_custom(|iters| spans(&fmt_json_no_span_events, iters, || {}))
    });
    group.finish();
    c.final_summary();

    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.dropped_events, 0, "the monitor dropped spans");
    assert!(
        stats
            .get("bench::request")
            .is_some_and(|s| s.total_executions > 0),
        "the monitor layer recorded the spans"
    );
    assert_eq!(
        close_errors.dropped_lines(),
        0,
        "tracing-appender dropped lines"
    );
    assert_eq!(
        plain_errors.dropped_lines(),
        0,
        "tracing-appender dropped lines"
    );
    drop(guard);
    drop(close_guard);
    drop(plain_guard);
    let _ = std::fs::remove_dir_all(&monitor_dir);
    let _ = std::fs::remove_dir_all(&tracing_dir);
}
