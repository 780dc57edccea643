//! `marketplace_cli::repr` on the inputs fuzzing cares about: tricky strings, floats and
//! integer texts picked by hand, whatever the fuzz targets found, every code point, and a
//! fixed pseudo-random sample of float bit patterns and digit strings.
//!
//! Each input goes through the invariants the fuzz targets check (the very same code:
//! `marketplace_cli::oracle::repr`), and then through real Python: one `python3`
//! process reads all inputs as JSON on stdin and prints `repr` of each, which must equal
//! ours byte for byte. The Python part skips with a notice when `python3` is not installed;
//! its string part also skips when Python's Unicode database is not the one the
//! non-printable table was generated from (a newer Python is then not a bug here).

mod support;

use marketplace_cli::repr::{float_repr, int_repr, str_repr};
use serde_json::json;
use support::{python3, python3_available};

use marketplace_cli::oracle::repr::{
    check_float_repr, check_int_repr, check_str_repr, is_json_int,
};

/// The Unicode version `src/repr/nonprintable.rs` was generated from.
const TABLE_UNICODE_VERSION: &str = "14.0.0";

/// Strings where a repr goes wrong most easily: quote choice, the fixed escapes, each
/// escape width and its boundaries, separators, format characters, unassigned and private
/// code points, combining marks.
const TRICKY_STRINGS: &[&str] = &[
    "",
    "plain",
    "'",
    "\"",
    "''",
    "it's",
    "say \"hi\"",
    "both ' and \"",
    "\\",
    "\\'",
    "\\\"",
    "ends with backslash\\",
    "\t\n\r",
    "\u{0}",
    "\u{8}\u{b}\u{c}",
    "\u{1f}\u{20}\u{7e}\u{7f}",
    "\u{80}\u{9f}\u{a0}\u{a1}",
    "\u{ad}",
    "\u{ff}\u{100}",
    "\u{378}",
    "\u{600}",
    "\u{85}",
    "\u{1680}",
    "\u{180e}",
    "\u{2000}\u{200a}\u{200b}\u{200f}",
    "\u{2028}\u{2029}",
    "\u{202f}\u{205f}\u{3000}",
    "\u{d7ff}\u{e000}\u{f8ff}",
    "\u{fdd0}\u{fffd}\u{fffe}\u{ffff}",
    "\u{feff}",
    "\u{10000}",
    "\u{1f375}\u{200d}\u{1f469}",
    "\u{1d7ce}",
    "\u{e0001}\u{e0080}",
    "\u{f0000}\u{10ffff}",
    "e\u{301}",
    "\u{1b}[31mred\u{1b}[0m",
    "mix '\"\\\n",
];

/// Floats at the edges of the layout rules and of `f64` itself. The exponent boundaries
/// come with their neighbours in [`float_inputs`].
// The last literals are exact binary values, digit for digit: that is their point.
#[allow(clippy::excessive_precision)]
const TRICKY_FLOATS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.1,
    0.2,
    0.30000000000000004,
    5.05,
    1e-4,
    1e-5,
    9.999999999999999e-5,
    1e15,
    1e16,
    9999999999999998.0,
    1234567890123456.8,
    123456789012345678.0,
    9007199254740993.0,
    1e22,
    1e23,
    2e-323,
    5e-324,
    2.2250738585072014e-308,
    2.225073858507201e-308,
    1.7976931348623157e308,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    f64::EPSILON,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    // Found by this test's Python cross-check: exactly halfway between the two shortest
    // digit strings that read back, where Python picks the even last digit and Rust's
    // `{:e}` the odd one (float_repr printed 1394865425023536.3).
    1394865425023536.25,
    713152880742161.25,
    932698260045378.25,
    74653715643984.625,
    3942715892384.03125,
];

/// Integer texts, valid and not: `-0`, leading zeros, signs, huge values.
const TRICKY_INTS: &[&str] = &[
    "0",
    "-0",
    "00",
    "-00",
    "01",
    "-01",
    "+1",
    "-",
    "",
    " 1",
    "1 ",
    "1.0",
    "1e3",
    "--1",
    "9",
    "-9",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "\u{661}",
    "１",
];

/// A small deterministic generator (xorshift64*), so the sample is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every code point, a run of 256 at a time (surrogates are not `char`s), then the tricky
/// strings.
fn string_inputs() -> Vec<String> {
    let mut strings: Vec<String> = TRICKY_STRINGS.iter().map(|&s| s.to_owned()).collect();
    for start in (0..=0x10_ffffu32).step_by(256) {
        let run: String = (start..start + 256).filter_map(char::from_u32).collect();
        if !run.is_empty() {
            strings.push(run);
        }
    }
    strings
}

