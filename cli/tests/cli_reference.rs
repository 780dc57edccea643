//! Conformance: every reference scenario in `../shared/reference-tests`, run by the binary
//! at `--time-scale 0` and at `0.05`; the sorted output must equal `NN.ref.out` byte for
//! byte. One test per scenario and scale, so the test runner names each one; each skips
//! with a notice when `../shared` is absent.

mod support;

use support::{assert_conforms, marketplace, reference_dir};

fn conforms(n: u32, scale: &str) {
    let Some(dir) = reference_dir() else { return };
    let input = dir.join(format!("{n:02}.in"));
    let expected = std::fs::read(dir.join(format!("{n:02}.ref.out"))).expect("NN.ref.out");
    let output = marketplace(&[
        "run".as_ref(),
        input.as_os_str(),
        "--time-scale".as_ref(),
        scale.as_ref(),
    ]);
    assert_conforms(
        &output,
        &expected,
        &format!("{} at --time-scale {scale}", input.display()),
    );
    println!("conforms: {} at --time-scale {scale}", input.display());
}

macro_rules! reference {
    ($($n:literal: $scale0:ident, $scaled:ident;)*) => {$(
        #[test]
        fn $scale0() {
            conforms($n, "0");
        }

        #[test]
        fn $scaled() {
            conforms($n, "0.05");
        }
    )*};
}

reference! {
    1: ref_01_scale0, ref_01_scale005;
    2: ref_02_scale0, ref_02_scale005;
    3: ref_03_scale0, ref_03_scale005;
    4: ref_04_scale0, ref_04_scale005;
    5: ref_05_scale0, ref_05_scale005;
    6: ref_06_scale0, ref_06_scale005;
    7: ref_07_scale0, ref_07_scale005;
    8: ref_08_scale0, ref_08_scale005;
    9: ref_09_scale0, ref_09_scale005;
    10: ref_10_scale0, ref_10_scale005;
}
