//! The export thread: batches spans, exports metrics on the interval,
//! posts with retries, and reports whether the receiver answers.
//!
//! It stops when the collector has stopped (the span channel disconnects):
//! it then sends what is left, once each, without retrying, and signals
//! `done`. [`ExporterHandle::finish`] waits for that at most until the
//! monitor's shutdown deadline; a receiver that never answers leaves the
//! thread blocked in its request (bounded by the request timeout) and
//! shutdown goes on without it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, select, Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;
use prost::Message;

use super::config::OtlpConfig;
use super::convert::{self, IdGenerator, SelfNumbers};
use super::{OtlpTap, Shared, SpanJob};
use crate::alerts::AlertsShared;
use crate::collector::SelfStats;
use crate::resources::ResourceHistory;
use crate::stats::Published;

/// Longest wait between two retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `delay` from now; a delay past what `Instant` can hold (a config of
/// `Duration::MAX`) is a century, never a panic.
pub(crate) fn after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// What the metrics are read from.
pub(crate) struct Sources {
    pub(crate) published: Arc<Mutex<Arc<Published>>>,
    pub(crate) alerts: Arc<AlertsShared>,
    pub(crate) self_stats: Arc<SelfStats>,
    /// The collector's resource samples (the latest is exported).
    pub(crate) resources: Arc<Mutex<ResourceHistory>>,
    /// The collector's latest sample of the running executions.
    pub(crate) running: Arc<Mutex<Arc<crate::collector::RunningNow>>>,
}

/// The guard's end: stops the retries and waits for the last export.
pub(crate) struct ExporterHandle {
    /// Dropped to say "shutting down": no more retries, no backoff waits.
    stop: Option<Sender<()>>,
    done: Receiver<()>,
}

impl ExporterHandle {
    /// After the collector stopped: waits until the exporter sent what was
    /// left, at most until `deadline`.
    pub(crate) fn finish(mut self, deadline: Instant) {
        drop(self.stop.take());
        match self.done.recv_deadline(deadline) {
            Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {}
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                eprintln!(
                    "monitor: the OTLP exporter did not finish its last export by the shutdown timeout; the spans still waiting are not sent"
                );
            }
        }
    }
}

