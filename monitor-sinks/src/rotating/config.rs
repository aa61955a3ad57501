//! Configuration of a rotating log.

use std::io;
use std::path::PathBuf;

use super::naming::StampFormat;
use super::retention::Retention;

/// Ten mebibytes, the size limit of the errors log.
pub const TEN_MIB: u64 = 10 * 1024 * 1024;

/// Default size cap of the executions log (current and rotated files): 1 GiB.
pub const EXECUTIONS_MAX_TOTAL_BYTES: u64 = 1 << 30;
/// Default size at which the executions log rotates within a day: 128 MiB.
pub const EXECUTIONS_ROTATION_BYTES: u64 = 128 << 20;
/// Default size cap of the errors log: 256 MiB.
pub const ERRORS_MAX_TOTAL_BYTES: u64 = 256 << 20;
/// Default size cap of the alerts log: 64 MiB.
pub const ALERTS_MAX_TOTAL_BYTES: u64 = 64 << 20;

/// Default bound on lines kept in memory while writes fail (8 MiB).
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

/// Default permissions of created files.
pub const DEFAULT_FILE_MODE: u32 = 0o640;

/// When the current file is rotated.
///
/// ```
/// use monitor_sinks::rotating::Rotation;
/// let r = Rotation::DailyOrSize(64 * 1024 * 1024);
/// assert_eq!(r.size_limit(), Some(64 * 1024 * 1024));
/// assert!(r.is_timed());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// Never rotate; the current file grows forever.
    Never,
    /// At each UTC midnight; rotated name `YYYY-MM-DD{_base}.log`.
    Daily,
    /// At each full UTC hour; rotated name `YYYY-MM-DDTHH{_base}.log`.
    Hourly,
    /// Before a line would take the file past this many bytes; rotated name
    /// `YYYYMMDDTHHMMSSZ{_base}.log` (UTC time of rotation). Must be > 0.
    Size(u64),
    /// At each UTC midnight and also before a line would take the file past
    /// this many bytes; all files of a day are named `YYYY-MM-DD{_base}.log`,
    /// then `.1`, `.2`, … in order. Must be > 0.
    DailyOrSize(u64),
}

impl Rotation {
    /// The size limit in bytes, if this policy has one.
    pub fn size_limit(&self) -> Option<u64> {
        match *self {
            Rotation::Size(n) | Rotation::DailyOrSize(n) => Some(n),
            _ => None,
        }
    }

    /// Whether this policy rotates on UTC day or hour boundaries.
    pub fn is_timed(&self) -> bool {
        matches!(
            self,
            Rotation::Daily | Rotation::Hourly | Rotation::DailyOrSize(_)
        )
    }

    /// Length of one period in seconds, for timed policies.
    pub(crate) fn period_secs(&self) -> Option<i64> {
        match self {
            Rotation::Daily | Rotation::DailyOrSize(_) => Some(86_400),
            Rotation::Hourly => Some(3_600),
            _ => None,
        }
    }

    pub(crate) fn stamp_format(&self) -> StampFormat {
        match self {
            Rotation::Hourly => StampFormat::Hour,
            Rotation::Size(_) => StampFormat::Instant,
            _ => StampFormat::Day,
        }
    }
}

/// Everything a [`RotatingLog`](super::RotatingLog) needs to know.
///
/// Start from one of the presets and adjust fields:
///
/// ```
/// use monitor_sinks::rotating::{LogFileConfig, Rotation};
/// let mut c = LogFileConfig::errors("/var/log/myapp/errors");
/// assert_eq!(c.base_name, "errors");
/// assert_eq!(c.rotation, Rotation::Size(10 * 1024 * 1024));
/// c.compress = true;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileConfig {
    /// Directory of the current and rotated files; created when missing.
    pub dir: PathBuf,
    /// `""` (files `current.log`, `2026-12-04.log`) or a name made of ASCII
    /// letters, digits, `-` and `_` (files `current_errors.log`, …).
    pub base_name: String,
    /// When to rotate.
    pub rotation: Rotation,
    /// Which rotated files to delete.
    pub retention: Retention,
    /// Gzip rotated files (on a background thread). Default `false`.
    pub compress: bool,
    /// Unix permissions of created files (default `0o640`, subject to the
    /// umask); created directories get the same plus owner `rw` and `x`
    /// wherever `r` is set (`0o750` for `0o640`).
    /// Ignored on other platforms.
    pub file_mode: u32,
    /// Bound on bytes of lines held in memory while writing fails (default
    /// 8 MiB). Lines that do not fit are dropped (the newest) and counted.
    /// Also bounds the normal write buffer, which is at most 256 KiB.
    pub max_buffered_bytes: usize,
}

impl LogFileConfig {
    /// A configuration with the given fields and defaults for the rest
    /// (no compression, mode `0o640`, 8 MiB buffer bound).
    pub fn new(
        dir: impl Into<PathBuf>,
        base_name: impl Into<String>,
        rotation: Rotation,
        retention: Retention,
    ) -> Self {
        LogFileConfig {
            dir: dir.into(),
            base_name: base_name.into(),
            rotation,
            retention,
            compress: false,
            file_mode: DEFAULT_FILE_MODE,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
        }
    }

    /// The executions log: `current.log`, daily (and before passing
    /// 128 MiB) to `YYYY-MM-DD.log`, `YYYY-MM-DD.1.log`, …; 30 days, at most
    /// 1 GiB in total.
    pub fn executions(dir: impl Into<PathBuf>) -> Self {
        Self::new(
            dir,
            "",
            Rotation::DailyOrSize(EXECUTIONS_ROTATION_BYTES),
            Retention::days(30).with_max_total_bytes(EXECUTIONS_MAX_TOTAL_BYTES),
        )
    }

    /// The errors log: `current_errors.log`, rotated before it would pass
    /// 10 MiB to `YYYYMMDDTHHMMSSZ_errors.log`; 90 days, at most 256 MiB.
    pub fn errors(dir: impl Into<PathBuf>) -> Self {
        Self::new(
            dir,
            "errors",
            Rotation::Size(TEN_MIB),
            Retention::days(90).with_max_total_bytes(ERRORS_MAX_TOTAL_BYTES),
        )
    }

    /// The alerts log: `current_alerts.log`, daily to
    /// `YYYY-MM-DD_alerts.log`; 90 days, at most 64 MiB.
    pub fn alerts(dir: impl Into<PathBuf>) -> Self {
        Self::new(
            dir,
            "alerts",
            Rotation::Daily,
            Retention::days(90).with_max_total_bytes(ALERTS_MAX_TOTAL_BYTES),
        )
    }

    /// Checks the values that would make the log unusable.
    pub fn validate(&self) -> io::Result<()> {
        let bad = |msg: String| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        if self.dir.as_os_str().is_empty() {
            return bad("log directory is empty".into());
        }
        if !self
            .base_name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return bad(format!(
                "log base name {:?} may only contain ASCII letters, digits, '-' and '_'",
                self.base_name
            ));
        }
        if self.rotation.size_limit() == Some(0) {
            return bad("rotation size limit must be greater than 0".into());
        }
        if self.file_mode > 0o7777 {
            return bad(format!(
                "file mode {:o} is not a permission mode",
                self.file_mode
            ));
        }
        Ok(())
    }

    /// Mode for created directories: the file mode plus `x` where `r` is set.
    pub(crate) fn dir_mode(&self) -> u32 {
        let m = (self.file_mode & 0o777) | 0o600;
        m | ((m & 0o444) >> 2)
    }
}
