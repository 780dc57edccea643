//! Checking the arguments Python passes: ids, timeouts and the queue size. Wrong types raise
//! `TypeError`, impossible values `ValueError`, each naming the argument; ids that are
//! well-formed but were never issued are not errors here (the methods answer `False`, or
//! `KeyError` for `place_order`).

use std::time::Duration;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt};

/// The largest `queue_size_per_producer` accepted: 2**63 - 1.
pub(crate) const MAX_QUEUE_SIZE: u64 = i64::MAX as u64;

/// The most characters of a value's `repr` a message shows, as CPython's own messages cut
/// theirs (`%.200R`): an int of 4,000 digits would bury the message.
const SHOWN_CHARS: usize = 200;

/// `value` as a message shows it: its `repr` (cut after [`SHOWN_CHARS`] characters), or,
/// when that fails (an int of more digits than Python converts to text, or a `__repr__`
/// that raises), what it is.
fn shown(value: &Bound<'_, PyAny>) -> String {
    match value.repr() {
        Ok(text) => {
            let text = text.to_string();
            match text.char_indices().nth(SHOWN_CHARS) {
                Some((cut, _)) => format!("{}...", &text[..cut]),
                None => text,
            }
        }
        Err(_) if value.is_instance_of::<PyInt>() => "an int too large to print".to_owned(),
        Err(_) => format!("a {} object", type_name(value)),
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |name| name.to_string())
}

/// `value` as an `int`: itself, or what its type's `__index__` gives (a numpy integer, say),
/// as Python's sequences take indices; `TypeError` naming `what` for anything else (a
/// float, a string).
fn integer<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
    if value.is_instance_of::<PyInt>() {
        return Ok(value.clone());
    }
    let py = value.py();
    if value.get_type().hasattr(intern!(py, "__index__"))? {
        let index = py
            .import(intern!(py, "operator"))?
            .getattr(intern!(py, "index"))?;
        return index.call1((value,));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be an int, not {}",
        type_name(value)
    )))
}

/// An id argument (`producer_id`, `cart_id`): an `int` (or an object with `__index__`) that
/// is not negative. `Ok(None)` for one too large to have been issued.
pub(crate) fn id(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<u64>> {
    let value = &integer(value, what)?;
    match value.extract::<u64>() {
        Ok(id) => Ok(Some(id)),
        Err(_) if value.lt(0)? => Err(PyValueError::new_err(format!(
            "{what} must not be negative, got {}",
            shown(value)
        ))),
        Err(_) => Ok(None),
    }
}

/// The `queue_size_per_producer` argument: an `int` (or an object with `__index__`) from 1
/// to 2**63 - 1.
pub(crate) fn queue_size(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let value = &integer(value, "queue_size_per_producer")?;
    value
        .extract::<u64>()
        .ok()
        .filter(|size| (1..=MAX_QUEUE_SIZE).contains(size))
        .and_then(|size| usize::try_from(size).ok())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "queue_size_per_producer must be between 1 and {MAX_QUEUE_SIZE}, got {}",
                shown(value)
            ))
        })
}

/// How long a call may wait.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Wait {
    /// Do not wait (`timeout=None`, or 0): one attempt, as the classic methods.
    No,
    /// Wait up to this long.
    For(Duration),
    /// Wait as long as it takes (`timeout=math.inf`, or too long to represent).
    Forever,
}

/// The `timeout` argument: `None` or a number of seconds, finite or `inf`, not negative.
pub(crate) fn timeout(value: Option<&Bound<'_, PyAny>>) -> PyResult<Wait> {
    let Some(value) = value.filter(|value| !value.is_none()) else {
        return Ok(Wait::No);
    };
    if value.is_instance_of::<pyo3::types::PyString>() {
        // str has no __float__, but say it plainly rather than "must be real number".
        return Err(PyTypeError::new_err(format!(
            "timeout must be a number of seconds or None, not {}",
            type_name(value)
        )));
    }
    // An integer only through `__index__` (no `__float__`: `float()` would ask `__index__`
    // too) counts as its int, so one too large for a float is as long a wait as that int,
    // rather than the `OverflowError` of the conversion.
    let py = value.py();
    let value = &if !value.is_instance_of::<PyFloat>()
        && !value.get_type().hasattr(intern!(py, "__float__"))?
        && value.get_type().hasattr(intern!(py, "__index__"))?
    {
        integer(value, "timeout")?
    } else {
        value.clone()
    };
    let negative = || {
        PyValueError::new_err(format!(
            "timeout must be a number of seconds >= 0 or None, got {}",
            shown(value)
        ))
    };
    let seconds: f64 = match value.extract() {
        Ok(seconds) => seconds,
        // An int too large for a float: as long a wait as any other too long to represent.
        Err(error)
            if error.is_instance_of::<PyOverflowError>(py) && value.is_instance_of::<PyInt>() =>
        {
            return if value.gt(0)? {
                Ok(Wait::Forever)
            } else {
                Err(negative())
            };
        }
        // Not a number at all; an object with its own conversion keeps the error it raised.
        Err(error)
            if error.is_instance_of::<PyTypeError>(py)
                && !value.hasattr(intern!(py, "__float__"))?
                && !value.hasattr(intern!(py, "__index__"))? =>
        {
            return Err(PyTypeError::new_err(format!(
                "timeout must be a number of seconds or None, not {}",
                type_name(value)
            )));
        }
        // What the object's own `__float__` (or `__index__`) raised.
        Err(error) => return Err(error),
    };
    if seconds.is_nan() || seconds < 0.0 {
        return Err(negative());
    }
    if seconds == 0.0 {
        return Ok(Wait::No);
    }
    Ok(Duration::try_from_secs_f64(seconds).map_or(Wait::Forever, Wait::For))
}

impl Wait {
    /// The longest a wait may last: `None` for no limit. Not asked of `Wait::No`, which
    /// does not wait.
    pub(crate) fn limit(self) -> Option<Duration> {
        match self {
            Wait::No => Some(Duration::ZERO),
            Wait::For(timeout) => Some(timeout),
            Wait::Forever => None,
        }
    }
}
