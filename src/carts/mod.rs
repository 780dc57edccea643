//! The open carts: a slab of cart slots, each behind a lock of its own, reused through a
//! lock-free free list once its cart is ordered.
//!
//! A [`CartId`] names its slot and its serial. Invariants:
//! - a slot holds at most one open cart, whose serial is in `serial`; a free slot has
//!   `serial == FREE` and is on the free list exactly once;
//! - `serial` changes only from `FREE` to a new serial (by `open`, which owns the slot it
//!   popped) and from a serial to `FREE` (by `order`, under the slot's lock);
//! - every read or change of a cart's contents happens under its slot's lock, after checking
//!   `serial` under that lock: an id whose serial is not there is spent (or never named this
//!   slot's cart), whatever reuse the slot has seen since.
//!
//! So each cart operation takes only its own cart's lock, held for a few steps of its own
//! work (never while waiting for another thread), and operations on different carts never
//! touch the same lock. Opening and ordering cost one compare-exchange on the free list (on
//! the calling thread's shard of it) and allocate nothing once enough slots exist. Memory
//! is O(peak number of open carts), as `free_slots` explains.

mod free_slots;

use crate::cart::Cart;
use crate::ids::CartId;
use crate::item::Item;
use crate::sync::{
    AppendOnlyVec, AtomicU32, AtomicU64, AtomicUsize, CachePadded, Mutex, MutexGuard, Ordering,
};
use free_slots::FreeSlots;

/// `serial` of a slot that holds no open cart.
const FREE: u64 = u64::MAX;

/// Every open cart.
pub(crate) struct Carts<P> {
    /// Every slot ever made; slot `i` is `slots[i]`.
    slots: AppendOnlyVec<Slot<P>>,
    free: FreeSlots,
    /// Serial of the next cart; serials are never reused.
    next_serial: CachePadded<AtomicU64>,
}

struct Slot<P> {
    /// Serial of the open cart in this slot, or `FREE`.
    serial: AtomicU64,
    cart: Mutex<Cart<P>>,
    /// How many items the cart holds, mirrored after each change under the lock, so
    /// `stats` can count without taking any cart's lock.
    items: AtomicUsize,
    /// The next free slot plus one (0: none) while this slot is on the free list.
    next_free: AtomicU32,
}

impl<P> Slot<P> {
    /// The cart's lock. A panic in the user's `Eq` while it was held (in `claim`) left the
    /// cart unchanged, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Cart<P>> {
        self.cart
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A cart found open, through which its contents are reached under its lock.
pub(crate) struct OpenCart<'a, P> {
    slot: &'a Slot<P>,
    serial: u64,
}

impl<P: Eq> OpenCart<'_, P> {
    /// The cart's contents under its lock, or `None` if it was ordered since it was found.
    fn lock(&self) -> Option<MutexGuard<'_, Cart<P>>> {
        let contents = self.slot.lock();
        // Ordering: under the lock, which orders it with `order`'s store, also under it.
        (self.slot.serial.load(Ordering::Relaxed) == self.serial).then_some(contents)
    }

    /// Runs `f` on the cart under its lock, if it is still open.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Cart<P>) -> R) -> Option<R> {
        let mut contents = self.lock()?;
        let outcome = f(&mut contents);
        self.mirror(&contents);
        Some(outcome)
    }

    /// Adds `item` to the cart; gives it back if the cart was ordered since it was found.
    pub(crate) fn add(&self, item: Item<P>) -> Result<(), Item<P>> {
        match self.lock() {
            Some(mut contents) => {
                contents.add(item);
                self.mirror(&contents);
                Ok(())
            }
            None => Err(item),
        }
    }

    /// Copies the number of items out of the lock, for `stats`.
    fn mirror(&self, contents: &Cart<P>) {
        // Ordering: a figure for reports only; written under the lock, so never stale
        // for the next holder.
        self.slot.items.store(contents.len(), Ordering::Relaxed);
    }

    /// Whether the cart is still open (a snapshot).
    pub(crate) fn is_open(&self) -> bool {
        // Ordering: a hint, as in `Carts::find`.
        self.slot.serial.load(Ordering::Relaxed) == self.serial
    }
}

/// Sizes of the open carts, for `stats`.
pub(crate) struct CartCounts {
    pub(crate) open: usize,
    pub(crate) items: usize,
}

