//! Reading a log directory back, read-only: executions newest first with
//! filters and a cursor, one execution whole by its id, error groups,
//! windowed statistics and trends, and the status report and health verdict
//! saved in `stats.db`.
//!
//! The directory may belong to a running host, a stopped one, or be a copy
//! moved to another machine: nothing here needs the host, and nothing here
//! writes into the directory (not a byte, not a lock file, not a
//! modification time). Files are read as [FORMAT.md] describes them: the
//! current files and the rotated ones (`YYYY-MM-DD.log`,
//! `YYYY-MM-DD.1.log`, …, `.gz` ones included).
//!
//! ```
//! use monitor_core::query::{ExecutionFilter, LogDir};
//! use monitor_core::Status;
//!
//! # let dir = std::env::temp_dir().join(format!("monitor-query-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(dir.join("executions")).unwrap();
//! # std::fs::write(dir.join("executions/current.log"), concat!(
//! #   r#"{"id":"01KBSV2Y5T00000001000100000001","timestamp":"2026-12-06T10:00:00.000000Z","name":"jobs::sync","status":"error","duration_ms":3.5,"trigger_type":"call","thread":"main","error_type":"app::Error","error_message":"timeout after 30 s"}"#, "\n",
//! # )).unwrap();
//! let logs = LogDir::open(&dir)?;
//! let page = logs.executions(&ExecutionFilter::new().name("jobs::*".parse()?).status(Status::Error))?;
//! for execution in &page.executions {
//!     println!("{} {} {}", execution.timestamp, execution.name, execution.status);
//! }
//! assert_eq!(page.executions[0].error_message.as_deref(), Some("timeout after 30 s"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Lines that are not JSON objects, were cut (the last line of a live
//! `current.log` may still be being written), or hold an execution's
//! members with one of the wrong type (`"duration_ms":"x"`, an unknown
//! `status`), are skipped and counted
//! ([`ExecutionPage::skipped_lines`]), never a panic.
//!
//! To read a log's files yourself (a follower like `monitor tail -f`),
//! [`log_files`] lists them oldest first and [`LogFile::open`] opens each,
//! a gzipped one decompressed.
//!
//! JSON is read with the crate's own parser and written with
//! [`to_json`], not `serde_json` (see the crate's `json` module for why).
//!
//! [FORMAT.md]: https://docs.rs/monitor/latest/monitor/#file-formats

mod files;
mod host;
mod line;
mod scan;
mod value;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

pub use crate::name_filter::{NameFilter, ParseNameFilterError};
pub use crate::report::human_ms;
pub use crate::windows::{FunctionTrend, FunctionWindow, TrendPoint, WindowStats, WindowSummary};
pub use files::{log_files, LogFile};
pub use host::{HostStatus, Liveness, STALE_AFTER};
pub use value::{JsonValue, ParseJsonError};

use crate::alerts::{AlertEngine, Health};
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::report::StatusReport;
use crate::resources::ResourceSample;
use crate::span_trace::ExecutionTrace;
use crate::stats::{FunctionRecord, StatsSnapshot};
use crate::timestamp::Timestamp;

/// A log directory opened for reading.
///
/// ```
/// use monitor_core::query::LogDir;
/// let missing = LogDir::open("/no/such/monitor/dir").unwrap_err();
/// assert!(missing.to_string().contains("/no/such/monitor/dir"));
/// ```
#[derive(Clone)]
pub struct LogDir {
    root: PathBuf,
    progress: Option<ProgressCallback>,
}

/// What [`LogDir::on_progress`] keeps.
type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

