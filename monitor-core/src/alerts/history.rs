//! Reading the alert history back: [`AlertQuery`], [`Alerts`], and the
//! conversion of stored rows (`alert_history`, `alert_episodes` in
//! `stats.db`) into [`Alert`]s. Used by [`alerts`](crate::alerts) in the
//! host and by [`LogDir::alert_history`](crate::query::LogDir::alert_history)
//! from any process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::SystemTime;

use monitor_sinks::stats_store::{read_history, AlertHistoryRow, EpisodeRow, HistoryFilter};
use serde::Deserialize;

use super::episodes::stored_ack;
use super::errors::AlertsError;
use super::types::{Alert, AlertRule, AlertState, Severity};
use crate::execution_id::ExecutionId;
use crate::timestamp::Timestamp;

/// Which notifications of the alert history to read: every condition set
/// must hold; newest first, at most [`limit`](Self::limit) (default 100).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use monitor_core::{AlertQuery, AlertRule, Severity};
/// let query = AlertQuery::new()
///     .rule(AlertRule::ConsecutiveFailures)
///     .function("scale_ec2")
///     .min_severity(Severity::Error)
///     .since(SystemTime::now() - Duration::from_secs(7 * 86_400))
///     .limit(20);
/// assert_eq!(query.limit, 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlertQuery {
    /// Only this rule.
    pub rule: Option<AlertRule>,
    /// Only this function.
    pub function: Option<String>,
    /// Only notifications of this severity or a more urgent one.
    pub min_severity: Option<Severity>,
    /// Only notifications made at or after this time.
    pub since: Option<SystemTime>,
    /// Only notifications made before this time.
    pub until: Option<SystemTime>,
    /// Only the notifications of this episode.
    pub episode: Option<u64>,
    /// At most this many (0: all of them).
    pub limit: usize,
}

impl Default for AlertQuery {
    fn default() -> Self {
        AlertQuery {
            rule: None,
            function: None,
            min_severity: None,
            since: None,
            until: None,
            episode: None,
            limit: 100,
        }
    }
}

impl AlertQuery {
    /// Every notification, newest first, the latest 100.
    pub fn new() -> Self {
        AlertQuery::default()
    }

    /// Only `rule`.
    #[must_use]
    pub fn rule(mut self, rule: AlertRule) -> Self {
        self.rule = Some(rule);
        self
    }

    /// Only the function `name`.
    #[must_use]
    pub fn function(mut self, name: impl Into<String>) -> Self {
        self.function = Some(name.into());
        self
    }

    /// Only `severity` and more urgent ones.
    #[must_use]
    pub fn min_severity(mut self, severity: Severity) -> Self {
        self.min_severity = Some(severity);
        self
    }

    /// Only notifications made at or after `time`.
    #[must_use]
    pub fn since(mut self, time: SystemTime) -> Self {
        self.since = Some(time);
        self
    }

    /// Only notifications made before `time`.
    #[must_use]
    pub fn until(mut self, time: SystemTime) -> Self {
        self.until = Some(time);
        self
    }

    /// Only the notifications of episode `id`.
    #[must_use]
    pub fn episode(mut self, id: u64) -> Self {
        self.episode = Some(id);
        self
    }

