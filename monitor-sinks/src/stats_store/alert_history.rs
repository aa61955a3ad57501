//! The alert history (`alert_history`: one row per notification) and its
//! episodes (`alert_episodes`: one row per firing episode, with its
//! acknowledgement), schema version 8. The host writes both with its saves;
//! readers read them read-only ([`read_history`], [`read_episode`]); the
//! `monitor ack` command acknowledges an episode as a second writer
//! ([`acknowledge_episode`]), which the host notices at its next tick.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::store::open_read_only;
use super::StoreError;

/// The tables version 8 added, and their indexes. Idempotent.
pub(crate) const ALERT_TABLES_SQL: &str = "\
CREATE TABLE IF NOT EXISTS alert_history (
    id INTEGER PRIMARY KEY,
    episode INTEGER NOT NULL,
    time TEXT NOT NULL,
    rule TEXT NOT NULL,
    function TEXT,
    state TEXT NOT NULL,
    reminder INTEGER NOT NULL DEFAULT 0,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    since TEXT NOT NULL,
    alert TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_history_by_time ON alert_history (time);
CREATE INDEX IF NOT EXISTS alert_history_by_rule ON alert_history (rule, time);
CREATE INDEX IF NOT EXISTS alert_history_by_function ON alert_history (function, time);
CREATE INDEX IF NOT EXISTS alert_history_by_severity ON alert_history (severity, time);
CREATE INDEX IF NOT EXISTS alert_history_by_episode ON alert_history (episode);
CREATE TABLE IF NOT EXISTS alert_episodes (
    episode INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    function TEXT,
    severity TEXT NOT NULL,
    since TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    resolved_at TEXT,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    ack_note TEXT
);
CREATE INDEX IF NOT EXISTS alert_episodes_open ON alert_episodes (resolved_at);
";

/// One notification as stored in `alert_history`. Times are RFC 3339 UTC
/// with microseconds (they sort as text).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertHistoryRow {
    /// The row's id, in the order the notifications were saved (0 for a row
    /// not saved yet).
    pub id: i64,
    /// The firing episode it belongs to (shared by its firing notification,
    /// its reminders and its resolution).
    pub episode: i64,
    /// When the notification was made.
    pub time: String,
    /// The rule (`consecutive_failures`, …).
    pub rule: String,
    /// The function, `None` for the monitor's own rules.
    pub function: Option<String>,
    /// `firing` or `resolved`.
    pub state: String,
    /// A reminder of a firing episode.
    pub reminder: bool,
    /// `info`, `warning`, `error` or `critical`.
    pub severity: String,
    /// The notification's text.
    pub message: String,
    /// When the condition started.
    pub since: String,
    /// The whole notification as the alerts log's line has it (JSON).
    pub alert: String,
}

/// One firing episode as stored in `alert_episodes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpisodeRow {
    /// The episode's id.
    pub episode: i64,
    /// The rule.
    pub rule: String,
    /// The function, `None` for the monitor's own rules.
    pub function: Option<String>,
    /// The severity it fired with.
    pub severity: String,
    /// When the condition started.
    pub since: String,
    /// When its firing notification was made.
    pub fired_at: String,
    /// When it resolved; `None` while it fires.
    pub resolved_at: Option<String>,
    /// Who acknowledged it, if anyone.
    pub acknowledged_by: Option<String>,
    /// When.
    pub acknowledged_at: Option<String>,
    /// The note they left.
    pub ack_note: Option<String>,
}

/// A change to `alert_episodes`, saved in order with the host's next save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EpisodeWrite {
    /// A new episode (its firing notification was made).
    Open(EpisodeRow),
    /// The episode resolved at `at`.
    Resolve {
        /// The episode.
        episode: i64,
        /// When.
        at: String,
    },
    /// The episode was acknowledged in the host.
    Acknowledge {
        /// The episode.
        episode: i64,
        /// Who.
        by: String,
        /// Their note.
        note: Option<String>,
        /// When.
        at: String,
    },
}

