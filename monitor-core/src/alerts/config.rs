//! The alert settings the builder collects ([`AlertsConfig`]), checked at
//! install and turned into the running [`Alerting`]: the engine, the alerts
//! log and the notifier threads. The builder's setters are in
//! `builder/alerts.rs`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use monitor_sinks::rotating::{LogFileConfig, RotatingLog};

use super::engine::AlertEngine;
use super::notify::{Dispatcher, Notifier, TracingNotifier};
use super::rules::AlertRules;
use super::Alerting;
use crate::install_error::InstallError;

/// A change to one function's rules, made at install.
pub(crate) type Adjust = Box<dyn FnOnce(&mut AlertRules) + Send>;

/// Alert settings collected by the builder (its setters, in
/// `builder/alerts.rs`, fill these fields).
pub(crate) struct AlertsConfig {
    pub(crate) rules: AlertRules,
    pub(crate) per_function: Vec<(String, Adjust)>,
    pub(crate) notifiers: Vec<Box<dyn Notifier>>,
    pub(crate) notifier_timeout: Duration,
    pub(crate) tracing_events: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            rules: AlertRules::default(),
            per_function: Vec::new(),
            notifiers: Vec::new(),
            notifier_timeout: Duration::from_secs(5),
            tracing_events: true,
        }
    }
}

/// Alert settings checked and resolved per function, ready to start.
pub(crate) struct PreparedAlerts {
    rules: AlertRules,
    per_function: HashMap<String, AlertRules>,
    notifiers: Vec<Box<dyn Notifier>>,
    notifier_timeout: Duration,
    tracing_events: bool,
}

impl AlertsConfig {
    /// Applies the per-function adjustments to copies of the global rules
    /// and checks every value.
    pub(crate) fn prepare(self) -> Result<PreparedAlerts, InstallError> {
        let invalid =
            |setting: &'static str, reason: String| InstallError::InvalidConfig { setting, reason };
        let reason = |error: super::AlertsError| match error {
            super::AlertsError::InvalidRules { reason } => reason,
            other => other.to_string(),
        };
        self.rules
            .validate()
            .map_err(|error| invalid("alert_rules", reason(error)))?;
        if self.notifier_timeout.is_zero() {
            return Err(invalid(
                "notifier_timeout",
                "must be longer than zero".into(),
            ));
        }
        let mut per_function: HashMap<String, AlertRules> = HashMap::new();
        for (name, adjust) in self.per_function {
            let rules = per_function
                .entry(name.clone())
                .or_insert_with(|| self.rules.clone());
            adjust(rules);
            rules.validate().map_err(|error| {
                invalid(
                    "alert_rules_for",
                    format!("rules for `{name}`: {}", reason(error)),
                )
            })?;
        }
        Ok(PreparedAlerts {
            rules: self.rules,
            per_function,
            notifiers: self.notifiers,
            notifier_timeout: self.notifier_timeout,
            tracing_events: self.tracing_events,
        })
    }
}

impl PreparedAlerts {
    /// Opens the alerts log (`<log_dir>/alerts/current_alerts.log`) and starts the notifier
    /// threads (the `tracing` one first unless it was turned off, then the
    /// builder's in order).
    pub(crate) fn start(
        self,
        log: LogFileConfig,
        now: SystemTime,
    ) -> Result<Alerting, InstallError> {
        let dir = log.dir.clone();
        let log = RotatingLog::open(log, now)
            .map_err(|source| InstallError::LogDir { path: dir, source })?;
        let mut notifiers: Vec<Box<dyn Notifier>> = Vec::with_capacity(self.notifiers.len() + 1);
        if self.tracing_events {
            notifiers.push(Box::new(TracingNotifier));
        }
        notifiers.extend(self.notifiers);
        let dispatcher =
            Dispatcher::start(notifiers, self.notifier_timeout).map_err(InstallError::Spawn)?;
        Ok(Alerting::new(
            AlertEngine::new(self.rules, self.per_function),
            log,
            dispatcher,
        ))
    }
}
