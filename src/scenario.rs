//! The scenario format: products, producers, consumers and the marketplace capacity.
//!
//! This module owns parsing and validating a scenario (see `docs/scenario-format.md` in the
//! shared docs) and the value semantics of products:
//!
//! - [`Product`] prints as Python's dataclass repr and compares the way Python's `==` does
//!   (same type, all fields equal, `9 == 9.0`, `"5" != 5`); [`Number`] keeps the JSON kind
//!   (int or float) and the text as written.
//! - [`Scenario::from_json`] is the only way to build a [`Scenario`], and it reports every
//!   problem at once, each with its place (`consumers[3].carts[1][0].product: ...`).
//!
//! Invariants of a [`Scenario`] (what the runner relies on): every product index in a
//! producer entry or cart op is in bounds; quantities are at least 1; times are finite and
//! non-negative; `queue_size_per_producer` is in `1..=MAX_QUEUE_SIZE`; no cart removes more of
//! a product (equality class) than it holds at that point; every product a consumer adds is
//! made by some producer.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Display, Write as _};
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::{Map, Value, json};

use crate::repr::{int_repr, write_float_repr, write_str_repr};

/// The largest `queue_size_per_producer` accepted: the engine allocates that many slots for
/// every producer up front, so an absurd value would exhaust memory instead of failing.
pub const MAX_QUEUE_SIZE: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------

/// A JSON number that remembers whether it was an integer or a float, as Python's `json`
/// module does, and the text it was written with.
///
/// It prints as Python's `repr` of the value Python would load; it compares by mathematical
/// value across kinds, exactly (`9 == 9.0`, `0.0 == -0.0`, big integers are never rounded).
///
/// ```
/// use marketplace::scenario::Number;
/// let nine: Number = "9".parse().unwrap();
/// let nine_f: Number = "9.0".parse().unwrap();
/// assert_eq!(nine.to_string(), "9");
/// assert_eq!(nine_f.to_string(), "9.0");
/// assert_eq!(nine, nine_f);
/// assert_eq!("1E2".parse::<Number>().unwrap().to_string(), "100.0");
/// ```
#[derive(Clone, Debug)]
pub struct Number {
    /// The JSON text as written; always a valid JSON number.
    text: String,
    value: NumberValue,
}

#[derive(Clone, Debug)]
enum NumberValue {
    /// Python's repr of the integer: the digits as written, `-0` normalised to `0`.
    Int(String),
    /// The value Python's `float()` gives; may be infinite (`1e400`), never NaN.
    Float(f64),
}

/// The text was not a JSON number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNumberError;

impl Display for ParseNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a JSON number")
    }
}

impl std::error::Error for ParseNumberError {}

/// Whether `text` matches JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

impl FromStr for Number {
    type Err = ParseNumberError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !is_json_number(text) {
            return Err(ParseNumberError);
        }
        // Python's json loads a number as a float exactly when it has a fraction or exponent.
        let value = if text.contains(['.', 'e', 'E']) {
            NumberValue::Float(text.parse().map_err(|_| ParseNumberError)?)
        } else {
            NumberValue::Int(int_repr(text).ok_or(ParseNumberError)?)
        };
        Ok(Number {
            text: text.to_owned(),
            value,
        })
    }
}

impl Number {
    /// An integer.
    ///
    /// ```
    /// assert_eq!(marketplace::scenario::Number::int(-3).to_string(), "-3");
    /// ```
    pub fn int(i: i64) -> Self {
        let text = i.to_string();
        Number {
            value: NumberValue::Int(text.clone()),
            text,
        }
    }

    /// A float, written as Python's repr (so it reads back as the same float). Returns `None`
    /// for NaN and infinities, which JSON cannot express.
    ///
    /// ```
    /// assert_eq!(marketplace::scenario::Number::float(5.0).unwrap().to_string(), "5.0");
    /// ```
    pub fn float(f: f64) -> Option<Self> {
        if !f.is_finite() {
            return None;
        }
        let mut text = String::new();
        let _ = write_float_repr(&mut text, f);
        Some(Number {
            text,
            value: NumberValue::Float(f),
        })
    }

