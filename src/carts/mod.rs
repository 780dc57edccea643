//! The open carts: a slab of cart slots, each behind a lock of its own, reused once its cart
//! is ordered: by the same thread's next cart (its spare slot), or through a lock-free free
//! list.
//!
//! A [`CartId`] names its slot and its serial. Invariants:
//! - a slot holds at most one open cart, whose serial is in `serial`; a free slot has
//!   `serial == FREE` and is in exactly one place: a thread's spare, the free list (once),
//!   or the slots returned by threads that let their spare go;
//! - `serial` changes only from `FREE` to a new serial (by `open`, which owns the slot it
//!   took) and from a serial to `FREE` (by `order`, under the slot's lock);
//! - every read or change of a cart's contents happens under its slot's lock, after checking
//!   `serial` under that lock: an id whose serial is not there is spent (or never named this
//!   slot's cart), whatever reuse the slot has seen since.
//!
//! So each cart operation takes only its own cart's lock, held for a few steps of its own
//! work (never while waiting for another thread), and operations on different carts never
//! touch the same lock. A thread that opens a cart after ordering one takes back the slot
//! it freed, with no atomic operation (`spare_slot`); otherwise opening and ordering cost
//! one compare-exchange each on the free list (on the calling thread's shard of it).
//! Nothing is allocated once enough slots exist. Memory is O(peak number of open carts +
//! live threads), as `free_slots` and `spare_slot` explain.
//!
//! A claim runs the user's `Eq` under its cart's lock, so it marks the slot as its thread's
//! meanwhile (`claiming`): a call back into that cart from the `Eq` finds the lock taken
//! and panics, where waiting for it would never end.

mod claiming;
mod free_slots;
mod spare_slot;

use crate::cart::Cart;
use crate::ids::CartId;
use crate::item::Item;
use crate::sync::{
    AppendOnlyVec, Arc, AtomicU32, AtomicU64, AtomicUsize, CachePadded, Mutex, MutexGuard,
    Ordering, TryLockError,
};
use claiming::Claiming;
use free_slots::FreeSlots;
use spare_slot::Returned;

/// `serial` of a slot that holds no open cart.
const FREE: u64 = u64::MAX;

/// How many slots a marketplace makes: slot numbers are 32-bit, and one below `u32::MAX`
/// (so a slot number plus one, the free list's link, fits too).
const MAX_SLOTS: u64 = u32::MAX as u64;

/// Every open cart.
pub(crate) struct Carts<P> {
    /// Every slot ever made; slot `i` is `slots[i]`.
    slots: AppendOnlyVec<Slot<P>>,
    /// Slots made or about to be: never more than `MAX_SLOTS`.
    slots_reserved: AtomicU64,
    free: FreeSlots,
    /// Slots that threads held as spares and let go unused (see `spare_slot`).
    returned: Arc<Returned>,
    /// The marketplace's tag, which names it to the threads' spare slots.
    market: u64,
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
    /// The cart's lock, or `None` if this thread holds it already: the user's `Eq`, run by
    /// this thread's claim on this cart, called back into it, and waiting would never end.
    /// A panic in the user's `Eq` while it was held (in `claim`) left the cart unchanged,
    /// so poisoning is ignored.
    // A try first, as cheap as `lock`'s own first step: only a lock found taken asks whose.
    #[inline]
    fn lock_unless_claiming(&self) -> Option<MutexGuard<'_, Cart<P>>> {
        match self.cart.try_lock() {
            Ok(contents) => Some(contents),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => self.lock_contended(),
        }
    }

    /// `lock_unless_claiming` once the lock was found taken.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> Option<MutexGuard<'_, Cart<P>>> {
        if claiming::is_claiming(self.address()) {
            return None;
        }
        Some(
            self.cart
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The cart's lock, for calls that hold nothing yet: a call back into the cart from
    /// the `Eq` of this thread's claim on it panics, changing nothing.
    #[inline]
    fn lock(&self) -> MutexGuard<'_, Cart<P>> {
        self.lock_unless_claiming()
            .unwrap_or_else(|| called_back_from_claim())
    }

    /// What names this slot to `claiming`: its address, fixed while the slot lives.
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

/// Refuses a call on a cart from the user's `Eq` while it compares that cart's items.
#[cold]
#[inline(never)]
fn called_back_from_claim() -> ! {
    panic!(
        "the product's `Eq`, run by `remove_from_cart` to compare a cart's items, called back \
         into the cart (add_to_cart, remove_from_cart or place_order on it), which waits for \
         the cart's lock its own thread holds; see \"User code\" in the crate docs"
    )
}

