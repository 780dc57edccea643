//! Each product's shelf: every item on sale equal to that product, whoever made it, oldest
//! first, and the consumers waiting for one.
//!
//! An item on sale lives in exactly one place, the shelf of its product, where any consumer
//! asking for an equal product finds it in O(1) without looking at producers. Its producer
//! counted it before it was put here and uncounts it after it is taken (see `producer`).

use crate::item::Item;
use crate::sync::SegQueue;
use crate::wait::Waiters;

/// Every item on sale of one product, whichever producer made it.
pub(crate) struct ProductShelf<P> {
    /// FIFO, so the item put on sale first is bought first.
    items: SegQueue<Item<P>>,
    /// Consumers blocked until an item arrives here.
    pub(crate) arrivals: Waiters,
}

impl<P> ProductShelf<P> {
    pub(crate) fn new() -> Self {
        Self {
            items: SegQueue::new(),
            arrivals: Waiters::new(),
        }
    }

    /// Puts an item on sale and wakes a consumer waiting for one. Its producer has counted it.
    pub(crate) fn put(&self, item: Item<P>) {
        self.items.push(item);
        self.arrivals.notify_one();
    }

    /// Takes the oldest item on sale, if any. Its producer still counts it: the caller
    /// uncounts it once the item is safely in a cart.
    pub(crate) fn take(&self) -> Option<Item<P>> {
        self.items.pop()
    }

    /// Items on sale now (a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}
