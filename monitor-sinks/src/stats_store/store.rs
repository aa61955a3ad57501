//! [`StatsStore`]: the SQL layer.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, DatabaseName, Row, TransactionBehavior};

use super::alert_history::{self, AlertHistoryRow, EpisodeRow, EpisodeWrite};
use super::error::Message;
use super::resource_rollup::{self, ResourceRollupRow};
use super::retention::{self, FoldProgress, RollupRetention};
use super::rollup::{self, RollupRow, SaveStamp};
use super::schema::{self, Detected, SCHEMA_VERSION};
use super::{StoreError, StoreErrorKind, StoredFunctionStats};

/// Options of [`StatsStore::open_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long one SQLite call waits for a lock held by another connection
    /// before failing with [`StoreErrorKind::Busy`](super::StoreErrorKind::Busy).
    /// Default: 200 ms.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_millis(200),
        }
    }
}

/// What happened while opening a [`StatsStore`], for the caller to log or
/// alert on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The file was corrupt and was moved to this path (never deleted); a
    /// fresh database was created in its place. Worth an alert.
    pub moved_aside: Option<PathBuf>,
    /// The file was migrated from this older schema version.
    pub migrated_from: Option<i64>,
    /// The schema was created (new or empty file).
    pub created: bool,
}

/// The SQLite statistics database (`<log_dir>/stats.db`): one row per
/// function in `function_stats`.
///
/// Not thread-safe by design: it is owned by the single collector thread.
/// See the [module documentation](super) for the schema and useful queries.
#[derive(Debug)]
pub struct StatsStore {
    conn: Connection,
    path: PathBuf,
    report: OpenReport,
}

const UPSERT_SQL: &str = "\
INSERT INTO function_stats (name, trigger_type, status, total_executions, success_count,
    error_count, panic_count, cancelled_count, total_duration_ms, avg_execution_time_ms,
    min_execution_time_ms, max_execution_time_ms, p50_execution_time_ms,
    p95_execution_time_ms, p99_execution_time_ms, last_execution_time,
    last_execution_status, last_error_time, last_error_type, last_error_message,
    next_scheduled_time, latency_histogram, error_patterns, updated_at, consecutive_failures,
    alert_state)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
    ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)
ON CONFLICT(name) DO UPDATE SET
    trigger_type = excluded.trigger_type,
    status = excluded.status,
    total_executions = excluded.total_executions,
    success_count = excluded.success_count,
    error_count = excluded.error_count,
    panic_count = excluded.panic_count,
    cancelled_count = excluded.cancelled_count,
    total_duration_ms = excluded.total_duration_ms,
    avg_execution_time_ms = excluded.avg_execution_time_ms,
    min_execution_time_ms = excluded.min_execution_time_ms,
    max_execution_time_ms = excluded.max_execution_time_ms,
    p50_execution_time_ms = excluded.p50_execution_time_ms,
    p95_execution_time_ms = excluded.p95_execution_time_ms,
    p99_execution_time_ms = excluded.p99_execution_time_ms,
    last_execution_time = excluded.last_execution_time,
    last_execution_status = excluded.last_execution_status,
    last_error_time = excluded.last_error_time,
    last_error_type = excluded.last_error_type,
    last_error_message = excluded.last_error_message,
    next_scheduled_time = excluded.next_scheduled_time,
    latency_histogram = excluded.latency_histogram,
    error_patterns = excluded.error_patterns,
    updated_at = excluded.updated_at,
    consecutive_failures = excluded.consecutive_failures,
    alert_state = excluded.alert_state";

/// A database opened by [`open_read_only`]: the connection, and the private
/// copy it reads (removed when this is dropped), if it reads one.
pub(crate) struct ReadOnlyDb {
    // Declared first: closed before the copy is removed.
    conn: Connection,
    _copy: Option<PrivateCopy>,
}

impl std::fmt::Debug for ReadOnlyDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyDb")
            .field("copy", &self._copy.as_ref().map(|copy| &copy.dir))
            .finish()
    }
}

