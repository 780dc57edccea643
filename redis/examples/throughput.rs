//! Throughput of the Redis market: items per second through publish, new_cart,
//! add_to_cart and place_order (carts of one item, four kinds) on a `redis-server` this
//! example starts on a loopback port, with 1 connection and with 16.
//!
//! ```text
//! cargo run --release -p marketplace-redis --example throughput [-- --items N]
//! ```
//!
//! With 1 connection one thread publishes an item, opens a cart, adds the item and orders
//! it, again and again. With 16, eight producer threads and eight consumer threads share
//! one handle, whose pool then holds 16 connections. Each configuration runs 3 times on a
//! fresh market and the median is printed as `connections=C items_per_s=N`. Every run
//! checks that each item was ordered once and the market ended empty. The "Redis backend"
//! section of docs/performance.md records the figures and where the time goes.

use std::borrow::Cow;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use marketplace_harness::redis_server::RedisServer;
use marketplace_redis::{CanonicalKey, RedisMarketplace};
use serde::{Deserialize, Serialize};

/// Items per run unless `--items` says otherwise: about 2 to 3 seconds for the slower
/// configuration on a 2-core machine.
const DEFAULT_ITEMS: u64 = 5_000;

const KINDS: [&str; 4] = ["tea", "coffee", "cocoa", "mate"];

/// Room for each producer: enough that producers rarely wait on their consumers.
const CAPACITY: usize = 64;

/// Longer than any wait a healthy run meets.
const PATIENCE: Duration = Duration::from_secs(30);

const RUNS: usize = 3;

/// Equal by kind (one queue per kind on the server); the serial is the payload.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    kind: String,
    serial: u64,
}

impl Item {
    fn new(kind: &str, serial: u64) -> Item {
        Item {
            kind: kind.to_owned(),
            serial,
        }
    }
}

impl CanonicalKey for Item {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.kind)
    }
}

type Market = RedisMarketplace<Item>;

fn main() -> ExitCode {
    let items = match parse_args(std::env::args().skip(1)) {
        Ok(Some(items)) => items,
        Ok(None) => {
            println!("usage: throughput [--items N]   (N > 0, default {DEFAULT_ITEMS})");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("throughput: {message} (usage: throughput [--items N])");
            return ExitCode::from(2);
        }
    };
    let server = RedisServer::start();
    let mut market_number = 0;
    for connections in [1usize, 16] {
        let mut rates: Vec<f64> = (0..RUNS)
            .map(|_| {
                market_number += 1;
                let name = format!("throughput-{market_number}");
                let market = Market::connect(&server.url(), &name, CAPACITY)
                    .unwrap_or_else(|e| panic!("connect to the example's server: {e}"));
                let rate = run(&market, connections, items);
                market.delete().expect("delete the run's market");
                rate
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        println!(
            "connections={connections} items_per_s={:.0}",
            rates[RUNS / 2]
        );
    }
    ExitCode::SUCCESS
}

/// `Ok(None)` asks for the usage text.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<u64>, String> {
    let mut items = DEFAULT_ITEMS;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--items" => args.next().ok_or("--items needs a number")?,
            other => match other.strip_prefix("--items=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        };
        items = match value.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "--items wants a whole number above 0, not {value:?}"
                ));
            }
        };
    }
    Ok(Some(items))
}

/// One run; items per second.
fn run(market: &Market, connections: usize, items: u64) -> f64 {
    let started = Instant::now();
    let ordered = match connections {
        1 => one_connection(market, items),
        _ => many_connections(market, connections / 2, items),
    };
    let elapsed = started.elapsed();
    assert_eq!(ordered, items, "every item is ordered once");
    let stats = market.stats().expect("stats");
    assert_eq!(
        (
            stats.items_on_shelves,
            stats.items_in_carts,
            stats.open_carts
        ),
        (0, 0, 0),
        "the market ends empty"
    );
    items as f64 / elapsed.as_secs_f64()
}

/// One thread: publish, new_cart, add_to_cart, place_order, item after item.
fn one_connection(market: &Market, items: u64) -> u64 {
    let producer = market.register_producer().expect("register");
    let mut ordered = 0;
    for serial in 0..items {
        let kind = KINDS[serial as usize % KINDS.len()];
        market
            .publish(producer, Item::new(kind, serial))
            .expect("publish");
        let cart = market.new_cart().expect("new_cart");
        market
            .add_to_cart(cart, &Item::new(kind, 0))
            .expect("the item just published");
        let order = market.place_order(cart).expect("place_order");
        assert_eq!(order.len(), 1);
        ordered += 1;
    }
    ordered
}

/// `pairs` producer threads and as many consumer threads on one handle. Producer `p` and
/// consumer `p` deal in kind `p % 4` and in the same share of the items, so every consumer
/// knows when it is done.
fn many_connections(market: &Market, pairs: usize, items: u64) -> u64 {
    let share = |p: usize| items / pairs as u64 + u64::from((p as u64) < items % pairs as u64);
    thread::scope(|scope| {
        for p in 0..pairs {
            scope.spawn(move || {
                let producer = market.register_producer().expect("register");
                let kind = KINDS[p % KINDS.len()];
                for serial in 0..share(p) {
                    market
                        .publish_timeout(producer, Item::new(kind, serial), PATIENCE)
                        .expect("consumers take items in time");
                }
            });
        }
        let consumers: Vec<_> = (0..pairs)
            .map(|c| {
                scope.spawn(move || {
                    let wanted = Item::new(KINDS[c % KINDS.len()], 0);
                    let mut ordered = 0;
                    for _ in 0..share(c) {
                        let cart = market.new_cart().expect("new_cart");
                        market
                            .add_to_cart_timeout(cart, &wanted, PATIENCE)
                            .expect("producers publish in time");
                        ordered += market.place_order(cart).expect("place_order").len() as u64;
                    }
                    ordered
                })
            })
            .collect();
        consumers
            .into_iter()
            .map(|consumer| consumer.join().expect("a consumer panicked"))
            .sum()
    })
}
