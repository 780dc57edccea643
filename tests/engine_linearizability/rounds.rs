//! The marketplaces under test (the engine, the one-lock baseline, a Redis market, and one
//! broken on purpose), and the rounds that run random operations on three threads at once
//! and record them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use marketplace::baseline::LockedMarketplace;
use marketplace::{AddError, CartId, Marketplace, ProducerId, PublishError};
use marketplace_redis::RedisMarketplace;

use crate::checker::{Granularity, verdict};
use crate::history::{Action, Event, History};
use crate::support::{self, Id, Market};
use crate::{KINDS, Product, THREADS};

/// A marketplace the rounds run on: the contract's calls ([`Market`]), and the two a round
/// may make through a product handle, which are the plain calls on a market without
/// handles.
pub(crate) trait Shop: Sync {
    type Market: Market<Product>;
    fn fresh(capacity: usize) -> Self;
    fn market(&self) -> &Self::Market;
    /// Returns the product it put on sale: a handle publishes a copy of its own.
    fn publish_as_planned(
        &self,
        producer: ProducerOf<Self>,
        item: Product,
        _via_handle: bool,
    ) -> (Product, Result<(), PublishError<Product>>) {
        (item.clone(), self.market().publish(producer, item))
    }
    fn add_as_planned(
        &self,
        cart: CartOf<Self>,
        kind: u8,
        _via_handle: bool,
    ) -> Result<(), AddError> {
        self.market().add_to_cart(cart, &support::any(kind))
    }
}

/// The ids a shop's market issues (a Redis market has its own): the checker knows
/// producers by index and carts by serial, so any ids do.
pub(crate) type ProducerOf<S> = <<S as Shop>::Market as Market<Product>>::Producer;
pub(crate) type CartOf<S> = <<S as Shop>::Market as Market<Product>>::Cart;

impl Shop for Marketplace<Product> {
    type Market = Self;
    fn fresh(capacity: usize) -> Self {
        Marketplace::new(capacity)
    }
    fn market(&self) -> &Self {
        self
    }
    fn publish_as_planned(
        &self,
        producer: ProducerId,
        item: Product,
        via_handle: bool,
    ) -> (Product, Result<(), PublishError<Product>>) {
        if !via_handle {
            return (item.clone(), Marketplace::publish(self, producer, item));
        }
        let handle = self.product(&item);
        (handle.product().clone(), handle.publish(producer))
    }
    fn add_as_planned(&self, cart: CartId, kind: u8, via_handle: bool) -> Result<(), AddError> {
        if via_handle {
            self.product(&support::any(kind)).add_to_cart(cart)
        } else {
            Marketplace::add_to_cart(self, cart, &support::any(kind))
        }
    }
}

/// The one-lock baseline: every operation one critical section, so its histories must pass
/// as atomic operations, which shows the stricter check is not stricter than the contract.
impl Shop for LockedMarketplace<Product> {
    type Market = Self;
    fn fresh(capacity: usize) -> Self {
        LockedMarketplace::new(capacity)
    }
    fn market(&self) -> &Self {
        self
    }
}

/// A market of its own on the shared test server (`redis-server` on loopback) per round.
/// Redis runs each operation's script with nothing in between, so its histories must pass
/// as atomic operations. Answers come back in the engine's types (through [`Market`]), so
/// they render as the model's do. A call that cannot reach the server panics: that says
/// the test's server failed, not what the contract answers.
impl Shop for RedisMarketplace<Product> {
    type Market = Self;
    fn fresh(capacity: usize) -> Self {
        support::Fresh::create(capacity)
    }
    fn market(&self) -> &Self {
        self
    }
}

/// The engine, except that a take with two or more equal items on sale gets the second
/// oldest: it takes two and gives the first back, which puts it last. Every single call
/// still conserves items and counts; only the FIFO rule of the contract is broken.
pub(crate) struct SecondOldest(Marketplace<Product>);

impl Shop for SecondOldest {
    type Market = Marketplace<Product>;
    fn fresh(capacity: usize) -> Self {
        Self(Marketplace::new(capacity))
    }
    fn market(&self) -> &Marketplace<Product> {
        &self.0
    }
    fn add_as_planned(&self, cart: CartId, kind: u8, _via_handle: bool) -> Result<(), AddError> {
        let any = support::any(kind);
        if self.0.available(&any) >= 2 && self.0.add_to_cart(cart, &any).is_ok() {
            if self.0.add_to_cart(cart, &any).is_ok() {
                // Gives back the first equal item in the cart: the one just taken, or one
                // taken before, wrong either way.
                let _ = self.0.remove_from_cart(cart, &any);
            }
            return Ok(());
        }
        self.0.add_to_cart(cart, &any)
    }
}

