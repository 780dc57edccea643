//! Progress: no operation waits for another thread while holding a lock, so one thread
//! stopped in the middle of an operation stops nobody else.
//!
//! The only points where a test can stop a thread inside an operation are the user's trait
//! methods, so these tests use a product whose `Eq`, `Hash` or `Clone` blocks (on the
//! thread that asks it to) until released. While one thread is stopped there, the main
//! thread runs a full round of operations on other carts and products (and on the same
//! product's shelf), none of which may wait: a watchdog fails the test if the round does
//! not finish in seconds. The one lock user code runs under is a cart's own, in a claim
//! (`remove_from_cart` compares the products in the cart): stopping there may hold up that
//! cart only, and the round checks the cart's neighbours, opened before and after it.

use std::hash::{Hash, Hasher};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use marketplace::{AddError, Marketplace, ProducerId};

/// Where a [`Stalling`] product blocks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stop {
    Hash,
    Eq,
    Clone,
}

/// A thread's request to stop: at which call, and the channels to say "stopped" and to wait
/// for "go on".
struct StopRequest {
    at: Stop,
    /// Calls of `at` to let through first.
    skip: usize,
    stopped: Sender<()>,
    go_on: Receiver<()>,
}

thread_local! {
    static STOP: std::cell::RefCell<Option<StopRequest>> = const { std::cell::RefCell::new(None) };
}

/// Blocks this thread if it asked to stop at this call of `at` (once).
fn maybe_stop(at: Stop) {
    let request = STOP.with(|stop| {
        let mut stop = stop.borrow_mut();
        match stop.as_mut() {
            Some(request) if request.at == at && request.skip > 0 => {
                request.skip -= 1;
                None
            }
            Some(request) if request.at == at => stop.take(),
            _ => None,
        }
    });
    if let Some(request) = request {
        request.stopped.send(()).unwrap();
        request.go_on.recv().unwrap();
    }
}

/// Equal by kind; blocks where its thread asked it to.
#[derive(Debug)]
struct Stalling(u32);

impl Hash for Stalling {
    fn hash<H: Hasher>(&self, state: &mut H) {
        maybe_stop(Stop::Hash);
        self.0.hash(state);
    }
}

impl PartialEq for Stalling {
    fn eq(&self, other: &Self) -> bool {
        maybe_stop(Stop::Eq);
        self.0 == other.0
    }
}

impl Eq for Stalling {}

impl Clone for Stalling {
    fn clone(&self) -> Self {
        maybe_stop(Stop::Clone);
        Stalling(self.0)
    }
}

const WATCHDOG: Duration = Duration::from_secs(10);

/// Runs `operation` on a thread that stops at call number `skip + 1` of `at`; once it has
/// stopped, runs `round` on another thread under a watchdog, then lets the stopped thread
/// finish.
fn while_stopped(
    market: &Marketplace<Stalling>,
    (at, skip): (Stop, usize),
    operation: impl FnOnce(&Marketplace<Stalling>) + Send,
    round: impl FnOnce(&Marketplace<Stalling>) + Send,
) {
    let (stopped_tx, stopped) = mpsc::channel();
    let (go_on, go_on_rx) = mpsc::channel();
    thread::scope(|s| {
        let stopped_thread = s.spawn(move || {
            STOP.with(|stop| {
                *stop.borrow_mut() = Some(StopRequest {
                    at,
                    skip,
                    stopped: stopped_tx,
                    go_on: go_on_rx,
                })
            });
            operation(market);
        });
        stopped
            .recv_timeout(WATCHDOG)
            .expect("the operation reached the user's code");
        let (done_tx, done) = mpsc::channel();
        let started = Instant::now();
        s.spawn(move || {
            round(market);
            done_tx.send(()).unwrap();
        });
        let finished = done.recv_timeout(WATCHDOG);
        go_on.send(()).unwrap();
        finished.unwrap_or_else(|_| {
            panic!("with a thread stopped in the user's {at:?}, other operations waited")
        });
        println!(
            "round with a thread stopped in {at:?}: {:?}",
            started.elapsed()
        );
        stopped_thread.join().unwrap();
    });
}

