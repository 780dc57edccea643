//! How a message shows a text that may be long (a value found in the file, a product in
//! its printed form): whole up to a number of characters, past it cut there with its
//! length. The file holds a long name once, but every message naming it would hold it
//! again; the validator's messages and the stall report cut it the same way.

use std::fmt;

/// The most characters of a product or a name a message shows: more than a value's, since
/// every product that is not named at length prints longer than a value is shown.
const SHOWN_PRODUCT_CHARS: usize = 1000;

/// `product` in its printed form, cut after [`SHOWN_PRODUCT_CHARS`] characters with its
/// length (`Product(name='xxx... (1000025 characters)`).
pub(crate) fn abbreviated_product(product: impl fmt::Display) -> String {
    cut(&product.to_string(), SHOWN_PRODUCT_CHARS, str::to_owned)
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
