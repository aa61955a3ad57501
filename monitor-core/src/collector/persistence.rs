//! The collector's side of the SQLite stats store: stage changed functions,
//! save in batches, report failures once per episode, merge rows that could
//! only be loaded late.

use std::time::Instant;

use monitor_sinks::stats_store::{PersistEvent, PersistOptions, PersistentStats, StoreHealth};

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

    /// Hands every changed function to the store.
    pub(crate) fn stage_dirty(&mut self, functions: &mut [FunctionRecord]) {
        for function in functions.iter_mut().filter(|f| f.dirty) {
            function.dirty = false;
            self.stats.stage(function.to_stored());
        }
    }

    /// Saves when due (or now, when `force`); returns statistics the store
    /// could only load now, which the caller must add to its own.
    pub(crate) fn save(&mut self, force: bool) -> Vec<FunctionRecord> {
        let now = Instant::now();
        let event = if force {
            self.stats.save_now(now)
        } else {
            self.stats.maybe_save(now)
        };
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
            Some(PersistEvent::Recovered { rows }) => {
                eprintln!("monitor: statistics database recovered; {rows} pending rows saved");
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn health(&self) -> StoreHealth {
        self.stats.health()
    }
}