impl<P: Eq> Carts<P> {
    pub(crate) fn new() -> Self {
        Self {
            slots: AppendOnlyVec::new(),
            free: FreeSlots::new(),
            next_serial: CachePadded::new(AtomicU64::new(0)),
        }
    }

    fn next_free(&self, slot: u32) -> &AtomicU32 {
        &self.slots[slot as usize].next_free
    }

    /// Opens an empty cart: its serial and its slot.
    pub(crate) fn open(&self) -> (u64, u32) {
        // Ordering: serials only need to be distinct, which any RMW gives.
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let slot = self
            .free
            .pop(|slot| self.next_free(slot))
            .unwrap_or_else(|| {
                let index = self.slots.push(Slot {
                    serial: AtomicU64::new(FREE),
                    cart: Mutex::new(Cart::default()),
                    items: AtomicUsize::new(0),
                    next_free: AtomicU32::new(0),
                });
                u32::try_from(index)
                    .ok()
                    .filter(|&slot| slot < u32::MAX)
                    .expect("fewer than 2^32 - 1 carts open at once")
            });
        // Ordering: the slot is ours (popped, or new); whoever uses the id we return got it
        // from this thread afterwards, so it sees this store.
        self.slots[slot as usize]
            .serial
            .store(serial, Ordering::Relaxed);
        (serial, slot)
    }

    /// `cart` if it is open now (a snapshot: it may be ordered at any moment after, which
    /// every change notices under the cart's lock).
    pub(crate) fn find(&self, cart: CartId) -> Option<OpenCart<'_, P>> {
        let slot = self.slots.get(cart.slot as usize)?;
        // Ordering: a hint only; every change is re-checked under the slot's lock.
        (slot.serial.load(Ordering::Relaxed) == cart.serial).then_some(OpenCart {
            slot,
            serial: cart.serial,
        })
    }

    /// Places the order for `cart`: its products in the order added, and the slot freed.
    /// `None` if the cart is not open.
    pub(crate) fn order(&self, cart: CartId) -> Option<Vec<P>> {
        let open = self.find(cart)?;
        let products = {
            let mut contents = open.lock()?;
            // Ordering: under the lock, so every later holder of it sees the cart spent.
            open.slot.serial.store(FREE, Ordering::Relaxed);
            // Ordering: a figure for reports only.
            open.slot.items.store(0, Ordering::Relaxed);
            contents.take_products()
        };
        self.free.push(cart.slot, |slot| self.next_free(slot));
        Some(products)
    }

    /// How many carts are open and what they hold: visits every slot, taking no lock (so
    /// a thread stopped inside an operation on a cart holds up no report).
    pub(crate) fn counts(&self) -> CartCounts {
        let mut counts = CartCounts { open: 0, items: 0 };
        for (_, slot) in self.slots.iter() {
            // Ordering: figures for reports; a cart changing meanwhile may be counted before
            // or after its change.
            if slot.serial.load(Ordering::Relaxed) != FREE {
                counts.open += 1;
                counts.items += slot.items.load(Ordering::Relaxed);
            }
        }
        counts
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::mpsc::sync_channel;

    use super::*;

    /// One thread opens carts and another orders them: the slots the second frees, on its
    /// home shard, are found by the first, so no more slots are made than carts were open
    /// or being ordered at once.
    #[test]
    fn carts_opened_on_one_thread_and_ordered_on_another_reuse_their_slots() {
        const IN_FLIGHT: usize = 4;
        let carts = Carts::<u8>::new();
        let (sender, receiver) = sync_channel::<CartId>(IN_FLIGHT);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..10_000 {
                    let (serial, slot) = carts.open();
                    let cart = CartId {
                        market: 0,
                        serial,
                        slot,
                    };
                    sender.send(cart).expect("the orderer lives");
                }
                drop(sender);
            });
            scope.spawn(|| {
                for cart in receiver {
                    assert_eq!(carts.order(cart), Some(Vec::new()));
                }
            });
        });
        // Open or in flight at once: one being opened, the channel's, one being ordered.
        assert!(
            carts.slots.count() <= IN_FLIGHT + 2,
            "{} slots",
            carts.slots.count()
        );
    }
}
