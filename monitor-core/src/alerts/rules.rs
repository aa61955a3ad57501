//! Configuration of the alert rules: [`AlertRules`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::types::{AlertRule, Severity};

/// The alert rules a running monitor uses: the global ones and the whole
/// rule set of every function that has its own. Returned by
/// [`alert_rules`](crate::alert_rules); changed with
/// [`set_alert_rules`](crate::set_alert_rules) and
/// [`set_alert_rules_for`](crate::set_alert_rules_for).
///
/// ```
/// let rules = monitor_core::alert_rules(); // no monitor installed: the defaults
/// assert_eq!(rules.global, monitor_core::AlertRules::default());
/// assert!(rules.per_function.is_empty());
/// assert_eq!(rules.for_function("any"), &rules.global);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct AlertRulesInUse {
    /// The rules of every function without its own, and of the monitor's own rules.
    pub global: AlertRules,
    /// Functions with a rule set of their own, by name.
    pub per_function: BTreeMap<String, AlertRules>,
}

impl AlertRulesInUse {
    pub(crate) fn new(
        global: AlertRules,
        per_function: std::collections::HashMap<String, AlertRules>,
    ) -> Self {
        AlertRulesInUse {
            global,
            per_function: per_function.into_iter().collect(),
        }
    }

    /// The rules the function `name` is judged by.
    pub fn for_function(&self, name: &str) -> &AlertRules {
        self.per_function.get(name).unwrap_or(&self.global)
    }
}

