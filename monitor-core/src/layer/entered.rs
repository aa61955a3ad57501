//! The spans this thread is inside, with when each was entered: a small
//! per-thread stack, so entering a span touches no shared state at all and
//! only the exit looks the span up (to add its busy time).
//!
//! `tracing` enters and exits a span on the same thread (`Entered` guards are
//! not `Send`; `Instrumented` futures enter and exit within one poll), which is
//! what makes a per-thread stack enough. Entries are keyed by layer and span id
//! (ids are per subscriber, and two subscribers can be in use on one thread).

use std::cell::RefCell;

/// More enters than this without exits (leaked guards) are not timed: the
/// stack stays bounded.
const MAX_ENTERED: usize = 256;

#[derive(Clone, Copy)]
pub(super) struct Entry {
    layer: usize,
    id: u64,
    /// Raw ticks at enter.
    pub(super) at: u64,
    /// The thread was already unwinding when it entered the span.
    pub(super) panicking: bool,
    /// The same span was already entered on this thread (re-entry): its outer
    /// entry counts the time.
    pub(super) nested: bool,
}

thread_local! {
    static ENTERED: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Notes that `id` was entered at `at`.
#[inline]
pub(super) fn push(layer: usize, id: u64, at: u64) {
    let _ = ENTERED.try_with(|stack| {
        let Ok(mut stack) = stack.try_borrow_mut() else {
            return;
        };
        if stack.len() >= MAX_ENTERED {
            return;
        }
        let nested = stack
            .iter()
            .any(|entry| entry.layer == layer && entry.id == id);
        stack.push(Entry {
            layer,
            id,
            at,
            panicking: std::thread::panicking(),
            nested,
        });
    });
}

/// Takes the innermost entry of `id` (exits are nearly always in reverse
/// order of enters, so this looks at the top first).
#[inline]
pub(super) fn pop(layer: usize, id: u64) -> Option<Entry> {
    ENTERED
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            let position = stack
                .iter()
                .rposition(|entry| entry.layer == layer && entry.id == id)?;
            if position + 1 == stack.len() {
                // The usual case: no entries to move down.
                return stack.pop();
            }
            Some(stack.remove(position))
        })
        .ok()
        .flatten()
}

/// The innermost span of `layer` entered on this thread and not exited:
/// the current span as the layer sees it (a span the layer's filter rejects
/// never reaches its `on_enter`). A re-entry is skipped, as the registry
/// skips it for its current span: inside `a > b > a`, `b` is current (the
/// parent of a span made there, the span of an event). Spans entered while
/// no monitor was installed, or past [`MAX_ENTERED`], are not on the stack.
#[inline]
pub(super) fn innermost(layer: usize) -> Option<u64> {
    ENTERED
        .try_with(|stack| {
            let stack = stack.try_borrow().ok()?;
            let entry = stack
                .iter()
                .rev()
                .find(|entry| entry.layer == layer && !entry.nested)?;
            Some(entry.id)
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_pop_innermost_first_and_know_re_entry() {
        push(1, 7, 100);
        push(2, 7, 150); // same id, another subscriber's layer
        push(1, 7, 200); // re-entry
        push(1, 8, 300);
        assert_eq!(innermost(1), Some(8));
        assert_eq!(innermost(2), Some(7));
        push(1, 7, 400); // re-entered inside 8: 8 stays the current span
        assert_eq!(innermost(1), Some(8));
        let again = pop(1, 7).unwrap();
        assert_eq!((again.at, again.nested), (400, true));
        let inner = pop(1, 7).unwrap();
        assert_eq!((inner.at, inner.nested), (200, true));
        assert_eq!(pop(1, 8).unwrap().at, 300);
        let outer = pop(1, 7).unwrap();
        assert_eq!((outer.at, outer.nested), (100, false));
        assert_eq!(innermost(1), None);
        assert_eq!(innermost(2), Some(7));
        assert!(!pop(2, 7).unwrap().nested);
        assert!(pop(1, 7).is_none());
        assert_eq!(innermost(2), None);
    }

    #[test]
    fn leaked_enters_cannot_grow_the_stack() {
        std::thread::spawn(|| {
            for id in 0..(MAX_ENTERED as u64 + 50) {
                push(3, id, id);
            }
            assert_eq!(ENTERED.with(|stack| stack.borrow().len()), MAX_ENTERED);
            assert!(pop(3, MAX_ENTERED as u64 + 10).is_none());
        })
        .join()
        .unwrap();
    }
}