/// Starts the export thread; returns the collector's tap and the guard's handle.
pub(crate) fn start(
    config: OtlpConfig,
    sources: Sources,
) -> std::io::Result<(OtlpTap, ExporterHandle, Arc<Shared>)> {
    let shared = Arc::new(Shared::default());
    let (span_tx, span_rx) = bounded(config.max_queue_size);
    let (flush_tx, flush_rx) = bounded(1);
    let (stop_tx, stop_rx) = bounded::<()>(0);
    let (done_tx, done_rx) = bounded(1);
    let ratio = config.success_sample_ratio;
    let tap = OtlpTap {
        spans: span_tx,
        flush: flush_tx,
        shared: Arc::clone(&shared),
        keep_below: (ratio * u64::MAX as f64) as u64,
        keep_all: ratio >= 1.0,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(config.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("monitor/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let exporter = Exporter {
        traces_url: format!("{}/v1/traces", config.base()),
        metrics_url: format!("{}/v1/metrics", config.base()),
        resource: convert::resource(&config),
        started: SystemTime::now(),
        agent,
        ids: IdGenerator::new(),
        shared: Arc::clone(&shared),
        stop: stop_rx,
        stopping: false,
        sources,
        config,
    };
    std::thread::Builder::new()
        .name("monitor-otlp".to_owned())
        .spawn(move || {
            let shared = Arc::clone(&exporter.shared);
            let run = std::panic::AssertUnwindSafe(|| exporter.run(span_rx, flush_rx));
            if std::panic::catch_unwind(run).is_err() {
                // A bug of ours: say so once, and count what comes as failed
                // (the tap sees the channel closed).
                *shared.last_error.lock() = Some("the OTLP export thread panicked".to_owned());
                shared.failing.store(true, Ordering::Release);
                eprintln!("monitor: the OTLP export thread panicked; spans are no longer exported (counted as failed)");
            }
            let _ = done_tx.send(());
        })?;
    let handle = ExporterHandle {
        stop: Some(stop_tx),
        done: done_rx,
    };
    Ok((tap, handle, shared))
}

struct Exporter {
    config: OtlpConfig,
    traces_url: String,
    metrics_url: String,
    resource: opentelemetry_proto::tonic::resource::v1::Resource,
    started: SystemTime,
    agent: ureq::Agent,
    ids: IdGenerator,
    shared: Arc<Shared>,
    stop: Receiver<()>,
    /// Set once `stop` disconnected: one attempt per request from then on.
    stopping: bool,
    sources: Sources,
}

/// Why one attempt failed, and whether another may work.
struct Failed {
    message: String,
    retryable: bool,
}

impl Exporter {
    fn run(mut self, spans: Receiver<SpanJob>, flush: Receiver<()>) {
        let mut batch: Vec<SpanJob> = Vec::with_capacity(self.config.max_batch_size);
        let mut batch_due: Option<Instant> = None;
        let mut metrics_due = after(self.config.export_interval);
        loop {
            let wake = batch_due.map_or(metrics_due, |due| due.min(metrics_due));
            select! {
                recv(spans) -> job => match job {
                    Ok(job) => {
                        if batch.is_empty() {
                            batch_due = Some(after(self.config.schedule_delay));
                        }
                        batch.push(job);
                        if batch.len() >= self.config.max_batch_size {
                            self.send_spans(&mut batch);
                            batch_due = None;
                        }
                    }
                    Err(_) => break,
                },
                recv(flush) -> request => {
                    if request.is_err() {
                        break;
                    }
                    self.take_waiting(&spans, &mut batch);
                    self.send_spans(&mut batch);
                    batch_due = None;
                    self.send_metrics();
                    metrics_due = after(self.config.export_interval);
                },
                default(wake.saturating_duration_since(Instant::now())) => {
                    let now = Instant::now();
                    if batch_due.is_some_and(|due| due <= now) {
                        self.send_spans(&mut batch);
                        batch_due = None;
                    }
                    if metrics_due <= now {
                        self.send_metrics();
                        metrics_due = after(self.config.export_interval);
                    }
                }
            }
        }
        // The collector stopped: what is left, then the final statistics.
        if let Err(TryRecvError::Disconnected) = self.stop.try_recv() {
            self.stopping = true;
        }
        self.take_waiting(&spans, &mut batch);
        self.send_spans(&mut batch);
        self.send_metrics();
    }

    /// Moves every span waiting in the channel into `batch`, sending full
    /// batches on the way.
    fn take_waiting(&mut self, spans: &Receiver<SpanJob>, batch: &mut Vec<SpanJob>) {
        loop {
            match spans.try_recv() {
                Ok(job) => {
                    batch.push(job);
                    if batch.len() >= self.config.max_batch_size {
                        self.send_spans(batch);
                    }
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    fn send_spans(&mut self, batch: &mut Vec<SpanJob>) {
        if batch.is_empty() {
            return;
        }
        let mut spans = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            convert::spans_of(&job, &mut self.ids, &mut spans);
        }
        let count = spans.len() as u64;
        let body = convert::trace_request(&self.resource, spans).encode_to_vec();
        let url = std::mem::take(&mut self.traces_url);
        let result = self.post(&url, &body);
        self.traces_url = url;
        match result {
            Ok(()) => {
                self.shared
                    .spans_exported
                    .fetch_add(count, Ordering::Relaxed);
                self.answered();
            }
            Err(message) => {
                self.shared.spans_failed.fetch_add(count, Ordering::Relaxed);
                self.given_up(message, &format!("{count} spans dropped"));
            }
        }
    }

    fn send_metrics(&mut self) {
        let published = Arc::clone(&self.sources.published.lock());
        let firing = self.sources.alerts.firing();
        let latest = self.sources.resources.lock().latest().cloned();
        let running = Arc::clone(&self.sources.running.lock());
        let numbers = SelfNumbers {
            queue_depth: self.sources.self_stats.queue_depth.load(Ordering::Relaxed),
            restarts: self.sources.self_stats.restarts.load(Ordering::Relaxed),
            resources: latest,
            running,
        };
        let body = convert::metrics_request(
            &self.resource,
            &published,
            &firing,
            &numbers,
            self.started,
            SystemTime::now(),
        )
        .encode_to_vec();
        let url = std::mem::take(&mut self.metrics_url);
        let result = self.post(&url, &body);
        self.metrics_url = url;
        match result {
            Ok(()) => {
                self.shared.metric_exports.fetch_add(1, Ordering::Relaxed);
                self.answered();
            }
            Err(message) => {
                self.shared
                    .metric_exports_failed
                    .fetch_add(1, Ordering::Relaxed);
                self.given_up(message, "metrics not exported");
            }
        }
    }

    /// A request was accepted: the end of a failing episode, if one was on.
    fn answered(&self) {
        if self.shared.failing.swap(false, Ordering::AcqRel) {
            let stats = self.shared.stats();
            eprintln!(
                "monitor: OTLP export to {} works again ({} spans lost in total: {} dropped, {} in failed requests)",
                self.config.base(),
                stats.spans_dropped + stats.spans_failed,
                stats.spans_dropped,
                stats.spans_failed
            );
        }
    }

    /// A request was given up on: the start of a failing episode, with its
    /// one notice, unless one is on.
    fn given_up(&self, message: String, lost: &str) {
        *self.shared.last_error.lock() = Some(message.clone());
        if !self.shared.failing.swap(true, Ordering::AcqRel) {
            eprintln!(
                "monitor: OTLP export to {} failing ({message}; {lost}); spans are dropped and counted until the receiver answers again (the sink_failing alert)",
                self.config.base()
            );
        }
    }

    /// Posts `body`, retrying what may work later, unless stopping.
    fn post(&mut self, url: &str, body: &[u8]) -> Result<(), String> {
        let mut backoff = self.config.retry_backoff;
        let mut attempt = 0;
        loop {
            let failed = match self.attempt(url, body) {
                Ok(()) => return Ok(()),
                Err(failed) => failed,
            };
            self.shared.requests_failed.fetch_add(1, Ordering::Relaxed);
            if !failed.retryable || attempt >= self.config.retries || self.stopping {
                return Err(failed.message);
            }
            // The backoff ends early when the monitor shuts down.
            if let Err(RecvTimeoutError::Disconnected) = self.stop.recv_timeout(backoff) {
                self.stopping = true;
                return Err(failed.message);
            }
            attempt += 1;
            self.shared.retries.fetch_add(1, Ordering::Relaxed);
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
        }
    }

    fn attempt(&mut self, url: &str, body: &[u8]) -> Result<(), Failed> {
        let mut request = self
            .agent
            .post(url)
            .header("content-type", "application/x-protobuf");
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send(body) {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read to the end so the connection is reused (bounded).
                let _ = response
                    .into_body()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_vec();
                match status {
                    200..=299 => Ok(()),
                    429 | 502 | 503 | 504 => Err(Failed {
                        message: format!("HTTP {status} from {url}"),
                        retryable: true,
                    }),
                    _ => Err(Failed {
                        message: format!("HTTP {status} from {url}"),
                        retryable: false,
                    }),
                }
            }
            Err(error) => Err(Failed {
                message: format!("{url}: {error}"),
                retryable: true,
            }),
        }
    }
}
