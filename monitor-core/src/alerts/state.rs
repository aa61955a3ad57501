//! The state machine of one (rule, function) pair: inactive → pending →
//! firing → resolved (inactive again), with reminders once per repeat interval,
//! and at most one firing notification per repeat interval however the
//! condition flaps.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::stored_time;

#[cfg(test)]
use super::types::AlertState;

/// `later - earlier`, zero when the clock went backwards.
pub(crate) fn elapsed(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    Inactive,
    /// The condition holds since `held_since` (evaluation time), for less than `for`.
    Pending {
        held_since: SystemTime,
        since: SystemTime,
    },
    /// The condition held for `for`; firing since `since` (notified or not:
    /// see [`RuleState::announced`]).
    Firing { since: SystemTime },
}

/// What a step changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Started firing (or, after a re-fire that was not notified, is
    /// announced as firing once the repeat interval has passed).
    Fired { since: SystemTime },
    /// Still firing, a repeat interval after the previous notification.
    Reminder { since: SystemTime },
    /// Stopped firing.
    Resolved { since: SystemTime },
}

/// A change of state, and whether to notify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) transition: Transition,
    /// False for a re-fire within the repeat interval of the previous firing
    /// notification, and for the resolution of such a re-fire: the state
    /// changes (health and the report follow it) but nobody is told.
    pub(crate) notify: bool,
}

impl Step {
    fn notified(transition: Transition) -> Option<Step> {
        Some(Step {
            transition,
            notify: true,
        })
    }

    fn silent(transition: Transition) -> Option<Step> {
        Some(Step {
            transition,
            notify: false,
        })
    }
}

/// Timings of one rule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) pending_for: Duration,
    pub(crate) repeat_interval: Duration,
    /// Hold back a re-fire within the repeat interval of the previous firing
    /// notification. False for a rule whose every firing is news (a new error
    /// pattern) and whose condition cannot flap faster than its window.
    pub(crate) hold_back_refires: bool,
}

/// The state of one (rule, function) pair.
///
/// Notifications keep two promises, however the condition flaps: they
/// alternate between firing (fired or reminder) and resolved, and at most one
/// firing notification is sent per repeat interval. So the time of the latest
/// firing notification is kept across resolutions: a re-fire within the
/// repeat interval of it is not notified (nor, then, is its resolution), and
/// is notified as firing once the interval has passed if it still fires.
/// ([`Timing::hold_back_refires`] false turns the hold-back off: every
/// re-fire is notified, reminders stay once per interval.)
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleState {
    phase: Phase,
    /// When the latest firing notification was sent, across resolutions.
    last_firing_notice: Option<SystemTime>,
    /// The latest notification said firing (no resolved notice followed it).
    announced: bool,
}

impl RuleState {
    /// Advances the machine. `holds`: the condition now; `since`: when the
    /// condition started (shown in the alert; `now` when unknown).
    pub(crate) fn step(
        &mut self,
        holds: bool,
        since: SystemTime,
        now: SystemTime,
        timing: Timing,
    ) -> Option<Step> {
        match (self.phase, holds) {
            (Phase::Inactive, false) => None,
            (Phase::Inactive, true) => {
                self.phase = Phase::Pending {
                    held_since: now,
                    since,
                };
                self.fire_if_due(now, timing)
            }
            (Phase::Pending { .. }, true) => self.fire_if_due(now, timing),
            (Phase::Pending { .. }, false) => {
                self.phase = Phase::Inactive;
                None
            }
            (Phase::Firing { since }, true) => {
                if !self.may_notify_firing(now, timing) {
                    return None;
                }
                let transition = if self.announced {
                    Transition::Reminder { since }
                } else {
                    // A re-fire that was held back and still fires.
                    Transition::Fired { since }
                };
                self.notify_firing(now);
                Step::notified(transition)
            }
            (Phase::Firing { since }, false) => {
                self.phase = Phase::Inactive;
                let transition = Transition::Resolved { since };
                if self.announced {
                    self.announced = false;
                    Step::notified(transition)
                } else {
                    // Its firing was never notified: the user was last told
                    // "resolved" already.
                    Step::silent(transition)
                }
            }
        }
    }

    fn fire_if_due(&mut self, now: SystemTime, timing: Timing) -> Option<Step> {
        let Phase::Pending { held_since, since } = self.phase else {
            return None;
        };
        if elapsed(held_since, now) < timing.pending_for {
            return None;
        }
        self.phase = Phase::Firing { since };
        let transition = Transition::Fired { since };
        if self.announced {
            // Cannot happen (a notified firing is followed by a notified
            // resolution), but never tell "firing" twice in a row.
            return Step::silent(transition);
        }
        if !timing.hold_back_refires || self.may_notify_firing(now, timing) {
            self.notify_firing(now);
            Step::notified(transition)
        } else {
            Step::silent(transition)
        }
    }

    /// Whether a repeat interval has passed since the latest firing
    /// notification (or there was none).
    fn may_notify_firing(&mut self, now: SystemTime, timing: Timing) -> bool {
        match self.last_firing_notice {
            None => true,
            Some(last) if last > now => {
                // The clock went backwards: count the interval from now, so
                // a jump cannot silence the pair for longer than one interval.
                self.last_firing_notice = Some(now);
                false
            }
            Some(last) => elapsed(last, now) >= timing.repeat_interval,
        }
    }

