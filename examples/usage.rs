//! The marketplace as a library: two producer threads publish teas and coffees, three
//! consumer threads fill carts, give one item back, take another, and place their orders.
//!
//! ```text
//! cargo run --example usage
//! ```
//!
//! Everything blocks without spinning: a producer whose shelf is full waits in
//! `publish_timeout` until a consumer takes one of its items; a consumer waits in
//! `add_to_cart_timeout` until an item it wants is on sale. The run checks that every item
//! published was bought exactly once.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use marketplace::{Marketplace, RemoveError};

/// Longer than any wait this example can meet; reaching it would mean a bug.
const PATIENCE: Duration = Duration::from_secs(10);

fn main() {
    // Each producer may have at most 3 of its products on the shelf at once.
    let market = Arc::new(Marketplace::new(3));

    let producers: Vec<_> = [("tea", 6), ("coffee", 6)]
        .into_iter()
        .map(|(product, count)| {
            let market = Arc::clone(&market);
            thread::spawn(move || {
                let me = market.register_producer();
                for _ in 0..count {
                    market
                        .publish_timeout(me, product, PATIENCE)
                        .expect("a consumer takes our products in time");
                }
            })
        })
        .collect();

    let consumers: Vec<_> = (0..3)
        .map(|n| {
            let market = Arc::clone(&market);
            thread::spawn(move || {
                let cart = market.new_cart();
                for product in ["tea", "coffee", "tea", "coffee"] {
                    market
                        .add_to_cart_timeout(cart, &product, PATIENCE)
                        .expect("a producer publishes in time");
                }
                // Changed our mind about one tea: it goes back on sale, counted against the
                // producer that made it again, and the oldest tea on sale comes instead.
                market
                    .remove_from_cart(cart, &"tea")
                    .expect("the cart holds a tea");
                assert_eq!(
                    market.remove_from_cart(cart, &"cake"),
                    Err(RemoveError::NotInCart)
                );
                market
                    .add_to_cart_timeout(cart, &"tea", PATIENCE)
                    .expect("a tea is on sale");
                let bought = market.place_order(cart).expect("our cart is open");
                println!("consumer {n} bought {bought:?}");
                bought
            })
        })
        .collect();

    let mut bought: Vec<&str> = consumers
        .into_iter()
        .flat_map(|consumer| consumer.join().expect("consumer thread"))
        .collect();
    for producer in producers {
        producer.join().expect("producer thread");
    }

    bought.sort_unstable();
    let mut published = [["coffee"; 6], ["tea"; 6]].concat();
    published.sort_unstable();
    assert_eq!(bought, published, "every item bought exactly once");
    let stats = market.stats();
    assert_eq!((stats.items_on_shelves, stats.open_carts), (0, 0));
    println!("{stats}");
}
