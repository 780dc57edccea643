//! What actors record as they go and the supervisor reads: when a consumer last made
//! progress, which consumer waits for which product and since when, and each actor's own
//! figures for `--stats` (carts, purchases, retries, time waiting; items published, times
//! full).
//!
//! Every actor has a slot of its own, written by that actor alone and read by the
//! supervisor (for the progress line, a stall report, the final figures), so counting adds
//! no contended write to any path: the only figure all consumers write is the time of the
//! last progress, which the stall detection has always needed. Slots are aligned to a
//! cache line so that neighbours do not share one.
//!
//! Invariants: every figure is an atomic written with one operation, so readers never see
//! a torn value, and nothing here takes a lock; the last-progress time only moves forward;
//! a consumer's `waiting_for` names a product only while it waits for that product, and
//! its `since` is the start of that wait; a wait's length is added to `waited` exactly
//! once, when it ends (a wait still going on when the figures are taken is counted up to
//! that moment instead).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::stats::{ConsumerStats, ProducerStats, RunStats};
use crate::scenario::Scenario;

/// `waiting_for` value of a consumer not waiting for a product.
const NOT_WAITING: usize = usize::MAX;

/// One consumer's figures, written by that consumer only.
#[derive(Default)]
#[repr(align(64))]
struct ConsumerSlot {
    /// The product index it waits for, or `NOT_WAITING`.
    waiting_for: AtomicUsize,
    /// Nanoseconds since the run's start at which the current wait began.
    since: AtomicU64,
    /// Nanoseconds spent in waits that ended.
    waited: AtomicU64,
    carts: AtomicU64,
    purchases: AtomicU64,
    retries: AtomicU64,
}

/// One producer's figures, written by that producer only.
#[derive(Default)]
#[repr(align(64))]
struct ProducerSlot {
    published: AtomicU64,
    full: AtomicU64,
}

/// A consumer waiting for a product, as the supervisor sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Waiting {
    pub(super) consumer: usize,
    pub(super) product: usize,
    /// How long it has waited so far.
    pub(super) waited: Duration,
}

/// Progress of one run, shared by its actors and its supervisor.
pub(super) struct Progress {
    start: Instant,
    /// Nanoseconds since `start` at the last consumer operation that succeeded.
    last_nanos: AtomicU64,
    consumers: Box<[ConsumerSlot]>,
    producers: Box<[ProducerSlot]>,
}

impl Progress {
    /// The progress of a run of `consumers` consumers and `producers` producers, starting
    /// now.
    pub(super) fn new(consumers: usize, producers: usize) -> Self {
        Progress {
            start: Instant::now(),
            last_nanos: AtomicU64::new(0),
            consumers: (0..consumers)
                .map(|_| ConsumerSlot {
                    waiting_for: AtomicUsize::new(NOT_WAITING),
                    ..ConsumerSlot::default()
                })
                .collect(),
            producers: (0..producers).map(|_| ProducerSlot::default()).collect(),
        }
    }

    /// The progress of a run as [`new`](Self::new) makes it, started `ago`.
    #[cfg(test)]
    pub(super) fn started(ago: Duration, consumers: usize, producers: usize) -> Self {
        let progress = Self::new(consumers, producers);
        Progress {
            start: progress.start.checked_sub(ago).unwrap_or(progress.start),
            ..progress
        }
    }

    /// Nanoseconds since the start, saturating (after some 584 years).
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// A consumer operation succeeded.
    pub(super) fn advanced(&self) {
        self.last_nanos
            .fetch_max(self.now_nanos(), Ordering::Relaxed);
    }

    /// How long no consumer has made progress.
    pub(super) fn idle(&self) -> Duration {
        let last = Duration::from_nanos(self.last_nanos.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Time since the run started.
    pub(super) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Consumer `consumer` starts waiting for product `product`.
    pub(super) fn waits_for(&self, consumer: usize, product: usize) {
        let slot = &self.consumers[consumer];
        // `since` first: a reader that sees the product also sees (about) when it started.
        slot.since.store(self.now_nanos(), Ordering::Relaxed);
        slot.waiting_for.store(product, Ordering::Relaxed);
    }

    /// Consumer `consumer` no longer waits (it may not have been waiting at all).
    pub(super) fn stops_waiting(&self, consumer: usize) {
        let slot = &self.consumers[consumer];
        if slot.waiting_for.swap(NOT_WAITING, Ordering::Relaxed) != NOT_WAITING {
            let waited = self
                .now_nanos()
                .saturating_sub(slot.since.load(Ordering::Relaxed));
            slot.waited.fetch_add(waited, Ordering::Relaxed);
        }
    }

    /// The consumers waiting now, each with the product it waits for.
    pub(super) fn waiting(&self) -> impl Iterator<Item = Waiting> + '_ {
        let now = self.now_nanos();
        self.consumers
            .iter()
            .enumerate()
            .filter_map(move |(consumer, slot)| {
                let product = slot.waiting_for.load(Ordering::Relaxed);
                let since = slot.since.load(Ordering::Relaxed);
                (product != NOT_WAITING).then(|| Waiting {
                    consumer,
                    product,
                    waited: Duration::from_nanos(now.saturating_sub(since)),
                })
            })
    }

    /// Consumer `consumer` found its product unavailable.
    pub(super) fn retried(&self, consumer: usize) {
        self.consumers[consumer]
            .retries
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Consumer `consumer` ordered a cart of `items` items.
    pub(super) fn ordered(&self, consumer: usize, items: usize) {
        let slot = &self.consumers[consumer];
        slot.carts.fetch_add(1, Ordering::Relaxed);
        slot.purchases.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Producer `producer` published an item.
    pub(super) fn published(&self, producer: usize) {
        self.producers[producer]
            .published
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Producer `producer` found its queue full.
    pub(super) fn full(&self, producer: usize) {
        self.producers[producer]
            .full
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Every actor's figures, named after `scenario`; meant for when the actors are gone,
    /// so that the figures are final. A consumer still marked waiting (a task cancelled in
    /// its wait) counts that wait up to now.
    pub(super) fn stats(&self, scenario: &Scenario) -> RunStats {
        let now = self.now_nanos();
        let consumers = scenario
            .consumers()
            .iter()
            .zip(self.consumers.iter())
            .map(|(spec, slot)| {
                let mut waited = slot.waited.load(Ordering::Relaxed);
                if slot.waiting_for.load(Ordering::Relaxed) != NOT_WAITING {
                    waited = waited
                        .saturating_add(now.saturating_sub(slot.since.load(Ordering::Relaxed)));
                }
                ConsumerStats {
                    name: spec.name.clone(),
                    carts: slot.carts.load(Ordering::Relaxed),
                    purchases: slot.purchases.load(Ordering::Relaxed),
                    retries: slot.retries.load(Ordering::Relaxed),
                    waiting: Duration::from_nanos(waited),
                }
            })
            .collect();
        let producers = scenario
            .producers()
            .iter()
            .zip(self.producers.iter())
            .map(|(spec, slot)| ProducerStats {
                name: spec.name.clone(),
                published: slot.published.load(Ordering::Relaxed),
                full: slot.full.load(Ordering::Relaxed),
            })
            .collect();
        RunStats {
            wall: self.elapsed(),
            consumers,
            producers,
        }
    }
}
