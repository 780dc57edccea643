//! The marketplace contract on a Redis server: producers and consumers in separate
//! processes and hosts share one market.
//!
//! [`RedisMarketplace`] has the engine's operations with the same names and outcomes
//! (per-producer capacity, equal products interchangeable oldest first, carts,
//! claim-and-return to the producer that made an item even when it is full, atomic orders,
//! `close`), each one Lua script run atomically on the server, plus a `Connection` error
//! variant for a call the server could not complete. Items travel as their serde (JSON)
//! form and come back as published; equal products share one queue, found by the
//! [`CanonicalKey`] the product type provides, which must agree with its `Eq`.
//!
//! Batches (`publish_many`, `add_many_to_cart` and their `_timeout` forms) move many
//! items per call, one round trip and one script for all of them.
//!
//! Waiting calls block on the server (a blocking pop on a doorbell list), not by polling.
//! A call whose connection breaks is retried under the same operation id, so it applies at
//! most once. `docs/design.md` in the repository maps each operation to its keys and
//! script and says what a crash of a client or of the server can lose.
#![forbid(unsafe_code)]
// Every call that can fail or panic says when, in `# Errors` and `# Panics`.
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

mod contract;
mod error;
mod ids;
mod lane;
mod market;
mod product;
mod scripts;
mod wait;

/// The README's example is compiled as a doc test, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// A value ignored where only the value matters is warned about (`unused_must_use`), as
/// in the engine; each snippet fails to build once the lint is denied. Ignoring
/// `with_retry_for`'s handle drops the market it was called on.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn set(market: marketplace_redis::RedisMarketplace<String>) {
///     market.with_retry_for(std::time::Duration::ZERO);
/// }
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// marketplace_redis::PublishError::Full("tea").into_product();
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn show(market: &marketplace_redis::RedisMarketplace<String>) {
///     market.queue_size_per_producer();
/// }
/// ```
#[cfg(doctest)]
struct IgnoredValuesAreWarnedAbout;

pub use error::{
    AddError, AddManyError, ConnectError, ConnectionError, OrderError, PublishError, RemoveError,
    UndecodableOrder, url_without_password,
};
pub use ids::{CartId, ProducerId};
pub use lane::{CONNECT_TIMEOUT, FORGET_TIMEOUT, READ_TIMEOUT};
pub use market::{DEFAULT_RETRY_FOR, MAX_ARGUMENT_BYTES, MAX_CAPACITY, RedisMarketplace};
pub use marketplace::Stats;
pub use product::CanonicalKey;
