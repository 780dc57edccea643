//! Rules that span sections: a cart may only remove what it holds at that point, a
//! consumer may only add what some producer makes, and a run may hold at most
//! [`MAX_HELD_ITEMS`] items at once; and the warnings about producers whose queue can fill
//! up with products nobody buys.

use std::collections::{HashMap, HashSet};

use super::json::quoted;
use super::{Catalog, Checker, Path};
use crate::scenario::shown::ShownProducts;
use crate::scenario::{ConsumerSpec, Diagnostic, MAX_HELD_ITEMS, OpKind, ProducerSpec, Scenario};

impl Checker {
    /// Checks each cart of `consumer`: a remove needs the items in the cart at that point;
    /// an add needs a producer of that product (checked only when `made`, the classes some
    /// producer makes, is known). Adds the most items the consumer's carts hold at once to
    /// `held_in_carts` (a consumer fills one cart at a time).
    pub(super) fn cart_rules(
        &mut self,
        consumer: &ConsumerSpec,
        path: &Path<'_>,
        catalog: &Catalog,
        made: Option<&HashSet<usize>>,
    ) {
        let mut consumer_peak: u128 = 0;
        for (j, cart) in consumer.carts.iter().enumerate() {
            // u128: each quantity may be as large as u64::MAX, so a cart's total can
            // exceed u64 (adding in u64 overflowed); no cart has enough operations to
            // exceed u128.
            let mut held: HashMap<usize, u128> = HashMap::new();
            let mut in_cart: u128 = 0;
            let mut cart_peak: u128 = 0;
            for (k, op) in cart.iter().enumerate() {
                let class = catalog.classes[op.product];
                let n = held.entry(class).or_default();
                let entry = &catalog.products[op.product];
                let product = &entry.product;
                match op.kind {
                    OpKind::Add => {
                        *n += u128::from(op.quantity);
                        in_cart += u128::from(op.quantity);
                        cart_peak = cart_peak.max(in_cart);
                        if made.is_some_and(|made| !made.contains(&class)) {
                            let message = format!(
                                "no producer makes {} (id {})",
                                self.shown_products.of(op.product, product),
                                quoted(&entry.id)
                            );
                            self.problem(
                                &path.key("carts").index(j).index(k).key("product"),
                                message,
                            );
                        }
                    }
                    OpKind::Remove if *n < u128::from(op.quantity) => {
                        let message = format!(
                            "removes {} of {} but the cart holds only {} at this point",
                            op.quantity,
                            self.shown_products.of(op.product, product),
                            *n
                        );
                        self.problem(&path.key("carts").index(j).index(k), message);
                        in_cart -= *n;
                        *n = 0;
                    }
                    OpKind::Remove => {
                        *n -= u128::from(op.quantity);
                        in_cart -= u128::from(op.quantity);
                    }
                }
            }
            if cart_peak > u128::from(MAX_HELD_ITEMS) {
                // Reported here, where it can be fixed, and left out of the run's total.
                self.problem(
                    &path.key("carts").index(j),
                    format!(
                        "holds up to {cart_peak} items at once, more than the \
                         {MAX_HELD_ITEMS} a run may hold"
                    ),
                );
            } else {
                consumer_peak = consumer_peak.max(cart_peak);
            }
        }
        self.held_in_carts = self.held_in_carts.saturating_add(consumer_peak);
    }

    /// A run holds items on the shelves (each producer that makes something, up to
    /// `queue_size` at once: producers publish until they are full) and in the carts being
    /// filled; at most [`MAX_HELD_ITEMS`] in all, so that a scenario that would exhaust
    /// memory is refused here instead of aborting the run.
    pub(super) fn held_items_rule(
        &mut self,
        producers: &[ProducerSpec],
        queue_size: u64,
        path: &Path<'_>,
    ) {
        let makers = producers.iter().filter(|p| !p.products.is_empty()).count();
        let on_shelves = u128::from(queue_size) * makers as u128;
        let held = on_shelves.saturating_add(self.held_in_carts);
        if held > u128::from(MAX_HELD_ITEMS) {
            self.problem(
                path,
                format!(
                    "the run could hold {held} items at once ({on_shelves} on shelves, {} in \
                     carts), more than the {MAX_HELD_ITEMS} allowed",
                    self.held_in_carts
                ),
            );
        }
    }
}

/// Warnings about producers whose queue can fill up with items nobody takes: such a
/// producer stops publishing everything else, and consumers waiting for its other products
/// may stall. Also warns about producers that make nothing.
pub(super) fn jam_warnings(scenario: &Scenario, mut warn: impl FnMut(Diagnostic)) {
    let bought: HashSet<usize> = scenario
        .consumers
        .iter()
        .flat_map(|c| c.carts.iter().flatten())
        .filter(|op| op.kind == OpKind::Add)
        .map(|op| scenario.classes[op.product])
        .collect();
    let mut shown_products = ShownProducts::default();
    for (i, p) in scenario.producers.iter().enumerate() {
        if p.products.is_empty() {
            warn(Diagnostic {
                path: format!("producers[{i}].products"),
                message: format!("producer {} makes nothing", quoted(&p.name)),
            });
        }
        let also_bought = p
            .products
            .iter()
            .any(|s| bought.contains(&scenario.classes[s.product]));
        let effect = if also_bought {
            "its queue can fill up with them and block the products consumers do buy"
        } else {
            "its queue fills up with them and it then idles"
        };
        let mut seen = HashSet::new();
        for (j, s) in p.products.iter().enumerate() {
            let class = scenario.classes[s.product];
            if !bought.contains(&class) && seen.insert(class) {
                let entry = &scenario.products[s.product];
                warn(Diagnostic {
                    path: format!("producers[{i}].products[{j}]"),
                    message: format!(
                        "no consumer buys {} (id {}): {effect}",
                        shown_products.of(s.product, &entry.product),
                        quoted(&entry.id)
                    ),
                });
            }
        }
    }
}
