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
//! Here each round times, in one go, a batch with the second caller
//! parked and two while it calls the same route in a loop with its
//! flushes (the `_2threads` groups' second thread), so every condition
//! samples the same states of the machine: one started together with a
//! batch of the second caller (the two call at once, the collector has
//! just drained), one at a random point of its cycle (mostly during its flush,
//! while the collector drains its errors, as in the groups). The second
//! caller's batches and flushes are timestamped, and the table shows for
//! how much of each condition's batches it was calling and was in its
//! flush. The figure per condition is the median over rounds of the
//! overhead over the bare function (its median in that condition) ÷ the
//! overhead alone in the same round. `metered` is measured the same way,
//! as a route whose threads do contend (its counters are shared atomics).
//! Printed, and written to `target/criterion/two_threads_paired.json` for
//! `report.py`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread::Thread;
use std::time::{Duration, Instant};

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
    /// In lockstep, it waits after each batch and flush until `released`
    /// reaches `batches`, so that its next batch starts with the timed one.
    lockstep: AtomicBool,
    released: AtomicU64,
    /// Set when `serve` returns or unwinds: `start` and `halt` then fail
    /// instead of waiting for it for ever.
    gone: AtomicBool,
    /// Its latest cycles: when its batch began, when the batch ended (its
    /// flush began: the collector drains), when the flush returned.
    cycles: Mutex<Vec<Cycle>>,
}

/// One batch of the second caller and the flush after it.
#[derive(Clone, Copy)]
struct Cycle {
    start: Instant,
    calls_end: Instant,
    end: Instant,
}

impl Cycle {
    fn len(&self) -> Duration {
        self.end - self.start
    }
}

/// How much of `[start, end)` lies inside `[from, to)`.
fn overlap(start: Instant, end: Instant, from: Instant, to: Instant) -> Duration {
    end.min(to).saturating_duration_since(start.max(from))
}

impl SecondCaller {
    fn serve(&self, route: Route, parity: u64) {
        /// Marks the second caller gone however `serve` ends (a failed
        /// `flush` assertion panics in `timed_batches`).
        struct Gone<'a>(&'a AtomicBool);
        impl Drop for Gone<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let _gone = Gone(&self.gone);
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
            let start = Instant::now();
            let calls = timed_batches(route, BATCH, parity);
            let cycle = Cycle {
                start,
                calls_end: start + calls,
                end: Instant::now(),
            };
            {
                let mut cycles = self.cycles.lock().unwrap();
                if cycles.len() == 8 {
                    cycles.remove(0);
                }
                cycles.push(cycle);
            }
            let finished = self.batches.fetch_add(1, Ordering::AcqRel) + 1;
            while self.lockstep.load(Ordering::Acquire)
                && self.released.load(Ordering::Acquire) < finished
                && self.run.load(Ordering::Acquire)
            {
                std::hint::spin_loop();
            }
        }
        self.parked.store(true, Ordering::Release);
    }

    /// Starts the second caller and returns once it has finished a batch
    /// and its flush, so it is at work from then on. In lockstep it is
    /// then released into its next batch as this returns.
    fn start(&self, thread: &Thread, lockstep: bool) {
        self.lockstep.store(lockstep, Ordering::Release);
        let before = self.batches.load(Ordering::Acquire);
        self.run.store(true, Ordering::Release);
        thread.unpark();
        let finished = loop {
            let now = self.batches.load(Ordering::Acquire);
            if now != before {
                break now;
            }
            self.check_alive();
            std::thread::yield_now();
        };
        self.released.store(finished, Ordering::Release);
    }

    /// The length of its latest cycle (batch and flush).
    fn latest_cycle(&self) -> Duration {
        self.cycles
            .lock()
            .unwrap()
            .last()
            .map_or(Duration::ZERO, Cycle::len)
    }

    /// The parts of `[start, end)` during which it was calling, and during
    /// which it was in its flush (the collector draining its batch).
    fn overlaps(&self, start: Instant, end: Instant) -> (Duration, Duration) {
        let cycles = self.cycles.lock().unwrap();
        cycles
            .iter()
            .fold((Duration::ZERO, Duration::ZERO), |(calls, flush), c| {
                (
                    calls + overlap(start, end, c.start, c.calls_end),
                    flush + overlap(start, end, c.calls_end, c.end),
                )
            })
    }

    /// Stops the second caller and returns once it is parked.
    fn halt(&self) {
        self.run.store(false, Ordering::Release);
        while !self.parked.load(Ordering::Acquire) {
            self.check_alive();
            std::thread::yield_now();
        }
    }

    fn check_alive(&self) {
        assert!(
            !self.gone.load(Ordering::Acquire) || self.stop.load(Ordering::Acquire),
            "the second caller stopped (its panic is printed above)"
        );
    }
}

