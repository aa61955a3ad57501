//! The queue between callers and the collector: one single-producer ring per
//! recording thread, drained by the one collector thread.
//!
//! A shared multi-producer queue makes every core fight over the same cache
//! lines; per-thread rings (as fastrace does) keep a push to a few uncontended
//! loads and stores. A thread registers its ring with the installed monitor on
//! its first push (a mutex, once per thread and monitor); after that a push is a
//! relaxed generation check, a thread-local borrow and a slot write
//! (`queue/chunked.rs`).
//!
//! Bursts: a ring is made of chunks. Its own chunks (`queue_capacity`) are
//! reused in a cycle; when they are all full, the ring borrows more from a
//! memory budget shared by every thread (`queue_memory_budget`), and the
//! collector frees them once it has read them. When it starts to borrow (its
//! own chunks all in use), a ring wakes the collector (once per fill) instead
//! of waiting for its idle sleep to end.
//!
//! Overflow, when a ring's own chunks and the budget are both full: with
//! [`Overflow::DropNewest`] the new event is dropped and counted in the ring's
//! `dropped` counter, which the collector turns into `dropped_events`, a gap
//! line and an alert. With [`Overflow::Block`] the caller wakes the collector
//! and waits for room.

mod byte_ring;
mod chunked;

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::capture::{Failure, StagedByte as Byte};
use crate::event::Event;
use crate::local_id::LocalId;

use byte_ring::ByteProducer;
pub(crate) use chunked::{Geometry, MemoryBudget, Wake};

/// What a caller does when its queue is full: its thread's ring
/// ([`queue_capacity`](crate::MonitorBuilder::queue_capacity)) and the
/// shared [`queue_memory_budget`](crate::MonitorBuilder::queue_memory_budget)
/// both.
///
/// ```
/// use monitor_core::{Monitor, Overflow};
/// let builder = Monitor::builder().overflow(Overflow::Block);
/// # drop(builder);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the new execution and count it exactly (`dropped_events`). Never blocks.
    #[default]
    DropNewest,
    /// Wait until the collector makes room: back-pressure, nothing lost.
    Block,
}

/// Generation of the installed monitor; 0 when none is installed. The only
/// thing a monitored function reads when no monitor is installed.
static GENERATION: AtomicU32 = AtomicU32::new(0);
/// The installed monitor's queue side, for ring registration (slow path).
static ACTIVE: Mutex<Option<Arc<QueueShared>>> = Mutex::new(None);
/// Executions that could not reach any ring (thread-local storage already torn
/// down at thread exit). Counted into the monitor's `dropped_events`.
pub(crate) static ORPHAN_DROPS: AtomicU64 = AtomicU64::new(0);

/// True when a monitor is installed. One relaxed load.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    GENERATION.load(Ordering::Relaxed) != 0
}

/// The queue side of an installed monitor, shared by producers and the collector.
pub(crate) struct QueueShared {
    pub(crate) generation: u32,
    /// How each thread's own capacity is cut into chunks.
    pub(crate) geometry: Geometry,
    pub(crate) overflow: Overflow,
    /// Bytes rings may borrow beyond their own chunks, all threads together.
    pub(crate) budget: Arc<MemoryBudget>,
    /// Rings registered by threads but not yet adopted by the collector.
    pub(crate) new_rings: Mutex<Vec<Ring>>,
    /// Wakes the collector: a ring past its fill mark, a blocked producer.
    pub(crate) wake: Arc<Wake>,
}

impl QueueShared {
    pub(crate) fn new(
        generation: u32,
        capacity: usize,
        budget_bytes: usize,
        overflow: Overflow,
    ) -> Self {
        QueueShared {
            generation,
            geometry: Geometry::for_capacity(capacity),
            overflow,
            budget: Arc::new(MemoryBudget::new(budget_bytes)),
            new_rings: Mutex::new(Vec::new()),
            wake: Arc::new(Wake::default()),
        }
    }
}

/// Bytes of each thread's byte ring per event of its own capacity
/// (`queue_capacity`): the ring holds the records of its `Err`s' details
/// (`capture/staged.rs`), about 100 bytes each for a 40-byte message with a
/// `source()`, so a thread can queue about two thirds of a ring's worth of
/// such errors before the collector reads them. Past half full it wakes the
/// collector (looking at its fill once per eighth of it, `queue/byte_ring.rs`);
/// when it is full, an error's details travel boxed instead.
/// Pages are touched only as records are written (8,192 events: 512 KiB).
const BYTE_RING_PER_EVENT: usize = 64;

