//! The user's code calling back into the marketplace that runs it: a product whose `Hash`,
//! `Eq`, `Clone` or `Debug` makes calls on the same marketplace (and the same cart) while the
//! engine is in the middle of a call.
//!
//! Every call made from user code that runs outside the engine's locks returns, with its
//! usual outcome, as does every call but the one cart's from the `Eq` of a claim (which
//! runs under the cart's lock). A call on that cart from there panics, saying why, and
//! leaves the marketplace as it was, instead of deadlocking on the cart's lock. Each call
//! runs under a watchdog, so a deadlock fails the test with a message rather than hanging it.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::mpsc::channel;
use std::thread;
use std::time::Duration;

use log::{LevelFilter, Log, Metadata, Record};
use marketplace::{AddError, CartId, Marketplace, ProducerId};

/// Which of the product's trait impls runs the hook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trait {
    Hash,
    Eq,
    Clone,
    Debug,
    Drop,
}

/// A hook armed on this thread: after `skip` calls of `of`, the next one runs `call`.
struct Hook {
    of: Trait,
    skip: usize,
    call: Box<dyn FnOnce()>,
}

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
    static FIRED: RefCell<bool> = const { RefCell::new(false) };
}

/// Arms `call` to run from the `skip + 1`-th call of the product's `of` on this thread.
fn arm(of: Trait, skip: usize, call: impl FnOnce() + 'static) {
    HOOK.with(|hook| {
        *hook.borrow_mut() = Some(Hook {
            of,
            skip,
            call: Box::new(call),
        });
    });
    FIRED.with(|fired| *fired.borrow_mut() = false);
}

/// Whether the hook armed last ran (disarming it if it did not).
fn fired() -> bool {
    HOOK.with(|hook| hook.borrow_mut().take());
    FIRED.with(|fired| *fired.borrow())
}

/// Called from each trait impl: runs the hook if it is armed for this call. The hook is taken
/// out before it runs, so the calls it makes run the product's code plainly.
fn spring(now: Trait) {
    let due = HOOK.with(|hook| {
        let mut hook = hook.borrow_mut();
        match hook.as_mut() {
            Some(armed) if armed.of == now && armed.skip == 0 => hook.take(),
            Some(armed) if armed.of == now => {
                armed.skip -= 1;
                None
            }
            _ => None,
        }
    });
    if let Some(hook) = due {
        FIRED.with(|fired| *fired.borrow_mut() = true);
        (hook.call)();
    }
}

/// A product whose every trait impl may call back into the marketplace through the hook.
struct Hooked(&'static str);

impl PartialEq for Hooked {
    fn eq(&self, other: &Self) -> bool {
        spring(Trait::Eq);
        self.0 == other.0
    }
}

impl Eq for Hooked {}

impl Hash for Hooked {
    fn hash<H: Hasher>(&self, state: &mut H) {
        spring(Trait::Hash);
        self.0.hash(state);
    }
}

impl Clone for Hooked {
    fn clone(&self) -> Self {
        spring(Trait::Clone);
        Hooked(self.0)
    }
}

impl fmt::Debug for Hooked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        spring(Trait::Debug);
        f.write_str(self.0)
    }
}

impl Drop for Hooked {
    fn drop(&mut self) {
        spring(Trait::Drop);
    }
}

/// A logger that formats every record (so the engine runs the product's `Debug`) with no lock
/// of its own, which the hook's calls would otherwise re-enter.
struct Formatting;

impl Log for Formatting {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        std::hint::black_box(record.args().to_string());
    }
    fn flush(&self) {}
}

static LOGGER: Formatting = Formatting;

fn log_at_debug() {
    // Each test installs it; the first one to run succeeds.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Debug);
}

/// Runs `call` on a thread of its own and returns how it ended, failing the test if it does
/// not end within ten seconds (a deadlock: the thread is left behind).
fn within_watchdog<T: Send + 'static>(
    what: &str,
    call: impl FnOnce() -> T + Send + 'static,
) -> thread::Result<T> {
    let (ended, end) = channel();
    thread::spawn(move || {
        let _ = ended.send(catch_unwind(AssertUnwindSafe(call)));
    });
    end.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} never returned: it deadlocked"))
}

type Market = Arc<Marketplace<Hooked>>;