    fn notify_firing(&mut self, now: SystemTime) {
        self.last_firing_notice = Some(now);
        self.announced = true;
    }

    /// Where the pair stands: `None` when inactive.
    #[cfg(test)]
    pub(crate) fn state(&self) -> Option<AlertState> {
        match self.phase {
            Phase::Inactive => None,
            Phase::Pending { .. } => Some(AlertState::Pending),
            Phase::Firing { .. } => Some(AlertState::Firing),
        }
    }

    pub(crate) fn is_firing(&self) -> bool {
        matches!(self.phase, Phase::Firing { .. })
    }

    /// When the condition of a firing pair started.
    pub(crate) fn firing_since(&self) -> Option<SystemTime> {
        match self.phase {
            Phase::Firing { since } => Some(since),
            _ => None,
        }
    }

    /// What the stats store keeps of this pair; `None` when there is
    /// nothing to keep (inactive, never notified).
    pub(crate) fn to_stored(&self) -> Option<StoredRuleState> {
        let (phase, since, held_since) = match self.phase {
            Phase::Inactive => (StoredPhase::Inactive, None, None),
            Phase::Pending { held_since, since } => {
                (StoredPhase::Pending, Some(since), Some(held_since))
            }
            Phase::Firing { since } => (StoredPhase::Firing, Some(since), None),
        };
        if phase == StoredPhase::Inactive && self.last_firing_notice.is_none() && !self.announced {
            return None;
        }
        Some(StoredRuleState {
            phase,
            since,
            held_since,
            last_notice: self.last_firing_notice,
            announced: self.announced,
        })
    }

    /// The pair as an earlier run left it.
    pub(crate) fn from_stored(stored: &StoredRuleState) -> RuleState {
        let phase = match (stored.phase, stored.since, stored.held_since) {
            (StoredPhase::Firing, Some(since), _) => Phase::Firing { since },
            (StoredPhase::Pending, Some(since), Some(held_since)) => {
                Phase::Pending { held_since, since }
            }
            _ => Phase::Inactive,
        };
        RuleState {
            phase,
            last_firing_notice: stored.last_notice,
            // Announced firing implies a firing phase; a damaged row must
            // not make the next firing silent.
            announced: stored.announced && matches!(phase, Phase::Firing { .. }),
        }
    }
}

/// Where a pair stood, as kept in the stats store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StoredPhase {
    Inactive,
    Pending,
    Firing,
}

