//! The `marketplace.Marketplace` class.
//!
//! Each call goes through three steps:
//!
//! 1. under the GIL and the interning lock (`intern_lock`), the product is interned: looked
//!    up in a Python dict (the user's `__hash__` and `__eq__` run here, and only here) to
//!    find its equality class, which the call pins so the class cannot die and its slot
//!    cannot be reused while the call uses it (see `state` for the class life cycle); a
//!    published object is kept in the object table under a handle;
//! 2. the engine does the work on a [`Key`] (class slot + handle), comparing slots only: it
//!    never calls back into Python, so it can run with the GIL released;
//! 3. the pin is given back; ordered items hand back the very objects published and drop
//!    their class references (a class left with none is deleted from the dict, under the
//!    interning lock again: by this call if the lock is free, else by the thread holding
//!    it, as it leaves; see `Marketplace::unref`).
//!
//! Where they live: `interning` has steps 1 and 3 (interning, pinning, giving classes back
//! and burying them), `calls` each call's own work around its first attempt at the engine,
//! `waits` the blocking waits (`timeout=`) and `async_call` the async forms' calls. This
//! file has the class, its fields, its Python methods (one `#[pymethods]` block, as PyO3
//! wants without its `multiple-pymethods` feature) and the logging of calls.

mod async_call;
mod calls;
mod interning;
mod waits;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyDict, PyList};

use self::async_call::AsyncCall;
use crate::aio;
use crate::args;
use crate::calllog::CallLog;
use crate::intern_lock::InternLock;
use crate::shutdown::Active;
use crate::state::{Counts, Key, State};

pub(crate) use self::waits::SLICE;

/// A marketplace of hashable Python products, on the lock-free engine.
///
/// Producers publish products (at most `queue_size_per_producer` each on the shelf at
/// once); consumers fill carts with whatever equal product is on sale, may give items back to
/// the producer that made them, and place orders, which return the very objects published.
// `generic` gives the class a `__class_getitem__` (returning `types.GenericAlias`): the
// stubs declare it generic in the product type, and `Marketplace[Tea]` must then work at
// run time too (`Marketplace[Tea](3)`, an annotation evaluated at run time); stubtest does
// not check that it does.
#[pyclass(frozen, weakref, generic, module = "marketplace", name = "Marketplace")]
pub(crate) struct Marketplace {
    /// Behind a pointer: the engine is aligned to cache lines, more than Python aligns an
    /// object (see the assertion below). Shared: an async wait holds it too, so that its
    /// engine wait can be dropped and made again from any thread (see `aio`).
    engine: Arc<marketplace::Marketplace<Key>>,
    /// Interning: the key of each live equality class (`class_key`) -> its token.
    interned: Py<PyDict>,
    /// Held around every lookup, insert and deletion in `interned`, and around a class's
    /// death.
    intern_lock: InternLock,
    state: Mutex<State>,
    /// Calls inside a wait (threads, and tasks awaiting an async form), for `stats()` (and
    /// tests that need to know one is blocked).
    waiting: AtomicUsize,
    log: CallLog,
    /// Ends the async waits for an item in a cart when the cart is ordered, as the blocking
    /// waits end at their next slice.
    ordered: aio::Stops,
}

// Python allocates an object 16-byte aligned, and PyO3 lays a class's fields out in that
// allocation as they are, so a field that needs more (the engine's cache-padded counts need
// 128 bytes on x86-64) would be referenced misaligned: undefined behaviour, which debug
// builds abort on when the class is constructed. Hence the engine's pointer.
const _: () = assert!(
    std::mem::align_of::<Marketplace>() <= 16,
    "Marketplace needs more alignment than Python gives its objects"
);

impl Marketplace {
    /// Whether this call is to be logged, asked as the call begins, before it does anything.
    ///
    /// A Ctrl-C already pending is raised here, with nothing done, rather than inside the
    /// level check (which reports what it raises to `sys.unraisablehook` and carries on).
    /// And asking first means that, with logging disabled (the default), no Python code runs
    /// after the call's work: a Ctrl-C that arrives meanwhile (typically during a wait that
    /// an item or room then ends) is raised by Python as the call returns, instead of inside
    /// a level check after the work, where it was swallowed. A consumer looping on
    /// `add_to_cart(..., timeout=...)` in the main thread could not be stopped by Ctrl-C.
    fn logging(&self, py: Python<'_>) -> PyResult<bool> {
        py.check_signals()?;
        Ok(self.log.enabled(py))
    }

