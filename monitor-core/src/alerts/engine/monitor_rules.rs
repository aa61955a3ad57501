//! The rules about the monitor itself: taking up its counters, when each
//! condition holds, and what an episode forgets once it resolved.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::per_rule::{MonitorRule, PerMonitorRule};
use super::MonitorAlerts;
use crate::alerts::health::HealthInputs;
use crate::alerts::rules::AlertRules;
use crate::alerts::size_cap;
use crate::alerts::state::elapsed;

impl MonitorAlerts {
    /// Takes up the monitor's own counters as of `now`.
    pub(super) fn update(&mut self, inputs: &HealthInputs, rules: &AlertRules, now: SystemTime) {
        self.dropped.update(inputs.dropped_total, now);
        self.restarts.update(inputs.restarts, now);
        self.sink_panics.update(inputs.sink_panics, now);
        let notifier_total: u64 = inputs.notifiers.iter().map(|n| n.failures).sum();
        for notifier in &inputs.notifiers {
            let seen = match self.notifier_seen.get_mut(&notifier.name) {
                Some(seen) => seen,
                None => self
                    .notifier_seen
                    .entry(Arc::clone(&notifier.name))
                    .or_default(),
            };
            if notifier.failures > *seen {
                self.failing_notifiers.insert(Arc::clone(&notifier.name));
            }
            *seen = notifier.failures;
        }
        self.notifier_failures.update(notifier_total, now);
        self.size_cap.update(inputs.deleted_for_size, now);
        if inputs.queue_fill > rules.queue_fill_threshold {
            self.last_queue_full = Some(now);
            self.peak_queue_fill = self.peak_queue_fill.max(inputs.queue_fill);
        }
        self.components.clone_from(&inputs.components);
        self.memory.update(inputs.latest_rss, rules);
    }

    /// Whether each monitor rule's condition holds at `now`.
    pub(super) fn conditions(
        &self,
        rules: &AlertRules,
        window: Duration,
        now: SystemTime,
    ) -> PerMonitorRule<bool> {
        PerMonitorRule::from_fn(|rule| match rule {
            MonitorRule::DroppedExecutions => self.dropped.recent(now, window),
            MonitorRule::SinkFailing => {
                self.components.iter().any(|c| c.failing) || self.sink_panics.recent(now, window)
            }
            MonitorRule::CollectorRestarted => self.restarts.recent(now, window),
            MonitorRule::QueueFull => self
                .last_queue_full
                .is_some_and(|time| elapsed(time, now) < window),
            MonitorRule::NotifierFailing => self.notifier_failures.recent(now, window),
            MonitorRule::LogSizeCap => self.size_cap.recent(now, size_cap::PERIOD),
            MonitorRule::MemoryHigh => self.memory.above(rules.memory_threshold),
            MonitorRule::MemoryGrowth => self.memory.growing(rules.memory_growth.as_ref()),
        })
    }

    /// Forgets what the episode of `rule` counted, once it resolved.
    pub(super) fn end_episode(&mut self, rule: MonitorRule) {
        match rule {
            MonitorRule::DroppedExecutions => self.dropped.in_episode = 0,
            MonitorRule::SinkFailing => self.sink_panics.in_episode = 0,
            MonitorRule::CollectorRestarted => self.restarts.in_episode = 0,
            MonitorRule::QueueFull => self.peak_queue_fill = 0.0,
            MonitorRule::LogSizeCap => self.size_cap.in_episode = 0,
            MonitorRule::MemoryHigh => self.memory.peak_in_episode = 0,
            MonitorRule::MemoryGrowth => {}
            MonitorRule::NotifierFailing => {
                self.notifier_failures.in_episode = 0;
                self.failing_notifiers.clear();
            }
        }
    }
}