/// Runs `future` to completion on this thread, where the hook is armed.
fn poll_on_this_thread<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// Asserts that `panic` is the engine's refusal of a call back into a claim's own cart.
fn assert_refused_as_a_call_back(panic: &(dyn Any + Send), what: &str) {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains("called back into the cart"),
        "{what}: panicked with {message:?}"
    );
}

/// A marketplace with a producer that has a tea on sale, and a cart holding another tea.
fn tea_in_a_cart() -> (Market, ProducerId, CartId) {
    let market = Arc::new(Marketplace::new(4));
    let producer = market.register_producer();
    let cart = market.new_cart();
    market.publish(producer, Hooked("tea")).unwrap();
    market.add_to_cart(cart, &Hooked("tea")).unwrap();
    market.publish(producer, Hooked("tea")).unwrap();
    (market, producer, cart)
}

/// Calls of every kind on `market`, none on `cart`, each checked: what any user code may do.
fn round_beside(market: &Market, cart: CartId) {
    let stats = market.stats();
    let producer = market.register_producer();
    assert_eq!(market.shelf_len(producer), Some(0));
    assert!(!market.is_closed());
    market.publish(producer, Hooked("coffee")).unwrap();
    assert_eq!(market.available(&Hooked("coffee")), 1);
    let other = market.new_cart();
    assert_ne!(other, cart);
    market.add_to_cart(other, &Hooked("coffee")).unwrap();
    market.remove_from_cart(other, &Hooked("coffee")).unwrap();
    market
        .product(&Hooked("coffee"))
        .add_to_cart(other)
        .unwrap();
    assert_eq!(market.place_order(other).unwrap().len(), 1);
    assert_eq!(market.stats().producers, stats.producers + 1);
}

/// `round_beside`, then calls on `cart` itself: what user code outside the cart's lock may
/// do. The cart ends as it started.
fn round_on(market: &Market, cart: CartId) {
    round_beside(market, cart);
    let producer = market.register_producer();
    market.publish(producer, Hooked("milk")).unwrap();
    market.add_to_cart(cart, &Hooked("milk")).unwrap();
    market.remove_from_cart(cart, &Hooked("milk")).unwrap();
    market
        .add_to_cart_timeout(cart, &Hooked("milk"), Duration::from_secs(10))
        .unwrap();
    market.remove_from_cart(cart, &Hooked("milk")).unwrap();
    let spent = market.new_cart();
    market.place_order(spent).unwrap();
}

/// An operation on the tea cart, which runs the user's code, and what it returns.
type Operation = fn(&Market, ProducerId, CartId) -> String;

/// The calls made from the hook: `round_on`, or `round_beside` once the cart is spent.
type Round = fn(&Market, CartId);

/// Each operation, the calls made from its user code, and the trait impls it runs.
fn operations() -> [(&'static str, Operation, Round, &'static [Trait]); 9] {
    [
        (
            "publish of a product on sale",
            |m, p, _| format!("{:?}", m.publish(p, Hooked("tea"))),
            round_on,
            &[Trait::Hash, Trait::Eq, Trait::Debug],
        ),
        (
            "publish of a new product",
            |m, p, _| format!("{:?}", m.publish(p, Hooked("sugar"))),
            round_on,
            &[Trait::Hash, Trait::Clone, Trait::Debug],
        ),
        (
            "add_to_cart",
            |m, _, c| format!("{:?}", m.add_to_cart(c, &Hooked("tea"))),
            round_on,
            &[Trait::Hash, Trait::Eq, Trait::Debug],
        ),
        (
            "remove_from_cart (its lookup)",
            |m, _, c| format!("{:?}", m.remove_from_cart(c, &Hooked("tea"))),
            round_on,
            &[Trait::Hash, Trait::Eq, Trait::Debug],
        ),
        (
            "place_order",
            |m, _, c| format!("{:?}", m.place_order(c).map(|order| order.len())),
            round_beside,
            &[Trait::Debug],
        ),
        (
            "a handle's publish",
            |m, p, _| {
                let tea = m.product(&Hooked("tea"));
                format!("{:?}", tea.publish(p))
            },
            round_on,
            &[Trait::Clone],
        ),
        (
            "publish_async",
            |m, p, _| {
                format!(
                    "{:?}",
                    poll_on_this_thread(m.publish_async(p, Hooked("tea")))
                )
            },
            round_on,
            &[Trait::Hash, Trait::Eq, Trait::Debug],
        ),
        (
            "add_to_cart_async",
            |m, _, c| {
                format!(
                    "{:?}",
                    poll_on_this_thread(m.add_to_cart_async(c, &Hooked("tea")))
                )
            },
            round_on,
            &[Trait::Hash, Trait::Eq, Trait::Debug],
        ),
        (
            "available",
            |m, _, _| format!("{:?}", Ok::<_, ()>(m.available(&Hooked("tea")))),
            round_on,
            &[Trait::Hash, Trait::Eq],
        ),
    ]
}