impl std::ops::Deref for ReadOnlyDb {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for ReadOnlyDb {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// A private directory under [`std::env::temp_dir`], removed on drop.
struct PrivateCopy {
    dir: PathBuf,
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl PrivateCopy {
    /// Copies `db` and `wal` into a new private directory; returns it and
    /// the path of the copied database.
    fn make(db: &Path, wal: &Path) -> io::Result<(PrivateCopy, PathBuf)> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut attempt = 0;
        let dir = loop {
            let dir = std::env::temp_dir().join(format!(
                "monitor-read-{}-{}-{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            match fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        let copy = PrivateCopy { dir };
        let copied = copy.dir.join("stats.db");
        // The WAL first: frames a running host appends meanwhile are past
        // its end; the main file copied after holds at least what the WAL
        // copy's checkpointed frames held.
        fs::copy(wal, copy.dir.join("stats.db-wal"))?;
        fs::copy(db, &copied)?;
        Ok((copy, copied))
    }
}

/// Opens the database at `path` for reading only, never writing into its
/// directory: no journal, WAL, `-shm` or lock file is created or changed,
/// no schema is migrated.
///
/// - Without a `-wal` file beside it (a stopped host, a copy) everything is
///   in the main file: it is opened as immutable (no locks at all, so it
///   also works in a read-only directory).
/// - With a `-wal` and a `-shm` (a running host) it is opened read-only
///   through SQLite's locks, so the rows still in the WAL are read too.
/// - With a `-wal` but no `-shm` (a copy of a running host's directory,
///   whose `-shm` SQLite would have to create), or when reading through the
///   WAL fails (a directory the reader may not write), the file and its WAL
///   are copied into a private directory under [`std::env::temp_dir`],
///   which is read and removed afterwards: the answer holds the rows of the
///   WAL either way.
///
/// `probe` runs one read on the connection (where a WAL that cannot be
/// read read-only fails); its result is returned with it.
pub(crate) fn open_read_only<T>(
    path: &Path,
    probe: impl Fn(&Connection) -> rusqlite::Result<T>,
) -> Result<(ReadOnlyDb, T), StoreError> {
    use rusqlite::OpenFlags;
    let context = || format!("opening {} read-only", path.display());
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                context(),
                Message("not a file".to_owned()),
            ))
        }
        Err(error) => return Err(StoreError::io(error, context())),
    }
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let (wal, shm) = (beside("-wal"), beside("-shm"));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let ready = |conn: Connection| -> rusqlite::Result<(Connection, T)> {
        conn.busy_timeout(Duration::from_millis(200))?;
        let found = probe(&conn)?;
        Ok((conn, found))
    };
    if !wal.exists() {
        let (conn, found) = Connection::open_with_flags(immutable_uri(path), flags)
            .and_then(ready)
            .map_err(|e| StoreError::sqlite(e, context()))?;
        return Ok((ReadOnlyDb { conn, _copy: None }, found));
    }
    if shm.exists() {
        if let Ok((conn, found)) = Connection::open_with_flags(path, flags).and_then(ready) {
            return Ok((ReadOnlyDb { conn, _copy: None }, found));
        }
    }
    let copy_context = || {
        format!(
            "reading {} and {} through a private copy (the directory is left untouched)",
            path.display(),
            wal.display()
        )
    };
    let (copy, copied) =
        PrivateCopy::make(path, &wal).map_err(|e| StoreError::io(e, copy_context()))?;
    let (conn, found) = Connection::open_with_flags(&copied, flags)
        .and_then(ready)
        .map_err(|e| StoreError::sqlite(e, copy_context()))?;
    Ok((
        ReadOnlyDb {
            conn,
            _copy: Some(copy),
        },
        found,
    ))
}

/// `file:` URI of a path, with `immutable=1`.
pub(crate) fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    let text = path.to_string_lossy();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(byte as char)
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Reads every row of `function_stats` of the database at `path`, ordered
/// by name, without writing anything into its directory. A file of
/// an older schema is read as it is: the columns it lacks read as NULL (0,
/// or `None`). A file without the table has no rows.
///
/// ```no_run
/// let rows = monitor_sinks::stats_store::load_read_only(std::path::Path::new(".monitor/stats.db"))?;
/// for row in rows {
///     println!("{}: {} executions", row.name, row.total_executions);
/// }
/// # Ok::<(), monitor_sinks::stats_store::StoreError>(())
/// ```
pub fn load_read_only(path: &Path) -> Result<Vec<StoredFunctionStats>, StoreError> {
    let (conn, ()) = open_read_only(path, |_| Ok(()))?;
    let ctx = || format!("loading the rows of {}", path.display());
    let present: std::collections::HashSet<String> = conn
        .prepare("SELECT name FROM pragma_table_info('function_stats')")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(|e| StoreError::sqlite(e, ctx()))?;
    if present.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<String> = schema::COLUMNS
        .iter()
        .map(|(name, _)| {
            if present.contains(*name) {
                (*name).to_owned()
            } else {
                format!("NULL AS {name}")
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM function_stats ORDER BY name",
        columns.join(", ")
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| StoreError::sqlite(e, ctx()))?;
    let rows = stmt
        .query_map([], read_row)
        .map_err(|e| StoreError::sqlite(e, ctx()))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| StoreError::sqlite(e, ctx()))?;
    Ok(rows)
}

impl StatsStore {
    /// Opens (creating it and its parent directory if needed) the database at
    /// `path` with default [`StoreOptions`]. See [`StatsStore::open_with`].
    pub fn open(path: &Path) -> Result<StatsStore, StoreError> {
        Self::open_with(path, &StoreOptions::default())
    }

    /// Opens (creating it and its parent directory if needed) the database at
    /// `path`.
    ///
    /// Sets `busy_timeout`, then `journal_mode=WAL` and `synchronous=NORMAL`,
    /// then creates or migrates the schema to [`SCHEMA_VERSION`].
    ///
    /// * A corrupt file (not a database, or failing `PRAGMA quick_check`) is
    ///   moved aside to `<file>.corrupt-<unix seconds>` together with its
    ///   `-wal`, `-shm` and `-journal` siblings, and a fresh database is
    ///   created; [`OpenReport::moved_aside`] (see [`StatsStore::report`])
    ///   tells where the old file went. If it cannot be moved, the error is
    ///   a [`StoreErrorKind::Corrupt`] error.
    /// * A file with a newer schema version fails with
    ///   a [`StoreErrorKind::NewerSchema`] error and is not written to.
    /// * A read-only file or directory fails with [`StoreErrorKind::ReadOnly`], a
    ///   lock held longer than the busy timeout with [`StoreErrorKind::Busy`].
    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<StatsStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| {
                StoreError::io(e, format!("creating the directory {}", parent.display()))
            })?;
        }
        let mut report = OpenReport::default();
        let move_aside_or_fail = |why: &dyn std::fmt::Display| {
            move_aside(path).map_err(|io_err| {
                StoreError::new(
                    StoreErrorKind::Corrupt,
                    format!(
                        "opening {}: the file is corrupt ({why}) and could not be moved aside",
                        path.display()
                    ),
                    io_err,
                )
            })
        };
        // A file that is not SQLite at all is moved aside before SQLite opens
        // it: SQLite would otherwise treat (and delete) a `-wal` sibling.
        if let Some(why) = foreign_header(path)
            .map_err(|e| StoreError::io(e, format!("reading {}", path.display())))?
        {
            report.moved_aside = Some(move_aside_or_fail(&why)?);
        }
        let conn = match Self::try_open(path, options, &mut report) {
            Ok(conn) => conn,
            Err(err) if err.kind() == StoreErrorKind::Corrupt && report.moved_aside.is_none() => {
                report.moved_aside = Some(move_aside_or_fail(&err)?);
                Self::try_open(path, options, &mut report)?
            }
            Err(err) => return Err(err),
        };
        Ok(StatsStore {
            conn,
            path: path.to_path_buf(),
            report,
        })
    }

    fn try_open(
        path: &Path,
        options: &StoreOptions,
        report: &mut OpenReport,
    ) -> Result<Connection, StoreError> {
        let ctx = || format!("opening {}", path.display());
        let sql = |e| StoreError::sqlite(e, ctx());
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(options.busy_timeout).map_err(sql)?;

        // Read-only checks first, so that a newer file is never written to.
        let detected = schema::detect(&conn).map_err(sql)?;
        if let Detected::Version(found) = detected {
            if found > SCHEMA_VERSION {
                return Err(newer(path, found));
            }
        }
        if conn.is_readonly(DatabaseName::Main).map_err(sql)? {
            return Err(StoreError::new(
                StoreErrorKind::ReadOnly,
                ctx(),
                Message("SQLite could only open the file read-only".to_owned()),
            ));
        }
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
            .map_err(sql)?;
        if check != "ok" {
            return Err(StoreError::new(
                StoreErrorKind::Corrupt,
                ctx(),
                Message(format!("PRAGMA quick_check: {check}")),
            ));
        }

        // WAL lets the sqlite3 shell read while we write. If the file system
        // does not support it SQLite keeps the old mode, which still works.
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;

        if !schema::is_current(&conn, detected).map_err(sql)? {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            // Re-read under the write lock: another process may have migrated.
            let detected = schema::detect(&tx).map_err(sql)?;
            match detected {
                Detected::Version(found) if found > SCHEMA_VERSION => {
                    return Err(newer(path, found));
                }
                Detected::Version(found) if found < SCHEMA_VERSION => {
                    report.migrated_from = Some(found);
                }
                Detected::Version(_) => {}
                Detected::Empty => report.created = true,
            }
            schema::create_or_migrate(&tx, detected).map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(conn)
    }

    /// The alert episodes that had not resolved, and the highest episode id
    /// (0 when there is none).
    pub fn open_episodes(&self) -> Result<(Vec<EpisodeRow>, i64), StoreError> {
        alert_history::open_episodes(&self.conn).map_err(|e| {
            StoreError::sqlite(
                e,
                format!("reading the alert episodes of {}", self.path.display()),
            )
        })
    }

    /// The open episodes that carry an acknowledgement, if another
    /// connection committed anything since the previous call (SQLite's
    /// `data_version`); `None` when nothing changed.
    pub fn acknowledged_elsewhere(
        &mut self,
        seen_version: &mut Option<i64>,
    ) -> Result<Option<Vec<EpisodeRow>>, StoreError> {
        let ctx = || format!("reading the acknowledgements in {}", self.path.display());
        let version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|e| StoreError::sqlite(e, ctx()))?;
        if *seen_version == Some(version) {
            return Ok(None);
        }
        *seen_version = Some(version);
        alert_history::acknowledged_open(&self.conn)
            .map(Some)
            .map_err(|e| StoreError::sqlite(e, ctx()))
    }

    /// What happened while opening (file moved aside, migration, creation).
    pub fn report(&self) -> &OpenReport {
        &self.report
    }

    /// The path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file (always [`SCHEMA_VERSION`]
    /// after a successful open, unless another process changed it since).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT max(version) FROM schema_version", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .map(|v| v.unwrap_or(0))
            .map_err(|e| {
                StoreError::sqlite(
                    e,
                    format!("reading the schema version of {}", self.path.display()),
                )
            })
    }

    /// Reads every row, ordered by name.
    ///
    /// Tolerant of hand-edited values: NULL or negative counts read as 0,
    /// NULL numbers as 0.0 (or `None` for the optional ones), text that does
    /// not parse as a number as 0.
    pub fn load_all(&self) -> Result<Vec<StoredFunctionStats>, StoreError> {
        let ctx = || format!("loading the rows of {}", self.path.display());
        let sql = format!(
            "SELECT {} FROM function_stats ORDER BY name",
            schema::column_list()
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| StoreError::sqlite(e, ctx()))?;
        let rows = stmt
            .query_map([], read_row)
            .map_err(|e| StoreError::sqlite(e, ctx()))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| StoreError::sqlite(e, ctx()))?;
        Ok(rows)
    }

    /// Writes `rows` (absolute values) in one `BEGIN IMMEDIATE` transaction
    /// with an upsert per row: an existing row with the same name is replaced,
    /// others are left alone. Either every row is written or none is, so a
    /// retry after an error is idempotent.
    ///
    /// A row whose `updated_at` is `None` gets the current time. NaN numbers
    /// are written as 0 (required columns) or NULL (optional ones); counts
    /// above `i64::MAX` are saturated.
    pub fn save(&mut self, rows: &[StoredFunctionStats]) -> Result<(), StoreError> {
        self.save_batch(rows, &[], None)
    }

    /// Like [`save`](Self::save), and in the same transaction merges
    /// `rollups` (minute rows of executions not saved before) into the
    /// `rollups` table: each into its minute row and into its hour row,
    /// adding to what is stored (counts and sums add up, histograms merge),
    /// never replacing it. Then records `stamp` (see [`SaveStamp`]).
    pub fn save_batch(
        &mut self,
        rows: &[StoredFunctionStats],
        rollups: &[RollupRow],
        stamp: Option<SaveStamp>,
    ) -> Result<(), StoreError> {
        self.save_all(rows, rollups, &[], stamp, &[], &[])
    }

    /// Like [`save_batch`](Self::save_batch), and in the same transaction
    /// appends `history` to `alert_history` and applies `episodes` to
    /// `alert_episodes`, in order.
    pub fn save_with_alerts(
        &mut self,
        rows: &[StoredFunctionStats],
        rollups: &[RollupRow],
        stamp: Option<SaveStamp>,
        history: &[AlertHistoryRow],
        episodes: &[EpisodeWrite],
    ) -> Result<(), StoreError> {
        self.save_all(rows, rollups, &[], stamp, history, episodes)
    }

    /// Like [`save_batch`](Self::save_batch), and in the same transaction
    /// merges `resources` (minute rows of resource samples not saved before)
    /// into their minute and hour rows of `resource_rollups`.
    ///
    /// ```
    /// use monitor_sinks::stats_store::{ResourceRollupRow, RollupReader, StatsStore};
    ///
    /// let dir = std::env::temp_dir().join(format!("resource-rollups-doc-{}", std::process::id()));
    /// let db = dir.join("stats.db");
    /// let mut store = StatsStore::open(&db)?;
    /// let mut row = ResourceRollupRow::new(1_800_000_000 / 60 * 60, 60);
    /// row.add_sample(100 << 20, 2_000, None, Some(8), Some(20));
    /// store.save_with_resources(&[], &[], &[row.clone()], None)?;
    /// store.save_with_resources(&[], &[], &[row], None)?;
    /// drop(store);
    /// let mut reader = RollupReader::open(&db)?;
    /// let hours = reader.read_resources(3600, 0, i64::MAX)?;
    /// assert_eq!((hours.len(), hours[0].samples, hours[0].cpu_micros), (1, 2, 4_000));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), monitor_sinks::stats_store::StoreError>(())
    /// ```
    pub fn save_with_resources(
        &mut self,
        rows: &[StoredFunctionStats],
        rollups: &[RollupRow],
        resources: &[ResourceRollupRow],
        stamp: Option<SaveStamp>,
    ) -> Result<(), StoreError> {
        self.save_all(rows, rollups, resources, stamp, &[], &[])
    }

    /// Everything a host's save writes, in one `BEGIN IMMEDIATE`
    /// transaction: `rows`, `rollups` and `resources` as
    /// [`save_with_resources`](Self::save_with_resources), `history` and
    /// `episodes` as [`save_with_alerts`](Self::save_with_alerts).
    pub fn save_all(
        &mut self,
        rows: &[StoredFunctionStats],
        rollups: &[RollupRow],
        resources: &[ResourceRollupRow],
        stamp: Option<SaveStamp>,
        history: &[AlertHistoryRow],
        episodes: &[EpisodeWrite],
    ) -> Result<(), StoreError> {
        if rows.is_empty()
            && rollups.is_empty()
            && resources.is_empty()
            && history.is_empty()
            && episodes.is_empty()
        {
            return Ok(());
        }
        let path = &self.path;
        let ctx = || {
            format!(
                "saving {} rows and {} roll-ups to {}",
                rows.len(),
                rollups.len(),
                path.display()
            )
        };
        let mut now = String::new();
        crate::time::format_rfc3339_micros(SystemTime::now(), &mut now);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(e, ctx()))?;
        {
            let mut stmt = tx
                .prepare_cached(UPSERT_SQL)
                .map_err(|e| StoreError::sqlite(e, ctx()))?;
            for row in rows {
                stmt.execute(row_values(row, Some(&now)))
                    .map_err(|e| StoreError::sqlite(e, ctx()))?;
            }
        }
        rollup::merge_into(&tx, rollups, stamp).map_err(|e| StoreError::sqlite(e, ctx()))?;
        resource_rollup::merge_resources_into(&tx, resources)
            .map_err(|e| StoreError::sqlite(e, ctx()))?;
        alert_history::save(&tx, history, episodes).map_err(|e| StoreError::sqlite(e, ctx()))?;
        // On error the dropped transaction rolls back.
        tx.commit().map_err(|e| StoreError::sqlite(e, ctx()))
    }

    /// Deletes at most `limit` roll-up rows older than what `retention`
    /// keeps as of `now` (Unix seconds), in one short transaction: minute
    /// rows (of executions and of resources) first, then hour rows. Their
    /// executions and samples stay in the coarser rows (see
    /// [`RollupRetention`]). Call again while [`FoldProgress::more`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_sinks::stats_store::{NameMatch, RollupReader, RollupRetention, RollupRow, StatsStore};
    ///
    /// let dir = std::env::temp_dir().join(format!("fold-doc-{}", std::process::id()));
    /// let db = dir.join("stats.db");
    /// let mut store = StatsStore::open(&db)?;
    /// let day = 86_400;
    /// let mut rows = Vec::new();
    /// for minute in 0..30 {
    ///     let mut row = RollupRow::new("f", 100 * day + minute * 60, 60);
    ///     row.success = 1;
    ///     rows.push(row);
    /// }
    /// store.save_batch(&[], &rows, None)?;
    /// // Eight days later, in batches of 10 rows.
    /// let now = 108 * day;
    /// let retention = RollupRetention::default();
    /// let first = store.fold_batch(&retention, now, 10)?;
    /// assert_eq!((first.deleted, first.more), (10, true));
    /// while store.fold_batch(&retention, now, 10)?.more {}
    /// drop(store);
    /// let mut reader = RollupReader::open(&db)?;
    /// assert!(reader.read(60, 0, i64::MAX, NameMatch::All)?.rows.is_empty());
    /// let hours = reader.read(3600, 0, i64::MAX, NameMatch::All)?.rows;
    /// assert_eq!(hours[0].success, 30, "the hour row holds the minutes");
    /// assert_eq!(reader.folded_before()?.minutes_from, (now - 7 * day) / 3600 * 3600);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), monitor_sinks::stats_store::StoreError>(())
    /// ```
    pub fn fold_batch(
        &mut self,
        retention: &RollupRetention,
        now: i64,
        limit: usize,
    ) -> Result<FoldProgress, StoreError> {
        let path = &self.path;
        retention::fold_batch(&mut self.conn, retention.cutoffs(now), limit).map_err(|e| {
            StoreError::sqlite(e, format!("deleting old roll-ups from {}", path.display()))
        })
    }
}

