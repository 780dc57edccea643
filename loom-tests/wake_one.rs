//! Waking one waiter per event, without losing any: each arrival or unit of room wakes one
//! sleeper, so the protocol must never leave a sleeper behind when there is something for
//! it. Proves, for every interleaving (up to the preemption bound), that
//! - two consumers asleep for one product are both served by two publishes;
//! - a consumer that is woken but loses the item to a consumer that never slept goes back
//!   to sleep, and is served by the next publish;
//! - a publisher whose producer is over capacity (a returned item took it over) sleeps
//!   through the take that leaves it still full, and is woken by the one that frees room;
//! - a cart's slot, freed by an order on one thread, is reused by another, and the spent
//!   id is refused by the new cart;
//! - a consumer woken for an item after its cart was ordered passes the wake-up on to the
//!   other sleeper, which takes the item;
//!
//! and that every item ends up in exactly one place.

use std::time::Duration;

use crate::common::{
    Market, THREE_THREAD_PREEMPTIONS, assert_empty, assert_same_items, check, check_bounded, drain,
    spawn_with,
};
use loom::sync::Arc;
use marketplace::{AddError, OrderError};

#[test]
fn two_sleeping_consumers_are_both_served() {
    let name = "wake_one::two_sleeping_consumers_are_both_served";
    check_bounded(name, THREE_THREAD_PREEMPTIONS, || {
        let market = Arc::new(Market::new(2));
        let producer = market.register_producer();
        let carts = [market.new_cart(), market.new_cart()];
        let consumers = carts.map(|cart| {
            spawn_with(&market, move |market| {
                market.add_to_cart_timeout(cart, &"a", Duration::MAX)
            })
        });
        market.publish(producer, "a").unwrap();
        market.publish(producer, "a").unwrap();
        let mut came_out = Vec::new();
        for (consumer, cart) in consumers.into_iter().zip(carts) {
            assert_eq!(consumer.join().unwrap(), Ok(()));
            came_out.extend(market.place_order(cart).unwrap());
        }
        assert_same_items(came_out, vec!["a", "a"]);
        assert_empty(&market, 1);
    });
}

#[test]
fn a_woken_consumer_that_loses_the_item_sleeps_again() {
    check_bounded(
        "wake_one::a_woken_consumer_that_loses_the_item_sleeps_again",
        THREE_THREAD_PREEMPTIONS,
        || {
            let market = Arc::new(Market::new(2));
            let producer = market.register_producer();
            let (sleeping, thieving) = (market.new_cart(), market.new_cart());
            let sleeper = spawn_with(&market, move |market| {
                market.add_to_cart_timeout(sleeping, &"a", Duration::MAX)
            });
            let thief = spawn_with(&market, move |market| market.add_to_cart(thieving, &"a"));
            market.publish(producer, "a").unwrap();
            let took = thief.join().unwrap();
            let stolen = market.place_order(thieving).unwrap();
            if took.is_ok() {
                // The sleeper lost the first item: only a second one can wake it for good.
                market.publish(producer, "a").unwrap();
            } else {
                assert_eq!(took, Err(AddError::Unavailable));
            }
            assert_eq!(sleeper.join().unwrap(), Ok(()));
            let mut came_out = market.place_order(sleeping).unwrap();
            came_out.extend(stolen);
            let published = if took.is_ok() { 2 } else { 1 };
            assert_same_items(came_out, vec!["a"; published]);
            assert_empty(&market, 1);
        },
    );
}