    /// The JSON text as written.
    pub fn as_json_text(&self) -> &str {
        &self.text
    }

    /// Whether the number is an integer in the JSON (no fraction, no exponent).
    pub fn is_int(&self) -> bool {
        matches!(self.value, NumberValue::Int(_))
    }

    /// The value as the nearest `f64` (big integers are rounded; infinities stay infinite).
    pub fn to_f64(&self) -> f64 {
        match &self.value {
            // Integer text is always a valid float literal.
            NumberValue::Int(digits) => digits.parse().unwrap_or(f64::NAN),
            NumberValue::Float(f) => *f,
        }
    }

    /// The value's exact decimal integer text when it is a (finite) whole number, `-0`
    /// normalised to `0`; the canonical form equality and hashing use across kinds.
    fn integral_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match &self.value {
            NumberValue::Int(digits) => Some(digits.into()),
            NumberValue::Float(f) if f.is_finite() && f.fract() == 0.0 => {
                // `{:.0}` prints a whole f64 exactly, digit for digit.
                let s = format!("{f:.0}");
                Some(if s == "-0" { "0".to_owned() } else { s }.into())
            }
            NumberValue::Float(_) => None,
        }
    }
}

impl Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            NumberValue::Int(digits) => f.write_str(digits),
            NumberValue::Float(x) => write_float_repr(f, *x),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (&self.value, &other.value) {
            (NumberValue::Float(a), NumberValue::Float(b)) => a == b,
            (NumberValue::Int(a), NumberValue::Int(b)) => a == b,
            _ => match (self.integral_text(), other.integral_text()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Whole numbers hash by their exact integer text whatever their kind, so `9` and
        // `9.0` (equal) hash alike; other floats by their bits (never -0.0 here: it is whole).
        match self.integral_text() {
            Some(text) => {
                0u8.hash(state);
                text.hash(state);
            }
            None => {
                1u8.hash(state);
                self.to_f64().to_bits().hash(state);
            }
        }
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::Number::from_str(&self.text) {
            Ok(n) => n.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------

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
/// use marketplace::scenario::{Number, Product, Scalar};
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

// ---------------------------------------------------------------------------------------
// Scenario
// ---------------------------------------------------------------------------------------

/// A product and the id the scenario gives it.
#[derive(Clone, Debug)]
pub struct ProductEntry {
    /// The key in the scenario's `products` object.
    pub id: String,
    /// The product.
    pub product: Product,
}

/// One entry of a producer's list: publish `quantity` of a product, waiting `wait_seconds`
/// after each successful publish.
#[derive(Clone, Debug)]
pub struct Supply {
    /// Index into [`Scenario::products`].
    pub product: usize,
    /// How many to publish in a row (at least 1).
    pub quantity: u64,
    /// Seconds to wait after each successful publish (finite, non-negative).
    pub wait_seconds: f64,
}

/// A producer thread's script.
#[derive(Clone, Debug)]
pub struct ProducerSpec {
    /// The producer's name (used in logs and stall reports only).
    pub name: String,
    /// What it publishes, in order, forever.
    pub products: Vec<Supply>,
    /// Seconds to wait before trying again after the marketplace refused (queue full).
    pub republish_wait_time: f64,
}

/// Whether a cart operation adds or removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Take an item from the marketplace into the cart.
    Add,
    /// Return an item from the cart to the marketplace.
    Remove,
}

/// One operation of a cart, done `quantity` times.
#[derive(Clone, Debug)]
pub struct CartOp {
    /// Add or remove.
    pub kind: OpKind,
    /// Index into [`Scenario::products`].
    pub product: usize,
    /// How many times (at least 1).
    pub quantity: u64,
}

/// A consumer thread's script.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// The consumer's name, the first word of each purchase line.
    pub name: String,
    /// Seconds to wait before trying again when a product is not available.
    pub retry_wait_time: f64,
    /// The carts, in order; each is a list of operations.
    pub carts: Vec<Vec<CartOp>>,
}

/// One finding of validation: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The place, e.g. `consumers[3].carts[1][0].product`; empty for the whole file.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a scenario was rejected: every problem found, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The problems; never empty.
    pub problems: Vec<Diagnostic>,
}

