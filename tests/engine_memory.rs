//! Bounded memory: asking for products that were never published stores nothing.
//!
//! The engine's memory is O(producers + distinct products ever published + open carts (at
//! their peak) + items). A lookup never inserts into the catalog: distinct never-published
//! products asked through `add_to_cart`, `add_to_cart_timeout` with a zero timeout and
//! waits on a closed marketplace (a million each), and through 20,000 short waits, must not
//! grow the process's resident memory by 10 MB (storing them, even at a few dozen bytes
//! each, would). Alone in its binary, so no other test's allocations are counted. Linux only
//! (reads /proc).
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use marketplace::{AddError, Marketplace};

/// Resident memory of this process, in bytes, from `/proc/self/statm`.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages");
    pages * 4096
}

const ASKED: u64 = 1_000_000;
const LIMIT: usize = 10 << 20;

#[test]
fn lookups_of_never_published_products_store_nothing() {
    let market = Marketplace::<u64>::new(4);
    let producer = market.register_producer();
    // A few real products and carts, and a warm-up of every path, so the allocator and the
    // engine have reached their steady state before the measurement starts.
    for kind in 0..4 {
        market.publish(producer, kind).unwrap();
    }
    let cart = market.new_cart();
    for product in ASKED..ASKED + 10_000 {
        assert_eq!(
            market.add_to_cart(cart, &product),
            Err(AddError::Unavailable)
        );
        let _ = market.add_to_cart_timeout(cart, &product, Duration::ZERO);
    }
    let before = resident();

    for product in ASKED * 2..ASKED * 3 {
        assert_eq!(
            market.add_to_cart(cart, &product),
            Err(AddError::Unavailable)
        );
    }
    for product in ASKED * 3..ASKED * 4 {
        assert_eq!(
            market.add_to_cart_timeout(cart, &product, Duration::ZERO),
            Err(AddError::Unavailable)
        );
    }
    // Real (if short) waits for products nobody publishes.
    for product in ASKED * 4..ASKED * 4 + 20_000 {
        assert_eq!(
            market.add_to_cart_timeout(cart, &product, Duration::from_nanos(1)),
            Err(AddError::Unavailable)
        );
    }
    let closing = Instant::now();
    market.close();
    let closed_in = closing.elapsed();
    for product in ASKED * 5..ASKED * 6 {
        assert_eq!(
            market.add_to_cart_timeout(cart, &product, Duration::from_secs(60)),
            Err(AddError::Unavailable)
        );
    }
    let grown = resident().saturating_sub(before);
    println!(
        "{} never-published products asked: resident memory grew by {} KiB; close took {closed_in:?}",
        ASKED * 3 + 20_000,
        grown / 1024
    );
    assert!(
        grown < LIMIT,
        "asking for never-published products grew memory by {} KiB",
        grown / 1024
    );
    // The real products are untouched.
    assert_eq!(market.available(&0), 1);
    assert_eq!(market.stats().items_on_shelves, 4);
}
