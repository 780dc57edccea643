//! Each thread's spare cart slot: the last slot it freed, kept aside from the free list for
//! the next cart it opens in the same marketplace.
//!
//! A consumer usually opens its next cart on the thread that ordered its last one. With the
//! freed slot kept here, neither the order nor the next open touches the free list, whose
//! push and pop each cost a compare-exchange; keeping and taking a spare cost no atomic
//! operation (but the first keep in a marketplace, which takes a weak reference to its
//! [`Returned`] slots).
//!
//! Invariants:
//! - a thread holds at most one spare, of one marketplace, named by that marketplace's tag;
//!   the spare slot is free (`serial == FREE`) and on no free list;
//! - only an open in the spare's own marketplace takes it, so a slot never leaves its
//!   marketplace;
//! - a spare is never lost to a marketplace that still exists: its thread keeps it until
//!   it opens a cart there, and gives it back to the marketplace's [`Returned`] slots when
//!   it exits; opens look there before they make a new slot. (A spare of a dropped
//!   marketplace gives way to the next slot its thread frees elsewhere.)
//!
//! So a marketplace's slots exceed the peak number of carts open at once by at most one per
//! live thread (besides the free list's own races, see `free_slots`).
//!
//! A thread holding the spare of a marketplace still alive frees the slots of any other
//! onto the free list, as before: trading spares back and forth would cost a lock each time
//! for a thread that alternates between marketplaces.

use std::cell::RefCell;

use crate::sync::{Arc, Mutex, MutexGuard, Weak, thread_local};

/// Slots given back by threads that held them as spares; opens take them before making
/// new ones.
pub(crate) struct Returned {
    slots: Mutex<Vec<u32>>,
}

impl Returned {
    pub(crate) fn new() -> Self {
        Self {
            slots: Mutex::new(Vec::new()),
        }
    }

    /// A returned slot, if any. Only opens that found no spare and no free slot get here,
    /// that is, opens about to make a new slot.
    pub(crate) fn take(&self) -> Option<u32> {
        self.lock().pop()
    }

    fn give(&self, slot: u32) {
        self.lock().push(slot);
    }

    /// The list's lock. Nothing panics while it is held, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Vec<u32>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A thread's hold on one marketplace's spare slot.
struct Spare {
    /// The tag of the marketplace the slot belongs to.
    market: u64,
    /// The spare slot, if the thread holds one now.
    slot: Option<u32>,
    /// Where the slot goes back if the thread lets it go unused. Weak, so a spare does
    /// not keep a dropped marketplace's list alive.
    returned: Weak<Returned>,
}

impl Drop for Spare {
    fn drop(&mut self) {
        // A spare let go unused (its thread exits) goes back to its marketplace, if alive.
        if let (Some(slot), Some(returned)) = (self.slot.take(), self.returned.upgrade()) {
            returned.give(slot);
        }
    }
}

thread_local! {
    #[allow(
        clippy::missing_const_for_thread_local,
        reason = "loom's `thread_local!` takes no `const` initialiser; the lazy one costs no more"
    )]
    static SPARE: RefCell<Option<Spare>> = RefCell::new(None);
}

/// Takes the calling thread's spare slot, if it holds one of marketplace `market`.
#[inline]
pub(crate) fn take(market: u64) -> Option<u32> {
    SPARE
        .try_with(|spare| match &mut *spare.borrow_mut() {
            // Only a slot of this marketplace: another's slot numbers mean nothing here.
            Some(spare) if spare.market == market => spare.slot.take(),
            _ => None,
        })
        .ok()
        .flatten()
}

/// Keeps `slot`, just freed in marketplace `market` (whose returned slots are `returned`),
/// as the calling thread's spare. Gives the slot back when the thread already holds a
/// spare of a marketplace that is still alive (or is exiting): the caller frees it.
#[inline]
pub(crate) fn keep(market: u64, slot: u32, returned: &Arc<Returned>) -> Result<(), u32> {
    SPARE
        .try_with(|spare| {
            let mut spare = spare.borrow_mut();
            match &mut *spare {
                Some(held) if held.market == market => match held.slot {
                    None => {
                        held.slot = Some(slot);
                        Ok(())
                    }
                    Some(_) => Err(slot),
                },
                // A spare of a marketplace still alive stays with its thread (module docs).
                Some(held) if held.slot.is_some() && held.returned.strong_count() > 0 => Err(slot),
                _ => {
                    // No spare held, or an empty hold on another marketplace, or a spare
                    // of a dropped one: replacing it loses nothing.
                    *spare = Some(Spare {
                        market,
                        slot: Some(slot),
                        returned: Arc::downgrade(returned),
                    });
                    Ok(())
                }
            }
        })
        .unwrap_or(Err(slot))
}
