//! # monitor
//!
//! Put `#[monitored]` on a function (sync, async, methods; returning `Result`,
//! `Option` or anything) and every execution is recorded: when it started, how
//! long it took, and whether it succeeded, returned `Err`, panicked or (async)
//! was cancelled. The caller pays tens of nanoseconds: two clock reads and one
//! push into a per-thread ring. One background thread does the rest: JSON
//! Lines logs with rotation and retention, per-function statistics persisted
//! in SQLite, alert rules and notifications, and a status report.
//!
//! ```no_run
//! use monitor::{monitored, Monitor};
//!
//! #[monitored]
//! fn turn_off_lights() -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//!
//! #[monitored(name = "scale_ec2", trigger = "condition")]
//! async fn scale() -> Result<(), String> {
//!     Err("no credentials".into())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let guard = Monitor::builder()
//!         .log_dir(".monitor")
//!         .on_alert(|alert: &monitor::Alert| eprintln!("{alert}"))
//!         .install()?;
//!     turn_off_lights()?;
//!     guard.flush(); // written, counted, alerted on; `on_alert` has been called
//!     println!("{}", monitor::health()); // 🟢 green, or 🟡/🔴 with reasons
//!     let stats = monitor::stats();
//!     let lights = stats.get("my_app::turn_off_lights");
//!     println!("{lights:?}");
//!     Ok(())
//! }
//! ```
//!
//! Without an installed monitor, `#[monitored]` functions run normally and
//! record nothing, at the cost of one relaxed atomic load and the branches
//! on it (a few nanoseconds; `benches/not_installed.rs`).
//!
//! See FORMAT.md for the file formats, and the README for the alert rules
//! and the SQL to query the statistics database.
#![warn(missing_docs)]

pub use monitor_core::*;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Records every execution of a function. See [the macro crate's docs](monitor_macros::monitored).
pub use monitor_macros::monitored;
