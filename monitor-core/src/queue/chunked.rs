//! A single-producer, single-consumer queue made of fixed-size chunks. A ring
//! reuses its own chunks in a cycle; when they are all full, it borrows more
//! from a memory budget shared by every ring, and gives them back as soon as
//! the consumer has read them.
//!
//! The algorithm is the unbounded SPSC queue of linked segments with a node
//! cache (Dmitry Vyukov, "Unbounded single-producer/single-consumer queue";
//! the node cache is what the old `std::sync::mpsc` SPSC queue did), with
//! arrays of slots as nodes as in crossbeam-channel's list flavour, and
//! bounded by the budget:
//!
//! - The producer writes slot `index` of its current chunk, then publishes it
//!   with a release store of `written = index + 1`. While the chunk has room,
//!   that is the whole push: no read of anything the consumer writes, no
//!   read-modify-write, no allocation.
//! - When its chunk is full, the producer takes an empty chunk, links it as
//!   the full chunk's `next` (release) and goes on there. The empty chunk is
//!   one the consumer gave back, through a small SPSC channel of spares (an
//!   rtrb ring of boxes); or, when there is none, a new one, if the shared
//!   [`MemoryBudget`] still has room for it. Otherwise the push fails and the
//!   caller applies its overflow policy.
//! - The consumer reads slots up to `written` (acquire). At the end of a chunk
//!   it follows `next` (acquire). The producer never touches a chunk again
//!   once it has linked the chunk's successor, so from then on the chunk is the
//!   consumer's: it resets it and hands it back as a spare, or, while the
//!   ring holds more chunks than its own, frees it and gives its bytes back
//!   to the budget.
//! - On each move to a new chunk the producer checks the fill mark: when it
//!   has just taken its last spare chunk (or none was left), all the ring's
//!   own chunks are in use, the ring's capacity is waiting, and the next
//!   chunk will be borrowed: it wakes the consumer's thread, once until the
//!   consumer next finds the ring empty. (Not earlier: on a busy machine the
//!   woken consumer may take the producer's core while it drains, which
//!   costs the producer more than the consumer's idle sleep would.)
//!
//! When both ends are gone, [`Shared`]'s destructor frees what is left,
//! dropping the values nobody read.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::{size_of, MaybeUninit};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The most slots in one chunk.
pub(crate) const MAX_CHUNK_LEN: usize = 1024;

/// How a ring's own capacity is cut into chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Slots per chunk, 1 to [`MAX_CHUNK_LEN`].
    pub(crate) chunk_len: usize,
    /// Chunks a ring owns for its whole life, at least two.
    pub(crate) own_chunks: usize,
}

impl Geometry {
    /// Chunks of at most [`MAX_CHUNK_LEN`] slots that hold `capacity`
    /// values, plus one: the consumer gives a chunk back only once the
    /// producer has moved past it, so the chunk the consumer has just
    /// finished may stay out of use until the producer fills the next. With
    /// the extra chunk a ring always takes [`guaranteed`](Self::guaranteed)
    /// values, and a producer waiting for room (`Overflow::Block`) always has
    /// a chunk to wait for besides the one it is writing.
    pub(crate) fn for_capacity(capacity: usize) -> Self {
        let data_chunks = capacity.div_ceil(MAX_CHUNK_LEN).max(1);
        let chunk_len = capacity.div_ceil(data_chunks).max(1);
        Geometry {
            chunk_len,
            own_chunks: data_chunks + 1,
        }
    }

    /// Values a ring holds in its own chunks wherever its consumer is: at
    /// least the capacity it was made for.
    pub(crate) fn guaranteed(self) -> usize {
        self.chunk_len * (self.own_chunks - 1)
    }

    /// Bytes one chunk of `T` takes (header and slots), as charged to the budget.
    pub(crate) fn chunk_bytes<T>(self) -> usize {
        size_of::<Chunk<T>>() + self.chunk_len * size_of::<T>()
    }
}

/// Bytes that rings may borrow beyond their own chunks, shared by every ring
/// of one monitor. Taken by producers (only when their own chunks are full)
/// and given back by the consumer once it has read a borrowed chunk.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: usize,
    /// Bytes lent out; never above `limit`.
    used: AtomicUsize,
}

