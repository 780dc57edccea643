//! Multi-threaded stress of the engine: many threads doing random operations, then a drain
//! and an audit.
//!
//! Every product carries a unique serial (which encodes its producer) that plays no part in
//! equality, so after the run the audit can demand conservation: every item ever published
//! was ordered exactly once or is still on a shelf, and nothing else came out. During the run
//! threads sample `shelf_len` and check it never exceeds the capacity plus the returns made
//! so far; at the end, with nothing in flight, each producer's `shelf_len` must be exactly the
//! number of its items the drain found, its capacity exactly `queue_size_per_producer` again,
//! and no cart may be left open however many orders were placed.
//!
//! Sizes: 8+ threads and over a million operations per run in release builds (what CI runs);
//! debug builds run the same code on a twentieth of the operations. The seed is printed and
//! can be fixed with `STRESS_SEED`. Run with `--nocapture` to see the figures.
//!
//! The tests in this file take turns (one lock), because they measure wall and CPU time.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use marketplace::{AddError, CartId, Marketplace, ProducerId, PublishError, RemoveError};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Equal by kind only: items of a kind are interchangeable to the marketplace, while the
/// serial identifies each one for the audit.
type Tagged = support::Tagged<u32>;

fn ask(kind: u32) -> Tagged {
    support::any(kind)
}

/// Serials are `producer << MAKER_SHIFT | n`, so every item names its producer.
const MAKER_SHIFT: u32 = 40;

fn serial(producer: usize, n: u64) -> u64 {
    ((producer as u64) << MAKER_SHIFT) | n
}

fn maker(serial: u64) -> usize {
    (serial >> MAKER_SHIFT) as usize
}

/// Debug builds run a twentieth of the operations.
fn scaled(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release / 20
    } else {
        release
    }
}

fn seed() -> u64 {
    std::env::var("STRESS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |since| since.as_nanos() as u64)
        })
}

#[derive(Clone, Copy)]
struct Config {
    name: &'static str,
    threads: usize,
    ops_per_thread: usize,
    capacity: usize,
    /// Kinds per producer when `disjoint`, kinds in all otherwise.
    kinds: u32,
    /// Each producer makes kinds of its own, so every return's producer is known and the
    /// capacity bound can be checked per producer. Otherwise all producers make the same
    /// kinds (interchangeable items) and the bound uses all returns.
    disjoint: bool,
    /// All threads share a few carts (racing removes, adds to carts being ordered) instead
    /// of each owning its own.
    shared_carts: usize,
    /// Registered producers; thread `t` publishes as producer `t % producers`, so with
    /// fewer producers than threads several threads race on one producer's capacity.
    producers: usize,
    /// Whether threads give items back. Without returns nothing may ever take a producer
    /// over capacity, so every sample checks `shelf_len <= capacity` exactly.
    removes: bool,
}

impl Config {
    fn all_kinds(&self) -> Vec<u32> {
        let count = if self.disjoint {
            self.kinds * self.producers as u32
        } else {
            self.kinds
        };
        (0..count).collect()
    }

    /// The producer thread `thread` publishes as.
    fn producer_of(&self, thread: usize) -> usize {
        thread % self.producers
    }

    /// A random kind producer `producer` makes.
    fn kind_made_by(&self, producer: usize, rng: &mut StdRng) -> u32 {
        let offset = if self.disjoint {
            producer as u32 * self.kinds
        } else {
            0
        };
        offset + rng.gen_range(0..self.kinds)
    }

    /// A random kind anyone makes.
    fn any_kind(&self, rng: &mut StdRng) -> u32 {
        let maker = rng.gen_range(0..self.producers);
        self.kind_made_by(maker, rng)
    }

    /// Which returns counter a return of `kind` goes to (all in one when not `disjoint`).
    fn bucket_of_kind(&self, kind: u32) -> usize {
        if self.disjoint {
            (kind / self.kinds) as usize
        } else {
            0
        }
    }

    fn bucket_of_producer(&self, producer: usize) -> usize {
        if self.disjoint { producer } else { 0 }
    }
}

