//! Waiting on a Redis market: a blocked waiter wakes within 10 ms of the arrival it waits
//! for (the server pushes the wake-up; nothing polls), a wait that nothing ends returns
//! within a tick of the server's clock after its timeout, and idle waiters cost under 1% of
//! a core, on the client and on the server.
//!
//! A waiter is known to be asleep when the server reports a blocked client (`INFO
//! clients`), which is the event the tests wait for before they publish; no sleep orders
//! anything.

use std::borrow::Cow;
use std::thread;
use std::time::{Duration, Instant};

use marketplace_harness::redis_server::{RedisServer, info_field, script_runs};
use marketplace_redis::{AddError, CanonicalKey, PublishError, RedisMarketplace};

/// A product of one kind: its text.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Tea(String);

impl CanonicalKey for Tea {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

fn tea() -> Tea {
    Tea("tea".to_owned())
}

/// A wait no passing test reaches: reaching it means a wake-up was lost.
const LONG: Duration = Duration::from_secs(30);

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

#[test]
fn a_blocked_waiter_wakes_within_10_ms_of_the_arrival() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Tea>::connect(&server.url(), "wake", 1).expect("connect");
    let producer = market.register_producer().expect("register");
    let mut consumer_delays = Vec::new();
    let mut producer_delays = Vec::new();
    for _ in 0..15 {
        // A consumer asleep for a tea: woken by the publish.
        let cart = market.new_cart().expect("cart");
        let (published_at, woke_at) = thread::scope(|s| {
            let waiter = s.spawn(|| {
                market
                    .add_to_cart_timeout(cart, &tea(), LONG)
                    .expect("added");
                Instant::now()
            });
            server.until_clients_wait(1);
            let published_at = Instant::now();
            market.publish(producer, tea()).expect("room");
            (published_at, waiter.join().expect("waiter"))
        });
        consumer_delays.push(woke_at - published_at);

        // The producer is full again: asleep for room, woken by a take.
        market.publish(producer, tea()).expect("room");
        let (taken_at, woke_at) = thread::scope(|s| {
            let waiter = s.spawn(|| {
                market
                    .publish_timeout(producer, tea(), LONG)
                    .expect("published");
                Instant::now()
            });
            server.until_clients_wait(1);
            let taken_at = Instant::now();
            market.add_to_cart(cart, &tea()).expect("on sale");
            (taken_at, waiter.join().expect("waiter"))
        });
        producer_delays.push(woke_at - taken_at);
        market.add_to_cart(cart, &tea()).expect("the last publish");
        assert_eq!(market.place_order(cart).expect("open").len(), 3);
    }
    let (consumer, producer) = (median(consumer_delays), median(producer_delays));
    println!("median wake-up: consumer {consumer:?}, producer {producer:?}");
    assert!(
        consumer < Duration::from_millis(10),
        "consumer woke after {consumer:?}"
    );
    assert!(
        producer < Duration::from_millis(10),
        "producer woke after {producer:?}"
    );
}

