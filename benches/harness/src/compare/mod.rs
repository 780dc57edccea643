//! `compare`: side-by-side throughput of the marketplace engine, the single-`Mutex` baseline (twice: as
//! the classic design, and with the engine's wait policy), bare `crossbeam_channel` and
//! `kanal` handoffs and a raw `ArrayQueue`, every case in one process.
//!
//! ```text
//! cargo run --release --example compare -- --quick             # one run, best of 3 rounds
//! cargo run --release --example compare -- --quick --runs 3    # three runs, then medians
//! cargo run --release --example compare -- --case handoff-4x4 --only marketplace --items 2000000
//! ```
//!
//! A run measures every case on every implementation (items/s, best of its rounds; each
//! round runs every case once, so load from other processes hits implementations and cases
//! alike), the single-threaded cost of one publish-add-order cycle, and prints one
//! machine-readable line per case:
//! `case=<name> marketplace=<items/s> locked=<items/s> channel=<items/s> kanal=<items/s> array_queue=<items/s>`
//! (`-` where a column does not apply or was not run; the async cases' lines have the
//! columns `marketplace`, `async_channel`, `kanal` and `tokio_mpsc`). With `--runs N` it
//! makes N runs and then prints a readable table of the medians (of an even count, the mean
//! of the middle two), with each ratio the median of the per-run ratios (measured side by
//! side, not the ratio of the medians) and its range, and one line per case:
//! `median case=<name> marketplace=<items/s> ... m/channel=<ratio> m/kanal=<ratio> m/locked=<ratio> m/locked_yield=<ratio>`
//! (a ratio only where both columns ran; the async cases': `m/async_channel`, `m/kanal`,
//! `m/tokio_mpsc`).
//! Compare ratios, not absolute figures: the machine may be slower for minutes at a time.
//!
//! `examples/compare.rs` runs it (`cargo run --release --example compare -- --quick`); the
//! crate's docs say what each case and column is. With `--plot DIR` it also draws the figures
//! as SVG charts (see `plot`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::io;
use std::path::PathBuf;

use crate::{CASES, Case, Imp, TASK_CASES, TaskCase, TaskImp, idle_wait, spread_cost};
use report::{
    print_flatness, print_idle, print_lines, print_median_lines, print_parity_bound, print_spread,
    print_table, print_task_median_lines, print_task_table,
};

mod plot;
mod report;

struct Options {
    /// Items per case (scaled by each case's weight).
    base_items: usize,
    repeats: usize,
    runs: usize,
    case: Option<String>,
    /// An implementation's column name (both tables).
    only: Option<String>,
    idle: bool,
    /// Where to write the SVG charts, if anywhere.
    plot: Option<PathBuf>,
}

const USAGE: &str = "usage: compare [--quick] [--runs N] [--items N] [--repeats R] [--case NAME] \
                     [--only marketplace|locked|locked_yield|channel|kanal|array_queue|async_channel|tokio_mpsc] \
                     [--no-idle] [--plot DIR]";

fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        base_items: 1_000_000,
        repeats: 5,
        runs: 1,
        case: None,
        only: None,
        idle: true,
        plot: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let mut count = |name: &str| -> Result<usize, String> {
            value(name)?.parse().map_err(|e| format!("{name}: {e}"))
        };
        match arg.as_str() {
            "--quick" => {
                options.base_items = 300_000;
                options.repeats = 3;
            }
            "--items" => options.base_items = count("--items")?,
            "--repeats" => options.repeats = count("--repeats")?,
            "--runs" => options.runs = count("--runs")?,
            "--case" => options.case = Some(value("--case")?),
            "--only" => {
                let name = value("--only")?;
                let known = Imp::ALL.iter().any(|imp| imp.name() == name)
                    || TaskImp::ALL.iter().any(|imp| imp.name() == name);
                if !known {
                    return Err(format!("--only: unknown implementation {name:?}"));
                }
                options.only = Some(name);
            }
            "--no-idle" => options.idle = false,
            "--plot" => {
                let dir = value("--plot")?;
                if dir.is_empty() {
                    return Err("--plot needs a directory".to_owned());
                }
                options.plot = Some(PathBuf::from(dir));
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if options.repeats == 0 || options.runs == 0 || options.base_items == 0 {
        return Err("--items, --repeats and --runs must be at least 1".to_owned());
    }
    Ok(options)
}

/// Items/s per implementation for one case.
pub(crate) type Row = BTreeMap<&'static str, f64>;

/// Single-thread ns per publish-add-order cycle: `(producer ids, kinds)` and the cost of the
/// marketplace and of the locked baseline.
pub(crate) type Spread = Vec<((usize, usize), [Option<f64>; 2])>;

/// What one run measured.
pub(crate) struct Run {
    pub(crate) rows: Vec<(Case, Row)>,
    /// The async cases: items/s per implementation.
    pub(crate) task_rows: Vec<(TaskCase, Row)>,
    pub(crate) spread: Spread,
}

/// Runs `compare` with `args` (without the program name), writing its report to `out`:
/// exit code 0, 2 for bad arguments, 1 when the report or the charts cannot be written.
pub fn main(args: impl IntoIterator<Item = String>, out: &mut dyn Write) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let wanted = |name: &str| options.case.as_deref().is_none_or(|case| case == name);
    let cases: Vec<Case> = CASES.into_iter().filter(|case| wanted(case.name)).collect();
    let task_cases: Vec<TaskCase> = TASK_CASES
        .into_iter()
        .filter(|case| wanted(case.name))
        .collect();
    if cases.is_empty() && task_cases.is_empty() {
        let known: Vec<&str> = CASES
            .iter()
            .map(|case| case.name)
            .chain(TASK_CASES.iter().map(|case| case.name))
            .collect();
        eprintln!("--case: no such case (known: {})", known.join(", "));
        return ExitCode::from(2);
    }
    let only = |name: &str| options.only.as_deref().is_none_or(|only| only == name);
    let imps: Vec<Imp> = Imp::ALL
        .into_iter()
        .filter(|imp| only(imp.name()))
        .collect();
    let task_imps: Vec<TaskImp> = TaskImp::ALL
        .into_iter()
        .filter(|imp| only(imp.name()))
        .collect();
    let measures_any = cases
        .iter()
        .any(|case| imps.iter().any(|imp| case.applies(*imp)))
        || !(task_cases.is_empty() || task_imps.is_empty());
    if !measures_any {
        // Only `--only` can leave nothing to run: every case applies to the engine.
        eprintln!(
            "--only: {} runs none of the cases chosen",
            options.only.as_deref().unwrap_or_default()
        );
        return ExitCode::from(2);
    }

    // Measuring takes minutes; a directory the charts cannot go to is found before that.
    if let Some(Err(e)) = options.plot.as_deref().map(plot::prepare) {
        eprintln!("--plot: {e}");
        return ExitCode::from(2);
    }

    match report(&options, (&cases, &imps), (&task_cases, &task_imps), out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("compare: {error}");
            ExitCode::from(1)
        }
    }
}

/// Measures everything asked and writes the report (and the charts, with `--plot`).
fn report(
    options: &Options,
    (cases, imps): (&[Case], &[Imp]),
    (task_cases, task_imps): (&[TaskCase], &[TaskImp]),
    out: &mut dyn Write,
) -> io::Result<()> {
    let began = Instant::now();
    let mut runs = Vec::with_capacity(options.runs);
    for number in 1..=options.runs {
        let run = measure(options, (cases, imps), (task_cases, task_imps), number);
        if options.runs > 1 {
            writeln!(out, "run {number}/{}", options.runs)?;
        }
        print_lines(out, &run.rows, &run.task_rows)?;
        runs.push(run);
    }
    let idle = options.idle.then(|| {
        [Imp::Marketplace, Imp::Locked, Imp::LockedYield]
            .map(|imp| (imp, idle_wait(imp, Duration::from_millis(300))))
    });
    eprintln!("measured in {:.1} s", began.elapsed().as_secs_f64());

    writeln!(out)?;
    let thread_medians = medians(&runs, |run: &Run| &run.rows);
    let task_medians = medians(&runs, |run: &Run| &run.task_rows);
    print_table(out, &runs, &thread_medians, options)?;
    print_task_table(out, &runs, &task_medians)?;
    print_flatness(out, &thread_medians)?;
    print_spread(out, &runs)?;
    print_parity_bound(out, &runs, &thread_medians)?;
    if let Some(idle) = idle {
        print_idle(out, &idle)?;
    }
    if options.runs > 1 {
        writeln!(out)?;
        print_median_lines(out, &runs, &thread_medians)?;
        print_task_median_lines(out, &runs, &task_medians)?;
    }
    if let Some(dir) = &options.plot {
        let written = plot::write_charts(dir, &thread_medians, &task_medians, &runs)?;
        for chart in written {
            eprintln!("compare: wrote {}", chart.display());
        }
    }
    Ok(())
}

