//! A small home-automation host app: a few monitored jobs, some failing, one
//! panicking, one async. Run it with `cargo run --example quickstart`; it
//! writes `.monitor/`, fires an alert, and prints the status report.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use monitor::{monitored, Monitor};

#[derive(Debug)]
struct NoCredentialsError;

impl fmt::Display for NoCredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unable to locate credentials")
    }
}

impl Error for NoCredentialsError {}

/// A scheduled job that works.
#[monitored(trigger = "schedule", every = "1h")]
fn turn_off_lights(room: &str) -> Result<usize, std::io::Error> {
    std::thread::sleep(Duration::from_millis(2)); // talking to the lights
    Ok(room.len())
}

/// An async job whose cloud credentials are missing: it fails every time.
#[monitored(name = "scale_ec2", trigger = "condition")]
async fn scale_ec2(instances: u32) -> Result<u32, NoCredentialsError> {
    if instances > 0 {
        return Err(NoCredentialsError);
    }
    Ok(instances)
}

/// `None` is an answer, not an error.
#[monitored]
fn parse_temperature(raw: &str) -> Option<f64> {
    raw.trim().parse().ok()
}

/// Panics when the pressure is out of range.
#[monitored]
fn calibrate_boiler(pressure: u32) -> u32 {
    assert!(pressure < 100, "boiler pressure {pressure} out of range");
    pressure / 2
}

fn main() -> Result<(), Box<dyn Error>> {
    // A one-line panic report instead of the default (the monitor chains this hook
    // and records every panic's message, location and stack trace itself).
    std::panic::set_hook(Box::new(|info| {
        eprintln!("panic (recorded by the monitor): {info}")
    }));
    let guard = Monitor::builder()
        .log_dir(".monitor")
        .on_alert(|alert: &monitor::Alert| println!("🔔 {alert}"))
        .install()?;

    for room in ["kitchen", "hall", "garage", "office"]
        .iter()
        .cycle()
        .take(24)
    {
        turn_off_lights(room)?;
    }
    for instances in 1..=6 {
        if let Err(error) = pollster::block_on(scale_ec2(instances)) {
            eprintln!("scale_ec2 failed: {error}");
        }
    }
    for raw in ["21.5", "19.0", "n/a", "22.1"] {
        let _ = parse_temperature(raw);
    }
    calibrate_boiler(40);
    let _ = std::panic::catch_unwind(|| calibrate_boiler(140));

    // Everything recorded so far is now written, counted and alerted on.
    guard.flush();

    println!();
    println!("{}", monitor::status_report());
    println!("{}", monitor::health());
    println!("Logs: .monitor/executions/current.log, .monitor/errors/current_errors.log, .monitor/alerts/current_alerts.log");
    println!("Statistics: sqlite3 .monitor/stats.db 'SELECT name, total_executions, error_count FROM function_stats'");
    Ok(())
}
