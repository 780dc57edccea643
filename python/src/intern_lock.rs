//! The interning lock: one thread at a time looks products up in the interning dict, inserts
//! them, or deletes them.
//!
//! Those dict operations run the products' `__hash__` and `__eq__`, and a user's `__eq__` may
//! let other threads run midway (I/O, a lock, a sleep). CPython's dict then does not notice
//! an equal key that another thread writes meanwhile on the same probe path: `setdefault`
//! could add a second class for equal products, and a deletion could remove the other
//! class's entry, stranding its items. Under this lock the dict's operations, and the class
//! bookkeeping around them, happen one call at a time, whatever the user's code does.
//!
//! Invariants:
//! - `owner.thread` is the thread inside the interning, `owner.depth` how many times it
//!   entered (it is reentrant: a product's `__hash__` may call back into the marketplace on
//!   the same thread); `thread` is `None` exactly when `depth` is 0;
//! - `owner.waiting` counts the threads waiting on `freed`: the lock is signalled only when
//!   one waits (a signal is a system call: signalling at every exit halved the rate of
//!   `python/bench/bench.py`'s calls alone);
//! - a thread waits for the lock with the GIL released, so the holder, which runs Python
//!   code, can always take the GIL and finish;
//! - no Python code runs under `owner`'s own mutex, only the few steps below.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

use pyo3::Python;

/// Serialises the interning (see the module docs).
#[derive(Default)]
pub(crate) struct InternLock {
    owner: Mutex<Owner>,
    /// Signalled when the lock becomes free.
    freed: Condvar,
}

#[derive(Default)]
struct Owner {
    thread: Option<ThreadId>,
    depth: usize,
    waiting: usize,
}

/// The calling thread's id, kept per thread (`thread::current` counts a reference each time),
/// or asked for again while the thread's locals are being destroyed.
fn this_thread() -> ThreadId {
    thread_local! {
        static ME: ThreadId = thread::current().id();
    }
    ME.try_with(|me| *me)
        .unwrap_or_else(|_| thread::current().id())
}

/// The lock held by this thread until dropped.
pub(crate) struct Interning<'a> {
    lock: &'a InternLock,
}

impl InternLock {
    /// Enters the interning, waiting with the GIL released while another thread is in it.
    pub(crate) fn enter(&self, py: Python<'_>) -> Interning<'_> {
        let me = this_thread();
        {
            let mut owner = self.owner();
            if owner.thread.is_none() || owner.thread == Some(me) {
                owner.thread = Some(me);
                owner.depth += 1;
                return Interning { lock: self };
            }
        }
        py.detach(|| {
            let mut owner = self.owner();
            owner.waiting += 1;
            while owner.thread.is_some() {
                owner = self
                    .freed
                    .wait(owner)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            owner.waiting -= 1;
            owner.thread = Some(me);
            owner.depth = 1;
        });
        Interning { lock: self }
    }

    /// The owner's record. Nothing panics while it is held, so poisoning is ignored.
    fn owner(&self) -> MutexGuard<'_, Owner> {
        self.owner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Interning<'_> {
    fn drop(&mut self) {
        let mut owner = self.lock.owner();
        owner.depth -= 1;
        if owner.depth == 0 {
            owner.thread = None;
            let anyone_waiting = owner.waiting > 0;
            drop(owner);
            if anyone_waiting {
                self.lock.freed.notify_one();
            }
        }
    }
}