/// One run: rounds outermost, each running every case on every implementation once, so the
/// best of each spreads over the whole run and a slow stretch of a shared machine hits all
/// cases alike.
fn measure(
    options: &Options,
    (cases, imps): (&[Case], &[Imp]),
    (task_cases, task_imps): (&[TaskCase], &[TaskImp]),
    number: usize,
) -> Run {
    let mut rows: Vec<(Case, Row)> = cases.iter().map(|case| (*case, Row::new())).collect();
    let mut task_rows: Vec<(TaskCase, Row)> =
        task_cases.iter().map(|case| (*case, Row::new())).collect();
    let keep_best = |row: &mut Row, name, rate: f64| {
        let best = row.entry(name).or_insert(0.0);
        *best = best.max(rate);
    };
    for round in 1..=options.repeats {
        eprint!(
            "run {number}/{} round {round}/{} ",
            options.runs, options.repeats
        );
        for (case, row) in &mut rows {
            let items = case.items_for(options.base_items);
            for &imp in imps.iter().filter(|imp| case.applies(**imp)) {
                keep_best(row, imp.name(), case.rate(imp, items));
            }
            eprint!(".");
            let _ = std::io::stderr().flush();
        }
        for (case, row) in &mut task_rows {
            let items = case.items_for(options.base_items);
            for &imp in task_imps {
                keep_best(row, imp.name(), case.rate(imp, items));
            }
            eprint!(".");
            let _ = std::io::stderr().flush();
        }
        eprintln!();
    }
    let spread = if options.case.is_none() {
        measure_spread(options)
    } else {
        Vec::new()
    };
    Run {
        rows,
        task_rows,
        spread,
    }
}

/// The uncontended cycle and the O(1) claim: one thread, every producer id and kind in turn.
const SPREADS: [(usize, usize); 3] = [(1, 1), (4096, 1), (1, 10_000)];

fn measure_spread(options: &Options) -> Spread {
    let items = options.base_items.min(1_000_000);
    SPREADS
        .map(|(producers, kinds)| {
            let best = [Imp::Marketplace, Imp::Locked].map(|imp| {
                (0..options.repeats)
                    .filter_map(|_| spread_cost(imp, producers, kinds, items))
                    .map(|elapsed| elapsed.as_nanos() as f64 / items as f64)
                    .reduce(f64::min)
            });
            ((producers, kinds), best)
        })
        .to_vec()
}

/// The median over the runs of the single-thread cost at `key` of implementation `i`
/// (0 the engine, 1 the baseline).
pub(crate) fn spread_median(runs: &[Run], key: (usize, usize), i: usize) -> Option<f64> {
    let costs = runs.iter().filter_map(|run| {
        let spread: &Spread = &run.spread;
        spread.iter().find(|(k, _)| *k == key)?.1[i]
    });
    median(costs.collect())
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Per case of the table `rows_of` picks, the median items/s of each implementation over
/// the runs.
fn medians<C: Copy>(runs: &[Run], rows_of: impl Fn(&Run) -> &Vec<(C, Row)>) -> Vec<(C, Row)> {
    rows_of(&runs[0])
        .iter()
        .enumerate()
        .map(|(i, (case, first))| {
            let row = first
                .keys()
                .filter_map(|&name| {
                    median(
                        runs.iter()
                            .filter_map(|run| rows_of(run)[i].1.get(name).copied())
                            .collect(),
                    )
                    .map(|rate| (name, rate))
                })
                .collect();
            (*case, row)
        })
        .collect()
}

/// Per-run ratios marketplace / `over` for thread case `i`: the median and the range.
pub(crate) fn ratios(runs: &[Run], i: usize, over: Imp) -> Option<(f64, f64, f64)> {
    ratios_of(runs.iter().map(|run| &run.rows[i].1), over.name())
}

/// Per-run ratios marketplace / `over` in the rows given: the median and the range.
pub(crate) fn ratios_of<'r>(
    rows: impl Iterator<Item = &'r Row>,
    over: &str,
) -> Option<(f64, f64, f64)> {
    let per_run: Vec<f64> = rows
        .filter_map(|row| Some(row.get("marketplace")? / row.get(over)?))
        .collect();
    let low = per_run.iter().copied().reduce(f64::min)?;
    let high = per_run.iter().copied().reduce(f64::max)?;
    Some((median(per_run)?, low, high))
}
