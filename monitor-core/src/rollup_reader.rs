//! Windowed statistics and trends read from a `stats.db` file by another
//! process (the `monitor` command, a cron job, a copy on another machine).
//!
//! The file is opened read-only and never written: it may belong to a
//! running host (WAL mode: the reader sees what the host has committed, at
//! most one save interval, 500 ms by default, behind), a stopped one, or be
//! a copy, in a read-only directory or not. Nothing is created or changed
//! beside it: a `-wal` without its `-shm` (a copied directory), or one that
//! cannot be read in place (a read-only directory), is read from a private
//! copy in [`std::env::temp_dir`], removed afterwards, so the rows of the
//! WAL are always in the answer. A file of a schema older than 6, without the `rollups`
//! table, gives empty answers.
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::{Duration, SystemTime};
//! use monitor_core::{rollup_reader, NameFilter};
//!
//! let db = Path::new(".monitor/stats.db");
//! let jobs: NameFilter = "jobs::*".parse()?;
//! let day = rollup_reader::window(db, Duration::from_secs(86_400), SystemTime::now(), Some(&jobs))?;
//! println!("{} executions in 24 h", day.totals.total);
//! for function in rollup_reader::trend(db, 7, SystemTime::now(), None)? {
//!     println!("{}: {:?}", function.name, function.points.iter().map(|p| p.success_rate).collect::<Vec<_>>());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use monitor_sinks::stats_store::{RollupReader, StoreError};

use crate::name_filter::NameFilter;
use crate::windows::{self, name_match, Span, MAX_TREND_DAYS};
use crate::{FunctionTrend, WindowStats};

/// Why a `stats.db` could not be read: it is missing, not a database, or
/// SQLite failed. The message names the file.
///
/// ```
/// use std::path::Path;
/// use std::time::{Duration, SystemTime};
///
/// let missing = Path::new("/no/such/dir/stats.db");
/// let error = monitor_core::rollup_reader::window(missing, Duration::from_secs(60), SystemTime::now(), None)
///     .unwrap_err();
/// assert!(error.to_string().contains("/no/such/dir/stats.db"));
/// assert_eq!(error.path(), missing);
/// ```
#[derive(Debug)]
pub struct ReadError {
    path: PathBuf,
    source: StoreError,
}

impl ReadError {
    /// The file that could not be read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The store's message names the file already.
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The rows of `span`, and the span they cover: its start moved back to a
/// whole hour or day where the retention folded the finer rows
/// ([`Span::within`]).
fn read(
    db: &Path,
    span: Span,
    name: Option<&NameFilter>,
) -> Result<(Vec<monitor_sinks::stats_store::RollupRow>, Span), ReadError> {
    let error = |source| ReadError {
        path: db.to_path_buf(),
        source,
    };
    let mut reader = RollupReader::open(db).map_err(error)?;
    let span = span.within(reader.folded_before().map_err(error)?);
    let read = reader
        .read_many(&span.ranges(), name_match(name))
        .map_err(error)?;
    Ok((read.rows, span))
}

/// Statistics over the `window` that ends at `now`, for the functions that
/// pass `name` (all with `None`), from the roll-ups saved in `db` (a
/// `stats.db` file). See [`WindowStats`] for what the window covers.
///
/// Errors if the file is missing or cannot be read; a file without roll-ups
/// (an older schema) gives a window without functions.
///
/// ```no_run
/// use std::time::{Duration, SystemTime};
/// let stats = monitor_core::rollup_reader::window(
///     ".monitor/stats.db".as_ref(),
///     Duration::from_secs(3600),
///     SystemTime::now(),
///     Some(&"billing::charge".parse()?),
/// )?;
/// println!("{:?}", stats.totals.p95_ms);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn window(
    db: &Path,
    window: Duration,
    now: SystemTime,
    name: Option<&NameFilter>,
) -> Result<WindowStats, ReadError> {
    let (rows, span) = read(db, Span::window(window, now), name)?;
    Ok(windows::window_from_rows(window, span, now, &rows))
}

/// Per-day success rate and p95 of each function that passes `name` over
/// the last `days` UTC days up to `now` (today so far last), from the
/// roll-ups saved in `db`. Functions without executions in those days are
/// left out; `days` is at most 3660 (a larger number is cut to it), and 0
/// gives an empty list.
///
/// ```no_run
/// use std::time::SystemTime;
/// for function in monitor_core::rollup_reader::trend(".monitor/stats.db".as_ref(), 7, SystemTime::now(), None)? {
///     let today = function.points.last().unwrap();
///     println!("{} today: {} executions, p95 {:?} ms", function.name, today.total, today.p95_ms);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn trend(
    db: &Path,
    days: u32,
    now: SystemTime,
    name: Option<&NameFilter>,
) -> Result<Vec<FunctionTrend>, ReadError> {
    let days = days.min(MAX_TREND_DAYS);
    if days == 0 {
        return Ok(Vec::new());
    }
    let span = Span::days(days, now);
    let (rows, _) = read(db, span, name)?;
    Ok(windows::trend_from_rows(span, &rows))
}