/// Which notifications [`read_history`] returns: every condition given must
/// hold. Newest first, at most `limit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only this rule.
    pub rule: Option<String>,
    /// Only this function.
    pub function: Option<String>,
    /// Only these severities (empty: any).
    pub severities: Vec<String>,
    /// Only notifications made at or after this time (RFC 3339 as stored).
    pub since: Option<String>,
    /// Only notifications made before this time.
    pub until: Option<String>,
    /// Only this episode.
    pub episode: Option<i64>,
    /// At most this many rows (0: no limit).
    pub limit: usize,
}

/// Saves history rows and episode changes inside the host's save transaction.
pub(crate) fn save(
    tx: &Transaction<'_>,
    history: &[AlertHistoryRow],
    episodes: &[EpisodeWrite],
) -> rusqlite::Result<()> {
    if !history.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO alert_history (episode, time, rule, function, state, reminder, \
             severity, message, since, alert) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for row in history {
            insert.execute(params![
                row.episode,
                row.time,
                row.rule,
                row.function,
                row.state,
                row.reminder,
                row.severity,
                row.message,
                row.since,
                row.alert
            ])?;
        }
    }
    for write in episodes {
        match write {
            EpisodeWrite::Open(row) => {
                tx.prepare_cached(
                    "INSERT INTO alert_episodes (episode, rule, function, severity, since, \
                     fired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT(episode) DO UPDATE SET severity = excluded.severity",
                )?
                .execute(params![
                    row.episode,
                    row.rule,
                    row.function,
                    row.severity,
                    row.since,
                    row.fired_at
                ])?;
            }
            EpisodeWrite::Resolve { episode, at } => {
                tx.prepare_cached(
                    "UPDATE alert_episodes SET resolved_at = ?2 \
                     WHERE episode = ?1 AND resolved_at IS NULL",
                )?
                .execute(params![episode, at])?;
            }
            EpisodeWrite::Acknowledge {
                episode,
                by,
                note,
                at,
            } => {
                tx.prepare_cached(
                    "UPDATE alert_episodes SET acknowledged_by = ?2, ack_note = ?3, \
                     acknowledged_at = ?4 WHERE episode = ?1",
                )?
                .execute(params![episode, by, note, at])?;
            }
        }
    }
    Ok(())
}

const EPISODE_COLUMNS: &str = "episode, rule, function, severity, since, fired_at, resolved_at, \
     acknowledged_by, acknowledged_at, ack_note";

fn episode_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EpisodeRow> {
    Ok(EpisodeRow {
        episode: row.get(0)?,
        rule: row.get(1)?,
        function: row.get(2)?,
        severity: row.get(3)?,
        since: row.get(4)?,
        fired_at: row.get(5)?,
        resolved_at: row.get(6)?,
        acknowledged_by: row.get(7)?,
        acknowledged_at: row.get(8)?,
        ack_note: row.get(9)?,
    })
}

/// Whether the file has the alert tables (version 8 or later).
fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) = 2 FROM sqlite_master WHERE type = 'table' \
         AND name IN ('alert_history', 'alert_episodes')",
        [],
        |row| row.get(0),
    )
}

/// The episodes that had not resolved, and the highest episode id, as the
/// host's connection reads them at open.
pub(crate) fn open_episodes(conn: &Connection) -> rusqlite::Result<(Vec<EpisodeRow>, i64)> {
    if !has_tables(conn)? {
        return Ok((Vec::new(), 0));
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT {EPISODE_COLUMNS} FROM alert_episodes WHERE resolved_at IS NULL ORDER BY episode"
    ))?;
    let open = stmt
        .query_map([], episode_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let max: Option<i64> =
        conn.query_row("SELECT max(episode) FROM alert_episodes", [], |row| {
            row.get(0)
        })?;
    Ok((open, max.unwrap_or(0)))
}

