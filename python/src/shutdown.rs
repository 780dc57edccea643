//! Keeping daemon threads out of this module while the interpreter shuts down.
//!
//! On CPython before 3.14, a thread that needs the GIL once finalization has begun is ended
//! with `pthread_exit`, which unwinds its stack. If that stack holds this module's frames
//! (a daemon producer inside `publish`, running a product's `__hash__` or a logging handler
//! that released the GIL), the unwind crosses Rust `extern "C"` frames, which cannot unwind:
//! the process aborts (`SIGABRT`, exit status 134) instead of exiting. (PyO3's own
//! re-attachment after `detach` already parks the thread instead; this is about the Python
//! code this module calls while attached.)
//!
//! So every call counts itself in [`ACTIVE`] while it runs attached, and an `atexit` hook
//! (registered at import; atexit hooks run before finalization begins, after the
//! non-daemon threads are joined) sets [`CLOSING`] and waits, with the GIL released, for
//! the calls in progress to leave. From then on a call from any other thread parks its
//! thread for good, detached, as Python 3.14 does with such threads; the thread running the
//! shutdown (and the atexit hooks) is never stopped.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Set by the atexit hook: calls from other threads no longer enter.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// Calls running attached (outside the thread that shuts down).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The thread that ran the atexit hook: it finalizes the interpreter and is never parked.
static CLOSER: OnceLock<ThreadId> = OnceLock::new();

thread_local! {
    /// This thread's share of [`ACTIVE`]: what a child made by `fork()` in this thread
    /// keeps of it (see [`after_fork_in_child`]).
    static MINE: Cell<usize> = const { Cell::new(0) };
}

/// Counts a call of this thread in [`ACTIVE`] (`by` 1) or takes it out (`by` -1).
fn count(by: isize) {
    // Ordering: `SeqCst` on every access to `ACTIVE` and `CLOSING` (see `Active::enter`).
    if by > 0 {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
    } else {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
    // A const thread local without a destructor is never gone; `try_with` just in case.
    let _ = MINE.try_with(|mine| mine.set(mine.get().wrapping_add_signed(by)));
}

/// In a child made by `fork()`, only the forking thread runs: the calls the other threads
/// of the parent were in never leave there, and counted, they held the child's exit for
/// the hook's whole grace period, waiting for calls of threads that do not exist.
pub(crate) fn after_fork_in_child() {
    let mine = MINE.try_with(Cell::get).unwrap_or(0);
    // Ordering: as in `count`.
    ACTIVE.store(mine, Ordering::SeqCst);
}

/// How long the hook waits for calls in progress before letting shutdown go on anyway.
const GRACE: Duration = Duration::from_secs(2);

/// A call running attached; leaves when dropped.
#[derive(Debug)]
pub(crate) struct Active(());

impl Active {
    /// Enters a call, or parks this thread for good if the interpreter is shutting down.
    pub(crate) fn enter(py: Python<'_>) -> Self {
        // Ordering: SeqCst on both sides (here: increment, then read `CLOSING`; the hook:
        // set `CLOSING`, then read `ACTIVE`): either the hook sees this call, and waits for
        // it, or this call sees the hook's flag.
        count(1);
        if CLOSING.load(Ordering::SeqCst) && !is_closer() {
            count(-1);
            py.detach(|| {
                loop {
                    thread::park();
                }
            })
        }
        Self(())
    }

    /// Runs `wait` detached (a wait in the engine), not counted as a call in progress:
    /// PyO3 parks a thread that re-attaches after finalization began. A fork waits for it
    /// to end (see `fork`): it takes the engine's locks.
    pub(crate) fn detached<T: Send>(
        &mut self,
        py: Python<'_>,
        wait: impl FnOnce() -> T + Send,
    ) -> T {
        count(-1);
        let done = py.detach(|| crate::fork::gated(wait));
        std::mem::forget(Self::enter(py));
        done
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        count(-1);
    }
}

fn is_closer() -> bool {
    CLOSER.get() == Some(&thread::current().id())
}

/// The atexit hook: stops new calls from other threads and waits for those in progress.
#[pyfunction]
pub(crate) fn _shutdown(py: Python<'_>) {
    let _ = CLOSER.set(thread::current().id());
    // Ordering: the hook's half of the pattern in `Active::enter`: set the flag, then read
    // the count, both `SeqCst`.
    CLOSING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let started = Instant::now();
        while ACTIVE.load(Ordering::SeqCst) > 0 && started.elapsed() < GRACE {
            thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers the hook with `atexit`.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(_shutdown, module)?;
    module
        .py()
        .import("atexit")?
        .call_method1("register", (hook,))?;
    Ok(())
}
