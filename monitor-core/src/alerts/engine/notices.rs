//! The wording of the alert engine's notices and health reasons: what a
//! notification says when a rule fires, reminds or resolves, and the one-line
//! reasons [`health`](crate::health) gives. A child of the engine so that it
//! reads the engine's private per-function state as it is. The notices
//! about the monitor itself are in [`monitor_notices`](super::monitor_notices).

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::per_rule::FunctionRule;
use super::{FunctionAlerts, NewPattern};
use crate::alerts::rules::AlertRules;
use crate::alerts::state::{elapsed, Transition};
use crate::alerts::text;
use crate::alerts::types::{Alert, AlertRule, AlertState};
use crate::alerts::window::Counts;
use crate::execution_id::ExecutionId;

/// A notice's message, and the numbers it carries.
pub(super) type Wording = (String, Vec<(&'static str, f64)>);
use crate::stats::FunctionRecord;
use crate::timestamp::Timestamp;

/// Why a function is not green.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum FunctionReason {
    /// This rule fires with a severity above `info`.
    Firing(FunctionRule),
    /// Its success rate over the window is below `health_success_rate`.
    LowSuccessRate(f64),
}

impl FunctionReason {
    pub(super) fn text(
        self,
        record: &FunctionRecord,
        state: &FunctionAlerts,
        now: SystemTime,
    ) -> String {
        match self {
            FunctionReason::Firing(rule) => function_reason(rule, record, state, now),
            FunctionReason::LowSuccessRate(success) => format!(
                "{} success rate {} < {} (last {})",
                record.name,
                text::percent(success),
                text::percent(state.rules.health_success_rate),
                text::duration(state.rules.window)
            ),
        }
    }
}

pub(super) fn make_alert(
    rule: AlertRule,
    function: Option<&str>,
    rules: &AlertRules,
    transition: Transition,
    now: SystemTime,
    message: String,
    numbers: Vec<(&'static str, f64)>,
) -> Alert {
    let (state, since, reminder) = match transition {
        Transition::Fired { since } => (AlertState::Firing, since, false),
        Transition::Reminder { since } => (AlertState::Firing, since, true),
        Transition::Resolved { since } => (AlertState::Resolved, since, false),
    };
    Alert {
        time: Timestamp(now),
        rule,
        function: function.map(str::to_owned),
        execution_id: None,
        state,
        severity: rules.severity_of(rule),
        // Names and error messages come from the host: the message goes to
        // terminals (a `tracing` fmt layer, `on_alert` printing it) as is.
        message: text::printable_owned(message),
        since: Timestamp(since),
        reminder,
        numbers: numbers
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect::<BTreeMap<_, _>>(),
        episode: None,
        acknowledged: None,
    }
}

/// `3 errors in the last 7 executions`, `1 error in the last 1 execution`.
fn in_the_last(failures: u64, executions: u64) -> String {
    format!(
        "{} in the last {}",
        text::count(failures, "error", "errors"),
        text::count(executions, "execution", "executions")
    )
}

fn last_error_clause(record: &FunctionRecord) -> String {
    record
        .last_error
        .as_ref()
        .map_or_else(String::new, |error| {
            format!(", last error {}: {}", error.error_type, error.message)
        })
}

fn suggestion(record: &FunctionRecord) -> &'static str {
    let error = record.last_error.as_ref();
    text::suggestion(
        error.map(|e| e.error_type.as_str()),
        error.map(|e| e.message.as_str()),
    )
}

pub(super) fn function_alert(
    rule: FunctionRule,
    transition: Transition,
    record: &FunctionRecord,
    state: &FunctionAlerts,
    rules: &AlertRules,
    now: SystemTime,
) -> Alert {
    let name: &str = &record.name;
    let counts = state.window.counts();
    let rate = if counts.executions == 0 {
        0.0
    } else {
        counts.failures as f64 / counts.executions as f64
    };
    let window = text::duration(rules.window);
    let resolved = matches!(transition, Transition::Resolved { .. });
    let since = match transition {
        Transition::Fired { since }
        | Transition::Reminder { since }
        | Transition::Resolved { since } => since,
    };
    let lasted = text::duration(elapsed(since, now));
    let window_numbers = [
        ("failures", counts.failures as f64),
        ("executions", counts.executions as f64),
        ("error_rate", rate),
        ("window_secs", rules.window.as_secs_f64()),
    ];
    let notice = FunctionNotice {
        name,
        counts,
        rate,
        window: &window,
        resolved,
        since,
        lasted: &lasted,
        window_numbers,
        transition,
        record,
        state,
        rules,
        now,
    };
    let (message, numbers) = match rule {
        FunctionRule::HighErrorRate => notice.high_error_rate(),
        FunctionRule::ConsecutiveFailures => notice.consecutive_failures(),
        FunctionRule::SlowExecution => notice.slow_execution(),
        FunctionRule::MissedSchedule => notice.missed_schedule(),
        FunctionRule::NewErrorPattern => notice.new_error_pattern(),
        FunctionRule::StuckExecution => notice.stuck_execution(),
    };
    let mut alert = make_alert(
        rule.rule(),
        Some(name),
        rules,
        transition,
        now,
        message,
        numbers,
    );
    alert.execution_id = example_execution(rule, transition, record, state);
    alert
}

/// The execution a notice names as its example (see [`Alert::execution_id`]).
fn example_execution(
    rule: FunctionRule,
    transition: Transition,
    record: &FunctionRecord,
    state: &FunctionAlerts,
) -> Option<ExecutionId> {
    let reminder = match transition {
        Transition::Resolved { .. } => return None,
        Transition::Fired { .. } => false,
        Transition::Reminder { .. } => true,
    };
    match rule {
        FunctionRule::HighErrorRate | FunctionRule::ConsecutiveFailures => record
            .last_error
            .as_ref()
            .and_then(|error| error.execution_id),
        FunctionRule::SlowExecution => state.last_slow_id,
        FunctionRule::MissedSchedule => None,
        FunctionRule::StuckExecution => state.stuck.as_ref().and_then(|s| s.ids.first().copied()),
        // The latest of the patterns the notice lists (as `new_error_pattern` lists them).
        FunctionRule::NewErrorPattern => state
            .new_patterns
            .iter()
            .filter(|pattern| reminder || !pattern.announced)
            .filter_map(|pattern| pattern.id)
            .next_back(),
    }
}

#[derive(Clone, Copy)]
struct FunctionNotice<'a> {
    name: &'a str,
    counts: Counts,
    rate: f64,
    window: &'a str,
    resolved: bool,
    since: SystemTime,
    lasted: &'a str,
    window_numbers: [(&'static str, f64); 4],
    transition: Transition,
    record: &'a FunctionRecord,
    state: &'a FunctionAlerts,
    rules: &'a AlertRules,
    now: SystemTime,
}

impl FunctionNotice<'_> {
    /// The wording of `high_error_rate`.
    fn high_error_rate(self) -> Wording {
        let FunctionNotice {
            name,
            counts,
            rate,
            window,
            resolved,
            since,
            lasted,
            window_numbers,
            record,
            rules,
            ..
        } = self;
        let mut numbers = window_numbers.to_vec();
        numbers.push(("threshold", rules.error_rate_threshold));
        numbers.push(("min_executions", rules.error_rate_min_executions as f64));
        let message = if resolved {
            format!(
                "{name}: error rate back to {} ({} within {window}); it was above {} since {} ({lasted}).",
                text::percent(rate),
                in_the_last(counts.failures, counts.executions),
                text::percent(rules.error_rate_threshold),
                text::time(since),
            )
        } else {
            format!(
                "{name}: {} ({}) within {window}, above {} since {}{}. Status degraded. Suggest: {}.",
                in_the_last(counts.failures, counts.executions),
                text::percent(rate),
                text::percent(rules.error_rate_threshold),
                text::time(since),
                last_error_clause(record),
                suggestion(record),
            )
        };
        (message, numbers)
    }

    /// The wording of `consecutive_failures`.
    fn consecutive_failures(self) -> Wording {
        let FunctionNotice {
            name,
            counts,
            rate,
            window,
            resolved,
            since,
            lasted,
            window_numbers,
            record,
            state,
            rules,
            ..
        } = self;
        let streak = if resolved {
            state.peak_streak
        } else {
            record.consecutive_failures.max(state.peak_streak)
        };
        let mut numbers = window_numbers.to_vec();
        numbers.push(("consecutive_failures", streak as f64));
        numbers.push(("threshold", rules.consecutive_failures as f64));
        let message = if resolved {
            format!(
                "{name}: succeeded again after {} in a row (failing since {}, for {lasted}).",
                text::count(streak, "failure", "failures"),
                text::time(since)
            )
        } else {
            format!(
                "{name}: {} in a row since {} ({}, {}, within {window}){}. Status error. Suggest: {}.",
                text::count(streak, "failure", "failures"),
                text::time(since),
                in_the_last(counts.failures, counts.executions),
                text::percent(rate),
                last_error_clause(record),
                suggestion(record),
            )
        };
        (message, numbers)
    }

    /// The wording of `slow_execution`.
    fn slow_execution(self) -> Wording {
        let FunctionNotice {
            name,
            counts,
            window,
            resolved,
            since,
            record,
            state,
            rules,
            ..
        } = self;
        let threshold = record
            .slow_threshold
            .or(rules.slow_threshold)
            .unwrap_or_default();
        let max = state
            .window
            .max_slow()
            .or(state.last_slow.map(|(_, d)| d))
            .unwrap_or_default();
        let numbers = vec![
            ("slow_executions", counts.slow as f64),
            ("executions", counts.executions as f64),
            ("threshold_ms", threshold.as_nanos() as f64 / 1e6),
            ("max_ms", max.as_nanos() as f64 / 1e6),
            ("window_secs", rules.window.as_secs_f64()),
        ];
        let message = if resolved {
            format!(
                "{name}: no execution slower than {} in the last {window} (slow executions since {}).",
                text::duration(threshold),
                text::time(since)
            )
        } else {
            let latest = state
                .last_slow
                .map_or_else(String::new, |(time, duration)| {
                    format!(
                        ", latest {} at {}",
                        text::duration(duration),
                        text::time(time)
                    )
                });
            format!(
                "{name}: {} of {} slower than {} in the last {window}, slowest {}{latest}. Suggest: look at what it waits on (I/O, locks, the services it calls), or raise its `slow` threshold.",
                counts.slow,
                text::count(counts.executions, "execution", "executions"),
                text::duration(threshold),
                text::duration(max),
            )
        };
        (message, numbers)
    }

    /// The wording of `missed_schedule`.
    fn missed_schedule(self) -> Wording {
        let FunctionNotice {
            name,
            resolved,
            since,
            record,
            rules,
            now,
            ..
        } = self;
        let every = record.every;
        let last_run = record.last_execution.map(|(time, _)| time);
        let due = record.next_scheduled.unwrap_or(since);
        let overdue = elapsed(due, now);
        let grace = every.map_or(rules.schedule_grace, |every| {
            rules.schedule_grace_for(every)
        });
        let mut numbers = vec![
            ("grace_secs", grace.as_secs_f64()),
            ("overdue_secs", overdue.as_secs_f64()),
        ];
        if let Some(every) = every {
            numbers.push(("every_secs", every.as_secs_f64()));
        }
        let message = if resolved {
            format!(
                "{name}: ran again{} after missing its schedule (it was due {}).",
                last_run.map_or_else(String::new, |time| format!(" at {}", text::time(time))),
                text::time(since)
            )
        } else {
            format!(
                "{name}: did not run when due: declared every {}, last run {}, due {}, now {} overdue (grace {}). Suggest: check that whatever runs it (scheduler, timer task, cron) is alive.",
                every.map_or_else(|| "?".to_owned(), text::duration),
                last_run.map_or_else(|| "never".to_owned(), text::time),
                text::time(due),
                text::duration(overdue),
                text::duration(grace),
            )
        };
        (message, numbers)
    }

    /// The wording of `stuck_execution`.
    fn stuck_execution(self) -> Wording {
        let FunctionNotice {
            name,
            resolved,
            since,
            state,
            ..
        } = self;
        let threshold = state
            .stuck
            .as_ref()
            .map_or(state.stuck_threshold, |stuck| stuck.threshold);
        let mut numbers = vec![("threshold_ms", threshold.as_nanos() as f64 / 1e6)];
        let message = match (&state.stuck, resolved) {
            (Some(stuck), false) => {
                numbers.push(("stuck", stuck.ids.len() as f64));
                numbers.push((
                    "oldest_elapsed_ms",
                    stuck.oldest_elapsed.as_nanos() as f64 / 1e6,
                ));
                let others = match stuck.ids.len() {
                    1 => String::new(),
                    n => format!(" ({n} executions are stuck)"),
                };
                format!(
                    "{name}: execution {} has been running for {} (since {}, thread {}), longer than its {} threshold{others}. Suggest: look at what it waits on (a lock, a request without timeout, a retry loop); it is still running.",
                    stuck.ids[0],
                    text::duration(stuck.oldest_elapsed),
                    text::time(stuck.oldest_started),
                    stuck.oldest_thread,
                    text::duration(threshold),
                )
            }
            _ => {
                numbers.push(("stuck", 0.0));
                numbers.push(("ended", state.stuck_ended.len() as f64));
                let ended: Vec<String> = state
                    .stuck_ended
                    .iter()
                    .map(|ended| {
                        format!(
                            "{} ended after {} ({})",
                            ended.id,
                            text::duration(ended.duration),
                            ended.status.as_str()
                        )
                    })
                    .collect();
                if let Some(last) = state.stuck_ended.last() {
                    numbers.push(("duration_ms", last.duration.as_nanos() as f64 / 1e6));
                }
                let how = if ended.is_empty() {
                    // Nothing ended that was seen stuck: its threshold was
                    // raised (set_alert_rules), or its end was not recorded.
                    "none is past its threshold now".to_owned()
                } else {
                    ended.join(", ")
                };
                format!(
                    "{name}: no execution stuck any more (stuck since {}): {how}.",
                    text::time(since)
                )
            }
        };
        (message, numbers)
    }

    /// The wording of `new_error_pattern`.
    fn new_error_pattern(self) -> Wording {
        let FunctionNotice {
            name,
            window,
            resolved,
            since,
            transition,
            record,
            state,
            rules,
            ..
        } = self;
        let in_window = state.new_patterns.len() as f64;
        let reminder = matches!(transition, Transition::Reminder { .. });
        // A firing notice names the patterns no notice named yet (each
        // with its own first-seen time; `since` is the first of them); a
        // reminder names every new pattern in the window.
        let listed: Vec<&NewPattern> = state
            .new_patterns
            .iter()
            .filter(|pattern| reminder || !pattern.announced)
            .collect();
        let unlisted = if reminder { 0 } else { state.unlisted_patterns };
        let named = if resolved {
            state.new_patterns_in_episode.max(1)
        } else {
            listed.len() as u64 + unlisted
        };
        let numbers = vec![
            ("new_patterns", named as f64),
            ("new_patterns_in_window", in_window),
            ("window_secs", rules.window.as_secs_f64()),
        ];
        let message = if resolved {
            format!(
                "{name}: no new error pattern in the last {window} ({} since {}).",
                text::count(named, "new pattern", "new patterns"),
                text::time(since)
            )
        } else {
            let list = listed
                .iter()
                .map(|pattern| {
                    format!(
                        "{} (first seen {})",
                        pattern.description,
                        text::time(pattern.time)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let more = if unlisted > 0 {
                format!("; and {unlisted} more not listed")
            } else {
                String::new()
            };
            let head = match (reminder, listed.len()) {
                (true, _) => format!(
                    "{name}: new error patterns since {}; in the last {window}: ",
                    text::time(since)
                ),
                (false, 1) => format!("{name}: new error pattern "),
                (false, n) => format!("{name}: {n} new error patterns: "),
            };
            format!("{head}{list}{more}. Suggest: {}.", suggestion(record))
        };
        (message, numbers)
    }
}

fn function_reason(
    rule: FunctionRule,
    record: &FunctionRecord,
    state: &FunctionAlerts,
    now: SystemTime,
) -> String {
    let name = &record.name;
    let counts = state.window.counts();
    let window = text::duration(state.rules.window);
    match rule {
        FunctionRule::HighErrorRate => format!(
            "{name}: {} of the last {} failed ({}, last {window})",
            counts.failures,
            text::count(counts.executions, "execution", "executions"),
            text::percent(counts.failures as f64 / counts.executions.max(1) as f64)
        ),
        FunctionRule::ConsecutiveFailures => format!(
            "{name}: {} in a row",
            text::count(
                record.consecutive_failures.max(state.peak_streak),
                "failure",
                "failures"
            )
        ),
        FunctionRule::SlowExecution => format!(
            "{name}: {} in the last {window}",
            text::count(counts.slow, "slow execution", "slow executions")
        ),
        FunctionRule::MissedSchedule => {
            let due = record.next_scheduled.unwrap_or(now);
            format!(
                "{name}: missed its schedule (due {}, {} overdue)",
                text::time(due),
                text::duration(elapsed(due, now))
            )
        }
        FunctionRule::NewErrorPattern => format!("{name}: new error pattern"),
        FunctionRule::StuckExecution => match &state.stuck {
            Some(stuck) => format!(
                "{name}: {} (running longer than {}), the oldest for {}",
                text::count(
                    stuck.ids.len() as u64,
                    "stuck execution",
                    "stuck executions"
                ),
                text::duration(stuck.threshold),
                text::duration(stuck.oldest_elapsed)
            ),
            None => format!("{name}: stuck execution"),
        },
    }
}
