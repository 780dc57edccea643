//! Fuzz target: Python's `repr` of an arbitrary string.
//!
//! Checks that `str_repr` opens and closes with Python's choice of quote, decodes back to
//! the input under Python's escape rules, and is in CPython's canonical form (no
//! non-printable character left literal, no needless or over-long escape, lower-case hex).
//! What could fail: a missed escape, the wrong quote, an escape of a printable character,
//! `\x` used for a code point above 0xff. Whether each printable/non-printable verdict
//! matches Python itself is checked against real `python3` by
//! cli/tests/repr_fuzz_regressions.rs, too slow to do here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marketplace_cli::oracle::repr::check_str_repr;

fuzz_target!(|s: &str| {
    check_str_repr(s);
});
