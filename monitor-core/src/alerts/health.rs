//! The monitor's verdict on itself and on the functions it watches:
//! [`health`], [`Health`], [`Verdict`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// The collector has not evaluated the rules for this long: yellow.
pub(crate) const LAG_YELLOW: Duration = Duration::from_secs(5);
/// The collector has not evaluated the rules for this long: red.
pub(crate) const LAG_RED: Duration = Duration::from_secs(30);

/// Green, yellow or red; or `not_installed` when no monitor is installed.
/// Ordered: `Green < Yellow < Red < NotInstalled`, so a check such as
/// `verdict >= Verdict::Yellow` also catches a monitor that is not there.
///
/// ```
/// use monitor_core::Verdict;
/// assert!(Verdict::Green < Verdict::Red);
/// assert!(Verdict::Red < Verdict::NotInstalled);
/// assert_eq!(Verdict::Yellow.to_string(), "yellow");
/// assert_eq!(Verdict::NotInstalled.to_string(), "not_installed");
/// assert_eq!(Verdict::Red.emoji(), "🔴");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Nothing to report.
    #[default]
    Green,
    /// Something needs a look: a warning alert fires, or a success rate is low.
    Yellow,
    /// Something is broken: an error or critical alert fires, or the collector is stuck.
    Red,
    /// No monitor is installed (never installed, `install()` failed, or its
    /// guard was dropped): nothing is being watched, so nothing can be said
    /// to be healthy. Never green.
    NotInstalled,
    /// Read from outside (a log directory's `status.json`): the host that
    /// writes the directory is not running (it stopped, or died without
    /// saying so). Never green.
    NotRunning,
}

impl Verdict {
    /// `green`, `yellow`, `red`, `not_installed` or `not_running`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Green => "green",
            Verdict::Yellow => "yellow",
            Verdict::Red => "red",
            Verdict::NotInstalled => "not_installed",
            Verdict::NotRunning => "not_running",
        }
    }

    /// 🟢, 🟡, 🔴, ⚪ when no monitor is installed, ⚫ when the host is not running.
    pub fn emoji(self) -> &'static str {
        match self {
            Verdict::Green => "🟢",
            Verdict::Yellow => "🟡",
            Verdict::Red => "🔴",
            Verdict::NotInstalled => "⚪",
            Verdict::NotRunning => "⚫",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of [`health`](crate::health) with its reasons (the worst first). `Display`
/// gives one line; control characters in a reason (from a function's name)
/// are escaped there (`\n`, `\u{1b}`).
///
/// How it is judged (thresholds from the global [`AlertRules`](crate::AlertRules)):
///
/// * **red** — an alert of severity `error` or `critical` fires: with the
///   default severities, a function has failed
///   [`consecutive_failures`](crate::AlertRules::consecutive_failures) times
///   in a row (its status is `error`), a scheduled function missed its
///   schedule, an execution is stuck (running past its `stuck_after`), or a
///   log file, the statistics database or `status.json` cannot be written;
///   or the collector has not evaluated the rules for 30 s.
/// * **yellow** — an alert of severity `warning` fires: a high error rate
///   (the function is `degraded`), slow executions, executions dropped,
///   collector restarts, a queue over 80% full or failing notifiers, all
///   within the last [`window`](crate::AlertRules::window); or a function's
///   success rate over the window is below
///   [`health_success_rate`](crate::AlertRules::health_success_rate) (90%)
///   with more than
///   [`error_rate_min_executions`](crate::AlertRules::error_rate_min_executions)
///   executions in it; or the collector lags 5 s.
/// * **green** — none of these. `info` alerts (new error patterns, by
///   default) do not change the verdict.
/// * **not_installed** — [`health`](crate::health) was called while no monitor is
///   installed: never green, so a health endpoint built on it cannot hide a
///   failed install.
///
/// Each function's share of the verdict (the reasons about it, at their
/// colour) is its [`FunctionStats::health`](crate::FunctionStats::health),
/// the icon of its line in the [status report](crate::status_report).
///
/// ```
/// use monitor_core::{Health, Verdict};
/// let health = Health {
///     verdict: Verdict::Yellow,
///     reasons: vec!["scale_ec2 success rate 85% < 90% (last 15 min)".into()],
/// };
/// assert_eq!(health.to_string(), "🟡 yellow — scale_ec2 success rate 85% < 90% (last 15 min)");
/// assert!(!health.is_green());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Green, yellow, red, or not installed.
    pub verdict: Verdict,
    /// Why it is not green, the worst first (empty when green).
    pub reasons: Vec<String>,
}

impl Health {
    pub(crate) fn green() -> Self {
        Health::default()
    }

    /// The verdict when no monitor is installed.
    pub(crate) fn not_installed() -> Self {
        Health {
            verdict: Verdict::NotInstalled,
            reasons: vec![
                "monitor: not installed (nothing is recorded until `install()` succeeds)".into(),
            ],
        }
    }

    /// True when the verdict is green.
    pub fn is_green(&self) -> bool {
        self.verdict == Verdict::Green
    }

