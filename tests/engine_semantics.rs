//! Deterministic tests of every rule in the marketplace contract (docs/design.md), run on
//! the lock-free engine, on the single-`Mutex` reference model and on a Redis market alike.
//!
//! Each rule is written once, as a function generic over [`Market`] (the contract's trait,
//! `marketplace_contract::Market`, which the scenario runner's Redis runs use too, with a
//! fresh marketplace of each kind from the test support); `tests_on!` (in the test support)
//! turns every such function into one `#[test]` per implementation (`engine::…`,
//! `baseline::…`, `yielding_baseline::…` and `redis::…`). Tests that involve other threads
//! use channels, barriers and joins to order events, never sleeps; where a blocked thread
//! may or may not have gone to sleep yet, both interleavings must give the asserted result.

mod support;

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use marketplace::baseline::LockedMarketplace;
use marketplace::{
    AddError, Marketplace, OrderError, PublishError, RemoveError, Stats, ZeroCapacityError,
};
use marketplace_redis::RedisMarketplace;
use support::{Id, YieldingBaseline, any, item, stats};

/// The product of every rule: equal by kind, told apart by serial.
type Product = support::Tagged;

/// A marketplace of [`Product`]s, as every rule takes it.
trait Market: support::Market<Product> + support::Fresh {}

impl<M: support::Market<Product> + support::Fresh> Market for M {}

/// What an order or a refusal really contained: kinds and serials.
fn tags(products: &[Product]) -> Vec<(&'static str, u64)> {
    products.iter().map(|p| (p.kind, p.serial)).collect()
}

fn sorted_serials(products: &[Product]) -> Vec<u64> {
    let mut serials: Vec<u64> = products.iter().map(|p| p.serial).collect();
    serials.sort_unstable();
    serials
}

/// A timeout no passing test ever waits out: reaching it means a wake-up was lost.
const LONG: Duration = Duration::from_secs(60);

/// "Returned at once" for a call given [`LONG`]: far below it, far above any scheduling delay.
fn assert_prompt(started: Instant, what: &str) {
    let took = started.elapsed();
    assert!(
        took < LONG / 4,
        "{what} took {took:?}: it waited instead of returning"
    );
}

// One `#[test]` per rule and implementation: `engine::rule`, `baseline::rule`,
// `yielding_baseline::rule` and `redis::rule` (a fresh market on a `redis-server` this test
// process starts on a loopback port and stops when it exits).
support::tests_on!(
    Product;
    engine: Marketplace,
    baseline: LockedMarketplace,
    yielding_baseline: YieldingBaseline,
    redis: RedisMarketplace;
    [
        publish_succeeds_below_capacity_and_hands_back_the_product_at_capacity,
        ids_from_another_marketplace_are_unknown_producers,
        ids_count_up_from_zero_and_display_their_number,
        taking_an_item_frees_its_producers_capacity_at_once,
        unavailable_and_unknown_cart_are_distinct,
        remove_returns_the_item_to_its_producer_and_to_sale,
        remove_returns_each_item_to_the_producer_that_made_it,
        remove_into_a_full_producer_goes_over_capacity_until_consumers_take_enough,
        remove_of_something_never_added_is_not_in_cart,
        remove_takes_one_equal_item_and_keeps_the_others_in_order,
        place_order_returns_items_in_add_order_and_spends_the_cart,
        a_spent_cart_id_stays_spent_when_a_new_cart_takes_its_place,
        equal_products_from_different_producers_are_interchangeable_oldest_first,
        foreign_cart_ids_are_unknown_carts,
        stats_count_producers_carts_and_items,
        close_wakes_blocked_waiters_and_timeouts_return_at_once,
        add_to_cart_timeout_succeeds_when_a_producer_publishes,
        add_to_cart_timeout_succeeds_when_another_cart_returns_an_item,
        publish_timeout_succeeds_when_a_consumer_takes,
        timeouts_expire_with_the_retryable_error,
        waiting_for_a_cart_that_gets_ordered_takes_nothing,
        #[should_panic]
        zero_capacity_panics,
    ]
);

fn publish_succeeds_below_capacity_and_hands_back_the_product_at_capacity<M: Market>() {
    let market = M::create(3);
    let producer = market.register_producer();
    let other = market.register_producer();
    for serial in 1..=3 {
        assert_eq!(market.publish(producer, item("tea", serial)), Ok(()));
        assert_eq!(market.shelf_len(producer), Some(serial as usize));
    }
    let refused = market.publish(producer, item("coffee", 4)).unwrap_err();
    assert!(refused.is_full(), "{refused:?}");
    assert!(matches!(refused, PublishError::Full(_)));
    assert_eq!(tags(&[refused.into_product()]), [("coffee", 4)]);
    // The refusal changed nothing, and refusing again is as stable.
    assert_eq!(market.shelf_len(producer), Some(3));
    assert_eq!(market.available(&any("tea")), 3);
    assert_eq!(market.available(&any("coffee")), 0);
    assert!(
        market
            .publish(producer, item("tea", 5))
            .unwrap_err()
            .is_full()
    );
    // Capacity is per producer.
    assert_eq!(market.publish(other, item("coffee", 6)), Ok(()));
    assert_eq!(market.shelf_len(other), Some(1));
    assert_eq!(market.stats().items_on_shelves, 4);
}

