//! One cart's contents: the products added, in order, and the producer of each, to whom a
//! removed item goes back.
//!
//! A cart is only ever reached under its own lock (see `carts`), so removing an item here
//! *is* the atomic claim of the claim-and-return protocol: of two removers racing for the
//! same item, exactly one gets it out.

use std::borrow::Borrow;

use crate::item::Item;

/// The items in one open cart, in the order they were added.
pub(crate) struct Cart<P> {
    /// The products, handed over as they are when the order is placed.
    products: Vec<P>,
    /// `producers[i]` made `products[i]`. Kept (cleared) when the cart's slot is reused, so
    /// a steady stream of carts allocates nothing here; trimmed when an order is far smaller
    /// than the room it holds (to that order's items, or [`NEW_CART_ROOM`] if more), so the
    /// room kept stays within twice the last order's items, or that many.
    producers: Vec<u32>,
}

/// A new cart in a reused slot starts with room for as many items as the slot's last cart
/// held, up to this many: carts of up to this many items allocate their products once, and
/// larger ones grow as any `Vec` does, so an order never holds room for more than twice its
/// items, or this many, whatever carts the slot held before.
const NEW_CART_ROOM: usize = 16;

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
            self.products = Vec::with_capacity(self.producers.capacity().clamp(1, NEW_CART_ROOM));
        }
        self.products.push(item.product);
        self.producers.push(item.producer);
    }

    /// Claims the first item equal to `product` (as Python's `list.remove` would), if any.
    /// A panic in the user's `Eq` leaves the cart as it was.
    pub(crate) fn claim<Q>(&mut self, product: &Q) -> Option<Item<P>>
    where
        P: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let position = self
            .products
            .iter()
            .position(|held| held.borrow() == product)?;
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
        let ordered = self.products.len();
        self.producers.clear();
        // Room kept from a far larger cart than the slot now holds is memory nobody uses.
        if self.producers.capacity() > ordered.saturating_mul(2).max(NEW_CART_ROOM) {
            self.producers.shrink_to(ordered.max(NEW_CART_ROOM));
        }
        std::mem::take(&mut self.products)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(cart: &mut Cart<u64>, items: u64) {
        for product in 0..items {
            cart.add(Item {
                product,
                producer: 0,
            });
        }
    }

    #[test]
    fn a_slot_keeps_room_for_its_last_order_not_for_its_largest() {
        let mut cart = Cart::default();
        fill(&mut cart, 1000);
        assert_eq!(cart.take_products().len(), 1000);
        fill(&mut cart, 1);
        let order = cart.take_products();
        assert!(order.capacity() <= NEW_CART_ROOM, "{}", order.capacity());
        assert!(
            cart.producers.capacity() <= NEW_CART_ROOM,
            "{}",
            cart.producers.capacity()
        );
    }

    /// However small the order that trimmed the room, a cart of up to `NEW_CART_ROOM` items
    /// that follows allocates its products once, at its first item.
    #[test]
    fn a_trimmed_slot_keeps_room_for_a_new_cart() {
        let mut cart = Cart::default();
        fill(&mut cart, 1000);
        cart.take_products();
        assert!(cart.take_products().is_empty());
        fill(&mut cart, 1);
        assert_eq!(cart.products.capacity(), NEW_CART_ROOM);
    }

    #[test]
    fn carts_of_up_to_the_kept_room_reuse_it() {
        let mut cart = Cart::default();
        fill(&mut cart, NEW_CART_ROOM as u64);
        cart.take_products();
        let kept = cart.producers.capacity();
        for items in [1, NEW_CART_ROOM as u64, 3] {
            fill(&mut cart, items);
            assert_eq!(cart.products.capacity(), kept, "a cart of {items}");
            cart.take_products();
            assert_eq!(cart.producers.capacity(), kept, "after a cart of {items}");
        }
    }
}
