//! Random scenarios that cannot stall, for tests at scale and for tricky values.
//!
//! Owns [`generate`] and the small PRNG it uses. The guarantee: every product has a
//! producer that makes only that product, so whatever a consumer waits for is always
//! coming (a dedicated producer's queue only ever holds the product consumers wait for).
//! Extra producers make random mixes. Carts only remove what they hold at that point, and
//! distinct products never compare equal unless they are exact duplicates, so the output is
//! fully determined by the scenario ([`Scenario::expected_output`] is `Some`).
//! The same options and seed always give the same scenario.

use std::fmt::{self, Write as _};

use serde_json::{Value, json};

use crate::scenario::{MAX_HELD_ITEMS, MAX_QUEUE_SIZE, Scenario, ScenarioError};

/// The most producers, and the most consumers, [`generate`] makes.
pub const MAX_ACTORS: usize = 1_000_000;

/// The most distinct products [`generate`] makes.
pub const MAX_PRODUCTS: usize = 100_000;

/// The most cart operations [`generate`] may write in all (consumers, times carts per
/// consumer, times operations per cart, at their most). The scenario is built whole, as
/// text, then read back, and written out again: the largest the limits allow (1,000,000
/// producers and 1,000,000 consumers of up to 2 carts of 1 operation) peaked at 2.5 GB
/// (`cli/tests/cli_resources.rs::gen_peaks_at_a_few_times_the_size_of_its_output` keeps
/// the peak a few times the output's size); a scenario of 100,000 consumers with the
/// defaults has at most 1,200,000.
pub const MAX_OPERATIONS: u64 = 2_000_000;

/// The most items one generated operation moves.
pub const MAX_QUANTITY: u64 = 1_000;

/// Why [`generate`] made no scenario.
#[derive(Debug)]
#[non_exhaustive]
pub enum GenError {
    /// The options ask for more than the generator makes; the message says which and the
    /// most it makes.
    TooLarge(String),
    /// The generator built an invalid scenario, which would be a bug here.
    Invalid(ScenarioError),
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenError::TooLarge(message) => f.write_str(message),
            GenError::Invalid(e) => write!(f, "generated an invalid scenario:\n{e}"),
        }
    }
}

impl std::error::Error for GenError {}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Producers; raised to the number of products when lower (each product needs its own).
    pub producers: usize,
    /// Consumers.
    pub consumers: usize,
    /// Distinct products (at least 1).
    pub products: usize,
    /// Most carts per consumer (each consumer gets 1 to this many).
    pub carts: usize,
    /// Most operations per cart.
    pub ops_per_cart: usize,
    /// Most items per operation.
    pub max_quantity: u64,
    /// Most seconds of any wait in the scenario (scaled by the run's time scale).
    pub max_wait: f64,
    /// `queue_size_per_producer`.
    pub queue_size: usize,
    /// Names with quotes, escapes and non-printable characters; prices and acidities in
    /// every number form Python prints specially; duplicate products under other ids.
    pub tricky: bool,
    /// The PRNG seed.
    pub seed: u64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            producers: 3,
            consumers: 3,
            products: 4,
            carts: 3,
            ops_per_cart: 4,
            max_quantity: 3,
            max_wait: 0.05,
            queue_size: 4,
            tricky: false,
            seed: 1,
        }
    }
}

/// SplitMix64: tiny, fast, and good enough to vary test data; not for anything secret.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0); the modulo bias is irrelevant at test sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `1..=n`.
    pub fn one_to(&mut self, n: u64) -> u64 {
        1 + self.below(n)
    }

    /// A random element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A wait in seconds in `[0, max]`, on a 1 ms grid so the JSON stays short.
    fn wait(&mut self, max: f64) -> f64 {
        // The cast saturates (NaN gives 0), so a huge `max` gives u64::MAX steps.
        let steps = (max * 1000.0).max(0.0) as u64;
        self.below(steps.saturating_add(1)) as f64 / 1000.0
    }
}

