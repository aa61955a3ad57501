//! Evaluation of the rules about one function: when each condition holds,
//! one step of a rule's state, and the function's verdict.

use std::time::SystemTime;

use super::notices::{function_alert, FunctionReason};
use super::per_rule::{FunctionRule, PerFunctionRule};
use super::{verdict_of, FunctionAlerts};
use crate::alerts::health::Verdict;
use crate::alerts::rules::AlertRules;
use crate::alerts::state::{Step, Timing, Transition};
use crate::alerts::types::Alert;
use crate::stats::FunctionRecord;

/// Whether a rule's condition holds now, and since when.
#[derive(Clone, Copy, Debug)]
pub(super) struct Condition {
    pub(super) holds: bool,
    pub(super) since: SystemTime,
}

/// The condition of each function rule, for the function's state after its
/// window and patterns were brought up to `now`.
pub(super) fn function_conditions(
    state: &FunctionAlerts,
    record: &FunctionRecord,
    rules: &AlertRules,
    now: SystemTime,
) -> PerFunctionRule<Condition> {
    let counts = state.window.counts();
    let rate = if counts.executions == 0 {
        0.0
    } else {
        counts.failures as f64 / counts.executions as f64
    };
    let grace = record.every.map_or(rules.schedule_grace, |every| {
        rules.schedule_grace_for(every)
    });
    PerFunctionRule::from_fn(|rule| match rule {
        FunctionRule::HighErrorRate => Condition {
            holds: counts.executions > rules.error_rate_min_executions
                && rate > rules.error_rate_threshold,
            since: now,
        },
        FunctionRule::ConsecutiveFailures => Condition {
            holds: record.consecutive_failures >= rules.consecutive_failures
                || state.latched_streak >= rules.consecutive_failures,
            since: state.streak_start.unwrap_or(now),
        },
        FunctionRule::SlowExecution => Condition {
            holds: counts.slow > 0,
            since: state.last_slow.map_or(now, |(time, _)| time),
        },
        FunctionRule::MissedSchedule => Condition {
            // Only for a schedule declared in this process: a `next_scheduled`
            // loaded from the store for a function whose callsite is gone (or
            // no longer says `every`) would otherwise fire forever.
            holds: record.every.is_some()
                && record
                    .next_scheduled
                    .is_some_and(|due| now > due.checked_add(grace).unwrap_or(due)),
            since: record.next_scheduled.unwrap_or(now),
        },
        FunctionRule::StuckExecution => Condition {
            holds: state.stuck.is_some(),
            // It became stuck when the oldest passed its threshold.
            since: state.stuck.as_ref().map_or(now, |stuck| {
                stuck
                    .oldest_started
                    .checked_add(stuck.threshold)
                    .unwrap_or(now)
            }),
        },
        FunctionRule::NewErrorPattern => Condition {
            holds: !state.new_patterns.is_empty(),
            // The patterns the notification will name start here.
            since: state
                .first_unannounced_pattern()
                .or(state.new_patterns.front().map(|p| p.time))
                .unwrap_or(now),
        },
    })
}

/// Steps one function rule; pushes its notice to `out` if it notifies.
/// Returns whether the pair's state changed (notified or not).
pub(super) fn step_function_rule(
    state: &mut FunctionAlerts,
    rule: FunctionRule,
    condition: Condition,
    record: &FunctionRecord,
    rules: &AlertRules,
    now: SystemTime,
    out: &mut Vec<Alert>,
) -> bool {
    let timing = Timing {
        pending_for: rules.pending_for_of(rule.rule()),
        repeat_interval: rules.repeat_interval,
        hold_back_refires: holds_back_refires(rule),
    };
    let holding = rules.is_enabled(rule.rule()) && condition.holds;
    let Some(Step { transition, notify }) =
        state
            .states
            .get_mut(rule)
            .step(holding, condition.since, now, timing)
    else {
        if rule == FunctionRule::NewErrorPattern && state.states.new_error_pattern.is_firing() {
            if let Some(since) = state.first_unannounced_pattern() {
                // Already firing, and another pattern is new: it is news
                // too, named with its own first-seen time.
                let transition = Transition::Fired { since };
                let alert = function_alert(rule, transition, record, state, rules, now);
                *state.last_alerts.get_mut(rule) = Some(alert.clone());
                state.mark_patterns_announced();
                out.push(alert);
                return true;
            }
        }
        return false;
    };
    // Built for a change that is not notified too: `firing()` shows it.
    let alert = function_alert(rule, transition, record, state, rules, now);
    match transition {
        Transition::Resolved { .. } => {
            *state.last_alerts.get_mut(rule) = None;
            match rule {
                FunctionRule::ConsecutiveFailures => state.peak_streak = 0,
                FunctionRule::NewErrorPattern => state.new_patterns_in_episode = 0,
                FunctionRule::StuckExecution => {
                    state.stuck_ended.clear();
                    state.stuck_peak = 0;
                }
                FunctionRule::HighErrorRate
                | FunctionRule::SlowExecution
                | FunctionRule::MissedSchedule => {}
            }
        }
        Transition::Fired { .. } | Transition::Reminder { .. } => {
            *state.last_alerts.get_mut(rule) = Some(alert.clone());
        }
    }
    if notify {
        if rule == FunctionRule::NewErrorPattern {
            state.mark_patterns_announced();
        }
        out.push(alert);
    }
    true
}

/// Whether a rule that resolves and fires again soon after is held back
/// (against flapping).
fn holds_back_refires(rule: FunctionRule) -> bool {
    match rule {
        FunctionRule::HighErrorRate
        | FunctionRule::ConsecutiveFailures
        | FunctionRule::SlowExecution
        | FunctionRule::MissedSchedule => true,
        // Each firing names a pattern never seen before, and the condition
        // holds for a whole window after it: it cannot flap faster than once
        // per window, and holding it back could hide a new pattern for good.
        FunctionRule::NewErrorPattern => false,
        // Each firing is an execution that hangs now: news, and it cannot
        // flap faster than its threshold.
        FunctionRule::StuckExecution => false,
    }
}

/// The one rule for a function's verdict, shared by [`health`](crate::health)
/// (whose reasons these are) and the status report (whose icon is their
/// worst): red or yellow for each firing rule by its severity (`info` ones
/// do not count); yellow when neither failure rule fires but the success
/// rate over the window is below `health_success_rate` with more than
/// `error_rate_min_executions` executions in it. No reason: green.
pub(super) fn function_verdicts(
    state: &FunctionAlerts,
) -> impl Iterator<Item = (Verdict, FunctionReason)> + '_ {
    let rules = &state.rules;
    let firing = state
        .states
        .iter()
        .filter(|(_, rule_state)| rule_state.is_firing())
        .map(|(rule, _)| {
            (
                verdict_of(rules.severity_of(rule.rule())),
                FunctionReason::Firing(rule),
            )
        })
        .filter(|(verdict, _)| *verdict != Verdict::Green);
    let counts = state.window.counts();
    let failing_rules_fire =
        state.states.high_error_rate.is_firing() || state.states.consecutive_failures.is_firing();
    let low = (!failing_rules_fire && counts.executions > rules.error_rate_min_executions)
        .then(|| 1.0 - counts.failures as f64 / counts.executions as f64)
        .filter(|&success| success < rules.health_success_rate)
        .map(|success| (Verdict::Yellow, FunctionReason::LowSuccessRate(success)));
    firing.chain(low)
}
