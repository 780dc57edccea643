//! The catalog: every product ever put on sale (or resolved into a product handle), each
//! with its shelf, found by its hash.
//!
//! Lookups, one per operation, read a few atomics and write nothing, so threads asking for
//! the same product never contend: no lock, no reference count, no epoch to enter. That is
//! possible because the catalog only grows: a product's entry, once made, is never removed
//! or moved (`AppendOnlyVec` elements stay put), so a reference to it lives as long as the
//! catalog, and a table, once replaced by a bigger one, is kept (all of them together
//! take less than twice the last one).
//!
//! Invariants:
//! - `entries` holds each distinct product at most once: an insert happens under
//!   `inserting`, and only if no other insert happened since the inserter's lookup missed
//!   (`inserted` unchanged), so the miss still holds; otherwise it looks again. An entry is
//!   filed as its key, a clone of the product (hashed and compared as the key), so lookups
//!   of the key find it even when the user's `Clone` makes a copy not equal to the original.
//!   The user's `Eq`, `Hash` and `Clone` never run under the lock;
//! - every entry is reachable from the current table: an entry is pushed, then its number is
//!   stored in the current table (or the table is rebuilt with it) before `inserting` is
//!   released;
//! - a table is at most half full, so every probe sequence reaches an empty slot;
//! - a slot, once set, never changes, and a table, once replaced, is never written again;
//! - a consumer waiting for a product with no shelf yet waits on the bucket of `unlisted`
//!   that its product's hash picks, and an insert wakes the bucket its key's hash picks:
//!   a lookup finds an entry only under the entry's own hash, so every consumer that the
//!   new entry could serve is in that bucket, and the consumers of other products (bar
//!   those whose hash shares the bucket) sleep on.
//!
//! Memory is O(distinct products ever published or resolved into a product handle): only a
//! first publish and the making of a handle insert (a return finds the entry its item came
//! from); asking for a product that was never published finds nothing and stores nothing.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use crate::product_shelf::ProductShelf;
use crate::sync::{AppendOnlyVec, AtomicU32, AtomicUsize, Mutex, Ordering, UNLISTED_BUCKETS};
use crate::wait::Waiters;

/// Slots in the first table (a power of two).
const FIRST_TABLE_SLOTS: usize = 8;

/// How many entries a catalog holds: a table stores an entry's number plus one in 32 bits.
const MAX_ENTRIES: usize = u32::MAX as usize;

/// Products and their shelves.
pub(crate) struct Catalog<P, S> {
    hasher: S,
    /// Every product ever put on sale or resolved, in order of first publish or resolution.
    entries: AppendOnlyVec<Entry<P>>,
    /// Every table ever built; the one at `current` is in use.
    tables: AppendOnlyVec<Table>,
    /// Position in `tables` of the table in use.
    current: AtomicUsize,
    /// Serialises inserts (the first publish or resolution of each product); lookups never
    /// take it, and no user code runs under it.
    inserting: Mutex<()>,
    /// Entries inserted so far, counted once the current table holds them.
    inserted: AtomicUsize,
    /// Consumers waiting for a product that has no shelf yet, in the bucket their
    /// product's hash picks (`unlisted_waiters`): an insert wakes its own bucket only.
    /// A fixed number, made with the catalog: waiting for a product stores nothing.
    unlisted: Box<[Waiters]>,
}

/// A product and its shelf.
pub(crate) struct Entry<P> {
    pub(crate) hash: u64,
    pub(crate) product: P,
    pub(crate) shelf: ProductShelf<P>,
}

/// An open-addressing table of entry numbers (positions in `entries`): each slot holds an
/// entry's number plus one, or 0 when empty; its length is a power of two.
struct Table {
    slots: Box<[AtomicU32]>,
}

