//! The `rollups` table: per-function counts and latency histograms per
//! minute, per hour and per day ([`RollupRow`]), merged on write
//! ([`StatsStore::save_batch`](super::StatsStore::save_batch)) and read back
//! read-only, from any process ([`RollupReader`]).

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, Transaction};

use super::resource_rollup::{read_resource_rollup, ResourceRollupRow, RESOURCE_COLUMNS};
use super::retention::FoldedBefore;
use super::{StoreError, StoreErrorKind};

/// Seconds of a minute row.
pub const MINUTE_SECS: u32 = 60;
/// Seconds of an hour row.
pub const HOUR_SECS: u32 = 3600;
/// Seconds of a day row (UTC days).
pub const DAY_SECS: u32 = 86_400;

/// One row of the `rollups` table: the executions of one function that
/// finished in one bucket of time (`bucket_secs` long, from `bucket_start`).
///
/// Rows merge exactly: counts and sums add up, min and max take the smaller
/// and larger, histograms add up bucket by bucket.
///
/// ```
/// use monitor_sinks::stats_store::RollupRow;
///
/// let mut a = RollupRow::new("f", 1_800_000_000, 60);
/// a.success = 2;
/// a.sum_ms = 3.0;
/// a.min_ms = Some(1.0);
/// a.max_ms = Some(2.0);
/// a.histogram = vec![(10, 1), (20, 1)];
/// let mut b = RollupRow::new("f", 1_800_000_000, 60);
/// b.error = 1;
/// b.sum_ms = 5.0;
/// b.min_ms = Some(5.0);
/// b.max_ms = Some(5.0);
/// b.histogram = vec![(20, 1), (30, 1)];
/// a.merge(&b);
/// assert_eq!((a.success, a.error, a.total()), (2, 1, 3));
/// assert_eq!((a.min_ms, a.max_ms, a.sum_ms), (Some(1.0), Some(5.0), 8.0));
/// assert_eq!(a.histogram, vec![(10, 1), (20, 2), (30, 1)]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RollupRow {
    /// The function's name.
    pub name: String,
    /// Start of the bucket, in seconds since the Unix epoch (a multiple of
    /// `bucket_secs`).
    pub bucket_start: i64,
    /// Length of the bucket in seconds: 60 ([`MINUTE_SECS`]), 3600
    /// ([`HOUR_SECS`]) or 86 400 ([`DAY_SECS`]).
    pub bucket_secs: u32,
    /// Executions that succeeded.
    pub success: u64,
    /// Executions that returned an error.
    pub error: u64,
    /// Executions that panicked.
    pub panic: u64,
    /// Executions cancelled before they completed (not in the durations).
    pub cancelled: u64,
    /// Sum of the durations of the completed executions, in milliseconds.
    pub sum_ms: f64,
    /// Shortest completed execution, in milliseconds.
    pub min_ms: Option<f64>,
    /// Longest completed execution, in milliseconds.
    pub max_ms: Option<f64>,
    /// The latency histogram, sparse: `(bucket index, count)` sorted by
    /// index (the buckets of the monitor's log-linear histogram of
    /// nanoseconds).
    pub histogram: Vec<(u32, u64)>,
}

impl RollupRow {
    /// An empty row.
    ///
    /// ```
    /// let row = monitor_sinks::stats_store::RollupRow::new("f", 60, 60);
    /// assert_eq!(row.total(), 0);
    /// ```
    pub fn new(name: impl Into<String>, bucket_start: i64, bucket_secs: u32) -> Self {
        RollupRow {
            name: name.into(),
            bucket_start,
            bucket_secs,
            success: 0,
            error: 0,
            panic: 0,
            cancelled: 0,
            sum_ms: 0.0,
            min_ms: None,
            max_ms: None,
            histogram: Vec::new(),
        }
    }

    /// Completed executions: successes, errors and panics.
    ///
    /// ```
    /// let mut row = monitor_sinks::stats_store::RollupRow::new("f", 0, 60);
    /// row.panic = 1;
    /// row.cancelled = 4;
    /// assert_eq!(row.total(), 1);
    /// ```
    pub fn total(&self) -> u64 {
        self.success
            .saturating_add(self.error)
            .saturating_add(self.panic)
    }

