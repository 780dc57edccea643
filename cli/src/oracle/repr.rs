//! Invariants of `marketplace_cli::repr` that hold without asking Python: a string's repr
//! decodes back (with Python's escape rules) to the string and is in CPython's canonical
//! form; a float's repr reads back to the same bits and has Python's layout; `int_repr`
//! accepts exactly JSON integers and only normalises `-0`; a string's repr is as long as
//! `str_repr_chars` counts, and writes each escape in one write of its own (what a cut
//! product relies on: `scenario::shown`).
//!
//! Used by the fuzz targets in `fuzz/` and by the regression tests in `cli/tests/`, so a
//! regression test checks exactly what the fuzzer checked. Every check panics with a
//! message on the first violation.

use std::fmt;

use crate::repr::{float_repr, int_repr, is_printable, str_repr, write_float_repr};
use crate::repr::{str_repr_chars, write_str_repr};
use crate::scenario::Number;

/// Decodes a string literal as Python reads it (`'...'` or `"..."`, escapes `\\ \' \" \n \r
/// \t \xNN \uNNNN \UNNNNNNNN`), and also rejects anything CPython's `repr` would not have
/// written: an unneeded escape, upper-case hex, a longer escape than needed, a literal
/// non-printable character, an escaped quote of the other kind.
///
/// # Errors
///
/// What is wrong with `repr`, and where.
pub fn decode_str_repr(repr: &str) -> Result<String, String> {
    let quote = match repr.chars().next() {
        Some(q @ ('\'' | '"')) => q,
        other => return Err(format!("starts with {other:?}, not a quote")),
    };
    let body = repr[1..]
        .strip_suffix(quote)
        .ok_or_else(|| format!("does not end with its opening quote {quote:?}"))?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return Err(format!("unescaped {quote:?} inside, after {out:?}"));
        }
        if c != '\\' {
            if !is_printable(c) {
                return Err(format!("non-printable {c:?} left unescaped, after {out:?}"));
            }
            out.push(c);
            continue;
        }
        let escape = chars.next().ok_or("ends with a lone backslash")?;
        let decoded = match escape {
            '\\' => '\\',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '\'' | '"' if escape == quote => escape,
            'x' => hex_escape(&mut chars, 2, 0..=0xff)?,
            'u' => hex_escape(&mut chars, 4, 0x100..=0xffff)?,
            'U' => hex_escape(&mut chars, 8, 0x1_0000..=0x10_ffff)?,
            other => return Err(format!("escape \\{other} that repr never writes")),
        };
        out.push(decoded);
    }
    Ok(out)
}

/// The `digits` hex digits after `\x`, `\u` or `\U`: lower case, the code point in `range`
/// (the shortest escape that fits it), and a character that is not printable and has no
/// short escape of its own.
fn hex_escape(
    chars: &mut std::str::Chars<'_>,
    digits: usize,
    range: std::ops::RangeInclusive<u32>,
) -> Result<char, String> {
    let hex: String = chars.by_ref().take(digits).collect();
    if hex.len() != digits || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "escape needs {digits} lower-case hex digits, found {hex:?}"
        ));
    }
    let cp = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
    if !range.contains(&cp) {
        return Err(format!("{hex:?} is not the shortest escape of U+{cp:04X}"));
    }
    let c = char::from_u32(cp).ok_or_else(|| format!("escape of a non-character {cp:#x}"))?;
    if is_printable(c) || matches!(c, '\t' | '\n' | '\r') {
        return Err(format!(
            "U+{cp:04X} escaped though repr writes it otherwise"
        ));
    }
    Ok(c)
}

/// `str_repr(s)`: Python's quote choice, canonical, and it decodes back to `s`.
pub fn check_str_repr(s: &str) {
    let repr = str_repr(s);
    let mut written = String::new();
    write_str_repr(&mut written, s).expect("writing into a String cannot fail");
    assert_eq!(
        written, repr,
        "write_str_repr and str_repr differ for {s:?}"
    );
    // Python: single quotes, unless the text has a single quote and no double quote.
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    assert!(
        repr.starts_with(quote),
        "repr of {s:?} should open with {quote:?}: {repr}"
    );
    match decode_str_repr(&repr) {
        Ok(decoded) => assert_eq!(decoded, s, "repr {repr} decodes to something else"),
        Err(why) => panic!("repr of {s:?} is {repr}: {why}"),
    }
    // A product shown cut states its length counted without writing it, and keeps or drops
    // a write holding a backslash whole, taking it for one escape.
    assert_eq!(
        str_repr_chars(s),
        repr.chars().count(),
        "str_repr_chars counts otherwise than repr {repr} of {s:?}"
    );
    let mut writes = Writes(Vec::new());
    write_str_repr(&mut writes, s).expect("recording writes cannot fail");
    for write in writes.0.iter().filter(|write| write.contains('\\')) {
        let decoded = decode_str_repr(&format!("{quote}{write}{quote}"));
        assert!(
            decoded.as_ref().is_ok_and(|d| d.chars().count() == 1),
            "repr of {s:?} writes {write:?}, not one whole escape: {decoded:?}"
        );
    }
}

