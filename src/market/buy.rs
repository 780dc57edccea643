//! Carts: `new_cart`, `add_to_cart` (and its waiting form), `remove_from_cart` and
//! `place_order`.
//!
//! Taking an item into a cart pops it off its shelf first, with no lock held, then adds it
//! under the cart's own lock; if the cart was ordered in between, the item goes back on its
//! shelf, still counted by its producer, so it is neither lost nor duplicated. A remove
//! claims the item under the cart's lock (one remover wins), then counts it for its
//! producer again and puts it back on its shelf.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

use log::{Level, debug, log_enabled};

use super::async_call_log::AsyncCallLog;
use super::{Marketplace, Outcome};
use crate::carts::OpenCart;
use crate::catalog::Entry;
use crate::error::{AddError, OrderError, RemoveError};
use crate::ids::CartId;
use crate::item::Item;
use crate::product_shelf::ProductShelf;
use crate::sync::Ordering;
use crate::wait::{Attempt, block_until, wait_until};

impl<P: Eq + Hash + Clone + fmt::Debug + Send + Sync, S: BuildHasher> Marketplace<P, S> {
    /// Opens a new, empty cart.
    ///
    /// # Panics
    ///
    /// Panics once 2^32 - 1 cart slots exist and none is free (see
    /// [Limits](Self#limits)); the refused cart leaves no slot and spends no serial.
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
    #[must_use = "a cart stays open until its order is placed, which takes its id"]
    pub fn new_cart(&self) -> CartId {
        let (serial, slot) = self.carts.open();
        let id = CartId {
            market: self.tag,
            serial,
            slot,
        };
        debug!("new_cart() -> {id}");
        id
    }

    /// Moves one item equal to `product`, from any producer, off the shelf into `cart`.
    ///
    /// The item stops counting against its producer's capacity by the time this returns.
    /// `product` may be any form `P` borrows as, with the same `Hash` and `Eq` (a `&str` for
    /// `String`s).
    ///
    /// # Errors
    ///
    /// [`AddError::Unavailable`] when no equal item is on sale right now (an ordinary,
    /// retryable outcome; see [`add_to_cart_timeout`](Self::add_to_cart_timeout) to wait),
    /// and [`AddError::UnknownCart`] for a cart that is not open here.
    ///
    /// # Panics
    ///
    /// Panics if called on the cart whose items `remove_from_cart` is comparing, from the
    /// user's `Eq` that compares them, once it finds an item on sale: it would wait for the
    /// cart's lock its own thread holds (see [User code](crate#user-code)).
    ///
    /// # Examples
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
    ///
    /// // Products owned, asked for by a borrowed form.
    /// let shop: Marketplace<String> = Marketplace::new(1);
    /// let maker = shop.register_producer();
    /// shop.publish(maker, "coffee".to_owned()).unwrap();
    /// let basket = shop.new_cart();
    /// assert_eq!(shop.add_to_cart(basket, "coffee"), Ok(()));
    /// assert_eq!(shop.place_order(basket).unwrap(), ["coffee"]);
    /// ```
    pub fn add_to_cart<Q>(&self, cart: CartId, product: &Q) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + fmt::Debug + ?Sized,
    {
        let outcome = match self.find_cart(cart) {
            None => Err(AddError::UnknownCart),
            Some(open) => {
                let entry = self.catalog.get(product, self.catalog.hash(product));
                self.try_add(&open, entry)
            }
        };
        debug!("add_to_cart({cart}, {product:?}) -> {}", Outcome(&outcome));
        outcome
    }

    /// Like [`add_to_cart`](Self::add_to_cart), but when no equal item is on sale, waits up
    /// to `timeout` for one to be published or returned, without spinning.
    ///
    /// `Duration::MAX` waits as long as it takes. Waiting for a product never published
    /// stores nothing.
    ///
    /// # Errors
    ///
    /// [`AddError::Unavailable`] if the timeout passes (or the marketplace is
    /// [closed](Self::close)) first, and [`AddError::UnknownCart`] for a cart that is not
    /// open here. A cart ordered by another thread while this call waits is noticed at the
    /// next arrival of the product or at the timeout, and reported as `UnknownCart` (an
    /// order wakes no waiter: with `Duration::MAX`, the wait lasts until an item arrives or
    /// the marketplace is closed).
    ///
    /// # Panics
    ///
    /// Panics if called on the cart whose items `remove_from_cart` is comparing, from the
    /// user's `Eq` that compares them, once it finds an item on sale: it would wait for the
    /// cart's lock its own thread holds (see [User code](crate#user-code)).
    ///
    /// # Examples
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
    pub fn add_to_cart_timeout<Q>(
        &self,
        cart: CartId,
        product: &Q,
        timeout: Duration,
    ) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + fmt::Debug + ?Sized,
    {
        let outcome = match self.find_cart(cart) {
            None => Err(AddError::UnknownCart),
            Some(open) => {
                // Hashed and looked up once: the wait's attempts reuse both.
                let hash = self.catalog.hash(product);
                let entry = self.catalog.get(product, hash);
                self.add_or_wait(&open, product, hash, entry, timeout)
            }
        };
        debug!(
            "add_to_cart_timeout({cart}, {product:?}, {timeout:?}) -> {}",
            Outcome(&outcome)
        );
        outcome
    }

