//! Rule evaluation: plain logic, no threads, no I/O. The collector feeds it
//! every execution ([`AlertEngine::observe`]) and asks it after each batch and
//! on each tick ([`AlertEngine::evaluate`]) which notifications to send; it
//! also sets each function's [`FunctionStatus`] and judges the monitor's health.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::health::{ComponentHealth, Health, HealthInputs, Verdict};
use super::rules::AlertRules;
use super::size_cap;
use super::state::{elapsed, RuleState, Step, Timing, Transition};

use super::types::{Alert, AlertRule, Severity};
use super::window::Window;
use crate::capture::Failure;
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::stats::{FunctionRecord, FunctionStatus};

#[cfg(test)]
use super::types::AlertState;
use function_rules::{function_conditions, function_verdicts, step_function_rule};
use monitor_notices::{monitor_alert, monitor_reason};
use notices::function_alert;
#[cfg(test)]
use per_rule::RuleScope;
use per_rule::{FunctionRule, MonitorRule, PerFunctionRule, PerMonitorRule};

/// New error patterns remembered per function (for the message).
const NEW_PATTERNS_KEPT: usize = 8;
/// Ended stuck executions remembered per episode (for the resolved notice).
const STUCK_ENDED_KEPT: usize = 8;

/// The executions of one function that are stuck now (the collector's
/// latest sample of the running executions).
#[derive(Clone, Debug)]
pub(crate) struct StuckNow {
    /// Their ids, oldest first (never empty).
    pub(crate) ids: Vec<ExecutionId>,
    /// When each started (the monitor's clock), in the same order.
    pub(crate) started: Vec<SystemTime>,
    /// The function's threshold.
    pub(crate) threshold: Duration,
    /// When the oldest started, how long it has run, and its thread.
    pub(crate) oldest_started: SystemTime,
    pub(crate) oldest_elapsed: Duration,
    pub(crate) oldest_thread: String,
}

/// A stuck execution that ended.
#[derive(Clone, Copy, Debug)]
struct StuckEnded {
    id: ExecutionId,
    duration: Duration,
    status: Status,
}

/// The same execution: run, thread and sequence agree (the start time in
/// an id may move with the anchor between a sample and the finished line).
fn same_execution(a: ExecutionId, b: ExecutionId) -> bool {
    a.run() == b.run() && a.thread_number() == b.thread_number() && a.sequence() == b.sequence()
}

/// What the collector knows about one processed execution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExecutionFacts<'a> {
    pub(crate) id: ExecutionId,
    pub(crate) status: Status,
    pub(crate) duration: Duration,
    pub(crate) started: SystemTime,
    pub(crate) failure: Option<&'a Failure>,
    /// `FunctionRecord::observe` saw this error's fingerprint for the first time.
    pub(crate) new_pattern: bool,
}

/// Alert state of one function.
#[derive(Debug)]
struct FunctionAlerts {
    rules: Arc<AlertRules>,
    window: Window,
    /// Start of the current run of failures.
    streak_start: Option<SystemTime>,
    /// Highest run of failures at or above the threshold since the previous
    /// evaluation, so a run that ended inside one batch still fires.
    latched_streak: u64,
    /// Highest run of failures while the rule fires.
    peak_streak: u64,
    /// Start time and duration of the latest slow execution.
    last_slow: Option<(SystemTime, Duration)>,
    /// The id of that execution (`None` if stored by a version without ids).
    last_slow_id: Option<ExecutionId>,
    /// New patterns seen in the window, oldest first.
    new_patterns: VecDeque<NewPattern>,
    /// New patterns pushed out of `new_patterns` (more than
    /// [`NEW_PATTERNS_KEPT`] at once) before a notification named them.
    unlisted_patterns: u64,
    /// New patterns since the rule started firing.
    new_patterns_in_episode: u64,
    /// Its stuck executions at the latest sample (`None`: none).
    stuck: Option<StuckNow>,
    /// The threshold and the most executions stuck at once in the current
    /// episode of `stuck_execution`.
    stuck_threshold: Duration,
    stuck_peak: usize,
    /// Stuck executions that ended in the current episode, oldest first.
    stuck_ended: Vec<StuckEnded>,
    /// Stuck executions that left the running list before their end was
    /// processed (an execution leaves the list before its event is pushed,
    /// so a sample can miss one whose event still waits in its ring): id and
    /// start, the newest [`STUCK_ENDED_KEPT`].
    stuck_vanished: Vec<(ExecutionId, SystemTime)>,
    states: PerFunctionRule<RuleState>,
    /// The latest notification of each rule while it fires.
    last_alerts: PerFunctionRule<Option<Alert>>,
    touched: bool,
}

