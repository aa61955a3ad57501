//! Progress on stderr while a scan takes longer than a second: at most one
//! update a second, on one line rewritten in place when stderr is a
//! terminal (cleared before the answer is printed), else one line per
//! update.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use monitor::query::{LogDir, Progress};

/// Scans shorter than this print nothing.
const QUIET_FOR: Duration = Duration::from_secs(1);
/// Time between two updates.
const EVERY: Duration = Duration::from_secs(1);

/// The process's reporter (one command runs per process).
static REPORTER: OnceLock<Reporter> = OnceLock::new();

/// `logs`, reporting its progress on stderr.
pub(crate) fn attach(logs: LogDir) -> LogDir {
    let reporter = REPORTER.get_or_init(|| Reporter::new(std::io::stderr().is_terminal()));
    logs.on_progress(move |progress| reporter.report(progress, &mut std::io::stderr().lock()))
}

/// Clears the in-place progress line, if any, before the answer is printed.
pub(crate) fn finish() {
    if let Some(reporter) = REPORTER.get() {
        reporter.finish(&mut std::io::stderr().lock());
    }
}

/// When to print what.
struct Reporter {
    /// Rewrite one line in place (a terminal), or print lines.
    terminal: bool,
    /// The `elapsed` of the latest update printed.
    last: Mutex<Option<Duration>>,
    /// An in-place line is on the terminal now.
    shown: AtomicBool,
}

impl Reporter {
    fn new(terminal: bool) -> Reporter {
        Reporter {
            terminal,
            last: Mutex::new(None),
            shown: AtomicBool::new(false),
        }
    }

    fn report(&self, progress: &Progress, out: &mut dyn Write) {
        if progress.elapsed < QUIET_FOR {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| progress.elapsed < at + EVERY) {
            return;
        }
        *last = Some(progress.elapsed);
        let text = describe(progress);
        let _ = if self.terminal {
            self.shown.store(true, Ordering::Relaxed);
            write!(out, "\r\x1b[2K{text}")
        } else {
            writeln!(out, "{text}")
        };
        let _ = out.flush();
    }

    fn finish(&self, out: &mut dyn Write) {
        if self.shown.swap(false, Ordering::Relaxed) {
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: u64) -> Progress {
        let mut progress = Progress::default();
        progress.files_read = 3;
        progress.files_total = 12;
        progress.bytes_read = 412_000_000;
        progress.elapsed = Duration::from_millis(millis);
        progress
    }

    fn printed(reporter: &Reporter, millis: u64) -> String {
        let mut out = Vec::new();
        reporter.report(&at(millis), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nothing_for_the_first_second_then_one_line_a_second() {
        let reporter = Reporter::new(false);
        assert_eq!(printed(&reporter, 500), "");
        assert_eq!(
            printed(&reporter, 1_200),
            "monitor: reading logs… 3/12 files, 412 MB, 1 s\n"
        );
        assert_eq!(printed(&reporter, 1_900), "");
        assert_eq!(
            printed(&reporter, 2_300),
            "monitor: reading logs… 3/12 files, 412 MB, 2 s\n"
        );
        let mut out = Vec::new();
        reporter.finish(&mut out);
        assert!(out.is_empty(), "lines stay on a log");
    }

    #[test]
    fn on_a_terminal_one_line_is_rewritten_then_cleared() {
        let reporter = Reporter::new(true);
        assert_eq!(
            printed(&reporter, 1_000),
            "\r\x1b[2Kmonitor: reading logs… 3/12 files, 412 MB, 1 s"
        );
        let mut out = Vec::new();
        reporter.finish(&mut out);
        assert_eq!(out, b"\r\x1b[2K");
        let mut again = Vec::new();
        reporter.finish(&mut again);
        assert!(again.is_empty());
    }
}
