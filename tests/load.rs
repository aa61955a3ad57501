//! Many threads at once: with back-pressure nothing is lost; with the default
//! drop-newest policy, recorded + dropped = calls, exactly.

mod common;

use std::sync::{mpsc, Arc, Mutex};

use common::{exclusive, executions, temp_dir};
use monitor::{monitored, Monitor, Overflow};

const THREADS: usize = 4;
const CALLS: usize = 50_000;

#[monitored(name = "load_unit")]
fn unit_of_work(i: usize) -> Result<usize, String> {
    if i % 1000 == 999 {
        Err(format!("item {i} rejected"))
    } else {
        Ok(i)
    }
}

fn hammer() {
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for i in 0..CALLS {
                    let _ = std::hint::black_box(unit_of_work(i));
                }
            });
        }
    });
}

#[test]
fn block_loses_nothing() {
    let _lock = exclusive();
    let dir = temp_dir("load-block");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .overflow(Overflow::Block)
        .queue_capacity(256)
        .without_stats_db()
        .install()
        .unwrap();
    hammer();
    assert!(guard.flush());
    let stats = monitor::stats();
    let unit = stats.get("load_unit").unwrap();
    let calls = (THREADS * CALLS) as u64;
    assert_eq!(unit.total_executions, calls);
    assert_eq!(unit.error_count, calls / 1000);
    assert_eq!(stats.dropped_events, 0);
    let lines = executions(&dir);
    assert_eq!(
        lines.iter().filter(|l| l["name"] == "load_unit").count() as u64,
        calls
    );
    drop(guard);
}

#[test]
fn drop_newest_counts_every_dropped_execution() {
    let _lock = exclusive();
    let dir = temp_dir("load-drop");
    let (sink, held) = common::holding_sink();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .queue_capacity(64)
        .queue_memory_budget(0) // fixed rings: no borrowing to absorb the load
        .without_stats_db()
        .sink(sink)
        .install()
        .unwrap();
    unit_of_work(0).unwrap();
    // The collector is held in the sink: the threads' rings overflow.
    held.wait_until_held();
    hammer();
    held.release();
    assert!(guard.flush());
    let stats = monitor::stats();
    let recorded = stats.get("load_unit").map_or(0, |s| s.total_executions);
    let calls = (THREADS * CALLS) as u64 + 1;
    // A ring holds its capacity, and at most one chunk (here 64) more.
    assert!(
        stats.dropped_events >= calls - 1 - (THREADS as u64) * 2 * 64,
        "every ring overflowed: only {} dropped",
        stats.dropped_events
    );
    assert_eq!(
        recorded + stats.dropped_events,
        calls,
        "recorded {recorded}, dropped {}",
        stats.dropped_events
    );
    let lines = executions(&dir);
    let logged = lines.iter().filter(|l| l["name"] == "load_unit").count() as u64;
    assert_eq!(logged, recorded);
    let gaps: u64 = lines
        .iter()
        .filter(|l| l["status"] == "gap")
        .map(|l| l["dropped_events"].as_u64().unwrap())
        .sum();
    assert_eq!(gaps, stats.dropped_events, "every drop is in a gap line");
    drop(guard);
}

/// Holds the collector on its first execution (see [`common::HoldingSink`]),
/// then notes the thread of every execution in the order processed, and
/// says when it has seen `expected` of them.
struct OrderSink {
    held: common::HoldingSink,
    order: Arc<Mutex<Vec<String>>>,
    expected: usize,
    done: mpsc::Sender<()>,
}

impl monitor::Sink for OrderSink {
    fn record(&mut self, execution: &monitor::ExecutionRecord<'_>) {
        monitor::Sink::record(&mut self.held, execution);
        let mut order = self.order.lock().unwrap();
        order.push(execution.thread.to_owned());
        if order.len() == self.expected {
            let _ = self.done.send(());
        }
    }
}

#[test]
fn a_busy_thread_cannot_starve_a_quiet_one() {
    const BUSY: usize = 10_000;
    const QUIET: usize = 10;
    let _lock = exclusive();
    let dir = temp_dir("load-fairness");
    let (held_sink, held) = common::holding_sink();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (done, all_seen) = mpsc::channel();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .queue_capacity(16_384)
        .without_stats_db()
        .sink(OrderSink {
            held: held_sink,
            order: Arc::clone(&order),
            expected: 1 + BUSY + QUIET,
            done,
        })
        .install()
        .unwrap();
    unit_of_work(0).unwrap();
    held.wait_until_held();
    // While the collector is held, a busy thread queues 10,000 executions,
    // then a quiet one 10.
    for (name, calls) in [("busy", BUSY), ("quiet", QUIET)] {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for i in 0..calls {
                    let _ = unit_of_work(i);
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }
    held.release();
    // No flush before everything was processed: a flush drains each ring
    // completely, the loop's own passes take at most 4,096 per ring.
    all_seen.recv().unwrap();
    assert!(guard.flush());

    let order = order.lock().unwrap();
    let mut runs: Vec<(&str, usize)> = Vec::new();
    for thread in order.iter().skip(1) {
        match runs.last_mut() {
            Some((name, count)) if *name == thread.as_str() => *count += 1,
            _ => runs.push((thread.as_str(), 1)),
        }
    }
    assert_eq!(
        runs,
        [("busy", 4096), ("quiet", QUIET), ("busy", BUSY - 4096)],
        "one pass takes at most 4,096 events from a ring, then moves on"
    );
    assert_eq!(monitor::stats().dropped_events, 0);
}
