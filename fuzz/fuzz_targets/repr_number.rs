//! Fuzz target: Python's `repr` of floats, and of integer text.
//!
//! Input layout (plain bytes, so seeds are easy to write by hand): the first 8 bytes are the
//! bits of an f64, little-endian (missing bytes are zero); the rest is text. Checks, for
//! that f64 and for the text when it parses as a float, that `float_repr` reads back to
//! the same bits (so -0.0 stays -0.0), prints NaN and infinities as Python does (`nan`,
//! `inf`, `-inf`) and uses Python's layout (fixed form for decimal exponents in -4..16,
//! else `d.ddde±XX`, no needless zeros); and, for the text and for the rest mapped to
//! digits, that `int_repr` never panics and returns `Some` exactly for JSON integer text,
//! then the text itself with `-0` normalised to `0`. What could fail: a wrong exponent
//! boundary, a lost sign, a dropped or extra digit, a panic on odd integer text. Whether the
//! digits are the ones Python picks is checked against real `python3` by
//! cli/tests/repr_fuzz_regressions.rs, too slow to do here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marketplace_cli::oracle::repr::{check_float_repr, check_int_repr};

fuzz_target!(|data: &[u8]| {
    let (bits, rest) = data.split_at(data.len().min(8));
    let mut le = [0u8; 8];
    le[..bits.len()].copy_from_slice(bits);
    check_float_repr(f64::from_le_bytes(le));
    if let Ok(text) = std::str::from_utf8(rest) {
        check_int_repr(text);
        if let Ok(f) = text.parse::<f64>() {
            check_float_repr(f);
        }
    }
    // The same bytes as digits (a leading `-` kept): valid integers, big ones and leading
    // zeros come up far more often than in arbitrary text.
    let (sign, digits) = match rest.split_first() {
        Some((b'-', digits)) => ("-", digits),
        _ => ("", rest),
    };
    let digits: String = digits.iter().map(|&b| char::from(b'0' + b % 10)).collect();
    check_int_repr(&format!("{sign}{digits}"));
});
