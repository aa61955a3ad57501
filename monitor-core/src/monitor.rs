//! Installing a monitor: [`Monitor::builder`], [`MonitorBuilder`], [`MonitorGuard`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};
use parking_lot::Mutex;

use crate::alerts::{AlertsConfig, AlertsShared};
use crate::capture::{install_panic_hook, set_limits, CaptureLimits, FLUSH_ON_PANIC};
use crate::clock::{Clock, SystemClock};
use crate::collector::{
    Collector, CollectorParts, Control, LogFiles, LogsConfig, Persistence, SelfStats,
};
use crate::install_error::InstallError;
use crate::log_settings::LogSettings;
use crate::queue::{self, Overflow, QueueShared, ORPHAN_DROPS};
use crate::sink::Sink;
use crate::stats::{Published, StatsSnapshot};
use crate::ticks;
use monitor_sinks::stats_store::{PersistOptions, STATS_FILE_NAME};

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
    /// Alert rules and notifiers (setters in `alerts/builder.rs`).
    pub(crate) alerts: AlertsConfig,
    /// Rotation and retention of the logs (setters in `log_settings.rs`).
    pub(crate) logs: LogSettings,
    /// The HTTP server (setters in `http/builder.rs`).
    #[cfg(feature = "http")]
    pub(crate) http: crate::http::HttpSettings,
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
            alerts: AlertsConfig::default(),
            logs: LogSettings::default(),
            #[cfg(feature = "http")]
            http: Default::default(),
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
    /// (default [`SystemClock`]). Tests inject a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Caps on captured error text (see [`CaptureLimits`]).
    pub fn capture_limits(mut self, limits: CaptureLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Capture a stack trace for every error and panic (`true`), never
    /// (`false`). By default `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE` decide.
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

    /// Longest [`MonitorGuard::flush`] waits for the collector (default 30 s).
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
        if self.stats_save_interval.is_zero() {
            return invalid(
                "stats_save_interval",
                "must be longer than zero (statistics are also saved on every flush)",
            );
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

    /// Validates the configuration, opens the log directory and starts the
    /// collector. Errors if a monitor is installed already; after its guard is
    /// dropped, installing works again.
    pub fn install(#[allow(unused_mut)] mut self) -> Result<MonitorGuard, InstallError> {
        self.validate()?;
        #[cfg(feature = "http")]
        let http = self.http.prepare()?;
        #[cfg(feature = "http")]
        if let Some(prepared) = &http {
            self = self.notifier(prepared.notifier());
        }
        let alerts = self.alerts.prepare()?;
        let termination = crate::termination::Termination::prepare(self.flush_on_termination)?;
        let mut current = CURRENT.lock();
        if current.is_some() {
            return Err(InstallError::AlreadyInstalled);
        }
        std::fs::create_dir_all(&self.log_dir).map_err(|source| InstallError::LogDir {
            path: self.log_dir.clone(),
            source,
        })?;
        let log_dir = self
            .log_dir
            .canonicalize()
            .map_err(|source| InstallError::LogDir {
                path: self.log_dir.clone(),
                source,
            })?;
        if LOG_DIRS_IN_USE.lock().contains(&log_dir) {
            return Err(InstallError::LogDirInUse { path: log_dir });
        }
        Self::prepare_stats_db(&self.stats_db)?;
        // Before anything is opened: startup rotation and the stats load
        // must not run while another process writes these files.
        let locks = crate::dir_lock::lock_all(&log_dir, self.stats_db.path(&log_dir).as_deref())?;
        let detect_clock_jumps = self.detect_clock_jumps.unwrap_or(self.clock.is_none());
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let LogsConfig {
            executions,
            errors,
            alerts: alerts_log,
        } = self.logs.resolve(&log_dir)?;
        Self::stats_db_outside_logs(
            &self.stats_db,
            [&executions.dir, &errors.dir, &alerts_log.dir],
        )?;
        let logs = LogFiles::open(executions, errors, clock.now()).map_err(|source| {
            InstallError::LogDir {
                path: log_dir.clone(),
                source,
            }
        })?;
        let alerting = alerts.start(alerts_log, clock.now())?;
        let alerts_shared = alerting.shared();

        let persistence = self.stats_db.path(&log_dir).map(|path| {
            let mut options = PersistOptions::new(path);
            options.save_interval = self.stats_save_interval;
            Persistence::open(options)
        });

        set_limits(self.limits);
        install_panic_hook();
        ticks::clock(); // calibrate now, not on the first monitored call

        let generation = next_generation();
        let queue = Arc::new(QueueShared::new(
            generation,
            self.queue_capacity,
            self.queue_memory_budget,
            self.overflow,
        ));
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let published = Arc::new(Mutex::new(Arc::new(Published::default())));
        let self_stats = Arc::new(SelfStats::default());
        let clock_for_handle = Arc::clone(&clock);
        #[cfg(feature = "http")]
        let (publish_durations, feed) = (
            http.is_some(),
            http.as_ref()
                .map(|prepared| crate::collector::FeedTap::new(Arc::clone(&prepared.feed))),
        );
        #[cfg(not(feature = "http"))]
        let (publish_durations, feed) = (false, None);
        #[cfg(feature = "http")]
        let sources = crate::http::Sources {
            published: Arc::clone(&published),
            alerts: Arc::clone(&alerts_shared),
            clock: Arc::clone(&clock),
            self_stats: Arc::clone(&self_stats),
        };
        let collector = Collector::new(CollectorParts {
            generation,
            queue: Arc::clone(&queue),
            control: control_rx,
            clock,
            detect_clock_jumps,
            logs,
            sinks: self.sinks,
            published: Arc::clone(&published),
            publish_durations,
            feed,
            self_stats,
            orphan_baseline: ORPHAN_DROPS.load(Ordering::Relaxed),
            persistence,
            alerts: alerting,
        });
        #[cfg(feature = "http")]
        let http = http
            .map(|prepared| crate::http::Server::start(prepared, sources))
            .transpose()
            .map_err(InstallError::Spawn)?;
        LOG_DIRS_IN_USE.lock().push(log_dir.clone());
        let dir_for_thread = log_dir.clone();
        let thread = std::thread::Builder::new()
            .name("monitor-collector".to_owned())
            .spawn(move || {
                collector.run();
                drop(locks); // other processes may use the directory now
                LOG_DIRS_IN_USE.lock().retain(|dir| dir != &dir_for_thread);
            })
            .map_err(|error| {
                LOG_DIRS_IN_USE.lock().retain(|dir| dir != &log_dir);
                InstallError::Spawn(error)
            })?;
        queue.wake.set_thread(thread.thread().clone());
        let handle = Arc::new(Handle {
            generation,
            control: control_tx,
            collector: thread.thread().clone(),
            published,
            clock: clock_for_handle,
            alerts: alerts_shared,
            flush_timeout: self.flush_timeout,
            shutdown_timeout: self.shutdown_timeout,
        });
        FLUSH_ON_PANIC.store(self.flush_on_panic, Ordering::Relaxed);
        queue::activate(queue);
        *current = Some(Arc::clone(&handle));
        termination.arm(generation);
        Ok(MonitorGuard {
            handle,
            thread: Some(thread),
            #[cfg(feature = "http")]
            http,
        })
    }
}

/// Default [`MonitorBuilder::queue_memory_budget`]: 256 MiB, enough for a
/// burst of a million executions on each of four threads while the collector
/// does not run at all (4 × 10⁶ × 40 bytes ≈ 153 MiB), with room to spare.
const DEFAULT_QUEUE_MEMORY_BUDGET: usize = 256 << 20;

fn next_generation() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    loop {
        let generation = NEXT.fetch_add(1, Ordering::Relaxed);
        if generation != 0 {
            return generation;
        }
    }
}