/// A [`RuleState`] as kept in the stats store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRuleState {
    /// `inactive`, `pending` or `firing`.
    #[serde(rename = "state")]
    pub(crate) phase: StoredPhase,
    /// When the condition started (pending, firing).
    #[serde(default, with = "stored_time::option")]
    pub(crate) since: Option<SystemTime>,
    /// When it was first seen holding (pending).
    #[serde(default, with = "stored_time::option")]
    pub(crate) held_since: Option<SystemTime>,
    /// The latest firing notification, across resolutions.
    #[serde(default, with = "stored_time::option")]
    pub(crate) last_notice: Option<SystemTime>,
    /// The latest notification said firing.
    #[serde(default)]
    pub(crate) announced: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const HOUR: Duration = Duration::from_secs(3600);
    const SEC: Duration = Duration::from_secs(1);

    fn timing(pending_for: Duration) -> Timing {
        Timing {
            pending_for,
            repeat_interval: HOUR,
            hold_back_refires: true,
        }
    }

    /// Steps and returns what is notified.
    fn told(
        state: &mut RuleState,
        holds: bool,
        since: SystemTime,
        now: SystemTime,
        t: Timing,
    ) -> Option<Transition> {
        state
            .step(holds, since, now, t)
            .filter(|step| step.notify)
            .map(|step| step.transition)
    }

    #[test]
    fn fires_at_once_reminds_per_interval_and_resolves() {
        let t0 = UNIX_EPOCH + HOUR * 1000;
        let mut state = RuleState::default();
        let t = timing(Duration::ZERO);
        assert_eq!(state.step(false, t0, t0, t), None);
        assert_eq!(
            told(&mut state, true, t0, t0, t),
            Some(Transition::Fired { since: t0 })
        );
        assert_eq!(state.state(), Some(AlertState::Firing));
        for minute in 1..60 {
            let now = t0 + Duration::from_secs(60 * minute);
            assert_eq!(state.step(true, now, now, t), None);
        }
        assert_eq!(
            told(&mut state, true, t0, t0 + HOUR, t),
            Some(Transition::Reminder { since: t0 })
        );
        assert_eq!(state.step(true, t0, t0 + HOUR + HOUR / 2, t), None);
        assert_eq!(
            told(&mut state, false, t0, t0 + HOUR * 2, t),
            Some(Transition::Resolved { since: t0 })
        );
        assert_eq!(state.state(), None);
        assert_eq!(state.step(false, t0, t0 + HOUR * 3, t), None);
    }

    #[test]
    fn pending_until_the_for_duration_passed() {
        let t0 = UNIX_EPOCH + HOUR * 1000;
        let t = timing(Duration::from_secs(60));
        let mut state = RuleState::default();
        assert_eq!(state.step(true, t0, t0, t), None);
        assert_eq!(state.state(), Some(AlertState::Pending));
        assert_eq!(state.step(true, t0, t0 + Duration::from_secs(59), t), None);
        let fired = told(&mut state, true, t0, t0 + Duration::from_secs(60), t);
        assert_eq!(fired, Some(Transition::Fired { since: t0 }));
        // A condition that stops while pending resolves silently.
        let mut state = RuleState::default();
        assert_eq!(state.step(true, t0, t0, t), None);
        assert_eq!(state.step(false, t0, t0 + Duration::from_secs(30), t), None);
        assert_eq!(state.state(), None);
    }

    #[test]
    fn a_clock_going_backwards_sends_no_reminder() {
        let t0 = UNIX_EPOCH + HOUR * 1000;
        let mut state = RuleState::default();
        let t = timing(Duration::ZERO);
        state.step(true, t0, t0, t);
        assert_eq!(state.step(true, t0, t0 - HOUR * 5, t), None);
        // The interval then counts from the earlier time.
        assert_eq!(state.step(true, t0, t0 - HOUR * 4 - SEC, t), None);
        assert_eq!(
            told(&mut state, true, t0, t0 - HOUR * 4, t),
            Some(Transition::Reminder { since: t0 })
        );
    }

    #[test]
    fn flapping_notifies_one_firing_and_one_resolved_per_repeat_interval() {
        let t0 = UNIX_EPOCH + HOUR * 1000;
        let t = timing(Duration::ZERO);
        let mut state = RuleState::default();
        let mut notices = Vec::new();
        let mut now = t0;
        for _ in 0..100 {
            for holds in [true, false] {
                let step = state.step(holds, now, now, t).expect("a change each time");
                assert_eq!(state.is_firing(), holds, "the state follows the condition");
                if step.notify {
                    notices.push(step.transition);
                }
            }
            now += SEC;
        }
        assert_eq!(
            notices,
            [
                Transition::Fired { since: t0 },
                Transition::Resolved { since: t0 }
            ]
        );
        // A re-fire held back is announced once the interval has passed...
        let refired = t0 + HOUR - SEC;
        let step = state.step(true, refired, refired, t).unwrap();
        assert!(!step.notify);
        assert_eq!(state.state(), Some(AlertState::Firing));
        assert_eq!(state.step(true, refired, t0 + HOUR - SEC / 2, t), None);
        assert_eq!(
            told(&mut state, true, refired, t0 + HOUR, t),
            Some(Transition::Fired { since: refired })
        );
        // ...then reminded a whole interval later, and its end is notified.
        assert_eq!(state.step(true, refired, t0 + HOUR * 2 - SEC, t), None);
        assert_eq!(
            told(&mut state, true, refired, t0 + HOUR * 2, t),
            Some(Transition::Reminder { since: refired })
        );
        assert_eq!(
            told(&mut state, false, refired, t0 + HOUR * 2 + SEC, t),
            Some(Transition::Resolved { since: refired })
        );
        // A re-fire a whole interval after the latest firing notice is told at once.
        assert_eq!(
            told(&mut state, true, t0 + HOUR * 3, t0 + HOUR * 3, t),
            Some(Transition::Fired {
                since: t0 + HOUR * 3
            })
        );
    }

    #[test]
    fn without_hold_back_every_re_fire_is_notified() {
        let t0 = UNIX_EPOCH + HOUR * 1000;
        let t = Timing {
            hold_back_refires: false,
            ..timing(Duration::ZERO)
        };
        let mut state = RuleState::default();
        for minute in 0..3 {
            let now = t0 + Duration::from_secs(60 * minute);
            assert_eq!(
                told(&mut state, true, now, now, t),
                Some(Transition::Fired { since: now })
            );
            assert_eq!(state.step(true, now, now + SEC, t), None);
            assert_eq!(
                told(&mut state, false, now, now + SEC * 2, t),
                Some(Transition::Resolved { since: now })
            );
        }
    }

    #[test]
    fn a_held_back_re_fire_that_ends_before_the_interval_is_never_notified() {
        let t0 = UNIX_EPOCH + HOUR * 1000;
        let t = timing(Duration::ZERO);
        let mut state = RuleState::default();
        assert!(told(&mut state, true, t0, t0, t).is_some());
        assert!(told(&mut state, false, t0, t0 + SEC, t).is_some());
        let step = state.step(true, t0, t0 + SEC * 2, t).unwrap();
        assert_eq!(
            (step.transition, step.notify),
            (Transition::Fired { since: t0 }, false)
        );
        let step = state.step(false, t0, t0 + SEC * 3, t).unwrap();
        assert_eq!(
            (step.transition, step.notify),
            (Transition::Resolved { since: t0 }, false)
        );
        // Quiet for longer than the interval: nothing to tell.
        assert_eq!(state.step(false, t0, t0 + HOUR * 2, t), None);
    }
}
