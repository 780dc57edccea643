//! What actors record as they go and the supervisor reads: when a consumer last made
//! progress, which consumer waits for which product, and the retry counts of `--stats`.
//!
//! Invariants: every figure is an atomic written with one operation, so readers never see
//! a torn value, and nothing here takes a lock; the last-progress time only moves forward;
//! a consumer's waiting slot names a product only while it waits for that product.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `waiting_for` value of a consumer not waiting for a product.
const NOT_WAITING: usize = usize::MAX;

/// Progress of one run, shared by its actors and its supervisor.
pub(super) struct Progress {
    start: Instant,
    /// Nanoseconds since `start` at the last consumer operation that succeeded.
    last_nanos: AtomicU64,
    /// Per consumer: the product index it waits for, or `NOT_WAITING`.
    waiting_for: Box<[AtomicUsize]>,
    retries: AtomicU64,
    republishes: AtomicU64,
}

impl Progress {
    /// The progress of a run of `consumers` consumers, starting now.
    pub(super) fn new(consumers: usize) -> Self {
        Progress {
            start: Instant::now(),
            last_nanos: AtomicU64::new(0),
            waiting_for: (0..consumers)
                .map(|_| AtomicUsize::new(NOT_WAITING))
                .collect(),
            retries: AtomicU64::new(0),
            republishes: AtomicU64::new(0),
        }
    }

    /// A consumer operation succeeded.
    pub(super) fn advanced(&self) {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_nanos.fetch_max(nanos, Ordering::Relaxed);
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
        self.waiting_for[consumer].store(product, Ordering::Relaxed);
    }

    /// Consumer `consumer` no longer waits.
    pub(super) fn stops_waiting(&self, consumer: usize) {
        self.waiting_for[consumer].store(NOT_WAITING, Ordering::Relaxed);
    }

    /// The consumers waiting now, each with the product it waits for.
    pub(super) fn waiting(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.waiting_for
            .iter()
            .enumerate()
            .filter_map(|(consumer, slot)| {
                let product = slot.load(Ordering::Relaxed);
                (product != NOT_WAITING).then_some((consumer, product))
            })
    }

    /// A consumer found its product unavailable.
    pub(super) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A producer found its queue full.
    pub(super) fn republished(&self) {
        self.republishes.fetch_add(1, Ordering::Relaxed);
    }

    /// Retries and republishes so far.
    pub(super) fn retries(&self) -> (u64, u64) {
        (
            self.retries.load(Ordering::Relaxed),
            self.republishes.load(Ordering::Relaxed),
        )
    }
}
