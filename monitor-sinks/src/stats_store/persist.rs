//! [`PersistentStats`]: batching, retry and back-off around [`StatsStore`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    AlertHistoryRow, EpisodeRow, EpisodeWrite, FoldedBefore, ResourceRollupRow, RollupRetention,
    RollupRow, SaveStamp, StatsStore, StoreError, StoreErrorKind, StoreOptions,
    StoredFunctionStats,
};

/// The file name of the statistics database inside the log directory.
pub const STATS_FILE_NAME: &str = "stats.db";

/// Options of [`PersistentStats`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistOptions {
    /// The database file, normally `<log_dir>/stats.db`.
    pub path: PathBuf,
    /// Save pending rows at most this often. Default: 500 ms.
    pub save_interval: Duration,
    /// Save early once this many distinct rows are pending. Default: 10 000.
    pub max_pending: usize,
    /// Wait this long after the first failure before retrying; the wait
    /// doubles after each further failure. Default: 250 ms.
    pub initial_backoff: Duration,
    /// The longest wait between retries. Default: 30 s.
    pub max_backoff: Duration,
    /// How long one SQLite call waits for another connection's lock.
    /// Default: 200 ms.
    pub busy_timeout: Duration,
    /// How long roll-up rows are kept; `None` keeps every row. Default: the
    /// [`RollupRetention`] defaults (minute rows 7 days, hour rows 90 days).
    pub retention: Option<RollupRetention>,
    /// Roll-up rows deleted at most per [`PersistentStats::fold`] call (one
    /// short transaction). Default: 200.
    pub fold_batch: usize,
}

impl PersistOptions {
    /// Default options for the database file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PersistOptions {
            path: path.into(),
            save_interval: Duration::from_millis(500),
            max_pending: 10_000,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            busy_timeout: StoreOptions::default().busy_timeout,
            retention: Some(RollupRetention::default()),
            fold_batch: 200,
        }
    }

    /// Default options for `<log_dir>/stats.db`.
    pub fn in_log_dir(log_dir: impl AsRef<Path>) -> Self {
        Self::new(log_dir.as_ref().join(STATS_FILE_NAME))
    }
}

/// What a save attempt of [`PersistentStats`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum PersistEvent {
    /// The pending rows were committed.
    Saved {
        /// How many rows were written.
        rows: usize,
    },
    /// Opening, loading or saving failed; the pending rows are kept and the
    /// next attempt waits for the back-off.
    Failed {
        /// The error, as a complete sentence.
        error: String,
        /// True for the first failure of a failure episode (alert once),
        /// false for the retries that follow. A failure of
        /// [`PersistentStats::open`] starts an episode without an event (see
        /// [`PersistentStats::health`]), so the retries after it report false.
        first_in_episode: bool,
    },
    /// The first successful save after failures: the episode is over.
    Recovered {
        /// How many rows were written.
        rows: usize,
    },
    /// The database could not be opened by [`PersistentStats::open`] and has
    /// now become available: these are the rows stored in it, which the
    /// caller never saw. This event also ends the failure episode (it is the
    /// recovery of the failed open).
    ///
    /// **Contract:** the caller must merge these rows into its in-memory
    /// statistics (stored totals + what was counted since start, histograms
    /// merged) and [`stage`](PersistentStats::stage) the merged rows.
    /// Pending rows whose names appear here were staged from incomplete
    /// totals and have been discarded, so that stored counts are never
    /// overwritten by smaller ones; pending rows of other functions are kept
    /// and saved by a later call.
    LateLoad(Vec<StoredFunctionStats>),
    /// The database file was deleted or replaced since it was opened (its
    /// directory removed, the file moved away): the path no longer names the
    /// file the connection writes. The connection is closed; the next save
    /// creates the file again (and its directory), so nothing is lost as
    /// long as the caller hands every row over again.
    ///
    /// **Contract:** the caller must [`stage`](PersistentStats::stage) the
    /// row of *every* function it holds, not only the changed ones, then
    /// save ([`save_now`](PersistentStats::save_now) recreates the file at
    /// once). Rows already pending are kept. If the file cannot be created,
    /// that save fails like any other (a failure episode: alert on it) and
    /// is retried with back-off.
    Lost {
        /// What happened to the file, as a sentence fragment
        /// ("was deleted or replaced").
        reason: String,
    },
}

