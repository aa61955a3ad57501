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
    /// Another process holds the log directory (or the statistics database):
    /// two processes writing the same files would rename each other's logs
    /// and overwrite each other's statistics. Give this process another
    /// `log_dir` (or `stats_db`), or stop the other one. A lock left by a
    /// process that died is released by the operating system and never
    /// causes this.
    ///
    /// ```no_run
    /// use monitor_core::{InstallError, Monitor};
    /// match Monitor::builder().log_dir("/var/lib/myapp/monitor").install() {
    ///     Err(InstallError::Locked { holder_pid, .. }) => eprintln!("in use by {holder_pid:?}"),
    ///     other => drop(other),
    /// }
    /// ```
    Locked {
        /// What is locked: the log directory or a statistics database.
        resource: LockedResource,
        /// The directory or database.
        path: PathBuf,
        /// The lock file (`<log_dir>/.lock`, or `<stats_db>.lock`).
        lock_file: PathBuf,
        /// The holder's process id, as it wrote it in the lock file
        /// (`None` if it could not be read).
        holder_pid: Option<u32>,
    },
    /// The HTTP server cannot listen on the address given to
    /// [`serve`](crate::MonitorBuilder::serve) (feature `http`).
    #[cfg(feature = "http")]
    Serve {
        /// The address as given.
        addr: String,
        /// The underlying error (address in use, permission denied…).
        source: io::Error,
    },
}

/// What [`InstallError::Locked`] is about.
///
/// ```
/// use monitor_core::LockedResource;
/// assert_ne!(LockedResource::LogDir, LockedResource::StatsDb);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockedResource {
    /// The log directory (`<log_dir>/.lock`).
    LogDir,
    /// A statistics database set with `stats_db(path)` (`<path>.lock`).
    StatsDb,
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
            InstallError::Locked {
                resource,
                path,
                lock_file,
                holder_pid,
            } => {
                let (what, setting) = match resource {
                    LockedResource::LogDir => ("log directory", "log_dir"),
                    LockedResource::StatsDb => ("statistics database", "stats_db"),
                };
                let holder = match holder_pid {
                    Some(pid) => format!("process {pid}"),
                    None => "another process".to_owned(),
                };
                write!(
                    f,
                    "{what} {} is in use by {holder} (lock file {}); two processes on the same files would overwrite each other's statistics and logs: give this process another `{setting}`, or stop {holder} first",
                    path.display(),
                    lock_file.display()
                )
            }
            #[cfg(feature = "http")]
            InstallError::Serve { addr, source } => {
                write!(f, "cannot serve HTTP on {addr}: {source}")
            }
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InstallError::LogDir { source, .. } | InstallError::Spawn(source) => Some(source),
            #[cfg(feature = "http")]
            InstallError::Serve { source, .. } => Some(source),
            _ => None,
        }
    }
}