/// What the threads share besides the marketplace.
struct World {
    config: Config,
    market: Marketplace<Tagged>,
    producers: Vec<ProducerId>,
    /// Returns made so far, per producer (or all in slot 0): incremented *before*
    /// `remove_from_cart` (and taken back if it refuses), so a sample that reads it after
    /// `shelf_len` sees every return that sample could have counted.
    returns: Vec<AtomicU64>,
    /// The shared carts, when `shared_carts > 0`. Only the holder of a slot's lock orders its
    /// cart (and opens the replacement); other threads copy the id and may find it spent.
    carts: Vec<Mutex<CartId>>,
}

#[derive(Default)]
struct Tally {
    published: Vec<u64>,
    ordered: Vec<u64>,
    publish_full: u64,
    timed_publishes: u64,
    adds: u64,
    adds_unavailable: u64,
    adds_unknown_cart: u64,
    timed_adds: u64,
    removes: u64,
    removes_refused: u64,
    orders: u64,
    samples: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.published.extend(other.published);
        self.ordered.extend(other.ordered);
        self.publish_full += other.publish_full;
        self.timed_publishes += other.timed_publishes;
        self.adds += other.adds;
        self.adds_unavailable += other.adds_unavailable;
        self.adds_unknown_cart += other.adds_unknown_cart;
        self.timed_adds += other.timed_adds;
        self.removes += other.removes;
        self.removes_refused += other.removes_refused;
        self.orders += other.orders;
        self.samples += other.samples;
    }
}

/// A small timeout for the blocking calls: long enough to sleep, short enough for the run.
fn tiny(rng: &mut StdRng) -> Duration {
    Duration::from_micros(rng.gen_range(0..=50))
}

/// One thread's run: thread `me`, random operations.
fn worker(world: &World, me: usize, seed: u64) -> (Tally, Unfinished) {
    let config = &world.config;
    let market = &world.market;
    let producer = world.producers[config.producer_of(me)];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let mut made = 0;
    // A product a refused publish handed back, to offer again.
    let mut unsold: Option<Tagged> = None;
    // This thread's own cart and the kinds in it, in add order (private carts only).
    let mut cart = market.new_cart();
    let mut in_cart: Vec<u32> = Vec::new();

    for _ in 0..config.ops_per_thread {
        let roll = rng.gen_range(0..100);
        // The cart this operation uses.
        let (target, slot) = if config.shared_carts > 0 {
            let slot = rng.gen_range(0..config.shared_carts);
            (*world.carts[slot].lock().unwrap(), Some(slot))
        } else {
            (cart, None)
        };
        match roll {
            0..=35 => {
                let product = unsold.take().unwrap_or_else(|| {
                    made += 1;
                    Tagged {
                        kind: config.kind_made_by(config.producer_of(me), &mut rng),
                        serial: serial(me, made),
                    }
                });
                let wanted = product.serial;
                let outcome = if roll == 0 {
                    tally.timed_publishes += 1;
                    market.publish_timeout(producer, product, tiny(&mut rng))
                } else {
                    market.publish(producer, product)
                };
                match outcome {
                    Ok(()) => tally.published.push(wanted),
                    Err(PublishError::Full(back)) => {
                        assert_eq!(back.serial, wanted, "another product came back");
                        tally.publish_full += 1;
                        unsold = Some(back);
                    }
                    Err(error) => panic!("publish by a registered producer: {error}"),
                }
            }
            36..=70 => {
                let kind = config.any_kind(&mut rng);
                let outcome = if roll == 36 {
                    tally.timed_adds += 1;
                    market.add_to_cart_timeout(target, &ask(kind), tiny(&mut rng))
                } else {
                    market.add_to_cart(target, &ask(kind))
                };
                match outcome {
                    Ok(()) => {
                        tally.adds += 1;
                        if slot.is_none() {
                            in_cart.push(kind);
                        }
                    }
                    Err(AddError::Unavailable) => tally.adds_unavailable += 1,
                    Err(AddError::UnknownCart) => {
                        assert!(slot.is_some(), "own open cart {target} is unknown");
                        tally.adds_unknown_cart += 1;
                    }
                    Err(other) => panic!("add_to_cart failed: {other:?}"),
                }
            }
            71..=84 if !config.removes => {
                // Without returns, a sample instead.
                let p = rng.gen_range(0..world.producers.len());
                let len = market.shelf_len(world.producers[p]).unwrap();
                assert!(
                    len <= config.capacity,
                    "producer {p} has {len} on the shelf, capacity {}",
                    config.capacity
                );
                tally.samples += 1;
            }
            71..=84 => {
                if slot.is_some() {
                    let kind = config.any_kind(&mut rng);
                    let returns = &world.returns[config.bucket_of_kind(kind)];
                    returns.fetch_add(1, Ordering::SeqCst);
                    match market.remove_from_cart(target, &ask(kind)) {
                        Ok(()) => tally.removes += 1,
                        Err(RemoveError::NotInCart | RemoveError::UnknownCart) => {
                            returns.fetch_sub(1, Ordering::SeqCst);
                            tally.removes_refused += 1
                        }
                        Err(other) => panic!("remove_from_cart failed: {other:?}"),
                    }
                } else if !in_cart.is_empty() && rng.gen_bool(0.9) {
                    let at = rng.gen_range(0..in_cart.len());
                    let kind = in_cart[at];
                    world.returns[config.bucket_of_kind(kind)].fetch_add(1, Ordering::SeqCst);
                    assert_eq!(market.remove_from_cart(cart, &ask(kind)), Ok(()));
                    // The first equal item goes, as the cart keeps the rest in add order.
                    let first = in_cart.iter().position(|&k| k == kind).unwrap();
                    in_cart.remove(first);
                    tally.removes += 1;
                } else {
                    let kind = config.any_kind(&mut rng);
                    if !in_cart.contains(&kind) {
                        assert_eq!(
                            market.remove_from_cart(cart, &ask(kind)),
                            Err(RemoveError::NotInCart)
                        );
                        tally.removes_refused += 1;
                    }
                }
            }
            85..=89 => {
                if let Some(slot) = slot {
                    let mut held = world.carts[slot].lock().unwrap();
                    let products = market.place_order(*held).expect("the slot's cart is open");
                    tally.ordered.extend(products.iter().map(|p| p.serial));
                    *held = market.new_cart();
                } else {
                    let products = market.place_order(cart).expect("own cart is open");
                    let kinds: Vec<u32> = products.iter().map(|p| p.kind).collect();
                    assert_eq!(kinds, in_cart, "the order is not what went into the cart");
                    tally.ordered.extend(products.iter().map(|p| p.serial));
                    cart = market.new_cart();
                    in_cart.clear();
                }
                tally.orders += 1;
            }
            _ => {
                // Capacity is exceeded only by returned items (exactly never without them).
                let p = rng.gen_range(0..world.producers.len());
                let len = market.shelf_len(world.producers[p]).unwrap();
                let returns = world.returns[config.bucket_of_producer(p)].load(Ordering::SeqCst);
                assert!(
                    len as u64 <= config.capacity as u64 + returns,
                    "producer {p} has {len} on the shelf: capacity {} + {returns} returns",
                    config.capacity
                );
                tally.samples += 1;
            }
        }
    }
    let rest = Unfinished {
        cart,
        in_cart,
        unsold,
        made,
        rng,
    };
    (tally, rest)
}

