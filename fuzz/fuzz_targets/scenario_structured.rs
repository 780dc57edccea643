//! Fuzz target: scenarios built from a structured description, so most inputs get past
//! JSON syntax and exercise validation, equality classes and the round trip.
//!
//! An `arbitrary` description (products of the three types with tricky names and numbers,
//! producers, consumers with add/remove carts, a queue size, and now and then a deliberate
//! corruption: a value of the wrong type, a missing or unknown field, truncated text) is
//! rendered to JSON text and given to `Scenario::from_json`. Checks the same as
//! `scenario_bytes`: no panic, rejections that explain themselves, and valid scenarios that
//! round-trip through their own JSON with the same expected output. What could fail: an
//! overflow adding quantities, a product equality or hash that disagrees with itself after
//! a round trip, a number or string whose JSON text changes.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use marketplace_cli::repr::float_repr;
use marketplace_cli::oracle::scenario::check_scenario_text;
use serde_json::{Map, Value, json};

/// Strings that have broken repr or JSON code before, or could: quotes, escapes,
/// non-printable and astral characters, ids that are not plain words.
const TRICKY_TEXT: &[&str] = &[
    "",
    "Linden",
    "it's",
    "say \"hi\"",
    "both ' and \"",
    "back\\slash",
    "tab\there",
    "nl\ncr\r",
    "\u{0}\u{1f}\u{7f}",
    "nbsp\u{a0}",
    "soft\u{ad}hyphen",
    "zwsp\u{200b}",
    "line\u{2028}sep",
    "bom\u{feff}",
    "\u{e000}",
    "\u{1f375}",
    "\u{e0080}",
    "\u{10ffff}",
    "\u{378}",
    "e\u{301}",
    "\u{1b}[31m",
    "odd id",
    "id1",
    "add",
    "remove",
    "Tea",
];

/// Numbers whose kind, text or equality is easy to get wrong.
const TRICKY_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "9",
    "9.0",
    "-0.0",
    "0.0",
    "0.1",
    "1E2",
    "100",
    "1e-5",
    "1e16",
    "1e400",
    "-1e400",
    "5e-324",
    "1.7976931348623157e308",
    "123456789012345678901234567890",
    "123456789012345678901234567890.0",
    "9007199254740993",
    "9007199254740993.0",
    "18446744073709551615",
    "18446744073709551616",
    "1000000",
    "1000001",
    "-1",
    "0.30000000000000004",
    "1e-7",
    "1e20",
    "100000000000000000000",
];

#[derive(Arbitrary, Debug)]
struct Description {
    products: Vec<ProductDesc>,
    producers: Vec<ProducerDesc>,
    consumers: Vec<ConsumerDesc>,
    /// Adds one more producer that makes every product, so that carts are often valid
    /// (a cart may only add what some producer makes).
    catch_all_producer: bool,
    queue_size: Count,
    pretty: bool,
    corruption: Option<Corruption>,
}

#[derive(Arbitrary, Debug)]
enum Text {
    Tricky(u8),
    Any(String),
}

#[derive(Arbitrary, Debug)]
enum Num {
    Tricky(u8),
    Int(i64),
    Float(f64),
    /// A long integer: `1` followed by these digits.
    Big(Vec<u8>),
}

/// A quantity or queue size: small and valid, unless `selector` is 240 or more (1 in 16),
/// then any number. A plain enum would pick the odd case half the time, and a cart with a
/// few operations would then almost never be valid.
#[derive(Arbitrary, Debug)]
struct Count {
    selector: u8,
    odd: Num,
}

/// A wait in seconds: zero or a few hundredths, unless `selector` is 240 or more (1 in 16),
/// then any number.
#[derive(Arbitrary, Debug)]
struct Wait {
    selector: u8,
    odd: Num,
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Product,
    Tea,
    Coffee,
}

#[derive(Arbitrary, Debug)]
enum Acidity {
    Num(Num),
    Str(Text),
}

#[derive(Arbitrary, Debug)]
struct ProductDesc {
    id: Text,
    kind: Kind,
    name: Text,
    price: Num,
    tea_type: Text,
    acidity: Acidity,
    roast_level: Text,
}

