//! A counting global allocator proves that the success path allocates
//! nothing, also across many fills of a thread's ring (its chunks are reused),
//! and that memory stays bounded by the queue memory budget under sustained
//! overflow and is given back once the collector has caught up.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use common::{block_on, exclusive, temp_dir};
use monitor::{monitored, Monitor};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged; the
// bookkeeping only touches atomics and a const-initialised thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        let live = LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed)
            + layout.size() as isize;
        PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[monitored]
fn compute(x: u64) -> Result<u64, std::io::Error> {
    Ok(x.wrapping_mul(31))
}

#[monitored]
fn maybe(x: u64) -> Option<u64> {
    x.checked_sub(1)
}

#[monitored]
async fn compute_async(x: u64) -> Result<u64, String> {
    Ok(x + 1)
}

/// `Copy` values are held as they are until the execution ends: a success
/// with failure-only fields of `Copy` types allocates nothing either.
#[monitored(fields(x, doubled = x * 2, %flag, flag_dbg = ?flag))]
fn with_copy_fields(x: u64, flag: bool) -> Result<u64, String> {
    Ok(x + u64::from(flag))
}

struct Meter;
impl Meter {
    #[monitored]
    fn read(&self) -> u64 {
        7
    }
}

#[test]
fn the_success_path_does_not_allocate() {
    let _lock = exclusive();
    let dir = temp_dir("alloc-success");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .queue_capacity(1 << 16)
        .install()
        .unwrap();
    // The first call on a thread registers its ring (one allocation, once).
    compute(1).unwrap();
    maybe(1);
    Meter.read();
    with_copy_fields(1, true).unwrap();
    let count = allocations_during(|| {
        for i in 0..10_000 {
            std::hint::black_box(compute(i).unwrap());
            std::hint::black_box(maybe(i));
            std::hint::black_box(Meter.read());
        }
    });
    assert_eq!(count, 0, "the success path allocated {count} times");
    let count = allocations_during(|| {
        for i in 0..10_000 {
            std::hint::black_box(with_copy_fields(i, i % 2 == 0).unwrap());
        }
    });
    assert_eq!(
        count, 0,
        "the success path with Copy fields allocated {count} times"
    );
    // Async: the future lives on the stack; only the executor's waker allocates,
    // so count the polls of an already-built future.
    let future = compute_async(1);
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let count = allocations_during(|| {
        assert!(future.as_mut().poll(&mut context).is_ready());
    });
    assert_eq!(count, 0, "the async success path allocated {count} times");
    assert_eq!(block_on(compute_async(2)), Ok(3));
    assert!(guard.flush());
    assert_eq!(monitor::stats().dropped_events, 0);
}

/// An error like most hand-written ones: a `Display` of about 40 bytes
/// (formatting a number, no allocation of its own) and a `source()`.
#[derive(Debug)]
struct FetchError {
    code: u64,
    cause: std::io::Error,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fetch failed with code {}", self.code)
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

#[monitored]
fn fetch(code: u64, error: &mut Option<FetchError>) -> Result<u64, FetchError> {
    match error.take() {
        Some(error) => Err(error),
        None => Ok(code),
    }
}

#[monitored]
fn parse(text: &str) -> Result<u64, std::num::ParseIntError> {
    text.parse()
}

#[test]
fn the_error_path_does_not_allocate_at_steady_state() {
    let _lock = exclusive();
    let dir = temp_dir("alloc-error");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .install()
        .unwrap();
    // The errors are made outside the counting: only the monitor's part counts.
    let mut errors: Vec<Option<FetchError>> = (0..1000)
        .map(|code| {
            Some(FetchError {
                code: code * 1_000_003,
                cause: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
            })
        })
        .collect();
    let mut warm_up = Some(FetchError {
        code: 1,
        cause: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
    });
    // The first error on a thread registers its rings and grows its stage.
    fetch(1, &mut warm_up).unwrap_err();
    parse("x").unwrap_err();
    assert!(guard.flush());
    let mut returned = Vec::with_capacity(errors.len());
    let count = allocations_during(|| {
        for (code, error) in errors.iter_mut().enumerate() {
            returned.push(fetch(code as u64, error));
            std::hint::black_box(parse("12x").unwrap_err());
        }
    });
    assert_eq!(count, 0, "the error path allocated {count} times");
    assert!(guard.flush());
    assert_eq!(monitor::stats().dropped_events, 0);
    // The details arrived whole: type, message and chain.
    let lines = common::errors(&dir);
    let fetched: Vec<_> = common::lines_named(&lines, "allocations::fetch");
    assert_eq!(fetched.len(), 1001);
    let last = fetched.last().unwrap();
    assert_eq!(last["error_type"], "allocations::FetchError");
    assert_eq!(
        last["error_message"],
        format!("fetch failed with code {}", 999 * 1_000_003)
    );
    assert_eq!(
        last["error_chain"],
        serde_json::json!([std::io::Error::from(std::io::ErrorKind::ConnectionReset).to_string()])
    );
    let parsed = common::lines_named(&lines, "allocations::parse");
    assert_eq!(parsed.len(), 1001);
    assert_eq!(parsed[1]["error_message"], "invalid digit found in string");
    drop(returned);
}

/// A plain-data error (`Clone`, nothing to drop): the collector formats a
/// clone of it, the caller formats nothing (`capture/deferred.rs`).
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Missing { key: u64 },
    Expired,
}

