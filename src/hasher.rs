//! The default way products are hashed: a fast hasher with a random seed per marketplace.

use std::hash::{BuildHasher, Hasher};

use crate::sync::SeededState;

/// The hasher a [`Marketplace`](crate::Marketplace) uses for its products unless it is built
/// [`with_hasher`](crate::Marketplace::with_hasher).
///
/// It is [foldhash](https://docs.rs/foldhash)'s fast hasher, seeded at random for each
/// marketplace (`hashbrown`'s default too): hashing a small product costs about a nanosecond
/// where std's SipHash costs about twenty, and the engine hashes on every operation. Its
/// random seed makes colliding products hard to choose without seeing the seed, but it does
/// not claim SipHash's resistance to a determined attacker: when products come from
/// untrusted input, pass [`std::hash::RandomState`] to `with_hasher` instead.
///
/// ```
/// use std::hash::BuildHasher;
/// use marketplace::DefaultHashBuilder;
///
/// let seeded = DefaultHashBuilder::default();
/// assert_eq!(seeded.hash_one("tea"), seeded.clone().hash_one("tea"));
/// ```
#[derive(Clone, Default)]
pub struct DefaultHashBuilder(SeededState);

/// Shows no seed, as std's `RandomState` does: a builder logged in some larger value would
/// otherwise give away what keeps colliding products hard to choose.
impl std::fmt::Debug for DefaultHashBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultHashBuilder").finish_non_exhaustive()
    }
}

impl BuildHasher for DefaultHashBuilder {
    type Hasher = DefaultHasher;

    #[inline]
    fn build_hasher(&self) -> DefaultHasher {
        DefaultHasher(self.0.build_hasher())
    }
}

/// The [`Hasher`] a [`DefaultHashBuilder`] builds.
#[derive(Clone)]
pub struct DefaultHasher(foldhash::fast::FoldHasher<'static>);

impl std::fmt::Debug for DefaultHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultHasher").finish_non_exhaustive()
    }
}

impl Hasher for DefaultHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.write_u8(i);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.0.write_u16(i);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.write_u32(i);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.0.write_u128(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.write_usize(i);
    }
}
