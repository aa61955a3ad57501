//! The JSON Lines files the collector writes: executions and errors.

use std::io;
use std::path::Path;
use std::time::SystemTime;

use monitor_sinks::rotating::{LogFileConfig, RotatingLog};

/// Configuration of every log file under the log directory.
#[derive(Clone, Debug)]
pub(crate) struct LogsConfig {
    pub(crate) executions: LogFileConfig,
    pub(crate) errors: LogFileConfig,
}

impl LogsConfig {
    pub(crate) fn defaults(log_dir: &Path) -> Self {
        LogsConfig {
            executions: LogFileConfig::executions(log_dir.join("executions")),
            errors: LogFileConfig::errors(log_dir.join("errors")),
        }
    }
}

/// The open log files.
pub(crate) struct LogFiles {
    pub(crate) executions: RotatingLog,
    pub(crate) errors: RotatingLog,
}

impl LogFiles {
    pub(crate) fn open(config: LogsConfig, now: SystemTime) -> io::Result<Self> {
        Ok(LogFiles {
            executions: RotatingLog::open(config.executions, now)?,
            errors: RotatingLog::open(config.errors, now)?,
        })
    }

    pub(crate) fn flush(&mut self, now: SystemTime) {
        self.executions.flush(now);
        self.errors.flush(now);
    }

    pub(crate) fn sync(&mut self, now: SystemTime) {
        self.executions.sync(now);
        self.errors.sync(now);
    }
}
