//! Waits without busy loops: where threads and tasks sleep until another thread may have
//! made their attempt succeed.
//!
//! Each [`Waiters`] guards one condition (items of one product on sale, room under one
//! producer's capacity) and pairs a count of registered waiters with an
//! [`event_listener::Event`] where they sleep. The fast paths never touch the event: a
//! notifier makes its change visible and then reads the count, and calls the event only
//! when someone is registered. A waiter registers, and listens to the event, *before* the
//! last attempt ahead of each sleep, so a change that lands between a failed attempt and
//! the sleep is never missed (the retries a blocking waiter makes before its first sleep
//! need no registration, as no sleep follows them directly; a waiter just woken first tries
//! without listening, since most wake-ups find what they were woken for, and listens only
//! if that fails):
//!
//! - either the notifier's read of the count sees the registration (it then notifies the
//!   event, whose own protocol wakes a listener registered before the change was made),
//! - or the waiter's attempt, made after its registration, sees the change.
//!
//! That "one of the two sees the other" is the store-buffering pattern, so each side puts a
//! `SeqCst` fence between its write and its read: the notifier between its change and its
//! read of the count (in [`Waiters::notify_one`]), the waiter between its registration and
//! listener and its attempt (in `listen`). With the fences, the reads and writes themselves
//! may be relaxed. (Fences rather than `SeqCst` reads and writes: loom checks fences
//! exactly, while it treats `SeqCst` accesses as acquire/release, so only a protocol built
//! on fences is one its models can prove.)
//!
//! A change that is a read-modify-write on one word needs no fence, if every waiter reads
//! that word, after it listens, with a read-modify-write, and nothing writes the word but
//! read-modify-writes: both then sit in the word's modification order, which is total. If
//! the waiter's comes first, the notifier's change (acquire-release) reads from it or from a
//! later read-modify-write (one of its release sequence), and so synchronises with the fence
//! in `listen` before it, which makes the registration visible; if the notifier's comes
//! first, the waiter's read sees the change. A producer's room works this way (see
//! `producer`): each take's uncount wakes with [`Waiters::notify_one_after_rmw`] and no
//! fence. `scripts/mutation-check` weakens each part of this protocol in turn, and a model in
//! `loom-tests/` catches each.
//!
//! An arrival or a unit of room wakes one waiter: one item or one unit helps one waiter. A
//! woken waiter whose attempt fails because another thread took what it was woken for goes
//! back to sleep; one that leaves without using what it was woken for (its cart was ordered
//! meanwhile) passes the notification on; a listener dropped after its notification (a
//! timeout racing the wake-up) passes it on by itself. `close` wakes every waiter. A new
//! product in the catalog wakes every consumer in one bucket of those waiting for products
//! with no shelf yet, the bucket its hash picks, where every consumer its entry can serve
//! waits (see `catalog`): the protocol above holds per bucket, as a waiter registers with,
//! listens to and is notified through its bucket's `Waiters` alone.
//!
//! Blocking waiters first retry a few times, spinning and then yielding
//! ([`retry_before_sleeping`]): the thread they wait for is often running on the other core
//! and a fraction of a microsecond from succeeding, and retries spaced apart leave that
//! thread the cache lines it needs; with more threads than cores it is usually runnable,
//! and a yield costs far less than a sleep and a wake-up; with a core for each thread, a
//! yield returns at once, and a few more cheap ones still beat a sleep. Both phases are
//! bounded, so a waiter that nothing helps is asleep within microseconds, and uses no CPU
//! while asleep. The yielding stops at the caller's deadline: with more runnable threads
//! than cores, one yield can last a whole time slice, and sixteen of them ran a 10 ms
//! timeout to 135 ms (`waits_retry_no_longer_than_their_timeout` in
//! `tests/engine_semantics.rs`). The spinning, under a microsecond, does not look at the
//! clock.
//!
//! Async waiters neither spin nor yield their thread; once, before they register, they
//! yield to their executor ([`YieldToExecutor`]): the tasks queued on the same worker
//! (often the very producers or consumers they wait for) run first, and the retry that
//! follows usually succeeds without a listener or a notification. After that one retry, a
//! task that still cannot proceed sleeps until it is notified.
//!
//! A registration is undone by a drop guard, so a panic inside an attempt (in the user's
//! `Hash` or `Eq`) leaves the count right.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::sync::{
    AtomicBool, AtomicUsize, CHEAP_YIELDS, Event, EventListener, IntoNotification, Listener,
    Ordering, SPIN_ATTEMPTS, SPINS_BETWEEN_ATTEMPTS, YIELDING_BUDGET, YIELDS_BEFORE_SLEEP, fence,
    spin_hint, yield_now,
};

