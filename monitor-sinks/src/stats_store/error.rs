//! Errors of the statistics store.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::PathBuf;

use rusqlite::ErrorCode;

/// The boxed underlying cause of a [`StoreError`].
pub type BoxedCause = Box<dyn Error + Send + Sync + 'static>;

/// The broad category of a [`StoreError`], for deciding what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// Another connection holds a lock and it was not released within the
    /// busy timeout. Usually transient: retry later.
    Busy,
    /// The database file or its directory is read-only or cannot be written
    /// (permissions, read-only file system, cannot create the file).
    ReadOnly,
    /// The file is not an SQLite database or is malformed.
    Corrupt,
    /// The file was written by a newer version with an unknown schema.
    NewerSchema,
    /// Anything else (I/O errors, disk full, unexpected SQLite errors).
    Other,
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreErrorKind::Busy => "locked/busy",
            StoreErrorKind::ReadOnly => "read-only/unwritable",
            StoreErrorKind::Corrupt => "corrupt",
            StoreErrorKind::NewerSchema => "newer schema",
            StoreErrorKind::Other => "other",
        })
    }
}

/// An error of the statistics store.
///
/// The `Display` text is a complete, human readable sentence including the
/// underlying cause (it is what [`StoreHealth::last_error`] shows); the cause
/// is also available through [`Error::source`].
///
/// [`StoreHealth::last_error`]: super::StoreHealth::last_error
#[derive(Debug)]
pub enum StoreError {
    /// Another connection held a lock longer than the busy timeout.
    Busy {
        /// What the store was doing, including the file path.
        context: String,
        /// The underlying error.
        source: BoxedCause,
    },
    /// The database file or its directory is read-only or unwritable.
    ReadOnly {
        /// What the store was doing, including the file path.
        context: String,
        /// The underlying error.
        source: BoxedCause,
    },
    /// The file is not an SQLite database or is malformed (and, when returned
    /// by an open, could not be moved aside).
    Corrupt {
        /// What the store was doing, including the file path.
        context: String,
        /// The underlying error.
        source: BoxedCause,
    },
    /// The file's schema version is newer than this build knows. The file was
    /// left untouched.
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build supports.
        supported: i64,
    },
    /// Any other failure.
    Other {
        /// What the store was doing, including the file path.
        context: String,
        /// The underlying error.
        source: BoxedCause,
    },
}

impl StoreError {
    /// The broad category of this error.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Busy { .. } => StoreErrorKind::Busy,
            StoreError::ReadOnly { .. } => StoreErrorKind::ReadOnly,
            StoreError::Corrupt { .. } => StoreErrorKind::Corrupt,
            StoreError::NewerSchema { .. } => StoreErrorKind::NewerSchema,
            StoreError::Other { .. } => StoreErrorKind::Other,
        }
    }

    /// Classifies an SQLite error.
    pub(crate) fn sqlite(err: rusqlite::Error, context: impl Into<String>) -> Self {
        let context = context.into();
        let code = err.sqlite_error_code();
        let source: BoxedCause = Box::new(err);
        match code {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Busy { context, source }
            }
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
                StoreError::ReadOnly { context, source }
            }
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { context, source }
            }
            _ => StoreError::Other { context, source },
        }
    }

    /// Classifies an I/O error.
    pub(crate) fn io(err: io::Error, context: impl Into<String>) -> Self {
        let context = context.into();
        match err.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::ReadOnly {
                    context,
                    source: Box::new(err),
                }
            }
            _ => StoreError::Other {
                context,
                source: Box::new(err),
            },
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Busy { context, source } => write!(
                f,
                "{context}: the database is locked by another connection \
                 (still busy after the busy timeout): {source}"
            ),
            StoreError::ReadOnly { context, source } => write!(
                f,
                "{context}: the database file or its directory is read-only or \
                 not writable: {source}"
            ),
            StoreError::Corrupt { context, source } => write!(
                f,
                "{context}: the file is corrupt or not an SQLite database: {source}"
            ),
            StoreError::NewerSchema {
                path,
                found,
                supported,
            } => write!(
                f,
                "{}: schema version {found} is newer than the newest this build \
                 supports ({supported}); the file was left untouched",
                path.display()
            ),
            StoreError::Other { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StoreError::Busy { source, .. }
            | StoreError::ReadOnly { source, .. }
            | StoreError::Corrupt { source, .. }
            | StoreError::Other { source, .. } => Some(source.as_ref()),
            StoreError::NewerSchema { .. } => None,
        }
    }
}

/// A plain message used as the cause of an error that has no underlying
/// error value (e.g. a failed integrity check).
#[derive(Debug)]
pub(crate) struct Message(pub(crate) String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}
