//! The `producers` section: a name, a list of `[product_id, quantity, wait_seconds]`
//! entries, and the wait before republishing.

use serde_json::Value;

use super::{Checker, Ref};
use crate::scenario::{ProducerSpec, Supply};

impl Checker {
    /// One entry of `producers`; `None` when anything in it is wrong (all of it reported).
    pub(super) fn producer(&mut self, v: &Value, path: &str) -> Option<ProducerSpec> {
        let obj = self.object(v, path)?;
        self.unknown_keys(obj, path, &["name", "products", "republish_wait_time"]);
        let name = self.text_field(obj, path, "name");
        let supplies = self
            .field(obj, path, "products")
            .and_then(|v| self.array(v, &format!("{path}.products")))
            .and_then(|list| self.supplies(list, path));
        let republish = self
            .field(obj, path, "republish_wait_time")
            .and_then(|v| self.time(v, &format!("{path}.republish_wait_time")));
        Some(ProducerSpec {
            name: name?,
            products: supplies?,
            republish_wait_time: republish?,
        })
    }

    /// A producer's list; every entry is checked even after a bad one.
    fn supplies(&mut self, list: &[Value], path: &str) -> Option<Vec<Supply>> {
        let mut supplies = Vec::with_capacity(list.len());
        let mut ok = true;
        for (j, entry) in list.iter().enumerate() {
            match self.supply(entry, &format!("{path}.products[{j}]")) {
                Some(supply) => supplies.push(supply),
                None => ok = false,
            }
        }
        ok.then_some(supplies)
    }

    /// One `[product_id, quantity, wait_seconds]` entry.
    fn supply(&mut self, entry: &Value, path: &str) -> Option<Supply> {
        let entry = self.array(entry, path)?;
        if entry.len() != 3 {
            self.problem(
                path,
                format!(
                    "expected [product_id, quantity, wait_seconds], found {} element(s)",
                    entry.len()
                ),
            );
            return None;
        }
        let product = self.product_ref(&entry[0], &format!("{path}[0]"));
        let quantity = self.count(&entry[1], &format!("{path}[1]"), u64::MAX);
        let wait = self.time(&entry[2], &format!("{path}[2]"));
        match (product, quantity, wait) {
            (Some(Ref::Valid(product)), Some(quantity), Some(wait_seconds)) => Some(Supply {
                product,
                quantity,
                wait_seconds,
            }),
            _ => None,
        }
    }
}
