//! Claim-and-return: `remove_from_cart` racing `add_to_cart` and `publish` while the
//! returned item's producer is full, and two removers racing for one item.
//!
//! Setting of the first two models: capacity 1; item "a" is in a cart and its producer has
//! since published "b", so it is full when "a" comes back. Proves, for every interleaving
//! (up to the preemption bound), that
//! - the return always succeeds, and the returned item is never lost or duplicated, whether a
//!   consumer takes it the moment it is back on sale or takes the producer's other item
//!   while the return is recording its unit;
//! - the producer is over capacity only by the returned item (never more than capacity + 1
//!   on sale), and a publish succeeds only where some sequential order of the same
//!   operations would let it (with "b" never taken, never);
//! - of two removers claiming the same single item, exactly one gets it (the other sees
//!   `NotInCart`), and it is back on sale exactly once;
//!
//! and in every case, that draining afterwards yields every item exactly once.

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;
use marketplace::{AddError, CartId, ProducerId, PublishError, RemoveError};

const CAPACITY: usize = 1;

/// Capacity 1: "a" sits in a cart, "b" on the shelf, so the producer is full.
fn full_producer_with_item_in_cart() -> (Arc<Market>, ProducerId, CartId) {
    let market = Arc::new(Market::new(CAPACITY));
    let producer = market.register_producer();
    market.publish(producer, "a").unwrap();
    let cart = market.new_cart();
    market.add_to_cart(cart, &"a").unwrap();
    market.publish(producer, "b").unwrap();
    assert_eq!(market.shelf_len(producer), Some(CAPACITY));
    (market, producer, cart)
}

#[test]
fn returned_item_races_a_taker_and_a_publisher() {
    check(
        "claim_and_return::returned_item_races_a_taker_and_a_publisher",
        || {
            let (market, producer, cart) = full_producer_with_item_in_cart();
            let taker_cart = market.new_cart();

            let remover = spawn_with(&market, move |market| market.remove_from_cart(cart, &"a"));
            let taker = spawn_with(&market, move |market| market.add_to_cart(taker_cart, &"a"));
            // "b" stays on the shelf throughout, so in every sequential order this is full.
            assert_eq!(
                market.publish(producer, "c"),
                Err(PublishError::Full("c")),
                "published past capacity"
            );
            assert_eq!(remover.join().unwrap(), Ok(()), "the return must succeed");
            let took = taker.join().unwrap();

            let on_sale = market.shelf_len(producer).unwrap();
            assert!(
                on_sale <= CAPACITY + 1,
                "over capacity by more than the return"
            );
            match took {
                Ok(()) => assert_eq!(on_sale, 1, "only \"b\" is left"),
                Err(AddError::Unavailable) => assert_eq!(on_sale, 2, "\"a\" and \"b\""),
                Err(error) => panic!("unexpected {error:?}"),
            }
            assert_eq!(market.place_order(cart), Ok(vec![]));
            let mut came_out = market.place_order(taker_cart).unwrap();
            came_out.extend(drain(&market, &["a", "b", "c"]));
            assert_same_items(came_out, vec!["a", "b"]);
            assert_empty(&market, 1);
        },
    );
}

#[test]
fn return_races_a_release_and_a_publisher() {
    check(
        "claim_and_return::return_races_a_release_and_a_publisher",
        || {
            let (market, producer, cart) = full_producer_with_item_in_cart();
            let taker_cart = market.new_cart();

            let remover = spawn_with(&market, move |market| market.remove_from_cart(cart, &"a"));
            let taker = spawn_with(&market, move |market| market.add_to_cart(taker_cart, &"b"));
            // Full or not depends on whether "b" left before; either is a sequential outcome.
            let published = market.publish(producer, "c");
            assert_eq!(remover.join().unwrap(), Ok(()), "the return must succeed");
            assert_eq!(taker.join().unwrap(), Ok(()), "\"b\" was on sale");

            let mut went_in = vec!["a", "b"];
            let expected_on_sale = match published {
                Ok(()) => {
                    went_in.push("c");
                    2
                }
                Err(refused) => {
                    assert_eq!(refused, PublishError::Full("c"));
                    1
                }
            };
            let on_sale = market.shelf_len(producer).unwrap();
            assert!(
                on_sale <= CAPACITY + 1,
                "over capacity by more than the return"
            );
            assert_eq!(on_sale, expected_on_sale, "units out of step with items");
            assert_eq!(market.stats().items_on_shelves, expected_on_sale);

            assert_eq!(market.place_order(cart), Ok(vec![]));
            let mut came_out = market.place_order(taker_cart).unwrap();
            came_out.extend(drain(&market, &["a", "b", "c"]));
            assert_same_items(came_out, went_in);
            assert_empty(&market, 1);
            // All units released: the producer is back to its full capacity.
            market.publish(producer, "d").unwrap();
            assert_eq!(market.shelf_len(producer), Some(1));
        },
    );
}

#[test]
fn two_removers_claim_one_item() {
    check("claim_and_return::two_removers_claim_one_item", || {
        let market = Arc::new(Market::new(CAPACITY));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();
        let cart = market.new_cart();
        market.add_to_cart(cart, &"a").unwrap();

        let other = spawn_with(&market, move |market| market.remove_from_cart(cart, &"a"));
        let me = market.remove_from_cart(cart, &"a");
        let other = other.join().unwrap();

        match (me, other) {
            (Ok(()), Err(RemoveError::NotInCart)) | (Err(RemoveError::NotInCart), Ok(())) => {}
            outcome => panic!("not exactly one claim: {outcome:?}"),
        }
        assert_eq!(market.available(&"a"), 1);
        assert_eq!(market.shelf_len(producer), Some(1));
        assert_eq!(market.place_order(cart), Ok(vec![]));
        assert_same_items(drain(&market, &["a"]), vec!["a"]);
        assert_empty(&market, 1);
    });
}
