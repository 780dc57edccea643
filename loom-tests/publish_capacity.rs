//! Publishing at the capacity edge.
//!
//! Proves, for every interleaving (up to the preemption bound), that
//! - two publishers of one producer racing for its last free slot: exactly one wins, the
//!   loser gets `Full` with its own product back, and the producer ends exactly at capacity;
//! - a publisher racing a consumer who takes the producer's only item from a full shelf:
//!   the publish may succeed only once that item has left the shelf, so the producer's
//!   visible items never exceed capacity, even for a moment;
//! - a unit of room that one publisher saw freed and another used: a thread that sees the
//!   second publish sees the take that freed the room too, so the producer's count never
//!   reads above capacity;
//! - a publish on room a finished take freed, seen by a thread that reads only the
//!   shelves: that thread sees the taken item gone too;
//! - a count read while one item is published and taken: a reader that sees the take sees
//!   the publish too, so the count never reads below zero (which would wrap to a huge
//!   number);
//! - a count read while a publisher uses the room a finished take freed: a reader that sees
//!   that publish sees the take too, so the count never reads above capacity;
//! - a count read that settles for its lower bound (a publish landed within the read) while
//!   more items are published and taken: the bound never wraps below zero;
//! - a check for room that reads the takes while another publisher publishes and takes an
//!   item is not refused below capacity;
//!
//! and in each, that draining afterwards yields every published item exactly once.

use std::time::Duration;

use crate::common::{
    Market, THREE_THREAD_PREEMPTIONS, assert_empty, assert_same_items, check, check_bounded, drain,
    spawn_with,
};
use loom::sync::Arc;
use loom::thread::JoinHandle;
use marketplace::{AddError, CartId, ProducerId, PublishError};

#[test]
fn two_publishers_race_for_the_last_slot() {
    check(
        "publish_capacity::two_publishers_race_for_the_last_slot",
        || {
            let market = Arc::new(Market::new(2));
            let producer = market.register_producer();
            market.publish(producer, "first").unwrap();

            let left = spawn_with(&market, move |market| market.publish(producer, "left"));
            let right = market.publish(producer, "right");
            let left = left.join().unwrap();

            let winner = match (left, right) {
                (Ok(()), Err(PublishError::Full("right"))) => "left",
                (Err(PublishError::Full("left")), Ok(())) => "right",
                outcome => panic!("not exactly one winner: {outcome:?}"),
            };
            assert_eq!(market.shelf_len(producer), Some(2), "capacity is 2");
            assert_eq!(market.stats().items_on_shelves, 2);

            let drained = drain(&market, &["first", "left", "right"]);
            assert_same_items(drained, vec!["first", winner]);
            assert_eq!(market.shelf_len(producer), Some(0));
            assert_empty(&market, 1);
        },
    );
}

#[test]
fn publish_races_a_take_from_a_full_producer() {
    check(
        "publish_capacity::publish_races_a_take_from_a_full_producer",
        || {
            let (market, producer, cart, consumer) = full_producer_and_a_taker();
            let published = market.publish(producer, "new");
            if published.is_ok() {
                // The slot was free, so "old" had already left the shelf for good.
                let visible = market.available(&"old") + market.available(&"new");
                assert!(
                    visible <= 1,
                    "{visible} items of a producer of capacity 1 on sale"
                );
            }
            assert_eq!(consumer.join().unwrap(), Ok(()), "the item was on sale");

            let mut went_in = vec!["old"];
            match published {
                Ok(()) => went_in.push("new"),
                Err(refused) => assert_eq!(refused, PublishError::Full("new")),
            }
            assert!(
                market.shelf_len(producer).unwrap() <= 1,
                "capacity exceeded"
            );
            let mut came_out = market.place_order(cart).unwrap();
            came_out.extend(drain(&market, &["old", "new"]));
            assert_same_items(came_out, went_in);
            assert_empty(&market, 1);
        },
    );
}

