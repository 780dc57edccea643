//! The one switch point between real concurrency primitives and loom's model-checked ones.
//!
//! Every atomic, lock, shared pointer, queue and concurrent map the engine touches is named
//! here and nowhere else. A normal build re-exports `std::sync` and `crossbeam_queue` and
//! wraps `dashmap`, `papaya` and `boxcar`; a build with `--cfg loom` swaps in `loom::sync` and
//! small lock-based stand-ins with the same methods, so the loom models in `loom-tests/`
//! explore *our* protocol (claim-and-return, capacity accounting, wake-ups) rather than the
//! internals of those crates, which are tested by their own authors. Nothing outside this
//! module knows which build it is.
//!
//! The stand-ins are deliberately simple (a loom `Mutex` around a std collection): each of
//! their operations is one atomic step, which is exactly the guarantee the real lock-free
//! structures give (linearizability), so a model that passes with them holds for the real ones.

#[cfg(not(loom))]
mod imp {
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
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

    use std::collections::{HashMap, VecDeque};
    use std::hash::Hash;

    pub(crate) fn spin_hint() {
        loom::thread::yield_now();
    }

    pub(crate) fn yield_now() {
        loom::thread::yield_now();
    }

    /// No retries before sleeping in the models. loom never schedules a thread that yields
    /// (or spins) again before the others have run, so with retries the models would only
    /// ever see the other thread finish first, and never explore an arrival between the last
    /// retry and the sleep, the window where a wake-up can be lost; with none, they do.
    pub(crate) const SPIN_ATTEMPTS: u32 = 0;
    pub(crate) const SPINS_BETWEEN_ATTEMPTS: u32 = 0;
    pub(crate) const YIELDS_BEFORE_SLEEP: u32 = 0;

    /// Stand-in for `crossbeam_utils::CachePadded`: padding means nothing to a model.
    #[derive(Debug, Default)]
    pub(crate) struct CachePadded<T>(T);