    /// Adds `other`'s executions to this row (whatever their buckets).
    /// See the example of [`RollupRow`].
    pub fn merge(&mut self, other: &RollupRow) {
        self.success = self.success.saturating_add(other.success);
        self.error = self.error.saturating_add(other.error);
        self.panic = self.panic.saturating_add(other.panic);
        self.cancelled = self.cancelled.saturating_add(other.cancelled);
        self.sum_ms += other.sum_ms;
        self.min_ms = match (self.min_ms, other.min_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_ms = match (self.max_ms, other.max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.histogram = merge_sparse(&self.histogram, &other.histogram);
    }

    /// This row's executions in the row of `secs` that holds its bucket.
    fn widened(&self, secs: u32) -> RollupRow {
        RollupRow {
            bucket_start: self.bucket_start.div_euclid(i64::from(secs)) * i64::from(secs),
            bucket_secs: secs,
            ..self.clone()
        }
    }
}

/// Two sorted sparse histograms added up.
fn merge_sparse(a: &[(u32, u64)], b: &[(u32, u64)]) -> Vec<(u32, u64)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ia, ca)), Some(&(ib, cb))) if ia == ib => {
                out.push((ia, ca.saturating_add(cb)));
                i += 1;
                j += 1;
            }
            (Some(&(ia, ca)), Some(&(ib, _))) if ia < ib => {
                out.push((ia, ca));
                i += 1;
            }
            (Some(_), Some(&(ib, cb))) | (None, Some(&(ib, cb))) => {
                out.push((ib, cb));
                j += 1;
            }
            (Some(&(ia, ca)), None) => {
                out.push((ia, ca));
                i += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// The JSON text of a sparse histogram: `[[index,count],…]`.
pub(crate) fn histogram_to_text(histogram: &[(u32, u64)]) -> String {
    let mut text = String::with_capacity(2 + histogram.len() * 10);
    text.push('[');
    for (n, (index, count)) in histogram.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        text.push('[');
        text.push_str(&index.to_string());
        text.push(',');
        text.push_str(&count.to_string());
        text.push(']');
    }
    text.push(']');
    text
}

/// Parses `[[index,count],…]` (whitespace allowed) into a sorted sparse
/// histogram; `None` if the text is anything else.
pub(crate) fn histogram_from_text(text: &str) -> Option<Vec<(u32, u64)>> {
    let mut rest = text.trim().strip_prefix('[')?.trim_start();
    let mut out: Vec<(u32, u64)> = Vec::new();
    if let Some(after) = rest.strip_prefix(']') {
        return after.trim().is_empty().then_some(out);
    }
    loop {
        rest = rest.strip_prefix('[')?;
        let (index, after) = number(rest)?;
        rest = after.trim_start().strip_prefix(',')?;
        let (count, after) = number(rest)?;
        rest = after.trim_start().strip_prefix(']')?.trim_start();
        out.push((u32::try_from(index).ok()?, count));
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else {
            rest = rest.strip_prefix(']')?;
            if !rest.trim().is_empty() {
                return None;
            }
            break;
        }
    }
    if !out.windows(2).all(|w| w[0].0 < w[1].0) {
        out.sort_unstable_by_key(|&(index, _)| index);
        out = out.into_iter().fold(Vec::new(), |mut acc, (index, count)| {
            match acc.last_mut() {
                Some((last, sum)) if *last == index => *sum = sum.saturating_add(count),
                _ => acc.push((index, count)),
            }
            acc
        });
    }
    Some(out)
}

fn number(text: &str) -> Option<(u64, &str)> {
    let text = text.trim_start();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let value = text[..digits].parse().ok()?;
    Some((value, &text[digits..]))
}

/// Which stamp of the writer the file holds: which run wrote it last and
/// after how many of its saves. A reader in the writer's process compares it
/// with the saves it knows of, to add exactly the executions not saved yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SaveStamp {
    /// A random number of the writing process's store (one per open).
    pub run: i64,
    /// How many saves that run has committed.
    pub saves: u64,
}