impl fmt::Debug for LogDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogDir")
            .field("root", &self.root)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl LogDir {
    /// Opens the log directory at `path` (nothing is read yet).
    ///
    /// An error, naming the path, when it does not exist, is not a
    /// directory, or is not a monitor's: it has none of `executions/`,
    /// `errors/` and `stats.db`.
    ///
    /// ```
    /// use monitor_core::query::{LogDir, QueryError};
    /// let not_ours = std::env::temp_dir();
    /// # let not_ours = not_ours.join(format!("monitor-query-doc-empty-{}", std::process::id()));
    /// # std::fs::create_dir_all(&not_ours).unwrap();
    /// let error = LogDir::open(&not_ours).unwrap_err();
    /// assert!(matches!(error, QueryError::NotAMonitorDirectory { .. }));
    /// assert!(error.to_string().contains(&not_ours.display().to_string()));
    /// # std::fs::remove_dir(&not_ours).unwrap();
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<LogDir, QueryError> {
        let root = path.as_ref().to_path_buf();
        match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(QueryError::NotAMonitorDirectory { path: root }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(QueryError::NotFound { path: root })
            }
            Err(error) => return Err(QueryError::Io { path: root, error }),
        }
        let ours = root.join("executions").is_dir()
            || root.join("errors").is_dir()
            || root.join(STATS_DB).is_file();
        if !ours {
            return Err(QueryError::NotAMonitorDirectory { path: root });
        }
        Ok(LogDir {
            root,
            progress: None,
        })
    }

    /// The directory's path, as given to [`open`](Self::open).
    ///
    /// ```no_run
    /// # use monitor_core::query::LogDir;
    /// let logs = LogDir::open(".monitor")?;
    /// assert_eq!(logs.path(), std::path::Path::new(".monitor"));
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Calls `callback` during scans (at most every 100 ms, from the calling
    /// thread, and once when the scan is over) with how far the scan got, so
    /// a tool can show progress once a scan takes more than a moment.
    ///
    /// ```no_run
    /// # use monitor_core::query::{ExecutionFilter, LogDir};
    /// let logs = LogDir::open(".monitor")?.on_progress(|progress| {
    ///     if progress.elapsed.as_secs() >= 1 {
    ///         eprint!("\rread {} MB", progress.bytes_read / 1_000_000);
    ///     }
    /// });
    /// let page = logs.executions(&ExecutionFilter::new())?;
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn on_progress(mut self, callback: impl Fn(&Progress) + Send + Sync + 'static) -> LogDir {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Executions newest first (in the order their lines were written:
    /// when they finished), those the filter lets through, at most its
    /// limit; [`ExecutionPage::next`] continues after the last one.
    ///
    /// ```no_run
    /// # use monitor_core::query::{ExecutionFilter, LogDir};
    /// # use std::time::{Duration, SystemTime};
    /// let logs = LogDir::open(".monitor")?;
    /// let filter = ExecutionFilter::new()
    ///     .name("billing::*".parse()?)
    ///     .since(SystemTime::now() - Duration::from_secs(24 * 3600))
    ///     .field("user_id", "42")
    ///     .limit(20);
    /// let mut page = logs.executions(&filter)?;
    /// while let Some(cursor) = page.next.clone() {
    ///     page = logs.executions(&filter.clone().cursor(cursor))?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn executions(&self, filter: &ExecutionFilter) -> Result<ExecutionPage, QueryError> {
        scan::executions(self, filter)
    }

    /// One execution whole: every field of its executions-log line, the
    /// errors-log detail when it failed, and its trace tree. `Ok(None)`
    /// when no file holds the id.
    ///
    /// The id's time prefix picks the files to read first.
    ///
    /// ```no_run
    /// # use monitor_core::query::LogDir;
    /// let logs = LogDir::open(".monitor")?;
    /// let id = "01KBSV2Y5T00000001000100000001".parse()?;
    /// match logs.execution(id)? {
    ///     Some(execution) => println!("{}", monitor_core::query::to_json(&execution)),
    ///     None => eprintln!("no execution {id}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execution(&self, id: ExecutionId) -> Result<Option<ExecutionDetail>, QueryError> {
        scan::execution(self, id)
    }

    /// The failures since `since` (by their timestamp), grouped by function
    /// and fingerprint (the error type and the message with numbers and ids
    /// normalised away, as the collector's error patterns), largest group
    /// first. Read from the errors log.
    ///
    /// ```no_run
    /// # use monitor_core::query::LogDir;
    /// # use std::time::{Duration, SystemTime};
    /// let logs = LogDir::open(".monitor")?;
    /// let day_ago = SystemTime::now() - Duration::from_secs(24 * 3600);
    /// for group in logs.error_groups(day_ago, None)?.groups {
    ///     println!("{:>6} {} {}", group.count, group.name, group.fingerprint);
    /// }
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn error_groups(
        &self,
        since: SystemTime,
        name: Option<&NameFilter>,
    ) -> Result<ErrorGroups, QueryError> {
        scan::error_groups(self, since, name)
    }
}

/// The statistics database's file name in a log directory.
const STATS_DB: &str = "stats.db";

