//! The marketplace: producers publish, consumers fill carts and place orders, with no
//! global lock.
//!
//! Where things live (see `shelf` and `cart` for each piece's own invariants):
//! - `producers`: the registry, read on every publish and every take, changed only by
//!   `register_producer`; an append-only vector, so a read is two plain loads and never
//!   waits. Index `i` is producer `i`.
//! - `products`: one `ProductShelf` per distinct product ever published, found by hashing
//!   the product in a lock-free map, so no operation scans producers or product kinds, and
//!   threads asking for the same product never contend on the lookup.
//! - `carts`: open carts by serial. A cart leaves the map when its order is placed, so the
//!   map holds open carts only and memory does not grow with the number of orders.
//!
//! Locks: the only locks are the `carts` map's shards (waits use a leaf lock in `wait`).
//! Nothing is called while holding a `carts` shard except the cart's own methods and a
//! product shelf's lock-free queue, so there is no lock order to get wrong.
//!
//! Conservation: an item is, at every moment, in exactly one of three places: on its
//! product's shelf, in one cart, or held by the single thread moving it between the two (the
//! winner of the claim in `remove_from_cart`, or the taker in `add_to_cart`).

use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::time::Duration;

use log::{Level, debug, log_enabled};

use crate::cart::{Cart, SerialHash};
use crate::error::{AddError, OrderError, PublishError, RemoveError};
use crate::ids::{CartId, ProducerId};
use crate::item::Item;
use crate::producer_quota::ProducerQuota;
use crate::product_shelf::ProductShelf;
use crate::sync::{
    AppendOnlyVec, Arc, AtomicBool, AtomicU64, CachePadded, Catalog, ConcurrentMap, Ordering,
    next_market_tag,
};

/// A multi-producer, multi-consumer marketplace of products of type `P`.
///
/// Producers [`publish`](Self::publish) products, each producer holding at most
/// `queue_size_per_producer` of them on the shelf at once. Consumers open carts, move
/// products from the shelf into them with [`add_to_cart`](Self::add_to_cart), may give them
/// back with [`remove_from_cart`](Self::remove_from_cart), and finally
/// [`place_order`](Self::place_order). Equal products are interchangeable: asking for a
/// product takes the oldest equal item on sale, whoever made it.
///
/// Every operation is safe to call from any number of threads at once; share the marketplace
/// with an [`Arc`](std::sync::Arc) or scoped threads. No operation takes a global lock.
///
/// ```
/// use marketplace::Marketplace;
///
/// let market = Marketplace::new(3);
/// let producer = market.register_producer();
/// market.publish(producer, "green tea").unwrap();
///
/// let cart = market.new_cart();
/// market.add_to_cart(cart, &"green tea").unwrap();
/// assert_eq!(market.place_order(cart).unwrap(), vec!["green tea"]);
/// ```
pub struct Marketplace<P> {
    /// Stamped into every id issued here; ids with another tag are foreign.
    tag: u32,
    queue_size_per_producer: usize,
    /// Append-only: a registered producer is never removed, so an index, once valid, stays
    /// valid.
    producers: AppendOnlyVec<ProducerQuota>,
    /// Product shelves are created on first publish and kept, so a waiter's shelf stays the
    /// one publishers use.
    products: Catalog<P, Arc<ProductShelf<P>>>,
    /// Open carts only.
    carts: ConcurrentMap<u64, Cart<P>, SerialHash>,
    /// Serial of the next cart; serials are never reused.
    next_cart: CachePadded<AtomicU64>,
    /// Set by `close`; blocking waits stop waiting once it is.
    closed: AtomicBool,
}

/// A snapshot of a marketplace's size, from [`Marketplace::stats`].
///
/// Taken without stopping other threads, so under concurrent use the figures may come from
/// slightly different moments.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Stats {
    /// Producers registered so far.
    pub producers: usize,
    /// Carts opened and not yet ordered.
    pub open_carts: usize,
    /// Items published (or returned) and not taken into a cart.
    pub items_on_shelves: usize,
    /// Items sitting in open carts.
    pub items_in_carts: usize,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} producers, {} open carts, {} items on shelves, {} items in carts",
            self.producers, self.open_carts, self.items_on_shelves, self.items_in_carts
        )
    }
}

impl<P> fmt::Debug for Marketplace<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Marketplace")
            .field("queue_size_per_producer", &self.queue_size_per_producer)
            .field("producers", &self.producers.len())
            .field("open_carts", &self.carts.len())
            .finish_non_exhaustive()
    }
}

