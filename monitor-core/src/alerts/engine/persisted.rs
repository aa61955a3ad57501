//! The alert state of one function as kept in the stats store (the
//! `alert_state` column of `function_stats`, JSON), so that a restart neither
//! notifies again what was already notified nor misdates what fires.
//!
//! ```json
//! {"streak_start":"2026-12-04T16:16:18.000000Z","peak_streak":6,
//!  "rules":{"consecutive_failures":{"state":"firing","since":"2026-12-04T16:16:18.000000Z",
//!           "held_since":null,"last_notice":"2026-12-04T16:16:19.250000Z","announced":true}},
//!  "last_slow":null,"new_patterns":[{"time":"…","description":"E: boom","announced":true}],
//!  "unlisted_patterns":0,"new_patterns_in_episode":1,
//!  "window":{"bucket_nanos":15000000000,"buckets":[[118…,6,6,0,0]]}}
//! ```
//!
//! Kept: where the current run of failures started, each rule's state
//! (`inactive` with only its latest firing notice, `pending`, `firing`), when
//! it last notified, the recent new error patterns, the latest slow
//! execution, and the sliding window's buckets (so the counts a notice gives
//! continue too). Not kept: the monitor's own rules (drops, sinks, restarts,
//! queues, notifiers), which are about the running process. A value that
//! does not parse is ignored: the function's rules start from scratch.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::per_rule::FunctionRule;
use super::{FunctionAlerts, NewPattern};
use crate::alerts::state::{RuleState, StoredRuleState};
use crate::alerts::stored_time;
use crate::alerts::window::StoredWindow;
use crate::execution_id::ExecutionId;

/// The largest pattern count taken up from a stored state: far beyond what a
/// run can produce, far below what adding to it could overflow.
const STORED_COUNT_LIMIT: u64 = u32::MAX as u64;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct StoredAlerts {
    #[serde(default, with = "stored_time::option")]
    streak_start: Option<SystemTime>,
    #[serde(default)]
    peak_streak: u64,
    /// By rule name (`consecutive_failures`, …); rules with nothing to keep
    /// are left out.
    #[serde(default)]
    rules: BTreeMap<String, StoredRuleState>,
    #[serde(default)]
    last_slow: Option<StoredSlow>,
    #[serde(default)]
    new_patterns: Vec<StoredPattern>,
    #[serde(default)]
    unlisted_patterns: u64,
    #[serde(default)]
    new_patterns_in_episode: u64,
    #[serde(default)]
    window: Option<StoredWindow>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredSlow {
    #[serde(with = "stored_time")]
    time: SystemTime,
    nanos: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<ExecutionId>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredPattern {
    #[serde(with = "stored_time")]
    time: SystemTime,
    description: String,
    announced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<ExecutionId>,
}

impl FunctionAlerts {
    /// What the stats store keeps of this function's alert state.
    pub(super) fn to_stored(&self) -> StoredAlerts {
        StoredAlerts {
            streak_start: self.streak_start,
            peak_streak: self.peak_streak,
            rules: self
                .states
                .iter()
                // About executions of this process: never carried over.
                .filter(|(rule, _)| *rule != FunctionRule::StuckExecution)
                .filter_map(|(rule, state)| {
                    Some((rule.rule().as_str().to_owned(), state.to_stored()?))
                })
                .collect(),
            last_slow: self.last_slow.map(|(time, duration)| StoredSlow {
                time,
                nanos: duration.as_nanos().min(u128::from(u64::MAX)) as u64,
                id: self.last_slow_id,
            }),
            new_patterns: self
                .new_patterns
                .iter()
                .map(|pattern| StoredPattern {
                    time: pattern.time,
                    description: pattern.description.clone(),
                    announced: pattern.announced,
                    id: pattern.id,
                })
                .collect(),
            unlisted_patterns: self.unlisted_patterns,
            new_patterns_in_episode: self.new_patterns_in_episode,
            window: Some(self.window.to_stored()),
        }
    }

    /// Takes up the state an earlier run stored (on a fresh state).
    pub(super) fn restore(&mut self, stored: StoredAlerts) {
        self.streak_start = stored.streak_start;
        self.peak_streak = stored.peak_streak;
        for rule in FunctionRule::ALL {
            if rule == FunctionRule::StuckExecution {
                continue;
            }
            if let Some(state) = stored.rules.get(rule.rule().as_str()) {
                *self.states.get_mut(rule) = RuleState::from_stored(state);
            }
        }
        self.last_slow_id = stored.last_slow.as_ref().and_then(|slow| slow.id);
        self.last_slow = stored
            .last_slow
            .map(|slow| (slow.time, Duration::from_nanos(slow.nanos)));
        let mut patterns: Vec<NewPattern> = stored
            .new_patterns
            .into_iter()
            .map(|pattern| NewPattern {
                time: pattern.time,
                description: pattern.description,
                announced: pattern.announced,
                id: pattern.id,
            })
            .collect();
        patterns.sort_by_key(|pattern| pattern.time);
        let excess = patterns.len().saturating_sub(super::NEW_PATTERNS_KEPT);
        self.new_patterns = patterns.into_iter().skip(excess).collect();
        // Counters from a value edited by hand or written by a broken run
        // are bounded, so this run's additions to them cannot overflow.
        self.unlisted_patterns = stored.unlisted_patterns.min(STORED_COUNT_LIMIT);
        self.new_patterns_in_episode = stored.new_patterns_in_episode.min(STORED_COUNT_LIMIT);
        if let Some(window) = &stored.window {
            self.window.restore(window);
        }
    }
}

/// The stored text of a function's alert state.
pub(super) fn to_text(state: &FunctionAlerts) -> Option<String> {
    crate::json::to_string(&state.to_stored()).ok()
}

/// The alert state stored in `text`; `None` (start from scratch) when it
/// does not parse.
pub(super) fn from_text(text: &str) -> Option<StoredAlerts> {
    crate::json::from_str(text).ok()
}
