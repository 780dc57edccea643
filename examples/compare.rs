//! Side-by-side throughput of the marketplace engine and its rivals, every case in one
//! process: the report `marketplace_harness::compare` prints (its docs say what it measures
//! and how to read it).
//!
//! ```text
//! cargo run --release --example compare -- --quick             # one run, best of 3 rounds
//! cargo run --release --example compare -- --quick --runs 3    # three runs, then medians
//! cargo run --release --example compare -- --quick --runs 3 --plot docs/charts
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    marketplace_harness::compare::main(std::env::args().skip(1), &mut std::io::stdout().lock())
}
