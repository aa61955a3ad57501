//! The public vocabulary of alerting: [`Alert`], [`AlertRule`], [`Severity`],
//! [`AlertState`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

use super::engine::per_rule::RuleScope;
use crate::execution_id::ExecutionId;
use crate::timestamp::Timestamp;

/// The rules that raise alerts. Function rules are evaluated per function;
/// monitor rules watch the monitor itself (their alerts have no `function`).
///
/// ```
/// use monitor_core::{AlertRule, Severity};
/// assert_eq!(AlertRule::ConsecutiveFailures.as_str(), "consecutive_failures");
/// assert_eq!(AlertRule::ConsecutiveFailures.default_severity(), Severity::Error);
/// assert!(AlertRule::HighErrorRate.is_function_rule());
/// assert!(!AlertRule::DroppedExecutions.is_function_rule());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertRule {
    /// More than [`error_rate_threshold`](crate::AlertRules::error_rate_threshold)
    /// of the executions in the sliding [`window`](crate::AlertRules::window)
    /// failed, with more than
    /// [`error_rate_min_executions`](crate::AlertRules::error_rate_min_executions)
    /// executions. The function's status is `degraded` while it fires.
    HighErrorRate,
    /// [`consecutive_failures`](crate::AlertRules::consecutive_failures)
    /// failures in a row. The function's status is `error` while it fires.
    ConsecutiveFailures,
    /// An execution took longer than the function's slow threshold
    /// (`#[monitored(slow = "200ms")]`, else
    /// [`slow_threshold`](crate::AlertRules::slow_threshold)) within the window.
    SlowExecution,
    /// A function declared `#[monitored(every = "1h")]` has not run within its
    /// interval plus its grace
    /// ([`schedule_grace_for`](crate::AlertRules::schedule_grace_for)), counted
    /// from its last run (one saved by an earlier run included), or from
    /// `install()` when it never ran.
    MissedSchedule,
    /// An error whose fingerprint the function never produced before, within
    /// the window.
    NewErrorPattern,
    /// Executions were dropped because a recording queue was full, within the window.
    DroppedExecutions,
    /// A log file or the statistics database cannot be written, or a user
    /// [`Sink`](crate::Sink) panicked within the window.
    SinkFailing,
    /// The collector thread panicked and was restarted, within the window.
    CollectorRestarted,
    /// A recording queue was fuller than
    /// [`queue_fill_threshold`](crate::AlertRules::queue_fill_threshold), within the window.
    QueueFull,
    /// A notifier panicked, blocked longer than the notifier timeout, or fell
    /// behind so that alerts for it were dropped, within the window.
    NotifierFailing,
    /// A log's size cap ([`Retention::max_total_bytes`](crate::Retention),
    /// or [`log_dir_max_bytes`](crate::MonitorBuilder::log_dir_max_bytes))
    /// deleted rotated files that its age retention would still have kept,
    /// within the last day. `info`; notified at most once a day.
    LogSizeCap,
    /// The process's resident memory (RSS, sampled once a second) is above
    /// [`memory_threshold`](crate::AlertRules::memory_threshold). Off while
    /// no threshold is set (the default). Set a pending duration
    /// ([`with_pending_for`](crate::AlertRules::with_pending_for)) to fire
    /// only when it *stays* above for that long. `warning`.
    MemoryHigh,
    /// The process's resident memory grew steadily over a window: see
    /// [`MemoryGrowth`](crate::MemoryGrowth) for the exact definition. Off
    /// while [`memory_growth`](crate::AlertRules::memory_growth) is `None`
    /// (the default). `warning`.
    MemoryGrowth,
    /// An execution has been running longer than its threshold
    /// (`#[monitored(stuck_after = "5m")]`, else
    /// [`stuck_after`](crate::AlertRules::stuck_after)), and still runs: it
    /// fires while the call is stuck, not after it returns, and resolves when
    /// the last stuck execution of the function ends. One alert per function,
    /// whose numbers say how many are stuck. `error`.
    StuckExecution,
}

