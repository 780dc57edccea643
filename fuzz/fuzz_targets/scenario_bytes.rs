//! Fuzz target: arbitrary bytes as a scenario file.
//!
//! Checks that `Scenario::from_json` never panics on any UTF-8 text (non-UTF-8 input is
//! skipped: the command line reads files as UTF-8 before parsing). A rejection must list at
//! least one problem and print as non-empty text; an accepted scenario must write itself
//! back as pretty JSON that reads back to the same JSON and the same expected output.
//! What could fail: an index or arithmetic panic in validation, a serializer that writes
//! JSON the parser rejects, or a number or string whose text changes on the way back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marketplace_cli::oracle::scenario::check_scenario_text;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_scenario_text(text);
    }
});
