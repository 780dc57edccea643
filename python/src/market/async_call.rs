//! The async forms' calls (`publish_async`, `add_to_cart_async`): the blocking form's first
//! attempt, under the GIL, then the engine's async wait, awaited from asyncio (`aio`).
//!
//! Invariants:
//! - while its wait is pending, a call holds its class's pin, and a publish its object (an
//!   add its product), in a [`Held`], given back when the task awaiting it is cancelled;
//!   nothing is awaited between the engine's success and [`Held::settle`], so the item is
//!   published (or in the cart) exactly when the call returns true;
//! - each call is logged once ([`AsyncCall`]): as it ends, as the blocking calls are, or as
//!   `cancelled` when its task drops it before.

use std::sync::Arc;

use marketplace::PublishError;
use pyo3::prelude::*;

use super::Marketplace;
use super::calls::{AddWait, Next, Offer};
use super::waits::Waiting;
use crate::aio;
use crate::args::Wait;
use crate::shutdown::Active;
use crate::state::Key;

/// What an async wait holds while it is pending: its class's pin and, for a publish, the
/// object kept under `handle`, for an add, its product kept under `probe`. Given back when
/// dropped, as when the task awaiting it is cancelled, unless [`settled`](Held::settle) as
/// a published item's own.
struct Held<'a> {
    market: &'a Marketplace,
    slot: u32,
    handle: Option<u32>,
    probe: Option<u32>,
}

impl Held<'_> {
    /// Ends the wait: a published item keeps the pin and the object; otherwise both are
    /// given back.
    fn settle(self, published: bool) {
        if published {
            std::mem::forget(self);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        Python::attach(|py| {
            let _active = Active::enter(py);
            if let Some(handle) = self.handle {
                let object = self.market.state(py).take_object(py, handle);
                drop(object);
            }
            if let Some(probe) = self.probe {
                let product = self.market.state(py).take_probe(py, probe);
                drop(product);
            }
            self.market.unref(py, &[(self.slot, 1)]);
        });
    }
}

/// An async call's record: logged when it ends, as the blocking calls are, or as
/// `cancelled` when its task drops it before (the engine's own async calls log the same).
pub(super) struct AsyncCall<'a> {
    market: &'a Marketplace,
    /// The call's opening up to the last of `args`, as for [`Marketplace::log_waitable`].
    call: &'static str,
    args: [Py<PyAny>; 2],
    timeout: Option<Py<PyAny>>,
    logging: bool,
    ended: bool,
}

impl<'a> AsyncCall<'a> {
    /// As a blocking call begins: a pending Ctrl-C is raised here, with nothing done, and
    /// the log level is asked.
    pub(super) fn begin(
        market: &'a Marketplace,
        call: &'static str,
        args: [Py<PyAny>; 2],
        timeout: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let logging = Python::attach(|py| {
            let _active = Active::enter(py);
            market.logging(py)
        })?;
        Ok(Self {
            market,
            call,
            args,
            timeout,
            logging,
            ended: false,
        })
    }

    pub(super) fn end(mut self, outcome: PyResult<bool>) -> PyResult<bool> {
        self.ended = true;
        Python::attach(|py| {
            let _active = Active::enter(py);
            aio::pass_on_stalled_wake_ups(py);
        });
        if self.logging {
            Python::attach(|py| {
                let _active = Active::enter(py);
                let [first, second] = &self.args;
                self.market.log_waitable(
                    py,
                    self.call,
                    [first.bind(py), second.bind(py)],
                    self.timeout.as_ref().map(|timeout| timeout.bind(py)),
                    &outcome,
                );
            });
        }
        outcome
    }
}

