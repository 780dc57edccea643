//! Waiting on a Redis market: a blocked waiter wakes within 10 ms of the arrival it waits
//! for (the server pushes the wake-up; nothing polls), and idle waiters cost under 1% of a
//! core, on the client and on the server.
//!
//! A waiter is known to be asleep when the server reports a blocked client (`INFO
//! clients`), which is the event the tests wait for before they publish; no sleep orders
//! anything.

use std::borrow::Cow;
use std::thread;
use std::time::{Duration, Instant};

use marketplace_harness::redis_server::RedisServer;
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

/// A field of the server's `INFO` as a number.
fn info_field(connection: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query(connection)
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no numeric {field}"))
}

/// Returns once the server has `count` clients blocked in a wait.
fn until_blocked(connection: &mut redis::Connection, count: u64) {
    let started = Instant::now();
    while info_field(connection, "clients", "blocked_clients") < count {
        assert!(started.elapsed() < LONG, "the waiters never blocked");
        thread::yield_now();
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

#[test]
fn a_blocked_waiter_wakes_within_10_ms_of_the_arrival() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Tea>::connect(&server.url(), "wake", 1).expect("connect");
    let producer = market.register_producer().expect("register");
    let mut watch = redis::Client::open(server.url())
        .and_then(|client| client.get_connection())
        .expect("a watching connection");
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
            until_blocked(&mut watch, 1);
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
            until_blocked(&mut watch, 1);
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
    let mut watch = redis::Client::open(server.url())
        .and_then(|client| client.get_connection())
        .expect("a watching connection");
    let server_pid = info_field(&mut watch, "server", "process_id").to_string();
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