impl Table {
    fn new(len: usize) -> Self {
        Self {
            slots: (0..len).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// The slots a lookup of `hash` visits, in order.
    fn probe(&self, hash: u64) -> impl Iterator<Item = &AtomicU32> {
        let mask = self.slots.len() - 1;
        // Truncating the hash keeps its low bits, which pick the first slot.
        let start = hash as usize & mask;
        (0..self.slots.len()).map(move |step| &self.slots[(start + step) & mask])
    }

    /// Stores entry number `number` in the first empty slot of its probe sequence. Only the
    /// inserter writes slots, so an empty slot stays empty until this store.
    fn insert(&self, hash: u64, number: usize) {
        let value = u32::try_from(number + 1).expect("fewer than 2^32 distinct products");
        // Ordering: `Relaxed` to find an empty slot, as only the inserter writes.
        let empty = self
            .probe(hash)
            .find(|slot| slot.load(Ordering::Relaxed) == 0)
            .expect("a table is at most half full");
        // Ordering: `Release`, so a lookup that reads this entry number sees the entry
        // pushed before it.
        empty.store(value, Ordering::Release);
    }
}

impl<P: Eq + Hash, S: BuildHasher> Catalog<P, S> {
    pub(crate) fn new(hasher: S) -> Self {
        let tables = AppendOnlyVec::new();
        tables.push(Table::new(FIRST_TABLE_SLOTS));
        Self {
            hasher,
            entries: AppendOnlyVec::new(),
            tables,
            current: AtomicUsize::new(0),
            inserting: Mutex::new(()),
            inserted: AtomicUsize::new(0),
            unlisted: (0..UNLISTED_BUCKETS).map(|_| Waiters::new()).collect(),
        }
    }

    /// The hash of `product`, which every other method takes alongside it. Runs the
    /// user's `Hash`, outside any lock.
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, product: &Q) -> u64 {
        self.hasher.hash_one(product)
    }

    /// Where consumers of the product hashed `hash`, whose lookup found `entry`, wait for
    /// an item: on its shelf, or, while it has none (never published), in the bucket of
    /// consumers waiting for unlisted products that its hash picks. Nothing is stored for
    /// a product awaited before its first publish.
    pub(crate) fn arrivals<'a>(&'a self, entry: Option<&'a Entry<P>>, hash: u64) -> &'a Waiters {
        match entry {
            Some(entry) => &entry.shelf.arrivals,
            None => self.unlisted_waiters(hash),
        }
    }

    /// The bucket of consumers waiting for an unlisted product hashed `hash`.
    fn unlisted_waiters(&self, hash: u64) -> &Waiters {
        // Truncating keeps the low bits, which pick the bucket (`UNLISTED_BUCKETS` is a
        // power of two); the hasher mixes them, as the tables rely on too.
        &self.unlisted[hash as usize & (UNLISTED_BUCKETS - 1)]
    }

    /// Wakes every consumer waiting for an unlisted product, in every bucket (`close`).
    pub(crate) fn wake_all_unlisted(&self) {
        for waiters in self.unlisted.iter() {
            waiters.notify_all();
        }
    }

    /// Listeners now waiting for products with no shelf yet, in every bucket: a test acts
    /// once its consumers are asleep there.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn unlisted_listening_now(&self) -> usize {
        self.unlisted.iter().map(Waiters::listening_now).sum()
    }

