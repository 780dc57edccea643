//! `close` racing the registrations it must see.
//!
//! `close` stores its flag and then walks the producer registry and the catalog (both
//! append-only vectors, whose walk starts with a relaxed read of their length) to wake every
//! waiter. A producer registered, or a product first published, by the waiting thread just
//! before `close` may be missed by that walk; the `SeqCst` fence in `close`, paired with the
//! one a waiter makes after it registers, guarantees that the waiter then sees the flag
//! instead. Proves, for every interleaving (up to the preemption bound), that
//! - a publisher that registers its producer, fills it and waits for room, racing `close`,
//!   always returns `Full` with its product back;
//! - a consumer that publishes a new product, takes it, and waits for another one, racing
//!   `close`, always returns `Unavailable`;
//!
//! and that nothing is lost either way.

use std::time::Duration;

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;
use marketplace::{AddError, PublishError};

#[test]
fn close_races_a_new_producer_and_its_waiting_publisher() {
    check(
        "close::close_races_a_new_producer_and_its_waiting_publisher",
        || {
            let market = Arc::new(Market::new(1));
            let publisher = spawn_with(&market, move |market| {
                let producer = market.register_producer();
                market.publish(producer, "a").unwrap();
                market.publish_timeout(producer, "b", Duration::MAX)
            });
            market.close();
            assert_eq!(publisher.join().unwrap(), Err(PublishError::Full("b")));

            assert_same_items(drain(&market, &["a", "b"]), vec!["a"]);
            assert_empty(&market, 1);
        },
    );
}

#[test]
fn close_races_a_new_product_and_its_waiting_consumer() {
    check(
        "close::close_races_a_new_product_and_its_waiting_consumer",
        || {
            let market = Arc::new(Market::new(1));
            let producer = market.register_producer();
            let cart = market.new_cart();
            let consumer = spawn_with(&market, move |market| {
                market.publish(producer, "a").unwrap();
                market.add_to_cart(cart, &"a").unwrap();
                market.add_to_cart_timeout(cart, &"a", Duration::MAX)
            });
            market.close();
            assert_eq!(consumer.join().unwrap(), Err(AddError::Unavailable));

            assert_same_items(market.place_order(cart).unwrap(), vec!["a"]);
            assert_empty(&market, 1);
        },
    );
}