/// The tricky floats, each power of ten from 1e-330 to 1e310 with its neighbours on
/// both sides (the layout switches at 1e-4 and 1e16), random bit patterns, random
/// integers scaled by small powers of two (short binary fractions: where ties between two
/// shortest digit strings happen), and random short decimals (what scenario files hold).
fn float_inputs() -> Vec<f64> {
    let mut floats = TRICKY_FLOATS.to_vec();
    for exp in -330..=310 {
        let f: f64 = format!("1e{exp}").parse().expect("a float literal");
        for x in [f, -f] {
            floats.push(x);
            floats.push(f64::from_bits(x.to_bits().wrapping_add(1)));
            floats.push(f64::from_bits(x.to_bits().wrapping_sub(1)));
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        floats.push(f64::from_bits(rng.next()));
    }
    for _ in 0..10_000 {
        let mantissa = (rng.next() >> 11) as f64;
        floats.push(mantissa * 2f64.powi(rng.below(64) as i32 - 10));
    }
    for _ in 0..5_000 {
        let text = format!("{}e{}", rng.below(1_000_000), rng.below(50) as i64 - 25);
        floats.push(text.parse().expect("a float literal"));
    }
    floats
}

/// The tricky integer texts and random ones: digit strings with an optional sign, some
/// with a leading zero, some long.
fn int_inputs() -> Vec<String> {
    let mut ints: Vec<String> = TRICKY_INTS.iter().map(|&s| s.to_owned()).collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..2_000 {
        let max_len = if rng.below(10) == 0 { 400 } else { 25 };
        let len = 1 + rng.below(max_len);
        let sign = if rng.below(3) == 0 { "-" } else { "" };
        let digits: String = (0..len)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect();
        ints.push(format!("{sign}{digits}"));
    }
    ints
}

#[test]
fn str_repr_invariants() {
    for s in string_inputs() {
        check_str_repr(&s);
    }
}

#[test]
fn float_repr_invariants() {
    for f in float_inputs() {
        check_float_repr(f);
    }
}

#[test]
fn int_repr_invariants() {
    for text in int_inputs() {
        check_int_repr(&text);
    }
}

/// Prints Python's Unicode version, then `repr` of each string, each float (sent as the
/// hex of its bits, so NaN and -0.0 survive) and each integer text (loaded as `json` does;
/// the digit limit Python 3.11 puts on int conversion is lifted, as json's own limit is not
/// what this test is about), one per line.
const PYTHON: &str = r#"
import json, struct, sys, unicodedata
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)
d = json.load(sys.stdin)
out = [unicodedata.unidata_version]
out += [repr(s) for s in d["strings"]]
out += [repr(struct.unpack(">d", bytes.fromhex(h))[0]) for h in d["floats"]]
out += [repr(json.loads(t)) for t in d["ints"]]
sys.stdout.buffer.write("".join(line + "\n" for line in out).encode("utf-8"))
"#;

#[test]
fn repr_matches_python() {
    if !python3_available() {
        return;
    }
    let strings = string_inputs();
    let floats = float_inputs();
    let ints: Vec<String> = int_inputs()
        .into_iter()
        .filter(|t| is_json_int(t))
        .collect();
    let hex: Vec<String> = floats
        .iter()
        .map(|f| format!("{:016x}", f.to_bits()))
        .collect();
    let input = json!({"strings": strings, "floats": hex, "ints": ints}).to_string();
    let output = python3(PYTHON, input.as_bytes());
    assert!(output.status.success(), "python3 failed");
    let stdout = String::from_utf8(output.stdout).expect("python3 prints UTF-8");
    let mut lines = stdout.split('\n');
    let unicode_version = lines.next().expect("Python's Unicode version");

    if unicode_version == TABLE_UNICODE_VERSION {
        for s in &strings {
            let python = lines.next().expect("one line per string");
            assert_eq!(str_repr(s), python, "repr of {s:?}");
        }
        println!("python agrees on {} strings", strings.len());
    } else {
        println!(
            "skipped strings: python3 has Unicode {unicode_version}, the table {TABLE_UNICODE_VERSION}"
        );
        lines.by_ref().take(strings.len()).for_each(drop);
    }
    for f in &floats {
        let python = lines.next().expect("one line per float");
        assert_eq!(
            float_repr(*f),
            python,
            "repr of the float with bits {:#x}",
            f.to_bits()
        );
    }
    println!("python agrees on {} floats", floats.len());
    for text in &ints {
        let python = lines.next().expect("one line per integer");
        assert_eq!(int_repr(text).as_deref(), Some(python), "repr of {text}");
    }
    println!("python agrees on {} integers", ints.len());
    assert_eq!(
        lines.next(),
        Some(""),
        "python printed exactly one line per input"
    );
    assert_eq!(
        lines.next(),
        None,
        "python printed exactly one line per input"
    );
}
