//! [`AlertsError`]: why a run-time request about alerts (new rules, an
//! acknowledgement, a history query) was refused.

use std::fmt;

/// Why [`set_alert_rules`](crate::set_alert_rules),
/// [`set_alert_rules_for`](crate::set_alert_rules_for),
/// [`acknowledge`](crate::acknowledge) or an alert history query
/// ([`Alerts::history`](crate::Alerts::history)) failed. Nothing was
/// changed.
///
/// ```
/// use monitor_core::{AlertRules, AlertsError};
/// let bad = AlertRules { consecutive_failures: 0, ..AlertRules::default() };
/// let err = bad.validate().unwrap_err();
/// assert!(matches!(err, AlertsError::InvalidRules { .. }));
/// assert!(err.to_string().contains("consecutive_failures"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertsError {
    /// No monitor is installed.
    NotInstalled,
    /// The collector did not answer within the flush timeout (it is stuck
    /// in a sink, say): the request stays queued and is carried out if the
    /// collector gets to it, so read the state back
    /// ([`alert_rules`](crate::alert_rules), the history) before repeating
    /// it. Also the answer to a call from a sink, on the collector's own
    /// thread, which cannot wait for itself: nothing was sent then.
    NoAnswer,
    /// A rule value is out of range; the rules in use did not change.
    InvalidRules {
        /// Which field, and what is wrong with it.
        reason: String,
    },
    /// No alert episode has this id.
    UnknownEpisode(u64),
    /// This episode resolved already: there is nothing left to acknowledge.
    EpisodeResolved(u64),
    /// An acknowledgement whose `by` is empty or blank: it must name who
    /// acknowledges.
    NoAcknowledger,
    /// The statistics database (where the history is kept) could not be read
    /// or written, or the monitor keeps none.
    Store(String),
}

impl fmt::Display for AlertsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertsError::NotInstalled => f.write_str("no monitor is installed"),
            AlertsError::NoAnswer => {
                f.write_str("the monitor's collector did not answer in time; a request it got stays queued and may still be carried out")
            }
            AlertsError::InvalidRules { reason } => write!(f, "invalid alert rules: {reason}"),
            AlertsError::UnknownEpisode(id) => write!(f, "no alert episode has the id {id}"),
            AlertsError::EpisodeResolved(id) => write!(
                f,
                "alert episode {id} is resolved already: there is nothing to acknowledge"
            ),
            AlertsError::NoAcknowledger => {
                f.write_str("an acknowledgement must name who acknowledges (`by` is empty)")
            }
            AlertsError::Store(reason) => write!(f, "alert history: {reason}"),
        }
    }
}

impl std::error::Error for AlertsError {}