/// A planned operation: producers by index, carts by index among the set-up's (`Setup`) or
/// among those this thread opened so far (`Own`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum CartRef {
    Setup(usize),
    Own(usize),
}

#[derive(Clone, Debug)]
pub(crate) enum Plan {
    Publish {
        producer: usize,
        item: Product,
        via_handle: bool,
    },
    Add {
        cart: CartRef,
        kind: u8,
        via_handle: bool,
    },
    Remove {
        cart: CartRef,
        kind: u8,
    },
    Order {
        cart: CartRef,
    },
    NewCart,
    Available {
        kind: u8,
    },
    ShelfLen {
        producer: usize,
    },
}

pub(crate) fn plan_thread(
    rng: &mut StdRng,
    producers: usize,
    carts: usize,
    first_serial: u64,
) -> Vec<Plan> {
    let mut plans = Vec::new();
    let mut opened = 0;
    let mut serial = first_serial;
    for _ in 0..rng.gen_range(2..=4) {
        let cart = if opened > 0 && rng.gen_bool(0.5) {
            CartRef::Own(rng.gen_range(0..opened))
        } else {
            CartRef::Setup(rng.gen_range(0..carts))
        };
        let kind = rng.gen_range(0..KINDS);
        let via_handle = rng.gen_bool(0.2);
        let plan = match rng.gen_range(0..100) {
            0..30 => {
                serial += 1;
                Plan::Publish {
                    producer: rng.gen_range(0..producers),
                    item: support::item(kind, serial),
                    via_handle,
                }
            }
            30..60 => Plan::Add {
                cart,
                kind,
                via_handle,
            },
            60..72 => Plan::Remove { cart, kind },
            72..82 => Plan::Order { cart },
            82..87 => {
                opened += 1;
                Plan::NewCart
            }
            87..95 => Plan::Available { kind },
            _ => Plan::ShelfLen {
                producer: rng.gen_range(0..producers),
            },
        };
        plans.push(plan);
    }
    plans
}

/// A shared clock: each reading is later than every reading that happened before it.
pub(crate) struct Clock(AtomicU64);

