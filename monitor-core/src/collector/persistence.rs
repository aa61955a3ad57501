//! The collector's side of the SQLite stats store: stage changed functions,
//! save in batches, report failures once per episode, merge rows that could
//! only be loaded late.

use std::time::{Instant, SystemTime};

use std::sync::Arc;

use monitor_sinks::stats_store::{
    PersistEvent, PersistOptions, PersistentStats, ResourceRollupRow, RollupRow, StoreHealth,
};

use super::Unsaved;

use crate::stats::FunctionRecord;

pub(crate) struct Persistence {
    stats: PersistentStats,
}

impl Persistence {
    /// Opens the store; returns the statistics it holds (none if it is
    /// unavailable now: they arrive later through [`Persistence::save`]).
    pub(crate) fn open(options: PersistOptions) -> (Self, Vec<FunctionRecord>) {
        let path = options.path.clone();
        let (stats, rows) = PersistentStats::open(options, Instant::now());
        let health = stats.health();
        if let Some(error) = &health.last_error {
            eprintln!(
                "monitor: statistics database {} is unavailable ({error}); keeping statistics in memory and retrying",
                path.display()
            );
        }
        if let Some(moved) = &health.moved_aside {
            eprintln!(
                "monitor: statistics database {} was corrupt; moved aside to {} and started a new one",
                path.display(),
                moved.display()
            );
        }
        let records = rows.iter().map(FunctionRecord::from_stored).collect();
        (Persistence { stats }, records)
    }

    /// Hands every changed function to the store, stamped as updated at
    /// `now` (the monitor's clock).
    pub(crate) fn stage_dirty(&mut self, functions: &mut [FunctionRecord], now: SystemTime) {
        for function in functions.iter_mut().filter(|f| f.dirty) {
            function.dirty = false;
            self.stats.stage(function.to_stored(now));
        }
    }

    /// Saves when due (or now, when `force`); returns statistics the store
    /// could only load now, which the caller must add to its own.
    ///
    /// If the database file was deleted or replaced (its directory removed,
    /// say), every function in `functions` is staged again and saved at once
    /// into a new file: what the file held is all in memory, so nothing is
    /// lost. If the new file cannot be created, the store reports failing
    /// (the `sink_failing` alert) and retries with back-off.
    pub(crate) fn save(
        &mut self,
        functions: &mut [FunctionRecord],
        force: bool,
        wall_now: SystemTime,
    ) -> Vec<FunctionRecord> {
        let now = Instant::now();
        let mut event = if force {
            self.stats.save_now(now)
        } else {
            self.stats.maybe_save(now)
        };
        let mut recreating = false;
        if let Some(PersistEvent::Lost { reason }) = &event {
            eprintln!(
                "monitor: statistics database {} {reason}; recreating it from the statistics in memory",
                self.stats.options().path.display()
            );
            for function in functions.iter_mut() {
                function.dirty = true;
            }
            self.stage_dirty(functions, wall_now);
            recreating = true;
            event = self.stats.save_now(now);
        }
        match event {
            Some(PersistEvent::LateLoad(rows)) => {
                eprintln!("monitor: statistics database is available again; merging its stored statistics");
                rows.iter().map(FunctionRecord::from_stored).collect()
            }
            Some(PersistEvent::Failed {
                error,
                first_in_episode: true,
            }) => {
                eprintln!(
                    "monitor: cannot save statistics to {} ({error}); keeping them in memory and retrying",
                    self.stats.options().path.display()
                );
                Vec::new()
            }
            Some(PersistEvent::Saved { rows }) if recreating => {
                eprintln!(
                    "monitor: statistics database {} recreated with {rows} functions",
                    self.stats.options().path.display()
                );
                Vec::new()
            }
            Some(PersistEvent::Recovered { rows }) => {
                eprintln!("monitor: statistics database recovered; {rows} pending rows saved");
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Hands notifications and episode changes to the store, for the next save.
    pub(crate) fn stage_alerts(
        &mut self,
        history: Vec<monitor_sinks::stats_store::AlertHistoryRow>,
        episodes: Vec<monitor_sinks::stats_store::EpisodeWrite>,
    ) {
        for row in history {
            self.stats.stage_alert(row);
        }
        for write in episodes {
            self.stats.stage_episode(write);
        }
    }

    /// The notifications staged and not saved yet.
    pub(crate) fn pending_alerts(&self) -> &[monitor_sinks::stats_store::AlertHistoryRow] {
        self.stats.pending_alerts()
    }

    /// The open episodes the store held at open, and its highest episode id.
    pub(crate) fn open_episodes(&self) -> (Vec<monitor_sinks::stats_store::EpisodeRow>, i64) {
        self.stats.open_episodes()
    }

    /// Acknowledgements another process committed since the previous look.
    pub(crate) fn acknowledged_elsewhere(
        &mut self,
    ) -> Option<Vec<monitor_sinks::stats_store::EpisodeRow>> {
        self.stats.acknowledged_elsewhere()
    }

    /// Hands roll-up deltas (minute rows) to the store, for the next save.
    pub(crate) fn stage_rollups(&mut self, rows: Vec<RollupRow>) {
        for row in rows {
            self.stats.stage_rollup(row);
        }
    }

    /// Hands resource roll-up deltas (minute rows) to the store, for the
    /// next save.
    pub(crate) fn stage_resource_rollups(&mut self, rows: Vec<ResourceRollupRow>) {
        for row in rows {
            self.stats.stage_resource_rollup(row);
        }
    }

    /// One batch of the roll-ups' retention (see
    /// [`PersistentStats::fold`]) as of `now`. A failure is left for the
    /// next call to retry: folding late loses nothing, and a database that
    /// cannot be written is reported by the saves.
    pub(crate) fn fold(&mut self, now: SystemTime) {
        let secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let _ = self.stats.fold(secs);
    }

    /// The roll-ups staged and not saved yet, with the store's stamp.
    pub(crate) fn unsaved(&self) -> Arc<Unsaved> {
        Unsaved::new(
            self.stats.pending_rollups().to_vec(),
            Some(self.stats.stamp()),
        )
    }

    /// The store's run and committed saves.
    pub(crate) fn stamp(&self) -> monitor_sinks::stats_store::SaveStamp {
        self.stats.stamp()
    }

    /// The database file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.stats.options().path
    }

    pub(crate) fn health(&self) -> StoreHealth {
        self.stats.health()
    }
}
