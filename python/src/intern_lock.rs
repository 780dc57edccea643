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
//!   code, can always take the GIL and finish; it waits in slices, so that a fork never
//!   waits for more than one (see `fork`), and a call that has done nothing yet raises what
//!   a signal handler raises (Ctrl-C) between them;
//! - `owner.owed` is set when a call gave classes up while another thread held the lock
//!   ([`InternLock::enter_or_owe`]): the holder drops them as it leaves the lock
//!   ([`Interning::leave`]), so a call that only gives something back never waits for
//!   another thread's `__eq__`, which may take as long as it likes (and which Ctrl-C cannot
//!   end);
//! - `owner.process` is the process whose threads `thread` and `waiting` name: a child made
//!   by `fork()` while another thread held the lock (running a product's `__eq__` with the
//!   GIL released) inherits a holder that does not exist there, and its first call that
//!   finds the lock held starts it afresh, owing whatever the holder may have owed;
//! - no Python code runs under `owner`'s own mutex, only the few steps below.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::Duration;

use pyo3::prelude::*;

use crate::market::SLICE;

/// Serialises the interning (see the module docs).
pub(crate) struct InternLock {
    owner: Mutex<Owner>,
    /// Signalled when the lock becomes free.
    freed: Condvar,
}

struct Owner {
    thread: Option<ThreadId>,
    depth: usize,
    waiting: usize,
    /// Classes were given up while the lock was held, for the holder to drop.
    owed: bool,
    process: u32,
}

impl Owner {
    /// Free, in this process.
    fn free() -> Self {
        Owner {
            thread: None,
            depth: 0,
            waiting: 0,
            owed: false,
            process: std::process::id(),
        }
    }
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
    pub(crate) fn new() -> Self {
        InternLock {
            owner: Mutex::new(Owner::free()),
            freed: Condvar::new(),
        }
    }

    /// Enters the interning, waiting with the GIL released while another thread is in it; a
    /// pending signal handler that raises (Ctrl-C in the main thread) ends the wait with its
    /// exception: the holder may be running a product's `__eq__` that does I/O for as long
    /// as it likes, and a caller that has done nothing yet can give up.
    pub(crate) fn enter_interruptibly(&self, py: Python<'_>) -> PyResult<Interning<'_>> {
        loop {
            if let Some(entered) = self.try_enter(py, SLICE) {
                return Ok(entered);
            }
            py.check_signals()?;
        }
    }

    /// Enters the interning if no other thread is in it; otherwise records that the holder
    /// is owed a drop of the classes given up meanwhile, and returns `None` at once. For a
    /// call that gives classes up (`Marketplace::unref`): it must not wait, as nothing it
    /// could raise would undo what it did.
    pub(crate) fn enter_or_owe(&self) -> Option<Interning<'_>> {
        let mut owner = self.owner();
        if self.enter_if_free(&mut owner, this_thread()) {
            return Some(Interning { lock: self });
        }
        owner.owed = true;
        None
    }

    /// Takes the lock for `me` if it is free or already `me`'s.
    fn enter_if_free(&self, owner: &mut Owner, me: ThreadId) -> bool {
        // Only when the lock looks held: asking for the process id is a system call.
        if owner.thread.is_some_and(|holder| holder != me) && owner.process != std::process::id() {
            *owner = Owner {
                owed: true,
                ..Owner::free()
            };
        }
        if owner.thread.is_none() || owner.thread == Some(me) {
            owner.thread = Some(me);
            owner.depth += 1;
            return true;
        }
        false
    }

    /// Enters the interning, waiting (GIL released) until it is free, or `None` if it is
    /// still held after `slice`. The wait takes `owner`'s mutex as it begins and ends, so a
    /// fork waits for it (see `fork`).
    fn try_enter(&self, py: Python<'_>, slice: Duration) -> Option<Interning<'_>> {
        let me = this_thread();
        if self.enter_if_free(&mut self.owner(), me) {
            return Some(Interning { lock: self });
        }
        let entered = py.detach(|| crate::fork::gated(|| self.wait_for_the_lock(me, slice)));
        // Made only when entered: dropping one gives the lock up.
        entered.then(|| Interning { lock: self })
    }

    /// [`try_enter`](Self::try_enter)'s wait, detached: whether it entered.
    fn wait_for_the_lock(&self, me: ThreadId, slice: Duration) -> bool {
        let mut owner = self.owner();
        owner.waiting += 1;
        let held = |owner: &mut Owner| owner.thread.is_some();
        owner = self
            .freed
            .wait_timeout_while(owner, slice, held)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
        owner.waiting -= 1;
        // Giving up wastes no wake-up: a waiter still finds the lock held only when another
        // thread entered after the release that woke it (if one did), and that thread
        // signals when it leaves.
        if held(&mut owner) {
            return false;
        }
        owner.thread = Some(me);
        owner.depth = 1;
        true
    }

    /// Whether the calling thread is inside the interning (running a product's `__hash__` or
    /// `__eq__`, or a call those made).
    pub(crate) fn held_by_this_thread(&self) -> bool {
        self.owner().thread == Some(this_thread())
    }

    /// The owner's record. Nothing panics while it is held, so poisoning is ignored.
    fn owner(&self) -> MutexGuard<'_, Owner> {
        self.owner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Interning<'_> {
    /// Leaves the interning, unless this is its outermost entry and other calls gave classes
    /// up meanwhile ([`InternLock::enter_or_owe`]): then the lock is kept and returned, for
    /// the caller to drop them and leave again. In one step with the release, so that no
    /// debt is recorded after the check and before the lock is free.
    pub(crate) fn leave(self) -> Option<Self> {
        let mut owner = self.lock.owner();
        if owner.depth == 1 && owner.owed {
            owner.owed = false;
            drop(owner);
            return Some(self);
        }
        self.lock.release(owner);
        std::mem::forget(self);
        None
    }
}

impl InternLock {
    fn release(&self, mut owner: MutexGuard<'_, Owner>) {
        owner.depth -= 1;
        if owner.depth == 0 {
            owner.thread = None;
            let anyone_waiting = owner.waiting > 0;
            drop(owner);
            if anyone_waiting {
                self.freed.notify_one();
            }
        }
    }
}

impl Drop for Interning<'_> {
    fn drop(&mut self) {
        self.lock.release(self.lock.owner());
    }
}
