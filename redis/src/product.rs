//! What a product must provide to live in a Redis market: a canonical key, the name of
//! the queue that equal products share.
//!
//! Invariant the implementer promises: `a == b` exactly when
//! `a.canonical_key() == b.canonical_key()`. The key decides which items are
//! interchangeable on the server, where the type's own `Eq` cannot run; the item itself
//! travels as its serde form and comes back as published.

use std::borrow::Cow;

/// The key under which equal products share one queue on the server.
///
/// It must agree with the type's equality: equal products give equal keys and different
/// products different keys. For a type whose equality is its whole value, its JSON form
/// is such a key; a type whose equality ignores some fields (an item's serial), or treats
/// different forms as equal (Python's `1 == 1.0`), builds its key from what equality sees.
/// A form the product borrows as (`str` for `String`), used to ask for it, must give the
/// same key as the product, as `Borrow` asks of `Hash` and `Eq`.
///
/// ```
/// use std::borrow::Cow;
/// use marketplace_redis::CanonicalKey;
///
/// /// Teas are equal by name and price; the batch number is not part of equality.
/// struct Tea { name: String, price: u32, batch: u64 }
///
/// impl CanonicalKey for Tea {
///     fn canonical_key(&self) -> Cow<'_, str> {
///         Cow::Owned(format!("{}|{}", self.price, self.name))
///     }
/// }
///
/// let a = Tea { name: "Linden".into(), price: 9, batch: 1 };
/// let b = Tea { name: "Linden".into(), price: 9, batch: 2 };
/// assert_eq!(a.canonical_key(), b.canonical_key());
/// ```
pub trait CanonicalKey {
    /// The key; equal exactly when the products are equal.
    fn canonical_key(&self) -> Cow<'_, str>;
}

impl CanonicalKey for str {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl CanonicalKey for String {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl<T: CanonicalKey + ?Sized> CanonicalKey for &T {
    fn canonical_key(&self) -> Cow<'_, str> {
        (**self).canonical_key()
    }
}

/// Integers, characters and booleans are equal by value, so their text is their key.
macro_rules! key_by_display {
    ($($type:ty),*) => {$(
        impl CanonicalKey for $type {
            fn canonical_key(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}

key_by_display!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, char, bool
);
