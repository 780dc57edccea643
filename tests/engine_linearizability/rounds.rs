//! The rounds: random operations planned, run on three threads at once against a fresh
//! marketplace, and recorded with the clock's readings around each call.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::checker::{Granularity, verdict};
use crate::history::{Action, Event, History};
use crate::shops::{CartOf, ProducerOf, Shop};
use crate::support::{self, Id, Market};
use crate::{KINDS, Product, THREADS};

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
        // Ordering: every reading is a read-modify-write of this one variable, so each
        // synchronises with every earlier one. An operation whose return reading is below
        // another's call reading therefore happens before it: the readings give the
        // real-time order the check relies on, and overlapping readings claim no order.
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

/// The environment variable `name` parsed, if set: one that does not parse panics, as a
/// typo silently replaced by the default would run other rounds than asked for.
pub(crate) fn setting<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    let parsed = value.parse().ok();
    Some(parsed.unwrap_or_else(|| panic!("{name}={value:?} is not a number")))
}

pub(crate) fn seed() -> u64 {
    setting("LINEARIZABILITY_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(0, |since| since.as_nanos() as u64)
    })
}

pub(crate) fn rounds() -> usize {
    setting("LINEARIZABILITY_ROUNDS").unwrap_or(10_000)
}

pub(crate) fn redis_rounds() -> usize {
    setting("LINEARIZABILITY_REDIS_ROUNDS").unwrap_or(1_000)
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
