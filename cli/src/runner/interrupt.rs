//! An end of a run asked from outside it (the command's watcher of SIGINT and SIGTERM):
//! [`Interrupt`], shared by the one who asks and the runs it may end.
//!
//! Invariants: a run is attached from before its actors start until its output is written
//! out and flushed, and any number may be at once (options cloned for runs in parallel);
//! a request reaches every attached run (and any run attached later) through its outbox,
//! so a supervisor asleep there wakes at once; and
//! [`Interrupt::interrupt_and_wait`] returns only when no run is attached and no [`Hold`]
//! or [`Watch`] is held (but the watches whose reports are themselves waiting in it), so
//! once it returns, the lines of every cart ordered by then are
//! written and flushed (or their output failed), and whatever the holder writes after the
//! run is written. Lock order: the interrupt's state, then an outbox's.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::supervisor::Outbox;

/// Asks the runs it was given to (in [`RunOptions::interrupt`](super::RunOptions::interrupt))
/// to end early; cheap to clone, every clone the same.
#[derive(Clone, Default)]
pub struct Interrupt {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified when a run detaches, a hold or watch is let go, or an end is asked for.
    detached: Condvar,
}

#[derive(Default)]
struct State {
    requested: bool,
    /// The outboxes of the runs in progress.
    runs: Vec<Arc<Outbox>>,
    /// The holds alive (see [`Interrupt::hold`]).
    holds: usize,
    /// The watches not yet finished (see [`Interrupt::watch`]).
    watches: usize,
    /// The watches whose report of the request is itself waiting in
    /// [`Interrupt::interrupt_and_wait`]: only that wait's return finishes them.
    waiting_reports: usize,
}