/// A writer that records each write it is given.
struct Writes(Vec<String>);

impl fmt::Write for Writes {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.push(s.to_owned());
        Ok(())
    }
}

/// `float_repr(f)`: reads back to the same bits, in Python's layout: `nan`, `inf`, `-inf`,
/// or a sign, shortest digits with no needless zeros, and the exponent form exactly when
/// the decimal exponent is below -4 or at least 16 (`e-05`, `e+16`: signed, 2 digits at
/// least). Also what a scenario relies on: the text is a JSON number that a [`Number`]
/// reads back as a float printing the same.
pub fn check_float_repr(f: f64) {
    let repr = float_repr(f);
    let mut written = String::new();
    write_float_repr(&mut written, f).expect("writing into a String cannot fail");
    assert_eq!(
        written, repr,
        "write_float_repr and float_repr differ for {f:e}"
    );
    if f.is_nan() {
        assert_eq!(repr, "nan");
        return;
    }
    if f.is_infinite() {
        assert_eq!(repr, if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    let back: f64 = repr
        .parse()
        .unwrap_or_else(|e| panic!("repr of {f:e} is {repr:?}, which does not parse: {e}"));
    assert_eq!(
        back.to_bits(),
        f.to_bits(),
        "repr of {f:e} is {repr}, which reads back as {back:e}"
    );
    check_float_layout(f, &repr);
    let number: Number = repr
        .parse()
        .unwrap_or_else(|_| panic!("repr {repr} of {f:e} is not a JSON number"));
    assert!(
        !number.is_int(),
        "repr {repr} of a float reads back as an int"
    );
    assert_eq!(
        number.to_string(),
        repr,
        "Number prints repr {repr} differently"
    );
    assert_eq!(Number::float(f).map(|n| n.to_string()), Some(repr));
}

/// The layout part of [`check_float_repr`], for a finite `f` whose repr is `repr`.
fn check_float_layout(f: f64, repr: &str) {
    let unsigned = repr.strip_prefix('-').unwrap_or(repr);
    assert_eq!(
        repr.len() != unsigned.len(),
        f.is_sign_negative(),
        "sign of {repr}"
    );
    let (mantissa, exponent) = match unsigned.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    assert!(all_digits(int_part), "integer part of {repr}");
    assert!(frac_part.is_none_or(all_digits), "fraction of {repr}");
    let significant = format!("{int_part}{}", frac_part.unwrap_or(""));
    let significant = significant.trim_matches('0');
    assert!(
        significant.len() <= 17,
        "{repr} has more digits than any double needs"
    );
    match exponent {
        Some(e) => {
            // `d[.ddd]e±XX`: one leading digit, no trailing zero, a signed exponent.
            assert!(int_part.len() == 1 && int_part != "0", "mantissa of {repr}");
            assert!(
                frac_part.is_none_or(|f| !f.ends_with('0')),
                "trailing zero in {repr}"
            );
            let digits = e.strip_prefix(['+', '-']).expect("exponent has a sign");
            assert!(
                all_digits(digits) && digits.len() >= 2,
                "exponent of {repr}"
            );
            assert!(
                digits.len() == 2 || !digits.starts_with('0'),
                "exponent of {repr}"
            );
            let e: i32 = e.parse().expect("exponent is a number");
            assert!(!(-4..16).contains(&e), "{repr} should be in fixed form");
        }
        None => {
            // `ddd.ddd`: always a point, `.0` only when there is no fraction.
            let frac = frac_part.unwrap_or_else(|| panic!("{repr} has no decimal point"));
            assert!(
                frac == "0" || !frac.ends_with('0'),
                "trailing zero in {repr}"
            );
            assert!(
                int_part == "0" || !int_part.starts_with('0'),
                "leading zero in {repr}"
            );
            if f != 0.0 {
                // The decimal exponent of the first significant digit.
                let e = if int_part == "0" {
                    -1 - (frac.len() - frac.trim_start_matches('0').len()) as i32
                } else {
                    int_part.len() as i32 - 1
                };
                assert!((-4..16).contains(&e), "{repr} should be in exponent form");
            }
        }
    }
}

/// Whether `text` is a JSON integer, `-?(0|[1-9][0-9]*)`, written independently of the
/// module's own check.
pub fn is_json_int(text: &str) -> bool {
    match text.strip_prefix('-').unwrap_or(text).as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `int_repr(text)`: `Some` exactly for JSON integers, the text itself except `-0` -> `0`;
/// and a [`Number`] parsed from such text is an int that prints the same.
pub fn check_int_repr(text: &str) {
    let repr = int_repr(text);
    assert_eq!(
        repr.is_some(),
        is_json_int(text),
        "int_repr({text:?}) = {repr:?}"
    );
    let Some(repr) = repr else { return };
    assert_eq!(
        repr,
        if text == "-0" { "0" } else { text },
        "int_repr({text:?})"
    );
    let number: Number = text
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is a JSON integer but not a Number"));
    assert!(number.is_int(), "{text:?} read as a float");
    assert_eq!(
        number.to_string(),
        repr,
        "Number prints {text:?} differently"
    );
}
