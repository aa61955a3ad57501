//! Many threads at once: with back-pressure nothing is lost; with the default
//! drop-newest policy, recorded + dropped = calls, exactly.

mod common;

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
    assert!(
        stats.dropped_events >= calls - 1 - (THREADS as u64) * 64,
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