/// A wait that nothing ends returns after its timeout, within a tick of the server's
/// clock: the server ends a blocked pop as its event loop wakes, `hz` times a second (10 by
/// default), so a wait may end up to a tick late; `hz 100` makes the tick 10 ms. Each kind
/// of wait, the median of five, at both rates; the bound allows the tick and 15 ms for the
/// client's own work on a busy machine.
#[test]
fn a_wait_that_nothing_ends_returns_within_a_tick_of_the_servers_clock() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Tea>::connect(&server.url(), "ticks", 1).expect("connect");
    let producer = market.register_producer().expect("register");
    market.publish(producer, tea()).expect("room for one");
    let cart = market.new_cart().expect("cart");
    let coffee = Tea("coffee".to_owned());
    let timeout = Duration::from_millis(20);
    let waits: [(&str, &dyn Fn() -> bool); 5] = [
        ("add_to_cart_timeout", &|| {
            market.add_to_cart_timeout(cart, &coffee, timeout).is_err()
        }),
        ("add_many_to_cart_timeout", &|| {
            market
                .add_many_to_cart_timeout(cart, &coffee, 2, timeout)
                .is_ok_and(|added| added == 0)
        }),
        ("publish_timeout", &|| {
            market
                .publish_timeout(producer, tea(), timeout)
                .is_err_and(|e| e.is_full())
        }),
        ("publish_many_timeout", &|| {
            market
                .publish_many_timeout(producer, vec![tea()], timeout)
                .is_err_and(|e| e.is_full())
        }),
        ("wait_closed", &|| {
            market.wait_closed(timeout).is_ok_and(|closed| !closed)
        }),
    ];
    for hz in [10, 100] {
        server.config_set("hz", &hz.to_string());
        let tick = Duration::from_secs(1) / hz;
        for (name, wait) in waits {
            let took = median(
                (0..5)
                    .map(|_| {
                        let started = Instant::now();
                        assert!(wait(), "{name} did not end with its timeout");
                        started.elapsed()
                    })
                    .collect(),
            );
            eprintln!("hz {hz}: {name} of {timeout:?} took {took:?} (median of five)");
            assert!(took >= timeout, "hz {hz}: {name} returned after {took:?}");
            assert!(
                took < timeout + tick + Duration::from_millis(15),
                "hz {hz}: {name} of {timeout:?} returned after {took:?}"
            );
        }
    }
}

/// CPU time (user + system) of process `pid` so far, from `/proc` (10 ms ticks).
fn cpu_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let mut fields = rest.split(' ').skip(11);
    let mut tick = || -> u64 { fields.next().and_then(|f| f.parse().ok()).expect("ticks") };
    let (user, system) = (tick(), tick());
    Duration::from_millis((user + system) * 10)
}

#[test]
fn idle_waiters_cost_under_one_percent_of_a_core_on_client_and_server() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Tea>::connect(&server.url(), "idle", 1).expect("connect");
    let producer = market.register_producer().expect("register");
    market.publish(producer, tea()).expect("room");
    let mut watch = server.connection();
    let server_pid = info_field::<u64>(&mut watch, "server", "process_id")
        .expect("INFO server has a numeric process_id")
        .to_string();
    let waiters = 8;
    // Longer than a wait round (5 s), so the rounds' tries are in the figures.
    let wait = Duration::from_secs(6);
    let carts: Vec<_> = (0..waiters)
        .map(|_| market.new_cart().expect("cart"))
        .collect();
    let (client_before, server_before) = (cpu_of("self"), cpu_of(&server_pid));
    let started = Instant::now();
    thread::scope(|s| {
        // Consumers wait for coffee nobody makes, and the producer, full, for room.
        let consumers: Vec<_> = carts
            .iter()
            .map(|&cart| {
                let market = &market;
                s.spawn(move || market.add_to_cart_timeout(cart, &Tea("coffee".to_owned()), wait))
            })
            .collect();
        let full = s.spawn(|| market.publish_timeout(producer, tea(), wait));
        for consumer in consumers {
            assert!(matches!(
                consumer.join().expect("consumer"),
                Err(AddError::Unavailable)
            ));
        }
        assert!(matches!(
            full.join().expect("producer"),
            Err(PublishError::Full(_))
        ));
    });
    let wall = started.elapsed();
    let client = cpu_of("self") - client_before;
    let server_cpu = cpu_of(&server_pid) - server_before;
    let share = |cpu: Duration| cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "{} idle waiters for {wall:?}: client {client:?} ({:.2}%), server {server_cpu:?} ({:.2}%)",
        waiters + 1,
        100.0 * share(client),
        100.0 * share(server_cpu)
    );
    assert!(wall >= wait, "the waits ended early: {wall:?}");
    assert!(share(client) < 0.01, "client used {client:?} in {wall:?}");
    assert!(
        share(server_cpu) < 0.01,
        "server used {server_cpu:?} in {wall:?}"
    );
}

