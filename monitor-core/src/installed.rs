//! The installed monitor: the process-wide handle the free functions reach
//! it through ([`current`]), its [`MonitorGuard`], and stopping it. A leaf:
//! nothing here imports the builder.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};
use parking_lot::Mutex;

use crate::alerts::AlertsShared;
use crate::capture::FLUSH_ON_PANIC;
use crate::clock::Clock;
use crate::collector::Control;
use crate::queue;
use crate::stats::Published;

pub(crate) fn next_generation() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    loop {
        let generation = NEXT.fetch_add(1, Ordering::Relaxed);
        if generation != 0 {
            return generation;
        }
    }
}

/// The installed monitor, for the free functions (`stats()`, `flush()`…).
pub(crate) static CURRENT: Mutex<Option<Arc<Handle>>> = Mutex::new(None);
/// Log directories a collector thread of this process is still writing.
static LOG_DIRS_IN_USE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// This process's claim on a log directory, from install until its collector
/// thread ends; dropping it (on any error path of `install()`, or when the
/// thread ends) releases the directory.
pub(crate) struct DirClaim(PathBuf);

impl DirClaim {
    /// Claims `dir`, unless a collector of this process still writes it (one
    /// that did not shut down in time).
    pub(crate) fn take(dir: PathBuf) -> Result<Self, crate::install_error::InstallError> {
        let mut in_use = LOG_DIRS_IN_USE.lock();
        if in_use.contains(&dir) {
            return Err(crate::install_error::InstallError::LogDirInUse { path: dir });
        }
        in_use.push(dir.clone());
        Ok(DirClaim(dir))
    }
}

impl Drop for DirClaim {
    fn drop(&mut self) {
        LOG_DIRS_IN_USE.lock().retain(|dir| dir != &self.0);
    }
}

/// What callers need to reach the collector.
pub(crate) struct Handle {
    pub(crate) generation: u32,
    pub(crate) control: Sender<Control>,
    pub(crate) collector: std::thread::Thread,
    pub(crate) published: Arc<Mutex<Arc<Published>>>,
    /// The roll-ups the collector had not saved at its latest save.
    pub(crate) unsaved: Arc<Mutex<Arc<crate::collector::Unsaved>>>,
    /// The running executions of the collector's latest sample.
    pub(crate) running: Arc<Mutex<Arc<crate::collector::RunningNow>>>,
    /// The stats store's file, if statistics are persisted.
    pub(crate) stats_path: Option<PathBuf>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) alerts: Arc<AlertsShared>,
    /// The resource samples the collector takes.
    pub(crate) resources: Arc<Mutex<crate::resources::ResourceHistory>>,
    pub(crate) flush_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// The OTLP exporter's counters (feature `otlp`).
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<Arc<crate::otlp::Shared>>,
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
/// [`shutdown_timeout`](crate::MonitorBuilder::shutdown_timeout).
///
/// `std::process::exit` and `panic = "abort"` skip destructors: call
/// [`flush`](Self::flush) before exiting that way.
#[must_use = "dropping the guard uninstalls the monitor at once"]
pub struct MonitorGuard {
    pub(crate) handle: Arc<Handle>,
    pub(crate) thread: Option<JoinHandle<()>>,
    /// The HTTP server, stopped first when the guard drops.
    #[cfg(feature = "http")]
    pub(crate) http: Option<crate::http::Server>,
    /// The OTLP export thread, waited for after the collector stopped.
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<crate::otlp::ExporterHandle>,
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
        #[cfg(feature = "otlp")]
        let deadline = crate::otlp::after(self.handle.shutdown_timeout);
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
        #[cfg(feature = "otlp")]
        if let Some(exporter) = self.otlp.take() {
            #[cfg(feature = "otlp-tracing")]
            crate::otlp::parent::set_linking(false);
            exporter.finish(deadline);
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
pub(crate) fn stop(handle: &Handle) -> bool {
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
