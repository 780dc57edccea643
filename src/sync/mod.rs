//! The one switch point between real concurrency primitives and loom's model-checked ones.
//!
//! Every atomic, lock, thread-local, queue, append-only vector and event the engine touches
//! is named here and nowhere else; nothing outside this module knows which build it is.
//! `std.rs` holds the real build's names, `loom/` the model's, each readable on its own.
//!
//! What the models see is meant to synchronise exactly as the real program does, so that a
//! model that passes says something about the real engine:
//! - the engine's own atomics, locks, fences and thread-locals are loom's under
//!   `--cfg loom` (each model thread has its own, dropped when it ends);
//! - `boxcar` (the append-only vectors) and `event-listener` (where waiters sleep) support
//!   loom themselves: the models run their real code with their real orderings;
//! - `crossbeam_queue::SegQueue` (the product shelves) does not, so `loom/` has a
//!   stand-in that follows its algorithm and orderings step for step for the handful of
//!   items a model holds (see `loom/seg_queue.rs`): a failed `pop` synchronises with
//!   nothing, exactly as the real one.
//!
//! The `scripts/mutation-check` script deletes each `SeqCst` fence the wake-up protocol
//! needs, one at a time, and expects a model in `loom-tests/` to fail: the models can see
//! the fences.

#[cfg(not(loom))]
mod std;
#[cfg(not(loom))]
pub(crate) use self::std::*;

#[cfg(loom)]
mod loom;
#[cfg(loom)]
pub(crate) use self::loom::*;

/// Shared ownership, for lifetimes only (a thread's spare cart slot refers weakly to where
/// it goes back): std's in both builds, as the reference counts are bookkeeping, not part
/// of any protocol a model checks.
pub(crate) use ::std::sync::{Arc, Weak};

/// A tag for a new marketplace, unique in this process: stamped into the ids it issues so an
/// id from another marketplace is recognised as foreign.
///
/// A 64-bit counter that never wraps (at one marketplace per nanosecond it would last 584
/// years); if it were ever exhausted this panics rather than reuse a tag. It is bookkeeping,
/// not part of the concurrent protocol, so it stays a std atomic even under loom (loom atomics
/// cannot live in statics).
pub(crate) fn next_market_tag() -> u64 {
    static NEXT: ::std::sync::atomic::AtomicU64 = ::std::sync::atomic::AtomicU64::new(1);
    // Ordering: only uniqueness matters, which any RMW on one location gives.
    NEXT.fetch_update(
        ::std::sync::atomic::Ordering::Relaxed,
        ::std::sync::atomic::Ordering::Relaxed,
        |tag| tag.checked_add(1),
    )
    .expect("2^64 marketplaces created: no fresh tag left")
}