/// Items given back fill their producer again: the tokens the takes left on its doorbell
/// for the room they freed must go with that room, or a full publisher wakes once per
/// stale token and tries in a loop.
#[test]
fn returns_take_back_the_room_tokens_of_a_full_producer() {
    const CAPACITY: usize = 50;
    let server = RedisServer::start();
    let market =
        RedisMarketplace::<Tea>::connect(&server.url(), "returns", CAPACITY).expect("connect");
    let mut watch = server.connection();
    let producer = market.register_producer().expect("register");
    // Every script this test times has run once, so none is loaded during the count.
    market.publish(producer, tea()).expect("room");
    market
        .publish_many(producer, vec![tea(); CAPACITY - 1])
        .expect("room");
    let cart = market.new_cart().expect("cart");
    assert_eq!(
        market
            .add_many_to_cart(cart, &tea(), CAPACITY)
            .expect("on sale"),
        CAPACITY
    );
    for _ in 0..CAPACITY {
        market.remove_from_cart(cart, &tea()).expect("in the cart");
    }
    assert_eq!(market.shelf_len(producer).expect("shelf"), Some(CAPACITY));
    let before = script_runs(&mut watch);
    let refused = market.publish_timeout(producer, tea(), Duration::from_millis(300));
    assert!(matches!(refused, Err(PublishError::Full(_))));
    // One try before the wait and one at its end.
    let tries = script_runs(&mut watch) - before;
    assert!(
        tries <= 2,
        "a publish waiting 300 ms on a full producer tried {tries} times"
    );
}

/// A waiter whose cart is ordered while it sleeps may be the one a publish wakes: it leaves
/// with `UnknownCart`, and the wake-up must go on to the next waiter, which gets the item at
/// once instead of at the end of its wait. The first waiter waits for one item, then for a
/// batch.
#[test]
fn a_waiter_whose_cart_was_ordered_passes_its_wake_up_on() {
    let server = RedisServer::start();
    for batch in [false, true] {
        let name = format!("passed-{batch}");
        let market = RedisMarketplace::<Tea>::connect(&server.url(), &name, 1).expect("connect");
        let producer = market.register_producer().expect("register");
        let (spent, waiting) = (
            market.new_cart().expect("cart"),
            market.new_cart().expect("cart"),
        );
        thread::scope(|s| {
            // The server wakes blocked clients in the order they blocked.
            let first = s.spawn(|| {
                if batch {
                    market
                        .add_many_to_cart_timeout(spent, &tea(), 2, LONG)
                        .map_err(|error| error.into_error())
                        .map(drop)
                } else {
                    market.add_to_cart_timeout(spent, &tea(), LONG)
                }
            });
            server.until_clients_wait(1);
            let second = s.spawn(|| {
                let started = Instant::now();
                let outcome = market.add_to_cart_timeout(waiting, &tea(), LONG);
                (outcome, started.elapsed())
            });
            server.until_clients_wait(2);
            assert!(market.place_order(spent).expect("open").is_empty());
            market.publish(producer, tea()).expect("room");
            assert!(matches!(
                first.join().expect("first waiter"),
                Err(AddError::UnknownCart)
            ));
            let (outcome, took) = second.join().expect("second waiter");
            assert!(outcome.is_ok(), "{outcome:?}");
            // A wait round is 5 s: a lost wake-up would end it only then.
            assert!(
                took < Duration::from_secs(2),
                "batch {batch}: the second waiter got the item after {took:?}"
            );
        });
    }
}

/// A wait on a cart another client orders ends with `UnknownCart` at the end of its round
/// (5 s), with nothing arriving to wake it: an order rings no bell, and each round ends
/// with a try.
#[test]
fn a_wait_on_a_cart_ordered_meanwhile_ends_within_a_round() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Tea>::connect(&server.url(), "ordered", 1).expect("connect");
    let cart = market.new_cart().expect("cart");
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let started = Instant::now();
            let outcome = market.add_to_cart_timeout(cart, &tea(), Duration::MAX);
            (outcome, started.elapsed())
        });
        server.until_clients_wait(1);
        assert!(market.place_order(cart).expect("open").is_empty());
        let (outcome, took) = waiter.join().expect("waiter");
        assert!(matches!(outcome, Err(AddError::UnknownCart)), "{outcome:?}");
        assert!(took < Duration::from_secs(7), "noticed after {took:?}");
    });
}
