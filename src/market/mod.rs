//! The marketplace: producers publish, consumers fill carts and place orders, with no
//! global lock.
//!
//! Where things live (each piece documents its own invariants):
//! - `producers`: the registry, read on every publish and every take, changed only by
//!   `register_producer`; an append-only vector, so a read is two plain loads and never
//!   waits. Index `i` is producer `i`, and holds its count of items on sale (`producer`).
//! - `catalog`: one entry per distinct product ever published (or resolved into a product
//!   handle), holding that product's shelf (`product_shelf`), found by hashing the product;
//!   a lookup writes nothing.
//! - `carts`: the open carts, each in a slot with a lock of its own (`carts`).
//!
//! This module owns the operations that move items between them, in `publish.rs` (onto
//! shelves) and `buy.rs` (into carts, back, and out as orders), and the life of the whole.
//!
//! Conservation: an item is, at every moment, in exactly one of three places: on its
//! product's shelf, in one cart, or held by the single thread moving it between the two (the
//! winner of the claim in `remove_from_cart`, or the taker in `add_to_cart`). Its producer
//! counts it from before it first reaches a shelf until it enters a cart, and again from
//! before a return puts it back.
//!
//! Locks: one per cart, the catalog's insert lock, and the list of cart slots returned by
//! exited threads (`carts::spare_slot`); no thread waits for another's progress while
//! holding one (every lock is held for a few steps of its holder's own work, and no user
//! code runs under any but a cart's, where the user's `Eq` runs in a claim). Panics in the
//! user's `Hash`, `Eq`, `Clone` or `Debug` leave every count right: user code runs before
//! an item or a unit changes hands, or under a drop guard that undoes the change.

mod async_call_log;
mod buy;
mod product_handle;
mod publish;

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use log::debug;

use crate::carts::Carts;
use crate::catalog::Catalog;
use crate::error::ZeroCapacityError;
use crate::hasher::DefaultHashBuilder;
use crate::ids::ProducerId;
use crate::producer::Producer;
use crate::sync::{AppendOnlyVec, AtomicBool, AtomicU64, Ordering, fence, next_market_tag};

pub use product_handle::ProductHandle;

/// How many producers a marketplace registers: their indices are numbered in 32 bits.
const MAX_PRODUCERS: u64 = 1 << 32;

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
/// with an [`Arc`](std::sync::Arc) or scoped threads (with the default hasher it is `Send`
/// when `P` is, and `Sync` when `P` is `Send + Sync`; its async calls' futures are `Send`,
/// so they can be spawned on a multi-threaded runtime). No operation takes a global lock,
/// and none waits for another thread while holding a lock. Operations that overlap in time are
/// not atomic with respect to each other (a publish holds its room before its item is on
/// sale, for one); `docs/design.md` says what can be seen between their steps.
///
/// Products are hashed with `S`, [`DefaultHashBuilder`] unless the marketplace is built
/// [`with_hasher`](Self::with_hasher). The calls that ask for a product (`add_to_cart` and
/// its waiting forms, `remove_from_cart`, `available`) take any form the product borrows as,
/// as [`HashMap::get`](std::collections::HashMap::get) does: a marketplace of `String`s is
/// asked with a `&str`, and that form must hash and compare as the product does (the
/// contract of [`Borrow`]).
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
///
/// # Limits
///
/// Producers, cart slots and distinct products are numbered in 32 bits, to keep ids and
/// items small. Registering a producer once 2^32 are registered, opening a cart once 2^32 - 1
/// cart slots exist and none is free (a slot holds an open cart or a thread's spare), and
/// the first publish (or handle) of a product once the catalog holds 2^32 - 1 panic. They
/// panic rather than return an error as `Vec::try_reserve` does: no single call asks for
/// them, only 2^32 calls each keeping an allocation alive (a producer, a cart slot, a
/// catalog entry), and a process that runs out of memory on the way is aborted
/// ([`handle_alloc_error`](std::alloc::handle_alloc_error)), so an error at the limit
/// would offer a recovery the way there does not. A refusal changes nothing: no producer is
/// counted, no cart slot made nor serial spent, no catalog entry kept (`docs/design.md`
/// names the tests).
pub struct Marketplace<P, S = DefaultHashBuilder> {
    /// Stamped into every id issued here; ids with another tag are foreign.
    tag: u64,
    queue_size_per_producer: usize,
    /// Append-only: a registered producer is never removed, so an index, once valid, stays
    /// valid.
    producers: AppendOnlyVec<Producer>,
    /// Places in `producers` taken by registrations, pushed or about to be: never more
    /// than `MAX_PRODUCERS`.
    producers_reserved: AtomicU64,
    /// Every product ever published or resolved, with its shelf; entries are never removed,
    /// so a waiter's shelf stays the one publishers use, and a product handle's entry stays.
    catalog: Catalog<P, S>,
    /// Open carts only.
    carts: Carts<P>,
    /// Set by `close`; blocking waits stop waiting once it is.
    closed: AtomicBool,
}