/// Why a query failed. Every variant names the path (or the text) at
/// fault.
///
/// ```
/// use monitor_core::query::{LogDir, QueryError};
/// let error = LogDir::open("/no/such/dir").unwrap_err();
/// assert!(matches!(error, QueryError::NotFound { .. }));
/// assert_eq!(error.to_string(), "/no/such/dir: no such directory");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum QueryError {
    /// The directory does not exist.
    NotFound {
        /// The path asked for.
        path: PathBuf,
    },
    /// The path is not a directory, or has none of `executions/`,
    /// `errors/` and `stats.db`.
    NotAMonitorDirectory {
        /// The path asked for.
        path: PathBuf,
    },
    /// Reading a file or a directory failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        error: io::Error,
    },
    /// `stats.db` could not be read.
    Database {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The cursor's line is in no file any more (retention deleted its
    /// file): start again without a cursor.
    StaleCursor {
        /// The cursor, as text.
        cursor: String,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::NotFound { path } => write!(f, "{}: no such directory", path.display()),
            QueryError::NotAMonitorDirectory { path } => write!(
                f,
                "{}: not a monitor's log directory (it has no executions/, errors/ or stats.db)",
                path.display()
            ),
            QueryError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            QueryError::Database { path, message } => write!(f, "{}: {message}", path.display()),
            QueryError::StaleCursor { cursor } => write!(
                f,
                "cursor {cursor}: its line is in no file any more (deleted by retention?); \
                 start again without a cursor"
            ),
        }
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueryError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// How far a long scan got (see [`LogDir::on_progress`]).
///
/// ```
/// let progress = monitor_core::query::Progress::default();
/// assert_eq!(progress.bytes_read, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Files read (or being read) so far.
    pub files_read: usize,
    /// Files the scan may read in all (it often stops earlier).
    pub files_total: usize,
    /// Bytes read so far (decompressed, for `.gz` files).
    pub bytes_read: u64,
    /// Time since the scan started.
    pub elapsed: Duration,
}

/// Which executions [`LogDir::executions`] returns. Every condition set
/// must hold. Build it with the methods; the default lets everything
/// through, 50 at a time.
///
/// ```
/// use monitor_core::query::ExecutionFilter;
/// use monitor_core::Status;
/// let filter = ExecutionFilter::new()
///     .name("jobs::*".parse().unwrap())
///     .status("error".parse().unwrap())
///     .field("chat", "abc")
///     .limit(10);
/// assert_eq!(filter.get_limit(), 10);
/// assert_eq!(filter.get_status(), Some(Status::Error));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionFilter {
    name: Option<NameFilter>,
    status: Option<Status>,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
    fields: Vec<(String, String)>,
    limit: usize,
    cursor: Option<Cursor>,
}

