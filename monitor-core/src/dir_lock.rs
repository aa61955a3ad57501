//! The lock that keeps a second process out of a log directory (and out of a
//! statistics database kept elsewhere).
//!
//! Two processes writing one directory would rename each other's
//! `current.log` during rotation and overwrite each other's rows in
//! `stats.db` (the last writer wins). So [`install`](crate::MonitorBuilder::install)
//! takes an exclusive advisory lock on `<log_dir>/.lock` (std's
//! [`File::try_lock`]: `flock` on Unix, `LockFileEx` on Windows) and writes
//! its pid into the file, so that the process it refuses can name the holder.
//!
//! The lock belongs to the open file, not to the file's existence: it is
//! released when the collector stops (the guard's drop) and by the operating
//! system when the process dies, however it dies. A lock file left behind by
//! a killed process is therefore not locked, and the next start takes it.
//! The file itself is never deleted (deleting it would let a third process
//! lock a fresh file while a second still holds the old one).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::install_error::{InstallError, LockedResource};

/// Name of the lock file inside the log directory.
pub(crate) const LOCK_FILE_NAME: &str = ".lock";

/// An exclusive lock, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
}

impl DirLock {
    /// Locks `<log_dir>/.lock`.
    pub(crate) fn log_dir(log_dir: &Path) -> Result<Option<DirLock>, InstallError> {
        let lock_file = log_dir.join(LOCK_FILE_NAME);
        acquire(&lock_file, log_dir, LockedResource::LogDir).map_err(|source| {
            InstallError::LogDir {
                path: log_dir.to_path_buf(),
                source,
            }
        })?
    }

    /// Locks `<db>.lock`, for a statistics database outside the log
    /// directory. A lock file that cannot be created does not stop the
    /// install: the database is then unusable too, and the store reports
    /// that and retries on its own.
    pub(crate) fn stats_db(db: &Path) -> Result<Option<DirLock>, InstallError> {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        let lock_file = PathBuf::from(name);
        if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        match acquire(&lock_file, db, LockedResource::StatsDb) {
            Ok(result) => result,
            Err(error) => {
                eprintln!(
                    "monitor: cannot create the lock file {} ({error}); another process could share {}",
                    lock_file.display(),
                    db.display()
                );
                Ok(None)
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Clear the pid, so nobody reads a stale one; the lock itself goes
        // with the file handle.
        let _ = self.file.set_len(0);
    }
}

/// `Ok(Ok(Some))`: locked; `Ok(Err)`: held by another process;
/// `Ok(Ok(None))`: this file system cannot lock (one notice, no lock);
/// `Err`: the lock file cannot be opened or written.
fn acquire(
    lock_file: &Path,
    resource: &Path,
    kind: LockedResource,
) -> io::Result<Result<Option<DirLock>, InstallError>> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_file)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())?;
            Ok(Ok(Some(DirLock { file })))
        }
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Ok(Err(InstallError::Locked {
                resource: kind,
                path: resource.to_path_buf(),
                lock_file: lock_file.to_path_buf(),
                holder_pid: text.trim().parse().ok(),
            }))
        }
        Err(TryLockError::Error(error)) if error.kind() == io::ErrorKind::Unsupported => {
            eprintln!(
                "monitor: {} cannot be locked on this file system ({error}); make sure no other process uses {}",
                lock_file.display(),
                resource.display()
            );
            Ok(Ok(None))
        }
        Err(TryLockError::Error(error)) => Err(error),
    }
}

/// Locks the log directory and, when it lies outside it, the statistics
/// database. Both are released when the returned value is dropped.
pub(crate) fn lock_all(
    log_dir: &Path,
    stats_db: Option<&Path>,
) -> Result<Vec<DirLock>, InstallError> {
    let mut locks = Vec::new();
    locks.extend(DirLock::log_dir(log_dir)?);
    if let Some(db) = stats_db.filter(|db| db.parent() != Some(log_dir)) {
        locks.extend(DirLock::stats_db(db)?);
    }
    Ok(locks)
}
