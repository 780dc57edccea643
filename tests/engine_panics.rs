//! Panic safety: a panic in the user's `Hash`, `Eq` or `Clone`, anywhere in any
//! operation, leaves every count right: no unit of capacity leaked or invented, no item lost
//! or duplicated, and the marketplace (and the cart involved) keeps working. The tests run
//! on the engine and (all but two, which say why) on the one-lock baseline it is measured
//! against, in both its waiting forms (sleeping at once, and retrying as the engine does
//! first).
//!
//! (`engine_panics_logging.rs` does the same for `Debug`, which only runs when a logger
//! wants debug records: it installs one, for its whole process.)
//!
//! Each test arms one trap of a [`Fragile`] product (it panics on this thread only), runs one
//! operation under `catch_unwind`, checks that it panicked, disarms, and then checks the
//! state against what it was before, and that everything still works.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{Marketplace, Stats};
use support::{Fragile, Fresh, Trap, YieldingBaseline, arm_after, disarm};

/// A marketplace of [`Fragile`] products, as every test takes it.
trait Market: support::Market<Fragile> + Fresh {}

impl<M: support::Market<Fragile> + Fresh> Market for M {}

// One `#[test]` per case and implementation: `engine::case`, `baseline::case` and
// `yielding_baseline::case`.
support::tests_on!(
    Fragile;
    engine: Marketplace,
    baseline: LockedMarketplace,
    yielding_baseline: YieldingBaseline;
    [
        publish_of_a_new_product_survives_each_trap,
        publish_of_a_known_product_survives_each_trap,
        add_to_cart_survives_each_trap,
        remove_from_cart_survives_each_trap,
    ]
);

fn item(kind: u32, serial: u64) -> Fragile {
    Fragile { kind, serial }
}

fn ask(kind: u32) -> Fragile {
    item(kind, 0)
}

/// Runs `operation` with `trap` armed and asserts it panicked.
fn panics_with<R>(trap: Trap, operation: impl FnOnce() -> R) {
    panics_at(trap, 0, operation);
}

/// Runs `operation` with `trap` armed to let `passes` calls through, and asserts it panicked.
fn panics_at<R>(trap: Trap, passes: usize, operation: impl FnOnce() -> R) {
    arm_after(trap, passes);
    let outcome = catch_unwind(AssertUnwindSafe(operation));
    disarm();
    assert!(
        outcome.is_err(),
        "the operation did not reach the user's {trap:?}"
    );
}

/// A marketplace of capacity 2 with one producer that has one item of kind 1 on sale, and an
/// open cart holding one item of kind 2 (published by the same producer, then taken).
fn setup<M: Market>() -> (M, M::Producer, M::Cart) {
    let market = M::create(2);
    let producer = market.register_producer();
    market.publish(producer, item(2, 1)).unwrap();
    let cart = market.new_cart();
    market.add_to_cart(cart, &ask(2)).unwrap();
    market.publish(producer, item(1, 2)).unwrap();
    (market, producer, cart)
}

const BEFORE: Stats = Stats {
    producers: 1,
    open_carts: 1,
    items_on_shelves: 1,
    items_in_carts: 1,
};

/// Everything still works and adds up: the producer can fill its last slot and no more, the
/// items can all be bought, the cart can be ordered.
fn still_works<M: Market>(market: &M, producer: M::Producer, cart: M::Cart) {
    assert_eq!(market.stats(), BEFORE, "a count changed");
    assert_eq!(market.shelf_len(producer), Some(1));
    assert_eq!(market.available(&ask(1)), 1);
    market.publish(producer, item(3, 3)).unwrap();
    assert!(market.publish(producer, item(3, 4)).unwrap_err().is_full());
    market.add_to_cart(cart, &ask(1)).unwrap();
    market.add_to_cart(cart, &ask(3)).unwrap();
    let mut serials: Vec<u64> = market
        .place_order(cart)
        .unwrap()
        .iter()
        .map(|p| p.serial)
        .collect();
    serials.sort_unstable();
    assert_eq!(serials, [1, 2, 3], "an item was lost or duplicated");
    assert_eq!(market.shelf_len(producer), Some(0));
}

fn publish_of_a_new_product_survives_each_trap<M: Market>() {
    for trap in [Trap::Hash, Trap::Clone] {
        let (market, producer, cart) = setup::<M>();
        // Kind 4 has no shelf yet: its first publish hashes it and clones the catalog's key.
        panics_with(trap, || market.publish(producer, item(4, 9)));
        assert_eq!(market.available(&ask(4)), 0, "{trap:?}");
        still_works(&market, producer, cart);
    }
}

