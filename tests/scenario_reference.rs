//! The scenario model against the reference suite, without running anything: every
//! reference scenario validates, and the output computed from it alone (what each cart adds
//! minus what it removes) is exactly its `.ref.out`. Skips with a notice when
//! `../shared/reference-tests` is absent.
#![cfg(feature = "scenario")]

use std::path::PathBuf;

use marketplace::scenario::Scenario;

fn reference_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference-tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

#[test]
fn reference_scenarios_validate_and_predict_their_output() {
    let Some(dir) = reference_dir() else { return };
    let mut checked = 0;
    for n in 1..=10 {
        let input = dir.join(format!("{n:02}.in"));
        let Ok(text) = std::fs::read_to_string(&input) else {
            continue;
        };
        let scenario = Scenario::from_json(&text)
            .unwrap_or_else(|e| panic!("{} is invalid:\n{e}", input.display()));
        let expected = std::fs::read_to_string(dir.join(format!("{n:02}.ref.out"))).unwrap();
        let mut predicted = scenario.expected_output().expect("output is determined");
        predicted.iter_mut().for_each(|l| l.push('\n'));
        assert_eq!(predicted.concat(), expected, "{}", input.display());
        println!("checked {}", input.display());
        checked += 1;
    }
    assert_eq!(checked, 10, "all ten reference scenarios are present");
}