/// The state of persistence, for health endpoints and alerts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreHealth {
    /// The last attempt (open, load or save) failed and no success followed.
    pub failing: bool,
    /// The most recent error, kept after recovery for diagnosis.
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Rows waiting to be saved.
    pub pending_rows: usize,
    /// Where a corrupt database was moved by the most recent open that found
    /// one (never deleted).
    pub moved_aside: Option<PathBuf>,
}

/// The persistence side of the collector thread: keeps the latest row of
/// every changed function in memory and writes them to the [`StatsStore`]
/// in batches, with exponential back-off while the database is unavailable.
///
/// Time is passed in by the caller (`now`), so that the policy is
/// deterministic and testable. Nothing here panics or blocks for longer than
/// the busy timeout per SQLite call; a failing database only delays saving,
/// rows stay pending in memory (at most one per function) until a save
/// commits.
#[derive(Debug)]
pub struct PersistentStats {
    options: PersistOptions,
    store: Option<StatsStore>,
    /// Latest row per function not yet committed; `index` maps names to
    /// positions, so that staging is a hash lookup and saving needs no copy.
    pending: Vec<StoredFunctionStats>,
    index: HashMap<String, usize>,
    /// Roll-up rows (executions per function and minute) not yet committed:
    /// deltas, merged into the stored rows by the next save.
    rollups: Vec<RollupRow>,
    rollup_index: HashMap<(String, i64), usize>,
    /// Resource roll-up rows (samples per minute) not yet committed: deltas.
    resources: Vec<ResourceRollupRow>,
    /// The retention's boundaries (minute rows, hour rows) the latest fold
    /// finished with nothing left before them: no fold until they move.
    folded: Option<FoldedBefore>,
    /// Notifications and episode changes not yet committed, in order.
    alert_history: Vec<AlertHistoryRow>,
    episodes: Vec<EpisodeWrite>,
    /// `PRAGMA data_version` at the latest look for acknowledgements made
    /// by another process.
    ack_version: Option<i64>,
    /// This store's run and its committed saves, written with every save
    /// (see [`SaveStamp`]).
    stamp: SaveStamp,
    /// The open at start failed: the stored rows must be handed to the caller
    /// before anything is saved over them.
    late_load_due: bool,
    last_attempt: Instant,
    retry_at: Option<Instant>,
    next_backoff: Duration,
    failing: bool,
    consecutive_failures: u32,
    last_error: Option<String>,
    moved_aside: Option<PathBuf>,
    /// Device and inode of the file the open connection writes (unix), to
    /// notice the file being deleted or replaced underneath it.
    file_id: Option<(u64, u64)>,
}

/// Device and inode of the file at `path`, if it can be read (unix only).
fn file_id(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
    let metadata = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(Some((metadata.dev(), metadata.ino())))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        Ok(None)
    }
}

impl PersistentStats {
    /// Opens the database and loads the stored rows.
    ///
    /// Never fails: if the database cannot be opened or read (locked,
    /// read-only, corrupt and impossible to move aside, newer schema, …), the
    /// loaded rows are empty, [`health`](Self::health) reports the failure
    /// (this starts a failure episode: alert from it), staged rows are kept in
    /// memory, and opening is retried with back-off by later
    /// [`maybe_save`](Self::maybe_save) calls. When it succeeds, the stored
    /// rows arrive as [`PersistEvent::LateLoad`] and must be merged by the
    /// caller; nothing is saved before that, so stored counts are not
    /// overwritten by the counts since start.
    pub fn open(options: PersistOptions, now: Instant) -> (Self, Vec<StoredFunctionStats>) {
        let initial_backoff = options.initial_backoff.min(options.max_backoff);
        let mut me = PersistentStats {
            options,
            store: None,
            pending: Vec::new(),
            index: HashMap::new(),
            rollups: Vec::new(),
            rollup_index: HashMap::new(),
            resources: Vec::new(),
            folded: None,
            alert_history: Vec::new(),
            episodes: Vec::new(),
            ack_version: None,
            stamp: SaveStamp {
                run: random_run(),
                saves: 0,
            },
            late_load_due: true,
            last_attempt: now,
            retry_at: None,
            next_backoff: initial_backoff,
            failing: false,
            consecutive_failures: 0,
            last_error: None,
            moved_aside: None,
            file_id: None,
        };
        match me.connect() {
            Ok(rows) => {
                me.late_load_due = false;
                (me, rows)
            }
            Err(err) => {
                me.record_failure(now, err);
                (me, Vec::new())
            }
        }
    }

