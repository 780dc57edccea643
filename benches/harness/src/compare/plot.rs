//! `compare --plot DIR`: the figures as SVG charts, drawn with `plotters`' SVG backend (no
//! system libraries, no fonts to install: text is SVG text).
//!
//! Four charts, from the medians of the runs:
//! - `throughput.svg`: items/s of every implementation in every thread case (log scale, so
//!   the 0.3 M/s of the classic design and the 60 M/s of a raw queue fit on one axis);
//! - `threads.svg`: items/s against producer and consumer threads (1x1 to 8x8);
//! - `scaling.svg`: cost per item against producer ids (1 to 4,096) and product kinds
//!   (1 to 10,000), contended and single-threaded;
//! - `async.svg`: items/s of the async handoffs of tasks.

use std::io;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{Row, Run, spread_median};
use crate::{Case, TaskCase, TaskImp};

const SIZE: (u32, u32) = (960, 540);

/// One colour per column, the same in every chart.
fn colour(name: &str) -> RGBColor {
    match name {
        "marketplace" => RGBColor(0x1f, 0x77, 0xb4),
        "locked" => RGBColor(0xd6, 0x27, 0x28),
        "locked_yield" => RGBColor(0xff, 0x7f, 0x0e),
        "channel" => RGBColor(0x2c, 0xa0, 0x2c),
        "kanal" => RGBColor(0x94, 0x67, 0xbd),
        "array_queue" => RGBColor(0x7f, 0x7f, 0x7f),
        "async_channel" => RGBColor(0x17, 0xbe, 0xcf),
        "tokio_mpsc" => RGBColor(0x8c, 0x56, 0x4b),
        _ => BLACK,
    }
}

/// The thread columns in chart order.
const COLUMNS: [&str; 6] = [
    "marketplace",
    "locked",
    "locked_yield",
    "channel",
    "kanal",
    "array_queue",
];

/// Creates `dir` if missing and makes sure a file can be written in it (by writing and
/// removing one); the error names `dir`.
pub(super) fn prepare(dir: &Path) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(named)?;
    let probe = dir.join(format!(".compare-{}.check", std::process::id()));
    std::fs::write(&probe, b"").map_err(named)?;
    std::fs::remove_file(&probe).map_err(named)
}

/// Writes the charts into `dir` (created if missing) and returns their paths.
pub(super) fn write_charts(
    dir: &Path,
    cases: &[(Case, Row)],
    tasks: &[(TaskCase, Row)],
    runs: &[Run],
) -> io::Result<Vec<PathBuf>> {
    prepare(dir)?;
    let mut written = Vec::new();
    let mut chart = |name: &str, draw: &dyn Fn(&Path) -> Result<(), String>| {
        let path = dir.join(name);
        draw(&path).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        written.push(path);
        io::Result::Ok(())
    };
    if !cases.is_empty() {
        let groups: Vec<(&str, &Row)> = cases.iter().map(|(case, row)| (case.name, row)).collect();
        chart("throughput.svg", &|path| {
            grouped_bars(
                path,
                "items/s per case, threads (median of runs)",
                &groups,
                &COLUMNS,
            )
        })?;
        let handoffs: Vec<(usize, &Row)> = cases
            .iter()
            .filter(|(case, _)| case.name.starts_with("handoff-"))
            .map(|(case, row)| (case.producers, row))
            .collect();
        if handoffs.len() > 1 {
            chart("threads.svg", &|path| threads(path, &handoffs))?;
        }
        chart("scaling.svg", &|path| scaling(path, cases, runs))?;
    }
    if !tasks.is_empty() {
        let groups: Vec<(&str, &Row)> = tasks.iter().map(|(case, row)| (case.name, row)).collect();
        let columns = TaskImp::ALL.map(TaskImp::name);
        chart("async.svg", &|path| {
            grouped_bars(
                path,
                "items/s per case, tasks on 2 workers (median of runs)",
                &groups,
                &columns,
            )
        })?;
    }
    Ok(written)
}

fn error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Bars of items/s, one group per case, one bar per column that ran it, on a log scale.
fn grouped_bars(
    path: &Path,
    title: &str,
    groups: &[(&str, &Row)],
    columns: &[&str],
) -> Result<(), String> {
    let rates = groups.iter().flat_map(|(_, row)| row.values().copied());
    let (low, high) = bounds(rates);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(error)?;
    let width = columns.len() as f64 + 1.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..groups.len() as f64 * width, (low..high).log_scale())
        .map_err(error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("items/s")
        .y_label_formatter(&|v| millions(*v))
        .draw()
        .map_err(error)?;
    for (g, (name, row)) in groups.iter().enumerate() {
        let left = g as f64 * width;
        chart
            .draw_series(std::iter::once(Text::new(
                name.to_string(),
                (left + 0.3, low),
                ("sans-serif", 12)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )))
            .map_err(error)?;
        for (c, column) in columns.iter().enumerate() {
            if let Some(&rate) = row.get(column) {
                let x = left + 0.5 + c as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, low), (x + 0.9, rate)],
                        colour(column).filled(),
                    )))
                    .map_err(error)?;
            }
        }
    }
    legend(&mut chart, columns)?;
    root.present().map_err(error)
}

