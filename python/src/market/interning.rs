//! Interning products into equality classes, pinning the class a call uses, and giving
//! classes back: the first and last steps of a call (see `market`).
//!
//! Invariants:
//! - every lookup, insert and deletion in the interning dict, and a class's death, happens
//!   under the interning lock (`intern_lock`), held through an [`Interned`] guard; the user's
//!   `__hash__` and `__eq__` run here, and only here;
//! - a pin is given back exactly once, by its [`PinGuard`], unless kept as an item's own
//!   reference to its class;
//! - a class left with no references is buried (its dict entry deleted, its slot freed)
//!   under the lock: by the call that gave it up if the lock is free, else by the thread
//!   holding it, as it leaves; giving back never waits ([`Marketplace::unref`]).

use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;

use super::Marketplace;
use crate::class_key::DictKey;
use crate::intern_lock::Interning;
use crate::state::{Pin, PinOutcome};

/// The interning lock, held by a call of `market`: leaving it, the outermost entry drops the
/// classes that other calls gave up meanwhile ([`InternLock::enter_or_owe`]).
///
/// [`InternLock::enter_or_owe`]: crate::intern_lock::InternLock::enter_or_owe
struct Interned<'a, 'py> {
    market: &'a Marketplace,
    py: Python<'py>,
    interning: Option<Interning<'a>>,
}

impl Drop for Interned<'_, '_> {
    fn drop(&mut self) {
        let Some(mut interning) = self.interning.take() else {
            return;
        };
        while let Some(kept) = interning.leave() {
            self.market.bury(self.py);
            interning = kept;
        }
    }
}

/// A pin that is given back when dropped, unless [`kept`](PinGuard::keep) as an item's own
/// reference to its class.
pub(super) struct PinGuard<'a, 'py> {
    market: &'a Marketplace,
    py: Python<'py>,
    pin: Option<Pin>,
}

impl PinGuard<'_, '_> {
    pub(super) fn slot(&self) -> u32 {
        self.pin.expect("held until kept or dropped").slot
    }

    pub(super) fn keep(mut self) {
        self.pin = None;
    }

    /// The pin, no longer given back by this guard: an async wait, which cannot hold the
    /// GIL's token across its awaits, holds it in a guard of its own
    /// (`async_call::Held`).
    pub(super) fn detach(mut self) -> Pin {
        self.pin.take().expect("held until kept or dropped")
    }
}

impl Drop for PinGuard<'_, '_> {
    fn drop(&mut self) {
        if let Some(pin) = self.pin.take() {
            self.market.unref(self.py, &[(pin.slot, 1)]);
        }
    }
}

impl Marketplace {
    /// The equality class of `product`, pinned until the guard is dropped (or kept); `None`
    /// when no equal product is alive and `create` is false. With `create`, a new class is
    /// made if needed. Raises what the product's `__hash__` or `__eq__` raise (`TypeError`
    /// for an unhashable product).
    pub(super) fn class_of<'a, 'py>(
        &'a self,
        py: Python<'py>,
        product: &Bound<'_, PyAny>,
        create: bool,
    ) -> PyResult<Option<PinGuard<'a, 'py>>> {
        Ok(self.pin_class(py, product, create)?.map(|pin| PinGuard {
            market: self,
            py,
            pin: Some(pin),
        }))
    }

    /// [`class_of`](Self::class_of)'s pin, unguarded.
    fn pin_class(
        &self,
        py: Python<'_>,
        product: &Bound<'_, PyAny>,
        create: bool,
    ) -> PyResult<Option<Pin>> {
        let _interning = Interned {
            market: self,
            py,
            interning: Some(self.intern_lock.enter_interruptibly(py)?),
        };
        let interned = self.interned.bind(py);
        let mut gone = None;
        loop {
            match interned.get_item(product)? {
                Some(token) => {
                    let token: u64 = token.extract()?;
                    let found = self.state(py).pin(token);
                    match found {
                        PinOutcome::Pinned(pin) => return Ok(Some(pin)),
                        // No item of the class is alive: nothing to add or remove.
                        PinOutcome::Dying if !create => return Ok(None),
                        // A class dies under the interning lock, which this thread holds: it
                        // is the one deleting the entry, and the product's own `__hash__` or
                        // `__eq__` called back into the market (waiting would never end).
                        PinOutcome::Dying => {
                            return Err(PyRuntimeError::new_err(
                                "a product's __hash__ or __eq__ called back into the marketplace \
                                 while its equality class was being dropped",
                            ));
                        }
                        // The same gone token read twice: the entry outlived its class,
                        // which only a product whose hash or equality changed while in
                        // the market causes (deleting its class's entry deleted another's,
                        // as `del` does in any dict). Drop the stale entry.
                        PinOutcome::Gone if gone == Some(token) => {
                            self.drop_stale_entry(py, product, token)?;
                        }
                        // Deleted since the dict was read (by the product's own code calling
                        // back into the market on this thread): read it again.
                        PinOutcome::Gone => gone = Some(token),
                    }
                }
                None if !create => return Ok(None),
                None => {
                    let key = DictKey::for_product(product)?;
                    let (pin, token) = self.state(py).new_class(key.clone_ref(py))?;
                    let stored = interned
                        .call_method1(intern!(py, "setdefault"), (key.as_any(), token))
                        .and_then(|stored| stored.extract::<u64>());
                    if matches!(stored, Ok(stored) if stored == token) {
                        return Ok(Some(pin));
                    }
                    // An equal product was interned meanwhile (by the product's own code
                    // calling back into the market on this thread), or the dict raised: this
                    // class never became visible, undo it and use the other one.
                    let key = self.state(py).abandon(pin);
                    drop(key);
                    stored?;
                }
            }
        }
    }

