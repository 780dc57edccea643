//! Python `repr` for the values a scenario holds: `str`, `int` and `float`.
//!
//! The classic system prints products with Python's dataclass repr, and conformance is
//! checked byte for byte, so this module reproduces CPython 3.11's rules exactly:
//!
//! - `str`: quote choice, the fixed escapes, and `\xNN` / `\uNNNN` / `\UNNNNNNNN` for every
//!   code point `str.isprintable` rejects (the table in `repr/nonprintable.rs` is generated from
//!   Python itself, so no Unicode category logic lives here);
//! - `float`: the shortest digits that round-trip, laid out the way `float.__repr__` does
//!   (exponent form when the decimal exponent is below -4 or at least 16);
//! - `int`: decimal digits as written, any size.
//!
//! Everything here is a pure function of its input; nothing panics.

use std::fmt::{self, Write};

mod nonprintable;

/// Whether Python's `str.isprintable` accepts the character.
///
/// ```
/// use marketplace_cli::repr::is_printable;
/// assert!(is_printable('é'));
/// assert!(is_printable(' '));
/// assert!(!is_printable('\u{a0}')); // no-break space is a separator, category Zs
/// ```
pub fn is_printable(c: char) -> bool {
    let cp = u32::from(c);
    // The table is sorted and disjoint: find the last range starting at or before `cp`.
    let i = nonprintable::NONPRINTABLE.partition_point(|&(first, _)| first <= cp);
    i == 0 || nonprintable::NONPRINTABLE[i - 1].1 < cp
}

/// Writes `s` as Python's `repr(s)` writes it.
///
/// Single quotes unless the string contains `'` and no `"`; backslash and the chosen
/// quote are escaped, as are `\t`, `\n`, `\r`; other non-printable characters become
/// `\xNN`, `\uNNNN` or `\UNNNNNNNN` (lowercase hex, as CPython does).
///
/// # Errors
///
/// Only the errors of `out` itself.
pub fn write_str_repr<W: Write + ?Sized>(out: &mut W, s: &str) -> fmt::Result {
    let quote = repr_quote(s);
    out.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\t' => out.write_str("\\t")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\'' if quote == '\'' => out.write_str("\\'")?,
            '"' if quote == '"' => out.write_str("\\\"")?,
            c if is_printable(c) => out.write_char(c)?,
            c => write_code_escape(out, c)?,
        }
    }
    out.write_char(quote)
}

/// The quote Python's `repr` puts around `s`: single, unless `s` holds `'` and no `"`.
fn repr_quote(s: &str) -> char {
    if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    }
}

/// Writes the `\xNN`, `\uNNNN` or `\UNNNNNNNN` escape of `c` in one `write_str`: every
/// escape is one write, so a writer that keeps only the start of a text can keep or drop
/// an escape whole (`shown::abbreviated_product`).
fn write_code_escape<W: Write + ?Sized>(out: &mut W, c: char) -> fmt::Result {
    let cp = u32::from(c);
    let (letter, digits) = match cp {
        0..=0xff => (b'x', 2),
        0x100..=0xffff => (b'u', 4),
        _ => (b'U', 8),
    };
    let mut escape = [0u8; 10];
    escape[0] = b'\\';
    escape[1] = letter;
    for (i, byte) in escape[2..2 + digits].iter_mut().enumerate() {
        let nibble = (cp >> (4 * (digits - 1 - i))) & 0xf;
        *byte = b"0123456789abcdef"[nibble as usize];
    }
    out.write_str(std::str::from_utf8(&escape[..2 + digits]).map_err(|_| fmt::Error)?)
}

/// How many characters [`write_str_repr`] writes for `s`, counted without writing them.
pub(crate) fn str_repr_chars(s: &str) -> usize {
    let quote = repr_quote(s);
    let escaped: usize = s
        .chars()
        .map(|c| match c {
            '\\' | '\t' | '\n' | '\r' => 2,
            c if c == quote => 2,
            ' '..='~' => 1,
            c if is_printable(c) => 1,
            c => match u32::from(c) {
                0..=0xff => 4,
                0x100..=0xffff => 6,
                _ => 10,
            },
        })
        .sum();
    escaped + 2
}

/// Python's `repr` of a string.
///
/// ```
/// use marketplace_cli::repr::str_repr;
/// assert_eq!(str_repr("Linden"), "'Linden'");
/// assert_eq!(str_repr("it's"), "\"it's\"");
/// assert_eq!(str_repr("tab\there"), "'tab\\there'");
/// ```
pub fn str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing into a String cannot fail.
    let _ = write_str_repr(&mut out, s);
    out
}

