//! The one benchmark workload, shared by `examples/compare.rs` and the criterion suites in
//! `benches/`, so the quick table and the criterion groups measure exactly the same thing;
//! the async handoff of tasks against async channels ([`TASK_CASES`]); the idle-CPU probe
//! used by `compare` and `tests/idle_cpu.rs`; and the [`Market`] trait
//! over every marketplace, which the engine's tests use too.
//!
//! # The workload
//!
//! `P` producer threads and `C` consumer threads move `N` items from `publish` to a placed
//! order; the figure of merit is items/s = `N` / wall time from the first thread's start
//! (all are released by one barrier, each reads the clock itself) until the last one is
//! done. Marketplaces, producer ids, and every product shelf are created and warmed up
//! before the clock starts.
//!
//! Threads that cannot proceed block: producers in `publish_timeout`, consumers in
//! `add_to_cart_timeout` (marketplace, locked, locked_yield), blocking `send`/`recv`
//! (channel, kanal); the raw `ArrayQueue` reference spins then yields
//! (`crossbeam_utils::Backoff`), being the hardware limit rather than a usable design. A
//! timeout of [`STALL`] turns a deadlock of a marketplace into a panic.
//!
//! # Honest rivals
//!
//! The `channel` and `kanal` columns are bare handoffs: producers `send` each item, consumers
//! `recv` a cart's worth of items in a row into a reused `Vec`, and nothing else happens per
//! item (no timeouts, no assertions, no bookkeeping), so they are the strongest version of
//! the rival, not one slowed down by the harness. Capacity is the same everywhere: each
//! producer id may have [`QUEUE_SIZE`] items on the shelf, and the channel / queue
//! references get the same total (`QUEUE_SIZE` per producer thread).
//!
//! # Two locked columns: what the wait policy is worth
//!
//! `locked` is the classic design as it is usually written: one `Mutex`, and a blocked caller
//! sleeps on a `Condvar` at once (`LockedMarketplace::new`). `locked_yield` is the very same
//! one-`Mutex` design with the engine's wait policy (`LockedMarketplace::yielding`: release
//! the lock and retry a few times, spinning and then yielding, before sleeping), driven
//! through the same code path. The engine's lead over the classic design therefore splits
//! in two: `locked` to `locked_yield` is what the wait policy alone is worth, and
//! `locked_yield` to `marketplace` is what having no global lock is worth. It is a
//! sensitivity column: in the readable table and the criterion groups, and as a ratio
//! (`m/locked_yield`) in the `median case=` lines, but its items/s is not in the
//! machine-readable `case=` lines.
//!
//! # Kinds without deadlock
//!
//! With several product kinds a consumer asks for one particular kind and waits for it, while
//! producers are bounded: a careless pattern can fill every shelf with kinds nobody is asking
//! for. The kinds cases need `P == C`; producer thread `t` and consumer thread `t` form pair
//! `t`, and pairs are split into `G = min(P, kinds)` groups (`t % G`). Group `g` owns the
//! kinds `k < kinds` with `k % G == g` (disjoint between groups) and cycles through them in
//! increasing order; the producer of a pair publishes that sequence and its consumer asks for
//! the same sequence. Either a group has one pair (kinds >= P): only that pair touches its
//! kinds, the consumer always takes the oldest item of the kind it wants, which is exactly
//! the next item its producer published, and the producer can only be full while the
//! consumer has an item to take — no deadlock; or a group has one kind (kinds < P): any item
//! of the group serves any of its consumers and supply equals demand — no deadlock. So
//! `kinds-1` has all 4 pairs competing for one kind, `kinds-100`/`kinds-10000` give each pair
//! its own 25 / 2500 kinds. The channel and array-queue references get one queue per group.
//! Mind the confounder when reading per-item cost across kinds: four private pipelines of 16
//! slots wait more often than one shared pool of 64 (the channel slows down just as much from
//! `kinds-1` to `kinds-100`), so `kinds-10000` / `kinds-100` is the like-for-like ratio, and
//! [`spread_cost`] measures the O(1) claim with no waiting at all. Likewise more producer
//! ids means more total shelf capacity, hence fewer waits, in the `producers-*` cases.
//!
//! `carts8-4x4` fills carts of 8 items of one kind. `carts-4x4` does the same and also gives
//! the last item back and takes one again before ordering; with one kind that cannot
//! deadlock either: demand still outstanding always equals what is on the shelves plus what
//! is still to be published.
#![forbid(unsafe_code)]

mod case;
pub mod compare;
mod idle;
mod imp;
mod market;
mod redis_market;
pub mod redis_server;
mod spread;
mod tasks;

pub use case::{CASES, Case};
pub use idle::{IdleWait, idle_wait};
pub use imp::Imp;
pub use market::{Fresh, Id, Market, STALL, Workload, YieldingBaseline};
pub use spread::spread_cost;
pub use tasks::{TASK_CASES, TaskCase, TaskImp};

/// Items each producer id may have on the shelf.
pub const QUEUE_SIZE: usize = 16;