/// A reference to a product: an index into the products (modulo their count); 255 names
/// an unknown id.
#[derive(Arbitrary, Debug)]
struct ProductRef(u8);

#[derive(Arbitrary, Debug)]
struct ProducerDesc {
    name: Text,
    supplies: Vec<(ProductRef, Count, Wait)>,
    republish_wait: Wait,
}

#[derive(Arbitrary, Debug)]
struct OpDesc {
    /// A remove when divisible by 4: removes that exceed what the cart holds make the
    /// scenario invalid, so they are kept rarer than adds.
    kind: u8,
    product: ProductRef,
    quantity: Count,
}

#[derive(Arbitrary, Debug)]
struct ConsumerDesc {
    name: Text,
    retry_wait: Wait,
    carts: Vec<Vec<OpDesc>>,
}

/// Something wrong with the otherwise well-formed JSON. `node` picks a value of the tree
/// in pre-order, modulo the number of values.
#[derive(Arbitrary, Debug)]
enum Corruption {
    Replace {
        node: u16,
        with: Replacement,
    },
    RemoveKey {
        node: u16,
        key: u8,
    },
    AddEntry {
        node: u16,
        key: Text,
        value: Replacement,
    },
    Truncate {
        at: u16,
    },
}

#[derive(Arbitrary, Debug)]
enum Replacement {
    Null,
    Bool(bool),
    Num(Num),
    Str(Text),
    EmptyArray,
    EmptyObject,
}

impl Text {
    fn render(&self) -> String {
        match self {
            Text::Tricky(i) => TRICKY_TEXT[usize::from(*i) % TRICKY_TEXT.len()].to_owned(),
            Text::Any(s) => s.clone(),
        }
    }
}

/// A JSON number from its text, kept exactly as written (serde_json's
/// `arbitrary_precision`).
fn number(text: &str) -> Value {
    serde_json::from_str(text).expect("number text is valid JSON")
}

impl Num {
    fn render(&self) -> Value {
        match self {
            Num::Tricky(i) => number(TRICKY_NUMBERS[usize::from(*i) % TRICKY_NUMBERS.len()]),
            Num::Int(i) => json!(i),
            // NaN and infinities have no JSON form; `1e400` is how a file says infinity.
            Num::Float(f) if f.is_finite() => number(&float_repr(*f)),
            Num::Float(f) if f.is_nan() => Value::Null,
            Num::Float(f) => number(if *f > 0.0 { "1e400" } else { "-1e400" }),
            Num::Big(digits) => {
                let digits: String = digits.iter().map(|&b| char::from(b'0' + b % 10)).collect();
                number(&format!("1{digits}"))
            }
        }
    }
}

impl Count {
    fn render(&self) -> Value {
        match self.selector {
            240.. => self.odd.render(),
            n => json!(1 + n % 4),
        }
    }
}

impl Wait {
    fn render(&self) -> Value {
        match self.selector {
            240.. => self.odd.render(),
            0..=59 => json!(0),
            n => number(&format!("0.{:02}", n % 100)),
        }
    }
}

impl ProductRef {
    fn render(&self, ids: &[String]) -> Value {
        if self.0 == 255 || ids.is_empty() {
            json!("no such product")
        } else {
            json!(ids[usize::from(self.0) % ids.len()])
        }
    }
}

impl Replacement {
    fn render(&self) -> Value {
        match self {
            Replacement::Null => Value::Null,
            Replacement::Bool(b) => json!(b),
            Replacement::Num(n) => n.render(),
            Replacement::Str(s) => json!(s.render()),
            Replacement::EmptyArray => json!([]),
            Replacement::EmptyObject => json!({}),
        }
    }
}