/// Everything another thread might do meanwhile, on carts and products other than the
/// stopped one's (and on the stopped product's shelf): none of it may wait.
fn round(market: &Marketplace<Stalling>, producer: ProducerId) {
    for round in 0..200u32 {
        let kind = 100 + round % 4;
        market.publish(producer, Stalling(kind)).unwrap();
        let cart = market.new_cart();
        market.add_to_cart(cart, &Stalling(kind)).unwrap();
        market.remove_from_cart(cart, &Stalling(kind)).unwrap();
        market.add_to_cart(cart, &Stalling(kind)).unwrap();
        assert_eq!(market.place_order(cart).unwrap().len(), 1);
    }
    // Products first published now, and the stopped thread's product.
    let other = market.register_producer();
    market.publish(other, Stalling(7_000)).unwrap();
    market.publish(other, Stalling(1)).unwrap();
    let cart = market.new_cart();
    market.add_to_cart(cart, &Stalling(1)).unwrap();
    market.place_order(cart).unwrap();
    assert!(market.stats().producers >= 2);
}

fn market_with_stock() -> (Marketplace<Stalling>, ProducerId) {
    let market = Marketplace::new(1_000);
    let producer = market.register_producer();
    for kind in 0..4 {
        market.publish(producer, Stalling(kind)).unwrap();
    }
    (market, producer)
}

#[test]
fn a_claim_stopped_in_the_users_eq_holds_up_only_its_own_cart() {
    let (market, producer) = market_with_stock();
    let before = market.new_cart();
    let cart = market.new_cart();
    let after = market.new_cart();
    market.publish(producer, Stalling(0)).unwrap();
    market.publish(producer, Stalling(0)).unwrap();
    for cart in [before, cart, after] {
        market.add_to_cart(cart, &Stalling(0)).unwrap();
    }
    while_stopped(
        &market,
        // The first comparison finds the product's shelf; the second is the claim's, under
        // `cart`'s lock: this thread stops holding it.
        (Stop::Eq, 1),
        |market| {
            market.remove_from_cart(cart, &Stalling(0)).unwrap();
        },
        |market| {
            for neighbour in [before, after] {
                market.remove_from_cart(neighbour, &Stalling(0)).unwrap();
                market.add_to_cart(neighbour, &Stalling(0)).unwrap();
                assert!(!market.place_order(neighbour).unwrap().is_empty());
            }
            round(market, producer);
        },
    );
    assert_eq!(market.place_order(cart).unwrap(), Vec::<Stalling>::new());
}

#[test]
fn a_first_publish_stopped_in_the_users_clone_holds_up_no_one() {
    let (market, producer) = market_with_stock();
    while_stopped(
        &market,
        (Stop::Clone, 0),
        // Kind 50 is new: its first publish clones the product for the catalog's key.
        |market| market.publish(producer, Stalling(50)).unwrap(),
        |market| round(market, producer),
    );
    assert_eq!(market.available(&Stalling(50)), 1);
}

#[test]
fn lookups_stopped_in_the_users_hash_or_eq_hold_up_no_one() {
    for at in [Stop::Hash, Stop::Eq] {
        let (market, producer) = market_with_stock();
        let cart = market.new_cart();
        while_stopped(
            &market,
            (at, 0),
            |market| market.add_to_cart(cart, &Stalling(2)).unwrap(),
            |market| round(market, producer),
        );
        assert_eq!(market.place_order(cart).unwrap().len(), 1);
    }
}

/// An add that found its cart open and then stopped (in the user's `Hash`, in its lookup)
/// while another thread ordered the cart and opened a new one where it lived, takes
/// nothing when it goes on: the item stays on sale, out of both carts.
#[test]
fn an_add_whose_cart_is_ordered_while_it_is_stopped_takes_nothing() {
    let (market, producer) = market_with_stock();
    let cart = market.new_cart();
    let (fresh_tx, fresh) = mpsc::channel();
    while_stopped(
        &market,
        (Stop::Hash, 0),
        |market| {
            assert_eq!(
                market.add_to_cart(cart, &Stalling(2)),
                Err(AddError::UnknownCart)
            );
        },
        |market| {
            assert_eq!(market.place_order(cart).unwrap(), Vec::<Stalling>::new());
            fresh_tx.send(market.new_cart()).unwrap();
        },
    );
    let fresh = fresh.recv().unwrap();
    assert_eq!(market.available(&Stalling(2)), 1);
    assert_eq!(market.shelf_len(producer), Some(4));
    assert_eq!(market.place_order(fresh).unwrap(), Vec::<Stalling>::new());
}
