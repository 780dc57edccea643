//! Python bindings of the lock-free marketplace engine: the native part of the `marketplace`
//! Python package (`marketplace._native`), built by maturin.
//!
//! The engine is generic over its product type and never calls back into Python: products
//! are interned at the boundary, under the GIL, into equality classes the engine compares on
//! its own, and the exact objects published are kept here and handed back by `place_order`.
//! `market` has the class and how each call works, `state` the bookkeeping and the life of
//! an equality class, `class_key` the interning dict's key for a class, `intern_lock` what
//! keeps interning one call at a time, `calllog` the logging, `args` the argument checks,
//! `aio` how the async forms' waits are awaited from asyncio and woken, `shutdown` how
//! daemon threads are kept out while the interpreter exits, and `fork` how a `fork()` is
//! kept from copying a lock another thread holds.
//!
//! The engine itself is `#![forbid(unsafe_code)]`; this crate has no `unsafe` of its own
//! either (the lint below), only what PyO3's macros generate.
#![deny(unsafe_code)]

mod aio;
mod args;
mod calllog;
mod class_key;
mod fork;
mod intern_lock;
mod market;
mod shutdown;
mod state;

use pyo3::prelude::*;

/// The native module. It declares that it needs the GIL (`gil_used = true`): see README.md,
/// "How it works", for what was checked for free-threaded Python and what is missing.
#[pymodule(gil_used = true)]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    market::register(module)?;
    shutdown::register(module)?;
    fork::register(module)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add("MAX_QUEUE_SIZE", args::MAX_QUEUE_SIZE)?;
    Ok(())
}
