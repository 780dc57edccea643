//! How the command shows text the user wrote (scenario names, paths, argument values) on a
//! terminal: as written, unless it holds a character that would cut, reorder or hide what
//! is shown around it, then with those characters escaped: quoted by [`shown`] (which
//! quotes a text starting with a quote too), or by the caller around [`escaped`].
//!
//! Invariant: [`needs_escape`] is the one set of characters every place that echoes user
//! text escapes: control characters (category Cc: a line break splits an error line, an
//! escape sequence recolours the screen) and format characters (category Cf: a
//! right-to-left override reverses the rest of a line, a zero-width space or joiner is
//! invisible, so a name or path could look like another). The scenario's messages, which
//! quote JSON strings, escape the same set the JSON way.

use std::borrow::Cow;

/// The format characters (General_Category=Cf) of Unicode 15.0, as ranges: Python 3's
/// `unicodedata` (Unicode 14.0) lists them by `unicodedata.category(chr(cp)) == "Cf"` over
/// every code point, and Unicode 15.0 extended the Egyptian hieroglyph format controls
/// from U+13438 to U+1343F. Among them: the bidirectional embeddings, overrides, isolates
/// and marks (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C), the zero-width
/// space, joiners and no-break space (U+200B..U+200D, U+2060, U+FEFF), and the tags.
const FORMAT: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// Whether `c` is shown escaped: a control character or a format character.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || FORMAT.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// `text` with every character [`needs_escape`] names, and `\` with them, written as Rust
/// writes it (`\n`, `\u{202e}`); as is when none needs it. For a place that quotes the text
/// itself, as clap's usage errors do; elsewhere [`shown`] quotes it.
///
/// ```
/// use marketplace_cli::escape::escaped;
/// assert_eq!(escaped(r"a\b"), r"a\b");
/// assert_eq!(escaped("a\tb\u{202e}\\"), r"a\tb\u{202e}\\");
/// ```
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(escaping(text, |c| needs_escape(c) || c == '\\'))
}

/// `text` as the command shows it: as is when no character of it [`needs_escape`] and it
/// does not start with `"`, else in double quotes with those characters, `"` and `\`
/// escaped as [`escaped`] writes them. Only a shown text in quotes starts with one, so a
/// text written to read like another's quoted form cannot be taken for it.
///
/// ```
/// use marketplace_cli::escape::shown;
/// assert_eq!(shown("ana"), "ana");
/// assert_eq!(shown("évé 消費者"), "évé 消費者");
/// assert_eq!(shown("a\nb"), r#""a\nb""#);
/// assert_eq!(shown(r#""a\nb""#), r#""\"a\\nb\"""#);
/// assert_eq!(shown("ev\u{202e}il \"x\\y\""), r#""ev\u{202e}il \"x\\y\"""#);
/// ```
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.starts_with('"') && !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let inner = escaping(text, |c| needs_escape(c) || c == '\\' || c == '"');
    Cow::Owned(format!("\"{inner}\""))
}

/// `text` with the characters `escape` picks written as Rust's `char::escape_default`
/// writes them: `\t`, `\r`, `\n`, `\"`, `\\`, and `\u{...}` for the others.
fn escaping(text: &str, escape: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is sorted, its ranges do not overlap, and each of its characters is one
    /// Rust's own `{:?}` escapes as unprintable, so none is a visible character by mistake.
    #[test]
    fn the_format_table_is_sorted_and_holds_only_unprintable_characters() {
        for pair in FORMAT.windows(2) {
            assert!(pair[0].1 < pair[1].0, "{pair:?}");
        }
        for &(low, high) in FORMAT {
            assert!(low <= high, "{low:?}..{high:?}");
            for c in low..=high {
                assert!(
                    c.escape_debug().next() == Some('\\'),
                    "U+{:04X} is printable",
                    c as u32
                );
            }
        }
    }

    /// No text is shown as another is: one that reads like the quoted, escaped form of
    /// another is quoted and escaped itself.
    #[test]
    fn different_texts_are_shown_differently() {
        for (text, lookalike) in [
            ("ev\u{202e}il", r#""ev\u{202e}il""#),
            ("a\nb", r#""a\nb""#),
            ("\"", r#""\"""#),
        ] {
            assert_ne!(shown(text), shown(lookalike), "{text:?} and {lookalike:?}");
        }
    }

    #[test]
    fn letters_spaces_and_marks_are_shown_as_is() {
        for text in [
            "",
            "p1",
            "Grandma's Chai",
            "e\u{301}te\u{301}",
            "茶農家さん",
            "a b",
        ] {
            assert_eq!(shown(text), text);
        }
    }
}
