//! Retention of the roll-ups: minute rows (executions and resources) are
//! kept [`RollupRetention::minutes`], hour rows [`RollupRetention::hours`];
//! day rows are kept. Older rows are deleted in small batches
//! ([`StatsStore::fold_batch`](super::StatsStore::fold_batch)), each its own
//! short transaction.
//!
//! Deleting a minute row loses no execution and no sample: every save adds
//! each minute's executions (samples) to its hour row (and, for executions,
//! its day row) in the same transaction as the minute row, so the hour rows
//! already are the minutes folded together. The `rollup_retention` row
//! records from where on each resolution is whole, so a reader asks the
//! coarser rows for what lies before.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::rollup::{DAY_SECS, HOUR_SECS, MINUTE_SECS};

/// How long the roll-ups are kept in `stats.db`: minute rows for
/// `minutes` (default 7 days), hour rows for `hours` (default 90 days);
/// day rows stay. A minute row goes once its whole hour is older than
/// `minutes`, an hour row once its whole UTC day is older than `hours`.
///
/// ```
/// use std::time::Duration;
/// use monitor_sinks::stats_store::RollupRetention;
///
/// let retention = RollupRetention::default();
/// assert_eq!(retention.minutes, Duration::from_secs(7 * 86_400));
/// assert_eq!(retention.hours, Duration::from_secs(90 * 86_400));
/// assert!(retention.validate().is_ok());
/// let bad = RollupRetention { minutes: Duration::from_secs(60), ..retention };
/// assert!(bad.validate().unwrap_err().contains("at least an hour"));
/// // At 2024-01-09 01:02:03: minute rows from 2024-01-02 01:00 on, hour
/// // rows from 2023-10-11 00:00 on.
/// let now = 1_704_758_400 + 3_723;
/// let cutoffs = retention.cutoffs(now);
/// assert_eq!(cutoffs.minutes_from, 1704157200);
/// assert_eq!(cutoffs.hours_from, 1696982400);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollupRetention {
    /// How long minute rows are kept (at least an hour).
    pub minutes: Duration,
    /// How long hour rows are kept (at least a day, and at least `minutes`).
    pub hours: Duration,
}

impl Default for RollupRetention {
    fn default() -> Self {
        RollupRetention {
            minutes: Duration::from_secs(7 * 86_400),
            hours: Duration::from_secs(90 * 86_400),
        }
    }
}

/// From where on each resolution of the roll-ups is whole (Unix seconds):
/// minute rows from `minutes_from` on, hour rows from `hours_from` on.
/// Before that, rows may have been deleted: read the coarser ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoldedBefore {
    /// Minute rows are whole from here on (a whole hour).
    pub minutes_from: i64,
    /// Hour rows are whole from here on (a UTC midnight).
    pub hours_from: i64,
}

impl FoldedBefore {
    /// Nothing folded: every row is there.
    pub const NONE: FoldedBefore = FoldedBefore {
        minutes_from: i64::MIN,
        hours_from: i64::MIN,
    };
}

impl RollupRetention {
    /// Checks the values; `Err` says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.minutes < Duration::from_secs(3600) {
            return Err(format!(
                "minute rows must be kept at least an hour, not {:?}",
                self.minutes
            ));
        }
        if self.hours < Duration::from_secs(86_400) {
            return Err(format!(
                "hour rows must be kept at least a day, not {:?}",
                self.hours
            ));
        }
        if self.hours < self.minutes {
            return Err(format!(
                "hour rows ({:?}) must be kept at least as long as minute rows ({:?})",
                self.hours, self.minutes
            ));
        }
        if self.hours > Duration::from_secs(100 * 365 * 86_400) {
            return Err("hour rows can be kept at most 100 years".into());
        }
        Ok(())
    }

    /// The boundaries as of `now` (Unix seconds): rows before them go.
    pub fn cutoffs(&self, now: i64) -> FoldedBefore {
        let back =
            |keep: Duration| now.saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
        FoldedBefore {
            minutes_from: back(self.minutes).div_euclid(i64::from(HOUR_SECS))
                * i64::from(HOUR_SECS),
            hours_from: back(self.hours).div_euclid(i64::from(DAY_SECS)) * i64::from(DAY_SECS),
        }
    }
}

