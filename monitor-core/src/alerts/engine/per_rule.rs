//! The engine's rules by scope, and one value per rule held in named fields.
//!
//! [`FunctionRule`] and [`MonitorRule`] split [`AlertRule`] into the rules
//! evaluated per function and the monitor's own; [`PerFunctionRule`] and
//! [`PerMonitorRule`] hold one value for each (its state, its latest notice,
//! whether its condition holds). Every lookup is an exhaustive `match`:
//! adding a rule is a compile error wherever it must be handled.

use crate::alerts::types::AlertRule;

/// A rule evaluated for each function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FunctionRule {
    HighErrorRate,
    ConsecutiveFailures,
    SlowExecution,
    MissedSchedule,
    NewErrorPattern,
    StuckExecution,
}

/// A rule about the monitor itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MonitorRule {
    DroppedExecutions,
    SinkFailing,
    CollectorRestarted,
    QueueFull,
    NotifierFailing,
    LogSizeCap,
    MemoryHigh,
    MemoryGrowth,
}

/// Which of the two an [`AlertRule`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleScope {
    Function(FunctionRule),
    Monitor(MonitorRule),
}

impl RuleScope {
    pub(crate) fn of(rule: AlertRule) -> RuleScope {
        use RuleScope::{Function, Monitor};
        match rule {
            AlertRule::HighErrorRate => Function(FunctionRule::HighErrorRate),
            AlertRule::ConsecutiveFailures => Function(FunctionRule::ConsecutiveFailures),
            AlertRule::SlowExecution => Function(FunctionRule::SlowExecution),
            AlertRule::MissedSchedule => Function(FunctionRule::MissedSchedule),
            AlertRule::NewErrorPattern => Function(FunctionRule::NewErrorPattern),
            AlertRule::DroppedExecutions => Monitor(MonitorRule::DroppedExecutions),
            AlertRule::SinkFailing => Monitor(MonitorRule::SinkFailing),
            AlertRule::CollectorRestarted => Monitor(MonitorRule::CollectorRestarted),
            AlertRule::QueueFull => Monitor(MonitorRule::QueueFull),
            AlertRule::NotifierFailing => Monitor(MonitorRule::NotifierFailing),
            AlertRule::LogSizeCap => Monitor(MonitorRule::LogSizeCap),
            AlertRule::MemoryHigh => Monitor(MonitorRule::MemoryHigh),
            AlertRule::MemoryGrowth => Monitor(MonitorRule::MemoryGrowth),
            AlertRule::StuckExecution => Function(FunctionRule::StuckExecution),
        }
    }
}

impl FunctionRule {
    /// Every function rule, in the order the engine evaluates them (and
    /// sends their notices).
    pub(crate) const ALL: [FunctionRule; 6] = [
        FunctionRule::HighErrorRate,
        FunctionRule::ConsecutiveFailures,
        FunctionRule::SlowExecution,
        FunctionRule::MissedSchedule,
        FunctionRule::NewErrorPattern,
        FunctionRule::StuckExecution,
    ];

    pub(crate) fn rule(self) -> AlertRule {
        match self {
            FunctionRule::HighErrorRate => AlertRule::HighErrorRate,
            FunctionRule::ConsecutiveFailures => AlertRule::ConsecutiveFailures,
            FunctionRule::SlowExecution => AlertRule::SlowExecution,
            FunctionRule::MissedSchedule => AlertRule::MissedSchedule,
            FunctionRule::NewErrorPattern => AlertRule::NewErrorPattern,
            FunctionRule::StuckExecution => AlertRule::StuckExecution,
        }
    }
}

impl MonitorRule {
    /// Every monitor rule, in the order the engine evaluates them.
    pub(crate) const ALL: [MonitorRule; 8] = [
        MonitorRule::DroppedExecutions,
        MonitorRule::SinkFailing,
        MonitorRule::CollectorRestarted,
        MonitorRule::QueueFull,
        MonitorRule::NotifierFailing,
        MonitorRule::LogSizeCap,
        MonitorRule::MemoryHigh,
        MonitorRule::MemoryGrowth,
    ];

