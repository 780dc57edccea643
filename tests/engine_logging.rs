//! Which calls leave a debug record: each call that acts on the marketplace (registers,
//! opens, publishes, adds, removes, orders, resolves a product or closes) leaves exactly
//! one, naming the call; the snapshots (`stats`, `available`, `shelf_len`, `is_closed`,
//! `queue_size_per_producer`, and a handle's `available` and `product`) leave none, as they
//! change nothing and a report may take them in a loop. Alone in its binary: the logger it
//! installs stays installed for the whole process.

use std::time::Duration;

use marketplace::Marketplace;
use support::Recording;

mod support;

static RECORDS: Recording = Recording::new();

/// The records written since the last call.
fn records() -> Vec<String> {
    RECORDS.take()
}

/// Runs `call` and returns the one record it left, which must name `name`.
fn one_record<R>(name: &str, call: impl FnOnce() -> R) -> R {
    records();
    let outcome = call();
    let left = records();
    assert_eq!(left.len(), 1, "{name} left {left:?}");
    assert!(
        left[0].starts_with(&format!("{name}(")),
        "{name} left {left:?}"
    );
    outcome
}

#[test]
fn each_call_that_acts_leaves_one_record_and_a_snapshot_none() {
    RECORDS.install();
    let market = Marketplace::new(1);
    let producer = one_record("register_producer", || market.register_producer());
    let cart = one_record("new_cart", || market.new_cart());
    let tea = one_record("product", || market.product(&"tea"));
    one_record("publish", || market.publish(producer, "tea")).unwrap();
    one_record("add_to_cart", || market.add_to_cart(cart, &"tea")).unwrap();
    one_record("remove_from_cart", || market.remove_from_cart(cart, &"tea")).unwrap();
    one_record("add_to_cart_timeout", || {
        market.add_to_cart_timeout(cart, &"tea", Duration::ZERO)
    })
    .unwrap();
    one_record("publish_timeout", || {
        market.publish_timeout(producer, "tea", Duration::ZERO)
    })
    .unwrap();
    one_record("publish", || tea.publish(producer)).unwrap_err();
    one_record("add_to_cart", || tea.add_to_cart(cart)).unwrap();

    records();
    let snapshots = (
        market.stats(),
        market.available(&"tea"),
        market.shelf_len(producer),
        market.is_closed(),
        market.queue_size_per_producer(),
        tea.available(),
        tea.product(),
    );
    assert_eq!(records(), Vec::<String>::new(), "{snapshots:?}");

    let order = one_record("place_order", || market.place_order(cart));
    assert_eq!(order, Ok(vec!["tea", "tea"]));
    one_record("close", || market.close());
}
