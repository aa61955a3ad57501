//! `<log_dir>/status.json` read back: the heartbeat a running host writes
//! every second ([`HostStatus`]), and whether that host still runs
//! ([`Liveness`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{LogDir, QueryError};
use crate::alerts::{Acknowledgement, Alert, AlertRule, AlertState, Health, Severity, Verdict};
use crate::execution_id::ExecutionId;
use crate::resources::ResourceSample;
use crate::running::RunningExecution;
use crate::timestamp::Timestamp;

/// The file's name in the log directory.
const STATUS_FILE: &str = "status.json";

/// A `status.json` not rewritten for longer than this is stale: its host
/// stopped writing it (it rewrites it every second).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// What a host's `status.json` says (see FORMAT.md), read by
/// [`LogDir::host_status`].
///
/// ```no_run
/// use monitor_core::query::{LogDir, Liveness};
/// let logs = LogDir::open(".monitor")?;
/// if let Some(host) = logs.host_status()? {
///     match host.liveness(std::time::SystemTime::now()) {
///         Liveness::Running => println!("{} running, {}", host.running.len(), host.health),
///         other => println!("{other}"),
///     }
/// }
/// # Ok::<(), monitor_core::query::QueryError>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HostStatus {
    /// The file says `"state": "stopped"`: written at a clean shutdown.
    pub stopped: bool,
    /// The host's process id and host name.
    pub pid: u32,
    /// The host name the host wrote.
    pub hostname: String,
    /// When the host process started, if its platform says.
    pub process_started: Option<Timestamp>,
    /// When its monitor was installed (its clock).
    pub installed_at: Timestamp,
    /// When the file was written (its monitor's clock).
    pub updated_at: Timestamp,
    /// When the file was last replaced (the file system's clock): what
    /// staleness is judged by, so an injected clock does not make a live
    /// host look stale.
    pub modified: SystemTime,
    /// Its verdict then.
    pub health: Health,
    /// The alerts firing then, each with its episode and acknowledgement.
    pub alerts: Vec<Alert>,
    /// The latest sample of the process's resources then (`None` before
    /// the first, or from a host of a version without it).
    pub resources: Option<ResourceSample>,
    /// The executions running then, oldest first.
    pub running: Vec<RunningExecution>,
    /// Executions running then but nested too deep to be listed.
    pub running_unlisted: u64,
    /// Executions queued for the collector then.
    pub queue_depth: u64,
    /// Executions dropped since install.
    pub dropped: u64,
}

/// Whether the host of a `status.json` still runs, judged at some `now`.
/// `Display`: `running`, `stopped at …`, `stopped unexpectedly, last update …`,
/// `monitor stopped at … (its process still runs)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Liveness {
    /// The file is fresh (replaced within [`STALE_AFTER`]), or its process
    /// still runs and has not said it stopped: what it says is current.
    Running,
    /// The host said it stopped (a clean shutdown), at this time, and its
    /// process is gone.
    Stopped {
        /// Its last `updated_at`.
        since: Timestamp,
    },
    /// The file is stale, it never said it stopped, and its process is
    /// gone: the host died (killed, crashed, `process::exit`).
    StoppedUnexpectedly {
        /// Its last `updated_at`.
        since: Timestamp,
    },
    /// The host's monitor stopped (its guard was dropped) but the process
    /// still runs.
    MonitorStopped {
        /// Its last `updated_at`.
        since: Timestamp,
    },
}

impl std::fmt::Display for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Liveness::Running => f.write_str("running"),
            Liveness::Stopped { since } => write!(f, "stopped at {since}"),
            Liveness::StoppedUnexpectedly { since } => {
                write!(f, "stopped unexpectedly, last update {since}")
            }
            Liveness::MonitorStopped { since } => {
                write!(f, "monitor stopped at {since} (its process still runs)")
            }
        }
    }
}

impl HostStatus {
    /// Whether its host still runs at `now` (see [`Liveness`]); the
    /// process is looked up on this machine when the file was written on it
    /// (Linux: `/proc/<pid>`), and taken as gone otherwise.
    pub fn liveness(&self, now: SystemTime) -> Liveness {
        let fresh = now
            .duration_since(self.modified)
            .is_ok_and(|age| age <= STALE_AFTER)
            || self.modified > now;
        let runs = self.hostname == crate::collector::hostname() && pid_runs(self.pid);
        let since = self.updated_at;
        match (self.stopped, runs) {
            (true, true) => Liveness::MonitorStopped { since },
            (true, false) => Liveness::Stopped { since },
            (false, _) if fresh || runs => Liveness::Running,
            (false, _) => Liveness::StoppedUnexpectedly { since },
        }
    }

    /// The verdict to show for this host at `now`: its own when it runs,
    /// else `not_running` saying since when; `None` when its monitor stopped
    /// but the process runs (the saved state says more).
    pub fn verdict(&self, now: SystemTime) -> Option<Health> {
        match self.liveness(now) {
            Liveness::Running => Some(self.health.clone()),
            Liveness::MonitorStopped { .. } => None,
            liveness => Some(Health {
                verdict: Verdict::NotRunning,
                reasons: vec![format!(
                    "host {} (pid {}): {liveness}",
                    self.hostname, self.pid
                )],
            }),
        }
    }
}

/// Whether a process `pid` runs on this machine; `false` where that cannot
/// be told (no `/proc`).
fn pid_runs(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl LogDir {
    /// The host's `status.json` (see [`HostStatus`]); `None` when there is
    /// none (a host of a version without it, or never run).
    ///
    /// ```no_run
    /// let logs = monitor_core::query::LogDir::open(".monitor")?;
    /// let running = logs.host_status()?.map(|host| host.running).unwrap_or_default();
    /// # Ok::<(), monitor_core::query::QueryError>(())
    /// ```
    pub fn host_status(&self) -> Result<Option<HostStatus>, QueryError> {
        let path = self.root.join(STATUS_FILE);
        let io_error = |error| QueryError::Io {
            path: path.clone(),
            error,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(error)),
        };
        let modified = std::fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .map_err(io_error)?;
        let document: Document = crate::json::from_str(&text).map_err(|error| QueryError::Io {
            path: path.clone(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidData, error.to_string()),
        })?;
        Ok(Some(document.into_status(modified)))
    }
}