fn ids_from_another_marketplace_are_unknown_producers<M: Market>() {
    // Foreign ids from both implementations, with indices both valid here (0) and never
    // issued here (1, 2: this marketplace has one producer). Ids have no public constructor,
    // so a never-issued id can only come from elsewhere.
    let first = M::create(2);
    let second = M::create(2);
    let mut foreign: Vec<M::Producer> = (0..3).map(|_| first.register_producer()).collect();
    foreign.extend((0..3).map(|_| second.register_producer()));

    let empty = M::create(2);
    for &id in &foreign {
        let refused = empty.publish(id, item("tea", 1)).unwrap_err();
        assert!(matches!(refused, PublishError::UnknownProducer(_)));
    }

    let market = M::create(2);
    let local = market.register_producer();
    let before = market.stats();
    for (serial, &id) in (10..).zip(&foreign) {
        assert_ne!(id, local);
        let refused = market.publish(id, item("tea", serial)).unwrap_err();
        assert!(!refused.is_full());
        assert!(matches!(refused, PublishError::UnknownProducer(_)));
        assert_eq!(tags(&[refused.into_product()]), [("tea", serial)]);

        let started = Instant::now();
        let refused = market
            .publish_timeout(id, item("cake", serial), LONG)
            .unwrap_err();
        assert_prompt(started, "publish_timeout with a foreign producer");
        assert!(matches!(refused, PublishError::UnknownProducer(_)));
        assert_eq!(tags(&[refused.into_product()]), [("cake", serial)]);

        assert_eq!(market.shelf_len(id), None);
    }
    assert_eq!(market.stats(), before, "refused publishes left a trace");
    assert_eq!(market.available(&any("tea")), 0);
    // Our own id works here and nowhere else.
    assert_eq!(market.publish(local, item("tea", 1)), Ok(()));
    assert!(matches!(
        first.publish(local, item("tea", 2)),
        Err(PublishError::UnknownProducer(_))
    ));
    assert!(matches!(
        second.publish(local, item("tea", 3)),
        Err(PublishError::UnknownProducer(_))
    ));
    assert_eq!(first.shelf_len(local), None);
    assert_eq!(second.shelf_len(local), None);
}

fn ids_count_up_from_zero_and_display_their_number<M: Market>() {
    let market = M::create(1);
    for index in 0..4 {
        let producer = market.register_producer();
        assert_eq!(producer.number(), index);
        assert_eq!(producer.to_string(), format!("producer {index}"));
    }
    let mut carts = Vec::new();
    for serial in 0..4 {
        let cart = market.new_cart();
        assert_eq!(cart.number(), serial);
        assert_eq!(cart.to_string(), format!("cart {serial}"));
        carts.push(cart);
    }
    // Spent serials are not reused.
    market.place_order(carts[3]).unwrap();
    assert_eq!(market.new_cart().number(), 4);
}

fn taking_an_item_frees_its_producers_capacity_at_once<M: Market>() {
    let market = M::create(1);
    let producer = market.register_producer();
    market.publish(producer, item("tea", 1)).unwrap();
    assert!(
        market
            .publish(producer, item("tea", 2))
            .unwrap_err()
            .is_full()
    );

    let cart = market.new_cart();
    market.add_to_cart(cart, &any("tea")).unwrap();
    assert_eq!(market.shelf_len(producer), Some(0));
    assert_eq!(market.available(&any("tea")), 0);
    // The cart is still open: the item left the shelf when it entered the cart.
    assert_eq!(market.publish(producer, item("tea", 2)), Ok(()));
    assert_eq!(market.shelf_len(producer), Some(1));
    assert!(
        market
            .publish(producer, item("tea", 3))
            .unwrap_err()
            .is_full()
    );
    assert_eq!(market.stats(), stats(1, 1, 1, 1));
}

fn unavailable_and_unknown_cart_are_distinct<M: Market>() {
    assert_ne!(AddError::Unavailable, AddError::UnknownCart);
    let market = M::create(2);
    let producer = market.register_producer();
    let cart = market.new_cart();
    // Never published, then published but of another kind, then all taken.
    assert_eq!(
        market.add_to_cart(cart, &any("tea")),
        Err(AddError::Unavailable)
    );
    market.publish(producer, item("coffee", 1)).unwrap();
    assert_eq!(
        market.add_to_cart(cart, &any("tea")),
        Err(AddError::Unavailable)
    );
    market.publish(producer, item("tea", 2)).unwrap();
    assert_eq!(market.add_to_cart(cart, &any("tea")), Ok(()));
    assert_eq!(
        market.add_to_cart(cart, &any("tea")),
        Err(AddError::Unavailable)
    );

    // A spent cart is unknown even when the product is on sale, which stays on sale.
    let spent = market.new_cart();
    market.place_order(spent).unwrap();
    assert_eq!(
        market.add_to_cart(spent, &any("coffee")),
        Err(AddError::UnknownCart)
    );
    assert_eq!(
        market.add_to_cart(spent, &any("tea")),
        Err(AddError::UnknownCart)
    );
    assert_eq!(market.available(&any("coffee")), 1);
    assert_eq!(market.shelf_len(producer), Some(1));
    assert_eq!(
        market.place_order(cart).map(|p| tags(&p)),
        Ok(vec![("tea", 2)])
    );
}

