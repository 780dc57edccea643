//! The interning dict's key for an equality class: an object the market owns, so that no
//! buyer ever holds the dict's key (see `state` for the class life cycle).
//!
//! A product used as the key itself would stay the key while its class lives, even after an
//! order handed that very object back: a buyer that then changed it would change the key of
//! the equal items still on sale, which no lookup would find any more.
//!
//! Invariants:
//! - `hash` is the hash of the product that made the class, taken once: the key's hash never
//!   changes, whatever happens to the products;
//! - `member` is one of the class's members (see `state`) whenever it has any: `State`
//!   points it at another before one leaves the market; while the class has none, it is the
//!   product that made the class or its last member;
//! - a key compares as the object it points at: with a product (a lookup, or a deletion by
//!   the object it points at) or with another key (an insertion with `setdefault`), the
//!   dict runs the very `__eq__` it ran when products were its keys;
//! - `member`'s mutex is held only to read or swap the reference: no Python code runs and
//!   nothing is dropped under it, and it is only taken with the GIL held, so no `fork()`
//!   can copy it held.

use std::sync::{Mutex, MutexGuard};

use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;

#[pyclass(frozen, module = "marketplace", name = "_ClassKey")]
pub(crate) struct ClassKey {
    hash: isize,
    member: Mutex<Py<PyAny>>,
}

impl ClassKey {
    /// A key for the class `product` makes; raises what its `__hash__` raises.
    pub(crate) fn new(product: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            hash: product.hash()?,
            member: Mutex::new(product.clone().unbind()),
        })
    }

    /// The object the key points at: the class's dict entry is deleted by it, which runs
    /// its `__hash__` and `__eq__` as when it was the key itself.
    pub(crate) fn pointed_at(&self, py: Python<'_>) -> Py<PyAny> {
        self.member().clone_ref(py)
    }

    /// Points the key at `member`; returns the object it pointed at, to drop after the
    /// caller's own locks are released (a decref to zero may run a finaliser).
    pub(crate) fn point_at(&self, member: Py<PyAny>) -> Py<PyAny> {
        std::mem::replace(&mut *self.member(), member)
    }

    fn member(&self) -> MutexGuard<'_, Py<PyAny>> {
        // Nothing panics while it is held: carry on past a poisoning.
        self.member
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl ClassKey {
    fn __hash__(&self) -> isize {
        self.hash
    }

    /// As the dict compared its key with a product before: `member == other` (`other`'s
    /// own member for a key), an identical object being equal (as
    /// `PyObject_RichCompareBool` has it, for NaN).
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        // References of their own, outside the mutexes: the comparison runs Python code.
        let other = match other.cast::<ClassKey>() {
            Ok(key) => key.get().pointed_at(py).into_bound(py),
            Err(_) => other.clone(),
        };
        let member = self.pointed_at(py).into_bound(py);
        Ok(member.is(&other) || member.eq(&other)?)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Never held while Python code (and so the collector) runs; if it were, skipping the
        // member only makes the collector keep it.
        if let Ok(member) = self.member.try_lock() {
            visit.call(&*member)?;
        }
        Ok(())
    }

    fn __clear__(&self, py: Python<'_>) {
        let member = self.point_at(py.None());
        drop(member);
    }
}