impl Drop for AsyncCall<'_> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        Python::attach(|py| {
            let _active = Active::enter(py);
            // A wait dropped with a wake-up passes it on, maybe to a stopped loop's task.
            aio::pass_on_stalled_wake_ups(py);
            if !self.logging {
                return;
            }
            let call = match self.timeout {
                None => format!("{})", self.call),
                Some(_) => format!("{}, timeout=%r)", self.call),
            };
            let args = self.args.iter().chain(&self.timeout);
            let args = args.map(|arg| arg.bind(py).clone());
            self.market.log.record_cancelled(py, &call, args);
        });
    }
}

impl Marketplace {
    /// `publish_async`'s work: the blocking form's first attempt, then the engine's async
    /// wait for room.
    pub(super) async fn publish_on_loop(&self, call: &AsyncCall<'_>) -> PyResult<bool> {
        let first = Python::attach(|py| -> PyResult<_> {
            let _active = Active::enter(py);
            let [producer_id, product] = &call.args;
            let timeout = call.timeout.as_ref().map(|timeout| timeout.bind(py));
            let Some(offer) = self.offer(py, producer_id.bind(py), product.bind(py), timeout)?
            else {
                return Ok(Next::Done(false));
            };
            let Offer {
                producer,
                pin,
                key,
                wait,
            } = offer;
            let held = Held {
                market: self,
                slot: pin.detach().slot,
                handle: Some(key.handle),
                probe: None,
            };
            let published = match self.engine.publish(producer, key) {
                Ok(()) => true,
                Err(PublishError::Full(_)) if wait != Wait::No => {
                    return Ok(Next::Wait((held, producer, key, wait)));
                }
                Err(_) => false,
            };
            held.settle(published);
            Ok(Next::Done(published))
        })?;
        let (held, producer, key, wait) = match first {
            Next::Done(done) => return Ok(done),
            Next::Wait(waiting) => waiting,
        };
        let _waiting = Waiting::new(&self.waiting);
        let engine = Arc::clone(&self.engine);
        let publish = move || -> aio::EngineWait {
            let engine = Arc::clone(&engine);
            Box::pin(async move { engine.publish_async(producer, key).await.is_ok() })
        };
        let waited = aio::wait_on_loop(Box::new(publish), wait.limit(), None);
        // Nothing is awaited between the engine's publish and `settle`, so no cancellation
        // comes between them: a task dropped while it waits has published nothing.
        let published = waited.await? == Some(true);
        held.settle(published);
        Ok(published)
    }

    /// `add_to_cart_async`'s work: the blocking form's first attempt, then the engine's
    /// async wait for an item.
    pub(super) async fn add_on_loop(&self, call: &AsyncCall<'_>) -> PyResult<bool> {
        let first = Python::attach(|py| -> PyResult<_> {
            let _active = Active::enter(py);
            let [cart_id, product] = &call.args;
            let timeout = call.timeout.as_ref().map(|timeout| timeout.bind(py));
            Ok(
                match self.first_add(py, cart_id.bind(py), product.bind(py), timeout)? {
                    Next::Done(done) => Next::Done(done),
                    Next::Wait(AddWait {
                        cart,
                        pin,
                        probe,
                        wait,
                    }) => {
                        let held = Held {
                            market: self,
                            slot: pin.detach().slot,
                            handle: None,
                            probe: Some(probe),
                        };
                        Next::Wait((held, cart, wait))
                    }
                },
            )
        })?;
        let (held, cart, wait) = match first {
            Next::Done(done) => return Ok(done),
            Next::Wait(waiting) => waiting,
        };
        let _waiting = Waiting::new(&self.waiting);
        let probe = Key::probe(held.slot);
        let engine = Arc::clone(&self.engine);
        let add = move || -> aio::EngineWait {
            let engine = Arc::clone(&engine);
            Box::pin(async move { engine.add_to_cart_async(cart, &probe).await.is_ok() })
        };
        let waited = aio::wait_on_loop(
            Box::new(add),
            wait.limit(),
            Some((&self.ordered, cart.serial())),
        );
        // As in `publish_on_loop`: the item is in the cart only if this returns true.
        let added = waited.await? == Some(true);
        drop(held);
        Ok(added)
    }
}
