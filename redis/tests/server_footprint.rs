//! What a market leaves on the server: a long steady run does not grow it, and what stays
//! once every cart is ordered and every handle dropped is a fixed handful of keys.

use std::collections::BTreeMap;

use marketplace_harness::redis_server::{RedisServer, info_field};
use marketplace_redis::RedisMarketplace;

/// Each key of the server with its number of elements (list, hash or set entries).
fn footprint(connection: &mut redis::Connection) -> BTreeMap<String, u64> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(connection).expect("KEYS");
    keys.into_iter()
        .map(|key| {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query(connection)
                .expect("TYPE");
            let size = match kind.as_str() {
                "list" => "LLEN",
                "hash" => "HLEN",
                "set" => "SCARD",
                other => panic!("{key} is a {other}, which no market writes"),
            };
            let count: u64 = redis::cmd(size).arg(&key).query(connection).expect(size);
            (key, count)
        })
        .collect()
}

fn used_memory(connection: &mut redis::Connection) -> u64 {
    info_field(connection, "memory", "used_memory").expect("INFO memory has used_memory")
}

/// Publish, add and order, one item a round, on a producer with room to spare: after
/// 100,000 rounds the server holds the keys and elements it held after 1,000, and its memory
/// has not grown with the rounds.
#[test]
fn a_long_steady_run_does_not_grow_the_server() {
    const ROUNDS: u32 = 100_000;
    let server = RedisServer::start();
    let mut watch = server.connection();
    let market =
        RedisMarketplace::<String>::connect(&server.url(), "steady", 1_000_000).expect("connect");
    let producer = market.register_producer().expect("register");
    let tea = "tea".to_owned();
    let mut early = None;
    for round in 1..=ROUNDS {
        market.publish(producer, tea.clone()).expect("room");
        let cart = market.new_cart().expect("cart");
        market.add_to_cart(cart, &tea).expect("on sale");
        assert_eq!(market.place_order(cart).expect("open"), [tea.as_str()]);
        if round == 1_000 {
            early = Some((footprint(&mut watch), used_memory(&mut watch)));
        }
    }
    let (early_keys, early_memory) = early.expect("taken at round 1,000");
    let late_keys = footprint(&mut watch);
    let late_memory = used_memory(&mut watch);
    assert_eq!(
        late_keys, early_keys,
        "keys and their sizes, rounds 1,000 and {ROUNDS}"
    );
    // The run's growth, were it a byte per round, would be 99 KB; allocator noise is less.
    assert!(
        late_memory < early_memory + 64 * 1024,
        "used_memory grew from {early_memory} to {late_memory} bytes"
    );
}

/// Publishers that wait for room and give up (their time passes, or the market closes)
/// leave no count of waiters behind, so later takes ring nobody.
#[test]
fn publishers_that_stop_waiting_leave_no_waiters_counted() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    let market = RedisMarketplace::<String>::connect(&server.url(), "gone", 2).expect("connect");
    let producer = market.register_producer().expect("register");
    let tea = "tea".to_owned();
    market
        .publish_many(producer, vec![tea.clone(); 2])
        .expect("room");
    let short = std::time::Duration::from_millis(20);
    assert!(
        market
            .publish_timeout(producer, tea.clone(), short)
            .is_err()
    );
    assert!(
        market
            .publish_many_timeout(producer, vec![tea.clone(); 3], short)
            .is_err()
    );
    market.close().expect("close");
    assert!(
        market
            .publish_timeout(producer, tea.clone(), short)
            .is_err()
    );
    let cart = market.new_cart().expect("cart");
    assert_eq!(market.add_many_to_cart(cart, &tea, 2).expect("open"), 2);
    let left: Vec<String> = redis::cmd("KEYS")
        .arg("marketplace:{gone}:*")
        .query(&mut watch)
        .expect("KEYS");
    let mut left: Vec<&str> = left
        .iter()
        .map(|key| key.trim_start_matches("marketplace:{gone}:"))
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        ["cart:0", "closing", "meta", "open", "ops", "shelf"],
        "no waiters counted, no room tokens"
    );
}

/// Names that look alike, or hold characters special to keys or patterns, name markets of
/// their own; products that hold the layout's separators, or a megabyte, come back whole.
#[test]
fn names_and_products_that_look_like_the_layout_stay_apart() {
    let server = RedisServer::start();
    let long = "n".repeat(10_000);
    let names = [
        "a",
        "a:b",
        "a:",
        "a*",
        "a?",
        "a[b]",
        "a b",
        "ä名",
        long.as_str(),
    ];
    let products = [
        "1|x".to_owned(),
        "3:abc".to_owned(),
        "|".to_owned(),
        String::new(),
        "\u{0}\u{7f}\"\\".to_owned(),
        "m".repeat(1 << 20),
    ];
    let markets: Vec<_> = names
        .iter()
        .map(|name| RedisMarketplace::<String>::connect(&server.url(), name, 8).expect(name))
        .collect();
    for (n, market) in markets.iter().enumerate() {
        let producer = market.register_producer().expect("register");
        for product in &products[..=n % products.len()] {
            market.publish(producer, product.clone()).expect("room");
        }
    }
    for (n, market) in markets.iter().enumerate() {
        let mine = &products[..=n % products.len()];
        assert_eq!(market.stats().expect("stats").items_on_shelves, mine.len());
        let cart = market.new_cart().expect("cart");
        for product in mine {
            market.add_to_cart(cart, product).expect("on sale");
        }
        market
            .remove_from_cart(cart, &mine[0])
            .expect("in the cart");
        market.add_to_cart(cart, &mine[0]).expect("on sale again");
        let mut expected = mine[1..].to_vec();
        expected.push(mine[0].clone());
        assert_eq!(market.place_order(cart).expect("open"), expected);
    }
    for name in ["", "{a}", "a}", "a\n"] {
        assert!(RedisMarketplace::<String>::connect(&server.url(), name, 8).is_err());
    }
}
