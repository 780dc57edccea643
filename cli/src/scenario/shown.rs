//! How a message shows a text that may be long (a value found in the file, a product in
//! its printed form): whole up to a number of characters, past it cut there with its
//! length. The file holds a long name once, but every message naming it would hold it
//! again; the validator's messages and the stall report cut it the same way.
//!
//! Invariants: showing a product formats only the characters shown (its length is counted,
//! not printed), so its cost is the cut's, plus one count of its size per product with
//! [`ShownProducts`]; a cut never splits an escape of the printed form.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use super::Product;

/// The most characters of a product or a name a message shows: more than a value's, since
/// every product that is not named at length prints longer than a value is shown.
const SHOWN_PRODUCT_CHARS: usize = 1000;

/// `product` in its printed form, cut after [`SHOWN_PRODUCT_CHARS`] characters with its
/// length (`Product(name='xxx... (1000025 characters)`). Only the part shown is formatted:
/// a product of a megabyte named in a thousand messages costs a thousand cuts.
fn abbreviated_product(product: &Product) -> String {
    abbreviated_printed(product, product.printed_chars())
}

/// Each product's [`abbreviated_product`] form, made once however many messages name it:
/// even counting a long product's length costs its size, which a thousand warnings about
/// one product would pay a thousand times.
#[derive(Default)]
pub(crate) struct ShownProducts(HashMap<usize, String>);

impl ShownProducts {
    /// The shown form of `product`, the product at `index` of the file.
    pub(crate) fn of(&mut self, index: usize, product: &Product) -> &str {
        self.0
            .entry(index)
            .or_insert_with(|| abbreviated_product(product))
    }
}

/// `value`, which prints `printed_chars` characters, whole up to [`SHOWN_PRODUCT_CHARS`],
/// else its first characters, formatted only that far, and its length.
fn abbreviated_printed(value: &dyn fmt::Display, printed_chars: usize) -> String {
    if printed_chars <= SHOWN_PRODUCT_CHARS {
        return value.to_string();
    }
    let mut head = Head {
        text: String::new(),
        room: SHOWN_PRODUCT_CHARS,
    };
    // Head ends the formatting with an error once full: the rest is not shown.
    let _ = write!(head, "{value}");
    format!("{}... ({printed_chars} characters)", head.text)
}

/// The start of a printed form, up to `room` more characters; a write that does not fit
/// ends the formatting. A write holding a backslash is an escape (the repr writes each in one
/// write), kept whole or not at all, so a cut never shows half of one.
struct Head {
    text: String,
    room: usize,
}

impl fmt::Write for Head {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let chars = s.chars().count();
        if chars <= self.room {
            self.text.push_str(s);
            self.room -= chars;
            return Ok(());
        }
        if !s.contains('\\') {
            self.text.extend(s.chars().take(self.room));
        }
        self.room = 0;
        Err(fmt::Error)
    }
}

/// `name`, cut after [`SHOWN_PRODUCT_CHARS`] characters with its length (`jjj... (1000000
/// characters)`), for a message that names it once for each of many others.
pub(crate) fn abbreviated_name(name: &str) -> String {
    cut(name, SHOWN_PRODUCT_CHARS, str::to_owned)
}

