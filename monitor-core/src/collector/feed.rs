//! The live feed: finished executions and alert notifications, for the HTTP
//! server's `/events` stream.
//!
//! Bounded and non-blocking on the producing side. The collector hands over
//! at most [`EXECUTIONS_PER_SECOND`] executions a second and only while
//! someone listens; anything beyond that, or anything that finds the channel
//! full, is counted in the next execution's `skipped`, so a reader knows it
//! sees a sample. The collector never waits for the reader.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::alerts::{Alert, Notifier};
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::execution_record::ExecutionRecord;
use crate::ticks;

/// Events waiting for the server thread; beyond this they are skipped.
pub(crate) const FEED_CAPACITY: usize = 1024;
/// Executions handed over per second, at most.
pub(crate) const EXECUTIONS_PER_SECOND: u32 = 200;

/// One item of the feed.
pub(crate) enum FeedEvent {
    /// A finished execution.
    Execution(ExecutionNote),
    /// An alert notification (fired, reminder, resolved).
    Alert(Box<Alert>),
}

/// A finished execution, as streamed.
pub(crate) struct ExecutionNote {
    pub(crate) id: ExecutionId,
    pub(crate) function: Arc<str>,
    pub(crate) status: Status,
    pub(crate) timestamp: SystemTime,
    pub(crate) duration: Duration,
    /// Error type and message of a failure.
    pub(crate) error: Option<(String, String)>,
    /// Executions finished since the previous note that were not streamed.
    pub(crate) skipped: u64,
}

/// The channel between the collector (and the alert notifier) and the server.
pub(crate) struct Feed {
    sender: Sender<FeedEvent>,
    receiver: Receiver<FeedEvent>,
    /// Open `/events` streams; nothing is handed over while it is zero.
    listeners: AtomicUsize,
    /// Wakes the server thread (set once the server runs).
    wake: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Feed {
    pub(crate) fn new() -> Arc<Feed> {
        let (sender, receiver) = crossbeam_channel::bounded(FEED_CAPACITY);
        Arc::new(Feed {
            sender,
            receiver,
            listeners: AtomicUsize::new(0),
            wake: OnceLock::new(),
        })
    }

    /// The server's end: what is queued now.
    pub(crate) fn receiver(&self) -> &Receiver<FeedEvent> {
        &self.receiver
    }

    /// The server tells how many streams are open.
    pub(crate) fn set_listeners(&self, listeners: usize) {
        self.listeners.store(listeners, Ordering::Release);
    }

    fn listening(&self) -> bool {
        self.listeners.load(Ordering::Acquire) > 0
    }

    /// Sets how the server thread is woken (once).
    pub(crate) fn set_waker(&self, wake: Box<dyn Fn() + Send + Sync>) {
        let _ = self.wake.set(wake);
    }

    fn wake(&self) {
        if let Some(wake) = self.wake.get() {
            wake();
        }
    }

    /// Hands an event over without waiting; false when the channel is full.
    fn offer(&self, event: FeedEvent) -> bool {
        match self.sender.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The collector's end: rate limiting and counting what was skipped.
pub(crate) struct FeedTap {
    feed: Arc<Feed>,
    /// Start of the current one-second window (ticks).
    window_start: u64,
    sent_in_window: u32,
    skipped: u64,
    /// Something was handed over since the server was last woken.
    unannounced: bool,
}

impl FeedTap {
    pub(crate) fn new(feed: Arc<Feed>) -> Self {
        FeedTap {
            feed,
            window_start: 0,
            sent_in_window: 0,
            skipped: 0,
            unannounced: false,
        }
    }

    /// One processed execution. Cheap when nobody listens (one relaxed load)
    /// or the second's budget is spent (a counter).
    #[inline]
    pub(crate) fn execution(&mut self, record: &ExecutionRecord<'_>, tick_now: u64) {
        if !self.feed.listening() {
            self.skipped = 0;
            return;
        }
        if self.sent_in_window >= EXECUTIONS_PER_SECOND {
            if ticks::nanos_between(self.window_start, tick_now) < 1_000_000_000 {
                self.skipped += 1;
                return;
            }
            self.window_start = tick_now;
            self.sent_in_window = 0;
        }
        if self.sent_in_window == 0 {
            self.window_start = tick_now;
        }
        let note = ExecutionNote {
            id: record.id,
            function: record.name.into(),
            status: record.status,
            timestamp: record.timestamp,
            duration: record.duration,
            error: record
                .failure
                .map(|failure| (failure.error_type.to_string(), failure.message.clone())),
            skipped: self.skipped,
        };
        if self.feed.offer(FeedEvent::Execution(note)) {
            self.sent_in_window += 1;
            self.skipped = 0;
            self.unannounced = true;
        } else {
            self.skipped += 1;
        }
    }

    /// Wakes the server if anything was handed over since the last call.
    pub(crate) fn announce(&mut self) {
        if std::mem::take(&mut self.unannounced) {
            self.feed.wake();
        }
    }
}

/// Puts every alert notification on the feed (a notifier of its own).
pub(crate) struct FeedNotifier(pub(crate) Arc<Feed>);

impl Notifier for FeedNotifier {
    fn notify(&mut self, alert: &Alert) {
        if self.0.offer(FeedEvent::Alert(Box::new(alert.clone()))) {
            self.0.wake();
        }
    }

    fn name(&self) -> &str {
        "http-events"
    }
}
