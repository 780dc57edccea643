//! The two kinds of shelf: each producer's capacity, and each product's available items.
//!
//! An item on sale lives in exactly one place: the [`ProductShelf`] of its product, where any
//! consumer asking for an equal product finds it in O(1) without looking at producers. What
//! bounds a producer is its [`ProducerShelf`]: an `ArrayQueue` of `queue_size_per_producer`
//! slots holding one token per item of that producer on sale, so `publish` fails exactly when
//! the queue is full. Items returned from carts must always be taken back, even into a full
//! queue; they are counted in `overflow` instead.
//!
//! Ordering of the two records is what keeps them consistent without a lock:
//! - an item's unit (token or overflow count) is recorded *before* the item becomes visible
//!   on its product shelf, and released only *after* the item has left it, so at every moment
//!   `units >= visible items` for each producer, and `release_unit` always finds a unit;
//! - tokens never exceed the queue's capacity (the `ArrayQueue` enforces it), so a producer's
//!   own publishes never overfill it; only returned items (counted in `overflow`) can.

use std::fmt;

use crate::sync::{ArrayQueue, AtomicUsize, CachePadded, Ordering, SegQueue, spin_hint};
use crate::wait::Waiters;

/// One item on sale: the product and the producer it must go back to if a cart returns it.
pub(crate) struct Item<P> {
    pub(crate) product: P,
    pub(crate) producer: u32,
}

impl<P: fmt::Debug> fmt::Debug for Item<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} from producer {}", self.product, self.producer)
    }
}

/// A producer's share of the shelf: how many of its items are on sale.
pub(crate) struct ProducerShelf {
    /// One token per item on sale that the producer published or that fit back on return.
    /// Never more than `queue_size_per_producer`.
    slots: ArrayQueue<()>,
    /// Items on sale beyond the slots: returned while the slots were full. Consumers take
    /// these first, so the producer gets back under capacity as early as possible.
    overflow: CachePadded<AtomicUsize>,
    /// Producers blocked in `publish_timeout`, waiting for a unit to be released.
    pub(crate) capacity_freed: Waiters,
}

impl ProducerShelf {
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

/// Every item on sale of one product, whichever producer made it.
pub(crate) struct ProductShelf<P> {
    /// FIFO, so the item published first is bought first.
    items: SegQueue<Item<P>>,
    /// Consumers blocked in `add_to_cart_timeout` for this product.
    pub(crate) arrivals: Waiters,
}

impl<P> ProductShelf<P> {
    pub(crate) fn new() -> Self {
        Self {
            items: SegQueue::new(),
            arrivals: Waiters::new(),
        }
    }

    /// Puts an item on sale. Its unit must already be recorded on its producer's shelf.
    pub(crate) fn put(&self, item: Item<P>) {
        self.items.push(item);
        self.arrivals.notify();
    }

    /// Takes the oldest item on sale, if any. Its unit is still recorded: the caller
    /// releases it once the item is safely in a cart.
    pub(crate) fn take(&self) -> Option<Item<P>> {
        self.items.pop()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}