    impl<T> CachePadded<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(value)
        }
    }

    impl<T> std::ops::Deref for CachePadded<T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    /// Stand-in for `crossbeam_queue::ArrayQueue`: bounded FIFO, each call one atomic step.
    pub(crate) struct ArrayQueue<T> {
        items: Mutex<VecDeque<T>>,
        cap: usize,
    }

    impl<T> ArrayQueue<T> {
        pub(crate) fn new(cap: usize) -> Self {
            assert!(cap > 0, "capacity must be non-zero");
            Self {
                items: Mutex::new(VecDeque::with_capacity(cap)),
                cap,
            }
        }

        pub(crate) fn push(&self, value: T) -> Result<(), T> {
            let mut items = self.items.lock().unwrap();
            if items.len() == self.cap {
                Err(value)
            } else {
                items.push_back(value);
                Ok(())
            }
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.items.lock().unwrap().pop_front()
        }

        pub(crate) fn len(&self) -> usize {
            self.items.lock().unwrap().len()
        }

        pub(crate) fn capacity(&self) -> usize {
            self.cap
        }
    }

    /// Stand-in for `crossbeam_queue::SegQueue`: unbounded FIFO, each call one atomic step.
    pub(crate) struct SegQueue<T> {
        items: Mutex<VecDeque<T>>,
    }

    impl<T> SegQueue<T> {
        pub(crate) fn new() -> Self {
            Self {
                items: Mutex::new(VecDeque::new()),
            }
        }

        pub(crate) fn push(&self, value: T) {
            self.items.lock().unwrap().push_back(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.items.lock().unwrap().pop_front()
        }

        pub(crate) fn len(&self) -> usize {
            self.items.lock().unwrap().len()
        }
    }

    /// What a stand-in lookup hands out in place of a reference: a clone (of an `Arc`).
    pub(crate) struct Cloned<V>(V);

    impl<V> std::ops::Deref for Cloned<V> {
        type Target = V;
        fn deref(&self) -> &V {
            &self.0
        }
    }

    /// Stand-in for `DashMap` behind the same narrow interface as the real build's wrapper.
    pub(crate) struct ConcurrentMap<K, V, S = std::hash::RandomState> {
        inner: Mutex<HashMap<K, V, S>>,
    }

    impl<K: Eq + Hash, V, S: std::hash::BuildHasher + Default> ConcurrentMap<K, V, S> {
        pub(crate) fn new() -> Self {
            Self {
                inner: Mutex::new(HashMap::default()),
            }
        }

        pub(crate) fn with_mut<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
            self.inner.lock().unwrap().get_mut(key).map(f)
        }

        pub(crate) fn insert(&self, key: K, value: V) -> Option<V> {
            self.inner.lock().unwrap().insert(key, value)
        }

        pub(crate) fn remove(&self, key: &K) -> Option<V> {
            self.inner.lock().unwrap().remove(key)
        }

        pub(crate) fn contains_key(&self, key: &K) -> bool {
            self.inner.lock().unwrap().contains_key(key)
        }

        pub(crate) fn len(&self) -> usize {
            self.inner.lock().unwrap().len()
        }

        pub(crate) fn for_each(&self, mut f: impl FnMut(&V)) {
            for value in self.inner.lock().unwrap().values() {
                f(value);
            }
        }
    }

    /// Stand-in for `boxcar::Vec`: each call one atomic step; `get` hands out a shared
    /// pointer in place of a reference.
    pub(crate) struct AppendOnlyVec<T> {
        inner: Mutex<Vec<Arc<T>>>,
    }

    impl<T> AppendOnlyVec<T> {
        pub(crate) fn new() -> Self {
            Self {
                inner: Mutex::new(Vec::new()),
            }
        }

        pub(crate) fn push(&self, value: T) -> usize {
            let mut inner = self.inner.lock().unwrap();
            inner.push(Arc::new(value));
            inner.len() - 1
        }

        pub(crate) fn get(&self, index: usize) -> Option<impl std::ops::Deref<Target = T> + '_> {
            self.inner.lock().unwrap().get(index).cloned()
        }

        pub(crate) fn len(&self) -> usize {
            self.inner.lock().unwrap().len()
        }

        pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
            for value in self.inner.lock().unwrap().iter() {
                f(value);
            }
        }
    }

    /// Stand-in for `papaya::HashMap` behind the same interface as the real build's wrapper;
    /// each lookup is one atomic step and hands out a clone (the engine stores `Arc`s).
    pub(crate) struct Catalog<K, V> {
        inner: Mutex<HashMap<K, V>>,
    }

    impl<K: Eq + Hash, V: Clone> Catalog<K, V> {
        pub(crate) fn new() -> Self {
            Self {
                inner: Mutex::new(HashMap::new()),
            }
        }

        pub(crate) fn pin(&self) -> CatalogRef<'_, K, V> {
            CatalogRef(self)
        }
    }

    /// Stand-in for a pinned view: each lookup locks the map for one step and hands out a
    /// clone, which stays valid on its own.
    pub(crate) struct CatalogRef<'a, K, V>(&'a Catalog<K, V>);

    impl<K: Eq + Hash, V: Clone> CatalogRef<'_, K, V> {
        pub(crate) fn get(&self, key: &K) -> Option<impl std::ops::Deref<Target = V> + '_> {
            self.0.inner.lock().unwrap().get(key).cloned().map(Cloned)
        }

        pub(crate) fn get_or_insert_with(
            &self,
            key: K,
            make: impl FnOnce() -> V,
        ) -> impl std::ops::Deref<Target = V> + '_ {
            Cloned(
                self.0
                    .inner
                    .lock()
                    .unwrap()
                    .entry(key)
                    .or_insert_with(make)
                    .clone(),
            )
        }

        pub(crate) fn for_each(&self, mut f: impl FnMut(&V)) {
            for value in self.0.inner.lock().unwrap().values() {
                f(value);
            }
        }
    }
}

pub(crate) use imp::*;

/// A tag unique to each marketplace in this process, stamped into the ids it issues so an id
/// from another marketplace is recognised as foreign. This counter is bookkeeping, not part
/// of the concurrent protocol, so it stays a std atomic even under loom (loom atomics cannot
/// live in statics).
pub(crate) fn next_market_tag() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
