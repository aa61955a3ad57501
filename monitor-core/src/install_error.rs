//! Why [`MonitorBuilder::install`](crate::MonitorBuilder::install) refused.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// An error from [`MonitorBuilder::install`](crate::MonitorBuilder::install).
/// Nothing was installed; the host can fix the cause and try again.
///
/// ```
/// use monitor_core::{InstallError, Monitor};
/// let err = Monitor::builder().queue_capacity(0).install().unwrap_err();
/// assert!(matches!(err, InstallError::InvalidConfig { setting: "queue_capacity", .. }));
/// assert!(err.to_string().contains("queue_capacity"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum InstallError {
    /// A monitor is installed already; drop its guard first.
    AlreadyInstalled,
    /// A builder setting is out of range.
    InvalidConfig {
        /// The builder method at fault.
        setting: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The log directory cannot be created or written.
    LogDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A collector from an earlier install that did not stop in time still
    /// writes to this log directory.
    LogDirInUse {
        /// The directory.
        path: PathBuf,
    },
    /// The collector thread could not be started.
    Spawn(io::Error),
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::AlreadyInstalled => f.write_str(
                "a monitor is already installed in this process; drop its MonitorGuard before installing another",
            ),
            InstallError::InvalidConfig { setting, reason } => write!(f, "invalid `{setting}`: {reason}"),
            InstallError::LogDir { path, source } => {
                write!(f, "cannot use log directory {}: {source}", path.display())
            }
            InstallError::LogDirInUse { path } => write!(
                f,
                "log directory {} is still being written by a monitor that did not shut down in time; try again or use another directory",
                path.display()
            ),
            InstallError::Spawn(source) => write!(f, "cannot start the collector thread: {source}"),
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InstallError::LogDir { source, .. } | InstallError::Spawn(source) => Some(source),
            _ => None,
        }
    }
}