/// From the `Hash`, `Eq`, `Clone` and `Debug` that an operation runs outside any lock, every
/// call on the marketplace works, the operation's own cart included, and the operation
/// returns as it would have without them.
#[test]
fn user_code_outside_the_carts_lock_may_call_anything() {
    log_at_debug();
    for (name, operation, round, traits) in operations() {
        let (market, producer, cart) = tea_in_a_cart();
        let plain = operation(&market, producer, cart);
        for &of in traits {
            let (market, producer, cart) = tea_in_a_cart();
            let what = format!("{name} calling back from {of:?}");
            let hooked = within_watchdog(&what, move || {
                let inner = Arc::clone(&market);
                arm(of, 0, move || round(&inner, cart));
                let outcome = operation(&market, producer, cart);
                (fired(), outcome)
            });
            let (fired, outcome) = hooked.unwrap_or_else(|panic| resume_unwind(panic));
            assert!(fired, "{what}: the hook never ran");
            assert_eq!(outcome, plain, "{what}");
        }
    }
}

/// From the `Eq` of a claim (`remove_from_cart` comparing the cart's items, under its lock),
/// every call on another cart or on the marketplace as a whole works, as does an add to the
/// cart itself that finds nothing on sale, and the remove succeeds.
#[test]
fn the_eq_of_a_claim_may_call_anything_but_its_own_cart() {
    log_at_debug();
    let (market, producer, cart) = tea_in_a_cart();
    let outcome = within_watchdog("remove_from_cart calling back from its claim", move || {
        let inner = Arc::clone(&market);
        // The lookup in the catalog runs `Eq` once; the claim's comparison is the second.
        arm(Trait::Eq, 1, move || {
            round_beside(&inner, cart);
            // Nothing on sale: the add takes no lock, and returns as ever.
            assert_eq!(
                inner.add_to_cart(cart, &Hooked("nothing")),
                Err(AddError::Unavailable)
            );
        });
        let removed = market.remove_from_cart(cart, &Hooked("tea"));
        (fired(), removed, market.shelf_len(producer), market.stats())
    });
    let (fired, removed, on_shelf, stats) = outcome.unwrap_or_else(|panic| resume_unwind(panic));
    assert!(fired, "the hook never ran");
    assert_eq!(removed, Ok(()));
    assert_eq!(on_shelf, Some(2), "the tea is back on sale");
    assert_eq!(stats.items_in_carts, 0);
}

