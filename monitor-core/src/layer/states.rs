//! The layer's per-span state, kept in its own table instead of the
//! registry's span extensions, so that a span's state costs no allocation at
//! steady state: the registry boxes every value inserted into a span's extensions,
//! while this table's shards keep their capacity as spans come and go.
//!
//! Keyed by layer and span id (ids are per subscriber; see `entered.rs`). A
//! span's state goes in at creation and out at close (`on_close` takes it out
//! whether or not a monitor is still installed, so none stays behind for a
//! later span that reuses the id). The table holds one entry per open span,
//! and its memory is that of the most spans open at once.
//!
//! It is also the list of running spans: the collector's sampler walks it
//! ([`for_each`], one shard's lock at a time) for the states of spans
//! recorded as executions, so a span needs no entry of its own among the
//! running executions.
//!
//! Shards: a span is looked up by whichever thread touches it, so the table
//! is split into [`SHARDS`] locks by a hash of the id; two threads contend
//! only when their spans fall in the same shard.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::Mutex;

use super::SpanState;

/// Number of independently locked parts of the table.
const SHARDS: usize = 32;

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

static TABLE: [Shard; SHARDS] =
    [const { Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) }; SHARDS];

#[inline]
fn shard(id: u64) -> &'static Shard {
    let mixed = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &TABLE[(mixed >> 59) as usize % SHARDS]
}

/// Stores the state of a new span (replacing any left under the same key).
pub(super) fn insert(layer: usize, id: u64, state: SpanState) {
    shard(id).lock().insert((layer, id), state);
}

/// Runs `f` on the state of span `id`, if the layer keeps one. `f` runs
/// under the shard's lock: it must not call host code or touch another span.
#[inline]
pub(super) fn with<R>(layer: usize, id: u64, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    shard(id).lock().get_mut(&(layer, id)).map(f)
}

/// Takes the state of span `id` out of the table.
#[inline]
pub(super) fn remove(layer: usize, id: u64) -> Option<SpanState> {
    shard(id).lock().remove(&(layer, id))
}

/// Calls `f` with every state in the table, one shard's lock at a time.
pub(super) fn for_each(mut f: impl FnMut(&SpanState)) {
    for shard in TABLE.iter() {
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
            let index = TABLE.iter().position(|s| std::ptr::eq(s, shard)).unwrap();
            seen[index] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }
}
