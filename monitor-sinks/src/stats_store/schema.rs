//! Schema creation, version detection and migrations.

use std::collections::HashSet;

use rusqlite::Connection;

/// The schema version written by this build.
pub const SCHEMA_VERSION: i64 = 8;

/// Every column of `function_stats` with its declaration, in the order of the
/// fields of [`StoredFunctionStats`](super::StoredFunctionStats). The
/// declarations are valid both in `CREATE TABLE` and in `ALTER TABLE … ADD
/// COLUMN` (the `NOT NULL` columns have a constant default).
pub(crate) const COLUMNS: [(&str, &str); 26] = [
    ("name", "TEXT PRIMARY KEY NOT NULL"),
    ("trigger_type", "TEXT NOT NULL DEFAULT ''"),
    ("status", "TEXT NOT NULL DEFAULT 'active'"),
    ("total_executions", "INTEGER NOT NULL DEFAULT 0"),
    ("success_count", "INTEGER NOT NULL DEFAULT 0"),
    ("error_count", "INTEGER NOT NULL DEFAULT 0"),
    ("panic_count", "INTEGER NOT NULL DEFAULT 0"),
    ("cancelled_count", "INTEGER NOT NULL DEFAULT 0"),
    ("total_duration_ms", "REAL NOT NULL DEFAULT 0"),
    ("avg_execution_time_ms", "REAL NOT NULL DEFAULT 0"),
    ("min_execution_time_ms", "REAL"),
    ("max_execution_time_ms", "REAL"),
    ("p50_execution_time_ms", "REAL"),
    ("p95_execution_time_ms", "REAL"),
    ("p99_execution_time_ms", "REAL"),
    ("last_execution_time", "TEXT"),
    ("last_execution_status", "TEXT"),
    ("last_error_time", "TEXT"),
    ("last_error_type", "TEXT"),
    ("last_error_message", "TEXT"),
    ("next_scheduled_time", "TEXT"),
    ("latency_histogram", "TEXT"),
    ("error_patterns", "TEXT"),
    ("updated_at", "TEXT"),
    ("consecutive_failures", "INTEGER NOT NULL DEFAULT 0"),
    ("alert_state", "TEXT"),
];

/// Columns that version 1 had.
#[cfg(any(test, feature = "test-util"))]
pub(crate) const V1_COLUMNS: [&str; 19] = [
    "name",
    "trigger_type",
    "status",
    "total_executions",
    "success_count",
    "error_count",
    "panic_count",
    "last_execution_time",
    "last_execution_status",
    "avg_execution_time_ms",
    "min_execution_time_ms",
    "max_execution_time_ms",
    "p50_execution_time_ms",
    "p95_execution_time_ms",
    "p99_execution_time_ms",
    "last_error_time",
    "last_error_type",
    "last_error_message",
    "next_scheduled_time",
];

/// Columns added by version 2.
pub(crate) const V2_ADDED: [&str; 3] =
    ["cancelled_count", "total_duration_ms", "latency_histogram"];

/// Columns added by version 3.
pub(crate) const V3_ADDED: [&str; 2] = ["error_patterns", "updated_at"];

/// Columns added by version 4.
pub(crate) const V4_ADDED: [&str; 1] = ["consecutive_failures"];

/// Columns added by version 5.
pub(crate) const V5_ADDED: [&str; 1] = ["alert_state"];