/// Which function names a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameMatch<'a> {
    /// Every function.
    All,
    /// This function only.
    Exact(&'a str),
    /// Every function whose name starts with this.
    Prefix(&'a str),
}

impl NameMatch<'_> {
    /// Whether `name` passes.
    ///
    /// ```
    /// use monitor_sinks::stats_store::NameMatch;
    /// assert!(NameMatch::Prefix("a::").matches("a::b"));
    /// assert!(!NameMatch::Exact("a::").matches("a::b"));
    /// assert!(NameMatch::All.matches("x"));
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NameMatch::All => true,
            NameMatch::Exact(exact) => name == *exact,
            NameMatch::Prefix(prefix) => name.starts_with(prefix),
        }
    }
}

const SELECT_COLUMNS: &str = "name, bucket_start, bucket_secs, success, error, panic, cancelled, \
     sum_ms, min_ms, max_ms, histogram";

fn read_rollup(row: &Row<'_>) -> rusqlite::Result<RollupRow> {
    fn count(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
        Ok(match row.get_ref(i)? {
            ValueRef::Integer(n) => u64::try_from(n).unwrap_or(0).min(1 << 60),
            ValueRef::Real(x) if x.is_finite() && x > 0.0 => (x as u64).min(1 << 60),
            _ => 0,
        })
    }
    fn opt_real(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<f64>> {
        Ok(match row.get_ref(i)? {
            ValueRef::Integer(n) => Some(n as f64),
            ValueRef::Real(x) if x.is_finite() => Some(x),
            _ => None,
        })
    }
    let histogram = match row.get_ref(10)? {
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(histogram_from_text)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(RollupRow {
        name: match row.get_ref(0)? {
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            _ => String::new(),
        },
        bucket_start: row.get::<_, Option<i64>>(1)?.unwrap_or(0),
        bucket_secs: u32::try_from(row.get::<_, Option<i64>>(2)?.unwrap_or(0)).unwrap_or(0),
        success: count(row, 3)?,
        error: count(row, 4)?,
        panic: count(row, 5)?,
        cancelled: count(row, 6)?,
        sum_ms: opt_real(row, 7)?.unwrap_or(0.0),
        min_ms: opt_real(row, 8)?,
        max_ms: opt_real(row, 9)?,
        histogram,
    })
}

/// Merges `deltas` (minute rows of executions not saved yet) into the
/// minute, hour and day rows of the table, and records `stamp` if any.
/// Runs inside the caller's write transaction.
pub(crate) fn merge_into(
    tx: &Transaction<'_>,
    deltas: &[RollupRow],
    stamp: Option<SaveStamp>,
) -> rusqlite::Result<()> {
    // Fold the deltas of one hour (one day) together first: one read and
    // one write per row.
    let mut wider: Vec<RollupRow> = Vec::new();
    let mut index: std::collections::HashMap<(&str, u32, i64), usize> =
        std::collections::HashMap::new();
    for delta in deltas {
        for secs in [HOUR_SECS, DAY_SECS] {
            let row = delta.widened(secs);
            match index.get(&(delta.name.as_str(), secs, row.bucket_start)) {
                Some(&i) => wider[i].merge(delta),
                None => {
                    index.insert((delta.name.as_str(), secs, row.bucket_start), wider.len());
                    wider.push(row);
                }
            }
        }
    }
    let mut select = tx.prepare_cached(&format!(
        "SELECT {SELECT_COLUMNS} FROM rollups \
         WHERE name = ?1 AND bucket_secs = ?2 AND bucket_start = ?3"
    ))?;
    let mut write = tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO rollups ({SELECT_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for delta in deltas.iter().chain(&wider) {
        let stored = select
            .query_row(
                (&delta.name, delta.bucket_secs, delta.bucket_start),
                read_rollup,
            )
            .optional()?;
        let merged = match stored {
            Some(mut stored) => {
                stored.merge(delta);
                stored
            }
            None => delta.clone(),
        };
        write.execute((
            &merged.name,
            merged.bucket_start,
            merged.bucket_secs,
            count(merged.success),
            count(merged.error),
            count(merged.panic),
            count(merged.cancelled),
            merged.sum_ms,
            merged.min_ms,
            merged.max_ms,
            histogram_to_text(&merged.histogram),
        ))?;
    }
    if let Some(stamp) = stamp {
        tx.execute(
            "INSERT OR REPLACE INTO rollup_saves (id, run, saves) VALUES (1, ?1, ?2)",
            (stamp.run, count(stamp.saves)),
        )?;
    }
    Ok(())
}

/// Reads the `rollups` table of a `stats.db` without ever writing to it:
/// the file may belong to a running host (WAL mode), a stopped one, or be a
/// copy in a read-only directory.
///
/// It opens the file as the other read-only readers of the crate do: without
/// a `-wal` file beside it (a stopped host, a copy) as `immutable=1`; with a
/// `-wal` and a `-shm` (a running host) read-only through the WAL; with a
/// `-wal` but no `-shm`, or when reading through the WAL fails (a read-only
/// directory), from a private copy of the file and its WAL in
/// [`std::env::temp_dir`], removed when the reader is dropped. Nothing is
/// ever created or changed beside the file, and the rows of the WAL are
/// always read. A file of an older schema without the table reads as empty.
///
/// ```
/// use monitor_sinks::stats_store::{NameMatch, RollupReader, RollupRow, SaveStamp, StatsStore};
///
/// let dir = std::env::temp_dir().join(format!("rollup-reader-doc-{}", std::process::id()));
/// let db = dir.join("stats.db");
/// let mut store = StatsStore::open(&db)?;
/// let mut row = RollupRow::new("jobs::nightly", 1_800_000_000 / 60 * 60, 60);
/// row.success = 3;
/// store.save_batch(&[], &[row], Some(SaveStamp { run: 1, saves: 1 }))?;
/// drop(store);
///
/// let mut reader = RollupReader::open(&db)?;
/// assert!(reader.has_rollups());
/// let read = reader.read(60, 1_799_999_000, 1_800_001_000, NameMatch::Prefix("jobs::"))?;
/// assert_eq!(read.rows.len(), 1);
/// assert_eq!(read.rows[0].success, 3);
/// assert_eq!(read.stamp, Some(SaveStamp { run: 1, saves: 1 }));
/// // The hour and the day rows hold the same executions.
/// assert_eq!(reader.read(3600, 0, i64::MAX, NameMatch::All)?.rows[0].success, 3);
///
/// let missing = dir.join("no-such-file.db");
/// assert!(RollupReader::open(&missing).is_err());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), monitor_sinks::stats_store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct RollupReader {
    conn: super::store::ReadOnlyDb,
    path: PathBuf,
    has_table: bool,
}

/// What one [`RollupReader::read`] returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RollupRead {
    /// The rows, in no particular order.
    pub rows: Vec<RollupRow>,
    /// The writer's stamp, as of the same snapshot as the rows (`None`
    /// before the first save of a roll-up, or in a file of an older schema).
    pub stamp: Option<SaveStamp>,
}

impl RollupReader {
    /// Opens `path` read-only (see the type's documentation). A missing
    /// file is an error of kind [`StoreErrorKind::Other`] naming it.
    pub fn open(path: &Path) -> Result<RollupReader, StoreError> {
        let ctx = || format!("reading the roll-ups of {}", path.display());
        if !path.is_file() {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                ctx(),
                "the file does not exist",
            ));
        }
        let (conn, has_table) = super::store::open_read_only(path, Self::probe)
            .map_err(|e| StoreError::new(e.kind(), ctx(), e))?;
        Ok(RollupReader {
            conn,
            path: path.to_path_buf(),
            has_table,
        })
    }

    /// The distinct names in the table that pass `filter`, in order, one
    /// index seek each.
    fn names(conn: &Connection, filter: NameMatch<'_>) -> rusqlite::Result<Vec<String>> {
        if let NameMatch::Exact(exact) = filter {
            let found: Option<String> = conn
                .query_row(
                    "SELECT name FROM rollups WHERE name = ?1 LIMIT 1",
                    [exact],
                    |row| row.get(0),
                )
                .optional()?;
            return Ok(found.into_iter().collect());
        }
        let mut next =
            conn.prepare_cached("SELECT name FROM rollups WHERE name > ?1 ORDER BY name LIMIT 1")?;
        let mut first =
            conn.prepare_cached("SELECT name FROM rollups WHERE name >= ?1 ORDER BY name LIMIT 1")?;
        let start = match filter {
            NameMatch::Prefix(prefix) => prefix,
            _ => "",
        };
        let mut names = Vec::new();
        let mut found: Option<String> = first.query_row([start], |row| row.get(0)).optional()?;
        while let Some(name) = found {
            if !filter.matches(&name) {
                // Sorted: past the prefix, nothing further matches.
                break;
            }
            found = next.query_row([&name], |row| row.get(0)).optional()?;
            names.push(name);
        }
        Ok(names)
    }

    /// Whether the `rollups` table exists (reading the schema: this is
    /// where a WAL file that cannot be read read-only fails).
    fn probe(conn: &Connection) -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'rollups'",
            [],
            |row| row.get(0),
        )
    }

    /// From where on each resolution is whole: rows older than these
    /// boundaries may have been deleted by the retention (see
    /// [`RollupRetention`](super::RollupRetention)); [`FoldedBefore::NONE`]
    /// in a file that never folded.
    pub fn folded_before(&mut self) -> Result<FoldedBefore, StoreError> {
        let path = self.path.clone();
        super::retention::folded_before(&self.conn).map_err(|e| {
            StoreError::sqlite(e, format!("reading the roll-ups of {}", path.display()))
        })
    }

    /// The resource roll-ups of `bucket_secs` (60 or 3600) whose buckets
    /// start in `from..to` (Unix seconds), oldest first; none in a file of
    /// a schema older than 7. See
    /// [`StatsStore::save_with_resources`](super::StatsStore::save_with_resources).
    pub fn read_resources(
        &mut self,
        bucket_secs: u32,
        from: i64,
        to: i64,
    ) -> Result<Vec<ResourceRollupRow>, StoreError> {
        self.read_resource_table(Vec::new(), |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {RESOURCE_COLUMNS} FROM resource_rollups WHERE bucket_secs = ?1 \
                 AND bucket_start >= ?2 AND bucket_start < ?3 ORDER BY bucket_start"
            ))?;
            let rows = stmt.query_map((bucket_secs, from, to), read_resource_rollup)?;
            rows.collect()
        })
    }

    /// The newest resource roll-up of `bucket_secs` (60 or 3600): the row
    /// whose bucket starts last; `None` without one, or in a file of a
    /// schema older than 7. One index seek.
    ///
    /// ```no_run
    /// use monitor_sinks::stats_store::RollupReader;
    ///
    /// let mut reader = RollupReader::open(std::path::Path::new(".monitor/stats.db"))?;
    /// if let Some(minute) = reader.latest_resources(60)? {
    ///     println!("{} samples, RSS mean {:?}", minute.samples, minute.rss_mean());
    /// }
    /// # Ok::<(), monitor_sinks::stats_store::StoreError>(())
    /// ```
    pub fn latest_resources(
        &mut self,
        bucket_secs: u32,
    ) -> Result<Option<ResourceRollupRow>, StoreError> {
        self.read_resource_table(None, |conn| {
            conn.query_row(
                &format!(
                    "SELECT {RESOURCE_COLUMNS} FROM resource_rollups WHERE bucket_secs = ?1 \
                     ORDER BY bucket_start DESC LIMIT 1"
                ),
                [bucket_secs],
                read_resource_rollup,
            )
            .optional()
        })
    }

    /// `read` on the connection; `empty` without a `resource_rollups`
    /// table (a file of a schema older than 7).
    fn read_resource_table<T>(
        &mut self,
        empty: T,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let found = self.has_resource_table().and_then(|has_table| {
            if has_table {
                read(&self.conn)
            } else {
                Ok(empty)
            }
        });
        found.map_err(|e| {
            StoreError::sqlite(
                e,
                format!("reading the resource roll-ups of {}", self.path.display()),
            )
        })
    }

    /// Whether the `resource_rollups` table exists (schema 7 and later).
    fn has_resource_table(&self) -> rusqlite::Result<bool> {
        self.conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'resource_rollups'",
            [],
            |row| row.get(0),
        )
    }

    /// Whether the file has a `rollups` table (schema 6 and later).
    pub fn has_rollups(&self) -> bool {
        self.has_table
    }

    /// The rows of `bucket_secs` whose buckets start in `from..to` (Unix
    /// seconds) and whose name passes `name`, and the writer's stamp, from
    /// one consistent snapshot of the file.
    pub fn read(
        &mut self,
        bucket_secs: u32,
        from: i64,
        to: i64,
        name: NameMatch<'_>,
    ) -> Result<RollupRead, StoreError> {
        self.read_many(&[(bucket_secs, from, to)], name)
    }

    /// Like [`read`](Self::read) for several `(bucket_secs, from, to)`
    /// ranges, all from one snapshot.
    pub fn read_many(
        &mut self,
        ranges: &[(u32, i64, i64)],
        name: NameMatch<'_>,
    ) -> Result<RollupRead, StoreError> {
        if !self.has_table {
            return Ok(RollupRead::default());
        }
        let path = self.path.clone();
        let ctx = || format!("reading the roll-ups of {}", path.display());
        let sql = |e| StoreError::sqlite(e, ctx());
        // A deferred transaction: every SELECT below sees the same snapshot.
        let tx = self.conn.transaction().map_err(sql)?;
        let stamp = tx
            .query_row(
                "SELECT run, saves FROM rollup_saves WHERE id = 1",
                [],
                |row| {
                    Ok(SaveStamp {
                        run: row.get(0)?,
                        saves: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    })
                },
            )
            .optional()
            .or_else(|e| match e {
                // A hand-made table without the stamp table.
                rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => {
                    Ok(None)
                }
                e => Err(e),
            })
            .map_err(sql)?;
        let mut rows = Vec::new();
        {
            // The rows are stored in primary-key order (name, bucket_secs,
            // bucket_start): one function's rows of a range lie together.
            // So: the names first, each found with one seek (a loose index
            // scan, not a pass over every row), then one short range scan
            // per name and range.
            let names = Self::names(&tx, name).map_err(sql)?;
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {SELECT_COLUMNS} FROM rollups WHERE name = ?1 \
                     AND bucket_secs = ?2 AND bucket_start >= ?3 AND bucket_start < ?4"
                ))
                .map_err(sql)?;
            for function in &names {
                for &(secs, from, to) in ranges {
                    if from >= to {
                        continue;
                    }
                    let found = stmt
                        .query_map((function, secs, from, to), read_rollup)
                        .map_err(sql)?;
                    for row in found {
                        rows.push(row.map_err(sql)?);
                    }
                }
            }
        }
        tx.finish().map_err(sql)?;
        Ok(RollupRead { rows, stamp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_text_round_trips_and_rejects_garbage() {
        let histogram = vec![(0, 1), (200, 7), (4000, u64::MAX / 4)];
        let text = histogram_to_text(&histogram);
        assert_eq!(text, format!("[[0,1],[200,7],[4000,{}]]", u64::MAX / 4));
        assert_eq!(histogram_from_text(&text), Some(histogram));
        assert_eq!(histogram_from_text(" [ ] "), Some(Vec::new()));
        assert_eq!(
            histogram_from_text("[[5, 1], [3,2],[5,1]]"),
            Some(vec![(3, 2), (5, 2)])
        );
        for bad in ["", "[", "[[1]]", "[[1,2]", "[[1,-2]]", "{}", "[[1,2]]x"] {
            assert_eq!(histogram_from_text(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn merging_sparse_histograms_adds_every_bucket() {
        assert_eq!(
            merge_sparse(&[(1, 1), (4, 4)], &[(0, 2), (4, 1), (9, 9)]),
            vec![(0, 2), (1, 1), (4, 5), (9, 9)]
        );
        assert_eq!(merge_sparse(&[], &[(3, 3)]), vec![(3, 3)]);
    }

    #[test]
    fn immutable_uri_escapes_what_a_uri_cannot_hold() {
        assert_eq!(
            super::super::store::immutable_uri(Path::new("/a b/c?d#%.db")),
            "file:/a%20b/c%3Fd%23%25.db?immutable=1"
        );
    }
}
