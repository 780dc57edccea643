//! The scenario runner behind the `marketplace` command: the classic JSON scenario format,
//! Python's `repr` of the values it holds, a runner that plays a scenario on the lock-free
//! [`marketplace`] engine, and a generator of random scenarios that cannot stall.
//!
//! The binary (`src/main.rs` and the modules it declares) only parses arguments and maps
//! outcomes to streams and exit codes; everything it runs lives here, so tests and fuzz
//! targets can call it directly.
//!
//! ```
//! use marketplace_cli::runner::{RunOptions, run};
//! use marketplace_cli::scenario::Scenario;
//!
//! let scenario = Scenario::from_json(r#"{
//!     "products": {"t": {"product_type": "Tea", "name": "Mint", "price": 2, "type": "Herbal"}},
//!     "producers": [{"name": "p", "products": [["t", 1, 0]], "republish_wait_time": 0}],
//!     "consumers": [{"name": "c", "retry_wait_time": 0,
//!                    "carts": [[{"type": "add", "product": "t", "quantity": 1}]]}],
//!     "marketplace": {"queue_size_per_producer": 1}
//! }"#).unwrap();
//! let mut out = Vec::new();
//! let options = RunOptions { time_scale: 0.0, ..RunOptions::default() };
//! run(&scenario, &options, &mut out).unwrap();
//! assert_eq!(out, b"c bought Tea(name='Mint', price=2, type='Herbal')\n");
//! ```
#![forbid(unsafe_code)]

pub mod escape;
pub mod generate;
pub mod oracle;
pub mod repr;
pub mod runner;
pub mod scenario;
