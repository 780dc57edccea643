//! What the workloads and the engine's tests add to the contract's [`Market`] trait: a
//! fresh marketplace of each kind ([`Fresh`]), the classic one-`Mutex` design waiting as
//! the engine does ([`YieldingBaseline`]), and blocking helpers for benchmarks
//! ([`Workload`]: `publish_wait`, `add_wait`, ...), which turn a timeout of [`STALL`] into
//! a panic, since a benchmark that waits that long has met a deadlock.

use std::fmt::Debug;
use std::hash::Hash;
use std::ops::Deref;
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{Marketplace, PublishError};
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

// The baseline's operations: its inner `LockedMarketplace`'s, through `Deref`.
marketplace_contract::in_process_market!(YieldingBaseline<P>, LockedMarketplace);