fn remove_returns_the_item_to_its_producer_and_to_sale<M: Market>() {
    let market = M::create(2);
    let maker = market.register_producer();
    let bystander = market.register_producer();
    market.publish(maker, item("tea", 1)).unwrap();
    market.publish(bystander, item("coffee", 2)).unwrap();

    let cart = market.new_cart();
    market.add_to_cart(cart, &any("tea")).unwrap();
    assert_eq!(market.shelf_len(maker), Some(0));
    assert_eq!(market.remove_from_cart(cart, &any("tea")), Ok(()));
    assert_eq!(market.shelf_len(maker), Some(1));
    assert_eq!(market.shelf_len(bystander), Some(1));
    assert_eq!(market.available(&any("tea")), 1);
    assert_eq!(market.stats().items_in_carts, 0);
    // It counts against its maker again ...
    market.publish(maker, item("cake", 3)).unwrap();
    assert!(
        market
            .publish(maker, item("cake", 4))
            .unwrap_err()
            .is_full()
    );

    // ... and anyone can buy it: the very item that went back.
    let other = market.new_cart();
    assert_eq!(market.add_to_cart(other, &any("tea")), Ok(()));
    assert_eq!(market.shelf_len(maker), Some(1));
    assert_eq!(
        market.place_order(other).map(|p| tags(&p)),
        Ok(vec![("tea", 1)])
    );
    assert_eq!(market.place_order(cart).map(|p| tags(&p)), Ok(vec![]));
}

/// The maker of the removed item is neither the first producer nor the maker of the cart's
/// first item: the return must follow the item, not a position.
fn remove_returns_each_item_to_the_producer_that_made_it<M: Market>() {
    let market = M::create(2);
    let first = market.register_producer();
    let maker = market.register_producer();
    market.publish(first, item("coffee", 1)).unwrap();
    market.publish(maker, item("tea", 2)).unwrap();
    let cart = market.new_cart();
    market.add_to_cart(cart, &any("coffee")).unwrap();
    market.add_to_cart(cart, &any("tea")).unwrap();
    assert_eq!(market.remove_from_cart(cart, &any("tea")), Ok(()));
    assert_eq!(market.shelf_len(first), Some(0));
    assert_eq!(market.shelf_len(maker), Some(1));
    assert_eq!(market.remove_from_cart(cart, &any("coffee")), Ok(()));
    assert_eq!(market.shelf_len(first), Some(1));
    assert_eq!(market.shelf_len(maker), Some(1));
    assert_eq!(market.place_order(cart).map(|p| tags(&p)), Ok(vec![]));
}

fn remove_into_a_full_producer_goes_over_capacity_until_consumers_take_enough<M: Market>() {
    let market = M::create(2);
    let producer = market.register_producer();
    let (first, second) = (market.new_cart(), market.new_cart());
    market.publish(producer, item("tea", 1)).unwrap();
    market.publish(producer, item("tea", 2)).unwrap();
    market.add_to_cart(first, &any("tea")).unwrap();
    market.add_to_cart(second, &any("tea")).unwrap();
    market.publish(producer, item("tea", 3)).unwrap();
    market.publish(producer, item("tea", 4)).unwrap();
    assert_eq!(market.shelf_len(producer), Some(2));

    // Both returns succeed into the full producer, which is now two over capacity.
    assert_eq!(market.remove_from_cart(first, &any("tea")), Ok(()));
    assert_eq!(market.remove_from_cart(second, &any("tea")), Ok(()));
    assert_eq!(market.shelf_len(producer), Some(4));
    assert_eq!(market.available(&any("tea")), 4);
    assert_eq!(market.stats().items_on_shelves, 4);
    let refused = market.publish(producer, item("tea", 5)).unwrap_err();
    assert!(refused.is_full());
    assert!(
        market
            .publish_timeout(producer, item("tea", 5), Duration::ZERO)
            .unwrap_err()
            .is_full()
    );

    // Full while at or over capacity; room again as soon as it is below.
    let buyer = market.new_cart();
    for on_shelf in [3, 2] {
        market.add_to_cart(buyer, &any("tea")).unwrap();
        assert_eq!(market.shelf_len(producer), Some(on_shelf));
        assert!(
            market
                .publish(producer, item("tea", 5))
                .unwrap_err()
                .is_full()
        );
    }
    market.add_to_cart(buyer, &any("tea")).unwrap();
    assert_eq!(market.shelf_len(producer), Some(1));
    assert_eq!(market.publish(producer, item("tea", 5)), Ok(()));

    // Nothing lost, nothing duplicated: every serial comes out exactly once.
    while market.add_to_cart(buyer, &any("tea")).is_ok() {}
    let mut bought = market.place_order(buyer).unwrap();
    bought.extend(market.place_order(first).unwrap());
    bought.extend(market.place_order(second).unwrap());
    assert_eq!(sorted_serials(&bought), [1, 2, 3, 4, 5]);
    assert_eq!(market.shelf_len(producer), Some(0));
}

fn remove_of_something_never_added_is_not_in_cart<M: Market>() {
    assert_ne!(RemoveError::NotInCart, RemoveError::UnknownCart);
    let market = M::create(2);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let neighbour = market.new_cart();
    // Empty cart; product never seen anywhere.
    assert_eq!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    );
    // On sale but not in this cart; in another cart but not in this one.
    market.publish(producer, item("tea", 1)).unwrap();
    market.publish(producer, item("coffee", 2)).unwrap();
    assert_eq!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    );
    market.add_to_cart(neighbour, &any("tea")).unwrap();
    market.add_to_cart(cart, &any("coffee")).unwrap();
    let before = market.stats();
    assert_eq!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    );
    // Removed already.
    market.remove_from_cart(cart, &any("coffee")).unwrap();
    assert_eq!(
        market.remove_from_cart(cart, &any("coffee")),
        Err(RemoveError::NotInCart)
    );
    assert_eq!(market.stats().items_in_carts, before.items_in_carts - 1);
    assert_eq!(market.shelf_len(producer), Some(1));
    assert_eq!(
        market.place_order(neighbour).map(|p| tags(&p)),
        Ok(vec![("tea", 1)])
    );
}