    /// Wake-ups so far of consumers waiting for products with no shelf yet, in every
    /// bucket.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn unlisted_listeners_woken(&self) -> usize {
        self.unlisted.iter().map(Waiters::listeners_woken).sum()
    }

    /// The entry of the product equal to `product` (a `P`, or a form `P` borrows as, with
    /// the same `Hash` and `Eq`), if it was ever put on sale or resolved.
    // Inlined into its callers: a publish and an add each look a product up, and the call
    // cost the plain cycle (publish, new cart, add, order) 28 of its 944 instructions.
    #[inline]
    pub(crate) fn get<Q>(&self, product: &Q, hash: u64) -> Option<&Entry<P>>
    where
        P: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        for slot in self.current_table().probe(hash) {
            // Ordering: `Acquire`, paired with the inserter's `Release` store: the entry it
            // names was pushed before.
            let stored = slot.load(Ordering::Acquire);
            if stored == 0 {
                return None;
            }
            let entry = self
                .entries
                .get(stored as usize - 1)
                .expect("a table names pushed entries only");
            if entry.hash == hash && entry.product.borrow() == product {
                return Some(entry);
            }
        }
        None
    }

    /// The entry of `product`, made with the key `make_key()` if it has none yet. The
    /// user's `Eq` (in lookups), `Clone` (in `make_key`) and `Hash` (of the key) run with
    /// no lock held; a panic in any of them changes nothing.
    ///
    /// A new entry is the key's: hashed, looked up and filed as the key, so lookups of the
    /// key find it (as a `HashMap` keyed by the clone would, the baseline's). A product whose
    /// clone is not equal to it then gets the clone's entry, which its next publishes find
    /// again, instead of an entry per publish filed under the product's hash beside a key
    /// no lookup of that hash matches.
    pub(crate) fn get_or_insert(
        &self,
        product: &P,
        hash: u64,
        make_key: impl FnOnce() -> P,
    ) -> &Entry<P> {
        self.get_or_insert_below(product, hash, make_key, MAX_ENTRIES)
    }

    /// `get_or_insert`, refusing a new entry once `limit` are held: the tests reach a small
    /// limit where the real one would take 2^32 - 1 products.
    fn get_or_insert_below(
        &self,
        product: &P,
        hash: u64,
        make_key: impl FnOnce() -> P,
        limit: usize,
    ) -> &Entry<P> {
        if let Some(entry) = self.get(product, hash) {
            return entry;
        }
        let key = make_key();
        let key_hash = self.hash(&key);
        loop {
            // Ordering: `Acquire`, paired with the inserter's `Release` below: every entry
            // counted here is in the table the lookup that follows reads.
            let seen = self.inserted.load(Ordering::Acquire);
            if let Some(entry) = self.get(&key, key_hash) {
                return entry;
            }
            // The lock guards no data, only the sequence below, which runs no user code:
            // poisoning cannot happen, and is ignored.
            let inserting = self
                .inserting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // Ordering: under the lock, which orders it with every other insert.
            if self.inserted.load(Ordering::Relaxed) != seen {
                // Another product was inserted since the lookup missed: it may be this one.
                continue;
            }
            // Refused before the push: an entry once pushed cannot be taken back, and one
            // that no table names would stay, with its product, for every attempt. Only
            // inserts push, each under this lock and counted before it is released, so
            // `seen` is the number the push would give.
            assert!(seen < limit, "fewer than 2^32 - 1 distinct products");
            let number = self.entries.push(Entry {
                hash: key_hash,
                product: key,
                shelf: ProductShelf::new(),
            });
            debug_assert_eq!(number, seen, "every entry pushed is counted");
            let table = self.current_table();
            if (number + 1) * 2 > table.slots.len() {
                self.grow(table.slots.len() * 2, number);
            } else {
                table.insert(key_hash, number);
            }
            // Ordering: `Release`, so a lookup that reads the new count sees the entry.
            self.inserted.store(seen + 1, Ordering::Release);
            drop(inserting);
            // Only the consumers whose lookup can find this entry, that is those asking
            // under its hash, may be waiting for it (several, for one product: all of them).
            self.unlisted_waiters(key_hash).notify_all();
            return self.entries.get(number).expect("just pushed");
        }
    }

    /// Replaces the current table with one of `len` slots holding entries `0..=last`.
    fn grow(&self, len: usize, last: usize) {
        let table = Table::new(len);
        for number in 0..=last {
            let entry = self
                .entries
                .get(number)
                .expect("entries up to `last` are pushed");
            table.insert(entry.hash, number);
        }
        let position = self.tables.push(table);
        // Ordering: `Release`, so a lookup that reads this position finds the table pushed
        // there (boxcar's own publication of it) and sees its slots filled.
        self.current.store(position, Ordering::Release);
    }

    fn current_table(&self) -> &Table {
        // Ordering: `Acquire`, paired with `grow`'s `Release` store: the table at this
        // position, and every slot filled before, are visible here.
        let position = self.current.load(Ordering::Acquire);
        self.tables
            .get(position)
            .expect("the current table is pushed")
    }

    /// Visits every entry whose push is visible to this thread.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&Entry<P>)) {
        for (_, entry) in self.entries.iter() {
            visit(entry);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::hasher::DefaultHashBuilder;

    /// A first insert refused at the limit leaves no entry behind (one no table names,
    /// holding the refused product, for every attempt), and the products held are still
    /// found.
    #[test]
    fn an_insert_refused_at_the_limit_leaves_no_entry_behind() {
        const LIMIT: usize = 3;
        let catalog = Catalog::new(DefaultHashBuilder::default());
        let insert = |product: usize| {
            let hash = catalog.hash(&product);
            catalog.get_or_insert_below(&product, hash, || product, LIMIT);
        };
        (0..LIMIT).for_each(insert);
        for attempt in 1..=2 {
            let refused = catch_unwind(AssertUnwindSafe(|| insert(LIMIT)));
            assert!(
                refused.is_err(),
                "attempt {attempt} past the limit was let in"
            );
            assert_eq!(
                catalog.entries.count(),
                LIMIT,
                "entries after refused attempt {attempt}"
            );
        }
        for product in 0..LIMIT {
            let found = catalog.get(&product, catalog.hash(&product));
            assert_eq!(found.map(|entry| entry.product), Some(product));
        }
        assert_eq!(
            catalog.get(&LIMIT, catalog.hash(&LIMIT)).map(|e| e.product),
            None
        );
    }
}