/// Thresholds and timings of every alert rule. Set globally with
/// [`MonitorBuilder::alert_rules`](crate::MonitorBuilder::alert_rules) and
/// adjusted per function with
/// [`MonitorBuilder::alert_rules_for`](crate::MonitorBuilder::alert_rules_for).
///
/// The defaults:
///
/// | field | default | rule |
/// |---|---|---|
/// | `window` | 15 min | sliding window of the error rate, slow calls, new patterns, and of the monitor's own health events |
/// | `error_rate_threshold` | 0.5 | high error rate: *more than* this fraction failed… |
/// | `error_rate_min_executions` | 10 | …with *more than* this many executions in the window |
/// | `consecutive_failures` | 5 | this many failures in a row |
/// | `slow_threshold` | none | executions longer than this are slow (`#[monitored(slow = "…")]` wins) |
/// | `schedule_grace` | 1 min | `every = "…"` functions alert when not run within interval + grace, the grace being the smaller of this and 25 % of the interval |
/// | `repeat_interval` | 1 h | at most one firing notification (first or reminder) per (rule, function) per interval, also when the condition stops and starts again (see [`repeat_interval`](Self::repeat_interval)) |
/// | `stuck_after` | 1 h | an execution still running after this is stuck (`#[monitored(stuck_after = "…")]` wins) |
/// | `queue_fill_threshold` | 0.8 | a recording queue fuller than this raises `queue_full` |
/// | `health_success_rate` | 0.9 | [`health`](crate::health) is yellow when a function's success rate in the window is below this (with more than `error_rate_min_executions` executions) |
/// | `memory_threshold` | none | `memory_high` fires while the resident memory is above this many bytes (global rules only) |
/// | `memory_growth` | none | `memory_growth` fires when the resident memory grows steadily (see [`MemoryGrowth`]; global rules only) |
/// | `pending_for` | empty (all zero) | a rule fires only after its condition held this long |
/// | `severities` | empty | overrides of [`AlertRule::default_severity`] |
/// | `disabled` | empty | rules that never fire |
///
/// The monitor rules (dropped executions, failing sinks, collector restarts,
/// queue fill, failing notifiers) fire when their event happened within the
/// last `window`, and resolve once a whole `window` passed without it. They
/// and the memory rules (`memory_high`, `memory_growth`: the process's
/// memory, not a function's) use the global rules only: a function's own
/// `memory_threshold` or `memory_growth` is never read.
///
/// ```
/// use std::time::Duration;
/// use monitor_core::{AlertRule, AlertRules, Severity};
///
/// let rules = AlertRules {
///     window: Duration::from_secs(5 * 60),
///     consecutive_failures: 3,
///     slow_threshold: Some(Duration::from_millis(500)),
///     ..AlertRules::default()
/// }
/// .with_severity(AlertRule::ConsecutiveFailures, Severity::Critical)
/// .with_pending_for(AlertRule::HighErrorRate, Duration::from_secs(60))
/// .without(AlertRule::NewErrorPattern);
/// assert_eq!(rules.severity_of(AlertRule::ConsecutiveFailures), Severity::Critical);
/// assert!(!rules.is_enabled(AlertRule::NewErrorPattern));
/// let builder = monitor_core::Monitor::builder().alert_rules(rules);
/// # drop(builder);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRules {
    /// The sliding window (default 15 minutes).
    pub window: Duration,
    /// High error rate: fires when *more than* this fraction (0 to 1) of the
    /// executions in the window failed (default 0.5).
    pub error_rate_threshold: f64,
    /// High error rate: only with *more than* this many executions in the
    /// window (default 10).
    pub error_rate_min_executions: u64,
    /// Consecutive failures: fires at this many failures in a row (default 5, at least 1).
    pub consecutive_failures: u64,
    /// Slow execution: the threshold for functions whose attribute sets no
    /// `slow = "…"` (default none: only functions with the attribute are checked).
    pub slow_threshold: Option<Duration>,
    /// Missed schedule: how late past its interval an `every = "…"` function
    /// may run before the alert fires, at most (default 1 minute). The grace
    /// scales with the interval: it is the smaller of this and a quarter of
    /// `every` (see [`schedule_grace_for`](Self::schedule_grace_for)).
    pub schedule_grace: Duration,
    /// At most one firing notification (the first, or a reminder) per
    /// interval for each (rule, function) pair (default 1 hour). A pair that
    /// starts firing again within the interval of its previous firing
    /// notification fires (status, [`health`](crate::health) and the report
    /// show it) without a notification, nor one when it resolves; if it still
    /// fires when the interval has passed, it is notified then. Except
    /// `new_error_pattern`, whose every firing names a new pattern.
    pub repeat_interval: Duration,
    /// Stuck execution: an execution still running after this long is stuck
    /// (default 1 hour), for functions whose attribute sets no
    /// `stuck_after = "…"`.
    pub stuck_after: Duration,
    /// Queue full: the fill fraction (0 to 1) of a recording thread's queue
    /// above which the alert fires (default 0.8).
    pub queue_fill_threshold: f64,
    /// [`health`](crate::health) turns yellow when a function's success rate
    /// in the window is below this (default 0.9).
    pub health_success_rate: f64,
    /// `memory_high`: fires while the process's resident memory (RSS,
    /// sampled once a second) is above this many bytes; with a pending
    /// duration, only once it stayed above for that long. Default `None`:
    /// the rule is off. The system `monitor` replaces warned at 500 MB:
    /// `Some(500 << 20)` with `.with_pending_for(AlertRule::MemoryHigh, …)`.
    pub memory_threshold: Option<u64>,
    /// `memory_growth`: when the resident memory counts as growing steadily
    /// (see [`MemoryGrowth`]). Default `None`: the rule is off.
    pub memory_growth: Option<MemoryGrowth>,
    /// Per rule: how long the condition must hold before the rule fires
    /// (missing: zero, fire at once). Until then the pair is `pending`.
    pub pending_for: BTreeMap<AlertRule, Duration>,
    /// Per rule: severity overrides (missing: [`AlertRule::default_severity`]).
    pub severities: BTreeMap<AlertRule, Severity>,
    /// Rules that never fire.
    pub disabled: BTreeSet<AlertRule>,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            window: Duration::from_secs(15 * 60),
            error_rate_threshold: 0.5,
            error_rate_min_executions: 10,
            consecutive_failures: 5,
            slow_threshold: None,
            schedule_grace: Duration::from_secs(60),
            repeat_interval: Duration::from_secs(3600),
            stuck_after: Duration::from_secs(3600),
            queue_fill_threshold: 0.8,
            health_success_rate: 0.9,
            memory_threshold: None,
            memory_growth: None,
            pending_for: BTreeMap::new(),
            severities: BTreeMap::new(),
            disabled: BTreeSet::new(),
        }
    }
}