/// Where waiters for one condition sleep until a change may help them.
pub(crate) struct Waiters {
    /// Waiters between their registration and their departure; notifiers skip `event`
    /// while it is zero, which is the common case.
    registered: AtomicUsize,
    /// Where registered waiters sleep.
    event: Event,
    /// Listeners woken so far: a test counts the wake-ups a change causes.
    #[cfg(all(test, not(loom)))]
    listeners_woken: AtomicUsize,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Self {
            registered: AtomicUsize::new(0),
            event: Event::new(),
            #[cfg(all(test, not(loom)))]
            listeners_woken: AtomicUsize::new(0),
        }
    }

    /// Waiters registered now: a test acts once a waiter has got as far as registering,
    /// past its retries, just before it sleeps.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn registered_now(&self) -> usize {
        self.registered.load(Ordering::Relaxed)
    }

    /// Listeners in the event now: a test acts once a waiter is listening, so that a
    /// notification would reach it.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn listening_now(&self) -> usize {
        self.event.total_listeners()
    }

    /// Listeners woken by this event's notifications so far.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn listeners_woken(&self) -> usize {
        self.listeners_woken.load(Ordering::Relaxed)
    }

    /// Counts the listeners a notification woke (`Event::notify` returns how many), for
    /// the tests; a no-op in other builds.
    #[inline]
    fn count_woken(&self, woken: usize) {
        // Ordering: a count the test reads on the notifier's thread, after it returned.
        #[cfg(all(test, not(loom)))]
        self.listeners_woken.fetch_add(woken, Ordering::Relaxed);
        #[cfg(not(all(test, not(loom))))]
        let _ = (self, woken);
    }

    /// Wakes one waiter, if any, after a change that may let its attempt succeed. The
    /// change may have any ordering.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.anyone_registered_after_change() {
            self.wake_one();
        }
    }

    /// Wakes one waiter, if any, after a change made by an acquire-release
    /// read-modify-write on a word that every waiter reads with a read-modify-write after
    /// it listens (see the module docs). No fence.
    #[inline]
    pub(crate) fn notify_one_after_rmw(&self) {
        // Ordering: the caller's read-modify-write orders this read: if it came after the
        // waiter's on their word, it synchronised with the fence the waiter made after
        // registering; if before, the waiter's attempt sees the change.
        if self.registered.load(Ordering::Relaxed) > 0 {
            self.wake_one();
        }
    }

    fn wake_one(&self) {
        // One more than already notified: a waiter notified for an earlier change may not
        // have woken yet, and this change is for someone else. (Plain `notify(1)` tops up
        // to one notified listener, and would lose this wake-up.)
        self.count_woken(self.event.notify(1.additional()));
    }

    /// Wakes every waiter, after a change that may concern any of them (a new product, for
    /// the consumers in its catalog bucket; the marketplace closing).
    pub(crate) fn notify_all(&self) {
        if self.anyone_registered_after_change() {
            self.count_woken(self.event.notify(usize::MAX));
        }
    }

    /// Whether a waiter is registered, read after the caller's change.
    #[inline]
    fn anyone_registered_after_change(&self) -> bool {
        // Ordering: the notifier's half of the store-buffering barrier between the
        // caller's change and the read of `registered` (see the module docs).
        fence(Ordering::SeqCst);
        // Ordering: the fence above orders this read after the change.
        self.registered.load(Ordering::Relaxed) > 0
    }

    /// Registers a waiter until the returned guard is dropped. Attempts made while it lives,
    /// each after `listen`, either see a change or its notifier sees the registration.
    fn register(&self) -> Registration<'_> {
        // Ordering: the fence in `listen`, before every attempt, orders this increment.
        self.registered.fetch_add(1, Ordering::Relaxed);
        Registration { waiters: self }
    }

    /// Starts listening for a notification; attempts made after it either see a change or
    /// its notifier finds the listener.
    fn listen(&self) -> EventListener {
        let listener = self.event.listen();
        // Ordering: the waiter's half of the store-buffering barrier: the registration and
        // the listener come before the attempt that follows, for every notifier and for
        // `close` (`Event::listen` takes a lock, which orders nothing before later reads).
        fence(Ordering::SeqCst);
        listener
    }
}

/// What an attempt found: a result, or the waiters to sleep with until it may succeed.
pub(crate) enum Attempt<'w, T> {
    Done(T),
    WaitOn(&'w Waiters),
}

/// The registration a waiting loop holds, moved to other waiters when its attempts name
/// other ones (a consumer waiting for a product with no shelf yet waits in the catalog's
/// bucket for its hash, then on the shelf).
struct Seat<'w> {
    registration: Option<Registration<'w>>,
}

impl<'w> Seat<'w> {
    fn new() -> Self {
        Self { registration: None }
    }