/// The collector's end of one thread's ring.
pub(crate) struct Ring {
    pub(crate) consumer: chunked::Consumer<Event>,
    /// The records of staged errors, in the order of their events.
    bytes: rtrb::Consumer<Byte>,
    /// The record being read (reused).
    record: Vec<Byte>,
    /// Dropped count already reported as a gap.
    pub(crate) dropped_seen: u64,
    pub(crate) thread_name: Arc<str>,
}

struct LocalProducer {
    generation: u32,
    /// `None` on the monitor's own threads (see [`is_monitor_thread`]):
    /// their executions are not recorded.
    producer: Option<chunked::Producer<Event>>,
    /// The byte ring's producer (`None` with `producer`).
    bytes: Option<ByteProducer>,
    shared: Arc<QueueShared>,
}

/// True on the monitor's own threads: the collector, the notifier threads
/// and the HTTP server, which set a thread-local flag when they start (a
/// host thread is never mistaken for one, whatever its name). A monitored
/// function called there (by a sink or a notifier) is not recorded: its
/// event would be processed by the very thread that must make room for it
/// (a deadlock under `Overflow::Block`), and each processed event could
/// produce another (an endless loop).
pub(crate) fn is_monitor_thread() -> bool {
    crate::collector::on_collector_thread()
        || crate::alerts::notify::on_notifier_thread()
        || on_http_thread()
}

#[cfg(feature = "http")]
fn on_http_thread() -> bool {
    crate::http::on_server_thread()
}

#[cfg(not(feature = "http"))]
fn on_http_thread() -> bool {
    false
}

thread_local! {
    static LOCAL: RefCell<Option<LocalProducer>> = const { RefCell::new(None) };
}

/// Makes `shared` the queue that pushes go to.
pub(crate) fn activate(shared: Arc<QueueShared>) {
    let generation = shared.generation;
    *ACTIVE.lock() = Some(shared);
    GENERATION.store(generation, Ordering::Release);
}

