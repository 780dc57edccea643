//! The `products` section: each entry a known `product_type` with exactly its dataclass's
//! fields, and the references to products by id from everywhere else.

use super::json::{describe, quoted};
use super::{Checker, Json, Object, Path, Ref, View};
use crate::scenario::{Number, Product, Scalar};

/// The fields of each dataclass, `product_type` aside.
fn fields_of(product_type: &str) -> Option<&'static [&'static str]> {
    match product_type {
        "Product" => Some(&["name", "price"]),
        "Tea" => Some(&["name", "price", "type"]),
        "Coffee" => Some(&["name", "price", "acidity", "roast_level"]),
        _ => None,
    }
}

impl Checker {
    /// A product id used by a producer or a cart: known, and pointing at a valid product or
    /// at one whose problems were already reported.
    pub(super) fn product_ref(&mut self, v: &Json<'_>, path: &Path<'_>) -> Option<Ref> {
        let id = self.string(v, path)?;
        match self.ids.get(id) {
            Some(r) => Some(*r),
            None => {
                self.problem(path, format!("unknown product id {}", quoted(id)));
                None
            }
        }
    }

    /// One entry of `products`.
    pub(super) fn product(&mut self, v: &Json<'_>, path: &Path<'_>) -> Option<Product> {
        let obj = self.object(v, path)?;
        let ty = self.field(obj, path, "product_type")?;
        let ty_path = path.key("product_type");
        let ty = self.string(ty, &ty_path)?;
        let Some(fields) = fields_of(ty) else {
            self.problem(
                &ty_path,
                format!(
                    "unknown product_type {} (expected \"Product\", \"Tea\" or \"Coffee\")",
                    quoted(ty)
                ),
            );
            return None;
        };
        // A field the dataclass does not have would make Python's constructor fail, and
        // silently dropping it would print a different product than the author meant.
        for key in obj.keys() {
            if key != "product_type" && !fields.contains(&key) {
                self.problem(path, format!("unknown field {} for {ty}", quoted(key)));
            }
        }
        let name = self.text_field(obj, path, "name");
        let price = self
            .field(obj, path, "price")
            .and_then(|v| self.number(v, &path.key("price")));
        match ty {
            "Product" => Some(Product::Product {
                name: name?,
                price: price?,
            }),
            "Tea" => {
                let kind = self.text_field(obj, path, "type");
                Some(Product::Tea {
                    name: name?,
                    price: price?,
                    kind: kind?,
                })
            }
            _ => self.coffee(obj, path, name, price),
        }
    }

    /// The rest of a `Coffee`, whose `acidity` may be a number or a string.
    fn coffee(
        &mut self,
        obj: &Object<'_>,
        path: &Path<'_>,
        name: Option<String>,
        price: Option<Number>,
    ) -> Option<Product> {
        let acidity_path = path.key("acidity");
        let acidity = match self.field(obj, path, "acidity").map(|v| (v, v.view())) {
            Some((_, View::Str(s))) => Some(Scalar::Str(s.to_owned())),
            Some((_, View::Number(n))) => match n.parse() {
                Ok(n) => Some(Scalar::Num(n)),
                Err(_) => {
                    self.problem(&acidity_path, "unreadable number");
                    None
                }
            },
            Some((other, _)) => {
                self.problem(
                    &acidity_path,
                    format!("expected a number or a string, found {}", describe(other)),
                );
                None
            }
            None => None,
        };
        let roast_level = self.text_field(obj, path, "roast_level");
        Some(Product::Coffee {
            name: name?,
            price: price?,
            acidity: acidity?,
            roast_level: roast_level?,
        })
    }
}
