//! The demo scenario shipped in `scenarios/`: its expected output is what the scenario
//! predicts and what the binary prints, with each kind of actors, at `--time-scale 0` and
//! with real (scaled) waits.

mod support;

use marketplace_cli::scenario::Scenario;
use support::{ACTORS, assert_conforms, repo_root, run_scenario};

fn demo() -> (std::path::PathBuf, Vec<u8>) {
    let dir = repo_root().join("scenarios");
    let expected = std::fs::read(dir.join("demo.expected")).expect("scenarios/demo.expected");
    (dir.join("demo.json"), expected)
}

#[test]
fn demo_expected_output_is_what_the_scenario_predicts() {
    let (path, expected) = demo();
    let scenario = Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(scenario.warnings().is_empty(), "{:?}", scenario.warnings());
    let predicted: String = scenario
        .expected_output()
        .unwrap()
        .into_iter()
        .map(|line| line + "\n")
        .collect();
    assert_eq!(predicted.as_bytes(), expected);
}

#[test]
fn demo_runs_as_expected() {
    let (path, expected) = demo();
    for actors in ACTORS {
        for scale in ["0", "0.2"] {
            let output = run_scenario(&path, scale, actors);
            let what =
                format!("scenarios/demo.json with --actors {actors} at --time-scale {scale}");
            assert_conforms(&output, &expected, &what);
            println!("conforms: {what}");
        }
    }
}
