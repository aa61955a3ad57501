//! Configuring a monitor: [`Monitor::builder`] and [`MonitorBuilder`]'s
//! settings, checked by `validate`. The log settings are in `logs.rs`, the
//! alert settings in `alerts.rs`, `install()` in `install.rs`; what an
//! installed monitor is (its handle and guard) lives in `installed.rs`, which
//! imports nothing from here.

mod alerts;
mod install;
pub(crate) mod logs;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::alerts::AlertsConfig;
use crate::capture::CaptureLimits;
use crate::clock::Clock;
use crate::install_error::InstallError;
use crate::queue::Overflow;
use crate::sink::Sink;
use logs::LogSettings;
use monitor_sinks::stats_store::STATS_FILE_NAME;

/// Entry point: `Monitor::builder()…install()`.
///
/// ```no_run
/// let guard = monitor_core::Monitor::builder().log_dir(".monitor").install()?;
/// // … run the application …
/// guard.flush();
/// # Ok::<(), monitor_core::InstallError>(())
/// ```
#[derive(Debug)]
pub struct Monitor;

impl Monitor {
    /// A builder with the defaults: log directory `.monitor`, drop-newest
    /// overflow, 8,192 queued executions per recording thread, and 256 MiB
    /// that all threads together may borrow to absorb bursts.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder::default()
    }
}

/// Configures and installs the process's monitor. Every setter returns the
/// builder; [`install`](Self::install) validates everything and starts the
/// collector thread.
#[must_use = "a builder does nothing until `.install()` is called"]
pub struct MonitorBuilder {
    log_dir: PathBuf,
    overflow: Overflow,
    queue_capacity: usize,
    queue_memory_budget: usize,
    clock: Option<Arc<dyn Clock>>,
    limits: CaptureLimits,
    sinks: Vec<Box<dyn Sink>>,
    flush_timeout: Duration,
    shutdown_timeout: Duration,
    stats_db: StatsDb,
    stats_save_interval: Duration,
    flush_on_panic: bool,
    /// SIGTERM/SIGINT flush first (setter in `termination.rs`).
    pub(crate) flush_on_termination: bool,
    detect_clock_jumps: Option<bool>,
    /// Where resource samples come from (`None`: the OS).
    sampler: Option<Box<dyn crate::resources::ResourceSampler>>,
    /// How long roll-up rows are kept in `stats.db` (`None`: all).
    rollup_retention: Option<monitor_sinks::stats_store::RollupRetention>,
    /// Alert rules and notifiers (setters in `alerts.rs`).
    pub(crate) alerts: AlertsConfig,
    /// Rotation and retention of the logs (setters in `logs.rs`).
    pub(crate) logs: LogSettings,
    /// The HTTP server (setters in `http/builder.rs`).
    #[cfg(feature = "http")]
    pub(crate) http: crate::http::HttpSettings,
    /// The OTLP exporter (setter in `otlp/mod.rs`).
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<crate::otlp::OtlpConfig>,
}

/// Where statistics are persisted.
#[derive(Clone, Debug)]
enum StatsDb {
    /// `<log_dir>/stats.db`.
    InLogDir,
    At(PathBuf),
    Disabled,
}

impl StatsDb {
    /// The database's path, if statistics are persisted.
    fn path(&self, log_dir: &Path) -> Option<PathBuf> {
        match self {
            StatsDb::Disabled => None,
            StatsDb::InLogDir => Some(log_dir.join(STATS_FILE_NAME)),
            StatsDb::At(path) => Some(path.clone()),
        }
    }
}

impl Default for MonitorBuilder {
    fn default() -> Self {
        MonitorBuilder {
            log_dir: PathBuf::from(".monitor"),
            overflow: Overflow::DropNewest,
            queue_capacity: 8192,
            queue_memory_budget: DEFAULT_QUEUE_MEMORY_BUDGET,
            clock: None,
            limits: CaptureLimits::default(),
            sinks: Vec::new(),
            flush_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            stats_db: StatsDb::InLogDir,
            stats_save_interval: Duration::from_millis(500),
            flush_on_panic: false,
            flush_on_termination: false,
            detect_clock_jumps: None,
            sampler: None,
            rollup_retention: Some(monitor_sinks::stats_store::RollupRetention::default()),
            alerts: AlertsConfig::default(),
            logs: LogSettings::default(),
            #[cfg(feature = "http")]
            http: Default::default(),
            #[cfg(feature = "otlp")]
            otlp: None,
        }
    }
}

impl std::fmt::Debug for MonitorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorBuilder")
            .field("log_dir", &self.log_dir)
            .field("overflow", &self.overflow)
            .field("queue_capacity", &self.queue_capacity)
            .field("queue_memory_budget", &self.queue_memory_budget)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

