//! Awaiting the engine's async waits from asyncio.
//!
//! The async methods (`publish_async`, `add_to_cart_async`) are `async fn`s that PyO3 wraps
//! in a coroutine: each `send` from the asyncio task polls the Rust future, attached to the
//! interpreter, on the event loop's thread. While the engine's future is pending it holds a
//! waker in the engine's waiter list and no thread at all; [`wait_on_loop`] adds the
//! `timeout=` deadline, as an asyncio timer on the same loop.
//!
//! The engine wakes a waiter while it holds that waiter list's lock (`event-listener` calls
//! wakers under its mutex), from whichever thread made the item or the room: a thread in a
//! blocking wait with the GIL released, or an attached one, whose Python code may let other
//! threads take the GIL. PyO3's own waker needs the GIL (it calls the loop's
//! `call_soon_threadsafe`), and the loop's thread polls its tasks holding the GIL and takes
//! the same list lock to register: the waker waited for the GIL under the lock while the
//! loop waited for the lock under the GIL, and both hung (a thread's `close()` during a
//! task's wait did, every time). So the engine never gets PyO3's waker: it gets a
//! [`Shared`] one, which only queues the task's waker in its loop's [`Relay`] and writes a
//! byte to a socket the loop watches (`add_reader`); the loop then wakes the queued tasks
//! in a callback of its own, holding no lock of the engine's.
//!
//! The engine wakes one waiter per item (or unit of room), and a task whose loop is
//! stopped (not closed) would keep that wake-up for as long as its loop stays stopped,
//! while a task of a running loop slept beside the item. So a task's engine wait lives in
//! its [`Shared`], where any thread may drop it: each call that may have woken a task
//! sweeps, as it ends, the relays whose loops do not run, and drops their woken tasks'
//! engine waits, which passes the wake-ups on ([`pass_on_stalled_wake_ups`]); such a task
//! makes its wait again when its loop runs again.
//!
//! Everything here that calls Python code from Rust on the loop's thread (the relay's and
//! the timer's callbacks, the setting up and cancelling of both, each poll) counts itself
//! as a call in progress (`shutdown::Active`): a daemon thread's loop still running when
//! the interpreter exits was otherwise ended with `pthread_exit` inside those Rust frames,
//! and the process aborted (4 runs in 30 of the shutdown test's script). PyO3's coroutine
//! still calls `loop.create_future()` after a poll that returns pending, outside the count.

use std::any::Any;
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;

use crate::shutdown::Active;

/// Locks a mutex under which no code can panic halfway through an update.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The tasks of one event loop to wake, handed over through a socket the loop watches.
///
/// Invariant: while `pending` holds a task, a byte is unread in the socket (so the loop's
/// reader will run) or a drain holding the lock is about to take it.
struct Relay {
    pending: Mutex<Pending>,
    /// The socket the loop watches, for `add_reader`.
    reader_fd: RawFd,
    /// The loop, weakly (a `weakref.ref`): whether it runs tells a wake-up it will drain
    /// from one it would keep (see [`pass_on_stalled_wake_ups`]).
    event_loop: Py<PyAny>,
    /// Whether the relay is in [`UNDRAINED`], so that it is listed there once.
    listed: AtomicBool,
    /// The asyncio tasks waiting through this relay, by their wait's [`Shared`] address:
    /// closed with the loop ([`Relay::abandon`]).
    tasks: Mutex<HashMap<usize, Py<PyAny>>>,
}

impl Relay {
    fn new(event_loop: Py<PyAny>) -> PyResult<Self> {
        let (writer, reader) = UnixStream::pair()?;
        writer.set_nonblocking(true)?;
        reader.set_nonblocking(true)?;
        Ok(Self {
            reader_fd: reader.as_raw_fd(),
            event_loop,
            listed: AtomicBool::new(false),
            pending: Mutex::new(Pending {
                tasks: Vec::new(),
                sockets: Some((writer, reader)),
            }),
            tasks: Mutex::new(HashMap::new()),
        })
    }

