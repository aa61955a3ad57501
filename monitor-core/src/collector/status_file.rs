//! `<log_dir>/status.json`: the host's heartbeat, for other processes (the
//! `monitor` command, scripts). The collector rewrites it every second, at
//! every flush, and one last time with `"state": "stopped"` on a clean
//! shutdown. Each write goes to `status.json.tmp` and is renamed over
//! `status.json`, so a reader sees the previous file or the new one, never
//! half of one. The writes of every second and the last one are fsynced
//! before the rename; a flush's write is not: a host that flushes often
//! must not wait for the disk each time, and another process reads the new
//! file from the page cache anyway. So a machine that crashes within a
//! second of a flush may come back with a `status.json` that is empty
//! (depending on the file system), rather than the previous whole one. A
//! write that fails (an unwritable directory) is counted and makes the
//! `status file` component fail (`sink_failing`); the next second tries
//! again with the state of then. FORMAT.md documents the fields.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::alerts::{Alert, ComponentHealth, Health};
use crate::resources::ResourceSample;
use crate::running::RunningExecution;
use crate::timestamp::Timestamp;

/// How often the file is rewritten while the host runs.
pub(crate) const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// The file's name in the log directory.
pub(crate) const STATUS_FILE: &str = "status.json";

/// What one write says.
pub(crate) struct StatusNow<'a> {
    pub(crate) stopped: bool,
    pub(crate) now: SystemTime,
    pub(crate) health: &'a Health,
    pub(crate) alerts: &'a [Alert],
    pub(crate) resources: Option<&'a ResourceSample>,
    pub(crate) running: &'a [RunningExecution],
    pub(crate) running_unlisted: u64,
    pub(crate) queue_depth: u64,
    pub(crate) dropped: u64,
}

#[derive(Serialize)]
struct Document<'a> {
    format: u32,
    state: &'static str,
    pid: u32,
    hostname: &'a str,
    process_started: Option<Timestamp>,
    installed_at: Timestamp,
    updated_at: Timestamp,
    health: HealthDocument<'a>,
    alerts: &'a [Alert],
    resources: Option<&'a ResourceSample>,
    running: &'a [RunningExecution],
    running_unlisted: u64,
    queue_depth: u64,
    dropped: u64,
}

#[derive(Serialize)]
struct HealthDocument<'a> {
    verdict: &'static str,
    reasons: &'a [String],
}

/// The collector's writer of `status.json`.
pub(crate) struct StatusFile {
    path: PathBuf,
    temporary: PathBuf,
    pid: u32,
    hostname: String,
    process_started: Option<SystemTime>,
    installed_at: SystemTime,
    last_write: Option<Instant>,
    failing: bool,
    last_error: Option<String>,
    buffer: Vec<u8>,
}

impl StatusFile {
    pub(crate) fn new(log_dir: PathBuf, installed_at: SystemTime) -> Self {
        StatusFile {
            path: log_dir.join(STATUS_FILE),
            temporary: log_dir.join(format!("{STATUS_FILE}.tmp")),
            pid: std::process::id(),
            hostname: hostname(),
            process_started: process_started(),
            installed_at,
            last_write: None,
            failing: false,
            last_error: None,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Whether a second has passed since the latest write.
    pub(crate) fn due(&self) -> bool {
        self.last_write
            .is_none_or(|at| at.elapsed() >= STATUS_INTERVAL)
    }

    /// Writes the file (see the module doc), fsynced before the rename with
    /// `durable`; a failure is counted, not returned.
    pub(crate) fn write(&mut self, now: &StatusNow<'_>, durable: bool) {
        self.last_write = Some(Instant::now());
        let document = Document {
            format: 1,
            state: if now.stopped { "stopped" } else { "running" },
            pid: self.pid,
            hostname: &self.hostname,
            process_started: self.process_started.map(Timestamp),
            installed_at: Timestamp(self.installed_at),
            updated_at: Timestamp(now.now),
            health: HealthDocument {
                verdict: now.health.verdict.as_str(),
                reasons: &now.health.reasons,
            },
            alerts: now.alerts,
            resources: now.resources,
            running: now.running,
            running_unlisted: now.running_unlisted,
            queue_depth: now.queue_depth,
            dropped: now.dropped,
        };
        self.buffer.clear();
        if crate::json::write_value(&mut self.buffer, &document).is_err() {
            return;
        }
        self.buffer.push(b'\n');
        match self.replace(durable) {
            Ok(()) => {
                self.failing = false;
            }
            Err(error) => {
                self.failing = true;
                self.last_error = Some(format!("{}: {error}", self.path.display()));
            }
        }
    }

    fn replace(&self, durable: bool) -> io::Result<()> {
        let mut file = File::create(&self.temporary)?;
        file.write_all(&self.buffer)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        std::fs::rename(&self.temporary, &self.path)
    }

    /// Its health, for the `sink_failing` rule.
    pub(crate) fn health(&self) -> ComponentHealth {
        ComponentHealth {
            name: "status file",
            failing: self.failing,
            error: self.last_error.clone(),
            // Nothing is lost: the next write replaces the whole file.
            lost: 0,
        }
    }
}

/// The host's name: the kernel's (Linux), else `$HOSTNAME`, else empty.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// When this process started (Linux: `/proc/self/stat`'s start time after
/// boot, in the kernel's 100 Hz user ticks, plus `/proc/stat`'s boot time);
/// `None` elsewhere.
fn process_started() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (in parentheses) may hold spaces: fields after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 22 of the file is the 20th after the name.
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(boot) + Duration::from_millis(ticks * 10))
}