/// A cart found open, through which its contents are reached under its lock.
pub(crate) struct OpenCart<'a, P> {
    slot: &'a Slot<P>,
    serial: u64,
}

impl<P: Eq> OpenCart<'_, P> {
    /// The cart's contents under its lock, or `None` if it was ordered since it was found.
    fn lock(&self) -> Option<MutexGuard<'_, Cart<P>>> {
        self.open(self.slot.lock())
    }

    /// `contents`, the slot's locked cart, if it is still this cart.
    #[inline]
    fn open<'a>(&self, contents: MutexGuard<'a, Cart<P>>) -> Option<MutexGuard<'a, Cart<P>>> {
        // Ordering: under the lock, which orders it with `order`'s store, also under it.
        (self.slot.serial.load(Ordering::Relaxed) == self.serial).then_some(contents)
    }

    /// Runs `f` on the cart under its lock, if it is still open. `f` runs the user's `Eq`
    /// (a claim), so the slot is marked as this thread's claim meanwhile: a call back into
    /// this cart from it panics where it would wait for this lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Cart<P>) -> R) -> Option<R> {
        let mut contents = self.lock()?;
        let outcome = {
            let _claiming = Claiming::start(self.slot.address());
            f(&mut contents)
        };
        self.mirror(&contents);
        Some(outcome)
    }

    /// Adds `item` to the cart; gives it back if the cart was ordered since it was found,
    /// or if this thread is in a claim on it (the caller then puts the item back before
    /// [`refuse_call_from_claim`](Self::refuse_call_from_claim) panics).
    pub(crate) fn add(&self, item: Item<P>) -> Result<(), Item<P>> {
        match self
            .slot
            .lock_unless_claiming()
            .and_then(|contents| self.open(contents))
        {
            Some(mut contents) => {
                contents.add(item);
                self.mirror(&contents);
                Ok(())
            }
            None => Err(item),
        }
    }

    /// Panics if this thread is in a claim on this cart (see `add`), once the item an add
    /// held is back where it was.
    #[cold]
    pub(crate) fn refuse_call_from_claim(&self) {
        if claiming::is_claiming(self.slot.address()) {
            called_back_from_claim();
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
    /// The carts of the marketplace tagged `market`.
    pub(crate) fn new(market: u64) -> Self {
        Self {
            slots: AppendOnlyVec::new(),
            slots_reserved: AtomicU64::new(0),
            free: FreeSlots::new(),
            returned: Arc::new(Returned::new()),
            market,
            next_serial: CachePadded::new(AtomicU64::new(0)),
        }
    }

    fn next_free(&self, slot: u32) -> &AtomicU32 {
        &self.slots[slot as usize].next_free
    }

    /// Opens an empty cart: its serial and its slot, the first found of the calling
    /// thread's spare, a slot on the free list, a slot returned by a thread, or a new one.
    #[inline]
    pub(crate) fn open(&self) -> (u64, u32) {
        self.open_below(MAX_SLOTS)
    }

    /// `open`, making at most `limit` slots: the tests reach a small limit where the real
    /// one would take 2^32 - 1 open carts.
    #[inline]
    fn open_below(&self, limit: u64) -> (u64, u32) {
        let slot = match spare_slot::take(self.market) {
            Some(slot) => slot,
            None => self.shared_slot(limit),
        };
        // Ordering: serials only need to be distinct, which any RMW gives. Taken once the
        // slot is, so a cart refused a slot spends no serial.
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        // Ordering: the slot is ours (our spare, popped, returned, or new); whoever uses the
        // id we return got it from this thread afterwards, so it sees this store.
        self.slots[slot as usize]
            .serial
            .store(serial, Ordering::Relaxed);
        (serial, slot)
    }

    /// A slot for a thread that holds no spare: one on the free list, one returned by a
    /// thread, or a new one, unless `limit` are made.
    // Out of line: inlined, its calls and the free list's loop had every open save and
    // restore three more registers, where a thread that orders its carts takes its spare.
    #[inline(never)]
    fn shared_slot(&self, limit: u64) -> u32 {
        // Slots given back by exited threads come before new ones.
        self.free
            .pop(|slot| self.next_free(slot))
            .or_else(|| self.returned.take())
            .unwrap_or_else(|| self.new_slot(limit))
    }

    /// Makes a slot, unless `limit` are made.
    fn new_slot(&self, limit: u64) -> u32 {
        // A place is reserved before the push, as a slot once pushed cannot be taken back:
        // a refusal must leave no slot behind, one more for every attempt.
        // Ordering: only the count matters, which any RMW on one location keeps exact. One
        // RMW, undone on a refusal: a racing cart may then be refused too, which only
        // happens at the limit.
        if self.slots_reserved.fetch_add(1, Ordering::Relaxed) >= limit {
            // Ordering: as above.
            self.slots_reserved.fetch_sub(1, Ordering::Relaxed);
            panic!("fewer than 2^32 - 1 carts open at once");
        }
        let index = self.slots.push(Slot {
            serial: AtomicU64::new(FREE),
            cart: Mutex::new(Cart::default()),
            items: AtomicUsize::new(0),
            next_free: AtomicU32::new(0),
        });
        // At most `limit` pushes ever happen, so every index is below it.
        u32::try_from(index).expect("fewer than 2^32 - 1 carts open at once")
    }

    /// `cart` if it is open now (a snapshot: it may be ordered at any moment after, which
    /// every change notices under the cart's lock).
    #[inline]
    pub(crate) fn find(&self, cart: CartId) -> Option<OpenCart<'_, P>> {
        let slot = self.slots.get(cart.slot as usize)?;
        // Ordering: a hint only; every change is re-checked under the slot's lock.
        (slot.serial.load(Ordering::Relaxed) == cart.serial).then_some(OpenCart {
            slot,
            serial: cart.serial,
        })
    }

    /// Places the order for `cart`: its products in the order added, and the slot freed
    /// (kept as the calling thread's spare, or pushed on the free list). `None` if the cart
    /// is not open.
    #[inline]
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
        if let Err(slot) = spare_slot::keep(self.market, cart.slot, &self.returned) {
            self.free.push(slot, |slot| self.next_free(slot));
        }
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

    /// A cart refused for want of a slot leaves the carts as they were: no slot made for
    /// it, no serial spent on it, so the next cart opened has the serial the refused one
    /// would have had.
    #[test]
    fn a_cart_refused_at_the_limit_leaves_the_carts_unchanged() {
        const LIMIT: u64 = 2;
        on_a_new_thread(|| {
            let carts = Carts::<u8>::new(1);
            let open = || {
                let (serial, slot) = carts.open_below(LIMIT);
                CartId {
                    market: carts.market,
                    serial,
                    slot,
                }
            };
            let opened: Vec<CartId> = (0..LIMIT).map(|_| open()).collect();
            for attempt in 1..=2 {
                let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(open));
                assert!(
                    refused.is_err(),
                    "attempt {attempt} past the limit was let in"
                );
                assert_eq!(
                    carts.slots.count(),
                    opened.len(),
                    "slots after refused attempt {attempt}"
                );
                assert_eq!(carts.counts().open, opened.len());
            }
            assert_eq!(carts.order(opened[0]), Some(Vec::new()));
            let next = open();
            assert_eq!(next.slot, opened[0].slot);
            assert_eq!(next.serial, opened.len() as u64, "serials skipped");
        });
    }

    /// One thread opens carts and another orders them: the slots the second frees, on its
    /// home shard, are found by the first, so no more slots are made than carts were open
    /// or being ordered at once.
    #[test]
    fn carts_opened_on_one_thread_and_ordered_on_another_reuse_their_slots() {
        const IN_FLIGHT: usize = 4;
        let carts = Carts::<u8>::new(0);
        let (sender, receiver) = sync_channel::<CartId>(IN_FLIGHT);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..10_000 {
                    sender.send(open_on(&carts)).expect("the orderer lives");
                }
                drop(sender);
            });
            scope.spawn(|| {
                for cart in receiver {
                    assert_eq!(carts.order(cart), Some(Vec::new()));
                }
            });
        });
        // Open or in flight at once: one being opened, the channel's, one being ordered; and
        // the orderer's spare, which the opener never sees.
        assert!(
            carts.slots.count() <= IN_FLIGHT + 3,
            "{} slots",
            carts.slots.count()
        );
    }

    fn open_on(carts: &Carts<u8>) -> CartId {
        let (serial, slot) = carts.open();
        CartId {
            market: carts.market,
            serial,
            slot,
        }
    }

    /// Opens an empty cart and orders it, which frees its slot.
    fn open_and_order(carts: &Carts<u8>) {
        let cart = open_on(carts);
        assert_eq!(carts.order(cart), Some(Vec::new()));
    }

    /// Whether the free list holds a slot (taking it, if so).
    fn free_list_has_a_slot(carts: &Carts<u8>) -> bool {
        carts.free.pop(|slot| carts.next_free(slot)).is_some()
    }

    /// Runs `test` on a thread of its own, which starts with no spare slot.
    fn on_a_new_thread(test: impl FnOnce() + Send) {
        std::thread::scope(|scope| {
            scope.spawn(test);
        });
    }

    /// A thread's next cart takes the slot its last order freed, and neither goes through
    /// the free list.
    #[test]
    fn a_cart_opened_after_an_order_on_the_same_thread_takes_its_slot_aside_the_free_list() {
        on_a_new_thread(|| {
            let carts = Carts::<u8>::new(1);
            let first = open_on(&carts);
            assert_eq!(carts.order(first), Some(Vec::new()));
            let second = open_on(&carts);
            assert_eq!(second.slot, first.slot);
            assert_eq!(carts.slots.count(), 1);
            assert_eq!(carts.order(second), Some(Vec::new()));
            assert!(
                !free_list_has_a_slot(&carts),
                "the order used the free list"
            );
        });
    }

    /// A spare slot is a slot number of its own marketplace: another marketplace, with
    /// slots of its own, never takes it.
    #[test]
    fn a_spare_slot_never_serves_another_marketplace() {
        on_a_new_thread(|| {
            let (one, other) = (Carts::<u8>::new(1), Carts::<u8>::new(2));
            open_and_order(&one);
            open_and_order(&other);
            assert_eq!(other.slots.count(), 1);
            let _ = open_on(&one);
            assert_eq!(one.slots.count(), 1, "the spare left its marketplace");
        });
    }

    /// Runs `test` on a thread of its own and joins it. Joined, not scoped: `join` returns
    /// after the thread's destructors (which give its spare back) have run.
    fn on_a_thread_that_exits(
        carts: &Arc<Carts<u8>>,
        test: impl FnOnce(&Carts<u8>) + Send + 'static,
    ) {
        let carts = Arc::clone(carts);
        std::thread::spawn(move || test(&carts))
            .join()
            .expect("the thread ran");
    }

    /// A thread that exits holding a spare gives it back: the next cart opened anywhere
    /// reuses it instead of making a slot.
    #[test]
    fn a_spare_slot_goes_back_to_its_marketplace_when_its_thread_exits() {
        let carts = Arc::new(Carts::<u8>::new(1));
        on_a_thread_that_exits(&carts, |carts| {
            open_and_order(carts);
            assert!(!free_list_has_a_slot(carts), "the slot was not kept aside");
        });
        let _ = open_on(&carts);
        assert_eq!(carts.slots.count(), 1, "the exited thread's spare was lost");
    }

    /// Threads that come and go, each opening and ordering carts, leave no slots behind:
    /// the slots made follow the threads alive at once, not the threads ever run.
    #[test]
    fn threads_that_come_and_go_reuse_the_slots_of_those_gone() {
        let carts = Arc::new(Carts::<u8>::new(1));
        for _ in 0..100 {
            on_a_thread_that_exits(&carts, |carts| {
                for _ in 0..3 {
                    open_and_order(carts);
                }
            });
        }
        assert_eq!(carts.slots.count(), 1, "{} slots", carts.slots.count());
    }

    /// A spare of a marketplace that was dropped does not stop its thread from keeping
    /// spares of the next one.
    #[test]
    fn a_spare_slot_of_a_dropped_marketplace_gives_way() {
        on_a_new_thread(|| {
            let dropped = Carts::<u8>::new(1);
            open_and_order(&dropped);
            drop(dropped);
            let carts = Carts::<u8>::new(2);
            open_and_order(&carts);
            assert!(!free_list_has_a_slot(&carts), "the slot was not kept aside");
        });
    }

    /// A spare of a marketplace still alive stays with it: the thread frees the other
    /// marketplace's slots onto the free list, and the spare is there for the next cart
    /// of its own marketplace.
    #[test]
    fn a_spare_slot_of_a_live_marketplace_stays_with_it() {
        on_a_new_thread(|| {
            let (one, other) = (Carts::<u8>::new(1), Carts::<u8>::new(2));
            open_and_order(&one);
            open_and_order(&other);
            assert!(free_list_has_a_slot(&other), "the other slot was not freed");
            assert!(!free_list_has_a_slot(&one), "the spare left");
            let _ = open_on(&one);
            assert_eq!(one.slots.count(), 1, "the spare was lost");
        });
    }
}
