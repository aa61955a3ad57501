//! The standard `process_*` metrics, where the platform gives them: on
//! Linux from `/proc/self` (CPU time in `USER_HZ` = 100 ticks a second, as
//! the Prometheus client libraries read it); elsewhere none.

use super::metrics::Format;

/// Appends the process metrics the platform gives.
pub(crate) fn write(out: &mut String, format: Format) {
    #[cfg(target_os = "linux")]
    linux::write(out, format);
    #[cfg(not(target_os = "linux"))]
    let _ = (out, format);
}

#[cfg(target_os = "linux")]
mod linux {
    use super::Format;

    /// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`).
    const USER_HZ: f64 = 100.0;

    /// What `/proc/self` says.
    #[derive(Debug, Default, PartialEq)]
    pub(super) struct Numbers {
        pub(super) cpu_seconds: Option<f64>,
        pub(super) resident_bytes: Option<u64>,
        pub(super) open_fds: Option<u64>,
        pub(super) start_time_seconds: Option<f64>,
    }

    /// Fields of `/proc/self/stat` after the command name: (utime, stime, starttime).
    pub(super) fn parse_stat(stat: &str) -> Option<(u64, u64, u64)> {
        // The command name is in parentheses and may hold spaces or ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
        let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
        Some((field(14)?, field(15)?, field(22)?))
    }

    /// `VmRSS:   1234 kB` from `/proc/self/status`, in bytes.
    pub(super) fn parse_rss(status: &str) -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// `btime 1700000000` from `/proc/stat`: boot time, seconds since the epoch.
    pub(super) fn parse_boot_time(stat: &str) -> Option<u64> {
        stat.lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }

    fn read() -> Numbers {
        let mut numbers = Numbers::default();
        if let Some((utime, stime, start)) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            numbers.cpu_seconds = Some((utime + stime) as f64 / USER_HZ);
            numbers.start_time_seconds = std::fs::read_to_string("/proc/stat")
                .ok()
                .as_deref()
                .and_then(parse_boot_time)
                .map(|boot| boot as f64 + start as f64 / USER_HZ);
        }
        numbers.resident_bytes = std::fs::read_to_string("/proc/self/status")
            .ok()
            .as_deref()
            .and_then(parse_rss);
        numbers.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count().saturating_sub(1) as u64); // the one read_dir opened
        numbers
    }

    pub(super) fn write(out: &mut String, format: Format) {
        let numbers = read();
        let cpu_family = match format {
            Format::Prometheus => "process_cpu_seconds_total",
            Format::OpenMetrics => "process_cpu_seconds",
        };
        let mut metric =
            |family: &str, name: &str, kind: &str, help: &str, value: Option<String>| {
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
            "process_open_fds",
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            numbers.open_fds.map(|v| v.to_string()),
        );
        metric(
            "process_start_time_seconds",
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch in seconds.",
            numbers.start_time_seconds.map(|v| v.to_string()),
        );
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn proc_files_parse() {
            let stat = "4242 (my (weird) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345 1000 200";
            assert_eq!(parse_stat(stat), Some((250, 50, 12345)));
            assert_eq!(
                parse_rss("Name:\tx\nVmRSS:\t  2048 kB\n"),
                Some(2048 * 1024)
            );
            assert_eq!(
                parse_boot_time("cpu 1 2\nbtime 1700000000\n"),
                Some(1_700_000_000)
            );
            let live = read();
            assert!(live.cpu_seconds.is_some() && live.resident_bytes.unwrap() > 0);
            assert!(live.open_fds.unwrap() >= 3, "{live:?}");
        }
    }
}
