//! The JSON Lines files the collector writes: executions and errors (the
//! alerts log belongs to the alerting side).

use std::io;
use std::time::SystemTime;

use monitor_sinks::rotating::{LogFileConfig, RotatingLog};

/// Configuration of every log file under the log directory.
#[derive(Clone, Debug)]
pub(crate) struct LogsConfig {
    pub(crate) executions: LogFileConfig,
    pub(crate) errors: LogFileConfig,
    pub(crate) alerts: LogFileConfig,
}

/// The open log files.
pub(crate) struct LogFiles {
    pub(crate) executions: RotatingLog,
    pub(crate) errors: RotatingLog,
}

impl LogFiles {
    pub(crate) fn open(
        executions: LogFileConfig,
        errors: LogFileConfig,
        now: SystemTime,
    ) -> io::Result<Self> {
        Ok(LogFiles {
            executions: RotatingLog::open(executions, now)?,
            errors: RotatingLog::open(errors, now)?,
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