impl<P: Eq + Hash + Clone + fmt::Debug + Send + Sync> Marketplace<P> {
    /// Creates a marketplace where each producer may have up to `queue_size_per_producer`
    /// products on the shelf at once.
    ///
    /// # Panics
    ///
    /// Panics if `queue_size_per_producer` is zero (as `ArrayQueue::new` does): a producer
    /// could then never publish anything.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::<String>::new(15);
    /// assert_eq!(market.queue_size_per_producer(), 15);
    /// ```
    pub fn new(queue_size_per_producer: usize) -> Self {
        assert!(
            queue_size_per_producer > 0,
            "queue_size_per_producer must be at least 1"
        );
        Self {
            tag: next_market_tag(),
            queue_size_per_producer,
            producers: AppendOnlyVec::new(),
            products: Catalog::new(),
            carts: ConcurrentMap::new(),
            next_cart: CachePadded::new(AtomicU64::new(0)),
            closed: AtomicBool::new(false),
        }
    }

    /// How many products one producer may have on the shelf at once.
    pub fn queue_size_per_producer(&self) -> usize {
        self.queue_size_per_producer
    }

    /// Registers a new producer and returns its id.
    ///
    /// Registration is a lock-free append to the registry; ids are handed out in order, the
    /// first being index 0.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::<u32>::new(1);
    /// let producer = market.register_producer();
    /// assert_eq!(market.stats().producers, 1);
    /// assert_eq!(market.shelf_len(producer), Some(0));
    /// ```
    pub fn register_producer(&self) -> ProducerId {
        let index = self
            .producers
            .push(ProducerQuota::new(self.queue_size_per_producer));
        let index = u32::try_from(index).expect("more than u32::MAX producers");
        let id = ProducerId {
            market: self.tag,
            index,
        };
        debug!("register_producer() -> {id}");
        id
    }

    /// Puts `product` on sale for `producer`.
    ///
    /// Fails with [`PublishError::Full`] while the producer already has
    /// `queue_size_per_producer` products on the shelf (returned items included), and with
    /// [`PublishError::UnknownProducer`] for an id this marketplace did not issue; either way
    /// the product comes back in the error.
    ///
    /// ```
    /// use marketplace::{Marketplace, PublishError};
    ///
    /// let market = Marketplace::new(2);
    /// let producer = market.register_producer();
    /// assert_eq!(market.publish(producer, 'a'), Ok(()));
    /// assert_eq!(market.publish(producer, 'b'), Ok(()));
    /// assert_eq!(market.publish(producer, 'c'), Err(PublishError::Full('c')));
    /// ```
    pub fn publish(&self, producer: ProducerId, product: P) -> Result<(), PublishError<P>> {
        let shown = log_enabled!(Level::Debug).then(|| product.clone());
        let outcome = self.try_publish(producer, product);
        if let Some(product) = shown {
            debug!("publish({producer}, {product:?}) -> {}", Outcome(&outcome));
        }
        outcome
    }

    /// Like [`publish`](Self::publish), but when the producer is full, waits up to `timeout`
    /// for a consumer to take one of its products, without spinning.
    ///
    /// Gives the product back in [`PublishError::Full`] if the timeout passes (or the
    /// marketplace is [closed](Self::close)) first.
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// market.publish(producer, 1).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let cart = market.new_cart();
    ///         market.add_to_cart_timeout(cart, &1, Duration::from_secs(10)).unwrap();
    ///     });
    ///     // Blocks until the consumer above has taken the first product.
    ///     market.publish_timeout(producer, 2, Duration::from_secs(10)).unwrap();
    /// });
    /// ```
    pub fn publish_timeout(
        &self,
        producer: ProducerId,
        product: P,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        let shown = log_enabled!(Level::Debug).then(|| product.clone());
        let outcome = match self.try_publish(producer, product) {
            Err(PublishError::Full(product)) => self.wait_and_publish(producer, product, timeout),
            done => done,
        };
        if let Some(product) = shown {
            debug!(
                "publish_timeout({producer}, {product:?}, {timeout:?}) -> {}",
                Outcome(&outcome)
            );
        }
        outcome
    }

    /// Opens a new, empty cart.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::<u8>::new(1);
    /// let first = market.new_cart();
    /// let second = market.new_cart();
    /// assert_ne!(first, second);
    /// assert_eq!(market.stats().open_carts, 2);
    /// ```
    pub fn new_cart(&self) -> CartId {
        let serial = self.next_cart.fetch_add(1, Ordering::Relaxed);
        self.carts.insert(serial, Cart::new());
        let id = CartId {
            market: self.tag,
            serial,
        };
        debug!("new_cart() -> {id}");
        id
    }

