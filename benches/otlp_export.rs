//! OTLP export (feature `otlp`): what it costs the collector, and whether it
//! keeps up with 100,000 executions per second.
//!
//! Part 1 (criterion, group `otlp_export`): collector throughput as in
//! `benches/collector.rs` (a producer records ring-sized batches of
//! successful executions and flushes; wall time per execution), once without
//! export (`export_off`) and once with every execution exported as a span to
//! a local OTLP/HTTP receiver (`export_on`), then without again
//! (`export_off_again`), in the same run. The spans are
//! converted and sent on the export thread; the collector only copies each
//! execution into the exporter's bounded queue, so what `export_on` adds is
//! that copy (and the export thread's share of the 2 cores).
//!
//! Part 2 (not criterion): 100,000 executions per second for `OTLP_SECS`
//! seconds (default 5) with export on, then shutdown: executions recorded,
//! spans the receiver accepted, spans dropped or failed, and the caller's
//! time per call with export on and off, paced the same way.
//!
//! Run: `cargo bench --bench otlp_export --features otlp`.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use monitor::{monitored, Monitor, MonitorGuard, OtlpConfig};

/// Executions recorded between two flushes; also the per-thread ring size.
const BATCH: u64 = 1 << 16;

#[monitored(name = "otlp_bench_job")]
#[inline(never)]
fn job(x: u64) -> Result<u64, String> {
    Ok((x ^ (x >> 29))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9)
        .rotate_left(23))
}

/// Bytes of request bodies the receiver took.
struct Receiver {
    endpoint: String,
    bytes: Arc<AtomicU64>,
}

/// An OTLP/HTTP receiver that reads each request and answers 200 (it does
/// not decode: the receiver's CPU is not what is measured).
fn start_receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let bytes = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&bytes);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || serve(stream, &counted));
        }
    });
    Receiver { endpoint, bytes }
}

fn serve(stream: TcpStream, counted: &AtomicU64) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut body = Vec::new();
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        counted.fetch_add(length as u64, Ordering::Relaxed);
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

fn install(dir: &PathBuf, export: Option<&Receiver>) -> MonitorGuard {
    let builder = Monitor::builder()
        .log_dir(dir)
        .queue_capacity(BATCH as usize)
        .shutdown_timeout(Duration::from_secs(60))
        .capture_backtraces(false);
    let builder = match export {
        Some(receiver) => {
            builder.otlp(OtlpConfig::http(&receiver.endpoint).max_queue_size(1 << 16))
        }
        None => builder,
    };
    builder.install().expect("install the monitor")
}

/// Records `iters` executions in ring-sized batches, each followed by a
/// flush; returns the wall time of the whole thing.
fn record_and_flush(iters: u64) -> Duration {
    let started = Instant::now();
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(BATCH);
        for i in 0..n {
            let _ = black_box(job(black_box(done + i)));
        }
        assert!(monitor::flush(), "the collector answered the flush");
        done += n;
    }
    started.elapsed()
}

/// Calls `job` at `per_second` for `seconds`, in 1 ms slices; returns the
/// calls made and the time spent inside the calls (the caller's cost).
fn paced(per_second: u64, seconds: u64) -> (u64, Duration) {
    let per_slice = per_second / 1000;
    let started = Instant::now();
    let mut in_calls = Duration::ZERO;
    let mut calls = 0;
    for slice in 1..=seconds * 1000 {
        let before = Instant::now();
        for _ in 0..per_slice {
            let _ = black_box(job(black_box(calls)));
            calls += 1;
        }
        in_calls += before.elapsed();
        // Pacing, not synchronisation: hold the rate steady.
        let due = started + Duration::from_millis(slice);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    (calls, in_calls)
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    let mut group = c.benchmark_group("otlp_export");
    group.throughput(Throughput::Elements(1));
    let receiver = start_receiver();
    // Off, on, and off again: in the runs so far the second benchmark of the
    // process came out faster whatever it was, so the third shows the order
    // effect apart from export's.
    for (name, export) in [
        ("export_off", None),
        ("export_on", Some(&receiver)),
        ("export_off_again", None),
    ] {
        let dir = scratch_dir(name);
        let guard = install(&dir, export);
        group.bench_function(name, |b| b.iter_custom(record_and_flush));
        let stats = monitor::stats();
        let otlp = monitor::otlp_stats();
        assert_eq!(stats.dropped_events, 0, "the collector dropped executions");
        drop(guard);
        if export.is_some() {
            eprintln!(
                "{name}: {} executions counted; spans exported by the end: {}, dropped because the exporter's queue was full: {}",
                stats.get("otlp_bench_job").map_or(0, |f| f.total_executions),
                otlp.spans_exported,
                otlp.spans_dropped
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
    c.final_summary();

    let seconds: u64 = std::env::var("OTLP_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let rate = 100_000;
    for export in [false, true] {
        let receiver = start_receiver();
        let dir = scratch_dir("otlp-paced");
        let guard = install(&dir, export.then_some(&receiver));
        let started = Instant::now();
        let (calls, in_calls) = paced(rate, seconds);
        let wall = started.elapsed();
        assert!(monitor::flush());
        let stats = monitor::stats();
        // A benchmark, not a test: wait (polling, bounded) until the
        // exporter has accounted for every call, to report where each went.
        let accounted = Instant::now();
        let mut otlp = monitor::otlp_stats();
        while export
            && otlp.spans_exported + otlp.spans_dropped + otlp.spans_failed < calls
            && accounted.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(10));
            otlp = monitor::otlp_stats();
        }
        let drained_after = accounted.elapsed();
        let shutdown = Instant::now();
        drop(guard); // the exporter sends what is left before this returns
        let shutdown = shutdown.elapsed();
        let counted = stats
            .get("otlp_bench_job")
            .map_or(0, |f| f.total_executions);
        assert_eq!(counted, calls, "every call counted");
        assert_eq!(stats.dropped_events, 0, "no execution dropped");
        println!(
            "paced {rate}/s for {seconds} s, export {}: {calls} calls in {:.2} s ({:.0}/s); caller {:.1} ns/call",
            if export { "on" } else { "off" },
            wall.as_secs_f64(),
            calls as f64 / wall.as_secs_f64(),
            in_calls.as_nanos() as f64 / calls as f64,
        );
        if export {
            println!(
                "  {} spans exported, {} dropped (queue full), {} failed; the exporter was done {:.2} s after the last call's flush; shutdown took {:.2} s; receiver took {:.1} MiB",
                otlp.spans_exported,
                otlp.spans_dropped,
                otlp.spans_failed,
                drained_after.as_secs_f64(),
                shutdown.as_secs_f64(),
                receiver.bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
