//! The blocking waits (`timeout=`): a publish waiting for room, an add waiting for an item.
//!
//! Waits release the GIL in slices of at most [`SLICE`], checking for signals
//! (`KeyboardInterrupt`) between slices with the GIL held.
//!
//! Invariants:
//! - a wait ends when it succeeds, at its deadline ([`Deadline`]), when the market closes,
//!   or when a signal handler raises; an add's also when its cart is no longer open;
//! - no call waits inside the interning lock (from a product's `__hash__` or `__eq__`): it
//!   would hold up every other call;
//! - a call is counted in `stats()`'s `waiting` while it waits ([`Waiting`]), the async
//!   forms' too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use marketplace::{AddError, CartId, ProducerId};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use super::Marketplace;
use crate::args::Wait;
use crate::shutdown::Active;
use crate::state::Key;

/// The longest a wait runs with the GIL released before checking for signals (a wait for
/// the interning lock too).
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// Counts a call as waiting while it lives.
pub(super) struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    pub(super) fn new(count: &'a AtomicUsize) -> Self {
        // Ordering: a figure for `stats()` only; no other memory is read on its strength.
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // Ordering: as in `new`.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When a wait must end.
#[derive(Clone, Copy)]
struct Deadline(Option<Instant>);

impl Deadline {
    fn new(wait: Wait) -> Self {
        match wait {
            Wait::No => Self(Some(Instant::now())),
            Wait::For(timeout) => Self(Instant::now().checked_add(timeout)),
            Wait::Forever => Self(None),
        }
    }

    /// How long the next slice may wait, or `None` once the deadline has passed.
    fn next_slice(self) -> Option<Duration> {
        match self.0 {
            None => Some(SLICE),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| left.min(SLICE))
            }
        }
    }
}

impl Marketplace {
    /// A call made from a product's `__hash__` or `__eq__` runs inside the interning lock: a
    /// wait there would hold up every other call, including those it waits for.
    pub(super) fn refuse_to_wait_inside_interning(&self, wait: Wait) -> PyResult<()> {
        if wait != Wait::No && self.intern_lock.held_by_this_thread() {
            return Err(PyRuntimeError::new_err(
                "a call with a timeout from a product's __hash__ or __eq__ would hold up every \
                 other call to the marketplace while it waits",
            ));
        }
        Ok(())
    }

    /// Retries a refused publish until it succeeds (`true`), the wait ends or the market
    /// closes (`false`), or a signal handler raises.
    pub(super) fn wait_to_publish(
        &self,
        py: Python<'_>,
        active: &mut Active,
        producer: ProducerId,
        key: Key,
        wait: Wait,
    ) -> PyResult<bool> {
        self.in_slices(py, active, wait, |slice| {
            self.engine
                .publish_timeout(producer, key, slice)
                .is_ok()
                .then_some(true)
        })
    }

    /// Retries an unavailable add until an item comes (`true`), the wait ends, the market
    /// closes or the cart is ordered meanwhile (`false`), or a signal handler raises.
    pub(super) fn wait_to_add(
        &self,
        py: Python<'_>,
        active: &mut Active,
        cart: CartId,
        probe: Key,
        wait: Wait,
    ) -> PyResult<bool> {
        self.in_slices(py, active, wait, |slice| {
            match self.engine.add_to_cart_timeout(cart, &probe, slice) {
                Ok(()) => Some(true),
                Err(AddError::Unavailable) => None,
                Err(_) => Some(false),
            }
        })
    }

    /// Runs `attempt` with the GIL released, a slice of the wait at a time, until it has an
    /// answer, the wait ends or the market closes (`false`), or a signal handler raises;
    /// the call counts as waiting meanwhile.
    fn in_slices(
        &self,
        py: Python<'_>,
        active: &mut Active,
        wait: Wait,
        attempt: impl Fn(Duration) -> Option<bool> + Sync,
    ) -> PyResult<bool> {
        let _waiting = Waiting::new(&self.waiting);
        let deadline = Deadline::new(wait);
        while let Some(slice) = deadline.next_slice() {
            if let Some(answer) = active.detached(py, || attempt(slice)) {
                return Ok(answer);
            }
            if self.engine.is_closed() {
                break;
            }
            py.check_signals()?;
        }
        Ok(false)
    }
}
