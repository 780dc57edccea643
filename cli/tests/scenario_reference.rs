//! The scenario model against the reference suite, without running anything: every
//! reference scenario validates, and the output computed from it alone (what each cart adds
//! minus what it removes) is exactly its `.ref.out`. Skips with a notice when
//! `../shared/reference-tests` is absent.

mod support;

use marketplace_cli::scenario::Scenario;
use support::reference_dir;

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