impl MemoryBudget {
    pub(crate) fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// Takes `bytes` if they fit under the limit.
    fn try_take(&self, bytes: usize) -> bool {
        // Relaxed: a plain counter; the chunks themselves are handed over by
        // the ring's own release/acquire pairs.
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes lent out now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Bytes that could still be lent.
    fn available(&self) -> usize {
        self.limit.saturating_sub(self.used())
    }
}

/// How producers wake the consumer's thread: a flag the consumer checks before
/// it sleeps, and an unpark. Lock-free, so a producer can call it any time.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    requested: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl Wake {
    /// The thread [`wake`](Self::wake) unparks (set once, when it is spawned).
    pub(crate) fn set_thread(&self, thread: std::thread::Thread) {
        let _ = self.thread.set(thread);
    }

    /// Asks the consumer to drain now: sets the flag, unparks its thread.
    pub(crate) fn wake(&self) {
        self.requested.store(true, Ordering::Release);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// True once after each [`wake`](Self::wake) (the consumer, before it sleeps).
    pub(crate) fn take_request(&self) -> bool {
        self.requested.swap(false, Ordering::AcqRel)
    }
}

/// `chunk_len` slots and the two words the ends share about them.
///
/// Aligned to 128 bytes (two cache lines, as crossbeam's `CachePadded` on
/// x86-64) so that the header the producer stores into on every push never
/// shares a line with another ring's header.
#[repr(align(128))]
struct Chunk<T> {
    /// Slots `0..written` hold published values. Stored (release) only by the
    /// producer while this is its current chunk; loaded (acquire) by the
    /// consumer. Reset to 0 by the consumer once the chunk is its own.
    written: AtomicUsize,
    /// The chunk the producer went on to; null until then. Stored once per
    /// use by the producer (release), after which it never touches this chunk.
    next: AtomicPtr<Chunk<T>>,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

impl<T> Chunk<T> {
    fn new(len: usize) -> Box<Self> {
        Box::new(Chunk {
            written: AtomicUsize::new(0),
            next: AtomicPtr::new(std::ptr::null_mut()),
            slots: std::iter::repeat_with(|| UnsafeCell::new(MaybeUninit::uninit()))
                .take(len)
                .collect(),
        })
    }

