//! The builder's alert settings: [`MonitorBuilder::on_alert`],
//! [`notifier`](MonitorBuilder::notifier), [`alert_rules`](MonitorBuilder::alert_rules),
//! [`alert_rules_for`](MonitorBuilder::alert_rules_for),
//! [`notifier_timeout`](MonitorBuilder::notifier_timeout),
//! [`alert_tracing_events`](MonitorBuilder::alert_tracing_events).

use std::time::Duration;

use super::MonitorBuilder;
use crate::alerts::notify::FnNotifier;
use crate::alerts::{Alert, AlertRules, Notifier};

impl MonitorBuilder {
    /// Calls `callback` with every alert notification: when a rule starts
    /// firing, once per repeat interval while it keeps firing, and when it
    /// resolves. It runs on its own thread (`monitor-notifier-N`); a panic
    /// is caught and counted. After [`flush`](crate::MonitorGuard::flush)
    /// returns, the callback has been called for every notification the
    /// flushed executions caused. Can be called several times.
    ///
    /// ```no_run
    /// let guard = monitor_core::Monitor::builder()
    ///     .on_alert(|alert: &monitor_core::Alert| eprintln!("{alert}"))
    ///     .install()?;
    /// # drop(guard);
    /// # Ok::<(), monitor_core::InstallError>(())
    /// ```
    pub fn on_alert(mut self, callback: impl FnMut(&Alert) + Send + 'static) -> Self {
        self.alerts.notifiers.push(Box::new(FnNotifier(callback)));
        self
    }

    /// Adds a [`Notifier`]: it receives every alert notification on its own
    /// thread. Can be called several times.
    ///
    /// ```
    /// use monitor_core::{Alert, Notifier};
    /// struct Stderr;
    /// impl Notifier for Stderr {
    ///     fn notify(&mut self, alert: &Alert) {
    ///         eprintln!("{alert}");
    ///     }
    /// }
    /// let builder = monitor_core::Monitor::builder().notifier(Stderr);
    /// # drop(builder);
    /// ```
    pub fn notifier(mut self, notifier: impl Notifier) -> Self {
        self.alerts.notifiers.push(Box::new(notifier));
        self
    }

    /// The alert rules for every function (default [`AlertRules::default`]):
    /// window, thresholds, slow threshold, schedule grace, repeat interval,
    /// severities, `for` durations, disabled rules.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_core::AlertRules;
    /// let builder = monitor_core::Monitor::builder().alert_rules(AlertRules {
    ///     repeat_interval: Duration::from_secs(4 * 3600),
    ///     slow_threshold: Some(Duration::from_secs(2)),
    ///     ..AlertRules::default()
    /// });
    /// # drop(builder);
    /// ```
    pub fn alert_rules(mut self, rules: AlertRules) -> Self {
        self.alerts.rules = rules;
        self
    }

    /// Adjusts the rules of one function, named as in the statistics: at
    /// install, `adjust` is applied to a copy of the global
    /// [`alert_rules`](Self::alert_rules) (whichever order the two calls
    /// come in). The monitor's own rules (drops, sinks, queue) and the
    /// memory rules (the process's memory) always use the global rules. A
    /// `slow = "…"` in the function's attribute wins over `slow_threshold`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_core::AlertRule;
    /// let builder = monitor_core::Monitor::builder()
    ///     .alert_rules_for("scale_ec2", |rules| {
    ///         rules.consecutive_failures = 2;
    ///         rules.slow_threshold = Some(Duration::from_secs(30));
    ///     })
    ///     .alert_rules_for("flaky_probe", |rules| {
    ///         rules.disabled.insert(AlertRule::HighErrorRate);
    ///     });
    /// # drop(builder);
    /// ```
    pub fn alert_rules_for(
        mut self,
        function: impl Into<String>,
        adjust: impl FnOnce(&mut AlertRules) + Send + 'static,
    ) -> Self {
        self.alerts
            .per_function
            .push((function.into(), Box::new(adjust)));
        self
    }

    /// How long one notifier call may take before it counts as blocked
    /// (default 5 s): [`flush`](crate::MonitorGuard::flush) waits at most
    /// this long for the notifiers, and stops waiting for a notifier stuck
    /// in one call for longer; each such call is counted and raises the
    /// `notifier_failing` alert.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder().notifier_timeout(std::time::Duration::from_secs(1));
    /// # drop(builder);
    /// ```
    pub fn notifier_timeout(mut self, timeout: Duration) -> Self {
        self.alerts.notifier_timeout = timeout;
        self
    }

    /// Whether every alert notification is also emitted as a `tracing`
    /// event with target `monitor::alert` (default: on). Firing alerts are
    /// emitted at the level of their severity (`info`, `warn`, `error`),
    /// resolved ones at `info`, with the fields `rule`, `function`, `state`,
    /// `severity` and `reminder`, and `execution_id` when the notice names
    /// an execution ([`Alert::execution_id`]).
    ///
    /// A host that prints its `tracing` events (a `fmt` layer) *and* prints
    /// alerts in [`on_alert`](Self::on_alert) sees each alert twice: turn one
    /// of them off. The alerts log and the other notifiers are unaffected.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder()
    ///     .on_alert(|alert: &monitor_core::Alert| eprintln!("{alert}"))
    ///     .alert_tracing_events(false);
    /// # drop(builder);
    /// ```
    pub fn alert_tracing_events(mut self, enabled: bool) -> Self {
        self.alerts.tracing_events = enabled;
        self
    }
}
