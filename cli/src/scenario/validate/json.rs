//! Checks of JSON shape shared by every section: "expected an object, found a string",
//! missing and unknown fields, numbers, waits and counts. Each check reports its finding
//! at the given path and returns `None`, so callers carry on and report everything at once.

use std::fmt;

use super::{Checker, Json, Object, Path, View};
use crate::escape;
use crate::scenario::shown::cut;
use crate::scenario::{Diagnostic, Number};

/// The one problem of a file that is not JSON at all, with its line and column.
pub(super) fn json_problem(e: &serde_json::Error) -> Diagnostic {
    // serde_json appends " at line L column C"; state the place once, up front.
    let full = e.to_string();
    let cause = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(cause, _)| cause);
    Diagnostic {
        path: String::new(),
        message: format!(
            "malformed JSON at line {}, column {}: {cause}",
            e.line(),
            e.column()
        ),
    }
}

/// A JSON value's kind, for "expected X, found Y" messages.
pub(super) fn describe(v: &Json<'_>) -> String {
    match v.view() {
        View::Null => "null".to_owned(),
        View::Bool(b) => format!("a boolean ({b})"),
        View::Number(n) => format!("a number ({})", abbreviated(n)),
        View::Str(s) => format!("a string ({})", quoted(s)),
        View::Array(_) => "an array".to_owned(),
        View::Object(_) => "an object".to_owned(),
    }
}

/// `s` in JSON quotes, as the user wrote it in the file; a long one is cut as
/// [`abbreviated`] cuts, counting and cutting the characters of the value itself. Every
/// character [`escape::needs_escape`] names is written as a JSON `\uXXXX` escape: JSON
/// escapes only the controls below U+0020, and a bidirectional override left raw would
/// reorder the message on screen.
pub(super) fn quoted(s: &str) -> String {
    cut(s, SHOWN_CHARS, |text| {
        let json = serde_json::to_string(text).unwrap_or_default();
        let mut out = String::with_capacity(json.len());
        for c in json.chars() {
            if escape::needs_escape(c) {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            } else {
                out.push(c);
            }
        }
        out
    })
}

/// The most characters of a value a message shows.
const SHOWN_CHARS: usize = 60;

/// `value` as text, cut after [`SHOWN_CHARS`] characters with its length: a message quoting
/// a number of two million digits, or a string of megabytes, stays one readable line.
pub(super) fn abbreviated(value: impl fmt::Display) -> String {
    cut(&value.to_string(), SHOWN_CHARS, str::to_owned)
}

impl Checker {
    /// `v` as an object, or a problem at `path`.
    pub(super) fn object<'v>(
        &mut self,
        v: &'v Json<'v>,
        path: &Path<'_>,
    ) -> Option<&'v Object<'v>> {
        match v.view() {
            View::Object(m) => Some(m),
            _ => self.expected("an object", v, path),
        }
    }

    /// `v` as an array, or a problem at `path`.
    pub(super) fn array<'v>(&mut self, v: &'v Json<'v>, path: &Path<'_>) -> Option<&'v [Json<'v>]> {
        match v.view() {
            View::Array(a) => Some(a),
            _ => self.expected("an array", v, path),
        }
    }

    /// `v` as a string, or a problem at `path`.
    pub(super) fn string<'v>(&mut self, v: &'v Json<'v>, path: &Path<'_>) -> Option<&'v str> {
        match v.view() {
            View::Str(s) => Some(s),
            _ => self.expected("a string", v, path),
        }
    }

    /// `v` as a number of either kind, or a problem at `path`.
    pub(super) fn number(&mut self, v: &Json<'_>, path: &Path<'_>) -> Option<Number> {
        match v.view() {
            View::Number(n) => match n.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.problem(path, format!("unreadable number {}", abbreviated(n)));
                    None
                }
            },
            _ => self.expected("a number", v, path),
        }
    }

    /// Reports "expected `what`, found ..." at `path`.
    fn expected<T>(&mut self, what: &str, found: &Json<'_>, path: &Path<'_>) -> Option<T> {
        self.problem(path, format!("expected {what}, found {}", describe(found)));
        None
    }

    /// A wait in seconds: a finite, non-negative number of either kind.
    pub(super) fn time(&mut self, v: &Json<'_>, path: &Path<'_>) -> Option<f64> {
        let n = self.number(v, path)?;
        let secs = n.to_f64();
        // Negative first: `-1e999` reads as minus infinity, and is negative, not large.
        if secs < 0.0 {
            self.problem(
                path,
                format!("must not be negative, found {}", abbreviated(&n)),
            );
            None
        } else if !secs.is_finite() {
            self.problem(path, format!("too large, found {}", abbreviated(&n)));
            None
        } else {
            Some(secs)
        }
    }

    /// A count: a JSON integer (Python's `range` takes no floats) in `1..=max`.
    pub(super) fn count(&mut self, v: &Json<'_>, path: &Path<'_>, max: u64) -> Option<u64> {
        let n = self.number(v, path)?;
        if !n.is_int() {
            self.problem(
                path,
                format!("expected a whole number, found {}", abbreviated(&n)),
            );
            return None;
        }
        if n.to_f64() < 1.0 {
            self.problem(
                path,
                format!("must be at least 1, found {}", abbreviated(&n)),
            );
            return None;
        }
        match n.as_json_text().parse::<u64>() {
            Ok(c) if c <= max => Some(c),
            _ => {
                self.problem(
                    path,
                    format!("too large (at most {max}), found {}", abbreviated(&n)),
                );
                None
            }
        }
    }

    /// The field `key` of `obj`, reporting it at `path` when missing.
    pub(super) fn field<'v>(
        &mut self,
        obj: &'v Object<'v>,
        path: &Path<'_>,
        key: &str,
    ) -> Option<&'v Json<'v>> {
        let v = obj.get(key);
        if v.is_none() {
            self.problem(path, format!("missing field {}", quoted(key)));
        }
        v
    }

    /// The string field `key` of `obj`, owned.
    pub(super) fn text_field(
        &mut self,
        obj: &Object<'_>,
        path: &Path<'_>,
        key: &str,
    ) -> Option<String> {
        let v = self.field(obj, path, key)?;
        self.string(v, &path.key(key)).map(str::to_owned)
    }

    /// Warns about the keys of `obj` that are not `known`: they are ignored.
    pub(super) fn unknown_keys(&mut self, obj: &Object<'_>, path: &Path<'_>, known: &[&str]) {
        for key in obj.keys().filter(|k| !known.contains(k)) {
            self.warn(path, format!("unknown field {} ignored", quoted(key)));
        }
    }
}
