//! A producer's share of the marketplace: how many of its items are on sale, and the
//! publishers waiting for room.
//!
//! The count of items on sale is `counted - uncounted`, two totals that only grow:
//! publishers (and returns) add to `counted`, consumers taking an item add to `uncounted`.
//! Split this way, a publisher with room never touches the line consumers write: it checks
//! the capacity against the last `uncounted` any publisher read (`uncounted_seen`, never
//! more than the real one, so the check errs only towards "full") and reads `uncounted`
//! itself only when that check says full. Read apart, the two totals can make a count the
//! producer never had (publishes and takes landing between the reads), so whoever reads
//! `uncounted` re-reads `counted` and trusts the difference only when `counted` stood
//! still across the read. The totals may wrap around (`usize` on a 32-bit target passes
//! its maximum after 4 billion publishes): every difference is taken modulo the word size,
//! which gives the count whatever the totals, since it is far below the word's range
//! (`tests::counts_stay_right_while_the_totals_wrap_around` starts the totals just below the
//! wrap).
//!
//! Invariants (per producer):
//! - `counted - uncounted` counts the producer's items that are on a product shelf or being
//!   put there or taken off it: an item is counted *before* it becomes visible on its shelf
//!   and uncounted only *after* it has left it, so the difference is never below the items
//!   visible on shelves and `uncounted <= counted` at every moment;
//! - a publish counts its item only while `counted - uncounted < capacity`, so the
//!   producer's own publishes never take it above capacity; items returned from carts are
//!   always counted, and may take it above, until consumers have taken enough;
//! - `uncounted_seen <= uncounted`.
//!
//! No lock and no queue of tokens: one atomic read-modify-write per publish and one per
//! take, whatever the capacity, so any capacity costs nothing to allocate.

use crate::sync::{AtomicUsize, CachePadded, Ordering, SNAPSHOT_TRIES};
use crate::wait::Waiters;

/// One registered producer.
pub(crate) struct Producer {
    /// The publishers' line: written by publishes (and returns), read by reports.
    publishing: CachePadded<Publishing>,
    /// Items ever uncounted: taken into carts, or counted and then not published. Written
    /// by consumers; read by a publisher only when `uncounted_seen` says full. Padded: the
    /// consumers' line, apart from the publishers'.
    uncounted: CachePadded<AtomicUsize>,
    /// Publishers blocked until the count drops below capacity.
    pub(crate) room: Waiters,
}

struct Publishing {
    /// Items ever counted onto sale: publishes and returns.
    counted: AtomicUsize,
    /// The last value of `uncounted` a publisher read.
    uncounted_seen: AtomicUsize,
}

impl Producer {
    pub(crate) fn new() -> Self {
        Self {
            publishing: CachePadded::new(Publishing {
                counted: AtomicUsize::new(0),
                uncounted_seen: AtomicUsize::new(0),
            }),
            uncounted: CachePadded::new(AtomicUsize::new(0)),
            room: Waiters::new(),
        }
    }

    /// A producer with nothing on sale whose totals both stand at `total`, as after that
    /// many publishes and takes: the tests start them just below the word's wrap.
    #[cfg(all(test, not(loom)))]
    fn with_totals_at(total: usize) -> Self {
        let producer = Self::new();
        producer.publishing.counted.store(total, Ordering::Relaxed);
        producer
            .publishing
            .uncounted_seen
            .store(total, Ordering::Relaxed);
        producer.uncounted.store(total, Ordering::Relaxed);
        producer
    }