/// What a worker leaves for the end of the run: its cart and the kinds in it, a product a
/// refused publish handed back, how many products it made.
struct Unfinished {
    cart: CartId,
    in_cart: Vec<u32>,
    unsold: Option<Tagged>,
    made: u64,
    rng: StdRng,
}

/// After every worker is done: fill every producer's shelf, then give back what the carts
/// hold, so the audit meets producers at and over capacity; then order the carts.
fn finish(world: &World, mut rest: Vec<Unfinished>, tally: &mut Tally) {
    let (config, market) = (&world.config, &world.market);
    for (me, rest) in rest.iter_mut().enumerate() {
        let producer = config.producer_of(me);
        loop {
            let product = rest.unsold.take().unwrap_or_else(|| {
                rest.made += 1;
                Tagged {
                    kind: config.kind_made_by(producer, &mut rest.rng),
                    serial: serial(me, rest.made),
                }
            });
            let wanted = product.serial;
            // Nothing is in flight: a publish must succeed exactly when below capacity.
            let len = market.shelf_len(world.producers[producer]).unwrap();
            match market.publish(world.producers[producer], product) {
                Ok(()) => {
                    assert!(len < config.capacity, "producer {me} published with {len}");
                    tally.published.push(wanted);
                }
                Err(PublishError::Full(_)) => {
                    assert!(len >= config.capacity, "producer {me} full with {len}");
                    break;
                }
                Err(error) => panic!("publish by a registered producer: {error}"),
            }
        }
    }
    for rest in rest {
        if config.removes {
            for kind in rest.in_cart {
                world.returns[config.bucket_of_kind(kind)].fetch_add(1, Ordering::SeqCst);
                assert_eq!(market.remove_from_cart(rest.cart, &ask(kind)), Ok(()));
                tally.removes += 1;
            }
            assert_eq!(market.place_order(rest.cart), Ok(vec![]));
        } else {
            let products = market.place_order(rest.cart).unwrap();
            let kinds: Vec<u32> = products.iter().map(|p| p.kind).collect();
            assert_eq!(
                kinds, rest.in_cart,
                "the order is not what went into the cart"
            );
            tally.ordered.extend(products.iter().map(|p| p.serial));
        }
    }
    for slot in &world.carts {
        let products = market.place_order(*slot.lock().unwrap()).unwrap();
        tally.ordered.extend(products.iter().map(|p| p.serial));
    }
}