    /// Like [`add_to_cart_timeout`](Self::add_to_cart_timeout) with no timeout, as a
    /// future: when no equal item is on sale, waits (without blocking a thread) until one is
    /// published or returned, or the marketplace is [closed](Self::close)
    /// ([`AddError::Unavailable`]).
    ///
    /// Runtime-agnostic (it relies on no executor's timers or I/O), and cancel-safe: a
    /// future dropped before it completes has taken nothing, and leaves no waiter
    /// registered; a wake-up it received but did not use goes to another waiter. Until it
    /// is polled again or dropped, it keeps that wake-up: a future left pending without
    /// being polled keeps the item it was woken for from the consumers asleep behind it
    /// (calls that do not wait can still take it), so poll it to completion or drop it. To
    /// bound the wait, race it with your runtime's timer (as `tokio::time::timeout` does).
    /// Blocking and async consumers of one product can wait together.
    ///
    /// # Errors
    ///
    /// The future's output: [`AddError::Unavailable`] once the marketplace is closed before
    /// an item comes, and [`AddError::UnknownCart`] for a cart that is not open here. As in
    /// `add_to_cart_timeout`, a cart ordered by another task while this one waits is
    /// noticed at the next arrival of the product (or at `close`), and reported as
    /// `UnknownCart`: an order wakes no waiter.
    ///
    /// # Panics
    ///
    /// Panics if called on the cart whose items `remove_from_cart` is comparing, from the
    /// user's `Eq` that compares them, once it finds an item on sale: it would wait for the
    /// cart's lock its own thread holds (see [User code](crate#user-code)).
    ///
    /// # Examples
    ///
    /// With tokio (any executor will do):
    ///
    /// ```
    /// use std::sync::Arc;
    /// use marketplace::Marketplace;
    ///
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() {
    /// let market = Arc::new(Marketplace::new(1));
    /// let producer = market.register_producer();
    /// let cart = market.new_cart();
    /// let waiting = tokio::spawn({
    ///     let market = Arc::clone(&market);
    ///     // Nothing on sale: waits without holding a thread.
    ///     async move { market.add_to_cart_async(cart, &"tea").await }
    /// });
    /// market.publish(producer, "tea").unwrap(); // wakes the task, which takes it
    /// waiting.await.unwrap().unwrap();
    /// assert_eq!(market.place_order(cart).unwrap(), vec!["tea"]);
    /// # }
    /// ```
    #[allow(
        clippy::manual_async_fn,
        reason = "the signature promises a Send future, which `async fn` would leave implicit"
    )]
    pub fn add_to_cart_async<'a, Q>(
        &'a self,
        cart: CartId,
        product: &'a Q,
    ) -> impl Future<Output = Result<(), AddError>> + Send + 'a
    where
        S: Sync,
        P: Borrow<Q>,
        Q: Hash + Eq + fmt::Debug + Sync + ?Sized,
    {
        async move {
            let log = AsyncCallLog::start(|| format!("add_to_cart_async({cart}, {product:?})"));
            let outcome = match self.find_cart(cart) {
                None => Err(AddError::UnknownCart),
                Some(open) => {
                    // Hashed and looked up once: the wait's attempts reuse both.
                    let hash = self.catalog.hash(product);
                    let entry = self.catalog.get(product, hash);
                    self.add_or_wait_async(&open, product, hash, entry).await
                }
            };
            log.finish(Outcome(&outcome));
            outcome
        }
    }

    /// Takes one item equal to `product` out of `cart` and puts it back on sale, on the shelf
    /// of the producer that made it.
    ///
    /// The claim is atomic: of two threads removing the same item, exactly one succeeds. The
    /// return always succeeds, even when that producer has filled its queue meanwhile: it is
    /// then over capacity, and its publishes report [`PublishError::Full`] until consumers
    /// have taken enough.
    ///
    /// [`PublishError::Full`]: crate::PublishError::Full
    ///
    /// # Errors
    ///
    /// [`RemoveError::NotInCart`] when the cart holds no equal item, and
    /// [`RemoveError::UnknownCart`] for a cart that is not open here.
    ///
    /// # Panics
    ///
    /// Panics if the user's `Eq`, comparing the cart's items under its lock, calls
    /// `remove_from_cart` or `place_order` on this cart, or `add_to_cart` (in any form) that
    /// finds an item on sale for it, which would wait for that lock; the cart and every
    /// count are left as they were (the add's item goes back on sale, last). Other calls
    /// work from there, but calls on other carts hold this cart's lock while they take
    /// theirs (see [User code](crate#user-code)); a panic in the user's code passes
    /// through, changing nothing.
    ///
    /// # Examples
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
    pub fn remove_from_cart<Q>(&self, cart: CartId, product: &Q) -> Result<(), RemoveError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + fmt::Debug + ?Sized,
    {
        let outcome = self.try_remove(cart, product);
        debug!(
            "remove_from_cart({cart}, {product:?}) -> {}",
            Outcome(&outcome)
        );
        outcome
    }

    /// Places the order for `cart`: returns its products in the order they were added (adds
    /// to one cart that overlap in time land in either order) and retires the cart, whose id
    /// is then spent.
    ///
    /// # Errors
    ///
    /// [`OrderError::UnknownCart`] for a cart that is not open here: never opened here, or
    /// already ordered.
    ///
    /// # Panics
    ///
    /// Panics if called on the cart whose items `remove_from_cart` is comparing, from the
    /// user's `Eq` that compares them: it would wait for the cart's lock its own thread
    /// holds (see [User code](crate#user-code)).
    ///
    /// # Examples
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
        let outcome = if cart.is_from(self.tag) {
            self.carts.order(cart).ok_or(OrderError::UnknownCart)
        } else {
            Err(OrderError::UnknownCart)
        };
        if log_enabled!(Level::Debug) {
            match &outcome {
                Ok(products) => debug!("place_order({cart}) -> {products:?}"),
                Err(error) => debug!("place_order({cart}) -> {error}"),
            }
        }
        outcome
    }

    /// `cart` if it is open here now (a snapshot).
    pub(super) fn find_cart(&self, cart: CartId) -> Option<OpenCart<'_, P>> {
        if cart.is_from(self.tag) {
            self.carts.find(cart)
        } else {
            None
        }
    }

    /// Takes an item of the product whose catalog entry is `entry` (none: never published)
    /// into `cart`, just found open, if one is on sale.
    pub(super) fn try_add(
        &self,
        cart: &OpenCart<'_, P>,
        entry: Option<&Entry<P>>,
    ) -> Result<(), AddError> {
        match entry {
            Some(entry) => self.take_into_cart(cart, &entry.shelf),
            None => Err(AddError::Unavailable),
        }
    }

    /// Takes the oldest item off `shelf` into `cart` and uncounts it for its producer.
    // Inlined into every caller: out of line, once product handles called it too, it cost
    // the plain add 16 instructions of its 948-instruction cycle (`cost_model cycle
    // engine` under callgrind).
    #[inline]
    fn take_into_cart(
        &self,
        cart: &OpenCart<'_, P>,
        shelf: &ProductShelf<P>,
    ) -> Result<(), AddError> {
        let item = shelf.take().ok_or(AddError::Unavailable)?;
        let producer = item.producer;
        match cart.add(item) {
            Ok(()) => {
                self.producer_at(producer).uncount();
                Ok(())
            }
            Err(item) => Err(Self::put_back(cart, shelf, item)),
        }
    }

    /// An item taken for `cart` that it did not take: it was ordered after it was found
    /// open, so the item goes back on sale, still counted by its producer (and wakes a
    /// waiter for it). Or this call came from the user's `Eq` in a claim on this cart,
    /// which is refused once the item is back.
    // Out of line, as it is rare: inlined, it cost the plain add two instructions of its
    // cycle.
    #[cold]
    #[inline(never)]
    fn put_back(cart: &OpenCart<'_, P>, shelf: &ProductShelf<P>, item: Item<P>) -> AddError {
        shelf.put(item);
        cart.refuse_call_from_claim();
        AddError::UnknownCart
    }

    /// One attempt at taking an item equal to `product` (hashed `hash`) into `cart`: done
    /// with the outcome, or the consumers waiting for it (on its shelf, or on the catalog
    /// while the product has none). `entry` is the product's catalog entry, looked up
    /// again only while it has none: once made, an entry stays.
    fn add_attempt<'a, Q>(
        &'a self,
        cart: &OpenCart<'a, P>,
        product: &Q,
        hash: u64,
        entry: &mut Option<&'a Entry<P>>,
    ) -> Attempt<'a, Result<(), AddError>>
    where
        P: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if !cart.is_open() {
            return Attempt::Done(Err(AddError::UnknownCart));
        }
        if entry.is_none() {
            *entry = self.catalog.get(product, hash);
        }
        match self.try_add(cart, *entry) {
            Err(AddError::Unavailable) => Attempt::WaitOn(self.catalog.arrivals(*entry, hash)),
            done => Attempt::Done(done),
        }
    }

    /// After a wait that ended without taking an item because the cart was ordered
    /// meanwhile: the wait may have been woken for an item it leaves on the shelf of
    /// `entry`, so another waiter is woken in its place.
    fn pass_on(outcome: &Result<(), AddError>, entry: Option<&Entry<P>>) {
        if let (Err(AddError::UnknownCart), Some(entry)) = (outcome, entry) {
            entry.shelf.arrivals.notify_one();
        }
    }

    /// `add_to_cart_timeout` once the cart is found open: takes an item equal to `product`
    /// (hashed `hash`, its catalog entry `entry` if it had one) into `cart`, waiting up to
    /// `timeout` for one.
    pub(super) fn add_or_wait<'a, Q>(
        &'a self,
        cart: &OpenCart<'a, P>,
        product: &Q,
        hash: u64,
        mut entry: Option<&'a Entry<P>>,
        timeout: Duration,
    ) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        match self.try_add(cart, entry) {
            Err(AddError::Unavailable) => {}
            done => return done,
        }
        // Ordering: a shortcut only; the wait re-reads it after its fence (see `wait`).
        if timeout.is_zero() || self.closed.load(Ordering::Relaxed) {
            return Err(AddError::Unavailable);
        }
        // An overflowing deadline means "wait as long as it takes".
        let deadline = Instant::now().checked_add(timeout);
        // The first attempt found none on sale.
        let waiting_on = self.catalog.arrivals(entry, hash);
        let outcome = block_until(waiting_on, deadline, &self.closed, || {
            self.add_attempt(cart, product, hash, &mut entry)
        })
        .unwrap_or(Err(AddError::Unavailable));
        Self::pass_on(&outcome, entry);
        outcome
    }

    /// `add_to_cart_async` once the cart is found open, as `add_or_wait` with no timeout.
    pub(super) async fn add_or_wait_async<'a, Q>(
        &'a self,
        cart: &OpenCart<'a, P>,
        product: &Q,
        hash: u64,
        mut entry: Option<&'a Entry<P>>,
    ) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: Eq + Sync + ?Sized,
    {
        match self.try_add(cart, entry) {
            Err(AddError::Unavailable) => {}
            done => return done,
        }
        // One more attempt before listening, unlike the blocking wait: a task has no
        // retries before it sleeps, and this one often finds an item that arrived since
        // the first, sparing a listener and a notification.
        let first = self.add_attempt(cart, product, hash, &mut entry);
        let outcome = wait_until(first, &self.closed, || {
            self.add_attempt(cart, product, hash, &mut entry)
        })
        .await
        .unwrap_or(Err(AddError::Unavailable));
        Self::pass_on(&outcome, entry);
        outcome
    }

    fn try_remove<Q>(&self, cart: CartId, product: &Q) -> Result<(), RemoveError>
    where
        P: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // A spent or foreign cart is refused before any user code runs, as `add_to_cart`
        // and the baseline refuse it (the cart is checked again under its lock below).
        let open = self.find_cart(cart).ok_or(RemoveError::UnknownCart)?;
        // The user's `Hash` and `Eq` run here, before anything changes hands. An item equal
        // to `product` in the cart was on sale, so its shelf is in the catalog (unless the
        // user's `Hash` and `Eq` disagree, when nothing equal can be found anywhere).
        let hash = self.catalog.hash(product);
        let entry = self.catalog.get(product, hash);
        let item = open
            .with(|contents| entry.and_then(|_| contents.claim(product)))
            .ok_or(RemoveError::UnknownCart)?
            .ok_or(RemoveError::NotInCart)?;
        let shelf = &entry
            .expect("an item was claimed, so its shelf was found")
            .shelf;
        // The claim is ours alone; now hand the item back to its producer.
        self.producer_at(item.producer).count_return();
        shelf.put(item);
        Ok(())
    }
}
