//! Two consumers racing for the last item on sale.
//!
//! Proves, for every interleaving (up to the preemption bound), that exactly one of them gets
//! it (the other sees `Unavailable`), that the item is in exactly one order afterwards, and
//! that taking it released its producer's capacity exactly once (the producer can publish
//! again, up to its capacity and no further).

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;
use marketplace::{AddError, PublishError};

#[test]
fn two_consumers_race_for_the_last_item() {
    check("last_item::two_consumers_race_for_the_last_item", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        market.publish(producer, "tea").unwrap();
        let (mine, theirs) = (market.new_cart(), market.new_cart());

        let other = spawn_with(&market, move |market| market.add_to_cart(theirs, &"tea"));
        let me = market.add_to_cart(mine, &"tea");
        let other = other.join().unwrap();

        match (me, other) {
            (Ok(()), Err(AddError::Unavailable)) | (Err(AddError::Unavailable), Ok(())) => {}
            outcome => panic!("not exactly one taker: {outcome:?}"),
        }
        assert_eq!(market.available(&"tea"), 0);
        assert_eq!(
            market.shelf_len(producer),
            Some(0),
            "unit not released once"
        );
        // Capacity is back, exactly one slot of it.
        market.publish(producer, "coffee").unwrap();
        assert_eq!(
            market.publish(producer, "cake"),
            Err(PublishError::Full("cake"))
        );

        let mut came_out = market.place_order(mine).unwrap();
        came_out.extend(market.place_order(theirs).unwrap());
        came_out.extend(drain(&market, &["tea", "coffee"]));
        assert_same_items(came_out, vec!["tea", "coffee"]);
        assert_empty(&market, 1);
    });
}
