//! The persistent per-function statistics store: `<log_dir>/stats.db`.
//!
//! Two layers:
//!
//! * [`StatsStore`] is the SQL layer: open (create, migrate, move a corrupt
//!   file aside), [`load_all`](StatsStore::load_all), and
//!   [`save`](StatsStore::save) of absolute values in one transaction.
//! * [`PersistentStats`] is what the collector thread uses: it keeps the
//!   latest row of every changed function in memory, saves in batches, and
//!   retries with exponential back-off while the database is unavailable,
//!   reporting [`PersistEvent`]s to alert on. Time is injected (`now`).
//!
//! ```no_run
//! use std::time::Instant;
//! use monitor_sinks::stats_store::{PersistEvent, PersistOptions, PersistentStats};
//!
//! let (mut persist, stored) = PersistentStats::open(PersistOptions::in_log_dir("logs"), Instant::now());
//! // ... seed the in-memory statistics from `stored`; if
//! // `persist.health().failing`, alert: the database is unavailable.
//! # let changed_rows = Vec::new();
//! for row in changed_rows {
//!     persist.stage(row); // absolute values, latest wins
//! }
//! match persist.maybe_save(Instant::now()) {
//!     Some(PersistEvent::Failed { error, first_in_episode: true }) => eprintln!("stats.db: {error}"),
//!     Some(PersistEvent::LateLoad(stored)) => { /* merge `stored`, then stage the merged rows */ }
//!     _ => {}
//! }
//! ```
//!
#![doc = include_str!("QUERIES.md")]
#![warn(missing_docs)]

mod alert_history;
mod error;
mod persist;
mod resource_rollup;
mod retention;
mod rollup;
mod row;
mod schema;
mod store;

pub use alert_history::{
    acknowledge_episode, read_episode, read_history, read_open_episodes, AckOutcome,
    AlertHistoryRow, EpisodeRow, EpisodeWrite, HistoryFilter,
};
pub use error::{BoxedCause, StoreError, StoreErrorKind};
pub use persist::{PersistEvent, PersistOptions, PersistentStats, StoreHealth, STATS_FILE_NAME};
pub use resource_rollup::ResourceRollupRow;
pub use retention::{FoldProgress, FoldedBefore, RollupRetention};
pub use rollup::{
    NameMatch, RollupRead, RollupReader, RollupRow, SaveStamp, DAY_SECS, HOUR_SECS, MINUTE_SECS,
};
pub use row::StoredFunctionStats;
#[doc(hidden)]
#[cfg(feature = "test-util")]
pub use schema::legacy_schema;
pub use schema::SCHEMA_VERSION;
pub use store::{load_read_only, OpenReport, StatsStore, StoreOptions};
