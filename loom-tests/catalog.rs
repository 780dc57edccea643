//! The catalog of products: first publishes of one product racing each other.
//!
//! Proves, for every interleaving (up to the preemption bound), that two threads putting
//! the same new product on sale make one shelf for it: a consumer finds both items. (A
//! lookup racing the growth of the catalog's index has no model: loom explored a single
//! execution of one, branching nowhere once the racing publish grew the index, so it
//! would have proved nothing.)

use crate::common::{Market, assert_empty, assert_same_items, check, drain, spawn_with};
use loom::sync::Arc;

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