/// A snapshot of a marketplace's size, from [`Marketplace::stats`].
///
/// Taken without stopping other threads, so under concurrent use the figures may come from
/// slightly different moments.
///
/// More figures may come in later versions, so a `Stats` is not built with a struct literal
/// outside this crate, nor matched without `..`. Another marketplace that reports one (the
/// Redis backend) starts from [`Stats::default`] and sets each figure:
///
/// ```
/// use marketplace::Stats;
///
/// let mut stats = Stats::default();
/// stats.producers = 2;
/// stats.open_carts = 1;
/// assert_eq!(stats.to_string(), "2 producers, 1 open carts, 0 items on shelves, 0 items in carts");
/// ```
///
/// ```compile_fail,E0639
/// let stats = marketplace::Stats {
///     producers: 2,
///     open_carts: 1,
///     items_on_shelves: 0,
///     items_in_carts: 0,
/// };
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
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

impl<P, S> fmt::Debug for Marketplace<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Marketplace")
            .field("queue_size_per_producer", &self.queue_size_per_producer)
            .field("producers", &self.producers.count())
            // Ordering: a report only.
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<P: Eq + Hash + Clone + fmt::Debug + Send + Sync> Marketplace<P> {
    /// Creates a marketplace where each producer may have up to `queue_size_per_producer`
    /// products on the shelf at once.
    ///
    /// Capacity is a count, not storage: any size up to `usize::MAX` costs the same, and
    /// nothing is allocated per unit of it.
    ///
    /// # Panics
    ///
    /// Panics if `queue_size_per_producer` is zero: a producer could then never publish
    /// anything. [`try_new`](Self::try_new) returns an error instead.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::<String>::new(15);
    /// assert_eq!(market.queue_size_per_producer(), 15);
    /// ```
    #[must_use]
    pub fn new(queue_size_per_producer: usize) -> Self {
        Self::with_hasher(queue_size_per_producer, DefaultHashBuilder::default())
    }

    /// Like [`new`](Self::new), but a zero `queue_size_per_producer` is an error rather
    /// than a panic: for a size that comes from configuration or input.
    ///
    /// # Errors
    ///
    /// [`ZeroCapacityError`] if `queue_size_per_producer` is zero.
    ///
    /// ```
    /// use marketplace::{Marketplace, ZeroCapacityError};
    ///
    /// let market = Marketplace::<String>::try_new(15)?;
    /// assert_eq!(market.queue_size_per_producer(), 15);
    /// assert!(Marketplace::<String>::try_new(0).is_err());
    /// # Ok::<(), ZeroCapacityError>(())
    /// ```
    pub fn try_new(queue_size_per_producer: usize) -> Result<Self, ZeroCapacityError> {
        Self::try_with_hasher(queue_size_per_producer, DefaultHashBuilder::default())
    }
}

