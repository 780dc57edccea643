//! Batches on a Redis market: `publish_many` and `add_many_to_cart` move items in the order
//! given, stop at the producer's capacity or at what is on sale, keep the market's counts
//! exact, and wake waiters as one item at a time would: every waiter an item or a place
//! became available for.
//!
//! A waiter is known to be asleep when the server reports a blocked client (`INFO
//! clients`); no sleep orders anything.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use marketplace_harness::redis_server::{RedisServer, fresh_market_name, shared_server};
use marketplace_redis::{AddError, PublishError, RedisMarketplace, Stats};
use support::{Item, item};

fn teas(serials: std::ops::Range<u64>) -> Vec<Item> {
    serials.map(|serial| item("tea", serial)).collect()
}

/// Longer than any wait a passing test meets.
const LONG: Duration = Duration::from_secs(30);

/// Well under a wait round (5 s), after which a waiter whose wake-up token never came
/// tries again anyway: a waiter slower than this was not woken.
const PROMPT: Duration = Duration::from_secs(2);

fn market(what: &str, capacity: usize) -> RedisMarketplace<Item> {
    RedisMarketplace::connect(&shared_server().url(), &fresh_market_name(what), capacity)
        .expect("connect")
}

fn sizes(market: &RedisMarketplace<Item>) -> (usize, usize, usize) {
    let Stats {
        open_carts,
        items_on_shelves,
        items_in_carts,
        ..
    } = market.stats().expect("stats");
    (items_on_shelves, items_in_carts, open_carts)
}

#[test]
fn publish_many_publishes_what_fits_in_order_and_gives_back_the_rest() {
    let market = market("batch-publish", 3);
    let producer = market.register_producer().expect("register");
    let products = vec![
        item("tea", 0),
        item("coffee", 1),
        item("tea", 2),
        item("tea", 3),
        item("coffee", 4),
    ];
    match market.publish_many(producer, products) {
        Err(PublishError::Full(rest)) => assert_eq!(rest, [item("tea", 3), item("coffee", 4)]),
        other => panic!("expected Full with the last two, got {other:?}"),
    }
    assert_eq!(market.available(&item("tea", 0)).expect("tea"), 2);
    assert_eq!(market.available(&item("coffee", 0)).expect("coffee"), 1);
    assert_eq!(market.shelf_len(producer).expect("shelf"), Some(3));
    assert_eq!(sizes(&market), (3, 0, 0));

    // Full: nothing goes, everything comes back.
    match market.publish_many(producer, teas(10..12)) {
        Err(PublishError::Full(rest)) => assert_eq!(rest, teas(10..12)),
        other => panic!("expected Full with both, got {other:?}"),
    }
    // An empty batch is published at once.
    market
        .publish_many(producer, Vec::new())
        .expect("nothing to publish");

    let cart = market.new_cart().expect("cart");
    assert_eq!(
        market
            .add_many_to_cart(cart, &item("tea", 0), 5)
            .expect("open"),
        2
    );
    market
        .add_to_cart(cart, &item("coffee", 0))
        .expect("on sale");
    assert_eq!(
        market.place_order(cart).expect("open"),
        [item("tea", 0), item("tea", 2), item("coffee", 1)],
        "oldest first, as published"
    );
    assert_eq!(sizes(&market), (0, 0, 0));
    market.delete().expect("delete");
}

#[test]
fn add_many_to_cart_takes_the_oldest_and_frees_each_producer() {
    let market = market("batch-add", 4);
    let first = market.register_producer().expect("register");
    let second = market.register_producer().expect("register");
    market.publish_many(first, teas(0..3)).expect("room");
    market.publish_many(second, teas(3..7)).expect("room");
    market.publish_many(first, teas(7..8)).expect("room");

    let cart = market.new_cart().expect("cart");
    assert_eq!(
        market
            .add_many_to_cart(cart, &item("tea", 0), 0)
            .expect("open"),
        0
    );
    assert_eq!(
        market
            .add_many_to_cart(cart, &item("tea", 0), 5)
            .expect("open"),
        5
    );
    assert_eq!(
        market.shelf_len(first).expect("shelf"),
        Some(1),
        "0..3 taken"
    );
    assert_eq!(
        market.shelf_len(second).expect("shelf"),
        Some(2),
        "3 and 4 taken"
    );
    assert_eq!(sizes(&market), (3, 5, 1));
    assert_eq!(
        market
            .add_many_to_cart(cart, &item("coffee", 0), 2)
            .expect("open"),
        0,
        "nothing equal on sale"
    );

    // A returned item goes back to its producer and to sale, as with single adds.
    market
        .remove_from_cart(cart, &item("tea", 0))
        .expect("in cart");
    assert_eq!(market.shelf_len(first).expect("shelf"), Some(2));
    assert_eq!(
        market
            .add_many_to_cart(cart, &item("tea", 0), 9)
            .expect("open"),
        4
    );
    let order = market.place_order(cart).expect("open");
    let serials: Vec<u64> = order.iter().map(|item| item.serial).collect();
    assert_eq!(serials, [1, 2, 3, 4, 5, 6, 7, 0]);
    assert_eq!(sizes(&market), (0, 0, 0));
    market.delete().expect("delete");
}

