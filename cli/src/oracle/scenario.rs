//! Invariants of `Scenario::from_json` on any text: it never panics; a rejected text comes
//! with at least one problem, each one printable; an accepted scenario writes itself back
//! as JSON (`to_json_pretty`) that reads back to the same scenario (same JSON again, same
//! expected output), and its expected output has `purchase_count` lines.
//!
//! Used by the fuzz targets `scenario_bytes` and `scenario_structured`, and by
//! `cli/tests/scenario_fuzz_regressions.rs`, so the regression test checks exactly what the
//! fuzzer checked. Every check panics with a message on the first violation.

use crate::scenario::{Scenario, ScenarioError};

/// `expected_output` is computed only for scenarios that buy at most this many items in all
/// (`purchase_count`): it returns one line per item bought, so a valid scenario with a
/// quantity of 10^18 has an answer too large to build, which says nothing about the code
/// under test.
pub const MAX_EXPECTED_LINES: u64 = 10_000;

/// Parses `text` as a scenario and checks whichever outcome it gets.
pub fn check_scenario_text(text: &str) {
    match Scenario::from_json(text) {
        Ok(scenario) => check_valid(&scenario),
        Err(e) => check_error(&e),
    }
}

/// A rejection must explain itself: at least one problem, none of them blank, and the
/// error's text is the problems one per line.
pub fn check_error(e: &ScenarioError) {
    assert!(!e.problems.is_empty(), "an error without problems");
    for p in &e.problems {
        assert!(
            !p.message.is_empty(),
            "a problem without a message at {:?}",
            p.path
        );
    }
    let mut lines: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
    if e.unlisted > 0 {
        assert_eq!(
            e.problems.len(),
            crate::scenario::MAX_LISTED,
            "problems left unlisted early"
        );
        let s = if e.unlisted == 1 { "" } else { "s" };
        lines.push(format!("... and {} more problem{s}", e.unlisted));
    }
    let text = e.to_string();
    assert!(!text.is_empty(), "an error that prints as nothing");
    assert_eq!(
        text,
        lines.join("\n"),
        "the error is not its problems, one per line"
    );
}

/// An accepted scenario round-trips through its own JSON and predicts the same output.
pub fn check_valid(scenario: &Scenario) {
    let pretty = scenario.to_json_pretty();
    // `to_json_pretty` returns "" if serialization failed.
    assert!(!pretty.is_empty(), "a valid scenario did not serialize");
    let back = match Scenario::from_json(&pretty) {
        Ok(back) => back,
        Err(e) => panic!("the pretty JSON of a valid scenario is rejected:\n{e}\n---\n{pretty}"),
    };
    assert_eq!(
        back.to_json_pretty(),
        pretty,
        "writing the scenario read back from its JSON gives different JSON"
    );
    assert_eq!(
        back.class_count(),
        scenario.class_count(),
        "equality classes changed"
    );
    let ambiguous = check_classes(scenario);
    let purchases = scenario.purchase_count();
    if purchases <= u128::from(MAX_EXPECTED_LINES) {
        let expected = scenario.expected_output();
        assert_eq!(
            expected.is_none(),
            ambiguous,
            "expected output should be unknown exactly when equal products print differently"
        );
        if let Some(lines) = &expected {
            assert!(lines.is_sorted(), "expected output is not sorted");
            assert_eq!(
                lines.len() as u128,
                purchases,
                "purchase_count disagrees with the expected output's length"
            );
        }
        assert_eq!(
            back.expected_output(),
            expected,
            "the scenario read back from its JSON predicts different output\n---\n{pretty}"
        );
    }
}

/// Equality classes are Python's `==` between products: two products share a class exactly
/// when they are equal. Returns whether some equal products print differently (`price=9`
/// and `price=9.0`), which makes the output depend on timing.
fn check_classes(scenario: &Scenario) -> bool {
    let n = scenario.products().len();
    let mut ambiguous = false;
    for i in 0..n {
        for j in 0..n {
            let (a, b) = (scenario.product(i), scenario.product(j));
            let equal = a == b;
            assert_eq!(
                equal,
                b == a,
                "product equality is not symmetric: {a} and {b}"
            );
            assert_eq!(
                equal,
                scenario.class_of(i) == scenario.class_of(j),
                "class of {a} and {b} disagrees with =="
            );
            ambiguous |= equal && a.to_string() != b.to_string();
        }
    }
    ambiguous
}
