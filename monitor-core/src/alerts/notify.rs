//! Notifiers: the [`Notifier`] trait, and the dispatcher that runs each
//! notifier on its own thread behind a bounded channel, so a notifier that
//! panics or blocks never stops the collector.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use parking_lot::{Condvar, Mutex};

use super::health::NotifierHealth;
use super::types::{Alert, AlertState, Severity};

/// Alerts waiting for one notifier; beyond this they are dropped and counted.
const CHANNEL_CAPACITY: usize = 256;

/// Receives every alert notification (fired, reminder, resolved).
///
/// Each notifier runs on its own thread, named `monitor-notifier-N`, fed by a
/// bounded channel: a slow notifier delays nobody else, one that panics is
/// caught (and called again for the next alert), one that blocks longer than
/// the [notifier timeout](crate::MonitorBuilder::notifier_timeout) stops
/// holding up [`flush`](crate::MonitorGuard::flush); all three are counted
/// and raise the `notifier_failing` alert, which the other notifiers receive.
///
/// ```
/// use monitor_core::{Alert, Monitor, Notifier};
///
/// struct Pager {
///     sent: Vec<String>,
/// }
///
/// impl Notifier for Pager {
///     fn notify(&mut self, alert: &Alert) {
///         if alert.is_firing() {
///             self.sent.push(alert.to_string()); // call the paging service here
///         }
///     }
///
///     fn name(&self) -> &str {
///         "pager"
///     }
/// }
///
/// let builder = Monitor::builder().notifier(Pager { sent: Vec::new() });
/// # drop(builder);
/// ```
pub trait Notifier: Send + 'static {
    /// One notification. Called on this notifier's own thread, in order.
    fn notify(&mut self, alert: &Alert);

    /// A name for health reports and the `notifier_failing` alert (default:
    /// the type's name).
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// How many notifications this notifier failed to deliver so far (it
    /// gave up on them), in total; read after each call. Counted with its
    /// panics and time-outs in the `notifier_failing` alert and
    /// [`health`](crate::health). Default: 0, a notifier that cannot fail
    /// other than by panicking.
    ///
    /// ```
    /// use monitor_core::{Alert, Notifier};
    ///
    /// struct Mailer {
    ///     undelivered: u64,
    /// }
    ///
    /// impl Notifier for Mailer {
    ///     fn notify(&mut self, alert: &Alert) {
    ///         let sent = false; // send the mail here
    ///         if !sent {
    ///             self.undelivered += 1;
    ///         }
    ///     }
    ///
    ///     fn failures(&self) -> u64 {
    ///         self.undelivered
    ///     }
    /// }
    /// # let _ = Mailer { undelivered: 0 }.failures();
    /// ```
    fn failures(&self) -> u64 {
        0
    }

    /// What is wrong with this notifier's settings, if anything, checked
    /// once by `install()`: an `Err(reason)` makes it return
    /// [`InstallError::InvalidConfig`](crate::InstallError::InvalidConfig)
    /// with the setting `notifier` and this notifier's [name](Self::name)
    /// before the reason, and nothing is installed. Default: nothing wrong.
    ///
    /// ```
    /// use monitor_core::{Alert, InstallError, Monitor, Notifier};
    ///
    /// struct Mailer {
    ///     to: String,
    /// }
    ///
    /// impl Notifier for Mailer {
    ///     fn notify(&mut self, alert: &Alert) {
    ///         // send the mail to self.to here
    ///     }
    ///
    ///     fn validate(&self) -> Result<(), String> {
    ///         if self.to.contains('@') {
    ///             Ok(())
    ///         } else {
    ///             Err(format!("{:?} is not a mail address", self.to))
    ///         }
    ///     }
    /// }
    ///
    /// let dir = std::env::temp_dir().join(format!("notifier-doc-{}", std::process::id()));
    /// let refused = Monitor::builder()
    ///     .log_dir(&dir)
    ///     .notifier(Mailer { to: "ops".into() })
    ///     .install();
    /// assert!(matches!(
    ///     refused,
    ///     Err(InstallError::InvalidConfig { setting: "notifier", .. })
    /// ));
    /// ```
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The [`on_alert`](crate::MonitorBuilder::on_alert) callback as a notifier.
pub(crate) struct FnNotifier<F>(pub(crate) F);