    fn len(&self) -> usize {
        self.slots.len()
    }
}

/// What both ends of one ring share.
struct Shared<T> {
    geometry: Geometry,
    chunk_bytes: usize,
    budget: Arc<MemoryBudget>,
    wake: Arc<Wake>,
    /// Chunks this ring owns: in the list, spare, or in the producer's hands.
    /// Starts at `geometry.own_chunks` and never goes below; the chunks above
    /// it are borrowed (`(owned - own_chunks) × chunk_bytes` of the budget).
    /// Incremented by the producer, decremented only by the consumer.
    owned: AtomicUsize,
    /// Values the producer's caller counted as dropped.
    dropped: AtomicU64,
    /// Set by the producer when it wakes the consumer for this ring; cleared
    /// by the consumer when it finds the ring empty. At most one wake per fill.
    wake_sent: AtomicBool,
    /// Set (release) when the producer is dropped.
    producer_gone: AtomicBool,
    /// The consumer's position, stored when it is dropped, for the destructor.
    consumer_chunk: AtomicPtr<Chunk<T>>,
    consumer_read: AtomicUsize,
    /// The destructor drops values of `T`.
    _values: PhantomData<T>,
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both ends are gone (each held an `Arc`), so this is the only access
        // to the chunks left; `Arc`'s drop orders every end's access before it.
        let mut chunk = *self.consumer_chunk.get_mut();
        let mut read = *self.consumer_read.get_mut();
        while let Some(current) = NonNull::new(chunk) {
            // SAFETY: every chunk in the list from the consumer's position on
            // came from `Box::into_raw` and is freed only here (the consumer
            // frees only chunks behind its position, the producer none).
            let mut boxed = unsafe { Box::from_raw(current.as_ptr()) };
            let written = *boxed.written.get_mut();
            for slot in &mut boxed.slots[read..written] {
                // SAFETY: slots `read..written` of the consumer's chunk, and
                // `0..written` of the later ones, hold values published and
                // never read.
                unsafe { slot.get_mut().assume_init_drop() };
            }
            chunk = *boxed.next.get_mut();
            read = 0;
        }
        // The spare chunks are freed by the spare channel itself, when its last
        // end goes; give back what the ring still had borrowed.
        let borrowed = self
            .owned
            .get_mut()
            .saturating_sub(self.geometry.own_chunks);
        self.budget.give_back(borrowed * self.chunk_bytes);
    }
}

/// Makes one ring: its own chunks are allocated now; more are borrowed from
/// `budget` when they are full.
pub(crate) fn ring<T: Send>(
    geometry: Geometry,
    budget: Arc<MemoryBudget>,
    wake: Arc<Wake>,
) -> (Producer<T>, Consumer<T>) {
    let (mut spare_in, spare_out) = rtrb::RingBuffer::new(geometry.own_chunks);
    for _ in 1..geometry.own_chunks {
        let pushed = spare_in.push(Chunk::new(geometry.chunk_len));
        debug_assert!(pushed.is_ok(), "the spare channel holds every own chunk");
    }
    let first = NonNull::from(Box::leak(Chunk::<T>::new(geometry.chunk_len)));
    let shared = Arc::new(Shared {
        geometry,
        chunk_bytes: geometry.chunk_bytes::<T>(),
        budget,
        wake,
        owned: AtomicUsize::new(geometry.own_chunks),
        dropped: AtomicU64::new(0),
        wake_sent: AtomicBool::new(false),
        producer_gone: AtomicBool::new(false),
        consumer_chunk: AtomicPtr::new(first.as_ptr()),
        consumer_read: AtomicUsize::new(0),
        _values: PhantomData,
    });
    let mut producer = Producer {
        chunk: first,
        slots: NonNull::dangling(),
        index: 0,
        len: geometry.chunk_len,
        spares: spare_out,
        shared: Arc::clone(&shared),
    };
    producer.enter(first);
    let consumer = Consumer {
        chunk: first,
        read: 0,
        spares: spare_in,
        shared,
    };
    (producer, consumer)
}

/// The producing end: owned by one recording thread.
pub(crate) struct Producer<T> {
    /// The chunk being written.
    chunk: NonNull<Chunk<T>>,
    /// Its first slot.
    slots: NonNull<T>,
    /// The next slot to write; equal to `chunk.written`.
    index: usize,
    /// Slots per chunk.
    len: usize,
    /// Empty chunks the consumer gave back.
    spares: rtrb::Consumer<Box<Chunk<T>>>,
    shared: Arc<Shared<T>>,
}

// SAFETY: the producer end holds the only pointers through which the current
// chunk's unpublished slots are written; moving the end to another thread
// moves that role with it (it is used through `&mut self` only). The values
// it sends must be `Send`.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// Queues `value`; gives it back if this ring's chunks are full and the
    /// budget cannot lend another. Allocates only in that case (a new
    /// chunk), never while the current chunk has room.
    #[inline(always)]
    pub(crate) fn push(&mut self, value: T) -> Result<(), T> {
        if self.index < self.len {
            // SAFETY: `index < len`: slot `index` of the current chunk is in
            // bounds, unpublished (`written == index`), so the consumer does
            // not read it, and empty (each slot is written once per use of the
            // chunk; the consumer resets a chunk before it is used again).
            unsafe { self.slots.as_ptr().add(self.index).write(value) };
            self.index += 1;
            // SAFETY: the current chunk stays allocated while the producer holds it.
            let chunk = unsafe { self.chunk.as_ref() };
            chunk.written.store(self.index, Ordering::Release);
            Ok(())
        } else {
            self.push_to_next_chunk(value)
        }
    }

    /// Counts a value the caller could not queue (read by the consumer's side
    /// with [`Consumer::dropped`]).
    pub(crate) fn count_dropped(&self) {
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
    }