/// Takes everything left on the shelves, kind by kind, and orders it.
fn drain(market: &Marketplace<Tagged>, kinds: &[u32]) -> Vec<Tagged> {
    let cart = market.new_cart();
    for &kind in kinds {
        while market.add_to_cart(cart, &ask(kind)).is_ok() {}
        assert_eq!(market.available(&ask(kind)), 0);
    }
    market.place_order(cart).unwrap()
}

fn run(config: Config) {
    let _turn = one_at_a_time();
    let seed = seed();
    let market = Marketplace::new(config.capacity);
    let producers = (0..config.producers)
        .map(|_| market.register_producer())
        .collect();
    let world = World {
        config,
        producers,
        returns: (0..config.producers).map(|_| AtomicU64::new(0)).collect(),
        carts: (0..config.shared_carts)
            .map(|_| Mutex::new(market.new_cart()))
            .collect(),
        market,
    };
    let market = &world.market;

    let start = Barrier::new(config.threads);
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut rest = Vec::new();
    thread::scope(|s| {
        let workers: Vec<_> = (0..config.threads)
            .map(|me| {
                let (world, start) = (&world, &start);
                s.spawn(move || {
                    start.wait();
                    worker(world, me, seed.wrapping_add(me as u64))
                })
            })
            .collect();
        for worker in workers {
            let (done, left) = worker.join().expect("a worker failed");
            tally.merge(done);
            rest.push(left);
        }
    });
    let wall = started.elapsed();
    finish(&world, rest, &mut tally);

    // Quiescent: every cart ordered, so nothing in carts and no cart open, however many
    // orders went through.
    let stats = market.stats();
    assert_eq!(stats.open_carts, 0, "{stats}");
    assert_eq!(stats.items_in_carts, 0, "{stats}");
    let lens: Vec<usize> = world
        .producers
        .iter()
        .map(|&p| market.shelf_len(p).unwrap())
        .collect();
    let kinds = config.all_kinds();
    let available: usize = kinds.iter().map(|&k| market.available(&ask(k))).sum();
    assert_eq!(stats.items_on_shelves, lens.iter().sum::<usize>());
    assert_eq!(stats.items_on_shelves, available);

    let drained = drain(market, &kinds);
    assert_eq!(drained.len(), available);
    let mut drained_per_producer = vec![0; config.producers];
    for item in &drained {
        drained_per_producer[config.producer_of(maker(item.serial))] += 1;
    }
    assert_eq!(
        drained_per_producer, lens,
        "shelf_len per producer disagrees with the items found on the shelves"
    );
    if config.disjoint && config.removes {
        // With private carts every counted return happened; nothing is in flight now.
        for (p, &len) in lens.iter().enumerate() {
            let returns = world.returns[p].load(Ordering::SeqCst);
            assert!(
                len as u64 <= config.capacity as u64 + returns,
                "producer {p}: {len} on the shelf, capacity {} + {returns} returns",
                config.capacity
            );
        }
    }

    // Conservation: each published serial came out exactly once, and nothing else did.
    let mut came_out = tally.ordered.clone();
    came_out.extend(drained.iter().map(|item| item.serial));
    came_out.sort_unstable();
    let duplicated: Vec<u64> = came_out
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    assert!(
        duplicated.is_empty(),
        "{} items came out twice, e.g. {:?}",
        duplicated.len(),
        &duplicated[..duplicated.len().min(5)]
    );
    let mut published = tally.published.clone();
    published.sort_unstable();
    assert_eq!(published.len(), came_out.len(), "items lost or invented");
    assert!(
        published == came_out,
        "the items that came out are not the ones published"
    );

    // Empty again, with each producer's capacity exactly as configured.
    let stats = market.stats();
    assert_eq!(
        (
            stats.items_on_shelves,
            stats.items_in_carts,
            stats.open_carts
        ),
        (0, 0, 0),
        "{stats}"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    for (me, &producer) in world.producers.iter().enumerate() {
        for _ in 0..config.capacity {
            let product = Tagged {
                kind: config.kind_made_by(me, &mut rng),
                serial: serial(0, 0),
            };
            assert_eq!(market.publish(producer, product), Ok(()));
        }
        let extra = Tagged { kind: 0, serial: 0 };
        assert!(market.publish(producer, extra).unwrap_err().is_full());
        assert_eq!(market.shelf_len(producer), Some(config.capacity));
    }

    let ops = (config.threads * config.ops_per_thread) as f64;
    println!(
        "{}: {} threads, {} ops in {:.2?} ({:.0} ops/s), seed {seed}",
        config.name,
        config.threads,
        ops,
        wall,
        ops / wall.as_secs_f64()
    );
    println!(
        "  published {} (full {}), added {} (unavailable {}, unknown cart {}), \
         timed publishes {} / adds {}, removed {} (refused {}), {} orders, \
         {} capacity samples, {} drained",
        tally.published.len(),
        tally.publish_full,
        tally.adds,
        tally.adds_unavailable,
        tally.adds_unknown_cart,
        tally.timed_publishes,
        tally.timed_adds,
        tally.removes,
        tally.removes_refused,
        tally.orders,
        tally.samples,
        drained.len()
    );
    // The run did what it is for: items flowed (both ways, when it returns) and carts
    // turned over, and the capacity bound was sampled.
    assert!(tally.adds > 0 && tally.orders > 0 && tally.publish_full > 0 && tally.samples > 0);
    assert_eq!(tally.removes > 0, config.removes);
}

#[test]
fn interchangeable_products_private_carts() {
    run(Config {
        name: "interchangeable products, private carts",
        threads: 8,
        ops_per_thread: scaled(250_000),
        capacity: 4,
        kinds: 6,
        disjoint: false,
        shared_carts: 0,
        producers: 8,
        removes: true,
    });
}

#[test]
fn own_products_per_producer_exact_capacity_bound() {
    run(Config {
        name: "own products per producer, private carts",
        threads: 8,
        ops_per_thread: scaled(250_000),
        capacity: 3,
        kinds: 2,
        disjoint: true,
        shared_carts: 0,
        producers: 8,
        removes: true,
    });
}

#[test]
fn shared_carts_racing_removes_and_orders() {
    run(Config {
        name: "interchangeable products, 3 shared carts",
        threads: 10,
        ops_per_thread: scaled(200_000),
        capacity: 3,
        kinds: 3,
        disjoint: false,
        shared_carts: 3,
        producers: 10,
        removes: true,
    });
}

/// No returns: every sample, at any moment, must find every producer within capacity.
#[test]
fn without_returns_no_producer_ever_exceeds_capacity() {
    run(Config {
        name: "no returns, capacity never exceeded",
        threads: 8,
        ops_per_thread: scaled(250_000),
        capacity: 2,
        kinds: 3,
        disjoint: false,
        shared_carts: 0,
        producers: 8,
        removes: false,
    });
}

/// Four threads on each of two producer ids: their publishes race for the same capacity.
#[test]
fn threads_sharing_a_producer_id_never_exceed_its_capacity() {
    run(Config {
        name: "4 threads per producer id, no returns",
        threads: 8,
        ops_per_thread: scaled(250_000),
        capacity: 3,
        kinds: 2,
        disjoint: true,
        shared_carts: 0,
        producers: 2,
        removes: false,
    });
    run(Config {
        name: "4 threads per producer id, returns",
        threads: 8,
        ops_per_thread: scaled(250_000),
        capacity: 3,
        kinds: 2,
        disjoint: true,
        shared_carts: 0,
        producers: 2,
        removes: true,
    });
}

/// Threads sharing one producer id, each publishing an item and taking it back again and
/// again: at most one item per thread is on sale, below the capacity, so no publish may be
/// refused. A publisher's check for room races the others' publishes and takes (a check
/// that put takes counted after its own read of the publishes against them would see more
/// takes than publishes and say `Full`).
#[test]
fn threads_sharing_a_producer_id_are_never_refused_below_capacity() {
    let _turn = one_at_a_time();
    const THREADS: usize = 4;
    let rounds = scaled(500_000);
    let market = Marketplace::<u32>::new(THREADS + 1);
    let producer = market.register_producer();
    let refused = AtomicU64::new(0);
    thread::scope(|s| {
        for me in 0..THREADS as u32 {
            let (market, refused) = (&market, &refused);
            s.spawn(move || {
                let cart = market.new_cart();
                for _ in 0..rounds {
                    match market.publish(producer, me) {
                        Ok(()) => market.add_to_cart(cart, &me).expect("just published"),
                        Err(PublishError::Full(_)) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(other) => panic!("{other:?}"),
                    }
                }
                market.place_order(cart).expect("open");
            });
        }
    });
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "publishes refused with room"
    );
    assert_eq!(market.shelf_len(producer), Some(0));
}

