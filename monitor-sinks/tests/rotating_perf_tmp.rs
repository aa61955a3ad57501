#[path = "rotating_support.rs"]
mod support;
use monitor_sinks::rotating::{LogFileConfig, RotatingLog};
use std::time::{Duration, Instant};
use support::*;

#[test]
#[ignore]
fn perf() {
    let (_tmp, dir) = tempdir();
    let t0 = utc(2026, 12, 4, 0, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), t0).unwrap();
    let l = line(123456, t0);
    let n = 20_000_000u64;
    let start = Instant::now();
    for i in 0..n {
        log.write_line(&l, t0 + Duration::from_nanos(i * 100));
    }
    log.flush(t0);
    let el = start.elapsed();
    eprintln!("{} lines of {} bytes in {:?}: {:.1} ns/line, {:.0} MB/s", n, l.len(), el, el.as_nanos() as f64 / n as f64, (n as f64 * l.len() as f64) / el.as_secs_f64() / 1e6);
    let mut s = String::with_capacity(64);
    let start = Instant::now();
    for i in 0..n {
        s.clear();
        monitor_sinks::time::format_rfc3339_micros(t0 + Duration::from_nanos(i * 1000), &mut s);
    }
    let el = start.elapsed();
    eprintln!("format_rfc3339_micros: {:.1} ns", el.as_nanos() as f64 / n as f64);
    std::hint::black_box(&s);
}