/// Writes `f` as Python's `repr(f)` writes it.
///
/// # Errors
///
/// Only the errors of `out` itself.
pub fn write_float_repr<W: Write + ?Sized>(out: &mut W, f: f64) -> fmt::Result {
    if f.is_nan() {
        return out.write_str("nan");
    }
    if f.is_infinite() {
        return out.write_str(if f < 0.0 { "-inf" } else { "inf" });
    }
    // Python's digits in Rust's `-d.ddde-7` form; only the layout differs from here on.
    let sci = shortest_sci(f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if negative {
        out.write_char('-')?;
    }
    if !(-4..16).contains(&exp) {
        // Exponent form: `1e-05`, `1.5e+16`; the exponent has a sign and at least 2 digits.
        let (first, rest) = digits.split_at(1);
        out.write_str(first)?;
        if !rest.is_empty() {
            out.write_char('.')?;
            out.write_str(rest)?;
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return write!(out, "e{sign}{:02}", exp.unsigned_abs());
    }
    // Fixed form; `point` is how many digits stand before the decimal point.
    let point = exp + 1;
    if point <= 0 {
        out.write_str("0.")?;
        for _ in 0..-point {
            out.write_char('0')?;
        }
        out.write_str(&digits)
    } else {
        let point = point.unsigned_abs() as usize;
        if point >= digits.len() {
            out.write_str(&digits)?;
            for _ in digits.len()..point {
                out.write_char('0')?;
            }
            out.write_str(".0")
        } else {
            let (int_part, frac_part) = digits.split_at(point);
            out.write_str(int_part)?;
            out.write_char('.')?;
            out.write_str(frac_part)
        }
    }
}

/// A finite `f` in Rust's `{:e}` form (`-d.ddde-7`), with the digits Python's repr picks:
/// the fewest that read back as `f` and, among those, the closest to `f`, ties to even.
fn shortest_sci(f: f64) -> String {
    // Rust's `{:e}` gives the fewest digits that read back as `f`, but when two such digit
    // strings are equally close to `f` it can pick the odd one where Python picks the even
    // one: 1394865425023536.25 prints as ...536.3, Python's repr is ...536.2.
    let shortest = format!("{f:e}");
    let mantissa = shortest
        .split_once('e')
        .map_or(shortest.as_str(), |(m, _)| m);
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    // As many digits, rounded from the exact value with ties to even: the closest
    // candidate, hence Python's choice whenever it reads back as `f`. (Near a power of two
    // the closest one may fall outside `f`'s rounding interval; the shortest is right then.)
    let rounded = format!("{f:.prec$e}", prec = digits.saturating_sub(1));
    if rounded
        .parse::<f64>()
        .is_ok_and(|r| r.to_bits() == f.to_bits())
    {
        rounded
    } else {
        shortest
    }
}

/// Python's `repr` of a float.
///
/// ```
/// use marketplace_cli::repr::float_repr;
/// assert_eq!(float_repr(5.0), "5.0");
/// assert_eq!(float_repr(1e-5), "1e-05");
/// assert_eq!(float_repr(1e16), "1e+16");
/// assert_eq!(float_repr(-0.0), "-0.0");
/// ```
pub fn float_repr(f: f64) -> String {
    let mut out = String::new();
    let _ = write_float_repr(&mut out, f);
    out
}

/// Python's `repr` of an integer given as JSON integer text (`-?(0|[1-9][0-9]*)`).
///
/// Digits are kept as written, so any size works; the only normalisation Python applies to
/// such text is that `-0` is `0`. Returns `None` when `text` is not a JSON integer.
///
/// ```
/// use marketplace_cli::repr::int_repr;
/// assert_eq!(int_repr("123456789012345678901234567890").as_deref(), Some("123456789012345678901234567890"));
/// assert_eq!(int_repr("-0").as_deref(), Some("0"));
/// assert_eq!(int_repr("1.5"), None);
/// ```
pub fn int_repr(text: &str) -> Option<String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let valid = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !valid {
        return None;
    }
    Some(if digits == "0" { digits } else { text }.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (value, Python repr), produced with Python 3.11.7:
    /// `repr(json.loads(json.dumps(value)))`.
    const STRINGS: &[(&str, &str)] = &[
        ("", "''"),
        ("plain", "'plain'"),
        ("it's", "\"it's\""),
        ("say \"hi\"", "'say \"hi\"'"),
        ("both ' and \"", "'both \\' and \"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("tab\u{9}here", "'tab\\there'"),
        ("nl\u{a}x", "'nl\\nx'"),
        ("cr\u{d}x", "'cr\\rx'"),
        ("\u{0}\u{1f}\u{7f}", "'\\x00\\x1f\\x7f'"),
        ("caf\u{e9}", "'caf\u{e9}'"),
        ("\u{2615} coffee", "'\u{2615} coffee'"),
        ("nbsp\u{a0}x", "'nbsp\\xa0x'"),
        ("soft\u{ad}hyphen", "'soft\\xadhyphen'"),
        ("zwsp\u{200b}x", "'zwsp\\u200bx'"),
        ("line\u{2028}sep", "'line\\u2028sep'"),
        ("bom\u{feff}", "'bom\\ufeff'"),
        ("private\u{e000}", "'private\\ue000'"),
        ("astral \u{1f375}", "'astral \u{1f375}'"),
        ("unassigned \u{e0080}", "'unassigned \\U000e0080'"),
        ("tag\u{e0001}", "'tag\\U000e0001'"),
        ("ideo\u{3000}space", "'ideo\\u3000space'"),
        ("\u{378}", "'\\u0378'"),
        ("mix '\"\\\u{a}", "'mix \\'\"\\\\\\n'"),
        ("only'", "\"only'\""),
        ("\"", "'\"'"),
        ("'", "\"'\""),
        ("\u{80}\u{9f}\u{ff}", "'\\x80\\x9f\u{ff}'"),
        ("emoji\u{200d}\u{1f469}", "'emoji\\u200d\u{1f469}'"),
        ("\u{10ffff}", "'\\U0010ffff'"),
        ("\u{1d7ce}", "'\u{1d7ce}'"),
        ("tab\u{b}vt", "'tab\\x0bvt'"),
        ("\u{e9}\u{301} combining", "'\u{e9}\u{301} combining'"),
        ("\u{600}arabic", "'\\u0600arabic'"),
        ("x\u{1b}y", "'x\\x1by'"),
    ];

    /// (JSON float text, Python repr), produced with Python 3.11.7: `repr(json.loads(text))`.
    const FLOATS: &[(&str, &str)] = &[
        ("9.0", "9.0"),
        ("1E2", "100.0"),
        ("1e2", "100.0"),
        ("0.1", "0.1"),
        ("5.05", "5.05"),
        ("-0.0", "-0.0"),
        ("1e-5", "1e-05"),
        ("0.0001", "0.0001"),
        ("0.00001", "1e-05"),
        ("1e16", "1e+16"),
        ("1e15", "1000000000000000.0"),
        ("123456789012345678.0", "1.2345678901234568e+17"),
        ("1.2345678901234568e+17", "1.2345678901234568e+17"),
        ("9007199254740993.0", "9007199254740992.0"),
        ("1e22", "1e+22"),
        ("1e23", "1e+23"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("1e400", "inf"),
        ("-1e400", "-inf"),
        ("3.14159", "3.14159"),
        ("100.5e-2", "1.005"),
        ("2.5E+3", "2500.0"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("1234567890123456.7", "1234567890123456.8"),
        ("12345678901234567.0", "1.2345678901234568e+16"),
        ("0.000123", "0.000123"),
        ("-1.5e-7", "-1.5e-07"),
        ("1e-7", "1e-07"),
        ("99999999999999999999.0", "1e+20"),
        // Exactly halfway between two shortest candidates: Python rounds to the even one.
        ("1394865425023536.25", "1394865425023536.2"),
    ];

    /// (JSON integer text, Python repr), produced with Python 3.11.7: `repr(json.loads(text))`.
    const INTS: &[(&str, &str)] = &[
        ("0", "0"),
        ("-0", "0"),
        ("9", "9"),
        ("-42", "-42"),
        ("123456789012345678", "123456789012345678"),
        ("9007199254740993", "9007199254740993"),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        ),
    ];

    #[test]
    fn strings_match_python() {
        for &(value, expected) in STRINGS {
            assert_eq!(str_repr(value), expected, "repr of {value:?}");
        }
    }

    #[test]
    fn floats_match_python() {
        for &(text, expected) in FLOATS {
            let f: f64 = text.parse().expect("test data is a valid float");
            assert_eq!(float_repr(f), expected, "repr of {text}");
        }
    }

    #[test]
    fn ints_match_python() {
        for &(text, expected) in INTS {
            assert_eq!(int_repr(text).as_deref(), Some(expected), "repr of {text}");
        }
        for bad in ["", "-", "01", "1.0", "1e3", "+1", "--1"] {
            assert_eq!(int_repr(bad), None, "{bad:?} is not a JSON integer");
        }
    }

    #[test]
    fn printable_table_edges() {
        assert!(!is_printable('\0'));
        assert!(is_printable(' '));
        assert!(is_printable('~'));
        assert!(!is_printable('\u{7f}'));
        assert!(!is_printable('\u{10ffff}'));
        assert!(is_printable('\u{a1}'));
    }
}