/// What one [`StatsStore::fold_batch`](super::StatsStore::fold_batch) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoldProgress {
    /// Rows deleted by this batch.
    pub deleted: usize,
    /// Whether rows older than the cutoffs remain (call again).
    pub more: bool,
}

/// The table recording [`FoldedBefore`] (schema 7).
pub(crate) const RETENTION_TABLE_SQL: &str = "\
CREATE TABLE IF NOT EXISTS rollup_retention (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    minutes_from INTEGER NOT NULL,
    hours_from INTEGER NOT NULL
);
";

/// The recorded boundaries ([`FoldedBefore::NONE`] without a row or table).
pub(crate) fn folded_before(conn: &Connection) -> rusqlite::Result<FoldedBefore> {
    let has_table: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'rollup_retention'",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Ok(FoldedBefore::NONE);
    }
    Ok(conn
        .query_row(
            "SELECT minutes_from, hours_from FROM rollup_retention WHERE id = 1",
            [],
            |row| {
                Ok(FoldedBefore {
                    minutes_from: row.get(0)?,
                    hours_from: row.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or(FoldedBefore::NONE))
}

/// Deletes at most `limit` rows older than `cutoffs` (minute rows of both
/// tables first, then hour rows) in one transaction, recording the
/// boundaries first (they only move forward).
pub(crate) fn fold_batch(
    conn: &mut Connection,
    cutoffs: FoldedBefore,
    limit: usize,
) -> rusqlite::Result<FoldProgress> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let recorded = folded_before(&tx)?;
    let boundaries = FoldedBefore {
        minutes_from: recorded.minutes_from.max(cutoffs.minutes_from),
        hours_from: recorded.hours_from.max(cutoffs.hours_from),
    };
    if boundaries != recorded {
        tx.execute(
            "INSERT OR REPLACE INTO rollup_retention (id, minutes_from, hours_from) VALUES (1, ?1, ?2)",
            (boundaries.minutes_from, boundaries.hours_from),
        )?;
    }
    let mut left = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut deleted = 0usize;
    for (secs, before) in [
        (MINUTE_SECS, boundaries.minutes_from),
        (HOUR_SECS, boundaries.hours_from),
    ] {
        for sql in [
            "DELETE FROM rollups WHERE (name, bucket_secs, bucket_start) IN \
             (SELECT name, bucket_secs, bucket_start FROM rollups \
              WHERE bucket_secs = ?1 AND bucket_start < ?2 LIMIT ?3)",
            "DELETE FROM resource_rollups WHERE bucket_secs = ?1 AND bucket_start IN \
             (SELECT bucket_start FROM resource_rollups \
              WHERE bucket_secs = ?1 AND bucket_start < ?2 LIMIT ?3)",
        ] {
            if left <= 0 {
                break;
            }
            let n = tx.execute(sql, (secs, before, left))?;
            deleted += n;
            left -= i64::try_from(n).unwrap_or(i64::MAX);
        }
    }
    let more = left <= 0
        && {
            let remaining: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM rollups WHERE bucket_secs = ?1 AND bucket_start < ?2) \
             OR EXISTS (SELECT 1 FROM rollups WHERE bucket_secs = ?3 AND bucket_start < ?4) \
             OR EXISTS (SELECT 1 FROM resource_rollups WHERE bucket_secs = ?1 AND bucket_start < ?2) \
             OR EXISTS (SELECT 1 FROM resource_rollups WHERE bucket_secs = ?3 AND bucket_start < ?4)",
            (
                MINUTE_SECS,
                boundaries.minutes_from,
                HOUR_SECS,
                boundaries.hours_from,
            ),
            |row| row.get(0),
        )?;
            remaining
        };
    tx.commit()?;
    Ok(FoldProgress { deleted, more })
}
