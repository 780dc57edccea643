//! `compare --plot DIR` in a quick mode: every chart is written, and each is a well-formed
//! SVG document (parsed) that shows the columns it promises. The report itself goes to a
//! buffer, and must hold the machine-readable lines of every case and the parity bound of
//! every handoff case.

use std::path::Path;

use marketplace_harness::{CASES, TASK_CASES, compare};

#[test]
fn compare_writes_a_report_and_well_formed_svg_charts() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("charts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = Vec::new();
    let args = ["--items", "4000", "--repeats", "1", "--no-idle", "--plot"]
        .map(str::to_owned)
        .into_iter()
        .chain([dir.display().to_string()]);
    let code = compare::main(args, &mut report);
    assert_eq!(code, std::process::ExitCode::SUCCESS);

    let report = String::from_utf8(report).expect("the report is UTF-8");
    for name in CASES
        .iter()
        .map(|c| c.name)
        .chain(TASK_CASES.iter().map(|c| c.name))
    {
        assert!(
            report.contains(&format!("case={name} marketplace=")),
            "no machine-readable line for {name} in:\n{report}"
        );
    }
    for name in CASES
        .iter()
        .map(|c| c.name)
        .filter(|name| name.starts_with("handoff-"))
    {
        assert!(
            report.contains(&format!("parity bound ({name}): ")),
            "no parity bound for {name} in:\n{report}"
        );
    }

    for (chart, must_show) in [
        (
            "throughput.svg",
            &["marketplace", "channel", "kanal", "handoff-4x4"][..],
        ),
        (
            "threads.svg",
            &["marketplace", "locked", "threads per side"][..],
        ),
        (
            "scaling.svg",
            &["producer ids", "product kinds", "marketplace, one thread"][..],
        ),
        (
            "async.svg",
            &["async_channel", "tokio_mpsc", "async-handoff-8x8"][..],
        ),
    ] {
        let path = dir.join(chart);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{chart}: {e}"));
        let document = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{chart} is not well-formed XML: {e}"));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{chart}");
        let texts: Vec<&str> = document
            .descendants()
            .filter(|node| node.is_text())
            .filter_map(|node| node.text())
            .collect();
        for wanted in must_show {
            assert!(
                texts.iter().any(|t| t.contains(wanted)),
                "{chart} does not show {wanted:?}"
            );
        }
        let shapes = document
            .descendants()
            .filter(|n| ["rect", "polyline", "circle", "path"].contains(&n.tag_name().name()))
            .count();
        assert!(
            shapes > 10,
            "{chart} draws almost nothing ({shapes} shapes)"
        );
    }
}