    /// Removes the dict entry equal to `product` if it still holds the stale `token`. The
    /// entry is taken out and compared; one that is not stale (an equal product interned
    /// since, by the product's own code calling back into the market) goes back, under its
    /// class's own key.
    fn drop_stale_entry(
        &self,
        py: Python<'_>,
        product: &Bound<'_, PyAny>,
        token: u64,
    ) -> PyResult<()> {
        let interned = self.interned.bind(py);
        let taken = interned.call_method1(intern!(py, "pop"), (product, py.None()))?;
        let Ok(taken) = taken.extract::<u64>() else {
            return Ok(());
        };
        if taken == token {
            return Ok(());
        }
        let key = self.state(py).key_of(py, taken);
        if let Some(key) = key {
            interned.call_method1(intern!(py, "setdefault"), (key.as_any(), taken))?;
        }
        Ok(())
    }

    /// Deletes a dying class's dict entry if the entry equal to `representative`, the object
    /// its `key` points at, is the class's own (holds `token`); else leaves the dict as it
    /// is. That object has left the market: if an order handed it back while another
    /// thread held the interning lock, its buyer may have changed it since into an equal of
    /// another class's product, whose entry must stay. The entry is then taken by the key
    /// itself, found among the equal hashes by identity: the one just looked up, which the
    /// products' `__eq__` put first, with no second call of the representative's
    /// `__hash__`.
    fn delete_dying_entry(
        &self,
        py: Python<'_>,
        key: &DictKey,
        representative: &Bound<'_, PyAny>,
        token: u64,
    ) -> PyResult<()> {
        let interned = self.interned.bind(py);
        let found = interned.get_item(representative)?;
        if found.is_some_and(|found| found.extract::<u64>().ok() == Some(token)) {
            interned.call_method1(intern!(py, "pop"), (key.as_any(), py.None()))?;
        }
        Ok(())
    }

    /// Gives back references to classes (`(slot, count)` pairs); a class left with none is
    /// deleted from the dict and its slot freed, now if the interning lock is free (or this
    /// thread's), otherwise by the thread that holds it, as it leaves the lock. Never waits:
    /// the holder may be in a product's `__eq__` for as long as it likes, and a call giving
    /// back what it held (one ending with a Ctrl-C, an order placed) can neither wait for it
    /// nor give up.
    pub(super) fn unref(&self, py: Python<'_>, releases: &[(u32, usize)]) {
        let orphaned = {
            let mut state = self.state(py);
            releases
                .iter()
                .fold(false, |any, &(slot, count)| state.unref(slot, count) | any)
        };
        if !orphaned {
            return;
        }
        let Some(interning) = self.intern_lock.enter_or_owe() else {
            return;
        };
        self.bury(py);
        drop(Interned {
            market: self,
            py,
            interning: Some(interning),
        });
    }

    /// Deletes the dict entries of the classes left with no references, and frees their
    /// slots; under the interning lock.
    fn bury(&self, py: Python<'_>) {
        // From its marking as dying to its end, so no lookup sees a class half dead.
        let dying = self.state(py).take_orphans(py);
        for (slot, token, key) in dying {
            // Deleted by the object its key points at, which compares equal to the key (as
            // the class's products were the dict's keys before). No entry equal to it, or
            // another class's, means this class's entry is out of reach: another class's
            // death deleted it (an `__eq__` that matched that class's product), or its
            // object's hash or equality changed. No lookup can find this class to pin it
            // again, and kept it would never die. An entry with its token may remain: that
            // token is stale once the class goes, and the next lookup that reaches it drops
            // it.
            let representative = key.pointed_at(py);
            let deleted = self.delete_dying_entry(py, &key, representative.bind(py), token);
            drop(key);
            let freed = self.state(py).finish_dying(slot, deleted.is_ok());
            drop(freed);
            if let Err(error) = deleted {
                // The product's `__hash__` or `__eq__` failed this time: the class stays
                // interned, to be retried when it next has no references.
                error.write_unraisable(py, Some(representative.bind(py)));
            }
        }
    }
}