/// A call on the cart whose claim is comparing, from that comparison's `Eq`, would take the
/// cart's lock its own thread holds: it panics, saying so, and the remove with it, leaving
/// the cart and every count as they were; the cart works on afterwards.
#[test]
fn a_call_on_its_own_cart_from_the_eq_of_a_claim_panics_and_changes_nothing() {
    log_at_debug();
    let calls: [(&str, Round); 6] = [
        ("add_to_cart", |m, c| {
            let _ = m.add_to_cart(c, &Hooked("tea"));
        }),
        ("add_to_cart_async", |m, c| {
            let _ = poll_on_this_thread(m.add_to_cart_async(c, &Hooked("tea")));
        }),
        ("add_to_cart_timeout", |m, c| {
            let _ = m.add_to_cart_timeout(c, &Hooked("tea"), Duration::from_secs(1));
        }),
        ("a handle's add_to_cart", |m, c| {
            let _ = m.product(&Hooked("tea")).add_to_cart(c);
        }),
        ("remove_from_cart", |m, c| {
            let _ = m.remove_from_cart(c, &Hooked("tea"));
        }),
        ("place_order", |m, c| {
            let _ = m.place_order(c);
        }),
    ];
    for (name, call) in calls {
        let (market, producer, cart) = tea_in_a_cart();
        let before = market.stats();
        let what = format!("remove_from_cart calling {name} on its cart from its claim");
        let inner = Arc::clone(&market);
        let outcome = within_watchdog(&what, move || {
            let market = Arc::clone(&inner);
            arm(Trait::Eq, 1, move || call(&market, cart));
            inner.remove_from_cart(cart, &Hooked("tea"))
        });
        assert_refused_as_a_call_back(&*outcome.expect_err(&what), &what);
        assert_eq!(market.stats(), before, "{what}");
        assert_eq!(market.available(&Hooked("tea")), 1, "{what}");
        assert_eq!(market.shelf_len(producer), Some(1), "{what}");
        assert_eq!(
            market.remove_from_cart(cart, &Hooked("tea")),
            Ok(()),
            "{what}"
        );
        assert_eq!(market.add_to_cart(cart, &Hooked("tea")), Ok(()), "{what}");
        assert_eq!(market.place_order(cart).unwrap().len(), 1, "{what}");
    }
}

/// A pending `publish_async` holds its product; dropping the future drops it, in the caller's
/// hands and under no lock of the engine's, so its `Drop` may call anything, the waiting
/// producer's publish included.
#[test]
fn the_drop_of_a_product_in_a_dropped_publish_may_call_anything() {
    let (market, producer, cart) = tea_in_a_cart();
    let outcome = within_watchdog(
        "a dropped publish_async calling back from Drop",
        move || {
            let full = market.register_producer();
            market.publish(full, Hooked("sugar")).unwrap();
            market.publish(full, Hooked("sugar")).unwrap();
            market.publish(full, Hooked("sugar")).unwrap();
            market.publish(full, Hooked("sugar")).unwrap();
            let mut waiting = Box::pin(market.publish_async(full, Hooked("sugar")));
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(
                waiting.as_mut().poll(&mut context).is_pending(),
                "the producer is full"
            );
            let inner = Arc::clone(&market);
            arm(Trait::Drop, 0, move || {
                round_on(&inner, cart);
                assert_eq!(
                    inner
                        .publish(full, Hooked("honey"))
                        .map_err(|refused| refused.is_full()),
                    Err(true)
                );
                assert_eq!(inner.publish(producer, Hooked("honey")), Ok(()));
            });
            drop(waiting);
            (
                fired(),
                market.available(&Hooked("honey")),
                market.shelf_len(full),
            )
        },
    );
    let (fired, honey, full) = outcome.unwrap_or_else(|panic| resume_unwind(panic));
    assert!(fired, "the hook never ran");
    assert_eq!(honey, 1);
    assert_eq!(full, Some(4), "the dropped publish published nothing");
}

/// An add on the cart whose claim is comparing, from that comparison's `Eq`, takes the
/// oldest item on sale before it finds the cart's lock taken; it puts the item back before it
/// panics, counted as before, but last on sale, behind an item published after it (as an
/// add whose cart was ordered meanwhile puts its item back).
#[test]
fn an_add_refused_in_a_claim_puts_its_item_back_last() {
    let (market, first, cart) = tea_in_a_cart();
    let second = market.register_producer();
    market.publish(second, Hooked("tea")).unwrap();
    let before = market.stats();
    let inner = Arc::clone(&market);
    let outcome = within_watchdog("an add on its cart from a claim", move || {
        let market = Arc::clone(&inner);
        arm(Trait::Eq, 1, move || {
            let _ = market.add_to_cart(cart, &Hooked("tea"));
        });
        inner.remove_from_cart(cart, &Hooked("tea"))
    });
    assert!(outcome.is_err(), "the add from the claim did not panic");
    assert_eq!(market.stats(), before);
    assert_eq!(market.shelf_len(first), Some(1));
    assert_eq!(market.shelf_len(second), Some(1));
    let buyer = market.new_cart();
    market.add_to_cart(buyer, &Hooked("tea")).unwrap();
    assert_eq!(
        (market.shelf_len(first), market.shelf_len(second)),
        (Some(1), Some(0)),
        "the first producer's tea, put back, was still sold before the second's"
    );
}