/// Where in the second caller's cycle a two-thread batch starts.
#[derive(Clone, Copy)]
enum Phase {
    /// In lockstep: its next batch starts with the timed one (released by
    /// [`SecondCaller::start`]), so the two call at once, and the collector
    /// has just drained.
    AtOnce,
    /// At a random point of its cycle (its batch of about 80 µs, then a flush
    /// of a millisecond or more while the collector drains it), as in the
    /// `_2threads` groups, where the two threads' cycles drift.
    Random,
}

/// The batches timed in one condition, round by round.
#[derive(Clone, Default)]
struct Condition {
    /// Per call (ns).
    per_call: Vec<f64>,
    /// The share of the batch during which the second caller was calling,
    /// and the share during which it was in its flush.
    calling: Vec<f64>,
    flushing: Vec<f64>,
}

impl Condition {
    /// Records one batch of `calls`, beside which the second caller called
    /// for `beside_calls` and flushed for `beside_flush`.
    fn record(&mut self, calls: Duration, beside_calls: Duration, beside_flush: Duration) {
        let share = |beside: Duration| beside.as_secs_f64() / calls.as_secs_f64();
        self.per_call.push(per_call(calls));
        self.calling.push(share(beside_calls));
        self.flushing.push(share(beside_flush));
    }

    fn median(&self) -> f64 {
        median(self.per_call.clone())
    }

    /// The shares of this condition's time (all rounds, weighted by their
    /// batches' lengths) during which the second caller was calling, and
    /// was in its flush.
    fn shares_beside(&self) -> (f64, f64) {
        let timed: f64 = self.per_call.iter().sum();
        let weighted = |shares: &[f64]| {
            shares
                .iter()
                .zip(&self.per_call)
                .map(|(share, t)| share * t)
                .sum::<f64>()
                / timed
        };
        (weighted(&self.calling), weighted(&self.flushing))
    }

    /// The median over rounds of the share of the batch during which the
    /// second caller was calling (the time-weighted share above can hide
    /// rounds with little overlap behind a few long ones).
    fn median_calling(&self) -> f64 {
        median(self.calling.clone())
    }

    /// Round by round: this condition's overhead over `bare` (its median in
    /// the same condition) ÷ the overhead `alone` in the same round (over
    /// `bare_alone`'s median), with the share of the batch the second
    /// caller spent calling. A round's batches run a few milliseconds
    /// apart, so a change of the machine's speed that lasts seconds moves
    /// them all.
    fn overhead_ratios<'a>(
        &'a self,
        bare: &Condition,
        alone: &'a Condition,
        bare_alone: &Condition,
    ) -> impl Iterator<Item = (f64, f64)> + 'a {
        let (bare_here, bare_alone) = (bare.median(), bare_alone.median());
        alone
            .per_call
            .iter()
            .zip(&self.per_call)
            .zip(&self.calling)
            .map(move |((alone, here), calling)| {
                ((here - bare_here) / (alone - bare_alone), *calling)
            })
    }
}

/// One route's rounds on one path.
#[derive(Clone, Default)]
struct Rounds {
    alone: Condition,
    at_once: Condition,
    random_phase: Condition,
}

/// Times [`ROUNDS`] rounds of `route` (parity 0: `Ok`, 1: `Err`): each one
/// batch alone, one calling at once with the second caller, and one at a
/// random phase of its cycle; alone first in even rounds, last in odd ones.
fn paired(route: Route, parity: u64) -> Rounds {
    let second = SecondCaller::default();
    let mut rounds = Rounds::default();
    // A fixed seed: the same phases in every run.
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| second.serve(route, parity));
        let thread = handle.thread().clone();
        second.halt();
        let alone = |rounds: &mut Rounds| {
            let calls = timed_batches(route, BATCH, parity);
            rounds.alone.record(calls, Duration::ZERO, Duration::ZERO);
        };
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                alone(&mut rounds);
            }
            for phase in [Phase::AtOnce, Phase::Random] {
                second.start(&thread, matches!(phase, Phase::AtOnce));
                if let Phase::Random = phase {
                    random ^= random << 13;
                    random ^= random >> 7;
                    random ^= random << 17;
                    let cycle = second.latest_cycle().as_nanos() as u64;
                    let delay = Duration::from_nanos(random % cycle.max(1));
                    let waited = Instant::now();
                    while waited.elapsed() < delay {
                        std::hint::spin_loop();
                    }
                }
                let start = Instant::now();
                let calls = timed_batches(route, BATCH, parity);
                second.halt();
                let (beside_calls, beside_flush) = second.overlaps(start, start + calls);
                let condition = match phase {
                    Phase::AtOnce => &mut rounds.at_once,
                    Phase::Random => &mut rounds.random_phase,
                };
                condition.record(calls, beside_calls, beside_flush);
            }
            if round % 2 == 1 {
                alone(&mut rounds);
            }
        }
        second.stop.store(true, Ordering::Release);
        thread.unpark();
    });
    assert_nothing_dropped(route);
    rounds
}

