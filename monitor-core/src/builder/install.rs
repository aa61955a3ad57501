//! `install()` in three steps: check every setting ([`MonitorBuilder::validate`]
//! and the parts' own `prepare`), open the outputs (the log directory, its
//! locks, the logs, the alerts, the statistics database), then start the
//! collector thread and publish the handle. Whatever an early step took is
//! released by dropping it (the directory claim and the locks are guards),
//! so every error path rolls back the same way.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;

use super::MonitorBuilder;
use crate::alerts::{Alerting, PreparedAlerts};
use crate::capture::{install_panic_hook, set_limits, FLUSH_ON_PANIC};
use crate::clock::{Clock, SystemClock};
use crate::collector::{
    Collector, CollectorParts, LogFiles, LogsConfig, Persistence, RunningNow, SelfStats, Unsaved,
};
use crate::dir_lock::DirLock;
use crate::install_error::InstallError;
use crate::installed::{next_generation, DirClaim, Handle, MonitorGuard, CURRENT};
use crate::queue::{self, QueueShared, ORPHAN_DROPS};
use crate::stats::Published;
use crate::ticks;
use monitor_sinks::stats_store::PersistOptions;

/// What the second step opened, for the third to hand to the collector.
struct Outputs {
    /// Held by the collector thread until it stops (then other monitors and
    /// processes may use the directory).
    claim: DirClaim,
    locks: Vec<DirLock>,
    clock: Arc<dyn Clock>,
    detect_clock_jumps: bool,
    logs: LogFiles,
    alerting: Alerting,
    /// The store, and the statistics it held at install.
    persistence: Option<(Persistence, Vec<crate::stats::FunctionRecord>)>,
    /// The log directory, canonical (`status.json` is written there).
    log_dir: PathBuf,
}

