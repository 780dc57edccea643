//! Panic safety: a panic in the user's `Hash`, `Eq` or `Clone`, anywhere in any
//! operation, leaves every count right: no unit of capacity leaked or invented, no item lost
//! or duplicated, and the marketplace (and the cart involved) keeps working. Most tests run
//! on the engine and on the one-lock baseline it is measured against, in both its waiting
//! forms (sleeping at once, and retrying as the engine does first); the few that run on one
//! side only, because the other has no user code to reach at that point, say so.
//!
//! (`engine_panics_logging.rs` does the same for `Debug`, which only runs when a logger
//! wants debug records: it installs one, for its whole process.)
//!
//! Each test arms one trap of a [`Fragile`] product (it panics on this thread only), runs one
//! operation under `catch_unwind`, checks that it panicked, disarms, and then checks the
//! state against what it was before, and that everything still works.

mod support;

use std::hash::BuildHasherDefault;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{AddError, Marketplace, RemoveError, Stats};
use support::{Fragile, Fresh, Trap, YieldingBaseline, arm, arm_after, disarm, stats};

/// A marketplace of [`Fragile`] products, as every test takes it.
trait Market: support::Market<Fragile> + Fresh {}

impl<M: support::Market<Fragile> + Fresh> Market for M {}

// One `#[test]` per case and implementation: `engine::case`, `baseline::case` and
// `yielding_baseline::case`.
support::tests_on!(
    Fragile;
    engine: Marketplace,
    baseline: LockedMarketplace,
    yielding_baseline: YieldingBaseline;
    [
        publish_of_a_new_product_survives_each_trap,
        publish_of_a_known_product_survives_each_trap,
        add_to_cart_survives_each_trap,
        remove_from_cart_survives_each_trap,
        a_spent_cart_is_refused_before_any_user_code,
    ]
);

/// The baselines look a product up again at each attempt of a wait, so a trap there is
/// reached while they wait; the engine reuses its first lookup, and
/// `a_wait_survives_a_trap_in_its_lookups` reaches its waits otherwise.
mod in_waits {
    use super::*;

    support::tests_on!(
        Fragile;
        baseline: LockedMarketplace,
        yielding_baseline: YieldingBaseline;
        [add_to_cart_survives_a_trap_while_it_waits]
    );
}

fn item(kind: u32, serial: u64) -> Fragile {
    Fragile { kind, serial }
}

fn ask(kind: u32) -> Fragile {
    item(kind, 0)
}

/// Runs `operation` with `trap` armed and asserts it panicked.
fn panics_with<R>(trap: Trap, operation: impl FnOnce() -> R) {
    panics_at(trap, 0, operation);
}

/// Runs `operation` with `trap` armed to let `passes` calls through, and asserts it panicked.
fn panics_at<R>(trap: Trap, passes: usize, operation: impl FnOnce() -> R) {
    arm_after(trap, passes);
    let outcome = catch_unwind(AssertUnwindSafe(operation));
    disarm();
    assert!(
        outcome.is_err(),
        "the operation did not reach the user's {trap:?}"
    );
}

/// A marketplace of capacity 2 with one producer that has one item of kind 1 on sale, and an
/// open cart holding one item of kind 2 (published by the same producer, then taken).
fn setup<M: Market>() -> (M, M::Producer, M::Cart) {
    let market = M::create(2);
    let producer = market.register_producer();
    market.publish(producer, item(2, 1)).unwrap();
    let cart = market.new_cart();
    market.add_to_cart(cart, &ask(2)).unwrap();
    market.publish(producer, item(1, 2)).unwrap();
    (market, producer, cart)
}

/// The figures `setup` leaves: one producer, one cart, one item on the shelf and one in
/// the cart.
fn before() -> Stats {
    stats(1, 1, 1, 1)
}

/// Everything still works and adds up: the producer can fill its last slot and no more, the
/// items can all be bought, the cart can be ordered.
fn still_works<M: Market>(market: &M, producer: M::Producer, cart: M::Cart) {
    assert_eq!(market.stats(), before(), "a count changed");
    assert_eq!(market.shelf_len(producer), Some(1));
    assert_eq!(market.available(&ask(1)), 1);
    market.publish(producer, item(3, 3)).unwrap();
    assert!(market.publish(producer, item(3, 4)).unwrap_err().is_full());
    market.add_to_cart(cart, &ask(1)).unwrap();
    market.add_to_cart(cart, &ask(3)).unwrap();
    let serials = sorted_serials(market.place_order(cart).unwrap());
    assert_eq!(serials, [1, 2, 3], "an item was lost or duplicated");
    assert_eq!(market.shelf_len(producer), Some(0));
}

