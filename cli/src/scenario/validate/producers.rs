//! The `producers` section: a name, a list of `[product_id, quantity, wait_seconds]`
//! entries, and the wait before republishing.

use super::{Checker, Json, Path, Ref};
use crate::scenario::{ProducerSpec, Supply};

impl Checker {
    /// One entry of `producers`; `None` when anything in it is wrong (all of it reported).
    pub(super) fn producer(&mut self, v: &Json<'_>, path: &Path<'_>) -> Option<ProducerSpec> {
        let obj = self.object(v, path)?;
        self.unknown_keys(obj, path, &["name", "products", "republish_wait_time"]);
        let name = self.text_field(obj, path, "name");
        let supplies = self
            .field(obj, path, "products")
            .and_then(|v| self.array(v, &path.key("products")))
            .and_then(|list| self.supplies(list, path));
        let republish = self
            .field(obj, path, "republish_wait_time")
            .and_then(|v| self.time(v, &path.key("republish_wait_time")));
        Some(ProducerSpec {
            name: name?,
            products: supplies?,
            republish_wait_time: republish?,
        })
    }

    /// A producer's list; every entry is checked even after a bad one.
    fn supplies(&mut self, list: &[Json<'_>], path: &Path<'_>) -> Option<Vec<Supply>> {
        let mut supplies = Vec::with_capacity(list.len());
        let mut ok = true;
        let entries = path.key("products");
        for (j, entry) in list.iter().enumerate() {
            match self.supply(entry, &entries.index(j)) {
                Some(supply) => supplies.push(supply),
                None => ok = false,
            }
        }
        ok.then_some(supplies)
    }

    /// One `[product_id, quantity, wait_seconds]` entry.
    fn supply(&mut self, entry: &Json<'_>, path: &Path<'_>) -> Option<Supply> {
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
        let product = self.product_ref(&entry[0], &path.index(0));
        let quantity = self.count(&entry[1], &path.index(1), u64::MAX);
        let wait = self.time(&entry[2], &path.index(2));
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
