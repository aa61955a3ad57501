//! Core of [`monitor`](https://docs.rs/monitor): callsites, the per-thread
//! queues, the collector thread and its supervisor, statistics, alert rules,
//! the sink and notifier traits, the builder and the `tracing` layer.
//!
//! Hosts use the `monitor` facade crate, which re-exports this crate's public
//! API together with the `#[monitored]` attribute.
//!
//! Data flow: hot path → per-thread ring → collector → logs, statistics,
//! alerts, sinks.
#![warn(missing_docs, unreachable_pub)]
#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]

mod alerts;
mod api;
mod builder;
mod callsite;
mod capture;
mod clock;
mod collector;
mod dir_lock;
mod duration_text;
mod event;
mod execution_id;
mod execution_record;
mod fields;
mod guard;
#[cfg(feature = "http")]
pub mod http;
mod install_error;
mod installed;
mod json;
mod layer;
mod local_id;
mod name_filter;
#[cfg(feature = "otlp")]
mod otlp;
pub mod query;
mod queue;
mod report;
mod resources;
pub mod rollup_reader;
mod running;
mod sink;
mod span_trace;
mod stats;
mod termination;
mod ticks;
mod timestamp;
mod windows;

#[cfg(feature = "webhook")]
pub use alerts::WebhookNotifier;
pub use alerts::{
    Acknowledgement, Alert, AlertQuery, AlertRule, AlertRules, AlertRulesInUse, AlertState, Alerts,
    AlertsError, Health, MemoryGrowth, Notifier, Severity, Verdict,
};
pub use api::{
    acknowledge, alert_rules, alerts, flush, health, resources, running, set_alert_rules,
    set_alert_rules_for, stats, stats_window, status_report, trend,
};
pub use builder::{Monitor, MonitorBuilder};
pub use capture::{CaptureLimits, Failure};
pub use clock::{Clock, ManualClock, SystemClock};
pub use duration_text::parse_duration;
pub use event::Status;
pub use execution_id::{ExecutionId, ParseExecutionIdError};
pub use execution_record::ExecutionRecord;
pub use fields::{Field, FieldValue, MAX_FIELDS, MAX_NAME_BYTES, MAX_VALUE_BYTES};
pub use install_error::{InstallError, LockedResource};
pub use installed::MonitorGuard;
pub use layer::{layer, MonitorLayer};
pub use monitor_sinks::rotating::{Retention, Rotation};
pub use monitor_sinks::stats_store::RollupRetention;
pub use name_filter::{NameFilter, ParseNameFilterError};
#[cfg(feature = "otlp")]
pub use otlp::{otlp_stats, OtlpConfig, OtlpStats};
pub use queue::Overflow;
pub use report::{StatusReport, RUNNING_LISTED_AFTER};
pub use resources::{OsSampler, ProcessReading, ResourceSample, ResourceSampler, Resources};
pub use running::RunningExecution;
pub use sink::Sink;
pub use span_trace::{ExecutionTrace, TraceNode};
pub use stats::{ErrorPattern, FunctionStats, FunctionStatus, LastError, StatsSnapshot};
pub use timestamp::Timestamp;
pub use windows::{FunctionTrend, FunctionWindow, TrendPoint, WindowStats, WindowSummary};

/// Items the `#[monitored]` expansion refers to. Not a public API: it can
/// change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::__monitor_register as register;
    pub use crate::callsite::{Callsite, Registration, MONITORED_FUNCTIONS};
    pub use crate::capture::{
        Carried, Classify, ClassifyAny, ClassifyBoxError, ClassifyCloneError, ClassifyDebug,
        ClassifyDisplay, ClassifyDynError, ClassifyError, ClassifyResult, Outcome, Staged,
    };
    pub use crate::fields::{
        BareValue, FieldBare, FieldDebug, FieldDisplay, FieldSlot, Held, HeldFields, HeldValue,
        HoldBare, HoldBareCopy, HoldBareRef, HoldDebug, HoldDebugCopy, HoldDebugRef, HoldDisplay,
        HoldDisplayCopy, HoldDisplayRef, NoFields,
    };
    pub use crate::guard::{
        enabled, AsyncInlineGuard, CallOnce, Completion, ExecutionGuard, InlineGuard,
        MonitoredFuture,
    };
    pub use core::any::type_name;
    pub use linkme;
}