    pub(crate) fn rule(self) -> AlertRule {
        match self {
            MonitorRule::DroppedExecutions => AlertRule::DroppedExecutions,
            MonitorRule::SinkFailing => AlertRule::SinkFailing,
            MonitorRule::CollectorRestarted => AlertRule::CollectorRestarted,
            MonitorRule::QueueFull => AlertRule::QueueFull,
            MonitorRule::NotifierFailing => AlertRule::NotifierFailing,
            MonitorRule::LogSizeCap => AlertRule::LogSizeCap,
            MonitorRule::MemoryHigh => AlertRule::MemoryHigh,
            MonitorRule::MemoryGrowth => AlertRule::MemoryGrowth,
        }
    }
}

/// One `T` for each function rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PerFunctionRule<T> {
    pub(crate) high_error_rate: T,
    pub(crate) consecutive_failures: T,
    pub(crate) slow_execution: T,
    pub(crate) missed_schedule: T,
    pub(crate) new_error_pattern: T,
    pub(crate) stuck_execution: T,
}

impl<T> PerFunctionRule<T> {
    /// `value(rule)` for each rule, called in [`FunctionRule::ALL`] order.
    pub(crate) fn from_fn(mut value: impl FnMut(FunctionRule) -> T) -> Self {
        PerFunctionRule {
            high_error_rate: value(FunctionRule::HighErrorRate),
            consecutive_failures: value(FunctionRule::ConsecutiveFailures),
            slow_execution: value(FunctionRule::SlowExecution),
            missed_schedule: value(FunctionRule::MissedSchedule),
            new_error_pattern: value(FunctionRule::NewErrorPattern),
            stuck_execution: value(FunctionRule::StuckExecution),
        }
    }

    pub(crate) fn get(&self, rule: FunctionRule) -> &T {
        match rule {
            FunctionRule::HighErrorRate => &self.high_error_rate,
            FunctionRule::ConsecutiveFailures => &self.consecutive_failures,
            FunctionRule::SlowExecution => &self.slow_execution,
            FunctionRule::MissedSchedule => &self.missed_schedule,
            FunctionRule::NewErrorPattern => &self.new_error_pattern,
            FunctionRule::StuckExecution => &self.stuck_execution,
        }
    }

    pub(crate) fn get_mut(&mut self, rule: FunctionRule) -> &mut T {
        match rule {
            FunctionRule::HighErrorRate => &mut self.high_error_rate,
            FunctionRule::ConsecutiveFailures => &mut self.consecutive_failures,
            FunctionRule::SlowExecution => &mut self.slow_execution,
            FunctionRule::MissedSchedule => &mut self.missed_schedule,
            FunctionRule::NewErrorPattern => &mut self.new_error_pattern,
            FunctionRule::StuckExecution => &mut self.stuck_execution,
        }
    }

    /// Each rule with its value, in [`FunctionRule::ALL`] order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (FunctionRule, &T)> + '_ {
        FunctionRule::ALL
            .into_iter()
            .map(|rule| (rule, self.get(rule)))
    }
}

/// One `T` for each monitor rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PerMonitorRule<T> {
    pub(crate) dropped_executions: T,
    pub(crate) sink_failing: T,
    pub(crate) collector_restarted: T,
    pub(crate) queue_full: T,
    pub(crate) notifier_failing: T,
    pub(crate) log_size_cap: T,
    pub(crate) memory_high: T,
    pub(crate) memory_growth: T,
}

