//! The real primitives: std's atomics and locks, crossbeam's queues, and thin wrappers that
//! narrow `dashmap`, `papaya` and `boxcar` to the few operations the engine uses.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub(crate) use crossbeam_queue::{ArrayQueue, SegQueue};
pub(crate) use crossbeam_utils::CachePadded;

/// A hint that the caller is in a short retry loop waiting for another thread's step.
pub(crate) fn spin_hint() {
    std::hint::spin_loop();
}

/// Gives the processor to another runnable thread, if there is one.
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

/// How many times a waiter retries while spinning before it starts yielding: the thread
/// that will unblock it is often running on another core and about to succeed.
pub(crate) const SPIN_ATTEMPTS: u32 = 2;

/// Spin hints between two of those attempts (about 0.75 µs on the 2-core machine the
/// benchmarks run on). Retrying sooner is slower overall: each attempt reads the very
/// cache lines the other thread is writing to let us through, and takes them away from it.
pub(crate) const SPINS_BETWEEN_ATTEMPTS: u32 = 32;

/// How many times a waiter yields and retries before it goes to sleep: with more
/// threads than cores, the thread that will unblock us is usually runnable but not
/// running, and a yield lets it run for far less than a futex sleep and wake-up cost.
pub(crate) const YIELDS_BEFORE_SLEEP: u32 = 16;

/// A concurrent hash map: `DashMap`, seen through the handful of operations the engine
/// needs. Callbacks run while the entry's shard is locked, so they must be short and must
/// not touch the same map again.
pub(crate) struct ConcurrentMap<K, V, S = std::hash::RandomState> {
    inner: dashmap::DashMap<K, V, S>,
}

impl<K: Eq + std::hash::Hash, V, S: std::hash::BuildHasher + Clone + Default>
    ConcurrentMap<K, V, S>
{
    pub(crate) fn new() -> Self {
        Self {
            inner: dashmap::DashMap::with_hasher(S::default()),
        }
    }

    /// Runs `f` on the value under `key` (exclusive access), if there is one.
    pub(crate) fn with_mut<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        self.inner
            .get_mut(key)
            .map(|mut entry| f(entry.value_mut()))
    }

    pub(crate) fn insert(&self, key: K, value: V) -> Option<V> {
        self.inner.insert(key, value)
    }

    pub(crate) fn remove(&self, key: &K) -> Option<V> {
        self.inner.remove(key).map(|(_, value)| value)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.inner.contains_key(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    /// Visits every value; each shard is locked while it is visited (not a hot path).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&V)) {
        for entry in self.inner.iter() {
            f(entry.value());
        }
    }
}

/// A vector that only grows, read without any read-modify-write: `boxcar`'s lock-free
/// append-only vector, whose elements never move, so `get` is a couple of acquire loads.
/// (The usual alternative, an `ArcSwap` of a `Vec`, costs a full barrier per load on the
/// reader's debt slot: a tenth of an uncontended publish-add-order cycle, measured.)
pub(crate) struct AppendOnlyVec<T> {
    inner: boxcar::Vec<T>,
}

impl<T> AppendOnlyVec<T> {
    pub(crate) fn new() -> Self {
        Self {
            inner: boxcar::Vec::new(),
        }
    }

    /// Appends `value` and returns its index.
    pub(crate) fn push(&self, value: T) -> usize {
        self.inner.push(value)
    }

    /// The element at `index`, once its `push` has returned.
    pub(crate) fn get(&self, index: usize) -> Option<impl std::ops::Deref<Target = T> + '_> {
        self.inner.get(index)
    }

    /// Elements whose `push` has returned.
    pub(crate) fn len(&self) -> usize {
        self.inner.count()
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
        for (_, value) in &self.inner {
            f(value);
        }
    }
}

/// A concurrent map whose entries are only ever added and are read far more often than
/// written: `papaya`'s lock-free hash map, whose lookups write no shared memory, so threads
/// looking up the same key never contend (a `DashMap` read takes its shard's lock, one
/// contended read-modify-write per lookup). Entries stay valid while the `CatalogRef`
/// they were found through lives.
pub(crate) struct Catalog<K, V> {
    inner: papaya::HashMap<K, V>,
}

impl<K: Eq + std::hash::Hash, V> Catalog<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            // Incremental resizing (papaya's default) moves entries to the new table
            // during later inserts; with no inserts after a warm-up the move never
            // finishes and every lookup pays for both tables (10000 kinds ran at half
            // speed). Blocking resizes finish at once; they happen on first publishes only.
            inner: papaya::HashMap::builder()
                .resize_mode(papaya::ResizeMode::Blocking)
                .build(),
        }
    }

    /// Starts a series of lookups; what they find stays valid while the result lives.
    pub(crate) fn pin(&self) -> CatalogRef<'_, K, V> {
        CatalogRef(self.inner.pin())
    }
}

/// A pinned view of a `Catalog`: references found through it stay valid while it lives.
pub(crate) struct CatalogRef<'a, K, V>(
    papaya::HashMapRef<'a, K, V, std::hash::RandomState, papaya::LocalGuard<'a>>,
);

impl<K: Eq + std::hash::Hash, V> CatalogRef<'_, K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<impl std::ops::Deref<Target = V> + '_> {
        self.0.get(key)
    }

    pub(crate) fn get_or_insert_with(
        &self,
        key: K,
        make: impl FnOnce() -> V,
    ) -> impl std::ops::Deref<Target = V> + '_ {
        self.0.get_or_insert_with(key, make)
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(&V)) {
        for value in self.0.values() {
            f(value);
        }
    }
}