/// An error pattern the function never produced before.
#[derive(Clone, Debug)]
struct NewPattern {
    /// When it was first seen (the start of the execution that produced it).
    time: SystemTime,
    /// `Type: message` of that first error.
    description: String,
    /// A notification named it already.
    announced: bool,
    /// The execution that produced it (`None` if stored by a version without ids).
    id: Option<ExecutionId>,
}

impl FunctionAlerts {
    /// When the oldest new pattern no notification named yet was first seen.
    fn first_unannounced_pattern(&self) -> Option<SystemTime> {
        self.new_patterns
            .iter()
            .find(|pattern| !pattern.announced)
            .map(|pattern| pattern.time)
    }

    fn mark_patterns_announced(&mut self) {
        for pattern in &mut self.new_patterns {
            pattern.announced = true;
        }
        self.unlisted_patterns = 0;
    }

    fn new(rules: Arc<AlertRules>) -> Self {
        FunctionAlerts {
            window: Window::new(rules.window),
            rules,
            streak_start: None,
            latched_streak: 0,
            peak_streak: 0,
            last_slow: None,
            last_slow_id: None,
            new_patterns: VecDeque::new(),
            unlisted_patterns: 0,
            new_patterns_in_episode: 0,
            stuck: None,
            stuck_threshold: Duration::ZERO,
            stuck_peak: 0,
            stuck_ended: Vec::new(),
            stuck_vanished: Vec::new(),
            states: Default::default(),
            last_alerts: Default::default(),
            touched: false,
        }
    }
}

/// Something that happens now and then (a drop, a restart), as a running total.
#[derive(Debug, Default)]
struct EventTrack {
    seen: u64,
    last: Option<SystemTime>,
    /// Events since the rule started firing (or since the last resolve).
    in_episode: u64,
}

impl EventTrack {
    fn update(&mut self, total: u64, now: SystemTime) {
        if total > self.seen {
            self.in_episode += total - self.seen;
            self.last = Some(now);
        }
        self.seen = total;
    }

    fn recent(&self, now: SystemTime, window: Duration) -> bool {
        self.last.is_some_and(|last| elapsed(last, now) < window)
    }
}

#[derive(Debug, Default)]
struct MonitorAlerts {
    dropped: EventTrack,
    restarts: EventTrack,
    sink_panics: EventTrack,
    notifier_failures: EventTrack,
    notifier_seen: HashMap<Arc<str>, u64>,
    failing_notifiers: BTreeSet<Arc<str>>,
    last_queue_full: Option<SystemTime>,
    peak_queue_fill: f64,
    components: Vec<ComponentHealth>,
    /// Rotated files deleted early by a log's size cap.
    size_cap: EventTrack,
    /// The resident memory samples, for `memory_high` and `memory_growth`.
    memory: memory::MemoryWatch,
    states: PerMonitorRule<RuleState>,
    /// The latest notification of each rule while it fires.
    last_alerts: PerMonitorRule<Option<Alert>>,
}

/// Evaluates every rule; owned by the collector thread.
#[derive(Debug)]
pub(crate) struct AlertEngine {
    global: Arc<AlertRules>,
    per_function: HashMap<String, Arc<AlertRules>>,
    functions: Vec<Option<FunctionAlerts>>,
    touched: Vec<usize>,
    monitor: MonitorAlerts,
    health: Health,
    /// The latest evaluation changed the state of a pair (notified or not).
    changed: bool,
    /// Who acknowledged the firing episode of each (rule, function) pair
    /// that has one (for the health reasons).
    acknowledged: HashMap<(AlertRule, Option<String>), String>,
}

