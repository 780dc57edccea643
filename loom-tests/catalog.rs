//! The catalog of products: first publishes of one product racing each other, and lookups
//! racing the growth of the catalog's index.
//!
//! Proves, for every interleaving (up to the preemption bound), that
//! - two threads putting the same new product on sale make one shelf for it: a consumer
//!   finds both items;
//! - lookups racing the first publish of a fifth product, which replaces the catalog's
//!   index with a bigger one, find every product published before.

use std::sync::atomic::{AtomicBool as StdAtomicBool, Ordering as StdOrdering};

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};

#[test]
fn two_first_publishes_of_one_product_make_one_shelf() {
    check(
        "catalog::two_first_publishes_of_one_product_make_one_shelf",
        || {
            let market = Arc::new(Market::new(1));
            let (mine, theirs) = (market.register_producer(), market.register_producer());

            let other = spawn_with(&market, move |market| {
                market.publish(theirs, "tea").unwrap()
            });
            market.publish(mine, "tea").unwrap();
            other.join().unwrap();

            assert_eq!(market.available(&"tea"), 2, "the items are on two shelves");
            assert_same_items(drain(&market, &["tea"]), vec!["tea", "tea"]);
            assert_empty(&market, 2);
        },
    );
}

#[test]
fn lookups_racing_the_growth_of_the_index_find_every_product() {
    /// Set once an execution saw the fifth product from the looking thread: the model did
    /// explore lookups after the growth, not only before it.
    static SAW_THE_GROWN_INDEX: StdAtomicBool = StdAtomicBool::new(false);
    const EARLIER: [&str; 4] = ["a", "b", "c", "d"];
    check(
        "catalog::lookups_racing_the_growth_of_the_index_find_every_product",
        || {
            // The first index has 8 slots and is at most half full: 4 products fit, the
            // fifth one's first publish builds an index of 16.
            let market = Arc::new(Market::new(EARLIER.len()));
            let early = market.register_producer();
            for product in EARLIER {
                market.publish(early, product).unwrap();
            }
            let late = market.register_producer();
            // The growing thread's first step is a store the looking thread reads before it
            // looks. Loom 0.7 compares an access only with the last access to its location:
            // the grower's own lookup, made just before it grows, would hide this thread's
            // reads from the grower's stores, and loom would never run the growth first
            // (see docs/design.md, "What loom does not check").
            let started = Arc::new(AtomicBool::new(false));
            let grower = spawn_with(&market, {
                let started = Arc::clone(&started);
                move |market| {
                    started.store(true, Ordering::Relaxed);
                    market.publish(late, "e").unwrap();
                }
            });
            let _ = started.load(Ordering::Relaxed);
            for product in EARLIER {
                assert_eq!(market.available(&product), 1, "the lookup missed {product}");
            }
            if market.available(&"e") == 1 {
                SAW_THE_GROWN_INDEX.store(true, StdOrdering::Relaxed);
            }
            grower.join().unwrap();

            let mut all = EARLIER.to_vec();
            all.push("e");
            assert_same_items(drain(&market, &all), all.clone());
            assert_empty(&market, 2);
        },
    );
    assert!(
        SAW_THE_GROWN_INDEX.load(StdOrdering::Relaxed),
        "no execution looked up after the growth"
    );
}