impl MonitorBuilder {
    /// Directory for the logs and the statistics database (default `.monitor`).
    pub fn log_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.log_dir = dir.as_ref().to_path_buf();
        self
    }

    /// What a caller does when its queue is full: its thread's
    /// [`queue_capacity`](Self::queue_capacity) and the shared
    /// [`queue_memory_budget`](Self::queue_memory_budget) both (default
    /// [`Overflow::DropNewest`]: drop the execution and count it).
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder().overflow(monitor_core::Overflow::Block);
    /// # drop(builder);
    /// ```
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Executions each recording thread can queue in memory of its own
    /// (default 8,192; 1 to 16,777,216). A thread's ring is allocated at its
    /// first monitored call and reused for as long as the thread lives: 40
    /// bytes per execution in chunks of at most 1,024 executions, the
    /// capacity rounded up to whole chunks, plus one chunk (360 KiB by
    /// default). When they are all in use, the thread wakes the collector and
    /// borrows from the [`queue_memory_budget`](Self::queue_memory_budget);
    /// only when that is spent too does [`overflow`](Self::overflow) apply.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder().queue_capacity(65_536);
    /// # drop(builder);
    /// ```
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Bytes that all recording threads together may borrow, beyond their own
    /// [`queue_capacity`](Self::queue_capacity), to absorb a burst the
    /// collector has not caught up with (default 256 MiB, about 6.5 million
    /// executions at 40 bytes each). Borrowed memory is allocated in chunks of
    /// up to 1,024 executions (about 40 KiB), only when a thread's own chunks
    /// are full, and freed as soon as the collector has read it; a process
    /// that never bursts never allocates any. When a full thread finds the
    /// budget spent, [`overflow`](Self::overflow) applies: the execution is
    /// dropped and counted, or (with [`Overflow::Block`]) the caller waits.
    ///
    /// `0` gives every thread a fixed ring of `queue_capacity` executions.
    ///
    /// ```
    /// // A container with little memory: at most 16 MiB for bursts.
    /// let builder = monitor_core::Monitor::builder().queue_memory_budget(16 << 20);
    /// # drop(builder);
    /// ```
    pub fn queue_memory_budget(mut self, bytes: usize) -> Self {
        self.queue_memory_budget = bytes;
        self
    }

    /// The wall clock for timestamps, rotation, retention and alert windows
    /// (default [`SystemClock`](crate::SystemClock)). Tests inject a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Caps on captured error text (see [`CaptureLimits`]). Its
    /// `backtraces: None` leaves stack traces as they were chosen (by
    /// [`capture_backtraces`](Self::capture_backtraces), before or after
    /// this call, else the environment), so
    /// `..CaptureLimits::default()` does not undo that choice.
    ///
    /// ```
    /// use monitor_core::{CaptureLimits, Monitor};
    ///
    /// let builder = Monitor::builder()
    ///     .capture_backtraces(false)
    ///     .capture_limits(CaptureLimits {
    ///         max_message_bytes: 1024,
    ///         ..CaptureLimits::default()
    ///     });
    /// # drop(builder);
    /// ```
    pub fn capture_limits(mut self, limits: CaptureLimits) -> Self {
        let backtraces = limits.backtraces.or(self.limits.backtraces);
        self.limits = CaptureLimits {
            backtraces,
            ..limits
        };
        self
    }

    /// Capture stack traces (`true`), never (`false`). By default
    /// `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE` decide (read once).
    ///
    /// With traces on, every panic gets one, and errors get one at a rate
    /// that a burst cannot turn into a toll: per function, the first error
    /// of each second (of the monitor's [`clock`](Self::clock)), and an
    /// error whose message shape (type, and message without digits) is new
    /// since the latest traced one, at most 4 per function and second. The
    /// trace is captured unresolved on the failing thread and symbolised on
    /// the collector thread.
    ///
    /// Not on by default even so: symbolising the first trace makes the
    /// collector load and parse the program's debug info, milliseconds per
    /// trace and memory held from then on, which a host that never looks
    /// at traces should not pay unasked.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder().capture_backtraces(true);
    /// # drop(builder);
    /// ```
    pub fn capture_backtraces(mut self, capture: bool) -> Self {
        self.limits.backtraces = Some(capture);
        self
    }

    /// Adds a sink that receives every execution on the collector thread.
    pub fn sink(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Flush from the panic hook whenever any thread panics (default off), so
    /// that executions recorded before a panic reach the logs even when the
    /// process then aborts (`panic = "abort"`) or the panic kills `main`.
    /// With `panic = "abort"` the panicking execution itself is not recorded:
    /// no unwinding happens to end its guard.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder().flush_on_panic(true);
    /// # drop(builder);
    /// ```
    pub fn flush_on_panic(mut self, flush: bool) -> Self {
        self.flush_on_panic = flush;
        self
    }

    /// Record the wall clock stepping by more than 2 s against the monotonic
    /// clock as a `clock_jump` line in the executions log. Default: on with the
    /// system clock, off with an injected [`clock`](Self::clock).
    pub fn detect_clock_jumps(mut self, detect: bool) -> Self {
        self.detect_clock_jumps = Some(detect);
        self
    }

    /// Longest [`MonitorGuard::flush`](crate::MonitorGuard::flush) waits for the collector (default 30 s).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Longest dropping the guard waits for the final drain and fsync (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Persist statistics in this SQLite file instead of `<log_dir>/stats.db`.
    /// Its directory is created at install if missing; a path that names a
    /// directory, whose directory cannot be created, or that lies in one of
    /// the log directories (`executions/`, `errors/`, `alerts/`, whose files
    /// are rotated and deleted) is an [`InstallError::InvalidConfig`] naming
    /// `stats_db`.
    ///
    /// ```
    /// let err = monitor_core::Monitor::builder()
    ///     .stats_db(std::env::temp_dir())
    ///     .install()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("stats_db"), "{err}");
    /// ```
    pub fn stats_db(mut self, path: impl AsRef<Path>) -> Self {
        self.stats_db = StatsDb::At(path.as_ref().to_path_buf());
        self
    }

    /// Keep statistics in memory only: no SQLite file, nothing survives a restart.
    pub fn without_stats_db(mut self) -> Self {
        self.stats_db = StatsDb::Disabled;
        self
    }

    /// How often changed statistics are written to the database (default 500 ms;
    /// also on every flush and at shutdown, and early after 10,000 changed
    /// functions). Must be longer than zero.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder()
    ///     .stats_save_interval(std::time::Duration::from_secs(5));
    /// # drop(builder);
    /// ```
    pub fn stats_save_interval(mut self, interval: Duration) -> Self {
        self.stats_save_interval = interval;
        self
    }

    /// Where the collector reads the process's resources from, once a
    /// second (by the monitor's clock): resident and virtual memory, CPU
    /// time, threads, open file descriptors. The default is
    /// [`OsSampler`](crate::OsSampler); a test gives fake readings (see
    /// [`ResourceSampler`](crate::ResourceSampler)), a host in a container
    /// may read its cgroup's figures. What is sampled is in
    /// [`resources`](crate::resources), [`status_report`](crate::status_report),
    /// the `memory_high` and `memory_growth` rules and the `resource_rollups`
    /// table of `stats.db`.
    ///
    /// ```
    /// use monitor_core::{Monitor, ProcessReading, ResourceSampler};
    ///
    /// struct Fixed;
    /// impl ResourceSampler for Fixed {
    ///     fn read(&mut self) -> std::io::Result<ProcessReading> {
    ///         Ok(ProcessReading::new(64 << 20))
    ///     }
    /// }
    /// let builder = Monitor::builder().resource_sampler(Fixed);
    /// # drop(builder);
    /// ```
    pub fn resource_sampler(mut self, sampler: impl crate::resources::ResourceSampler) -> Self {
        self.sampler = Some(Box::new(sampler));
        self
    }

    /// How long the roll-ups in `stats.db` are kept: minute rows (of
    /// executions and of resource samples) for `minutes` (default 7 days),
    /// hour rows for `hours` (default 90 days); day rows are kept. Older
    /// rows are deleted by the collector in small batches (at most 200 rows,
    /// one short transaction, after each save); their executions stay in
    /// the coarser rows, so windows and trends read those instead (see
    /// [`RollupRetention`](crate::RollupRetention)). `install()` fails if
    /// `minutes` is under an hour, `hours` under a day, or `hours` shorter
    /// than `minutes`.
    ///
    /// ```
    /// use std::time::Duration;
    /// const DAY: Duration = Duration::from_secs(86_400);
    /// let builder = monitor_core::Monitor::builder().rollup_retention(2 * DAY, 30 * DAY);
    /// # drop(builder);
    /// let bad = monitor_core::Monitor::builder()
    ///     .log_dir(std::env::temp_dir().join("rollup-retention-doc"))
    ///     .rollup_retention(30 * DAY, 2 * DAY)
    ///     .install();
    /// assert!(bad.unwrap_err().to_string().contains("rollup_retention"));
    /// ```
    pub fn rollup_retention(mut self, minutes: Duration, hours: Duration) -> Self {
        self.rollup_retention =
            Some(monitor_sinks::stats_store::RollupRetention { minutes, hours });
        self
    }

    /// Keeps every roll-up row in `stats.db` (no retention): the file grows
    /// by a row per function and minute of activity.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder().keep_all_rollups();
    /// # drop(builder);
    /// ```
    pub fn keep_all_rollups(mut self) -> Self {
        self.rollup_retention = None;
        self
    }

    fn validate(&self) -> Result<(), InstallError> {
        let invalid = |setting, reason: &str| {
            Err(InstallError::InvalidConfig {
                setting,
                reason: reason.to_owned(),
            })
        };
        if self.log_dir.as_os_str().is_empty() {
            return invalid(
                "log_dir",
                "the log directory is empty; give a path such as \".monitor\"",
            );
        }
        if !(1..=1 << 24).contains(&self.queue_capacity) {
            return invalid(
                "queue_capacity",
                "must be between 1 and 16777216 executions per thread",
            );
        }
        if self.limits.max_message_bytes < 16 {
            return invalid("capture_limits", "max_message_bytes must be at least 16");
        }
        if self.limits.max_stack_trace_bytes < 16 {
            return invalid(
                "capture_limits",
                "max_stack_trace_bytes must be at least 16; turn stack traces off with `capture_backtraces(false)`",
            );
        }
        if self.flush_timeout.is_zero() {
            return invalid("flush_timeout", "must be longer than zero");
        }
        if self.shutdown_timeout.is_zero() {
            return invalid("shutdown_timeout", "must be longer than zero");
        }
        #[cfg(feature = "otlp")]
        if let Some(Err((setting, reason))) = self.otlp.as_ref().map(|otlp| otlp.validate()) {
            return invalid(setting, &reason);
        }
        for notifier in &self.alerts.notifiers {
            if let Err(reason) = notifier.validate() {
                return Err(InstallError::InvalidConfig {
                    setting: "notifier",
                    reason: format!("{}: {reason}", notifier.name()),
                });
            }
        }
        if self.stats_save_interval.is_zero() {
            return invalid(
                "stats_save_interval",
                "must be longer than zero (statistics are also saved on every flush)",
            );
        }
        if let Some(retention) = &self.rollup_retention {
            if let Err(reason) = retention.validate() {
                return Err(InstallError::InvalidConfig {
                    setting: "rollup_retention",
                    reason,
                });
            }
        }
        if let StatsDb::At(path) = &self.stats_db {
            if path.as_os_str().is_empty() {
                return invalid(
                    "stats_db",
                    "the path is empty; give a file such as \".monitor/stats.db\", or use `without_stats_db()`",
                );
            }
            if path.is_dir() || path.file_name().is_none() {
                return Err(InstallError::InvalidConfig {
                    setting: "stats_db",
                    reason: format!(
                        "{} is a directory; give the database file inside it, such as {}",
                        path.display(),
                        path.join(STATS_FILE_NAME).display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Creates the directory of a `stats_db` file outside the log directory.
    fn prepare_stats_db(stats_db: &StatsDb) -> Result<(), InstallError> {
        let StatsDb::At(path) = stats_db else {
            return Ok(());
        };
        let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|error| InstallError::InvalidConfig {
            setting: "stats_db",
            reason: format!("cannot create its directory {}: {error}", dir.display()),
        })
    }

    /// Refuses a `stats_db` inside one of the log directories: it could be
    /// one of the logs themselves (opened as a database, the log would be
    /// moved aside as corrupt), and rotation and retention own those files.
    fn stats_db_outside_logs(stats_db: &StatsDb, log_dirs: [&Path; 3]) -> Result<(), InstallError> {
        let StatsDb::At(path) = stats_db else {
            return Ok(());
        };
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // The directory exists: `prepare_stats_db` created it.
        let Ok(dir) = dir.canonicalize() else {
            return Ok(());
        };
        match log_dirs.into_iter().find(|log_dir| **log_dir == dir) {
            Some(log_dir) => Err(InstallError::InvalidConfig {
                setting: "stats_db",
                reason: format!(
                    "{} is in the log directory {}, whose files the monitor rotates and deletes; put it elsewhere, such as the log directory itself",
                    path.display(),
                    log_dir.display()
                ),
            }),
            None => Ok(()),
        }
    }
}

/// Default [`MonitorBuilder::queue_memory_budget`]: 256 MiB, enough for a
/// burst of a million executions on each of four threads while the collector
/// does not run at all (4 × 10⁶ × 40 bytes ≈ 153 MiB), with room to spare.
const DEFAULT_QUEUE_MEMORY_BUDGET: usize = 256 << 20;