impl AlertRule {
    /// Every rule, function rules first.
    pub const ALL: &'static [AlertRule] = &[
        AlertRule::HighErrorRate,
        AlertRule::ConsecutiveFailures,
        AlertRule::SlowExecution,
        AlertRule::MissedSchedule,
        AlertRule::NewErrorPattern,
        AlertRule::DroppedExecutions,
        AlertRule::SinkFailing,
        AlertRule::CollectorRestarted,
        AlertRule::QueueFull,
        AlertRule::NotifierFailing,
        AlertRule::LogSizeCap,
        AlertRule::MemoryHigh,
        AlertRule::MemoryGrowth,
        AlertRule::StuckExecution,
    ];

    /// The snake_case name used in the alerts log and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertRule::HighErrorRate => "high_error_rate",
            AlertRule::ConsecutiveFailures => "consecutive_failures",
            AlertRule::SlowExecution => "slow_execution",
            AlertRule::MissedSchedule => "missed_schedule",
            AlertRule::NewErrorPattern => "new_error_pattern",
            AlertRule::DroppedExecutions => "dropped_executions",
            AlertRule::SinkFailing => "sink_failing",
            AlertRule::CollectorRestarted => "collector_restarted",
            AlertRule::QueueFull => "queue_full",
            AlertRule::NotifierFailing => "notifier_failing",
            AlertRule::LogSizeCap => "log_size_cap",
            AlertRule::MemoryHigh => "memory_high",
            AlertRule::MemoryGrowth => "memory_growth",
            AlertRule::StuckExecution => "stuck_execution",
        }
    }

    /// The rule called `name` (its [`as_str`](Self::as_str) name), if any.
    ///
    /// ```
    /// use monitor_core::AlertRule;
    /// assert_eq!(AlertRule::from_name("slow_execution"), Some(AlertRule::SlowExecution));
    /// assert_eq!(AlertRule::from_name("slow"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<AlertRule> {
        AlertRule::ALL
            .iter()
            .copied()
            .find(|rule| rule.as_str() == name)
    }

    /// True for the rules evaluated per function; false for the monitor's own health.
    pub fn is_function_rule(self) -> bool {
        // One exhaustive match on the rule decides which rules are per
        // function: the engine's.
        matches!(RuleScope::of(self), RuleScope::Function(_))
    }

    /// The severity used unless [`AlertRules::severities`](crate::AlertRules::severities)
    /// says otherwise: `error` for consecutive failures, missed schedules,
    /// failing sinks and stuck executions, `info` for new error patterns and
    /// the log size cap, `warning` for the rest.
    pub fn default_severity(self) -> Severity {
        match self {
            AlertRule::ConsecutiveFailures
            | AlertRule::MissedSchedule
            | AlertRule::SinkFailing
            | AlertRule::StuckExecution => Severity::Error,
            AlertRule::NewErrorPattern | AlertRule::LogSizeCap => Severity::Info,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for AlertRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an alert is. Ordered: `Info < Warning < Error < Critical`.
/// Firing alerts of severity `Warning` make [`health`](crate::health) yellow,
/// `Error` and `Critical` make it red.
///
/// ```
/// use monitor_core::Severity;
/// assert!(Severity::Info < Severity::Critical);
/// assert_eq!(Severity::Warning.to_string(), "warning");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; does not change the health verdict.
    Info,
    /// Something is wrong but work goes on (health yellow).
    Warning,
    /// Work is failing (health red).
    Error,
    /// Work is failing and needs someone now (health red).
    Critical,
}

impl Severity {
    /// Every severity, least urgent first.
    pub const ALL: &'static [Severity] = &[
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// The severity called `name` (its [`as_str`](Self::as_str) word), if any.
    ///
    /// ```
    /// use monitor_core::Severity;
    /// assert_eq!(Severity::from_name("error"), Some(Severity::Error));
    /// assert_eq!(Severity::from_name("fatal"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.iter().copied().find(|s| s.as_str() == name)
    }

    /// The lowercase word used in the alerts log.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a (rule, function) pair stands. Notifications are sent with
/// `Firing` (when it starts firing, and as a reminder once per repeat
/// interval while it keeps firing) and `Resolved` (when it stops).
///
/// ```
/// use monitor_core::AlertState;
/// assert_eq!(AlertState::Firing.as_str(), "firing");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds, for less than the rule's `for` duration. No
    /// notification is sent.
    Pending,
    /// The condition holds (for at least the rule's `for` duration).
    Firing,
    /// The condition stopped holding after firing.
    Resolved,
}

