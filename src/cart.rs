//! A cart's contents.
//!
//! A cart is only ever reached through the carts map, which grants exclusive access to one
//! cart at a time; so removing an item here *is* the atomic claim of the claim-and-return
//! protocol: of two removers racing for the same item, exactly one gets it out.

use crate::shelf::Item;

/// The items in one open cart, in the order they were added.
pub(crate) struct Cart<P> {
    items: Vec<Item<P>>,
}

impl<P: Eq> Cart<P> {
    pub(crate) fn new() -> Self {
        Self { items: Vec::new() }
    }

    pub(crate) fn add(&mut self, item: Item<P>) {
        self.items.push(item);
    }

    /// Claims the first item equal to `product` (as Python's `list.remove` would), if any.
    pub(crate) fn claim(&mut self, product: &P) -> Option<Item<P>> {
        let position = self
            .items
            .iter()
            .position(|item| item.product == *product)?;
        Some(self.items.remove(position))
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The products bought, in the order they were added.
    pub(crate) fn into_products(self) -> Vec<P> {
        self.items.into_iter().map(|item| item.product).collect()
    }
}