/// A claim's mark on its thread ends with the claim, a panic in its `Eq` included (which
/// also poisons the cart's lock): the same thread's add to that cart, while another thread's
/// claim holds the cart's lock, waits for it and succeeds, rather than panicking as a call
/// back from a claim would.
#[test]
fn a_claim_ended_by_a_panic_in_its_eq_leaves_no_mark_on_its_thread() {
    let (market, _, cart) = tea_in_a_cart();
    let outcome = within_watchdog("an add waiting for another thread's claim", move || {
        arm(Trait::Eq, 1, || panic!("the user's Eq panicked"));
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            market.remove_from_cart(cart, &Hooked("tea"))
        }));
        assert!(panicked.is_err(), "the user's Eq did not panic");
        let (holding, held) = channel();
        thread::scope(|s| {
            let other = s.spawn(|| {
                let inner = Arc::clone(&market);
                // Holds the cart's lock until this thread has taken the tea on sale off
                // its shelf, just before it takes the cart's lock.
                arm(Trait::Eq, 1, move || {
                    holding.send(()).unwrap();
                    while inner.available(&Hooked("tea")) > 0 {
                        thread::yield_now();
                    }
                });
                let removed = market.remove_from_cart(cart, &Hooked("tea"));
                (fired(), removed)
            });
            held.recv().unwrap();
            let added = market.add_to_cart(cart, &Hooked("tea"));
            (other.join().unwrap(), added)
        })
    });
    let ((fired, removed), added) = outcome.unwrap_or_else(|panic| resume_unwind(panic));
    assert!(fired, "the other thread's hook never ran");
    assert_eq!(removed, Ok(()));
    assert_eq!(added, Ok(()));
}

/// A claim inside a claim (the `Eq` of one remove calling a remove on another cart) marks
/// its own cart while it runs and the outer one's again once it ends: a call on the outer
/// cart made after it is still refused, not left to deadlock.
#[test]
fn a_claim_inside_a_claim_gives_the_mark_back_when_it_ends() {
    let (market, producer, cart) = tea_in_a_cart();
    let other = market.new_cart();
    market.publish(producer, Hooked("coffee")).unwrap();
    market.add_to_cart(other, &Hooked("coffee")).unwrap();
    let inner = Arc::clone(&market);
    let outcome = within_watchdog(
        "a call on a claim's cart after a claim inside it",
        move || {
            let market = Arc::clone(&inner);
            arm(Trait::Eq, 1, move || {
                assert_eq!(market.remove_from_cart(other, &Hooked("coffee")), Ok(()));
                let _ = market.place_order(cart);
            });
            inner.remove_from_cart(cart, &Hooked("tea"))
        },
    );
    let panic = outcome.expect_err("the call on the outer claim's cart did not panic");
    assert_refused_as_a_call_back(&*panic, "a call on a claim's cart after a claim inside it");
    assert_eq!(market.stats().open_carts, 2);
}

/// A waiting add on the cart whose claim is comparing, from that comparison's `Eq`, for a
/// product not on sale waits, the cart's lock held, until an item comes; it takes that item
/// (at once, if it came first, or woken for it), finds the lock its thread holds, and
/// panics, putting the item back on sale.
#[test]
fn a_waiting_add_from_a_claim_panics_once_an_item_comes() {
    let (market, _, cart) = tea_in_a_cart();
    let before = market.stats();
    let maker = market.register_producer();
    let (waiting, wait_begun) = channel();
    let inner = Arc::clone(&market);
    let outcome = within_watchdog("a waiting add on its cart from a claim", move || {
        let market = Arc::clone(&inner);
        arm(Trait::Eq, 1, move || {
            waiting.send(()).unwrap();
            let _ = market.add_to_cart_timeout(cart, &Hooked("sugar"), Duration::MAX);
        });
        let market_for_remove = Arc::clone(&inner);
        thread::scope(|s| {
            s.spawn(move || {
                wait_begun.recv().unwrap();
                inner.publish(maker, Hooked("sugar")).unwrap();
            });
            catch_unwind(AssertUnwindSafe(|| {
                market_for_remove.remove_from_cart(cart, &Hooked("tea"))
            }))
        })
    });
    let panic = outcome
        .unwrap_or_else(|panic| resume_unwind(panic))
        .expect_err("the waiting add from the claim did not panic");
    assert_refused_as_a_call_back(&*panic, "a waiting add on its cart from a claim");
    assert_eq!(market.available(&Hooked("sugar")), 1);
    assert_eq!(market.shelf_len(maker), Some(1));
    assert_eq!(market.stats().items_in_carts, before.items_in_carts);
}

