//! Errors of the statistics store.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::Path;

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

/// An error of the statistics store: what went wrong ([`kind`](Self::kind)),
/// what the store was doing ([`context`](Self::context), with the file
/// path), and the underlying cause ([`Error::source`]).
///
/// The `Display` text is a complete, human readable sentence including the
/// cause (it is what [`StoreHealth::last_error`] shows).
///
/// ```
/// use monitor_sinks::stats_store::{StatsStore, StoreErrorKind};
///
/// let dir = std::env::temp_dir().join(format!("store-error-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// // A directory where the database file should be.
/// let err = StatsStore::open(&dir).unwrap_err();
/// assert_ne!(err.kind(), StoreErrorKind::NewerSchema);
/// assert!(err.context().contains(&*dir.to_string_lossy()));
/// ```
///
/// [`StoreHealth::last_error`]: super::StoreHealth::last_error
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    context: String,
    source: BoxedCause,
    /// For [`StoreErrorKind::NewerSchema`]: the version found and the newest
    /// supported.
    versions: Option<(i64, i64)>,
}

impl StoreError {
    /// An error of `kind` while doing `context` (which names the file).
    pub(crate) fn new(
        kind: StoreErrorKind,
        context: impl Into<String>,
        source: impl Into<BoxedCause>,
    ) -> Self {
        StoreError {
            kind,
            context: context.into(),
            source: source.into(),
            versions: None,
        }
    }

    /// The file at `path` has schema version `found`, newer than `supported`.
    pub(crate) fn newer_schema(path: &Path, found: i64, supported: i64) -> Self {
        StoreError {
            versions: Some((found, supported)),
            ..StoreError::new(
                StoreErrorKind::NewerSchema,
                format!("opening {}", path.display()),
                Message(format!(
                    "schema version {found} is newer than the newest this build supports ({supported})"
                )),
            )
        }
    }

    /// The broad category of this error.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// What the store was doing, including the file path.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// For a [`StoreErrorKind::NewerSchema`] error: the schema version found
    /// in the file and the newest this build supports.
    pub fn schema_versions(&self) -> Option<(i64, i64)> {
        self.versions
    }

    /// Classifies an SQLite error.
    pub(crate) fn sqlite(err: rusqlite::Error, context: impl Into<String>) -> Self {
        let kind = match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreErrorKind::Busy,
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
                StoreErrorKind::ReadOnly
            }
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreErrorKind::Corrupt,
            _ => StoreErrorKind::Other,
        };
        StoreError::new(kind, context, err)
    }

    /// Classifies an I/O error.
    pub(crate) fn io(err: io::Error, context: impl Into<String>) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StoreErrorKind::ReadOnly
            }
            _ => StoreErrorKind::Other,
        };
        StoreError::new(kind, context, err)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let StoreError {
            context, source, ..
        } = self;
        match self.kind {
            StoreErrorKind::Busy => write!(
                f,
                "{context}: the database is locked by another connection \
                 (still busy after the busy timeout): {source}"
            ),
            StoreErrorKind::ReadOnly => write!(
                f,
                "{context}: the database file or its directory is read-only or \
                 not writable: {source}"
            ),
            StoreErrorKind::Corrupt => write!(
                f,
                "{context}: the file is corrupt or not an SQLite database: {source}"
            ),
            StoreErrorKind::NewerSchema => {
                write!(f, "{context}: {source}; the file was left untouched")
            }
            StoreErrorKind::Other => write!(f, "{context}: {source}"),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
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