    /// Stages the latest absolute values of one function, replacing a pending
    /// row of the same name (the latest wins). Cheap: one hash lookup, no I/O.
    pub fn stage(&mut self, row: StoredFunctionStats) {
        match self.index.get(&row.name) {
            Some(&i) => self.pending[i] = row,
            None => {
                self.index.insert(row.name.clone(), self.pending.len());
                self.pending.push(row);
            }
        }
    }

    /// The number of rows waiting to be saved.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Stages the executions of one function in one minute that are not
    /// saved yet (a delta: `row.bucket_secs` must be 60). Added to a pending
    /// row of the same function and minute; the save adds it to the stored
    /// rows, so a minute saved before (a late execution, a clock stepped
    /// back, a restart) is merged, never overwritten. Kept across failed
    /// saves, a late load and a lost file.
    pub fn stage_rollup(&mut self, row: RollupRow) {
        match self.rollup_index.get(&(row.name.clone(), row.bucket_start)) {
            Some(&i) => self.rollups[i].merge(&row),
            None => {
                self.rollup_index
                    .insert((row.name.clone(), row.bucket_start), self.rollups.len());
                self.rollups.push(row);
            }
        }
    }

    /// Stages a resource roll-up delta (the samples of one minute) for the
    /// next save, merged with one already staged for the same minute.
    ///
    /// ```
    /// use std::time::Instant;
    /// use monitor_sinks::stats_store::{PersistOptions, PersistentStats, ResourceRollupRow};
    ///
    /// let dir = std::env::temp_dir().join(format!("stage-resources-doc-{}", std::process::id()));
    /// let (mut stats, _) = PersistentStats::open(PersistOptions::in_log_dir(&dir), Instant::now());
    /// let mut row = ResourceRollupRow::new(600, 60);
    /// row.add_sample(10, 0, None, None, None);
    /// stats.stage_resource_rollup(row.clone());
    /// stats.stage_resource_rollup(row);
    /// assert_eq!(stats.pending_resource_rollups()[0].samples, 2);
    /// stats.save_now(Instant::now());
    /// assert!(stats.pending_resource_rollups().is_empty());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn stage_resource_rollup(&mut self, row: ResourceRollupRow) {
        match self
            .resources
            .iter_mut()
            .rev()
            .find(|r| r.bucket_secs == row.bucket_secs && r.bucket_start == row.bucket_start)
        {
            Some(existing) => existing.merge(&row),
            None => self.resources.push(row),
        }
    }

    /// The resource roll-up deltas staged and not committed yet.
    pub fn pending_resource_rollups(&self) -> &[ResourceRollupRow] {
        &self.resources
    }

    /// Deletes one batch (at most [`PersistOptions::fold_batch`] rows, one
    /// short transaction) of the roll-up rows older than
    /// [`PersistOptions::retention`] keeps as of `now` (Unix seconds, by the
    /// caller's clock). Does nothing while the database is unavailable, or
    /// when the previous call left nothing to delete and the boundaries have
    /// not moved since (they move once an hour for minute rows). Returns the
    /// rows deleted; an error is returned, not recorded: the next call
    /// tries again.
    pub fn fold(&mut self, now: i64) -> Result<usize, StoreError> {
        let Some(retention) = self.options.retention else {
            return Ok(0);
        };
        let cutoffs = retention.cutoffs(now);
        if self.failing || self.folded == Some(cutoffs) {
            return Ok(0);
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(0);
        };
        let progress = store.fold_batch(&retention, now, self.options.fold_batch.max(1))?;
        if !progress.more {
            self.folded = Some(cutoffs);
        }
        Ok(progress.deleted)
    }

    /// Stages one alert notification for `alert_history` (kept across failed
    /// saves, like every staged row).
    pub fn stage_alert(&mut self, row: AlertHistoryRow) {
        self.alert_history.push(row);
    }

    /// Stages a change to `alert_episodes`.
    pub fn stage_episode(&mut self, write: EpisodeWrite) {
        self.episodes.push(write);
    }

    /// The notifications staged and not saved yet, oldest first.
    pub fn pending_alerts(&self) -> &[AlertHistoryRow] {
        &self.alert_history
    }

    /// The episodes that had not resolved when the store was opened, and
    /// the highest episode id; empty while the database is unavailable.
    pub fn open_episodes(&self) -> (Vec<EpisodeRow>, i64) {
        self.store
            .as_ref()
            .and_then(|store| store.open_episodes().ok())
            .unwrap_or_default()
    }

    /// The open episodes acknowledged in the file, when another process
    /// (`monitor ack`) committed anything since the previous call: one
    /// `PRAGMA data_version` when nothing changed. `None` when nothing
    /// changed or the database is unavailable (a failure shows up at the
    /// next save).
    pub fn acknowledged_elsewhere(&mut self) -> Option<Vec<EpisodeRow>> {
        let store = self.store.as_mut()?;
        store
            .acknowledged_elsewhere(&mut self.ack_version)
            .ok()
            .flatten()
    }

    /// The roll-up deltas staged and not saved yet.
    pub fn pending_rollups(&self) -> &[RollupRow] {
        &self.rollups
    }

    /// This store's run and the number of saves it committed: the stamp the
    /// file holds once every save so far is in it.
    pub fn stamp(&self) -> SaveStamp {
        self.stamp
    }

    /// Saves the pending rows if a save is due and no back-off is running.
    ///
    /// A save is due when rows are pending and either `save_interval` has
    /// passed since the last attempt, at least `max_pending` rows are pending,
    /// or the previous attempt failed (retry as soon as the back-off ends).
    /// While the database is not open, reopening is retried whenever the
    /// back-off has ended, even with nothing pending, so that a
    /// [`PersistEvent::LateLoad`] arrives as early as possible.
    ///
    /// Returns `None` when nothing was attempted.
    pub fn maybe_save(&mut self, now: Instant) -> Option<PersistEvent> {
        if self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        if let Some(event) = self.check_file() {
            return Some(event);
        }
        if let Some(event) = self.ensure_ready(now) {
            return Some(event);
        }
        if self.nothing_pending() {
            return None;
        }
        let due = self.failing
            || self.pending.len() + self.rollups.len() + self.resources.len()
                >= self.options.max_pending
            || now.saturating_duration_since(self.last_attempt) >= self.options.save_interval;
        if !due {
            return None;
        }
        Some(self.attempt_save(now))
    }

    /// Saves the pending rows now, ignoring the save interval and any running
    /// back-off (for flush and shutdown). A failure is recorded like any other
    /// (and extends the back-off).
    ///
    /// If the database was unavailable at start and opens now, this returns
    /// [`PersistEvent::LateLoad`] without saving: merge, stage and call
    /// `save_now` again. Returns `None` when there was nothing to do.
    pub fn save_now(&mut self, now: Instant) -> Option<PersistEvent> {
        if let Some(event) = self.check_file() {
            return Some(event);
        }
        if let Some(event) = self.ensure_ready(now) {
            return Some(event);
        }
        if self.nothing_pending() {
            return None;
        }
        Some(self.attempt_save(now))
    }

    fn nothing_pending(&self) -> bool {
        self.pending.is_empty()
            && self.rollups.is_empty()
            && self.resources.is_empty()
            && self.alert_history.is_empty()
            && self.episodes.is_empty()
    }

    /// The current state of persistence.
    pub fn health(&self) -> StoreHealth {
        StoreHealth {
            failing: self.failing,
            last_error: self.last_error.clone(),
            consecutive_failures: self.consecutive_failures,
            pending_rows: self.pending.len(),
            moved_aside: self.moved_aside.clone(),
        }
    }

    /// The options this was opened with.
    pub fn options(&self) -> &PersistOptions {
        &self.options
    }

    /// [`PersistEvent::Lost`] if the path no longer names the file the open
    /// connection writes (one `stat`); the connection is then closed.
    fn check_file(&mut self) -> Option<PersistEvent> {
        let opened = self.file_id?;
        self.store.as_ref()?;
        let reason = match file_id(&self.options.path) {
            Ok(Some(now)) if now == opened => return None,
            Ok(None) => return None,
            Ok(Some(_)) => "was replaced by another file",
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => "was deleted",
            Err(_) => "can no longer be found",
        };
        self.store = None;
        self.file_id = None;
        Some(PersistEvent::Lost {
            reason: reason.to_owned(),
        })
    }

    /// Opens the store if needed (creating its directory when missing) and,
    /// if a late load is due, loads the rows.
    fn connect(&mut self) -> Result<Vec<StoredFunctionStats>, StoreError> {
        if self.store.is_none() {
            if let Some(dir) = self.options.path.parent() {
                if !dir.as_os_str().is_empty() && !dir.exists() {
                    // A failure shows up when opening, just below.
                    let _ = std::fs::create_dir_all(dir);
                }
            }
            let store = StatsStore::open_with(
                &self.options.path,
                &StoreOptions {
                    busy_timeout: self.options.busy_timeout,
                },
            )?;
            if let Some(aside) = &store.report().moved_aside {
                self.moved_aside = Some(aside.clone());
            }
            self.file_id = file_id(&self.options.path).ok().flatten();
            self.store = Some(store);
        }
        match (&self.store, self.late_load_due) {
            (Some(store), true) => store.load_all(),
            _ => Ok(Vec::new()),
        }
    }

    /// Makes sure the store is open and the late load done. Returns the event
    /// to report if that took an attempt that ended the call (a failure, or
    /// a late load); `None` when the store is ready to save.
    fn ensure_ready(&mut self, now: Instant) -> Option<PersistEvent> {
        if self.store.is_some() && !self.late_load_due {
            return None;
        }
        self.last_attempt = now;
        match self.connect() {
            Err(err) => Some(self.record_failure(now, err)),
            Ok(rows) if self.late_load_due => {
                self.late_load_due = false;
                let stored: HashSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
                if self
                    .pending
                    .iter()
                    .any(|r| stored.contains(r.name.as_str()))
                {
                    self.pending.retain(|r| !stored.contains(r.name.as_str()));
                    self.reindex();
                }
                self.record_success();
                Some(PersistEvent::LateLoad(rows))
            }
            // Reopened (e.g. after a corrupt file was moved aside): go on and
            // save in the same call.
            Ok(_) => None,
        }
    }

    fn attempt_save(&mut self, now: Instant) -> PersistEvent {
        self.last_attempt = now;
        let Some(store) = self.store.as_mut() else {
            // Unreachable: callers run `ensure_ready` first. Report instead of
            // panicking.
            return self.record_failure(
                now,
                StoreError::new(
                    StoreErrorKind::Other,
                    format!("saving to {}", self.options.path.display()),
                    "the database is not open",
                ),
            );
        };
        let stamp = SaveStamp {
            saves: self.stamp.saves + 1,
            ..self.stamp
        };
        match store.save_all(
            &self.pending,
            &self.rollups,
            &self.resources,
            Some(stamp),
            &self.alert_history,
            &self.episodes,
        ) {
            Ok(()) => {
                let rows = self.pending.len();
                self.pending.clear();
                self.alert_history.clear();
                self.episodes.clear();
                self.index.clear();
                self.rollups.clear();
                self.rollup_index.clear();
                self.resources.clear();
                self.stamp = stamp;
                let recovered = self.failing;
                self.record_success();
                if recovered {
                    PersistEvent::Recovered { rows }
                } else {
                    PersistEvent::Saved { rows }
                }
            }
            Err(err) => self.record_failure(now, err),
        }
    }

    fn record_success(&mut self) {
        self.failing = false;
        self.consecutive_failures = 0;
        self.retry_at = None;
        self.next_backoff = self.options.initial_backoff.min(self.options.max_backoff);
    }

    fn record_failure(&mut self, now: Instant, err: StoreError) -> PersistEvent {
        if err.kind() == StoreErrorKind::Corrupt {
            // Reopen next time: opening moves a corrupt file aside.
            self.store = None;
        }
        let first_in_episode = !self.failing;
        self.failing = true;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.retry_at = Some(now.checked_add(self.next_backoff).unwrap_or(now));
        self.next_backoff = self
            .next_backoff
            .saturating_mul(2)
            .min(self.options.max_backoff);
        let error = err.to_string();
        self.last_error = Some(error.clone());
        PersistEvent::Failed {
            error,
            first_in_episode,
        }
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, row) in self.pending.iter().enumerate() {
            self.index.insert(row.name.clone(), i);
        }
    }
}

/// A random number for [`SaveStamp::run`] (the standard library's hasher
/// keys are random per process; the time and a counter tell opens apart).
fn random_run() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static OPENS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(OPENS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish() as i64
}
