//! Numbers as Python's `json` module loads them: an int or a float, kept with the text
//! they were written as. Equality and hashing are by mathematical value across kinds.

use std::fmt::{self, Display};
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::ser::{Serialize, Serializer};

use crate::repr::{int_repr, write_float_repr};

/// A JSON number that remembers whether it was an integer or a float, as Python's `json`
/// module does, and the text it was written with.
///
/// It prints as Python's `repr` of the value Python would load; it compares by mathematical
/// value across kinds, exactly (`9 == 9.0`, `0.0 == -0.0`, big integers are never rounded).
///
/// ```
/// use marketplace_cli::scenario::Number;
/// let nine: Number = "9".parse().unwrap();
/// let nine_f: Number = "9.0".parse().unwrap();
/// assert_eq!(nine.to_string(), "9");
/// assert_eq!(nine_f.to_string(), "9.0");
/// assert_eq!(nine, nine_f);
/// assert_eq!("1E2".parse::<Number>().unwrap().to_string(), "100.0");
/// ```
#[derive(Clone, Debug)]
pub struct Number {
    /// The JSON text as written; always a valid JSON number.
    text: String,
    value: NumberValue,
}

#[derive(Clone, Debug)]
enum NumberValue {
    /// Python's repr of the integer: the digits as written, `-0` normalised to `0`.
    Int(String),
    /// The value Python's `float()` gives; may be infinite (`1e400`), never NaN.
    Float(f64),
}

/// The text was not a JSON number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNumberError;

impl Display for ParseNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a JSON number")
    }
}

impl std::error::Error for ParseNumberError {}

/// Whether `text` matches JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

impl FromStr for Number {
    type Err = ParseNumberError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !is_json_number(text) {
            return Err(ParseNumberError);
        }
        // Python's json loads a number as a float exactly when it has a fraction or exponent.
        let value = if text.contains(['.', 'e', 'E']) {
            NumberValue::Float(text.parse().map_err(|_| ParseNumberError)?)
        } else {
            NumberValue::Int(int_repr(text).ok_or(ParseNumberError)?)
        };
        Ok(Number {
            text: text.to_owned(),
            value,
        })
    }
}

impl Number {
    /// An integer.
    ///
    /// ```
    /// assert_eq!(marketplace_cli::scenario::Number::int(-3).to_string(), "-3");
    /// ```
    pub fn int(i: i64) -> Self {
        let text = i.to_string();
        Number {
            value: NumberValue::Int(text.clone()),
            text,
        }
    }

    /// A float, written as Python's repr (so it reads back as the same float). Returns `None`
    /// for NaN and infinities, which JSON cannot express.
    ///
    /// ```
    /// assert_eq!(marketplace_cli::scenario::Number::float(5.0).unwrap().to_string(), "5.0");
    /// ```
    pub fn float(f: f64) -> Option<Self> {
        if !f.is_finite() {
            return None;
        }
        let mut text = String::new();
        let _ = write_float_repr(&mut text, f);
        Some(Number {
            text,
            value: NumberValue::Float(f),
        })
    }

    /// The JSON text as written.
    pub fn as_json_text(&self) -> &str {
        &self.text
    }

    /// Whether the number is an integer in the JSON (no fraction, no exponent).
    pub fn is_int(&self) -> bool {
        matches!(self.value, NumberValue::Int(_))
    }

    /// The value as the nearest `f64` (big integers are rounded; infinities stay infinite).
    pub fn to_f64(&self) -> f64 {
        match &self.value {
            // Integer text is always a valid float literal.
            NumberValue::Int(digits) => digits.parse().unwrap_or(f64::NAN),
            NumberValue::Float(f) => *f,
        }
    }

    /// The value's exact decimal integer text when it is a (finite) whole number, `-0`
    /// normalised to `0`; the canonical form equality and hashing use across kinds.
    fn integral_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match &self.value {
            NumberValue::Int(digits) => Some(digits.into()),
            NumberValue::Float(f) if f.is_finite() && f.fract() == 0.0 => {
                // `{:.0}` prints a whole f64 exactly, digit for digit.
                let s = format!("{f:.0}");
                Some(if s == "-0" { "0".to_owned() } else { s }.into())
            }
            NumberValue::Float(_) => None,
        }
    }
}

impl Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            NumberValue::Int(digits) => f.write_str(digits),
            NumberValue::Float(x) => write_float_repr(f, *x),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (&self.value, &other.value) {
            (NumberValue::Float(a), NumberValue::Float(b)) => a == b,
            (NumberValue::Int(a), NumberValue::Int(b)) => a == b,
            _ => match (self.integral_text(), other.integral_text()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Whole numbers hash by their exact integer text whatever their kind, so `9` and
        // `9.0` (equal) hash alike; other floats by their bits (never -0.0 here: it is whole).
        match self.integral_text() {
            Some(text) => {
                0u8.hash(state);
                text.hash(state);
            }
            None => {
                1u8.hash(state);
                self.to_f64().to_bits().hash(state);
            }
        }
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::Number::from_str(&self.text) {
            Ok(n) => n.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}