#[test]
fn unknown_ids_and_spent_carts_are_refused_with_the_products() {
    let market = market("batch-unknown", 2);
    let other = self::market("batch-unknown-other", 2);
    let foreign = other.register_producer().expect("register");
    match market.publish_many(foreign, teas(0..2)) {
        Err(PublishError::UnknownProducer(rest)) => assert_eq!(rest, teas(0..2)),
        other => panic!("expected UnknownProducer, got {other:?}"),
    }
    let cart = market.new_cart().expect("cart");
    market.place_order(cart).expect("open");
    assert!(matches!(
        market.add_many_to_cart(cart, &item("tea", 0), 1),
        Err(AddError::UnknownCart)
    ));
    assert!(matches!(
        market.add_many_to_cart_timeout(cart, &item("tea", 0), 1, LONG),
        Err(error) if error.added() == 0 && matches!(error.error(), AddError::UnknownCart)
    ));
    assert!(matches!(
        market.add_many_to_cart(other.new_cart().expect("cart"), &item("tea", 0), 1),
        Err(AddError::UnknownCart)
    ));
    market.delete().expect("delete");
    other.delete().expect("delete");
}

/// A batch add asking for no item still asks the server about the cart: a spent one is
/// `UnknownCart`, as for any other count, not an `Ok(0)` that says it is open.
#[test]
fn a_batch_add_of_no_item_into_a_spent_cart_is_refused() {
    let market = market("batch-add-none-spent", 2);
    let cart = market.new_cart().expect("cart");
    market.place_order(cart).expect("open");
    let outcome = market.add_many_to_cart(cart, &item("tea", 0), 0);
    assert!(matches!(outcome, Err(AddError::UnknownCart)), "{outcome:?}");
    let outcome = market.add_many_to_cart_timeout(cart, &item("tea", 0), 0, LONG);
    assert!(
        matches!(&outcome, Err(error) if error.added() == 0
            && matches!(error.error(), AddError::UnknownCart)),
        "{outcome:?}"
    );
    market.delete().expect("delete");
}

#[test]
fn batches_through_a_small_capacity_conserve_every_item() {
    const PRODUCERS: u64 = 3;
    const PER_PRODUCER: u64 = 300;
    const CART: usize = 7;
    let market = market("batch-conserve", 4);
    let total = (PRODUCERS * PER_PRODUCER) as usize;
    let ordered: Vec<Item> = thread::scope(|s| {
        for p in 0..PRODUCERS {
            let market = &market;
            s.spawn(move || {
                let producer = market.register_producer().expect("register");
                let serials: Vec<u64> = (p * PER_PRODUCER..(p + 1) * PER_PRODUCER).collect();
                // Batches larger than the capacity: each waits for room part of the way.
                for chunk in serials.chunks(10) {
                    let batch = chunk.iter().map(|&serial| item("tea", serial)).collect();
                    market
                        .publish_many_timeout(producer, batch, LONG)
                        .expect("consumers make room in time");
                }
            });
        }
        let consumer = s.spawn(|| {
            let mut ordered = Vec::with_capacity(total);
            while ordered.len() < total {
                let cart = market.new_cart().expect("cart");
                let wanted = CART.min(total - ordered.len());
                let added = market
                    .add_many_to_cart_timeout(cart, &item("tea", 0), wanted, LONG)
                    .expect("open");
                assert_eq!(added, wanted, "producers publish in time");
                ordered.extend(market.place_order(cart).expect("open"));
            }
            ordered
        });
        consumer.join().expect("the consumer panicked")
    });
    let mut serials: Vec<u64> = ordered.iter().map(|item| item.serial).collect();
    // Each producer's items arrive in the order it published them.
    for p in 0..PRODUCERS {
        let range = p * PER_PRODUCER..(p + 1) * PER_PRODUCER;
        let own: Vec<u64> = serials
            .iter()
            .copied()
            .filter(|s| range.contains(s))
            .collect();
        assert!(own.is_sorted(), "producer {p}'s items out of order");
    }
    serials.sort_unstable();
    assert_eq!(serials, (0..PRODUCERS * PER_PRODUCER).collect::<Vec<_>>());
    assert_eq!(sizes(&market), (0, 0, 0));
    market.delete().expect("delete");
}

