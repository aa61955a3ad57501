//! The synchronous half of the registry of running executions: each thread
//! publishes the executions open on its stack (`#[monitored]` sync
//! functions) in a fixed array of slots that any thread can read, with no
//! lock and no allocation on the caller.
//!
//! One [`ThreadStack`] per recording thread: [`STACK_SLOTS`] slots and a
//! depth. Only the owning thread writes it; [`ExecutionGuard`] pushes when it
//! starts and pops when it ends (returned, or unwound through), so the
//! entries are strictly nested. A push beyond the last slot only raises the
//! depth: the execution is counted (`depth − STACK_SLOTS` unlisted), not
//! listed.
//!
//! Each slot is a seqlock keyed by the execution's id: the writer clears
//! `id` (0 is never an id: thread numbers start at 1), writes the callsite
//! and start tick, then publishes `id` with a release store. A reader reads
//! `id` (acquire), the fields, then `id` again after an acquire fence, and
//! keeps the slot only when both reads agree and are not 0 (Boehm, "Can
//! seqlocks get along with programming language memory models?", 2012).
//! Ids are unique per thread (the sequence counts up), so a slot rewritten
//! between the two reads is never taken for the old entry.
//!
//! A thread's stack is made at its first recorded execution (the cold path,
//! one allocation and one lock, like its ring) and listed in [`THREADS`].
//! When the thread ends, the thread-local that owns it marks it ended (its
//! depth 0) and points the thread at [`DETACHED`], a stack nobody reads, for
//! any execution that still runs during the thread's teardown; the sampler
//! drops ended stacks from the list. A thread unwinding out of an open
//! execution pops it on the way (the guard's drop), so nothing stays behind.
//!
//! [`ExecutionGuard`]: crate::guard::ExecutionGuard

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::callsite::Callsite;
use crate::local_id::LocalId;

/// Executions a thread lists at once (nested deeper: counted, not listed).
pub(crate) const STACK_SLOTS: usize = 32;

/// One open execution of a thread. See the module doc for the protocol.
struct Slot {
    /// `thread << 32 | sequence`; 0 while being written.
    id: AtomicU64,
    callsite: AtomicPtr<Callsite>,
    start: AtomicU64,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            id: AtomicU64::new(0),
            callsite: AtomicPtr::new(ptr::null_mut()),
            start: AtomicU64::new(0),
        }
    }
}

/// The executions open on one thread's stack.
pub(crate) struct ThreadStack {
    /// Open executions, listed or not. Written by the owning thread only.
    depth: AtomicUsize,
    /// False once the thread has ended.
    live: AtomicBool,
    slots: [Slot; STACK_SLOTS],
}

impl ThreadStack {
    const fn new() -> Self {
        ThreadStack {
            depth: AtomicUsize::new(0),
            live: AtomicBool::new(true),
            slots: [const { Slot::new() }; STACK_SLOTS],
        }
    }

    #[inline(always)]
    fn push(&self, callsite: &'static Callsite, start: u64, id: LocalId) {
        let depth = self.depth.load(Ordering::Relaxed);
        if let Some(slot) = self.slots.get(depth) {
            slot.id.store(0, Ordering::Relaxed);
            fence(Ordering::Release);
            slot.callsite
                .store(ptr::from_ref(callsite).cast_mut(), Ordering::Relaxed);
            slot.start.store(start, Ordering::Relaxed);
            slot.id.store(packed(id), Ordering::Release);
        }
        self.depth.store(depth.wrapping_add(1), Ordering::Release);
    }

    #[inline(always)]
    fn pop(&self) {
        let depth = self.depth.load(Ordering::Relaxed);
        self.depth.store(depth.saturating_sub(1), Ordering::Release);
    }