#[test]
fn a_publisher_over_capacity_is_woken_only_when_room_is_free() {
    check(
        "wake_one::a_publisher_over_capacity_is_woken_only_when_room_is_free",
        || {
            let market = Arc::new(Market::new(1));
            let producer = market.register_producer();
            let cart = market.new_cart();
            market.publish(producer, "a").unwrap();
            market.add_to_cart(cart, &"a").unwrap();
            market.publish(producer, "b").unwrap();
            // The return takes the producer over capacity: two on sale, capacity one.
            market.remove_from_cart(cart, &"a").unwrap();

            let publisher = spawn_with(&market, move |market| {
                market.publish_timeout(producer, "c", Duration::MAX)
            });
            // The first take leaves it at capacity (a publisher woken now must sleep
            // again); the second frees room.
            market.add_to_cart(cart, &"a").unwrap();
            market.add_to_cart(cart, &"b").unwrap();
            assert_eq!(publisher.join().unwrap(), Ok(()));

            assert_eq!(market.shelf_len(producer), Some(1));
            let mut came_out = market.place_order(cart).unwrap();
            came_out.extend(drain(&market, &["a", "b", "c"]));
            assert_same_items(came_out, vec!["a", "b", "c"]);
            assert_empty(&market, 1);
        },
    );
}

#[test]
fn a_freed_cart_slot_is_reused_across_threads_and_the_spent_id_refused() {
    check(
        "wake_one::a_freed_cart_slot_is_reused_across_threads_and_the_spent_id_refused",
        || {
            let market = Arc::new(Market::new(2));
            let producer = market.register_producer();
            market.publish(producer, "a").unwrap();
            market.publish(producer, "b").unwrap();
            let spent = market.new_cart();
            market.add_to_cart(spent, &"a").unwrap();
            // This thread keeps the slot of the cart it orders first as its spare, so the
            // spent cart's slot goes on the shared free list, where the other thread's open
            // can take it (with no spare held, it would stay with this thread, and the two
            // threads would never share a slot).
            let kept = market.new_cart();
            assert_eq!(market.place_order(kept), Ok(vec![]));

            let reuser = spawn_with(&market, move |market| {
                let cart = market.new_cart();
                market.add_to_cart(cart, &"b").unwrap();
                market.place_order(cart).unwrap()
            });
            let mut came_out = market.place_order(spent).unwrap();
            assert_eq!(market.place_order(spent), Err(OrderError::UnknownCart));
            assert_eq!(market.add_to_cart(spent, &"b"), Err(AddError::UnknownCart));
            came_out.extend(reuser.join().unwrap());
            assert_eq!(market.place_order(spent), Err(OrderError::UnknownCart));
            assert_same_items(came_out, vec!["a", "b"]);
            assert_empty(&market, 1);
        },
    );
}

/// A consumer woken for an item whose cart was ordered while it slept leaves without the
/// item; it must pass the wake-up on (`pass_on` in `src/market/buy.rs`), or the other
/// sleeper, the only one that can use the item, sleeps for ever. The product's entry exists
/// beforehand, so both sleep on its shelf (one wake-up each), not on the catalog (which
/// wakes everyone). Without the pass-on, the served consumer sleeps through the one item
/// it can take, and the model deadlocks.
#[test]
fn a_waiter_whose_cart_was_ordered_passes_its_wake_up_on() {
    check_bounded(
        "wake_one::a_waiter_whose_cart_was_ordered_passes_its_wake_up_on",
        THREE_THREAD_PREEMPTIONS,
        || {
            let market = Arc::new(Market::new(1));
            let producer = market.register_producer();
            let _shelf = market.product(&"a");
            let (ordered, served) = (market.new_cart(), market.new_cart());
            let consumers = [ordered, served].map(|cart| {
                spawn_with(&market, move |market| {
                    market.add_to_cart_timeout(cart, &"a", Duration::MAX)
                })
            });
            assert_eq!(market.place_order(ordered), Ok(vec![]));
            market.publish(producer, "a").unwrap();
            let [ordered_consumer, served_consumer] = consumers;
            assert_eq!(served_consumer.join().unwrap(), Ok(()));
            // The ordered consumer may still be asleep, if the first item never woke it (an
            // order wakes no one): a second item does, and it leaves that one on sale.
            market.publish(producer, "a").unwrap();
            assert_eq!(ordered_consumer.join().unwrap(), Err(AddError::UnknownCart));
            let mut came_out = market.place_order(served).unwrap();
            came_out.extend(drain(&market, &["a"]));
            assert_same_items(came_out, vec!["a", "a"]);
            assert_empty(&market, 1);
        },
    );
}
