//! Caller overhead of `#[monitored]`, side by side with the bare function, the
//! unavoidable parts (clock reads, one queue push) and the routes people use
//! today (`tracing` + JSON appender, `metered`, `autometrics`).
//!
//! Every variant wraps the same tiny `#[inline(never)]` body and is timed in
//! batches of [`BATCH`] calls (`iter_custom`). Between batches, outside the
//! timing, the monitor is flushed, so its per-thread ring (8,192 events by
//! default) never overflows: these numbers are the recording path, never the
//! drop path, and every benchmark of a monitored function asserts
//! `dropped_events == 0`.
//!
//! Groups (each measured in one run, so the ratios inside a group hold on a
//! noisy machine):
//!
//! - `success`: `Ok` path, one thread;
//! - `error`: `Err` path, one thread; besides the routes of `success`,
//!   `monitored_formatted` returns an error that is not `Clone` (the same
//!   text), which the caller formats, where `monitored`'s error (`Clone`,
//!   plain data) is formatted by the collector;
//! - `success_2threads`, `error_2threads`: the same with a second thread
//!   calling the same variant in a loop meanwhile (timing on the first);
//! - `two_threads_paired` (not a criterion group: a table and
//!   `target/criterion/two_threads_paired.json`): one thread against two,
//!   batch by batch, so both sample the same state of the machine
//!   (`paired/mod.rs`); runs in a full run or when a filter names `paired`;
//! - `parts`: one clock read (std `Instant`, quanta raw, quanta scaled, an
//!   inline `rdtsc`), one ring push (push+pop pair, push into a pre-sized ring);
//! - `error_burst`: bursts of [`BURST`] failing calls (flushed between
//!   bursts, outside the timing), each route under its own monitor: stack
//!   traces off, and on (`capture_backtraces(true)`, what `RUST_BACKTRACE=1`
//!   turns on), where they are rate-limited per callsite.
//!
//! Run: `cargo bench --bench overhead`; tabulate: `python3 benches/report.py`.

use std::cell::RefCell;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use metered::{metered, ErrorCount, HitCount, ResponseTime};
use monitor::Monitor;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;

/// Calls timed between two flushes: half the default per-thread ring, so a
/// batch fits even if the collector has not started draining the previous one.
const BATCH: u64 = 4096;

/// Failing calls per burst in the `error_burst` group.
const BURST: u64 = 10_000;

// ---------------------------------------------------------------------------
// The function every variant wraps.
// ---------------------------------------------------------------------------

#[macro_use]
mod work;
mod paired;

use work::{bare, monitored_work, WorkError};

/// [`WorkError`] without `Clone`: its text is formatted on the caller.
#[derive(Debug)]
pub struct FormattedWorkError(WorkError);

impl std::fmt::Display for FormattedWorkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for FormattedWorkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

#[monitor::monitored]
#[inline(never)]
fn monitored_formatted_work(x: u64) -> Result<u64, FormattedWorkError> {
    let result: Result<u64, WorkError> = work_body!(x);
    result.map_err(FormattedWorkError)
}

#[tracing::instrument(skip_all, err)]
#[inline(never)]
fn traced_work(x: u64) -> Result<u64, WorkError> {
    work_body!(x)
}

#[autometrics::autometrics]
#[inline(never)]
fn autometrics_work(x: u64) -> Result<u64, WorkError> {
    work_body!(x)
}

/// metered keeps its metrics in a registry owned by the value the method is called on.
#[derive(Default, Debug)]
pub struct MeteredService {
    metrics: MeteredServiceMetrics,
}

#[metered(registry = MeteredServiceMetrics)]
impl MeteredService {
    #[measure([HitCount, ErrorCount, ResponseTime])]
    #[inline(never)]
    pub fn work(&self, x: u64) -> Result<u64, WorkError> {
        work_body!(x)
    }
}

fn metered_service() -> &'static MeteredService {
    static SERVICE: OnceLock<MeteredService> = OnceLock::new();
    SERVICE.get_or_init(MeteredService::default)
}

// ---------------------------------------------------------------------------
// The floor: two raw TSC reads and one push into a pre-sized SPSC ring.
// ---------------------------------------------------------------------------

/// Same size and layout as the event the monitor queues (40 bytes).
struct FakeEvent {
    _site: &'static u8,
    _start: u64,
    _end: u64,
    _status: u8,
    _extra: Option<Box<u64>>,
}

static SITE: u8 = 0;

fn tsc() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

thread_local! {
    static FLOOR_RING: RefCell<Option<(rtrb::Producer<FakeEvent>, rtrb::Consumer<FakeEvent>)>> =
        const { RefCell::new(None) };
}

/// Runs `f` with this thread's floor ring (created on first use).
fn with_floor_ring<R>(
    f: impl FnOnce(&mut rtrb::Producer<FakeEvent>, &mut rtrb::Consumer<FakeEvent>) -> R,
) -> R {
    FLOOR_RING.with(|ring| {
        let mut ring = ring.borrow_mut();
        let (producer, consumer) =
            ring.get_or_insert_with(|| rtrb::RingBuffer::new(2 * BATCH as usize));
        f(producer, consumer)
    })
}

