//! The interning dict's key for an equality class: the product that made it when no one can
//! change it, else an object the market owns, so that no buyer ever holds a key it could
//! change (see `state` for the class life cycle).
//!
//! A product of exact immutable builtin types (`str`, `int`, `float`, `bytes`, `bool`,
//! `None`, and tuples of these, 64 objects in all at most) is its class's key itself: a
//! buyer cannot change it, and a lookup then finds it by identity or by the builtin's own
//! `==`, without the owned key's `__eq__`. A subclass may define an equality on state a buyer changes,
//! and a tuple holding any other object may hold a mutable one: those take the owned key.
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
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple};

/// A class's key in the interning dict.
pub(crate) enum DictKey {
    /// The product that made the class, which no one can change.
    Product(Py<PyAny>),
    /// A key the market owns, pointed at one of the class's members.
    Owned(Py<ClassKey>),
}

impl DictKey {
    /// The key for the class `product` makes; raises what its `__hash__` raises.
    pub(crate) fn for_product(product: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut budget = OBJECTS_CHECKED;
        if unchangeable(product, &mut budget) {
            Ok(Self::Product(product.clone().unbind()))
        } else {
            Ok(Self::Owned(Py::new(product.py(), ClassKey::new(product)?)?))
        }
    }

    pub(crate) fn as_any(&self) -> &Py<PyAny> {
        match self {
            Self::Product(product) => product,
            Self::Owned(key) => key.as_any(),
        }
    }

    /// The key the market owns, to point at another member before one leaves.
    pub(crate) fn owned(&self) -> Option<&ClassKey> {
        match self {
            Self::Product(_) => None,
            Self::Owned(key) => Some(key.get()),
        }
    }

    /// The object the key compares as: the product, or the object the owned key points at.
    pub(crate) fn pointed_at(&self, py: Python<'_>) -> Py<PyAny> {
        match self {
            Self::Product(product) => product.clone_ref(py),
            Self::Owned(key) => key.get().pointed_at(py),
        }
    }

    pub(crate) fn clone_ref(&self, py: Python<'_>) -> Self {
        match self {
            Self::Product(product) => Self::Product(product.clone_ref(py)),
            Self::Owned(key) => Self::Owned(key.clone_ref(py)),
        }
    }
}

/// How many objects, tuples and their items together, the check looks at: a product with
/// more takes the owned key, which is always right. A bound on the objects, not the nesting,
/// since tuples may share their items: `(t,) * 30` nested 8 deep is 30^8 items to look at,
/// while a Python that caches tuple hashes (3.14 and later) hashes it at once.
const OBJECTS_CHECKED: usize = 64;

/// Whether no one can change `object`: its type is exactly one of the immutable builtins,
/// or a tuple of such objects, found looking at no more than `budget` objects in all
/// (`budget` is what is left of it).
fn unchangeable(object: &Bound<'_, PyAny>, budget: &mut usize) -> bool {
    let Some(left) = budget.checked_sub(1) else {
        return false;
    };
    *budget = left;
    if object.is_exact_instance_of::<PyString>()
        || object.is_exact_instance_of::<PyInt>()
        || object.is_exact_instance_of::<PyFloat>()
        || object.is_exact_instance_of::<PyBytes>()
        || object.is_exact_instance_of::<PyBool>()
        || object.is_none()
    {
        return true;
    }
    match object.cast_exact::<PyTuple>() {
        Ok(tuple) => tuple.iter().all(|item| unchangeable(&item, budget)),
        Err(_) => false,
    }
}

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
