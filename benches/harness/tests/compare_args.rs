//! `compare`'s arguments: a choice of case and implementation that measures nothing is bad
//! input (exit code 2, one message, nothing on stdout), not an empty report.

use std::process::ExitCode;

use marketplace_harness::compare;

/// Runs `compare` with `args` (and tiny counts); its exit code and report.
fn run(args: &[&str]) -> (ExitCode, String) {
    let mut report = Vec::new();
    let args = ["--items", "100", "--repeats", "1", "--no-idle"]
        .iter()
        .chain(args)
        .map(|arg| (*arg).to_owned());
    let code = compare::main(args, &mut report);
    (
        code,
        String::from_utf8(report).expect("the report is UTF-8"),
    )
}

#[test]
fn an_implementation_that_runs_none_of_the_chosen_cases_is_refused() {
    for args in [
        ["--case", "producers-1", "--only", "channel"],
        ["--case", "async-handoff-4x4", "--only", "locked"],
        ["--case", "handoff-1x1", "--only", "tokio_mpsc"],
    ] {
        let (code, report) = run(&args);
        assert_eq!(code, ExitCode::from(2), "{args:?} gave:\n{report}");
        assert!(report.is_empty(), "{args:?} wrote:\n{report}");
    }
}

#[test]
fn an_implementation_that_runs_a_chosen_case_is_measured() {
    let (code, report) = run(&["--case", "handoff-1x1", "--only", "kanal"]);
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(
        report.contains("case=handoff-1x1 marketplace=- locked=- channel=- kanal="),
        "{report}"
    );
    assert!(!report.contains("kanal=-"), "kanal not measured:\n{report}");
}

#[test]
fn an_async_case_alone_prints_no_empty_thread_table() {
    let (code, report) = run(&["--case", "async-handoff-4x4", "--runs", "2"]);
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(
        report.contains("median case=async-handoff-4x4 marketplace="),
        "{report}"
    );
    assert!(
        !report.contains("locked_yield"),
        "a thread table with no rows:\n{report}"
    );
}

/// A `--plot` directory that cannot be made is bad input, found before any measuring:
/// exit code 2, no report, instead of an exit code 1 after minutes of measuring.
#[test]
fn a_plot_directory_that_cannot_be_made_is_refused_before_measuring() {
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("plot-target-{}", std::process::id()));
    std::fs::write(&file, "not a directory").expect("a scratch file");
    let (code, report) = run(&[
        "--case",
        "handoff-1x1",
        "--plot",
        &file.display().to_string(),
    ]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, ExitCode::from(2), "gave:\n{report}");
    assert!(report.is_empty(), "measured before refusing:\n{report}");
    // An empty DIR would scatter the charts into the working directory.
    let (code, report) = run(&["--case", "handoff-1x1", "--plot", ""]);
    assert_eq!(code, ExitCode::from(2), "gave:\n{report}");
    assert!(report.is_empty(), "measured before refusing:\n{report}");
}
