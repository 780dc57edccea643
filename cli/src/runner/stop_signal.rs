//! The end of a run as thread actors see it: a flag every thread checks before it waits,
//! and a condition variable that ends their pauses at once.
//!
//! Invariant: a thread that pauses checks the flag under the lock it sleeps with, and the
//! stop takes that lock between setting the flag and notifying, so no pause starts after
//! the stop and sleeps through it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use super::timing::TimeScale;

/// Set once, when the run ends.
#[derive(Debug, Default)]
pub(super) struct StopSignal {
    stopped: AtomicBool,
    /// Guards nothing but the check-then-sleep of pausing threads against the stop.
    lock: Mutex<()>,
    /// Notified when `stopped` is set.
    signal: Condvar,
}

impl StopSignal {
    pub(super) fn is_set(&self) -> bool {
        // Ordering: SeqCst with the store in `set`; a pausing thread re-checks under the
        // lock, so only promptness, not correctness, rests on this load.
        self.stopped.load(Ordering::SeqCst)
    }

    /// Sets the flag (so no thread starts a new pause) and wakes the pausing threads.
    pub(super) fn set(&self) {
        // Ordering: see `is_set`.
        self.stopped.store(true, Ordering::SeqCst);
        // Taking the lock orders the flag before any pausing thread's check-then-wait.
        drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.signal.notify_all();
    }

    /// Sleeps for the scaled `seconds`, or until the stop; false if the run stopped.
    pub(super) fn pause(&self, time: TimeScale, seconds: f64) -> bool {
        let scaled = time.pause(seconds);
        if scaled.is_zero() {
            return !self.is_set();
        }
        let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _guard = self
            .signal
            .wait_timeout_while(guard, scaled, |_| !self.is_set())
            .unwrap_or_else(|p| p.into_inner());
        !self.is_set()
    }
}
