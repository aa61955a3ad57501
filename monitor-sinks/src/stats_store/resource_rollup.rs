//! The `resource_rollups` table: the process's resource samples per minute
//! and per hour ([`ResourceRollupRow`]), merged on write like the
//! execution roll-ups.

use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Row, Transaction};

use super::rollup::HOUR_SECS;

/// One row of the `resource_rollups` table: the resource samples taken in
/// one bucket of time (`bucket_secs` long, from `bucket_start`).
///
/// Rows merge exactly: counts and sums add up, minima and maxima take the
/// smaller and the larger.
///
/// ```
/// use monitor_sinks::stats_store::ResourceRollupRow;
///
/// let mut a = ResourceRollupRow::new(1_800_000_000 / 60 * 60, 60);
/// a.add_sample(100, 5_000, Some(900), Some(4), None);
/// a.add_sample(300, 1_000, None, Some(6), Some(9));
/// let mut b = ResourceRollupRow::new(a.bucket_start, 60);
/// b.add_sample(50, 0, None, None, None);
/// a.merge(&b);
/// assert_eq!((a.samples, a.rss_sum, a.rss_min, a.rss_max), (3, 450, 50, 300));
/// assert_eq!(a.rss_mean(), Some(150.0));
/// assert_eq!((a.cpu_micros, a.virtual_max, a.threads_max, a.fds_max), (6_000, Some(900), Some(6), Some(9)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRollupRow {
    /// Start of the bucket, in seconds since the Unix epoch (a multiple of
    /// `bucket_secs`).
    pub bucket_start: i64,
    /// Length of the bucket in seconds: 60 or 3600.
    pub bucket_secs: u32,
    /// Samples taken in the bucket.
    pub samples: u64,
    /// Sum of their resident memory, in bytes (`rss_sum / samples` is the mean).
    pub rss_sum: u64,
    /// Smallest resident memory sampled, in bytes (0 without samples).
    pub rss_min: u64,
    /// Largest resident memory sampled, in bytes.
    pub rss_max: u64,
    /// CPU time (user and system) used in the bucket, in microseconds: the
    /// CPU used between two samples counts in the bucket of the later one.
    pub cpu_micros: u64,
    /// Largest virtual memory sampled, in bytes.
    pub virtual_max: Option<u64>,
    /// Most threads sampled.
    pub threads_max: Option<u64>,
    /// Most open file descriptors sampled.
    pub fds_max: Option<u64>,
}

impl ResourceRollupRow {
    /// An empty row.
    ///
    /// ```
    /// let row = monitor_sinks::stats_store::ResourceRollupRow::new(3600, 3600);
    /// assert_eq!((row.samples, row.rss_mean()), (0, None));
    /// ```
    pub fn new(bucket_start: i64, bucket_secs: u32) -> Self {
        ResourceRollupRow {
            bucket_start,
            bucket_secs,
            samples: 0,
            rss_sum: 0,
            rss_min: 0,
            rss_max: 0,
            cpu_micros: 0,
            virtual_max: None,
            threads_max: None,
            fds_max: None,
        }
    }

    /// Counts one sample. See the example of [`ResourceRollupRow`].
    pub fn add_sample(
        &mut self,
        rss: u64,
        cpu_micros: u64,
        virtual_bytes: Option<u64>,
        threads: Option<u64>,
        fds: Option<u64>,
    ) {
        let mut one = ResourceRollupRow::new(self.bucket_start, self.bucket_secs);
        one.samples = 1;
        one.rss_sum = rss;
        one.rss_min = rss;
        one.rss_max = rss;
        one.cpu_micros = cpu_micros;
        one.virtual_max = virtual_bytes;
        one.threads_max = threads;
        one.fds_max = fds;
        self.merge(&one);
    }