    /// From any thread, under any lock: needs no GIL and runs no Python code.
    fn push(self: &Arc<Self>, task: Arc<Shared>) {
        let mut pending = lock(&self.pending);
        let Some((writer, _)) = &pending.sockets else {
            // The loop has closed: nothing would wake the task. Let go of it outside the lock.
            drop(pending);
            drop(task);
            return;
        };
        if pending.tasks.is_empty() {
            // Full (`WouldBlock`): bytes are unread already, and the reader will run.
            let _ = (&*writer).write(&[1]);
        }
        pending.tasks.push(task);
        // On every push, not only into an empty queue: a stopped loop's queue keeps the
        // wake-ups of the tasks whose waits a sweep dropped, and another of its tasks woken
        // later must be swept too. Ordering: the sweep clears `listed`, then reads the
        // queue under its lock; it swaps `SWEEP_DUE`, then reads the list under its lock.
        if !self.listed.swap(true, Ordering::SeqCst) {
            lock(&UNDRAINED).push(Arc::downgrade(self));
            SWEEP_DUE.store(true, Ordering::SeqCst);
        }
    }

    /// Whether the loop runs, and so will drain what is pushed; a loop gone, or whose
    /// `is_running` fails, does not.
    fn loop_runs(&self, py: Python<'_>) -> bool {
        let runs = self.event_loop.bind(py).call0().and_then(|event_loop| {
            if event_loop.is_none() {
                return Ok(false);
            }
            event_loop
                .call_method0(intern!(py, "is_running"))?
                .extract()
        });
        runs.unwrap_or_else(|error| {
            // A Ctrl-C landing in `is_running`: raised again where Python raises signals,
            // as the call that swept returns, rather than lost here.
            if error.is_instance_of::<PyKeyboardInterrupt>(py) {
                let interrupted = py
                    .import(intern!(py, "_thread"))
                    .and_then(|thread| thread.call_method0(intern!(py, "interrupt_main")));
                if let Err(error) = interrupted {
                    error.write_unraisable(py, None);
                }
            } else {
                error.write_unraisable(py, None);
            }
            // Not known to run: its tasks' waits are made again if it does.
            false
        })
    }

    /// The loop's reader callback, on its thread: wakes the queued tasks (PyO3's wakers,
    /// which schedule them on the loop), holding no lock. A Ctrl-C that lands in one of
    /// their wake-ups is raised from here, after the others, as `KeyboardInterrupt`.
    fn drain(&self) -> PyResult<()> {
        let tasks = {
            let mut pending = lock(&self.pending);
            if let Some((_, reader)) = &pending.sockets {
                let mut bytes = [0; 64];
                while let Ok(1..) = (&*reader).read(&mut bytes) {}
            }
            std::mem::take(&mut pending.tasks)
        };
        // PyO3's waker panics when scheduling its task raises (a Ctrl-C landing in the loop's
        // `call_soon_threadsafe`): the tasks after it must still be woken, and that one again,
        // or they would sleep through the items they were offered. Again at once, and once
        // only: a signal raises once, so a second failure is a loop that cannot schedule the
        // task at all, and retrying it at every turn would spin the loop for good.
        let mut failed = None;
        for shared in tasks {
            let Some(task) = lock(&shared.task).clone() else {
                continue;
            };
            let wake = || panic::catch_unwind(AssertUnwindSafe(|| task.wake_by_ref()));
            if let Err(panic) = wake() {
                let _ = wake();
                failed.get_or_insert(panic);
            }
        }
        match failed {
            None => Ok(()),
            // Out of the loop's run, as a Ctrl-C in any other callback of the loop is.
            Some(panic) if is_keyboard_interrupt(&*panic) => Err(PyKeyboardInterrupt::new_err(())),
            // Any other failure: PyO3 raises the panic from this callback, and the loop
            // reports it, as it does any exception of a callback.
            Some(panic) => panic::resume_unwind(panic),
        }
    }

