//! The free list of cart slots: a few lock-free stacks of slot numbers (Treiber's), linked
//! through each slot's `next_free`, one stack per shard.
//!
//! Each thread pushes the slots it frees on its home shard (`sync::thread_home`, reduced
//! to a shard) and pops from there first, so threads on different cores opening and
//! ordering carts do not pass one cache line back and forth; a pop that finds its home
//! shard empty looks at the others before the caller makes a new slot, so a slot freed
//! anywhere is found by any thread. (Most slots never come here: a thread keeps the last
//! slot it freed as its spare, see `spare_slot`.) A slot is made only when every shard was
//! empty as the pop looked at it: every slot was then in use, held as a spare, or being
//! moved behind the pop's look (taken by another thread from a shard not looked at yet,
//! and freed onto one already looked at, all in the time of that look). So the slots made
//! follow the peak number of carts open at once (plus the spares), and exceed it only
//! through such races; `carts::tests` checks the bound where one thread opens carts and
//! another orders them.
//!
//! Invariants:
//! - a slot on the free list is on exactly one shard's stack, once; a slot in use, held as a
//!   spare or returned by an exited thread is on none;
//! - each head packs a 32-bit tag above its top slot number (plus one; 0 is "empty").
//!   Every successful push or pop changes the tag, so a pop that read the `next_free` link
//!   of a slot that was meanwhile popped and pushed again fails its compare-exchange and
//!   retries instead of installing a stale link (the ABA problem). The tag would have to go
//!   round all 2^32 values between a pop's read and its compare-exchange for that to fail,
//!   that is, four billion other cart operations on that shard while one thread is paused
//!   between two instructions.

use crate::sync::{AtomicU32, AtomicU64, CachePadded, Ordering, free_list_shards, thread_home};

/// The free slots, spread over shards.
pub(crate) struct FreeSlots {
    /// Per shard, `tag << 32 | (top slot + 1)`, the low half 0 when that stack is empty.
    /// Padded, so shards used by different cores share no cache line. A power of two of
    /// them, so a home is reduced to a shard by a mask.
    heads: Box<[CachePadded<AtomicU64>]>,
}

const EMPTY: u32 = 0;

fn pack(tag: u64, top: u32) -> u64 {
    (tag << 32) | u64::from(top)
}

fn next_tag(head: u64) -> u64 {
    // A different tag after every successful push or pop, against ABA (see the module docs).
    (head >> 32).wrapping_add(1) & u64::from(u32::MAX)
}

impl FreeSlots {
    pub(crate) fn new() -> Self {
        Self::with_shards(free_list_shards())
    }

    fn with_shards(shards: usize) -> Self {
        assert!(shards.is_power_of_two(), "shards are reduced by a mask");
        Self {
            heads: (0..shards)
                .map(|_| CachePadded::new(AtomicU64::new(pack(0, EMPTY))))
                .collect(),
        }
    }

    /// Takes a free slot, if there is one: from the calling thread's home shard if it has
    /// one, else from the first other shard that does. `next_free(slot)` is that slot's link.
    pub(crate) fn pop<'a>(&self, next_free: impl Fn(u32) -> &'a AtomicU32) -> Option<u32> {
        self.pop_near(self.home_shard(), next_free)
    }

    /// Makes `slot` free again, on the calling thread's home shard. `next_free(slot)` is
    /// that slot's link.
    pub(crate) fn push<'a>(&self, slot: u32, next_free: impl Fn(u32) -> &'a AtomicU32) {
        self.push_at(self.home_shard(), slot, next_free);
    }

    /// The calling thread's shard.
    fn home_shard(&self) -> usize {
        thread_home() & self.mask()
    }

    /// Shard numbers modulo the number of shards, a power of two.
    fn mask(&self) -> usize {
        self.heads.len() - 1
    }

    /// Pops from shard `home`, else from the next shard that has a slot.
    fn pop_near<'a>(&self, home: usize, next_free: impl Fn(u32) -> &'a AtomicU32) -> Option<u32> {
        (0..self.heads.len())
            .map(|offset| &self.heads[(home + offset) & self.mask()])
            .find_map(|head| pop_from(head, &next_free))
    }

    /// Pushes `slot` on shard `home`.
    fn push_at<'a>(&self, home: usize, slot: u32, next_free: impl Fn(u32) -> &'a AtomicU32) {
        let head = &self.heads[home];
        // Ordering: only the exchange below publishes anything.
        let mut seen = head.load(Ordering::Relaxed);
        loop {
            // Ordering: published by the `Release` exchange below.
            next_free(slot).store(seen as u32, Ordering::Relaxed);
            // Ordering: `Release`, so the popper of this slot sees its link and every write
            // made to the slot before it was freed.
            match head.compare_exchange_weak(
                seen,
                pack(next_tag(seen), slot + 1),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(current) => seen = current,
            }
        }
    }
}

