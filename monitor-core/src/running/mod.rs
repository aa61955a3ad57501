//! What is running now: every execution that has started and not finished.
//!
//! * [`stack`] — sync executions, published by each thread in a fixed
//!   per-thread array of slots (no lock, no allocation on the caller).
//! * [`open`] — async executions (from their first `Pending`), one heap
//!   entry each.
//! * `tracing` spans recorded as executions (from creation): the layer's own
//!   table of span states (`layer/states.rs`), read in place; a span's
//!   state names the thread that started it through that thread's stack
//!   ([`stack::SpanThread`]).
//! * [`Sampler`] — the collector's reader: it takes both, gives each entry
//!   the wall time it started (the first time it sees it, from the entry's
//!   age in ticks) and, with the collector's id clock, the id its finished
//!   line will carry.
//!
//! The host reads the result through [`running`](crate::running).

pub(crate) mod open;
pub(crate) mod stack;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::callsite::Callsite;
use crate::execution_id::ExecutionId;
use crate::local_id::LocalId;
use crate::timestamp::Timestamp;

/// One execution that has started and not finished yet, as
/// [`running`](crate::running) lists it.
///
/// ```
/// // Without an installed monitor nothing is recorded, so nothing runs.
/// assert!(monitor_core::running().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunningExecution {
    /// The id its finished line will carry (unless the wall clock jumps by
    /// more than a second meanwhile; see [`ExecutionId`]).
    pub id: ExecutionId,
    /// The function's name, as in the statistics and logs.
    pub name: String,
    /// The thread that started it, as the logs name it.
    pub thread: String,
    /// When it started (the monitor's clock).
    pub started: Timestamp,
    /// How long it has been running (the monitor's clock).
    pub elapsed: Duration,
    /// Its `stuck_execution` threshold (`#[monitored(stuck_after = "…")]`,
    /// else [`AlertRules::stuck_after`](crate::AlertRules::stuck_after)).
    pub stuck_after: Duration,
    /// Whether it has run longer than `stuck_after`.
    pub stuck: bool,
}

impl Serialize for RunningExecution {
    /// `{"name","id","thread","started","elapsed_ms","stuck_after_ms","stuck"}`,
    /// as `status.json` and `/api/running` write it.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("RunningExecution", 7)?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("id", &self.id)?;
        out.serialize_field("thread", &self.thread)?;
        out.serialize_field("started", &self.started)?;
        out.serialize_field("elapsed_ms", &millis(self.elapsed))?;
        out.serialize_field("stuck_after_ms", &millis(self.stuck_after))?;
        out.serialize_field("stuck", &self.stuck)?;
        out.end()
    }
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e3 * 1e3).round() / 1e3
}

/// One open execution as read from the registry.
pub(crate) struct Open {
    pub(crate) callsite: &'static Callsite,
    pub(crate) start_tick: u64,
    pub(crate) local: LocalId,
    pub(crate) thread: Arc<str>,
    /// When it started, by the monitor's clock.
    pub(crate) started: SystemTime,
}

/// What one sample found.
pub(crate) struct Sample {
    /// Oldest first.
    pub(crate) open: Vec<Open>,
    /// Open executions nested too deep on their thread to be listed.
    pub(crate) unlisted: u64,
}

/// The collector's reader of the registry.
#[derive(Default)]
pub(crate) struct Sampler {
    /// Start wall time of each execution seen open, by (thread, sequence,
    /// start tick): taken the first time it is seen (from the id clock's
    /// anchor, as its id's time), then kept, so an injected clock moved
    /// forward makes it older, and a later move of the anchor does not make
    /// it younger.
    first_seen: HashMap<(u16, u32, u64), SystemTime>,
}

impl Sampler {
    /// Everything open now, oldest first; `wall_of` gives the wall time of
    /// a start tick.
    pub(crate) fn sample(&mut self, wall_of: impl Fn(u64) -> SystemTime) -> Sample {
        let mut raw: Vec<(&'static Callsite, u64, LocalId, Arc<str>)> = Vec::new();
        let (unlisted, mut threads) = stack::sample(|callsite, start, id, thread| {
            raw.push((callsite, start, id, Arc::clone(thread)));
        });
        crate::layer::sample_running(|callsite, start, id, thread| {
            raw.push((callsite, start, id, threads.thread_name(thread)));
        });
        threads.end();
        open::sample(|callsite, start, id, thread| {
            raw.push((callsite, start, id, Arc::clone(thread)));
        });
        let mut first_seen = HashMap::with_capacity(raw.len());
        let mut open: Vec<Open> = raw
            .into_iter()
            .map(|(callsite, start_tick, local, thread)| {
                let key = (local.thread, local.sequence, start_tick);
                let started = self
                    .first_seen
                    .get(&key)
                    .copied()
                    .unwrap_or_else(|| wall_of(start_tick));
                first_seen.insert(key, started);
                Open {
                    callsite,
                    start_tick,
                    local,
                    thread,
                    started,
                }
            })
            .collect();
        // Only what is still open is remembered.
        self.first_seen = first_seen;
        open.sort_by_key(|entry| (entry.started, entry.start_tick));
        Sample { open, unlisted }
    }
}

/// The id `open` will carry: `ids` as the collector's id clock has it now.
pub(crate) fn id_of(ids: &crate::collector::IdClock, open: &Open) -> ExecutionId {
    ids.peek(open.start_tick, open.local)
}
