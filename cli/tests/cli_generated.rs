//! Generated scenarios at scale (hundreds of actors, thousands as tasks) and with tricky
//! names and numbers: `marketplace gen --expected` predicts the output from the scenario
//! alone, and a run of the binary must print exactly that (sorted), with each kind of
//! actors, at `--time-scale 0` and with real waits.

mod support;

use std::ffi::OsStr;

use support::{ACTORS, assert_conforms, marketplace, run_scenario, temp_path};

/// Generates a scenario with `gen_args`, then runs it with each kind of actors at each of
/// `scales`.
fn generate_and_run(name: &str, gen_args: &[&str], scales: &[&str]) {
    generate_and_run_with(name, gen_args, &ACTORS, scales);
}

/// Generates a scenario with `gen_args`, then runs it with each of `actors` at each of
/// `scales`.
fn generate_and_run_with(name: &str, gen_args: &[&str], actors: &[&str], scales: &[&str]) {
    let expected_path = temp_path(&format!("{name}.expected"));
    let mut args = vec![
        OsStr::new("gen"),
        OsStr::new("--expected"),
        expected_path.as_os_str(),
    ];
    args.extend(gen_args.iter().map(OsStr::new));
    let generated = marketplace(&args);
    assert!(
        generated.status.success(),
        "gen {gen_args:?}: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let scenario_path = temp_path(&format!("{name}.json"));
    std::fs::write(&scenario_path, &generated.stdout).unwrap();
    let expected = std::fs::read(&expected_path).unwrap();
    assert!(!expected.is_empty(), "{name}: the scenario buys something");
    let lines = expected.iter().filter(|&&b| b == b'\n').count();
    for actors in actors {
        for scale in scales {
            let output = run_scenario(&scenario_path, scale, actors);
            let what = format!("{name} with --actors {actors} at --time-scale {scale}");
            assert_conforms(&output, &expected, &what);
            println!("conforms: {what} ({lines} lines)");
        }
    }
}

#[test]
fn gen_200_producers_200_consumers() {
    generate_and_run(
        "big",
        &[
            "--producers",
            "200",
            "--consumers",
            "200",
            "--products",
            "20",
            "--seed",
            "7",
        ],
        &["0", "0.2"],
    );
}

/// Thousands of actors: as tasks only, since as threads they would only measure how fast
/// the system starts threads.
#[test]
fn gen_2000_producers_2000_consumers_as_tasks() {
    generate_and_run_with(
        "tasks-2000",
        &[
            "--producers",
            "2000",
            "--consumers",
            "2000",
            "--products",
            "200",
            "--seed",
            "5",
        ],
        &["tasks"],
        &["0", "0.2"],
    );
}

#[test]
fn gen_tricky_names_and_numbers_with_many_actors() {
    generate_and_run(
        "tricky",
        &[
            "--tricky",
            "--producers",
            "150",
            "--consumers",
            "250",
            "--products",
            "40",
            "--seed",
            "11",
        ],
        &["0", "0.2"],
    );
}

#[test]
fn gen_many_products_small_queues() {
    generate_and_run(
        "wide",
        &[
            "--products",
            "1000",
            "--consumers",
            "100",
            "--queue-size",
            "1",
            "--ops",
            "8",
            "--seed",
            "3",
        ],
        &["0"],
    );
}

#[test]
fn gen_tricky_seeds() {
    for seed in ["1", "2", "3", "4", "5"] {
        generate_and_run(
            &format!("tricky-seed-{seed}"),
            &[
                "--tricky",
                "--consumers",
                "20",
                "--products",
                "12",
                "--queue-size",
                "2",
                "--seed",
                seed,
            ],
            &["0"],
        );
    }
}

#[test]
fn gen_is_reproducible() {
    let args = ["gen", "--tricky", "--seed", "99", "--consumers", "7"];
    let a = marketplace(&args);
    let b = marketplace(&args);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let c = marketplace(&["gen", "--tricky", "--seed", "100", "--consumers", "7"]);
    assert_ne!(a.stdout, c.stdout);
    // What gen writes passes check.
    let path = temp_path("reproducible.json");
    std::fs::write(&path, &a.stdout).unwrap();
    let checked = marketplace(&["check".as_ref(), path.as_os_str()]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}