    /// Adds the collector's lag since its latest evaluation (at `evaluated_at`).
    pub(crate) fn with_lag(self, evaluated_at: Option<Instant>) -> Self {
        self.with_lag_as_of(evaluated_at, Instant::now())
    }

    /// [`with_lag`](Self::with_lag) with the present passed in.
    fn with_lag_as_of(mut self, evaluated_at: Option<Instant>, now: Instant) -> Self {
        let Some(at) = evaluated_at else {
            return self;
        };
        let lag = now.saturating_duration_since(at);
        let verdict = if lag >= LAG_RED {
            Verdict::Red
        } else if lag >= LAG_YELLOW {
            Verdict::Yellow
        } else {
            return self;
        };
        let reason = format!(
            "monitor: the collector has not evaluated the rules for {} (lag)",
            super::text::duration(Duration::from_secs(lag.as_secs()))
        );
        let position = if verdict == Verdict::Red {
            0
        } else {
            self.reasons.len()
        };
        self.reasons.insert(position, reason);
        self.verdict = self.verdict.max(verdict);
        self
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verdict.emoji(), self.verdict)?;
        for (i, reason) in self.reasons.iter().enumerate() {
            let separator = if i == 0 { " — " } else { "; " };
            write!(f, "{separator}{}", super::text::printable(reason))?;
        }
        Ok(())
    }
}

/// The state of one output of the monitor (a log file, the stats store).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ComponentHealth {
    /// `executions log`, `errors log`, `alerts log`, `statistics database`.
    pub(crate) name: &'static str,
    pub(crate) failing: bool,
    pub(crate) error: Option<String>,
    /// Lines (or rows) lost for good, in total.
    pub(crate) lost: u64,
}

impl ComponentHealth {
    pub(crate) fn from_log(name: &'static str, health: &monitor_sinks::LogHealth) -> Self {
        ComponentHealth {
            name,
            failing: health.failing,
            error: health.last_error.clone(),
            lost: health.dropped_lines,
        }
    }

    pub(crate) fn from_store(health: &monitor_sinks::stats_store::StoreHealth) -> Self {
        ComponentHealth {
            name: "statistics database",
            failing: health.failing,
            error: health.last_error.clone(),
            lost: 0,
        }
    }
}

/// Failures of one notifier, in total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NotifierHealth {
    pub(crate) name: Arc<str>,
    /// Panics + timeouts + alerts dropped because its queue was full.
    pub(crate) failures: u64,
}

/// The monitor's own state, read by the collector before each evaluation.
#[derive(Clone, Debug, Default)]
pub(crate) struct HealthInputs {
    /// Executions dropped on overflow since install.
    pub(crate) dropped_total: u64,
    /// Collector restarts since install.
    pub(crate) restarts: u64,
    /// Panics of user sinks since install.
    pub(crate) sink_panics: u64,
    /// The fullest any recording queue was since the previous evaluation (0 to 1).
    pub(crate) queue_fill: f64,
    pub(crate) components: Vec<ComponentHealth>,
    pub(crate) notifiers: Vec<NotifierHealth>,
    /// Rotated log files deleted early by a size cap, since install.
    pub(crate) deleted_for_size: u64,
    /// The latest resource sample's time and resident memory in bytes
    /// (`None` before the first).
    pub(crate) latest_rss: Option<(std::time::SystemTime, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_turns_the_verdict_yellow_then_red() {
        let at = Instant::now();
        let after = |secs: f64| at + Duration::from_secs_f64(secs);
        let health = Health::green();
        assert_eq!(health.clone().with_lag_as_of(None, after(60.0)), health);
        assert_eq!(health.clone().with_lag_as_of(Some(at), at), health);
        assert_eq!(health.clone().with_lag_as_of(Some(at), after(4.9)), health);

        let yellow = Health::green().with_lag_as_of(Some(at), after(5.0));
        assert_eq!(yellow.verdict, Verdict::Yellow);
        assert_eq!(yellow.reasons.len(), 1);
        assert!(yellow.reasons[0].contains("lag"), "{yellow}");
        let still_yellow = Health::green().with_lag_as_of(Some(at), after(29.9));
        assert_eq!(still_yellow.verdict, Verdict::Yellow);

        // Red goes first among the reasons; an existing reason is kept.
        let red = Health {
            verdict: Verdict::Yellow,
            reasons: vec!["x".into()],
        }
        .with_lag_as_of(Some(at), after(31.0));
        assert_eq!(red.verdict, Verdict::Red);
        assert!(red.reasons[0].contains("lag"), "{red}");
        assert_eq!(red.reasons[1], "x");
        // A yellow lag never lowers a red verdict.
        let red_stays = Health {
            verdict: Verdict::Red,
            reasons: vec!["down".into()],
        }
        .with_lag_as_of(Some(at), after(6.0));
        assert_eq!(red_stays.verdict, Verdict::Red);
        assert_eq!(red_stays.reasons[0], "down");
    }
}
