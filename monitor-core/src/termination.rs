//! `MonitorBuilder::flush_on_termination`: SIGTERM and SIGINT (systemd,
//! Kubernetes, `docker stop`, Ctrl-C) write everything recorded before the
//! process exits, instead of killing it with a tick of lines and a save
//! interval of counts still in memory.
//!
//! How: the first install that asks for it registers a handler for both
//! signals through `signal-hook` (its handler only writes to a pipe, which is
//! async-signal-safe) and starts a thread, `monitor-signals`, that waits on
//! that pipe. When a signal arrives the thread uninstalls the monitor the
//! way dropping its guard does — the queues are drained, the logs written
//! and fsynced, the statistics saved, the collector stopped — waiting at
//! most `shutdown_timeout`, and then performs the signal's default action
//! (the disposition is reset to the default and the signal raised again),
//! so the process ends exactly as it would have: killed by that signal.
//!
//! The registration lasts as long as the process (signal handlers cannot be
//! removed without leaving the signal ignored): after the guard is dropped,
//! a signal simply gets its default action at once. A signal the process
//! ignored when the monitor was installed (a background job started by a
//! shell ignores SIGINT) is left alone.
//!
//! A host that handles these signals itself should not turn this on (both
//! handlers would run and the monitor's would end the process); it calls
//! [`flush`](crate::flush) — or drops the guard — in its own handling
//! instead.

use crate::install_error::InstallError;

/// The termination handling asked for at install, armed once installed.
pub(crate) struct Termination {
    requested: bool,
}

impl Termination {
    /// Registers the handler if `requested` (once per process).
    pub(crate) fn prepare(requested: bool) -> Result<Termination, InstallError> {
        if requested {
            imp::register()?;
        }
        Ok(Termination { requested })
    }

    /// From now on a signal uninstalls the monitor of `generation` first.
    pub(crate) fn arm(self, generation: u32) {
        if self.requested {
            imp::arm(generation);
        }
    }
}

/// The monitor of `generation` is going away: signals no longer flush it.
pub(crate) fn disarm(generation: u32) {
    imp::disarm(generation);
}

#[cfg(all(unix, feature = "termination"))]
mod imp {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;

    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    use crate::install_error::InstallError;

    /// Generation of the monitor a signal must uninstall first (0: none).
    static ARMED: AtomicU32 = AtomicU32::new(0);

    pub(super) fn register() -> Result<(), InstallError> {
        static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
        REGISTERED
            .get_or_init(|| {
                let signals: Vec<i32> = [SIGTERM, SIGINT]
                    .into_iter()
                    .filter(|&signal| !ignored(signal))
                    .collect();
                let mut signals = Signals::new(signals).map_err(|e| e.to_string())?;
                std::thread::Builder::new()
                    .name("monitor-signals".to_owned())
                    .spawn(move || {
                        for signal in signals.forever() {
                            on_signal(signal);
                        }
                    })
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|reason| InstallError::InvalidConfig {
                setting: "flush_on_termination",
                reason: format!("cannot handle SIGTERM and SIGINT: {reason}"),
            })
    }

    /// Whether `signal` is ignored (`SIG_IGN`) in this process now.
    fn ignored(signal: i32) -> bool {
        // SAFETY: an all-zero `sigaction` is a valid value of this plain C
        // struct, and it is only an output here.
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only queries; `current` is a valid,
        // writable `sigaction` for the call's duration.
        let queried = unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) } == 0;
        queried && current.sa_sigaction == libc::SIG_IGN
    }

    pub(super) fn arm(generation: u32) {
        ARMED.store(generation, Ordering::Release);
    }

    pub(super) fn disarm(generation: u32) {
        let _ = ARMED.compare_exchange(generation, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// On the `monitor-signals` thread: flush and stop the armed monitor,
    /// then let the signal do what it would have done without us.
    fn on_signal(signal: i32) {
        let generation = ARMED.swap(0, Ordering::AcqRel);
        if generation != 0 {
            crate::installed::shutdown_for_termination(generation);
        }
        if signal_hook::low_level::emulate_default_handler(signal).is_err() {
            // Not reached for SIGTERM and SIGINT, whose default is known.
            signal_hook::low_level::exit(128 + signal);
        }
    }
}

#[cfg(not(all(unix, feature = "termination")))]
mod imp {
    use crate::install_error::InstallError;

    pub(super) fn register() -> Result<(), InstallError> {
        Err(InstallError::InvalidConfig {
            setting: "flush_on_termination",
            reason: "termination signals are handled on Unix only; call monitor::flush() from your own shutdown handling".to_owned(),
        })
    }

    pub(super) fn arm(_generation: u32) {}

    pub(super) fn disarm(_generation: u32) {}
}

#[cfg(feature = "termination")]
impl crate::MonitorBuilder {
    /// On SIGTERM and SIGINT, write everything recorded so far — drain the
    /// queues, write and fsync the logs, save the statistics, stop the
    /// collector, within [`shutdown_timeout`](Self::shutdown_timeout) — and
    /// then let the signal end the process as it would have (default off;
    /// Unix only, needs the `termination` cargo feature).
    ///
    /// Without it, a process killed by a signal runs no destructors and
    /// loses up to one tick (250 ms) of log lines and one save interval of
    /// statistics. A host that handles the signals itself leaves this off and
    /// calls [`monitor::flush()`](crate::flush) (or drops the guard) in its
    /// own shutdown path. A signal the process ignores at install stays
    /// ignored. Installing fails with
    /// [`InstallError::InvalidConfig`](crate::InstallError::InvalidConfig) on
    /// other platforms.
    ///
    /// ```no_run
    /// let guard = monitor_core::Monitor::builder()
    ///     .flush_on_termination(true)
    ///     .install()?;
    /// // `kill <pid>` now writes every execution recorded before it, then
    /// // the process dies of SIGTERM as usual.
    /// # drop(guard);
    /// # Ok::<(), monitor_core::InstallError>(())
    /// ```
    pub fn flush_on_termination(mut self, flush: bool) -> Self {
        self.flush_on_termination = flush;
        self
    }
}
