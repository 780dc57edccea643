//! Products: the three dataclasses of the classic system, printed as Python's dataclass
//! repr and compared as Python's dataclass `==` (same type, every field equal).

use std::fmt::{self, Display, Write as _};

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::Number;
use crate::repr::{str_repr_chars, write_str_repr};

/// A field that may hold a string or a number (Coffee's `acidity`).
///
/// A string never equals a number, as in Python (`"5" != 5`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// A JSON string.
    Str(String),
    /// A JSON number.
    Num(Number),
}

impl Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(s) => write_str_repr(f, s),
            Scalar::Num(n) => n.fmt(f),
        }
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::Str(s) => serializer.serialize_str(s),
            Scalar::Num(n) => n.serialize(serializer),
        }
    }
}

/// A product, one of the three dataclasses of the classic system.
///
/// `Display` is Python's dataclass repr; equality is Python's dataclass `==`: same type and
/// every field equal.
///
/// ```
/// use marketplace_cli::scenario::{Number, Product, Scalar};
/// let tea = Product::Tea {
///     name: "Linden".into(),
///     price: Number::int(9),
///     kind: "Herbal".into(),
/// };
/// assert_eq!(tea.to_string(), "Tea(name='Linden', price=9, type='Herbal')");
/// let coffee = Product::Coffee {
///     name: "Java".into(),
///     price: Number::int(1),
///     acidity: Scalar::Num("5.05".parse().unwrap()),
///     roast_level: "MEDIUM".into(),
/// };
/// assert_eq!(
///     coffee.to_string(),
///     "Coffee(name='Java', price=1, acidity=5.05, roast_level='MEDIUM')"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Product {
    /// `Product(name, price)`.
    Product {
        /// `name`.
        name: String,
        /// `price`.
        price: Number,
    },
    /// `Tea(name, price, type)`.
    Tea {
        /// `name`.
        name: String,
        /// `price`.
        price: Number,
        /// The JSON field `type`.
        kind: String,
    },
    /// `Coffee(name, price, acidity, roast_level)`.
    Coffee {
        /// `name`.
        name: String,
        /// `price`.
        price: Number,
        /// `acidity`: a number or a string.
        acidity: Scalar,
        /// `roast_level`.
        roast_level: String,
    },
}

impl Product {
    /// The `product_type` as written in JSON and printed by the repr.
    pub fn type_name(&self) -> &'static str {
        match self {
            Product::Product { .. } => "Product",
            Product::Tea { .. } => "Tea",
            Product::Coffee { .. } => "Coffee",
        }
    }

    /// The product's `name`.
    pub fn name(&self) -> &str {
        match self {
            Product::Product { name, .. }
            | Product::Tea { name, .. }
            | Product::Coffee { name, .. } => name,
        }
    }
}

impl Product {
    /// How many characters the printed form (`Display`) has, counted without writing the
    /// strings' reprs, which may be megabytes: a message showing the product cut states
    /// this length, and formats only the part it shows.
    pub(crate) fn printed_chars(&self) -> usize {
        let number = |n: &dyn Display| {
            let mut count = CharCount(0);
            // Counting cannot fail.
            let _ = write!(count, "{n}");
            count.0
        };
        let fields = match self {
            Product::Product { price, .. } => ", price=".len() + number(price),
            Product::Tea { price, kind, .. } => {
                ", price=".len() + number(price) + ", type=".len() + str_repr_chars(kind)
            }
            Product::Coffee {
                price,
                acidity,
                roast_level,
                ..
            } => {
                let acidity = match acidity {
                    Scalar::Str(s) => str_repr_chars(s),
                    Scalar::Num(n) => number(n),
                };
                ", price=".len()
                    + number(price)
                    + ", acidity=".len()
                    + acidity
                    + ", roast_level=".len()
                    + str_repr_chars(roast_level)
            }
        };
        self.type_name().len() + "(name=".len() + str_repr_chars(self.name()) + fields + ")".len()
    }
}

/// A writer that only counts the characters written to it.
struct CharCount(usize);

impl fmt::Write for CharCount {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

impl Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())?;
        f.write_str("(name=")?;
        write_str_repr(f, self.name())?;
        match self {
            Product::Product { price, .. } => write!(f, ", price={price}")?,
            Product::Tea { price, kind, .. } => {
                write!(f, ", price={price}, type=")?;
                write_str_repr(f, kind)?;
            }
            Product::Coffee {
                price,
                acidity,
                roast_level,
                ..
            } => {
                write!(f, ", price={price}, acidity={acidity}, roast_level=")?;
                write_str_repr(f, roast_level)?;
            }
        }
        f.write_char(')')
    }
}

impl Serialize for Product {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Product", 5)?;
        s.serialize_field("product_type", self.type_name())?;
        s.serialize_field("name", self.name())?;
        match self {
            Product::Product { price, .. } => s.serialize_field("price", price)?,
            Product::Tea { price, kind, .. } => {
                s.serialize_field("price", price)?;
                s.serialize_field("type", kind)?;
            }
            Product::Coffee {
                price,
                acidity,
                roast_level,
                ..
            } => {
                s.serialize_field("price", price)?;
                s.serialize_field("acidity", acidity)?;
                s.serialize_field("roast_level", roast_level)?;
            }
        }
        s.end()
    }
}