impl Interrupt {
    /// An interrupt not yet asked for.
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// Ends the runs in progress, if any, as a run ends on a stall: its supervisor stops
    /// between two carts, every actor is stopped, and the lines of every cart ordered until
    /// then are written and flushed; the run returns [`RunError::Interrupted`]. Returns
    /// once that is done for every run and every [`Hold`] is let go, at once when no run
    /// is in progress and nothing holds it; a run started afterwards ends at once.
    ///
    /// Waits as long as the output takes: a reader that does not read holds it up, so
    /// whoever calls this needs a way out of its own (the command's second signal).
    ///
    /// Called from [`RemoteOptions::interrupted`](super::RemoteOptions::interrupted), it
    /// does not wait for the watch of the run that is telling its report, which only the
    /// report's return finishes, nor for that of another run whose report is waiting here
    /// too (runs given one interrupt, whose reports would otherwise wait for each other);
    /// it waits for everything else.
    ///
    /// [`RunError::Interrupted`]: super::RunError::Interrupted
    pub fn interrupt_and_wait(&self) {
        let mut state = self.state();
        state.requested = true;
        for outbox in &state.runs {
            outbox.interrupt();
        }
        // Wakes the watches, which wait on the same condition variable.
        self.shared.detached.notify_all();
        let own = TELLING.with(|telling| {
            telling
                .borrow()
                .iter()
                .filter(|&&shared| shared == self.key())
                .count()
        });
        // Counted for every waiter, not only this one: two runs' reports that both ask
        // would each wait for the other's watch, which the other's wait holds unfinished.
        state.waiting_reports += own;
        if own > 0 {
            self.shared.detached.notify_all();
        }
        while !state.runs.is_empty() || state.holds > 0 || state.watches > state.waiting_reports {
            state = self
                .shared
                .detached
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        state.waiting_reports -= own;
    }

    /// Whether an end was asked for.
    pub fn is_requested(&self) -> bool {
        self.state().requested
    }

    /// Keeps [`interrupt_and_wait`](Self::interrupt_and_wait) waiting until the returned
    /// hold is dropped, for a caller that has more to write after the run (its statistics)
    /// before whoever asked may end the process; taken before the run, it also covers a
    /// request that comes before the run starts or after it ended.
    ///
    /// Kept across [`run_remote`](super::run_remote), it keeps a request waiting until the
    /// run returns, which for a run the request stopped is once its market closes (another
    /// process's doing; never, if this process ran the consumers left): the run's report
    /// of the interrupt is told all the same, as it waits only for the run's own orders.
    pub fn hold(&self) -> Hold {
        self.state().holds += 1;
        Hold(self.clone())
    }

    /// A watch on this interrupt, for a run that the interrupt does not end (a process's
    /// part of a run on a Redis server, whose actors wait on the server): the run learns
    /// from it when the end is asked for, with every order of its own out, and
    /// [`interrupt_and_wait`](Self::interrupt_and_wait) waits until the watch is finished,
    /// so that what the run did is told before the process ends, whether the request or
    /// the run's end came first. It counts from when the run starts it, once the run has
    /// something to tell: before, a request need not wait for a run still connecting. It
    /// serves one run: [`run_remote`](super::run_remote) makes its own, so it cannot watch
    /// another interrupt than the one its run holds.
    pub(super) fn watch(&self) -> Watch {
        Watch {
            interrupt: self.clone(),
            phase: AtomicU8::new(WATCHING),
            // Not yet counted in `watches`: nothing to finish until started.
            finished: AtomicBool::new(true),
            orders: AtomicUsize::new(0),
        }
    }

    /// Attaches the run whose supervisor watches `outbox` until the guard is dropped,
    /// which must come after its output is flushed. A request made before ends the run
    /// at once.
    pub(super) fn attach(&self, outbox: &Arc<Outbox>) -> Attached<'_> {
        let mut state = self.state();
        if state.requested {
            outbox.interrupt();
        }
        state.runs.push(Arc::clone(outbox));
        Attached(self, Arc::clone(outbox))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update of `State` completes before anything can panic under the lock.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What tells this interrupt from another in `TELLING`: its shared state's address.
    fn key(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }
}

thread_local! {
    /// The interrupts (by `Interrupt::key`) whose watch this thread is telling a report
    /// for (see `Watch::telling`), one entry per report in progress.
    static TELLING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
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

/// A run's watch on its interrupt (see `Interrupt::watch`): keeps
/// [`Interrupt::interrupt_and_wait`] waiting, once the run has started, until finished or
/// dropped; a caller holds it in a [`RemoteEnd`](super::RemoteEnd). Between a request and
/// the end of the run, the first to come decides, under the interrupt's lock, whether the
/// interrupt or the run's own end is told, so that never both are.
#[must_use = "the watch is finished when dropped"]
pub struct Watch {
    interrupt: Interrupt,
    /// `WATCHING`, `CLAIMED` or `OVER`; changed under the interrupt's state lock.
    phase: AtomicU8,
    /// Set, under the interrupt's state lock, while the watch is not counted: before it
    /// is started, and once it is finished.
    finished: AtomicBool,
    /// The run's orders in progress (see [`Watch::hold_order`]), counted in the
    /// interrupt's holds as well; changed under the interrupt's state lock.
    orders: AtomicUsize,
}

/// The run goes on, and no request was seen.
const WATCHING: u8 = 0;
/// A request was seen: the interrupt is told, not the run's end.
const CLAIMED: u8 = 1;
/// The run ended first: its end is told, not the interrupt.
const OVER: u8 = 2;

impl Watch {
    /// Makes [`Interrupt::interrupt_and_wait`] wait for the watch from now on, for a run
    /// about to start; false, and nothing changed, if an end was asked for already (the
    /// process is ending, and the run should not start).
    pub(super) fn start(&self) -> bool {
        let mut state = self.interrupt.state();
        if state.requested {
            return false;
        }
        // Ordering: under the state's lock (see `wait_for_the_request`).
        if self.finished.swap(false, Ordering::Relaxed) {
            state.watches += 1;
        }
        true
    }

    /// A [`Hold`] for one of the run's orders, from before it is placed until its lines
    /// are out: the run's report of a request waits for these, and not for holds of
    /// others (a caller's kept across the run, another run's orders).
    pub(super) fn hold_order(&self) -> OrderHold<'_> {
        let mut state = self.interrupt.state();
        state.holds += 1;
        // Ordering: under the state's lock (see `wait_for_the_request`).
        self.orders.fetch_add(1, Ordering::Relaxed);
        OrderHold(self)
    }

    /// Marks this thread as telling the run's report of a request until the guard is
    /// dropped, so that an [`Interrupt::interrupt_and_wait`] made from the report does not
    /// wait for this watch, which the report's return finishes.
    pub(super) fn telling(&self) -> Telling {
        let key = self.interrupt.key();
        TELLING.with(|telling| telling.borrow_mut().push(key));
        Telling(key)
    }

    /// Blocks until an end is asked for and none of the run's orders is in progress
    /// ([`hold_order`](Self::hold_order)), before the run is over: true, and the interrupt
    /// is the one to tell; or until the run is over ([`run_over`](Self::run_over)) or the
    /// watch finished: false.
    pub(super) fn wait_for_the_request(&self) -> bool {
        let mut state = self.interrupt.state();
        loop {
            // Ordering: both flags change under the state's lock, held here too.
            if self.finished.load(Ordering::Relaxed) || self.phase.load(Ordering::Relaxed) == OVER {
                return false;
            }
            // Ordering: as above.
            if state.requested && self.orders.load(Ordering::Relaxed) == 0 {
                self.phase.store(CLAIMED, Ordering::Relaxed);
                return true;
            }
            state = self
                .interrupt
                .shared
                .detached
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The run is over: ends a wait for the request. True if the run's end is to be told;
    /// false if a request came first and the interrupt is being told instead. The watch
    /// keeps [`Interrupt::interrupt_and_wait`] waiting until finished all the same, so
    /// the owner can tell the run's end before the process ends.
    pub(super) fn run_over(&self) -> bool {
        let state = self.interrupt.state();
        // Ordering: under the state's lock (see `wait_for_the_request`).
        let phase = self.phase.load(Ordering::Relaxed);
        if phase == WATCHING {
            self.phase.store(OVER, Ordering::Relaxed);
        }
        drop(state);
        self.interrupt.shared.detached.notify_all();
        phase != CLAIMED
    }

    /// Lets [`Interrupt::interrupt_and_wait`] go on, and ends a wait for the request; the
    /// first call only counts.
    pub(super) fn finish(&self) {
        let mut state = self.interrupt.state();
        // Ordering: under the state's lock (see `wait_for_the_request`).
        if !self.finished.swap(true, Ordering::Relaxed) {
            state.watches -= 1;
            drop(state);
            self.interrupt.shared.detached.notify_all();
        }
    }
}

/// One of a run's orders in progress; see [`Watch::hold_order`].
#[must_use = "the order's hold ends when dropped"]
pub(super) struct OrderHold<'w>(&'w Watch);

impl Drop for OrderHold<'_> {
    fn drop(&mut self) {
        let mut state = self.0.interrupt.state();
        state.holds -= 1;
        // Ordering: under the state's lock (see `Watch::wait_for_the_request`).
        self.0.orders.fetch_sub(1, Ordering::Relaxed);
        drop(state);
        self.0.interrupt.shared.detached.notify_all();
    }
}

/// A report of a request being told on this thread; see [`Watch::telling`].
#[must_use = "the report is no longer being told when dropped"]
pub(super) struct Telling(usize);

impl Drop for Telling {
    fn drop(&mut self) {
        TELLING.with(|telling| {
            let mut telling = telling.borrow_mut();
            if let Some(at) = telling.iter().rposition(|&key| key == self.0) {
                telling.swap_remove(at);
            }
        });
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.finish();
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Watch").finish()
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
pub(super) struct Attached<'i>(&'i Interrupt, Arc<Outbox>);

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.0
            .state()
            .runs
            .retain(|outbox| !Arc::ptr_eq(outbox, &self.1));
        self.0.shared.detached.notify_all();
    }
}
