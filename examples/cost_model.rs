//! Repeats one operation shape N times on one thread, for instruction counting.
//!
//! Wall-clock timings of a single uncontended cycle move with the machine's mood; instruction
//! counts do not. Run a shape twice under callgrind with different counts and divide the
//! difference by the difference of the counts: what is left is the cost of one repetition,
//! free of start-up and exit.
//!
//! ```sh
//! cargo build --release --example cost_model
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out target/release/examples/cost_model cycle engine 100000
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/b.out target/release/examples/cost_model cycle engine 200000
//! # instructions per cycle = (summary of b - summary of a) / 100000
//! ```
//!
//! Shapes: `cycle` (publish, new cart, add, order), `kinds` (the same cycle over 10,000
//! product kinds in turn, each kind's shelf made before the count starts, so most of its
//! memory is out of the first-level cache when its turn comes), `return` (remove from a cart
//! and add again), `cart` (an empty cart opened and ordered). Implementations: `engine`
//! (`Marketplace`), `handle` (the engine's `cycle` and `kinds` through product handles,
//! resolved before the count starts), `locked` (`baseline::LockedMarketplace`), and, for
//! `cycle` only, `channel` and `kanal` (a bare bounded channel of the same capacity, one
//! item sent and received per cycle: the rivals `compare` measures). The
//! default hasher's seed changes with each run, and with it the catalog's probe lengths, so
//! `kinds engine` counts vary by a few instructions from run to run. Cache misses come from
//! cachegrind the same way; for `kinds`, take counts 310,000 apart, so that the difference
//! holds one whole queue block (31 items) per kind, as a long run does:
//!
//! ```sh
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/cost_model kinds engine 310000
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/cost_model kinds engine 620000
//! # first-level data misses per cycle = (D1 misses of the second - of the first) / 310000
//! ```

use std::hint::black_box;
use std::process::ExitCode;

use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;
use marketplace_harness::{Fresh, Market};

const USAGE: &str =
    "usage: cost_model cycle|kinds|return|cart engine|handle|locked|channel|kanal COUNT";

/// Product kinds the `kinds` shape cycles over.
const KINDS: u64 = 10_000;

/// Runs `shape` `count` times on a fresh marketplace of this kind.
fn run<M: Market<u64> + Fresh>(shape: &str, count: u64) -> Result<(), String> {
    let market = M::create(16);
    let producer = market.register_producer();
    match shape {
        "cycle" => {
            for _ in 0..count {
                let product = black_box(0);
                market
                    .publish(producer, product)
                    .expect("room on the shelf");
                let cart = market.new_cart();
                market.add_to_cart(cart, &product).expect("just published");
                black_box(market.place_order(cart).expect("open cart"));
            }
        }
        "kinds" => {
            // The first `KINDS` cycles make every kind's shelf; the rest find them made.
            for i in 0..KINDS + count {
                let product = black_box(i % KINDS);
                market
                    .publish(producer, product)
                    .expect("room on the shelf");
                let cart = market.new_cart();
                market.add_to_cart(cart, &product).expect("just published");
                black_box(market.place_order(cart).expect("open cart"));
            }
        }
        "return" => {
            market.publish(producer, 0).expect("room on the shelf");
            let cart = market.new_cart();
            market.add_to_cart(cart, &0).expect("just published");
            for _ in 0..count {
                market
                    .remove_from_cart(cart, &black_box(0))
                    .expect("in the cart");
                market
                    .add_to_cart(cart, &black_box(0))
                    .expect("just returned");
            }
        }
        "cart" => {
            for _ in 0..count {
                let cart = market.new_cart();
                black_box(market.place_order(cart).expect("open cart"));
            }
        }
        other => return Err(format!("unknown shape {other:?}")),
    }
    Ok(())
}

/// Runs the `cycle` shape's rival `count` times on one thread: a bare bounded channel of the
/// engine's capacity, one item sent and received per cycle (into a reused `Vec`, as
/// `compare`'s channel consumers receive), for the count of what a handoff costs there.
fn run_channel(shape: &str, channel: &str, count: u64) -> Result<(), String> {
    if shape != "cycle" {
        return Err(format!(
            "a channel runs the shape \"cycle\" only, not {shape:?}"
        ));
    }
    let mut received = Vec::with_capacity(1);
    match channel {
        "channel" => {
            let (sender, receiver) = crossbeam_channel::bounded(16);
            for _ in 0..count {
                sender.send(black_box(0_u64)).expect("a receiver");
                received.push(receiver.recv().expect("just sent"));
                black_box(&mut received).clear();
            }
        }
        _ => {
            let (sender, receiver) = kanal::bounded(16);
            for _ in 0..count {
                sender.send(black_box(0_u64)).expect("a receiver");
                received.push(receiver.recv().expect("just sent"));
                black_box(&mut received).clear();
            }
        }
    }
    Ok(())
}

/// Runs `shape` (`cycle` or `kinds`) `count` times on a fresh engine, through product
/// handles.
fn run_handles(shape: &str, count: u64) -> Result<(), String> {
    let market = Marketplace::new(16);
    let producer = market.register_producer();
    let kinds = match shape {
        "cycle" => 1,
        "kinds" => KINDS,
        other => return Err(format!("no handle form of the shape {other:?}")),
    };
    let handles: Vec<_> = (0..kinds).map(|kind| market.product(&kind)).collect();
    // As in `run`, the first `kinds` cycles find every shelf empty; the rest, made.
    for i in 0..kinds + count {
        let product = &handles[black_box(i % kinds) as usize];
        product.publish(producer).expect("room on the shelf");
        let cart = market.new_cart();
        product.add_to_cart(cart).expect("just published");
        black_box(market.place_order(cart).expect("open cart"));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [shape, implementation, count] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    // The `kinds` shape runs `KINDS` cycles more than asked: the sum must not wrap.
    let Some(count) = count
        .parse::<u64>()
        .ok()
        .filter(|count| count.checked_add(KINDS).is_some())
    else {
        eprintln!(
            "COUNT: expected a whole number up to {}, got {count:?}\n{USAGE}",
            u64::MAX - KINDS
        );
        return ExitCode::from(2);
    };
    let outcome = match implementation.as_str() {
        "engine" => run::<Marketplace<u64>>(shape, count),
        "handle" => run_handles(shape, count),
        "locked" => run::<LockedMarketplace<u64>>(shape, count),
        "channel" | "kanal" => run_channel(shape, implementation, count),
        other => Err(format!("unknown implementation {other:?}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