impl Default for ExecutionFilter {
    fn default() -> Self {
        ExecutionFilter {
            name: None,
            status: None,
            since: None,
            until: None,
            fields: Vec::new(),
            limit: ExecutionFilter::DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl ExecutionFilter {
    /// The limit when none is set.
    pub const DEFAULT_LIMIT: usize = 50;

    /// Everything, 50 at a time.
    ///
    /// ```
    /// let filter = monitor_core::query::ExecutionFilter::new();
    /// assert_eq!(filter.get_limit(), 50);
    /// ```
    pub fn new() -> ExecutionFilter {
        ExecutionFilter::default()
    }

    /// Only this function (exact name), or the functions whose name starts
    /// with a prefix (`"jobs::*"`).
    ///
    /// ```
    /// use monitor_core::query::{ExecutionFilter, NameFilter};
    /// let filter = ExecutionFilter::new().name(NameFilter::exact("jobs::sync"));
    /// assert_eq!(filter.get_name().unwrap().as_exact(), Some("jobs::sync"));
    /// ```
    pub fn name(mut self, name: NameFilter) -> ExecutionFilter {
        self.name = Some(name);
        self
    }

    /// Only executions that ended so (`Status` parses from `success`,
    /// `error`, `panic`, `cancelled`).
    ///
    /// ```
    /// use monitor_core::{query::ExecutionFilter, Status};
    /// let filter = ExecutionFilter::new().status(Status::Panic);
    /// assert_eq!(filter.get_status(), Some(Status::Panic));
    /// ```
    pub fn status(mut self, status: Status) -> ExecutionFilter {
        self.status = Some(status);
        self
    }

    /// Only executions that started at or after `time`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    /// let filter = monitor_core::query::ExecutionFilter::new().since(hour_ago);
    /// assert_eq!(filter.get_since(), Some(hour_ago));
    /// ```
    pub fn since(mut self, time: SystemTime) -> ExecutionFilter {
        self.since = Some(time);
        self
    }

    /// Only executions that started at or before `time`.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// let now = SystemTime::now();
    /// let filter = monitor_core::query::ExecutionFilter::new().until(now);
    /// assert_eq!(filter.get_until(), Some(now));
    /// ```
    pub fn until(mut self, time: SystemTime) -> ExecutionFilter {
        self.until = Some(time);
        self
    }

    /// Only executions whose context field `key` has this text form (a
    /// string as it is, a number as JSON writes it, `true`/`false`). Adds
    /// to the fields set before: all must match.
    ///
    /// ```
    /// let filter = monitor_core::query::ExecutionFilter::new()
    ///     .field("user_id", "42")
    ///     .field("chat", "abc");
    /// assert_eq!(filter.get_fields().len(), 2);
    /// ```
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> ExecutionFilter {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// Replaces the field conditions with `fields` (`(key, value)` pairs,
    /// as [`field`](Self::field)).
    ///
    /// ```
    /// let filter = monitor_core::query::ExecutionFilter::new()
    ///     .fields(vec![("user_id".into(), "42".into())]);
    /// assert_eq!(filter.get_fields(), &[("user_id".to_owned(), "42".to_owned())]);
    /// ```
    pub fn fields(mut self, fields: Vec<(String, String)>) -> ExecutionFilter {
        self.fields = fields;
        self
    }

    /// At most this many executions per page (at least 1).
    ///
    /// ```
    /// let filter = monitor_core::query::ExecutionFilter::new().limit(0);
    /// assert_eq!(filter.get_limit(), 1);
    /// ```
    pub fn limit(mut self, limit: usize) -> ExecutionFilter {
        self.limit = limit.max(1);
        self
    }

    /// Continue after the page that gave `cursor` (with the same
    /// conditions: the cursor only says where).
    ///
    /// ```
    /// use monitor_core::query::{Cursor, ExecutionFilter};
    /// # let text = "c1~current.log~0~0000000000000000";
    /// let cursor: Cursor = text.parse().unwrap();
    /// let filter = ExecutionFilter::new().cursor(cursor.clone());
    /// assert_eq!(filter.get_cursor(), Some(&cursor));
    /// ```
    pub fn cursor(mut self, cursor: Cursor) -> ExecutionFilter {
        self.cursor = Some(cursor);
        self
    }

    /// The name condition.
    ///
    /// ```
    /// assert!(monitor_core::query::ExecutionFilter::new().get_name().is_none());
    /// ```
    pub fn get_name(&self) -> Option<&NameFilter> {
        self.name.as_ref()
    }

    /// The status condition.
    ///
    /// ```
    /// assert!(monitor_core::query::ExecutionFilter::new().get_status().is_none());
    /// ```
    pub fn get_status(&self) -> Option<Status> {
        self.status
    }

    /// The earliest start time let through.
    ///
    /// ```
    /// assert!(monitor_core::query::ExecutionFilter::new().get_since().is_none());
    /// ```
    pub fn get_since(&self) -> Option<SystemTime> {
        self.since
    }

    /// The latest start time let through.
    ///
    /// ```
    /// assert!(monitor_core::query::ExecutionFilter::new().get_until().is_none());
    /// ```
    pub fn get_until(&self) -> Option<SystemTime> {
        self.until
    }

    /// The field conditions.
    ///
    /// ```
    /// assert!(monitor_core::query::ExecutionFilter::new().get_fields().is_empty());
    /// ```
    pub fn get_fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The page size.
    ///
    /// ```
    /// assert_eq!(monitor_core::query::ExecutionFilter::new().limit(7).get_limit(), 7);
    /// ```
    pub fn get_limit(&self) -> usize {
        self.limit
    }

    /// Where the page starts.
    ///
    /// ```
    /// assert!(monitor_core::query::ExecutionFilter::new().get_cursor().is_none());
    /// ```
    pub fn get_cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }
}

/// Where a page of [`LogDir::executions`] ended: the next page starts with
/// the execution written just before. Opaque; `Display` and `FromStr` carry
/// it through a command line. It stays valid while the host keeps writing
/// and rotating (no execution is repeated or missed), until retention
/// deletes the file it points into.
///
/// ```
/// use monitor_core::query::Cursor;
/// let text = "c1~2026-12-04.log~1024~00ff00ff00ff00ff";
/// let cursor: Cursor = text.parse().unwrap();
/// assert_eq!(cursor.to_string(), text);
/// assert!("not a cursor".parse::<Cursor>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// The file's name without `.gz`.
    file: String,
    /// The offset of the last line returned (decompressed, in a `.gz`).
    offset: u64,
    /// FNV-1a of that line, to find it again.
    hash: u64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c1~{}~{}~{:016x}", self.file, self.offset, self.hash)
    }
}

impl FromStr for Cursor {
    type Err = ParseCursorError;

    fn from_str(text: &str) -> Result<Cursor, ParseCursorError> {
        let error = || ParseCursorError {
            text: text.chars().take(128).collect(),
        };
        let mut parts = text.split('~');
        let (Some("c1"), Some(file), Some(offset), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(error());
        };
        let valid_name = !file.is_empty()
            && file
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            && file.ends_with(".log");
        if !valid_name || hash.len() != 16 {
            return Err(error());
        }
        Ok(Cursor {
            file: file.to_owned(),
            offset: offset.parse().map_err(|_| error())?,
            hash: u64::from_str_radix(hash, 16).map_err(|_| error())?,
        })
    }
}

/// Why a text is not a [`Cursor`].
///
/// ```
/// let error = "x".parse::<monitor_core::query::Cursor>().unwrap_err();
/// assert!(error.to_string().contains("`x`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseCursorError {
    text: String,
}