fn remove_takes_one_equal_item_and_keeps_the_others_in_order<M: Market>() {
    let market = M::create(4);
    let producer = market.register_producer();
    for (serial, kind) in (1..).zip(["tea", "coffee", "tea", "cake"]) {
        market.publish(producer, item(kind, serial)).unwrap();
    }
    let cart = market.new_cart();
    for kind in ["tea", "coffee", "tea", "cake"] {
        market.add_to_cart(cart, &any(kind)).unwrap();
    }
    market.remove_from_cart(cart, &any("tea")).unwrap();
    assert_eq!(market.available(&any("tea")), 1);
    let rest = market.place_order(cart).unwrap();
    let kinds: Vec<_> = rest.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, ["coffee", "tea", "cake"]);
    // The tea that went back and the one that stayed are the two teas, once each.
    let back = market.new_cart();
    market.add_to_cart(back, &any("tea")).unwrap();
    let mut teas: Vec<u64> = rest
        .iter()
        .filter(|p| p.kind == "tea")
        .map(|p| p.serial)
        .collect();
    teas.extend(market.place_order(back).unwrap().iter().map(|p| p.serial));
    teas.sort_unstable();
    assert_eq!(teas, [1, 3]);
}

fn place_order_returns_items_in_add_order_and_spends_the_cart<M: Market>() {
    let market = M::create(5);
    let producer = market.register_producer();
    for (serial, kind) in (1..).zip(["tea", "coffee", "cake", "tea"]) {
        market.publish(producer, item(kind, serial)).unwrap();
    }
    let carts: Vec<M::Cart> = (0..4).map(|_| market.new_cart()).collect();
    assert_eq!(market.stats().open_carts, 4);
    let cart = carts[0];
    for kind in ["cake", "tea", "coffee", "tea"] {
        market.add_to_cart(cart, &any(kind)).unwrap();
    }
    assert_eq!(
        market.place_order(cart).map(|p| tags(&p)),
        Ok(vec![("cake", 3), ("tea", 1), ("coffee", 2), ("tea", 4)])
    );
    assert_eq!(market.stats().open_carts, 3);
    assert_eq!(market.stats().items_in_carts, 0);
    // The id is spent for every operation.
    assert_eq!(market.place_order(cart), Err(OrderError::UnknownCart));
    assert_eq!(
        market.add_to_cart(cart, &any("tea")),
        Err(AddError::UnknownCart)
    );
    assert_eq!(
        market.add_to_cart_timeout(cart, &any("tea"), Duration::ZERO),
        Err(AddError::UnknownCart)
    );
    assert_eq!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::UnknownCart)
    );
    // The producer's capacity is all free again; the other carts are unaffected.
    assert_eq!(market.shelf_len(producer), Some(0));
    for &other in &carts[1..] {
        assert_eq!(market.place_order(other), Ok(vec![]));
    }
    assert_eq!(market.stats().open_carts, 0);
}

/// A new cart opened right after an order may live where the ordered one did (the engine
/// reuses the slot); the spent id must not reach it.
fn a_spent_cart_id_stays_spent_when_a_new_cart_takes_its_place<M: Market>() {
    let market = M::create(3);
    let producer = market.register_producer();
    market.publish(producer, item("tea", 1)).unwrap();
    market.publish(producer, item("tea", 2)).unwrap();
    let spent = market.new_cart();
    market.add_to_cart(spent, &any("tea")).unwrap();
    assert_eq!(
        market.place_order(spent).map(|p| tags(&p)),
        Ok(vec![("tea", 1)])
    );
    let fresh = market.new_cart();
    assert_ne!(fresh, spent);
    assert_eq!(
        market.stats().items_in_carts,
        0,
        "the new cart holds the spent one's items"
    );
    market.add_to_cart(fresh, &any("tea")).unwrap();
    assert_eq!(
        market.add_to_cart(spent, &any("tea")),
        Err(AddError::UnknownCart)
    );
    assert_eq!(
        market.add_to_cart_timeout(spent, &any("tea"), Duration::ZERO),
        Err(AddError::UnknownCart)
    );
    assert_eq!(
        market.remove_from_cart(spent, &any("tea")),
        Err(RemoveError::UnknownCart)
    );
    assert_eq!(market.place_order(spent), Err(OrderError::UnknownCart));
    assert_eq!(market.stats().open_carts, 1);
    assert_eq!(market.stats().items_in_carts, 1);
    assert_eq!(
        market.place_order(fresh).map(|p| tags(&p)),
        Ok(vec![("tea", 2)])
    );
}