    /// Adds `other`'s samples to this row (whatever their buckets).
    pub fn merge(&mut self, other: &ResourceRollupRow) {
        let max = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.rss_min = match (self.samples, other.samples) {
            (_, 0) => self.rss_min,
            (0, _) => other.rss_min,
            _ => self.rss_min.min(other.rss_min),
        };
        self.rss_max = self.rss_max.max(other.rss_max);
        self.samples = self.samples.saturating_add(other.samples);
        self.rss_sum = self.rss_sum.saturating_add(other.rss_sum);
        self.cpu_micros = self.cpu_micros.saturating_add(other.cpu_micros);
        self.virtual_max = max(self.virtual_max, other.virtual_max);
        self.threads_max = max(self.threads_max, other.threads_max);
        self.fds_max = max(self.fds_max, other.fds_max);
    }

    /// Mean resident memory in bytes; `None` without samples.
    pub fn rss_mean(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.rss_sum as f64 / self.samples as f64)
    }

    /// This row's samples in the row of `secs` that holds its bucket.
    fn widened(&self, secs: u32) -> ResourceRollupRow {
        ResourceRollupRow {
            bucket_start: self.bucket_start.div_euclid(i64::from(secs)) * i64::from(secs),
            bucket_secs: secs,
            ..self.clone()
        }
    }
}

/// The columns, in the order [`read_resource_rollup`] reads them.
pub(crate) const RESOURCE_COLUMNS: &str = "bucket_start, bucket_secs, samples, rss_sum, rss_min, \
     rss_max, cpu_micros, virtual_max, threads_max, fds_max";

/// A row of `resource_rollups` (columns in [`RESOURCE_COLUMNS`] order).
pub(crate) fn read_resource_rollup(row: &Row<'_>) -> rusqlite::Result<ResourceRollupRow> {
    fn count(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
        Ok(match row.get_ref(i)? {
            ValueRef::Integer(n) => u64::try_from(n).unwrap_or(0),
            ValueRef::Real(x) if x.is_finite() && x > 0.0 => x as u64,
            _ => 0,
        })
    }
    fn optional(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
        Ok(match row.get_ref(i)? {
            ValueRef::Null => None,
            _ => Some(count(row, i)?),
        })
    }
    Ok(ResourceRollupRow {
        bucket_start: row.get::<_, Option<i64>>(0)?.unwrap_or(0),
        bucket_secs: u32::try_from(row.get::<_, Option<i64>>(1)?.unwrap_or(0)).unwrap_or(0),
        samples: count(row, 2)?,
        rss_sum: count(row, 3)?,
        rss_min: count(row, 4)?,
        rss_max: count(row, 5)?,
        cpu_micros: count(row, 6)?,
        virtual_max: optional(row, 7)?,
        threads_max: optional(row, 8)?,
        fds_max: optional(row, 9)?,
    })
}

/// Merges `deltas` (minute rows of samples not saved yet) into the minute
/// and hour rows of `resource_rollups`. Runs inside the caller's write
/// transaction.
pub(crate) fn merge_resources_into(
    tx: &Transaction<'_>,
    deltas: &[ResourceRollupRow],
) -> rusqlite::Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let mut all: Vec<ResourceRollupRow> = Vec::with_capacity(deltas.len() * 2);
    for delta in deltas {
        for row in [delta.clone(), delta.widened(HOUR_SECS)] {
            match all
                .iter_mut()
                .find(|r| r.bucket_secs == row.bucket_secs && r.bucket_start == row.bucket_start)
            {
                Some(existing) => existing.merge(&row),
                None => all.push(row),
            }
        }
    }
    let mut select = tx.prepare_cached(&format!(
        "SELECT {RESOURCE_COLUMNS} FROM resource_rollups \
         WHERE bucket_secs = ?1 AND bucket_start = ?2"
    ))?;
    let mut write = tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO resource_rollups ({RESOURCE_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for delta in &all {
        let stored = select
            .query_row(
                (delta.bucket_secs, delta.bucket_start),
                read_resource_rollup,
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
            merged.bucket_start,
            merged.bucket_secs,
            int(merged.samples),
            int(merged.rss_sum),
            int(merged.rss_min),
            int(merged.rss_max),
            int(merged.cpu_micros),
            merged.virtual_max.map(int),
            merged.threads_max.map(int),
            merged.fds_max.map(int),
        ))?;
    }
    Ok(())
}