impl Description {
    fn render(&self) -> Value {
        let mut products = Map::new();
        for p in &self.products {
            let mut fields = Map::new();
            let type_name = match p.kind {
                Kind::Product => "Product",
                Kind::Tea => "Tea",
                Kind::Coffee => "Coffee",
            };
            fields.insert("product_type".into(), json!(type_name));
            fields.insert("name".into(), json!(p.name.render()));
            fields.insert("price".into(), p.price.render());
            match p.kind {
                Kind::Product => {}
                Kind::Tea => {
                    fields.insert("type".into(), json!(p.tea_type.render()));
                }
                Kind::Coffee => {
                    let acidity = match &p.acidity {
                        Acidity::Num(n) => n.render(),
                        Acidity::Str(s) => json!(s.render()),
                    };
                    fields.insert("acidity".into(), acidity);
                    fields.insert("roast_level".into(), json!(p.roast_level.render()));
                }
            }
            products.insert(p.id.render(), Value::Object(fields));
        }
        let ids: Vec<String> = products.keys().cloned().collect();
        let mut producers: Vec<Value> = self
            .producers
            .iter()
            .map(|p| {
                let supplies: Vec<Value> = p
                    .supplies
                    .iter()
                    .map(|(product, quantity, wait)| {
                        json!([product.render(&ids), quantity.render(), wait.render()])
                    })
                    .collect();
                json!({
                    "name": p.name.render(),
                    "products": supplies,
                    "republish_wait_time": p.republish_wait.render(),
                })
            })
            .collect();
        if self.catch_all_producer {
            let supplies: Vec<Value> = ids.iter().map(|id| json!([id, 1, 0])).collect();
            producers.push(json!({"name": "all", "products": supplies, "republish_wait_time": 0}));
        }
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
                                json!({
                                    "type": if op.kind % 4 == 0 { "remove" } else { "add" },
                                    "product": op.product.render(&ids),
                                    "quantity": op.quantity.render(),
                                })
                            })
                            .collect()
                    })
                    .collect();
                json!({
                    "name": c.name.render(),
                    "retry_wait_time": c.retry_wait.render(),
                    "carts": carts,
                })
            })
            .collect();
        json!({
            "products": products,
            "producers": producers,
            "consumers": consumers,
            "marketplace": {"queue_size_per_producer": self.queue_size.render()},
        })
    }

    /// The JSON text, corrupted as described.
    fn to_text(&self) -> String {
        let mut root = self.render();
        match &self.corruption {
            Some(Corruption::Replace { node, with }) => {
                *nth_node(&mut root, *node) = with.render();
            }
            Some(Corruption::RemoveKey { node, key }) => {
                if let Value::Object(map) = nth_node(&mut root, *node)
                    && let Some(k) = map.keys().nth(usize::from(*key) % map.len().max(1))
                {
                    let k = k.clone();
                    map.remove(&k);
                }
            }
            Some(Corruption::AddEntry { node, key, value }) => match nth_node(&mut root, *node) {
                Value::Object(map) => {
                    map.insert(key.render(), value.render());
                }
                Value::Array(list) => list.push(value.render()),
                _ => {}
            },
            Some(Corruption::Truncate { .. }) | None => {}
        }
        let mut text = if self.pretty {
            serde_json::to_string_pretty(&root)
        } else {
            serde_json::to_string(&root)
        }
        .expect("a JSON value serializes");
        if let Some(Corruption::Truncate { at }) = &self.corruption {
            let mut at = usize::from(*at) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
        }
        text
    }
}

/// How many values the tree rooted at `v` holds, `v` included.
fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(list) => list.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The value at pre-order position `n` (modulo the number of values).
fn nth_node(root: &mut Value, n: u16) -> &mut Value {
    let mut n = usize::from(n) % count_nodes(root);
    let mut v = root;
    // Walk down: at each level, skip over whole children until `n` falls inside one.
    while n > 0 {
        n -= 1;
        let children: Vec<&mut Value> = match v {
            Value::Array(list) => list.iter_mut().collect(),
            Value::Object(map) => map.values_mut().collect(),
            _ => unreachable!("n is below the subtree size"),
        };
        let mut next = None;
        for child in children {
            let size = count_nodes(child);
            if n < size {
                next = Some(child);
                break;
            }
            n -= size;
        }
        v = next.expect("n is below the subtree size");
    }
    v
}

fuzz_target!(|description: Description| {
    check_scenario_text(&description.to_text());
});
