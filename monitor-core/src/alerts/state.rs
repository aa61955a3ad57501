//! The state machine of one (rule, function) pair: inactive → pending →
//! firing → resolved (inactive again), with reminders once per repeat interval.

use std::time::{Duration, SystemTime};

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
    /// Notified at `last_notified`.
    Firing {
        since: SystemTime,
        last_notified: SystemTime,
    },
}

/// What a step asks to notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Started firing.
    Fired { since: SystemTime },
    /// Still firing, a repeat interval after the previous notification.
    Reminder { since: SystemTime },
    /// Stopped firing.
    Resolved { since: SystemTime },
}

/// Timings of one rule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) pending_for: Duration,
    pub(crate) repeat_interval: Duration,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct RuleState {
    phase: Phase,
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
    ) -> Option<Transition> {
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
            (
                Phase::Firing {
                    since,
                    last_notified,
                },
                true,
            ) => {
                if elapsed(last_notified, now) >= timing.repeat_interval {
                    self.phase = Phase::Firing {
                        since,
                        last_notified: now,
                    };
                    Some(Transition::Reminder { since })
                } else {
                    None
                }
            }
            (Phase::Firing { since, .. }, false) => {
                self.phase = Phase::Inactive;
                Some(Transition::Resolved { since })
            }
        }
    }

    fn fire_if_due(&mut self, now: SystemTime, timing: Timing) -> Option<Transition> {
        let Phase::Pending { held_since, since } = self.phase else {
            return None;
        };
        if elapsed(held_since, now) >= timing.pending_for {
            self.phase = Phase::Firing {
                since,
                last_notified: now,
            };
            Some(Transition::Fired { since })
        } else {
            None
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const HOUR: Duration = Duration::from_secs(3600);

    fn timing(pending_for: Duration) -> Timing {
        Timing {
            pending_for,
            repeat_interval: HOUR,
        }
    }

    #[test]
    fn fires_at_once_reminds_per_interval_and_resolves() {
        let t0 = UNIX_EPOCH + HOUR * 1000;
        let mut state = RuleState::default();
        let t = timing(Duration::ZERO);
        assert_eq!(state.step(false, t0, t0, t), None);
        assert_eq!(
            state.step(true, t0, t0, t),
            Some(Transition::Fired { since: t0 })
        );
        assert_eq!(state.state(), Some(AlertState::Firing));
        for minute in 1..60 {
            let now = t0 + Duration::from_secs(60 * minute);
            assert_eq!(state.step(true, now, now, t), None);
        }
        assert_eq!(
            state.step(true, t0, t0 + HOUR, t),
            Some(Transition::Reminder { since: t0 })
        );
        assert_eq!(state.step(true, t0, t0 + HOUR + HOUR / 2, t), None);
        assert_eq!(
            state.step(false, t0, t0 + HOUR * 2, t),
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
        let fired = state.step(true, t0, t0 + Duration::from_secs(60), t);
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
    }
}
