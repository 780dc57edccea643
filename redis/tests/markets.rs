//! Markets side by side on one server: names that look alike in a key pattern stay apart
//! when one of them is deleted, which deletes another client's keys under its prefix whose
//! names are not UTF-8 too; a product too long for one Redis value is refused before
//! it is sent; a handle dropped leaves no record of its connections behind, also after
//! the server closed them; a market of `String`s is asked with a `&str`; an error for a
//! lost server tells it once along its `source` chain; a claim of names takes all of them
//! or none.

use std::error::Error;
use std::time::Duration;

use marketplace_contract::Market;
use marketplace_harness::redis_server::RedisServer;
use marketplace_redis::{MAX_ARGUMENT_BYTES, RedisMarketplace};

fn keys_of(connection: &mut redis::Connection, market: &str) -> usize {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(connection).expect("KEYS");
    let prefix = format!("marketplace:{{{market}}}:");
    keys.iter().filter(|key| key.starts_with(&prefix)).count()
}

#[test]
fn deleting_a_market_deletes_its_keys_and_no_others() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    // `?`, `*`, `[`, `]` and `\` mean something in a KEYS pattern; each name below would
    // match the keys of `axb` or miss its own if they were not escaped.
    for name in ["a?b", "a*b", "a[x]b", "a\\b"] {
        let bystander =
            RedisMarketplace::<String>::connect(&server.url(), "axb", 1).expect("connect");
        let producer = bystander.register_producer().expect("register");
        bystander.publish(producer, "tea".to_owned()).expect("room");

        let doomed = RedisMarketplace::<String>::connect(&server.url(), name, 1).expect("connect");
        let maker = doomed.register_producer().expect("register");
        doomed.publish(maker, "tea".to_owned()).expect("room");
        assert_eq!(doomed.claim(&["maker"]).expect("claim"), None);
        assert!(keys_of(&mut watch, name) > 0);
        doomed.delete().expect("deleted");

        assert_eq!(keys_of(&mut watch, name), 0, "{name:?} left keys behind");
        assert_eq!(
            bystander.available(&"tea".to_owned()).expect("axb"),
            1,
            "{name:?}"
        );
        bystander.delete().expect("deleted");
    }
}

/// Another client's key under the market's prefix whose name is not UTF-8 (Redis key
/// names are bytes) is deleted with the rest: `delete` is how an operator clears a market
/// another client wrote into, so such a key must not make it fail and leave every key. A
/// name with characters special to a pattern deletes its own such keys and not those of
/// a market whose name the pattern would match unescaped.
#[test]
fn deleting_a_market_deletes_keys_whose_names_are_not_utf8() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    let foreign = |name: &str| [format!("marketplace:{{{name}}}:").as_bytes(), b"\xff"].concat();
    let keys = |watch: &mut redis::Connection| -> Vec<Vec<u8>> {
        redis::cmd("KEYS").arg("*").query(watch).expect("KEYS")
    };
    for name in ["bytes", "a*b", "a[x]b"] {
        for market in [name, "axb"] {
            let market =
                RedisMarketplace::<String>::connect(&server.url(), market, 1).expect("connect");
            let producer = market.register_producer().expect("register");
            market.publish(producer, "tea".to_owned()).expect("room");
        }
        for market in [name, "axb"] {
            let _: () = redis::cmd("SET")
                .arg(foreign(market))
                .arg("x")
                .query(&mut watch)
                .expect("SET");
        }
        RedisMarketplace::<String>::connect(&server.url(), name, 1)
            .expect("connect")
            .delete()
            .unwrap_or_else(|e| panic!("{name:?}: delete failed: {e}"));
        let own = format!("marketplace:{{{name}}}:");
        let left = keys(&mut watch);
        assert!(
            !left.iter().any(|key| key.starts_with(own.as_bytes())),
            "{name:?}: keys left: {left:?}"
        );
        assert!(
            left.contains(&foreign("axb")),
            "{name:?} took axb's: {left:?}"
        );
        RedisMarketplace::<String>::connect(&server.url(), "axb", 1)
            .expect("connect")
            .delete()
            .expect("delete axb");
        assert!(keys(&mut watch).is_empty(), "axb left keys");
    }
}

