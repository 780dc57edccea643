//! The marketplaces the rounds run on: the engine, the one-lock baseline, a Redis market,
//! and two broken on purpose, each with the calls a round may make through a product handle
//! and the two about closing that a broken one answers its own way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{AddError, CartId, Marketplace, ProducerId, PublishError};
use marketplace_redis::RedisMarketplace;

use crate::Product;
use crate::support::{self, Market};

/// A marketplace the rounds run on: the contract's calls ([`Market`]), the four a round
/// may make through a product handle, which are the plain calls on a market without
/// handles, and `close` and `is_closed`, which a marketplace broken on purpose answers its
/// own way (the contract's trait has no `is_closed`).
pub(crate) trait Shop: Sync {
    type Market: Market<Product>;
    fn fresh(capacity: usize) -> Self;
    fn market(&self) -> &Self::Market;
    /// Returns the product it put on sale: a handle publishes a copy of its own.
    fn publish_as_planned(
        &self,
        producer: ProducerOf<Self>,
        item: Product,
        _via_handle: bool,
    ) -> (Product, Result<(), PublishError<Product>>) {
        (item.clone(), self.market().publish(producer, item))
    }
    /// `publish_timeout`, returning the product as `publish_as_planned` does.
    fn publish_timeout_as_planned(
        &self,
        producer: ProducerOf<Self>,
        item: Product,
        _via_handle: bool,
        timeout: Duration,
    ) -> (Product, Result<(), PublishError<Product>>) {
        let answer = self
            .market()
            .publish_timeout(producer, item.clone(), timeout);
        (item, answer)
    }
    fn add_as_planned(
        &self,
        cart: CartOf<Self>,
        kind: u8,
        _via_handle: bool,
    ) -> Result<(), AddError> {
        self.market().add_to_cart(cart, &support::any(kind))
    }
    fn add_timeout_as_planned(
        &self,
        cart: CartOf<Self>,
        kind: u8,
        _via_handle: bool,
        timeout: Duration,
    ) -> Result<(), AddError> {
        self.market()
            .add_to_cart_timeout(cart, &support::any(kind), timeout)
    }
    fn close(&self) {
        self.market().close();
    }
    /// `None`: it cannot say, and the rounds never ask.
    fn is_closed(&self) -> Option<bool> {
        None
    }
}

/// The ids a shop's market issues (a Redis market has its own): the checker knows
/// producers by index and carts by serial, so any ids do.
pub(crate) type ProducerOf<S> = <<S as Shop>::Market as Market<Product>>::Producer;
pub(crate) type CartOf<S> = <<S as Shop>::Market as Market<Product>>::Cart;

impl Shop for Marketplace<Product> {
    type Market = Self;
    fn fresh(capacity: usize) -> Self {
        Marketplace::new(capacity)
    }
    fn market(&self) -> &Self {
        self
    }
    fn publish_as_planned(
        &self,
        producer: ProducerId,
        item: Product,
        via_handle: bool,
    ) -> (Product, Result<(), PublishError<Product>>) {
        if !via_handle {
            return (item.clone(), Marketplace::publish(self, producer, item));
        }
        let handle = self.product(&item);
        (handle.product().clone(), handle.publish(producer))
    }
    fn publish_timeout_as_planned(
        &self,
        producer: ProducerId,
        item: Product,
        via_handle: bool,
        timeout: Duration,
    ) -> (Product, Result<(), PublishError<Product>>) {
        if !via_handle {
            let answer = Marketplace::publish_timeout(self, producer, item.clone(), timeout);
            return (item, answer);
        }
        let handle = self.product(&item);
        let answer = handle.publish_timeout(producer, timeout);
        (handle.product().clone(), answer)
    }
    fn add_as_planned(&self, cart: CartId, kind: u8, via_handle: bool) -> Result<(), AddError> {
        if via_handle {
            self.product(&support::any(kind)).add_to_cart(cart)
        } else {
            Marketplace::add_to_cart(self, cart, &support::any(kind))
        }
    }
    fn add_timeout_as_planned(
        &self,
        cart: CartId,
        kind: u8,
        via_handle: bool,
        timeout: Duration,
    ) -> Result<(), AddError> {
        let any = support::any(kind);
        if via_handle {
            self.product(&any).add_to_cart_timeout(cart, timeout)
        } else {
            Marketplace::add_to_cart_timeout(self, cart, &any, timeout)
        }
    }
    fn is_closed(&self) -> Option<bool> {
        Some(Marketplace::is_closed(self))
    }
}

