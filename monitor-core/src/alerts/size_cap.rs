//! The `log_size_cap` rule: a log's size cap deleted rotated files that its
//! age retention would have kept. Informational, notified at most once a day:
//! the logs now reach less far back than the retention says.

use std::time::Duration;

use super::health::HealthInputs;

/// The rule holds for a day after the latest early deletion, and reminds at
/// most once a day.
pub(super) const PERIOD: Duration = Duration::from_secs(86_400);

/// Message and numbers of a `log_size_cap` notification.
pub(super) fn alert_text(
    in_episode: u64,
    inputs: &HealthInputs,
    resolved: bool,
    since: &str,
) -> (String, Vec<(&'static str, f64)>) {
    let numbers = vec![
        ("deleted_files", in_episode as f64),
        ("deleted_files_total", inputs.deleted_for_size as f64),
    ];
    let message = if resolved {
        format!("monitor: no log file deleted early by a size cap for a day ({in_episode} since {since}).")
    } else {
        format!(
            "monitor: a log size cap deleted {in_episode} rotated log files since {since} that the age retention would still have kept ({} since start); the logs reach less far back than the retention says. Suggest: raise `Retention::with_max_total_bytes` or `log_dir_max_bytes` if you need that history.",
            inputs.deleted_for_size
        )
    };
    (message, numbers)
}

/// The reason `health()` gives while the rule fires (only shown when its
/// severity is raised above `info`).
pub(super) fn reason(in_episode: u64) -> String {
    format!("monitor: {in_episode} rotated log files deleted early by a size cap")
}