/// A spent cart whose slot the claim's cart took over (a thread's next cart reuses the slot
/// of the one it ordered) is a cart other than the claim's: the calls on it from the claim's
/// `Eq` report it unknown, as anywhere, rather than panic as calls on the claim's cart do.
#[test]
fn a_spent_cart_in_the_slot_of_a_claims_cart_is_unknown_from_its_eq() {
    let outcome = within_watchdog("calls on a spent cart from a claim", move || {
        let market = Arc::new(Marketplace::new(4));
        let producer = market.register_producer();
        let spent = market.new_cart();
        market.place_order(spent).unwrap();
        let cart = market.new_cart();
        market.publish(producer, Hooked("tea")).unwrap();
        market.add_to_cart(cart, &Hooked("tea")).unwrap();
        market.publish(producer, Hooked("tea")).unwrap();
        let inner = Arc::clone(&market);
        let (answers, answered) = channel();
        arm(Trait::Eq, 1, move || {
            let calls = (
                inner.add_to_cart(spent, &Hooked("tea")),
                inner.remove_from_cart(spent, &Hooked("tea")),
                inner.place_order(spent),
            );
            answers.send(calls).unwrap();
        });
        let removed = market.remove_from_cart(cart, &Hooked("tea"));
        (fired(), answered.recv().unwrap(), removed, spent, cart)
    });
    let (fired, (added, removed_spent, ordered), removed, spent, cart) =
        outcome.unwrap_or_else(|panic| resume_unwind(panic));
    assert!(fired, "the hook never ran");
    // The slot shows only in the ids' `Debug`.
    let slot = |id: CartId| {
        let shown = format!("{id:?}");
        shown[shown.find("slot").expect("the slot is shown")..].to_owned()
    };
    assert_ne!(spent, cart);
    assert_eq!(
        slot(spent),
        slot(cart),
        "the cart did not take the spent one's slot"
    );
    assert_eq!(added, Err(AddError::UnknownCart));
    assert_eq!(removed_spent, Err(marketplace::RemoveError::UnknownCart));
    assert_eq!(
        ordered.map(|order| order.len()),
        Err(marketplace::OrderError::UnknownCart)
    );
    assert_eq!(removed, Ok(()));
}

/// A remove whose cart is ordered, and its slot taken by the next cart, between the remove's
/// look at the cart and its claim (here from the `Eq` of its catalog lookup, which runs
/// before the claim takes the cart's lock) claims nothing from that next cart: under the
/// lock, the slot must hold the remove's own cart, not just any open one.
#[test]
fn a_remove_whose_cart_is_ordered_before_its_claim_takes_nothing_from_the_slots_next_cart() {
    let outcome = within_watchdog("a remove racing its cart's order and reuse", move || {
        let (market, _, cart) = tea_in_a_cart();
        let inner = Arc::clone(&market);
        let (answers, answered) = channel();
        arm(Trait::Eq, 0, move || {
            let ordered = inner.place_order(cart).map(|order| order.len());
            // This thread's next cart takes the slot its order freed.
            let next = inner.new_cart();
            let added = inner.add_to_cart(next, &Hooked("tea"));
            answers.send((ordered, next, added)).unwrap();
        });
        let removed = market.remove_from_cart(cart, &Hooked("tea"));
        let (ordered, next, added) = answered.recv().unwrap();
        let next_order = market.place_order(next).map(|order| order.len());
        (fired(), ordered, added, removed, next_order)
    });
    let (fired, ordered, added, removed, next_order) =
        outcome.unwrap_or_else(|panic| resume_unwind(panic));
    assert!(fired, "the hook never ran");
    assert_eq!((ordered, added), (Ok(1), Ok(())));
    assert_eq!(
        removed,
        Err(marketplace::RemoveError::UnknownCart),
        "the remove claimed from another cart"
    );
    assert_eq!(next_order, Ok(1), "the next cart lost its item");
}