/// A thread that looks only at the shelves (no count, no fence of its own) and finds the
/// publish on freed room must find the taken item gone: the publish happens after the take's
/// pop only through the full publisher's `Acquire` read of `uncounted`, since nothing else
/// orders the publisher between that read and its push. The new product has its entry
/// beforehand, so the publish inserts nothing (an insert's fence would order it after the
/// take on its own).
#[test]
fn a_shelf_read_beside_a_publish_on_freed_room_sees_the_take() {
    let name = "publish_capacity::a_shelf_read_beside_a_publish_on_freed_room_sees_the_take";
    check_bounded(name, THREE_THREAD_PREEMPTIONS, || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        market.publish(producer, "old").unwrap();
        let _ = market.product(&"new");
        let cart = market.new_cart();
        let consumer = spawn_with(&market, move |market| market.add_to_cart(cart, &"old"));
        let reader = spawn_with(&market, |market| {
            (market.available(&"new"), market.available(&"old"))
        });
        let published = market.publish(producer, "new");
        let (new, old) = reader.join().unwrap();
        assert!(
            new + old <= 1,
            "{new} new and {old} old items of a producer of capacity 1 on sale"
        );

        assert_eq!(consumer.join().unwrap(), Ok(()), "the item was on sale");
        let mut went_in = vec!["old"];
        match published {
            Ok(()) => went_in.push("new"),
            Err(refused) => assert_eq!(refused, PublishError::Full("new")),
        }
        let mut came_out = market.place_order(cart).unwrap();
        came_out.extend(drain(&market, &["new"]));
        assert_same_items(came_out, went_in);
        assert_empty(&market, 1);
    });
}

/// The relay below needs three preemptions (the consumer's take, the first publisher stopped
/// between recording the freed room and counting on it, the second publishing on that
/// record, the reader): with four threads a bound of 3 takes a few seconds, 4 about fifteen.
const RELAY_PREEMPTIONS: usize = 3;

/// The read stopped after its first look at the count, the publisher stopped after its
/// first publish, and the read stopped again before its last look: three preemptions.
const SETTLING_PREEMPTIONS: usize = 3;

#[test]
fn room_seen_by_one_publisher_and_used_by_another_is_counted_once() {
    let name = "publish_capacity::room_seen_by_one_publisher_and_used_by_another_is_counted_once";
    check_bounded(name, RELAY_PREEMPTIONS, || {
        let (market, producer, cart, consumer) = full_producer_and_a_taker();
        // Either publisher may find the room the take freed and record it for the other,
        // which may then publish on that record alone.
        let publishers = ["left", "right"].map(|product| {
            spawn_with(&market, move |market| {
                market.publish(producer, product).is_ok().then_some(product)
            })
        });
        let counted = market.shelf_len(producer).unwrap();
        assert!(
            counted <= 1,
            "{counted} items counted for a producer of capacity 1"
        );

        assert_eq!(consumer.join().unwrap(), Ok(()), "the item was on sale");
        let mut went_in = vec!["old"];
        went_in.extend(
            publishers
                .map(|publisher| publisher.join().unwrap())
                .into_iter()
                .flatten(),
        );
        assert!(went_in.len() <= 2, "both publishers used one unit of room");
        let mut came_out = market.place_order(cart).unwrap();
        came_out.extend(drain(&market, &["left", "right"]));
        assert_same_items(came_out, went_in);
        assert_empty(&market, 1);
    });
}

#[test]
fn a_count_read_while_an_item_is_published_and_taken_stays_in_range() {
    let name = "publish_capacity::a_count_read_while_an_item_is_published_and_taken_stays_in_range";
    check_bounded(name, THREE_THREAD_PREEMPTIONS, || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        let cart = market.new_cart();
        let publisher = spawn_with(&market, move |market| market.publish(producer, "a"));
        let consumer = spawn_with(&market, move |market| {
            market.add_to_cart_timeout(cart, &"a", Duration::MAX)
        });
        let counted = market.shelf_len(producer).unwrap();
        assert!(
            counted <= 1,
            "{counted} items counted for a producer of capacity 1"
        );

        assert_eq!(publisher.join().unwrap(), Ok(()), "the producer was empty");
        assert_eq!(consumer.join().unwrap(), Ok(()), "the item was published");
        assert_same_items(market.place_order(cart).unwrap(), vec!["a"]);
        assert_empty(&market, 1);
    });
}