impl AlertState {
    /// The lowercase word used in the alerts log.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who acknowledged a firing episode, when, and their note
/// ([`acknowledge`](crate::acknowledge), `monitor ack`, or
/// `POST /api/alerts/{episode}/ack`). Reminders of an acknowledged episode
/// are not sent; it still counts in [`health`](crate::health), whose reason
/// says "acknowledged by …".
///
/// ```
/// use monitor_core::{Acknowledgement, Timestamp};
/// use std::time::UNIX_EPOCH;
/// let ack = Acknowledgement::new("alice", Some("restarting the worker"), Timestamp(UNIX_EPOCH));
/// assert_eq!(ack.by, "alice");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Acknowledgement {
    /// Who.
    pub by: String,
    /// Their note, if any.
    pub note: Option<String>,
    /// When (the host's clock; the acknowledging command's for `monitor ack`).
    pub at: Timestamp,
}

impl Acknowledgement {
    /// An acknowledgement by `by` at `at`.
    pub fn new(by: impl Into<String>, note: Option<&str>, at: Timestamp) -> Self {
        Acknowledgement {
            by: by.into(),
            note: note.map(str::to_owned),
            at,
        }
    }
}

/// One notification: a rule started firing, is still firing (a reminder,
/// once per repeat interval), or resolved. Handed to every notifier (the
/// [`on_alert`](crate::MonitorBuilder::on_alert) callback, each
/// [`Notifier`](crate::Notifier), a `tracing` event with target
/// `monitor::alert` unless
/// [`alert_tracing_events(false)`](crate::MonitorBuilder::alert_tracing_events))
/// and written as one line of `alerts/current_alerts.log`
/// (the line is this struct serialized).
///
/// `Display` gives a one-line text: severity, rule, state and the message,
/// which names the function and says what happened, the numbers, since when
/// and a suggested action. Control characters in the message (a newline or
/// an escape sequence in a function name or an error message) are escaped
/// (`\n`, `\u{1b}`) there and in `message` itself, so an alert is always one
/// line and never drives a terminal.
///
/// ```
/// use monitor_core::{Alert, AlertRule, AlertState, Severity, Timestamp};
/// use std::time::UNIX_EPOCH;
/// let alert = Alert::new(
///     AlertRule::ConsecutiveFailures,
///     AlertState::Firing,
///     Severity::Error,
///     "scale_ec2: 5 failures in a row",
///     Timestamp(UNIX_EPOCH),
/// )
/// .with_function("scale_ec2")
/// .with_number("consecutive_failures", 5.0);
/// assert_eq!(alert.to_string(), "[error] consecutive_failures firing: scale_ec2: 5 failures in a row");
/// assert_eq!(alert.number("consecutive_failures"), Some(5.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Alert {
    /// When the notification was made (the monitor's clock). Serialized as `timestamp`.
    #[serde(rename = "timestamp")]
    pub time: Timestamp,
    /// The rule.
    pub rule: AlertRule,
    /// The function's name; `None` for the monitor's own health rules.
    pub function: Option<String>,
    /// The execution the notice names as its example (read it with
    /// [`execution_id`](Self::execution_id)); left out of the alerts log
    /// line when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) execution_id: Option<ExecutionId>,
    /// `firing` or `resolved`.
    pub state: AlertState,
    /// How urgent.
    pub severity: Severity,
    /// What happened, where, the numbers, since when, and a suggested action.
    pub message: String,
    /// When the condition started (for `resolved`: when it had started).
    pub since: Timestamp,
    /// True for a reminder: the rule kept firing for a whole repeat interval.
    pub reminder: bool,
    /// The numbers behind the message, by name. Whole numbers are
    /// serialized as integers.
    ///
    /// | rule | numbers |
    /// |---|---|
    /// | `high_error_rate` | `failures`, `executions`, `error_rate` (0–1) in the window, `window_secs`, `threshold`, `min_executions` |
    /// | `consecutive_failures` | `consecutive_failures`, `threshold`, and `failures`, `executions`, `error_rate`, `window_secs` |
    /// | `slow_execution` | `slow_executions`, `executions` in the window, `threshold_ms`, `max_ms`, `window_secs` |
    /// | `missed_schedule` | `every_secs` (when declared), `grace_secs`, `overdue_secs` |
    /// | `new_error_pattern` | `new_patterns` (named in this notification; resolved: new since it fired), `new_patterns_in_window`, `window_secs` |
    /// | `dropped_executions` | `dropped` (since it fired), `dropped_total` (since install) |
    /// | `sink_failing` | `failing_sinks`, `lost_lines`, `sink_panics` |
    /// | `collector_restarted` | `restarts` (since it fired), `restarts_total` |
    /// | `queue_full` | `queue_fill` (0–1, the fullest seen), `threshold` |
    /// | `notifier_failing` | `failures` (since it fired) |
    /// | `log_size_cap` | `deleted_files` (since it fired), `deleted_files_total` |
    /// | `stuck_execution` | `stuck` (how many now; 0 when resolved), `threshold_ms`, `oldest_elapsed_ms` (firing), `ended` and `duration_ms` (resolved: stuck executions that ended, how long the latest ran) |
    /// | `memory_high` | `rss_bytes` (latest), `threshold_bytes`, `peak_bytes` (since it fired) |
    /// | `memory_growth` | `rss_bytes` (latest), `start_bytes` (a window ago), `growth` (fraction, 0.25 = +25 %), `window_secs` |
    #[serde(serialize_with = "serialize_numbers")]
    pub numbers: BTreeMap<String, f64>,
    /// The firing episode (read it with [`episode`](Self::episode)); left
    /// out of the line when there is none (an alert made by a host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) episode: Option<u64>,
    /// Its acknowledgement (read it with
    /// [`acknowledged`](Self::acknowledged)); left out when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) acknowledged: Option<Acknowledgement>,
}

