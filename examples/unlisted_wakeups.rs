//! Consumers waiting for products that are never published, while one producer puts new
//! kinds on sale: what the waiting costs the producer and the process.
//!
//! Each new kind wakes the consumers waiting for a product not yet listed whose hash falls
//! in its bucket (see `docs/design.md`, "Waiting"); this measures how much that costs, in
//! the publisher's time and in the whole process's CPU, with the kinds published in a
//! burst (`PACE_US` 0) or paced over time:
//!
//! ```sh
//! cargo build --release --example unlisted_wakeups
//! /usr/bin/time -f "cpu %U+%S s" target/release/examples/unlisted_wakeups 200 10000 0
//! /usr/bin/time -f "cpu %U+%S s" target/release/examples/unlisted_wakeups 200 2000 200
//! ```
//!
//! Arguments: `WAITERS KINDS PACE_US`.

use std::time::{Duration, Instant};

use marketplace::Marketplace;

fn main() {
    let arguments: Vec<u64> = std::env::args()
        .skip(1)
        .map(|argument| {
            argument
                .parse()
                .expect("WAITERS KINDS PACE_US, whole numbers")
        })
        .collect();
    let [waiters, kinds, pace_us] = arguments[..] else {
        panic!("usage: unlisted_wakeups WAITERS KINDS PACE_US");
    };
    let market = Marketplace::<u64>::new(usize::try_from(kinds).expect("KINDS fits") + 1);
    let producer = market.register_producer();
    std::thread::scope(|s| {
        for waiter in 0..waiters {
            let cart = market.new_cart();
            let market = &market;
            // Products no producer publishes: the consumers wait until the market closes.
            s.spawn(move || {
                market.add_to_cart_timeout(cart, &(u64::MAX - waiter), Duration::from_secs(600))
            });
        }
        // A measurement, not a test: a waiter is asleep within microseconds of its
        // retries, and half a second leaves every one of them time to get there.
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        for kind in 0..kinds {
            market.publish(producer, kind).expect("room for every kind");
            if pace_us > 0 {
                std::thread::sleep(Duration::from_micros(pace_us));
            }
        }
        let publishing = started.elapsed();
        market.close();
        println!(
            "waiters={waiters} kinds={kinds} pace_us={pace_us} publishing={:.3}s",
            publishing.as_secs_f64()
        );
    });
}