impl Clock {
    pub(crate) fn now(&self) -> u64 {
        // Ordering: each reading is a read-modify-write that synchronises with every
        // earlier one, so an operation that returned before a reading taken on another
        // thread before a call happens before that call: readings order operations as
        // real time does, which the check relies on.
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

/// Runs `plans` on `shop`, recording each call.
pub(crate) fn run_thread<M: Shop>(
    shop: &M,
    clock: &Clock,
    producers: &[ProducerOf<M>],
    setup_carts: &[CartOf<M>],
    plans: &[Plan],
) -> (Vec<Event>, Vec<CartOf<M>>) {
    let mut own: Vec<CartOf<M>> = Vec::new();
    let mut events = Vec::new();
    let market = shop.market();
    for plan in plans {
        let resolve = |cart: CartRef, own: &[CartOf<M>]| match cart {
            CartRef::Setup(i) => setup_carts[i],
            CartRef::Own(i) => own[i],
        };
        let call = clock.now();
        let (action, via_handle, answer) = match plan {
            Plan::Publish {
                producer,
                item,
                via_handle,
            } => {
                let (item, answer) =
                    shop.publish_as_planned(producers[*producer], item.clone(), *via_handle);
                let action = Action::Publish {
                    producer: *producer,
                    item,
                };
                (action, *via_handle, format!("{answer:?}"))
            }
            Plan::Add {
                cart,
                kind,
                via_handle,
            } => {
                let id = resolve(*cart, &own);
                let answer = shop.add_as_planned(id, *kind, *via_handle);
                let action = Action::Add {
                    cart: id.number(),
                    kind: *kind,
                };
                (action, *via_handle, format!("{answer:?}"))
            }
            Plan::Remove { cart, kind } => {
                let id = resolve(*cart, &own);
                let answer = market.remove_from_cart(id, &support::any(*kind));
                let action = Action::Remove {
                    cart: id.number(),
                    kind: *kind,
                };
                (action, false, format!("{answer:?}"))
            }
            Plan::Order { cart } => {
                let id = resolve(*cart, &own);
                let answer = market.place_order(id);
                (
                    Action::Order { cart: id.number() },
                    false,
                    format!("{answer:?}"),
                )
            }
            Plan::NewCart => {
                let id = market.new_cart();
                own.push(id);
                (Action::NewCart, false, format!("{}", id.number()))
            }
            Plan::Available { kind } => {
                let answer = market.available(&support::any(*kind));
                (
                    Action::Available { kind: *kind },
                    false,
                    format!("{answer}"),
                )
            }
            Plan::ShelfLen { producer } => {
                let answer = market.shelf_len(producers[*producer]);
                let action = Action::ShelfLen {
                    producer: *producer,
                };
                (action, false, format!("{answer:?}"))
            }
        };
        let ret = clock.now();
        events.push(Event {
            action,
            via_handle,
            answer,
            call,
            ret,
        });
    }
    (events, own)
}

/// Releases the threads together: each spins (yielding, as threads outnumber cores) until
/// all have arrived, so their first operations start as close together as the scheduler
/// allows.
pub(crate) fn start_together(arrived: &AtomicUsize) {
    // Ordering: a counter only; the operations synchronise through the marketplace.
    arrived.fetch_add(1, Ordering::Relaxed);
    while arrived.load(Ordering::Relaxed) < THREADS {
        thread::yield_now();
    }
}

/// One round on a fresh `M`: the plan comes from `rng`, the interleaving from the scheduler.
pub(crate) fn round<M: Shop>(rng: &mut StdRng) -> History {
    let capacity = rng.gen_range(1..=2);
    let shop = M::fresh(capacity);
    let clock = Clock(AtomicU64::new(0));
    let producers: Vec<ProducerOf<M>> = (0..rng.gen_range(2..=3))
        .map(|_| shop.market().register_producer())
        .collect();
    let carts = rng.gen_range(1..=2);

    // The set-up: the carts, then a few publishes and adds, so the threads start from a
    // market with items on sale and in carts.
    let mut setup = Vec::new();
    let mut serial = 0;
    for _ in 0..carts {
        setup.push(Plan::NewCart);
    }
    for _ in 0..rng.gen_range(0..=3) {
        serial += 1;
        setup.push(Plan::Publish {
            producer: rng.gen_range(0..producers.len()),
            item: support::item(rng.gen_range(0..KINDS), serial),
            via_handle: false,
        });
    }
    for _ in 0..rng.gen_range(0..=1) {
        setup.push(Plan::Add {
            cart: CartRef::Own(rng.gen_range(0..carts)),
            kind: rng.gen_range(0..KINDS),
            via_handle: false,
        });
    }
    let (setup_events, setup_carts) = run_thread(&shop, &clock, &producers, &[], &setup);

    let plans: Vec<Vec<Plan>> = (0..THREADS)
        .map(|t| plan_thread(rng, producers.len(), carts, 100 * (t as u64 + 1)))
        .collect();
    let arrived = AtomicUsize::new(0);
    let mut threads = vec![setup_events];
    thread::scope(|s| {
        let workers: Vec<_> = plans
            .iter()
            .map(|plans| {
                s.spawn(|| {
                    start_together(&arrived);
                    run_thread(&shop, &clock, &producers, &setup_carts, plans).0
                })
            })
            .collect();
        threads.extend(workers.into_iter().map(|w| w.join().expect("no panic")));
    });
    History {
        capacity,
        producers: producers.len(),
        threads,
    }
}

pub(crate) fn seed() -> u64 {
    std::env::var("LINEARIZABILITY_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |since| since.as_nanos() as u64)
        })
}

pub(crate) fn rounds() -> usize {
    std::env::var("LINEARIZABILITY_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(10_000)
}

pub(crate) fn redis_rounds() -> usize {
    std::env::var("LINEARIZABILITY_REDIS_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(1_000)
}

/// Runs `rounds` rounds on `M` from `seed`, checked at `granularity`: the first history
/// found not linearizable, or how many rounds had operations on different threads
/// overlapping.
pub(crate) fn run_rounds<M: Shop>(
    seed: u64,
    rounds: usize,
    granularity: Granularity,
) -> Result<usize, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut overlapping = 0;
    for number in 0..rounds {
        let history = round::<M>(&mut rng);
        overlapping += usize::from(history.overlaps());
        verdict(&history, granularity)
            .map_err(|error| format!("round {number}, seed {seed}: {error}"))?;
    }
    Ok(overlapping)
}
