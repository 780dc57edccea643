//! Id counters: concurrent `register_producer` and `new_cart`.
//!
//! Proves, for every interleaving (up to the preemption bound), that two threads registering
//! a producer and opening a cart at the same time get distinct producer ids and distinct cart
//! ids, that neither registration is lost from the copy-on-write registry (each producer
//! can publish to its own shelf, counted separately), and that both carts are open.

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;

#[test]
fn concurrent_registrations_and_carts_get_distinct_ids() {
    check(
        "ids::concurrent_registrations_and_carts_get_distinct_ids",
        || {
            let market = Arc::new(Market::new(1));
            let open = |market: &Market, product: &'static str| {
                let producer = market.register_producer();
                let cart = market.new_cart();
                market.publish(producer, product).unwrap();
                (producer, cart)
            };

            let other = spawn_with(&market, move |market| open(market, "theirs"));
            let (my_producer, my_cart) = open(&market, "mine");
            let (their_producer, their_cart) = other.join().unwrap();

            assert_ne!(my_producer, their_producer);
            assert_ne!(my_cart, their_cart);
            let mut indices = [my_producer.index(), their_producer.index()];
            indices.sort_unstable();
            assert_eq!(indices, [0, 1], "producer indices are dense, from 0");
            let mut serials = [my_cart.serial(), their_cart.serial()];
            serials.sort_unstable();
            assert_eq!(serials, [0, 1], "cart serials are dense, from 0");

            let stats = market.stats();
            assert_eq!((stats.producers, stats.open_carts), (2, 2));
            assert_eq!(market.shelf_len(my_producer), Some(1));
            assert_eq!(market.shelf_len(their_producer), Some(1));

            assert_eq!(market.place_order(my_cart), Ok(vec![]));
            assert_eq!(market.place_order(their_cart), Ok(vec![]));
            assert_same_items(drain(&market, &["mine", "theirs"]), vec!["mine", "theirs"]);
            assert_empty(&market, 2);
        },
    );
}
