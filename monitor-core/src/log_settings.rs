//! Builder settings for the log files: rotation, retention, compression, mode.

use std::path::Path;

use monitor_sinks::rotating::{LogFileConfig, Retention, Rotation};

use crate::collector::LogsConfig;
use crate::install_error::InstallError;
use crate::monitor::MonitorBuilder;

/// Rotation and retention of the three logs, as set on the builder.
#[derive(Clone, Debug)]
pub(crate) struct LogSettings {
    executions: (Rotation, Retention),
    errors: (Rotation, Retention),
    alerts: (Rotation, Retention),
    compress: bool,
    file_mode: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        let preset = |config: LogFileConfig| (config.rotation, config.retention);
        LogSettings {
            executions: preset(LogFileConfig::executions("")),
            errors: preset(LogFileConfig::errors("")),
            alerts: preset(LogFileConfig::alerts("")),
            compress: false,
            file_mode: monitor_sinks::rotating::DEFAULT_FILE_MODE,
        }
    }
}

impl LogSettings {
    /// The configuration of every log under `log_dir`; an invalid value is an
    /// install error naming the builder method.
    pub(crate) fn resolve(&self, log_dir: &Path) -> Result<LogsConfig, InstallError> {
        if self.file_mode > 0o7777 {
            return Err(InstallError::InvalidConfig {
                setting: "log_file_mode",
                reason: format!(
                    "{:o} is not a permission mode; write e.g. 0o640",
                    self.file_mode
                ),
            });
        }
        if self.file_mode & 0o600 != 0o600 {
            return Err(InstallError::InvalidConfig {
                setting: "log_file_mode",
                reason: format!(
                    "0o{:o} does not let the owner read and write the logs, which the monitor must do to reopen and rotate them; include 0o600, e.g. 0o640",
                    self.file_mode
                ),
            });
        }
        let build = |setting: &'static str,
                     preset: LogFileConfig,
                     (rotation, retention): (Rotation, Retention)| {
            let config = LogFileConfig {
                rotation,
                retention,
                compress: self.compress,
                file_mode: self.file_mode,
                ..preset
            };
            config
                .validate()
                .map_err(|error| InstallError::InvalidConfig {
                    setting,
                    reason: error.to_string(),
                })?;
            Ok(config)
        };
        Ok(LogsConfig {
            executions: build(
                "executions_rotation",
                LogFileConfig::executions(log_dir.join("executions")),
                self.executions,
            )?,
            errors: build(
                "errors_rotation",
                LogFileConfig::errors(log_dir.join("errors")),
                self.errors,
            )?,
            alerts: build(
                "alerts_rotation",
                LogFileConfig::alerts(log_dir.join("alerts")),
                self.alerts,
            )?,
        })
    }
}

impl MonitorBuilder {
    /// When `executions/current.log` is rotated (default [`Rotation::Daily`], at UTC midnight).
    ///
    /// ```
    /// use monitor_core::{Monitor, Rotation};
    /// let builder = Monitor::builder().executions_rotation(Rotation::DailyOrSize(256 << 20));
    /// # drop(builder);
    /// ```
    pub fn executions_rotation(mut self, rotation: Rotation) -> Self {
        self.logs.executions.0 = rotation;
        self
    }

    /// Which rotated executions logs are kept (default 30 days).
    ///
    /// ```
    /// use monitor_core::{Monitor, Retention};
    /// let builder = Monitor::builder().executions_retention(Retention::days(7).with_max_files(7));
    /// # drop(builder);
    /// ```
    pub fn executions_retention(mut self, retention: Retention) -> Self {
        self.logs.executions.1 = retention;
        self
    }

    /// When `errors/current_errors.log` is rotated (default before it passes 10 MiB).
    pub fn errors_rotation(mut self, rotation: Rotation) -> Self {
        self.logs.errors.0 = rotation;
        self
    }

    /// Which rotated errors logs are kept (default 90 days).
    pub fn errors_retention(mut self, retention: Retention) -> Self {
        self.logs.errors.1 = retention;
        self
    }

    /// When `alerts/current_alerts.log` is rotated (default daily).
    pub fn alerts_rotation(mut self, rotation: Rotation) -> Self {
        self.logs.alerts.0 = rotation;
        self
    }

    /// Which rotated alerts logs are kept (default 90 days).
    pub fn alerts_retention(mut self, retention: Retention) -> Self {
        self.logs.alerts.1 = retention;
        self
    }

    /// Gzip rotated log files (default off). Compression runs on a background
    /// thread; a half-written `.gz` is never mistaken for a complete one.
    pub fn compress_rotated_logs(mut self, compress: bool) -> Self {
        self.logs.compress = compress;
        self
    }

    /// Unix permissions of created log files (default `0o640`: logs carry error
    /// messages, which may contain secrets). The owner must keep read and
    /// write (`0o600`); anything else is an install error naming
    /// `log_file_mode`.
    pub fn log_file_mode(mut self, mode: u32) -> Self {
        self.logs.file_mode = mode;
        self
    }
}
