//! [`OsSampler`]: the process's resources from the operating system.

use std::io;
use std::time::Duration;

use super::{ProcessReading, ResourceSampler};

/// Reads the process's resources from the operating system, with no
/// dependency beyond `libc`:
///
/// * **Linux**: resident and virtual memory and the thread count from
///   `/proc/self/status` (`VmRSS`, `VmSize`, `Threads`), open file
///   descriptors by counting `/proc/self/fd`, CPU time from
///   `getrusage(RUSAGE_SELF)` (microseconds, where `/proc/self/stat` counts
///   clock ticks of 10 ms).
/// * **Other Unix** (macOS, the BSDs): `getrusage(RUSAGE_SELF)` for CPU time
///   and memory. There `rss_bytes` is the *peak* resident size
///   (`ru_maxrss`: the current one needs `task_info` or `kvm`, which this
///   crate does not bind); virtual memory, threads and descriptors are
///   `None`.
/// * **Elsewhere**: every read is an `Err`, so no sample is taken.
///
/// ```
/// use monitor_core::{OsSampler, ResourceSampler};
/// let mut sampler = OsSampler::default();
/// if cfg!(target_os = "linux") {
///     let reading = sampler.read().unwrap();
///     assert!(reading.rss_bytes > 0);
///     assert!(reading.threads.unwrap() >= 1);
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct OsSampler {
    _private: (),
}

impl ResourceSampler for OsSampler {
    fn read(&mut self) -> io::Result<ProcessReading> {
        read_os()
    }
}

#[cfg(target_os = "linux")]
fn read_os() -> io::Result<ProcessReading> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let mut reading = parse_status(&status).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "/proc/self/status has no VmRSS")
    })?;
    reading.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        // Less the descriptor read_dir itself holds while listing.
        .map(|entries| entries.count().saturating_sub(1) as u64);
    let (user, system) = cpu_times()?;
    reading.cpu_user = user;
    reading.cpu_system = system;
    Ok(reading)
}

/// `VmRSS`, `VmSize` and `Threads` of `/proc/self/status`; `None` without `VmRSS`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_status(status: &str) -> Option<ProcessReading> {
    let kib = |value: &str| -> Option<u64> {
        let number = value.trim().strip_suffix("kB")?.trim();
        number.parse::<u64>().ok().map(|n| n.saturating_mul(1024))
    };
    let mut rss = None;
    let mut reading = ProcessReading::default();
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            "VmRSS" => rss = kib(value),
            "VmSize" => reading.virtual_bytes = kib(value),
            "Threads" => reading.threads = value.trim().parse().ok(),
            _ => {}
        }
    }
    reading.rss_bytes = rss?;
    Some(reading)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn read_os() -> io::Result<ProcessReading> {
    let usage = rusage()?;
    // ru_maxrss: bytes on macOS and iOS, kilobytes on the BSDs.
    let max_rss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    let rss = if cfg!(any(target_os = "macos", target_os = "ios")) {
        max_rss
    } else {
        max_rss.saturating_mul(1024)
    };
    let mut reading = ProcessReading::new(rss);
    reading.cpu_user = timeval(usage.ru_utime);
    reading.cpu_system = timeval(usage.ru_stime);
    Ok(reading)
}

#[cfg(not(unix))]
fn read_os() -> io::Result<ProcessReading> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "process resources are read on Unix only",
    ))
}

#[cfg(unix)]
fn rusage() -> io::Result<libc::rusage> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory the size of a `rusage`;
    // getrusage fills it in and touches nothing else.
    let result = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getrusage returned 0, so it initialised the whole struct (and
    // it was zeroed before: every bit pattern of it is valid anyway).
    Ok(unsafe { usage.assume_init() })
}

#[cfg(unix)]
fn timeval(time: libc::timeval) -> Duration {
    let secs = u64::try_from(time.tv_sec).unwrap_or(0);
    let micros = u32::try_from(time.tv_usec).unwrap_or(0).min(999_999);
    Duration::new(secs, micros * 1000)
}

#[cfg(target_os = "linux")]
fn cpu_times() -> io::Result<(Duration, Duration)> {
    let usage = rusage()?;
    Ok((timeval(usage.ru_utime), timeval(usage.ru_stime)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_give_memory_in_bytes_and_threads() {
        let status =
            "Name:\tcargo\nVmPeak:\t  999 kB\nVmSize:\t  2048 kB\nVmRSS:\t   512 kB\nThreads:\t7\n";
        let reading = parse_status(status).unwrap();
        assert_eq!(reading.rss_bytes, 512 * 1024);
        assert_eq!(reading.virtual_bytes, Some(2048 * 1024));
        assert_eq!(reading.threads, Some(7));
        assert_eq!(parse_status("Name:\tx\nThreads:\t1\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_os_reading_sees_this_process() {
        let reading = OsSampler::default().read().unwrap();
        assert!(reading.rss_bytes > 1 << 20, "{reading:?}");
        assert!(reading.virtual_bytes.unwrap() >= reading.rss_bytes);
        assert!(reading.threads.unwrap() >= 1);
        assert!(reading.open_fds.unwrap() >= 3, "stdin, stdout, stderr");
        // Burn some CPU: the user time moves.
        let spin = (0..20_000_000u64).map(std::hint::black_box).sum::<u64>();
        let later = OsSampler::default().read().unwrap();
        assert!(
            spin > 0 && later.cpu_user + later.cpu_system > reading.cpu_user + reading.cpu_system
        );
    }
}
