//! The errors each marketplace operation can report.
//!
//! Errors that can happen while a product is being handed in carry it back (as
//! `ArrayQueue::push` does), so a caller never loses a value to a refusal. "Not available now"
//! and "full" are ordinary, retryable outcomes; the `Unknown*` variants mean the id was never
//! issued by this marketplace, belongs to another one, or (for carts) was already spent.

use std::error::Error;
use std::fmt;

/// Why [`Marketplace::publish`](crate::Marketplace::publish) refused a product; the product
/// comes back inside the error.
///
/// ```
/// use marketplace::{Marketplace, PublishError};
///
/// let market = Marketplace::new(1);
/// let producer = market.register_producer();
/// market.publish(producer, "tea").unwrap();
/// let refused = market.publish(producer, "coffee").unwrap_err();
/// assert!(matches!(refused, PublishError::Full(_)));
/// assert_eq!(refused.into_product(), "coffee");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum PublishError<P> {
    /// The producer already has `queue_size_per_producer` products on the shelf; try again
    /// once consumers have taken some.
    Full(P),
    /// The producer id was not issued by this marketplace.
    UnknownProducer(P),
}

impl<P> PublishError<P> {
    /// Gives back the product that was not published.
    ///
    /// ```
    /// use marketplace::PublishError;
    ///
    /// assert_eq!(PublishError::UnknownProducer("tea").into_product(), "tea");
    /// ```
    #[must_use]
    pub fn into_product(self) -> P {
        match self {
            PublishError::Full(product) | PublishError::UnknownProducer(product) => product,
        }
    }

    /// True when the refusal is temporary (the producer's queue is full).
    ///
    /// ```
    /// use marketplace::PublishError;
    ///
    /// assert!(PublishError::Full("tea").is_full());
    /// assert!(!PublishError::UnknownProducer("tea").is_full());
    /// ```
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, PublishError::Full(_))
    }
}

impl<P> fmt::Display for PublishError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Full(_) => f.write_str("the producer's queue is full"),
            PublishError::UnknownProducer(_) => f.write_str("no such producer"),
        }
    }
}

impl<P: fmt::Debug> Error for PublishError<P> {}

/// Why [`Marketplace::add_to_cart`](crate::Marketplace::add_to_cart) did not add a product.
///
/// ```
/// use marketplace::{AddError, Marketplace};
///
/// let market = Marketplace::<&str>::new(1);
/// let cart = market.new_cart();
/// assert_eq!(market.add_to_cart(cart, &"tea"), Err(AddError::Unavailable));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum AddError {
    /// No item equal to the product is on any shelf right now; retry later.
    Unavailable,
    /// The cart was never opened here, or its order was already placed.
    UnknownCart,
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::Unavailable => f.write_str("the product is not available now"),
            AddError::UnknownCart => f.write_str("no such cart"),
        }
    }
}

impl Error for AddError {}

/// Why [`Marketplace::remove_from_cart`](crate::Marketplace::remove_from_cart) removed nothing.
///
/// ```
/// use marketplace::{Marketplace, RemoveError};
///
/// let market = Marketplace::<&str>::new(1);
/// let cart = market.new_cart();
/// assert_eq!(market.remove_from_cart(cart, &"tea"), Err(RemoveError::NotInCart));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum RemoveError {
    /// The cart holds no item equal to the product.
    NotInCart,
    /// The cart was never opened here, or its order was already placed.
    UnknownCart,
}

impl fmt::Display for RemoveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveError::NotInCart => f.write_str("the product is not in the cart"),
            RemoveError::UnknownCart => f.write_str("no such cart"),
        }
    }
}

impl Error for RemoveError {}

/// Why [`Marketplace::place_order`](crate::Marketplace::place_order) placed nothing.
///
/// ```
/// use marketplace::{Marketplace, OrderError};
///
/// let market = Marketplace::<&str>::new(1);
/// let cart = market.new_cart();
/// assert_eq!(market.place_order(cart), Ok(vec![]));
/// assert_eq!(market.place_order(cart), Err(OrderError::UnknownCart));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum OrderError {
    /// The cart was never opened here, or its order was already placed.
    UnknownCart,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such cart")
    }
}

impl Error for OrderError {}

/// Why [`Marketplace::try_new`](crate::Marketplace::try_new) (or `try_with_hasher`, or the
/// baseline's `try_new`) made no marketplace: `queue_size_per_producer` was zero, so a
/// producer could never publish anything.
///
/// ```
/// use marketplace::{Marketplace, ZeroCapacityError};
///
/// let refused = Marketplace::<u8>::try_new(0).unwrap_err();
/// assert_eq!(refused, ZeroCapacityError::default());
/// assert_eq!(refused.to_string(), "queue_size_per_producer must be at least 1");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub struct ZeroCapacityError;

impl fmt::Display for ZeroCapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue_size_per_producer must be at least 1")
    }
}

impl Error for ZeroCapacityError {}
