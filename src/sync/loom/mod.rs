//! loom's atomics, locks and thread-locals, boxcar and event-listener built against loom
//! (both support it), and a stand-in for crossbeam's `SegQueue`, which does not.

pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
pub(crate) use loom::thread_local;
// loom's `try_lock` reports std's error.
pub(crate) use std::sync::TryLockError;

/// A thread-local `Cell` that starts at a value: loom's own, one per model thread (its
/// `thread_local!` takes no `const` initialiser).
macro_rules! thread_local_cell {
    ($(#[$attr:meta])* static $name:ident: Cell<$t:ty> = $init:expr;) => {
        loom::thread_local! {
            $(#[$attr])*
            static $name: std::cell::Cell<$t> = std::cell::Cell::new($init);
        }
    };
}
pub(crate) use thread_local_cell;

pub(crate) use boxcar::Vec as AppendOnlyVec;
pub(crate) use event_listener::{Event, EventListener, IntoNotification, Listener};

mod seg_queue;
pub(crate) use seg_queue::SegQueue;

/// The seeds of the default product hasher: fixed, because loom replays every execution
/// step for step, and a product that hashed differently in each one would probe the catalog
/// differently.
pub(crate) type SeededState = foldhash::fast::FixedState;

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
pub(crate) const CHEAP_YIELDS: u32 = 0;
pub(crate) const YIELDING_BUDGET: std::time::Duration = std::time::Duration::ZERO;

/// Two buckets of consumers waiting for unlisted products in the models: few, so each model
/// holds few events, and more than one, so a model's products may fall in different ones.
pub(crate) const UNLISTED_BUCKETS: usize = 2;

/// One try at an exact snapshot of a producer's count in the models: a read that sees a
/// publish land within it settles for the lower bound at once, so the models reach that
/// path (no model publishes 64 times while a count is read).
pub(crate) const SNAPSHOT_TRIES: usize = 1;

/// Two shards, so the models see slots freed on one shard and reused from the other.
pub(crate) fn free_list_shards() -> usize {
    2
}

/// Threads take homes round-robin in the order they first ask, as in the real build. The
/// counter is loom's per-execution static, and a plain atomic: which thread asks first is
/// already a choice loom explores, and the count itself adds no interleavings.
pub(crate) fn thread_home() -> usize {
    loom::lazy_static! {
        static ref NEXT_HOME: std::sync::atomic::AtomicUsize =
            std::sync::atomic::AtomicUsize::new(0);
    }
    loom::thread_local! {
        // Ordering: homes only need spreading, which any RMW gives.
        static HOME: usize = NEXT_HOME.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    HOME.with(|home| *home)
}

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