/// The same error, not `Clone`: formatted on the caller.
#[derive(Debug)]
struct LookupText(Lookup);

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Missing { key } => write!(f, "no entry for key {key} in the cache"),
            Lookup::Expired => f.write_str("the entry expired"),
        }
    }
}

static LOOKUP_CAUSE: LookupCause = LookupCause;

#[derive(Debug)]
struct LookupCause;

impl std::fmt::Display for LookupCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the cache shard is being rebuilt")
    }
}

impl std::error::Error for LookupCause {}

impl std::error::Error for Lookup {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&LOOKUP_CAUSE)
    }
}

impl std::fmt::Display for LookupText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LookupText {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[monitored]
fn lookup(key: u64) -> Result<u64, Lookup> {
    match key % 3 {
        0 => Ok(key),
        1 => Err(Lookup::Missing { key }),
        _ => Err(Lookup::Expired),
    }
}

#[monitored]
fn lookup_text(key: u64) -> Result<u64, LookupText> {
    lookup(key).map_err(LookupText)
}

/// [`Lookup`] in 8 bytes: carried in the event's word, not the byte ring
/// (`capture/deferred.rs`).
#[derive(Debug, Clone, Copy)]
enum ShortLookup {
    Missing { key: u32 },
    Expired,
}

impl ShortLookup {
    fn long(self) -> Lookup {
        match self {
            ShortLookup::Missing { key } => Lookup::Missing { key: key.into() },
            ShortLookup::Expired => Lookup::Expired,
        }
    }
}

impl std::fmt::Display for ShortLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.long().fmt(f)
    }
}

impl std::error::Error for ShortLookup {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&LOOKUP_CAUSE)
    }
}

#[monitored]
fn lookup_short(key: u32) -> Result<u32, ShortLookup> {
    match key % 3 {
        0 => Ok(key),
        1 => Err(ShortLookup::Missing { key }),
        _ => Err(ShortLookup::Expired),
    }
}

