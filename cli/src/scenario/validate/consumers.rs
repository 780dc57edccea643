//! The `consumers` section: a name, the wait before retrying, and carts of `add` and
//! `remove` operations on product ids.

use super::json::{describe, quoted};
use super::{Checker, Json, Path, Ref};
use crate::scenario::{CartOp, ConsumerSpec, OpKind};

impl Checker {
    /// One entry of `consumers`; `None` when anything in it is wrong (all of it reported).
    pub(super) fn consumer(&mut self, v: &Json<'_>, path: &Path<'_>) -> Option<ConsumerSpec> {
        let obj = self.object(v, path)?;
        self.unknown_keys(obj, path, &["name", "retry_wait_time", "carts"]);
        let name = self.text_field(obj, path, "name");
        let retry = self
            .field(obj, path, "retry_wait_time")
            .and_then(|v| self.time(v, &path.key("retry_wait_time")));
        let carts = self
            .field(obj, path, "carts")
            .and_then(|v| self.array(v, &path.key("carts")))
            .and_then(|list| self.carts(list, path));
        Some(ConsumerSpec {
            name: name?,
            retry_wait_time: retry?,
            carts: carts?,
        })
    }

    /// A consumer's carts; every operation is checked even after a bad one.
    fn carts(&mut self, list: &[Json<'_>], path: &Path<'_>) -> Option<Vec<Vec<CartOp>>> {
        let mut carts = Vec::with_capacity(list.len());
        let mut ok = true;
        let carts_path = path.key("carts");
        for (j, cart) in list.iter().enumerate() {
            let cart_path = carts_path.index(j);
            let Some(ops) = self.array(cart, &cart_path) else {
                ok = false;
                continue;
            };
            let mut parsed = Vec::with_capacity(ops.len());
            for (k, op) in ops.iter().enumerate() {
                match self.cart_op(op, &cart_path.index(k)) {
                    Some(op) => parsed.push(op),
                    None => ok = false,
                }
            }
            carts.push(parsed);
        }
        ok.then_some(carts)
    }

    /// One `{"type", "product", "quantity"}` operation.
    fn cart_op(&mut self, v: &Json<'_>, path: &Path<'_>) -> Option<CartOp> {
        let obj = self.object(v, path)?;
        self.unknown_keys(obj, path, &["type", "product", "quantity"]);
        let kind = match self.field(obj, path, "type") {
            Some(v) if v.as_str() == Some("add") => Some(OpKind::Add),
            Some(v) if v.as_str() == Some("remove") => Some(OpKind::Remove),
            Some(other) => {
                let found = match other.as_str() {
                    Some(s) => quoted(s),
                    None => describe(other),
                };
                self.problem(
                    &path.key("type"),
                    format!("expected \"add\" or \"remove\", found {found}"),
                );
                None
            }
            None => None,
        };
        let product = self
            .field(obj, path, "product")
            .and_then(|v| self.product_ref(v, &path.key("product")));
        let quantity = self
            .field(obj, path, "quantity")
            .and_then(|v| self.count(v, &path.key("quantity"), u64::MAX));
        match product? {
            Ref::Valid(product) => Some(CartOp {
                kind: kind?,
                product,
                quantity: quantity?,
            }),
            Ref::Broken => None,
        }
    }
}