// ---------------------------------------------------------------------------
// Harness.
// ---------------------------------------------------------------------------

/// A way of calling the work function, and what to do between timed batches.
#[derive(Clone, Copy)]
enum Route {
    Bare,
    Monitored,
    MonitoredFormatted,
    Floor,
    Metered,
    Autometrics,
    TracingJson,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Bare => "bare",
            Route::Monitored => "monitored",
            Route::MonitoredFormatted => "monitored_formatted",
            Route::Floor => "floor_2tsc_1push",
            Route::Metered => "metered",
            Route::Autometrics => "autometrics",
            Route::TracingJson => "tracing_json_appender",
        }
    }
}

/// Times `iters` calls of `route` in batches of [`BATCH`], with inputs of the
/// given parity (0: `Ok`, 1: `Err`); returns the time spent inside batches.
fn timed_batches(route: Route, iters: u64, parity: u64) -> Duration {
    match route {
        Route::Bare => batches(iters, parity, bare, || {}),
        Route::Monitored => batches(iters, parity, monitored_work, || assert!(monitor::flush())),
        Route::MonitoredFormatted => batches(iters, parity, monitored_formatted_work, || {
            assert!(monitor::flush())
        }),
        Route::Metered => {
            let service = metered_service();
            batches(iters, parity, |x| service.work(x), || {})
        }
        Route::Autometrics => batches(iters, parity, autometrics_work, || {}),
        Route::TracingJson => batches(iters, parity, traced_work, || {}),
        Route::Floor => with_floor_ring(|producer, consumer| {
            let clock = tsc();
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(BATCH);
                let started = Instant::now();
                for i in 0..n {
                    let start = clock.raw();
                    let result = bare(black_box((i << 1) | parity));
                    let end = clock.raw();
                    let pushed = producer.push(FakeEvent {
                        _site: &SITE,
                        _start: start,
                        _end: end,
                        _status: result.is_ok() as u8,
                        _extra: None,
                    });
                    let _ = black_box(pushed.is_ok());
                    let _ = black_box(result);
                }
                total += started.elapsed();
                let chunk = consumer
                    .read_chunk(consumer.slots())
                    .expect("slots are available");
                assert_eq!(chunk.len() as u64, n, "the floor ring dropped events");
                chunk.commit_all();
                done += n;
            }
            total
        }),
    }
}

#[inline(always)]
fn batches<E>(
    iters: u64,
    parity: u64,
    work: impl Fn(u64) -> Result<u64, E>,
    between_batches: impl Fn(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BATCH);
        let started = Instant::now();
        for i in 0..n {
            let _ = black_box(work(black_box((i << 1) | parity)));
        }
        total += started.elapsed();
        between_batches();
        done += n;
    }
    total
}

fn assert_nothing_dropped(route: Route) {
    match route {
        Route::Monitored | Route::MonitoredFormatted => {
            let dropped = monitor::stats().dropped_events;
            assert_eq!(
                dropped, 0,
                "the monitor dropped executions: this would measure the drop path"
            );
        }
        Route::TracingJson => {
            let dropped = appender_errors().dropped_lines();
            assert_eq!(dropped, 0, "tracing-appender dropped lines");
        }
        _ => {}
    }
}

/// One benchmark: `route` on this thread; with `contended`, a second thread
/// calls the same route in a loop for the whole measurement.
fn bench_route(
    group: &mut BenchmarkGroup<'_, WallTime>,
    route: Route,
    parity: u64,
    contended: bool,
) {
    group.bench_function(route.name(), |b| {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            if contended {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        black_box(timed_batches(route, BATCH, parity));
                    }
                });
            }
            b.iter_custom(|iters| {
                let elapsed = timed_batches(route, iters, parity);
                assert_nothing_dropped(route);
                elapsed
            });
            stop.store(true, Ordering::Relaxed);
        });
        assert_nothing_dropped(route);
    });
}

fn caller_groups(c: &mut Criterion) {
    let single = [
        Route::Bare,
        Route::Monitored,
        Route::MonitoredFormatted,
        Route::Floor,
        Route::Metered,
        Route::Autometrics,
        Route::TracingJson,
    ];
    for (group_name, parity, contended) in [
        ("success", 0, false),
        ("error", 1, false),
        ("success_2threads", 0, true),
        ("error_2threads", 1, true),
    ] {
        let mut group = c.benchmark_group(group_name);
        for route in single {
            if matches!(route, Route::Floor) && (parity == 1 || contended) {
                continue; // the floor is a success-path, one-thread reference
            }
            if matches!(route, Route::MonitoredFormatted) && (parity == 0 || contended) {
                continue; // the caller's formatting: one thread's `Err` path
            }
            bench_route(&mut group, route, parity, contended);
        }
        group.finish();
    }
}

