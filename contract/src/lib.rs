//! The marketplace contract as one trait, [`Market`], for code written once and run on
//! every marketplace: the engine ([`Marketplace`]), the classic one-`Mutex` design
//! ([`LockedMarketplace`]) and, in `marketplace-redis`, a market on a Redis server. The
//! engine's tests, the benchmark workloads and the scenario runner's Redis runs use it;
//! the engine itself does not (its hot path has no dynamic dispatch or extra layer).
//!
//! Each operation has two forms. `try_*` reports a failure to reach the market (a lost
//! server) as `Err(Self::Failure)`, with the operation's own outcome inside `Ok`; for
//! in-process markets the failure type is [`Infallible`](std::convert::Infallible). A
//! publish's failure is a [`PublishFailure`], which gives the product back beside it, as
//! every refusal inside `Ok` does, so no form of publish drops the caller's product. The
//! form with the engine's name (`publish`, `add_to_cart`, ...) returns that outcome alone
//! and panics on a failure, which suits tests and benchmarks, where a lost server is a bug
//! of the setup.
//!
//! ```
//! use marketplace::Marketplace;
//! use marketplace_contract::Market;
//!
//! /// A rule written once: a published product can be bought.
//! fn published_then_bought<M: Market<&'static str>>(market: &M) {
//!     let producer = market.register_producer();
//!     market.publish(producer, "tea").unwrap();
//!     let cart = market.new_cart();
//!     market.add_to_cart(cart, &"tea").unwrap();
//!     assert_eq!(market.place_order(cart).unwrap(), ["tea"]);
//! }
//!
//! published_then_bought(&Marketplace::new(1));
//! published_then_bought(&marketplace::baseline::LockedMarketplace::new(1));
//! ```
#![forbid(unsafe_code)]
// Every call that can fail or panic says when, in `# Errors` and `# Panics`.
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

use std::error::Error;
use std::fmt::{self, Debug, Display};
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{
    AddError, CartId, Marketplace, OrderError, ProducerId, PublishError, RemoveError, Stats,
};

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
///
/// Each call, `try_` form included, also panics where the implementation's own call does
/// (the engine's `register_producer`, `new_cart` and first publish of a product at its
/// [limits](Marketplace#limits), the baseline's `register_producer` at the same limit):
/// those are not failures to reach the market.
pub trait Market<P>: Sync {
    /// What `register_producer` issues.
    type Producer: Id;
    /// What `new_cart` issues.
    type Cart: Id;
    /// Why a call could not reach the market at all; [`Infallible`](std::convert::Infallible) in process.
    type Failure: Error + Send + Sync + 'static;