impl Alert {
    /// A notification of `rule` made at `time`, about the monitor itself
    /// (no function), with `since` equal to `time`, not a reminder and with
    /// no numbers; the `with_…` methods set the rest. For hosts that build
    /// alerts of their own (tests of a [`Notifier`](crate::Notifier), say):
    /// the monitor's notifications come from its rules.
    pub fn new(
        rule: AlertRule,
        state: AlertState,
        severity: Severity,
        message: impl Into<String>,
        time: Timestamp,
    ) -> Self {
        Alert {
            time,
            rule,
            function: None,
            execution_id: None,
            state,
            severity,
            message: message.into(),
            since: time,
            reminder: false,
            numbers: BTreeMap::new(),
            episode: None,
            acknowledged: None,
        }
    }

    /// The firing episode this notification belongs to: an id the monitor
    /// gives each start of firing of a (rule, function) pair, shared by its
    /// reminders and its resolution, kept in `stats.db` (`alert_history`,
    /// `alert_episodes`) and in the alerts log's `episode` field. Pass it
    /// to [`acknowledge`](crate::acknowledge). `None` for an alert a host
    /// made with [`Alert::new`].
    pub fn episode(&self) -> Option<u64> {
        self.episode
    }

    /// The acknowledgement of its episode, if it has one.
    pub fn acknowledged(&self) -> Option<&Acknowledgement> {
        self.acknowledged.as_ref()
    }

    /// The same alert about the function `name`.
    pub fn with_function(mut self, name: impl Into<String>) -> Self {
        self.function = Some(name.into());
        self
    }

    /// The same alert naming the execution `id` as its example.
    ///
    /// ```
    /// use monitor_core::{Alert, AlertRule, AlertState, ExecutionId, Severity, Timestamp};
    /// use std::time::UNIX_EPOCH;
    /// let id: ExecutionId = "01JEX3S8Q40000000100000007".parse()?;
    /// let alert = Alert::new(
    ///     AlertRule::SlowExecution,
    ///     AlertState::Firing,
    ///     Severity::Warning,
    ///     "report: 1 of 3 executions slower than 2 s",
    ///     Timestamp(UNIX_EPOCH),
    /// )
    /// .with_execution_id(id);
    /// assert_eq!(alert.execution_id(), Some(id));
    /// # Ok::<(), monitor_core::ParseExecutionIdError>(())
    /// ```
    pub fn with_execution_id(mut self, id: ExecutionId) -> Self {
        self.execution_id = Some(id);
        self
    }

