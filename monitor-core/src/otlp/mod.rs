//! OpenTelemetry export (feature `otlp`): executions as OTLP spans,
//! statistics as OTLP metrics, over OTLP/HTTP with protobuf bodies.
//!
//! Every OpenTelemetry dependency is named in this module only, so that
//! their frequent breaking releases touch one place: `convert.rs` builds the
//! `opentelemetry-proto` messages, `export.rs` posts them (ureq, blocking),
//! `parent.rs` (feature `otlp-tracing`) reads the context
//! `tracing-opentelemetry` keeps on the current span.
//!
//! Data flow: the collector hands each finished execution that the sampler
//! keeps to the [`OtlpTap`], which converts it to an owned [`SpanJob`] and
//! `try_send`s it into a bounded channel (full: dropped and counted; the
//! collector never waits). The export thread batches the jobs into
//! requests, exports the statistics the collector publishes on its interval
//! (and at each flush and at shutdown), retries what a receiver refused for
//! now, and reports its state: a failing exporter is a component of the
//! `sink_failing` alert, with one stderr notice when it starts failing and
//! one when it answers again.
//!
//! Why not the `opentelemetry_sdk` pipeline with `opentelemetry-otlp`: its
//! exporters are async, its blocking HTTP client is reqwest's (tokio and
//! hyper in the host), its batch processor runs its own thread that drops
//! without telling, and its metrics exporter only takes the SDK's own
//! aggregations, which cannot carry the collector's histograms (the numbers
//! must equal `stats()`). The wire format is the same: these are the
//! messages `opentelemetry-otlp` encodes.

mod config;
mod convert;
mod export;
#[cfg(feature = "otlp-tracing")]
pub(crate) mod parent;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Sender, TrySendError};
use parking_lot::Mutex;

pub use config::OtlpConfig;
pub(crate) use export::{after, start, ExporterHandle, Sources};

use crate::alerts::ComponentHealth;
use crate::callsite::Callsite;
use crate::capture::Failure;
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::execution_record::ExecutionRecord;
use crate::fields::Field;
use crate::span_trace::ExecutionTrace;

impl crate::MonitorBuilder {
    /// Exports every execution as an OTLP span and the statistics as OTLP
    /// metrics (feature `otlp`), from a thread of its own: see [`OtlpConfig`]
    /// and the README's "OpenTelemetry" section. A bad configuration is an
    /// `Err` from `install()`.
    ///
    /// ```no_run
    /// let guard = monitor_core::Monitor::builder()
    ///     .otlp(monitor_core::OtlpConfig::http("http://127.0.0.1:4318").service_name("api"))
    ///     .install()?;
    /// # Ok::<(), monitor_core::InstallError>(())
    /// ```
    pub fn otlp(mut self, config: OtlpConfig) -> Self {
        self.otlp = Some(config);
        self
    }
}

/// What the OTLP exporter did since install: see [`otlp_stats`].
///
/// ```
/// let stats = monitor_core::otlp_stats();
/// if stats.failing {
///     eprintln!("OTLP receiver unreachable; {} spans lost", stats.spans_failed);
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpStats {
    /// Spans the receiver accepted (an execution's own span and one per
    /// node of its `execution_trace`).
    pub spans_exported: u64,
    /// Successful executions left out by
    /// [`success_sample_ratio`](OtlpConfig::success_sample_ratio).
    pub spans_sampled_out: u64,
    /// Executions dropped because the exporter's queue
    /// ([`max_queue_size`](OtlpConfig::max_queue_size)) was full.
    pub spans_dropped: u64,
    /// Spans in requests given up on (refused, or failing after the
    /// retries, or not sent by the end of shutdown).
    pub spans_failed: u64,
    /// Metrics requests the receiver accepted.
    pub metric_exports: u64,
    /// Metrics requests given up on.
    pub metric_exports_failed: u64,
    /// Requests that failed, every attempt counted (retries included).
    pub requests_failed: u64,
    /// Requests sent again after a failure.
    pub retries: u64,
    /// True from a request given up on until the next accepted one.
    pub failing: bool,
}

/// The installed monitor's OTLP exporter counters; all zero without an
/// installed monitor or without [`MonitorBuilder::otlp`](crate::MonitorBuilder::otlp).
///
/// ```
/// let stats = monitor_core::otlp_stats();
/// println!("{} spans lost", stats.spans_dropped + stats.spans_failed);
/// ```
pub fn otlp_stats() -> OtlpStats {
    crate::installed::current()
        .and_then(|handle| handle.otlp.as_ref().map(|shared| shared.stats()))
        .unwrap_or_default()
}