/// `show(text)`, or `show` of its first `most` characters and its length in characters.
pub(crate) fn cut(text: &str, most: usize, show: impl Fn(&str) -> String) -> String {
    let count = text.chars().count();
    if count <= most {
        return show(text);
    }
    let head: String = text.chars().take(most).collect();
    format!("{}... ({count} characters)", show(&head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Number, Product, Scalar};
    use std::cell::Cell;

    /// A value that prints `len` characters one write at a time, counting the writes it
    /// was asked for.
    struct Counted {
        len: usize,
        writes: Cell<usize>,
    }

    impl fmt::Display for Counted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for _ in 0..self.len {
                self.writes.set(self.writes.get() + 1);
                f.write_char('x')?;
            }
            Ok(())
        }
    }

    /// Showing a value of a million characters formats only the characters shown: a
    /// thousand messages naming it cost a thousand cuts, not a thousand megabytes.
    #[test]
    fn a_long_value_is_formatted_only_as_far_as_it_is_shown() {
        let value = Counted {
            len: 1_000_000,
            writes: Cell::new(0),
        };
        let shown = abbreviated_printed(&value, value.len);
        assert_eq!(
            shown,
            format!("{}... (1000000 characters)", "x".repeat(1000))
        );
        assert!(
            value.writes.get() <= SHOWN_PRODUCT_CHARS + 1,
            "{} writes for {SHOWN_PRODUCT_CHARS} characters shown",
            value.writes.get()
        );
    }

    /// A product named again is shown as it was cut the first time, by its index in the
    /// file, neither formatted nor counted again.
    #[test]
    fn each_product_is_cut_once_however_many_messages_name_it() {
        let long = Product::Product {
            name: "x".repeat(2000),
            price: Number::int(1),
        };
        let short = Product::Product {
            name: "y".into(),
            price: Number::int(2),
        };
        let mut shown = ShownProducts::default();
        let first = shown.of(3, &long).to_owned();
        assert!(first.ends_with("... (2025 characters)"), "{first}");
        assert_eq!(shown.of(3, &short), first);
        assert_eq!(shown.of(4, &short), "Product(name='y', price=2)");
    }

    /// The length stated is the printed form's, counted without printing it, for each
    /// type of product and each kind of character and number.
    #[test]
    fn the_printed_length_is_counted_as_printed() {
        let texts = [
            "",
            "Mint",
            "it's",
            "say \"hi\"",
            "'\"",
            "a\\b\t\n\r",
            "\u{0}\u{7f}\u{a0}\u{2028}\u{e0001}",
            "茶é\u{301}",
        ];
        let numbers = ["0", "-0", "1.5", "1e300", "5e-324", &"9".repeat(5000)];
        for text in texts {
            for number in numbers {
                let price: Number = number.parse().unwrap();
                for product in [
                    Product::Product {
                        name: text.into(),
                        price: price.clone(),
                    },
                    Product::Tea {
                        name: text.into(),
                        price: price.clone(),
                        kind: text.into(),
                    },
                    Product::Coffee {
                        name: text.into(),
                        price: price.clone(),
                        acidity: Scalar::Str(text.into()),
                        roast_level: text.into(),
                    },
                    Product::Coffee {
                        name: text.into(),
                        price: price.clone(),
                        acidity: Scalar::Num(price.clone()),
                        roast_level: text.into(),
                    },
                ] {
                    assert_eq!(
                        product.printed_chars(),
                        product.to_string().chars().count(),
                        "{product}"
                    );
                }
            }
        }
    }

    /// A cut falls between two escapes of the printed form, never inside one, and the
    /// length counted is the printed form's.
    #[test]
    fn a_cut_never_splits_an_escape() {
        for (name, escape) in [
            ("\n".repeat(2000), r"\n"),
            ("\u{80}".repeat(2000), r"\x80"),
            ("\u{2028}".repeat(2000), r"\u2028"),
            ("\u{e0001}".repeat(2000), r"\U000e0001"),
            ("'".repeat(2000) + "\"", r"\'"),
        ] {
            let product = Product::Product {
                name: name.clone(),
                price: Number::int(1),
            };
            let printed = product.to_string();
            let shown = abbreviated_product(&product);
            let suffix = format!("... ({} characters)", printed.chars().count());
            let head = shown
                .strip_suffix(&suffix)
                .unwrap_or_else(|| panic!("{shown}"));
            assert!(head.chars().count() <= SHOWN_PRODUCT_CHARS, "{head}");
            let body = head.strip_prefix("Product(name=").unwrap();
            let body = body.strip_prefix(['\'', '"']).unwrap();
            assert!(
                !body.is_empty() && body.split(escape).all(str::is_empty),
                "{escape} cut: ...{}",
                &body[body.len().saturating_sub(20)..]
            );
        }
    }
}
