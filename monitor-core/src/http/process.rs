//! The standard `process_*` metrics, with the names of the Prometheus client
//! libraries: CPU time, resident and virtual memory, open file descriptors
//! and threads from the collector's latest resource sample (see
//! [`resources`](crate::resources); read on the spot before the first
//! sample), the start time from `/proc/self/stat` on Linux. A value the
//! platform does not give is left out.

use super::metrics::Format;
use crate::resources::{OsSampler, ResourceSample, ResourceSampler};

/// The values written.
#[derive(Debug, Default, PartialEq)]
struct Numbers {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<u64>,
    virtual_bytes: Option<u64>,
    open_fds: Option<u64>,
    threads: Option<u64>,
}

impl Numbers {
    fn of(latest: Option<&ResourceSample>) -> Numbers {
        if let Some(sample) = latest {
            return Numbers {
                cpu_seconds: Some(sample.cpu_secs()),
                resident_bytes: Some(sample.rss_bytes),
                virtual_bytes: sample.virtual_bytes,
                open_fds: sample.open_fds,
                threads: sample.threads,
            };
        }
        match OsSampler::default().read() {
            Ok(reading) => Numbers {
                cpu_seconds: Some((reading.cpu_user + reading.cpu_system).as_secs_f64()),
                resident_bytes: Some(reading.rss_bytes),
                virtual_bytes: reading.virtual_bytes,
                open_fds: reading.open_fds,
                threads: reading.threads,
            },
            Err(_) => Numbers::default(),
        }
    }
}

/// Appends the process metrics, from `latest` when there is a sample.
pub(crate) fn write(out: &mut String, format: Format, latest: Option<&ResourceSample>) {
    let numbers = Numbers::of(latest);
    let cpu_family = match format {
        Format::Prometheus => "process_cpu_seconds_total",
        Format::OpenMetrics => "process_cpu_seconds",
    };
    let mut metric = |family: &str, name: &str, kind: &str, help: &str, value: Option<String>| {
        if let Some(value) = value {
            out.push_str(&format!(
                "# HELP {family} {help}\n# TYPE {family} {kind}\n{name} {value}\n"
            ));
        }
    };
    metric(
        cpu_family,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        numbers.cpu_seconds.map(|v| v.to_string()),
    );
    metric(
        "process_resident_memory_bytes",
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        numbers.resident_bytes.map(|v| v.to_string()),
    );
    metric(
        "process_virtual_memory_bytes",
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        numbers.virtual_bytes.map(|v| v.to_string()),
    );
    metric(
        "process_open_fds",
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        numbers.open_fds.map(|v| v.to_string()),
    );
    metric(
        "process_threads",
        "process_threads",
        "gauge",
        "Number of OS threads in the process.",
        numbers.threads.map(|v| v.to_string()),
    );
    metric(
        "process_start_time_seconds",
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        start_time_seconds().map(|v| v.to_string()),
    );
}

/// When the process started, in seconds since the epoch (Linux).
#[cfg(target_os = "linux")]
fn start_time_seconds() -> Option<f64> {
    linux::start_time_seconds()
}

#[cfg(not(target_os = "linux"))]
fn start_time_seconds() -> Option<f64> {
    None
}

#[cfg(target_os = "linux")]
mod linux {
    /// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`).
    const USER_HZ: f64 = 100.0;

    /// Field 22 (starttime, in clock ticks since boot) of `/proc/self/stat`.
    pub(super) fn parse_start(stat: &str) -> Option<u64> {
        // The command name is in parentheses and may hold spaces or ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        // rest's first field is field 3 (state).
        rest.split_whitespace().nth(22 - 3)?.parse().ok()
    }

    /// `btime 1700000000` from `/proc/stat`: boot time, seconds since the epoch.
    pub(super) fn parse_boot_time(stat: &str) -> Option<u64> {
        stat.lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }

    pub(super) fn start_time_seconds() -> Option<f64> {
        let start = parse_start(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        let boot = parse_boot_time(&std::fs::read_to_string("/proc/stat").ok()?)?;
        Some(boot as f64 + start as f64 / USER_HZ)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn proc_files_parse() {
            let stat = "4242 (my (weird) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345 1000 200";
            assert_eq!(parse_start(stat), Some(12345));
            assert_eq!(
                parse_boot_time("cpu 1 2\nbtime 1700000000\n"),
                Some(1_700_000_000)
            );
            assert!(start_time_seconds().unwrap() > 1_700_000_000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::Timestamp;

    #[test]
    fn the_latest_sample_gives_the_values_and_unknown_ones_are_left_out() {
        let sample = ResourceSample {
            time: Timestamp(std::time::UNIX_EPOCH),
            rss_bytes: 123_456_789,
            virtual_bytes: None,
            cpu_user_secs: 1.25,
            cpu_system_secs: 0.5,
            cpu_percent: Some(3.0),
            threads: Some(7),
            open_fds: None,
        };
        let mut out = String::new();
        write(&mut out, Format::Prometheus, Some(&sample));
        assert!(
            out.contains("\nprocess_resident_memory_bytes 123456789\n"),
            "{out}"
        );
        assert!(out.contains("\nprocess_cpu_seconds_total 1.75\n"), "{out}");
        assert!(out.contains("\nprocess_threads 7\n"), "{out}");
        assert!(!out.contains("process_virtual_memory_bytes"), "{out}");
        assert!(!out.contains("process_open_fds"), "{out}");
        let mut open = String::new();
        write(&mut open, Format::OpenMetrics, Some(&sample));
        assert!(
            open.contains("# TYPE process_cpu_seconds counter\n"),
            "{open}"
        );
    }
}