    /// Counts an item about to be published; false when the producer is at capacity.
    #[inline]
    pub(crate) fn try_count(&self, capacity: usize) -> bool {
        let publishing = &*self.publishing;
        // Ordering: `Acquire`, paired with the `Release` store below: a publisher that
        // counts on room another publisher saw freed happens after the take that freed it,
        // and its count's `Release` passes that take on to whoever reads the count.
        let mut uncounted = publishing.uncounted_seen.load(Ordering::Acquire);
        // Ordering: read after the `Acquire` above, so it includes the count of every item
        // `uncounted` has uncounted (each count comes before its item's push, and that before
        // the pop and the uncount): the difference is a count, never below zero. The
        // compare-exchange below re-checks the value itself.
        let mut counted = publishing.counted.load(Ordering::Relaxed);
        loop {
            if held(counted, uncounted) >= capacity {
                // Ordering: `Acquire`, paired with `uncount`'s `Release`: a publish that
                // counts on a unit freed by a take happens after that take's pop, so it can
                // never see the taken item still on its shelf beside its own (the capacity
                // bound holds for what any thread sees, at every moment).
                //
                // A read-modify-write rather than a load, for the wake-up: a waiting
                // publisher makes this read after it registers for room and fences (in
                // `Waiters::listen`), so a take's uncount either comes after it in
                // `uncounted`'s modification order, and through that fence acquires the
                // registration, or comes before it, and is read here (see `uncount`). Every
                // write to `uncounted` is a read-modify-write, which keeps the uncount in
                // this one's release sequence.
                let fresh = self.uncounted.fetch_add(0, Ordering::Acquire);
                // Ordering: read after `fresh`'s `Acquire`, so it includes the count of
                // every item `fresh` has uncounted.
                let recounted = publishing.counted.load(Ordering::Relaxed);
                if recounted != counted {
                    // Another publisher (or a return) counted meanwhile: `counted - fresh`
                    // may be a count the producer never had. Look again, against `fresh`
                    // (which `recounted` includes the counts of).
                    counted = recounted;
                    uncounted = fresh;
                    continue;
                }
                // `counted` stood still across the read of `fresh`: the two make a count
                // the producer had at that read.
                if held(counted, fresh) >= capacity {
                    return false;
                }
                uncounted = fresh;
                // Ordering: `Release`, so a publisher that acquires this value happens
                // after the takes it counts (see the load at the top). A racing publisher
                // may store an older value: it is still a past value of `uncounted`, which
                // only makes later checks read `uncounted` sooner.
                publishing.uncounted_seen.store(fresh, Ordering::Release);
            }
            // Ordering: `Release`, paired with the `Acquire` reads of `counted` in
            // `on_sale`: whoever sees this count also sees the takes that made room for it
            // (acquired above), so no snapshot counts the new item beside a taken one.
            // Failing, only the count matters.
            match publishing.counted.compare_exchange_weak(
                counted,
                counted.wrapping_add(1),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => counted = current,
            }
        }
    }

    /// Counts an item coming back from a cart. Never fails.
    #[inline]
    pub(crate) fn count_return(&self) {
        // Ordering: a return frees no room, so no waiter needs to see it; the count itself
        // is exact under any ordering, and it comes before the item's push, so a reader that
        // acquires the item's later take (`on_sale`) sees it too.
        self.publishing.counted.fetch_add(1, Ordering::Relaxed);
    }

    /// Uncounts an item that has just left its shelf for a cart (or a unit counted for a
    /// publish that did not happen), and wakes a publisher waiting for room.
    #[inline]
    pub(crate) fn uncount(&self) {
        // Ordering: `Release`, so a publish that counts on this unit happens after the pop
        // that freed it (see `try_count`). The item was counted before it was pushed, and
        // the taker's pop synchronised with that push, so `uncounted` never passes
        // `counted`.
        //
        // `Acquire` too, in place of a fence before the wake check: a full publisher reads
        // `uncounted` with a read-modify-write after it registers and fences, so this one
        // either acquires that registration or is seen by that read.
        self.uncounted.fetch_add(1, Ordering::AcqRel);
        self.room.notify_one_after_rmw();
    }