impl Display for ScenarioError {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            p.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// A validated scenario. See the module docs for the invariants it guarantees.
#[derive(Clone, Debug)]
pub struct Scenario {
    products: Vec<ProductEntry>,
    producers: Vec<ProducerSpec>,
    consumers: Vec<ConsumerSpec>,
    queue_size_per_producer: usize,
    /// `classes[i]` is the equality class of product `i`: equal products share one, and
    /// classes are numbered `0..class_count` in order of first appearance.
    classes: Vec<usize>,
    class_count: usize,
    warnings: Vec<Diagnostic>,
}

impl Scenario {
    /// Parses and validates a scenario, reporting every problem found.
    ///
    /// ```
    /// use marketplace::scenario::Scenario;
    /// let ok = Scenario::from_json(r#"{
    ///     "products": {"t": {"product_type": "Tea", "name": "Mint", "price": 2, "type": "Herbal"}},
    ///     "producers": [{"name": "p", "products": [["t", 1, 0]], "republish_wait_time": 0}],
    ///     "consumers": [{"name": "c", "retry_wait_time": 0,
    ///                    "carts": [[{"type": "add", "product": "t", "quantity": 2}]]}],
    ///     "marketplace": {"queue_size_per_producer": 1}
    /// }"#).unwrap();
    /// assert_eq!(ok.expected_output().unwrap(), vec![
    ///     "c bought Tea(name='Mint', price=2, type='Herbal')",
    ///     "c bought Tea(name='Mint', price=2, type='Herbal')",
    /// ]);
    ///
    /// let err = Scenario::from_json(r#"{"products": {}, "producers": [],
    ///     "consumers": [{"name": "c", "retry_wait_time": -1, "carts": []}],
    ///     "marketplace": {"queue_size_per_producer": 0}}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "consumers[0].retry_wait_time: must not be negative, found -1\n\
    ///     marketplace.queue_size_per_producer: must be at least 1, found 0");
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScenarioError`] listing each problem with its place: malformed JSON (with line and
    /// column), wrong types, missing or unknown product fields, unknown `product_type` or
    /// product ids, negative or non-numeric times, quantities or queue size below 1, a cart
    /// removing more of a product than it holds, a consumer adding a product nobody makes.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let root: Value = serde_json::from_str(text).map_err(|e| ScenarioError {
            problems: vec![json_problem(&e)],
        })?;
        Checker::default().scenario(&root)
    }

    /// The products, in the order of the file, with their ids.
    pub fn products(&self) -> &[ProductEntry] {
        &self.products
    }

    /// The producers, in order.
    pub fn producers(&self) -> &[ProducerSpec] {
        &self.producers
    }

    /// The consumers, in order.
    pub fn consumers(&self) -> &[ConsumerSpec] {
        &self.consumers
    }

    /// How many published, not yet taken items one producer may have on the shelf.
    pub fn queue_size_per_producer(&self) -> usize {
        self.queue_size_per_producer
    }

    /// The product at `index` (an index taken from a [`Supply`] or [`CartOp`]).
    ///
    /// # Panics
    ///
    /// When `index` is out of bounds; indices from this scenario never are.
    pub fn product(&self, index: usize) -> &Product {
        &self.products[index].product
    }

    /// The equality class of product `index`: two products have the same class exactly
    /// when they are equal (`==`), whatever their ids.
    ///
    /// # Panics
    ///
    /// When `index` is out of bounds; indices from this scenario never are.
    pub fn class_of(&self, index: usize) -> usize {
        self.classes[index]
    }

    /// How many distinct products (equality classes) there are.
    pub fn class_count(&self) -> usize {
        self.class_count
    }

    /// Things that are valid but probably not intended, for `marketplace check`.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The purchase lines a run must print, sorted byte-wise (as `LC_ALL=C sort` does),
    /// computed from the scenario alone: what each cart adds minus what it removes.
    ///
    /// Returns `None` when the output is not determined by the scenario: some product is
    /// equal to another one that prints differently (say `price=9` and `price=9.0`), so which
    /// of the two a consumer receives depends on timing.
    pub fn expected_output(&self) -> Option<Vec<String>> {
        let mut printed: Vec<Option<String>> = vec![None; self.class_count];
        for (i, entry) in self.products.iter().enumerate() {
            let text = entry.product.to_string();
            match &printed[self.classes[i]] {
                Some(other) if *other != text => return None,
                _ => printed[self.classes[i]] = Some(text),
            }
        }
        let mut lines = Vec::new();
        for consumer in &self.consumers {
            for cart in &consumer.carts {
                let mut held = vec![0u64; self.class_count];
                for op in cart {
                    let slot = &mut held[self.classes[op.product]];
                    match op.kind {
                        OpKind::Add => *slot += op.quantity,
                        OpKind::Remove => *slot = slot.saturating_sub(op.quantity),
                    }
                }
                for (class, &n) in held.iter().enumerate() {
                    let product = printed[class].as_deref().unwrap_or_default();
                    for _ in 0..n {
                        lines.push(format!("{} bought {product}", consumer.name));
                    }
                }
            }
        }
        lines.sort_unstable();
        Some(lines)
    }

    /// The scenario as pretty-printed JSON in the scenario format (reads back unchanged).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl Serialize for Scenario {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Products<'a>(&'a [ProductEntry]);
        impl Serialize for Products<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut m = serializer.serialize_map(Some(self.0.len()))?;
                for e in self.0 {
                    m.serialize_entry(&e.id, &e.product)?;
                }
                m.end()
            }
        }
        let id = |i: usize| self.products[i].id.as_str();
        let producers: Vec<Value> = self
            .producers
            .iter()
            .map(|p| {
                let supplies: Vec<Value> = p
                    .products
                    .iter()
                    .map(|s| json!([id(s.product), s.quantity, s.wait_seconds]))
                    .collect();
                json!({
                    "name": p.name,
                    "products": supplies,
                    "republish_wait_time": p.republish_wait_time,
                })
            })
            .collect();
        let consumers: Vec<Value> = self
            .consumers
            .iter()
            .map(|c| {
                let carts: Vec<Vec<Value>> = c
                    .carts
                    .iter()
                    .map(|cart| {
                        cart.iter()
                            .map(|op| {
                                let kind = match op.kind {
                                    OpKind::Add => "add",
                                    OpKind::Remove => "remove",
                                };
                                json!({"type": kind, "product": id(op.product), "quantity": op.quantity})
                            })
                            .collect()
                    })
                    .collect();
                json!({"name": c.name, "retry_wait_time": c.retry_wait_time, "carts": carts})
            })
            .collect();
        let mut s = serializer.serialize_struct("Scenario", 4)?;
        s.serialize_field("products", &Products(&self.products))?;
        s.serialize_field("producers", &producers)?;
        s.serialize_field("consumers", &consumers)?;
        s.serialize_field(
            "marketplace",
            &json!({ "queue_size_per_producer": self.queue_size_per_producer }),
        )?;
        s.end()
    }
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

fn json_problem(e: &serde_json::Error) -> Diagnostic {
    // serde_json appends " at line L column C"; state the place once, up front.
    let full = e.to_string();
    let cause = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(cause, _)| cause);
    Diagnostic {
        path: String::new(),
        message: format!(
            "malformed JSON at line {}, column {}: {cause}",
            e.line(),
            e.column()
        ),
    }
}

/// A JSON value's kind, for "expected X, found Y" messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({})", quoted(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `s` in JSON quotes, as the user wrote it in the file.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The path of a product id: `products.id1`, or `products["odd id"]` when not a plain word.
fn product_path(id: &str) -> String {
    let plain = id
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("products.{id}")
    } else {
        format!("products[{}]", quoted(id))
    }
}

/// What a product reference resolved to.
#[derive(Clone, Copy)]
enum Ref {
    /// A valid product at this index.
    Valid(usize),
    /// A known id whose product is invalid (already reported).
    Broken,
}

#[derive(Default)]
struct Checker {
    problems: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    ids: HashMap<String, Ref>,
}

impl Checker {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Diagnostic {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.problem(
                    path,
                    format!("expected an object, found {}", describe(other)),
                );
                None
            }
        }
    }

    fn array<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v [Value]> {
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.problem(
                    path,
                    format!("expected an array, found {}", describe(other)),
                );
                None
            }
        }
    }

    fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.problem(
                    path,
                    format!("expected a string, found {}", describe(other)),
                );
                None
            }
        }
    }

    fn number(&mut self, v: &Value, path: &str) -> Option<Number> {
        match v {
            Value::Number(n) => match n.to_string().parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.problem(path, format!("unreadable number {n}"));
                    None
                }
            },
            other => {
                self.problem(
                    path,
                    format!("expected a number, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// A wait in seconds: a finite, non-negative number of either kind.
    fn time(&mut self, v: &Value, path: &str) -> Option<f64> {
        let n = self.number(v, path)?;
        let secs = n.to_f64();
        if !secs.is_finite() {
            self.problem(path, format!("too large, found {n}"));
            None
        } else if secs < 0.0 {
            self.problem(path, format!("must not be negative, found {n}"));
            None
        } else {
            Some(secs)
        }
    }

    /// A count: a JSON integer (Python's `range` takes no floats) in `1..=max`.
    fn count(&mut self, v: &Value, path: &str, max: u64) -> Option<u64> {
        let n = self.number(v, path)?;
        if !n.is_int() {
            self.problem(path, format!("expected a whole number, found {n}"));
            return None;
        }
        if n.to_f64() < 1.0 {
            self.problem(path, format!("must be at least 1, found {n}"));
            return None;
        }
        match n.as_json_text().parse::<u64>() {
            Ok(c) if c <= max => Some(c),
            _ => {
                self.problem(path, format!("too large (at most {max}), found {n}"));
                None
            }
        }
    }

    /// The field `key` of `obj`, reporting it at `path` when missing.
    fn field<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'v Value> {
        let v = obj.get(key);
        if v.is_none() {
            self.problem(path, format!("missing field {}", quoted(key)));
        }
        v
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            self.warn(path, format!("unknown field {} ignored", quoted(key)));
        }
    }

    fn product_ref(&mut self, v: &Value, path: &str) -> Option<Ref> {
        let id = self.string(v, path)?;
        match self.ids.get(id) {
            Some(r) => Some(*r),
            None => {
                self.problem(path, format!("unknown product id {}", quoted(id)));
                None
            }
        }
    }

    fn product(&mut self, v: &Value, path: &str) -> Option<Product> {
        let obj = self.object(v, path)?;
        let ty = self.field(obj, path, "product_type")?;
        let ty_path = format!("{path}.product_type");
        let ty = self.string(ty, &ty_path)?;
        let fields: &[&str] = match ty {
            "Product" => &["name", "price"],
            "Tea" => &["name", "price", "type"],
            "Coffee" => &["name", "price", "acidity", "roast_level"],
            other => {
                self.problem(
                    &ty_path,
                    format!(
                        "unknown product_type {} (expected \"Product\", \"Tea\" or \"Coffee\")",
                        quoted(other)
                    ),
                );
                return None;
            }
        };
        // A field the dataclass does not have would make Python's constructor fail, and
        // silently dropping it would print a different product than the author meant.
        for key in obj.keys() {
            if key != "product_type" && !fields.contains(&key.as_str()) {
                self.problem(path, format!("unknown field {} for {ty}", quoted(key)));
            }
        }
        let get_str = |c: &mut Self, key: &str| {
            let v = c.field(obj, path, key)?;
            c.string(v, &format!("{path}.{key}")).map(str::to_owned)
        };
        let name = get_str(self, "name");
        let price = self
            .field(obj, path, "price")
            .and_then(|v| self.number(v, &format!("{path}.price")));
        match ty {
            "Product" => Some(Product::Product {
                name: name?,
                price: price?,
            }),
            "Tea" => {
                let kind = get_str(self, "type");
                Some(Product::Tea {
                    name: name?,
                    price: price?,
                    kind: kind?,
                })
            }
            _ => {
                let acidity = match self.field(obj, path, "acidity") {
                    Some(Value::String(s)) => Some(Scalar::Str(s.clone())),
                    Some(Value::Number(n)) => match n.to_string().parse() {
                        Ok(n) => Some(Scalar::Num(n)),
                        Err(_) => {
                            self.problem(&format!("{path}.acidity"), "unreadable number");
                            None
                        }
                    },
                    Some(other) => {
                        self.problem(
                            &format!("{path}.acidity"),
                            format!("expected a number or a string, found {}", describe(other)),
                        );
                        None
                    }
                    None => None,
                };
                let roast_level = get_str(self, "roast_level");
                Some(Product::Coffee {
                    name: name?,
                    price: price?,
                    acidity: acidity?,
                    roast_level: roast_level?,
                })
            }
        }
    }

    fn producer(&mut self, v: &Value, path: &str) -> Option<ProducerSpec> {
        let obj = self.object(v, path)?;
        self.unknown_keys(obj, path, &["name", "products", "republish_wait_time"]);
        let name = self
            .field(obj, path, "name")
            .and_then(|v| self.string(v, &format!("{path}.name")))
            .map(str::to_owned);
        let mut ok = true;
        let mut supplies = Vec::new();
        if let Some(list) = self
            .field(obj, path, "products")
            .and_then(|v| self.array(v, &format!("{path}.products")))
        {
            for (j, entry) in list.iter().enumerate() {
                let p = format!("{path}.products[{j}]");
                let Some(entry) = self.array(entry, &p) else {
                    ok = false;
                    continue;
                };
                if entry.len() != 3 {
                    self.problem(
                        &p,
                        format!(
                            "expected [product_id, quantity, wait_seconds], found {} element(s)",
                            entry.len()
                        ),
                    );
                    ok = false;
                    continue;
                }
                let product = self.product_ref(&entry[0], &format!("{p}[0]"));
                let quantity = self.count(&entry[1], &format!("{p}[1]"), u64::MAX);
                let wait = self.time(&entry[2], &format!("{p}[2]"));
                match (product, quantity, wait) {
                    (Some(Ref::Valid(product)), Some(quantity), Some(wait_seconds)) => supplies
                        .push(Supply {
                            product,
                            quantity,
                            wait_seconds,
                        }),
                    _ => ok = false,
                }
            }
        } else {
            ok = false;
        }
        let republish = self
            .field(obj, path, "republish_wait_time")
            .and_then(|v| self.time(v, &format!("{path}.republish_wait_time")));
        if !ok {
            return None;
        }
        Some(ProducerSpec {
            name: name?,
            products: supplies,
            republish_wait_time: republish?,
        })
    }

    fn cart_op(&mut self, v: &Value, path: &str) -> Option<CartOp> {
        let obj = self.object(v, path)?;
        self.unknown_keys(obj, path, &["type", "product", "quantity"]);
        let kind = match self.field(obj, path, "type") {
            Some(Value::String(s)) if s == "add" => Some(OpKind::Add),
            Some(Value::String(s)) if s == "remove" => Some(OpKind::Remove),
            Some(other) => {
                let found = match other {
                    Value::String(s) => quoted(s),
                    other => describe(other),
                };
                self.problem(
                    &format!("{path}.type"),
                    format!("expected \"add\" or \"remove\", found {found}"),
                );
                None
            }
            None => None,
        };
        let product = self
            .field(obj, path, "product")
            .and_then(|v| self.product_ref(v, &format!("{path}.product")));
        let quantity = self
            .field(obj, path, "quantity")
            .and_then(|v| self.count(v, &format!("{path}.quantity"), u64::MAX));
        match product? {
            Ref::Valid(product) => Some(CartOp {
                kind: kind?,
                product,
                quantity: quantity?,
            }),
            Ref::Broken => None,
        }
    }

    fn consumer(&mut self, v: &Value, path: &str) -> Option<ConsumerSpec> {
        let obj = self.object(v, path)?;
        self.unknown_keys(obj, path, &["name", "retry_wait_time", "carts"]);
        let name = self
            .field(obj, path, "name")
            .and_then(|v| self.string(v, &format!("{path}.name")))
            .map(str::to_owned);
        let retry = self
            .field(obj, path, "retry_wait_time")
            .and_then(|v| self.time(v, &format!("{path}.retry_wait_time")));
        let mut ok = true;
        let mut carts = Vec::new();
        if let Some(list) = self
            .field(obj, path, "carts")
            .and_then(|v| self.array(v, &format!("{path}.carts")))
        {
            for (j, cart) in list.iter().enumerate() {
                let p = format!("{path}.carts[{j}]");
                let Some(ops) = self.array(cart, &p) else {
                    ok = false;
                    continue;
                };
                let mut parsed = Vec::with_capacity(ops.len());
                for (k, op) in ops.iter().enumerate() {
                    match self.cart_op(op, &format!("{p}[{k}]")) {
                        Some(op) => parsed.push(op),
                        None => ok = false,
                    }
                }
                carts.push(parsed);
            }
        } else {
            ok = false;
        }
        if !ok {
            return None;
        }
        Some(ConsumerSpec {
            name: name?,
            retry_wait_time: retry?,
            carts,
        })
    }

    fn scenario(mut self, root: &Value) -> Result<Scenario, ScenarioError> {
        let Value::Object(root) = root else {
            self.problem(
                "",
                format!(
                    "the scenario must be a JSON object, found {}",
                    describe(root)
                ),
            );
            return Err(ScenarioError {
                problems: self.problems,
            });
        };
        self.unknown_keys(
            root,
            "",
            &["products", "producers", "consumers", "marketplace"],
        );

        // Products first: every other section refers to them by id.
        let mut products = Vec::new();
        if let Some(map) = self
            .field(root, "", "products")
            .and_then(|v| self.object(v, "products"))
        {
            for (id, v) in map {
                let r = match self.product(v, &product_path(id)) {
                    Some(product) => {
                        products.push(ProductEntry {
                            id: id.clone(),
                            product,
                        });
                        Ref::Valid(products.len() - 1)
                    }
                    None => Ref::Broken,
                };
                self.ids.insert(id.clone(), r);
            }
        }
        let mut class_of: HashMap<&Product, usize> = HashMap::new();
        let classes: Vec<usize> = products
            .iter()
            .map(|e| {
                let next = class_of.len();
                *class_of.entry(&e.product).or_insert(next)
            })
            .collect();
        let class_count = class_of.len();

        let mut producers = Vec::new();
        let mut produced = HashSet::new();
        let mut producers_unknown = false;
        if let Some(list) = self
            .field(root, "", "producers")
            .and_then(|v| self.array(v, "producers"))
        {
            for (i, v) in list.iter().enumerate() {
                let path = format!("producers[{i}]");
                if let Some(p) = self.producer(v, &path) {
                    produced.extend(p.products.iter().map(|s| classes[s.product]));
                    producers.push(p);
                } else if let Some(Value::Array(entries)) = v.get("products") {
                    // Still count what a broken producer makes, so its consumers do not get
                    // a misleading "nobody makes it" on top of the real problem; an entry
                    // with an unknown id might be meant as any product, so then skip that
                    // rule altogether.
                    for e in entries {
                        let id = e.get(0).and_then(Value::as_str).unwrap_or_default();
                        match self.ids.get(id) {
                            Some(Ref::Valid(i)) => {
                                produced.insert(classes[*i]);
                            }
                            Some(Ref::Broken) => {}
                            None => producers_unknown = true,
                        }
                    }
                } else {
                    producers_unknown = true;
                }
            }
        } else {
            // Without a readable producer list, "nobody makes it" would be noise.
            producers_unknown = true;
        }

        let mut consumers = Vec::new();
        if let Some(list) = self
            .field(root, "", "consumers")
            .and_then(|v| self.array(v, "consumers"))
        {
            for (i, v) in list.iter().enumerate() {
                let path = format!("consumers[{i}]");
                if let Some(c) = self.consumer(v, &path) {
                    let produced = (!producers_unknown).then_some(&produced);
                    self.cart_rules(&c, &path, &products, &classes, produced);
                    consumers.push(c);
                }
            }
        }

        let queue_size = self
            .field(root, "", "marketplace")
            .and_then(|v| self.object(v, "marketplace"))
            .and_then(|m| {
                self.unknown_keys(m, "marketplace", &["queue_size_per_producer"]);
                self.field(m, "marketplace", "queue_size_per_producer")
            })
            .and_then(|v| self.count(v, "marketplace.queue_size_per_producer", MAX_QUEUE_SIZE));

        if !self.problems.is_empty() {
            return Err(ScenarioError {
                problems: self.problems,
            });
        }
        let mut scenario = Scenario {
            products,
            producers,
            consumers,
            // `count` bounded it by MAX_QUEUE_SIZE, which fits any usize we run on.
            queue_size_per_producer: usize::try_from(queue_size.unwrap_or(1)).unwrap_or(1),
            classes,
            class_count,
            warnings: self.warnings,
        };
        scenario.add_jam_warnings();
        Ok(scenario)
    }

    /// The rules that span a cart or the whole scenario: a remove needs the items in the
    /// cart at that point; an add needs a producer of that product (checked only when
    /// `produced`, the classes some producer makes, is known).
    fn cart_rules(
        &mut self,
        consumer: &ConsumerSpec,
        path: &str,
        products: &[ProductEntry],
        classes: &[usize],
        produced: Option<&HashSet<usize>>,
    ) {
        for (j, cart) in consumer.carts.iter().enumerate() {
            let mut held: HashMap<usize, u64> = HashMap::new();
            for (k, op) in cart.iter().enumerate() {
                let class = classes[op.product];
                let n = held.entry(class).or_default();
                let product = &products[op.product].product;
                match op.kind {
                    OpKind::Add => {
                        *n += op.quantity;
                        if produced.is_some_and(|made| !made.contains(&class)) {
                            self.problem(
                                &format!("{path}.carts[{j}][{k}].product"),
                                format!(
                                    "no producer makes {product} (id {})",
                                    quoted(&products[op.product].id)
                                ),
                            );
                        }
                    }
                    OpKind::Remove if *n < op.quantity => {
                        self.problem(
                            &format!("{path}.carts[{j}][{k}]"),
                            format!(
                                "removes {} of {product} but the cart holds only {} at this point",
                                op.quantity, *n
                            ),
                        );
                        *n = 0;
                    }
                    OpKind::Remove => *n -= op.quantity,
                }
            }
        }
    }
}

impl Scenario {
    /// Warns about producers whose queue can fill up with items nobody takes: such a
    /// producer stops publishing everything else, and consumers waiting for its other
    /// products may stall.
    fn add_jam_warnings(&mut self) {
        let bought: HashSet<usize> = self
            .consumers
            .iter()
            .flat_map(|c| c.carts.iter().flatten())
            .filter(|op| op.kind == OpKind::Add)
            .map(|op| self.classes[op.product])
            .collect();
        let mut warnings = Vec::new();
        for (i, p) in self.producers.iter().enumerate() {
            if p.products.is_empty() {
                warnings.push(Diagnostic {
                    path: format!("producers[{i}].products"),
                    message: format!("producer {} makes nothing", quoted(&p.name)),
                });
            }
            let mut seen = HashSet::new();
            for (j, s) in p.products.iter().enumerate() {
                let class = self.classes[s.product];
                if !bought.contains(&class) && seen.insert(class) {
                    let also_bought = p
                        .products
                        .iter()
                        .any(|s| bought.contains(&self.classes[s.product]));
                    let effect = if also_bought {
                        "its queue can fill up with them and block the products consumers do buy"
                    } else {
                        "its queue fills up with them and it then idles"
                    };
                    warnings.push(Diagnostic {
                        path: format!("producers[{i}].products[{j}]"),
                        message: format!(
                            "no consumer buys {} (id {}): {effect}",
                            self.products[s.product].product,
                            quoted(&self.products[s.product].id)
                        ),
                    });
                }
            }
        }
        self.warnings.extend(warnings);
    }
}

#[cfg(test)]
mod tests;