    #[cold]
    #[inline(never)]
    fn push_to_next_chunk(&mut self, value: T) -> Result<(), T> {
        let Some(next) = self.take_chunk() else {
            return Err(value);
        };
        let next = NonNull::from(Box::leak(next));
        // SAFETY: the current chunk is still allocated (the consumer frees a
        // chunk only after it has read this `next`).
        let full = unsafe { self.chunk.as_ref() };
        // Release: the consumer that reads `next` sees every slot of the full
        // chunk and the reset header of the new one. From here on the full
        // chunk is the consumer's; the producer never touches it again.
        full.next.store(next.as_ptr(), Ordering::Release);
        self.enter(next);
        self.wake_at_fill_mark();
        // `index` is 0 and `len` at least 1: this takes the fast path.
        self.push(value)
    }

    /// Makes `chunk` (empty, reset) the one being written.
    fn enter(&mut self, chunk: NonNull<Chunk<T>>) {
        self.chunk = chunk;
        // SAFETY: `chunk` is allocated and not yet reachable by the consumer
        // (or reachable but with `written == 0`, so it reads no slot).
        let slots = &*unsafe { chunk.as_ref() }.slots;
        // `UnsafeCell<MaybeUninit<T>>` has the layout of `T`, and writes
        // through this pointer are writes inside the `UnsafeCell`s.
        self.slots = NonNull::from(slots).cast::<T>();
        self.index = 0;
    }

    /// An empty chunk: a spare, else a new one if the budget lends its bytes.
    fn take_chunk(&mut self) -> Option<Box<Chunk<T>>> {
        if let Ok(chunk) = self.spares.pop() {
            return Some(chunk);
        }
        let shared = &*self.shared;
        if !shared.budget.try_take(shared.chunk_bytes) {
            return None;
        }
        shared.owned.fetch_add(1, Ordering::Relaxed);
        Some(Chunk::new(self.len))
    }

    /// The fill mark: no spare chunk left once this one was taken (the ring's
    /// own chunks are all in use). Wakes the consumer unless this fill has
    /// woken it already.
    fn wake_at_fill_mark(&self) {
        let shared = &*self.shared;
        if self.spares.slots() == 0 && !shared.wake_sent.load(Ordering::Relaxed) {
            shared.wake_sent.store(true, Ordering::Relaxed);
            shared.wake.wake();
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Release: pairs with `Consumer::is_abandoned`; every value published
        // and every drop counted is visible to a consumer that sees this.
        self.shared.producer_gone.store(true, Ordering::Release);
    }
}

/// The consuming end: owned by the collector.
pub(crate) struct Consumer<T> {
    /// The chunk being read.
    chunk: NonNull<Chunk<T>>,
    /// The next slot to read in it.
    read: usize,
    /// Where emptied chunks go back to the producer.
    spares: rtrb::Producer<Box<Chunk<T>>>,
    shared: Arc<Shared<T>>,
}

// SAFETY: the consumer end holds the only pointers through which published
// slots are read and through which chunks behind it are freed; moving it to
// another thread moves that role with it (it reads and frees through
// `&mut self` only). The values it receives must be `Send`.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// The oldest value queued, if any.
    pub(crate) fn pop(&mut self) -> Option<T> {
        loop {
            // SAFETY: the consumer's chunk stays allocated: it is freed only
            // by the consumer after moving past it, or by `Shared`'s drop.
            let chunk = unsafe { self.chunk.as_ref() };
            if self.read < chunk.written.load(Ordering::Acquire) {
                // SAFETY: the producer initialised slot `read` before its
                // release store of a `written` above it, which the acquire
                // load saw; it does not touch published slots; and this slot
                // is read once (`read` moves past it).
                let value = unsafe { (*chunk.slots[self.read].get()).assume_init_read() };
                self.read += 1;
                return Some(value);
            }
            if self.read < chunk.len() {
                self.rearm_wake();
                return None; // the producer is still on this chunk
            }
            let Some(next) = NonNull::new(chunk.next.load(Ordering::Acquire)) else {
                self.rearm_wake();
                return None; // full, read, and the producer has not moved on yet
            };
            let finished = std::mem::replace(&mut self.chunk, next);
            self.read = 0;
            self.recycle(finished);
        }
    }

