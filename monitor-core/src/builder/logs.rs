//! Builder settings for the log files: rotation, retention, compression, mode.

use std::path::Path;

use monitor_sinks::rotating::{LogFileConfig, Retention, Rotation};

use super::MonitorBuilder;
use crate::collector::LogsConfig;
use crate::install_error::InstallError;

/// Rotation and retention of the three logs, as set on the builder.
#[derive(Clone, Debug)]
pub(crate) struct LogSettings {
    executions: (Rotation, Retention),
    errors: (Rotation, Retention),
    alerts: (Rotation, Retention),
    compress: bool,
    file_mode: u32,
    /// A cap for the three logs together, split by [`DIR_SHARES`].
    max_dir_bytes: Option<u64>,
}

/// How `log_dir_max_bytes` is split between the executions, errors and alerts
/// logs (percent).
const DIR_SHARES: (u64, u64, u64) = (70, 20, 10);

impl Default for LogSettings {
    fn default() -> Self {
        let preset = |config: LogFileConfig| (config.rotation, config.retention);
        LogSettings {
            executions: preset(LogFileConfig::executions("")),
            errors: preset(LogFileConfig::errors("")),
            alerts: preset(LogFileConfig::alerts("")),
            compress: false,
            file_mode: monitor_sinks::rotating::DEFAULT_FILE_MODE,
            max_dir_bytes: None,
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
        let share = |percent: u64| self.max_dir_bytes.map(|cap| cap / 100 * percent);
        let build = |setting: &'static str,
                     preset: LogFileConfig,
                     (rotation, mut retention): (Rotation, Retention),
                     share: Option<u64>| {
            if let (Some(share), Some(limit)) = (share, rotation.size_limit()) {
                if share / 2 < limit {
                    return Err(InstallError::InvalidConfig {
                        setting: "log_dir_max_bytes",
                        reason: format!(
                            "the {} log's share ({share} bytes) must hold at least two files of its rotation size ({limit} bytes); raise the cap or rotate at smaller sizes",
                            setting.trim_end_matches("_rotation")
                        ),
                    });
                }
            }
            retention.max_total_bytes = match (retention.max_total_bytes, share) {
                (Some(own), Some(share)) => Some(own.min(share)),
                (own, share) => own.or(share),
            };
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
                share(DIR_SHARES.0),
            )?,
            errors: build(
                "errors_rotation",
                LogFileConfig::errors(log_dir.join("errors")),
                self.errors,
                share(DIR_SHARES.1),
            )?,
            alerts: build(
                "alerts_rotation",
                LogFileConfig::alerts(log_dir.join("alerts")),
                self.alerts,
                share(DIR_SHARES.2),
            )?,
        })
    }
}

impl MonitorBuilder {
    /// When `executions/current.log` is rotated (default
    /// [`Rotation::DailyOrSize`] of 128 MiB: at UTC midnight, and before the
    /// file would pass 128 MiB).
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

    /// Which rotated executions logs are kept (default 30 days, and at most
    /// 1 GiB for the current and rotated files together: the oldest go
    /// first). A retention without
    /// [`with_max_total_bytes`](Retention::with_max_total_bytes) has no size
    /// cap (unless [`log_dir_max_bytes`](Self::log_dir_max_bytes) sets one).
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

    /// Which rotated errors logs are kept (default 90 days, at most 256 MiB).
    pub fn errors_retention(mut self, retention: Retention) -> Self {
        self.logs.errors.1 = retention;
        self
    }

    /// When `alerts/current_alerts.log` is rotated (default daily).
    pub fn alerts_rotation(mut self, rotation: Rotation) -> Self {
        self.logs.alerts.0 = rotation;
        self
    }

    /// Which rotated alerts logs are kept (default 90 days, at most 64 MiB).
    pub fn alerts_retention(mut self, retention: Retention) -> Self {
        self.logs.alerts.1 = retention;
        self
    }

    /// A size cap for the whole log directory: 70 % of it for the executions
    /// log, 20 % for the errors log, 10 % for the alerts log; a log whose own
    /// [`Retention::max_total_bytes`] is smaller keeps its own. The oldest
    /// rotated files go first, the current files never; `stats.db` (a row per
    /// function) is not counted. Each share must hold two files of its log's
    /// rotation size (else `install()` returns
    /// [`InstallError::InvalidConfig`](crate::InstallError::InvalidConfig)).
    /// Default: none beyond each log's own cap (1 GiB + 256 MiB + 64 MiB).
    ///
    /// ```
    /// use monitor_core::{Monitor, Rotation};
    /// let builder = Monitor::builder()
    ///     .executions_rotation(Rotation::DailyOrSize(16 << 20))
    ///     .log_dir_max_bytes(500 << 20); // 350 MiB of executions, 100 of errors, 50 of alerts
    /// # drop(builder);
    /// ```
    pub fn log_dir_max_bytes(mut self, bytes: u64) -> Self {
        self.logs.max_dir_bytes = Some(bytes);
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