    /// Registers with `waiters` (leaving any others) and starts listening there.
    fn listen(&mut self, waiters: &'w Waiters) -> EventListener {
        let seated = self
            .registration
            .as_ref()
            .is_some_and(|registration| std::ptr::eq(registration.waiters, waiters));
        if !seated {
            self.registration = Some(waiters.register());
        }
        waiters.listen()
    }
}

/// Blocks until an attempt gives a value: starting after a failed attempt of the caller's,
/// which named `waiting_on`, retries a few times spinning and yielding, then sleeps with
/// the waiters the last attempt named until they are notified, and tries again. Gives up
/// with `None` once `deadline` (if any) has passed, after one more attempt, or once
/// `closed` is set.
pub(crate) fn block_until<'w, T>(
    waiting_on: &'w Waiters,
    deadline: Option<Instant>,
    closed: &AtomicBool,
    mut attempt: impl FnMut() -> Attempt<'w, T>,
) -> Option<T> {
    let mut next = Attempt::WaitOn(waiting_on);
    let retried = retry_before_sleeping(deadline, || match attempt() {
        Attempt::Done(value) => Some(value),
        waiting => {
            next = waiting;
            None
        }
    });
    if retried.is_some() {
        return retried;
    }
    // The retries stopped at the deadline: their last attempt was the one more.
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        return None;
    }
    let mut seat = Seat::new();
    loop {
        let Attempt::WaitOn(waiters) = next else {
            unreachable!("a done attempt returns at once")
        };
        let listener = seat.listen(waiters);
        next = attempt();
        match next {
            Attempt::Done(value) => return Some(value),
            // Ordering: the fence in `listen` and the one in `close` order this read with
            // the closer's store: a waiter that registered before the close is seen by it,
            // one that registered after sees the store.
            _ if closed.load(Ordering::Relaxed) => return None,
            Attempt::WaitOn(named) if !std::ptr::eq(named, waiters) => continue,
            Attempt::WaitOn(_) => {}
        }
        match deadline {
            None => listener.wait(),
            Some(deadline) => {
                if listener.wait_deadline(deadline).is_none() {
                    return match attempt() {
                        Attempt::Done(value) => Some(value),
                        Attempt::WaitOn(_) => None,
                    };
                }
            }
        }
        // Woken: most wake-ups find what they were woken for, so try before listening
        // again; a failure listens and tries once more before sleeping, as above.
        next = attempt();
        if let Attempt::Done(value) = next {
            return Some(value);
        }
    }
}

/// Waits asynchronously until an attempt gives a value: starting from `first` (an attempt
/// the caller just made), yields to the executor once and tries again, then sleeps with
/// the waiters the last attempt named until they are notified, and tries again; `None`
/// once `closed` is set. No spinning: after its one yield, a task that cannot proceed
/// sleeps.
///
/// Cancel-safe: dropping the future at any await point drops its listener (which passes
/// on a notification it received but did not use) and its registration; nothing else is
/// held across an await (the yield comes before the registration).
pub(crate) async fn wait_until<'w, T>(
    first: Attempt<'w, T>,
    closed: &AtomicBool,
    mut attempt: impl FnMut() -> Attempt<'w, T>,
) -> Option<T> {
    if let Attempt::Done(value) = first {
        return Some(value);
    }
    // Ordering: a shortcut only; the loop re-reads it after the fence in `listen`.
    if closed.load(Ordering::Relaxed) {
        return None;
    }
    // The one yield (see the module docs): the retry after it usually succeeds.
    YieldToExecutor::default().await;
    let mut waiters = match attempt() {
        Attempt::Done(value) => return Some(value),
        Attempt::WaitOn(waiters) => waiters,
    };
    let mut seat = Seat::new();
    loop {
        let listener = seat.listen(waiters);
        match attempt() {
            Attempt::Done(value) => return Some(value),
            // Ordering: as in `block_until`.
            _ if closed.load(Ordering::Relaxed) => return None,
            Attempt::WaitOn(named) if !std::ptr::eq(named, waiters) => waiters = named,
            Attempt::WaitOn(_) => {
                listener.await;
                // Woken: try before listening again, as `block_until` does.
                match attempt() {
                    Attempt::Done(value) => return Some(value),
                    Attempt::WaitOn(named) => waiters = named,
                }
            }
        }
    }
}

/// A future that is pending once, having asked its executor to poll it again: the tasks
/// already queued on the same worker run before it resumes (most executors queue a task
/// that wakes itself behind them, as `tokio::task::yield_now` does). It holds nothing, so
/// dropping it is always safe.
#[derive(Default)]
struct YieldToExecutor {
    yielded: bool,
}