#[test]
fn a_plain_data_error_is_formatted_by_the_collector_with_the_same_text() {
    let _lock = exclusive();
    let dir = temp_dir("alloc-deferred");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_limits(monitor::CaptureLimits {
            max_message_bytes: 24,
            // Not the environment's `RUST_BACKTRACE`: a trace allocates.
            backtraces: Some(false),
            ..monitor::CaptureLimits::default()
        })
        .install()
        .unwrap();
    // The first round registers the thread's rings and grows them to the
    // round's size; the second is counted.
    for key in 0..3000 {
        std::hint::black_box(lookup(key).ok());
    }
    assert!(guard.flush());
    let count = allocations_during(|| {
        for key in 0..3000 {
            std::hint::black_box(lookup(key).ok());
        }
    });
    assert_eq!(count, 0, "the deferred error path allocated {count} times");
    for key in 0..3000 {
        std::hint::black_box(lookup_short(key).ok());
    }
    assert!(guard.flush());
    let count = allocations_during(|| {
        for key in 0..3000 {
            std::hint::black_box(lookup_short(key).ok());
        }
    });
    assert_eq!(count, 0, "the carried error path allocated {count} times");
    for key in 0..6 {
        std::hint::black_box(lookup_text(key).ok());
    }
    assert!(guard.flush());
    assert_eq!(monitor::stats().dropped_events, 0);
    let lines = common::errors(&dir);
    let deferred = common::lines_named(&lines, "allocations::lookup");
    // Two rounds of 2000 errors in 3000 calls, and 4 of `lookup_text`'s calls.
    assert_eq!(deferred.len(), 2000 + 2000 + 4);
    let missing = deferred[deferred.len() - 5 - 1];
    assert_eq!(missing["error_type"], "allocations::Lookup");
    // Cut at the limit on the collector as it would be on the caller.
    assert_eq!(missing["error_message"], "no entry for key 2998 in");
    assert_eq!(missing["error_message_truncated"], true);
    assert_eq!(missing["error_chain"], serde_json::json!(["the ca"]));
    // The same text as the caller's formatting of the same error.
    let formatted = common::lines_named(&lines, "allocations::lookup_text");
    assert_eq!(formatted.len(), 4);
    for (text, value) in formatted.iter().zip(&deferred[deferred.len() - 4..]) {
        assert_eq!(text["error_type"], "allocations::LookupText");
        for field in ["error_message", "error_message_truncated", "error_chain"] {
            assert_eq!(text[field], value[field], "{field}");
        }
    }
    assert_eq!(formatted[1]["error_message"], "the entry expired");
    // Carried in the event's word: the same text again.
    let short = common::lines_named(&lines, "allocations::lookup_short");
    assert_eq!(short.len(), 2000 + 2000);
    for (short, long) in short[2000..].iter().zip(&deferred[2000..4000]) {
        assert_eq!(short["error_type"], "allocations::ShortLookup");
        for field in ["error_message", "error_message_truncated", "error_chain"] {
            assert_eq!(short[field], long[field], "{field}");
        }
    }
}

#[test]
fn the_success_path_does_not_allocate_across_many_fills_of_the_ring() {
    let _lock = exclusive();
    let dir = temp_dir("alloc-steady");
    // Default settings: 8,192 executions per thread, in chunks of 1,024.
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    compute(0).unwrap(); // registers this thread's ring
    assert!(guard.flush());
    let mut count = 0;
    // 400,000 executions pass through the ring: its chunks go round about
    // fifty times, each reused once the collector has read it.
    for round in 0..100 {
        count += allocations_during(|| {
            for i in 0..4096 {
                std::hint::black_box(compute(round * 4096 + i).unwrap());
            }
        });
        assert!(guard.flush()); // not counted: a flush allocates its reply channel
    }
    assert_eq!(count, 0, "the success path allocated {count} times");
    let stats = monitor::stats();
    assert_eq!(stats.dropped_events, 0);
    assert_eq!(
        stats
            .get(&format!("{}::compute", module_path!()))
            .unwrap()
            .total_executions,
        1 + 100 * 4096
    );
}

#[test]
fn memory_stays_bounded_under_sustained_overflow() {
    const BUDGET: isize = 4 << 20;
    let _lock = exclusive();
    let dir = temp_dir("alloc-overflow");
    let (sink, held) = common::holding_sink();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .queue_capacity(1024)
        .queue_memory_budget(BUDGET as usize)
        .without_stats_db()
        .sink(sink)
        .install()
        .unwrap();
    compute(0).unwrap();
    // The collector is stuck in the sink with that first execution: every
    // call below goes into a ring nobody drains, which fills its own chunks,
    // then borrows the whole budget, then overflows.
    held.wait_until_held();
    let baseline = LIVE_BYTES.load(Ordering::Relaxed);
    PEAK_BYTES.store(baseline, Ordering::Relaxed);
    for i in 0..1_000_000 {
        std::hint::black_box(compute(i).unwrap());
    }
    let growth = PEAK_BYTES.load(Ordering::Relaxed) - baseline;
    held.release();
    assert!(guard.flush());
    let stats = monitor::stats();
    let recorded = stats
        .get(&format!("{}::compute", module_path!()))
        .unwrap()
        .total_executions;
    assert_eq!(recorded + stats.dropped_events, 1_000_001);
    // Held: the ring's own 1,024 (plus one chunk) and what the budget lends
    // at 40 bytes an execution (a little less, for the chunks' headers).
    let held_at_most = 2 * 1024 + BUDGET as u64 / 40;
    assert!(
        stats.dropped_events >= 1_000_000 - held_at_most,
        "the ring and the budget overflowed: only {} dropped",
        stats.dropped_events
    );
    assert!(
        growth < BUDGET + (1 << 20),
        "peak memory grew by {growth} bytes while recording 1M executions"
    );
    // Borrowed chunks are freed once read: the memory is back.
    let kept = LIVE_BYTES.load(Ordering::Relaxed) - baseline;
    assert!(
        kept < 2 << 20,
        "{kept} bytes still held after the collector caught up"
    );
}

