//! Writing a scenario back as JSON in the scenario format, so `marketplace gen` output
//! reads back unchanged.
//!
//! The actors are serialized as they are walked, not first copied into a tree of
//! `serde_json` values: such a tree of a million actors takes gigabytes, several times
//! what the scenario and its text take.

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::json;

use super::{CartOp, ConsumerSpec, OpKind, ProducerSpec, ProductEntry, Scenario, Supply};

impl Scenario {
    /// The scenario as pretty-printed JSON in the scenario format (reads back unchanged).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The producers, in order.
struct Producers<'a>(&'a Scenario);

impl Serialize for Producers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.producers.iter().map(|p| Producer(self.0, p)))
    }
}

/// A producer's `[product_id, quantity, wait_seconds]` entries.
struct Supplies<'a>(&'a Scenario, &'a [Supply]);

impl Serialize for Supplies<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Supplies(scenario, supplies) = *self;
        serializer.collect_seq(
            supplies
                .iter()
                .map(|s| (scenario.id(s.product), s.quantity, s.wait_seconds)),
        )
    }
}

/// The consumers, in order.
struct Consumers<'a>(&'a Scenario);

impl Serialize for Consumers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.consumers.iter().map(|c| Consumer(self.0, c)))
    }
}

/// A consumer's carts, each a list of operations.
struct Carts<'a>(&'a Scenario, &'a [Vec<CartOp>]);

impl Serialize for Carts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Carts(scenario, carts) = *self;
        serializer.collect_seq(carts.iter().map(|cart| Cart(scenario, cart)))
    }
}

/// One cart's operations.
struct Cart<'a>(&'a Scenario, &'a [CartOp]);

impl Serialize for Cart<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Cart(scenario, ops) = *self;
        serializer.collect_seq(ops.iter().map(|op| Operation(scenario, op)))
    }
}

/// A producer, with product ids in place of indices.
struct Producer<'a>(&'a Scenario, &'a ProducerSpec);

impl Serialize for Producer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Producer(scenario, p) = *self;
        let mut s = serializer.serialize_struct("Producer", 3)?;
        s.serialize_field("name", &p.name)?;
        s.serialize_field("products", &Supplies(scenario, &p.products))?;
        s.serialize_field("republish_wait_time", &p.republish_wait_time)?;
        s.end()
    }
}

/// A consumer, with product ids in place of indices.
struct Consumer<'a>(&'a Scenario, &'a ConsumerSpec);

impl Serialize for Consumer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Consumer(scenario, c) = *self;
        let mut s = serializer.serialize_struct("Consumer", 3)?;
        s.serialize_field("name", &c.name)?;
        s.serialize_field("retry_wait_time", &c.retry_wait_time)?;
        s.serialize_field("carts", &Carts(scenario, &c.carts))?;
        s.end()
    }
}

/// One cart operation, with its product's id.
struct Operation<'a>(&'a Scenario, &'a CartOp);

impl Serialize for Operation<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Operation(scenario, op) = *self;
        let kind = match op.kind {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
        };
        let mut s = serializer.serialize_struct("Operation", 3)?;
        s.serialize_field("type", kind)?;
        s.serialize_field("product", scenario.id(op.product))?;
        s.serialize_field("quantity", &op.quantity)?;
        s.end()
    }
}

impl Scenario {
    fn id(&self, product: usize) -> &str {
        &self.products[product].id
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
        let mut s = serializer.serialize_struct("Scenario", 4)?;
        s.serialize_field("products", &Products(&self.products))?;
        s.serialize_field("producers", &Producers(self))?;
        s.serialize_field("consumers", &Consumers(self))?;
        s.serialize_field(
            "marketplace",
            &json!({ "queue_size_per_producer": self.queue_size_per_producer }),
        )?;
        s.end()
    }
}