/// The one-lock baseline: every operation one critical section, so its histories must pass
/// as atomic operations, which shows the stricter check is not stricter than the contract.
impl Shop for LockedMarketplace<Product> {
    type Market = Self;
    fn fresh(capacity: usize) -> Self {
        LockedMarketplace::new(capacity)
    }
    fn market(&self) -> &Self {
        self
    }
    fn is_closed(&self) -> Option<bool> {
        Some(LockedMarketplace::is_closed(self))
    }
}

/// A market of its own on the shared test server (`redis-server` on loopback) per round.
/// Redis runs each operation's script with nothing in between, so its histories must pass
/// as atomic operations. Answers come back in the engine's types (through [`Market`]), so
/// they render as the model's do. A call that cannot reach the server panics: that says
/// the test's server failed, not what the contract answers.
impl Shop for RedisMarketplace<Product> {
    type Market = Self;
    fn fresh(capacity: usize) -> Self {
        support::Fresh::create(capacity)
    }
    fn market(&self) -> &Self {
        self
    }
    fn is_closed(&self) -> Option<bool> {
        let answer = RedisMarketplace::is_closed(self);
        Some(answer.unwrap_or_else(|error| panic!("the test's Redis server failed: {error}")))
    }
}

/// The engine, except that a take with two or more equal items on sale gets the second
/// oldest: it takes two and gives the first back, which puts it last. Every single call
/// still conserves items and counts; only the FIFO rule of the contract is broken.
pub(crate) struct SecondOldest(Marketplace<Product>);

impl Shop for SecondOldest {
    type Market = Marketplace<Product>;
    fn fresh(capacity: usize) -> Self {
        Self(Marketplace::new(capacity))
    }
    fn market(&self) -> &Marketplace<Product> {
        &self.0
    }
    fn is_closed(&self) -> Option<bool> {
        Some(self.0.is_closed())
    }
    fn add_as_planned(&self, cart: CartId, kind: u8, _via_handle: bool) -> Result<(), AddError> {
        let any = support::any(kind);
        if self.0.available(&any) >= 2 && self.0.add_to_cart(cart, &any).is_ok() {
            if self.0.add_to_cart(cart, &any).is_ok() {
                // Gives back the first equal item in the cart: the one just taken, or one
                // taken before, wrong either way.
                let _ = self.0.remove_from_cart(cart, &any);
            }
            return Ok(());
        }
        self.0.add_to_cart(cart, &any)
    }
}

/// The engine, except that `close` only raises a flag of the wrapper's own, which
/// `is_closed` reports: the engine's waits never hear of it and sleep out their timeouts.
/// Every answer is one the engine could give; only how long a wait lasts after `close` is
/// wrong.
pub(crate) struct CloseSparesWaits {
    market: Marketplace<Product>,
    closed: AtomicBool,
}

impl Shop for CloseSparesWaits {
    type Market = Marketplace<Product>;
    fn fresh(capacity: usize) -> Self {
        Self {
            market: Marketplace::new(capacity),
            closed: AtomicBool::new(false),
        }
    }
    fn market(&self) -> &Marketplace<Product> {
        &self.market
    }
    fn close(&self) {
        // Ordering: read only by `is_closed` on this wrapper, which the rounds order
        // through their clock.
        self.closed.store(true, Ordering::SeqCst);
    }
    fn is_closed(&self) -> Option<bool> {
        // Ordering: as in `close`.
        Some(self.closed.load(Ordering::SeqCst))
    }
}
