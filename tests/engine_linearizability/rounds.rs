//! The rounds: random operations planned, run on three threads at once against a fresh
//! marketplace, and recorded with the clock's readings around each call, waits with the
//! timeouts they were given.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::checker::{Granularity, verdict};
use crate::history::{Action, Event, FOREIGN_CART, FOREIGN_PRODUCER, History};
use crate::shops::{CartOf, ProducerOf, Shop};
use crate::support::{self, Id, Market};
use crate::{KINDS, Product, THREADS};

/// A planned operation: producers by index ([`FOREIGN_PRODUCER`]: another marketplace's),
/// carts by index among the set-up's (`Setup`) or among those this thread opened so far
/// (`Own`), or another marketplace's (`Foreign`). A cart may have been ordered by then
/// (by any thread): its id is spent, and every call on it must answer `UnknownCart`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CartRef {
    Setup(usize),
    Own(usize),
    Foreign,
}

#[derive(Clone, Debug)]
pub(crate) enum Plan {
    Publish {
        producer: usize,
        item: Product,
        via_handle: bool,
    },
    /// `publish_timeout` with `timeout`, or with [`AFTER_CLOSE`] once `close` has returned.
    PublishWait {
        producer: usize,
        item: Product,
        via_handle: bool,
        timeout: Duration,
    },
    Add {
        cart: CartRef,
        kind: u8,
        via_handle: bool,
    },
    /// `add_to_cart_timeout`, timed as `PublishWait`.
    AddWait {
        cart: CartRef,
        kind: u8,
        via_handle: bool,
        timeout: Duration,
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
    Close,
    IsClosed,
}

/// A wait's timeout unless `close` has returned: zero (one attempt) or a short one, so a
/// wait nobody serves costs the round little. Most waits that are served are served
/// within a few hundred microseconds here, as the threads' operations are that close.
fn short_timeout(rng: &mut StdRng) -> Duration {
    match rng.gen_range(0..4) {
        0 | 1 => Duration::ZERO,
        2 => Duration::from_micros(100),
        _ => Duration::from_micros(500),
    }
}

/// A wait's timeout once `close` has returned: the contract has it make one attempt and
/// return, so only a wait that slept through the close lasts this long. Far above any
/// preemption a correct wait could suffer between its call and its return, so a wait that
/// runs it out is a fault, not a slow machine.
pub(crate) const AFTER_CLOSE: Duration = Duration::from_secs(10);

pub(crate) fn plan_thread(
    rng: &mut StdRng,
    producers: usize,
    carts: usize,
    first_serial: u64,
    knows_if_closed: bool,
) -> Vec<Plan> {
    let mut plans = Vec::new();
    let mut opened = 0;
    let mut serial = first_serial;
    for _ in 0..rng.gen_range(2..=4) {
        let cart = match rng.gen_range(0..20) {
            0 => CartRef::Foreign,
            _ if opened > 0 && rng.gen_bool(0.5) => CartRef::Own(rng.gen_range(0..opened)),
            _ => CartRef::Setup(rng.gen_range(0..carts)),
        };
        let producer = if rng.gen_range(0..20) == 0 {
            FOREIGN_PRODUCER
        } else {
            rng.gen_range(0..producers)
        };
        let kind = rng.gen_range(0..KINDS);
        let via_handle = rng.gen_bool(0.2);
        let plan = match rng.gen_range(0..100) {
            0..26 => {
                serial += 1;
                Plan::Publish {
                    producer,
                    item: support::item(kind, serial),
                    via_handle,
                }
            }
            26..30 => {
                serial += 1;
                Plan::PublishWait {
                    producer,
                    item: support::item(kind, serial),
                    via_handle,
                    timeout: short_timeout(rng),
                }
            }
            30..54 => Plan::Add {
                cart,
                kind,
                via_handle,
            },
            54..60 => Plan::AddWait {
                cart,
                kind,
                via_handle,
                timeout: short_timeout(rng),
            },
            60..72 => Plan::Remove { cart, kind },
            72..82 => Plan::Order { cart },
            82..87 => {
                opened += 1;
                Plan::NewCart
            }
            87..93 => Plan::Available { kind },
            93..95 if knows_if_closed => Plan::IsClosed,
            _ => Plan::ShelfLen { producer },
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

/// What the threads of a round share besides the shop: the ids, the clock, and whether
/// `close` has returned.
pub(crate) struct Shared<'r, M: Shop> {
    pub(crate) shop: &'r M,
    pub(crate) clock: &'r Clock,
    pub(crate) producers: &'r [ProducerOf<M>],
    /// Another marketplace's producer and cart.
    pub(crate) foreign: (ProducerOf<M>, CartOf<M>),
    /// Set once `close` has returned, so a wait called after it knows it must not wait.
    pub(crate) closed: &'r AtomicBool,
    /// The timeout of a wait called once `close` has returned: [`AFTER_CLOSE`], or less
    /// for a marketplace broken on purpose, whose waits do run it out.
    pub(crate) after_close: Duration,
}

/// Runs `plans`, recording each call.
pub(crate) fn run_thread<M: Shop>(
    shared: &Shared<'_, M>,
    setup_carts: &[CartOf<M>],
    plans: &[Plan],
) -> (Vec<Event>, Vec<CartOf<M>>) {
    let Shared {
        shop,
        clock,
        producers,
        foreign,
        closed,
        after_close,
    } = *shared;
    let market = shop.market();
    let producer = |index: usize| {
        if index == FOREIGN_PRODUCER {
            foreign.0
        } else {
            producers[index]
        }
    };
    let number = |id: CartOf<M>| {
        if id == foreign.1 {
            FOREIGN_CART
        } else {
            id.number()
        }
    };
    let mut own: Vec<CartOf<M>> = Vec::new();
    let mut events = Vec::new();
    for plan in plans {
        let resolve = |cart: CartRef, own: &[CartOf<M>]| match cart {
            CartRef::Setup(i) => setup_carts[i],
            CartRef::Own(i) => own[i],
            CartRef::Foreign => foreign.1,
        };
        // Ordering: pairs with the store after `close` returned: a wait that sees it is
        // called after the close, and the contract has it make one attempt and return.
        let after = closed.load(Ordering::SeqCst);
        let timeout = |short: Duration| if after { after_close } else { short };
        let mut ran_out = false;
        let call = clock.now();
        let (action, via_handle, answer) = match plan {
            Plan::Publish {
                producer: p,
                item,
                via_handle,
            } => {
                let (item, answer) =
                    shop.publish_as_planned(producer(*p), item.clone(), *via_handle);
                let action = Action::Publish { producer: *p, item };
                (action, *via_handle, format!("{answer:?}"))
            }
            Plan::PublishWait {
                producer: p,
                item,
                via_handle,
                timeout: short,
            } => {
                let (timeout, started) = (timeout(*short), Instant::now());
                let (item, answer) = shop.publish_timeout_as_planned(
                    producer(*p),
                    item.clone(),
                    *via_handle,
                    timeout,
                );
                ran_out = started.elapsed() >= timeout;
                let action = Action::PublishWait {
                    producer: *p,
                    item,
                    after_close: after,
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
                    cart: number(id),
                    kind: *kind,
                };
                (action, *via_handle, format!("{answer:?}"))
            }
            Plan::AddWait {
                cart,
                kind,
                via_handle,
                timeout: short,
            } => {
                let id = resolve(*cart, &own);
                let (timeout, started) = (timeout(*short), Instant::now());
                let answer = shop.add_timeout_as_planned(id, *kind, *via_handle, timeout);
                ran_out = started.elapsed() >= timeout;
                let action = Action::AddWait {
                    cart: number(id),
                    kind: *kind,
                    after_close: after,
                };
                (action, *via_handle, format!("{answer:?}"))
            }
            Plan::Remove { cart, kind } => {
                let id = resolve(*cart, &own);
                let answer = market.remove_from_cart(id, &support::any(*kind));
                let action = Action::Remove {
                    cart: number(id),
                    kind: *kind,
                };
                (action, false, format!("{answer:?}"))
            }
            Plan::Order { cart } => {
                let id = resolve(*cart, &own);
                let answer = market.place_order(id);
                (
                    Action::Order { cart: number(id) },
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
            Plan::ShelfLen { producer: p } => {
                let answer = market.shelf_len(producer(*p));
                let action = Action::ShelfLen { producer: *p };
                (action, false, format!("{answer:?}"))
            }
            Plan::Close => {
                shop.close();
                // Ordering: pairs with the load before each call above.
                closed.store(true, Ordering::SeqCst);
                (Action::Close, false, "()".to_owned())
            }
            Plan::IsClosed => {
                let answer = shop.is_closed().expect("asked only of markets that say");
                (Action::IsClosed, false, format!("{answer}"))
            }
        };
        let ret = clock.now();
        events.push(Event {
            action,
            via_handle,
            answer,
            call,
            ret,
            ran_out,
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
/// `foreign` are ids another marketplace of the kind issued.
pub(crate) fn round<M: Shop>(
    rng: &mut StdRng,
    foreign: (ProducerOf<M>, CartOf<M>),
    after_close: Duration,
) -> History {
    let capacity = rng.gen_range(1..=2);
    let shop = M::fresh(capacity);
    let clock = Clock(AtomicU64::new(0));
    let producers: Vec<ProducerOf<M>> = (0..rng.gen_range(2..=3))
        .map(|_| shop.market().register_producer())
        .collect();
    let carts = rng.gen_range(1..=2);
    let closed = AtomicBool::new(false);
    let shared = Shared {
        shop: &shop,
        clock: &clock,
        producers: &producers,
        foreign,
        closed: &closed,
        after_close,
    };

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
    let (setup_events, setup_carts) = run_thread(&shared, &[], &setup);

    let knows_if_closed = shop.is_closed().is_some();
    let mut plans: Vec<Vec<Plan>> = (0..THREADS)
        .map(|t| {
            plan_thread(
                rng,
                producers.len(),
                carts,
                100 * (t as u64 + 1),
                knows_if_closed,
            )
        })
        .collect();
    // A close in one round of four, in place of one planned operation other than a new
    // cart (which later operations may name): at most one, as a second would show nothing
    // the first did not.
    if rng.gen_range(0..4) == 0 {
        let thread = &mut plans[rng.gen_range(0..THREADS)];
        let at = rng.gen_range(0..thread.len());
        if !matches!(thread[at], Plan::NewCart) {
            thread[at] = Plan::Close;
        }
    }
    let arrived = AtomicUsize::new(0);
    let mut threads = vec![setup_events];
    thread::scope(|s| {
        let workers: Vec<_> = plans
            .iter()
            .map(|plans| {
                s.spawn(|| {
                    start_together(&arrived);
                    run_thread(&shared, &setup_carts, plans).0
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
    setting("LINEARIZABILITY_ROUNDS").unwrap_or(6_000)
}

pub(crate) fn redis_rounds() -> usize {
    setting("LINEARIZABILITY_REDIS_ROUNDS").unwrap_or(700)
}

/// Runs `rounds` rounds on `M` from `seed`, checked at `granularity`: the first history
/// found not linearizable, or how many rounds had operations on different threads
/// overlapping.
pub(crate) fn run_rounds<M: Shop>(
    seed: u64,
    rounds: usize,
    granularity: Granularity,
) -> Result<usize, String> {
    run_rounds_waiting::<M>(seed, rounds, granularity, AFTER_CLOSE)
}

/// As [`run_rounds`], with waits called after `close` given `after_close` to run out.
pub(crate) fn run_rounds_waiting<M: Shop>(
    seed: u64,
    rounds: usize,
    granularity: Granularity,
    after_close: Duration,
) -> Result<usize, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Another marketplace of the kind, whose ids every round must refuse.
    let other = M::fresh(1);
    let other = other.market();
    let foreign = (other.register_producer(), other.new_cart());
    let mut overlapping = 0;
    for number in 0..rounds {
        let history = round::<M>(&mut rng, foreign, after_close);
        overlapping += usize::from(history.overlaps());
        verdict(&history, granularity)
            .map_err(|error| format!("round {number}, seed {seed}: {error}"))?;
    }
    Ok(overlapping)
}
