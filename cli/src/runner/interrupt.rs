//! An end of a run asked from outside it (the command's watcher of SIGINT and SIGTERM):
//! [`Interrupt`], shared by the one who asks and the runs it may end.
//!
//! Invariants: at most one run is attached at a time, from before its actors start until
//! its output is written out and flushed; a request reaches the attached run (and any run
//! attached later) through its outbox, so a supervisor asleep there wakes at once; and
//! [`Interrupt::interrupt_and_wait`] returns only when no run is attached and no [`Hold`]
//! is held, so once it returns, the lines of every cart ordered by then are written and
//! flushed (or their output failed), and whatever the holder writes after the run is
//! written. Lock order: the interrupt's state, then an outbox's.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::supervisor::Outbox;

/// Asks the run it was given to (in [`RunOptions::interrupt`](super::RunOptions::interrupt))
/// to end early; cheap to clone, every clone the same.
#[derive(Clone, Default)]
pub struct Interrupt {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified when a run detaches or a hold is let go.
    detached: Condvar,
}

#[derive(Default)]
struct State {
    requested: bool,
    /// The outbox of the run in progress.
    run: Option<Arc<Outbox>>,
    /// The holds alive (see [`Interrupt::hold`]).
    holds: usize,
}

impl Interrupt {
    /// An interrupt not yet asked for.
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// Ends the run in progress, if any, as it ends on a stall: its supervisor stops
    /// between two carts, every actor is stopped, and the lines of every cart ordered until
    /// then are written and flushed; the run returns [`RunError::Interrupted`]. Returns
    /// once that is done, at once when no run is in progress; a run started afterwards
    /// ends at once.
    ///
    /// Waits as long as the output takes: a reader that does not read holds it up, so
    /// whoever calls this needs a way out of its own (the command's second signal).
    ///
    /// [`RunError::Interrupted`]: super::RunError::Interrupted
    pub fn interrupt_and_wait(&self) {
        let mut state = self.state();
        state.requested = true;
        if let Some(outbox) = &state.run {
            outbox.interrupt();
        }
        while state.run.is_some() || state.holds > 0 {
            state = self
                .shared
                .detached
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Whether an end was asked for.
    pub fn is_requested(&self) -> bool {
        self.state().requested
    }

    /// Keeps [`interrupt_and_wait`](Self::interrupt_and_wait) waiting until the returned
    /// hold is dropped, for a caller that has more to write after the run (its statistics)
    /// before whoever asked may end the process; taken before the run, it also covers a
    /// request that comes before the run starts or after it ended.
    pub fn hold(&self) -> Hold {
        self.state().holds += 1;
        Hold(self.clone())
    }

    /// Attaches the run whose supervisor watches `outbox` until the guard is dropped,
    /// which must come after its output is flushed. A request made before ends the run
    /// at once.
    pub(super) fn attach(&self, outbox: &Arc<Outbox>) -> Attached<'_> {
        let mut state = self.state();
        if state.requested {
            outbox.interrupt();
        }
        state.run = Some(Arc::clone(outbox));
        Attached(self)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update of `State` completes before anything can panic under the lock.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Keeps [`Interrupt::interrupt_and_wait`] waiting while alive; see [`Interrupt::hold`].
#[must_use = "the hold ends when dropped"]
pub struct Hold(Interrupt);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.state().holds -= 1;
        self.0.shared.detached.notify_all();
    }
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hold").finish()
    }
}

impl fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupt")
            .field("requested", &self.is_requested())
            .finish()
    }
}

/// A run attached to an [`Interrupt`]; detaches it when dropped.
pub(super) struct Attached<'i>(&'i Interrupt);

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.0.state().run = None;
        self.0.shared.detached.notify_all();
    }
}