impl fmt::Display for ParseCursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a cursor (pass on the text a previous page gave as its next cursor)",
            self.text.escape_debug()
        )
    }
}

impl std::error::Error for ParseCursorError {}

/// Why a text is not a [`Status`].
///
/// ```
/// use monitor_core::Status;
/// assert_eq!("panic".parse::<Status>(), Ok(Status::Panic));
/// let error = "failed".parse::<Status>().unwrap_err();
/// assert_eq!(error.to_string(), "`failed` is not a status: write success, error, panic or cancelled");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseStatusError {
    text: String,
}

impl fmt::Display for ParseStatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a status: write success, error, panic or cancelled",
            self.text.escape_debug()
        )
    }
}

impl std::error::Error for ParseStatusError {}

/// One page of [`LogDir::executions`].
///
/// ```no_run
/// # use monitor_core::query::{ExecutionFilter, LogDir};
/// let page = LogDir::open(".monitor")?.executions(&ExecutionFilter::new())?;
/// if page.skipped_lines > 0 {
///     eprintln!("{} lines were not JSON and were skipped", page.skipped_lines);
/// }
/// # Ok::<(), monitor_core::query::QueryError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionPage {
    /// The executions, newest first.
    pub executions: Vec<ExecutionSummary>,
    /// Where the next page starts; `None` when there are no more.
    pub next: Option<Cursor>,
    /// Lines read that were not JSON objects or were cut (a live
    /// `current.log`'s last line may still be being written).
    pub skipped_lines: u64,
}

/// One execution as its line in the executions log gives it.
///
/// `Serialize` gives one object: `id` (when the line has one), `timestamp`,
/// `name`, `status`, `duration_ms`, `trigger_type`, `thread`, then
/// `error_type` and `error_message` when it failed and `fields` when there
/// are some.
///
/// ```no_run
/// # use monitor_core::query::{ExecutionFilter, LogDir, to_json};
/// for execution in LogDir::open(".monitor")?.executions(&ExecutionFilter::new())?.executions {
///     println!("{}", to_json(&execution));
/// }
/// # Ok::<(), monitor_core::query::QueryError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionSummary {
    /// Its id (`None` only in lines written before ids existed).
    pub id: Option<ExecutionId>,
    /// When it started (the monitor's clock).
    pub timestamp: Timestamp,
    /// The function.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// How long it ran, in milliseconds.
    pub duration_ms: f64,
    /// The name of the thread that recorded it.
    pub thread: String,
    /// `call`, the attribute's trigger, or `span`.
    pub trigger_type: String,
    /// Failures: the error's type.
    pub error_type: Option<String>,
    /// Failures: the error's message.
    pub error_message: Option<String>,
    /// Its context fields, in order (empty when it has none).
    pub fields: Vec<(String, JsonValue)>,
}

impl ExecutionSummary {
    fn serialize_into<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        if let Some(id) = &self.id {
            map.serialize_entry("id", id)?;
        }
        map.serialize_entry("timestamp", &self.timestamp)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("status", &self.status)?;
        map.serialize_entry("duration_ms", &self.duration_ms)?;
        map.serialize_entry("trigger_type", &self.trigger_type)?;
        map.serialize_entry("thread", &self.thread)?;
        if let Some(error_type) = &self.error_type {
            map.serialize_entry("error_type", error_type)?;
        }
        if let Some(message) = &self.error_message {
            map.serialize_entry("error_message", message)?;
        }
        if !self.fields.is_empty() {
            map.serialize_entry("fields", &Members(&self.fields))?;
        }
        Ok(())
    }
}

/// Members written as an object.
struct Members<'a>(&'a [(String, JsonValue)]);

impl Serialize for Members<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        value::serialize_members(self.0, serializer)
    }
}

impl Serialize for ExecutionSummary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.serialize_into(&mut map)?;
        map.end()
    }
}

