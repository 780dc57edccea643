//! Oracles: checks that the scenario model and the Python repr are consistent with
//! themselves on any input, panicking with the input and the broken rule when they are not.
//! They are the fuzz targets' verdicts (`fuzz/`) and their regression tests'
//! (`cli/tests/*_fuzz_regressions.rs`), kept here so both check exactly the same thing; the
//! command line never calls them.

pub mod repr;
pub mod scenario;
