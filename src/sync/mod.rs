//! The one switch point between real concurrency primitives and loom's model-checked ones.
//!
//! Every atomic, lock, shared pointer, queue and concurrent map the engine touches is named
//! here and nowhere else. A normal build re-exports `std::sync` and `crossbeam_queue` and
//! wraps `dashmap`, `papaya` and `boxcar`; a build with `--cfg loom` swaps in `loom::sync` and
//! small lock-based stand-ins with the same methods, so the loom models in `loom-tests/`
//! explore *our* protocol (claim-and-return, capacity accounting, wake-ups) rather than the
//! internals of those crates, which are tested by their own authors. Nothing outside this
//! module knows which build it is: `std.rs` holds the real build's names, `loom.rs` the
//! model's, each readable on its own.
//!
//! The stand-ins are deliberately simple (a loom `Mutex` around a std collection): each of
//! their operations is one atomic step, which is exactly the guarantee the real lock-free
//! structures give (linearizability), so a model that passes with them holds for the real ones.

#[cfg(not(loom))]
mod std;
#[cfg(not(loom))]
pub(crate) use self::std::*;

#[cfg(loom)]
mod loom;
#[cfg(loom)]
pub(crate) use self::loom::*;

/// A tag unique to each marketplace in this process, stamped into the ids it issues so an id
/// from another marketplace is recognised as foreign. This counter is bookkeeping, not part
/// of the concurrent protocol, so it stays a std atomic even under loom (loom atomics cannot
/// live in statics).
pub(crate) fn next_market_tag() -> u32 {
    static NEXT: ::std::sync::atomic::AtomicU32 = ::std::sync::atomic::AtomicU32::new(1);
    NEXT.fetch_add(1, ::std::sync::atomic::Ordering::Relaxed)
}