impl MonitorBuilder {
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
        let alerts = std::mem::take(&mut self.alerts).prepare()?;
        let termination = crate::termination::Termination::prepare(self.flush_on_termination)?;
        let mut current = CURRENT.lock();
        if current.is_some() {
            return Err(InstallError::AlreadyInstalled);
        }
        let outputs = self.open_outputs(alerts)?;

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
        let unsaved = Arc::new(Mutex::new(Arc::new(Unsaved::default())));
        let running = Arc::new(Mutex::new(Arc::new(RunningNow::default())));
        let self_stats = Arc::new(SelfStats::default());
        let resources = Arc::new(Mutex::new(crate::resources::ResourceHistory::default()));
        let clock = Arc::clone(&outputs.clock);
        let alerts_shared = outputs.alerting.shared();
        #[cfg(feature = "http")]
        let (publish_durations, feed) = (
            http.is_some(),
            http.as_ref()
                .map(|prepared| crate::collector::FeedTap::new(Arc::clone(&prepared.feed))),
        );
        #[cfg(not(feature = "http"))]
        let (publish_durations, feed) = (false, None);
        #[cfg(feature = "otlp")]
        let publish_durations = publish_durations || self.otlp.is_some();
        #[cfg(feature = "otlp")]
        let otlp = self
            .otlp
            .take()
            .map(|config| {
                crate::otlp::start(
                    config,
                    crate::otlp::Sources {
                        published: Arc::clone(&published),
                        alerts: Arc::clone(&alerts_shared),
                        self_stats: Arc::clone(&self_stats),
                        resources: Arc::clone(&resources),
                        running: Arc::clone(&running),
                    },
                )
            })
            .transpose()
            .map_err(InstallError::Spawn)?;
        #[cfg(feature = "otlp")]
        let (otlp_tap, otlp_handle, otlp_shared) = match otlp {
            Some((tap, handle, shared)) => (Some(tap), Some(handle), Some(shared)),
            None => (None, None, None),
        };
        #[cfg(feature = "http")]
        let sources = crate::http::Sources {
            published: Arc::clone(&published),
            alerts: Arc::clone(&alerts_shared),
            clock: Arc::clone(&clock),
            self_stats: Arc::clone(&self_stats),
            resources: Arc::clone(&resources),
            running: Arc::clone(&running),
        };
        let outputs_stats_path = outputs
            .persistence
            .as_ref()
            .map(|(persistence, _)| persistence.path().to_path_buf());
        let Outputs {
            claim,
            locks,
            clock: collector_clock,
            detect_clock_jumps,
            logs,
            alerting,
            persistence,
            log_dir,
        } = outputs;
        let collector = Collector::new(CollectorParts {
            generation,
            queue: Arc::clone(&queue),
            control: control_rx,
            clock: collector_clock,
            detect_clock_jumps,
            logs,
            sinks: std::mem::take(&mut self.sinks),
            published: Arc::clone(&published),
            unsaved: Arc::clone(&unsaved),
            publish_durations,
            feed,
            self_stats,
            orphan_baseline: ORPHAN_DROPS.load(Ordering::Relaxed),
            persistence,
            alerts: alerting,
            sampler: self
                .sampler
                .take()
                .unwrap_or_else(|| Box::new(crate::resources::OsSampler::default())),
            resources: Arc::clone(&resources),
            #[cfg(feature = "otlp")]
            otlp: otlp_tap,
            log_dir,
            running: Arc::clone(&running),
        });
        let stats_path = outputs_stats_path;
        #[cfg(feature = "http")]
        let http = http
            .map(|prepared| crate::http::Server::start(prepared, sources))
            .transpose()
            .map_err(InstallError::Spawn)?;
        // The thread owns the claim and the locks: they are released when it
        // ends, or right here if it cannot start.
        let thread = std::thread::Builder::new()
            .name("monitor-collector".to_owned())
            .spawn(move || {
                collector.run();
                drop(locks); // other processes may use the directory now
                drop(claim);
            })
            .map_err(InstallError::Spawn)?;
        queue.wake.set_thread(thread.thread().clone());
        let handle = Arc::new(Handle {
            generation,
            control: control_tx,
            collector: thread.thread().clone(),
            published,
            unsaved,
            running,
            stats_path,
            clock,
            alerts: alerts_shared,
            resources,
            flush_timeout: self.flush_timeout,
            shutdown_timeout: self.shutdown_timeout,
            #[cfg(feature = "otlp")]
            otlp: otlp_shared,
        });
        FLUSH_ON_PANIC.store(self.flush_on_panic, Ordering::Relaxed);
        queue::activate(queue);
        *current = Some(Arc::clone(&handle));
        termination.arm(generation);
        #[cfg(feature = "otlp-tracing")]
        crate::otlp::parent::set_linking(otlp_handle.is_some());
        Ok(MonitorGuard {
            handle,
            thread: Some(thread),
            #[cfg(feature = "http")]
            http,
            #[cfg(feature = "otlp")]
            otlp: otlp_handle,
        })
    }

    /// The second step: claims and locks the log directory (before anything
    /// in it is opened: startup rotation and the statistics load must not run
    /// while another monitor writes these files), then opens the logs, the
    /// alerts and the statistics database.
    fn open_outputs(&mut self, alerts: PreparedAlerts) -> Result<Outputs, InstallError> {
        let log_dir_error = |path: PathBuf| move |source| InstallError::LogDir { path, source };
        std::fs::create_dir_all(&self.log_dir).map_err(log_dir_error(self.log_dir.clone()))?;
        let log_dir = self
            .log_dir
            .canonicalize()
            .map_err(log_dir_error(self.log_dir.clone()))?;
        let claim = DirClaim::take(log_dir.clone())?;
        Self::prepare_stats_db(&self.stats_db)?;
        let locks = crate::dir_lock::lock_all(&log_dir, self.stats_db.path(&log_dir).as_deref())?;
        let detect_clock_jumps = self.detect_clock_jumps.unwrap_or(self.clock.is_none());
        let clock: Arc<dyn Clock> = self.clock.take().unwrap_or_else(|| Arc::new(SystemClock));
        let LogsConfig {
            executions,
            errors,
            alerts: alerts_log,
        } = self.logs.resolve(&log_dir)?;
        Self::stats_db_outside_logs(
            &self.stats_db,
            [&executions.dir, &errors.dir, &alerts_log.dir],
        )?;
        let logs = LogFiles::open(executions, errors, clock.now())
            .map_err(log_dir_error(log_dir.clone()))?;
        let alerting = alerts.start(alerts_log, clock.now())?;
        let persistence = self.stats_db.path(&log_dir).map(|path| {
            let mut options = PersistOptions::new(path);
            options.save_interval = self.stats_save_interval;
            options.retention = self.rollup_retention;
            Persistence::open(options)
        });
        Ok(Outputs {
            claim,
            locks,
            clock,
            detect_clock_jumps,
            logs,
            alerting,
            persistence,
            log_dir,
        })
    }
}
