//! The catalog: which [`ProductShelf`] holds the items of each product.
//!
//! It is read on every publish and every take, and written only when a product is seen for
//! the first time, so reads must not write to shared memory: each of its shards is an
//! immutable map behind an `ArcSwap`, and a read is an `ArcSwap` load (no shared
//! read-modify-write in the common case) plus one hash lookup. Adding a product copies one
//! shard (about 1/64 of the products) under that shard's `adding` lock, then publishes the
//! copy. A product is hashed once: the hash picks the shard and is the key inside it.
//!
//! Invariant: once a product has a shelf, every later lookup finds that same shelf (the
//! `Arc` is carried into each new copy and never replaced), so a consumer waiting on a shelf
//! and the publishers of that product always meet there. Shelves are never removed: the
//! catalog grows with the number of distinct products, not with the number of items.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use crate::shelf::{Item, ProductShelf};
use crate::sync::{Arc, ArcSwap, CATALOG_SHARDS, Mutex, ProductHasher};

/// The products whose hash is `h`, with their shelves (almost always exactly one).
type Bucket<P> = Vec<(P, Arc<ProductShelf<P>>)>;
/// One shard's products by full hash; the hash is already well mixed, so it is its own key.
type ShardMap<P> = HashMap<u64, Bucket<P>, BuildHasherDefault<PremixedHash>>;

pub(crate) struct Catalog<P> {
    hasher: ProductHasher,
    shards: Box<[Shard<P>]>,
}

struct Shard<P> {
    shelves: ArcSwap<ShardMap<P>>,
    /// Serializes writers of this shard; readers never take it.
    adding: Mutex<()>,
}

impl<P: Eq + Hash + Clone> Catalog<P> {
    pub(crate) fn new() -> Self {
        let shards = (0..CATALOG_SHARDS)
            .map(|_| Shard {
                shelves: ArcSwap::from_pointee(ShardMap::default()),
                adding: Mutex::new(()),
            })
            .collect();
        Self {
            hasher: ProductHasher::default(),
            shards,
        }
    }

    /// Runs `f` on the shelf of `product`, if it has one.
    pub(crate) fn with<R>(&self, product: &P, f: impl FnOnce(&ProductShelf<P>) -> R) -> Option<R> {
        let hash = self.hasher.hash_one(product);
        let shelves = self.shard(hash).shelves.load();
        find(&shelves, hash, product).map(|shelf| f(shelf))
    }

    /// Puts an item on sale on its product's shelf, creating the shelf on first sight.
    pub(crate) fn put(&self, item: Item<P>) {
        let hash = self.hasher.hash_one(&item.product);
        let shard = self.shard(hash);
        {
            let shelves = shard.shelves.load();
            if let Some(shelf) = find(&shelves, hash, &item.product) {
                shelf.put(item);
                return;
            }
        }
        self.add(shard, hash, &item.product).put(item);
    }

    /// The shelf of `product`, created if it has none yet.
    pub(crate) fn shelf(&self, product: &P) -> Arc<ProductShelf<P>> {
        let hash = self.hasher.hash_one(product);
        let shard = self.shard(hash);
        let existing = find(&shard.shelves.load(), hash, product).cloned();
        existing.unwrap_or_else(|| self.add(shard, hash, product))
    }

    /// Visits every shelf (not a hot path).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&ProductShelf<P>)) {
        for shard in self.shards.iter() {
            for (_, shelf) in shard.shelves.load().values().flatten() {
                f(shelf);
            }
        }
    }

    fn shard(&self, hash: u64) -> &Shard<P> {
        // The top bits pick the shard; the map inside uses the low ones for its buckets.
        &self.shards[(hash >> 32) as usize % self.shards.len()]
    }

    /// Adds a shelf for `product` to `shard` unless another thread just did, and returns the
    /// shelf now in the catalog.
    fn add(&self, shard: &Shard<P>, hash: u64, product: &P) -> Arc<ProductShelf<P>> {
        let _adding = shard
            .adding
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = shard.shelves.load();
        if let Some(shelf) = find(&current, hash, product) {
            return Arc::clone(shelf);
        }
        let shelf = Arc::new(ProductShelf::new());
        let mut next = ShardMap::clone(&current);
        next.entry(hash)
            .or_default()
            .push((product.clone(), Arc::clone(&shelf)));
        shard.shelves.store(Arc::new(next));
        shelf
    }
}

fn find<'m, P: Eq>(
    shelves: &'m ShardMap<P>,
    hash: u64,
    product: &P,
) -> Option<&'m Arc<ProductShelf<P>>> {
    shelves
        .get(&hash)?
        .iter()
        .find(|(known, _)| known == product)
        .map(|(_, shelf)| shelf)
}

/// Passes an already-mixed `u64` hash through unchanged.
#[derive(Default)]
pub(crate) struct PremixedHash(u64);

impl Hasher for PremixedHash {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys use this hasher; folding bytes keeps it correct for anything else.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
