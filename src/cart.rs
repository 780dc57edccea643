//! One cart's contents: the products added, in order, and the producer of each, to whom a
//! removed item goes back.
//!
//! A cart is only ever reached under its own lock (see `carts`), so removing an item here
//! *is* the atomic claim of the claim-and-return protocol: of two removers racing for the
//! same item, exactly one gets it out.

use crate::item::Item;

/// The items in one open cart, in the order they were added.
pub(crate) struct Cart<P> {
    /// The products, handed over as they are when the order is placed.
    products: Vec<P>,
    /// `producers[i]` made `products[i]`. Kept (cleared) when the cart's slot is reused, so
    /// a steady stream of carts allocates nothing here.
    producers: Vec<u32>,
}

impl<P> Default for Cart<P> {
    fn default() -> Self {
        Self {
            products: Vec::new(),
            producers: Vec::new(),
        }
    }
}

impl<P: Eq> Cart<P> {
    pub(crate) fn add(&mut self, item: Item<P>) {
        if self.products.capacity() == 0 {
            // A new cart in a reused slot: size it as the slot's last cart was (`producers`
            // keeps its buffer), so a cart of eight items allocates once, not three times.
            self.products = Vec::with_capacity(self.producers.capacity().max(1));
        }
        self.products.push(item.product);
        self.producers.push(item.producer);
    }

    /// Claims the first item equal to `product` (as Python's `list.remove` would), if any.
    /// A panic in the user's `Eq` leaves the cart as it was.
    pub(crate) fn claim(&mut self, product: &P) -> Option<Item<P>> {
        let position = self.products.iter().position(|held| held == product)?;
        Some(Item {
            product: self.products.remove(position),
            producer: self.producers.remove(position),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.products.len()
    }

    /// The products bought, in the order they were added; the cart is left empty.
    pub(crate) fn take_products(&mut self) -> Vec<P> {
        self.producers.clear();
        std::mem::take(&mut self.products)
    }
}