/// Names that exercise every rule of Python's string repr.
const TRICKY_NAMES: &[&str] = &[
    "it's",
    "say \"hi\"",
    "both ' and \"",
    "back\\slash",
    "tab\there",
    "new\nline",
    "cr\rlf",
    "nul\u{0}bell\u{7}",
    "del\u{7f}",
    "caf\u{e9}",
    "\u{2615} hot",
    "nbsp\u{a0}",
    "soft\u{ad}hyphen",
    "zero\u{200b}width",
    "line\u{2028}sep",
    "bom\u{feff}",
    "private\u{e000}",
    "cup \u{1f375}",
    "tag\u{e0001}",
    "ideographic\u{3000}space",
    "",
    " ",
    "esc\u{1b}[0m",
    "\u{80}\u{9f}\u{ff}",
];

/// JSON number texts that exercise every rule of Python's int and float repr.
const TRICKY_NUMBERS: &[&str] = &[
    "9",
    "9.0",
    "0",
    "-0.0",
    "1e-5",
    "1E2",
    "1e16",
    "1e15",
    "0.1",
    "5.05",
    "123456789012345678901234567890",
    "123456789012345678.0",
    "0.30000000000000004",
    "5e-324",
    "1.7976931348623157e308",
    "-42",
    "100.5e-2",
];