    /// Takes back a chunk the producer has left and the consumer has read:
    /// frees it if the ring holds borrowed chunks, else makes it a spare.
    fn recycle(&mut self, chunk: NonNull<Chunk<T>>) {
        // SAFETY: the producer has linked this chunk's successor, so it never
        // touches it again; every slot was read, so none holds a value; it
        // came from `Box::leak`, and nothing else refers to it any more.
        let mut chunk = unsafe { Box::from_raw(chunk.as_ptr()) };
        *chunk.written.get_mut() = 0;
        *chunk.next.get_mut() = std::ptr::null_mut();
        let shared = &*self.shared;
        if shared.owned.load(Ordering::Relaxed) > shared.geometry.own_chunks {
            // Only the consumer decrements `owned`, so it stays >= own_chunks.
            shared.owned.fetch_sub(1, Ordering::Relaxed);
            shared.budget.give_back(shared.chunk_bytes);
            drop(chunk);
            return;
        }
        // With no borrowed chunk, the channel (room for `own_chunks`) holds at
        // most `own_chunks - 2` spares: this chunk and the producer's are not
        // among them, and until the push only the producer acts on the channel
        // (taking spares, or adding chunks that are not spares).
        let pushed = self.spares.push(chunk);
        debug_assert!(pushed.is_ok(), "the spare channel has room");
    }

    /// A fill ended: the next one may wake the consumer again.
    fn rearm_wake(&self) {
        if self.shared.wake_sent.load(Ordering::Relaxed) {
            self.shared.wake_sent.store(false, Ordering::Relaxed);
        }
    }

    /// Values queued now (walks the chunks; for flushes, not every drain).
    pub(crate) fn len(&self) -> usize {
        let mut chunk = self.chunk;
        let mut read = self.read;
        let mut total = 0;
        loop {
            // SAFETY: chunks from the consumer's on are freed only by the
            // consumer (not during this `&self` call) or by `Shared`'s drop.
            let current = unsafe { chunk.as_ref() };
            let written = current.written.load(Ordering::Acquire);
            total += written.saturating_sub(read);
            if written < current.len() {
                return total;
            }
            match NonNull::new(current.next.load(Ordering::Acquire)) {
                Some(next) => {
                    chunk = next;
                    read = 0;
                }
                None => return total,
            }
        }
    }

