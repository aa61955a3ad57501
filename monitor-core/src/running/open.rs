//! The async half of the registry of running executions: those that are not
//! nested on one thread's stack. An async execution (a `#[monitored] async
//! fn`) can move between threads at each `.await`, so its entry lives in
//! the heap, one per execution, not in a thread's [`stack`](super::stack).
//! (A `tracing` span, which can also change threads, is listed by its state
//! in the layer's own table, `layer/states.rs`, with no entry here.)
//!
//! An [`OpenHandle`] is made when such an execution needs listing: a
//! `MonitoredFuture` after its first `Pending` (a future that completes on
//! its first poll pays nothing), an `AsyncInlineGuard` at its first poll. Making one is one allocation and a lock-free push onto
//! [`INCOMING`] (a Treiber stack that is only ever pushed onto by callers and
//! taken whole by the sampler, so it has no ABA problem). Dropping the handle
//! (completion, cancellation, panic, close) marks the entry ended with one
//! release store. The sampler moves the incoming entries into its own list
//! and forgets the ended ones; the last of the two `Arc`s frees the entry.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::callsite::Callsite;
use crate::local_id::LocalId;

/// One listed execution that is not on a thread's stack.
pub(crate) struct OpenEntry {
    callsite: &'static Callsite,
    start: u64,
    id: LocalId,
    /// The thread that started it (as the logs write it).
    thread: Arc<str>,
    ended: AtomicBool,
    /// The next entry in [`INCOMING`].
    next: AtomicPtr<OpenEntry>,
}

/// Entries pushed since the latest sample (owned: each pointer is one
/// `Arc` strong count, from `Arc::into_raw`).
static INCOMING: AtomicPtr<OpenEntry> = AtomicPtr::new(ptr::null_mut());
/// Entries taken from [`INCOMING`] that had not ended at the latest sample.
static LISTED: Mutex<Vec<Arc<OpenEntry>>> = Mutex::new(Vec::new());

/// Keeps an execution listed as running until dropped.
pub(crate) struct OpenHandle(Arc<OpenEntry>);

impl OpenHandle {
    /// Lists the execution started at `start` as `id` on the current
    /// thread (one allocation). `None` on the monitor's own threads, whose
    /// executions are not recorded.
    #[cold]
    pub(crate) fn new(callsite: &'static Callsite, start: u64, id: LocalId) -> Option<Self> {
        if crate::queue::is_monitor_thread() {
            return None;
        }
        let entry = Arc::new(OpenEntry {
            callsite,
            start,
            id,
            thread: super::stack::register_thread(),
            ended: AtomicBool::new(false),
            next: AtomicPtr::new(ptr::null_mut()),
        });
        let raw = Arc::into_raw(Arc::clone(&entry)).cast_mut();
        let mut head = INCOMING.load(Ordering::Relaxed);
        loop {
            // SAFETY: `raw` is a live entry this function owns one count of
            // and has not published yet.
            unsafe { &*raw }.next.store(head, Ordering::Relaxed);
            match INCOMING.compare_exchange_weak(head, raw, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        Some(OpenHandle(entry))
    }
}

impl Drop for OpenHandle {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Release);
    }
}

/// Calls `each` with every listed open entry, oldest listing first.
pub(crate) fn sample(mut each: impl FnMut(&'static Callsite, u64, LocalId, &Arc<str>)) {
    let mut listed = LISTED.lock();
    let mut taken = INCOMING.swap(ptr::null_mut(), Ordering::Acquire);
    let mut incoming = Vec::new();
    while !taken.is_null() {
        // SAFETY: every pointer in `INCOMING` came from `Arc::into_raw` and
        // carries one strong count, which the swap above handed to us.
        let entry = unsafe { Arc::from_raw(taken) };
        taken = entry.next.load(Ordering::Relaxed);
        incoming.push(entry);
    }
    // The stack holds the newest first.
    listed.extend(incoming.into_iter().rev());
    listed.retain(|entry| !entry.ended.load(Ordering::Acquire));
    for entry in listed.iter() {
        each(entry.callsite, entry.start, entry.id, &entry.thread);
    }
}
