//! Process resources: what the collector samples once a second (resident
//! and virtual memory, CPU time and CPU percent, threads, open file
//! descriptors), the short history [`resources`](crate::resources) returns,
//! and the per-minute roll-ups saved in `stats.db`.
//!
//! The readings come from a [`ResourceSampler`]: by default
//! [`OsSampler`] (`/proc/self` and `getrusage` on Linux, `getrusage`
//! elsewhere on Unix; see its docs), or one a host or a test gives to
//! [`MonitorBuilder::resource_sampler`](crate::MonitorBuilder::resource_sampler).
//! Sampling runs on the collector thread, on its periodic tick, when the
//! monitor's [`Clock`](crate::Clock) has moved at least a second since the
//! previous sample: a caller never pays for it.

mod history;
mod os;

pub(crate) use history::{MinuteRollup, ResourceHistory};
pub use os::OsSampler;

use std::time::Duration;

use serde::Serialize;

use crate::timestamp::Timestamp;

/// What a [`ResourceSampler`] reads from the operating system at one
/// moment. Built with [`ProcessReading::new`] and its public fields; a
/// value the platform cannot give is `None`.
///
/// ```
/// use std::time::Duration;
/// use monitor_core::ProcessReading;
///
/// let mut reading = ProcessReading::new(300 << 20);
/// reading.cpu_user = Duration::from_millis(1500);
/// reading.threads = Some(12);
/// assert_eq!(reading.rss_bytes, 300 << 20);
/// assert_eq!(reading.open_fds, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessReading {
    /// Resident memory (RSS), in bytes.
    pub rss_bytes: u64,
    /// Virtual memory (address space), in bytes.
    pub virtual_bytes: Option<u64>,
    /// CPU time spent in user mode since the process started.
    pub cpu_user: Duration,
    /// CPU time spent in the kernel on the process's behalf since it started.
    pub cpu_system: Duration,
    /// Threads of the process.
    pub threads: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

impl ProcessReading {
    /// A reading of `rss_bytes` resident memory, no CPU time, and nothing
    /// else known.
    ///
    /// ```
    /// let reading = monitor_core::ProcessReading::new(1024);
    /// assert_eq!(reading.virtual_bytes, None);
    /// ```
    pub fn new(rss_bytes: u64) -> Self {
        ProcessReading {
            rss_bytes,
            ..ProcessReading::default()
        }
    }
}

/// Where the collector reads the process's resources from, once a second.
/// Runs on the collector thread; an `Err` skips that sample (nothing is
/// reported, the next second tries again).
///
/// The default is [`OsSampler`]. Give another to
/// [`MonitorBuilder::resource_sampler`](crate::MonitorBuilder::resource_sampler)
/// to read a cgroup's figures, say, or fake samples in a test:
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
/// use monitor_core::{ProcessReading, ResourceSampler};
///
/// /// RSS set by the test.
/// struct Fake(Arc<AtomicU64>);
///
/// impl ResourceSampler for Fake {
///     fn read(&mut self) -> std::io::Result<ProcessReading> {
///         Ok(ProcessReading::new(self.0.load(Ordering::Relaxed)))
///     }
/// }
///
/// let rss = Arc::new(AtomicU64::new(100 << 20));
/// let builder = monitor_core::Monitor::builder().resource_sampler(Fake(rss.clone()));
/// # drop(builder);
/// ```
pub trait ResourceSampler: Send + 'static {
    /// The process's resources now.
    fn read(&mut self) -> std::io::Result<ProcessReading>;
}

/// One sample of the process's resources, as [`resources`](crate::resources)
/// returns it.
///
/// Serialised as `{"time": "…", "rss_bytes": …, "virtual_bytes": …,
/// "cpu_user_secs": …, "cpu_system_secs": …, "cpu_percent": …, "threads": …,
/// "open_fds": …}`, `null` where unknown.
///
/// ```
/// if let Some(latest) = monitor_core::resources().latest {
///     println!("RSS {} MiB, CPU {:?} %", latest.rss_bytes >> 20, latest.cpu_percent);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ResourceSample {
    /// When it was taken, by the monitor's clock.
    pub time: Timestamp,
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
    /// Virtual memory, in bytes.
    pub virtual_bytes: Option<u64>,
    /// CPU time in user mode since the process started, in seconds.
    pub cpu_user_secs: f64,
    /// CPU time in the kernel since the process started, in seconds.
    pub cpu_system_secs: f64,
    /// CPU time (user and system) used since the previous sample, as a
    /// percentage of the time between the two (by the monitor's clock): 100
    /// is one core busy all the time, 200 two. `None` for the first sample,
    /// or when the clock did not move forward.
    pub cpu_percent: Option<f64>,
    /// Threads of the process.
    pub threads: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

impl ResourceSample {
    /// User and system CPU time since the process started, in seconds.
    ///
    /// ```
    /// if let Some(latest) = monitor_core::resources().latest {
    ///     assert_eq!(latest.cpu_secs(), latest.cpu_user_secs + latest.cpu_system_secs);
    /// }
    /// ```
    pub fn cpu_secs(&self) -> f64 {
        self.cpu_user_secs + self.cpu_system_secs
    }
}

impl ResourceSample {
    /// The figures of one minute row of `resource_rollups`, as a report
    /// read from a directory shows them (see
    /// [`LogDir::status_report`](crate::query::LogDir::status_report)):
    /// `time` the end of the minute (`now` if that is later than `now`),
    /// RSS the minute's mean, virtual memory, threads and open files its
    /// maxima, `cpu_percent` the CPU time used in the minute over the
    /// seconds it sampled (one sample a second, at most the whole bucket).
    /// The CPU time since the process started is not saved: 0. `None` for
    /// a row without samples.
    pub(crate) fn from_rollup(
        row: &monitor_sinks::stats_store::ResourceRollupRow,
        now: std::time::SystemTime,
    ) -> Option<ResourceSample> {
        let mean = row.rss_mean()?;
        let end = u64::try_from(row.bucket_start.saturating_add(i64::from(row.bucket_secs)))
            .ok()
            .map(|secs| std::time::UNIX_EPOCH + Duration::from_secs(secs))?;
        let sampled_secs = row.samples.min(u64::from(row.bucket_secs.max(1)));
        Some(ResourceSample {
            time: Timestamp(end.min(now)),
            rss_bytes: mean.round() as u64,
            virtual_bytes: row.virtual_max,
            cpu_user_secs: 0.0,
            cpu_system_secs: 0.0,
            cpu_percent: Some(row.cpu_micros as f64 / 1e6 / sampled_secs as f64 * 100.0),
            threads: row.threads_max,
            open_fds: row.fds_max,
        })
    }
}

/// The process's resources: the latest sample and a short history.
///
/// `history` covers the last hour, oldest first: every sample (one a
/// second) of the last minute, and one per 10 seconds before that — the
/// last sample of each 10 s, its `cpu_percent` the mean over those 10 s.
/// So it holds at most 420 samples, however long the process runs.
///
/// ```
/// let resources = monitor_core::resources();
/// assert!(resources.history.len() <= 420);
/// if let (Some(latest), Some(last)) = (&resources.latest, resources.history.last()) {
///     assert_eq!(latest, last);
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Resources {
    /// The latest sample; `None` before the first one (or without a monitor,
    /// or when the platform gives none).
    pub latest: Option<ResourceSample>,
    /// The last hour, oldest first (see the type's docs).
    pub history: Vec<ResourceSample>,
}