/// A server of the test's own, so the count of blocked clients is the test's waiters only.
fn own_market(server: &RedisServer, capacity: usize) -> RedisMarketplace<Item> {
    RedisMarketplace::connect(&server.url(), "waits", capacity).expect("connect")
}

#[test]
fn a_batch_wakes_every_waiter_it_makes_room_or_items_for() {
    let server = RedisServer::start();
    let market = own_market(&server, 2);
    let producer = market.register_producer().expect("register");

    // Two threads publish for one full producer; one batch add frees both places, so both
    // wake (a single wake-up would leave one asleep until its round ends).
    market.publish_many(producer, teas(0..2)).expect("room");
    let cart = market.new_cart().expect("cart");
    thread::scope(|s| {
        let waiters: Vec<_> = (0..2)
            .map(|w| {
                let market = &market;
                s.spawn(move || {
                    market
                        .publish_timeout(producer, item("tea", 10 + w), LONG)
                        .expect("room made");
                    Instant::now()
                })
            })
            .collect();
        server.until_clients_wait(2);
        let freed_at = Instant::now();
        assert_eq!(
            market
                .add_many_to_cart(cart, &item("tea", 0), 2)
                .expect("open"),
            2
        );
        for waiter in waiters {
            let woke = waiter.join().expect("waiter") - freed_at;
            assert!(
                woke < PROMPT,
                "a producer woke {woke:?} after the room was made"
            );
        }
    });

    // Three consumers wait for coffee; one batch of three serves them all.
    let carts: Vec<_> = (0..3).map(|_| market.new_cart().expect("cart")).collect();
    let roaster = market.register_producer().expect("register");
    thread::scope(|s| {
        let waiters: Vec<_> = carts
            .iter()
            .map(|&cart| {
                let market = &market;
                s.spawn(move || {
                    market
                        .add_to_cart_timeout(cart, &item("coffee", 0), LONG)
                        .expect("published");
                    Instant::now()
                })
            })
            .collect();
        server.until_clients_wait(3);
        let published_at = Instant::now();
        let coffees = (0..3).map(|serial| item("coffee", serial)).collect();
        // Capacity 2: the third waits for a consumer to take one.
        market
            .publish_many_timeout(roaster, coffees, LONG)
            .expect("consumers take");
        for waiter in waiters {
            let woke = waiter.join().expect("waiter") - published_at;
            assert!(woke < PROMPT, "a consumer woke {woke:?} after the publish");
        }
    });
    assert_eq!(sizes(&market), (2, 5, 4));
}

#[test]
fn closing_ends_batch_waits_with_what_they_moved() {
    let server = RedisServer::start();
    let market = own_market(&server, 2);
    let grower = market.register_producer().expect("register");
    let roaster = market.register_producer().expect("register");
    market.publish(grower, item("tea", 0)).expect("room");
    market.publish(roaster, item("coffee", 0)).expect("room");
    let cart = market.new_cart().expect("cart");
    thread::scope(|s| {
        // Takes the one coffee, then waits for two more.
        let adder = s.spawn(|| market.add_many_to_cart_timeout(cart, &item("coffee", 0), 3, LONG));
        // Publishes tea 1 in the last place, then waits for room for tea 2.
        let publisher = s.spawn(|| market.publish_many_timeout(grower, teas(1..3), LONG));
        server.until_clients_wait(2);
        market.close().expect("close");
        assert_eq!(adder.join().expect("adder").expect("open"), 1);
        match publisher.join().expect("publisher") {
            Err(PublishError::Full(rest)) => assert_eq!(rest, [item("tea", 2)]),
            other => panic!("expected Full with tea 2, got {other:?}"),
        }
    });
    assert_eq!(market.shelf_len(grower).expect("shelf"), Some(2));
    assert_eq!(sizes(&market), (2, 1, 1));
}