#[test]
fn a_rings_memory_is_freed_once_its_thread_has_exited() {
    const CAPACITY: usize = 1 << 14;
    let _lock = exclusive();
    let dir = temp_dir("alloc-rings-freed");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .queue_capacity(CAPACITY)
        .without_stats_db()
        .install()
        .unwrap();
    compute(0).unwrap();
    assert!(guard.flush());
    let live = || LIVE_BYTES.load(Ordering::Relaxed);
    let before = live();

    // A thread that has recorded and is still alive: its ring is live memory.
    let (recorded, has_recorded) = std::sync::mpsc::channel();
    let (exit, may_exit) = std::sync::mpsc::channel::<()>();
    let alive = std::thread::spawn(move || {
        compute(1).unwrap();
        recorded.send(()).unwrap();
        let _ = may_exit.recv();
    });
    has_recorded.recv().unwrap();
    assert!(guard.flush());
    let one_ring = live() - before;
    assert!(
        one_ring >= (CAPACITY * 40) as isize,
        "a ring of {CAPACITY} 40-byte events is live: {one_ring} bytes"
    );
    drop(exit);
    alive.join().unwrap();
    assert!(guard.flush());
    assert!(
        live() - before < one_ring / 2,
        "freed once its thread exited: {} bytes still live",
        live() - before
    );

    // Two hundred threads, one after the other: no ring stays behind.
    for i in 0..200 {
        std::thread::spawn(move || compute(i).unwrap())
            .join()
            .unwrap();
    }
    assert!(guard.flush());
    let growth = live() - before;
    assert!(
        growth < one_ring / 2,
        "{growth} bytes still live after 200 threads exited (one ring: {one_ring})"
    );
    let recorded = monitor::stats()
        .get(&format!("{}::compute", module_path!()))
        .unwrap()
        .total_executions;
    assert_eq!(recorded, 202);
}

#[test]
fn a_span_through_the_layer_does_not_allocate_at_steady_state() {
    use tracing_subscriber::layer::SubscriberExt;
    let _lock = exclusive();
    let dir = temp_dir("alloc-span");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let subscriber = tracing_subscriber::registry().with(monitor::layer());
    let count = tracing::subscriber::with_default(subscriber, || {
        let spans = |n: u64| {
            for i in 0..n {
                let span = tracing::info_span!(target: "alloc", "request", id = i);
                std::hint::black_box(span.in_scope(|| std::hint::black_box(i)));
            }
        };
        // The first spans intern the site, register the thread's rings and
        // size the layer's and the registry's tables.
        spans(100);
        assert!(guard.flush());
        allocations_during(|| spans(2000))
    });
    // The span's state (the layer's table, which is also its entry among the
    // running executions), its field list (reused per thread) and its busy
    // time (inline in the event) cost nothing.
    assert_eq!(count, 0, "2,000 spans allocated {count} times");
    assert!(guard.flush());
    assert_eq!(monitor::stats().dropped_events, 0);
    let stats = monitor::stats();
    assert_eq!(stats.get("alloc::request").unwrap().total_executions, 2100);
}

/// Pending once, then ready: an await point. It wakes its task before it
/// returns `Pending` (as a future must, or `block_on` would park for good;
/// waking clones the waker's `Arc`, no allocation).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

#[monitored]
async fn pends_once(x: u64) -> Result<u64, String> {
    YieldOnce(false).await;
    Ok(x + 1)
}

#[test]
fn an_async_call_is_listed_as_running_with_one_allocation_at_its_first_pending_only() {
    let _lock = exclusive();
    let dir = temp_dir("alloc-running");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    assert_eq!(block_on(pends_once(0)), Ok(1)); // the thread's ring and stack
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let future = pends_once(1);
    let mut future = std::pin::pin!(future);
    let first = allocations_during(|| {
        assert!(future.as_mut().poll(&mut context).is_pending());
    });
    assert_eq!(first, 1, "its entry among the running executions, once");
    assert_eq!(monitor::running().len(), 1);
    let second = allocations_during(|| {
        assert!(future.as_mut().poll(&mut context).is_ready());
    });
    assert_eq!(second, 0, "completing allocates nothing");
    assert!(guard.flush());
    assert!(monitor::running().is_empty());
}
