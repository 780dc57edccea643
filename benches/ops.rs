//! Micro-benchmarks of each operation, uncontended (one thread), on the engine and on the
//! single-`Mutex` baseline side by side, with the bare channel handoffs (`crossbeam-channel`
//! and `kanal`, the same capacity) and the raw queue as the floor. `cargo bench --bench ops`.
//!
//! Groups (time per iteration):
//! - `publish+add+order`: publish one item, open a cart, add it, place the order (also
//!   through a product handle, `marketplace_handle`);
//! - `remove+re-add`: give an item in a cart back and take it again;
//! - `new_cart+place_order`: an empty cart's whole life;
//! - `stats`: a snapshot of a marketplace with 16 producers, 64 open carts, 128 items;
//! - `spread/<producers>x<kinds>`: publish+add+order cycling over that many producer ids and
//!   product kinds (`marketplace_harness::spread_cost`, also printed by `compare`): the cost of
//!   one operation must stay flat from 1 to thousands of producers and kinds.
// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;

/// One benchmark per operation for a marketplace type with the engine's API.
macro_rules! ops {
    ($c:expr, $name:literal, $new:expr) => {{
        let c: &mut Criterion = $c;
        {
            let market = $new;
            let producer = market.register_producer();
            c.benchmark_group("publish+add+order")
                .bench_function($name, |b| {
                    b.iter(|| {
                        market.publish(producer, black_box(1u64)).unwrap();
                        let cart = market.new_cart();
                        market.add_to_cart(cart, &black_box(1)).unwrap();
                        black_box(market.place_order(cart).unwrap());
                    })
                });
        }
        {
            let market = $new;
            let producer = market.register_producer();
            market.publish(producer, 1u64).unwrap();
            let cart = market.new_cart();
            market.add_to_cart(cart, &1).unwrap();
            c.benchmark_group("remove+re-add")
                .bench_function($name, |b| {
                    b.iter(|| {
                        market.remove_from_cart(cart, &black_box(1)).unwrap();
                        market.add_to_cart(cart, &black_box(1)).unwrap();
                    })
                });
        }
        {
            let market = $new;
            c.benchmark_group("new_cart+place_order")
                .bench_function($name, |b| {
                    b.iter(|| {
                        let cart = market.new_cart();
                        black_box(market.place_order(cart).unwrap());
                    })
                });
        }
        {
            let market = $new;
            let producers: Vec<_> = (0..16).map(|_| market.register_producer()).collect();
            for (i, &producer) in producers.iter().cycle().take(192).enumerate() {
                market.publish(producer, i as u64 % 8).unwrap();
            }
            for i in 0..64u64 {
                let cart = market.new_cart();
                market.add_to_cart(cart, &(i % 8)).unwrap();
            }
            c.benchmark_group("stats")
                .bench_function($name, |b| b.iter(|| black_box(market.stats())));
        }
    }};
}

fn operations(c: &mut Criterion) {
    ops!(c, "marketplace", Marketplace::<u64>::new(16));
    ops!(c, "locked", LockedMarketplace::<u64>::new(16));
    let mut group = c.benchmark_group("publish+add+order");
    let market = Marketplace::<u64>::new(16);
    let producer = market.register_producer();
    let one = market.product(&1);
    group.bench_function("marketplace_handle", |b| {
        b.iter(|| {
            black_box(one).publish(producer).unwrap();
            let cart = market.new_cart();
            one.add_to_cart(cart).unwrap();
            black_box(market.place_order(cart).unwrap());
        })
    });
    // The floor of the handoff: one send+recv / push+pop, no carts, the same capacity.
    let (sender, receiver) = crossbeam_channel::bounded::<u64>(16);
    group.bench_function("channel", |b| {
        b.iter(|| {
            sender.send(black_box(1)).unwrap();
            black_box(receiver.recv().unwrap());
        })
    });
    let (sender, receiver) = kanal::bounded::<u64>(16);
    group.bench_function("kanal", |b| {
        b.iter(|| {
            sender.send(black_box(1)).unwrap();
            black_box(receiver.recv().unwrap());
        })
    });
    let queue = ArrayQueue::<u64>::new(16);
    group.bench_function("array_queue", |b| {
        b.iter(|| {
            queue.push(black_box(1)).unwrap();
            black_box(queue.pop().unwrap());
        })
    });
    group.finish();

    for (producers, kinds) in [(1, 1), (4096, 1), (1, 10_000)] {
        let mut group = c.benchmark_group(format!("spread/{producers}x{kinds}"));
        for imp in [
            marketplace_harness::Imp::Marketplace,
            marketplace_harness::Imp::Locked,
        ] {
            group.bench_function(imp.name(), |b| {
                b.iter_custom(|iters| {
                    marketplace_harness::spread_cost(imp, producers, kinds, iters as usize).unwrap()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, operations);
criterion_main!(benches);