/// One execution whole ([`LogDir::execution`]): its executions-log line,
/// the detail of its errors-log line when it failed, and its trace tree.
///
/// `Serialize` gives one object: the [`ExecutionSummary`] members, then
/// `busy_ms`, `error_message_truncated`, `error_chain`, `stack_trace`,
/// `context`, `execution_trace` where there are some, then any other member
/// the lines had.
///
/// ```no_run
/// # use monitor_core::query::LogDir;
/// let logs = LogDir::open(".monitor")?;
/// if let Some(execution) = logs.execution("01KBSV2Y5T00000001000100000001".parse()?)? {
///     for (depth, cause) in execution.error_chain.iter().enumerate() {
///         println!("{:width$}caused by: {cause}", "", width = depth * 2);
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionDetail {
    /// The fields every execution has.
    pub summary: ExecutionSummary,
    /// Spans: the time the span was entered, in milliseconds.
    pub busy_ms: Option<f64>,
    /// The message was cut at the capture limit.
    pub error_message_truncated: bool,
    /// Failures: `Display` of each `source()` of the error, outermost first.
    pub error_chain: Vec<String>,
    /// Failures: the stack trace, when one was captured.
    pub stack_trace: Option<String>,
    /// Failures: `module`, `file`, `line` (and `panic_location`).
    pub context: Option<JsonValue>,
    /// Root spans: the tree of child spans.
    pub execution_trace: Option<ExecutionTrace>,
    /// Any other member of the lines (fields added by later versions).
    pub other: Vec<(String, JsonValue)>,
    /// Its line was found in the executions log.
    pub in_executions_log: bool,
    /// Its line was found in the errors log.
    pub in_errors_log: bool,
}

impl Serialize for ExecutionDetail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.summary.serialize_into(&mut map)?;
        if let Some(busy) = self.busy_ms {
            map.serialize_entry("busy_ms", &busy)?;
        }
        if self.error_message_truncated {
            map.serialize_entry("error_message_truncated", &true)?;
        }
        if self.in_errors_log {
            map.serialize_entry("error_chain", &self.error_chain)?;
            map.serialize_entry("stack_trace", &self.stack_trace)?;
        }
        if let Some(context) = &self.context {
            map.serialize_entry("context", context)?;
        }
        if let Some(trace) = &self.execution_trace {
            map.serialize_entry("execution_trace", trace)?;
        }
        for (key, value) in &self.other {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Failures of one function with one fingerprint ([`LogDir::error_groups`]).
///
/// ```no_run
/// # use monitor_core::query::LogDir;
/// # use std::time::{Duration, SystemTime};
/// let groups = LogDir::open(".monitor")?.error_groups(SystemTime::UNIX_EPOCH, None)?;
/// if let Some(top) = groups.groups.first() {
///     println!("{} × {} (e.g. {:?})", top.count, top.fingerprint, top.example_id);
/// }
/// # Ok::<(), monitor_core::query::QueryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorGroup {
    /// The error type and the normalised message
    /// (`app::Error: timeout after <n> ms`), as the collector's error
    /// patterns.
    pub fingerprint: String,
    /// The function.
    pub name: String,
    /// The error type (`panic` for panics).
    pub error_type: String,
    /// The message of the latest failure of the group.
    pub message: String,
    /// Failures in the window.
    pub count: u64,
    /// The earliest start time of one of them.
    pub first_seen: Timestamp,
    /// The latest start time of one of them.
    pub last_seen: Timestamp,
    /// The id of the latest failure of the group (`None` for lines written
    /// before ids existed).
    pub example_id: Option<ExecutionId>,
}

/// The answer of [`LogDir::error_groups`].
///
/// ```no_run
/// # use monitor_core::query::LogDir;
/// let answer = LogDir::open(".monitor")?.error_groups(std::time::SystemTime::UNIX_EPOCH, None)?;
/// println!("{} groups, {} lines skipped", answer.groups.len(), answer.skipped_lines);
/// # Ok::<(), monitor_core::query::QueryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorGroups {
    /// The groups, the largest first (then the most recent).
    pub groups: Vec<ErrorGroup>,
    /// Lines read that were not JSON objects or were cut.
    pub skipped_lines: u64,
}

