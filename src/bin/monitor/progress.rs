//! Progress on stderr while a scan takes longer than a second: at most one
//! update a second, on one line rewritten in place when stderr is a
//! terminal (cleared when the scan ends), else one line per update.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use monitor::query::{LogDir, Progress};

/// Scans shorter than this print nothing.
const QUIET_FOR: Duration = Duration::from_secs(1);

/// The `elapsed` of the latest update printed.
static LAST: Mutex<Option<Duration>> = Mutex::new(None);
/// Whether an in-place line is on the terminal now.
static SHOWN: AtomicBool = AtomicBool::new(false);

/// `logs` reporting its progress on stderr.
pub(crate) fn attach(logs: LogDir) -> LogDir {
    let terminal = std::io::stderr().is_terminal();
    logs.on_progress(move |progress| report(progress, terminal))
}

fn report(progress: &Progress, terminal: bool) {
    if progress.elapsed < QUIET_FOR {
        return;
    }
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if last.is_some_and(|at| progress.elapsed < at + Duration::from_secs(1)) {
        return;
    }
    *last = Some(progress.elapsed);
    let text = describe(progress);
    let mut stderr = std::io::stderr().lock();
    if terminal {
        let _ = write!(stderr, "\r\x1b[2K{text}");
        SHOWN.store(true, Ordering::Relaxed);
    } else {
        let _ = writeln!(stderr, "{text}");
    }
    let _ = stderr.flush();
}

/// `monitor: reading logs… 3/12 files, 412 MB, 4 s`.
fn describe(progress: &Progress) -> String {
    format!(
        "monitor: reading logs… {}/{} files, {} MB, {} s",
        progress.files_read,
        progress.files_total,
        progress.bytes_read / 1_000_000,
        progress.elapsed.as_secs()
    )
}

/// Clears the in-place progress line before the answer is printed.
pub(crate) fn finish() {
    if SHOWN.swap(false, Ordering::Relaxed) {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
    *LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_names_files_bytes_and_time() {
        let mut progress = Progress::default();
        progress.files_read = 3;
        progress.files_total = 12;
        progress.bytes_read = 412_000_000;
        progress.elapsed = Duration::from_millis(4_200);
        assert_eq!(
            describe(&progress),
            "monitor: reading logs… 3/12 files, 412 MB, 4 s"
        );
    }
}
