//! The validated scenario and what can be read from it: its parts, the equality classes
//! of its products, and the output any run of it must print.

use std::sync::Arc;

use super::validate;
use super::{ConsumerSpec, Diagnostic, OpKind, ProducerSpec, Product, ProductEntry, ScenarioError};

/// A validated scenario. See the module docs for the invariants it guarantees.
///
/// Its parts are immutable and shared, so a clone is cheap whatever the scenario's size
/// (the runner's tasks each hold one).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub(super) products: Arc<[ProductEntry]>,
    pub(super) producers: Arc<[ProducerSpec]>,
    pub(super) consumers: Arc<[ConsumerSpec]>,
    pub(super) queue_size_per_producer: usize,
    /// `classes[i]` is the equality class of product `i`: equal products share one, and
    /// classes are numbered `0..class_count` in order of first appearance.
    pub(super) classes: Arc<[usize]>,
    pub(super) class_count: usize,
    /// The first [`MAX_LISTED`](super::MAX_LISTED) warnings, and how many came after them.
    pub(super) warnings: Vec<Diagnostic>,
    pub(super) unlisted_warnings: usize,
}

impl Scenario {
    /// Parses and validates a scenario, reporting every problem found.
    ///
    /// ```
    /// use marketplace_cli::scenario::Scenario;
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
        validate::parse(text)
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

    /// The product at `index` (an index taken from a [`Supply`](super::Supply) or [`CartOp`](super::CartOp)).
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

    /// Things that are valid but probably not intended, for `marketplace check`: the first
    /// [`MAX_LISTED`](super::MAX_LISTED) of them.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// How many warnings were found past those [`warnings`](Self::warnings) lists.
    pub fn unlisted_warnings(&self) -> usize {
        self.unlisted_warnings
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
        for consumer in self.consumers.iter() {
            for cart in &consumer.carts {
                // u128, as in validation: adds of quantities near u64::MAX overflow a u64.
                let mut held = vec![0u128; self.class_count];
                for op in cart {
                    let slot = &mut held[self.classes[op.product]];
                    let quantity = u128::from(op.quantity);
                    match op.kind {
                        OpKind::Add => *slot += quantity,
                        OpKind::Remove => *slot = slot.saturating_sub(quantity),
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

    /// How many purchase lines a complete run prints: the length of
    /// [`expected_output`](Self::expected_output), known even when that output is not
    /// determined, and computed without rendering a line.
    ///
    /// Each cart ends up holding what it adds minus what it removes, since validation
    /// refuses a cart that removes more of a product than it holds at that point.
    pub fn purchase_count(&self) -> u128 {
        self.consumers
            .iter()
            .flat_map(|consumer| &consumer.carts)
            .map(|cart| {
                // u128, as in validation: adds of quantities near u64::MAX overflow a u64.
                let (added, removed) = cart.iter().fold((0u128, 0u128), |(a, r), op| {
                    let quantity = u128::from(op.quantity);
                    match op.kind {
                        OpKind::Add => (a + quantity, r),
                        OpKind::Remove => (a, r + quantity),
                    }
                });
                added.saturating_sub(removed)
            })
            .sum()
    }
}
