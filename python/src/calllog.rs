//! Logging every call that acts on the market through Python's `logging`, as the classic
//! `Marketplace` does; the queries the classic class lacks (`stats`, `shelf_len`,
//! `available`) log nothing, as the engine's snapshots do.
//!
//! Records are made here, at the Python boundary, rather than by forwarding the engine's
//! `log` records (with `pyo3-log`): the engine sees ids as its own structs and products as
//! equality-class keys, while here each record shows what the caller passed and got, in
//! Python terms: `publish(producer_id=0, product=Tea(name='Linden', price=9,
//! type='Herbal')) -> True`. Products appear as their `repr`, formatted by `logging` itself
//! (`%r`), only when a handler emits the record. Level changes take effect at once (nothing
//! is cached on this side), and a wait that releases the GIL never has to take it back just
//! to log.
//!
//! Records go to the logger named `marketplace`, at `DEBUG` level. With that level disabled
//! (the default) a call costs one `Logger.isEnabledFor` call, which `logging` answers from
//! its per-logger cache.

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

/// `logging.DEBUG`.
const DEBUG: u8 = 10;

/// The name of the logger the calls are recorded on.
pub(crate) const LOGGER: &str = "marketplace";

/// The bound methods of the `marketplace` logger that each call uses.
pub(crate) struct CallLog {
    is_enabled_for: Py<PyAny>,
    debug: Py<PyAny>,
}

impl CallLog {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Self> {
        let logger = py.import("logging")?.call_method1("getLogger", (LOGGER,))?;
        Ok(Self {
            is_enabled_for: logger.getattr("isEnabledFor")?.unbind(),
            debug: logger.getattr("debug")?.unbind(),
        })
    }

    /// Whether a debug record would be handled now. A failing check (a broken logging
    /// setup, or a Ctrl-C landing in it) counts as disabled, and goes to
    /// `sys.unraisablehook`: logging must never make a market call fail. Calls ask it as
    /// they begin, after raising a pending Ctrl-C themselves (`Marketplace::logging`).
    pub(crate) fn enabled(&self, py: Python<'_>) -> bool {
        self.is_enabled_for
            .call1(py, (DEBUG,))
            .and_then(|enabled| enabled.is_truthy(py))
            .unwrap_or_else(|error| {
                error.write_unraisable(py, None);
                false
            })
    }

    /// Records a call: `call` is its `%`-format with one `%r` per argument in `args`, and
    /// `outcome` its result (shown as ` -> %r`) or the exception it raised (` raised %r`).
    /// Only call it after [`enabled`](Self::enabled) said yes.
    pub(crate) fn record<'py>(
        &self,
        py: Python<'py>,
        call: &str,
        args: impl IntoIterator<Item = Bound<'py, PyAny>>,
        outcome: Result<Bound<'py, PyAny>, &PyErr>,
    ) {
        let (format, result) = match outcome {
            Ok(result) => (format!("{call} -> %r"), result),
            Err(error) => (
                format!("{call} raised %r"),
                error.value(py).clone().into_any(),
            ),
        };
        self.emit(py, &format, args.into_iter().chain([result]));
    }

    /// Records an async call whose task dropped it before it ended (`call` as for
    /// [`record`](Self::record)): it did nothing, and returned nothing.
    pub(crate) fn record_cancelled<'py>(
        &self,
        py: Python<'py>,
        call: &str,
        args: impl IntoIterator<Item = Bound<'py, PyAny>>,
    ) {
        self.emit(py, &format!("{call} cancelled"), args);
    }

    /// Logs `format` with `args` at debug level.
    fn emit<'py>(
        &self,
        py: Python<'py>,
        format: &str,
        args: impl IntoIterator<Item = Bound<'py, PyAny>>,
    ) {
        let mut items = vec![PyString::new(py, format).into_any()];
        items.extend(args);
        let logged =
            PyTuple::new(py, items).and_then(|items| self.debug.call1(py, items).map(drop));
        if let Err(error) = logged {
            // Handlers that follow `logging`'s convention report their own failures
            // (`Handler.handleError`); whatever escapes `Logger.debug` anyway (a handler
            // that raises, a Ctrl-C landing in one) goes to `sys.unraisablehook`, so the
            // call keeps its outcome.
            error.write_unraisable(py, None);
        }
    }

    /// The Python objects held, for the garbage collector.
    pub(crate) fn objects(&self) -> [&Py<PyAny>; 2] {
        [&self.is_enabled_for, &self.debug]
    }
}
