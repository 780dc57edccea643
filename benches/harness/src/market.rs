//! What the workloads and the engine's tests add to the contract's [`Market`] trait: a
//! fresh marketplace of each kind ([`Fresh`]), the classic one-`Mutex` design waiting as
//! the engine does ([`YieldingBaseline`]), and blocking helpers for benchmarks
//! ([`Workload`]: `publish_wait`, `add_wait`, ...), which turn a timeout of [`STALL`] into
//! a panic, since a benchmark that waits that long has met a deadlock.

use std::convert::Infallible;
use std::fmt::Debug;
use std::hash::Hash;
use std::ops::Deref;
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{
    AddError, CartId, Marketplace, OrderError, ProducerId, PublishError, RemoveError, Stats,
};
pub use marketplace_contract::{Id, Market};

/// A blocking call that waits this long has met a deadlock: the helpers panic.
pub const STALL: Duration = Duration::from_secs(30);

/// A marketplace of a kind, new and empty, with this capacity per producer.
pub trait Fresh: Sized {
    /// `new` (a Redis market: a fresh one on the test server).
    fn create(queue_size_per_producer: usize) -> Self;
}

impl<P: Eq + Hash + Clone + Debug + Send + Sync> Fresh for Marketplace<P> {
    fn create(queue_size_per_producer: usize) -> Self {
        Marketplace::new(queue_size_per_producer)
    }
}

impl<P: Eq + Hash + Clone + Debug + Send + Sync> Fresh for LockedMarketplace<P> {
    fn create(queue_size_per_producer: usize) -> Self {
        LockedMarketplace::new(queue_size_per_producer)
    }
}

impl<P: Eq + Hash + Clone + Debug + Send + Sync> Fresh for YieldingBaseline<P> {
    fn create(queue_size_per_producer: usize) -> Self {
        YieldingBaseline(LockedMarketplace::yielding(queue_size_per_producer))
    }
}

/// Blocking helpers for workloads, on every [`Market`].
pub trait Workload<P>: Market<P> {
    /// `publish_timeout` with [`STALL`]; panics if it does not succeed.
    fn publish_wait(&self, producer: Self::Producer, product: P) {
        match self.publish_timeout(producer, product, STALL) {
            Ok(()) => {}
            Err(PublishError::Full(_)) => panic!("publish stalled: deadlock?"),
            Err(error) => panic!("publish: {error}"),
        }
    }

    /// `add_to_cart_timeout` with [`STALL`]; panics if it does not succeed.
    fn add_wait(&self, cart: Self::Cart, product: &P) {
        if let Err(error) = self.add_to_cart_timeout(cart, product, STALL) {
            panic!("add_to_cart stalled or failed: {error}");
        }
    }

    /// `remove_from_cart`; panics if the item is not in the cart.
    fn remove(&self, cart: Self::Cart, product: &P) {
        self.remove_from_cart(cart, product).expect("item in cart");
    }

    /// `place_order`; the number of items ordered. Panics if the cart is not open.
    fn order_count(&self, cart: Self::Cart) -> usize {
        self.place_order(cart).expect("open cart").len()
    }
}

impl<P, M: Market<P>> Workload<P> for M {}

/// The classic one-`Mutex` design waiting as the engine does
/// (`LockedMarketplace::yielding`): a wait path of its own that must keep every rule too.
#[derive(Debug)]
pub struct YieldingBaseline<P>(pub LockedMarketplace<P>);

impl<P> Deref for YieldingBaseline<P> {
    type Target = LockedMarketplace<P>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The baseline's operations, through its inner `LockedMarketplace`.
impl<P: Eq + Hash + Clone + Debug + Send + Sync> Market<P> for YieldingBaseline<P> {
    type Producer = ProducerId;
    type Cart = CartId;
    type Failure = Infallible;

    fn try_register_producer(&self) -> Result<ProducerId, Infallible> {
        self.0.try_register_producer()
    }
    fn try_publish(
        &self,
        producer: ProducerId,
        product: P,
    ) -> Result<Result<(), PublishError<P>>, Infallible> {
        self.0.try_publish(producer, product)
    }
    fn try_publish_timeout(
        &self,
        producer: ProducerId,
        product: P,
        timeout: Duration,
    ) -> Result<Result<(), PublishError<P>>, Infallible> {
        self.0.try_publish_timeout(producer, product, timeout)
    }
    fn try_new_cart(&self) -> Result<CartId, Infallible> {
        self.0.try_new_cart()
    }
    fn try_add_to_cart(
        &self,
        cart: CartId,
        product: &P,
    ) -> Result<Result<(), AddError>, Infallible> {
        self.0.try_add_to_cart(cart, product)
    }
    fn try_add_to_cart_timeout(
        &self,
        cart: CartId,
        product: &P,
        timeout: Duration,
    ) -> Result<Result<(), AddError>, Infallible> {
        self.0.try_add_to_cart_timeout(cart, product, timeout)
    }
    fn try_remove_from_cart(
        &self,
        cart: CartId,
        product: &P,
    ) -> Result<Result<(), RemoveError>, Infallible> {
        self.0.try_remove_from_cart(cart, product)
    }
    fn try_place_order(&self, cart: CartId) -> Result<Result<Vec<P>, OrderError>, Infallible> {
        self.0.try_place_order(cart)
    }
    fn try_shelf_len(&self, producer: ProducerId) -> Result<Option<usize>, Infallible> {
        self.0.try_shelf_len(producer)
    }
    fn try_available(&self, product: &P) -> Result<usize, Infallible> {
        self.0.try_available(product)
    }
    fn try_stats(&self) -> Result<Stats, Infallible> {
        self.0.try_stats()
    }
    fn try_close(&self) -> Result<(), Infallible> {
        self.0.try_close()
    }
}
