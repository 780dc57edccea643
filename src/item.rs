//! An item: a product as one producer made it. It moves between its product's shelf and
//! carts, and always remembers its producer, to whom a cart gives it back.

use std::fmt;

/// One item on sale: the product and the producer it must go back to if a cart returns it.
pub(crate) struct Item<P> {
    pub(crate) product: P,
    pub(crate) producer: u32,
}

impl<P: fmt::Debug> fmt::Debug for Item<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} from producer {}", self.product, self.producer)
    }
}
