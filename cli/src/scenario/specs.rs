//! What the scenario asks of each actor: the products it lists, each producer's supply
//! and each consumer's carts. Indices point into the scenario's product list.

use super::Product;

/// A product and the id the scenario gives it.
#[derive(Clone, Debug)]
pub struct ProductEntry {
    /// The key in the scenario's `products` object.
    pub id: String,
    /// The product.
    pub product: Product,
}

/// One entry of a producer's list: publish `quantity` of a product, waiting `wait_seconds`
/// after each successful publish.
#[derive(Clone, Debug)]
pub struct Supply {
    /// Index into [`Scenario::products`](super::Scenario::products).
    pub product: usize,
    /// How many to publish in a row (at least 1).
    pub quantity: u64,
    /// Seconds to wait after each successful publish (finite, non-negative).
    pub wait_seconds: f64,
}

/// A producer thread's script.
#[derive(Clone, Debug)]
pub struct ProducerSpec {
    /// The producer's name (used in logs and stall reports only).
    pub name: String,
    /// What it publishes, in order, forever.
    pub products: Vec<Supply>,
    /// Seconds to wait before trying again after the marketplace refused (queue full).
    pub republish_wait_time: f64,
}

/// Whether a cart operation adds or removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Take an item from the marketplace into the cart.
    Add,
    /// Return an item from the cart to the marketplace.
    Remove,
}

/// One operation of a cart, done `quantity` times.
#[derive(Clone, Debug)]
pub struct CartOp {
    /// Add or remove.
    pub kind: OpKind,
    /// Index into [`Scenario::products`](super::Scenario::products).
    pub product: usize,
    /// How many times (at least 1).
    pub quantity: u64,
}

/// A consumer thread's script.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// The consumer's name, the first word of each purchase line.
    pub name: String,
    /// Seconds to wait before trying again when a product is not available.
    pub retry_wait_time: f64,
    /// The carts, in order; each is a list of operations.
    pub carts: Vec<Vec<CartOp>>,
}
