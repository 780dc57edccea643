//! Generated scenarios at scale (hundreds of threads) and with tricky names and numbers:
//! `marketplace gen --expected` predicts the output from the scenario alone, and a run of
//! the binary must print exactly that (sorted), at `--time-scale 0` and with real waits.

mod support;

use std::ffi::OsStr;

use support::{assert_conforms, marketplace, temp_path};

/// Generates a scenario with `gen_args`, then runs it at each of `scales`.
fn generate_and_run(name: &str, gen_args: &[&str], scales: &[&str]) {
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
    for scale in scales {
        let output = marketplace(&[
            "run".as_ref(),
            scenario_path.as_os_str(),
            "--time-scale".as_ref(),
            scale.as_ref(),
        ]);
        assert_conforms(
            &output,
            &expected,
            &format!("{name} at --time-scale {scale}"),
        );
        println!(
            "conforms: {name} ({} lines) at --time-scale {scale}",
            expected.iter().filter(|&&b| b == b'\n').count()
        );
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

#[test]
fn gen_tricky_names_and_numbers_with_many_threads() {
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
