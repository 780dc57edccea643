//! Each product's shelf: every item on sale equal to that product, whoever made it, oldest
//! first, and the consumers waiting for one.
//!
//! An item on sale lives in exactly one place, the shelf of its product, where any consumer
//! asking for an equal product finds it in O(1) without looking at producers. Its producer's
//! unit is recorded in the producer's quota before the item is put here, and released after
//! it is taken (see `producer_quota`).

use crate::item::Item;
use crate::sync::SegQueue;
use crate::wait::Waiters;

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
