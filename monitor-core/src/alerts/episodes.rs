//! Firing episodes: the id each start of firing of a (rule, function) pair
//! gets, shared by its reminders and its resolution, and its
//! acknowledgement. Owned by the collector's [`Alerting`](super::Alerting);
//! what changes is handed to the stats store (`alert_history`,
//! `alert_episodes`) with the next save.

use std::collections::HashMap;
use std::time::SystemTime;

use monitor_sinks::stats_store::{AlertHistoryRow, EpisodeRow, EpisodeWrite};

use super::errors::AlertsError;
use super::types::{Acknowledgement, Alert, AlertRule, AlertState};
use crate::timestamp::Timestamp;

/// A (rule, function) pair.
pub(crate) type PairKey = (AlertRule, Option<String>);

#[derive(Debug)]
struct OpenEpisode {
    id: u64,
    ack: Option<Acknowledgement>,
    /// Taken up from the store at start: closed silently if the rules do
    /// not fire for it after the first full evaluation.
    loaded: bool,
}

/// The open episodes and what is to be saved.
#[derive(Debug, Default)]
pub(crate) struct Episodes {
    open: HashMap<PairKey, OpenEpisode>,
    /// The id the next episode gets; every id below it was given out.
    next: u64,
    /// Staged for the store (cleared when taken, or dropped without one).
    history: Vec<AlertHistoryRow>,
    writes: Vec<EpisodeWrite>,
    /// The acknowledgements changed since the engine was last told.
    acks_changed: bool,
}

fn text_time(time: SystemTime) -> String {
    let mut out = String::new();
    monitor_sinks::time::format_rfc3339_micros(time, &mut out);
    out
}

fn parse_time(text: Option<&str>) -> Timestamp {
    Timestamp(
        text.and_then(monitor_sinks::time::parse_rfc3339)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    )
}

/// The acknowledgement a stored episode carries, if any.
pub(crate) fn stored_ack(row: &EpisodeRow) -> Option<Acknowledgement> {
    row.acknowledged_by.as_ref().map(|by| Acknowledgement {
        by: by.clone(),
        note: row.ack_note.clone(),
        at: parse_time(row.acknowledged_at.as_deref()),
    })
}

impl Episodes {
    /// Episodes continue from what the store held: its open episodes (and
    /// their acknowledgements) and its highest id.
    pub(crate) fn new(open: Vec<EpisodeRow>, max_id: i64) -> Self {
        let mut episodes = Episodes {
            next: u64::try_from(max_id).unwrap_or(0) + 1,
            acks_changed: true,
            ..Episodes::default()
        };
        for row in open {
            let Some(rule) = AlertRule::from_name(&row.rule) else {
                continue;
            };
            let Ok(id) = u64::try_from(row.episode) else {
                continue;
            };
            episodes.open.insert(
                (rule, row.function.clone()),
                OpenEpisode {
                    id,
                    ack: stored_ack(&row),
                    loaded: true,
                },
            );
        }
        episodes
    }

    /// Gives `alert` its episode (and acknowledgement), and says whether to
    /// notify it: `false` for a reminder of an acknowledged episode, or its
    /// firing again after a restart.
    pub(crate) fn assign(&mut self, alert: &mut Alert) -> bool {
        let key = (alert.rule, alert.function.clone());
        let time = alert.time.0;
        // An episode taken up from the store that fires again: after a
        // restart the monitor's own rules start afresh, so their first
        // notice is not a reminder but the same episode going on.
        let mut taken_up = false;
        let (id, ack) = match self.open.get_mut(&key) {
            Some(open) => {
                taken_up = std::mem::take(&mut open.loaded);
                (open.id, open.ack.clone())
            }
            None => {
                let id = self.next;
                self.next += 1;
                self.writes.push(EpisodeWrite::Open(EpisodeRow {
                    episode: id as i64,
                    rule: alert.rule.as_str().to_owned(),
                    function: alert.function.clone(),
                    severity: alert.severity.as_str().to_owned(),
                    since: text_time(alert.since.0),
                    fired_at: text_time(time),
                    ..EpisodeRow::default()
                }));
                if alert.state == AlertState::Firing {
                    self.open.insert(
                        key.clone(),
                        OpenEpisode {
                            id,
                            ack: None,
                            loaded: false,
                        },
                    );
                }
                (id, None)
            }
        };
        alert.episode = Some(id);
        alert.acknowledged = ack;
        if alert.state == AlertState::Resolved {
            if self
                .open
                .remove(&key)
                .is_some_and(|open| open.ack.is_some())
            {
                self.acks_changed = true;
            }
            self.writes.push(EpisodeWrite::Resolve {
                episode: id as i64,
                at: text_time(time),
            });
        }
        // An acknowledged episode is not notified until it resolves, except
        // for a new error pattern (every pattern is news).
        let goes_on = alert.reminder
            || (taken_up
                && alert.state == AlertState::Firing
                && alert.rule != AlertRule::NewErrorPattern);
        !(goes_on && alert.acknowledged.is_some())
    }