    /// The loop has closed with these tasks still waiting: nothing will poll them again,
    /// and PyO3's coroutine is not traversed by the garbage collector, so a waiting task
    /// (its coroutine holds the engine's future, whose waker holds the task) would never be
    /// freed: its engine waiter would stay registered for good and take the wake-up of an
    /// item another loop's task waits for, and its pin, object and loop would stay too.
    /// Closing each task's coroutine, as the collector does to a pending coroutine it
    /// frees, drops the wait, which passes such a wake-up on and gives all of that back.
    fn abandon(&self, py: Python<'_>) {
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for task in tasks.into_values() {
            let task = task.bind(py);
            let closed = task
                .call_method0(intern!(py, "get_coro"))
                .and_then(|coroutine| coroutine.call_method0(intern!(py, "close")));
            if let Err(error) = closed {
                error.write_unraisable(py, Some(task));
            }
        }
    }
}

/// Whether a panic of PyO3's waker is its report of a `KeyboardInterrupt` raised while it
/// scheduled its task. The waker keeps only the text of the error it failed with (it
/// `expect`s the call's result), so that text is all there is to read: the error's type
/// comes first in it, right after PyO3's own words, and only the built-in class prints as
/// `<class 'KeyboardInterrupt'>` (a subclass prints with its module, and is reported as any
/// other failure). `test_a_ctrl_c_landing_in_one_tasks_wake_up_loses_no_wake_up` fails if
/// PyO3's text changes.
fn is_keyboard_interrupt(panic: &(dyn Any + Send)) -> bool {
    let text = match panic.downcast_ref::<String>() {
        Some(text) => text.as_str(),
        None => panic.downcast_ref::<&str>().copied().unwrap_or_default(),
    };
    // The whole opening: an error's message, later in the text, may quote anything.
    text.starts_with(
        "unexpected error in coroutine waker: PyErr { type: <class 'KeyboardInterrupt'>,",
    )
}

/// What [`Relay::pending`] guards: the tasks to wake, and the sockets, until the loop
/// closes (a closed loop may live on, in a task it left waiting; its sockets need not).
struct Pending {
    /// The waits whose tasks to wake.
    tasks: Vec<Arc<Shared>>,
    /// The writer, then the reader.
    sockets: Option<(UnixStream, UnixStream)>,
}

/// The loop's reader callback's hold on its relay, which it drains; the loop's selector
/// lets go of the callback when the loop closes, and then this closes the relay's sockets
/// and [abandons](Relay::abandon) the tasks still waiting.
struct Drainer(Arc<Relay>);

impl Drop for Drainer {
    fn drop(&mut self) {
        let (tasks, sockets) = {
            let mut pending = lock(&self.0.pending);
            (std::mem::take(&mut pending.tasks), pending.sockets.take())
        };
        drop((tasks, sockets));
        if lock(&self.0.tasks).is_empty() {
            return;
        }
        Python::attach(|py| {
            let _active = Active::enter(py);
            self.0.abandon(py);
        });
    }
}

/// A task's entry in its relay's [`tasks`](Relay::tasks), taken out when its wait ends.
struct Enrolled {
    relay: Arc<Relay>,
    key: usize,
}

impl Drop for Enrolled {
    fn drop(&mut self) {
        let task = lock(&self.relay.tasks).remove(&self.key);
        // Its last reference may be the task's: let go of it outside the lock.
        drop(task);
    }
}

/// The Python object that keeps a loop's relay, in [`relay_of`]'s registry.
#[pyclass(frozen)]
struct LoopRelay(Arc<Relay>);