fn pick_str(rng: &mut SplitMix64, texts: &[&'static str]) -> &'static str {
    texts[rng.below(texts.len() as u64) as usize]
}

fn number(text: &str) -> Value {
    // Every text here is valid JSON; arbitrary_precision keeps it exactly as written.
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Generates a random scenario that cannot stall.
///
/// ```
/// use marketplace_cli::generate::{GenOptions, generate};
/// let s = generate(&GenOptions { consumers: 5, tricky: true, ..GenOptions::default() }).unwrap();
/// assert_eq!(s.consumers().len(), 5);
/// assert!(s.expected_output().is_some());
/// ```
///
/// # Errors
///
/// [`GenError::TooLarge`] when the options ask for more than [`MAX_ACTORS`] producers or
/// consumers, [`MAX_PRODUCTS`] products, [`MAX_OPERATIONS`] operations, [`MAX_QUANTITY`]
/// items per operation, a queue size over [`MAX_QUEUE_SIZE`], or a scenario that could
/// hold more than [`MAX_HELD_ITEMS`] items at once; [`GenError::Invalid`] only if the
/// generator built an invalid scenario, which would be a bug here.
pub fn generate(options: &GenOptions) -> Result<Scenario, GenError> {
    within_limits(options)?;
    let mut rng = SplitMix64::new(options.seed);
    let n_products = options.products.max(1);
    let max_wait = options.max_wait;

    // Products: distinct by construction (each name carries its index), so none is equal
    // to another unless it is an exact duplicate.
    let mut products = serde_json::Map::new();
    let mut ids = Vec::new();
    for i in 0..n_products {
        let (name, price, acidity) = if options.tricky {
            let acidity = if rng.below(3) == 0 {
                Value::String(rng.pick(TRICKY_NAMES).to_string())
            } else {
                number(pick_str(&mut rng, TRICKY_NUMBERS))
            };
            (
                format!("{}#{i}", rng.pick(TRICKY_NAMES)),
                number(pick_str(&mut rng, TRICKY_NUMBERS)),
                acidity,
            )
        } else {
            let acidity = format!("{}.{:02}", rng.one_to(9), rng.below(100));
            (
                format!("Blend {i}"),
                json!(rng.one_to(20)),
                number(&acidity),
            )
        };
        let product = match rng.below(3) {
            0 => json!({"product_type": "Product", "name": name, "price": price}),
            1 => json!({"product_type": "Tea", "name": name, "price": price,
                        "type": if options.tricky { *rng.pick(TRICKY_NAMES) } else { "Green" }}),
            _ => json!({"product_type": "Coffee", "name": name, "price": price,
                        "acidity": acidity, "roast_level": "MEDIUM"}),
        };
        let id = format!("id{i}");
        if options.tricky && rng.below(4) == 0 {
            // An exact duplicate under another id: consumers asking for either may get either.
            let dup = format!("id{i}-again");
            products.insert(dup.clone(), product.clone());
            ids.push(dup);
        }
        products.insert(id.clone(), product);
        ids.push(id);
    }

    // The scenario is written as text actor by actor: a tree of `serde_json` values of
    // a million actors would take gigabytes, several times the text.
    let mut text = format!("{{\"products\":{}", Value::Object(products));
    text.push_str(",\"producers\":[");
    // One dedicated producer per distinct product (duplicates share it), then mixes.
    for i in 0..n_products {
        push_element(
            &mut text,
            i,
            &json!({
                "name": format!("maker {i}"),
                "products": [[format!("id{i}"), rng.one_to(3), rng.wait(max_wait)]],
                "republish_wait_time": rng.wait(max_wait),
            }),
        );
    }
    for i in n_products..options.producers.max(n_products) {
        let list: Vec<Value> = (0..rng.one_to(3))
            .map(|_| json!([rng.pick(&ids), rng.one_to(3), rng.wait(max_wait)]))
            .collect();
        push_element(
            &mut text,
            i,
            &json!({
                "name": format!("mixer {i}"),
                "products": list,
                "republish_wait_time": rng.wait(max_wait),
            }),
        );
    }

    text.push_str("],\"consumers\":[");
    for i in 0..options.consumers {
        // A consumer may have up to MAX_OPERATIONS operations: its carts are text too.
        let mut carts = String::from("[");
        for c in 0..rng.one_to(options.carts.max(1) as u64) {
            // What the cart holds, per product index (duplicates are tracked apart, which is
            // stricter than needed and keeps this simple).
            let mut held: Vec<(usize, u64)> = Vec::new();
            let mut ops = String::from("[");
            for k in 0..rng.one_to(options.ops_per_cart.max(1) as u64) as usize {
                let removable: Vec<usize> = (0..held.len()).filter(|&h| held[h].1 > 0).collect();
                if !removable.is_empty() && rng.below(3) == 0 {
                    let h = *rng.pick(&removable);
                    let quantity = rng.one_to(held[h].1);
                    held[h].1 -= quantity;
                    push_element(
                        &mut ops,
                        k,
                        &json!({"type": "remove", "product": ids[held[h].0], "quantity": quantity}),
                    );
                } else {
                    let p = rng.below(ids.len() as u64) as usize;
                    let quantity = rng.one_to(options.max_quantity.max(1));
                    match held.iter_mut().find(|(q, _)| *q == p) {
                        Some(entry) => entry.1 += quantity,
                        None => held.push((p, quantity)),
                    }
                    push_element(
                        &mut ops,
                        k,
                        &json!({"type": "add", "product": ids[p], "quantity": quantity}),
                    );
                }
            }
            ops.push(']');
            if c > 0 {
                carts.push(',');
            }
            carts.push_str(&ops);
        }
        carts.push(']');
        // Consumer names are printed raw at the start of each line: no line breaks.
        let name = if options.tricky {
            format!(
                "buyer {i} {}",
                ["caf\u{e9}", "'q'", "\"d\"", "\u{2615}", "\\"][i % 5]
            )
        } else {
            format!("buyer {i}")
        };
        if i > 0 {
            text.push(',');
        }
        // The wait is drawn after the carts, so that a seed keeps giving the same scenario.
        let _ = write!(
            text,
            "{{\"name\":{},\"retry_wait_time\":{},\"carts\":{carts}}}",
            Value::String(name),
            json!(rng.wait(max_wait)),
        );
    }
    let _ = write!(
        text,
        "],\"marketplace\":{{\"queue_size_per_producer\":{}}}}}",
        options.queue_size.max(1)
    );
    Scenario::from_json(&text).map_err(GenError::Invalid)
}

/// Appends `value` as the element at `index` of the array being written in `text`.
fn push_element(text: &mut String, index: usize, value: &Value) {
    if index > 0 {
        text.push(',');
    }
    // Writing to a String cannot fail.
    let _ = write!(text, "{value}");
}

/// Refuses options whose scenario would be too large to build, or to run.
fn within_limits(options: &GenOptions) -> Result<(), GenError> {
    let at_most = |what: &str, asked: u128, most: u128| {
        if asked > most {
            Err(GenError::TooLarge(format!(
                "{what} {asked} is more than the generator makes (at most {most})"
            )))
        } else {
            Ok(())
        }
    };
    let wide = |n: usize| n as u128;
    at_most("producers", wide(options.producers), wide(MAX_ACTORS))?;
    at_most("consumers", wide(options.consumers), wide(MAX_ACTORS))?;
    at_most("products", wide(options.products), wide(MAX_PRODUCTS))?;
    at_most(
        "items per operation",
        options.max_quantity.into(),
        MAX_QUANTITY.into(),
    )?;
    at_most(
        "queue size",
        wide(options.queue_size),
        MAX_QUEUE_SIZE.into(),
    )?;
    // The same floors as the generator's: at least one product, cart and operation.
    let producers = wide(options.producers.max(options.products.max(1)));
    let carts = wide(options.carts.max(1));
    let ops = wide(options.ops_per_cart.max(1));
    let consumers = wide(options.consumers);
    at_most(
        "operations (consumers x carts x operations per cart)",
        consumers.saturating_mul(carts).saturating_mul(ops),
        MAX_OPERATIONS.into(),
    )?;
    // Neither product overflows: producers, consumers, the queue size and the quantity
    // were checked above, and `ops` is below 2^64.
    let on_shelves = producers * wide(options.queue_size.max(1));
    let in_carts = consumers * ops * u128::from(options.max_quantity.max(1));
    at_most(
        "items held at once (producers x queue size, plus consumers x operations per cart x items per operation)",
        on_shelves + in_carts,
        MAX_HELD_ITEMS.into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A huge longest wait gives huge waits, not zero ones: the step count saturates.
    #[test]
    fn huge_waits_stay_huge() {
        let mut rng = SplitMix64::new(7);
        assert!((0..8).any(|_| rng.wait(1e308) > 1e6));
    }

    /// Sizes the generator could not build, or whose scenario could not run, are refused
    /// before anything is built; sizes at the limits pass.
    #[test]
    fn sizes_beyond_the_limits_are_refused() {
        let too_large =
            |options: GenOptions| matches!(generate(&options), Err(GenError::TooLarge(_)));
        let base = GenOptions::default;
        assert!(too_large(GenOptions {
            producers: usize::MAX,
            ..base()
        }));
        assert!(too_large(GenOptions {
            consumers: MAX_ACTORS + 1,
            ..base()
        }));
        assert!(too_large(GenOptions {
            products: usize::MAX,
            ..base()
        }));
        assert!(too_large(GenOptions {
            max_quantity: u64::MAX,
            ..base()
        }));
        assert!(too_large(GenOptions {
            queue_size: usize::MAX,
            ..base()
        }));
        assert!(too_large(GenOptions {
            carts: usize::MAX,
            ops_per_cart: usize::MAX,
            ..base()
        }));
        let held = GenOptions {
            producers: 11,
            queue_size: 1_000_000,
            ..base()
        };
        assert!(too_large(held));
        // Exactly MAX_OPERATIONS operations at the most: accepted; one more consumer is not.
        let at_limits = GenOptions {
            consumers: 2,
            carts: 1_000,
            ops_per_cart: 1_000,
            ..base()
        };
        assert!(within_limits(&at_limits).is_ok());
        assert!(too_large(GenOptions {
            consumers: 3,
            ..at_limits
        }));
    }

    #[test]
    fn same_seed_same_scenario() {
        let options = GenOptions {
            tricky: true,
            seed: 42,
            ..GenOptions::default()
        };
        let a = generate(&options).unwrap().to_json_pretty();
        let b = generate(&options).unwrap().to_json_pretty();
        assert_eq!(a, b);
    }

    #[test]
    fn generated_scenarios_are_valid_and_determined() {
        for seed in 0..200 {
            let options = GenOptions {
                tricky: seed % 2 == 0,
                seed,
                producers: (seed % 7) as usize,
                products: 1 + (seed % 9) as usize,
                ..GenOptions::default()
            };
            let s = generate(&options).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(s.expected_output().is_some(), "seed {seed}");
            // Every product has a producer making only it.
            for class in 0..s.class_count() {
                assert!(
                    s.producers().iter().any(|p| p
                        .products
                        .iter()
                        .all(|x| s.class_of(x.product) == class)
                        && !p.products.is_empty()),
                    "seed {seed}: class {class} has no dedicated producer"
                );
            }
        }
    }
}