#[test]
fn a_count_read_beside_a_publish_on_freed_room_sees_the_take() {
    let name = "publish_capacity::a_count_read_beside_a_publish_on_freed_room_sees_the_take";
    check_bounded(name, THREE_THREAD_PREEMPTIONS, || {
        let (market, producer, cart, consumer) = full_producer_and_a_taker();
        let reader = spawn_with(&market, move |market| market.shelf_len(producer).unwrap());
        assert_eq!(consumer.join().unwrap(), Ok(()), "the item was on sale");
        // The take is done, so this publish finds its room.
        assert_eq!(market.publish(producer, "new"), Ok(()));
        let counted = reader.join().unwrap();
        assert!(
            counted <= 1,
            "{counted} items counted for a producer of capacity 1"
        );

        assert_same_items(market.place_order(cart).unwrap(), vec!["old"]);
        assert_same_items(drain(&market, &["new"]), vec!["new"]);
        assert_empty(&market, 1);
    });
}

/// A read that sees a publish land within it settles for a lower bound (at once in the
/// models, which try only once); publishes and takes landing after it must not wrap that
/// bound below zero.
#[test]
fn a_count_settled_for_its_lower_bound_stays_in_range() {
    let name = "publish_capacity::a_count_settled_for_its_lower_bound_stays_in_range";
    check_bounded(name, SETTLING_PREEMPTIONS, || {
        let market = Arc::new(Market::new(2));
        let producer = market.register_producer();
        let cart = market.new_cart();
        let publisher = spawn_with(&market, move |market| {
            market.publish(producer, "a").unwrap();
            market.publish(producer, "b").unwrap();
        });
        let consumer = spawn_with(&market, move |market| {
            ["a", "b"]
                .into_iter()
                .filter(|product| market.add_to_cart(cart, product).is_ok())
                .collect::<Vec<_>>()
        });
        let counted = market.shelf_len(producer).unwrap();
        assert!(
            counted <= 2,
            "{counted} items counted for a producer of capacity 2"
        );

        publisher.join().unwrap();
        let taken = consumer.join().unwrap();
        assert_same_items(market.place_order(cart).unwrap(), taken.clone());
        let left: Vec<_> = ["a", "b"]
            .into_iter()
            .filter(|product| !taken.contains(product))
            .collect();
        assert_same_items(drain(&market, &["a", "b"]), left);
        assert_empty(&market, 1);
    });
}

/// A producer of capacity 1 whose one item, "old", is on sale, and a consumer thread taking
/// it into `cart`.
fn full_producer_and_a_taker() -> (
    Arc<Market>,
    ProducerId,
    CartId,
    JoinHandle<Result<(), AddError>>,
) {
    let market = Arc::new(Market::new(1));
    let producer = market.register_producer();
    market.publish(producer, "old").unwrap();
    let cart = market.new_cart();
    let consumer = spawn_with(&market, move |market| market.add_to_cart(cart, &"old"));
    (market, producer, cart, consumer)
}

/// A publisher whose check for room reads `uncounted` (its record of takes being stale)
/// while another publisher of the same producer publishes and takes back an item: with
/// capacity 2 and at most two items ever on sale, neither may be refused. The first
/// publisher's read of `uncounted` may include the take of an item counted after its own
/// read of `counted`; only the re-read of `counted` (`Producer::try_count`) stops it from
/// taking that difference, below zero and so wrapped to a huge number, for a full shelf.
#[test]
fn a_check_for_room_racing_a_publish_and_take_is_not_refused() {
    check(
        "publish_capacity::a_check_for_room_racing_a_publish_and_take_is_not_refused",
        || {
            let market = Arc::new(Market::new(2));
            let producer = market.register_producer();
            // Two published and taken: on sale 0, but the publishers' record of takes is
            // still 0, so the next check for room reads `uncounted` itself.
            let cart = market.new_cart();
            for product in ["old", "old"] {
                market.publish(producer, product).unwrap();
                market.add_to_cart(cart, &product).unwrap();
            }
            let other = spawn_with(&market, move |market| {
                let cart = market.new_cart();
                market.publish(producer, "other").unwrap();
                market.add_to_cart(cart, &"other").unwrap();
                market.place_order(cart).unwrap()
            });
            assert_eq!(
                market.publish(producer, "mine"),
                Ok(()),
                "refused with room"
            );
            let mut came_out = other.join().unwrap();
            came_out.extend(market.place_order(cart).unwrap());
            came_out.extend(drain(&market, &["mine"]));
            assert_same_items(came_out, vec!["old", "old", "other", "mine"]);
            assert_empty(&market, 1);
        },
    );
}