/// The installed monitor, for the free functions (`stats()`, `flush()`…).
static CURRENT: Mutex<Option<Arc<Handle>>> = Mutex::new(None);
/// Log directories a collector thread is still writing.
static LOG_DIRS_IN_USE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// What callers need to reach the collector.
pub(crate) struct Handle {
    pub(crate) generation: u32,
    control: Sender<Control>,
    collector: std::thread::Thread,
    pub(crate) published: Arc<Mutex<Arc<Published>>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) alerts: Arc<AlertsShared>,
    flush_timeout: Duration,
    shutdown_timeout: Duration,
}

impl Handle {
    /// Sends a request and waits up to `timeout` for the answer.
    pub(crate) fn request<T>(
        &self,
        make: impl FnOnce(Sender<T>) -> Control,
        timeout: Duration,
    ) -> Option<T> {
        let (reply_tx, reply_rx) = bounded(1);
        self.control.send(make(reply_tx)).ok()?;
        self.collector.unpark();
        reply_rx.recv_timeout(timeout).ok()
    }

    /// What the collector published at its latest tick or flush (the lock is
    /// held only to copy the pointer).
    pub(crate) fn published(&self) -> Arc<Published> {
        Arc::clone(&self.published.lock())
    }

    pub(crate) fn flush(&self) -> bool {
        if crate::collector::on_collector_thread() {
            return false; // a sink flushing would wait for itself
        }
        self.request(Control::Flush, self.flush_timeout).is_some() && self.alerts.wait_delivered()
    }
}

/// The installed monitor, if any.
pub(crate) fn current() -> Option<Arc<Handle>> {
    CURRENT.lock().clone()
}

