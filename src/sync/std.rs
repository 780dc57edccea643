//! The real primitives: std's atomics, locks and thread-locals, crossbeam's unbounded
//! queue, boxcar's append-only vector and event-listener's events, plus the wait policy's
//! and the count snapshot's tuning for real hardware.

pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard, TryLockError};
pub(crate) use std::thread_local;
use std::time::Duration;

/// A thread-local `Cell` that starts at a constant: std's `const` form, whose every access is
/// a plain load or store, with no first-use check and no destructor.
macro_rules! thread_local_cell {
    ($(#[$attr:meta])* static $name:ident: Cell<$t:ty> = $init:expr;) => {
        std::thread_local! {
            $(#[$attr])*
            static $name: std::cell::Cell<$t> = const { std::cell::Cell::new($init) };
        }
    };
}
pub(crate) use thread_local_cell;

pub(crate) use boxcar::Vec as AppendOnlyVec;
pub(crate) use crossbeam_queue::SegQueue;
pub(crate) use crossbeam_utils::CachePadded;
pub(crate) use event_listener::{Event, EventListener, IntoNotification, Listener};

/// The seeds of the default product hasher: random for each marketplace.
pub(crate) type SeededState = foldhash::fast::RandomState;

/// A hint that the caller is in a short retry loop waiting for another thread's step.
pub(crate) fn spin_hint() {
    std::hint::spin_loop();
}

/// Gives the processor to another runnable thread, if there is one.
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

/// How many times a blocking waiter retries while spinning before it starts yielding: the
/// thread that will unblock it is often running on another core and about to succeed.
pub(crate) const SPIN_ATTEMPTS: u32 = 2;

/// Spin hints between two of those attempts (about 0.75 µs on the 2-core machine the
/// benchmarks run on). Retrying sooner is slower overall: each attempt reads the very
/// cache lines the other thread is writing to let us through, and takes them away from it.
pub(crate) const SPINS_BETWEEN_ATTEMPTS: u32 = 32;

/// How many times a blocking waiter yields and retries before it may go to sleep: with more
/// threads than cores, the thread that will unblock us is usually runnable but not running,
/// and a yield lets it run for far less than a sleep and a wake-up cost.
pub(crate) const YIELDS_BEFORE_SLEEP: u32 = 16;

/// How many more times it yields and retries while yielding is cheap, that is, while all its
/// yields so far took less than [`YIELDING_BUDGET`]. With a core for each thread, a yield
/// returns at once and is a slower spin, which beats sleeping through a wait of a few
/// microseconds (one producer and one consumer move three times as many items); with other
/// threads runnable, a yield lets them run, the budget is soon spent, and the waiter sleeps
/// after [`YIELDS_BEFORE_SLEEP`] as before.
pub(crate) const CHEAP_YIELDS: u32 = 48;

/// See [`CHEAP_YIELDS`].
pub(crate) const YIELDING_BUDGET: Duration = Duration::from_micros(20);

/// Buckets of consumers waiting for products with no shelf yet, picked by the product's
/// hash (a power of two): a new product wakes one bucket, so with many such consumers each
/// first publish wakes about one in 1024 of them, where one shared list would wake them all.
/// Many, so that a burst of new products does not wake a few of those consumers each time:
/// with 64 buckets, 200 consumers and a burst of 10,000 kinds cost 0.30 s of CPU, against
/// 0.08 s with one list (whose consumers, all woken at once, mostly missed the burst) and
/// 0.05 s with 1024 (`examples/unlisted_wakeups.rs`). Fixed, so a catalog's waiting takes
/// the same memory (1024 counts and event pointers, 16 KiB, in one allocation) however many
/// products are awaited.
pub(crate) const UNLISTED_BUCKETS: usize = 1024;

/// Tries at an exact snapshot of a producer's count (`Producer::on_sale`) before it settles
/// for a lower bound: a try fails only when a publish (or a return) lands within it.
pub(crate) const SNAPSHOT_TRIES: usize = 64;

/// How many shards the free list of cart slots has: a power of two, at least the number of
/// cores the process may use (at most 64), so threads on different cores keep their own
/// (see `carts/free_slots.rs`). Read from the system once per process.
pub(crate) fn free_list_shards() -> usize {
    static SHARDS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SHARDS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |cores| cores.get().min(64))
            .next_power_of_two()
    })
}

/// The calling thread's home: a number threads take round-robin, in the order they first
/// ask. The free list reduces it modulo its number of shards.
pub(crate) fn thread_home() -> usize {
    /// No home taken yet.
    const HOMELESS: usize = usize::MAX;
    static NEXT_HOME: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: std::cell::Cell<usize> = const { std::cell::Cell::new(HOMELESS) };
    }
    HOME.with(|home| {
        if home.get() == HOMELESS {
            // Ordering: homes only need spreading, which any RMW gives. Masked, so no
            // thread's home is ever `HOMELESS`.
            home.set(NEXT_HOME.fetch_add(1, Ordering::Relaxed) & (HOMELESS >> 1));
        }
        home.get()
    })
}