    /// Logs a call that may wait: `call` is its opening up to the last of `args`; the
    /// `timeout` argument shows only when it was given, as the caller wrote the call.
    fn log_waitable(
        &self,
        py: Python<'_>,
        call: &str,
        args: [&Bound<'_, PyAny>; 2],
        timeout: Option<&Bound<'_, PyAny>>,
        outcome: &PyResult<bool>,
    ) {
        let call = match timeout {
            None => format!("{call})"),
            Some(_) => format!("{call}, timeout=%r)"),
        };
        let args = args.into_iter().chain(timeout).cloned();
        self.log.record(py, &call, args, log_outcome(py, outcome));
    }

    fn state(&self, py: Python<'_>) -> MutexGuard<'_, State> {
        // Never held while Python code runs or while waiting, so it is free or about to
        // be; `lock_py_attached` still detaches if it has to wait, so a contended lock can
        // never hold the GIL (or, free-threaded, stall a stop-the-world pause). A panic under
        // it leaves plain data; carry on.
        self.state
            .lock_py_attached(py)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn counts(&self, py: Python<'_>) -> (Counts, usize) {
        let state = self.state(py);
        (state.counts(), state.open_carts())
    }
}

#[pymethods]
impl Marketplace {
    /// Creates a marketplace where each producer may have up to `queue_size_per_producer`
    /// products on sale at once (an int from 1 to 2**63 - 1).
    #[new]
    fn new(py: Python<'_>, queue_size_per_producer: &Bound<'_, PyAny>) -> PyResult<Self> {
        let _active = Active::enter(py);
        let queue_size = args::queue_size(queue_size_per_producer)?;
        Ok(Self {
            engine: Arc::new(marketplace::Marketplace::new(queue_size)),
            interned: PyDict::new(py).unbind(),
            intern_lock: InternLock::new(),
            state: Mutex::new(State::default()),
            waiting: AtomicUsize::new(0),
            log: CallLog::new(py)?,
            ordered: aio::Stops::default(),
        })
    }

    /// How many products one producer may have on sale at once.
    #[getter]
    fn queue_size_per_producer(&self) -> usize {
        self.engine.queue_size_per_producer()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.engine.is_closed()
    }

    /// Registers a producer; returns its id (0, 1, 2, ... in call order).
    fn register_producer(&self, py: Python<'_>) -> PyResult<usize> {
        let _active = Active::enter(py);
        let logging = self.logging(py)?;
        let id = self.engine.register_producer();
        self.state(py).add_producer(id);
        let index = id.index();
        if logging {
            self.log
                .record(py, "register_producer()", [], Ok(logged(py, index)));
        }
        Ok(index)
    }

    /// Puts `product` on sale for `producer_id`. Returns False when that producer already
    /// has `queue_size_per_producer` products on sale (or was never registered). With a
    /// `timeout` (seconds), waits up to that long for room, with the GIL released.
    #[pyo3(signature = (producer_id, product, timeout=None))]
    fn publish(
        &self,
        py: Python<'_>,
        producer_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let mut active = Active::enter(py);
        let logging = self.logging(py)?;
        let outcome = self.try_publish(py, &mut active, producer_id, product, timeout);
        aio::pass_on_stalled_wake_ups(py);
        if logging {
            self.log_waitable(
                py,
                "publish(producer_id=%r, product=%r",
                [producer_id, product],
                timeout,
                &outcome,
            );
        }
        outcome
    }

    /// As `publish`, awaited from asyncio: with a `timeout` (seconds), the wait for room
    /// holds no thread; a cancelled task has published nothing.
    #[pyo3(signature = (producer_id, product, timeout=None))]
    async fn publish_async(
        &self,
        producer_id: Py<PyAny>,
        product: Py<PyAny>,
        timeout: Option<Py<PyAny>>,
    ) -> PyResult<bool> {
        let call = AsyncCall::begin(
            self,
            "publish_async(producer_id=%r, product=%r",
            [producer_id, product],
            timeout,
        )?;
        let outcome = self.publish_on_loop(&call).await;
        call.end(outcome)
    }

    /// As `add_to_cart`, awaited from asyncio: with a `timeout` (seconds), the wait for an
    /// item holds no thread; a cancelled task has taken nothing.
    #[pyo3(signature = (cart_id, product, timeout=None))]
    async fn add_to_cart_async(
        &self,
        cart_id: Py<PyAny>,
        product: Py<PyAny>,
        timeout: Option<Py<PyAny>>,
    ) -> PyResult<bool> {
        let call = AsyncCall::begin(
            self,
            "add_to_cart_async(cart_id=%r, product=%r",
            [cart_id, product],
            timeout,
        )?;
        let outcome = self.add_on_loop(&call).await;
        call.end(outcome)
    }

    /// Opens a new cart; returns its id (0, 1, 2, ... in call order).
    fn new_cart(&self, py: Python<'_>) -> PyResult<u64> {
        let _active = Active::enter(py);
        let logging = self.logging(py)?;
        let id = self.engine.new_cart();
        self.state(py).add_cart(id);
        let serial = id.serial();
        if logging {
            self.log
                .record(py, "new_cart()", [], Ok(logged(py, serial)));
        }
        Ok(serial)
    }

    /// Moves one product equal to `product`, from any producer (the oldest on sale), into the
    /// cart. Returns False when none is on sale (or the cart is not open). With a `timeout`
    /// (seconds), waits up to that long for one, with the GIL released.
    #[pyo3(signature = (cart_id, product, timeout=None))]
    fn add_to_cart(
        &self,
        py: Python<'_>,
        cart_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let mut active = Active::enter(py);
        let logging = self.logging(py)?;
        let outcome = self.try_add(py, &mut active, cart_id, product, timeout);
        aio::pass_on_stalled_wake_ups(py);
        if logging {
            self.log_waitable(
                py,
                "add_to_cart(cart_id=%r, product=%r",
                [cart_id, product],
                timeout,
                &outcome,
            );
        }
        outcome
    }

    /// Takes one product equal to `product` out of the cart and puts it back on sale for the
    /// producer that made it (even if that producer is full). Returns False when the cart
    /// holds no equal product (or is not open).
    fn remove_from_cart(
        &self,
        py: Python<'_>,
        cart_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let _active = Active::enter(py);
        let logging = self.logging(py)?;
        let outcome = self.try_remove(py, cart_id, product);
        aio::pass_on_stalled_wake_ups(py);
        if logging {
            self.log.record(
                py,
                "remove_from_cart(cart_id=%r, product=%r)",
                [cart_id.clone(), product.clone()],
                log_outcome(py, &outcome),
            );
        }
        outcome
    }

    /// Places the order: returns the cart's products (the very objects published) in the
    /// order they were added. The cart id is then spent. KeyError for a cart not open.
    fn place_order<'py>(
        &self,
        py: Python<'py>,
        cart_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let _active = Active::enter(py);
        let logging = self.logging(py)?;
        let outcome = self.try_order(py, cart_id);
        aio::pass_on_stalled_wake_ups(py);
        if logging {
            let logged = match &outcome {
                Ok(products) => Ok(products.clone().into_any()),
                Err(error) => Err(error),
            };
            self.log
                .record(py, "place_order(cart_id=%r)", [cart_id.clone()], logged);
        }
        outcome
    }

    /// Wakes every thread waiting in `publish` or `add_to_cart`, and every task awaiting
    /// their async forms (they return False); later waits return at once. Non-waiting calls
    /// keep working.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let _active = Active::enter(py);
        let logging = self.logging(py)?;
        self.engine.close();
        if logging {
            self.log
                .record(py, "close()", [], Ok(py.None().into_bound(py)));
        }
        Ok(())
    }

    /// How many products the producer has on sale now (returned ones included); None for an
    /// id never issued.
    fn shelf_len(&self, py: Python<'_>, producer_id: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        let _active = Active::enter(py);
        let producer_id = args::id(producer_id, "producer_id")?;
        Ok(self
            .producer(py, producer_id)
            .and_then(|producer| self.engine.shelf_len(producer)))
    }

    /// How many products equal to `product` are on sale now.
    fn available(&self, py: Python<'_>, product: &Bound<'_, PyAny>) -> PyResult<usize> {
        let _active = Active::enter(py);
        let Some(pin) = self.class_of(py, product, false)? else {
            return Ok(0);
        };
        Ok(self.engine.available(&Key::probe(pin.slot())))
    }

    /// A snapshot of the marketplace's size, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let _active = Active::enter(py);
        let engine = self.engine.stats();
        let (counts, open_carts) = self.counts(py);
        let stats = PyDict::new(py);
        stats.set_item("producers", engine.producers)?;
        stats.set_item("open_carts", open_carts)?;
        stats.set_item("items_on_shelves", engine.items_on_shelves)?;
        stats.set_item("items_in_carts", engine.items_in_carts)?;
        stats.set_item("distinct_products", counts.classes)?;
        // Ordering: a report, as the count's other uses (see `Waiting`).
        stats.set_item("waiting", self.waiting.load(Ordering::Relaxed))?;
        Ok(stats)
    }

