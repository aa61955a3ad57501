//! Bursts are absorbed: with the default settings, a burst of a million
//! calls on one thread, and the same million on four threads at once, loses
//! nothing — even when the collector does not run at all during the burst.
//! Beyond the memory budget, executions are dropped and counted exactly.
//!
//! The collector is held inside a sink (it blocks on a channel while
//! recording one marker execution), so these tests do not depend on how the
//! collector is scheduled: what they show is that the queue itself holds the
//! whole burst. (A million calls on *each* of four threads, in a release
//! build with the collector running, is `benches/burst.rs`; recording four
//! million executions takes too long in a debug build for a test.)

mod common;

use std::hint::black_box;
use std::sync::mpsc::{channel, Receiver, Sender};

use common::{exclusive, executions, temp_dir};
use monitor::{monitored, ExecutionRecord, Monitor, MonitorBuilder, MonitorGuard, Sink};

const MILLION: u64 = 1_000_000;
const UNIT: &str = "bursts_unit";
const HOLD: &str = "bursts_hold";

#[monitored(name = "bursts_unit")]
fn unit(x: u64) -> u64 {
    x.wrapping_mul(31)
}

/// Recorded only to hold the collector (see [`Holder`]).
#[monitored(name = "bursts_hold")]
fn hold_marker() {}

/// A sink that blocks the collector inside `record` of the [`HOLD`]
/// execution, until released.
struct Holder {
    entered: Sender<()>,
    release: Receiver<()>,
}

impl Sink for Holder {
    fn record(&mut self, execution: &ExecutionRecord<'_>) {
        if execution.name == HOLD {
            let _ = self.entered.send(());
            // Err when the test ended without releasing: carry on.
            let _ = self.release.recv();
        }
    }
}

/// The test's side of a [`Holder`]. Dropping it releases the collector.
struct Held {
    entered: Receiver<()>,
    release: Sender<()>,
}

impl Held {
    /// Returns once the collector is blocked: from then on it drains nothing.
    fn hold(&self) {
        hold_marker();
        self.entered.recv().expect("the collector reaches the sink");
    }

    fn release(&self) {
        self.release.send(()).expect("the collector is held");
    }
}

fn install(builder: MonitorBuilder) -> (MonitorGuard, Held) {
    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel();
    let guard = builder
        .sink(Holder {
            entered: entered_tx,
            release: release_rx,
        })
        .install()
        .unwrap();
    let held = Held {
        entered: entered_rx,
        release: release_tx,
    };
    (guard, held)
}

fn burst(calls: u64) {
    for i in 0..calls {
        black_box(unit(black_box(i)));
    }
}

fn recorded(name: &str) -> u64 {
    monitor::stats().get(name).map_or(0, |s| s.total_executions)
}

#[test]
fn a_million_calls_on_one_thread_are_absorbed_while_the_collector_is_held() {
    let _lock = exclusive();
    let dir = temp_dir("bursts-one-thread");
    let (guard, held) = install(Monitor::builder().log_dir(&dir));
    held.hold();
    burst(MILLION);
    held.release();
    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.dropped_events, 0);
    assert_eq!(recorded(UNIT), MILLION);
}

#[test]
fn a_million_calls_on_four_threads_at_once_are_absorbed_while_the_collector_is_held() {
    let _lock = exclusive();
    let dir = temp_dir("bursts-four-threads");
    let (guard, held) = install(Monitor::builder().log_dir(&dir));
    held.hold();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| burst(MILLION / 4));
        }
    });
    held.release();
    assert!(guard.flush());
    let stats = monitor::stats();
    assert_eq!(stats.dropped_events, 0);
    assert_eq!(recorded(UNIT), MILLION);
}

/// Every drop is in `dropped_events` and in a gap line; recorded + dropped
/// is the number of calls.
fn assert_counted_exactly(dir: &std::path::Path, calls: u64) -> (u64, u64) {
    let stats = monitor::stats();
    let recorded = recorded(UNIT);
    assert_eq!(
        recorded + stats.dropped_events,
        calls,
        "recorded {recorded}, dropped {}",
        stats.dropped_events
    );
    let lines = executions(dir);
    let logged = lines.iter().filter(|l| l["name"] == UNIT).count() as u64;
    assert_eq!(logged, recorded);
    let gaps: u64 = lines
        .iter()
        .filter(|l| l["status"] == "gap")
        .map(|l| l["dropped_events"].as_u64().unwrap())
        .sum();
    assert_eq!(gaps, stats.dropped_events, "every drop is in a gap line");
    for line in &lines {
        // Execution lines have an id; monitor records (gap lines) have none.
        assert_eq!(line.get("id").is_some(), line["status"] != "gap", "{line}");
    }
    (recorded, stats.dropped_events)
}

#[test]
fn beyond_the_memory_budget_executions_are_dropped_and_counted_exactly() {
    let _lock = exclusive();
    let dir = temp_dir("bursts-over-budget");
    const CAPACITY: u64 = 8192;
    const BUDGET: u64 = 1 << 20;
    const CALLS: u64 = 200_000;
    let (guard, held) = install(
        Monitor::builder()
            .log_dir(&dir)
            .queue_capacity(CAPACITY as usize)
            .queue_memory_budget(BUDGET as usize)
            .without_stats_db(),
    );
    held.hold();
    burst(CALLS);
    held.release();
    assert!(guard.flush());
    let (recorded, dropped) = assert_counted_exactly(&dir, CALLS);
    assert!(dropped > 0, "a 1 MiB budget cannot hold {CALLS} executions");
    // The thread's own ring holds at least its capacity (and at most one
    // chunk of 1,024 more); the budget lends 40 bytes per execution plus
    // each chunk's header, so somewhat fewer than BUDGET / 40.
    let borrowed = recorded - CAPACITY;
    assert!(
        (BUDGET / 48..=1024 + BUDGET / 40).contains(&borrowed),
        "{borrowed} executions held beyond the thread's own capacity"
    );
    // After the overload, bursts are absorbed again: the budget was given back.
    held_burst_loses_nothing(&held, &guard, recorded);
}

/// Holds the collector again, bursts as much as the budget can take, and
/// checks nothing more was dropped.
fn held_burst_loses_nothing(held: &Held, guard: &MonitorGuard, recorded_before: u64) {
    let dropped_before = monitor::stats().dropped_events;
    held.hold();
    burst(20_000);
    held.release();
    assert!(guard.flush());
    assert_eq!(monitor::stats().dropped_events, dropped_before);
    assert_eq!(recorded(UNIT), recorded_before + 20_000);
}

#[test]
fn without_a_budget_each_thread_holds_its_queue_capacity_and_drops_the_rest() {
    let _lock = exclusive();
    let dir = temp_dir("bursts-no-budget");
    const CAPACITY: u64 = 1000;
    const CALLS: u64 = 5000;
    let (guard, held) = install(
        Monitor::builder()
            .log_dir(&dir)
            .queue_capacity(CAPACITY as usize)
            .queue_memory_budget(0)
            .without_stats_db(),
    );
    held.hold();
    burst(CALLS);
    held.release();
    assert!(guard.flush());
    let (recorded, _) = assert_counted_exactly(&dir, CALLS);
    assert!(
        (CAPACITY..2 * CAPACITY).contains(&recorded),
        "{recorded} recorded with a ring of {CAPACITY}"
    );
}