    /// Items of this producer on sale now (a snapshot).
    ///
    /// The two totals are read apart, so the count is taken as a count the producer had
    /// when `uncounted` was read: `counted` read before and after it agrees. Under a
    /// steady stream of publishes that may take a few tries; after [`SNAPSHOT_TRIES`] it
    /// settles for a lower bound of that count.
    pub(crate) fn on_sale(&self) -> usize {
        let publishing = &*self.publishing;
        // Ordering: `Acquire`, paired with `try_count`'s `Release`: the read of
        // `uncounted` below sees at least the takes that made room for the publishes this
        // count includes, so no publish is counted beside the taken item it replaced (only
        // returns take the difference above the capacity).
        let mut counted = publishing.counted.load(Ordering::Acquire);
        for _ in 0..SNAPSHOT_TRIES {
            // Ordering: `Acquire`, so the read of `counted` after it includes the count of
            // every item this read sees uncounted: the difference below never goes below
            // zero.
            let uncounted = self.uncounted.load(Ordering::Acquire);
            // Ordering: `Acquire` as above, as it becomes the next try's `counted`.
            let recounted = publishing.counted.load(Ordering::Acquire);
            if recounted == counted {
                return held(counted, uncounted);
            }
            counted = recounted;
        }
        // Ordering: no read follows, so none needs ordering after this one; the `Acquire`
        // read of `counted` before it keeps publishes on freed room from being counted
        // beside the items they replaced, as above.
        // `counted` was read before this, so it is at most the total of publishes when
        // `uncounted` is read, and the difference at most the count then; it may even fall
        // below zero (takes of items counted after `counted` was read), which wraps past
        // half the word's range and stands for zero.
        let lower_bound = held(counted, self.uncounted.load(Ordering::Relaxed));
        if lower_bound > usize::MAX / 2 {
            0
        } else {
            lower_bound
        }
    }
}

/// The count of items on sale that two totals make, modulo the word size (see the module
/// docs).
#[inline]
fn held(counted: usize, uncounted: usize) -> usize {
    counted.wrapping_sub(uncounted)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The totals pass the word's maximum (after 4 billion publishes on a 32-bit target):
    /// counting, refusing at capacity, returns above it and the snapshot stay right while
    /// `counted` and then `uncounted` wrap. A difference taken without wrapping (saturating,
    /// or checked) would see an empty producer once `counted` wraps and never refuse.
    #[test]
    fn counts_stay_right_while_the_totals_wrap_around() {
        const CAPACITY: usize = 5;
        let producer = Producer::with_totals_at(usize::MAX - 2);
        for published in 1..=CAPACITY {
            assert!(producer.try_count(CAPACITY), "refused publish {published}");
            assert_eq!(producer.on_sale(), published);
        }
        // `counted` has wrapped past zero; `uncounted` has not.
        assert!(producer.publishing.counted.load(Ordering::Relaxed) < CAPACITY);
        assert!(!producer.try_count(CAPACITY), "a sixth item at capacity 5");
        assert_eq!(producer.on_sale(), CAPACITY);

        // Two takes free two places, which a publisher finds by reading `uncounted` afresh.
        producer.uncount();
        producer.uncount();
        assert_eq!(producer.on_sale(), CAPACITY - 2);
        assert!(producer.try_count(CAPACITY));
        assert!(producer.try_count(CAPACITY));
        assert!(!producer.try_count(CAPACITY), "over capacity after takes");

        // A return goes above capacity; publishes are refused until takes bring it below.
        producer.count_return();
        assert_eq!(producer.on_sale(), CAPACITY + 1);
        assert!(!producer.try_count(CAPACITY));
        for left in (0..=CAPACITY).rev() {
            producer.uncount();
            assert_eq!(producer.on_sale(), left);
        }
        // Now `uncounted` has wrapped too.
        assert!(producer.uncounted.load(Ordering::Relaxed) < CAPACITY + 3);
        assert!(producer.try_count(CAPACITY));
        assert_eq!(producer.on_sale(), 1);
    }
}
