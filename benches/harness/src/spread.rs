//! The uncontended per-item cost: one thread cycling publish, new_cart, add_to_cart and
//! place_order, with no waits, over many producer ids and product kinds.

use std::time::{Duration, Instant};

use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;

use crate::{Imp, Market, QUEUE_SIZE, Workload};

/// Per-item cost of one thread doing publish, new_cart, add_to_cart and place_order over
/// `producers` producer ids and `kinds` product kinds in turn (uncontended, never full: the
/// O(1) claim without the contended cases' confounders, where more producer ids also means
/// more total shelf capacity and so fewer waits). `None` for the channel and queue.
pub fn spread_cost(imp: Imp, producers: usize, kinds: usize, items: usize) -> Option<Duration> {
    fn run<M: Market<u64>>(market: M, producers: usize, kinds: usize, items: usize) -> Duration {
        let ids: Vec<M::Producer> = (0..producers).map(|_| market.register_producer()).collect();
        let cycle = |n: usize| {
            for i in 0..n {
                let kind = (i % kinds) as u64;
                market.publish_wait(ids[i % producers], kind);
                let cart = market.new_cart();
                market.add_wait(cart, &kind);
                assert_eq!(market.order_count(cart), 1);
            }
        };
        // Warm-up: every shelf exists and every producer has been used.
        cycle(producers.max(kinds));
        let clock = Instant::now();
        cycle(items);
        clock.elapsed()
    }
    match imp {
        Imp::Marketplace => Some(run(
            Marketplace::<u64>::new(QUEUE_SIZE),
            producers,
            kinds,
            items,
        )),
        Imp::Locked => Some(run(
            LockedMarketplace::<u64>::new(QUEUE_SIZE),
            producers,
            kinds,
            items,
        )),
        Imp::LockedYield => Some(run(
            LockedMarketplace::<u64>::yielding(QUEUE_SIZE),
            producers,
            kinds,
            items,
        )),
        Imp::Channel | Imp::Kanal | Imp::ArrayQueue => None,
    }
}