/// A blocking handoff whose waits have a minute of patience, so a lost wake-up cannot pass
/// for a timeout: every publish and every add must succeed, and the counts must be exact.
/// A watchdog fails the test if the run does not end within half that time, which a lost
/// wake-up (a waiter asleep with an item on sale, or room free) would cause.
#[test]
fn blocking_handoff_with_long_timeouts_loses_no_wake_up() {
    let _turn = one_at_a_time();
    const THREADS: usize = 6;
    const ITEMS: usize = if cfg!(debug_assertions) {
        30_000
    } else {
        600_000
    };
    const PATIENCE: Duration = Duration::from_secs(60);
    const WATCHDOG: Duration = Duration::from_secs(30);
    let market = std::sync::Arc::new(Marketplace::<Tagged>::new(2));
    let producers: Vec<ProducerId> = (0..THREADS).map(|_| market.register_producer()).collect();
    let (done, finished) = mpsc::channel();
    let started = Instant::now();
    for (p, producer) in producers.into_iter().enumerate() {
        let (market, done) = (std::sync::Arc::clone(&market), done.clone());
        thread::spawn(move || {
            for n in 0..(ITEMS / THREADS) as u64 {
                let product = Tagged {
                    kind: (n % 2) as u32,
                    serial: serial(p, n),
                };
                assert_eq!(market.publish_timeout(producer, product, PATIENCE), Ok(()));
            }
            done.send(Vec::new()).unwrap();
        });
    }
    for c in 0..THREADS {
        let (market, done) = (std::sync::Arc::clone(&market), done.clone());
        thread::spawn(move || {
            let mut bought = Vec::with_capacity(ITEMS / THREADS);
            // Consumers alternate kinds in step with the producers, so supply meets demand.
            for n in 0..(ITEMS / THREADS) as u64 {
                let cart = market.new_cart();
                let kind = ((n + c as u64) % 2) as u32;
                assert_eq!(
                    market.add_to_cart_timeout(cart, &ask(kind), PATIENCE),
                    Ok(())
                );
                bought.extend(
                    market
                        .place_order(cart)
                        .unwrap()
                        .into_iter()
                        .map(|p| p.serial),
                );
            }
            done.send(bought).unwrap();
        });
    }
    drop(done);
    let mut bought = Vec::with_capacity(ITEMS);
    for _ in 0..2 * THREADS {
        let left = WATCHDOG.saturating_sub(started.elapsed());
        match finished.recv_timeout(left) {
            Ok(part) => bought.extend(part),
            Err(_) => panic!(
                "the handoff did not finish in {WATCHDOG:?}: a waiter slept through its \
                 wake-up ({} of {ITEMS} items bought; {})",
                bought.len(),
                market.stats()
            ),
        }
    }
    bought.sort_unstable();
    bought.dedup();
    assert_eq!(bought.len(), ITEMS, "items lost or bought twice");
    let stats = market.stats();
    assert_eq!(
        (stats.items_on_shelves, stats.open_carts),
        (0, 0),
        "{stats}"
    );
    println!(
        "blocking handoff, {THREADS}x{THREADS}, capacity 2: {ITEMS} items in {:.2?}",
        started.elapsed()
    );
}

