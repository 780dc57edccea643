//! Conformance: every reference scenario in `../shared/reference-tests`, run by the binary
//! with each kind of actors (`--actors tasks` and `threads`), at `--time-scale 0` and at
//! `0.05`; the sorted output must equal `NN.ref.out` byte for byte. One test per scenario,
//! actors and scale, so the test runner names each one (`ref_01::tasks_scale0`); each skips
//! with a notice when `../shared` is absent.

mod support;

use support::{assert_conforms, reference_dir, run_scenario};

fn conforms(n: u32, actors: &str, scale: &str) {
    let Some(dir) = reference_dir() else { return };
    let input = dir.join(format!("{n:02}.in"));
    let expected = std::fs::read(dir.join(format!("{n:02}.ref.out"))).expect("NN.ref.out");
    let output = run_scenario(&input, scale, actors);
    let what = format!(
        "{} with --actors {actors} at --time-scale {scale}",
        input.display()
    );
    assert_conforms(&output, &expected, &what);
    println!("conforms: {what}");
}

macro_rules! reference {
    ($($n:literal: $name:ident;)*) => {$(
        mod $name {
            #[test]
            fn tasks_scale0() {
                super::conforms($n, "tasks", "0");
            }

            #[test]
            fn tasks_scale005() {
                super::conforms($n, "tasks", "0.05");
            }

            #[test]
            fn threads_scale0() {
                super::conforms($n, "threads", "0");
            }

            #[test]
            fn threads_scale005() {
                super::conforms($n, "threads", "0.05");
            }
        }
    )*};
}

reference! {
    1: ref_01;
    2: ref_02;
    3: ref_03;
    4: ref_04;
    5: ref_05;
    6: ref_06;
    7: ref_07;
    8: ref_08;
    9: ref_09;
    10: ref_10;
}