/// Keeps the executions of `before` that are not in `now`: they ended
/// (or their threshold was raised), and if they ended their event may still
/// be on its way to [`AlertEngine::observe`].
fn remember_vanished(state: &mut FunctionAlerts, before: &StuckNow, now: Option<&StuckNow>) {
    for (&id, &started) in before.ids.iter().zip(&before.started) {
        let still = now.is_some_and(|now| now.ids.iter().any(|&other| same_execution(other, id)));
        if !still {
            if state.stuck_vanished.len() >= STUCK_ENDED_KEPT {
                state.stuck_vanished.remove(0);
            }
            state.stuck_vanished.push((id, started));
        }
    }
}

/// What [`AlertEngine::observe`] noticed about one finished execution
/// beyond its counts. The OTLP exporter keeps such executions whatever its
/// sampling ratio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Notable {
    /// Longer than its slow threshold (the rule on or not).
    pub(crate) slow: bool,
    /// Listed as stuck by the latest sample of the running executions.
    pub(crate) stuck: bool,
}

impl AlertEngine {
    /// An engine with `global` rules, and whole rule sets for the functions
    /// named in `per_function`.
    pub(crate) fn new(global: AlertRules, per_function: HashMap<String, AlertRules>) -> Self {
        AlertEngine {
            global: Arc::new(global),
            per_function: per_function
                .into_iter()
                .map(|(name, rules)| (name, Arc::new(rules)))
                .collect(),
            functions: Vec::new(),
            touched: Vec::new(),
            monitor: MonitorAlerts::default(),
            health: Health::green(),
            changed: false,
            acknowledged: HashMap::new(),
        }
    }

    /// Who acknowledged which firing pair, for the health reasons; judges
    /// the health again with it.
    pub(crate) fn set_acknowledged(
        &mut self,
        acknowledged: HashMap<(AlertRule, Option<String>), String>,
        functions: &[FunctionRecord],
        now: SystemTime,
    ) {
        self.acknowledged = acknowledged;
        self.health = self.judge(functions, now);
    }

    /// Replaces the rules (checked by the caller) from the next evaluation
    /// on. Every function keeps its state: its window's counts (moved into
    /// buckets of the new length if the window changed), its runs of
    /// failures, and each rule's phase, so a rule that fires keeps firing
    /// (with its `since`) if its condition still holds under the new rules,
    /// and resolves at the next evaluation if not.
    pub(crate) fn set_rules(
        &mut self,
        global: AlertRules,
        per_function: HashMap<String, AlertRules>,
        functions: &[FunctionRecord],
    ) {
        self.global = Arc::new(global);
        self.per_function = per_function
            .into_iter()
            .map(|(name, rules)| (name, Arc::new(rules)))
            .collect();
        for (state, record) in self.functions.iter_mut().zip(functions) {
            let Some(state) = state else { continue };
            let rules = self
                .per_function
                .get(&*record.name)
                .map_or_else(|| Arc::clone(&self.global), Arc::clone);
            state.window.resize(rules.window);
            state.rules = rules;
        }
    }

    /// The global rules and the whole rule sets of the functions that have their own.
    pub(crate) fn rules(&self) -> (AlertRules, HashMap<String, AlertRules>) {
        (
            (*self.global).clone(),
            self.per_function
                .iter()
                .map(|(name, rules)| (name.clone(), (**rules).clone()))
                .collect(),
        )
    }

    /// The alert state of the function at `index`; made on first use, from
    /// the state an earlier run stored with its statistics, if any.
    fn function_state(&mut self, index: usize, record: &FunctionRecord) -> &mut FunctionAlerts {
        if index >= self.functions.len() {
            self.functions.resize_with(index + 1, || None);
        }
        let rules = &self.per_function;
        let global = &self.global;
        self.functions[index].get_or_insert_with(|| {
            let rules = rules
                .get(&*record.name)
                .map_or_else(|| Arc::clone(global), Arc::clone);
            let mut state = FunctionAlerts::new(rules);
            if let Some(stored) = record.alert_state.as_deref().and_then(persisted::from_text) {
                state.restore(stored);
            }
            state
        })
    }

