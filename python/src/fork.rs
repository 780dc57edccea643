//! Keeping `fork()` from copying a lock that another thread holds.
//!
//! `fork()` copies the memory of every thread but runs only the one that called it. A lock
//! that another thread held at that instant stays held in the child, by a thread that does
//! not exist there, and the child's first call that needs it waits for good. The GIL keeps
//! the threads that run this module attached (holding the GIL) out of the way: the thread
//! that forks holds the GIL, and the engine never calls back into Python, so their engine
//! calls are whole on either side of the fork. The threads that run detached (a `timeout=`
//! wait inside the engine, a wait for the interning lock) are not: each takes short-lived
//! locks as it goes to sleep and wakes (the engine's per-product waiter lists, carts, the
//! interning lock's own mutex). One forked in the middle of that left the child's next
//! publish of a new product waiting for a waiter list's lock, about one fork in forty with
//! six threads in and out of short waits. The interning lock's mutex is the same hazard, in
//! a shorter window: no child hung on it in 300 forks beside six threads contending for the
//! interning, gated or not, so only the reasoning backs its gate.
//!
//! So every detached section that may take such a lock runs [`gated`]: counted in
//! [`INSIDE`], and not begun while a fork is under way ([`FORKING`]). A hook that
//! `os.register_at_fork` runs before each fork raises `FORKING` and waits, with the GIL
//! released, until no thread is inside; as each section is at most one slice of a wait
//! (`market::SLICE`, 50 ms) long, that is at most one slice. Threads that want in meanwhile
//! wait outside, holding nothing, until the hooks after the fork lower the flag. The child
//! starts with neither a fork nor a section under way: only the forking thread runs there.
//!
//! The gate itself is two atomics, never a lock, so there is nothing of its own for a fork
//! to copy held. The pattern is the one of `shutdown::Active::enter`: each side writes its
//! own flag, then reads the other's, both `SeqCst`, so either the hook sees a section that
//! began, and waits for it, or the section sees the fork, and stays out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Forks under way (one per thread between its `before` and `after_in_parent` hooks).
static FORKING: AtomicUsize = AtomicUsize::new(0);
/// Threads inside a gated section.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// How long a fork waits for the gated sections to end before it goes on regardless: they
/// last one slice, so only a thread the system stops for this long is still inside.
const PATIENCE: Duration = Duration::from_secs(2);

/// How often a thread kept out, and the hook waiting for the ones inside, look again.
const POLL: Duration = Duration::from_millis(1);

/// Runs `section` (detached, taking locks only for as long as it runs) where no fork can
/// copy it halfway.
pub(crate) fn gated<T>(section: impl FnOnce() -> T) -> T {
    loop {
        // Ordering: `SeqCst`, the section's half of the pattern in the module docs.
        INSIDE.fetch_add(1, Ordering::SeqCst);
        if FORKING.load(Ordering::SeqCst) == 0 {
            break;
        }
        INSIDE.fetch_sub(1, Ordering::SeqCst);
        while FORKING.load(Ordering::SeqCst) > 0 {
            thread::sleep(POLL);
        }
    }
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            // Ordering: as in `gated`.
            INSIDE.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _leave = Leave;
    section()
}

/// `os.register_at_fork(before=...)`: keeps new sections out and waits for the ones inside.
#[pyfunction]
fn _before_fork(py: Python<'_>) {
    // Ordering: the hook's half of the pattern: raise the flag, then read the count.
    FORKING.fetch_add(1, Ordering::SeqCst);
    py.detach(|| {
        let started = Instant::now();
        while INSIDE.load(Ordering::SeqCst) > 0 && started.elapsed() < PATIENCE {
            thread::sleep(POLL);
        }
    });
}

/// `os.register_at_fork(after_in_parent=...)`: lets the sections in again.
#[pyfunction]
fn _after_fork_in_parent() {
    // Ordering: as in `gated`.
    FORKING.fetch_sub(1, Ordering::SeqCst);
}

/// `os.register_at_fork(after_in_child=...)`: the child runs only the forking thread, which
/// was inside no section and is forking no more, nor in the calls of the parent's other
/// threads (see `shutdown::after_fork_in_child`).
#[pyfunction]
fn _after_fork_in_child() {
    // Ordering: as in `gated` (no other thread runs in the child yet).
    INSIDE.store(0, Ordering::SeqCst);
    FORKING.store(0, Ordering::SeqCst);
    crate::shutdown::after_fork_in_child();
}

/// Registers the hooks with `os.register_at_fork`, where the platform forks.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let os = module.py().import("os")?;
    if !os.hasattr("register_at_fork")? {
        return Ok(());
    }
    let hooks = pyo3::types::PyDict::new(module.py());
    hooks.set_item("before", wrap_pyfunction!(_before_fork, module)?)?;
    hooks.set_item(
        "after_in_parent",
        wrap_pyfunction!(_after_fork_in_parent, module)?,
    )?;
    hooks.set_item(
        "after_in_child",
        wrap_pyfunction!(_after_fork_in_child, module)?,
    )?;
    os.call_method("register_at_fork", (), Some(&hooks))?;
    Ok(())
}