/// Stops new pushes from reaching `generation`'s queue.
pub(crate) fn deactivate(generation: u32) {
    let mut active = ACTIVE.lock();
    if active
        .as_ref()
        .is_some_and(|shared| shared.generation == generation)
    {
        *active = None;
        let _ = GENERATION.compare_exchange(generation, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// Hands an event to the installed monitor's collector.
#[inline]
pub(crate) fn push(event: Event) {
    let generation = GENERATION.load(Ordering::Relaxed);
    if generation == 0 {
        return;
    }
    let handled = LOCAL
        .try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else {
                return false;
            };
            if local.as_ref().is_none_or(|p| p.generation != generation) {
                *local = register(generation);
            }
            match local.as_mut() {
                Some(producer) => push_local(producer, event),
                // The monitor was uninstalled meanwhile: nothing to record into.
                None => true,
            }
        })
        .unwrap_or(false);
    if !handled {
        ORPHAN_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Hands a staged error's `event` to the collector: its record (this
/// thread's stage, stamped with `id`) into the thread's byte ring, then the
/// event. `Err(event)` when the byte ring has no room for the record (or
/// the thread's ring is in use further up its stack): the caller sends the
/// details boxed.
pub(crate) fn push_staged(event: Event, id: LocalId) -> Result<(), Event> {
    let generation = GENERATION.load(Ordering::Relaxed);
    if generation == 0 {
        return Ok(());
    }
    LOCAL
        .try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else {
                return Err(event);
            };
            if local.as_ref().is_none_or(|p| p.generation != generation) {
                *local = register(generation);
            }
            let Some(producer) = local.as_mut() else {
                // The monitor was uninstalled meanwhile: nothing to record into.
                return Ok(());
            };
            let Some(bytes) = producer.bytes.as_mut() else {
                return Ok(()); // a monitor thread: not recorded, not a drop
            };
            // The record goes in first: once the collector sees the event,
            // the record's bytes are visible too (the event's release).
            let wake = &producer.shared.wake;
            let in_ring = crate::capture::with_staged_record(id, |record| bytes.push(record, wake));
            if in_ring != Some(true) {
                return Err(event);
            }
            push_local(producer, event);
            Ok(())
        })
        .unwrap_or_else(|_| {
            // Thread-local storage torn down at thread exit.
            ORPHAN_DROPS.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
}

/// Pushes into this thread's ring. Always accounts for the event: queued, or
/// counted as dropped.
#[inline]
fn push_local(local: &mut LocalProducer, event: Event) -> bool {
    let Some(producer) = local.producer.as_mut() else {
        return true; // a monitor thread: not recorded, not a drop
    };
    match producer.push(event) {
        Ok(()) => true,
        Err(event) => push_full(local, event),
    }
}

/// The ring's own chunks and the budget are full.
#[cold]
fn push_full(local: &mut LocalProducer, mut event: Event) -> bool {
    let Some(producer) = local.producer.as_mut() else {
        return true;
    };
    if local.shared.overflow == Overflow::DropNewest {
        producer.count_dropped();
        drop(event);
        return true;
    }
    let mut spins = 0u32;
    loop {
        if GENERATION.load(Ordering::Relaxed) != local.generation {
            // The monitor is shutting down: nobody will drain this ring again.
            producer.count_dropped();
            return true;
        }
        local.shared.wake.wake();
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        spins = spins.saturating_add(1);
        match producer.push(event) {
            Ok(()) => return true,
            Err(back) => event = back,
        }
    }
}

#[cold]
fn register(generation: u32) -> Option<LocalProducer> {
    let shared = ACTIVE.lock().clone()?;
    if shared.generation != generation {
        return None;
    }
    let thread = std::thread::current();
    if is_monitor_thread() {
        return Some(LocalProducer {
            generation,
            producer: None,
            bytes: None,
            shared,
        });
    }
    let (producer, consumer) = chunked::ring(
        shared.geometry,
        Arc::clone(&shared.budget),
        Arc::clone(&shared.wake),
    );
    let thread_name: Arc<str> = match thread.name() {
        Some(name) => name.into(),
        None => format!("{:?}", thread.id()).into(),
    };
    let (bytes, bytes_consumer) =
        rtrb::RingBuffer::new(shared.geometry.guaranteed() * BYTE_RING_PER_EVENT);
    shared.new_rings.lock().push(Ring {
        consumer,
        bytes: bytes_consumer,
        record: Vec::new(),
        dropped_seen: 0,
        thread_name,
    });
    Some(LocalProducer {
        generation,
        producer: Some(producer),
        bytes: Some(ByteProducer::new(bytes)),
        shared,
    })
}

impl Ring {
    /// Reads the record of the staged error `id` into `into` (reusing its
    /// memory). Records before it belong to events that were dropped (a
    /// full event ring) and are skipped.
    pub(crate) fn read_staged(&mut self, id: LocalId, into: &mut Failure) {
        loop {
            let mut prefix = [0u8; 4];
            // Peeked, not committed: the length is read again with the record.
            let Ok(chunk) = self.bytes.read_chunk(4) else {
                return details_lost(into);
            };
            let (first, second) = chunk.as_slices();
            for (to, from) in prefix.iter_mut().zip(first.iter().chain(second)) {
                // SAFETY: a record starts with its length, written from an
                // integer (`capture/staged.rs`).
                *to = unsafe { from.assume_init() };
            }
            self.record.resize(
                crate::capture::staged_record_len(prefix),
                MaybeUninit::uninit(),
            );
            if self.bytes.pop_entire_slice(&mut self.record).is_err() {
                return details_lost(into);
            }
            if crate::capture::staged_record_id(&self.record) == id {
                // SAFETY: a whole record just taken out of the ring, decoded
                // once (a skipped one is never decoded).
                unsafe { crate::capture::decode_staged(&self.record, into) };
                return;
            }
        }
    }
}

/// Formats the error `event` carries in its word (`capture/deferred.rs`)
/// into `into` (reusing its memory). Needs nothing of the ring: the event
/// holds the error and its callsite the formatter.
pub(crate) fn read_carried(event: &Event, into: &mut Failure) {
    let format = event.callsite.carried_format();
    let Some(value) = event.carried_value().filter(|_| format != 0) else {
        return details_lost(into);
    };
    // SAFETY: the callsite's formatter was claimed for the type whose bytes
    // the event carries before the event was pushed (`Callsite::carries`),
    // and it never changes; this event is read once.
    unsafe { crate::capture::decode_carried(format, value, into) };
}

/// Never expected: a staged event's whole record goes in before the event.
#[cold]
fn details_lost(into: &mut Failure) {
    *into = Failure {
        error_type: "unknown".into(),
        message: "<the error's details were lost>".to_owned(),
        ..Failure::default()
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::DetailsWriter;

    fn stage_record(bytes: &mut rtrb::Producer<Byte>, sequence: u32, message: &str) {
        crate::capture::stage("app::Error", |w| {
            w.message(message, 100, |text, out| out.write_str(text));
        })
        .expect("the stage is free");
        let id = LocalId {
            thread: 3,
            sequence,
        };
        crate::capture::with_staged_record(id, |record| bytes.push_entire_slice(record))
            .expect("a staged record")
            .expect("room in the byte ring");
    }

    #[test]
    fn the_record_of_a_dropped_event_is_skipped() {
        // An event dropped after its record went into the byte ring (a full
        // event ring) leaves that record behind: the collector reads past
        // it to the record of the event it holds.
        let (_producer, consumer) = chunked::ring::<Event>(
            Geometry::for_capacity(4),
            Arc::new(MemoryBudget::new(0)),
            Arc::new(Wake::default()),
        );
        let (mut bytes, bytes_consumer) = rtrb::RingBuffer::new(1024);
        let mut ring = Ring {
            consumer,
            bytes: bytes_consumer,
            record: Vec::new(),
            dropped_seen: 0,
            thread_name: "test".into(),
        };
        stage_record(&mut bytes, 1, "the dropped one");
        stage_record(&mut bytes, 2, "the kept one");
        stage_record(&mut bytes, 3, "the next one");
        let mut failure = Failure::default();
        let kept = LocalId {
            thread: 3,
            sequence: 2,
        };
        ring.read_staged(kept, &mut failure);
        assert_eq!(failure.message, "the kept one");
        assert_eq!(failure.error_type, "app::Error");
        let next = LocalId {
            thread: 3,
            sequence: 3,
        };
        ring.read_staged(next, &mut failure);
        assert_eq!(failure.message, "the next one");
        assert!(ring.bytes.is_empty());
        // A record that never came: the details are reported lost, not
        // taken from another execution.
        ring.read_staged(kept, &mut failure);
        assert_eq!(failure.message, "<the error's details were lost>");
    }

    #[test]
    fn carried_events_dropped_unread_free_nothing_and_are_never_formatted_by_a_guess() {
        // A callsite no carried error claimed yet: its events' bytes have no
        // formatter, and the collector reports their details lost instead
        // of guessing one.
        static CALLSITE: crate::callsite::Callsite = crate::callsite::Callsite::new(
            None,
            "queue",
            "tests",
            "carried",
            file!(),
            line!(),
            None,
            None,
        );
        let (mut producer, consumer) = chunked::ring::<Event>(
            Geometry::for_capacity(4),
            Arc::new(MemoryBudget::new(0)),
            Arc::new(Wake::default()),
        );
        // Words an `Extra` would read as a box's pointer (even, not zero):
        // dropping them as one would free what was never allocated.
        let carried = |sequence: u32| {
            let id = LocalId {
                thread: 1,
                sequence,
            };
            Event::carried(&CALLSITE, (1, 2), id, MaybeUninit::new(0x1000 << sequence))
        };
        let mut pushed = 0;
        while producer.push(carried(pushed)).is_ok() {
            pushed += 1;
        }
        // The push that found the ring full handed its event back, dropped.
        assert!(pushed >= 4, "{pushed}");
        let mut ring = Ring {
            consumer,
            bytes: rtrb::RingBuffer::new(16).1,
            record: Vec::new(),
            dropped_seen: 0,
            thread_name: "test".into(),
        };
        let event = ring.consumer.pop().expect("a carried event");
        let mut failure = Failure::default();
        read_carried(&event, &mut failure);
        assert_eq!(failure.message, "<the error's details were lost>");
        // An event that carries nothing is not read as carrying something.
        let boxed = Event::new(
            &CALLSITE,
            (1, 2),
            crate::event::Status::Error,
            LocalId {
                thread: 1,
                sequence: 99,
            },
            crate::event::Extra::NONE,
        );
        failure = Failure::default();
        read_carried(&boxed, &mut failure);
        assert_eq!(failure.message, "<the error's details were lost>");
        // The rest go unread with the ring (a monitor shut down).
        drop(ring);
        drop(producer);
    }
}