fn per_call(elapsed: Duration) -> f64 {
    elapsed.as_nanos() as f64 / BATCH as f64
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
    /// Criterion's options that take a value as the next argument.
    const TAKE_A_VALUE: [&str; 16] = [
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--color",
        "--output-format",
        "--plotting-backend",
        "--profile-time",
        "--format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|arg| arg == "--bench") || args.iter().any(|arg| arg == "--list") {
        return false;
    }
    let mut filters = Vec::new();
    let mut value_next = false;
    for arg in &args {
        if std::mem::take(&mut value_next) {
            continue;
        }
        if arg.starts_with('-') {
            value_next = TAKE_A_VALUE.contains(&arg.as_str());
        } else {
            filters.push(arg);
        }
    }
    filters.is_empty() || filters.iter().any(|f| f.contains("paired"))
}

/// Runs the comparison for the success and the error path, prints a table
/// and writes the medians for `report.py`.
pub fn two_threads_paired() {
    let mut json = serde_json::Map::new();
    println!(
        "\ntwo_threads_paired: {ROUNDS} rounds of one batch alone, one calling at once with a second caller, one at a random phase of its cycle"
    );
    println!(
        "| path | route | one thread | two, at once | two, random phase | overhead ÷ one: at once, random phase | second caller calling / in its flush: at once, random phase |"
    );
    for (path, parity) in [("success", 0), ("error", 1)] {
        let bare = paired(Route::Bare, parity);
        let mut routes = serde_json::Map::new();
        for (route, rounds) in [
            (Route::Monitored, paired(Route::Monitored, parity)),
            (Route::Metered, paired(Route::Metered, parity)),
            (Route::Bare, bare.clone()),
        ] {
            // Bare is the reference: no ratio of its own.
            let (ratios, full_overlap) = if matches!(route, Route::Bare) {
                (None, None)
            } else {
                let at_once: Vec<(f64, f64)> = rounds
                    .at_once
                    .overhead_ratios(&bare.at_once, &rounds.alone, &bare.alone)
                    .collect();
                let random_phase = rounds
                    .random_phase
                    .overhead_ratios(&bare.random_phase, &rounds.alone, &bare.alone)
                    .map(|(ratio, _)| ratio)
                    .collect();
                // The rounds whose batch ran with the second caller calling
                // for at least 90 % of it.
                let full: Vec<f64> = at_once
                    .iter()
                    .filter(|(_, calling)| *calling >= 0.9)
                    .map(|(ratio, _)| *ratio)
                    .collect();
                let count = full.len();
                (
                    Some((
                        median(at_once.into_iter().map(|(ratio, _)| ratio).collect()),
                        median(random_phase),
                    )),
                    (count > 0).then(|| (median(full), count)),
                )
            };
            let median_round_calling = rounds.at_once.median_calling();
            let (at_once_calling, at_once_flushing) = rounds.at_once.shares_beside();
            let (random_calling, random_flushing) = rounds.random_phase.shares_beside();
            println!(
                "| {path} | {} | {:.2} ns | {:.2} ns | {:.2} ns | {} | {:.0} % / {:.0} %, {:.0} % / {:.0} % |",
                route.name(),
                rounds.alone.median(),
                rounds.at_once.median(),
                rounds.random_phase.median(),
                ratios.map_or(String::new(), |(a, r)| format!("{a:.2}, {r:.2}")),
                at_once_calling * 100.0,
                at_once_flushing * 100.0,
                random_calling * 100.0,
                random_flushing * 100.0,
            );
            if let Some((ratio, count)) = full_overlap {
                println!(
                    "  {path}, {}, at once: the second caller calling for {:.0} % of the median round; \
                     the {count} rounds with it calling for ≥ 90 % of the batch: overhead ÷ one {ratio:.2}",
                    route.name(),
                    median_round_calling * 100.0
                );
            }
            routes.insert(
                route.name().to_owned(),
                serde_json::json!({
                    "alone_ns": rounds.alone.median(),
                    "at_once_ns": rounds.at_once.median(),
                    "random_phase_ns": rounds.random_phase.median(),
                    "at_once_overhead_ratio": ratios.map(|(a, _)| a),
                    "random_phase_overhead_ratio": ratios.map(|(_, r)| r),
                    "at_once_second_calling_share": at_once_calling,
                    "at_once_second_flushing_share": at_once_flushing,
                    "random_phase_second_calling_share": random_calling,
                    "random_phase_second_flushing_share": random_flushing,
                    "at_once_median_round_calling_share": median_round_calling,
                    "at_once_full_overlap_rounds": full_overlap.map(|(_, n)| n),
                    "at_once_full_overlap_overhead_ratio": full_overlap.map(|(r, _)| r),
                }),
            );
        }
        json.insert(path.to_owned(), routes.into());
    }
    let measured_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    json.insert("measured_at_unix_secs".to_owned(), measured_at.into());
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