impl Future for YieldToExecutor {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        context.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A registered waiter; dropping it (on return or on unwind) unregisters it.
struct Registration<'a> {
    waiters: &'a Waiters,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        // Ordering: leaving only makes notifiers skip the event; a late notification
        // reaches an event with no listener of ours, which is harmless.
        self.waiters.registered.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Retries `attempt` as a blocking waiter does before it goes to sleep (see the module
/// docs): a few times spaced out by spinning, then a few times after yielding, and a few
/// more while those yields are cheap; `None` if no retry succeeded, or once `deadline` (if
/// any) has passed. (The one-lock baseline waits this way too, to compare like with like.)
#[cfg_attr(
    loom,
    allow(
        clippy::reversed_empty_ranges,
        clippy::absurd_extreme_comparisons,
        reason = "the models make no retries: every count is 0 there"
    )
)]
pub(crate) fn retry_before_sleeping<T>(
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    let passed = |now: Instant| deadline.is_some_and(|deadline| now >= deadline);
    for _ in 0..SPIN_ATTEMPTS {
        for _ in 0..SPINS_BETWEEN_ATTEMPTS {
            spin_hint();
        }
        if let Some(value) = attempt() {
            return Some(value);
        }
    }
    // The spinning is too short to outlast a deadline by much, so the clock is read only
    // from here, where each yield may last a time slice.
    let yielding_since = Instant::now();
    if passed(yielding_since) {
        return None;
    }
    for yielded in 1..=YIELDS_BEFORE_SLEEP + CHEAP_YIELDS {
        yield_now();
        if let Some(value) = attempt() {
            return Some(value);
        }
        // Read only when it is needed: with no deadline, for the budget alone.
        let checks_budget = yielded >= YIELDS_BEFORE_SLEEP;
        if deadline.is_some() || checks_budget {
            let now = Instant::now();
            if passed(now) || (checks_budget && now - yielding_since >= YIELDING_BUDGET) {
                break;
            }
        }
    }
    None
}

/// The wake-up protocol on its own: a change that is a plain relaxed write, made before
/// `notify_one`, is never slept through. (The models in `loom-tests/` check the same through
/// the marketplace's operations.)
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    #[test]
    fn a_change_made_before_notify_is_never_slept_through() {
        loom::model(|| {
            let waiters = Arc::new(Waiters::new());
            let ready = Arc::new(AtomicBool::new(false));
            let notifier = {
                let (waiters, ready) = (Arc::clone(&waiters), Arc::clone(&ready));
                loom::thread::spawn(move || {
                    ready.store(true, Ordering::Relaxed);
                    waiters.notify_one();
                })
            };
            let closed = AtomicBool::new(false);
            let attempt = || match ready.load(Ordering::Relaxed) {
                true => Attempt::Done(()),
                false => Attempt::WaitOn(&waiters),
            };
            let woken = match attempt() {
                Attempt::Done(()) => Some(()),
                Attempt::WaitOn(waiting_on) => block_until(waiting_on, None, &closed, attempt),
            };
            assert_eq!(woken, Some(()));
            notifier.join().unwrap();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::time::Duration;

    use super::*;

    /// A panic in the user's code inside an attempt, after the waiter registered, leaves no
    /// registration behind (which would make every later notification take the event's lock).
    #[test]
    fn a_panic_in_an_attempt_unregisters_the_waiter() {
        let waiters = Waiters::new();
        let closed = AtomicBool::new(false);
        let mut panicked_while_registered = false;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            block_until(
                &waiters,
                Instant::now().checked_add(Duration::from_secs(10)),
                &closed,
                || -> Attempt<'_, ()> {
                    // The retries before sleeping come first, unregistered; the user's code
                    // panics in the first attempt made while registered.
                    if waiters.registered.load(Ordering::Relaxed) > 0 {
                        panicked_while_registered = true;
                        panic!("the user's code panicked");
                    }
                    Attempt::WaitOn(&waiters)
                },
            )
        }));
        assert!(outcome.is_err());
        assert!(panicked_while_registered);
        assert_eq!(waiters.registered.load(Ordering::Relaxed), 0);
    }

    /// A waiter whose attempts name other waiters moves its registration there: once it
    /// returns, it is registered nowhere (a registration left behind would make every later
    /// notification of the first waiters take the event's lock).
    #[test]
    fn a_waiter_that_moves_to_other_waiters_leaves_no_registration_behind() {
        let (first, then) = (Waiters::new(), Waiters::new());
        let closed = AtomicBool::new(false);
        let registered = |waiters: &Waiters| waiters.registered.load(Ordering::Relaxed);
        let outcome = block_until(&first, None, &closed, || {
            if registered(&then) > 0 {
                Attempt::Done(())
            } else if registered(&first) > 0 {
                Attempt::WaitOn(&then)
            } else {
                Attempt::WaitOn(&first)
            }
        });
        assert_eq!(outcome, Some(()));
        assert_eq!((registered(&first), registered(&then)), (0, 0));
    }
}
