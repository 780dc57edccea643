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
//! Shapes: `cycle` (publish, new cart, add, order), `return` (remove from a cart and add
//! again), `cart` (an empty cart opened and ordered). Implementations: `engine`
//! (`Marketplace`) and `locked` (`baseline::LockedMarketplace`).

use std::hint::black_box;
use std::process::ExitCode;

use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;
use marketplace_harness::{Fresh, Market};

const USAGE: &str = "usage: cost_model cycle|return|cart engine|locked COUNT";

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [shape, implementation, count] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("COUNT: expected a whole number, got {count:?}\n{USAGE}");
        return ExitCode::from(2);
    };
    let outcome = match implementation.as_str() {
        "engine" => run::<Marketplace<u64>>(shape, count),
        "locked" => run::<LockedMarketplace<u64>>(shape, count),
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
