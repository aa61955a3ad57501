//! Alerts: rules evaluated on the collector thread, a state machine per
//! (rule, function) pair, throttled notifications, and the health verdict.
//!
//! * [`engine`] — plain logic: the collector feeds it every execution and
//!   asks it, after each batch and on each tick, which notifications to send.
//! * [`notify`] — the [`Notifier`] trait and the dispatcher that runs each
//!   notifier on its own `monitor-notifier-N` thread behind a bounded channel.
//! * [`Alerting`] — what the collector owns: the engine, the alerts log
//!   (`<log_dir>/alerts/current_alerts.log`) and the dispatcher.
//!
//! # The alerts log
//!
//! One JSON object per line, one line per notification (fired, reminder,
//! resolved), rotated daily to `YYYY-MM-DD_alerts.log`, kept 90 days:
//!
//! | field | meaning |
//! |---|---|
//! | `timestamp` | when the notification was made (RFC 3339 UTC, µs) |
//! | `rule` | `high_error_rate`, `consecutive_failures`, `slow_execution`, `missed_schedule`, `new_error_pattern`, `dropped_executions`, `sink_failing`, `collector_restarted`, `queue_full`, `notifier_failing`, `log_size_cap`, `memory_high`, `memory_growth`, `stuck_execution` |
//! | `function` | the function's name, or `null` for the monitor's own rules |
//! | `state` | `firing` or `resolved` |
//! | `severity` | `info`, `warning`, `error` or `critical` |
//! | `message` | what happened, where, the numbers, since when, a suggested action |
//! | `since` | when the condition started (RFC 3339 UTC) |
//! | `reminder` | `true` for the reminder sent once per repeat interval while firing |
//! | `numbers` | the numbers behind the message (`failures`, `executions`, `error_rate`, `window_secs`, …) |
//! | `episode` | the firing episode: one id per start of firing of a (rule, function) pair, shared by its reminders and its resolution |
//! | `acknowledged` | `{"by", "note", "at"}` once the episode was acknowledged (absent before) |

mod config;
pub(crate) mod engine;
mod episodes;
mod errors;
mod health;
mod history;
pub(crate) mod notify;
mod rules;
mod size_cap;
mod state;
mod stored_time;
pub(crate) mod text;
mod types;
#[cfg(feature = "webhook")]
mod webhook;
mod window;

pub use errors::AlertsError;
pub use health::{Health, Verdict};
pub use history::{AlertQuery, Alerts};
pub use notify::Notifier;
pub use rules::{AlertRules, AlertRulesInUse, MemoryGrowth};
pub use types::{Acknowledgement, Alert, AlertRule, AlertState, Severity};
#[cfg(feature = "webhook")]
pub use webhook::WebhookNotifier;

pub(crate) use config::{AlertsConfig, PreparedAlerts};
pub(crate) use engine::{AlertEngine, ExecutionFacts, Notable};
pub(crate) use health::{ComponentHealth, HealthInputs};
pub(crate) use history::{
    acknowledge_in_store, read as read_history, read_firing, stored_acknowledgements,
};

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use monitor_sinks::rotating::RotatingLog;
use parking_lot::Mutex;

use monitor_sinks::stats_store::{AlertHistoryRow, EpisodeRow, EpisodeWrite};
use notify::{Dispatcher, Progress};

use episodes::Episodes;

use crate::stats::FunctionRecord;

/// What `health()`, the status report and `flush()` read from any thread.
pub(crate) struct AlertsShared {
    published: Mutex<Published>,
    progress: Arc<Progress>,
    /// Notifications not saved to `stats.db` yet, as of the latest save
    /// (a reader merges them with the file's rows).
    unsaved_history: Mutex<Arc<Vec<AlertHistoryRow>>>,
}

#[derive(Default)]
struct Published {
    rules: AlertRulesInUse,
    health: Health,
    firing: Vec<Alert>,
    evaluated_at: Option<Instant>,
}

impl AlertsShared {
    /// The verdict of the latest evaluation, with the collector's lag.
    pub(crate) fn health(&self) -> Health {
        let published = self.published.lock();
        published.health.clone().with_lag(published.evaluated_at)
    }

    /// The rules in use (as of the latest change).
    pub(crate) fn rules(&self) -> AlertRulesInUse {
        self.published.lock().rules.clone()
    }

    /// The latest notification of every rule that fires now.
    pub(crate) fn firing(&self) -> Vec<Alert> {
        self.published.lock().firing.clone()
    }

    /// The notifications not saved yet, as of the latest save.
    pub(crate) fn unsaved_history(&self) -> Arc<Vec<AlertHistoryRow>> {
        Arc::clone(&self.unsaved_history.lock())
    }

    /// Publishes the notifications not saved yet.
    pub(crate) fn set_unsaved_history(&self, rows: Vec<AlertHistoryRow>) {
        *self.unsaved_history.lock() = Arc::new(rows);
    }

