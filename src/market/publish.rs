//! Putting products on sale: `publish`, `publish_timeout` and `publish_async`.
//!
//! A publish counts its item against the producer first (refusing it when the producer is
//! full), then puts it on its product's shelf. The user's `Hash` and `Eq` run before the
//! count is taken, in the call's one lookup. A product with no catalog entry yet gets one
//! once its unit is counted: that insert looks the product up again (the user's `Eq`),
//! clones the catalog's key (its `Clone`) and hashes the key (its `Hash`) under a guard that
//! gives the unit back if any of them panics.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

use log::{Level, debug, log_enabled};

use super::async_call_log::AsyncCallLog;
use super::{Marketplace, Outcome};
use crate::catalog::Entry;
use crate::error::PublishError;
use crate::ids::ProducerId;
use crate::item::Item;
use crate::producer::Producer;
use crate::sync::Ordering;
use crate::wait::{Attempt, block_until, wait_until};

impl<P: Eq + Hash + Clone + fmt::Debug + Send + Sync, S: BuildHasher> Marketplace<P, S> {
    /// Puts `product` on sale for `producer`.
    ///
    /// # Errors
    ///
    /// [`PublishError::Full`] while the producer already has `queue_size_per_producer`
    /// products on the shelf (returned items included), and [`PublishError::UnknownProducer`]
    /// for an id this marketplace did not issue; either way the product comes back in the
    /// error.
    ///
    /// # Panics
    ///
    /// Panics if `product` is new to the marketplace and the catalog already holds 2^32 - 1
    /// distinct products (see [Limits](Self#limits)).
    ///
    /// # Examples
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
        let outcome = match self.producer(producer) {
            None => Err(PublishError::UnknownProducer(product)),
            Some(registered) => {
                let hash = self.catalog.hash(&product);
                let entry = self.catalog.get(&product, hash);
                self.try_publish(registered, producer.index, product, hash, entry)
            }
        };
        if let Some(product) = shown {
            debug!("publish({producer}, {product:?}) -> {}", Outcome(&outcome));
        }
        outcome
    }

    /// Like [`publish`](Self::publish), but when the producer is full, waits up to `timeout`
    /// for a consumer to take one of its products, without spinning.
    ///
    /// `Duration::MAX` waits as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish): [`PublishError::Full`], with the product, if the
    /// timeout passes (or the marketplace is [closed](Self::close)) before there is room.
    ///
    /// # Panics
    ///
    /// Panics if `product` is new to the marketplace and the catalog already holds 2^32 - 1
    /// distinct products (see [Limits](Self#limits)).
    ///
    /// # Examples
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
        let outcome = match self.producer(producer) {
            None => Err(PublishError::UnknownProducer(product)),
            Some(registered) => {
                // Hashed and looked up once: the wait's attempts reuse both.
                let hash = self.catalog.hash(&product);
                let entry = self.catalog.get(&product, hash);
                self.publish_or_wait(registered, producer.index, product, hash, entry, timeout)
            }
        };
        if let Some(product) = shown {
            debug!(
                "publish_timeout({producer}, {product:?}, {timeout:?}) -> {}",
                Outcome(&outcome)
            );
        }
        outcome
    }

    /// Puts `product` (hashed `hash`, its catalog entry `entry` if it has one) on sale for
    /// `producer` (number `index`), if it has room.
    pub(super) fn try_publish(
        &self,
        producer: &Producer,
        index: u32,
        product: P,
        hash: u64,
        entry: Option<&Entry<P>>,
    ) -> Result<(), PublishError<P>> {
        if !producer.try_count(self.queue_size_per_producer) {
            return Err(PublishError::Full(product));
        }
        self.put_counted(producer, index, product, hash, entry);
        Ok(())
    }

    /// Puts a product whose unit `producer` (number `index`) has just counted on its shelf,
    /// `entry` if the caller found it.
    fn put_counted<'a>(
        &'a self,
        producer: &Producer,
        index: u32,
        product: P,
        hash: u64,
        entry: Option<&'a Entry<P>>,
    ) {
        let entry = match entry {
            Some(entry) => entry,
            None => {
                let unit = CountedUnit { producer };
                let entry = self
                    .catalog
                    .get_or_insert(&product, hash, || product.clone());
                unit.keep();
                entry
            }
        };
        entry.shelf.put(Item {
            product,
            producer: index,
        });
    }

    /// Like [`publish_timeout`](Self::publish_timeout) with no timeout, as a future: when
    /// the producer is full, waits (without blocking a thread) until a consumer takes one
    /// of its products, or the marketplace is [closed](Self::close), which gives the
    /// product back in [`PublishError::Full`].
    ///
    /// Runtime-agnostic (it relies on no executor's timers or I/O), and cancel-safe: a
    /// future dropped before it completes has published nothing, holds no unit of capacity
    /// and leaves no waiter registered; its product is dropped with it, and a wake-up it
    /// received but did not use goes to another waiter. Until it is polled again or
    /// dropped, it keeps that wake-up: a future left pending without being polled keeps the
    /// room it was woken for from the publishers asleep behind it (calls that do not wait
    /// can still take it), so poll it to completion or drop it. To bound the wait, race it
    /// with your runtime's timer (as `tokio::time::timeout` does). Blocking and async
    /// publishers of one producer can wait together.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish), the future's output: [`PublishError::Full`], with the
    /// product, once the marketplace is closed before there is room.
    ///
    /// # Panics
    ///
    /// The future panics if `product` is new to the marketplace and the catalog already holds 2^32 - 1
    /// distinct products (see [Limits](Self#limits)).
    ///
    /// # Examples
    ///
    /// With tokio (any executor will do):
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use marketplace::{Marketplace, PublishError};
    ///
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() {
    /// let market = Arc::new(Marketplace::new(1));
    /// let producer = market.register_producer();
    /// market.publish(producer, "tea").unwrap();
    /// let waiting = tokio::spawn({
    ///     let market = Arc::clone(&market);
    ///     // Full: waits for room without holding a thread.
    ///     async move { market.publish_async(producer, "coffee").await }
    /// });
    /// let cart = market.new_cart();
    /// market.add_to_cart(cart, &"tea").unwrap(); // frees room: the task publishes
    /// waiting.await.unwrap().unwrap();
    /// assert_eq!(market.available(&"coffee"), 1);
    ///
    /// // Bounded with the runtime's timer; the cancelled publish leaves nothing behind.
    /// let timed = tokio::time::timeout(Duration::from_millis(10), market.publish_async(producer, "cake"));
    /// assert!(timed.await.is_err());
    /// assert_eq!(market.shelf_len(producer), Some(1));
    /// # }
    /// ```
    #[allow(
        clippy::manual_async_fn,
        reason = "the signature promises a Send future, which `async fn` would leave implicit"
    )]
    pub fn publish_async(
        &self,
        producer: ProducerId,
        product: P,
    ) -> impl Future<Output = Result<(), PublishError<P>>> + Send + '_
    where
        S: Sync,
    {
        async move {
            let log = AsyncCallLog::start(|| format!("publish_async({producer}, {product:?})"));
            let outcome = match self.producer(producer) {
                None => Err(PublishError::UnknownProducer(product)),
                Some(registered) => {
                    // Hashed and looked up once: the wait's attempts reuse both.
                    let hash = self.catalog.hash(&product);
                    let entry = self.catalog.get(&product, hash);
                    self.publish_or_wait_async(registered, producer.index, product, hash, entry)
                        .await
                }
            };
            log.finish(Outcome(&outcome));
            outcome
        }
    }

    /// One attempt at publishing the product in `pending` (hashed `hash`, its catalog
    /// entry `entry` if it had one when the call began) for `producer` (number `index`):
    /// done once it is on sale, else the publishers waiting for room.
    fn publish_attempt<'a>(
        &'a self,
        producer: &'a Producer,
        index: u32,
        pending: &mut Option<P>,
        hash: u64,
        entry: Option<&'a Entry<P>>,
    ) -> Attempt<'a, ()> {
        if !producer.try_count(self.queue_size_per_producer) {
            return Attempt::WaitOn(&producer.room);
        }
        let product = pending.take().expect("published once");
        self.put_counted(producer, index, product, hash, entry);
        Attempt::Done(())
    }

    /// `publish_timeout` once the producer is found: puts `product` (hashed `hash`, its
    /// catalog entry `entry` if it had one) on sale for `producer` (number `index`),
    /// waiting up to `timeout` for room.
    pub(super) fn publish_or_wait(
        &self,
        producer: &Producer,
        index: u32,
        product: P,
        hash: u64,
        entry: Option<&Entry<P>>,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        let product = match self.try_publish(producer, index, product, hash, entry) {
            Err(PublishError::Full(product)) => product,
            done => return done,
        };
        // Ordering: a shortcut only; the wait re-reads it after its fence (see `wait`).
        if timeout.is_zero() || self.closed.load(Ordering::Relaxed) {
            return Err(PublishError::Full(product));
        }
        // An overflowing deadline means "wait as long as it takes".
        let deadline = Instant::now().checked_add(timeout);
        let mut pending = Some(product);
        // The first attempt found the producer full.
        block_until(&producer.room, deadline, &self.closed, || {
            self.publish_attempt(producer, index, &mut pending, hash, entry)
        })
        .ok_or_else(|| PublishError::Full(pending.take().expect("not published")))
    }

    /// `publish_async` once the producer is found, as `publish_or_wait` with no timeout.
    pub(super) async fn publish_or_wait_async(
        &self,
        producer: &Producer,
        index: u32,
        product: P,
        hash: u64,
        entry: Option<&Entry<P>>,
    ) -> Result<(), PublishError<P>> {
        let product = match self.try_publish(producer, index, product, hash, entry) {
            Err(PublishError::Full(product)) => product,
            done => return done,
        };
        let mut pending = Some(product);
        // One more attempt before listening, as in `add_or_wait_async`.
        let first = self.publish_attempt(producer, index, &mut pending, hash, entry);
        let published = wait_until(first, &self.closed, || {
            self.publish_attempt(producer, index, &mut pending, hash, entry)
        })
        .await;
        published.ok_or_else(|| PublishError::Full(pending.take().expect("not published")))
    }
}

/// A unit counted for an item that is not on its shelf yet: if the user's code panics
/// before it gets there, dropping the guard gives the unit back.
struct CountedUnit<'a> {
    producer: &'a Producer,
}

impl CountedUnit<'_> {
    /// The item reached its shelf: the count stays.
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for CountedUnit<'_> {
    fn drop(&mut self) {
        self.producer.uncount();
    }
}