/// Items/s against threads per side, one line per column.
fn threads(path: &Path, handoffs: &[(usize, &Row)]) -> Result<(), String> {
    let rates = handoffs.iter().flat_map(|(_, row)| row.values().copied());
    let (low, high) = bounds(rates);
    let most = handoffs
        .iter()
        .map(|(threads, _)| *threads)
        .max()
        .unwrap_or(1) as f64;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "items/s against threads (P producers x P consumers, one product, carts of one)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..most * 1.1).log_scale(), (low..high).log_scale())
        .map_err(error)?;
    chart
        .configure_mesh()
        .x_desc("threads per side")
        .y_desc("items/s")
        .y_label_formatter(&|v| millions(*v))
        .draw()
        .map_err(error)?;
    for column in COLUMNS {
        let points: Vec<(f64, f64)> = handoffs
            .iter()
            .filter_map(|(threads, row)| Some((*threads as f64, *row.get(column)?)))
            .collect();
        line(&mut chart, column, points)?;
    }
    legend(&mut chart, &COLUMNS)?;
    root.present().map_err(error)
}

/// Nanoseconds per item against producer ids and product kinds: contended (from the cases)
/// and single-threaded (from the spread measurements), for the engine and the baseline.
fn scaling(path: &Path, cases: &[(Case, Row)], runs: &[Run]) -> Result<(), String> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(error)?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let contended = |prefix: &str, column: &str| -> Vec<(f64, f64)> {
        cases
            .iter()
            .filter_map(|(case, row)| {
                let count: f64 = case.name.strip_prefix(prefix)?.parse().ok()?;
                Some((count, 1e9 / row.get(column)?))
            })
            .collect()
    };
    let single = |by_kinds: bool, i: usize| -> Vec<(f64, f64)> {
        let keys = spread_keys(runs);
        keys.into_iter()
            .filter(|(producers, kinds)| {
                if by_kinds {
                    *producers == 1
                } else {
                    *kinds == 1
                }
            })
            .filter_map(|key| {
                let cost = spread_median(runs, key, i)?;
                Some((if by_kinds { key.1 } else { key.0 } as f64, cost))
            })
            .collect()
    };
    for (area, prefix, by_kinds, what) in [
        (&left, "producers-", false, "producer ids"),
        (&right, "kinds-", true, "product kinds"),
    ] {
        let series = [
            (
                "marketplace, 4x4 threads",
                contended(prefix, "marketplace"),
                colour("marketplace").to_rgba(),
            ),
            (
                "locked, 4x4 threads",
                contended(prefix, "locked"),
                colour("locked").to_rgba(),
            ),
            (
                "marketplace, one thread",
                single(by_kinds, 0),
                colour("marketplace").mix(0.45),
            ),
            (
                "locked, one thread",
                single(by_kinds, 1),
                colour("locked").mix(0.45),
            ),
        ];
        let costs = series
            .iter()
            .flat_map(|(_, points, _)| points.iter().map(|p| p.1));
        let (low, high) = bounds(costs);
        let most = series
            .iter()
            .flat_map(|(_, points, _)| points.iter().map(|p| p.0))
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(area)
            .caption(format!("ns per item against {what}"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d((1.0..most * 1.5).log_scale(), (low..high).log_scale())
            .map_err(error)?;
        chart
            .configure_mesh()
            .x_desc(what)
            .y_desc("ns per item")
            .draw()
            .map_err(error)?;
        for (label, points, shade) in series {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), shade.stroke_width(2)))
                .map_err(error)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], shade.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, shade.filled())),
                )
                .map_err(error)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(error)?;
    }
    root.present().map_err(error)
}

/// The `(producer ids, kinds)` the spread measured, in the order of the first run.
fn spread_keys(runs: &[Run]) -> Vec<(usize, usize)> {
    runs.first().map_or_else(Vec::new, |run: &Run| {
        run.spread.iter().map(|(key, _)| *key).collect()
    })
}

/// Draws one column's line with markers, labelled for the legend.
fn line<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    column: &str,
    points: Vec<(f64, f64)>,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if points.is_empty() {
        return Ok(());
    }
    let shade = colour(column);
    chart
        .draw_series(LineSeries::new(points.clone(), shade.stroke_width(2)))
        .map_err(error)?;
    chart
        .draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, shade.filled())),
        )
        .map_err(error)?;
    Ok(())
}

/// A legend of coloured squares for `columns`, top right.
fn legend<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    columns: &[&str],
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for column in columns {
        let shade = colour(column);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(error)?
            .label(column.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], shade.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(error)
}

/// An axis range around `values` for a log scale: a little below the least, a little above
/// the most.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(low, high), v| {
            (low.min(v), high.max(v))
        });
    if low > high {
        (1.0, 10.0)
    } else {
        (low / 2.0, high * 2.0)
    }
}

/// `12.5 M`, `300 k`: an axis label in items/s.
fn millions(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.1} M", value / 1e6)
    } else {
        format!("{:.0} k", value / 1e3)
    }
}
