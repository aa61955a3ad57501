//! One thread against two, batch by batch (`overhead`'s `two_threads_paired`).
//!
//! The `error` and `error_2threads` groups are measured tens of seconds
//! apart, and on this kind of machine the caller's own code runs at two
//! speeds for seconds at a time: the `#[monitored]` error path at about
//! 19 ns per call, then about 28 ns, with the collector idle during the
//! batches, no page fault, no preemption, and the floor route unchanged
//! (BENCHMARKS.md). A ratio of two groups' medians then compares two speeds
//! of the machine as often as one thread with two: it has read from 0.58 to
//! 1.43 for the same code.
//!
//! Here each round times one batch with the second caller parked and one
//! while it calls the same route in a loop (the `_2threads` groups' second
//! thread), in alternating order, so both conditions sample the same states
//! of the machine. Printed and written to
//! `target/criterion/two_threads_paired.json` for `report.py`: the medians
//! of each condition, and the figure the target is stated in, the median
//! over rounds of the overhead over the bare function (its medians) with
//! two threads ÷ the overhead alone. `metered` is measured the same way, as
//! a route whose threads do contend (its counters are shared atomics).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::Thread;

use crate::{assert_nothing_dropped, timed_batches, Route, BATCH};

/// Rounds per route and path: each times one batch alone and one with the
/// second caller running.
const ROUNDS: usize = 1_000;

/// The second caller: runs its route in batches while `run` is set, parks
/// otherwise.
#[derive(Default)]
struct SecondCaller {
    run: AtomicBool,
    stop: AtomicBool,
    /// Set once it has finished its batch (and the flush after it) and is
    /// about to park; cleared when it wakes.
    parked: AtomicBool,
    /// Batches it has finished.
    batches: AtomicU64,
}

impl SecondCaller {
    fn serve(&self, route: Route, parity: u64) {
        while !self.stop.load(Ordering::Acquire) {
            if !self.run.load(Ordering::Acquire) {
                self.parked.store(true, Ordering::Release);
                // An unpark between the check and the park leaves a token, so
                // `park` returns at once: no wake-up is lost.
                if !self.run.load(Ordering::Acquire) && !self.stop.load(Ordering::Acquire) {
                    std::thread::park();
                }
                self.parked.store(false, Ordering::Release);
                continue;
            }
            black_box(timed_batches(route, BATCH, parity));
            self.batches.fetch_add(1, Ordering::Release);
        }
        self.parked.store(true, Ordering::Release);
    }

    /// Starts the second caller and returns once it has finished a batch,
    /// so the next batch timed runs while it is at work.
    fn start(&self, thread: &Thread) {
        let before = self.batches.load(Ordering::Acquire);
        self.run.store(true, Ordering::Release);
        thread.unpark();
        while self.batches.load(Ordering::Acquire) == before {
            std::thread::yield_now();
        }
    }

    /// Stops the second caller and returns once it is parked.
    fn halt(&self) {
        self.run.store(false, Ordering::Release);
        while !self.parked.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
    }
}

/// One route's rounds on one path: per call (ns), the batch timed alone
/// and the one timed with the second caller, round by round.
#[derive(Clone)]
struct Rounds {
    alone: Vec<f64>,
    two_threads: Vec<f64>,
}

impl Rounds {
    fn median_alone(&self) -> f64 {
        median(self.alone.clone())
    }

    fn median_two_threads(&self) -> f64 {
        median(self.two_threads.clone())
    }

    /// The median over rounds of the overhead over `bare` (its medians) with
    /// two threads ÷ the overhead alone: each round's two batches ran a few
    /// milliseconds apart, so a change of the machine's speed that lasts
    /// seconds moves both.
    fn median_overhead_ratio(&self, bare: &Rounds) -> f64 {
        let (bare_alone, bare_two) = (bare.median_alone(), bare.median_two_threads());
        median(
            self.alone
                .iter()
                .zip(&self.two_threads)
                .map(|(alone, two)| (two - bare_two) / (alone - bare_alone))
                .collect(),
        )
    }
}

/// Times [`ROUNDS`] pairs of batches of `route` (parity 0: `Ok`, 1: `Err`).
fn paired(route: Route, parity: u64) -> Rounds {
    let second = SecondCaller::default();
    let mut rounds = Rounds {
        alone: Vec::with_capacity(ROUNDS),
        two_threads: Vec::with_capacity(ROUNDS),
    };
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| second.serve(route, parity));
        let thread = handle.thread().clone();
        second.halt();
        let per_call = |elapsed: std::time::Duration| elapsed.as_nanos() as f64 / BATCH as f64;
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                rounds
                    .alone
                    .push(per_call(timed_batches(route, BATCH, parity)));
            }
            second.start(&thread);
            rounds
                .two_threads
                .push(per_call(timed_batches(route, BATCH, parity)));
            second.halt();
            if round % 2 == 1 {
                rounds
                    .alone
                    .push(per_call(timed_batches(route, BATCH, parity)));
            }
        }
        second.stop.store(true, Ordering::Release);
        thread.unpark();
    });
    assert_nothing_dropped(route);
    rounds
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Whether the command line selects this comparison: under `cargo bench`
/// (criterion's test mode, without `--bench`, and `--list` skip it) with
/// no filter, as in a full run, or with a filter that names it. It has no
/// criterion benchmark of its own, so criterion's filtering does not reach it.
pub fn selected() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|arg| arg == "--bench") || args.iter().any(|arg| arg == "--list") {
        return false;
    }
    let filters: Vec<&String> = args.iter().filter(|arg| !arg.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| f.contains("paired"))
}

/// Runs the comparison for the success and the error path, prints a table
/// and writes the medians for `report.py`.
pub fn two_threads_paired() {
    let mut json = serde_json::Map::new();
    println!("\ntwo_threads_paired: {ROUNDS} rounds of one batch alone, one with a second caller");
    println!(
        "| path | route | one thread | two threads | overhead, two ÷ one (median of rounds) |"
    );
    for (path, parity) in [("success", 0), ("error", 1)] {
        let bare = paired(Route::Bare, parity);
        let mut routes = serde_json::Map::new();
        for (route, rounds) in [
            (Route::Monitored, paired(Route::Monitored, parity)),
            (Route::Metered, paired(Route::Metered, parity)),
            (Route::Bare, bare.clone()),
        ] {
            let ratio =
                (!matches!(route, Route::Bare)).then(|| rounds.median_overhead_ratio(&bare));
            let (alone, two_threads) = (rounds.median_alone(), rounds.median_two_threads());
            println!(
                "| {path} | {} | {alone:.2} ns | {two_threads:.2} ns | {} |",
                route.name(),
                ratio.map_or(String::new(), |r| format!("{r:.2}"))
            );
            routes.insert(
                route.name().to_owned(),
                serde_json::json!({
                    "alone_ns": alone,
                    "two_threads_ns": two_threads,
                    "overhead_ratio_median_of_rounds": ratio,
                }),
            );
        }
        json.insert(path.to_owned(), routes.into());
    }
    let dir = criterion_home();
    std::fs::create_dir_all(&dir).expect("create criterion's directory");
    let text = serde_json::to_string_pretty(&json).expect("plain numbers serialize");
    std::fs::write(dir.join("two_threads_paired.json"), text).expect("write the medians");
}

/// Where criterion writes its results (its own rule: `CRITERION_HOME`, else
/// the target directory's `criterion`).
fn criterion_home() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
    std::path::PathBuf::from(target).join("criterion")
}