impl<F: FnMut(&Alert) + Send + 'static> Notifier for FnNotifier<F> {
    fn notify(&mut self, alert: &Alert) {
        (self.0)(alert)
    }

    fn name(&self) -> &str {
        "on_alert"
    }
}

/// Emits each alert as a `tracing` event with target `monitor::alert`:
/// firing alerts at the level of their severity (info, warn, error),
/// resolved ones at info. The execution the notice names, if any, is its
/// `execution_id` field.
pub(crate) struct TracingNotifier;

impl Notifier for TracingNotifier {
    fn notify(&mut self, alert: &Alert) {
        let function = alert.function.as_deref().unwrap_or("");
        let (rule, state, severity) = (
            alert.rule.as_str(),
            alert.state.as_str(),
            alert.severity.as_str(),
        );
        let reminder = alert.reminder;
        let message = &alert.message;
        // Recorded only when the notice names an execution.
        let execution_id = alert.execution_id().map(tracing::field::display);
        match (alert.state, alert.severity) {
            (AlertState::Firing, Severity::Warning) => {
                tracing::warn!(target: "monitor::alert", rule, function, execution_id, state, severity, reminder, "{message}")
            }
            (AlertState::Firing, Severity::Error | Severity::Critical) => {
                tracing::error!(target: "monitor::alert", rule, function, execution_id, state, severity, reminder, "{message}")
            }
            _ => {
                tracing::info!(target: "monitor::alert", rule, function, execution_id, state, severity, reminder, "{message}")
            }
        }
    }

    fn name(&self) -> &str {
        "tracing"
    }
}

