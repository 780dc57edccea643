//! Throughput of the Redis market: items per second through publish, new_cart, add and
//! place_order (four kinds) on a `redis-server` this example starts on a loopback port,
//! with 1 connection and with 16, one item per call and in batches.
//!
//! ```text
//! cargo run --release -p marketplace-redis --example throughput [-- --items N] [--batch B]
//! ```
//!
//! With 1 connection one thread publishes, opens a cart, adds and orders, again and again.
//! With 16, eight producer threads and eight consumer threads share one handle, whose pool
//! then holds 16 connections. `batch=1` moves one item per call (`publish`, `add_to_cart`,
//! carts of one item); `batch=B` moves B (`publish_many`, `add_many_to_cart`, carts of B
//! items) and B times as many items, so its runs last about as long. Each configuration
//! runs 3 times on a fresh market and the median is printed as
//! `connections=C batch=B items_per_s=N`. Every run checks that each item was ordered once
//! and the market ended empty. The "Redis backend" section of docs/performance.md records
//! the figures and where the time goes.

use std::borrow::Cow;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use marketplace_harness::redis_server::RedisServer;
use marketplace_redis::{CanonicalKey, RedisMarketplace};
use serde::{Deserialize, Serialize};

/// Items per run of one item per call unless `--items` says otherwise (batched runs move
/// `batch` times as many): about 2 seconds for the slowest configuration on a 2-core
/// machine.
const DEFAULT_ITEMS: u64 = 5_000;

/// Items per call in the batched configurations unless `--batch` says otherwise.
const DEFAULT_BATCH: u64 = 16;

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
    const USAGE: &str = "usage: throughput [--items N] [--batch B]";
    let Options { items, batch } = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!(
                "{USAGE}   (N, B > 0; defaults {DEFAULT_ITEMS} items, batches of {DEFAULT_BATCH})"
            );
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("throughput: {message} ({USAGE})");
            return ExitCode::from(2);
        }
    };
    let server = RedisServer::start();
    let mut market_number = 0;
    for batch in [1, batch] {
        for connections in [1usize, 16] {
            let mut rates: Vec<f64> = (0..RUNS)
                .map(|_| {
                    market_number += 1;
                    let name = format!("throughput-{market_number}");
                    let market = Market::connect(&server.url(), &name, CAPACITY)
                        .unwrap_or_else(|e| panic!("connect to the example's server: {e}"));
                    let rate = run(&market, connections, items * batch, batch);
                    market.delete().expect("delete the run's market");
                    rate
                })
                .collect();
            rates.sort_by(f64::total_cmp);
            println!(
                "connections={connections} batch={batch} items_per_s={:.0}",
                rates[RUNS / 2]
            );
        }
    }
    ExitCode::SUCCESS
}

struct Options {
    items: u64,
    batch: u64,
}

/// `Ok(None)` asks for the usage text.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        items: DEFAULT_ITEMS,
        batch: DEFAULT_BATCH,
    };
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let target = match flag.as_str() {
            "--items" => &mut options.items,
            "--batch" => &mut options.batch,
            _ => return Err(format!("unknown argument {arg:?}")),
        };
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or(format!("{flag} needs a number"))?,
        };
        *target = match value.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "{flag} wants a whole number above 0, not {value:?}"
                ));
            }
        };
    }
    Ok(Some(options))
}

/// One run; items per second.
fn run(market: &Market, connections: usize, items: u64, batch: u64) -> f64 {
    let started = Instant::now();
    let ordered = match connections {
        1 => one_connection(market, items, batch),
        _ => many_connections(market, connections / 2, items, batch),
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

/// The items of serials `serials` of one kind.
fn items_of(kind: &str, serials: std::ops::Range<u64>) -> Vec<Item> {
    serials.map(|serial| Item::new(kind, serial)).collect()
}

/// One thread: publish, new_cart, add, place_order, `batch` items at a time.
fn one_connection(market: &Market, items: u64, batch: u64) -> u64 {
    let producer = market.register_producer().expect("register");
    let mut ordered = 0;
    let mut round = 0;
    while ordered < items {
        let kind = KINDS[round % KINDS.len()];
        round += 1;
        let count = batch.min(items - ordered);
        let cart = if batch == 1 {
            market
                .publish(producer, Item::new(kind, ordered))
                .expect("publish");
            let cart = market.new_cart().expect("new_cart");
            market
                .add_to_cart(cart, &Item::new(kind, 0))
                .expect("the item just published");
            cart
        } else {
            market
                .publish_many(producer, items_of(kind, ordered..ordered + count))
                .expect("publish");
            let cart = market.new_cart().expect("new_cart");
            let added = market
                .add_many_to_cart(cart, &Item::new(kind, 0), count as usize)
                .expect("add");
            assert_eq!(added as u64, count, "the items just published");
            cart
        };
        let order = market.place_order(cart).expect("place_order");
        assert_eq!(order.len() as u64, count);
        ordered += count;
    }
    ordered
}

/// `pairs` producer threads and as many consumer threads on one handle, `batch` items per
/// call. Producer `p` and consumer `p` deal in kind `p % 4` and in the same share of the
/// items, so every consumer knows when it is done.
fn many_connections(market: &Market, pairs: usize, items: u64, batch: u64) -> u64 {
    let share = |p: usize| items / pairs as u64 + u64::from((p as u64) < items % pairs as u64);
    thread::scope(|scope| {
        for p in 0..pairs {
            scope.spawn(move || {
                let producer = market.register_producer().expect("register");
                let kind = KINDS[p % KINDS.len()];
                let mut published = 0;
                while published < share(p) {
                    let count = batch.min(share(p) - published);
                    let published_in_time = if batch == 1 {
                        let product = Item::new(kind, published);
                        market.publish_timeout(producer, product, PATIENCE).is_ok()
                    } else {
                        let products = items_of(kind, published..published + count);
                        market
                            .publish_many_timeout(producer, products, PATIENCE)
                            .is_ok()
                    };
                    assert!(published_in_time, "consumers take items in time");
                    published += count;
                }
            });
        }
        let consumers: Vec<_> = (0..pairs)
            .map(|c| {
                scope.spawn(move || {
                    let wanted = Item::new(KINDS[c % KINDS.len()], 0);
                    let mut ordered = 0;
                    while ordered < share(c) {
                        let count = batch.min(share(c) - ordered);
                        let cart = market.new_cart().expect("new_cart");
                        if batch == 1 {
                            market
                                .add_to_cart_timeout(cart, &wanted, PATIENCE)
                                .expect("producers publish in time");
                        } else {
                            let added = market
                                .add_many_to_cart_timeout(cart, &wanted, count as usize, PATIENCE)
                                .expect("add");
                            assert_eq!(added as u64, count, "producers publish in time");
                        }
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