impl<P: Eq + Hash + Clone + fmt::Debug + Send + Sync, S: BuildHasher> Marketplace<P, S> {
    /// Creates a marketplace that hashes products with `hasher` (as
    /// `HashMap::with_hasher` does), for instance std's SipHash when products come from
    /// untrusted input.
    ///
    /// # Panics
    ///
    /// Panics if `queue_size_per_producer` is zero;
    /// [`try_with_hasher`](Self::try_with_hasher) returns an error instead.
    ///
    /// ```
    /// use std::hash::RandomState;
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::with_hasher(2, RandomState::new());
    /// let producer = market.register_producer();
    /// market.publish(producer, "tea").unwrap();
    /// assert_eq!(market.available(&"tea"), 1);
    /// ```
    #[must_use]
    pub fn with_hasher(queue_size_per_producer: usize, hasher: S) -> Self {
        match Self::try_with_hasher(queue_size_per_producer, hasher) {
            Ok(market) => market,
            Err(zero) => panic!("{zero}"),
        }
    }

    /// Like [`with_hasher`](Self::with_hasher), but a zero `queue_size_per_producer` is an
    /// error rather than a panic.
    ///
    /// # Errors
    ///
    /// [`ZeroCapacityError`] if `queue_size_per_producer` is zero; nothing is made, and no
    /// marketplace tag is spent.
    ///
    /// ```
    /// use std::hash::RandomState;
    /// use marketplace::{Marketplace, ZeroCapacityError};
    ///
    /// let market = Marketplace::<&str, _>::try_with_hasher(2, RandomState::new())?;
    /// assert_eq!(market.queue_size_per_producer(), 2);
    /// let refused = Marketplace::<&str, _>::try_with_hasher(0, RandomState::new());
    /// assert_eq!(refused.unwrap_err(), ZeroCapacityError::default());
    /// # Ok::<(), ZeroCapacityError>(())
    /// ```
    pub fn try_with_hasher(
        queue_size_per_producer: usize,
        hasher: S,
    ) -> Result<Self, ZeroCapacityError> {
        if queue_size_per_producer == 0 {
            return Err(ZeroCapacityError);
        }
        let tag = next_market_tag();
        Ok(Self {
            tag,
            queue_size_per_producer,
            producers: AppendOnlyVec::new(),
            producers_reserved: AtomicU64::new(0),
            catalog: Catalog::new(hasher),
            carts: Carts::new(tag),
            closed: AtomicBool::new(false),
        })
    }

    /// How many products one producer may have on the shelf at once.
    ///
    /// ```
    /// let market = marketplace::Marketplace::<u8>::new(3);
    /// assert_eq!(market.queue_size_per_producer(), 3);
    /// ```
    #[must_use]
    pub fn queue_size_per_producer(&self) -> usize {
        self.queue_size_per_producer
    }

    /// Registers a new producer and returns its id.
    ///
    /// Registration is a lock-free append to the registry; ids are handed out in order, the
    /// first being index 0.
    ///
    /// # Panics
    ///
    /// Panics once 2^32 producers are registered (see [Limits](Self#limits)); the refused
    /// registration leaves the marketplace as it was.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::<u32>::new(1);
    /// let producer = market.register_producer();
    /// assert_eq!(market.stats().producers, 1);
    /// assert_eq!(market.shelf_len(producer), Some(0));
    /// ```
    #[must_use = "the id is the only way to publish for the producer"]
    pub fn register_producer(&self) -> ProducerId {
        self.register_producer_below(MAX_PRODUCERS)
    }

    /// `register_producer`, refusing once `limit` producers are registered: the tests
    /// reach a small limit where the real one would take 2^32 registrations.
    fn register_producer_below(&self, limit: u64) -> ProducerId {
        // A place is reserved before the push, as a producer once pushed cannot be taken
        // back: a refusal must leave the registry (and `stats`) as it was.
        // Ordering: only the count matters, which any RMW on one location keeps exact. One
        // RMW, undone on a refusal: a racing registration may then be refused too, which
        // only happens at the limit.
        if self.producers_reserved.fetch_add(1, Ordering::Relaxed) >= limit {
            // Ordering: as above.
            self.producers_reserved.fetch_sub(1, Ordering::Relaxed);
            panic!("fewer than 2^32 producers");
        }
        // At most `limit` pushes ever happen, so every index is below it.
        let index = self.producers.push(Producer::new());
        let index = u32::try_from(index).expect("fewer than 2^32 producers");
        let id = ProducerId {
            market: self.tag,
            index,
        };
        debug!("register_producer() -> {id}");
        id
    }