    /// `register_producer`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_register_producer(&self) -> Result<Self::Producer, Self::Failure>;
    /// `publish`.
    ///
    /// # Errors
    ///
    /// A [`PublishFailure`], holding the product and `Self::Failure`, when the market
    /// cannot be reached; the operation's own outcome is inside `Ok`. Whether the product
    /// went on sale is then unknown (see [`PublishFailure`]).
    fn try_publish(
        &self,
        producer: Self::Producer,
        product: P,
    ) -> Result<Result<(), PublishError<P>>, PublishFailure<P, Self::Failure>>;
    /// `publish_timeout`.
    ///
    /// # Errors
    ///
    /// As [`try_publish`](Self::try_publish).
    fn try_publish_timeout(
        &self,
        producer: Self::Producer,
        product: P,
        timeout: Duration,
    ) -> Result<Result<(), PublishError<P>>, PublishFailure<P, Self::Failure>>;
    /// `new_cart`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_new_cart(&self) -> Result<Self::Cart, Self::Failure>;
    /// `add_to_cart`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_add_to_cart(
        &self,
        cart: Self::Cart,
        product: &P,
    ) -> Result<Result<(), AddError>, Self::Failure>;
    /// `add_to_cart_timeout`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_add_to_cart_timeout(
        &self,
        cart: Self::Cart,
        product: &P,
        timeout: Duration,
    ) -> Result<Result<(), AddError>, Self::Failure>;
    /// `remove_from_cart`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_remove_from_cart(
        &self,
        cart: Self::Cart,
        product: &P,
    ) -> Result<Result<(), RemoveError>, Self::Failure>;
    /// `place_order`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_place_order(
        &self,
        cart: Self::Cart,
    ) -> Result<Result<Vec<P>, OrderError>, Self::Failure>;
    /// `shelf_len`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_shelf_len(&self, producer: Self::Producer) -> Result<Option<usize>, Self::Failure>;
    /// `available`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_available(&self, product: &P) -> Result<usize, Self::Failure>;
    /// `stats`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_stats(&self) -> Result<Stats, Self::Failure>;
    /// `close`.
    ///
    /// # Errors
    ///
    /// `Self::Failure` when the market cannot be reached; the operation's own outcome
    /// is inside `Ok`.
    fn try_close(&self) -> Result<(), Self::Failure>;

    /// `register_producer`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_register_producer` returns the failure).
    #[must_use = "the id is the only way to publish for the producer"]
    fn register_producer(&self) -> Self::Producer {
        reached(self.try_register_producer())
    }
    /// `publish`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_publish` returns the failure).
    ///
    /// # Errors
    ///
    /// The operation's own refusal, as [`Marketplace::publish`] reports it.
    fn publish(&self, producer: Self::Producer, product: P) -> Result<(), PublishError<P>> {
        reached(self.try_publish(producer, product))
    }
    /// `publish_timeout`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_publish_timeout` returns the failure).
    ///
    /// # Errors
    ///
    /// The operation's own refusal, as [`Marketplace::publish_timeout`] reports it.
    fn publish_timeout(
        &self,
        producer: Self::Producer,
        product: P,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        reached(self.try_publish_timeout(producer, product, timeout))
    }
    /// `new_cart`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_new_cart` returns the failure).
    #[must_use = "a cart stays open until its order is placed, which takes its id"]
    fn new_cart(&self) -> Self::Cart {
        reached(self.try_new_cart())
    }
    /// `add_to_cart`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_add_to_cart` returns the failure).
    ///
    /// # Errors
    ///
    /// The operation's own refusal, as [`Marketplace::add_to_cart`] reports it.
    fn add_to_cart(&self, cart: Self::Cart, product: &P) -> Result<(), AddError> {
        reached(self.try_add_to_cart(cart, product))
    }
    /// `add_to_cart_timeout`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_add_to_cart_timeout` returns the failure).
    ///
    /// # Errors
    ///
    /// The operation's own refusal, as [`Marketplace::add_to_cart_timeout`] reports it.
    fn add_to_cart_timeout(
        &self,
        cart: Self::Cart,
        product: &P,
        timeout: Duration,
    ) -> Result<(), AddError> {
        reached(self.try_add_to_cart_timeout(cart, product, timeout))
    }
    /// `remove_from_cart`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_remove_from_cart` returns the failure).
    ///
    /// # Errors
    ///
    /// The operation's own refusal, as [`Marketplace::remove_from_cart`] reports it.
    fn remove_from_cart(&self, cart: Self::Cart, product: &P) -> Result<(), RemoveError> {
        reached(self.try_remove_from_cart(cart, product))
    }
    /// `place_order`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_place_order` returns the failure).
    ///
    /// # Errors
    ///
    /// The operation's own refusal, as [`Marketplace::place_order`] reports it.
    fn place_order(&self, cart: Self::Cart) -> Result<Vec<P>, OrderError> {
        reached(self.try_place_order(cart))
    }
    /// `shelf_len`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_shelf_len` returns the failure).
    #[must_use]
    fn shelf_len(&self, producer: Self::Producer) -> Option<usize> {
        reached(self.try_shelf_len(producer))
    }
    /// `available`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_available` returns the failure).
    #[must_use]
    fn available(&self, product: &P) -> usize {
        reached(self.try_available(product))
    }
    /// `stats`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_stats` returns the failure).
    #[must_use]
    fn stats(&self) -> Stats {
        reached(self.try_stats())
    }
    /// `close`, reaching the market or panicking.
    ///
    /// # Panics
    ///
    /// Panics if the market cannot be reached (`try_close` returns the failure).
    fn close(&self) {
        reached(self.try_close())
    }
}

/// As on the markets themselves, ignoring a new id through the trait is warned about
/// (`unused_must_use`): a cart whose id is dropped stays open with no way left to order
/// it. The snippet fails to build once the lint is denied.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// use marketplace_contract::Market;
/// fn open<M: Market<u8>>(market: &M) {
///     market.new_cart();
/// }
/// ```
#[cfg(doctest)]
struct IgnoredIdsAreWarnedAbout;

/// A publish that could not reach its market: the failure, and the product the call was
/// given, back with the caller, as the engine's refusals give it back
/// ([`PublishError::into_product`]), so a caller that retries or reports keeps its value.
///
/// A failure may come after the market received the call (a server that applied the
/// publish and whose answer was lost): the product may then be on sale as well, so
/// publishing it again may sell two, unless the market says otherwise. A market's failure
/// type says what its failures allow a caller to assume (for a Redis market,
/// `ConnectionError`: publishing the product again on the same handle sends the failed call
/// again, so it sells one:
/// `redis/tests/faults.rs::through_the_trait_a_publish_whose_answer_is_lost_is_on_sale_once_when_published_again`).
/// In process the failure type is [`Infallible`](std::convert::Infallible), so this is
/// never built.
///
/// It shows the failure's message, and stands in for the failure: its `source` is the
/// failure's, so a report walking the chain tells it once.
///
/// ```
/// use marketplace_contract::PublishFailure;
///
/// let lost = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
/// let failure = PublishFailure { product: "tea", failure: lost };
/// assert_eq!(failure.to_string(), "connection reset");
/// assert_eq!(failure.into_product(), "tea");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PublishFailure<P, F> {
    /// The product the call was given.
    pub product: P,
    /// Why the market could not be reached.
    pub failure: F,
}

