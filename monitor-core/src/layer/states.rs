//! The layer's per-span state, kept in its own table instead of the
//! registry's span extensions, so that a span's state costs no allocation:
//! the registry boxes every value inserted into a span's extensions.
//!
//! Keyed by layer and span id (ids are per subscriber; see `entered.rs`). A
//! span's state goes in at creation and out at close (`on_close` takes it out
//! whether or not a monitor is still installed, so none stays behind for a
//! later span that reuses the id).
//!
//! It is also the list of running spans: the collector's sampler walks it
//! ([`for_each`], one lock at a time) for the states of spans recorded as
//! executions, so a span needs no entry of its own among the running
//! executions.
//!
//! Where a state lives: in one of [`SLOTS`] slots picked from the span id,
//! each under its own lock, so the usual span costs one uncontended lock at
//! creation and one at close, and no hashing, allocation or moving of other
//! states. The registry's ids are slab indices that it hands out densely per
//! thread and reuses once a span closes, so the spans open at once on a
//! thread fall in different slots; the slot's key (layer and full id,
//! generation included) tells whose state it holds. A span whose slot is
//! taken when it is created (more spans open at once than slots, or two
//! threads' spans meeting) goes into an overflow map split into [`SHARDS`]
//! locks by a hash of the id, and stays there until it closes: a lookup tries
//! the slot, then the map. The slots' memory is fixed (about 200 KiB, made
//! at the first span); the map's is that of the most spans that overflowed
//! at once.
//!
//! Busy time, added at every exit, takes no lock for a span in a slot: the
//! slot's key and busy ticks are atomics beside the lock ([`add_busy`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::SpanState;

/// Number of slots, each holding the state of one open span.
const SLOTS: usize = 1024;

/// Number of independently locked parts of the overflow map.
const SHARDS: usize = 32;

/// The state of at most one open span.
#[derive(Default)]
struct Slot {
    /// The id of the span whose state `state` holds (0: none, which no
    /// `tracing` id is), and its layer. Written under `state`'s lock (id
    /// last when filled, first when emptied); read under it, or without it
    /// by [`add_busy`].
    id: AtomicU64,
    layer: AtomicUsize,
    /// Ticks the span spent entered, added without the lock by
    /// [`add_busy`]; moved into the state when it is taken out.
    busy: AtomicU64,
    state: Mutex<Option<SpanState>>,
}

impl Slot {
    /// Whether the slot holds span `id` of `layer`. Reads the id again after
    /// the layer, so that a slot emptied and refilled between the two reads
    /// cannot pass for the span (with the lock held this cannot happen).
    #[inline]
    fn holds(&self, layer: usize, id: u64) -> bool {
        self.id.load(Ordering::Acquire) == id
            && self.layer.load(Ordering::Acquire) == layer
            && self.id.load(Ordering::Acquire) == id
    }
}

/// The slots, made at the first span (a static array would be about 200 KiB
/// of every host binary's data, since an empty state is not all zero bytes).
static TABLE: OnceLock<Box<[Slot]>> = OnceLock::new();

/// The slot of span `id`. The registry's id is its slab index plus one: the
/// low 37 bits are the span's place in its thread's part of the slab (dense
/// from 0), the bits above them the thread and then the generation. Each
/// thread's places start at their own offset (a step of about the table
/// over the golden ratio); the generation is not used, so a span reusing a
/// closed span's place reuses its slot. Any other id layout only makes
/// overflow likelier: the key, not the slot, says whose state it is.
#[inline]
fn slot(id: u64) -> &'static Slot {
    let index = id.wrapping_sub(1);
    let place = index & ((1 << 37) - 1);
    let thread = index >> 37;
    let spread = place.wrapping_add(thread.wrapping_mul(633));
    let table = TABLE.get_or_init(|| (0..SLOTS).map(|_| Slot::default()).collect());
    &table[spread as usize % SLOTS]
}

/// Span ids from `tracing_subscriber::Registry` are already well spread (a
/// slab index and a generation): a multiply mixes them enough for a map.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

type Shard = Mutex<HashMap<(usize, u64), SpanState, BuildHasherDefault<IdHasher>>>;

static OVERFLOW: [Shard; SHARDS] =
    [const { Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) }; SHARDS];