/// CPU time (user + system) this process has used, from /proc/self/stat; `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // Clock ticks are 1/100 s on every Linux configuration Rust supports in practice.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// 200 consumers block in `add_to_cart_timeout` (sleeping, not spinning) until 4 producers,
/// themselves blocking in `publish_timeout` on full queues, have fed every one of them.
#[test]
fn two_hundred_blocked_consumers_are_all_fed() {
    let _turn = one_at_a_time();
    const CONSUMERS: usize = 200;
    const PRODUCERS: usize = 4;
    const EACH: usize = 5;
    const KINDS: u32 = 4;
    const LONG: Duration = Duration::from_secs(60);
    const WINDOW: Duration = Duration::from_millis(300);
    let market = Marketplace::<Tagged>::new(2);
    let producers: Vec<ProducerId> = (0..PRODUCERS).map(|_| market.register_producer()).collect();
    // Consumer c wants EACH items of kind c % KINDS: any item on sale is wanted by everyone
    // still waiting for its kind, so the run cannot wedge.
    let supply: Vec<u32> = (0..CONSUMERS * EACH)
        .map(|i| (i / EACH) as u32 % KINDS)
        .collect();

    let all_waiting = Barrier::new(CONSUMERS + 1);
    let (orders, received) = mpsc::channel();
    let started = Instant::now();
    let mut idle_cpu = None;
    let mut fed_in = Duration::ZERO;
    thread::scope(|s| {
        for c in 0..CONSUMERS {
            let (market, all_waiting, orders) = (&market, &all_waiting, orders.clone());
            s.spawn(move || {
                let cart = market.new_cart();
                let kind = c as u32 % KINDS;
                all_waiting.wait();
                for _ in 0..EACH {
                    assert_eq!(market.add_to_cart_timeout(cart, &ask(kind), LONG), Ok(()));
                }
                orders
                    .send((kind, market.place_order(cart).unwrap()))
                    .unwrap();
            });
        }
        drop(orders);

        // With nothing on sale, the consumers sleep: measure the CPU the process uses over
        // a window timed by the engine itself (a wait that must expire).
        all_waiting.wait();
        let before = cpu_time();
        let idle_cart = market.new_cart();
        let waited = Instant::now();
        assert_eq!(
            market.add_to_cart_timeout(idle_cart, &ask(KINDS), WINDOW),
            Err(AddError::Unavailable)
        );
        assert!(waited.elapsed() >= WINDOW);
        market.place_order(idle_cart).unwrap();
        // Checked once everyone is fed: failing here would leave the consumers waiting.
        idle_cpu = before.zip(cpu_time()).map(|(before, after)| after - before);

        let feeding = Instant::now();
        let shares: Vec<Vec<u32>> = (0..PRODUCERS)
            .map(|p| supply.iter().skip(p).step_by(PRODUCERS).copied().collect())
            .collect();
        for (p, share) in shares.into_iter().enumerate() {
            let (market, producer) = (&market, producers[p]);
            s.spawn(move || {
                for (n, kind) in (1..).zip(share) {
                    let product = Tagged {
                        kind,
                        serial: serial(p, n),
                    };
                    assert_eq!(market.publish_timeout(producer, product, LONG), Ok(()));
                }
            });
        }
        let mut serials = Vec::new();
        for (kind, order) in received.iter() {
            assert_eq!(order.len(), EACH);
            assert!(order.iter().all(|item| item.kind == kind));
            serials.extend(order.iter().map(|item| item.serial));
        }
        fed_in = feeding.elapsed();
        serials.sort_unstable();
        serials.dedup();
        assert_eq!(serials.len(), CONSUMERS * EACH, "an item was sold twice");
    });
    if let Some(used) = idle_cpu {
        // Spinning waiters would burn both cores for the whole window.
        assert!(
            used < WINDOW / 2,
            "{used:?} of CPU in {WINDOW:?} with {CONSUMERS} blocked consumers: something spins"
        );
    }
    let stats = market.stats();
    assert_eq!(
        (
            stats.open_carts,
            stats.items_on_shelves,
            stats.items_in_carts
        ),
        (0, 0, 0),
        "{stats}"
    );
    println!(
        "{CONSUMERS} blocked consumers + {PRODUCERS} producers: {} items fed in {fed_in:.2?}, \
         total {:.2?}; CPU while all waited {WINDOW:?}: {}",
        CONSUMERS * EACH,
        started.elapsed(),
        idle_cpu.map_or("not measured".to_owned(), |used| format!("{used:?}"))
    );
}