    /// Moves one item equal to `product`, from any producer, off the shelf into `cart`.
    ///
    /// The item stops counting against its producer's capacity at once. Fails with
    /// [`AddError::Unavailable`] when no equal item is on sale right now (an ordinary,
    /// retryable outcome; see [`add_to_cart_timeout`](Self::add_to_cart_timeout) to wait) and
    /// with [`AddError::UnknownCart`] for a cart that is not open here.
    ///
    /// ```
    /// use marketplace::{AddError, Marketplace};
    ///
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// let cart = market.new_cart();
    /// assert_eq!(market.add_to_cart(cart, &"tea"), Err(AddError::Unavailable));
    /// market.publish(producer, "tea").unwrap();
    /// assert_eq!(market.add_to_cart(cart, &"tea"), Ok(()));
    /// // The producer has room again.
    /// assert_eq!(market.publish(producer, "tea"), Ok(()));
    /// ```
    pub fn add_to_cart(&self, cart: CartId, product: &P) -> Result<(), AddError> {
        let outcome = self.try_add(cart, product);
        debug!("add_to_cart({cart}, {product:?}) -> {}", Outcome(&outcome));
        outcome
    }

    /// Like [`add_to_cart`](Self::add_to_cart), but when no equal item is on sale, waits up
    /// to `timeout` for one to be published or returned, without spinning.
    ///
    /// Fails with [`AddError::Unavailable`] if the timeout passes (or the marketplace is
    /// [closed](Self::close)) first. A cart ordered by another thread while this call waits
    /// is noticed at the next arrival of the product or at the timeout, and reported as
    /// [`AddError::UnknownCart`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// let cart = market.new_cart();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| market.publish(producer, "coffee").unwrap());
    ///     market.add_to_cart_timeout(cart, &"coffee", Duration::from_secs(10)).unwrap();
    /// });
    /// assert_eq!(market.place_order(cart).unwrap(), vec!["coffee"]);
    /// ```
    pub fn add_to_cart_timeout(
        &self,
        cart: CartId,
        product: &P,
        timeout: Duration,
    ) -> Result<(), AddError> {
        let outcome = match self.try_add(cart, product) {
            Err(AddError::Unavailable) => self.wait_and_add(cart, product, timeout),
            done => done,
        };
        debug!(
            "add_to_cart_timeout({cart}, {product:?}, {timeout:?}) -> {}",
            Outcome(&outcome)
        );
        outcome
    }

    /// Takes one item equal to `product` out of `cart` and puts it back on sale, on the shelf
    /// of the producer that made it.
    ///
    /// The claim is atomic: of two threads removing the same item, exactly one succeeds. The
    /// return always succeeds, even when that producer has filled its queue meanwhile: it is
    /// then over capacity, and its publishes report [`PublishError::Full`] until consumers
    /// have taken enough. Fails with [`RemoveError::NotInCart`] when the cart holds no equal
    /// item and with [`RemoveError::UnknownCart`] for a cart that is not open here.
    ///
    /// ```
    /// use marketplace::{Marketplace, PublishError};
    ///
    /// let market = Marketplace::new(1);
    /// let producer = market.register_producer();
    /// let cart = market.new_cart();
    /// market.publish(producer, "tea").unwrap();
    /// market.add_to_cart(cart, &"tea").unwrap();
    /// market.publish(producer, "more tea").unwrap();
    ///
    /// market.remove_from_cart(cart, &"tea").unwrap();
    /// assert_eq!(market.shelf_len(producer), Some(2)); // over capacity: nothing is lost
    /// assert!(matches!(market.publish(producer, "tea"), Err(PublishError::Full(_))));
    /// ```
    pub fn remove_from_cart(&self, cart: CartId, product: &P) -> Result<(), RemoveError> {
        let outcome = self.try_remove(cart, product);
        debug!(
            "remove_from_cart({cart}, {product:?}) -> {}",
            Outcome(&outcome)
        );
        outcome
    }

    /// Places the order for `cart`: returns its products in the order they were added and
    /// retires the cart, whose id is then spent.
    ///
    /// ```
    /// use marketplace::{Marketplace, OrderError};
    ///
    /// let market = Marketplace::new(2);
    /// let producer = market.register_producer();
    /// market.publish(producer, "tea").unwrap();
    /// market.publish(producer, "coffee").unwrap();
    /// let cart = market.new_cart();
    /// market.add_to_cart(cart, &"coffee").unwrap();
    /// market.add_to_cart(cart, &"tea").unwrap();
    /// assert_eq!(market.place_order(cart), Ok(vec!["coffee", "tea"]));
    /// assert_eq!(market.place_order(cart), Err(OrderError::UnknownCart));
    /// ```
    pub fn place_order(&self, cart: CartId) -> Result<Vec<P>, OrderError> {
        let outcome = cart
            .serial_in(self.tag)
            .and_then(|serial| self.carts.remove(&serial))
            .map(Cart::into_products)
            .ok_or(OrderError::UnknownCart);
        if log_enabled!(Level::Debug) {
            match &outcome {
                Ok(products) => debug!("place_order({cart}) -> {products:?}"),
                Err(error) => debug!("place_order({cart}) -> {error}"),
            }
        }
        outcome
    }