impl AlertRules {
    /// The grace of a function declared `every = "…"`: the smaller of
    /// [`schedule_grace`](Self::schedule_grace) and 25 % of `every`, so a
    /// two-second schedule is not given a minute.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_core::AlertRules;
    /// let rules = AlertRules::default();
    /// assert_eq!(rules.schedule_grace_for(Duration::from_secs(2)), Duration::from_millis(500));
    /// assert_eq!(rules.schedule_grace_for(Duration::from_secs(3600)), Duration::from_secs(60));
    /// ```
    pub fn schedule_grace_for(&self, every: Duration) -> Duration {
        self.schedule_grace.min(every / 4)
    }

    /// These rules with `rule`'s severity set to `severity`.
    ///
    /// ```
    /// use monitor_core::{AlertRule, AlertRules, Severity};
    /// let rules = AlertRules::default().with_severity(AlertRule::SlowExecution, Severity::Info);
    /// assert_eq!(rules.severity_of(AlertRule::SlowExecution), Severity::Info);
    /// ```
    #[must_use]
    pub fn with_severity(mut self, rule: AlertRule, severity: Severity) -> Self {
        self.severities.insert(rule, severity);
        self
    }

    /// These rules with `rule` pending for `duration` before it fires.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_core::{AlertRule, AlertRules};
    /// let rules = AlertRules::default().with_pending_for(AlertRule::SlowExecution, Duration::from_secs(30));
    /// assert_eq!(rules.pending_for_of(AlertRule::SlowExecution), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn with_pending_for(mut self, rule: AlertRule, duration: Duration) -> Self {
        self.pending_for.insert(rule, duration);
        self
    }

    /// These rules with `rule` disabled.
    ///
    /// ```
    /// use monitor_core::{AlertRule, AlertRules};
    /// assert!(!AlertRules::default().without(AlertRule::QueueFull).is_enabled(AlertRule::QueueFull));
    /// ```
    #[must_use]
    pub fn without(mut self, rule: AlertRule) -> Self {
        self.disabled.insert(rule);
        self
    }

    /// The severity `rule` fires with.
    ///
    /// ```
    /// use monitor_core::{AlertRule, AlertRules, Severity};
    /// assert_eq!(AlertRules::default().severity_of(AlertRule::HighErrorRate), Severity::Warning);
    /// ```
    pub fn severity_of(&self, rule: AlertRule) -> Severity {
        self.severities
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_severity())
    }

    /// How long `rule`'s condition must hold before it fires.
    ///
    /// ```
    /// use monitor_core::{AlertRule, AlertRules};
    /// assert!(AlertRules::default().pending_for_of(AlertRule::HighErrorRate).is_zero());
    /// ```
    pub fn pending_for_of(&self, rule: AlertRule) -> std::time::Duration {
        self.pending_for.get(&rule).copied().unwrap_or_default()
    }

    /// False when `rule` is in [`disabled`](Self::disabled).
    ///
    /// ```
    /// use monitor_core::{AlertRule, AlertRules};
    /// assert!(AlertRules::default().is_enabled(AlertRule::MissedSchedule));
    /// ```
    pub fn is_enabled(&self, rule: AlertRule) -> bool {
        !self.disabled.contains(&rule)
    }

    /// Checks the values: what [`install`](crate::MonitorBuilder::install)
    /// and [`set_alert_rules`](crate::set_alert_rules) refuse. The error
    /// names the field and says what is wrong.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_core::AlertRules;
    /// assert!(AlertRules::default().validate().is_ok());
    /// let zero_window = AlertRules { window: Duration::ZERO, ..AlertRules::default() };
    /// assert!(zero_window.validate().unwrap_err().to_string().contains("`window`"));
    /// ```
    pub fn validate(&self) -> Result<(), super::AlertsError> {
        self.check()
            .map_err(|reason| super::AlertsError::InvalidRules { reason })
    }

    fn check(&self) -> Result<(), String> {
        let fraction = |value: f64| (0.0..=1.0).contains(&value);
        if self.window.is_zero() {
            return Err("`window` must be longer than zero".into());
        }
        if self.stuck_after.is_zero() {
            return Err("`stuck_after` must be longer than zero (disable the rule with `.without(AlertRule::StuckExecution)`)".into());
        }
        if self.repeat_interval.is_zero() {
            return Err("`repeat_interval` must be longer than zero".into());
        }
        if !fraction(self.error_rate_threshold) {
            return Err(format!(
                "`error_rate_threshold` must be between 0 and 1, not {}",
                self.error_rate_threshold
            ));
        }
        if !fraction(self.queue_fill_threshold) {
            return Err(format!(
                "`queue_fill_threshold` must be between 0 and 1, not {}",
                self.queue_fill_threshold
            ));
        }
        if !fraction(self.health_success_rate) {
            return Err(format!(
                "`health_success_rate` must be between 0 and 1, not {}",
                self.health_success_rate
            ));
        }
        if self.consecutive_failures == 0 {
            return Err("`consecutive_failures` must be at least 1 (disable the rule with `.without(AlertRule::ConsecutiveFailures)`)".into());
        }
        if self
            .slow_threshold
            .is_some_and(|threshold| threshold.is_zero())
        {
            return Err("`slow_threshold` must be longer than zero (or `None`)".into());
        }
        if self.memory_threshold == Some(0) {
            return Err("`memory_threshold` must be more than 0 bytes (or `None`)".into());
        }
        if let Some(growth) = &self.memory_growth {
            if growth.window < Duration::from_secs(60) {
                return Err(format!(
                    "`memory_growth.window` must be at least a minute, not {:?}",
                    growth.window
                ));
            }
            if growth.window > Duration::from_secs(7 * 86_400) {
                return Err(format!(
                    "`memory_growth.window` must be at most 7 days, not {:?}",
                    growth.window
                ));
            }
            if !(growth.growth.is_finite() && growth.growth > 0.0) {
                return Err(format!(
                    "`memory_growth.growth` must be a fraction above 0 (0.2 is +20 %), not {}",
                    growth.growth
                ));
            }
            if !(0.0..1.0).contains(&growth.drop_tolerance) {
                return Err(format!(
                    "`memory_growth.drop_tolerance` must be from 0 to below 1, not {}",
                    growth.drop_tolerance
                ));
            }
        }
        Ok(())
    }
}