fn publish_of_a_known_product_survives_each_trap<M: Market>() {
    for trap in [Trap::Hash, Trap::Eq] {
        let (market, producer, cart) = setup::<M>();
        panics_with(trap, || market.publish(producer, item(1, 9)));
        still_works(&market, producer, cart);
    }
}

/// The engine only: the baseline runs no user code while a producer is full (it refuses
/// before it looks the product up), so its waits have no trap to reach.
#[test]
fn publish_timeout_survives_a_trap_while_it_waits() {
    let (market, producer, cart) = setup::<Marketplace<Fragile>>();
    market.publish(producer, item(1, 5)).unwrap();
    // Full now: the call waits. Its first lookup compares the product once; the panic
    // comes from the attempts it makes while it waits.
    panics_at(Trap::Eq, 1, || {
        market.publish_timeout(producer, item(1, 9), Duration::from_millis(50))
    });
    market.add_to_cart(cart, &ask(1)).unwrap();
    market.remove_from_cart(cart, &ask(1)).unwrap();
    let left = market.new_cart();
    market.add_to_cart(left, &ask(1)).unwrap();
    assert_eq!(market.place_order(left).unwrap().len(), 1);
    still_works(&market, producer, cart);
}

/// The engine only: a wait hashes its product once, in the caller's first attempt, and its
/// later attempts reuse that hash (the baseline's waiting add hashes at each attempt).
#[test]
fn waits_hash_their_product_once() {
    let (market, producer, cart) = setup::<Marketplace<Fragile>>();
    market.publish(producer, item(1, 5)).unwrap();
    // Full: the publish waits, with attempts spinning, yielding and sleeping, then times out.
    arm_after(Trap::Hash, 1);
    let waited = catch_unwind(AssertUnwindSafe(|| {
        market.publish_timeout(producer, item(1, 9), Duration::from_millis(20))
    }));
    disarm();
    assert!(
        waited
            .expect("hashed more than once")
            .unwrap_err()
            .is_full()
    );
    // Kind 2 has a shelf, empty: the add waits the same way.
    arm_after(Trap::Hash, 1);
    let waited = catch_unwind(AssertUnwindSafe(|| {
        market.add_to_cart_timeout(cart, &ask(2), Duration::from_millis(20))
    }));
    disarm();
    assert_eq!(
        waited.expect("hashed more than once"),
        Err(marketplace::AddError::Unavailable)
    );
    // The async forms, polled on this thread, where the trap is armed, until a timer drops
    // them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let timeout = Duration::from_millis(20);
    arm_after(Trap::Hash, 1);
    let waited = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            tokio::time::timeout(timeout, market.publish_async(producer, item(1, 9))).await
        })
    }));
    disarm();
    assert!(waited.expect("hashed more than once").is_err(), "published");
    arm_after(Trap::Hash, 1);
    let waited = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            tokio::time::timeout(timeout, market.add_to_cart_async(cart, &ask(2))).await
        })
    }));
    disarm();
    assert!(waited.expect("hashed more than once").is_err(), "added");
}

fn add_to_cart_survives_each_trap<M: Market>() {
    for trap in [Trap::Hash, Trap::Eq] {
        let (market, producer, cart) = setup::<M>();
        panics_with(trap, || market.add_to_cart(cart, &ask(1)));
        still_works(&market, producer, cart);
    }
    // Kind 2 has a shelf, empty: the call waits, and the panic comes from the second
    // comparison, made once it waits (the first lookup compares once).
    let (market, producer, cart) = setup::<M>();
    panics_at(Trap::Eq, 1, || {
        market.add_to_cart_timeout(cart, &ask(2), Duration::from_millis(50))
    });
    still_works(&market, producer, cart);
    // Kind 7 was never published: the call waits for the catalog to grow.
    let (market, producer, cart) = setup::<M>();
    panics_with(Trap::Hash, || {
        market.add_to_cart_timeout(cart, &ask(7), Duration::from_millis(50))
    });
    still_works(&market, producer, cart);
}

fn remove_from_cart_survives_each_trap<M: Market>() {
    // In the product's lookup, before anything is claimed.
    for trap in [Trap::Hash, Trap::Eq] {
        let (market, producer, cart) = setup::<M>();
        panics_with(trap, || market.remove_from_cart(cart, &ask(2)));
        still_works(&market, producer, cart);
    }
    // In the claim, under the cart's lock (the lookup compares once): the cart must stay
    // usable.
    let (market, producer, cart) = setup::<M>();
    panics_at(Trap::Eq, 1, || market.remove_from_cart(cart, &ask(2)));
    still_works(&market, producer, cart);
}
