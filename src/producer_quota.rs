//! Each producer's capacity: how many of its items are on sale, bounded by
//! `queue_size_per_producer` for its own publishes.
//!
//! The quota is an `ArrayQueue` of `queue_size_per_producer` slots holding one token per item
//! of that producer on sale, so `publish` fails exactly when the queue is full. Items
//! returned from carts must always be taken back, even into a full queue; they are counted
//! in `overflow` instead.
//!
//! Ordering of the two records (this quota, and the item on its product shelf) is what keeps
//! them consistent without a lock:
//! - an item's unit (token or overflow count) is recorded *before* the item becomes visible
//!   on its product shelf, and released only *after* the item has left it, so at every moment
//!   `units >= visible items` for each producer, and `release_unit` always finds a unit;
//! - tokens never exceed the queue's capacity (the `ArrayQueue` enforces it), so a producer's
//!   own publishes never overfill it; only returned items (counted in `overflow`) can.

use crate::sync::{ArrayQueue, AtomicUsize, CachePadded, Ordering, spin_hint};
use crate::wait::Waiters;

/// A producer's capacity quota: how many of its items are on sale, against
/// `queue_size_per_producer`.
pub(crate) struct ProducerQuota {
    /// One token per item on sale that the producer published or that fit back on return.
    /// Never more than `queue_size_per_producer`.
    slots: ArrayQueue<()>,
    /// Items on sale beyond the slots: returned while the slots were full. Consumers take
    /// these first, so the producer gets back under capacity as early as possible.
    overflow: CachePadded<AtomicUsize>,
    /// Producers blocked in `publish_timeout`, waiting for a unit to be released.
    pub(crate) capacity_freed: Waiters,
}

impl ProducerQuota {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: ArrayQueue::new(capacity),
            overflow: CachePadded::new(AtomicUsize::new(0)),
            capacity_freed: Waiters::new(),
        }
    }

    /// Records a unit for an item about to be published; false when the producer is at
    /// capacity (counting returned items that overflowed).
    pub(crate) fn try_reserve(&self) -> bool {
        let overflow = self.overflow.load(Ordering::Acquire);
        if overflow > 0 && self.slots.len() + overflow >= self.slots.capacity() {
            return false;
        }
        self.slots.push(()).is_ok()
    }

    /// Records a unit for an item coming back from a cart. Never fails.
    pub(crate) fn record_return(&self) {
        if self.slots.push(()).is_err() {
            self.overflow.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Releases the unit of an item that has just left the shelf for a cart.
    pub(crate) fn release_unit(&self) {
        loop {
            let overflow = self.overflow.load(Ordering::Acquire);
            if overflow > 0 {
                if self
                    .overflow
                    .compare_exchange(overflow, overflow - 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    break;
                }
            } else if self.slots.pop().is_some() {
                break;
            } else {
                // The unit exists (units >= visible items, and our item was visible) but sits
                // in `overflow`, moved there by a return that raced with the two reads above.
                spin_hint();
            }
        }
        self.capacity_freed.notify();
    }

    /// Items of this producer on sale (a snapshot).
    pub(crate) fn on_sale(&self) -> usize {
        self.slots.len() + self.overflow.load(Ordering::Acquire)
    }
}
