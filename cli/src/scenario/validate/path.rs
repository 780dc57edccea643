//! Places in the file, e.g. `consumers[3].carts[1][0].product`: built on the stack as the
//! walk descends, and spelled out only when a finding is reported there, so a valid file
//! costs no text for them.

use std::fmt;

use super::json::quoted;

/// Where a value sits in the scenario file.
#[derive(Clone, Copy, Debug)]
pub(super) enum Path<'a> {
    /// The whole file (spelled as nothing).
    Root,
    /// Field `key` of the object at the parent (`key` alone at the root).
    Key(&'a Path<'a>, &'a str),
    /// Element `index` of the array at the parent.
    Index(&'a Path<'a>, usize),
    /// The product with this id: `products.id1`, or `products["odd id"]` when the id is not
    /// a plain word.
    Product(&'a str),
}

impl<'a> Path<'a> {
    /// Field `key` of the object here.
    pub(super) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    /// Element `index` of the array here.
    pub(super) fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Path::Product(id) => {
                let plain = id
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    write!(f, "products.{id}")
                } else {
                    write!(f, "products[{}]", quoted(id))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Path;

    #[test]
    fn paths_spell_as_before() {
        let root = Path::Root;
        let consumers = root.key("consumers");
        let consumer = consumers.index(3);
        let carts = consumer.key("carts");
        let cart = carts.index(1);
        let op = cart.index(0);
        assert_eq!(
            op.key("product").to_string(),
            "consumers[3].carts[1][0].product"
        );
        assert_eq!(root.to_string(), "");
        assert_eq!(root.key("marketplace").to_string(), "marketplace");
        assert_eq!(
            Path::Product("id1").key("price").to_string(),
            "products.id1.price"
        );
        assert_eq!(Path::Product("x y").to_string(), "products[\"x y\"]");
    }
}
