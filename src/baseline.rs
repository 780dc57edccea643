//! The classic design: the same marketplace behind one global `Mutex`.
//!
//! [`LockedMarketplace`] has exactly the semantics of [`Marketplace`](crate::Marketplace)
//! (same ids, errors, FIFO choice among equal items, claim-and-return, over-capacity after a
//! return) with all state in one place guarded by one lock, which makes it easy to trust. It
//! serves two purposes: the property tests run random operation sequences on both and demand
//! identical results, and the benchmarks measure the engine against it. Lookups are O(1)
//! hash-map operations, so it is a fair rival, not a strawman.
//!
//! Two differences show only with a `Hash` or `Eq` that panics, in when they run (no count
//! changes either way). A publish to a full producer is refused here before the product is
//! looked up, while the engine looks it up before it counts the unit, so there the call
//! panics where here it returns `Full` (`tests/engine_panics.rs`,
//! `a_publish_to_a_full_producer_runs_the_users_hash_on_the_engine_only`): checking the
//! room first keeps the user's code out of this lock on every refused attempt of a waiting
//! publish, and the engine cannot check without counting. And a waiting add looks its
//! product up at each attempt here, once on the engine (`in_waits` and
//! `waits_run_the_users_hash_and_eq_once`, in the same file).
//!
//! All of the user's code runs under the one lock, so a product's trait impl must not call
//! the `LockedMarketplace` that runs it: the call would wait for the lock its own thread
//! holds, and std's `Mutex` may then deadlock or panic. The engine runs it outside its
//! locks but for one comparison (see [User code](crate#user-code)).
//!
//! Invariant (under the lock): `on_sale[p]` equals the number of items of producer `p` in
//! `shelves`; an item is in `shelves` or in exactly one cart of `carts`. The user's `Hash`,
//! `Eq` and `Clone` run before any count or item moves, so a panic in them (which leaves the
//! lock usable, see `lock`) breaks neither.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use log::debug;

use crate::cart::Cart;
use crate::error::{AddError, OrderError, PublishError, RemoveError, ZeroCapacityError};
use crate::hasher::DefaultHashBuilder;
use crate::ids::{CartId, ProducerId};
use crate::item::Item;
use crate::market::Stats;
use crate::sync::{Condvar, Mutex, MutexGuard, next_market_tag};
use crate::wait::retry_before_sleeping;

/// A marketplace with the engine's semantics and the classic design: one lock around
/// everything.
///
/// The product's `Hash`, `Eq` and `Clone` run under that lock, so they must not call this
/// marketplace: a call that reads or changes its state takes the lock its own thread then
/// holds, and std's `Mutex` may deadlock or panic (see the [module docs](self)).
///
/// ```
/// use marketplace::baseline::LockedMarketplace;
///
/// let market = LockedMarketplace::new(3);
/// let producer = market.register_producer();
/// market.publish(producer, "green tea").unwrap();
/// let cart = market.new_cart();
/// market.add_to_cart(cart, &"green tea").unwrap();
/// assert_eq!(market.place_order(cart).unwrap(), vec!["green tea"]);
/// ```
pub struct LockedMarketplace<P> {
    tag: u64,
    queue_size_per_producer: usize,
    state: Mutex<State<P>>,
    /// Signalled on every change that may help a blocked publisher or consumer.
    changed: Condvar,
    /// Whether a blocked caller first releases the lock and retries as the engine's waiters
    /// do (spinning, then yielding) before it sleeps; the classic design sleeps at once.
    retries_before_sleep: bool,
}

impl<P> std::fmt::Debug for LockedMarketplace<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockedMarketplace")
            .field("queue_size_per_producer", &self.queue_size_per_producer)
            .field("retries_before_sleep", &self.retries_before_sleep)
            .finish_non_exhaustive()
    }
}

struct State<P> {
    /// Items on sale per producer, returned ones included.
    on_sale: Vec<usize>,
    /// Items on sale per product, oldest first.
    shelves: HashMap<P, VecDeque<Item<P>>, DefaultHashBuilder>,
    carts: HashMap<u64, Cart<P>, DefaultHashBuilder>,
    next_cart: u64,
    /// Threads asleep in a `*_timeout` call; nobody is signalled while it is zero.
    waiting: usize,
    closed: bool,
}