    /// Waits (bounded by the notifier timeout) until every notification sent
    /// so far was handed to every notifier and it returned. True when done.
    pub(crate) fn wait_delivered(&self) -> bool {
        self.progress.wait_delivered()
    }
}

/// The collector's alerting: rules, the alerts log, the notifiers.
pub(crate) struct Alerting {
    engine: AlertEngine,
    log: RotatingLog,
    dispatcher: Dispatcher,
    shared: Arc<AlertsShared>,
    line: Vec<u8>,
    episodes: Episodes,
    /// The episodes taken up from the store were compared with the rules
    /// that fire (at the first full evaluation).
    reconciled: bool,
    /// Publish the health and firing alerts at the next evaluation.
    republish: bool,
}

impl Alerting {
    pub(crate) fn new(engine: AlertEngine, log: RotatingLog, dispatcher: Dispatcher) -> Self {
        let (global, per_function) = engine.rules();
        let shared = Arc::new(AlertsShared {
            published: Mutex::new(Published {
                rules: AlertRulesInUse::new(global, per_function),
                ..Published::default()
            }),
            progress: dispatcher.progress(),
            unsaved_history: Mutex::new(Arc::new(Vec::new())),
        });
        Alerting {
            engine,
            log,
            dispatcher,
            shared,
            line: Vec::with_capacity(512),
            episodes: Episodes::new(Vec::new(), 0),
            reconciled: false,
            republish: true,
        }
    }

    /// Continues the episodes the stats store holds: its open episodes
    /// (with their acknowledgements) and its ids.
    pub(crate) fn take_up_episodes(&mut self, open: Vec<EpisodeRow>, max_id: i64) {
        self.episodes = Episodes::new(open, max_id);
    }

    /// Acknowledges the open episode `id` (from this process).
    pub(crate) fn acknowledge(
        &mut self,
        id: u64,
        ack: Acknowledgement,
        functions: &[FunctionRecord],
        now: SystemTime,
    ) -> Result<(), AlertsError> {
        self.episodes.acknowledge(id, ack)?;
        self.apply_acks(functions, now);
        Ok(())
    }

    /// Takes up acknowledgements another process wrote into the store.
    pub(crate) fn take_up_acks(
        &mut self,
        rows: Vec<EpisodeRow>,
        functions: &[FunctionRecord],
        now: SystemTime,
    ) {
        self.episodes.take_up(rows);
        self.apply_acks(functions, now);
    }

    fn apply_acks(&mut self, functions: &[FunctionRecord], now: SystemTime) {
        if let Some(acks) = self.episodes.changed_acks() {
            self.engine.set_acknowledged(acks, functions, now);
            self.publish(true);
        }
    }

    /// Publishes the notifications not saved yet, for in-process readers.
    pub(crate) fn publish_unsaved_history(&self, rows: &[AlertHistoryRow]) {
        self.shared.set_unsaved_history(rows.to_vec());
    }

    /// The notifications and episode changes for the store, taken.
    pub(crate) fn take_staged(&mut self) -> (Vec<AlertHistoryRow>, Vec<EpisodeWrite>) {
        self.episodes.take_staged()
    }

    fn publish(&mut self, all: bool) {
        let mut published = self.shared.published.lock();
        published.evaluated_at = Some(Instant::now());
        if all || self.engine.changed() {
            published.health = self.engine.health().clone();
            published.firing = self.firing();
        }
    }

    /// The state other threads read.
    pub(crate) fn shared(&self) -> Arc<AlertsShared> {
        Arc::clone(&self.shared)
    }

    /// One processed execution (`record`: the function's statistics after
    /// it). Returns whether it was slow (longer than its threshold) or
    /// stuck.
    #[inline]
    pub(crate) fn observe(
        &mut self,
        index: usize,
        record: &FunctionRecord,
        facts: &ExecutionFacts<'_>,
    ) -> Notable {
        self.engine.observe(index, record, facts)
    }

    /// Evaluates the rules (every function when `full`, else those with new
    /// executions), sets function statuses, writes each notification to the
    /// alerts log and hands it to every notifier, and publishes the health.
    pub(crate) fn evaluate(
        &mut self,
        now: SystemTime,
        functions: &mut [FunctionRecord],
        mut inputs: HealthInputs,
        full: bool,
    ) {
        self.dispatcher.check_timeouts();
        let log_health = self.log.health();
        inputs.deleted_for_size += log_health.deleted_for_size;
        inputs
            .components
            .push(ComponentHealth::from_log("alerts log", &log_health));
        inputs.notifiers = self.dispatcher.health();
        let mut alerts = self.engine.evaluate(now, functions, &inputs, full);
        // A reminder of an acknowledged episode is not notified.
        alerts.retain_mut(|alert| self.episodes.assign(alert));
        for alert in &alerts {
            self.line.clear();
            if crate::json::write_value(&mut self.line, alert).is_ok() {
                self.line.push(b'\n');
                self.log.write_line(&self.line, now);
                self.episodes.record(alert, &self.line);
            }
        }
        for alert in alerts {
            self.dispatcher.send(&Arc::new(alert));
        }
        if full && !self.reconciled {
            self.reconciled = true;
            self.episodes.close_stale(&self.engine.firing(), now);
        }
        if let Some(acks) = self.episodes.changed_acks() {
            self.engine.set_acknowledged(acks, functions, now);
            self.republish = true;
        }
        let all = full || std::mem::take(&mut self.republish);
        self.publish(all);
    }