fn equal_products_from_different_producers_are_interchangeable_oldest_first<M: Market>() {
    let market = M::create(2);
    let producers: Vec<M::Producer> = (0..3).map(|_| market.register_producer()).collect();
    // Published in this order: serial 1 by producer 0, 2 by producer 1, ...
    let makers = [0, 1, 2, 0, 2];
    for (serial, &maker) in (1..).zip(&makers) {
        market
            .publish(producers[maker], item("tea", serial))
            .unwrap();
    }
    market.publish(producers[1], item("coffee", 99)).unwrap();
    assert_eq!(market.available(&any("tea")), 5);

    let cart = market.new_cart();
    let mut on_shelf = [2, 2, 2];
    for &maker in &makers {
        // Ask with a different serial: only the kind matters.
        market.add_to_cart(cart, &item("tea", 1000)).unwrap();
        on_shelf[maker] -= 1;
        for (index, &producer) in producers.iter().enumerate() {
            assert_eq!(market.shelf_len(producer), Some(on_shelf[index]));
        }
    }
    assert_eq!(
        market.add_to_cart(cart, &any("tea")),
        Err(AddError::Unavailable)
    );
    let bought = market.place_order(cart).unwrap();
    assert_eq!(
        tags(&bought),
        [("tea", 1), ("tea", 2), ("tea", 3), ("tea", 4), ("tea", 5)]
    );
}

fn foreign_cart_ids_are_unknown_carts<M: Market>() {
    let first = M::create(1);
    let second = M::create(1);
    let mut foreign: Vec<M::Cart> = (0..3).map(|_| first.new_cart()).collect();
    foreign.extend((0..3).map(|_| second.new_cart()));

    let market = M::create(3);
    let producer = market.register_producer();
    let local = market.new_cart();
    market.publish(producer, item("tea", 1)).unwrap();
    market.publish(producer, item("coffee", 2)).unwrap();
    market.add_to_cart(local, &any("coffee")).unwrap();
    let before = market.stats();
    for &cart in &foreign {
        assert_ne!(cart, local);
        assert_eq!(
            market.add_to_cart(cart, &any("tea")),
            Err(AddError::UnknownCart)
        );
        let started = Instant::now();
        assert_eq!(
            market.add_to_cart_timeout(cart, &any("cake"), LONG),
            Err(AddError::UnknownCart)
        );
        assert_prompt(started, "add_to_cart_timeout with a foreign cart");
        // Same serial as the local cart's, and it holds a coffee: still not ours.
        assert_eq!(
            market.remove_from_cart(cart, &any("coffee")),
            Err(RemoveError::UnknownCart)
        );
        assert_eq!(market.place_order(cart), Err(OrderError::UnknownCart));
    }
    assert_eq!(market.stats(), before);
    assert_eq!(market.available(&any("tea")), 1);
    // Our cart is untouched and unknown elsewhere.
    assert_eq!(first.place_order(local), Err(OrderError::UnknownCart));
    assert_eq!(second.place_order(local), Err(OrderError::UnknownCart));
    assert_eq!(
        market.place_order(local).map(|p| tags(&p)),
        Ok(vec![("coffee", 2)])
    );
}

fn stats_count_producers_carts_and_items<M: Market>() {
    let market = M::create(3);
    assert_eq!(market.stats(), Stats::default());
    let producers: Vec<M::Producer> = (0..2).map(|_| market.register_producer()).collect();
    let carts: Vec<M::Cart> = (0..3).map(|_| market.new_cart()).collect();
    let expected = |on_shelves, in_carts, open_carts| stats(2, open_carts, on_shelves, in_carts);
    assert_eq!(market.stats(), expected(0, 0, 3));
    for (serial, &producer) in (1..).zip(&[producers[0], producers[0], producers[1]]) {
        market.publish(producer, item("tea", serial)).unwrap();
    }
    assert_eq!(market.stats(), expected(3, 0, 3));
    market.add_to_cart(carts[0], &any("tea")).unwrap();
    market.add_to_cart(carts[1], &any("tea")).unwrap();
    assert_eq!(market.stats(), expected(1, 2, 3));
    market.remove_from_cart(carts[1], &any("tea")).unwrap();
    assert_eq!(market.stats(), expected(2, 1, 3));
    market.place_order(carts[0]).unwrap();
    assert_eq!(market.stats(), expected(2, 0, 2));
    market.place_order(carts[1]).unwrap();
    market.place_order(carts[2]).unwrap();
    assert_eq!(market.stats(), expected(2, 0, 0));
    let shown = market.stats().to_string();
    assert!(shown.contains("2 producers"), "{shown}");
    assert!(shown.contains("0 open carts"), "{shown}");
}

fn close_wakes_blocked_waiters_and_timeouts_return_at_once<M: Market>() {
    let market = M::create(1);
    let producer = market.register_producer();
    market.publish(producer, item("coffee", 1)).unwrap();
    let cart = market.new_cart();
    let started = Barrier::new(3);
    thread::scope(|s| {
        let consumer = s.spawn(|| {
            started.wait();
            market.add_to_cart_timeout(cart, &any("tea"), LONG)
        });
        let publisher = s.spawn(|| {
            started.wait();
            market.publish_timeout(producer, item("cake", 2), LONG)
        });
        started.wait();
        let closing = Instant::now();
        // Whether or not they are asleep yet, both must come back without their item.
        market.close();
        assert_eq!(consumer.join().unwrap(), Err(AddError::Unavailable));
        let refused = publisher.join().unwrap().unwrap_err();
        assert_prompt(closing, "waking waiters on close");
        assert!(refused.is_full());
        assert_eq!(tags(&[refused.into_product()]), [("cake", 2)]);
    });

    // After close, waits give up after one attempt ...
    let started = Instant::now();
    assert_eq!(
        market.add_to_cart_timeout(cart, &any("tea"), LONG),
        Err(AddError::Unavailable)
    );
    assert!(
        market
            .publish_timeout(producer, item("cake", 3), LONG)
            .unwrap_err()
            .is_full()
    );
    assert_prompt(started, "timeouts after close");
    // ... which succeeds when it can, and the plain operations keep working.
    assert_eq!(
        market.add_to_cart_timeout(cart, &any("coffee"), LONG),
        Ok(())
    );
    assert_eq!(
        market.publish_timeout(producer, item("tea", 4), LONG),
        Ok(())
    );
    assert_eq!(market.add_to_cart(cart, &any("tea")), Ok(()));
    assert_eq!(market.publish(producer, item("tea", 5)), Ok(()));
    assert_eq!(
        market.place_order(cart).map(|p| tags(&p)),
        Ok(vec![("coffee", 1), ("tea", 4)])
    );
}