impl<P, F> PublishFailure<P, F> {
    /// Gives back the product the call was given.
    #[must_use]
    pub fn into_product(self) -> P {
        self.product
    }
}

impl<P, F: Display> Display for PublishFailure<P, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.failure.fmt(f)
    }
}

impl<P: Debug, F: Error> Error for PublishFailure<P, F> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.failure.source()
    }
}

/// The outcome of a call that must reach its market.
fn reached<T, F: Display>(outcome: Result<T, F>) -> T {
    outcome.unwrap_or_else(|failure| panic!("the market could not be reached: {failure}"))
}

/// Implements [`Market`] for an in-process marketplace whose inherent methods (reached
/// through `$market`) have the engine's names and signatures, or for a newtype that
/// dereferences to one (each call takes `self` by deref coercion), as in
/// `in_process_market!(Wrapper<P>, LockedMarketplace)`.
#[macro_export]
macro_rules! in_process_market {
    ($type:ty, $market:ident) => {
        // A block of its own, so the names below resolve wherever the macro is used.
        const _: () = {
            use std::convert::Infallible;
            use std::fmt::Debug;
            use std::hash::Hash;
            use std::time::Duration;

            use $crate::__engine::{
                AddError, CartId, OrderError, ProducerId, PublishError, RemoveError, Stats,
            };
            use $crate::{Market, PublishFailure};

            impl<P: Eq + Hash + Clone + Debug + Send + Sync> Market<P> for $type {
                type Producer = ProducerId;
                type Cart = CartId;
                type Failure = Infallible;

                fn try_register_producer(&self) -> Result<ProducerId, Infallible> {
                    Ok($market::register_producer(self))
                }
                fn try_publish(
                    &self,
                    producer: ProducerId,
                    product: P,
                ) -> Result<Result<(), PublishError<P>>, PublishFailure<P, Infallible>> {
                    Ok($market::publish(self, producer, product))
                }
                fn try_publish_timeout(
                    &self,
                    producer: ProducerId,
                    product: P,
                    timeout: Duration,
                ) -> Result<Result<(), PublishError<P>>, PublishFailure<P, Infallible>> {
                    Ok($market::publish_timeout(self, producer, product, timeout))
                }
                fn try_new_cart(&self) -> Result<CartId, Infallible> {
                    Ok($market::new_cart(self))
                }
                fn try_add_to_cart(
                    &self,
                    cart: CartId,
                    product: &P,
                ) -> Result<Result<(), AddError>, Infallible> {
                    Ok($market::add_to_cart(self, cart, product))
                }
                fn try_add_to_cart_timeout(
                    &self,
                    cart: CartId,
                    product: &P,
                    timeout: Duration,
                ) -> Result<Result<(), AddError>, Infallible> {
                    Ok($market::add_to_cart_timeout(self, cart, product, timeout))
                }
                fn try_remove_from_cart(
                    &self,
                    cart: CartId,
                    product: &P,
                ) -> Result<Result<(), RemoveError>, Infallible> {
                    Ok($market::remove_from_cart(self, cart, product))
                }
                fn try_place_order(
                    &self,
                    cart: CartId,
                ) -> Result<Result<Vec<P>, OrderError>, Infallible> {
                    Ok($market::place_order(self, cart))
                }
                fn try_shelf_len(&self, producer: ProducerId) -> Result<Option<usize>, Infallible> {
                    Ok($market::shelf_len(self, producer))
                }
                fn try_available(&self, product: &P) -> Result<usize, Infallible> {
                    Ok($market::available(self, product))
                }
                fn try_stats(&self) -> Result<Stats, Infallible> {
                    Ok($market::stats(self))
                }
                fn try_close(&self) -> Result<(), Infallible> {
                    $market::close(self);
                    Ok(())
                }
            }
        };
    };
}

in_process_market!(Marketplace<P>, Marketplace);
in_process_market!(LockedMarketplace<P>, LockedMarketplace);

/// The engine, for [`in_process_market!`] wherever it is used.
#[doc(hidden)]
pub use marketplace as __engine;