/// The relay of the running loop, made and watched (`add_reader`) on its first wait. The
/// registry holds loops weakly: a loop's relay, and its sockets, go when it does (and the
/// waits that still hold it).
fn relay_of(py: Python<'_>) -> PyResult<Arc<Relay>> {
    static RELAYS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let relays = RELAYS.get_or_try_init(py, || {
        py.import(intern!(py, "weakref"))?
            .call_method0(intern!(py, "WeakKeyDictionary"))
            .map(Bound::unbind)
    })?;
    let relays = relays.bind(py);
    let event_loop = running_loop(py)?;
    let known = relays.call_method1(intern!(py, "get"), (&event_loop,))?;
    if let Ok(known) = known.cast::<LoopRelay>() {
        return Ok(Arc::clone(&known.get().0));
    }
    let weakly = py
        .import(intern!(py, "weakref"))?
        .call_method1(intern!(py, "ref"), (&event_loop,))?;
    let relay = Arc::new(Relay::new(weakly.unbind())?);
    let drain = {
        let drainer = Drainer(Arc::clone(&relay));
        PyCFunction::new_closure(py, None, None, move |args, _| {
            let _active = Active::enter(args.py());
            drainer.0.drain()
        })?
    };
    event_loop.call_method1(intern!(py, "add_reader"), (relay.reader_fd, drain))?;
    relays.set_item(&event_loop, LoopRelay(Arc::clone(&relay)))?;
    Ok(relay)
}

fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import(intern!(py, "asyncio"))?
        .call_method0(intern!(py, "get_running_loop"))
}

/// An engine wait (for an item, or for room): `true` once it has succeeded. Boxed and
/// owning what it needs, so that any thread may drop it (see [`Shared::release`]).
pub(crate) type EngineWait = Pin<Box<dyn Future<Output = bool> + Send>>;

/// Makes a task's engine wait: at its first poll, and again after a release.
pub(crate) type MakeWait = Box<dyn Fn() -> EngineWait + Send + Sync>;

/// The waker the engine gets, and what the deadline's timer shares with the task: the
/// task's latest waker (PyO3's), whether the deadline has passed, and the engine wait.
struct Shared {
    relay: Arc<Relay>,
    task: Mutex<Option<Waker>>,
    passed: AtomicBool,
    /// The task's engine wait, polled on its loop. Its listener holds this `Shared` as its
    /// waker: the wait is taken out when it ends ([`Unwait`]), or released.
    wait: Mutex<Option<EngineWait>>,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.relay.push(Arc::clone(self));
    }
}

impl Shared {
    /// Ends the wait as its deadline does: the timer's callback, on the loop's thread.
    /// Also [`Stops::stop`]'s, from any thread.
    fn pass(self: &Arc<Self>) {
        // Ordering: the task reads the flag in a poll that this wake-up (or a later one)
        // causes; the hand-off through the relay's lock and the loop orders the two.
        self.passed.store(true, Ordering::SeqCst);
        self.wake_by_ref();
    }

    /// Drops the engine wait, which passes on a wake-up it was given and not used: its
    /// loop has stopped, and would keep that wake-up from the waiters of running loops for
    /// as long as it stays stopped. The task makes its wait again when it next runs.
    fn release(&self) {
        let wait = lock(&self.wait).take();
        // Its listener's drop wakes another waiter: outside the lock.
        drop(wait);
    }

    fn passed(&self) -> bool {
        // Ordering: as in `pass`.
        self.passed.load(Ordering::SeqCst)
    }

    fn set_task(&self, waker: &Waker) {
        let mut task = lock(&self.task);
        if !task.as_ref().is_some_and(|task| task.will_wake(waker)) {
            let old = task.replace(waker.clone());
            drop(task);
            // Its last reference may be PyO3's future: let go of it outside the lock.
            drop(old);
        }
    }
}

/// An asyncio timer, cancelled when dropped (so a wait that ended before its deadline
/// leaves nothing scheduled on the loop).
struct Timer(Py<PyAny>);

impl Drop for Timer {
    fn drop(&mut self) {
        Python::attach(|py| {
            let _active = Active::enter(py);
            if let Err(error) = self.0.call_method0(py, intern!(py, "cancel")) {
                error.write_unraisable(py, Some(self.0.bind(py)));
            }
        });
    }
}

