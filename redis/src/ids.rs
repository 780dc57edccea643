//! Producer and cart identifiers of a Redis market.
//!
//! Both carry the market's tag, a random number chosen when the market was created on the
//! server and read by every handle that connects to it, so handles of one market (in any
//! process) share ids, and an id from another market (or from a market of the same name
//! that was deleted and created again) is refused as unknown. Within a market, indices
//! and cart serials come from counters on the server and are never reused.

use std::fmt;

/// A producer registered with a [`RedisMarketplace`](crate::RedisMarketplace); among one
/// market's ids, the order is registration order.
///
/// The type is `#[must_use]`, as an id dropped unused (`register_producer()?` as a
/// statement) is a producer registered for nothing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[must_use = "a producer whose id is dropped can never publish"]
pub struct ProducerId {
    pub(crate) market: u64,
    pub(crate) index: u64,
}

impl ProducerId {
    /// The producer's registration number in its market: 0, 1, 2, ...
    ///
    /// The engine's [`ProducerId::index`](marketplace::ProducerId::index) is the same number
    /// as a `usize`; this one is a `u64`, as the server's counter is not bounded by any one
    /// process's address space (a 32-bit client's included).
    /// [`Id::number`](marketplace_contract::Id::number) gives either as a `u64`.
    #[must_use]
    pub fn index(self) -> u64 {
        self.index
    }
}

impl fmt::Display for ProducerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "producer {}", self.index)
    }
}

/// A cart opened in a [`RedisMarketplace`](crate::RedisMarketplace); among one market's
/// ids, the order is the order the carts were opened in.
///
/// A cart id left unused is a cart that stays open on the server for good, so the type
/// is `#[must_use]`: `new_cart()?` as a statement is warned about, which the `Result`'s
/// own `#[must_use]` cannot do once `?` has unwrapped it.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// use marketplace_redis::{ConnectionError, RedisMarketplace};
///
/// fn shop(market: &RedisMarketplace<String>) -> Result<(), ConnectionError> {
///     market.new_cart()?;
///     Ok(())
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[must_use = "a cart whose id is dropped can never be ordered"]
pub struct CartId {
    pub(crate) market: u64,
    pub(crate) serial: u64,
}

impl CartId {
    /// The cart's number in its market: 0, 1, 2, ...
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