    /// Stops every blocking wait: threads blocked in
    /// [`add_to_cart_timeout`](Self::add_to_cart_timeout) or
    /// [`publish_timeout`](Self::publish_timeout) (and tasks in their async forms) wake and
    /// return their "unavailable" or "full" error, and later calls try and return at once,
    /// without waiting.
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
        // Ordering: the fence below orders it before the reads that follow.
        self.closed.store(true, Ordering::Relaxed);
        // Ordering: orders the store above before the reads of the registry and catalog
        // below: a waiter either registered (and its producer or product became visible)
        // before this fence, and is woken below, or it sees `closed` after registering.
        // Without it, the registry's relaxed length read could miss a producer registered
        // just before, whose blocked publisher would then sleep forever.
        fence(Ordering::SeqCst);
        for (_, producer) in self.producers.iter() {
            producer.room.notify_all();
        }
        self.catalog
            .for_each(|entry| entry.shelf.arrivals.notify_all());
        self.catalog.wake_all_unlisted();
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
    #[must_use]
    pub fn is_closed(&self) -> bool {
        // Ordering: a report; waits order their own reads (see `wait`).
        self.closed.load(Ordering::Relaxed)
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
    #[must_use]
    pub fn shelf_len(&self, producer: ProducerId) -> Option<usize> {
        self.producer(producer).map(Producer::on_sale)
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
    #[must_use]
    pub fn available<Q>(&self, product: &Q) -> usize
    where
        P: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.catalog.hash(product);
        self.catalog
            .get(product, hash)
            .map_or(0, |entry| entry.shelf.len())
    }

    /// A snapshot of the marketplace's size. It visits every producer and cart, so it is
    /// meant for reports and tests, not for hot paths.
    ///
    /// ```
    /// use marketplace::Marketplace;
    ///
    /// let market = Marketplace::new(4);
    /// let producer = market.register_producer();
    /// market.publish(producer, "tea").unwrap();
    /// market.publish(producer, "coffee").unwrap();
    /// let cart = market.new_cart();
    /// market.add_to_cart(cart, &"tea").unwrap();
    /// let stats = market.stats();
    /// assert_eq!(stats.producers, 1);
    /// assert_eq!(stats.open_carts, 1);
    /// assert_eq!(stats.items_on_shelves, 1);
    /// assert_eq!(stats.items_in_carts, 1);
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        let items_on_shelves = self
            .producers
            .iter()
            .map(|(_, producer)| producer.on_sale())
            .sum();
        let carts = self.carts.counts();
        Stats {
            producers: self.producers.count(),
            open_carts: carts.open,
            items_on_shelves,
            items_in_carts: carts.items,
        }
    }

    /// The producer `id` names, or `None` for an id not issued here.
    fn producer(&self, id: ProducerId) -> Option<&Producer> {
        self.producers.get(id.index_in(self.tag)?)
    }