#[inline]
fn shard(id: u64) -> &'static Shard {
    let mixed = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &OVERFLOW[(mixed >> 59) as usize % SHARDS]
}

/// Stores the state of a new span (replacing any left under the same key),
/// made by `state` where it will lie. `state` runs under the slot's lock: it
/// must only assemble values made before.
#[inline]
pub(super) fn insert(layer: usize, id: u64, state: impl FnOnce() -> SpanState) {
    let slot = slot(id);
    let mut guard = slot.state.lock();
    let taken = slot.id.load(Ordering::Relaxed);
    if taken != 0 && !(taken == id && slot.layer.load(Ordering::Relaxed) == layer) {
        drop(guard);
        return insert_overflow(layer, id, state());
    }
    *guard = Some(state());
    slot.busy.store(0, Ordering::Relaxed);
    slot.layer.store(layer, Ordering::Relaxed);
    slot.id.store(id, Ordering::Release);
}

#[cold]
#[inline(never)]
fn insert_overflow(layer: usize, id: u64, state: SpanState) {
    shard(id).lock().insert((layer, id), state);
}

/// Runs `f` on the state of span `id`, if the layer keeps one. `f` runs
/// under the state's lock: it must not call host code or touch another span.
/// The state's `busy` does not count what [`add_busy`] keeps in the slot.
#[inline]
pub(super) fn with<R>(layer: usize, id: u64, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    let slot = slot(id);
    let mut guard = slot.state.lock();
    if slot.holds(layer, id) {
        if let Some(state) = guard.as_mut() {
            return Some(f(state));
        }
    }
    drop(guard);
    with_overflow(layer, id, f)
}

#[cold]
#[inline(never)]
fn with_overflow<R>(layer: usize, id: u64, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    shard(id).lock().get_mut(&(layer, id)).map(f)
}

/// Adds `ticks` to the busy time of span `id`, if the layer keeps its state.
/// For a span in a slot this takes no lock: only the span's own exits add
/// to it, and the span cannot close (and its slot be refilled) while it is
/// entered.
#[inline]
pub(super) fn add_busy(layer: usize, id: u64, ticks: u64) {
    let slot = slot(id);
    if slot.holds(layer, id) {
        slot.busy.fetch_add(ticks, Ordering::Relaxed);
        return;
    }
    add_busy_overflow(layer, id, ticks);
}

#[cold]
#[inline(never)]
fn add_busy_overflow(layer: usize, id: u64, ticks: u64) {
    if let Some(state) = shard(id).lock().get_mut(&(layer, id)) {
        state.busy += ticks;
    }
}

/// Runs `f` on the state of span `id`, if the layer keeps one, and then
/// takes the state out of the table (dropping what `f` left in it). The
/// state is read where it lies, not moved out whole, and its `busy` counts
/// every [`add_busy`]. `f` runs under the state's lock, as in [`with`].
#[inline]
pub(super) fn remove_with<R>(
    layer: usize,
    id: u64,
    f: impl FnOnce(&mut SpanState) -> R,
) -> Option<R> {
    let slot = slot(id);
    let mut guard = slot.state.lock();
    if slot.holds(layer, id) {
        if let Some(state) = guard.as_mut() {
            state.busy += slot.busy.load(Ordering::Relaxed);
            let taken = f(state);
            slot.id.store(0, Ordering::Release);
            *guard = None;
            return Some(taken);
        }
    }
    drop(guard);
    remove_overflow(layer, id, f)
}

#[cold]
#[inline(never)]
fn remove_overflow<R>(layer: usize, id: u64, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    let mut state = shard(id).lock().remove(&(layer, id))?;
    Some(f(&mut state))
}

/// Calls `f` with every state in the table, one lock at a time.
pub(super) fn for_each(mut f: impl FnMut(&SpanState)) {
    for slot in TABLE.get().into_iter().flat_map(|table| table.iter()) {
        if let Some(state) = &*slot.state.lock() {
            f(state);
        }
    }
    for shard in OVERFLOW.iter() {
        for state in shard.lock().values() {
            f(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_bits_of_the_mixed_id_pick_every_shard() {
        let mut seen = [false; SHARDS];
        for id in 1..=4096u64 {
            let shard = shard(id) as *const Shard;
            let index = OVERFLOW
                .iter()
                .position(|s| std::ptr::eq(s, shard))
                .unwrap();
            seen[index] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }
}
