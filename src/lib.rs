//! A lock-free, multi-producer, multi-consumer marketplace.
//!
//! Producers [`publish`](Marketplace::publish) products into a [`Marketplace`], each holding
//! at most `queue_size_per_producer` of them on the shelf at once. Consumers open carts,
//! [`add_to_cart`](Marketplace::add_to_cart) whatever equal product is on sale,
//! [`remove_from_cart`](Marketplace::remove_from_cart) to give one back to the producer
//! that made it, and [`place_order`](Marketplace::place_order). It is the classic
//! "marketplace" exercise, rebuilt without its one global lock: an atomic count per
//! producer bounds what it has on sale, per-product lock-free queues hold what is on sale,
//! each cart has a lock of its own, and ids come from atomic counters.
//!
//! ```
//! use std::sync::Arc;
//! use std::thread;
//! use std::time::Duration;
//!
//! use marketplace::Marketplace;
//!
//! let market = Arc::new(Marketplace::new(2));
//!
//! let producer = {
//!     let market = Arc::clone(&market);
//!     thread::spawn(move || {
//!         let me = market.register_producer();
//!         for _ in 0..3 {
//!             // Blocks while this producer already has 2 teas on the shelf.
//!             market.publish_timeout(me, "tea", Duration::from_secs(10)).unwrap();
//!         }
//!     })
//! };
//!
//! let consumer = {
//!     let market = Arc::clone(&market);
//!     thread::spawn(move || {
//!         let cart = market.new_cart();
//!         for _ in 0..3 {
//!             // Blocks (without spinning) until a tea is on sale.
//!             market.add_to_cart_timeout(cart, &"tea", Duration::from_secs(10)).unwrap();
//!         }
//!         market.place_order(cart).unwrap()
//!     })
//! };
//!
//! producer.join().unwrap();
//! assert_eq!(consumer.join().unwrap(), vec!["tea"; 3]);
//! assert_eq!(market.stats().open_carts, 0);
//! ```
//!
//! Every operation that acts on the marketplace logs a `debug` record through the [`log`]
//! crate (the snapshots, such as [`stats`](Marketplace::stats), log none); with no logger
//! installed that costs one relaxed atomic load.
//!
//! # User code
//!
//! The engine runs the product's `Hash`, `Eq`, `Clone` and `Debug` (and those of the
//! borrowed form a call is asked with): `Hash` and `Eq` to look a product up in every call
//! that names one, `Clone` for a product's first publish (or handle) and a handle's
//! publish, `Debug` for the log records, only with a logger enabled at `debug`. With such
//! a logger, `publish` and `publish_timeout` also clone their product for their record,
//! which shows it once it is on sale, and drop that clone once the record is written
//! (`tests/engine_logging_user_code.rs`). It drops products only there, in
//! [`Marketplace`]'s own drop, a key it cloned for the catalog and then found filed
//! already, and the product of a `publish_async` future dropped before it published
//! (`the_drop_of_a_product_in_a_dropped_publish_may_call_anything`); every other product
//! goes back to the caller. All of it runs outside the engine's locks but for one
//! place: `remove_from_cart` compares the cart's items with `Eq` under that cart's lock. So
//! user code may call back into the marketplace that runs it (a product holding an `Arc` of
//! it, or reaching it through a thread-local):
//!
//! - from any of it but that comparison, any call works, on any cart, the one being worked
//!   on included (`tests/engine_reentrancy.rs`,
//!   `user_code_outside_the_carts_lock_may_call_anything`);
//! - from the `Eq` of `remove_from_cart`'s comparison, every call that names no cart works,
//!   and so do calls on other carts (`the_eq_of_a_claim_may_call_anything_but_its_own_cart`;
//!   a spent cart whose slot the compared one reuses is unknown there as anywhere:
//!   `a_spent_cart_in_the_slot_of_a_claims_cart_is_unknown_from_its_eq`), but a call on the
//!   cart being compared that takes its lock (`remove_from_cart`, `place_order`, and
//!   `add_to_cart` in its waiting, async and handle forms too, once it finds an item on
//!   sale) would wait for the lock its own thread holds: it panics instead, saying so, and
//!   the remove with it, leaving the cart and every count as they were
//!   (`a_call_on_its_own_cart_from_the_eq_of_a_claim_panics_and_changes_nothing`). An add
//!   has taken the item it found by then: it puts it back on sale first, but last, behind
//!   items published after it, as an add whose cart was ordered meanwhile does
//!   (`an_add_refused_in_a_claim_puts_its_item_back_last`). An add that finds nothing on
//!   sale returns `Unavailable` as ever, and a waiting one waits, this cart's lock held
//!   meanwhile, until an item comes, then panics
//!   (`a_waiting_add_from_a_claim_panics_once_an_item_comes`). A call on another cart from
//!   there holds this cart's lock while it takes that one's: two threads doing so on each
//!   other's cart deadlock, as does a remove on that other cart whose own comparison calls
//!   back into this one (only the innermost claim is recognised), neither of which the
//!   engine detects; keep cart calls out of such an `Eq`.
//!
//! The async calls' futures run the same code when polled, and hold no lock between polls
//! (the same test polls `publish_async` and `add_to_cart_async` among its operations).
//! The `Waker` a future is polled with is woken under the lock of the list of waiters it
//! joined (`event-listener`'s `notify` wakes under it), so a waker that calls back into
//! the marketplace, rather than scheduling its task as an executor's wakers do, may
//! deadlock.
//!
//! [`baseline::LockedMarketplace`] runs all user code under its one lock: its trait impls
//! must not call that marketplace at all (see its docs).
//!
//! [`baseline::LockedMarketplace`] has the same semantics behind one `Mutex` (the classic
//! design); the tests hold the engine to it and the benchmarks measure against it.
//!
//! `docs/design.md` in the repository describes the protocol, its invariants and what the
//! loom models check.
#![forbid(unsafe_code)]
// Every public call that can fail or panic says when, in `# Errors` and `# Panics`.
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod baseline;
mod cart;
mod carts;
mod catalog;
mod error;
mod hasher;
mod ids;
mod item;
mod market;
mod producer;
mod product_shelf;
mod sync;
mod wait;

/// The README's examples are compiled and run as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// Ignoring a new id is warned about (`unused_must_use`), as no call gives it back: a cart
/// whose id is dropped stays open, holding its slot and counted in `stats().open_carts`,
/// with no way left to order it. Each snippet fails to build once the lint is denied.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let market = marketplace::Marketplace::<u8>::new(1);
/// market.new_cart();
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let market = marketplace::Marketplace::<u8>::new(1);
/// market.register_producer();
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let market = marketplace::baseline::LockedMarketplace::<u8>::new(1);
/// market.new_cart();
/// ```
#[cfg(doctest)]
struct IgnoredIdsAreRefused;

/// What must not compile, beside `tests/engine_api.rs`, which checks what must: a market of
/// products that cannot be shared across threads cannot be shared (every thread compares
/// against the catalog's copies), and one of products that cannot be sent cannot be sent.
/// Each snippet fails on exactly that bound.
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<marketplace::Marketplace<std::cell::Cell<u8>>>();
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<marketplace::Marketplace<std::rc::Rc<u8>>>();
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<marketplace::baseline::LockedMarketplace<std::rc::Rc<u8>>>();
/// ```
#[cfg(doctest)]
struct ThreadSafetyFollowsTheProducts;

pub use error::{AddError, OrderError, PublishError, RemoveError, ZeroCapacityError};
pub use hasher::{DefaultHashBuilder, DefaultHasher};
pub use ids::{CartId, ProducerId};
pub use market::{Marketplace, ProductHandle, Stats};