impl<P: Eq + Hash + Clone + std::fmt::Debug + Send + Sync> LockedMarketplace<P> {
    /// Creates a marketplace where each producer may have up to `queue_size_per_producer`
    /// products on the shelf at once.
    ///
    /// # Panics
    ///
    /// Panics if `queue_size_per_producer` is zero; [`try_new`](Self::try_new) returns an
    /// error instead.
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::<u8>::new(1);
    /// assert_eq!(market.stats().producers, 0);
    /// ```
    #[must_use]
    pub fn new(queue_size_per_producer: usize) -> Self {
        Self::with_wait_policy(queue_size_per_producer, false)
            .unwrap_or_else(|zero| panic!("{zero}"))
    }

    /// Like [`new`](Self::new), but a zero `queue_size_per_producer` is an error rather
    /// than a panic, as [`Marketplace::try_new`](crate::Marketplace::try_new).
    ///
    /// # Errors
    ///
    /// [`ZeroCapacityError`] if `queue_size_per_producer` is zero.
    ///
    /// ```
    /// use marketplace::baseline::LockedMarketplace;
    ///
    /// assert!(LockedMarketplace::<u8>::try_new(0).is_err());
    /// let market = LockedMarketplace::<u8>::try_new(1)?;
    /// assert_eq!(market.stats().producers, 0);
    /// # Ok::<(), marketplace::ZeroCapacityError>(())
    /// ```
    pub fn try_new(queue_size_per_producer: usize) -> Result<Self, ZeroCapacityError> {
        Self::with_wait_policy(queue_size_per_producer, false)
    }

    /// Like [`new`](Self::new), but blocking calls wait as the engine does: they retry a few
    /// times, spinning and then yielding, before they sleep on the condition variable.
    ///
    /// The classic design sleeps at once; this variant lets the benchmarks show how much of
    /// the engine's lead comes from its wait policy rather than from having no global lock.
    ///
    /// # Panics
    ///
    /// Panics if `queue_size_per_producer` is zero, as [`new`](Self::new) does.
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::<u8>::yielding(1);
    /// let producer = market.register_producer();
    /// assert!(market.publish(producer, 1).is_ok());
    /// ```
    #[must_use]
    pub fn yielding(queue_size_per_producer: usize) -> Self {
        Self::with_wait_policy(queue_size_per_producer, true)
            .unwrap_or_else(|zero| panic!("{zero}"))
    }

    fn with_wait_policy(
        queue_size_per_producer: usize,
        retries_before_sleep: bool,
    ) -> Result<Self, ZeroCapacityError> {
        if queue_size_per_producer == 0 {
            return Err(ZeroCapacityError);
        }
        Ok(Self {
            tag: next_market_tag(),
            queue_size_per_producer,
            state: Mutex::new(State {
                on_sale: Vec::new(),
                shelves: HashMap::default(),
                carts: HashMap::default(),
                next_cart: 0,
                waiting: 0,
                closed: false,
            }),
            changed: Condvar::new(),
            retries_before_sleep,
        })
    }

    /// Registers a new producer. See [`Marketplace::register_producer`](crate::Marketplace::register_producer).
    ///
    /// # Panics
    ///
    /// Panics once 2^32 producers are registered, as the engine does.
    ///
    /// # Examples
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::<u8>::new(1);
    /// assert_ne!(market.register_producer(), market.register_producer());
    /// ```
    #[must_use = "the id is the only way to publish for the producer"]
    pub fn register_producer(&self) -> ProducerId {
        let mut state = self.lock();
        let index = u32::try_from(state.on_sale.len()).expect("fewer than 2^32 producers");
        state.on_sale.push(0);
        let id = ProducerId {
            market: self.tag,
            index,
        };
        debug!("register_producer() -> {id}");
        id
    }

    /// Puts `product` on sale. See [`Marketplace::publish`](crate::Marketplace::publish).
    ///
    /// # Errors
    ///
    /// As the engine's: `Full` or `UnknownProducer`, with the product.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::{PublishError, baseline::LockedMarketplace};
    ///
    /// let market = LockedMarketplace::new(1);
    /// let producer = market.register_producer();
    /// assert_eq!(market.publish(producer, 'a'), Ok(()));
    /// assert_eq!(market.publish(producer, 'b'), Err(PublishError::Full('b')));
    /// ```
    pub fn publish(&self, producer: ProducerId, product: P) -> Result<(), PublishError<P>> {
        debug!("publish({producer}, {product:?})");
        let mut state = self.lock();
        self.publish_locked(&mut state, producer, product)
    }