    /// True when nothing is queued now.
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: as in `len`.
        let chunk = unsafe { self.chunk.as_ref() };
        if self.read < chunk.written.load(Ordering::Acquire) {
            return false;
        }
        if self.read < chunk.len() {
            return true;
        }
        match NonNull::new(chunk.next.load(Ordering::Acquire)) {
            // SAFETY: as in `len`. The producer fills a chunk before it links
            // the next, so an empty successor has no successor of its own.
            Some(next) => unsafe { next.as_ref() }.written.load(Ordering::Acquire) == 0,
            None => true,
        }
    }

    /// True once the producer is dropped. Check it *before* a last
    /// [`is_empty`](Self::is_empty): after this returns true, every value the
    /// producer published is visible.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.shared.producer_gone.load(Ordering::Acquire)
    }

    /// Values the producer's caller counted as dropped, since the ring was made.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// How full the ring is, 0 to 1, counted in chunks: the chunks not spare
    /// (waiting to be read, or being written) over the chunks it could hold
    /// now (its own, those it borrowed, and those the budget could still lend).
    pub(crate) fn fill(&self) -> f64 {
        let shared = &*self.shared;
        let owned = shared.owned.load(Ordering::Relaxed);
        let spare = self.spares.buffer().capacity() - self.spares.slots();
        let in_use = owned.saturating_sub(spare);
        let lendable = shared.budget.available() / shared.chunk_bytes.max(1);
        in_use as f64 / (owned + lendable).max(1) as f64
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // For `Shared`'s drop, which frees from here on; ordered before it by
        // the `Arc` release that follows.
        self.shared
            .consumer_chunk
            .store(self.chunk.as_ptr(), Ordering::Relaxed);
        self.shared
            .consumer_read
            .store(self.read, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn small(
        chunk_len: usize,
        own_chunks: usize,
        budget_chunks: usize,
    ) -> (Producer<u64>, Consumer<u64>, Arc<MemoryBudget>, Arc<Wake>) {
        let geometry = Geometry {
            chunk_len,
            own_chunks,
        };
        let budget = Arc::new(MemoryBudget::new(
            budget_chunks * geometry.chunk_bytes::<u64>(),
        ));
        let wake = Arc::new(Wake::default());
        let (producer, consumer) = ring(geometry, Arc::clone(&budget), Arc::clone(&wake));
        (producer, consumer, budget, wake)
    }

    #[test]
    fn geometry_holds_the_capacity_with_one_chunk_to_spare() {
        assert_eq!(
            Geometry::for_capacity(8192),
            Geometry {
                chunk_len: 1024,
                own_chunks: 9
            }
        );
        assert_eq!(
            Geometry::for_capacity(1),
            Geometry {
                chunk_len: 1,
                own_chunks: 2
            }
        );
        assert_eq!(Geometry::for_capacity(64).guaranteed(), 64);
        assert_eq!(Geometry::for_capacity(3000).guaranteed(), 3000);
        assert_eq!(Geometry::for_capacity(1025).guaranteed(), 1026);
        let largest = Geometry::for_capacity(1 << 24);
        assert_eq!(largest.chunk_len, MAX_CHUNK_LEN);
        assert_eq!(largest.guaranteed(), 1 << 24);
    }

    #[test]
    fn a_ring_takes_its_guaranteed_capacity_wherever_the_consumer_is() {
        let geometry = Geometry::for_capacity(6);
        for consumed in 0..20 {
            let budget = Arc::new(MemoryBudget::new(0));
            let (mut producer, mut consumer) =
                ring::<u64>(geometry, Arc::clone(&budget), Arc::default());
            for i in 0..consumed {
                producer.push(i).unwrap();
                assert_eq!(consumer.pop(), Some(i));
            }
            for i in 0..6 {
                assert_eq!(producer.push(i), Ok(()), "after {consumed} consumed");
            }
        }
    }

    #[test]
    fn values_come_out_in_order_across_chunks() {
        let (mut producer, mut consumer, budget, _) = small(3, 3, 0);
        for round in 0..10u64 {
            for i in 0..6 {
                assert_eq!(producer.push(round * 10 + i), Ok(()));
            }
            assert_eq!(consumer.len(), 6);
            for i in 0..6 {
                assert_eq!(consumer.pop(), Some(round * 10 + i));
            }
            assert_eq!(consumer.pop(), None);
            assert!(consumer.is_empty());
        }
        assert_eq!(budget.used(), 0, "the own chunks were enough");
    }

    #[test]
    fn a_full_ring_borrows_from_the_budget_and_gives_back_after_reading() {
        let (mut producer, mut consumer, budget, _) = small(4, 2, 3);
        // Own chunks: 8 values; the budget lends 3 chunks: 12 more.
        for i in 0..20 {
            assert_eq!(producer.push(i), Ok(()), "value {i}");
        }
        assert_eq!(producer.push(20), Err(20), "own chunks and budget are full");
        assert_eq!(budget.used(), budget.limit);
        assert_eq!(consumer.len(), 20);
        for i in 0..20 {
            assert_eq!(consumer.pop(), Some(i));
        }
        assert_eq!(consumer.pop(), None);
        // Every chunk behind the consumer went back; the one the producer is
        // writing is one of the ring's own.
        assert_eq!(budget.used(), 0);
        // Steady state: the own chunks go round, nothing is borrowed.
        for round in 0..10 {
            for i in 0..4 {
                assert_eq!(producer.push(round * 4 + i), Ok(()));
            }
            for i in 0..4 {
                assert_eq!(consumer.pop(), Some(round * 4 + i));
            }
            assert_eq!(budget.used(), 0, "round {round}");
        }
    }

    #[test]
    fn without_budget_a_ring_holds_its_own_capacity_and_no_more() {
        let (mut producer, mut consumer, _, _) = small(2, 3, 0);
        for i in 0..6 {
            assert_eq!(producer.push(i), Ok(()));
        }
        assert_eq!(producer.push(6), Err(6));
        producer.count_dropped();
        assert_eq!(consumer.dropped(), 1);
        assert_eq!(consumer.pop(), Some(0));
        assert_eq!(consumer.pop(), Some(1));
        // The first chunk is read but is given back only once the consumer
        // moves past it: on the next pop.
        assert_eq!(producer.push(6), Err(6));
        assert_eq!(consumer.pop(), Some(2));
        assert_eq!(producer.push(6), Ok(()));
    }

    #[test]
    fn the_fill_mark_wakes_the_consumer_once_per_fill() {
        let (mut producer, mut consumer, _, wake) = small(2, 4, 8);
        // Own chunks 4: the mark is passed when the fourth is entered.
        for i in 0..6 {
            producer.push(i).unwrap();
        }
        assert!(!wake.take_request(), "three chunks in use: below the mark");
        producer.push(6).unwrap();
        assert!(wake.take_request(), "the last own chunk entered: the mark");
        for i in 7..20 {
            producer.push(i).unwrap();
        }
        assert!(!wake.take_request(), "still the same fill: no second wake");
        while consumer.pop().is_some() {}
        for i in 0..4 {
            producer.push(i).unwrap();
        }
        assert!(!wake.take_request(), "a new fill, below the mark");
        for i in 4..8 {
            producer.push(i).unwrap();
        }
        assert!(wake.take_request(), "a new fill wakes again");
    }

    #[test]
    fn fill_counts_chunks_against_what_the_ring_could_hold() {
        let (mut producer, mut consumer, _, _) = small(2, 2, 2);
        assert_eq!(
            consumer.fill(),
            0.25,
            "one chunk in use of 2 own + 2 lendable"
        );
        for i in 0..8 {
            producer.push(i).unwrap();
        }
        assert_eq!(consumer.fill(), 1.0);
        while consumer.pop().is_some() {}
        assert_eq!(consumer.fill(), 0.25);
    }

    /// Counts drops of its values.
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counted_ring() -> (Producer<Counted>, Consumer<Counted>, Arc<MemoryBudget>) {
        let geometry = Geometry {
            chunk_len: 3,
            own_chunks: 2,
        };
        let budget = Arc::new(MemoryBudget::new(4 * geometry.chunk_bytes::<Counted>()));
        let (producer, consumer) = ring(geometry, Arc::clone(&budget), Arc::default());
        (producer, consumer, budget)
    }

    #[test]
    fn unread_values_are_dropped_once_whichever_end_goes_last() {
        for consumer_last in [false, true] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (mut producer, mut consumer, budget) = counted_ring();
            for _ in 0..17 {
                assert!(producer.push(Counted(Arc::clone(&drops))).is_ok());
            }
            for _ in 0..4 {
                drop(consumer.pop().unwrap());
            }
            assert_eq!(drops.load(Ordering::Relaxed), 4);
            assert!(budget.used() > 0);
            if consumer_last {
                drop(producer);
                assert!(consumer.is_abandoned());
                drop(consumer);
            } else {
                drop(consumer);
                drop(producer);
            }
            assert_eq!(
                drops.load(Ordering::Relaxed),
                17,
                "consumer last: {consumer_last}"
            );
            assert_eq!(budget.used(), 0, "everything borrowed was given back");
        }
    }

    #[test]
    fn a_value_refused_is_given_back_not_dropped() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, _consumer, _) = counted_ring();
        let mut refused = None;
        for _ in 0..100 {
            if let Err(value) = producer.push(Counted(Arc::clone(&drops))) {
                refused = Some(value);
                break;
            }
        }
        assert!(refused.is_some());
        assert_eq!(drops.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn two_threads_pass_every_value_in_order() {
        // Small chunks and a small budget, so the producer moves chunk often,
        // borrows, runs out, and waits for chunks the consumer gives back.
        const VALUES: u64 = 200_000;
        let (mut producer, mut consumer, budget, _) = small(7, 2, 3);
        let writer = std::thread::spawn(move || {
            let mut refused = 0u64;
            for i in 0..VALUES {
                let mut value = i;
                loop {
                    match producer.push(value) {
                        Ok(()) => break,
                        Err(back) => {
                            refused += 1;
                            value = back;
                            std::thread::yield_now();
                        }
                    }
                }
            }
            refused
        });
        let mut expected = 0;
        while expected < VALUES {
            match consumer.pop() {
                Some(value) => {
                    assert_eq!(value, expected);
                    expected += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        let _refused = writer.join().unwrap();
        assert!(consumer.is_abandoned());
        assert!(consumer.is_empty());
        assert_eq!(consumer.pop(), None);
        assert_eq!(budget.used(), 0);
    }
}