/// A batch far larger than what one Lua call can take as arguments (about 8,000): the
/// scripts push in slices, so any size goes through whole.
#[test]
fn a_batch_of_twenty_thousand_goes_through_whole() {
    const COUNT: u64 = 20_000;
    let market = market("batch-large", COUNT as usize);
    let producer = market.register_producer().expect("register");
    // Display, not Debug: the error would carry all 20,000 products.
    if let Err(error) = market.publish_many(producer, teas(0..COUNT)) {
        panic!("publish_many: {error}");
    }
    assert_eq!(sizes(&market), (COUNT as usize, 0, 0));
    let cart = market.new_cart().expect("cart");
    let added = market
        .add_many_to_cart(cart, &item("tea", 0), COUNT as usize)
        .expect("open");
    assert_eq!(added, COUNT as usize);
    let order = market.place_order(cart).expect("open");
    assert!(order == teas(0..COUNT), "not every item, or not in order");
    assert_eq!(sizes(&market), (0, 0, 0));
    market.delete().expect("delete");
}

/// A count no list can hold (`usize::MAX`: "as many as there are") takes what is on sale.
#[test]
fn a_count_past_any_list_takes_every_item_on_sale() {
    let market = market("batch-all", 4);
    let producer = market.register_producer().expect("register");
    market.publish_many(producer, teas(0..3)).expect("room");
    let cart = market.new_cart().expect("cart");
    let added = market
        .add_many_to_cart(cart, &item("tea", 0), usize::MAX)
        .expect("open");
    assert_eq!(added, 3);
    assert_eq!(market.place_order(cart).expect("open"), teas(0..3));
    market.delete().expect("delete");
}

/// A batch of takes rings a token per place freed, for as many publishers as wait for the
/// producer's room and no more; a publish takes the tokens of the places it fills, so no
/// publisher is later woken for a place that is gone.
#[test]
fn a_publish_takes_the_wake_up_tokens_of_the_places_it_fills() {
    let market = market("batch-room-tokens", 2);
    let producer = market.register_producer().expect("register");
    let mut watch = shared_server().connection();
    let room = format!(
        "marketplace:{{{}}}:room:{}",
        market.name(),
        producer.index()
    );
    let tokens = |watch: &mut redis::Connection| -> u64 {
        redis::cmd("LLEN").arg(&room).query(watch).expect("LLEN")
    };
    let take_both = || {
        let cart = market.new_cart().expect("cart");
        assert_eq!(
            market
                .add_many_to_cart(cart, &item("tea", 0), 2)
                .expect("open"),
            2
        );
    };
    market.publish_many(producer, teas(0..2)).expect("room");
    take_both();
    assert_eq!(tokens(&mut watch), 0, "nobody waits: no token");

    market.publish_many(producer, teas(2..4)).expect("room");
    // Two publishers waiting for the producer's room, as two waiting publishes that found
    // it full register; set by hand, since real waiters would take the tokens counted here.
    let waiting = format!("marketplace:{{{}}}:waiting", market.name());
    redis::cmd("HSET")
        .arg(&waiting)
        .arg(producer.index())
        .arg(2)
        .exec(&mut watch)
        .expect("HSET");
    take_both();
    assert_eq!(tokens(&mut watch), 2, "a token per place freed");
    market.publish(producer, item("tea", 4)).expect("room");
    assert_eq!(tokens(&mut watch), 1, "one place left");
    market.publish_many(producer, teas(5..6)).expect("room");
    assert_eq!(tokens(&mut watch), 0, "no place left");
    market.delete().expect("delete");
}

/// A batch wait that fails after moving items says how many it moved: here the cart is
/// ordered (with the item moved so far) while the wait sleeps for more.
#[test]
fn a_batch_wait_that_fails_says_how_many_it_had_added() {
    let server = RedisServer::start();
    let market = own_market(&server, 2);
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 0)).expect("room");
    let cart = market.new_cart().expect("cart");
    thread::scope(|s| {
        let adder = s.spawn(|| market.add_many_to_cart_timeout(cart, &item("tea", 0), 3, LONG));
        server.until_clients_wait(1);
        assert_eq!(market.place_order(cart).expect("open"), [item("tea", 0)]);
        // The next arrival wakes the adder, whose cart is gone.
        market.publish(producer, item("tea", 1)).expect("room");
        let error = adder
            .join()
            .expect("adder")
            .expect_err("the cart was ordered");
        assert_eq!(error.added(), 1);
        assert!(matches!(error.error(), AddError::UnknownCart));
    });
    assert_eq!(market.available(&item("tea", 0)).expect("available"), 1);
}