#[derive(Deserialize)]
struct Document {
    state: String,
    pid: u32,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    process_started: Option<String>,
    installed_at: String,
    updated_at: String,
    health: HealthDocument,
    #[serde(default)]
    alerts: Vec<AlertDocument>,
    #[serde(default)]
    resources: Option<ResourcesDocument>,
    #[serde(default)]
    running: Vec<RunningDocument>,
    #[serde(default)]
    running_unlisted: u64,
    #[serde(default)]
    queue_depth: u64,
    #[serde(default)]
    dropped: u64,
}

#[derive(Deserialize)]
struct HealthDocument {
    verdict: String,
    #[serde(default)]
    reasons: Vec<String>,
}

#[derive(Deserialize)]
struct AlertDocument {
    timestamp: String,
    rule: String,
    function: Option<String>,
    #[serde(default)]
    execution_id: Option<ExecutionId>,
    state: String,
    severity: String,
    message: String,
    since: String,
    #[serde(default)]
    reminder: bool,
    #[serde(default)]
    numbers: BTreeMap<String, f64>,
    #[serde(default)]
    episode: Option<u64>,
    #[serde(default)]
    acknowledged: Option<AcknowledgedDocument>,
}

#[derive(Deserialize)]
struct AcknowledgedDocument {
    by: String,
    #[serde(default)]
    note: Option<String>,
    at: String,
}

#[derive(Deserialize)]
struct ResourcesDocument {
    time: String,
    rss_bytes: u64,
    #[serde(default)]
    virtual_bytes: Option<u64>,
    #[serde(default)]
    cpu_user_secs: f64,
    #[serde(default)]
    cpu_system_secs: f64,
    #[serde(default)]
    cpu_percent: Option<f64>,
    #[serde(default)]
    threads: Option<u64>,
    #[serde(default)]
    open_fds: Option<u64>,
}

#[derive(Deserialize)]
struct RunningDocument {
    name: String,
    id: ExecutionId,
    thread: String,
    started: String,
    elapsed_ms: f64,
    stuck_after_ms: f64,
    stuck: bool,
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap_or(Timestamp(SystemTime::UNIX_EPOCH))
}

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64((ms / 1e3).max(0.0))
}

impl Document {
    fn into_status(self, modified: SystemTime) -> HostStatus {
        let verdict = [
            Verdict::Green,
            Verdict::Yellow,
            Verdict::Red,
            Verdict::NotInstalled,
            Verdict::NotRunning,
        ]
        .into_iter()
        .find(|verdict| verdict.as_str() == self.health.verdict)
        .unwrap_or(Verdict::Red);
        HostStatus {
            stopped: self.state == "stopped",
            pid: self.pid,
            hostname: self.hostname,
            process_started: self.process_started.as_deref().map(time),
            installed_at: time(&self.installed_at),
            updated_at: time(&self.updated_at),
            modified,
            health: Health {
                verdict,
                reasons: self.health.reasons,
            },
            alerts: self
                .alerts
                .into_iter()
                .filter_map(AlertDocument::alert)
                .collect(),
            resources: self.resources.map(|resources| ResourceSample {
                time: time(&resources.time),
                rss_bytes: resources.rss_bytes,
                virtual_bytes: resources.virtual_bytes,
                cpu_user_secs: resources.cpu_user_secs,
                cpu_system_secs: resources.cpu_system_secs,
                cpu_percent: resources.cpu_percent,
                threads: resources.threads,
                open_fds: resources.open_fds,
            }),
            running: self
                .running
                .into_iter()
                .map(|running| RunningExecution {
                    id: running.id,
                    name: running.name,
                    thread: running.thread,
                    started: time(&running.started),
                    elapsed: millis(running.elapsed_ms),
                    stuck_after: millis(running.stuck_after_ms),
                    stuck: running.stuck,
                })
                .collect(),
            running_unlisted: self.running_unlisted,
            queue_depth: self.queue_depth,
            dropped: self.dropped,
        }
    }
}

impl AlertDocument {
    /// The alert; `None` for a rule, state or severity this version does not know.
    fn alert(self) -> Option<Alert> {
        let rule = AlertRule::ALL
            .iter()
            .copied()
            .find(|rule| rule.as_str() == self.rule)?;
        let state = [
            AlertState::Pending,
            AlertState::Firing,
            AlertState::Resolved,
        ]
        .into_iter()
        .find(|state| state.as_str() == self.state)?;
        let severity = [
            Severity::Info,
            Severity::Warning,
            Severity::Error,
            Severity::Critical,
        ]
        .into_iter()
        .find(|severity| severity.as_str() == self.severity)?;
        let mut alert = Alert::new(rule, state, severity, self.message, time(&self.timestamp))
            .with_since(time(&self.since))
            .with_reminder(self.reminder);
        if let Some(function) = self.function {
            alert = alert.with_function(function);
        }
        if let Some(id) = self.execution_id {
            alert = alert.with_execution_id(id);
        }
        for (name, value) in self.numbers {
            alert = alert.with_number(name, value);
        }
        alert.episode = self.episode;
        alert.acknowledged = self.acknowledged.map(|ack| Acknowledgement {
            by: ack.by,
            note: ack.note,
            at: time(&ack.at),
        });
        Some(alert)
    }
}