    /// The alert state of the function at `index` as text for the stats
    /// store; `None` when the engine has none for it yet.
    pub(crate) fn stored_state(&self, index: usize) -> Option<String> {
        self.functions
            .get(index)?
            .as_ref()
            .and_then(persisted::to_text)
    }

    /// Takes one processed execution into account; `record` is the
    /// function's statistics *after* counting it. No allocation unless the
    /// execution brought a new error pattern.
    ///
    /// Returns what was notable about it: slow (longer than its threshold,
    /// `#[monitored(slow = …)]` else the rules', the rule on or not) or
    /// stuck (listed so by the latest sample of the running executions).
    pub(crate) fn observe(
        &mut self,
        index: usize,
        record: &FunctionRecord,
        facts: &ExecutionFacts<'_>,
    ) -> Notable {
        let mut was_stuck = false;
        if let Some(state) = self.functions.get_mut(index).and_then(Option::as_mut) {
            let listed = state.stuck.as_ref().and_then(|stuck| {
                let position = stuck
                    .ids
                    .iter()
                    .position(|&id| same_execution(id, facts.id))?;
                Some((stuck.ids[position], stuck.started[position]))
            });
            let vanished = || {
                let position = state
                    .stuck_vanished
                    .iter()
                    .position(|&(id, _)| same_execution(id, facts.id))?;
                Some(state.stuck_vanished.remove(position))
            };
            if let Some((id, started)) = listed.or_else(vanished) {
                // How long it ran by the monitor's clock (as its `elapsed`
                // while it ran), at least its measured duration.
                let ended = facts.started.checked_add(facts.duration);
                let ran = ended
                    .and_then(|ended| ended.duration_since(started).ok())
                    .unwrap_or_default()
                    .max(facts.duration);
                if state.stuck_ended.len() >= STUCK_ENDED_KEPT {
                    state.stuck_ended.remove(0);
                }
                state.stuck_ended.push(StuckEnded {
                    id,
                    duration: ran,
                    status: facts.status,
                });
                was_stuck = true;
            }
        }
        if facts.status == Status::Cancelled {
            return Notable {
                slow: false,
                stuck: was_stuck,
            };
        }
        let state = self.function_state(index, record);
        let failed = facts.status.is_failure();
        let over_threshold = record
            .slow_threshold
            .or(state.rules.slow_threshold)
            .is_some_and(|threshold| facts.duration > threshold);
        let slow = (over_threshold && state.rules.is_enabled(AlertRule::SlowExecution))
            .then_some(facts.duration);
        if let Some(duration) = slow {
            state.last_slow = Some((facts.started, duration));
            state.last_slow_id = Some(facts.id);
        }
        state.window.record(
            facts.started,
            failed,
            slow.map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64),
        );
        if failed {
            if record.consecutive_failures <= 1 || state.streak_start.is_none() {
                state.streak_start = Some(facts.started);
            }
            if record.consecutive_failures >= state.rules.consecutive_failures {
                state.latched_streak = state.latched_streak.max(record.consecutive_failures);
            }
            if facts.new_pattern {
                let description = facts.failure.map_or_else(
                    || "an error".to_owned(),
                    |failure| format!("{}: {}", failure.error_type, failure.message),
                );
                if state.new_patterns.len() >= NEW_PATTERNS_KEPT
                    && state.new_patterns.pop_front().is_some_and(|p| !p.announced)
                {
                    state.unlisted_patterns += 1;
                }
                // Rings are drained one after another: keep them in time order.
                let position = state
                    .new_patterns
                    .iter()
                    .rposition(|p| p.time <= facts.started)
                    .map_or(0, |i| i + 1);
                state.new_patterns.insert(
                    position,
                    NewPattern {
                        time: facts.started,
                        description,
                        announced: false,
                        id: Some(facts.id),
                    },
                );
                state.new_patterns_in_episode += 1;
            }
        } else {
            state.streak_start = None;
        }
        if !state.touched {
            state.touched = true;
            self.touched.push(index);
        }
        Notable {
            slow: over_threshold,
            stuck: was_stuck,
        }
    }

    /// The `stuck_after` of the rules for the function called `name`.
    pub(crate) fn stuck_after_for(&self, name: &str) -> Duration {
        self.per_function
            .get(name)
            .unwrap_or(&self.global)
            .stuck_after
    }

    /// Takes the latest sample of the stuck executions, by function index
    /// (every function not in `stuck` has none).
    pub(crate) fn set_stuck(
        &mut self,
        functions: &[FunctionRecord],
        mut stuck: HashMap<usize, StuckNow>,
    ) {
        for (index, state) in self.functions.iter_mut().enumerate() {
            if let Some(state) = state {
                let now = stuck.remove(&index);
                if let Some(before) = state.stuck.take() {
                    remember_vanished(state, &before, now.as_ref());
                }
                state.stuck = now;
            }
        }
        for (index, now) in stuck {
            if let Some(record) = functions.get(index) {
                self.function_state(index, record).stuck = Some(now);
            }
        }
        for state in self.functions.iter_mut().flatten() {
            if let Some(stuck) = &state.stuck {
                state.stuck_threshold = stuck.threshold;
                state.stuck_peak = state.stuck_peak.max(stuck.ids.len());
            }
        }
    }

    /// Evaluates the rules: every function when `full` (the periodic tick),
    /// else only the functions with executions since the previous evaluation
    /// (after a batch); the monitor rules always. Sets each evaluated
    /// function's status and returns the notifications to send, in order.
    pub(crate) fn evaluate(
        &mut self,
        now: SystemTime,
        functions: &mut [FunctionRecord],
        inputs: &HealthInputs,
        full: bool,
    ) -> Vec<Alert> {
        let mut out = Vec::new();
        self.changed = false;
        if full {
            self.touched.clear();
            for (index, record) in functions.iter_mut().enumerate() {
                self.evaluate_function(index, record, now, &mut out);
            }
        } else {
            let touched = std::mem::take(&mut self.touched);
            for &index in &touched {
                if let Some(record) = functions.get_mut(index) {
                    self.evaluate_function(index, record, now, &mut out);
                }
            }
            self.touched = touched;
            self.touched.clear();
        }
        self.evaluate_monitor(now, inputs, &mut out);
        if full || self.changed {
            self.health = self.judge(functions, now);
        }
        out
    }

    /// The verdict as of the latest evaluation that judged it (every tick,
    /// and every evaluation that changed the state of a rule, notified or not).
    pub(crate) fn health(&self) -> &Health {
        &self.health
    }

    /// Whether the latest evaluation changed the state of a rule (started or
    /// stopped firing, or notified), so the health and the firing alerts
    /// should be published again.
    pub(crate) fn changed(&self) -> bool {
        self.changed
    }

    /// The latest notification of every pair that is firing now, functions
    /// first, by name.
    pub(crate) fn firing(&self) -> Vec<Alert> {
        let mut alerts: Vec<Alert> = self
            .functions
            .iter()
            .flatten()
            .flat_map(|state| {
                state
                    .states
                    .iter()
                    .filter(|(_, rule_state)| rule_state.is_firing())
                    .filter_map(|(rule, _)| state.last_alerts.get(rule).clone())
            })
            .collect();
        alerts.sort_by(|a, b| a.function.cmp(&b.function).then(a.rule.cmp(&b.rule)));
        let monitor = &self.monitor;
        alerts.extend(
            monitor
                .states
                .iter()
                .filter(|(_, rule_state)| rule_state.is_firing())
                .filter_map(|(rule, _)| monitor.last_alerts.get(rule).clone()),
        );
        alerts
    }

    /// The state of `rule` for the function at `index` (`None`: inactive).
    #[cfg(test)]
    pub(crate) fn state_of(&self, index: usize, rule: AlertRule) -> Option<AlertState> {
        match RuleScope::of(rule) {
            RuleScope::Function(rule) => self
                .functions
                .get(index)?
                .as_ref()?
                .states
                .get(rule)
                .state(),
            RuleScope::Monitor(rule) => self.monitor.states.get(rule).state(),
        }
    }

    fn evaluate_function(
        &mut self,
        index: usize,
        record: &mut FunctionRecord,
        now: SystemTime,
        out: &mut Vec<Alert>,
    ) {
        let state = self.function_state(index, record);
        state.touched = false;
        let rules = Arc::clone(&state.rules);
        state.window.expire(now);
        state
            .new_patterns
            .retain(|pattern| elapsed(pattern.time, now) < rules.window);
        let conditions = function_conditions(state, record, &rules, now);
        let streak_holds = conditions.consecutive_failures.holds;
        if streak_holds {
            state.peak_streak = state
                .peak_streak
                .max(record.consecutive_failures)
                .max(state.latched_streak);
        }
        state.latched_streak = 0;
        let mut changed = false;
        for (rule, &condition) in conditions.iter() {
            changed |= step_function_rule(state, rule, condition, record, &rules, now, out);
        }
        // A pair that fires since an earlier run has no notification of this
        // run to show in `firing()`: describe it as it stands (not sent).
        for rule in FunctionRule::ALL {
            if let (Some(since), None) = (
                state.states.get(rule).firing_since(),
                state.last_alerts.get(rule),
            ) {
                let transition = Transition::Fired { since };
                let alert = function_alert(rule, transition, record, state, &rules, now);
                *state.last_alerts.get_mut(rule) = Some(alert);
                changed = true;
            }
        }
        if changed {
            // Its new state (a notice, a change of phase) is saved with it.
            record.dirty = true;
        }
        if !state.states.consecutive_failures.is_firing() && !streak_holds {
            state.peak_streak = 0;
        }
        if !state.states.new_error_pattern.is_firing() && state.new_patterns.is_empty() {
            state.new_patterns_in_episode = 0;
        }
        let status = if state.states.consecutive_failures.is_firing() {
            FunctionStatus::Error
        } else if state.states.high_error_rate.is_firing() {
            FunctionStatus::Degraded
        } else {
            FunctionStatus::Active
        };
        if record.status != status {
            record.status = status;
            record.dirty = true;
        }
        record.health = function_verdicts(state)
            .map(|(verdict, _)| verdict)
            .max()
            .unwrap_or(Verdict::Green);
        self.changed |= changed;
    }

    fn evaluate_monitor(&mut self, now: SystemTime, inputs: &HealthInputs, out: &mut Vec<Alert>) {
        let rules = Arc::clone(&self.global);
        let monitor = &mut self.monitor;
        monitor.update(inputs, &rules, now);
        let holds = monitor.conditions(&rules, rules.window, now);
        for (rule, &holds) in holds.iter() {
            let timing = Timing {
                pending_for: rules.pending_for_of(rule.rule()),
                repeat_interval: match rule {
                    MonitorRule::LogSizeCap => rules.repeat_interval.max(size_cap::PERIOD),
                    MonitorRule::DroppedExecutions
                    | MonitorRule::MemoryHigh
                    | MonitorRule::MemoryGrowth
                    | MonitorRule::SinkFailing
                    | MonitorRule::CollectorRestarted
                    | MonitorRule::QueueFull
                    | MonitorRule::NotifierFailing => rules.repeat_interval,
                },
                hold_back_refires: true,
            };
            let holding = rules.is_enabled(rule.rule()) && holds;
            let Some(Step { transition, notify }) =
                monitor.states.get_mut(rule).step(holding, now, now, timing)
            else {
                continue;
            };
            self.changed = true;
            let alert = monitor_alert(rule, transition, monitor, &rules, inputs, now);
            match transition {
                Transition::Resolved { .. } => {
                    *monitor.last_alerts.get_mut(rule) = None;
                    monitor.end_episode(rule);
                }
                Transition::Fired { .. } | Transition::Reminder { .. } => {
                    *monitor.last_alerts.get_mut(rule) = Some(alert.clone());
                }
            }
            if notify {
                out.push(alert);
            }
        }
    }

    /// The verdict, each function's share of it (`record.health`) and the
    /// alerts firing, as the alert states stored with `functions` (their
    /// `alert_state`) say, with the default rules' severities: no rule is
    /// evaluated, so a stopped host's directory reads as it was left. `now`
    /// only dates the texts ("for 5 min").
    /// `acknowledged`: who acknowledged which firing pair (the open
    /// episodes of `stats.db`), for the reasons.
    pub(crate) fn as_saved(
        functions: &mut [FunctionRecord],
        now: SystemTime,
        acknowledged: HashMap<(AlertRule, Option<String>), String>,
    ) -> (Health, Vec<Alert>) {
        let mut engine = AlertEngine::new(AlertRules::default(), HashMap::new());
        engine.acknowledged = acknowledged;
        for (index, record) in functions.iter_mut().enumerate() {
            let state = engine.function_state(index, record);
            let rules = Arc::clone(&state.rules);
            // A saved firing `new_error_pattern` has named its patterns
            // already (`announced`): the notice the host made named them, so
            // this one names every kept pattern, as that notice did.
            for pattern in &mut state.new_patterns {
                pattern.announced = false;
            }
            for rule in FunctionRule::ALL {
                if let Some(since) = state.states.get(rule).firing_since() {
                    let transition = Transition::Fired { since };
                    let alert = function_alert(rule, transition, record, state, &rules, now);
                    *state.last_alerts.get_mut(rule) = Some(alert);
                }
            }
            record.health = function_verdicts(state)
                .map(|(verdict, _)| verdict)
                .max()
                .unwrap_or(Verdict::Green);
        }
        let health = engine.judge(functions, now);
        (health, engine.firing())
    }

    /// Green, yellow or red, with reasons (red ones first).
    fn judge(&self, functions: &[FunctionRecord], now: SystemTime) -> Health {
        let mut reasons: Vec<(Verdict, String)> = Vec::new();
        for (index, state) in self.functions.iter().enumerate() {
            let (Some(state), Some(record)) = (state, functions.get(index)) else {
                continue;
            };
            for (verdict, reason) in function_verdicts(state) {
                let mut text = reason.text(record, state, now);
                if let notices::FunctionReason::Firing(rule) = reason {
                    let key = (rule.rule(), Some(record.name.to_string()));
                    if let Some(by) = self.acknowledged.get(&key) {
                        text.push_str(&format!(" (acknowledged by {by})"));
                    }
                }
                reasons.push((verdict, text));
            }
        }
        let rules = &self.global;
        for (rule, rule_state) in self.monitor.states.iter() {
            if !rule_state.is_firing() {
                continue;
            }
            let verdict = verdict_of(rules.severity_of(rule.rule()));
            if verdict != Verdict::Green {
                let mut text = monitor_reason(rule, &self.monitor, rules);
                if let Some(by) = self.acknowledged.get(&(rule.rule(), None)) {
                    text.push_str(&format!(" (acknowledged by {by})"));
                }
                reasons.push((verdict, text));
            }
        }
        reasons.sort_by_key(|reason| std::cmp::Reverse(reason.0));
        Health {
            verdict: reasons
                .first()
                .map_or(Verdict::Green, |(verdict, _)| *verdict),
            reasons: reasons.into_iter().map(|(_, reason)| reason).collect(),
        }
    }
}

/// The verdict a firing alert of this severity gives.
fn verdict_of(severity: Severity) -> Verdict {
    match severity {
        Severity::Info => Verdict::Green,
        Severity::Warning => Verdict::Yellow,
        Severity::Error | Severity::Critical => Verdict::Red,
    }
}

mod function_rules;
mod memory;
mod monitor_notices;
mod monitor_rules;
mod notices;
pub(super) mod per_rule;
mod persisted;
#[cfg(test)]
mod tests;
