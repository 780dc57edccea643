//! Blocking waits are never left asleep: no lost wake-up.
//!
//! loom's `Condvar::wait_timeout` never times out, and every wait here is given
//! `Duration::MAX`, so a waiter that misses its notification sleeps forever and loom reports
//! the execution as a deadlock. Proves, for every interleaving (up to the preemption bound),
//! that
//! - a consumer blocked in `add_to_cart_timeout` is woken by a `publish` of its product, and
//!   by a `remove_from_cart` that puts its product back on sale;
//! - a producer blocked in `publish_timeout` on a full shelf is woken by a consumer taking
//!   one of its items;
//! - `close` wakes a blocked consumer (which reports `Unavailable`) and a blocked producer
//!   (which gets `Full` with its product back);
//! - the one-`Mutex` baseline waiting as the engine does (`LockedMarketplace::yielding`,
//!   which lets go of its lock to retry before it sleeps) is woken by a `publish` too, and
//!   by a take when it is the one publishing;
//!
//! and that each item ends up in exactly one place.

use std::time::Duration;

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;
use marketplace::baseline::LockedMarketplace;
use marketplace::{AddError, PublishError};

#[test]
fn consumer_woken_by_publish() {
    check("wakeup::consumer_woken_by_publish", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        let cart = market.new_cart();

        let consumer = spawn_with(&market, move |market| {
            market.add_to_cart_timeout(cart, &"a", Duration::MAX)
        });
        market.publish(producer, "a").unwrap();
        assert_eq!(consumer.join().unwrap(), Ok(()));

        assert_eq!(market.place_order(cart), Ok(vec!["a"]));
        assert_empty(&market, 1);
    });
}

#[test]
fn consumer_woken_by_return() {
    check("wakeup::consumer_woken_by_return", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();
        let (giver, waiter) = (market.new_cart(), market.new_cart());
        market.add_to_cart(giver, &"a").unwrap();

        let consumer = spawn_with(&market, move |market| {
            market.add_to_cart_timeout(waiter, &"a", Duration::MAX)
        });
        market.remove_from_cart(giver, &"a").unwrap();
        assert_eq!(consumer.join().unwrap(), Ok(()));

        assert_eq!(market.place_order(giver), Ok(vec![]));
        assert_eq!(market.place_order(waiter), Ok(vec!["a"]));
        assert_eq!(market.shelf_len(producer), Some(0));
        assert_empty(&market, 1);
    });
}

#[test]
fn publisher_woken_by_take() {
    check("wakeup::publisher_woken_by_take", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();
        let cart = market.new_cart();

        let publisher = spawn_with(&market, move |market| {
            market.publish_timeout(producer, "b", Duration::MAX)
        });
        market.add_to_cart(cart, &"a").unwrap();
        assert_eq!(publisher.join().unwrap(), Ok(()));

        assert_eq!(market.shelf_len(producer), Some(1));
        let mut came_out = market.place_order(cart).unwrap();
        came_out.extend(drain(&market, &["a", "b"]));
        assert_same_items(came_out, vec!["a", "b"]);
        assert_empty(&market, 1);
    });
}

#[test]
fn close_wakes_a_blocked_consumer() {
    check("wakeup::close_wakes_a_blocked_consumer", || {
        let market = Arc::new(Market::new(1));
        let _producer = market.register_producer();
        let cart = market.new_cart();

        let consumer = spawn_with(&market, move |market| {
            market.add_to_cart_timeout(cart, &"a", Duration::MAX)
        });
        market.close();
        assert_eq!(consumer.join().unwrap(), Err(AddError::Unavailable));

        assert!(market.is_closed());
        assert_eq!(market.place_order(cart), Ok(vec![]));
        assert_empty(&market, 1);
    });
}

#[test]
fn close_wakes_a_blocked_publisher() {
    check("wakeup::close_wakes_a_blocked_publisher", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();

        let publisher = spawn_with(&market, move |market| {
            market.publish_timeout(producer, "b", Duration::MAX)
        });
        market.close();
        assert_eq!(publisher.join().unwrap(), Err(PublishError::Full("b")));

        assert_eq!(market.shelf_len(producer), Some(1));
        assert_same_items(drain(&market, &["a", "b"]), vec!["a"]);
        assert_empty(&market, 1);
    });
}

#[test]
fn yielding_baseline_woken_by_publish() {
    check("wakeup::yielding_baseline_woken_by_publish", || {
        let market = Arc::new(LockedMarketplace::yielding(1));
        let producer = market.register_producer();
        let cart = market.new_cart();

        let consumer = spawn_with(&market, move |market| {
            market.add_to_cart_timeout(cart, &"a", Duration::MAX)
        });
        market.publish(producer, "a").unwrap();
        assert_eq!(consumer.join().unwrap(), Ok(()));
        assert_eq!(market.place_order(cart), Ok(vec!["a"]));
    });
}

#[test]
fn yielding_baseline_woken_by_take() {
    check("wakeup::yielding_baseline_woken_by_take", || {
        let market = Arc::new(LockedMarketplace::yielding(1));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();
        let cart = market.new_cart();

        let publisher = spawn_with(&market, move |market| {
            market.publish_timeout(producer, "b", Duration::MAX)
        });
        market.add_to_cart(cart, &"a").unwrap();
        assert_eq!(publisher.join().unwrap(), Ok(()));
        assert_eq!(market.place_order(cart), Ok(vec!["a"]));
        assert_eq!(market.shelf_len(producer), Some(1));
    });
}