    /// The execution this notice is about, when it names one: for a firing
    /// (or reminding) notice, the latest failure of `consecutive_failures`
    /// and `high_error_rate` (the last error their message quotes), the
    /// latest slow execution of `slow_execution`, and the execution that
    /// first produced the (latest) pattern a `new_error_pattern` notice
    /// names. `None` for `missed_schedule`, for resolved notices and for the
    /// monitor's own rules. It is the `"id"` of that execution's lines in
    /// the executions log and the errors log.
    ///
    /// ```
    /// use monitor_core::{Alert, AlertRule, AlertState, Severity, Timestamp};
    /// use std::time::UNIX_EPOCH;
    /// let alert = Alert::new(
    ///     AlertRule::DroppedExecutions,
    ///     AlertState::Firing,
    ///     Severity::Warning,
    ///     "3 executions dropped",
    ///     Timestamp(UNIX_EPOCH),
    /// );
    /// assert_eq!(alert.execution_id(), None);
    /// ```
    pub fn execution_id(&self) -> Option<ExecutionId> {
        self.execution_id
    }

    /// The same alert whose condition started at `since`.
    pub fn with_since(mut self, since: Timestamp) -> Self {
        self.since = since;
        self
    }

    /// The same alert as a reminder (or not).
    pub fn with_reminder(mut self, reminder: bool) -> Self {
        self.reminder = reminder;
        self
    }

    /// The same alert carrying the number `name`.
    pub fn with_number(mut self, name: impl Into<String>, value: f64) -> Self {
        self.numbers.insert(name.into(), value);
        self
    }

    /// The number called `name`, if the alert carries it.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.numbers.get(name).copied()
    }

    /// True for `state == Firing`.
    pub fn is_firing(&self) -> bool {
        self.state == AlertState::Firing
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {} {}", self.severity, self.rule, self.state)?;
        if self.reminder {
            f.write_str(" (reminder)")?;
        }
        write!(f, ": {}", super::text::printable(&self.message))
    }
}

fn serialize_numbers<S: Serializer>(
    numbers: &BTreeMap<String, f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(numbers.len()))?;
    for (key, &value) in numbers {
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e15 {
            map.serialize_entry(key, &(value as i64))?;
        } else if value.is_finite() {
            map.serialize_entry(key, &value)?;
        } else {
            map.serialize_entry(key, &Option::<f64>::None)?;
        }
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_naming_an_execution_writes_its_id() {
        let id = ExecutionId::from_parts(1_765_000_000_000, 7, 2, 3);
        let alert = Alert::new(
            AlertRule::ConsecutiveFailures,
            AlertState::Firing,
            Severity::Error,
            "f: 3 failures in a row",
            Timestamp(std::time::UNIX_EPOCH),
        )
        .with_function("f")
        .with_execution_id(id);
        let json = crate::json::to_string(&alert).unwrap();
        assert!(
            json.contains(&format!(r#""function":"f","execution_id":"{id}","state""#)),
            "{json}"
        );
    }

    #[test]
    fn alerts_serialize_with_integer_counts() {
        let alert = Alert {
            time: Timestamp(std::time::UNIX_EPOCH),
            rule: AlertRule::HighErrorRate,
            function: Some("f".into()),
            execution_id: None,
            state: AlertState::Resolved,
            severity: Severity::Warning,
            message: "f: ok \"again\"".into(),
            since: Timestamp(std::time::UNIX_EPOCH),
            reminder: false,
            episode: None,
            acknowledged: None,
            numbers: [
                ("executions".to_owned(), 12.0),
                ("error_rate".to_owned(), 0.25),
            ]
            .into(),
        };
        let json = crate::json::to_string(&alert).unwrap();
        assert_eq!(json, serde_json::to_string(&alert).unwrap());
        assert_eq!(
            json,
            r#"{"timestamp":"1970-01-01T00:00:00.000000Z","rule":"high_error_rate","function":"f","state":"resolved","severity":"warning","message":"f: ok \"again\"","since":"1970-01-01T00:00:00.000000Z","reminder":false,"numbers":{"error_rate":0.25,"executions":12}}"#
        );
    }
}