/// The serials of an order, smallest first.
fn sorted_serials(order: Vec<Fragile>) -> Vec<u64> {
    let mut serials: Vec<u64> = order.iter().map(|p| p.serial).collect();
    serials.sort_unstable();
    serials
}

fn publish_of_a_new_product_survives_each_trap<M: Market>() {
    for trap in [Trap::Hash, Trap::Clone] {
        let (market, producer, cart) = setup::<M>();
        // Kind 4 has no shelf yet: its first publish hashes it and clones the catalog's key.
        panics_with(trap, || market.publish(producer, item(4, 9)));
        assert_eq!(market.available(&ask(4)), 0, "{trap:?}");
        still_works(&market, producer, cart);
    }
}

fn publish_of_a_known_product_survives_each_trap<M: Market>() {
    for trap in [Trap::Hash, Trap::Eq] {
        let (market, producer, cart) = setup::<M>();
        panics_with(trap, || market.publish(producer, item(1, 9)));
        still_works(&market, producer, cart);
    }
}

/// The engine only: a publish waiting for room, for a product that has no shelf yet, makes
/// that shelf once room is freed, cloning the catalog's key with the unit already counted
/// (the baseline runs no user code while a producer is full). A panic there must give the
/// unit back. The async form, polled by hand, lets the test free the room exactly while
/// the call waits.
#[test]
fn a_waiting_publish_survives_a_trap_once_room_is_freed() {
    let (market, producer, cart) = setup::<Marketplace<Fragile>>();
    market.publish(producer, item(1, 5)).unwrap();
    let other = market.new_cart();
    {
        let mut context = Context::from_waker(Waker::noop());
        let mut publishing = pin!(market.publish_async(producer, item(9, 9)));
        assert!(
            publishing.as_mut().poll(&mut context).is_pending(),
            "published"
        );
        market.add_to_cart(other, &ask(1)).unwrap();
        panics_with(Trap::Clone, || publishing.as_mut().poll(&mut context));
    }
    assert_eq!(market.available(&ask(9)), 0);
    assert_eq!(
        market.shelf_len(producer),
        Some(1),
        "the unit was not given back"
    );
    market.remove_from_cart(other, &ask(1)).unwrap();
    market.place_order(other).unwrap();
    let left = market.new_cart();
    market.add_to_cart(left, &ask(1)).unwrap();
    assert_eq!(market.place_order(left).unwrap().len(), 1);
    still_works(&market, producer, cart);
}

