//! Handles of different product types on one market: an item one type published can land
//! in a cart of another type whose canonical key collides with it (`String` `"5"` and
//! `u32` `5`, or two structs keyed by a shared field), and its order must not lose it; nor
//! must an order holding what another client wrote into the market's keys, nor a return
//! that meets such a line; and a product whose JSON form does not read back is refused at
//! publish.

use std::borrow::Cow;
use std::time::Duration;

use marketplace_contract::Market;
use marketplace_harness::redis_server::{RedisServer, fresh_market_name, shared_server};
use marketplace_redis::{
    CanonicalKey, CartId, OrderError, ProducerId, PublishError, RedisMarketplace, RemoveError,
    UndecodableOrder,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Tea {
    name: String,
    grams: u32,
}

impl CanonicalKey for Tea {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Coffee {
    origin: String,
}

impl CanonicalKey for Coffee {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.origin)
    }
}

/// A `u32` handle's cart takes a `String` handle's `"5"` (both keyed `5`): the order is
/// placed, and the error gives the item back as stored, naming where it failed.
#[test]
fn an_order_that_does_not_decode_loses_no_item() {
    let name = fresh_market_name("decoding");
    let server = shared_server();
    let words = RedisMarketplace::<String>::connect(&server.url(), &name, 4).expect("connect");
    let numbers = RedisMarketplace::<u32>::connect(&server.url(), &name, 4).expect("connect");
    let producer = words.register_producer().expect("register");
    words.publish(producer, "5".to_owned()).expect("room");
    let cart = numbers.new_cart().expect("cart");
    numbers.add_to_cart(cart, &5).expect("on sale under key 5");

    let error = numbers.place_order(cart).expect_err("\"5\" is not a u32");
    let message = error.to_string();
    let OrderError::Undecodable(order) = error else {
        panic!("not Undecodable: {message}")
    };
    for part in [
        "place_order",
        &format!("redis server 127.0.0.1:{}", server.port()),
        &format!("item 1 of 1 in {cart}"),
        "expected u32",
        "the order is placed",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    assert_eq!(order.position(), 0);
    assert_eq!(order.cart(), cart);
    let back: Vec<String> = order
        .into_items()
        .iter()
        .map(|stored| serde_json::from_slice(stored).expect("a String's form"))
        .collect();
    assert_eq!(back, ["5"]);
    // The order was placed: the item left the market, and the cart is spent.
    let stats = numbers.stats().expect("stats");
    assert_eq!((stats.items_on_shelves, stats.items_in_carts), (0, 0));
    assert!(matches!(
        numbers.place_order(cart),
        Err(OrderError::UnknownCart)
    ));
    words.delete().expect("deleted");
}

/// Two struct types keyed by a shared name: a `Coffee` cart holding a coffee and then a tea
/// gets both back as stored, the coffee included, with the tea's place named; the contract
/// trait's failure holds them too.
#[test]
fn colliding_struct_types_get_their_order_back_whole() {
    let name = fresh_market_name("decoding");
    let url = shared_server().url();
    let teas = RedisMarketplace::<Tea>::connect(&url, &name, 4).expect("connect");
    let coffees = RedisMarketplace::<Coffee>::connect(&url, &name, 4).expect("connect");
    let tea = Tea {
        name: "kenya".to_owned(),
        grams: 50,
    };
    let coffee = Coffee {
        origin: "kenya".to_owned(),
    };
    for through_the_trait in [false, true] {
        let producer = coffees.register_producer().expect("register");
        coffees.publish(producer, coffee.clone()).expect("room");
        teas.publish(producer, tea.clone()).expect("room");
        let cart = coffees.new_cart().expect("cart");
        assert_eq!(coffees.add_many_to_cart(cart, &coffee, 2).expect("both"), 2);

        let order = if through_the_trait {
            let failure =
                Market::try_place_order(&coffees, cart).expect_err("a tea is not a coffee");
            assert!(failure.to_string().contains("item 2 of 2"), "{failure}");
            failure
                .into_undecodable_order()
                .expect("the failure holds the order")
        } else {
            match coffees.place_order(cart) {
                Err(OrderError::Undecodable(order)) => order,
                other => panic!("not Undecodable: {other:?}"),
            }
        };
        assert_eq!(order.position(), 1);
        let items = order.items();
        assert_eq!(items.len(), 2);
        assert_eq!(
            serde_json::from_slice::<Coffee>(&items[0]).expect("a coffee"),
            coffee
        );
        assert_eq!(
            serde_json::from_slice::<Tea>(&items[1]).expect("a tea"),
            tea
        );
    }
    teas.delete().expect("deleted");
}

/// An item whose stored form is not UTF-8 (only another client writing under the market's
/// keys can put one there) is held as stored, bytes and all, beside the items that decode.
#[test]
fn an_item_that_is_not_utf8_is_kept_as_stored() {
    let server = shared_server();
    let (market, name, producer) = a_market_with_a_tea_on_sale(server);
    let foreign: &[u8] = b"\xff\xfe";
    let mut entry = format!("{}|", producer.index()).into_bytes();
    entry.extend_from_slice(foreign);
    let _: i64 = redis::cmd("RPUSH")
        .arg(format!("marketplace:{{{name}}}:q:tea"))
        .arg(entry)
        .query(&mut server.connection())
        .expect("a foreign write");
    let cart = market.new_cart().expect("cart");
    assert_eq!(market.add_many_to_cart(cart, "tea", 2).expect("both"), 2);

    let order = undecodable_order(&market, cart);
    assert_eq!(order.position(), 1);
    let items = order.items();
    assert_eq!(items.len(), 2);
    let tea = serde_json::to_vec("tea").expect("a String's form");
    assert_eq!(items[0], tea);
    assert_eq!(items[1], foreign);
    market.delete().expect("deleted");
}

/// A line of a cart without the market's shape (only another client writing under the
/// market's keys can put one there) is held whole, as stored, beside the items that decode:
/// the order does not fail with the cart spent and its items nowhere.
#[test]
fn a_cart_line_without_the_markets_shape_is_kept_as_stored() {
    let server = shared_server();
    let (market, name, _) = a_market_with_a_tea_on_sale(server);
    let cart = market.new_cart().expect("cart");
    market.add_to_cart(cart, "tea").expect("on sale");
    let foreign: &[u8] = b"no colon, no bar";
    let _: i64 = redis::cmd("RPUSH")
        .arg(format!("marketplace:{{{name}}}:cart:{}", cart.serial()))
        .arg(foreign)
        .query(&mut server.connection())
        .expect("a foreign write");

    let order = undecodable_order(&market, cart);
    assert_eq!(order.position(), 1);
    let tea = serde_json::to_vec("tea").expect("a String's form");
    assert_eq!(order.items(), [tea.as_slice(), foreign]);
    market.delete().expect("deleted");
}

/// Returning an item finds the cart's first line of the product's key: one that has the key
/// but not the rest of the market's shape (another client's write) fails the call with the
/// cart as it was, rather than after the line was taken out of it, gone from every list.
#[test]
fn a_return_that_meets_a_cart_line_without_the_markets_shape_changes_nothing() {
    let server = shared_server();
    let (market, name, _) = a_market_with_a_tea_on_sale(server);
    let cart = market.new_cart().expect("cart");
    market.add_to_cart(cart, "tea").expect("on sale");
    let lines = format!("marketplace:{{{name}}}:cart:{}", cart.serial());
    let mut watch = server.connection();
    let cart_lines = |watch: &mut redis::Connection| -> Vec<Vec<u8>> {
        redis::cmd("LRANGE")
            .arg(&lines)
            .arg(0)
            .arg(-1)
            .query(watch)
            .expect("LRANGE")
    };
    // The key's own prefix, then no producer and bar, and then a producer that is no number.
    for foreign in ["3:tea, no bar", "3:teanot a number|\"tea\""] {
        let _: i64 = redis::cmd("LPUSH")
            .arg(&lines)
            .arg(foreign)
            .query(&mut watch)
            .expect("a foreign write");
        let before = cart_lines(&mut watch);
        let stats = market.stats().expect("stats");
        match market.remove_from_cart(cart, "tea") {
            Err(RemoveError::Connection(error)) => assert!(
                error.to_string().contains("line 1 of cart"),
                "{foreign:?}: {error}"
            ),
            other => panic!("{foreign:?}: {other:?}"),
        }
        let after = cart_lines(&mut watch);
        assert_eq!(after, before, "{foreign:?}: the cart changed");
        assert_eq!(market.stats().expect("stats"), stats, "{foreign:?}");
    }
    market.delete().expect("deleted");
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Priced {
    name: String,
    price: f64,
}

impl CanonicalKey for Priced {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

/// A product whose JSON form does not read back as its type (serde_json writes a float that
/// is not finite as `null`, which no `f64` reads) is refused at publish, each form of it,
/// with the product given back and nothing on sale, rather than put on sale to fail the
/// order of whoever takes it.
#[test]
fn a_product_whose_json_form_does_not_read_back_is_refused_at_publish() {
    let server = shared_server();
    let name = fresh_market_name("unreadable");
    let market = RedisMarketplace::<Priced>::connect(&server.url(), &name, 4).expect("connect");
    let producer = market.register_producer().expect("register");
    let tea = |price| Priced {
        name: "tea".to_owned(),
        price,
    };
    let wait = Duration::from_millis(1);
    let last = |products: Vec<Priced>| products.last().map(|product| product.price);
    for price in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let outcomes = [
            (
                "publish",
                refusal(market.publish(producer, tea(price)), |p| Some(p.price)),
            ),
            (
                "publish_timeout",
                refusal(market.publish_timeout(producer, tea(price), wait), |p| {
                    Some(p.price)
                }),
            ),
            (
                "publish_many",
                refusal(
                    market.publish_many(producer, vec![tea(1.0), tea(price)]),
                    last,
                ),
            ),
            (
                "publish_many_timeout",
                refusal(
                    market.publish_many_timeout(producer, vec![tea(1.0), tea(price)], wait),
                    last,
                ),
            ),
        ];
        for (call, (back, error)) in outcomes {
            assert!(error.contains("read back"), "{call} {price}: {error}");
            assert_eq!(
                back.map(f64::to_bits),
                Some(price.to_bits()),
                "{call} {price}"
            );
        }
    }
    assert_eq!(market.stats().expect("stats").items_on_shelves, 0);
    market.delete().expect("deleted");
}

/// A publish's outcome, which must be a `Connection` error: the price of the (last) product
/// given back, as `price` reads it, and the error's message.
fn refusal<T: std::fmt::Debug>(
    outcome: Result<(), PublishError<T>>,
    price: impl Fn(T) -> Option<f64>,
) -> (Option<f64>, String) {
    match outcome {
        Err(PublishError::Connection(products, error)) => (price(products), error.to_string()),
        other => (None, format!("not a Connection error: {other:?}")),
    }
}

/// A `String` market of a fresh name on the shared server, with one producer and a
/// `"tea"` on sale: its handle, its name and the producer.
fn a_market_with_a_tea_on_sale(
    server: &RedisServer,
) -> (RedisMarketplace<String>, String, ProducerId) {
    let name = fresh_market_name("decoding");
    let market = RedisMarketplace::<String>::connect(&server.url(), &name, 4).expect("connect");
    let producer = market.register_producer().expect("register");
    market.publish(producer, "tea".to_owned()).expect("room");
    (market, name, producer)
}

/// The order of `cart`, which must fail as `Undecodable`: the order as stored.
fn undecodable_order(market: &RedisMarketplace<String>, cart: CartId) -> UndecodableOrder {
    match market.place_order(cart) {
        Err(OrderError::Undecodable(order)) => order,
        other => panic!("not Undecodable: {other:?}"),
    }
}
