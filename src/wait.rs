//! Blocking waits without busy loops: an event count that lets a thread sleep until another
//! thread may have made its attempt succeed.
//!
//! The fast paths never touch the lock in here. A waiter announces itself in `sleepers`
//! before its attempts; a notifier makes its change visible and only then looks at `sleepers`.
//! Both put a `SeqCst` fence between their write and their read, so at least one sees the
//! other (the store-buffering pattern): either the waiter's attempt sees the change, or the
//! notifier sees the waiter and bumps `epoch`. A waiter reads `epoch` *before* each attempt
//! and sleeps only while it is unchanged, so a notification that lands between a failed
//! attempt and the sleep is never lost.
//!
//! Before announcing itself, a waiter first spins and retries a few times, spaced well apart
//! (`SPIN_ATTEMPTS`, `SPINS_BETWEEN_ATTEMPTS`): the thread it waits for is often running on
//! another core and a fraction of a microsecond from succeeding, and retries spaced apart
//! leave that thread the cache lines it needs. Then it yields and retries a few times
//! (`YIELDS_BEFORE_SLEEP`): on a machine with more threads than cores the thread it waits
//! for is usually runnable, and a yield costs far less than a sleep and a wake-up. Both
//! phases are bounded, so a waiter that nothing helps is asleep within microseconds.
//!
//! Attempts run with no lock held, and the lock here is never held while taking another, so
//! waiting and notifying impose no lock order on the rest of the engine.

use std::time::{Duration, Instant};

use crate::sync::{
    AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, SPIN_ATTEMPTS,
    SPINS_BETWEEN_ATTEMPTS, YIELDS_BEFORE_SLEEP, fence, spin_hint, yield_now,
};

/// Where threads sleep until some event (an arrival, freed capacity) may help them.
pub(crate) struct Waiters {
    /// Threads between their announcement and their departure; notifiers skip the lock
    /// while it is zero, which is the common case.
    sleepers: AtomicUsize,
    /// Bumped by every notification that found a sleeper.
    epoch: Mutex<u64>,
    wakeup: Condvar,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Self {
            sleepers: AtomicUsize::new(0),
            epoch: Mutex::new(0),
            wakeup: Condvar::new(),
        }
    }

    /// Called after a change that may let a waiter's attempt succeed.
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.wake_all();
        }
    }

    /// Wakes every sleeper unconditionally (used when the marketplace closes).
    pub(crate) fn wake_all(&self) {
        *lock(&self.epoch) += 1;
        self.wakeup.notify_all();
    }

    /// Repeats `attempt` until it gives a value, sleeping between tries until a notification.
    /// Gives up with `None` once `timeout` has passed or `closed` is set, after one more
    /// attempt.
    pub(crate) fn wait_for<T>(
        &self,
        timeout: Duration,
        closed: &AtomicBool,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        if let Some(value) = attempt() {
            return Some(value);
        }
        if timeout.is_zero() || closed.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(value) = retry_before_sleeping(&mut attempt) {
            return Some(value);
        }
        // An overflowing deadline means "wait as long as it takes".
        let deadline = Instant::now().checked_add(timeout);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let outcome = loop {
            let seen = *lock(&self.epoch);
            if let Some(value) = attempt() {
                break Some(value);
            }
            if closed.load(Ordering::SeqCst) || !self.sleep_while(seen, deadline) {
                break None;
            }
        };
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        outcome
    }

    /// Sleeps while `epoch` is still `seen`; false once the deadline has passed.
    fn sleep_while(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut epoch = lock(&self.epoch);
        while *epoch == seen {
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if now >= deadline => return false,
                Some(deadline) => deadline - now,
                None => Duration::from_secs(3600),
            };
            epoch = match self.wakeup.wait_timeout(epoch, left) {
                Ok((epoch, _)) => epoch,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

/// Retries `attempt` while spinning, then while yielding, as a waiter does before it goes to
/// sleep (see the module docs); `None` if no attempt succeeded. Both phases are bounded.
pub(crate) fn retry_before_sleeping<T>(mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..SPIN_ATTEMPTS {
        for _ in 0..SPINS_BETWEEN_ATTEMPTS {
            spin_hint();
        }
        if let Some(value) = attempt() {
            return Some(value);
        }
    }
    for _ in 0..YIELDS_BEFORE_SLEEP {
        yield_now();
        if let Some(value) = attempt() {
            return Some(value);
        }
    }
    None
}

/// The epoch counter cannot be left half-updated by a panic, so poisoning is ignored.
fn lock(mutex: &Mutex<u64>) -> MutexGuard<'_, u64> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The fences above are what make a notification reliable when the "change" is a plain
/// relaxed write, as the real lock-free queues' writes are to us; the lock-based stand-ins
/// of `sync` would hide their absence from the models in `loom-tests/`, so this model uses a
/// relaxed flag instead.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::Arc;

    #[test]
    fn a_change_made_before_notify_is_never_slept_through() {
        loom::model(|| {
            let waiters = Arc::new(Waiters::new());
            let ready = Arc::new(AtomicBool::new(false));
            let notifier = {
                let (waiters, ready) = (Arc::clone(&waiters), Arc::clone(&ready));
                loom::thread::spawn(move || {
                    ready.store(true, Ordering::Relaxed);
                    waiters.notify();
                })
            };
            let closed = AtomicBool::new(false);
            let woken = waiters.wait_for(Duration::MAX, &closed, || {
                ready.load(Ordering::Relaxed).then_some(())
            });
            assert_eq!(woken, Some(()));
            notifier.join().unwrap();
        });
    }
}
