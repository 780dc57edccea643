//! The one trait over both marketplaces: the engine's API, mirrored method for method, so a
//! workload or a test is written once and run on [`Marketplace`], on the classic
//! [`LockedMarketplace`] and on the classic design with the engine's wait policy
//! ([`YieldingBaseline`]). The benchmark workload and the engine's tests both use it.
//!
//! Blocking helpers for benchmarks (`publish_wait`, `add_wait`, ...) are provided methods:
//! they turn a timeout of [`STALL`] into a panic, since a benchmark that waits that long
//! has met a deadlock.

use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::ops::Deref;
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{
    AddError, CartId, Marketplace, OrderError, ProducerId, PublishError, RemoveError, Stats,
};

/// A blocking call that waits this long has met a deadlock: the helpers panic.
pub const STALL: Duration = Duration::from_secs(30);

/// A producer or cart id of some marketplace: copied, compared, shown as the engine shows
/// its own (`producer 3`, `cart 7`), and numbered from 0 in issue order.
pub trait Id: Copy + Eq + Debug + Display + Send + Sync {
    /// The producer's index or the cart's serial.
    fn number(self) -> u64;
}

impl Id for ProducerId {
    fn number(self) -> u64 {
        self.index() as u64
    }
}

impl Id for CartId {
    fn number(self) -> u64 {
        self.serial()
    }
}

/// The operations every marketplace shares (see each method on [`Marketplace`]).
pub trait Market<P>: Sync + Sized {
    /// What `register_producer` issues.
    type Producer: Id;
    /// What `new_cart` issues.
    type Cart: Id;

    /// `new`: a marketplace with this capacity per producer.
    fn create(queue_size_per_producer: usize) -> Self;
    /// `register_producer`.
    fn register_producer(&self) -> Self::Producer;
    /// `publish`.
    fn publish(&self, producer: Self::Producer, product: P) -> Result<(), PublishError<P>>;
    /// `publish_timeout`.
    fn publish_timeout(
        &self,
        producer: Self::Producer,
        product: P,
        timeout: Duration,
    ) -> Result<(), PublishError<P>>;
    /// `new_cart`.
    fn new_cart(&self) -> Self::Cart;
    /// `add_to_cart`.
    fn add_to_cart(&self, cart: Self::Cart, product: &P) -> Result<(), AddError>;
    /// `add_to_cart_timeout`.
    fn add_to_cart_timeout(
        &self,
        cart: Self::Cart,
        product: &P,
        timeout: Duration,
    ) -> Result<(), AddError>;
    /// `remove_from_cart`.
    fn remove_from_cart(&self, cart: Self::Cart, product: &P) -> Result<(), RemoveError>;
    /// `place_order`.
    fn place_order(&self, cart: Self::Cart) -> Result<Vec<P>, OrderError>;
    /// `shelf_len`.
    fn shelf_len(&self, producer: Self::Producer) -> Option<usize>;
    /// `available`.
    fn available(&self, product: &P) -> usize;
    /// `stats`.
    fn stats(&self) -> Stats;
    /// `close`.
    fn close(&self);

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

/// Implements [`Market`] for a type whose inherent methods (reached through `$market`)
/// have the engine's names and signatures.
macro_rules! impl_market {
    ($type:ty, $market:ident, $create:expr) => {
        impl<P: Eq + Hash + Clone + Debug + Send + Sync> Market<P> for $type {
            type Producer = ProducerId;
            type Cart = CartId;

            fn create(queue_size_per_producer: usize) -> Self {
                $create(queue_size_per_producer)
            }
            fn register_producer(&self) -> Self::Producer {
                $market::register_producer(self)
            }
            fn publish(&self, producer: Self::Producer, product: P) -> Result<(), PublishError<P>> {
                $market::publish(self, producer, product)
            }
            fn publish_timeout(
                &self,
                producer: Self::Producer,
                product: P,
                timeout: Duration,
            ) -> Result<(), PublishError<P>> {
                $market::publish_timeout(self, producer, product, timeout)
            }
            fn new_cart(&self) -> Self::Cart {
                $market::new_cart(self)
            }
            fn add_to_cart(&self, cart: Self::Cart, product: &P) -> Result<(), AddError> {
                $market::add_to_cart(self, cart, product)
            }
            fn add_to_cart_timeout(
                &self,
                cart: Self::Cart,
                product: &P,
                timeout: Duration,
            ) -> Result<(), AddError> {
                $market::add_to_cart_timeout(self, cart, product, timeout)
            }
            fn remove_from_cart(&self, cart: Self::Cart, product: &P) -> Result<(), RemoveError> {
                $market::remove_from_cart(self, cart, product)
            }
            fn place_order(&self, cart: Self::Cart) -> Result<Vec<P>, OrderError> {
                $market::place_order(self, cart)
            }
            fn shelf_len(&self, producer: Self::Producer) -> Option<usize> {
                $market::shelf_len(self, producer)
            }
            fn available(&self, product: &P) -> usize {
                $market::available(self, product)
            }
            fn stats(&self) -> Stats {
                $market::stats(self)
            }
            fn close(&self) {
                $market::close(self)
            }
        }
    };
}

impl_market!(Marketplace<P>, Marketplace, Marketplace::new);
impl_market!(
    LockedMarketplace<P>,
    LockedMarketplace,
    LockedMarketplace::new
);
impl_market!(YieldingBaseline<P>, LockedMarketplace, |queue_size| {
    YieldingBaseline(LockedMarketplace::yielding(queue_size))
});
