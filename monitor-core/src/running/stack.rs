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
//! moves ended stacks from the list to a retired one. A thread unwinding out of an open
//! execution pops it on the way (the guard's drop), so nothing stays behind.
//!
//! A stack also names its thread for the spans the thread creates: a span's
//! state keeps a plain pointer to it ([`SpanThread`]), so the span path pays
//! no reference count. A retired stack is dropped only by a sample that,
//! after seeing its thread end, walked the layer's span table and found no
//! open span naming it; the thread created no span after it ended, so no
//! pointer to the stack is left.
//!
//! [`ExecutionGuard`]: crate::guard::ExecutionGuard

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

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
    /// The thread's name as the logs write it (`None`: [`DETACHED`]).
    name: Option<Arc<str>>,
}

impl ThreadStack {
    const fn new(name: Option<Arc<str>>) -> Self {
        ThreadStack {
            depth: AtomicUsize::new(0),
            live: AtomicBool::new(true),
            slots: [const { Slot::new() }; STACK_SLOTS],
            name,
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
static DETACHED: ThreadStack = ThreadStack::new(None);

/// The registered threads' stacks.
struct Threads {
    /// Every thread that recorded, while it lives.
    live: Vec<Arc<ThreadStack>>,
    /// Stacks of ended threads that a span they started may still name
    /// ([`SpanThread`]): kept until a sample finds no open span of theirs.
    retired: Vec<Arc<ThreadStack>>,
}

static THREADS: Mutex<Threads> = Mutex::new(Threads {
    live: Vec::new(),
    retired: Vec::new(),
});

thread_local! {
    /// This thread's stack: null until its first execution, then its own
    /// stack (kept alive by `OWNER` and `THREADS`), then [`DETACHED`] once
    /// `OWNER` is torn down. `const`, without destructor: reachable during
    /// the whole thread teardown.
    static STACK: Cell<*const ThreadStack> = const { Cell::new(ptr::null()) };
    /// Owns the thread's stack; its destructor marks the stack ended.
    static OWNER: Owner = const { Owner(RefCell::new(None)) };
}

struct Owner(RefCell<Option<Arc<ThreadStack>>>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(stack) = self.0.get_mut().take() {
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
        owner.0.try_borrow().ok().and_then(|owned| {
            owned
                .as_ref()
                .and_then(|stack| stack.name.as_ref().map(Arc::clone))
        })
    }) {
        return name;
    }
    let name = thread_name();
    if crate::queue::is_monitor_thread() {
        STACK.with(|cell| cell.set(&DETACHED));
        return name;
    }
    let stack = Arc::new(ThreadStack::new(Some(Arc::clone(&name))));
    let owned = OWNER.try_with(|owner| match owner.0.try_borrow_mut() {
        Ok(mut slot) => {
            *slot = Some(Arc::clone(&stack));
            true
        }
        Err(_) => false,
    });
    if owned == Ok(true) {
        STACK.with(|cell| cell.set(Arc::as_ptr(&stack)));
        THREADS.lock().live.push(stack);
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

/// The thread that started a span, as the span's state keeps it until the
/// span closes: the thread's registered stack, which names it, at the cost of
/// a thread-local read (no reference count: the sampler keeps the stack of an
/// ended thread while a span it started is open, see [`Sample::end`]).
pub(crate) struct SpanThread(Starter);

enum Starter {
    /// A stack in [`THREADS`], live or retired.
    Stack(*const ThreadStack),
    /// A span started during the thread's teardown, after its stack was
    /// gone: its name, owned (boxed: the common variant stays one word).
    Named(Box<Arc<str>>),
}

// SAFETY: the pointer is only dereferenced by the sampler, under the
// `THREADS` lock, while the stack it points at is still in `THREADS` (see
// `Sample::thread_name`); `ThreadStack` itself is `Send + Sync`.
unsafe impl Send for SpanThread {}
// SAFETY: as above; `SpanThread` has no interior mutability.
unsafe impl Sync for SpanThread {}

impl SpanThread {
    /// The current thread, for a span it starts; `None` on the monitor's
    /// own threads, whose executions are not listed.
    #[inline]
    pub(crate) fn current() -> Option<SpanThread> {
        let stack = STACK.with(Cell::get);
        if stack.is_null() || ptr::eq(stack, &DETACHED) {
            return current_cold();
        }
        Some(SpanThread(Starter::Stack(stack)))
    }
}

#[cold]
#[inline(never)]
fn current_cold() -> Option<SpanThread> {
    if crate::queue::is_monitor_thread() {
        return None;
    }
    let name = register_thread();
    let stack = STACK.with(Cell::get);
    if stack.is_null() || ptr::eq(stack, &DETACHED) {
        return Some(SpanThread(Starter::Named(Box::new(name))));
    }
    Some(SpanThread(Starter::Stack(stack)))
}

/// One sample of the registered threads, holding their lock from the read of
/// the stacks ([`sample`]) until [`end`](Self::end): every span state that
/// names a stack is read in between, so a retired stack is dropped only when
/// no open span names it.
pub(crate) struct Sample {
    threads: MutexGuard<'static, Threads>,
    /// Retired stacks named by a span during this sample.
    named: Vec<*const ThreadStack>,
}

impl Sample {
    /// The name of the thread that started a span.
    pub(crate) fn thread_name(&mut self, thread: &SpanThread) -> Arc<str> {
        match &thread.0 {
            Starter::Named(name) => Arc::clone(&**name),
            Starter::Stack(stack) => {
                // SAFETY: a stack a span names was this thread's own stack,
                // listed in `THREADS.live` when the span started (`current`
                // reads it from `STACK`, which points at a registered stack
                // or at `DETACHED`, excluded there). It leaves `live` for
                // `retired` only once its thread has ended (after every span
                // the thread started was in the layer's table), and leaves
                // `retired` only in `end`, when this sample, which holds
                // the lock, found no span naming it. So it is alive here.
                let stack = unsafe { &**stack };
                if !stack.live.load(Ordering::Acquire) {
                    self.named.push(ptr::from_ref(stack));
                }
                stack
                    .name
                    .as_ref()
                    .map_or_else(|| Arc::from("?"), Arc::clone)
            }
        }
    }

    /// Drops the retired stacks no open span named during this sample.
    pub(crate) fn end(mut self) {
        let named = std::mem::take(&mut self.named);
        self.threads
            .retired
            .retain(|stack| named.contains(&Arc::as_ptr(stack)));
    }
}

/// Calls `each` with every listed open execution of every live thread, and
/// the thread's name; returns how many open executions are not listed
/// (nested deeper than [`STACK_SLOTS`]), and the sample, to name the threads
/// of spans with. Moves ended threads' stacks to the retired ones.
pub(crate) fn sample(
    mut each: impl FnMut(&'static Callsite, u64, LocalId, &Arc<str>),
) -> (u64, Sample) {
    let mut threads = THREADS.lock();
    let Threads { live, retired } = &mut *threads;
    let mut index = 0;
    while index < live.len() {
        if live[index].live.load(Ordering::Acquire) {
            index += 1;
        } else {
            retired.push(live.swap_remove(index));
        }
    }
    let mut unlisted = 0;
    for stack in live.iter() {
        if let Some(name) = &stack.name {
            unlisted += stack.read(|callsite, start, id| each(callsite, start, id, name));
        }
    }
    let sample = Sample {
        threads,
        named: Vec::new(),
    };
    (unlisted, sample)
}