    /// Calls `each` with every listed open execution (outermost first);
    /// returns how many more are open but not listed.
    fn read(&self, mut each: impl FnMut(&'static Callsite, u64, LocalId)) -> u64 {
        if !self.live.load(Ordering::Acquire) {
            return 0;
        }
        let depth = self.depth.load(Ordering::Acquire);
        for slot in self.slots.iter().take(depth) {
            let before = slot.id.load(Ordering::Acquire);
            if before == 0 {
                continue;
            }
            let callsite = slot.callsite.load(Ordering::Relaxed);
            let start = slot.start.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            let after = slot.id.load(Ordering::Relaxed);
            if before != after || callsite.is_null() {
                continue;
            }
            // SAFETY: a non-null callsite pointer in a slot was stored from a
            // `&'static Callsite` (`push`), and the two equal reads of `id`
            // around it show it belongs to that entry, not a torn write.
            let callsite: &'static Callsite = unsafe { &*callsite };
            each(callsite, start, unpacked(before));
        }
        depth.saturating_sub(STACK_SLOTS) as u64
    }
}

fn packed(id: LocalId) -> u64 {
    u64::from(id.thread) << 32 | u64::from(id.sequence)
}

fn unpacked(value: u64) -> LocalId {
    LocalId {
        thread: (value >> 32) as u16,
        sequence: value as u32,
    }
}

/// Where threads go once their own stack is gone (thread teardown) or when
/// they record nothing (the monitor's own threads): written, never read.
static DETACHED: ThreadStack = ThreadStack::new();

/// A registered thread's stack and its name (as the logs write it).
pub(crate) struct Registered {
    stack: Arc<ThreadStack>,
    pub(crate) name: Arc<str>,
}

/// Every thread that recorded, while it lives (ended ones are dropped at
/// the next sample).
static THREADS: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's stack: null until its first execution, then its own
    /// stack (kept alive by `OWNER` and `THREADS`), then [`DETACHED`] once
    /// `OWNER` is torn down. `const`, without destructor: reachable during
    /// the whole thread teardown.
    static STACK: Cell<*const ThreadStack> = const { Cell::new(ptr::null()) };
    /// Owns the thread's stack; its destructor marks the stack ended.
    static OWNER: Owner = const { Owner(RefCell::new(None)) };
}

struct Owner(RefCell<Option<(Arc<ThreadStack>, Arc<str>)>>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some((stack, _)) = self.0.get_mut().take() {
            stack.depth.store(0, Ordering::Relaxed);
            stack.live.store(false, Ordering::Release);
        }
        STACK.with(|cell| cell.set(&DETACHED));
    }
}

/// Lists an execution that starts on this thread.
#[inline(always)]
pub(crate) fn push(callsite: &'static Callsite, start: u64, id: LocalId) {
    let stack = STACK.with(Cell::get);
    if stack.is_null() {
        return push_first(callsite, start, id);
    }
    // SAFETY: a non-null `STACK` points at `DETACHED` (static) or at this
    // thread's own stack, which `OWNER` keeps alive until it sets `STACK`
    // to `DETACHED`.
    unsafe { &*stack }.push(callsite, start, id);
}

/// Ends the innermost listed execution of this thread.
#[inline(always)]
pub(crate) fn pop() {
    let stack = STACK.with(Cell::get);
    if stack.is_null() {
        return;
    }
    // SAFETY: as in `push`.
    unsafe { &*stack }.pop();
}

#[cold]
#[inline(never)]
fn push_first(callsite: &'static Callsite, start: u64, id: LocalId) {
    register_thread();
    push(callsite, start, id);
}

/// Gives this thread its stack (once); returns the thread's name.
#[cold]
pub(crate) fn register_thread() -> Arc<str> {
    if let Ok(Some(name)) = OWNER.try_with(|owner| {
        owner
            .0
            .try_borrow()
            .ok()
            .and_then(|owned| owned.as_ref().map(|(_, name)| Arc::clone(name)))
    }) {
        return name;
    }
    let name = thread_name();
    if crate::queue::is_monitor_thread() {
        STACK.with(|cell| cell.set(&DETACHED));
        return name;
    }
    let stack = Arc::new(ThreadStack::new());
    let owned = OWNER.try_with(|owner| match owner.0.try_borrow_mut() {
        Ok(mut slot) => {
            *slot = Some((Arc::clone(&stack), Arc::clone(&name)));
            true
        }
        Err(_) => false,
    });
    if owned == Ok(true) {
        STACK.with(|cell| cell.set(Arc::as_ptr(&stack)));
        THREADS.lock().push(Registered {
            stack,
            name: Arc::clone(&name),
        });
    } else {
        // The thread-locals are being torn down: nothing to own it.
        STACK.with(|cell| cell.set(&DETACHED));
    }
    name
}

/// The current thread's name as the logs write it (the ring's name).
pub(crate) fn thread_name() -> Arc<str> {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) => name.into(),
        None => format!("{:?}", thread.id()).into(),
    }
}

/// Calls `each` with every listed open execution of every live thread, and
/// the thread's name; returns how many open executions are not listed
/// (nested deeper than [`STACK_SLOTS`]). Drops ended threads' stacks.
pub(crate) fn sample(mut each: impl FnMut(&'static Callsite, u64, LocalId, &Arc<str>)) -> u64 {
    let mut threads = THREADS.lock();
    threads.retain(|thread| thread.stack.live.load(Ordering::Acquire));
    let mut unlisted = 0;
    for thread in threads.iter() {
        unlisted += thread
            .stack
            .read(|callsite, start, id| each(callsite, start, id, &thread.name));
    }
    unlisted
}
