//! A cart's contents.
//!
//! A cart is only ever reached through the carts map, which grants exclusive access to one
//! cart at a time; so removing an item here *is* the atomic claim of the claim-and-return
//! protocol: of two removers racing for the same item, exactly one gets it out.

use std::hash::{BuildHasherDefault, Hasher};

use crate::item::Item;

/// Hashes cart serials for the carts map. Serials are unique integers this crate issues
/// itself, so they need good bit mixing (the map picks shards and buckets from different
/// bits) but no protection against chosen keys; SipHash would cost a third of an uncontended
/// publish-add-order cycle.
pub(crate) type SerialHash = BuildHasherDefault<SerialHasher>;

/// The SplitMix64 finaliser over the one `u64` written.
#[derive(Default)]
pub(crate) struct SerialHasher(u64);

impl Hasher for SerialHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys use this hasher; folding bytes keeps it correct for anything else.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, serial: u64) {
        self.0 = serial;
    }

    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

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
