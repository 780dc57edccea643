//! Shared by every loom model: how a model is run (bounded, timed) and the checks that
//! close it (drain everything that is left, compare what came out with what went in).
//!
//! Every model module uses some of these helpers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use loom::sync::Arc;
use loom::thread::{self, JoinHandle};

use marketplace::{Marketplace, Stats};

/// Preemption bound used when `LOOM_MAX_PREEMPTIONS` is not set (scripts/loom sets the
/// same default). The bugs these models target need one or two preemptions (a thread
/// stopped between two steps of its protocol while another completes a step in the gap);
/// 5 leaves a wide margin for the models with two threads.
pub(crate) const DEFAULT_PREEMPTIONS: usize = 5;

/// The product type of every model: distinct names make each item traceable.
pub(crate) type Market = Marketplace<&'static str>;

/// The preemption bound of the models with three threads that wait, wake or read a count
/// (the others run at [`DEFAULT_PREEMPTIONS`]): their interleavings grow so fast that a bound
/// of 3 takes minutes per model. The bugs they target (a wake-up meant for one
/// sleeper swallowed by another, a waiter robbed between wake-up and attempt) show up with
/// one or two preemptions; `scripts/mutation-check` confirms these models catch them.
pub(crate) const THREE_THREAD_PREEMPTIONS: usize = 2;

/// Explores `model` with loom, bounded by `LOOM_MAX_PREEMPTIONS` (default
/// [`DEFAULT_PREEMPTIONS`]), and prints how many executions it took and how long.
pub(crate) fn check(name: &'static str, model: impl Fn() + Sync + Send + 'static) {
    check_bounded(name, usize::MAX, model);
}

/// Like [`check`], with at most `max_preemptions` preemptions whatever the environment asks.
pub(crate) fn check_bounded(
    name: &'static str,
    max_preemptions: usize,
    model: impl Fn() + Sync + Send + 'static,
) {
    static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);
    let mut builder = loom::model::Builder::new();
    let asked = builder.preemption_bound.unwrap_or(DEFAULT_PREEMPTIONS);
    builder.preemption_bound = Some(asked.min(max_preemptions));
    // The engine's operations run boxcar's and event-listener's real code under loom, each
    // atomic step a branch point: more than loom's default of 1,000 per execution.
    builder.max_branches = 20_000;
    let bound = builder.preemption_bound.unwrap_or_default();
    let started = Instant::now();
    EXECUTIONS.store(0, Ordering::Relaxed);
    builder.check(move || {
        EXECUTIONS.fetch_add(1, Ordering::Relaxed);
        model();
    });
    eprintln!(
        "loom model {name}: {} executions, preemption bound {bound}, {:.2?}",
        EXECUTIONS.load(Ordering::Relaxed),
        started.elapsed()
    );
}

/// Runs `work` on a new model thread, with its own handle on `shared` (the marketplace).
pub(crate) fn spawn_with<M: 'static, T: 'static>(
    shared: &Arc<M>,
    work: impl FnOnce(&M) -> T + 'static,
) -> JoinHandle<T> {
    let shared = Arc::clone(shared);
    thread::spawn(move || work(&shared))
}

/// Takes every item of the given kinds still on sale into a fresh cart and orders it.
pub(crate) fn drain(market: &Market, kinds: &[&'static str]) -> Vec<&'static str> {
    let cart = market.new_cart();
    for kind in kinds {
        while market.add_to_cart(cart, kind).is_ok() {}
    }
    market.place_order(cart).expect("the drain cart is open")
}

/// Conservation: what came out (orders and drains) is exactly what went in, each item once.
pub(crate) fn assert_same_items(mut came_out: Vec<&'static str>, mut went_in: Vec<&'static str>) {
    came_out.sort_unstable();
    went_in.sort_unstable();
    assert_eq!(came_out, went_in, "an item was lost or duplicated");
}

/// After a drain with every cart ordered: nothing is left anywhere.
pub(crate) fn assert_empty(market: &Market, producers: usize) {
    let mut empty = Stats::default();
    empty.producers = producers;
    assert_eq!(market.stats(), empty);
}