/// Pops the top slot of the stack whose head is `head`, if any.
fn pop_from<'a>(head: &AtomicU64, next_free: &impl Fn(u32) -> &'a AtomicU32) -> Option<u32> {
    // Ordering: `Acquire`, paired with `push`'s `Release`: the link of the slot on top was
    // written before that slot was pushed.
    let mut seen = head.load(Ordering::Acquire);
    loop {
        // The low half is the top slot plus one.
        let top = seen as u32;
        if top == EMPTY {
            return None;
        }
        let slot = top - 1;
        // Ordering: made visible by the `Acquire` that read `seen`; a stale value (the slot
        // was popped meanwhile) is caught by the tag in the exchange below.
        let next = next_free(slot).load(Ordering::Relaxed);
        // Ordering: on failure `Acquire`, as above, for the link read of the next round. On
        // success, the `Acquire` that read `seen` already synchronised with the push that
        // wrote this very value (tags do not repeat), so nothing more is needed.
        match head.compare_exchange_weak(
            seen,
            pack(next_tag(seen), next),
            Ordering::Relaxed,
            Ordering::Acquire,
        ) {
            Ok(_) => return Some(slot),
            Err(current) => seen = current,
        }
    }
}

/// A free list and the links of its slots, which the cart slots hold in the engine: what
/// the tests and models below drive.
#[cfg(test)]
struct Linked {
    free: FreeSlots,
    links: Vec<AtomicU32>,
}

#[cfg(test)]
impl Linked {
    fn new(shards: usize, slots: u32) -> Self {
        Self {
            free: FreeSlots::with_shards(shards),
            links: (0..slots).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    fn pop(&self, home: usize) -> Option<u32> {
        self.free.pop_near(home, |slot| &self.links[slot as usize])
    }

    fn push(&self, home: usize, slot: u32) {
        self.free
            .push_at(home, slot, |slot| &self.links[slot as usize]);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_pop_takes_from_its_home_shard_first() {
        let list = Linked::new(4, 2);
        list.push(1, 0);
        list.push(2, 1);
        assert_eq!(list.pop(2), Some(1));
        assert_eq!(list.pop(1), Some(0));
        assert_eq!(list.pop(1), None);
    }

    /// A thread that only opens carts finds the slots a thread that only orders them freed
    /// on its own shard: no slot is made while one is free anywhere.
    #[test]
    fn a_pop_finds_a_slot_freed_on_any_other_shard() {
        let list = Linked::new(4, 3);
        for (home, slot) in [(3, 0), (1, 1), (3, 2)] {
            list.push(home, slot);
        }
        let mut popped: Vec<u32> = (0..3).filter_map(|_| list.pop(2)).collect();
        popped.sort_unstable();
        assert_eq!(popped, [0, 1, 2]);
        assert_eq!(list.pop(0), None);
    }
}

/// The free list on its own, under loom: every slot is taken at most once and none is lost,
/// whatever the interleaving, including a slot popped and pushed back while another pop
/// holds a stale link to it (the ABA problem the tags prevent: without them, the first
/// model fails), and slots moving between shards behind a pop. (The models in
/// `loom-tests/` check the same through the marketplace's carts.)
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// Runs `other` on a second thread and `mine` on this one, given a free list of two
    /// shards with three slots free on shard 0; then checks that the slots they return and
    /// those left free are each slot exactly once.
    fn race(
        other: impl Fn(&Linked) -> Vec<u32> + Send + Sync + 'static,
        mine: impl Fn(&Linked) -> Vec<u32> + Send + Sync + 'static,
    ) {
        // A std `Arc`: made outside the model, where loom's cannot be.
        let other = std::sync::Arc::new(other);
        loom::model(move || {
            let list = Arc::new(Linked::new(2, 3));
            for slot in [2, 1, 0] {
                list.push(0, slot);
            }
            let theirs = {
                let (list, other) = (Arc::clone(&list), std::sync::Arc::clone(&other));
                thread::spawn(move || other(&list))
            };
            let mut taken = mine(&list);
            taken.extend(theirs.join().unwrap());
            taken.extend(std::iter::from_fn(|| list.pop(0)));
            taken.sort_unstable();
            assert_eq!(taken, [0, 1, 2], "a slot taken twice, or lost");
        });
    }

    #[test]
    fn a_slot_popped_and_pushed_back_meanwhile_is_not_taken_twice() {
        race(
            |list| {
                let first = list.pop(0).expect("three were free");
                let second = list.pop(0);
                // The first slot goes back on top, over a link a racing pop may hold.
                list.push(0, first);
                second.into_iter().collect()
            },
            |list| list.pop(0).into_iter().collect(),
        );
    }

    #[test]
    fn a_slot_moved_to_another_shard_is_found_once() {
        race(
            |list| {
                // Its home (shard 1) is empty: it takes from shard 0 and frees at home.
                let slot = list.pop(1).expect("three were free");
                list.push(1, slot);
                Vec::new()
            },
            |list| list.pop(0).into_iter().chain(list.pop(1)).collect(),
        );
    }
}
