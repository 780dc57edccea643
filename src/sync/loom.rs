//! loom's atomics and locks, and stand-ins for the concurrent queues and maps with the same
//! methods as the wrappers in `std.rs`.

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
