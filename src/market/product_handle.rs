//! Product handles: a product resolved to its catalog entry once, for calls that then skip
//! hashing it and looking it up.
//!
//! A handle borrows its marketplace and refers to the product's entry, which the catalog
//! never moves or removes (see `catalog`), so the reference holds as long as the borrow.
//! Each of its calls does what the marketplace's call of the same name does with the
//! handle's product, through the same code from the first attempt on: only the hash and the
//! lookup are skipped, so the protocol, its proofs and its tests are the plain calls'. No
//! user code runs in a handle's calls but the `Clone` of a publish (which puts a clone of
//! the handle's product on sale) and the `Debug` of its log record.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use log::debug;

use super::async_call_log::AsyncCallLog;
use super::{Marketplace, Outcome};
use crate::catalog::Entry;
use crate::error::{AddError, PublishError};
use crate::hasher::DefaultHashBuilder;
use crate::ids::{CartId, ProducerId};

impl<P: Eq + Hash + Clone + fmt::Debug + Send + Sync, S: BuildHasher> Marketplace<P, S> {
    /// Resolves `product` once, for calls that then skip hashing and looking it up: a
    /// [`ProductHandle`], whose calls behave as the marketplace's calls of the same names
    /// with this product.
    ///
    /// Runs the user's `Hash` and `Eq` (and `Clone`, the first time the marketplace sees the
    /// product); the handle's calls run neither. Resolving a product never published makes
    /// its shelf, as its first publish would: the catalog holds every product ever published
    /// or resolved, each once.
    ///
    /// # Panics
    ///
    /// Panics if `product` is new to the marketplace and the catalog already holds 2^32 - 1
    /// distinct products (see [Limits](Self#limits)).
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::new(4);
    /// let producer = market.register_producer();
    /// let tea = market.product(&"tea");
    /// tea.publish(producer).unwrap(); // puts a clone of "tea" on sale
    /// market.publish(producer, "tea").unwrap(); // the same shelf, found by hashing
    /// assert_eq!(tea.available(), 2);
    ///
    /// let cart = market.new_cart();
    /// tea.add_to_cart(cart).unwrap();
    /// market.add_to_cart(cart, &"tea").unwrap();
    /// assert_eq!(market.place_order(cart).unwrap(), vec!["tea", "tea"]);
    /// ```
    #[must_use]
    pub fn product(&self, product: &P) -> ProductHandle<'_, P, S> {
        let hash = self.catalog.hash(product);
        let entry = self
            .catalog
            .get_or_insert(product, hash, || product.clone());
        debug!("product({product:?})");
        ProductHandle {
            market: self,
            entry,
        }
    }
}

/// A product of a [`Marketplace`], resolved once by [`Marketplace::product`].
///
/// Its calls are the marketplace's calls of the same names for this product, with the same
/// outcomes, waits and errors, minus hashing the product and looking it up: they run none
/// of the user's `Hash` or `Eq`. Handles are `Copy`, and any number of threads may use one
/// at once, along with the plain calls for the same product.
///
/// ```
/// use std::time::Duration;
/// use marketplace::{AddError, Marketplace, PublishError};
///
/// let market = Marketplace::new(1);
/// let producer = market.register_producer();
/// let tea = market.product(&"tea");
/// assert_eq!(tea.product(), &"tea");
/// let cart = market.new_cart();
/// assert_eq!(tea.add_to_cart(cart), Err(AddError::Unavailable));
/// std::thread::scope(|s| {
///     s.spawn(|| tea.publish(producer).unwrap());
///     // Waits, without spinning, until the thread above has published.
///     tea.add_to_cart_timeout(cart, Duration::from_secs(10)).unwrap();
/// });
/// tea.publish(producer).unwrap();
/// assert_eq!(tea.publish(producer), Err(PublishError::Full("tea")));
/// ```
pub struct ProductHandle<'m, P, S = DefaultHashBuilder> {
    market: &'m Marketplace<P, S>,
    /// The product's entry in `market`'s catalog, which lives as long as the marketplace.
    entry: &'m Entry<P>,
}

impl<P, S> Clone for ProductHandle<'_, P, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, S> Copy for ProductHandle<'_, P, S> {}

impl<P: fmt::Debug, S> fmt::Debug for ProductHandle<'_, P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProductHandle")
            .field(&self.entry.product)
            .finish()
    }
}

