//! The caller's half of an [`ExecutionId`](crate::ExecutionId): the number
//! of the thread that starts an execution and that thread's sequence number
//! of it.
//!
//! One `const` thread-local `Cell<u64>` holds `thread number << 32 | next
//! sequence`: taking a pair is a thread-local read and write, with no
//! shared atomic, lock or allocation. The thread number is given once per
//! thread, at its first recorded execution, from a process-wide counter
//! (from 1, wrapping within 16 bits, never 0).
//!
//! The pair is taken when an execution *starts* (on the thread that starts
//! it), and travels with it: in the guard, the async state, the span's
//! state, then the [`Event`](crate::event::Event). The collector adds the
//! run number and the start time derived from the start tick
//! ([`IdClock`](crate::collector::IdClock)), so anything that knows an
//! execution's callsite, start tick, thread number and sequence while it
//! still runs (issue 14's stack of running executions) can name it with the
//! id its finished line will carry.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// Thread numbers given so far (the next one is this, wrapped, plus 1).
static THREADS: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// `thread number << 32 | next sequence`; 0 until the thread's first
    /// recorded execution.
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// The caller's part of an execution id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LocalId {
    /// The thread's number, from 1 (0 only in an inactive guard).
    pub(crate) thread: u16,
    /// The thread's sequence number of the execution (wrapping).
    pub(crate) sequence: u32,
}

impl LocalId {
    /// The pair for the next execution started on this thread.
    #[inline(always)]
    pub(crate) fn next() -> LocalId {
        // `with` cannot fail: a const thread-local without destructor
        // stays accessible during thread teardown too.
        NEXT.with(|cell| {
            let value = cell.get();
            if value == 0 {
                return first_on_thread(cell);
            }
            // The sequence wraps within its 32 bits, never into the thread's.
            cell.set((value & !0xFFFF_FFFF) | u64::from((value as u32).wrapping_add(1)));
            LocalId {
                thread: (value >> 32) as u16,
                sequence: value as u32,
            }
        })
    }
}

/// Numbers the thread (once) and hands out its first sequence number, 0.
#[cold]
#[inline(never)]
fn first_on_thread(cell: &Cell<u64>) -> LocalId {
    let thread = (THREADS.fetch_add(1, Ordering::Relaxed) % u32::from(u16::MAX)) as u16 + 1;
    cell.set(u64::from(thread) << 32 | 1);
    LocalId {
        thread,
        sequence: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_number_and_counts_up() {
        let first = LocalId::next();
        let second = LocalId::next();
        assert_ne!(first.thread, 0);
        assert_eq!(second.thread, first.thread);
        assert_eq!(second.sequence, first.sequence.wrapping_add(1));
        let other = std::thread::spawn(LocalId::next).join().unwrap();
        assert_ne!(other.thread, first.thread);
        assert_ne!(other.thread, 0);
    }

    #[test]
    fn the_sequence_wraps_without_touching_the_thread_number() {
        std::thread::spawn(|| {
            let thread = LocalId::next().thread;
            NEXT.with(|cell| cell.set(u64::from(thread) << 32 | u64::from(u32::MAX)));
            let last = LocalId::next();
            let wrapped = LocalId::next();
            assert_eq!((last.thread, last.sequence), (thread, u32::MAX));
            assert_eq!((wrapped.thread, wrapped.sequence), (thread, 0));
        })
        .join()
        .unwrap();
    }
}