/// When the `memory_growth` rule counts the resident memory as growing
/// steadily ([`AlertRules::memory_growth`]).
///
/// The rule looks at one point per minute: the minute's latest sample
/// (samples are taken once a second). It holds when
///
/// 1. the points reach back a whole `window` (the first is the latest point
///    at least `window` before the latest sample: a process younger than
///    the window never fires);
/// 2. the latest sample is at least `(1 + growth)` times that first point;
/// 3. no point in between fell more than `drop_tolerance` (a fraction)
///    below the highest point before it — a drop, such as a cache emptied
///    or a burst of garbage freed, means the memory is not leaking.
///
/// It resolves as soon as one of the three stops holding.
///
/// ```
/// use std::time::Duration;
/// use monitor_core::{AlertRules, MemoryGrowth};
///
/// // The default: +20 % in 30 minutes, with dips of up to 2 % allowed.
/// let growth = MemoryGrowth::default();
/// assert_eq!(growth.window, Duration::from_secs(30 * 60));
/// assert_eq!((growth.growth, growth.drop_tolerance), (0.2, 0.02));
/// let rules = AlertRules {
///     memory_growth: Some(MemoryGrowth { window: Duration::from_secs(3600), ..growth }),
///     ..AlertRules::default()
/// };
/// # drop(rules);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryGrowth {
    /// How far back the growth is measured (default 30 minutes; from a
    /// minute to 7 days).
    pub window: Duration,
    /// How much it must have grown over the window, as a fraction of where
    /// it started (default 0.2: +20 %).
    pub growth: f64,
    /// How far below the highest point so far a point may fall without
    /// counting as a drop, as a fraction (default 0.02: 2 %).
    pub drop_tolerance: f64,
}

impl Default for MemoryGrowth {
    fn default() -> Self {
        MemoryGrowth {
            window: Duration::from_secs(30 * 60),
            growth: 0.2,
            drop_tolerance: 0.02,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert_eq!(AlertRules::default().check(), Ok(()));
        let bad = AlertRules {
            error_rate_threshold: 1.5,
            ..AlertRules::default()
        };
        assert!(bad.check().unwrap_err().contains("error_rate_threshold"));
        let bad = AlertRules {
            repeat_interval: Duration::ZERO,
            ..AlertRules::default()
        };
        assert!(bad.check().unwrap_err().contains("repeat_interval"));
        let bad = AlertRules {
            stuck_after: Duration::ZERO,
            ..AlertRules::default()
        };
        assert!(bad.check().unwrap_err().contains("stuck_after"));
    }
}
