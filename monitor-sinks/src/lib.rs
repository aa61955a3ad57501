//! monitor-sinks (in progress)

pub mod rotating;
pub mod stats_store;
pub mod time;

pub use rotating::{LogFileConfig, Retention, RotatingLog, Rotation, SinkHealth};