    /// The producer of an item on sale or in a cart, registered by construction.
    fn producer_at(&self, index: u32) -> &Producer {
        self.producers
            .get(index as usize)
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

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::wait::Waiters;
    use crate::{AddError, PublishError};

    /// Returns once a waiter has registered with `waiters`, that is, has given up retrying
    /// and is about to sleep; fails if none does in ten seconds.
    fn until_someone_sleeps_on(waiters: &Waiters, what: &str) {
        let started = Instant::now();
        while waiters.registered_now() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{what} never went to sleep: it gave up at once"
            );
            std::thread::yield_now();
        }
    }

    /// Polls `condition` until it holds; fails, saying `what` never happened, if it does
    /// not in ten seconds.
    fn until(condition: impl Fn() -> bool, what: &str) {
        let started = Instant::now();
        while !condition() {
            assert!(started.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::yield_now();
        }
    }

    /// Hashes a `u64` product to itself, so a test knows which products differ in the low
    /// bits of their hash.
    #[derive(Default)]
    struct IdentityHasher(u64);

    impl std::hash::Hasher for IdentityHasher {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for byte in bytes {
                self.0 = self.0 << 8 | u64::from(*byte);
            }
        }
        fn write_u64(&mut self, value: u64) {
            self.0 = value;
        }
    }

    type IdentityHash = std::hash::BuildHasherDefault<IdentityHasher>;

    /// The first publish of a product wakes no consumer waiting for another product that
    /// has no shelf yet, when their hashes differ in their low bits (0 and 1 here): each
    /// such wake-up would find nothing and sleep again, and every new product would wake
    /// every consumer waiting for one not yet listed.
    #[test]
    fn a_new_product_wakes_no_consumer_waiting_for_another() {
        let market = Marketplace::with_hasher(2, IdentityHash::default());
        let producer = market.register_producer();
        let cart = market.new_cart();
        std::thread::scope(|s| {
            let consumer =
                s.spawn(|| market.add_to_cart_timeout(cart, &0_u64, Duration::from_secs(60)));
            until(
                || market.catalog.unlisted_listening_now() == 1,
                "the consumer of 0 never went to sleep",
            );
            market.publish(producer, 1_u64).unwrap();
            let woken_by_another = market.catalog.unlisted_listeners_woken();
            market.publish(producer, 0_u64).unwrap();
            assert_eq!(consumer.join().unwrap(), Ok::<_, AddError>(()));
            assert_eq!(
                woken_by_another, 0,
                "the first publish of 1 woke the consumer waiting for 0"
            );
        });
        assert_eq!(market.place_order(cart), Ok(vec![0]));
    }

    /// `close` wakes the consumers waiting for products with no shelf yet in every bucket,
    /// one consumer in each here (products 0 to 1023 differ in their low bits), and each
    /// reports `Unavailable` at once, long before its timeout.
    #[test]
    fn close_wakes_consumers_waiting_for_unlisted_products_in_every_bucket() {
        let market = &Marketplace::<u64, _>::with_hasher(1, IdentityHash::default());
        let products = 0..crate::sync::UNLISTED_BUCKETS as u64;
        std::thread::scope(|s| {
            let consumers: Vec<_> = products
                .map(|product| {
                    let cart = market.new_cart();
                    s.spawn(move || {
                        market.add_to_cart_timeout(cart, &product, Duration::from_secs(60))
                    })
                })
                .collect();
            until(
                || market.catalog.unlisted_listening_now() == consumers.len(),
                "the consumers never all went to sleep",
            );
            market.close();
            until(
                || market.catalog.unlisted_listening_now() == 0,
                "close left a consumer asleep",
            );
            for consumer in consumers {
                assert_eq!(consumer.join().unwrap(), Err(AddError::Unavailable));
            }
        });
    }

    /// Every consumer waiting for a product with no shelf yet is served by its product's
    /// first items, whichever bucket it sleeps in and whoever shares it: products 0, B and
    /// 2B share a bucket (B the number of buckets), as do 1 and B + 1; three consumers wait
    /// for each, two blocking and one async; B gets its entry from a handle before any
    /// publish, waking its bucket for nothing on sale. Each consumer must finish soon after its item arrives, long
    /// before its timeout, whose last attempt would hide a lost wake-up.
    #[test]
    fn consumers_of_unlisted_products_sharing_buckets_are_all_served() {
        const B: u64 = crate::sync::UNLISTED_BUCKETS as u64;
        const PRODUCTS: [u64; 5] = [0, B, 2 * B, 1, B + 1];
        const PER_PRODUCT: usize = 3;
        let market = &Marketplace::with_hasher(16, IdentityHash::default());
        let producer = market.register_producer();
        std::thread::scope(|s| {
            let consumers: Vec<_> = PRODUCTS
                .iter()
                .flat_map(|product| (0..PER_PRODUCT).map(move |n| (product, n)))
                .map(|(product, n)| {
                    let cart = market.new_cart();
                    let consumer = s.spawn(move || {
                        if n == 0 {
                            tokio::runtime::Builder::new_current_thread()
                                .build()
                                .unwrap()
                                .block_on(market.add_to_cart_async(cart, product))
                        } else {
                            market.add_to_cart_timeout(cart, product, Duration::from_secs(60))
                        }
                    });
                    (cart, *product, consumer)
                })
                .collect();
            until(
                || market.catalog.unlisted_listening_now() == consumers.len(),
                "the consumers never all went to sleep",
            );
            let handle = market.product(&B);
            for product in [2 * B, 1, 0, B + 1] {
                for _ in 0..PER_PRODUCT {
                    market.publish(producer, product).unwrap();
                }
            }
            for _ in 0..PER_PRODUCT {
                handle.publish(producer).unwrap();
            }
            let started = Instant::now();
            while !consumers
                .iter()
                .all(|(_, _, consumer)| consumer.is_finished())
            {
                if started.elapsed() >= Duration::from_secs(10) {
                    // Frees the async consumers, which have no timeout, so the test ends.
                    market.close();
                    panic!("a consumer slept beside its item");
                }
                std::thread::yield_now();
            }
            for (cart, product, consumer) in consumers {
                assert_eq!(consumer.join().unwrap(), Ok(()));
                assert_eq!(market.place_order(cart), Ok(vec![product]));
            }
        });
    }

    /// A registration refused at the limit leaves the marketplace as it was: the refused
    /// producer is neither counted nor kept, and the next attempt is refused too.
    #[test]
    fn a_registration_refused_at_the_limit_leaves_the_marketplace_unchanged() {
        const LIMIT: u64 = 3;
        let market = Marketplace::<u8>::new(1);
        let registered: Vec<_> = (0..LIMIT)
            .map(|_| market.register_producer_below(LIMIT))
            .collect();
        let before = market.stats();
        for attempt in 1..=2 {
            let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                market.register_producer_below(LIMIT)
            }));
            assert!(
                refused.is_err(),
                "attempt {attempt} past the limit was let in"
            );
            assert_eq!(market.stats(), before, "after refused attempt {attempt}");
            assert_eq!(market.producers.count(), registered.len());
        }
        for producer in registered {
            assert_eq!(market.shelf_len(producer), Some(0));
        }
    }

    /// A timeout past the clock's range waits as long as it takes, and one far away but in
    /// range waits until woken: each blocking wait goes to sleep (a deadline read as passed
    /// would return before that) and then gets what it waited for.
    #[test]
    fn timeouts_past_the_clocks_range_wait_as_long_as_it_takes() {
        let far = Duration::from_secs(1 << 40);
        assert!(Instant::now().checked_add(far).is_some());
        for timeout in [Duration::MAX, Duration::from_secs(u64::MAX), far] {
            let market = Marketplace::new(1);
            let producer = market.register_producer();
            market.publish(producer, 1_u8).unwrap();
            let cart = market.new_cart();
            let room = &market.producers.get(0).unwrap().room;
            std::thread::scope(|s| {
                let publisher = s.spawn(|| market.publish_timeout(producer, 2_u8, timeout));
                until_someone_sleeps_on(room, "a full publisher");
                assert_eq!(market.add_to_cart(cart, &1_u8), Ok(()));
                assert_eq!(publisher.join().unwrap(), Ok::<_, PublishError<u8>>(()));
            });
            assert_eq!(market.add_to_cart(cart, &2_u8), Ok(()));
            let shelf = &market
                .catalog
                .get(&1_u8, market.catalog.hash(&1_u8))
                .unwrap();
            std::thread::scope(|s| {
                let consumer = s.spawn(|| market.add_to_cart_timeout(cart, &1_u8, timeout));
                until_someone_sleeps_on(&shelf.shelf.arrivals, "a consumer");
                market.publish(producer, 1_u8).unwrap();
                assert_eq!(consumer.join().unwrap(), Ok::<_, AddError>(()));
            });
            assert_eq!(market.place_order(cart).unwrap(), [1, 2, 1]);
        }
    }
}
