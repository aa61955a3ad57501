//! A thread's byte ring, its producer's end: where the records of its
//! `Err`s' details go (`capture/staged.rs`), beside its event ring.
//!
//! A push is rtrb's: it reads the collector's read index only when the
//! room it saw last time is not enough. Whether the ring is past half full
//! (and the collector should be woken rather than left to its idle sleep)
//! needs that index too, a cache line the collector writes on every record
//! it reads; so the fill is looked at once per eighth of the ring pushed,
//! not on every push.

use super::Wake;
use crate::capture::StagedByte as Byte;

/// The producer's end of one thread's byte ring.
pub(super) struct ByteProducer {
    ring: rtrb::Producer<Byte>,
    /// Half the ring's capacity: past it, the collector is woken.
    half: usize,
    /// Bytes pushed between two looks at the fill.
    check_every: usize,
    /// Bytes still to push before the next look.
    until_check: usize,
}

impl ByteProducer {
    /// The producer's end of `ring`.
    pub(super) fn new(ring: rtrb::Producer<Byte>) -> Self {
        let capacity = ring.buffer().capacity();
        let check_every = (capacity / 8).max(1);
        ByteProducer {
            ring,
            half: capacity / 2,
            check_every,
            until_check: check_every,
        }
    }

    /// Pushes the whole `record`, or nothing and returns false when it does
    /// not fit. Wakes the collector through `wake` when a look at the fill
    /// finds the ring past half full.
    #[inline]
    pub(super) fn push(&mut self, record: &[Byte], wake: &Wake) -> bool {
        if self.ring.push_entire_slice(record).is_err() {
            return false;
        }
        self.until_check = self.until_check.saturating_sub(record.len());
        if self.until_check == 0 {
            self.look_at_fill(wake);
        }
        true
    }

    #[cold]
    fn look_at_fill(&mut self, wake: &Wake) {
        self.until_check = self.check_every;
        if self.ring.slots() < self.half {
            wake.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    #[test]
    fn the_collector_is_woken_past_half_full_and_not_before() {
        let (ring, mut consumer) = rtrb::RingBuffer::<Byte>::new(64);
        let mut producer = ByteProducer::new(ring);
        let wake = Wake::default();
        let record = [MaybeUninit::new(7u8); 8];
        // Four records: exactly half, not past it.
        for _ in 0..4 {
            assert!(producer.push(&record, &wake));
        }
        assert!(!wake.take_request(), "woken at half full");
        assert!(producer.push(&record, &wake));
        assert!(wake.take_request(), "not woken past half full");
        // Read back below half: the next look does not wake.
        let read = consumer.read_chunk(40).expect("five records");
        read.commit_all();
        assert!(producer.push(&record, &wake));
        assert!(!wake.take_request(), "woken below half full");
    }

    #[test]
    fn a_record_that_does_not_fit_is_not_pushed() {
        let (ring, consumer) = rtrb::RingBuffer::<Byte>::new(16);
        let mut producer = ByteProducer::new(ring);
        let wake = Wake::default();
        assert!(producer.push(&[MaybeUninit::new(1u8); 12], &wake));
        assert!(!producer.push(&[MaybeUninit::new(2u8); 8], &wake));
        assert_eq!(consumer.slots(), 12, "a partial record went in");
    }
}
