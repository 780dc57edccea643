//! Each call's own work, between its logging (in `market`'s `#[pymethods]`) and any wait:
//! checking the arguments, finding the producer or cart, pinning the product's class, and
//! the engine's first attempt. A publish's and an add's first attempts are the same for
//! their blocking and async forms ([`Next`]).
//!
//! Invariants:
//! - an id never issued answers False, after hashing the product as the classic class's
//!   dict would (`place_order` raises `KeyError`);
//! - a call's pin, a publish's kept object and a waiting add's kept product are given back
//!   as the call ends, but for a publish that put its item on sale: the item keeps both (the
//!   pin as its reference to its class) until it is ordered. A waiting add's product is
//!   taken back before its pin, while the class is sure to be alive.

use marketplace::{AddError, CartId, ProducerId, PublishError};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::Marketplace;
use super::interning::PinGuard;
use crate::args::{self, Wait};
use crate::shutdown::Active;
use crate::state::Key;

/// A publish ready for the engine: `key`'s class is pinned by `pin` and its object kept
/// under its handle, both to be given back unless the product goes on sale.
pub(super) struct Offer<'a, 'py> {
    pub(super) producer: ProducerId,
    pub(super) pin: PinGuard<'a, 'py>,
    pub(super) key: Key,
    pub(super) wait: Wait,
}

/// What an add that found no item on sale, with a wait asked for, waits with: the cart,
/// the class's pin, and the handle of its product, kept as a member of the class while it
/// waits (see `state`), to be taken back as the wait ends.
pub(super) struct AddWait<'a, 'py> {
    pub(super) cart: CartId,
    pub(super) pin: PinGuard<'a, 'py>,
    pub(super) probe: u32,
    pub(super) wait: Wait,
}

/// How a call's first attempt ended.
pub(super) enum Next<T> {
    /// Its result: no wait needed, or none asked for.
    Done(bool),
    /// What its wait needs.
    Wait(T),
}

impl Marketplace {
    pub(super) fn producer(&self, py: Python<'_>, producer_id: Option<u64>) -> Option<ProducerId> {
        producer_id.and_then(|index| self.state(py).producer(index))
    }

    fn cart(&self, py: Python<'_>, cart_id: Option<u64>) -> Option<CartId> {
        cart_id.and_then(|serial| self.state(py).cart(serial))
    }

    pub(super) fn try_publish(
        &self,
        py: Python<'_>,
        active: &mut Active,
        producer_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let Some(offer) = self.offer(py, producer_id, product, timeout)? else {
            return Ok(false);
        };
        let Offer {
            producer,
            pin,
            key,
            wait,
        } = offer;
        let published = match self.engine.publish(producer, key) {
            Ok(()) => Ok(true),
            Err(PublishError::Full(key)) if wait != Wait::No => {
                self.wait_to_publish(py, active, producer, key, wait)
            }
            Err(_) => Ok(false),
        };
        if matches!(published, Ok(true)) {
            // The pin is now the item's reference to its class, given back when it is ordered.
            pin.keep();
        } else {
            let object = self.state(py).take_object(py, key.handle);
            drop(object);
        }
        published
    }

    /// A publish's steps before the engine's, the same for its blocking and async forms:
    /// checks the arguments, finds the producer (`None` for one never registered, after
    /// hashing the product as the classic class's dict would), pins the product's class
    /// (made if new) and keeps the object under the key's handle.
    pub(super) fn offer<'a, 'py>(
        &'a self,
        py: Python<'py>,
        producer_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Offer<'a, 'py>>> {
        let producer_id = args::id(producer_id, "producer_id")?;
        let wait = args::timeout(timeout)?;
        self.refuse_to_wait_inside_interning(wait)?;
        let Some(producer) = self.producer(py, producer_id) else {
            product.hash()?;
            return Ok(None);
        };
        let pin = self
            .class_of(py, product, true)?
            .expect("a class is made when missing");
        let (handle, displaced) =
            self.state(py)
                .keep_object(py, pin.slot(), product.clone().unbind())?;
        drop(displaced);
        let key = Key {
            slot: pin.slot(),
            handle,
        };
        Ok(Some(Offer {
            producer,
            pin,
            key,
            wait,
        }))
    }

    pub(super) fn try_add(
        &self,
        py: Python<'_>,
        active: &mut Active,
        cart_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match self.first_add(py, cart_id, product, timeout)? {
            Next::Done(done) => Ok(done),
            Next::Wait(AddWait {
                cart,
                pin,
                probe,
                wait,
            }) => {
                let added = self.wait_to_add(py, active, cart, Key::probe(pin.slot()), wait);
                // Before the pin goes: the class is alive until then.
                let product = self.state(py).take_probe(py, probe);
                drop(product);
                added
            }
        }
    }

    /// An add's first attempt, the same for its blocking and async forms: checks the
    /// arguments, finds the cart and the product's class, and tries to take an item.
    pub(super) fn first_add<'a, 'py>(
        &'a self,
        py: Python<'py>,
        cart_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Next<AddWait<'a, 'py>>> {
        let cart_id = args::id(cart_id, "cart_id")?;
        let wait = args::timeout(timeout)?;
        self.refuse_to_wait_inside_interning(wait)?;
        let Some(cart) = self.cart(py, cart_id) else {
            product.hash()?;
            return Ok(Next::Done(false));
        };
        // A waiting call makes the class if no equal product is alive yet, to wait on it.
        let Some(pin) = self.class_of(py, product, wait != Wait::No)? else {
            return Ok(Next::Done(false));
        };
        match self.engine.add_to_cart(cart, &Key::probe(pin.slot())) {
            Ok(()) => Ok(Next::Done(true)),
            Err(AddError::Unavailable) if wait != Wait::No => {
                let (probe, displaced) =
                    self.state(py)
                        .keep_probe(py, pin.slot(), product.clone().unbind())?;
                drop(displaced);
                Ok(Next::Wait(AddWait {
                    cart,
                    pin,
                    probe,
                    wait,
                }))
            }
            Err(_) => Ok(Next::Done(false)),
        }
    }

    pub(super) fn try_remove(
        &self,
        py: Python<'_>,
        cart_id: &Bound<'_, PyAny>,
        product: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let cart_id = args::id(cart_id, "cart_id")?;
        let Some(cart) = self.cart(py, cart_id) else {
            product.hash()?;
            return Ok(false);
        };
        let Some(pin) = self.class_of(py, product, false)? else {
            return Ok(false);
        };
        Ok(self
            .engine
            .remove_from_cart(cart, &Key::probe(pin.slot()))
            .is_ok())
    }

    pub(super) fn try_order<'py>(
        &self,
        py: Python<'py>,
        cart_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let serial = args::id(cart_id, "cart_id")?;
        let no_such_cart = || PyKeyError::new_err(cart_id.clone().unbind());
        let cart = serial
            .and_then(|serial| self.state(py).remove_cart(serial))
            .ok_or_else(no_such_cart)?;
        let keys = self.engine.place_order(cart).map_err(|_| no_such_cart())?;
        self.ordered.stop(cart.serial());
        let objects: Vec<Py<PyAny>> = {
            let mut state = self.state(py);
            keys.iter()
                .map(|key| state.take_object(py, key.handle))
                .collect()
        };
        // One release per class, however many of its items the cart holds.
        let mut slots: Vec<u32> = keys.iter().map(|key| key.slot).collect();
        slots.sort_unstable();
        let releases: Vec<(u32, usize)> = slots
            .chunk_by(|a, b| a == b)
            .map(|run| (run[0], run.len()))
            .collect();
        self.unref(py, &releases);
        PyList::new(py, objects)
    }
}