/// Bursts of [`BURST`] errors, stack traces off and on, each under its own
/// monitor (installed here: the bench's main monitor is gone by now).
fn burst_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("error_burst");
    group.bench_function("bare", |b| {
        b.iter_custom(|iters| bursts(iters, bare, || {}));
    });
    for (name, backtraces) in [
        ("monitored_no_backtrace", false),
        ("monitored_backtrace", true),
    ] {
        let dir = scratch_dir(&format!("overhead-burst-{name}"));
        let guard = Monitor::builder()
            .log_dir(&dir)
            .capture_backtraces(backtraces)
            .install()
            .expect("install the monitor");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let elapsed = bursts(iters, monitored_work, || assert!(monitor::flush()));
                assert_nothing_dropped(Route::Monitored);
                elapsed
            });
        });
        assert!(guard.flush());
        drop(guard);
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

/// Times `iters` failing calls in bursts of [`BURST`].
fn bursts(
    iters: u64,
    work: impl Fn(u64) -> Result<u64, WorkError>,
    between: impl Fn(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BURST);
        let started = Instant::now();
        for i in 0..n {
            let _ = black_box(work(black_box((i << 1) | 1)));
        }
        total += started.elapsed();
        between();
        done += n;
    }
    total
}

/// The parts no implementation can avoid: one clock read, one queue push.
fn parts_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("parts");
    group.bench_function("std_instant_now", |b| b.iter(Instant::now));
    let clock = tsc();
    group.bench_function("quanta_clock_raw", |b| b.iter(|| clock.raw()));
    group.bench_function("quanta_instant_now", |b| b.iter(quanta::Instant::now));
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `rdtsc` has no preconditions; this is what `quanta::Clock::raw` runs.
    group.bench_function("rdtsc_inline", |b| {
        b.iter(|| unsafe { core::arch::x86_64::_rdtsc() })
    });
    group.bench_function("rtrb_push_pop", |b| {
        let (mut producer, mut consumer) = rtrb::RingBuffer::<FakeEvent>::new(1024);
        b.iter(|| {
            let pushed = producer.push(FakeEvent {
                _site: &SITE,
                _start: black_box(1),
                _end: black_box(2),
                _status: 0,
                _extra: None,
            });
            black_box(pushed.is_ok());
            consumer.pop().is_ok()
        });
    });
    group.bench_function("rtrb_push_presized", |b| {
        let (mut producer, mut consumer) = rtrb::RingBuffer::<FakeEvent>::new(2 * BATCH as usize);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(BATCH);
                let started = Instant::now();
                for i in 0..n {
                    let pushed = producer.push(FakeEvent {
                        _site: &SITE,
                        _start: black_box(i),
                        _end: black_box(i),
                        _status: 0,
                        _extra: None,
                    });
                    black_box(pushed.is_ok());
                }
                total += started.elapsed();
                let chunk = consumer
                    .read_chunk(consumer.slots())
                    .expect("slots are available");
                assert_eq!(chunk.len() as u64, n, "the ring dropped events");
                chunk.commit_all();
                done += n;
            }
            total
        });
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// Setup: one monitor and one tracing subscriber for the whole run.
// ---------------------------------------------------------------------------

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

static APPENDER_ERRORS: OnceLock<ErrorCounter> = OnceLock::new();

fn appender_errors() -> &'static ErrorCounter {
    APPENDER_ERRORS
        .get()
        .expect("the tracing subscriber is installed")
}

/// `registry()` + JSON `fmt` layer emitting one line per span close, writing
/// through `tracing-appender`'s non-blocking writer into a daily file.
/// `lossy(false)`: every line is written (the default drops lines once its
/// 128,000-line channel is full, which would time the drop path).
fn install_tracing(dir: &std::path::Path) -> WorkerGuard {
    let file = tracing_appender::rolling::daily(dir, "traced.log");
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(file);
    let _ = APPENDER_ERRORS.set(writer.error_counter());
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_span_events(FmtSpan::CLOSE)
            .with_writer(writer),
    );
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    guard
}

fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

fn main() {
    let monitor_dir = scratch_dir("overhead-monitor");
    let tracing_dir = scratch_dir("overhead-tracing");
    let guard = Monitor::builder()
        .log_dir(&monitor_dir)
        .capture_backtraces(false)
        .install()
        .expect("install the monitor");
    let tracing_guard = install_tracing(&tracing_dir);

    let mut c = criterion();
    caller_groups(&mut c);
    if paired::selected() {
        paired::two_threads_paired();
    }
    parts_group(&mut c);

    assert!(guard.flush());
    assert_eq!(monitor::stats().dropped_events, 0);
    drop(guard);
    burst_group(&mut c);
    c.final_summary();

    drop(tracing_guard);
    let _ = std::fs::remove_dir_all(&monitor_dir);
    let _ = std::fs::remove_dir_all(&tracing_dir);
}
