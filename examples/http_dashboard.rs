//! A host that serves its monitor over HTTP (feature `http`): a few jobs run,
//! some fail, then the process serves `/metrics`, the JSON API, `/events`
//! and the dashboard.
//!
//! ```text
//! cargo run --example http_dashboard --features http -- --serve-seconds 600
//! ```
//!
//! It prints `listening on http://ADDR/` and then, as one JSON line,
//! `stats {"function": total_executions, …}` (what `scripts/e2e-http.sh`
//! compares with Prometheus). Options: `--addr 127.0.0.1:9464` (default
//! port 0: a free one), `--serve-seconds N` (default 0: exit at once),
//! `--log-dir DIR` (default a directory under the system's temp dir).

use std::collections::BTreeMap;
use std::time::Duration;

use monitor::{monitored, Monitor};

/// Always works.
#[monitored(trigger = "schedule")]
fn fetch_prices(market: &str) -> Result<usize, std::io::Error> {
    Ok(market.len())
}

/// Fails one time in three.
#[monitored(name = "scale_ec2", trigger = "condition")]
fn scale_ec2(round: u32) -> Result<(), String> {
    if round.is_multiple_of(3) {
        Err(format!("unable to locate credentials (round {round})"))
    } else {
        Ok(())
    }
}

/// Slower work.
#[monitored]
fn send_report(pages: u64) -> u64 {
    (0..pages * 10_000).map(std::hint::black_box).sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut serve_seconds = 0u64;
    let mut log_dir =
        std::env::temp_dir().join(format!("monitor-http-example-{}", std::process::id()));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--addr" => addr = value,
            "--serve-seconds" => serve_seconds = value.parse()?,
            "--log-dir" => log_dir = value.into(),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let guard = Monitor::builder()
        .log_dir(&log_dir)
        .without_stats_db()
        .serve(addr)
        .install()?;
    for round in 0..30 {
        fetch_prices("NYSE")?;
        let _ = scale_ec2(round);
        if round.is_multiple_of(5) {
            send_report(u64::from(round));
        }
    }
    guard.flush();
    let totals: BTreeMap<String, u64> = monitor::stats()
        .iter()
        .map(|function| (function.name.clone(), function.total_executions))
        .collect();
    let addr = guard.http_addr().expect("serving");
    println!("listening on http://{addr}/");
    println!("stats {}", serde_json::to_string(&totals)?);
    std::thread::sleep(Duration::from_secs(serve_seconds));
    drop(guard);
    let _ = std::fs::remove_dir_all(&log_dir);
    Ok(())
}