    /// Stops every blocking wait: threads blocked in
    /// [`add_to_cart_timeout`](Self::add_to_cart_timeout) or
    /// [`publish_timeout`](Self::publish_timeout) wake and return their "unavailable" or
    /// "full" error, and later calls make one attempt and return at once.
    ///
    /// The non-blocking operations keep working, so what is on the shelves can still be
    /// bought. This is how a run ends producers that would otherwise wait forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::{AddError, Marketplace};
    ///
    /// let market = Marketplace::<&str>::new(1);
    /// let cart = market.new_cart();
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| market.add_to_cart_timeout(cart, &"tea", Duration::MAX));
    ///     market.close();
    ///     assert_eq!(waiter.join().unwrap(), Err(AddError::Unavailable));
    /// });
    /// ```
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.producers
            .for_each(|producer| producer.capacity_freed.wake_all());
        self.products
            .pin()
            .for_each(|shelf| shelf.arrivals.wake_all());
        debug!("close()");
    }

    /// True once [`close`](Self::close) has been called.
    ///
    /// ```
    /// let market = marketplace::Marketplace::<u8>::new(1);
    /// assert!(!market.is_closed());
    /// market.close();
    /// assert!(market.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// How many products `producer` has on the shelf now (returned items included), or
    /// `None` for an id this marketplace did not issue.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::new(4);
    /// let producer = market.register_producer();
    /// market.publish(producer, "tea").unwrap();
    /// assert_eq!(market.shelf_len(producer), Some(1));
    /// ```
    pub fn shelf_len(&self, producer: ProducerId) -> Option<usize> {
        self.shelf_of(producer).map(|shelf| shelf.on_sale())
    }

    /// How many items equal to `product` are on sale now.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::new(4);
    /// let producer = market.register_producer();
    /// market.publish(producer, "tea").unwrap();
    /// assert_eq!(market.available(&"tea"), 1);
    /// assert_eq!(market.available(&"coffee"), 0);
    /// ```
    pub fn available(&self, product: &P) -> usize {
        self.products
            .pin()
            .get(product)
            .map_or(0, |shelf| shelf.len())
    }

    /// A snapshot of the marketplace's size. It visits every producer and cart, so it is
    /// meant for reports and tests, not for hot paths.
    ///
    /// ```
    /// use marketplace::{Marketplace, Stats};
    ///
    /// let market = Marketplace::new(4);
    /// let producer = market.register_producer();
    /// market.publish(producer, "tea").unwrap();
    /// market.publish(producer, "coffee").unwrap();
    /// let cart = market.new_cart();
    /// market.add_to_cart(cart, &"tea").unwrap();
    /// assert_eq!(
    ///     market.stats(),
    ///     Stats { producers: 1, open_carts: 1, items_on_shelves: 1, items_in_carts: 1 }
    /// );
    /// ```
    pub fn stats(&self) -> Stats {
        let mut items_on_shelves = 0;
        self.producers
            .for_each(|shelf| items_on_shelves += shelf.on_sale());
        let mut items_in_carts = 0;
        self.carts.for_each(|cart| items_in_carts += cart.len());
        Stats {
            producers: self.producers.len(),
            open_carts: self.carts.len(),
            items_on_shelves,
            items_in_carts,
        }
    }

    fn try_publish(&self, producer: ProducerId, product: P) -> Result<(), PublishError<P>> {
        match self.shelf_of(producer).map(|shelf| shelf.try_reserve()) {
            None => return Err(PublishError::UnknownProducer(product)),
            Some(false) => return Err(PublishError::Full(product)),
            Some(true) => {}
        }
        self.put_on_sale(Item {
            product,
            producer: producer.index,
        });
        Ok(())
    }

    /// Puts an item whose unit is already recorded on its product's shelf.
    fn put_on_sale(&self, item: Item<P>) {
        let products = self.products.pin();
        if let Some(shelf) = products.get(&item.product) {
            shelf.put(item);
            return;
        }
        let key = item.product.clone();
        products
            .get_or_insert_with(key, || Arc::new(ProductShelf::new()))
            .put(item);
    }

    /// The slow path of `publish_timeout`, for a known producer that was full.
    fn wait_and_publish(
        &self,
        producer: ProducerId,
        product: P,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        let Some(shelf) = self.shelf_of(producer) else {
            return Err(PublishError::UnknownProducer(product));
        };
        let mut pending = Some(product);
        let published = shelf.capacity_freed.wait_for(timeout, &self.closed, || {
            shelf.try_reserve().then(|| {
                let product = pending.take().expect("published only once");
                self.put_on_sale(Item {
                    product,
                    producer: producer.index,
                });
            })
        });
        match published {
            Some(()) => Ok(()),
            None => Err(PublishError::Full(pending.expect("not published"))),
        }
    }

    fn try_add(&self, cart: CartId, product: &P) -> Result<(), AddError> {
        let serial = cart.serial_in(self.tag).ok_or(AddError::UnknownCart)?;
        let taken = match self.products.pin().get(product) {
            Some(shelf) => self.take_into_cart(serial, &shelf),
            None if self.carts.contains_key(&serial) => Err(AddError::Unavailable),
            None => Err(AddError::UnknownCart),
        };
        // Released only now, with no shard held: waking a blocked publisher must not happen
        // under a map lock.
        taken.map(|producer| self.release_unit(producer))
    }

    /// Takes the oldest item off `shelf` into the cart, both under the cart's lock, so an
    /// item is never taken for a cart that has meanwhile been ordered. Returns the item's
    /// producer, whose unit the caller must release.
    fn take_into_cart(&self, serial: u64, shelf: &ProductShelf<P>) -> Result<u32, AddError> {
        self.carts
            .with_mut(&serial, |cart| {
                let item = shelf.take()?;
                let producer = item.producer;
                cart.add(item);
                Some(producer)
            })
            .ok_or(AddError::UnknownCart)?
            .ok_or(AddError::Unavailable)
    }

    fn wait_and_add(&self, cart: CartId, product: &P, timeout: Duration) -> Result<(), AddError> {
        let serial = cart.serial_in(self.tag).ok_or(AddError::UnknownCart)?;
        let shelf = self.shelf_to_wait_on(product);
        let taken = shelf.arrivals.wait_for(timeout, &self.closed, || {
            match self.take_into_cart(serial, &shelf) {
                Err(AddError::Unavailable) => None,
                done => Some(done),
            }
        });
        taken
            .unwrap_or(Err(AddError::Unavailable))
            .map(|producer| self.release_unit(producer))
    }

    /// The product's shelf, created if none was ever published: publishers notify waiters
    /// through it. Held in an `Arc` because a wait may outlast any lookup's guard. Looks
    /// first, as inserting needs an owned copy of the product.
    fn shelf_to_wait_on(&self, product: &P) -> Arc<ProductShelf<P>> {
        let products = self.products.pin();
        match products.get(product) {
            Some(shelf) => Arc::clone(&shelf),
            None => Arc::clone(
                &products.get_or_insert_with(product.clone(), || Arc::new(ProductShelf::new())),
            ),
        }
    }

    fn try_remove(&self, cart: CartId, product: &P) -> Result<(), RemoveError> {
        let serial = cart.serial_in(self.tag).ok_or(RemoveError::UnknownCart)?;
        let item = self
            .carts
            .with_mut(&serial, |cart| cart.claim(product))
            .ok_or(RemoveError::UnknownCart)?
            .ok_or(RemoveError::NotInCart)?;
        // The claim is ours alone; now hand the item back to its producer.
        self.registered(item.producer).record_return();
        self.put_on_sale(item);
        Ok(())
    }

    /// Releases the capacity unit of an item that has just gone into a cart; `producer` is
    /// the item's own, so it is registered here.
    fn release_unit(&self, producer: u32) {
        self.registered(producer).release_unit();
    }

    /// The producer's shelf, or `None` for an id not issued here.
    fn shelf_of(&self, producer: ProducerId) -> Option<impl Deref<Target = ProducerQuota> + '_> {
        self.producers.get(producer.index_in(self.tag)?)
    }

    /// The shelf of the producer of an item on sale or in a cart, registered by construction.
    fn registered(&self, producer: u32) -> impl Deref<Target = ProducerQuota> + '_ {
        self.producers
            .get(producer as usize)
            .expect("an item's producer is registered")
    }
}

/// Shows an operation's outcome in the log: "ok" or the error's message.
struct Outcome<'a, T, E>(&'a Result<T, E>);

impl<T, E: fmt::Display> fmt::Display for Outcome<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(_) => f.write_str("ok"),
            Err(error) => error.fmt(f),
        }
    }
}
