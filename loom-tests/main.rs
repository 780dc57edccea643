//! The loom models of the engine's protocol, one module per concern. The list below is the
//! one list of models: `scripts/loom` runs this target, and a model added here is run.
//!
//! Built only with `--cfg loom` (`scripts/loom` sets it), which swaps loom's types into the
//! engine's sync facade (`src/sync/`), so loom explores this crate's protocol.
#![cfg(loom)]

mod common;

mod async_wake;
mod catalog;
mod claim_and_return;
mod close;
mod ids;
mod last_item;
mod publish_capacity;
mod remove_vs_order;
mod wake_one;
mod wakeup;