/// The open episodes that carry an acknowledgement (the host compares them
/// with its own, to take up one another process made).
pub(crate) fn acknowledged_open(conn: &Connection) -> rusqlite::Result<Vec<EpisodeRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EPISODE_COLUMNS} FROM alert_episodes \
         WHERE resolved_at IS NULL AND acknowledged_by IS NOT NULL"
    ))?;
    let rows = stmt
        .query_map([], episode_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The notifications of the database at `path` that pass `filter`, newest
/// first, with the episodes they belong to; read-only (see
/// [`load_read_only`](super::load_read_only): nothing is written beside the
/// file). A file of an older schema has no history: empty.
///
/// ```no_run
/// use monitor_sinks::stats_store::{read_history, HistoryFilter};
/// let filter = HistoryFilter { rule: Some("consecutive_failures".into()), limit: 20, ..HistoryFilter::default() };
/// let (rows, _episodes) = read_history(std::path::Path::new(".monitor/stats.db"), &filter)?;
/// for row in rows {
///     println!("{} {} {}", row.time, row.state, row.message);
/// }
/// # Ok::<(), monitor_sinks::stats_store::StoreError>(())
/// ```
pub fn read_history(
    path: &Path,
    filter: &HistoryFilter,
) -> Result<(Vec<AlertHistoryRow>, Vec<EpisodeRow>), StoreError> {
    let (conn, present) = open_read_only(path, has_tables)?;
    if !present {
        return Ok((Vec::new(), Vec::new()));
    }
    let ctx = || format!("reading the alert history of {}", path.display());
    let rows = query_history(&conn, filter).map_err(|e| StoreError::sqlite(e, ctx()))?;
    let mut ids: Vec<i64> = rows.iter().map(|row| row.episode).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut episodes = Vec::with_capacity(ids.len());
    {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {EPISODE_COLUMNS} FROM alert_episodes WHERE episode = ?1"
            ))
            .map_err(|e| StoreError::sqlite(e, ctx()))?;
        for id in ids {
            if let Some(row) = stmt
                .query_row([id], episode_row)
                .optional()
                .map_err(|e| StoreError::sqlite(e, ctx()))?
            {
                episodes.push(row);
            }
        }
    }
    Ok((rows, episodes))
}

