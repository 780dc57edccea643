//! A producer's share of the marketplace: how many of its items are on sale, and the
//! publishers waiting for room.
//!
//! Invariants (per producer):
//! - `on_sale` counts the producer's items that are on a product shelf or being put there or
//!   taken off it: an item is counted *before* it becomes visible on its shelf and
//!   uncounted only *after* it has left it, so `on_sale >= items visible on shelves` at every
//!   moment and an uncount never finds zero;
//! - a publish counts its item only while `on_sale < capacity`, so the producer's own
//!   publishes never take it above capacity; items returned from carts are always counted,
//!   and may take it above, until consumers have taken enough.
//!
//! The count needs no lock and no queue of tokens: one atomic read-modify-write per publish
//! and one per take, whatever the capacity, so any capacity costs nothing to allocate.

use crate::sync::{AtomicUsize, CachePadded, Ordering};
use crate::wait::Waiters;

/// One registered producer.
pub(crate) struct Producer {
    /// Items of this producer on sale (see the module invariants). Padded: publishers and
    /// consumers of other producers must not share its cache line.
    on_sale: CachePadded<AtomicUsize>,
    /// Publishers blocked until `on_sale` drops below capacity.
    pub(crate) room: Waiters,
}

impl Producer {
    pub(crate) fn new() -> Self {
        Self {
            on_sale: CachePadded::new(AtomicUsize::new(0)),
            room: Waiters::new(),
        }
    }

    /// Counts an item about to be published; false when the producer is at capacity.
    pub(crate) fn try_reserve(&self, capacity: usize) -> bool {
        // Ordering: `Acquire`, paired with `release`'s `Release`: a publish that counts
        // on a unit freed by a take happens after that take's pop, so it can never see the
        // taken item still on its shelf beside its own (the capacity bound holds for what
        // any thread sees, at every moment). A waiting publisher's attempt is ordered after
        // its registration by the fence in `wait`.
        let mut on_sale = self.on_sale.load(Ordering::Acquire);
        while on_sale < capacity {
            // Ordering: `Acquire` on both outcomes, as the load above.
            match self.on_sale.compare_exchange_weak(
                on_sale,
                on_sale + 1,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(current) => on_sale = current,
            }
        }
        false
    }

    /// Counts an item coming back from a cart. Never fails.
    pub(crate) fn record_return(&self) {
        // Ordering: a return frees no room, so no waiter needs to see it; the count itself
        // is exact under any ordering.
        self.on_sale.fetch_add(1, Ordering::Relaxed);
    }

    /// Uncounts an item that has just left its shelf for a cart, and wakes a publisher
    /// waiting for room.
    pub(crate) fn release(&self) {
        // Ordering: `Release`, so a publish that counts on this unit happens after the pop
        // that freed it (see `try_reserve`); `notify_one` fences before it reads the
        // registrations. The count cannot underflow: the item's count was made before the
        // item was pushed, and the taker's pop synchronised with that push, so the increment
        // comes first in the count's modification order.
        self.on_sale.fetch_sub(1, Ordering::Release);
        self.room.notify_one();
    }

    /// Items of this producer on sale now (a snapshot).
    pub(crate) fn on_sale(&self) -> usize {
        // Ordering: a snapshot for reports; nothing is derived from it.
        self.on_sale.load(Ordering::Relaxed)
    }
}
