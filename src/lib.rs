//! placeholder, replaced by the engine commit
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "scenario")]
pub mod repr;
#[cfg(feature = "scenario")]
pub mod scenario;
