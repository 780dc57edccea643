//! `place_order` racing `remove_from_cart` (and `add_to_cart`) on the same cart.
//!
//! Proves, for every interleaving (up to the preemption bound), that
//! - an item being removed while its cart is ordered ends up either in the order (the remove
//!   then reports `UnknownCart`) or back on the shelf (the order does not contain it),
//!   exactly once, never both and never neither;
//! - an item being added while the cart is ordered likewise ends up either in the order or
//!   still on the shelf, exactly once, with its producer's capacity accounted for;
//! - the ordered cart's id is spent afterwards.

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;
use marketplace::{AddError, RemoveError};

#[test]
fn remove_races_place_order() {
    check("remove_vs_order::remove_races_place_order", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();
        let cart = market.new_cart();
        market.add_to_cart(cart, &"a").unwrap();

        let remover = spawn_with(&market, move |market| market.remove_from_cart(cart, &"a"));
        let ordered = market.place_order(cart).expect("the cart is open");
        let removed = remover.join().unwrap();

        match (&removed, ordered.as_slice()) {
            (Ok(()), []) => {
                assert_eq!(market.available(&"a"), 1);
                assert_eq!(market.shelf_len(producer), Some(1));
            }
            (Err(RemoveError::UnknownCart), ["a"]) => {
                assert_eq!(market.available(&"a"), 0);
                assert_eq!(market.shelf_len(producer), Some(0));
            }
            outcome => panic!("item not in exactly one place: {outcome:?}"),
        }
        assert_eq!(market.add_to_cart(cart, &"a"), Err(AddError::UnknownCart));
        assert_eq!(
            market.remove_from_cart(cart, &"a"),
            Err(RemoveError::UnknownCart)
        );

        let mut came_out = ordered;
        came_out.extend(drain(&market, &["a"]));
        assert_same_items(came_out, vec!["a"]);
        assert_empty(&market, 1);
    });
}

#[test]
fn add_races_place_order() {
    check("remove_vs_order::add_races_place_order", || {
        let market = Arc::new(Market::new(2));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();
        market.publish(producer, "b").unwrap();
        let cart = market.new_cart();
        market.add_to_cart(cart, &"a").unwrap();

        let adder = spawn_with(&market, move |market| market.add_to_cart(cart, &"b"));
        let ordered = market.place_order(cart).expect("the cart is open");
        let added = adder.join().unwrap();

        match (&added, ordered.as_slice()) {
            (Ok(()), ["a", "b"]) => assert_eq!(market.shelf_len(producer), Some(0)),
            (Err(AddError::UnknownCart), ["a"]) => {
                assert_eq!(market.available(&"b"), 1);
                assert_eq!(market.shelf_len(producer), Some(1));
            }
            outcome => panic!("item not in exactly one place: {outcome:?}"),
        }

        let mut came_out = ordered;
        came_out.extend(drain(&market, &["a", "b"]));
        assert_same_items(came_out, vec!["a", "b"]);
        assert_empty(&market, 1);
    });
}
