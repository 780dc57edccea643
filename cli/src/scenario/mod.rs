//! The scenario format: products, producers, consumers and the marketplace capacity
//! (described for users in `docs/scenario-format.md`).
//!
//! This module owns parsing and validating a scenario and the value semantics of products:
//!
//! - [`Product`] prints as Python's dataclass repr and compares the way Python's `==` does
//!   (same type, all fields equal, `9 == 9.0`, `"5" != 5`); [`Number`] keeps the JSON kind
//!   (int or float) and the text as written.
//! - [`Scenario::from_json`] is the only way to build a [`Scenario`], and it reports every
//!   problem at once, each with its place (`consumers[3].carts[1][0].product: ...`).
//!
//! Invariants of a [`Scenario`] (what the runner relies on): every product index in a
//! producer entry or cart op is in bounds; quantities are at least 1; times are finite and
//! non-negative; `queue_size_per_producer` is in `1..=MAX_QUEUE_SIZE`; no cart removes more of
//! a product (equality class) than it holds at that point; every product a consumer adds is
//! made by some producer; a run holds at most [`MAX_HELD_ITEMS`] items at once.

mod diagnostic;
mod model;
mod number;
mod product;
mod serialize;
mod shown;
mod specs;
mod validate;

pub use diagnostic::{Diagnostic, ScenarioError, unlisted_line};
pub use model::Scenario;
pub use number::{Number, ParseNumberError};
pub use product::{Product, Scalar};
pub(crate) use shown::{ShownProducts, abbreviated_name};
pub use specs::{CartOp, ConsumerSpec, OpKind, ProducerSpec, ProductEntry, Supply};

/// The largest `queue_size_per_producer` a scenario may ask for. Capacity costs no memory in
/// either backend (it is a count); the bound is the format's own, so that a slip such as
/// `1000000000000` is reported instead of read as "no limit", and every accepted size fits any
/// platform's `usize` and the Redis backend's exact counts.
pub const MAX_QUEUE_SIZE: u64 = 1_000_000;

/// The most items a run of a scenario may hold at once: on the shelves (each producer
/// publishes until it has `queue_size_per_producer` on sale) and in the carts being filled
/// (each consumer fills one cart at a time). A scenario that could hold more is refused, as
/// the items would exhaust memory and abort the run; ten million items take a few hundred
/// megabytes.
pub const MAX_HELD_ITEMS: u64 = 10_000_000;

/// The largest scenario file `marketplace run` and `check` read, in bytes (1 GiB), unless
/// `MARKETPLACE_MAX_SCENARIO_BYTES` sets another: twice the largest scenario `gen` writes,
/// and a bound on the memory that reading takes, however long the file.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 30;

/// The most problems a [`ScenarioError`] lists, and the most warnings a [`Scenario`] keeps;
/// past them, findings are counted only. A short file can hold millions of findings (a
/// list of zeros where objects belong is one per two bytes), and listing each would take
/// far more memory and output than the file.
pub const MAX_LISTED: usize = 1000;

#[cfg(test)]
mod tests;