    /// Replaces the global rules, or (`function` given) that function's
    /// whole rule set, from the next evaluation on; the rules are checked
    /// already. Every function's window and rule states are kept.
    pub(crate) fn set_rules(
        &mut self,
        rules: AlertRules,
        function: Option<String>,
        functions: &[FunctionRecord],
    ) {
        let (mut global, mut per_function) = self.engine.rules();
        match function {
            Some(name) => {
                per_function.insert(name, rules);
            }
            None => global = rules,
        }
        self.shared.published.lock().rules =
            AlertRulesInUse::new(global.clone(), per_function.clone());
        self.engine.set_rules(global, per_function, functions);
    }

    /// The `stuck_after` of the rules for the function called `name`.
    pub(crate) fn stuck_after_for(&self, name: &str) -> std::time::Duration {
        self.engine.stuck_after_for(name)
    }

    /// Takes the latest sample of stuck executions (see [`AlertEngine::set_stuck`]).
    pub(crate) fn set_stuck(
        &mut self,
        functions: &[FunctionRecord],
        stuck: std::collections::HashMap<usize, engine::StuckNow>,
    ) {
        self.engine.set_stuck(functions, stuck);
    }

    /// The verdict of the latest evaluation (without the collector's lag).
    pub(crate) fn health(&self) -> Health {
        self.engine.health().clone()
    }

    /// The latest notification of every rule that fires now, each with its
    /// episode and acknowledgement.
    pub(crate) fn firing(&self) -> Vec<Alert> {
        let mut firing = self.engine.firing();
        for alert in &mut firing {
            self.episodes.annotate(alert);
        }
        firing
    }

    /// Refreshes the stored alert state of every function changed since the
    /// stats store last took a copy, so the copy carries it.
    pub(crate) fn store_states(&self, functions: &mut [FunctionRecord]) {
        for (index, function) in functions.iter_mut().enumerate() {
            if function.dirty {
                if let Some(text) = self.engine.stored_state(index) {
                    function.alert_state = Some(text);
                }
            }
        }
    }

    /// Flushes (or, when `sync`, fsyncs) the alerts log.
    pub(crate) fn flush(&mut self, now: SystemTime, sync: bool) {
        if sync {
            self.log.sync(now);
        } else {
            self.log.flush(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Status;
    use monitor_sinks::rotating::LogFileConfig;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn notifications_reach_the_log_and_every_notifier_and_health_is_published() {
        let dir =
            std::env::temp_dir().join(format!("monitor-alerting-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = UNIX_EPOCH + Duration::from_secs(20_000 * 86_400);
        let log = RotatingLog::open(LogFileConfig::alerts(dir.join("alerts")), now).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let notifier: Box<dyn Notifier> = Box::new(notify::FnNotifier(move |alert: &Alert| {
            sink.lock().push(alert.clone())
        }));
        let dispatcher = Dispatcher::start(vec![notifier], Duration::from_secs(5)).unwrap();
        let mut alerting = Alerting::new(
            AlertEngine::new(AlertRules::default(), Default::default()),
            log,
            dispatcher,
        );
        let shared = alerting.shared();
        let mut functions = vec![FunctionRecord::new("job".into(), "call")];
        let failure = crate::capture::Failure {
            error_type: "E".into(),
            message: "boom".into(),
            ..Default::default()
        };
        for _ in 0..5 {
            let id = crate::ExecutionId::from_parts(0, 1, 1, 1);
            let now_text = crate::Timestamp(now).to_string();
            functions[0].observe(Status::Error, 1_000, now, &now_text, id, Some(&failure));
            let facts = ExecutionFacts {
                id,
                status: Status::Error,
                duration: Duration::from_micros(1),
                started: now,
                failure: Some(&failure),
                new_pattern: false,
            };
            alerting.observe(0, &functions[0], &facts);
        }
        alerting.evaluate(now, &mut functions, HealthInputs::default(), true);
        assert!(shared.wait_delivered());
        assert_eq!(seen.lock().len(), 1);
        assert_eq!(functions[0].status, crate::stats::FunctionStatus::Error);
        let health = shared.health();
        assert_eq!(health.verdict, Verdict::Red, "{health}");
        assert_eq!(shared.firing().len(), 1);
        alerting.flush(now, true);
        let text = std::fs::read_to_string(dir.join("alerts/current_alerts.log")).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["rule"], "consecutive_failures");
        assert_eq!(line["function"], "job");
        assert_eq!(line["state"], "firing");
        assert_eq!(line["severity"], "error");
        assert_eq!(line["numbers"]["consecutive_failures"], 5);
        drop(alerting);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