/// A claim takes every name it asks for or none: a handle refused one name holds none of
/// the others, which stay free for another; its own names it may claim again. A name stays
/// claimed after its handle is gone, until the market is deleted.
#[test]
fn a_claim_takes_every_name_or_none() {
    let server = RedisServer::start();
    let connect =
        || RedisMarketplace::<String>::connect(&server.url(), "claims", 1).expect("connect");
    let first = connect();
    assert_eq!(first.claim(&["a", "b"]).expect("claim"), None);
    assert_eq!(first.claim(&["b"]).expect("claim"), None, "its own name");
    let second = connect();
    assert_eq!(
        second.claim(&["c", "b", "d"]).expect("claim"),
        Some("b".to_owned())
    );
    let third = connect();
    assert_eq!(third.claim(&["c", "d"]).expect("claim"), None, "left free");
    drop(first);
    assert_eq!(second.claim(&["a"]).expect("claim"), Some("a".to_owned()));
    third.delete().expect("deleted");
    assert_eq!(
        connect().claim(&["a", "b", "c", "d"]).expect("claim"),
        None,
        "a deleted market's names are free"
    );
}

/// Handles racing for overlapping names: one wins the name they share, and every other
/// holds none of the names it asked for.
#[test]
fn of_handles_racing_for_a_name_one_wins_and_the_others_claim_nothing() {
    let server = RedisServer::start();
    let handles: Vec<_> = (0..8)
        .map(|_| RedisMarketplace::<String>::connect(&server.url(), "race", 1).expect("connect"))
        .collect();
    let names: Vec<String> = (0..handles.len()).map(|i| format!("own{i}")).collect();
    let barrier = std::sync::Barrier::new(handles.len());
    let answers: Vec<Option<String>> = std::thread::scope(|s| {
        let racers: Vec<_> = handles
            .iter()
            .zip(&names)
            .map(|(handle, own)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    handle.claim(&[own, "shared"]).expect("claim")
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("racer"))
            .collect()
    });
    let winners = answers.iter().filter(|answer| answer.is_none()).count();
    assert_eq!(winners, 1, "{answers:?}");
    let losers: Vec<&str> = answers
        .iter()
        .zip(&names)
        .filter(|(answer, _)| answer.is_some())
        .map(|(answer, own)| {
            assert_eq!(answer.as_deref(), Some("shared"));
            own.as_str()
        })
        .collect();
    let bystander = RedisMarketplace::<String>::connect(&server.url(), "race", 1).expect("connect");
    assert_eq!(
        bystander.claim(&losers).expect("claim"),
        None,
        "a loser kept a name"
    );
}

/// A product longer than Redis takes in one value is refused before anything is sent,
/// with a message that says so; the product comes back, and the market goes on.
#[test]
fn a_product_longer_than_redis_takes_is_refused_before_sending() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<String>::connect(&server.url(), "long", 1).expect("connect");
    let producer = market.register_producer().expect("register");
    let long = "q".repeat(MAX_ARGUMENT_BYTES + 1);
    let error = market
        .publish(producer, long)
        .expect_err("too long for one Redis value");
    assert!(
        error.to_string().contains(&format!(
            "is more than the {MAX_ARGUMENT_BYTES} Redis takes"
        )),
        "{error}"
    );
    assert_eq!(error.into_product().len(), MAX_ARGUMENT_BYTES + 1);
    market.publish(producer, "tea".to_owned()).expect("room");
    assert_eq!(market.available(&"tea".to_owned()).expect("available"), 1);
    market.delete().expect("deleted");
}

fn recorded_lanes(connection: &mut redis::Connection, market: &str) -> usize {
    redis::cmd("HLEN")
        .arg(format!("marketplace:{{{market}}}:ops"))
        .query(connection)
        .expect("HLEN")
}

