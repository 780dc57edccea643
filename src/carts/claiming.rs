//! The cart whose claim the calling thread is in: its slot's lock is held while the user's
//! `Eq` compares the cart's items, the one place user code runs under an engine lock. A
//! call back into that cart from that `Eq` would wait for the lock its own thread holds
//! (std's `Mutex` may then deadlock or panic); this lets the lock's contended path tell
//! such a call from a wait for another thread, and refuse it with a clear panic.
//!
//! Invariant: `CLAIMING` names a slot (by address) only while this thread holds that
//! slot's lock inside `Claiming`'s lifetime; it names the slot of the innermost claim, and
//! the outer one's again once that ends (unwinding included, by the guard's drop). Checked
//! in `tests/engine_reentrancy.rs` by
//! `a_claim_ended_by_a_panic_in_its_eq_leaves_no_mark_on_its_thread` and
//! `a_claim_inside_a_claim_gives_the_mark_back_when_it_ends`.

use crate::sync::thread_local_cell;

thread_local_cell! {
    /// The address of the slot whose claim this thread is in, or 0.
    static CLAIMING: Cell<usize> = 0;
}

/// Marks the slot at `address` as this thread's claim until dropped.
pub(super) struct Claiming {
    /// The claim this one is inside of, if any, restored on drop.
    outer: usize,
}

impl Claiming {
    #[inline]
    pub(super) fn start(address: usize) -> Self {
        Self {
            outer: CLAIMING.with(|claiming| claiming.replace(address)),
        }
    }
}

impl Drop for Claiming {
    #[inline]
    fn drop(&mut self) {
        CLAIMING.with(|claiming| claiming.set(self.outer));
    }
}

/// Whether this thread is in the claim of the slot at `address` (holding its lock).
#[inline]
pub(super) fn is_claiming(address: usize) -> bool {
    CLAIMING
        .try_with(|claiming| claiming.get() == address)
        .unwrap_or(false)
}
