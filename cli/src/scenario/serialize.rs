//! Writing a scenario back as JSON in the scenario format, so `marketplace gen` output
//! reads back unchanged.

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::{Value, json};

use super::{OpKind, ProductEntry, Scenario};

impl Scenario {
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