fn newer(path: &Path, found: i64) -> StoreError {
    StoreError::newer_schema(path, found, SCHEMA_VERSION)
}

/// The values of a row in the order of [`schema::COLUMNS`], borrowing its
/// strings. `updated_default` replaces a missing `updated_at`.
pub(crate) fn row_values<'a>(
    row: &'a StoredFunctionStats,
    updated_default: Option<&'a str>,
) -> [ToSqlOutput<'a>; 26] {
    fn text(s: &str) -> ValueRef<'_> {
        ValueRef::Text(s.as_bytes())
    }
    fn opt_text(s: Option<&str>) -> ValueRef<'_> {
        s.map_or(ValueRef::Null, text)
    }
    fn count(n: u64) -> ValueRef<'static> {
        ValueRef::Integer(i64::try_from(n).unwrap_or(i64::MAX))
    }
    fn real(x: f64) -> ValueRef<'static> {
        ValueRef::Real(if x.is_nan() { 0.0 } else { x })
    }
    fn opt_real(x: Option<f64>) -> ValueRef<'static> {
        match x {
            Some(x) if !x.is_nan() => ValueRef::Real(x),
            _ => ValueRef::Null,
        }
    }
    [
        text(&row.name),
        text(&row.trigger_type),
        text(&row.status),
        count(row.total_executions),
        count(row.success_count),
        count(row.error_count),
        count(row.panic_count),
        count(row.cancelled_count),
        real(row.total_duration_ms),
        real(row.avg_execution_time_ms),
        opt_real(row.min_execution_time_ms),
        opt_real(row.max_execution_time_ms),
        opt_real(row.p50_execution_time_ms),
        opt_real(row.p95_execution_time_ms),
        opt_real(row.p99_execution_time_ms),
        opt_text(row.last_execution_time.as_deref()),
        opt_text(row.last_execution_status.as_deref()),
        opt_text(row.last_error_time.as_deref()),
        opt_text(row.last_error_type.as_deref()),
        opt_text(row.last_error_message.as_deref()),
        opt_text(row.next_scheduled_time.as_deref()),
        opt_text(row.latency_histogram.as_deref()),
        opt_text(row.error_patterns.as_deref()),
        opt_text(row.updated_at.as_deref().or(updated_default)),
        count(row.consecutive_failures),
        opt_text(row.alert_state.as_deref()),
    ]
    .map(ToSqlOutput::Borrowed)
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<StoredFunctionStats> {
    fn opt_text(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
        Ok(match row.get_ref(i)? {
            ValueRef::Null => None,
            ValueRef::Integer(n) => Some(n.to_string()),
            ValueRef::Real(x) => Some(x.to_string()),
            ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        })
    }
    fn text(row: &Row<'_>, i: usize) -> rusqlite::Result<String> {
        Ok(opt_text(row, i)?.unwrap_or_default())
    }
    fn opt_real(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<f64>> {
        Ok(match row.get_ref(i)? {
            ValueRef::Null | ValueRef::Blob(_) => None,
            ValueRef::Integer(n) => Some(n as f64),
            ValueRef::Real(x) => Some(x),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        })
    }
    fn real(row: &Row<'_>, i: usize) -> rusqlite::Result<f64> {
        Ok(opt_real(row, i)?.unwrap_or(0.0))
    }
    fn count(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
        Ok(match row.get_ref(i)? {
            ValueRef::Integer(n) => u64::try_from(n).unwrap_or(0),
            ValueRef::Real(x) if x.is_finite() && x > 0.0 => x as u64,
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
            _ => 0,
        })
    }
    Ok(StoredFunctionStats {
        name: text(row, 0)?,
        trigger_type: text(row, 1)?,
        status: text(row, 2)?,
        total_executions: count(row, 3)?,
        success_count: count(row, 4)?,
        error_count: count(row, 5)?,
        panic_count: count(row, 6)?,
        cancelled_count: count(row, 7)?,
        total_duration_ms: real(row, 8)?,
        avg_execution_time_ms: real(row, 9)?,
        min_execution_time_ms: opt_real(row, 10)?,
        max_execution_time_ms: opt_real(row, 11)?,
        p50_execution_time_ms: opt_real(row, 12)?,
        p95_execution_time_ms: opt_real(row, 13)?,
        p99_execution_time_ms: opt_real(row, 14)?,
        last_execution_time: opt_text(row, 15)?,
        last_execution_status: opt_text(row, 16)?,
        last_error_time: opt_text(row, 17)?,
        last_error_type: opt_text(row, 18)?,
        last_error_message: opt_text(row, 19)?,
        next_scheduled_time: opt_text(row, 20)?,
        latency_histogram: opt_text(row, 21)?,
        error_patterns: opt_text(row, 22)?,
        updated_at: opt_text(row, 23)?,
        consecutive_failures: count(row, 24)?,
        alert_state: opt_text(row, 25)?,
    })
}

/// Why the file at `path` cannot be an SQLite database, judging by its
/// header; `None` if it can be (or is missing or empty, which SQLite treats
/// as a new database).
fn foreign_header(path: &Path) -> io::Result<Option<String>> {
    use std::io::Read;
    const MAGIC: &[u8; 16] = b"SQLite format 3\0";
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Ok(None); // Let SQLite report what it is.
    }
    let mut header = Vec::with_capacity(100);
    file.take(100).read_to_end(&mut header)?;
    Ok(if header.is_empty() {
        None
    } else if header.len() < 100 {
        Some(format!(
            "{} bytes, shorter than an SQLite header",
            header.len()
        ))
    } else if !header.starts_with(MAGIC) {
        Some("no SQLite header: not a database".to_owned())
    } else {
        None
    })
}

/// `path` with `suffix` appended to its file name (`stats.db` + `-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

const SIBLINGS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Renames a corrupt database to `<file>.corrupt-<unix seconds>` (adding
/// `.1`, `.2`, … if taken), and its `-wal`/`-shm`/`-journal` siblings to the
/// same name plus the suffix, so that the sqlite3 shell can still open the
/// set. Nothing is deleted.
fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = with_suffix(path, &format!(".corrupt-{secs}"));
    let mut target = base.clone();
    let mut n = 0u32;
    while exists(&target) || SIBLINGS.iter().any(|s| exists(&with_suffix(&target, s))) {
        n += 1;
        if n > 10_000 {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("no free name like {}", base.display()),
            ));
        }
        target = with_suffix(&base, &format!(".{n}"));
    }
    if exists(path) {
        fs::rename(path, &target)?;
    }
    for suffix in SIBLINGS {
        let sibling = with_suffix(path, suffix);
        if exists(&sibling) {
            fs::rename(&sibling, with_suffix(&target, suffix))?;
        }
    }
    Ok(target)
}