fn add_to_cart_timeout_succeeds_when_a_producer_publishes<M: Market>() {
    let market = M::create(1);
    let producer = market.register_producer();
    let rounds = 50;
    let (ready, waiting) = mpsc::channel();
    thread::scope(|s| {
        let consumer = s.spawn(|| {
            // Owned here, so that if this thread fails the main thread's `recv` fails too.
            let ready = ready;
            let cart = market.new_cart();
            for _ in 0..rounds {
                ready.send(()).unwrap();
                market.add_to_cart_timeout(cart, &any("tea"), LONG).unwrap();
            }
            market.place_order(cart).unwrap()
        });
        for serial in 0..rounds {
            // The consumer is about to wait (or already waiting) for exactly this item; the
            // shelf is empty, so it can only get it from this publish.
            waiting.recv().unwrap();
            assert_eq!(market.available(&any("tea")), 0);
            market.publish(producer, item("tea", serial)).unwrap();
        }
        let bought = consumer.join().unwrap();
        assert_eq!(sorted_serials(&bought), (0..rounds).collect::<Vec<_>>());
    });
    assert_eq!(market.stats().items_on_shelves, 0);
}

fn add_to_cart_timeout_succeeds_when_another_cart_returns_an_item<M: Market>() {
    let market = M::create(1);
    let producer = market.register_producer();
    market.publish(producer, item("tea", 1)).unwrap();
    let holder = market.new_cart();
    market.add_to_cart(holder, &any("tea")).unwrap();
    let (ready, waiting) = mpsc::channel();
    thread::scope(|s| {
        let consumer = s.spawn(|| {
            let ready = ready;
            let cart = market.new_cart();
            ready.send(()).unwrap();
            market.add_to_cart_timeout(cart, &any("tea"), LONG).unwrap();
            market.place_order(cart).unwrap()
        });
        waiting.recv().unwrap();
        market.remove_from_cart(holder, &any("tea")).unwrap();
        assert_eq!(tags(&consumer.join().unwrap()), [("tea", 1)]);
    });
    assert_eq!(market.shelf_len(producer), Some(0));
    assert_eq!(market.place_order(holder), Ok(vec![]));
}

fn publish_timeout_succeeds_when_a_consumer_takes<M: Market>() {
    let market = M::create(1);
    let producer = market.register_producer();
    let rounds = 50;
    market.publish(producer, item("tea", 0)).unwrap();
    let (ready, waiting) = mpsc::channel();
    thread::scope(|s| {
        let publisher = s.spawn(|| {
            // Owned here, so that if this thread fails the main thread's `recv` fails too.
            let ready = ready;
            for serial in 1..=rounds {
                ready.send(()).unwrap();
                // Full until the consumer below takes the previous item.
                market
                    .publish_timeout(producer, item("tea", serial), LONG)
                    .unwrap();
            }
        });
        let cart = market.new_cart();
        for _ in 0..rounds {
            waiting.recv().unwrap();
            market.add_to_cart_timeout(cart, &any("tea"), LONG).unwrap();
        }
        publisher.join().unwrap();
        assert_eq!(market.shelf_len(producer), Some(1));
        market.add_to_cart(cart, &any("tea")).unwrap();
        let bought = market.place_order(cart).unwrap();
        assert_eq!(sorted_serials(&bought), (0..=rounds).collect::<Vec<_>>());
    });
}

fn timeouts_expire_with_the_retryable_error<M: Market>() {
    let market = M::create(1);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let tiny = Duration::from_millis(2);

    let started = Instant::now();
    assert_eq!(
        market.add_to_cart_timeout(cart, &any("tea"), tiny),
        Err(AddError::Unavailable)
    );
    assert!(started.elapsed() >= tiny, "gave up before its timeout");

    market.publish(producer, item("tea", 1)).unwrap();
    let started = Instant::now();
    let refused = market
        .publish_timeout(producer, item("tea", 2), tiny)
        .unwrap_err();
    assert!(started.elapsed() >= tiny, "gave up before its timeout");
    assert!(refused.is_full());
    assert_eq!(tags(&[refused.into_product()]), [("tea", 2)]);

    // A zero timeout is one attempt, as the plain operations make.
    assert!(
        market
            .publish_timeout(producer, item("tea", 3), Duration::ZERO)
            .unwrap_err()
            .is_full()
    );
    assert_eq!(
        market.add_to_cart_timeout(cart, &any("tea"), Duration::ZERO),
        Ok(())
    );
    assert_eq!(
        market.publish_timeout(producer, item("tea", 3), Duration::ZERO),
        Ok(())
    );
    assert_eq!(
        market.add_to_cart_timeout(cart, &any("coffee"), Duration::ZERO),
        Err(AddError::Unavailable)
    );
    // Nothing was lost to an expired wait.
    assert_eq!(market.stats().items_on_shelves, 1);
    assert_eq!(market.stats().items_in_carts, 1);
}

