//! Products whose `Clone` or `Hash` misbehave without panicking: the engine files and finds
//! them as the one-lock baseline does (its `HashMap` being the reference), so no item it
//! puts on sale is out of reach of every lookup. (Panics are `engine_panics.rs`'s.)

mod support;

use std::hash::Hash;

use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;
use support::{Fresh, YieldingBaseline};

/// A marketplace of [`Copied`] products, as every test takes it.
trait Market: support::Market<Copied> + Fresh {}

impl<M: support::Market<Copied> + Fresh> Market for M {}

support::tests_on!(
    Copied;
    engine: Marketplace,
    baseline: LockedMarketplace,
    yielding_baseline: YieldingBaseline;
    [products_whose_clone_differs_are_sold_under_the_clone]
);

/// A product whose clone is not equal to it: each clone counts one copy more, and the count
/// takes part in `Eq` and `Hash` (nothing in `Clone`'s contract forbids that).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Copied {
    copy: u32,
}

impl Clone for Copied {
    fn clone(&self) -> Self {
        Copied {
            copy: self.copy + 1,
        }
    }
}

/// A shelf is made for a product's first publish with a clone of it as its key, so a product
/// whose clone differs is filed under that clone, and sold to those who ask for the clone
/// (as a `HashMap` keyed by the clone finds it): every item published is bought, the
/// producer has its room back, and no item is left on a shelf nobody can reach.
fn products_whose_clone_differs_are_sold_under_the_clone<M: Market>() {
    const ITEMS: usize = 3;
    let market = M::create(ITEMS);
    let producer = market.register_producer();
    for round in 0..2 {
        for _ in 0..ITEMS {
            market.publish(producer, Copied { copy: 0 }).unwrap();
        }
        let cart = market.new_cart();
        for item in 0..ITEMS {
            assert_eq!(
                market.add_to_cart(cart, &Copied { copy: 1 }),
                Ok(()),
                "round {round}, item {item}: {}",
                market.stats()
            );
        }
        assert_eq!(market.place_order(cart).unwrap().len(), ITEMS);
        assert_eq!(market.shelf_len(producer), Some(0), "round {round}");
    }
}