impl<'m, P: Eq + Hash + Clone + fmt::Debug + Send + Sync, S: BuildHasher> ProductHandle<'m, P, S> {
    /// The product this handle stands for (the catalog's copy of it).
    ///
    /// ```
    /// let market = marketplace::Marketplace::new(1);
    /// assert_eq!(market.product(&"tea").product(), &"tea");
    /// ```
    #[must_use]
    pub fn product(&self) -> &'m P {
        &self.entry.product
    }

    /// Puts a clone of the product on sale for `producer`: [`Marketplace::publish`].
    ///
    /// # Errors
    ///
    /// As [`Marketplace::publish`]'s, with the clone in the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::{Marketplace, PublishError};
    ///
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// let tea = market.product(&"tea");
    /// assert_eq!(tea.publish(producer), Ok(()));
    /// assert_eq!(tea.publish(producer), Err(PublishError::Full("tea")));
    /// ```
    pub fn publish(&self, producer: ProducerId) -> Result<(), PublishError<P>> {
        let product = self.product().clone();
        let outcome = match self.market.producer(producer) {
            None => Err(PublishError::UnknownProducer(product)),
            Some(registered) => self.market.try_publish(
                registered,
                producer.index,
                product,
                self.entry.hash,
                Some(self.entry),
            ),
        };
        debug!(
            "publish({producer}, {:?}) -> {}",
            self.product(),
            Outcome(&outcome)
        );
        outcome
    }

    /// Puts a clone of the product on sale for `producer`, waiting up to `timeout` for room:
    /// [`Marketplace::publish_timeout`].
    ///
    /// # Errors
    ///
    /// As [`Marketplace::publish_timeout`]'s, with the clone in the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// let tea = market.product(&"tea");
    /// tea.publish(producer).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| tea.add_to_cart_timeout(market.new_cart(), Duration::from_secs(10)));
    ///     // Full: waits until the thread above has taken the first tea.
    ///     tea.publish_timeout(producer, Duration::from_secs(10)).unwrap();
    /// });
    /// assert_eq!(tea.available(), 1);
    /// ```
    pub fn publish_timeout(
        &self,
        producer: ProducerId,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        let product = self.product().clone();
        let outcome = match self.market.producer(producer) {
            None => Err(PublishError::UnknownProducer(product)),
            Some(registered) => self.market.publish_or_wait(
                registered,
                producer.index,
                product,
                self.entry.hash,
                Some(self.entry),
                timeout,
            ),
        };
        debug!(
            "publish_timeout({producer}, {:?}, {timeout:?}) -> {}",
            self.product(),
            Outcome(&outcome)
        );
        outcome
    }

    /// Puts a clone of the product on sale for `producer`, as a future that waits for room:
    /// [`Marketplace::publish_async`], cancel-safe in the same way. The future borrows the
    /// marketplace, not the handle.
    ///
    /// # Errors
    ///
    /// As [`Marketplace::publish_async`]'s, with the clone in the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let market = Marketplace::new(3);
    /// let producer = market.register_producer();
    /// let publishes: Vec<_> = (0..3)
    ///     .map(|_| market.product(&"tea").publish_async(producer))
    ///     .collect();
    /// for publish in publishes {
    ///     publish.await.unwrap();
    /// }
    /// assert_eq!(market.available(&"tea"), 3);
    /// # }
    /// ```
    #[allow(
        clippy::manual_async_fn,
        reason = "the signature promises a Send future, which `async fn` would leave implicit"
    )]
    pub fn publish_async(
        &self,
        producer: ProducerId,
    ) -> impl Future<Output = Result<(), PublishError<P>>> + Send + use<'m, P, S>
    where
        S: Sync,
    {
        let handle = *self;
        async move {
            let log = AsyncCallLog::start(|| {
                format!("publish_async({producer}, {:?})", handle.product())
            });
            let product = handle.product().clone();
            let outcome = match handle.market.producer(producer) {
                None => Err(PublishError::UnknownProducer(product)),
                Some(registered) => {
                    handle
                        .market
                        .publish_or_wait_async(
                            registered,
                            producer.index,
                            product,
                            handle.entry.hash,
                            Some(handle.entry),
                        )
                        .await
                }
            };
            log.finish(Outcome(&outcome));
            outcome
        }
    }

    /// Moves one item of the product off the shelf into `cart`:
    /// [`Marketplace::add_to_cart`].
    ///
    /// # Errors
    ///
    /// As [`Marketplace::add_to_cart`]'s.
    ///
    /// # Panics
    ///
    /// As [`Marketplace::add_to_cart`]'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::{AddError, Marketplace};
    ///
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// let (tea, cart) = (market.product(&"tea"), market.new_cart());
    /// assert_eq!(tea.add_to_cart(cart), Err(AddError::Unavailable));
    /// tea.publish(producer).unwrap();
    /// assert_eq!(tea.add_to_cart(cart), Ok(()));
    /// ```
    pub fn add_to_cart(&self, cart: CartId) -> Result<(), AddError> {
        let outcome = match self.market.find_cart(cart) {
            None => Err(AddError::UnknownCart),
            Some(open) => self.market.try_add(&open, Some(self.entry)),
        };
        debug!(
            "add_to_cart({cart}, {:?}) -> {}",
            self.product(),
            Outcome(&outcome)
        );
        outcome
    }

    /// Moves one item of the product into `cart`, waiting up to `timeout` for one:
    /// [`Marketplace::add_to_cart_timeout`].
    ///
    /// # Errors
    ///
    /// As [`Marketplace::add_to_cart_timeout`]'s.
    ///
    /// # Panics
    ///
    /// As [`Marketplace::add_to_cart_timeout`]'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::{AddError, Marketplace};
    ///
    /// let market = Marketplace::new(1);
    /// let tea = market.product(&"tea");
    /// let waited = tea.add_to_cart_timeout(market.new_cart(), Duration::from_millis(1));
    /// assert_eq!(waited, Err(AddError::Unavailable));
    /// ```
    pub fn add_to_cart_timeout(&self, cart: CartId, timeout: Duration) -> Result<(), AddError> {
        let outcome = match self.market.find_cart(cart) {
            None => Err(AddError::UnknownCart),
            Some(open) => self.market.add_or_wait(
                &open,
                self.product(),
                self.entry.hash,
                Some(self.entry),
                timeout,
            ),
        };
        debug!(
            "add_to_cart_timeout({cart}, {:?}, {timeout:?}) -> {}",
            self.product(),
            Outcome(&outcome)
        );
        outcome
    }

    /// Moves one item of the product into `cart`, as a future that waits for one:
    /// [`Marketplace::add_to_cart_async`], cancel-safe in the same way. The future borrows
    /// the marketplace, not the handle.
    ///
    /// # Errors
    ///
    /// As [`Marketplace::add_to_cart_async`]'s.
    ///
    /// # Panics
    ///
    /// As [`Marketplace::add_to_cart_async`]'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// let cart = market.new_cart();
    /// let waiting = market.product(&"tea").add_to_cart_async(cart);
    /// market.publish(producer, "tea").unwrap();
    /// waiting.await.unwrap();
    /// assert_eq!(market.place_order(cart).unwrap(), vec!["tea"]);
    /// # }
    /// ```
    #[allow(
        clippy::manual_async_fn,
        reason = "the signature promises a Send future, which `async fn` would leave implicit"
    )]
    pub fn add_to_cart_async(
        &self,
        cart: CartId,
    ) -> impl Future<Output = Result<(), AddError>> + Send + use<'m, P, S>
    where
        S: Sync,
    {
        let handle = *self;
        async move {
            let log = AsyncCallLog::start(|| {
                format!("add_to_cart_async({cart}, {:?})", handle.product())
            });
            let outcome = match handle.market.find_cart(cart) {
                None => Err(AddError::UnknownCart),
                Some(open) => {
                    handle
                        .market
                        .add_or_wait_async(
                            &open,
                            handle.product(),
                            handle.entry.hash,
                            Some(handle.entry),
                        )
                        .await
                }
            };
            log.finish(Outcome(&outcome));
            outcome
        }
    }

    /// How many items of the product are on sale now: [`Marketplace::available`].
    ///
    /// ```
    /// let market = marketplace::Marketplace::new(2);
    /// let producer = market.register_producer();
    /// let tea = market.product(&"tea");
    /// assert_eq!(tea.available(), 0);
    /// market.publish(producer, "tea").unwrap();
    /// assert_eq!(tea.available(), 1);
    /// ```
    #[must_use]
    pub fn available(&self) -> usize {
        self.entry.shelf.len()
    }
}