/// The history query on an open connection (also used by the bench).
pub(crate) fn query_history(
    conn: &Connection,
    filter: &HistoryFilter,
) -> rusqlite::Result<Vec<AlertHistoryRow>> {
    use rusqlite::types::Value;
    let mut conditions = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |condition: &str, value: Value| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("?{}", values.len())));
    };
    if let Some(rule) = &filter.rule {
        bind("rule = ?", Value::Text(rule.clone()));
    }
    if let Some(function) = &filter.function {
        bind("function = ?", Value::Text(function.clone()));
    }
    if let Some(since) = &filter.since {
        bind("time >= ?", Value::Text(since.clone()));
    }
    if let Some(until) = &filter.until {
        bind("time < ?", Value::Text(until.clone()));
    }
    if let Some(episode) = filter.episode {
        bind("episode = ?", Value::Integer(episode));
    }
    if !filter.severities.is_empty() {
        let start = values.len();
        let marks: Vec<String> = filter
            .severities
            .iter()
            .enumerate()
            .map(|(i, _)| format!("?{}", start + i + 1))
            .collect();
        values.extend(filter.severities.iter().cloned().map(Value::Text));
        conditions.push(format!("severity IN ({})", marks.join(", ")));
    }
    let mut sql = String::from(
        "SELECT id, episode, time, rule, function, state, reminder, severity, message, since, \
         alert FROM alert_history",
    );
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY time DESC, id DESC");
    if filter.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", filter.limit));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values), |row| {
            Ok(AlertHistoryRow {
                id: row.get(0)?,
                episode: row.get(1)?,
                time: row.get(2)?,
                rule: row.get(3)?,
                function: row.get(4)?,
                state: row.get(5)?,
                reminder: row.get(6)?,
                severity: row.get(7)?,
                message: row.get(8)?,
                since: row.get(9)?,
                alert: row.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The episodes of the database at `path` that have not resolved, oldest
/// first, each with its latest notification; read-only.
pub fn read_open_episodes(
    path: &Path,
) -> Result<Vec<(EpisodeRow, Option<AlertHistoryRow>)>, StoreError> {
    let (conn, present) = open_read_only(path, has_tables)?;
    if !present {
        return Ok(Vec::new());
    }
    let ctx = || format!("reading the open alert episodes of {}", path.display());
    let (open, _) = open_episodes(&conn).map_err(|e| StoreError::sqlite(e, ctx()))?;
    let mut out = Vec::with_capacity(open.len());
    for episode in open {
        let filter = HistoryFilter {
            episode: Some(episode.episode),
            limit: 1,
            ..HistoryFilter::default()
        };
        let latest = query_history(&conn, &filter)
            .map_err(|e| StoreError::sqlite(e, ctx()))?
            .pop();
        out.push((episode, latest));
    }
    Ok(out)
}

/// One episode of the database at `path`, read-only; `None` when there is
/// no such episode (or no history in the file).
pub fn read_episode(path: &Path, episode: i64) -> Result<Option<EpisodeRow>, StoreError> {
    let (conn, present) = open_read_only(path, has_tables)?;
    if !present {
        return Ok(None);
    }
    conn.query_row(
        &format!("SELECT {EPISODE_COLUMNS} FROM alert_episodes WHERE episode = ?1"),
        [episode],
        episode_row,
    )
    .optional()
    .map_err(|e| {
        StoreError::sqlite(
            e,
            format!("reading episode {episode} of {}", path.display()),
        )
    })
}

/// What [`acknowledge_episode`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The episode is marked acknowledged (a running host takes it up at
    /// its next tick; a stopped one when it starts).
    Acknowledged(EpisodeRow),
    /// No episode has this id.
    Unknown,
    /// The episode resolved at this time already.
    Resolved(EpisodeRow),
}

/// Acknowledges the open episode `episode` of the database at `path`, from
/// another process than the host (the `monitor ack` command): one
/// `BEGIN IMMEDIATE` transaction beside the host's connection (WAL, busy
/// timeout 2 s), which checks and marks the episode at once. A later
/// acknowledgement replaces an earlier one. A missing file, or one without
/// the alert tables (an older host never wrote any), holds no episode:
/// [`AckOutcome::Unknown`], and no file is created.
///
/// ```no_run
/// use monitor_sinks::stats_store::{acknowledge_episode, AckOutcome};
/// let outcome = acknowledge_episode(
///     std::path::Path::new(".monitor/stats.db"),
///     42,
///     "alice",
///     Some("restarting the worker"),
///     "2026-12-06T22:00:00.000000Z",
/// )?;
/// assert!(matches!(outcome, AckOutcome::Acknowledged(_)));
/// # Ok::<(), monitor_sinks::stats_store::StoreError>(())
/// ```
pub fn acknowledge_episode(
    path: &Path,
    episode: i64,
    by: &str,
    note: Option<&str>,
    at: &str,
) -> Result<AckOutcome, StoreError> {
    use rusqlite::OpenFlags;
    let ctx = || format!("acknowledging episode {episode} in {}", path.display());
    let sql = |e| StoreError::sqlite(e, ctx());
    // Never create the file: a missing database holds no episode.
    if !path.exists() {
        return Ok(AckOutcome::Unknown);
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(sql)?;
    if !has_tables(&conn).map_err(sql)? {
        return Ok(AckOutcome::Unknown);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let found = tx
        .query_row(
            &format!("SELECT {EPISODE_COLUMNS} FROM alert_episodes WHERE episode = ?1"),
            [episode],
            episode_row,
        )
        .optional()
        .map_err(sql)?;
    let outcome = match found {
        None => AckOutcome::Unknown,
        Some(row) if row.resolved_at.is_some() => AckOutcome::Resolved(row),
        Some(mut row) => {
            tx.execute(
                "UPDATE alert_episodes SET acknowledged_by = ?2, ack_note = ?3, \
                 acknowledged_at = ?4 WHERE episode = ?1",
                params![episode, by, note, at],
            )
            .map_err(sql)?;
            row.acknowledged_by = Some(by.to_owned());
            row.ack_note = note.map(str::to_owned);
            row.acknowledged_at = Some(at.to_owned());
            AckOutcome::Acknowledged(row)
        }
    };
    tx.commit().map_err(sql)?;
    Ok(outcome)
}
