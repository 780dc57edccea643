//! A loom stand-in for `crossbeam_queue::SegQueue` that synchronises as the real one does.
//!
//! It is crossbeam's algorithm for a single block of slots (a model holds a handful of
//! items, so the block never fills), with the same orderings, so loom sees the same
//! happens-before edges as the real queue gives. In particular:
//! - `push` claims a slot with a `SeqCst` read-modify-write of `tail`, writes the value,
//!   then sets the slot's `written` flag with `Release` (crossbeam reads `tail` with
//!   `Acquire`, then claims with a compare-exchange that a racing push can make it retry;
//!   one `fetch_add` makes the same claim with the same edges, and spares loom the retries);
//! - `pop` decides "empty" with a `SeqCst` fence and a `Relaxed` load of `tail`, and a
//!   failed `pop` writes nothing: it creates no happens-before edge with anyone;
//! - a successful `pop` claims a slot with a `SeqCst` read-modify-write of `head`, then waits
//!   for the slot's `written` flag with `Acquire` (a pusher preempted between claiming its
//!   slot and writing it holds the popper up, as in crossbeam).
//!
//! The value itself sits behind a per-slot lock because this crate forbids `unsafe`; the
//! lock adds no edge the `written` flag does not already give (one pusher and one popper per
//! slot, the pusher's release before the popper's acquire).

use loom::sync::Mutex;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

/// Slots in the model's one block: more than any model pushes.
const SLOTS: usize = 16;

pub(crate) struct SegQueue<T> {
    /// The next slot to pop.
    head: AtomicUsize,
    /// The next slot to push; `tail - head` items are in the queue or being written.
    tail: AtomicUsize,
    slots: Vec<Slot<T>>,
}

struct Slot<T> {
    value: Mutex<Option<T>>,
    /// Set once the value is written (crossbeam's `WRITE` bit).
    written: AtomicBool,
}

impl<T> SegQueue<T> {
    pub(crate) fn new() -> Self {
        Self {
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            slots: (0..SLOTS)
                .map(|_| Slot {
                    value: Mutex::new(None),
                    written: AtomicBool::new(false),
                })
                .collect(),
        }
    }

    pub(crate) fn push(&self, value: T) {
        // Ordering: as crossbeam's tail CAS, `SeqCst`.
        let tail = self.tail.fetch_add(1, Ordering::SeqCst);
        assert!(tail < SLOTS, "a loom model pushed more than {SLOTS} items");
        let slot = &self.slots[tail];
        *slot.value.lock().unwrap() = Some(value);
        // Ordering: as crossbeam's `state.fetch_or(WRITE, Release)`.
        slot.written.store(true, Ordering::Release);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        // Ordering: as crossbeam's head load, `Acquire`.
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            // Ordering: crossbeam's emptiness check, a `SeqCst` fence then a relaxed load.
            fence(Ordering::SeqCst);
            let tail = self.tail.load(Ordering::Relaxed);
            if head == tail {
                return None;
            }
            // Ordering: as crossbeam's head CAS, `SeqCst` (`Acquire` on failure).
            match self
                .head
                .compare_exchange(head, head + 1, Ordering::SeqCst, Ordering::Acquire)
            {
                Ok(_) => {
                    let slot = &self.slots[head];
                    // Ordering: as crossbeam's `wait_write`, `Acquire`.
                    while !slot.written.load(Ordering::Acquire) {
                        loom::thread::yield_now();
                    }
                    return slot.value.lock().unwrap().take();
                }
                Err(current) => head = current,
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        // Ordering: as crossbeam's `len`, `SeqCst` loads retried until `tail` is stable.
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                return tail - head;
            }
        }
    }
}