    /// Internal sizes, for tests of the memory bound: equality classes alive, entries in the
    /// interning dict, class slots ever made (the engine's catalog size), objects held and
    /// the object table's capacity.
    fn _interned<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let _active = Active::enter(py);
        let (counts, _) = self.counts(py);
        let sizes = PyDict::new(py);
        sizes.set_item("classes", counts.classes)?;
        sizes.set_item("dict", self.interned.bind(py).len())?;
        sizes.set_item("slots", counts.slots)?;
        sizes.set_item("objects", counts.objects)?;
        sizes.set_item("object_slots", counts.object_slots)?;
        Ok(sizes)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let _active = Active::enter(py);
        let engine = self.engine.stats();
        let (_, open_carts) = self.counts(py);
        format!(
            "<marketplace.Marketplace queue_size_per_producer={} producers={} open_carts={} \
             items_on_shelves={} items_in_carts={}{}>",
            self.engine.queue_size_per_producer(),
            engine.producers,
            open_carts,
            engine.items_on_shelves,
            engine.items_in_carts,
            if self.engine.is_closed() {
                " closed"
            } else {
                ""
            },
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.interned)?;
        for object in self.log.objects() {
            visit.call(object)?;
        }
        // The lock is never held while Python code (and so the collector) runs; if it ever
        // were, skipping its objects only makes the collector keep them (it cannot free an
        // object whose references it was not shown).
        if let Ok(state) = self.state.try_lock() {
            let mut failed = None;
            state.for_each_object(|object| match visit.call(object) {
                Ok(()) => true,
                Err(error) => {
                    failed = Some(error);
                    false
                }
            });
            if let Some(error) = failed {
                return Err(error);
            }
        }
        Ok(())
    }

    /// Drops the products the market holds, when the garbage collector finds it in a cycle
    /// (a product that refers to its market): the collector can only break a cycle through
    /// an object that lets go of what it shows in `__traverse__`, and the other objects may
    /// not be able to (a tuple cannot). The logger's methods stay: they lead back to the
    /// market only through objects that can let go.
    fn __clear__(&self, py: Python<'_>) {
        let held = self.state(py).release_objects(py);
        drop(held);
        self.interned.bind(py).clear();
    }
}

/// A call's outcome as `CallLog::record` shows it.
fn log_outcome<'a, 'py>(
    py: Python<'py>,
    outcome: &'a PyResult<bool>,
) -> Result<Bound<'py, PyAny>, &'a PyErr> {
    match outcome {
        Ok(done) => Ok(logged(py, *done)),
        Err(error) => Err(error),
    }
}

/// A plain result (a flag, an id) as a Python object for the log: a conversion that
/// cannot fail.
fn logged<'py, T>(py: Python<'py>, value: T) -> Bound<'py, PyAny>
where
    T: IntoPyObject<'py, Error = std::convert::Infallible>,
{
    let Ok(object) = value.into_pyobject(py);
    pyo3::BoundObject::into_bound(object).into_any()
}

/// Registers the class in the module.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Marketplace>()
}