/// Keeps the monitor installed. Dropping it drains the queues, writes and
/// fsyncs the logs and joins the collector, waiting at most the
/// [`shutdown_timeout`](MonitorBuilder::shutdown_timeout).
///
/// `std::process::exit` and `panic = "abort"` skip destructors: call
/// [`flush`](Self::flush) before exiting that way.
#[must_use = "dropping the guard uninstalls the monitor at once"]
pub struct MonitorGuard {
    handle: Arc<Handle>,
    thread: Option<JoinHandle<()>>,
    /// The HTTP server, stopped first when the guard drops.
    #[cfg(feature = "http")]
    pub(crate) http: Option<crate::http::Server>,
}

impl std::fmt::Debug for MonitorGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorGuard")
            .field("generation", &self.handle.generation)
            .finish_non_exhaustive()
    }
}

impl MonitorGuard {
    /// Returns once every execution recorded before the call is written to
    /// the logs, counted in the statistics, seen by the alert rules, and the
    /// notifications it caused are handed to every notifier. Returns `false`
    /// if the collector did not answer within the flush timeout, or a
    /// notifier did not take its notifications within the notifier timeout.
    pub fn flush(&self) -> bool {
        self.handle.flush()
    }

    /// Test hook (feature `test-util`): makes the collector panic once, at
    /// the start of its next pass over a ring, to show that the supervisor
    /// restarts it without losing queued executions.
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub fn __crash_collector(&self) {
        self.crash_collector(crate::collector::CrashPoint::BeforePop);
    }

    /// Test hook: makes the collector panic once while it processes the next
    /// event it pops: before the event reached the statistics, or (with
    /// `after_counting`) after, to show that the event is counted exactly
    /// once either way. Feature `test-util`.
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub fn __crash_collector_mid_event(&self, after_counting: bool) {
        self.crash_collector(if after_counting {
            crate::collector::CrashPoint::AfterCounting
        } else {
            crate::collector::CrashPoint::BeforeCounting
        });
    }

    #[cfg(feature = "test-util")]
    fn crash_collector(&self, point: crate::collector::CrashPoint) {
        let _ = self.handle.control.send(Control::Crash(point));
        self.handle.collector.unpark();
    }
}

impl Drop for MonitorGuard {
    fn drop(&mut self) {
        #[cfg(feature = "http")]
        drop(self.http.take());
        crate::termination::disarm(self.handle.generation);
        let finished = stop(&self.handle);
        if finished {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        } else {
            eprintln!(
                "monitor: the collector did not shut down within {:?}; some executions may not be written",
                self.handle.shutdown_timeout
            );
        }
        let mut current = CURRENT.lock();
        if current
            .as_ref()
            .is_some_and(|h| h.generation == self.handle.generation)
        {
            *current = None;
        }
    }
}

/// Stops recording into the monitor of `handle` and has its collector drain,
/// write, fsync and save everything, then stop; waits at most the shutdown
/// timeout. Returns whether the collector finished in time.
fn stop(handle: &Handle) -> bool {
    FLUSH_ON_PANIC.store(false, Ordering::Relaxed);
    queue::deactivate(handle.generation);
    handle
        .request(Control::Shutdown, handle.shutdown_timeout)
        .is_some()
}

/// A termination signal arrived (see `termination.rs`): stop the monitor of
/// `generation` as dropping its guard would; the process ends right after.
#[cfg(all(unix, feature = "termination"))]
pub(crate) fn shutdown_for_termination(generation: u32) {
    let Some(handle) = current().filter(|handle| handle.generation == generation) else {
        return;
    };
    if !stop(&handle) {
        eprintln!(
            "monitor: the collector did not finish within {:?} after a termination signal; some executions may not be written",
            handle.shutdown_timeout
        );
    }
}

/// Longest [`stats`] waits for the collector before it answers with the
/// snapshot published at the latest tick (a health endpoint must not hang
/// behind a slow sink).
const STATS_TIMEOUT: Duration = Duration::from_secs(1);

/// A consistent snapshot of every function's statistics. Empty when no
/// monitor is installed. Called from a sink or notifier (on the collector
/// thread), or when the collector is busy for more than a second, it returns
/// the snapshot published at the latest flush or tick (at most 250 ms old).
pub fn stats() -> StatsSnapshot {
    let Some(handle) = current() else {
        return StatsSnapshot::default();
    };
    if crate::collector::on_collector_thread() {
        return handle.published().stats.clone();
    }
    handle
        .request(Control::Snapshot, STATS_TIMEOUT.min(handle.flush_timeout))
        .unwrap_or_else(|| handle.published().stats.clone())
}

/// The panic hook's flush: never waits for a lock (the panic may have
/// happened while one was held), never runs on the collector thread.
pub(crate) fn flush_from_panic_hook() {
    let handle = match CURRENT.try_lock() {
        Some(current) => current.clone(),
        None => return,
    };
    if let Some(handle) = handle {
        handle.flush();
    }
}

/// Flushes the installed monitor, if any (see [`MonitorGuard::flush`]).
pub fn flush() -> bool {
    current().is_some_and(|handle| handle.flush())
}