/// `value` as one line of compact JSON, written by the crate's own
/// serializer (no `serde_json`). A value that JSON cannot hold (a map whose
/// keys are not strings or numbers) gives `{"error":"…"}`.
///
/// ```
/// use monitor_core::query::to_json;
/// assert_eq!(to_json(&vec![1, 2]), "[1,2]");
/// assert_eq!(to_json(&"a \"quote\""), r#""a \"quote\"""#);
/// ```
pub fn to_json(value: &impl Serialize) -> String {
    match crate::json::to_string(value) {
        Ok(text) => text,
        Err(error) => {
            let mut out = b"{\"error\":".to_vec();
            crate::json::push_str(&mut out, &error.to_string());
            out.push(b'}');
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

impl LogDir {
    /// The status report as `stats.db` holds it: every function's
    /// statistics, the verdict and the alerts firing as their saved alert
    /// state says (the same [`StatusReport`] as
    /// [`status_report`](crate::status_report) in process). Nothing is
    /// re-evaluated: a stopped host's report is the one it left. Severities
    /// are the default rules' (the host's own rules are in its code, not in
    /// the directory). Dropped executions are not in `stats.db`: 0.
    ///
    /// `resources` (the `Process:` line) holds the last minute's figures:
    /// those of the newest minute row of the `resource_rollups` table
    /// (schema 7; `None` in an older file or before the first sample).
    /// The host saves its open minute with its statistics (every
    /// [`stats_save_interval`](crate::MonitorBuilder::stats_save_interval),
    /// 500 ms by default), so for a running host they are at most a minute
    /// and a save old; for a stopped host they are those of its last
    /// minute. Its `time` is the end of that minute (or now, for a minute
    /// not over yet): how old the figures are. RSS is the minute's mean,
    /// threads and open files its maxima, `cpu_percent` the CPU time used
    /// in the minute over the seconds it was sampled; the CPU time since
    /// the process started is not saved (`cpu_user_secs` and
    /// `cpu_system_secs` are 0).
    ///
    /// With a `status.json` ([`host_status`](Self::host_status)): while its
    /// host runs, the verdict, the firing alerts (with their episodes and
    /// acknowledgements), the executions running for more than a second and
    /// the process's figures (its latest sample rather than the last
    /// minute's) are the host's own, as of its latest second; when the host
    /// is not running (see [`Liveness`]), the verdict is `not_running`
    /// saying since when, instead of its last one.
    ///
    /// ```no_run
    /// let report = monitor_core::query::LogDir::open(".monitor")?.status_report()?;
    /// println!("{report}");
    /// if let Some(process) = &report.resources {
    ///     println!("figures of the minute ending {}", process.time);
    /// }
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn status_report(&self) -> Result<StatusReport, QueryError> {
        let now = SystemTime::now();
        let mut records = self.records()?;
        let mut resources = self.latest_resources(now)?;
        let acknowledged = crate::alerts::stored_acknowledgements(&self.root.join(STATS_DB));
        let (mut health, mut alerts) = AlertEngine::as_saved(&mut records, now, acknowledged);
        if let Ok(firing) = crate::alerts::read_firing(&self.root.join(STATS_DB)) {
            // The saved states say what fires; the episodes, which one it is.
            for alert in &mut alerts {
                if let Some(stored) = firing
                    .iter()
                    .find(|f| f.rule == alert.rule && f.function == alert.function)
                {
                    alert.episode = stored.episode;
                    alert.acknowledged = stored.acknowledged.clone();
                }
            }
        }
        let mut running = Vec::new();
        if let Some(host) = self.host_status()? {
            if let Some(verdict) = host.verdict(now) {
                health = verdict;
            }
            if host.liveness(now) == Liveness::Running {
                alerts = host.alerts;
                running = crate::report::listed_running(&host.running);
                if host.resources.is_some() {
                    resources = host.resources;
                }
            }
        }
        let mut functions: Vec<_> = records.iter().map(FunctionRecord::snapshot).collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(StatusReport {
            generated_at: Timestamp(now),
            stats: StatsSnapshot {
                functions,
                dropped_events: 0,
            },
            health,
            alerts,
            resources,
            running,
        })
    }

    /// The newest minute row of `resource_rollups`, as a sample (see
    /// [`status_report`](Self::status_report)).
    fn latest_resources(&self, now: SystemTime) -> Result<Option<ResourceSample>, QueryError> {
        let path = self.root.join(STATS_DB);
        let database = |error: monitor_sinks::stats_store::StoreError| QueryError::Database {
            path: path.clone(),
            message: error.to_string(),
        };
        let mut reader = monitor_sinks::stats_store::RollupReader::open(&path).map_err(database)?;
        let minute = reader
            .latest_resources(monitor_sinks::stats_store::MINUTE_SECS)
            .map_err(database)?;
        Ok(minute.and_then(|row| ResourceSample::from_rollup(&row, now)))
    }

    /// The verdict and its reasons as the alert states saved in `stats.db`
    /// say (see [`status_report`](Self::status_report)): the same
    /// [`Health`] as [`health`](crate::health) in process. With a
    /// `status.json`, the running host's own verdict, or `not_running`.
    ///
    /// ```no_run
    /// let health = monitor_core::query::LogDir::open(".monitor")?.health()?;
    /// std::process::exit(match health.verdict {
    ///     monitor_core::Verdict::Green => 0,
    ///     monitor_core::Verdict::Yellow => 1,
    ///     _ => 2,
    /// });
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn health(&self) -> Result<Health, QueryError> {
        let now = SystemTime::now();
        if let Some(verdict) = self.host_status()?.and_then(|host| host.verdict(now)) {
            return Ok(verdict);
        }
        let mut records = self.records()?;
        let acknowledged = crate::alerts::stored_acknowledgements(&self.root.join(STATS_DB));
        Ok(AlertEngine::as_saved(&mut records, now, acknowledged).0)
    }

    /// The functions of `stats.db`, read without writing.
    fn records(&self) -> Result<Vec<FunctionRecord>, QueryError> {
        let path = self.root.join(STATS_DB);
        let rows = monitor_sinks::stats_store::load_read_only(&path).map_err(|error| {
            QueryError::Database {
                path: path.clone(),
                message: error.to_string(),
            }
        })?;
        Ok(rows.iter().map(FunctionRecord::from_stored).collect())
    }
}

impl LogDir {
    /// The notifications of the alert history in `stats.db` that `query`
    /// asks for, newest first, each with its episode's acknowledgement (as
    /// [`alerts`](crate::alerts) gives them in the host). A directory
    /// without `stats.db`, or one written by a version without the history,
    /// has none.
    ///
    /// ```no_run
    /// use std::time::{Duration, SystemTime};
    /// let logs = monitor_core::query::LogDir::open(".monitor")?;
    /// let week = monitor_core::AlertQuery::new().since(SystemTime::now() - Duration::from_secs(7 * 86_400));
    /// for alert in logs.alert_history(&week)? {
    ///     println!("{} episode {:?}: {alert}", alert.time, alert.episode());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn alert_history(
        &self,
        query: &crate::AlertQuery,
    ) -> Result<Vec<crate::Alert>, crate::AlertsError> {
        crate::alerts::read_history(&self.root.join(STATS_DB), query, &[])
    }

    /// The alert episodes that fire (have not resolved) as `stats.db`
    /// says, each as its latest notification with its acknowledgement,
    /// oldest first.
    ///
    /// ```no_run
    /// let logs = monitor_core::query::LogDir::open(".monitor")?;
    /// for alert in logs.firing_alerts()? {
    ///     println!("episode {:?}: {alert}", alert.episode());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn firing_alerts(&self) -> Result<Vec<crate::Alert>, crate::AlertsError> {
        crate::alerts::read_firing(&self.root.join(STATS_DB))
    }

    /// Acknowledges the firing episode `episode` in `stats.db`, as `by`
    /// with an optional `note`, at `at`: the one thing this module writes
    /// (one small transaction beside a running host's connection). A
    /// running host takes it up at its next tick (within a quarter of a
    /// second) as if [`acknowledge`](crate::acknowledge) had been called
    /// there; a stopped one when it starts. An unknown or resolved episode
    /// is an error saying which, and so is an empty or blank `by`.
    ///
    /// ```no_run
    /// let logs = monitor_core::query::LogDir::open(".monitor")?;
    /// logs.acknowledge(42, "alice", Some("restarting it"), std::time::SystemTime::now())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acknowledge(
        &self,
        episode: u64,
        by: &str,
        note: Option<&str>,
        at: SystemTime,
    ) -> Result<(), crate::AlertsError> {
        crate::alerts::acknowledge_in_store(&self.root.join(STATS_DB), episode, by, note, at)
    }

    /// Statistics over the `window` that ends at `now`, per function (those
    /// that pass `name`, all with `None`) and in total, from the roll-ups
    /// saved in `stats.db` (no log is read). See
    /// [`rollup_reader::window`](crate::rollup_reader::window).
    ///
    /// ```no_run
    /// # use std::time::{Duration, SystemTime};
    /// let logs = monitor_core::query::LogDir::open(".monitor")?;
    /// let day = logs.stats_window(Duration::from_secs(86_400), SystemTime::now(), None)?;
    /// println!("{}", monitor_core::query::to_json(&day));
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn stats_window(
        &self,
        window: Duration,
        now: SystemTime,
        name: Option<&NameFilter>,
    ) -> Result<WindowStats, QueryError> {
        crate::rollup_reader::window(&self.root.join(STATS_DB), window, now, name)
            .map_err(QueryError::from)
    }

    /// Per-day success rate and p95 of each function (those that pass
    /// `name`) over the last `days` UTC days up to `now`, from the roll-ups
    /// saved in `stats.db`. See
    /// [`rollup_reader::trend`](crate::rollup_reader::trend).
    ///
    /// ```no_run
    /// # use std::time::SystemTime;
    /// let logs = monitor_core::query::LogDir::open(".monitor")?;
    /// for function in logs.trend(7, SystemTime::now(), None)? {
    ///     println!("{}: {} days", function.name, function.points.len());
    /// }
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn trend(
        &self,
        days: u32,
        now: SystemTime,
        name: Option<&NameFilter>,
    ) -> Result<Vec<FunctionTrend>, QueryError> {
        crate::rollup_reader::trend(&self.root.join(STATS_DB), days, now, name)
            .map_err(QueryError::from)
    }
}

impl From<crate::rollup_reader::ReadError> for QueryError {
    fn from(error: crate::rollup_reader::ReadError) -> Self {
        QueryError::Database {
            path: error.path().to_path_buf(),
            message: error.to_string(),
        }
    }
}