/// Async waits that something other than the engine ends, by key (a cart's serial: a
/// placed order ends the waits for an item in its cart, which the engine wakes only for an
/// item or `close()`).
#[derive(Default)]
pub(crate) struct Stops(Mutex<HashMap<u64, Vec<Weak<Shared>>>>);

impl Stops {
    /// Ends the waits registered under `key` as their deadline would; later ones must see
    /// for themselves (a wait registers before its first poll of the engine, which then
    /// finds the cart gone).
    pub(crate) fn stop(&self, key: u64) {
        let stopped = lock(&self.0).remove(&key).unwrap_or_default();
        for wait in stopped.iter().filter_map(Weak::upgrade) {
            wait.pass();
        }
    }
}

/// A wait's registration in [`Stops`], taken out when the wait ends or is dropped.
struct Stoppable<'a> {
    stops: &'a Stops,
    key: u64,
    wait: Weak<Shared>,
}

impl Drop for Stoppable<'_> {
    fn drop(&mut self) {
        let mut stops = lock(&self.stops.0);
        if let Some(waits) = stops.get_mut(&self.key) {
            waits.retain(|wait| !wait.ptr_eq(&self.wait));
            if waits.is_empty() {
                stops.remove(&self.key);
            }
        }
    }
}

/// Awaits the engine wait `make_wait` makes on the running asyncio loop, for at most
/// `timeout` (`None`: no limit), or until `stop`'s key is stopped. `Ok(None)` once the
/// deadline has passed (or the stop come) with the wait still pending (it is dropped then,
/// so it has done nothing); a `RuntimeError` when no asyncio loop is running, or when a
/// task other than the one that began the wait polls it (awaits its coroutine meanwhile).
pub(crate) async fn wait_on_loop(
    make_wait: MakeWait,
    timeout: Option<Duration>,
    stop: Option<(&Stops, u64)>,
) -> PyResult<Option<bool>> {
    let shared = Arc::new(Shared {
        relay: Python::attach(|py| {
            let _active = Active::enter(py);
            relay_of(py)
        })?,
        task: Mutex::new(None),
        passed: AtomicBool::new(false),
        wait: Mutex::new(None),
    });
    let _unwait = Unwait(Arc::clone(&shared));
    let (driver, _enrolled) = Python::attach(|py| {
        let _active = Active::enter(py);
        let task = current_task(py)?;
        let driver = task.as_ptr() as usize;
        Ok::<_, PyErr>((driver, enrol(&shared, task)?))
    })?;
    let _stoppable = stop.map(|(stops, key)| {
        let wait = Arc::downgrade(&shared);
        lock(&stops.0).entry(key).or_default().push(wait.clone());
        Stoppable { stops, key, wait }
    });
    let _timer = match timeout {
        None => None,
        Some(timeout) => Some(Python::attach(|py| {
            let _active = Active::enter(py);
            schedule(py, &shared, timeout)
        })?),
    };
    let waker = Waker::from(Arc::clone(&shared));
    poll_fn(|cx| {
        Python::attach(|py| {
            let _active = Active::enter(py);
            // A second task awaiting the coroutine meanwhile: a Python coroutine raises in
            // it, and so does this. PyO3's coroutine has no such check, and its waker is
            // the new task's, which took the wait over while the first slept for good. The
            // wait ends here (the coroutine closes), so the first task is woken too, to
            // find it closed.
            match current_task(py) {
                Ok(task) if task.as_ptr() as usize == driver => {}
                other => {
                    // Through the relay, as every wake-up of a wait: its drain, on the
                    // loop's thread, wakes the first task (its waker still the one held)
                    // and withstands a Ctrl-C landing as it schedules it.
                    Wake::wake_by_ref(&shared);
                    return Poll::Ready(Err(other.err().unwrap_or_else(|| {
                        PyRuntimeError::new_err("coroutine is being awaited already")
                    })));
                }
            }
            shared.set_task(cx.waker());
            let mut wait = lock(&shared.wait);
            let engine_wait = wait.get_or_insert_with(&make_wait);
            if let Poll::Ready(done) = engine_wait.as_mut().poll(&mut Context::from_waker(&waker)) {
                let ended = wait.take();
                drop(wait);
                drop(ended);
                return Poll::Ready(Ok(Some(done)));
            }
            drop(wait);
            if shared.passed() {
                return Poll::Ready(Ok(None));
            }
            Poll::Pending
        })
    })
    .await
}