/// The exporter's counters and state, shared by the collector's tap, the
/// export thread and [`otlp_stats`].
#[derive(Default)]
pub(crate) struct Shared {
    spans_exported: AtomicU64,
    spans_sampled_out: AtomicU64,
    spans_dropped: AtomicU64,
    spans_failed: AtomicU64,
    metric_exports: AtomicU64,
    metric_exports_failed: AtomicU64,
    requests_failed: AtomicU64,
    retries: AtomicU64,
    failing: AtomicBool,
    /// Why the latest request given up on failed.
    last_error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn stats(&self) -> OtlpStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        OtlpStats {
            spans_exported: load(&self.spans_exported),
            spans_sampled_out: load(&self.spans_sampled_out),
            spans_dropped: load(&self.spans_dropped),
            spans_failed: load(&self.spans_failed),
            metric_exports: load(&self.metric_exports),
            metric_exports_failed: load(&self.metric_exports_failed),
            requests_failed: load(&self.requests_failed),
            retries: load(&self.retries),
            failing: self.failing.load(Ordering::Acquire),
        }
    }

    /// The exporter as a component of the `sink_failing` rule: failing
    /// while its requests fail; `lost` counts spans and metric exports.
    pub(crate) fn health(&self) -> ComponentHealth {
        let stats = self.stats();
        ComponentHealth {
            name: "OTLP exporter",
            failing: stats.failing,
            error: if stats.failing {
                self.last_error.lock().clone()
            } else {
                None
            },
            lost: stats.spans_dropped + stats.spans_failed + stats.metric_exports_failed,
        }
    }
}

/// The OpenTelemetry span this execution ran under (feature
/// `otlp-tracing`): the exported span becomes its child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parent {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
}

/// One execution on its way to the export thread: owned, converted there.
pub(crate) struct SpanJob {
    id: ExecutionId,
    name: Arc<str>,
    trigger_type: &'static str,
    status: Status,
    start: SystemTime,
    duration: Duration,
    thread: Arc<str>,
    module_path: &'static str,
    file: &'static str,
    line: u32,
    busy: Option<Duration>,
    failure: Option<Box<Failure>>,
    fields: Vec<Field>,
    trace: Option<Box<ExecutionTrace>>,
    parent: Option<Parent>,
}

/// The collector's end: samples, converts, hands over without waiting.
pub(crate) struct OtlpTap {
    spans: Sender<SpanJob>,
    flush: Sender<()>,
    shared: Arc<Shared>,
    /// Successes whose id hashes below this are kept (ratio × 2^64).
    keep_below: u64,
    keep_all: bool,
}

impl OtlpTap {
    /// One processed execution. `notable`: longer than its slow threshold,
    /// or listed as stuck while it ran (always exported, like failures).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn execution(
        &mut self,
        record: &ExecutionRecord<'_>,
        callsite: &'static Callsite,
        name: &Arc<str>,
        thread: &Arc<str>,
        notable: bool,
        parent: Option<Parent>,
    ) {
        if !(self.keep_all || notable || record.status.is_failure() || self.sampled_in(record.id)) {
            self.shared
                .spans_sampled_out
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let job = SpanJob {
            id: record.id,
            name: Arc::clone(name),
            trigger_type: callsite.trigger_type(),
            status: record.status,
            start: record.timestamp,
            duration: record.duration,
            thread: Arc::clone(thread),
            module_path: callsite.module_path(),
            file: callsite.file(),
            line: callsite.line(),
            busy: record.busy,
            failure: record.failure.map(|failure| Box::new(failure.clone())),
            fields: record.fields.to_vec(),
            trace: record
                .trace
                .filter(|trace| !trace.children.is_empty())
                .map(|trace| Box::new(trace.clone())),
            parent,
        };
        match self.spans.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.shared.spans_dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The export thread is gone (it never exits before the collector
            // unless it panicked): count, never block.
            Err(TrySendError::Disconnected(_)) => {
                self.shared.spans_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Deterministic sampling on the execution id (splitmix64 finaliser):
    /// the same execution is kept or left out the same way every time.
    fn sampled_in(&self, id: ExecutionId) -> bool {
        let raw = id.as_u128();
        let mut z = (raw as u64) ^ ((raw >> 64) as u64).rotate_left(29);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z < self.keep_below
    }

    /// After a flush: the exporter sends what waits and the statistics just
    /// published. Never waits: a flush already pending covers this one.
    pub(crate) fn flush(&self) {
        let _ = self.flush.try_send(());
    }

    /// The exporter's state for the `sink_failing` rule.
    pub(crate) fn health(&self) -> ComponentHealth {
        self.shared.health()
    }
}