    /// At most `limit` notifications (0: all).
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    fn to_filter(&self) -> HistoryFilter {
        HistoryFilter {
            rule: self.rule.map(|rule| rule.as_str().to_owned()),
            function: self.function.clone(),
            severities: self
                .min_severity
                .map(|min| {
                    Severity::ALL
                        .iter()
                        .filter(|s| **s >= min)
                        .map(|s| s.as_str().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
            since: self.since.map(text_time),
            until: self.until.map(text_time),
            episode: self.episode.and_then(|id| i64::try_from(id).ok()),
            limit: self.limit,
        }
    }

    /// Whether a row not saved yet passes the query.
    fn passes(&self, row: &AlertHistoryRow) -> bool {
        let filter = self.to_filter();
        filter.rule.as_ref().is_none_or(|rule| *rule == row.rule)
            && filter
                .function
                .as_ref()
                .is_none_or(|f| Some(f) == row.function.as_ref())
            && (filter.severities.is_empty() || filter.severities.contains(&row.severity))
            && filter.since.as_ref().is_none_or(|since| row.time >= *since)
            && filter.until.as_ref().is_none_or(|until| row.time < *until)
            && filter.episode.is_none_or(|episode| episode == row.episode)
    }
}

/// What [`alerts`](crate::alerts) returns: the alerts firing now and the
/// notifications of the history that a query asked for.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Alerts {
    /// The latest notification of every rule that fires now (as in the
    /// status report), each with its [`episode`](Alert::episode) and
    /// [`acknowledged`](Alert::acknowledged).
    pub firing: Vec<Alert>,
    /// Notifications (firing, reminders, resolved), newest first, with the
    /// acknowledgement of their episode.
    pub history: Vec<Alert>,
}

fn text_time(time: SystemTime) -> String {
    let mut out = String::new();
    monitor_sinks::time::format_rfc3339_micros(time, &mut out);
    out
}

/// The parts of a stored alerts-log line that have no column of their own.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LineExtras {
    numbers: BTreeMap<String, Option<f64>>,
    execution_id: Option<String>,
}

/// An alert from its stored row; `None` for a row this version cannot read
/// (a rule or severity it does not know).
fn alert_of(row: &AlertHistoryRow, episodes: &HashMap<i64, &EpisodeRow>) -> Option<Alert> {
    let rule = AlertRule::from_name(&row.rule)?;
    let severity = Severity::from_name(&row.severity)?;
    let state = match row.state.as_str() {
        "resolved" => AlertState::Resolved,
        _ => AlertState::Firing,
    };
    let time = monitor_sinks::time::parse_rfc3339(&row.time)?;
    let since = monitor_sinks::time::parse_rfc3339(&row.since).unwrap_or(time);
    let extras: LineExtras = crate::json::from_str(&row.alert).unwrap_or_default();
    let mut alert = Alert::new(rule, state, severity, row.message.clone(), Timestamp(time))
        .with_since(Timestamp(since))
        .with_reminder(row.reminder);
    alert.function = row.function.clone();
    alert.numbers = extras
        .numbers
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
    alert.execution_id = extras
        .execution_id
        .and_then(|id| id.parse::<ExecutionId>().ok());
    alert.episode = u64::try_from(row.episode).ok();
    alert.acknowledged = episodes.get(&row.episode).and_then(|e| stored_ack(e));
    Some(alert)
}

/// The episodes of the database at `path` that have not resolved, each as
/// its latest notification (with its acknowledgement), oldest first.
pub(crate) fn read_firing(path: &Path) -> Result<Vec<Alert>, AlertsError> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let open = monitor_sinks::stats_store::read_open_episodes(path)
        .map_err(|e| AlertsError::Store(e.to_string()))?;
    Ok(open
        .iter()
        .filter_map(|(episode, latest)| {
            let by_id: HashMap<i64, &EpisodeRow> = [(episode.episode, episode)].into();
            alert_of(latest.as_ref()?, &by_id)
        })
        .collect())
}

/// Who acknowledged which firing (rule, function) pair, from the open
/// episodes of the database at `path` (empty when it has none or cannot
/// be read: the verdict does not depend on it).
pub(crate) fn stored_acknowledgements(path: &Path) -> HashMap<(AlertRule, Option<String>), String> {
    if !path.is_file() {
        return HashMap::new();
    }
    monitor_sinks::stats_store::read_open_episodes(path)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(episode, _)| {
            let rule = AlertRule::from_name(&episode.rule)?;
            Some(((rule, episode.function), episode.acknowledged_by?))
        })
        .collect()
}

/// Acknowledges the open episode `id` of the database at `path` from
/// another process (the host takes it up at its next tick).
pub(crate) fn acknowledge_in_store(
    path: &Path,
    id: u64,
    by: &str,
    note: Option<&str>,
    at: SystemTime,
) -> Result<(), AlertsError> {
    use monitor_sinks::stats_store::{acknowledge_episode, AckOutcome};
    if by.trim().is_empty() {
        return Err(AlertsError::NoAcknowledger);
    }
    let episode = i64::try_from(id).map_err(|_| AlertsError::UnknownEpisode(id))?;
    match acknowledge_episode(path, episode, by, note, &text_time(at))
        .map_err(|e| AlertsError::Store(e.to_string()))?
    {
        AckOutcome::Acknowledged(_) => Ok(()),
        AckOutcome::Unknown => Err(AlertsError::UnknownEpisode(id)),
        AckOutcome::Resolved(_) => Err(AlertsError::EpisodeResolved(id)),
    }
}

/// The notifications of the database at `path` that pass `query`, plus
/// `unsaved` rows (a running host's, not saved yet), newest first.
pub(crate) fn read(
    path: &Path,
    query: &AlertQuery,
    unsaved: &[AlertHistoryRow],
) -> Result<Vec<Alert>, AlertsError> {
    let (mut rows, episodes) = if path.is_file() {
        read_history(path, &query.to_filter()).map_err(|e| AlertsError::Store(e.to_string()))?
    } else {
        (Vec::new(), Vec::new())
    };
    // A save between taking the unsaved rows and reading the file puts a
    // row in both: a notification is one (episode, time, state, reminder).
    let key = |row: &AlertHistoryRow| {
        (
            row.episode,
            row.time.clone(),
            row.state.clone(),
            row.reminder,
        )
    };
    let saved: HashSet<_> = rows.iter().map(key).collect();
    rows.extend(
        unsaved
            .iter()
            .filter(|row| query.passes(row) && !saved.contains(&key(row)))
            .cloned(),
    );
    rows.sort_by(|a, b| b.time.cmp(&a.time).then(b.id.cmp(&a.id)));
    if query.limit > 0 {
        rows.truncate(query.limit);
    }
    let by_id: HashMap<i64, &EpisodeRow> = episodes.iter().map(|e| (e.episode, e)).collect();
    Ok(rows
        .iter()
        .filter_map(|row| alert_of(row, &by_id))
        .collect())
}
