//! Producer and cart identifiers.
//!
//! Both carry the tag of the marketplace that issued them, so an id presented to another
//! marketplace is told apart from a local one and rejected with an `Unknown*` error instead of
//! silently naming someone else's producer or cart. Tags come from a process-wide 64-bit
//! counter that is never reused (it would take 584 years at one marketplace per nanosecond
//! to run out, and then construction panics rather than repeat a tag). Within one
//! marketplace, producer indices and cart serials come from atomic counters and are never
//! reused; a cart id also names the slot that holds the cart, which is reused once the
//! cart is ordered, so a spent id is recognised by its serial.

use std::fmt;

/// Identifies a producer registered with [`Marketplace::register_producer`].
///
/// Cheap to copy, compare, order and hash. It is only meaningful to the marketplace that
/// issued it; among that marketplace's ids, the order is registration order.
///
/// ```
/// use marketplace::Marketplace;
///
/// let market = Marketplace::<&str>::new(2);
/// let first = market.register_producer();
/// let second = market.register_producer();
/// assert_ne!(first, second);
/// assert_eq!(first.to_string(), "producer 0");
/// ```
///
/// The type is `#[must_use]`, as an id dropped unused (out of a `?`, say) is a producer
/// registered for nothing.
///
/// [`Marketplace::register_producer`]: crate::Marketplace::register_producer
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[must_use = "a producer whose id is dropped can never publish"]
pub struct ProducerId {
    pub(crate) market: u64,
    pub(crate) index: u32,
}

impl ProducerId {
    /// This producer's index if the marketplace tagged `market` issued the id.
    #[inline]
    pub(crate) fn index_in(self, market: u64) -> Option<usize> {
        (self.market == market).then_some(self.index as usize)
    }

    /// The position of this producer in registration order (0 for the first one).
    ///
    /// A `usize`, as it indexes what the caller keeps per producer: the marketplace holds
    /// at most 2^32 producers (see [Limits](crate::Marketplace#limits)), each in this
    /// process's memory.
    ///
    /// ```
    /// let market = marketplace::Marketplace::<u8>::new(1);
    /// let first = market.register_producer();
    /// assert_eq!(first.index(), 0);
    /// assert_eq!(market.register_producer().index(), 1);
    /// ```
    #[must_use]
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl fmt::Display for ProducerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "producer {}", self.index)
    }
}

/// Identifies a cart opened with [`Marketplace::new_cart`].
///
/// A cart id is spent once its order is placed: later use reports an unknown cart. Among
/// one marketplace's cart ids, the order is the order the carts were opened in.
///
/// ```
/// use marketplace::Marketplace;
///
/// let market = Marketplace::<&str>::new(2);
/// let cart = market.new_cart();
/// assert_eq!(cart.to_string(), "cart 0");
/// ```
///
/// A cart id left unused is a cart that stays open for good, so the type is `#[must_use]`:
/// an id that comes out of a `?` and is dropped is warned about, as the call's own
/// `#[must_use]` cannot be once `?` has unwrapped its result.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// use marketplace::{CartId, Marketplace};
///
/// fn open(market: &Marketplace<u8>) -> Option<CartId> {
///     (!market.is_closed()).then(|| market.new_cart())
/// }
///
/// fn shop(market: &Marketplace<u8>) -> Option<()> {
///     open(market)?;
///     Some(())
/// }
/// ```
///
/// [`Marketplace::new_cart`]: crate::Marketplace::new_cart
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[must_use = "a cart whose id is dropped can never be ordered"]
pub struct CartId {
    pub(crate) market: u64,
    pub(crate) serial: u64,
    /// Where the cart lives in its marketplace; meaningful only with `serial`.
    pub(crate) slot: u32,
}

impl CartId {
    /// Whether the marketplace tagged `market` issued this id.
    #[inline]
    pub(crate) fn is_from(self, market: u64) -> bool {
        self.market == market
    }

    /// This cart's serial if the marketplace tagged `market` issued the id.
    #[inline]
    pub(crate) fn serial_in(self, market: u64) -> Option<u64> {
        self.is_from(market).then_some(self.serial)
    }

    /// The serial number of this cart in its marketplace (0 for the first one opened).
    ///
    /// ```
    /// let market = marketplace::Marketplace::<u8>::new(1);
    /// let first = market.new_cart();
    /// assert_eq!(first.serial(), 0);
    /// assert_eq!(market.new_cart().serial(), 1);
    /// ```
    #[must_use]
    pub fn serial(self) -> u64 {
        self.serial
    }
}

impl fmt::Display for CartId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cart {}", self.serial)
    }
}
