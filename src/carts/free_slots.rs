//! The free list of cart slots: a lock-free stack of slot numbers (Treiber's), linked
//! through each slot's `next_free`.
//!
//! The head packs a 32-bit tag above the top slot number (plus one; 0 is "empty"). Every
//! successful push or pop changes the tag, so a pop that read the `next_free` link of a slot
//! that was meanwhile popped and pushed again fails its compare-exchange and retries instead
//! of installing a stale link (the ABA problem). The tag would have to go round all 2^32
//! values between a pop's read and its compare-exchange for that to fail, that is, four
//! billion other cart operations while one thread is paused between two instructions.

use crate::sync::{AtomicU32, AtomicU64, CachePadded, Ordering};

/// A stack of free slot numbers.
pub(crate) struct FreeSlots {
    /// `tag << 32 | (top slot + 1)`, the low half 0 when the stack is empty.
    head: CachePadded<AtomicU64>,
}

const EMPTY: u32 = 0;

fn pack(tag: u64, top: u32) -> u64 {
    (tag << 32) | u64::from(top)
}

fn next_tag(head: u64) -> u64 {
    (head >> 32).wrapping_add(1) & u64::from(u32::MAX)
}

impl FreeSlots {
    pub(crate) fn new() -> Self {
        Self {
            head: CachePadded::new(AtomicU64::new(pack(0, EMPTY))),
        }
    }

    /// Takes a free slot, if there is one. `next_free(slot)` is that slot's link.
    pub(crate) fn pop<'a>(&self, next_free: impl Fn(u32) -> &'a AtomicU32) -> Option<u32> {
        // Ordering: `Acquire`, paired with `push`'s `Release`: the link of the slot on top
        // was written before that slot was pushed.
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            // The low half is the top slot plus one.
            let top = head as u32;
            if top == EMPTY {
                return None;
            }
            let slot = top - 1;
            // Ordering: made visible by the `Acquire` that read `head`; a stale value (the
            // slot was popped meanwhile) is caught by the tag in the exchange below.
            let next = next_free(slot).load(Ordering::Relaxed);
            // Ordering: `Acquire` on both outcomes, for the link read of the next round.
            match self.head.compare_exchange_weak(
                head,
                pack(next_tag(head), next),
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(slot),
                Err(current) => head = current,
            }
        }
    }

    /// Makes `slot` free again. `next_free(slot)` is that slot's link.
    pub(crate) fn push<'a>(&self, slot: u32, next_free: impl Fn(u32) -> &'a AtomicU32) {
        // Ordering: only the exchange below publishes anything.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // Ordering: published by the `Release` exchange below.
            next_free(slot).store(head as u32, Ordering::Relaxed);
            // Ordering: `Release`, so the popper of this slot sees its link and every write
            // made to the slot before it was freed.
            match self.head.compare_exchange_weak(
                head,
                pack(next_tag(head), slot + 1),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(current) => head = current,
            }
        }
    }
}