    /// Stages a notification (with its alerts-log `line`) for the history.
    pub(crate) fn record(&mut self, alert: &Alert, line: &[u8]) {
        let time = alert.time.0;
        self.history.push(AlertHistoryRow {
            id: 0,
            episode: alert.episode.unwrap_or(0) as i64,
            time: text_time(time),
            rule: alert.rule.as_str().to_owned(),
            function: alert.function.clone(),
            state: alert.state.as_str().to_owned(),
            reminder: alert.reminder,
            severity: alert.severity.as_str().to_owned(),
            message: alert.message.clone(),
            since: text_time(alert.since.0),
            alert: String::from_utf8_lossy(line).trim_end().to_owned(),
        });
    }

    /// The episode and acknowledgement of a firing pair, for `firing()`.
    pub(crate) fn annotate(&self, alert: &mut Alert) {
        if let Some(open) = self.open.get(&(alert.rule, alert.function.clone())) {
            alert.episode = Some(open.id);
            alert.acknowledged = open.ack.clone();
        }
    }

    /// Closes, without a notification, the episodes taken up from the store
    /// whose pair does not fire after the first full evaluation (the
    /// monitor's own rules start afresh at each start, and a function's
    /// state may have been lost).
    pub(crate) fn close_stale(&mut self, firing: &[Alert], now: SystemTime) {
        let stale: Vec<PairKey> = self
            .open
            .iter()
            .filter(|(key, open)| {
                open.loaded
                    && !firing
                        .iter()
                        .any(|alert| alert.rule == key.0 && alert.function == key.1)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            if let Some(open) = self.open.remove(&key) {
                self.acks_changed |= open.ack.is_some();
                self.writes.push(EpisodeWrite::Resolve {
                    episode: open.id as i64,
                    at: text_time(now),
                });
            }
        }
        for open in self.open.values_mut() {
            open.loaded = false;
        }
    }

    /// Acknowledges the open episode `id`.
    pub(crate) fn acknowledge(&mut self, id: u64, ack: Acknowledgement) -> Result<(), AlertsError> {
        let Some(open) = self.open.values_mut().find(|open| open.id == id) else {
            return Err(if id > 0 && id < self.next {
                AlertsError::EpisodeResolved(id)
            } else {
                AlertsError::UnknownEpisode(id)
            });
        };
        self.writes.push(EpisodeWrite::Acknowledge {
            episode: id as i64,
            by: ack.by.clone(),
            note: ack.note.clone(),
            at: text_time(ack.at.0),
        });
        open.ack = Some(ack);
        self.acks_changed = true;
        Ok(())
    }

    /// Takes up acknowledgements another process wrote into the store.
    pub(crate) fn take_up(&mut self, rows: Vec<EpisodeRow>) {
        for row in rows {
            let Some(ack) = stored_ack(&row) else {
                continue;
            };
            if let Some(open) = self
                .open
                .values_mut()
                .find(|open| open.id as i64 == row.episode)
            {
                if open.ack.as_ref() != Some(&ack) {
                    open.ack = Some(ack);
                    self.acks_changed = true;
                }
            }
        }
    }

    /// Who acknowledged which pair, when that changed since the last call.
    pub(crate) fn changed_acks(&mut self) -> Option<HashMap<PairKey, String>> {
        if !std::mem::take(&mut self.acks_changed) {
            return None;
        }
        Some(
            self.open
                .iter()
                .filter_map(|(key, open)| {
                    open.ack.as_ref().map(|ack| (key.clone(), ack.by.clone()))
                })
                .collect(),
        )
    }

    /// What is to be saved, taken.
    pub(crate) fn take_staged(&mut self) -> (Vec<AlertHistoryRow>, Vec<EpisodeWrite>) {
        (
            std::mem::take(&mut self.history),
            std::mem::take(&mut self.writes),
        )
    }
}