/// The engine only: the unit a publish gives back when the user's `Clone` panics in the
/// insert of its product's entry is room like any other, and must wake a publisher that
/// fell asleep on the producer while that unit was counted, as a take's uncount does: no
/// other call is coming to wake it. Two async publishers, polled by hand, sleep on a full
/// producer; a take wakes the first, whose product is new, and its `Clone` panics there
/// with the freed unit counted.
#[test]
fn a_unit_given_back_by_a_panicking_publish_wakes_a_sleeping_publisher() {
    let market = Marketplace::new(1);
    let producer = market.register_producer();
    market.publish(producer, item(1, 1)).unwrap();
    let (first_woken, then_woken) = (Arc::new(Woken::default()), Arc::new(Woken::default()));
    let (first_waker, then_waker) = (
        Waker::from(Arc::clone(&first_woken)),
        Waker::from(Arc::clone(&then_woken)),
    );
    let mut first_context = Context::from_waker(&first_waker);
    let mut then_context = Context::from_waker(&then_waker);
    let mut panicking = pin!(market.publish_async(producer, item(9, 2)));
    let mut sleeping = pin!(market.publish_async(producer, item(1, 3)));
    // Each one's first poll yields to the executor (waking its own waker), its second goes
    // to sleep.
    for _ in 0..2 {
        assert!(panicking.as_mut().poll(&mut first_context).is_pending());
        assert!(sleeping.as_mut().poll(&mut then_context).is_pending());
    }
    first_woken.take();
    then_woken.take();
    let cart = market.new_cart();
    market.add_to_cart(cart, &ask(1)).unwrap();
    assert!(first_woken.take(), "the take woke nobody");
    assert!(!then_woken.take(), "the take woke both publishers");
    panics_with(Trap::Clone, || panicking.as_mut().poll(&mut first_context));
    assert!(
        then_woken.take(),
        "the unit given back woke nobody: the other publisher sleeps with room free"
    );
    assert!(matches!(
        sleeping.as_mut().poll(&mut then_context),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(market.available(&ask(9)), 0);
    assert_eq!(market.shelf_len(producer), Some(1));
    market.add_to_cart(cart, &ask(1)).unwrap();
    assert_eq!(sorted_serials(market.place_order(cart).unwrap()), [1, 3]);
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Woken(AtomicBool);

impl Woken {
    /// Whether it was woken since the last call.
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The engine only: the insert that makes a new product's entry, once its unit is counted,
/// looks the product up again and hashes its key. With every product hashed alike, that
/// lookup compares it with the other products' entries, and a panic there, or in the key's
/// hash, must give the unit back.
#[test]
fn a_first_publish_survives_a_trap_in_its_insert() {
    for trap in [Trap::Eq, Trap::Hash] {
        a_first_publish_survives_a_trap_in_its_insert_of(trap);
    }
}

fn a_first_publish_survives_a_trap_in_its_insert_of(trap: Trap) {
    let market = Marketplace::with_hasher(2, BuildHasherDefault::<Colliding>::default());
    let producer = market.register_producer();
    market.publish(producer, item(1, 1)).unwrap();
    // Kind 9 is new: the call's lookup hashes it once and compares it with kind 1 once, the
    // insert compares again and hashes its key.
    panics_at(trap, 1, || market.publish(producer, item(9, 2)));
    assert_eq!(
        market.shelf_len(producer),
        Some(1),
        "{trap:?}: the unit was not given back"
    );
    assert_eq!(market.available(&ask(9)), 0);
    market.publish(producer, item(9, 3)).unwrap();
    assert!(market.publish(producer, item(9, 4)).unwrap_err().is_full());
    let cart = market.new_cart();
    market.add_to_cart(cart, &ask(9)).unwrap();
    market.add_to_cart(cart, &ask(1)).unwrap();
    let serials = sorted_serials(market.place_order(cart).unwrap());
    assert_eq!(serials, [1, 3], "an item was lost or duplicated");
}

/// The engine only: a wait runs the user's `Hash` and `Eq` once each, in the call's first
/// lookup, and its attempts reuse what that lookup found (the baselines look the product up
/// again at each attempt). Each call times out, after spinning, yielding and sleeping.
#[test]
fn waits_run_the_users_hash_and_eq_once() {
    // The async forms are polled on this thread, where the trap is armed, until a timer
    // drops them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let timeout = Duration::from_millis(20);
    for trap in [Trap::Hash, Trap::Eq] {
        let (market, producer, cart) = setup::<Marketplace<Fragile>>();
        // Full: the publishes wait.
        market.publish(producer, item(1, 5)).unwrap();
        let published = once(trap, || {
            market.publish_timeout(producer, item(1, 9), timeout)
        });
        assert!(published.unwrap_err().is_full());
        let published = once(trap, || {
            runtime.block_on(async {
                tokio::time::timeout(timeout, market.publish_async(producer, item(1, 9))).await
            })
        });
        assert!(published.is_err(), "published");
        // Kind 2 has a shelf, empty: the adds wait.
        let added = once(trap, || market.add_to_cart_timeout(cart, &ask(2), timeout));
        assert_eq!(added, Err(AddError::Unavailable));
        let added = once(trap, || {
            runtime.block_on(async {
                tokio::time::timeout(timeout, market.add_to_cart_async(cart, &ask(2))).await
            })
        });
        assert!(added.is_err(), "added");
    }
}

/// Runs `operation` with `trap` armed to let one call through, and asserts it did not
/// panic.
fn once<R>(trap: Trap, operation: impl FnOnce() -> R) -> R {
    arm_after(trap, 1);
    let outcome = catch_unwind(AssertUnwindSafe(operation));
    disarm();
    outcome.unwrap_or_else(|_| panic!("the user's {trap:?} ran more than once"))
}

/// Hashes every product alike, so that each lookup compares the product asked for with
/// whatever entry the catalog has.
#[derive(Default)]
struct Colliding;

impl std::hash::Hasher for Colliding {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, _: &[u8]) {}
}

/// The engine only: its waits run user code only while the product has no shelf, when each
/// attempt looks it up again. With every product hashed alike, that lookup compares it with
/// the other products' entries, and a panic there, made while the call waits, must leave
/// every count right.
#[test]
fn a_wait_survives_a_trap_in_its_lookups() {
    let market = Marketplace::with_hasher(2, BuildHasherDefault::<Colliding>::default());
    let producer = market.register_producer();
    market.publish(producer, item(1, 1)).unwrap();
    let cart = market.new_cart();
    // Kind 7 was never published: the first lookup compares it with kind 1 once, and the
    // panic comes from the wait's own lookup.
    panics_at(Trap::Eq, 1, || {
        market.add_to_cart_timeout(cart, &ask(7), Duration::from_millis(50))
    });
    assert_eq!(market.stats(), stats(1, 1, 1, 0), "a count changed");
    // The same wait, now answered by a publish from another thread.
    std::thread::scope(|s| {
        s.spawn(|| market.publish(producer, item(7, 2)).unwrap());
        market
            .add_to_cart_timeout(cart, &ask(7), Duration::from_secs(60))
            .unwrap();
    });
    market.add_to_cart(cart, &ask(1)).unwrap();
    let serials = sorted_serials(market.place_order(cart).unwrap());
    assert_eq!(serials, [1, 2], "an item was lost or duplicated");
    assert_eq!(market.shelf_len(producer), Some(0));
}

fn add_to_cart_survives_each_trap<M: Market>() {
    for trap in [Trap::Hash, Trap::Eq] {
        let (market, producer, cart) = setup::<M>();
        panics_with(trap, || market.add_to_cart(cart, &ask(1)));
        still_works(&market, producer, cart);
    }
    // Kind 7 was never published: the call waits for the catalog to grow.
    let (market, producer, cart) = setup::<M>();
    panics_with(Trap::Hash, || {
        market.add_to_cart_timeout(cart, &ask(7), Duration::from_millis(50))
    });
    still_works(&market, producer, cart);
}

fn add_to_cart_survives_a_trap_while_it_waits<M: Market>() {
    // Kind 2 has a shelf, empty: the call waits, and the panic comes from the second
    // comparison, made once it waits (the first lookup compares once).
    let (market, producer, cart) = setup::<M>();
    panics_at(Trap::Eq, 1, || {
        market.add_to_cart_timeout(cart, &ask(2), Duration::from_millis(50))
    });
    still_works(&market, producer, cart);
}

fn remove_from_cart_survives_each_trap<M: Market>() {
    // In the product's lookup, before anything is claimed.
    for trap in [Trap::Hash, Trap::Eq] {
        let (market, producer, cart) = setup::<M>();
        panics_with(trap, || market.remove_from_cart(cart, &ask(2)));
        still_works(&market, producer, cart);
    }
    // In the claim, under the cart's lock (the lookup compares once): the cart must stay
    // usable.
    let (market, producer, cart) = setup::<M>();
    panics_at(Trap::Eq, 1, || market.remove_from_cart(cart, &ask(2)));
    still_works(&market, producer, cart);
}

/// A call on a spent cart is refused as `UnknownCart` before it hashes or compares the
/// product, on every implementation alike: with the user's `Hash` or `Eq` panicking, it
/// still returns the error.
fn a_spent_cart_is_refused_before_any_user_code<M: Market>() {
    let (market, producer, cart) = setup::<M>();
    let spent = market.new_cart();
    market.place_order(spent).unwrap();
    for trap in [Trap::Hash, Trap::Eq] {
        arm(trap);
        let refused = catch_unwind(AssertUnwindSafe(|| {
            (
                market.remove_from_cart(spent, &ask(1)),
                market.add_to_cart(spent, &ask(1)),
                market.add_to_cart_timeout(spent, &ask(1), Duration::from_millis(50)),
            )
        }));
        disarm();
        let (removed, added, waited) =
            refused.unwrap_or_else(|_| panic!("a call on a spent cart ran the user's {trap:?}"));
        assert_eq!(removed, Err(RemoveError::UnknownCart), "{trap:?}");
        assert_eq!(added, Err(AddError::UnknownCart), "{trap:?}");
        assert_eq!(waited, Err(AddError::UnknownCart), "{trap:?}");
    }
    still_works(&market, producer, cart);
}

/// Where the engine and the baselines differ: a publish to a full producer hashes and looks
/// up its product on the engine, which does so before it counts the unit, and not on the
/// baselines, which check the room first under their lock. So with the user's `Hash`
/// panicking, the engine's call panics where a baseline's returns `Full`; either way no
/// count changes.
#[test]
fn a_publish_to_a_full_producer_runs_the_users_hash_on_the_engine_only() {
    fn full_publish<M: Market>() -> bool {
        let (market, producer, cart) = setup::<M>();
        market.publish(producer, item(1, 3)).unwrap();
        arm(Trap::Hash);
        let outcome = catch_unwind(AssertUnwindSafe(|| market.publish(producer, item(1, 9))));
        disarm();
        let panicked = match outcome {
            Ok(refused) => {
                assert!(refused.unwrap_err().is_full());
                false
            }
            Err(_) => true,
        };
        assert_eq!(market.stats(), stats(1, 1, 2, 1), "a count changed");
        assert_eq!(market.shelf_len(producer), Some(2));
        market.add_to_cart(cart, &ask(1)).unwrap();
        market.add_to_cart(cart, &ask(1)).unwrap();
        let serials = sorted_serials(market.place_order(cart).unwrap());
        assert_eq!(serials, [1, 2, 3], "an item was lost or duplicated");
        panicked
    }
    assert!(full_publish::<Marketplace<Fragile>>(), "the engine");
    assert!(
        !full_publish::<LockedMarketplace<Fragile>>(),
        "the baseline"
    );
    assert!(
        !full_publish::<YieldingBaseline<Fragile>>(),
        "the yielding baseline"
    );
}