/// The server remembers each connection's last result, to answer a retried call; a handle
/// that goes away takes those records with it, so processes that come and go (a command
/// line run, a request handler) do not grow the server's memory, and another handle's
/// records stay.
#[test]
fn a_dropped_handle_leaves_no_records_of_its_calls() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    let stays = RedisMarketplace::<String>::connect(&server.url(), "shop", 4).expect("connect");
    let producer = stays.register_producer().expect("register");
    stays.publish(producer, "tea".to_owned()).expect("room");
    let kept = recorded_lanes(&mut watch, "shop");
    assert!(kept > 0, "the calls were recorded");

    let goes = RedisMarketplace::<String>::connect(&server.url(), "shop", 4).expect("connect");
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                // Three calls at once: three connections, three records.
                barrier.wait();
                let cart = goes.new_cart().expect("cart");
                goes.place_order(cart).expect("order");
            });
        }
    });
    assert!(recorded_lanes(&mut watch, "shop") > kept);
    drop(goes);
    assert_eq!(recorded_lanes(&mut watch, "shop"), kept);
    stays.delete().expect("deleted");
}

/// A handle whose connections the server has closed meanwhile (its idle `timeout`, a
/// `CLIENT KILL`, a restart that kept the data) still deletes its lanes' records when it
/// is dropped: the server answers, only the connection kept open is gone.
#[test]
fn a_handle_whose_connections_the_server_closed_leaves_no_records() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    let goes = RedisMarketplace::<String>::connect(&server.url(), "shop", 4).expect("connect");
    let producer = goes.register_producer().expect("register");
    goes.publish(producer, "tea".to_owned()).expect("room");
    assert!(
        recorded_lanes(&mut watch, "shop") > 0,
        "the calls were recorded"
    );
    assert!(
        server.close_client_connections() > 0,
        "the handle's connection was open"
    );
    drop(goes);
    // The watch's connection was closed too.
    let mut watch = server.connection();
    assert_eq!(recorded_lanes(&mut watch, "shop"), 0, "records left");
}

/// A market of `String`s asked with a `&str` finds the `String`s published: the borrowed
/// form's key is the product's.
#[test]
fn a_market_of_strings_is_asked_with_a_str() {
    let server = RedisServer::start();
    let market =
        RedisMarketplace::<String>::connect(&server.url(), "borrowed", 2).expect("connect");
    let producer = market.register_producer().expect("register");
    market.publish(producer, "tea".to_owned()).expect("room");
    market.publish(producer, "tea".to_owned()).expect("room");
    assert_eq!(market.available("tea").expect("available"), 2);
    let cart = market.new_cart().expect("cart");
    market.add_to_cart(cart, "tea").expect("on sale");
    market.remove_from_cart(cart, "tea").expect("in the cart");
    assert_eq!(market.add_many_to_cart(cart, "tea", 2).expect("on sale"), 2);
    assert_eq!(market.place_order(cart).expect("open"), ["tea", "tea"]);
    market.delete().expect("deleted");
}

/// Every call's error for a lost server leads to the client's error along its `source`
/// chain, and none of this crate's errors on the way repeats the one it wraps: a
/// `Connection` variant shows its connection error's message, so it stands in for it
/// rather than also giving it as its source (a report that walks the chain would print
/// the same line twice).
#[test]
fn an_error_chain_tells_a_lost_server_once() {
    let server = RedisServer::start();
    let url = server.url();
    let market = RedisMarketplace::<String>::connect(&url, "lost", 1)
        .expect("connect")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    let cart = market.new_cart().expect("cart");
    drop(server);
    let errors: Vec<Box<dyn Error>> = vec![
        Box::new(
            market
                .publish(producer, "tea".to_owned())
                .expect_err("lost"),
        ),
        Box::new(market.add_to_cart(cart, "tea").expect_err("lost")),
        Box::new(market.remove_from_cart(cart, "tea").expect_err("lost")),
        Box::new(market.place_order(cart).expect_err("lost")),
        Box::new(RedisMarketplace::<String>::connect(&url, "lost", 1).expect_err("lost")),
        Box::new(Market::try_publish(&market, producer, "tea".to_owned()).expect_err("lost")),
    ];
    for error in &errors {
        let mut current: &(dyn Error + 'static) = error.as_ref();
        // The client's own error and its sources are the client's business.
        while !current.is::<redis::RedisError>() {
            let source = current
                .source()
                .unwrap_or_else(|| panic!("no client error under {current:?}"));
            assert_ne!(current.to_string(), source.to_string(), "{error:?}");
            current = source;
        }
    }
}