impl<T> PerMonitorRule<T> {
    /// `value(rule)` for each rule, called in [`MonitorRule::ALL`] order.
    pub(crate) fn from_fn(mut value: impl FnMut(MonitorRule) -> T) -> Self {
        PerMonitorRule {
            dropped_executions: value(MonitorRule::DroppedExecutions),
            sink_failing: value(MonitorRule::SinkFailing),
            collector_restarted: value(MonitorRule::CollectorRestarted),
            queue_full: value(MonitorRule::QueueFull),
            notifier_failing: value(MonitorRule::NotifierFailing),
            log_size_cap: value(MonitorRule::LogSizeCap),
            memory_high: value(MonitorRule::MemoryHigh),
            memory_growth: value(MonitorRule::MemoryGrowth),
        }
    }

    pub(crate) fn get(&self, rule: MonitorRule) -> &T {
        match rule {
            MonitorRule::DroppedExecutions => &self.dropped_executions,
            MonitorRule::SinkFailing => &self.sink_failing,
            MonitorRule::CollectorRestarted => &self.collector_restarted,
            MonitorRule::QueueFull => &self.queue_full,
            MonitorRule::NotifierFailing => &self.notifier_failing,
            MonitorRule::LogSizeCap => &self.log_size_cap,
            MonitorRule::MemoryHigh => &self.memory_high,
            MonitorRule::MemoryGrowth => &self.memory_growth,
        }
    }

    pub(crate) fn get_mut(&mut self, rule: MonitorRule) -> &mut T {
        match rule {
            MonitorRule::DroppedExecutions => &mut self.dropped_executions,
            MonitorRule::SinkFailing => &mut self.sink_failing,
            MonitorRule::CollectorRestarted => &mut self.collector_restarted,
            MonitorRule::QueueFull => &mut self.queue_full,
            MonitorRule::NotifierFailing => &mut self.notifier_failing,
            MonitorRule::LogSizeCap => &mut self.log_size_cap,
            MonitorRule::MemoryHigh => &mut self.memory_high,
            MonitorRule::MemoryGrowth => &mut self.memory_growth,
        }
    }

    /// Each rule with its value, in [`MonitorRule::ALL`] order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (MonitorRule, &T)> + '_ {
        MonitorRule::ALL
            .into_iter()
            .map(|rule| (rule, self.get(rule)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alert_rule_has_one_scope_and_round_trips() {
        let mut functions = Vec::new();
        let mut monitors = Vec::new();
        for &rule in AlertRule::ALL.iter() {
            match RuleScope::of(rule) {
                RuleScope::Function(f) => {
                    assert_eq!(f.rule(), rule);
                    assert!(rule.is_function_rule());
                    functions.push(f);
                }
                RuleScope::Monitor(m) => {
                    assert_eq!(m.rule(), rule);
                    assert!(!rule.is_function_rule());
                    monitors.push(m);
                }
            }
        }
        // `ALL` lists each rule of its scope once (in evaluation order).
        for f in FunctionRule::ALL {
            assert_eq!(functions.iter().filter(|&&x| x == f).count(), 1);
        }
        for m in MonitorRule::ALL {
            assert_eq!(monitors.iter().filter(|&&x| x == m).count(), 1);
        }
        assert_eq!(functions.len(), FunctionRule::ALL.len());
        assert_eq!(monitors.len(), MonitorRule::ALL.len());
    }

    #[test]
    fn per_rule_get_matches_from_fn_and_iter_order() {
        let values = PerFunctionRule::from_fn(|rule| rule);
        for (rule, value) in values.iter() {
            assert_eq!(*value, rule);
        }
        let order: Vec<FunctionRule> = values.iter().map(|(rule, _)| rule).collect();
        assert_eq!(order, FunctionRule::ALL);
        let mut monitor = PerMonitorRule::from_fn(|rule| rule);
        for rule in MonitorRule::ALL {
            assert_eq!(*monitor.get(rule), rule);
            *monitor.get_mut(rule) = MonitorRule::LogSizeCap;
        }
        assert!(monitor.iter().all(|(_, &v)| v == MonitorRule::LogSizeCap));
    }
}
