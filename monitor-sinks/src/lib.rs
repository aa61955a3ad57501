//! File and database sinks for `monitor`: rotating JSON Lines files with
//! retention ([`rotating`]), the SQLite statistics store ([`stats_store`]),
//! and UTC time formatting ([`time`]).

#![forbid(unsafe_code)]

pub mod rotating;
pub mod stats_store;
pub mod time;

pub use rotating::{LogFileConfig, LogHealth, Retention, RotatingLog, Rotation};