thread_local! {
    static ON_NOTIFIER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on a notifier thread (a notifier calling `flush()` must not wait for itself).
pub(crate) fn on_notifier_thread() -> bool {
    ON_NOTIFIER.with(|flag| flag.get())
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds since a process-wide base, never 0.
fn now_mark() -> u64 {
    (base().elapsed().as_nanos() as u64).max(1)
}

fn since_mark(mark: u64) -> Duration {
    Duration::from_nanos(now_mark().saturating_sub(mark))
}

/// Counters of one notifier, shared by its thread, the collector and flushers.
#[derive(Debug, Default)]
struct SlotShared {
    /// Alerts put into its channel.
    enqueued: AtomicU64,
    /// Alerts it returned from (or panicked on).
    delivered: AtomicU64,
    /// Calls started.
    calls: AtomicU64,
    /// `now_mark()` when the current call started; 0 when idle.
    busy_since: AtomicU64,
    panics: AtomicU64,
    /// What the notifier reports as failed deliveries ([`Notifier::failures`]).
    reported: AtomicU64,
}

impl SlotShared {
    /// Busy with one call for longer than `timeout`.
    fn stuck(&self, timeout: Duration) -> bool {
        let mark = self.busy_since.load(Ordering::Acquire);
        mark != 0 && since_mark(mark) > timeout
    }
}

/// What flushers wait on.
#[derive(Debug)]
pub(crate) struct Progress {
    slots: Vec<Arc<SlotShared>>,
    lock: Mutex<()>,
    changed: Condvar,
    timeout: Duration,
}

impl Progress {
    fn signal(&self) {
        let _guard = self.lock.lock();
        self.changed.notify_all();
    }

    /// Waits until every notifier has returned from every alert handed to it
    /// so far, at most the notifier timeout; a notifier stuck in one call for
    /// longer than that is not waited for. True when nothing is left
    /// undelivered.
    pub(crate) fn wait_delivered(&self) -> bool {
        if on_notifier_thread() {
            return true;
        }
        let targets: Vec<u64> = self
            .slots
            .iter()
            .map(|slot| slot.enqueued.load(Ordering::Acquire))
            .collect();
        // A timeout too long to add to `now` means: wait as long as it takes.
        let deadline = Instant::now().checked_add(self.timeout);
        let mut guard = self.lock.lock();
        loop {
            let mut waiting = false;
            let mut complete = true;
            for (slot, &target) in self.slots.iter().zip(&targets) {
                if slot.delivered.load(Ordering::Acquire) < target {
                    complete = false;
                    waiting |= !slot.stuck(self.timeout);
                }
            }
            if complete {
                return true;
            }
            let now = Instant::now();
            if !waiting || deadline.is_some_and(|deadline| now >= deadline) {
                return false;
            }
            // Wake up now and then to notice a notifier becoming stuck.
            let soon = now + Duration::from_millis(20);
            let wake = deadline.map_or(soon, |deadline| deadline.min(soon));
            self.changed.wait_until(&mut guard, wake);
        }
    }
}

struct Slot {
    name: Arc<str>,
    sender: Option<Sender<Arc<Alert>>>,
    shared: Arc<SlotShared>,
    /// Alerts dropped because the channel was full.
    dropped: u64,
    timeouts: u64,
    /// The call already counted as timed out.
    timed_out_call: u64,
}

/// Runs the notifiers; owned by the collector.
pub(crate) struct Dispatcher {
    slots: Vec<Slot>,
    progress: Arc<Progress>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field(
                "notifiers",
                &self.slots.iter().map(|s| &*s.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Dispatcher {
    /// Starts one thread per notifier.
    pub(crate) fn start(
        notifiers: Vec<Box<dyn Notifier>>,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        let shared: Vec<Arc<SlotShared>> = notifiers.iter().map(|_| Arc::default()).collect();
        let progress = Arc::new(Progress {
            slots: shared.clone(),
            lock: Mutex::new(()),
            changed: Condvar::new(),
            timeout,
        });
        let mut slots = Vec::with_capacity(notifiers.len());
        for (index, (mut notifier, shared)) in notifiers.into_iter().zip(shared).enumerate() {
            let name: Arc<str> = notifier.name().into();
            let (sender, receiver) = crossbeam_channel::bounded::<Arc<Alert>>(CHANNEL_CAPACITY);
            let thread_shared = Arc::clone(&shared);
            let thread_progress = Arc::clone(&progress);
            std::thread::Builder::new()
                .name(format!("monitor-notifier-{index}"))
                .spawn(move || {
                    ON_NOTIFIER.with(|flag| flag.set(true));
                    for alert in receiver {
                        thread_shared.calls.fetch_add(1, Ordering::AcqRel);
                        thread_shared
                            .busy_since
                            .store(now_mark(), Ordering::Release);
                        let outcome = catch_unwind(AssertUnwindSafe(|| notifier.notify(&alert)));
                        thread_shared.busy_since.store(0, Ordering::Release);
                        if let Ok(failures) = catch_unwind(AssertUnwindSafe(|| notifier.failures()))
                        {
                            thread_shared.reported.store(failures, Ordering::Release);
                        }
                        if let Err(payload) = outcome {
                            thread_shared.panics.fetch_add(1, Ordering::Relaxed);
                            // A payload whose drop panics must not kill the thread.
                            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
                        }
                        thread_shared.delivered.fetch_add(1, Ordering::AcqRel);
                        thread_progress.signal();
                    }
                })?;
            slots.push(Slot {
                name,
                sender: Some(sender),
                shared,
                dropped: 0,
                timeouts: 0,
                timed_out_call: 0,
            });
        }
        Ok(Dispatcher { slots, progress })
    }

    pub(crate) fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    /// Hands `alert` to every notifier without waiting.
    pub(crate) fn send(&mut self, alert: &Arc<Alert>) {
        for slot in &mut self.slots {
            let Some(sender) = &slot.sender else { continue };
            match sender.try_send(Arc::clone(alert)) {
                Ok(()) => {
                    slot.shared.enqueued.fetch_add(1, Ordering::AcqRel);
                }
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => slot.dropped += 1,
            }
        }
    }

    /// Counts each call that has been running longer than the timeout, once.
    pub(crate) fn check_timeouts(&mut self) {
        for slot in &mut self.slots {
            if slot.shared.stuck(self.progress.timeout) {
                let call = slot.shared.calls.load(Ordering::Acquire);
                if call != slot.timed_out_call {
                    slot.timed_out_call = call;
                    slot.timeouts += 1;
                    eprintln!(
                        "monitor: notifier `{}` has been busy with one alert for more than {:?}; alerts for it queue up (and are dropped when its queue is full), the others are not held up",
                        slot.name, self.progress.timeout
                    );
                }
            }
        }
    }

    /// Failures of every notifier, in total.
    pub(crate) fn health(&self) -> Vec<NotifierHealth> {
        self.slots
            .iter()
            .map(|slot| NotifierHealth {
                name: Arc::clone(&slot.name),
                failures: slot.shared.panics.load(Ordering::Relaxed)
                    + slot.shared.reported.load(Ordering::Acquire)
                    + slot.timeouts
                    + slot.dropped,
            })
            .collect()
    }
}

impl Drop for Dispatcher {
    /// Lets the notifiers finish what they were handed (bounded by the
    /// timeout), then closes their channels; their threads end on their own.
    fn drop(&mut self) {
        self.progress.wait_delivered();
        for slot in &mut self.slots {
            slot.sender = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::types::AlertRule;
    use crate::timestamp::Timestamp;
    use std::sync::mpsc;

    fn alert(message: &str) -> Arc<Alert> {
        Arc::new(Alert {
            time: Timestamp(std::time::UNIX_EPOCH),
            rule: AlertRule::ConsecutiveFailures,
            function: Some("f".into()),
            execution_id: None,
            state: AlertState::Firing,
            severity: Severity::Error,
            message: message.into(),
            since: Timestamp(std::time::UNIX_EPOCH),
            reminder: false,
            numbers: Default::default(),
            episode: None,
            acknowledged: None,
        })
    }

    struct Panicky;
    impl Notifier for Panicky {
        fn notify(&mut self, _: &Alert) {
            panic!("notifier bug");
        }
    }

    struct Channel(mpsc::Sender<(String, String)>);
    impl Notifier for Channel {
        fn notify(&mut self, alert: &Alert) {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            let _ = self.0.send((thread, alert.message.clone()));
        }
    }

    struct Blocked(Arc<(Mutex<bool>, Condvar)>);
    impl Notifier for Blocked {
        fn notify(&mut self, _: &Alert) {
            let (lock, released) = &*self.0;
            let mut done = lock.lock();
            while !*done {
                released.wait(&mut done);
            }
        }
    }

    #[test]
    fn a_panicking_notifier_is_counted_and_the_others_still_get_every_alert() {
        let (tx, rx) = mpsc::channel();
        let mut dispatcher = Dispatcher::start(
            vec![Box::new(Panicky), Box::new(Channel(tx))],
            Duration::from_secs(5),
        )
        .unwrap();
        dispatcher.send(&alert("one"));
        dispatcher.send(&alert("two"));
        assert!(dispatcher.progress().wait_delivered());
        let got: Vec<(String, String)> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![
                ("monitor-notifier-1".to_owned(), "one".to_owned()),
                ("monitor-notifier-1".to_owned(), "two".to_owned())
            ]
        );
        let health = dispatcher.health();
        assert_eq!(health[0].failures, 2);
        assert!(health[0].name.ends_with("Panicky"), "{}", health[0].name);
        assert_eq!(health[1].failures, 0);
    }

    #[test]
    fn a_blocked_notifier_bounds_the_wait_and_is_counted_once_per_call() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (tx, rx) = mpsc::channel();
        let mut dispatcher = Dispatcher::start(
            vec![Box::new(Blocked(Arc::clone(&gate))), Box::new(Channel(tx))],
            Duration::from_millis(100),
        )
        .unwrap();
        dispatcher.send(&alert("one"));
        let started = Instant::now();
        assert!(
            !dispatcher.progress().wait_delivered(),
            "the blocked notifier has not returned"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(rx.try_iter().count(), 1, "the other notifier got the alert");
        // The wait may end just before the call has lasted the timeout.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dispatcher.slots[0].shared.stuck(Duration::from_millis(100))
            && Instant::now() < deadline
        {
            std::thread::yield_now();
        }
        dispatcher.check_timeouts();
        dispatcher.check_timeouts();
        assert_eq!(dispatcher.health()[0].failures, 1);
        // Once known stuck, flushes still wait for the others, not for it.
        dispatcher.send(&alert("two"));
        assert!(!dispatcher.progress().wait_delivered());
        assert_eq!(
            rx.try_iter()
                .map(|(_, message)| message)
                .collect::<Vec<_>>(),
            ["two"]
        );
        // The channel is bounded: a notifier that never returns loses alerts, counted.
        for _ in 0..CHANNEL_CAPACITY + 10 {
            dispatcher.send(&alert("flood"));
        }
        assert!(dispatcher.health()[0].failures >= 10);
        *gate.0.lock() = true;
        gate.1.notify_all();
    }
}