    /// Publishes, waiting up to `timeout` for room. See
    /// [`Marketplace::publish_timeout`](crate::Marketplace::publish_timeout).
    ///
    /// # Errors
    ///
    /// As the engine's: `Full` (after the timeout, or once closed) or `UnknownProducer`,
    /// with the product.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::baseline::LockedMarketplace;
    ///
    /// let market = LockedMarketplace::new(1);
    /// let producer = market.register_producer();
    /// assert!(market.publish_timeout(producer, 1, Duration::ZERO).is_ok());
    /// assert!(market.publish_timeout(producer, 2, Duration::ZERO).unwrap_err().is_full());
    /// ```
    #[allow(
        clippy::missing_panics_doc,
        reason = "its one `expect` is an invariant: an attempt that fails puts the product back"
    )]
    pub fn publish_timeout(
        &self,
        producer: ProducerId,
        product: P,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        debug!("publish_timeout({producer}, {product:?}, {timeout:?})");
        let mut pending = Some(product);
        self.wait_for(timeout, |market, state| {
            let product = pending.take().expect("one attempt at a time");
            match market.publish_locked(state, producer, product) {
                Err(PublishError::Full(product)) => {
                    pending = Some(product);
                    None
                }
                done => Some(done),
            }
        })
        .unwrap_or_else(|| Err(PublishError::Full(pending.take().expect("not published"))))
    }

    /// Opens a new, empty cart. See [`Marketplace::new_cart`](crate::Marketplace::new_cart).
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::<u8>::new(1);
    /// assert_ne!(market.new_cart(), market.new_cart());
    /// ```
    #[must_use = "a cart stays open until its order is placed, which takes its id"]
    pub fn new_cart(&self) -> CartId {
        let mut state = self.lock();
        let serial = state.next_cart;
        state.next_cart += 1;
        state.carts.insert(serial, Cart::default());
        let id = CartId {
            market: self.tag,
            serial,
            slot: 0,
        };
        debug!("new_cart() -> {id}");
        id
    }

    /// Moves one equal item into `cart`. See
    /// [`Marketplace::add_to_cart`](crate::Marketplace::add_to_cart).
    ///
    /// # Errors
    ///
    /// As the engine's: `Unavailable` or `UnknownCart`.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::{AddError, baseline::LockedMarketplace};
    ///
    /// let market = LockedMarketplace::<&str>::new(1);
    /// let cart = market.new_cart();
    /// assert_eq!(market.add_to_cart(cart, &"tea"), Err(AddError::Unavailable));
    /// ```
    pub fn add_to_cart<Q>(&self, cart: CartId, product: &Q) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + std::fmt::Debug + ?Sized,
    {
        debug!("add_to_cart({cart}, {product:?})");
        let mut state = self.lock();
        self.add_locked(&mut state, cart, product)
    }

    /// Adds, waiting up to `timeout` for an equal item. See
    /// [`Marketplace::add_to_cart_timeout`](crate::Marketplace::add_to_cart_timeout).
    ///
    /// # Errors
    ///
    /// As the engine's: `Unavailable` (after the timeout, or once closed) or `UnknownCart`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::{AddError, baseline::LockedMarketplace};
    ///
    /// let market = LockedMarketplace::<&str>::new(1);
    /// let cart = market.new_cart();
    /// let outcome = market.add_to_cart_timeout(cart, &"tea", Duration::from_millis(1));
    /// assert_eq!(outcome, Err(AddError::Unavailable));
    /// ```
    pub fn add_to_cart_timeout<Q>(
        &self,
        cart: CartId,
        product: &Q,
        timeout: Duration,
    ) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + std::fmt::Debug + ?Sized,
    {
        debug!("add_to_cart_timeout({cart}, {product:?}, {timeout:?})");
        self.wait_for(timeout, |market, state| {
            match market.add_locked(state, cart, product) {
                Err(AddError::Unavailable) => None,
                done => Some(done),
            }
        })
        .unwrap_or(Err(AddError::Unavailable))
    }

    /// Claims an equal item out of `cart` and returns it to its producer. See
    /// [`Marketplace::remove_from_cart`](crate::Marketplace::remove_from_cart).
    ///
    /// # Errors
    ///
    /// As the engine's: `NotInCart` or `UnknownCart`.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::{RemoveError, baseline::LockedMarketplace};
    ///
    /// let market = LockedMarketplace::<&str>::new(1);
    /// let cart = market.new_cart();
    /// assert_eq!(market.remove_from_cart(cart, &"tea"), Err(RemoveError::NotInCart));
    /// ```
    pub fn remove_from_cart<Q>(&self, cart: CartId, product: &Q) -> Result<(), RemoveError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + std::fmt::Debug + ?Sized,
    {
        debug!("remove_from_cart({cart}, {product:?})");
        let mut guard = self.lock();
        let state = &mut *guard;
        let serial = cart.serial_in(self.tag).ok_or(RemoveError::UnknownCart)?;
        let cart = state
            .carts
            .get_mut(&serial)
            .ok_or(RemoveError::UnknownCart)?;
        // An item equal to `product` in the cart was on sale, so its shelf exists (unless the
        // user's `Hash` and `Eq` disagree, when nothing equal can be found anywhere). The
        // lookup runs them before the claim moves anything.
        let Some(shelf) = state.shelves.get_mut(product) else {
            return Err(RemoveError::NotInCart);
        };
        let item = cart.claim(product).ok_or(RemoveError::NotInCart)?;
        state.on_sale[item.producer as usize] += 1;
        shelf.push_back(item);
        self.signal(state);
        Ok(())
    }

    /// Returns the cart's products and retires it. See
    /// [`Marketplace::place_order`](crate::Marketplace::place_order).
    ///
    /// # Errors
    ///
    /// As the engine's: `UnknownCart` for a cart not open here.
    ///
    /// # Examples
    ///
    /// ```
    /// use marketplace::{OrderError, baseline::LockedMarketplace};
    ///
    /// let market = LockedMarketplace::<u8>::new(1);
    /// let cart = market.new_cart();
    /// assert_eq!(market.place_order(cart), Ok(vec![]));
    /// assert_eq!(market.place_order(cart), Err(OrderError::UnknownCart));
    /// ```
    pub fn place_order(&self, cart: CartId) -> Result<Vec<P>, OrderError> {
        debug!("place_order({cart})");
        let serial = cart.serial_in(self.tag).ok_or(OrderError::UnknownCart)?;
        let cart = self.lock().carts.remove(&serial);
        cart.map(|mut cart| cart.take_products())
            .ok_or(OrderError::UnknownCart)
    }

    /// Stops every blocking wait. See [`Marketplace::close`](crate::Marketplace::close).
    ///
    /// ```
    /// use std::time::Duration;
    /// use marketplace::{AddError, baseline::LockedMarketplace};
    ///
    /// let market = LockedMarketplace::<u8>::new(1);
    /// let cart = market.new_cart();
    /// market.close();
    /// assert_eq!(market.add_to_cart_timeout(cart, &1, Duration::MAX), Err(AddError::Unavailable));
    /// ```
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// How many products one producer may have on the shelf at once. See
    /// [`Marketplace::queue_size_per_producer`](crate::Marketplace::queue_size_per_producer).
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::<u8>::new(3);
    /// assert_eq!(market.queue_size_per_producer(), 3);
    /// ```
    #[must_use]
    pub fn queue_size_per_producer(&self) -> usize {
        self.queue_size_per_producer
    }

    /// True once [`close`](Self::close) has been called. See
    /// [`Marketplace::is_closed`](crate::Marketplace::is_closed).
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::<u8>::new(1);
    /// assert!(!market.is_closed());
    /// market.close();
    /// assert!(market.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Items `producer` has on the shelf now, or `None` for an id not issued here.
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::new(2);
    /// let producer = market.register_producer();
    /// market.publish(producer, 7).unwrap();
    /// assert_eq!(market.shelf_len(producer), Some(1));
    /// ```
    #[must_use]
    pub fn shelf_len(&self, producer: ProducerId) -> Option<usize> {
        let index = producer.index_in(self.tag)?;
        self.lock().on_sale.get(index).copied()
    }

    /// How many items equal to `product` are on sale now.
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::new(2);
    /// let producer = market.register_producer();
    /// market.publish(producer, 7).unwrap();
    /// assert_eq!(market.available(&7), 1);
    /// ```
    #[must_use]
    pub fn available<Q>(&self, product: &Q) -> usize
    where
        P: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().shelves.get(product).map_or(0, VecDeque::len)
    }

    /// A snapshot of the marketplace's size.
    ///
    /// ```
    /// let market = marketplace::baseline::LockedMarketplace::<u8>::new(2);
    /// let cart = market.new_cart();
    /// assert_eq!(market.stats().open_carts, 1);
    /// market.place_order(cart).unwrap();
    /// assert_eq!(market.stats().open_carts, 0);
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        let state = self.lock();
        Stats {
            producers: state.on_sale.len(),
            open_carts: state.carts.len(),
            items_on_shelves: state.on_sale.iter().sum(),
            items_in_carts: state.carts.values().map(Cart::len).sum(),
        }
    }

    fn publish_locked(
        &self,
        state: &mut State<P>,
        producer: ProducerId,
        product: P,
    ) -> Result<(), PublishError<P>> {
        let Some(index) = producer
            .index_in(self.tag)
            .filter(|&index| index < state.on_sale.len())
        else {
            return Err(PublishError::UnknownProducer(product));
        };
        if state.on_sale[index] >= self.queue_size_per_producer {
            return Err(PublishError::Full(product));
        }
        // The user's `Hash` and `Eq` (the lookup) and `Clone` (a new shelf's key) run before
        // the count changes.
        let shelf = match state.shelves.get_mut(&product) {
            Some(shelf) => shelf,
            None => state.shelves.entry(product.clone()).or_default(),
        };
        state.on_sale[index] += 1;
        shelf.push_back(Item {
            product,
            producer: producer.index,
        });
        self.signal(state);
        Ok(())
    }

    fn add_locked<Q>(&self, state: &mut State<P>, cart: CartId, product: &Q) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let serial = cart.serial_in(self.tag).ok_or(AddError::UnknownCart)?;
        if !state.carts.contains_key(&serial) {
            return Err(AddError::UnknownCart);
        }
        let item = state
            .shelves
            .get_mut(product)
            .and_then(VecDeque::pop_front)
            .ok_or(AddError::Unavailable)?;
        state.on_sale[item.producer as usize] -= 1;
        state
            .carts
            .get_mut(&serial)
            .expect("checked above")
            .add(item);
        self.signal(state);
        Ok(())
    }

    /// Runs `attempt` under the lock until it gives a value, sleeping on `changed` between
    /// tries; `None` after the deadline or once closed.
    fn wait_for<T>(
        &self,
        timeout: Duration,
        mut attempt: impl FnMut(&Self, &mut State<P>) -> Option<T>,
    ) -> Option<T> {
        let mut state = self.lock();
        if let Some(value) = attempt(self, &mut state) {
            return Some(value);
        }
        let deadline = Instant::now().checked_add(timeout);
        if self.retries_before_sleep && !timeout.is_zero() {
            drop(state);
            let retried = retry_before_sleeping(deadline, || attempt(self, &mut self.lock()));
            if retried.is_some() {
                return retried;
            }
            // An arrival after the last retry let go of the lock signalled nobody (no thread
            // was asleep yet), so try once more under the lock this thread will sleep with.
            state = self.lock();
            if let Some(value) = attempt(self, &mut state) {
                return Some(value);
            }
        }
        loop {
            let now = Instant::now();
            let left = match deadline {
                _ if state.closed => return None,
                Some(deadline) if now >= deadline => return None,
                Some(deadline) => deadline - now,
                None => Duration::from_secs(3600),
            };
            // Counted only while asleep: a thread's own attempt must not signal itself.
            state.waiting += 1;
            state = match self.changed.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
            state.waiting -= 1;
            if let Some(value) = attempt(self, &mut state) {
                return Some(value);
            }
        }
    }

    fn signal(&self, state: &State<P>) {
        if state.waiting > 0 {
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<P>> {
        // A panic under the lock can only come from `P`'s own Clone/Hash/Eq, which run
        // before anything changes: the state is intact, and no reason to poison every user.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