/// Takes a wait's engine wait out of its [`Shared`] when the wait ends or its task drops it
/// (a listener dropped unused passes its wake-up on, as before), which also breaks the
/// cycle through the listener's waker.
struct Unwait(Arc<Shared>);

impl Drop for Unwait {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Relays with wake-ups pushed since the last sweep, whose loops may not run to drain them;
/// each at most once ([`Relay::listed`]).
static UNDRAINED: Mutex<Vec<Weak<Relay>>> = Mutex::new(Vec::new());
/// Set when [`UNDRAINED`] gains a relay: a sweep is due.
static SWEEP_DUE: AtomicBool = AtomicBool::new(false);

/// Passes on the wake-ups given to tasks of loops that are not running (stopped, not
/// closed): the engine wakes one waiter per item or unit of room, and a task that does not
/// run would keep that wake-up while a task of a running loop slept beside the item. Each
/// such task's engine wait is dropped, which passes the wake-up on; its own wake-up stays
/// queued, so when its loop runs again it makes its wait again and tries.
///
/// The engine wakes a waiter under its lock, without the GIL, where no loop can be asked
/// whether it runs; so each call that may have woken a task (every call that publishes,
/// takes, gives back, orders or ends a wait) sweeps as it ends. A loop that stops after a
/// sweep found it running, before the woken task ran, keeps that one until it runs again
/// (as when the call is the last step of its `run_until_complete`): nothing of ours runs
/// after a loop stops.
pub(crate) fn pass_on_stalled_wake_ups(py: Python<'_>) {
    // Ordering: as in `Relay::push`. A plain read first: the flag is almost always clear.
    while SWEEP_DUE.load(Ordering::Relaxed) && SWEEP_DUE.swap(false, Ordering::SeqCst) {
        let relays = std::mem::take(&mut *lock(&UNDRAINED));
        for relay in relays.iter().filter_map(Weak::upgrade) {
            // A push from here on lists it again (a wake-up passed on to another of its
            // tasks, say), and this loop sweeps it again.
            relay.listed.store(false, Ordering::SeqCst);
            if lock(&relay.pending).tasks.is_empty() || relay.loop_runs(py) {
                continue;
            }
            let stalled = lock(&relay.pending).tasks.clone();
            for shared in stalled {
                shared.release();
            }
        }
    }
}

/// The asyncio task running (`None` outside one). Its address tells the task that drives a
/// wait from any other: it lives as long as it drives the wait's coroutine.
fn current_task(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import(intern!(py, "asyncio"))?
        .call_method0(intern!(py, "current_task"))
}

/// Enters the current asyncio task (if the wait runs in one) in its relay's tasks.
fn enrol(shared: &Arc<Shared>, task: Bound<'_, PyAny>) -> PyResult<Option<Enrolled>> {
    if task.is_none() {
        return Ok(None);
    }
    let key = Arc::as_ptr(shared) as usize;
    lock(&shared.relay.tasks).insert(key, task.unbind());
    Ok(Some(Enrolled {
        relay: Arc::clone(&shared.relay),
        key,
    }))
}

/// Calls [`Shared::pass`] after `timeout` on the running loop.
fn schedule(py: Python<'_>, shared: &Arc<Shared>, timeout: Duration) -> PyResult<Timer> {
    let shared = Arc::clone(shared);
    let callback = PyCFunction::new_closure(py, None, None, move |args, _| {
        let _active = Active::enter(args.py());
        shared.pass();
    })?;
    let handle = running_loop(py)?
        .call_method1(intern!(py, "call_later"), (timeout.as_secs_f64(), callback))?;
    Ok(Timer(handle.unbind()))
}