/// The column list `a, b, c` of every column, in field order.
pub(crate) fn column_list() -> String {
    COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE TABLE` for `function_stats` with the given columns (in the order
/// of [`COLUMNS`]).
fn create_table_sql(columns: &[&str]) -> String {
    let defs: Vec<String> = COLUMNS
        .iter()
        .filter(|(name, _)| columns.contains(name))
        .map(|(name, decl)| format!("    {name} {decl}"))
        .collect();
    format!("CREATE TABLE function_stats (\n{}\n);\n", defs.join(",\n"))
}

/// The tables version 6 added: the roll-ups (per function, per minute and
/// per hour; see QUERIES.md), an index for reading a time range across
/// functions, and the stamp of the latest save (which run, how many saves).
/// Idempotent.
pub(crate) const ROLLUP_TABLES_SQL: &str = "\
CREATE TABLE IF NOT EXISTS rollups (
    name TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    bucket_secs INTEGER NOT NULL,
    success INTEGER NOT NULL DEFAULT 0,
    error INTEGER NOT NULL DEFAULT 0,
    panic INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    sum_ms REAL NOT NULL DEFAULT 0,
    min_ms REAL,
    max_ms REAL,
    histogram TEXT,
    PRIMARY KEY (name, bucket_secs, bucket_start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollups_by_time ON rollups (bucket_secs, bucket_start);
CREATE TABLE IF NOT EXISTS rollup_saves (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    run INTEGER NOT NULL,
    saves INTEGER NOT NULL
);
";

/// The tables version 7 added: the process's resource samples per minute
/// and per hour (see QUERIES.md), and the boundaries of the roll-ups'
/// retention ([`FoldedBefore`](super::FoldedBefore)). Idempotent.
pub(crate) fn resource_tables_sql() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS resource_rollups (
    bucket_start INTEGER NOT NULL,
    bucket_secs INTEGER NOT NULL,
    samples INTEGER NOT NULL DEFAULT 0,
    rss_sum INTEGER NOT NULL DEFAULT 0,
    rss_min INTEGER NOT NULL DEFAULT 0,
    rss_max INTEGER NOT NULL DEFAULT 0,
    cpu_micros INTEGER NOT NULL DEFAULT 0,
    virtual_max INTEGER,
    threads_max INTEGER,
    fds_max INTEGER,
    PRIMARY KEY (bucket_secs, bucket_start)
) WITHOUT ROWID;
{}",
        super::retention::RETENTION_TABLE_SQL
    )
}

/// The SQL creating the current schema, without the version row.
fn create_current_sql() -> String {
    let all: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
    format!(
        "{}{ROLLUP_TABLES_SQL}{}",
        create_table_sql(&all),
        resource_tables_sql()
    ) + super::alert_history::ALERT_TABLES_SQL
}

/// Whether the tables version 8 added are there.
fn has_alert_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) = 2 FROM sqlite_master WHERE type = 'table' \
         AND name IN ('alert_history', 'alert_episodes')",
        [],
        |row| row.get(0),
    )
}

/// Whether the tables version 7 added are there.
fn has_resource_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) = 2 FROM sqlite_master WHERE type = 'table' \
         AND name IN ('resource_rollups', 'rollup_retention')",
        [],
        |row| row.get(0),
    )
}

/// Whether the tables version 6 added are there.
fn has_rollup_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) = 2 FROM sqlite_master WHERE type = 'table' \
         AND name IN ('rollups', 'rollup_saves')",
        [],
        |row| row.get(0),
    )
}

/// What [`detect`] found in a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detected {
    /// No `function_stats` table: a new (or foreign but empty) file.
    Empty,
    /// A stats file of this version (from `schema_version`, or inferred from
    /// the columns when that table is missing).
    Version(i64),
}

/// Reads the schema version without writing anything.
pub(crate) fn detect(conn: &Connection) -> rusqlite::Result<Detected> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name IN ('function_stats', 'schema_version')",
    )?;
    let tables: HashSet<String> = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    let recorded: Option<i64> = if tables.contains("schema_version") {
        conn.query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        })?
    } else {
        None
    };
    if let Some(version) = recorded {
        if version > SCHEMA_VERSION || tables.contains("function_stats") {
            return Ok(Detected::Version(version));
        }
    }
    if !tables.contains("function_stats") {
        return Ok(Detected::Empty);
    }
    // A table without a recorded version: infer it from the columns.
    let columns = table_columns(conn)?;
    let version = if has_alert_tables(conn)? {
        8
    } else if has_resource_tables(conn)? {
        7
    } else if has_rollup_tables(conn)? {
        6
    } else if V5_ADDED.iter().any(|c| columns.contains(*c)) {
        5
    } else if V4_ADDED.iter().any(|c| columns.contains(*c)) {
        4
    } else if V3_ADDED.iter().any(|c| columns.contains(*c)) {
        3
    } else if V2_ADDED.iter().any(|c| columns.contains(*c)) {
        2
    } else {
        1
    };
    Ok(Detected::Version(version))
}

/// The column names of `function_stats`.
fn table_columns(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('function_stats')")?;
    let columns = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(columns)
}

/// Whether the file is at the current version with every column present, so
/// that no write is needed.
pub(crate) fn is_current(conn: &Connection, detected: Detected) -> rusqlite::Result<bool> {
    if detected != Detected::Version(SCHEMA_VERSION) {
        return Ok(false);
    }
    let columns = table_columns(conn)?;
    let has_version_table: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        [],
        |row| row.get(0),
    )?;
    Ok(has_version_table
        && COLUMNS.iter().all(|(name, _)| columns.contains(*name))
        && has_rollup_tables(conn)?
        && has_resource_tables(conn)?
        && has_alert_tables(conn)?)
}

/// Creates or migrates the schema to [`SCHEMA_VERSION`]. Must run inside a
/// write transaction; `detected` must have been read inside that transaction
/// and must not be newer than [`SCHEMA_VERSION`].
///
/// Migrations only add missing columns (so they are idempotent and also
/// repair a partially migrated or hand-made table):
///
/// * 1 → 2 adds `cancelled_count` (0), `total_duration_ms` (backfilled with
///   `avg_execution_time_ms * total_executions` so the mean can be continued)
///   and `latency_histogram` (NULL: percentiles restart from new samples).
/// * 2 → 3 adds `error_patterns` and `updated_at` (NULL).
/// * 3 → 4 adds `consecutive_failures` (0: a streak of failures before the
///   upgrade is not known).
/// * 4 → 5 adds `alert_state` (NULL: the alert rules of each function start
///   from scratch once, as before the upgrade).
/// * 5 → 6 adds the `rollups` table (empty: windowed statistics start with
///   the executions after the upgrade) and `rollup_saves`.
/// * 6 → 7 adds the `resource_rollups` table (empty) and `rollup_retention`
///   (no row: nothing folded yet).
/// * 7 → 8 adds `alert_history` and `alert_episodes` (empty: the history
///   starts with the notifications after the upgrade).
pub(crate) fn create_or_migrate(conn: &Connection, detected: Detected) -> rusqlite::Result<()> {
    match detected {
        Detected::Empty => conn.execute_batch(&create_current_sql())?,
        Detected::Version(_) => {
            let existing = table_columns(conn)?;
            for (name, decl) in COLUMNS.iter().filter(|(n, _)| !existing.contains(*n)) {
                conn.execute_batch(&format!(
                    "ALTER TABLE function_stats ADD COLUMN {name} {decl}"
                ))?;
                if *name == "total_duration_ms" {
                    conn.execute_batch(
                        "UPDATE function_stats \
                         SET total_duration_ms = avg_execution_time_ms * total_executions \
                         WHERE avg_execution_time_ms IS NOT NULL \
                           AND total_executions IS NOT NULL",
                    )?;
                }
            }
            conn.execute_batch(ROLLUP_TABLES_SQL)?;
            conn.execute_batch(&resource_tables_sql())?;
            conn.execute_batch(super::alert_history::ALERT_TABLES_SQL)?;
        }
    }
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);\n\
         DELETE FROM schema_version;\n\
         INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION});"
    ))
}

/// The SQL of older schema versions, so that tests (here and in the core) can
/// create an old stats file and check that it is migrated.
#[doc(hidden)]
#[cfg(any(test, feature = "test-util"))]
pub mod legacy_schema {
    use std::path::Path;

    use rusqlite::types::ToSqlOutput;
    use rusqlite::Connection;

    use super::{COLUMNS, V1_COLUMNS, V2_ADDED};
    use crate::stats_store::store::row_values;
    use crate::stats_store::{StoreError, StoreErrorKind, StoredFunctionStats};

    /// SQL creating a version-1 file: the original minimal column set.
    pub const V1: &str = "\
CREATE TABLE function_stats (
    name TEXT PRIMARY KEY NOT NULL,
    trigger_type TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active',
    total_executions INTEGER NOT NULL DEFAULT 0,
    success_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    panic_count INTEGER NOT NULL DEFAULT 0,
    last_execution_time TEXT,
    last_execution_status TEXT,
    avg_execution_time_ms REAL NOT NULL DEFAULT 0,
    min_execution_time_ms REAL,
    max_execution_time_ms REAL,
    p50_execution_time_ms REAL,
    p95_execution_time_ms REAL,
    p99_execution_time_ms REAL,
    last_error_time TEXT,
    last_error_type TEXT,
    last_error_message TEXT,
    next_scheduled_time TEXT
);
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
";

    /// SQL creating a version-2 file: version 1 plus `cancelled_count`,
    /// `total_duration_ms` and `latency_histogram`.
    pub const V2: &str = "\
CREATE TABLE function_stats (
    name TEXT PRIMARY KEY NOT NULL,
    trigger_type TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active',
    total_executions INTEGER NOT NULL DEFAULT 0,
    success_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    panic_count INTEGER NOT NULL DEFAULT 0,
    last_execution_time TEXT,
    last_execution_status TEXT,
    avg_execution_time_ms REAL NOT NULL DEFAULT 0,
    min_execution_time_ms REAL,
    max_execution_time_ms REAL,
    p50_execution_time_ms REAL,
    p95_execution_time_ms REAL,
    p99_execution_time_ms REAL,
    last_error_time TEXT,
    last_error_type TEXT,
    last_error_message TEXT,
    next_scheduled_time TEXT,
    cancelled_count INTEGER NOT NULL DEFAULT 0,
    total_duration_ms REAL NOT NULL DEFAULT 0,
    latency_histogram TEXT
);
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (2);
";

    /// Creates a version-1, version-2, version-5, version-6 or version-7 stats file at `path`
    /// (which must not exist yet) holding `rows`; the columns the old version
    /// did not have are ignored. Version 5 is the last without `rollups`, version 6 the last without `resource_rollups`, version 7 the last without the alert history. Uses the default rollback journal, as old versions did.
    pub fn write_legacy_file(
        path: &Path,
        version: u32,
        rows: &[StoredFunctionStats],
    ) -> Result<(), StoreError> {
        let context = || format!("writing a version-{version} file {}", path.display());
        let v5 = format!(
            "{}CREATE TABLE schema_version (version INTEGER NOT NULL);\n\
             INSERT INTO schema_version (version) VALUES (5);\n",
            super::create_table_sql(&COLUMNS.map(|(name, _)| name))
        );
        let v6 = format!(
            "{}{}CREATE TABLE schema_version (version INTEGER NOT NULL);\n\
             INSERT INTO schema_version (version) VALUES (6);\n",
            super::create_table_sql(&COLUMNS.map(|(name, _)| name)),
            super::ROLLUP_TABLES_SQL
        );
        let v7 = format!(
            "{}{}{}CREATE TABLE schema_version (version INTEGER NOT NULL);\n\
             INSERT INTO schema_version (version) VALUES (7);\n",
            super::create_table_sql(&COLUMNS.map(|(name, _)| name)),
            super::ROLLUP_TABLES_SQL,
            super::resource_tables_sql()
        );
        let (sql, mut columns): (&str, Vec<&str>) = match version {
            1 => (V1, V1_COLUMNS.to_vec()),
            2 => (V2, V1_COLUMNS.to_vec()),
            5 => (&v5, COLUMNS.map(|(name, _)| name).to_vec()),
            6 => (&v6, COLUMNS.map(|(name, _)| name).to_vec()),
            7 => (&v7, COLUMNS.map(|(name, _)| name).to_vec()),
            _ => {
                return Err(StoreError::new(
                    StoreErrorKind::Other,
                    context(),
                    format!("no legacy schema for version {version}"),
                ))
            }
        };
        if version == 2 {
            columns.extend(V2_ADDED);
        }
        let mut conn = Connection::open(path).map_err(|e| StoreError::sqlite(e, context()))?;
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::sqlite(e, context()))?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::sqlite(e, context()))?;
        // Values are produced in the order of COLUMNS: list the columns so.
        columns.retain(|c| COLUMNS.iter().any(|(name, _)| name == c));
        let ordered: Vec<&str> = COLUMNS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| columns.contains(name))
            .collect();
        let placeholders = vec!["?"; ordered.len()].join(", ");
        let insert = format!(
            "INSERT INTO function_stats ({}) VALUES ({placeholders})",
            ordered.join(", ")
        );
        for row in rows {
            let all = row_values(row, None);
            let values: Vec<ToSqlOutput<'_>> = COLUMNS
                .iter()
                .zip(all)
                .filter(|((name, _), _)| columns.contains(name))
                .map(|(_, value)| value)
                .collect();
            tx.execute(&insert, rusqlite::params_from_iter(values))
                .map_err(|e| StoreError::sqlite(e, context()))?;
        }
        tx.commit().map_err(|e| StoreError::sqlite(e, context()))
    }
}