fn waiting_for_a_cart_that_gets_ordered_takes_nothing<M: Market>() {
    let market = M::create(1);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let (ready, waiting) = mpsc::channel();
    thread::scope(|s| {
        let consumer = s.spawn(|| {
            let ready = ready;
            ready.send(()).unwrap();
            market.add_to_cart_timeout(cart, &any("tea"), LONG)
        });
        waiting.recv().unwrap();
        assert_eq!(market.place_order(cart), Ok(vec![]));
        // The wake-up this publish causes must not put the tea into the spent cart.
        market.publish(producer, item("tea", 1)).unwrap();
        assert_eq!(consumer.join().unwrap(), Err(AddError::UnknownCart));
    });
    assert_eq!(market.available(&any("tea")), 1);
    assert_eq!(market.shelf_len(producer), Some(1));
    assert_eq!(market.stats().items_in_carts, 0);
}

fn zero_capacity_panics<M: Market>() {
    let _ = M::create(0);
}

/// The fallible constructors refuse a zero capacity with the error whose message the
/// panicking ones panic with, and make the same marketplace as those for any other size.
#[test]
fn the_try_constructors_refuse_zero_with_an_error_and_make_the_rest() {
    let zero = ZeroCapacityError::default();
    assert_eq!(Marketplace::<u8>::try_new(0).unwrap_err(), zero);
    let hasher = std::hash::RandomState::new();
    assert_eq!(
        Marketplace::<u8, _>::try_with_hasher(0, hasher.clone()).unwrap_err(),
        zero
    );
    assert_eq!(LockedMarketplace::<u8>::try_new(0).unwrap_err(), zero);
    let panics: [fn(); 3] = [
        || drop(Marketplace::<u8>::new(0)),
        || {
            drop(Marketplace::<u8, _>::with_hasher(
                0,
                std::hash::RandomState::new(),
            ))
        },
        || drop(LockedMarketplace::<u8>::new(0)),
    ];
    for (constructor, panic) in panics.into_iter().enumerate() {
        let message = std::panic::catch_unwind(panic).expect_err("a zero capacity panics");
        let message = message
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| message.downcast_ref::<&str>().map(|text| text.to_string()));
        assert_eq!(message, Some(zero.to_string()), "constructor {constructor}");
    }
    for size in [1, 7, usize::MAX] {
        let market = Marketplace::<u8>::try_new(size).unwrap();
        assert_eq!(market.queue_size_per_producer(), size);
        let hashed = Marketplace::<u8, _>::try_with_hasher(size, hasher.clone()).unwrap();
        assert_eq!(hashed.queue_size_per_producer(), size);
        let locked = LockedMarketplace::<u8>::try_new(size).unwrap();
        assert_eq!(locked.queue_size_per_producer(), size);
        let producer = market.register_producer();
        assert_eq!(market.publish(producer, 1), Ok(()));
    }
}

// Rules about the shared types rather than either marketplace.

#[test]
fn errors_display_distinct_messages_and_are_std_errors() {
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(PublishError::Full(item("tea", 1))),
        Box::new(PublishError::UnknownProducer(item("tea", 1))),
        Box::new(AddError::Unavailable),
        Box::new(AddError::UnknownCart),
        Box::new(RemoveError::NotInCart),
        Box::new(RemoveError::UnknownCart),
        Box::new(OrderError::UnknownCart),
    ];
    let messages: Vec<String> = errors.iter().map(|error| error.to_string()).collect();
    for (shown, error) in messages.iter().zip(&errors) {
        assert!(!shown.is_empty());
        assert!(error.source().is_none());
    }
    let lower = |i: usize| messages[i].to_lowercase();
    assert!(lower(0).contains("full"), "{}", lower(0));
    assert!(lower(1).contains("producer"), "{}", lower(1));
    assert!(lower(2).contains("available"), "{}", lower(2));
    assert!(lower(3).contains("cart"), "{}", lower(3));
    assert!(lower(4).contains("cart"), "{}", lower(4));
    // Within each error type, the variants read differently.
    assert_ne!(messages[0], messages[1]);
    assert_ne!(messages[2], messages[3]);
    assert_ne!(messages[4], messages[5]);
    // Unknown carts read the same whichever operation met them.
    assert_eq!(messages[3], messages[5]);
    assert_eq!(messages[5], messages[6]);
    // The product comes back out of either refusal.
    assert_eq!(PublishError::UnknownProducer(7).into_product(), 7);
    assert_eq!(PublishError::Full(8).into_product(), 8);
    assert!(!PublishError::UnknownProducer(7).is_full());
}

/// A cart's slot sizes its next cart by the last one, so a cart of eight items allocates
/// once; one huge cart must not make every later order of its slot hold room for as many.
#[test]
fn an_order_holds_room_for_its_items_not_for_the_largest_cart_before_it() {
    const HUGE: u64 = 100_000;
    let market = Marketplace::<u64>::new(usize::MAX);
    let producer = market.register_producer();
    let cart = market.new_cart();
    for product in 0..HUGE {
        market.publish(producer, product).unwrap();
        market.add_to_cart(cart, &product).unwrap();
    }
    assert_eq!(market.place_order(cart).unwrap().len(), HUGE as usize);
    // One thread, one slot freed: every cart from here on reuses it.
    for items in [1, 3, 1] {
        let cart = market.new_cart();
        for product in 0..items {
            market.publish(producer, product).unwrap();
            market.add_to_cart(cart, &product).unwrap();
        }
        let order = market.place_order(cart).unwrap();
        assert_eq!(order.len(), items as usize);
        assert!(
            order.capacity() < 100,
            "an order of {items} holds room for {} items",
            order.capacity()
        );
    }
}

#[test]
fn engine_reports_its_configuration_and_closed_state() {
    let market = Marketplace::<Product>::new(7);
    assert_eq!(market.queue_size_per_producer(), 7);
    assert!(!market.is_closed());
    market.close();
    assert!(market.is_closed());
    market.close();
    assert!(market.is_closed());
    let shown = format!("{market:?}");
    assert!(shown.contains("Marketplace"), "{shown}");
}

/// Comparisons of [`Counted`] products so far: the one test that uses them counts with it.
static COMPARISONS: AtomicUsize = AtomicUsize::new(0);

/// A product that counts its comparisons and hashes like every other, so each attempt at
/// one never published compares it with the one product on sale: one comparison per
/// attempt, on the engine and on the baseline alike.
#[derive(Clone, Debug)]
struct Counted(u32);

impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        COMPARISONS.fetch_add(1, Ordering::Relaxed);
        self.0 == other.0
    }
}

impl Eq for Counted {}

impl Hash for Counted {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

/// The yielding retries before a wait sleeps stop at the caller's deadline. With more
/// runnable threads than cores, each yield can last a whole time slice: retrying past the
/// deadline made a 10 ms `add_to_cart_timeout` take 135 ms, where a channel's
/// `recv_timeout` took 15 ms, with six spinning threads on two cores. A timeout of a
/// nanosecond has passed when the yielding would begin, so the call makes its first
/// attempt and the two spinning ones (a few, not the retry phase's twenty or more).
#[test]
fn waits_retry_no_longer_than_their_timeout() {
    let tiny = Duration::from_nanos(1);
    let engine = Marketplace::new(1);
    let producer = engine.register_producer();
    engine.publish(producer, Counted(1)).unwrap();
    let cart = engine.new_cart();
    COMPARISONS.store(0, Ordering::Relaxed);
    assert_eq!(
        engine.add_to_cart_timeout(cart, &Counted(2), tiny),
        Err(AddError::Unavailable)
    );
    let attempts = COMPARISONS.load(Ordering::Relaxed);
    assert!(attempts <= 4, "the engine made {attempts} attempts");

    let baseline = LockedMarketplace::yielding(1);
    let producer = baseline.register_producer();
    baseline.publish(producer, Counted(1)).unwrap();
    let cart = baseline.new_cart();
    COMPARISONS.store(0, Ordering::Relaxed);
    assert_eq!(
        baseline.add_to_cart_timeout(cart, &Counted(2), tiny),
        Err(AddError::Unavailable)
    );
    let attempts = COMPARISONS.load(Ordering::Relaxed);
    assert!(
        attempts <= 4,
        "the yielding baseline made {attempts} attempts"
    );
}

/// As `HashMap::get` does, the calls that ask for a product take any form it borrows as:
/// a marketplace of `String`s is asked with `&str`, one of `Vec<u8>` with `&[u8]`.
#[test]
fn products_are_asked_for_by_any_form_they_borrow_as() {
    let market: Marketplace<String> = Marketplace::new(2);
    let producer = market.register_producer();
    market.publish(producer, "tea".to_owned()).unwrap();
    market.publish(producer, "tea".to_owned()).unwrap();
    assert_eq!(market.available("tea"), 2);
    assert_eq!(market.available("coffee"), 0);
    let cart = market.new_cart();
    assert_eq!(market.add_to_cart(cart, "tea"), Ok(()));
    assert_eq!(
        market.add_to_cart_timeout(cart, "tea", Duration::from_secs(5)),
        Ok(())
    );
    assert_eq!(
        market.add_to_cart(cart, "coffee"),
        Err(AddError::Unavailable)
    );
    assert_eq!(market.remove_from_cart(cart, "tea"), Ok(()));
    assert_eq!(
        market.remove_from_cart(cart, "coffee"),
        Err(RemoveError::NotInCart)
    );
    assert_eq!(market.available("tea"), 1);
    assert_eq!(market.place_order(cart).unwrap(), ["tea"]);

    let bytes: Marketplace<Vec<u8>> = Marketplace::new(1);
    let producer = bytes.register_producer();
    bytes.publish(producer, b"tea".to_vec()).unwrap();
    let cart = bytes.new_cart();
    assert_eq!(bytes.add_to_cart(cart, &b"tea"[..]), Ok(()));
    assert_eq!(bytes.place_order(cart).unwrap(), [b"tea".to_vec()]);

    // The baseline has the same API.
    let baseline: LockedMarketplace<String> = LockedMarketplace::new(2);
    let producer = baseline.register_producer();
    baseline.publish(producer, "tea".to_owned()).unwrap();
    baseline.publish(producer, "tea".to_owned()).unwrap();
    let cart = baseline.new_cart();
    assert_eq!(baseline.add_to_cart(cart, "tea"), Ok(()));
    assert_eq!(
        baseline.add_to_cart_timeout(cart, "tea", Duration::from_secs(5)),
        Ok(())
    );
    assert_eq!(baseline.remove_from_cart(cart, "tea"), Ok(()));
    assert_eq!(baseline.available("tea"), 1);
    assert_eq!(baseline.place_order(cart).unwrap(), ["tea"]);
}
