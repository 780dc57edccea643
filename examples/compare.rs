//! Side-by-side throughput of the marketplace engine, the single-`Mutex` baseline (twice: as
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
//! (`-` where a column does not apply or was not run). With `--runs N` it makes N runs and
//! then prints a readable table of the medians, with each ratio the median of the per-run
//! ratios (measured side by side) and its range, and one line per case:
//! `median case=<name> marketplace=<items/s> ... m/channel=<ratio> m/kanal=<ratio> m/locked=<ratio>`.
//! Compare ratios, not absolute figures: the machine may be slower for minutes at a time.
//!
//! The workload is the `marketplace-harness` crate (`benches/harness`, shared with the
//! criterion suites), whose docs say what each case and column is.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use marketplace_harness::{
    CASES, Case, IdleWait, Imp, TASK_CASES, TaskCase, TaskImp, idle_wait, spread_cost,
};

struct Options {
    base_items: usize,
    repeats: usize,
    runs: usize,
    case: Option<String>,
    /// An implementation's column name (both tables).
    only: Option<String>,
    idle: bool,
}

const USAGE: &str = "usage: compare [--quick] [--runs N] [--items N] [--repeats R] [--case NAME] \
                     [--only marketplace|locked|locked_yield|channel|kanal|array_queue|async_channel|tokio_mpsc] \
                     [--no-idle]";

fn parse() -> Result<Options, String> {
    let mut options = Options {
        base_items: 1_000_000,
        repeats: 5,
        runs: 1,
        case: None,
        only: None,
        idle: true,
    };
    let mut args = std::env::args().skip(1);
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
type Row = BTreeMap<&'static str, f64>;

/// Single-thread ns per publish-add-order cycle: `(producer ids, kinds)` and the cost of the
/// marketplace and of the locked baseline.
type Spread = Vec<((usize, usize), [Option<f64>; 2])>;

/// What one run measured.
struct Run {
    rows: Vec<(Case, Row)>,
    /// The async cases: items/s per implementation.
    task_rows: Vec<(TaskCase, Row)>,
    spread: Spread,
}

fn main() -> ExitCode {
    let options = match parse() {
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

    let began = Instant::now();
    let mut runs = Vec::with_capacity(options.runs);
    for number in 1..=options.runs {
        let run = measure(&options, (&cases, &imps), (&task_cases, &task_imps), number);
        if options.runs > 1 {
            println!("run {number}/{}", options.runs);
        }
        print_lines(&run.rows, &run.task_rows);
        runs.push(run);
    }
    let idle = options.idle.then(|| {
        [Imp::Marketplace, Imp::Locked, Imp::LockedYield]
            .map(|imp| (imp, idle_wait(imp, Duration::from_millis(300))))
    });
    eprintln!("measured in {:.1} s", began.elapsed().as_secs_f64());

    println!();
    let thread_medians = medians(&runs, |run: &Run| &run.rows);
    let task_medians = medians(&runs, |run: &Run| &run.task_rows);
    print_table(&runs, &thread_medians, &options);
    print_task_table(&runs, &task_medians);
    print_flatness(&thread_medians);
    print_spread(&runs);
    if let Some(idle) = idle {
        print_idle(&idle);
    }
    if options.runs > 1 {
        println!();
        print_median_lines(&runs, &thread_medians);
        print_task_median_lines(&runs, &task_medians);
    }
    ExitCode::SUCCESS
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

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
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
fn ratios(runs: &[Run], i: usize, over: Imp) -> Option<(f64, f64, f64)> {
    ratios_of(runs.iter().map(|run| &run.rows[i].1), over.name())
}

/// Per-run ratios marketplace / `over` in the rows given: the median and the range.
fn ratios_of<'r>(rows: impl Iterator<Item = &'r Row>, over: &str) -> Option<(f64, f64, f64)> {
    let per_run: Vec<f64> = rows
        .filter_map(|row| Some(row.get("marketplace")? / row.get(over)?))
        .collect();
    let low = per_run.iter().copied().reduce(f64::min)?;
    let high = per_run.iter().copied().reduce(f64::max)?;
    Some((median(per_run)?, low, high))
}

fn cell(row: &Row, imp: Imp, show: impl Fn(f64) -> String) -> String {
    row.get(imp.name())
        .map_or_else(|| "-".to_owned(), |&rate| show(rate))
}

fn print_lines(rows: &[(Case, Row)], task_rows: &[(TaskCase, Row)]) {
    for (case, row) in rows {
        let mut line = format!("case={}", case.name);
        for imp in Imp::LINE_COLUMNS {
            line += &format!(" {}={}", imp.name(), cell(row, imp, |r| format!("{r:.0}")));
        }
        println!("{line}");
    }
    for (case, row) in task_rows {
        println!("case={} {}", case.name, task_cells(row));
    }
}

/// `name=items/s` for every async column.
fn task_cells(row: &Row) -> String {
    TaskImp::ALL
        .map(|imp| {
            let rate = row
                .get(imp.name())
                .map_or("-".to_owned(), |r| format!("{r:.0}"));
            format!("{}={rate}", imp.name())
        })
        .join(" ")
}

const TASK_RATIOS: [TaskImp; 3] = [TaskImp::AsyncChannel, TaskImp::Kanal, TaskImp::TokioMpsc];

fn print_task_table(runs: &[Run], medians: &[(TaskCase, Row)]) {
    if medians.is_empty() {
        return;
    }
    println!();
    println!("async tasks on a 2-worker tokio runtime, items/s; ratios are marketplace / other");
    print!("{:<20}", "case");
    for imp in TaskImp::ALL {
        print!(" {:>14}", imp.name());
    }
    for over in TASK_RATIOS {
        print!(" {:>24}", format!("m/{}", over.name()));
    }
    println!();
    for (i, (case, row)) in medians.iter().enumerate() {
        print!("{:<20}", case.name);
        for imp in TaskImp::ALL {
            let rate = row
                .get(imp.name())
                .map_or("-".to_owned(), |r| format!("{:.2} M", r / 1e6));
            print!(" {rate:>14}");
        }
        for over in TASK_RATIOS {
            let shown = match ratios_of(runs.iter().map(|run| &run.task_rows[i].1), over.name()) {
                Some((ratio, low, high)) if runs.len() > 1 => {
                    format!("{ratio:.2}x ({low:.2}-{high:.2})")
                }
                Some((ratio, _, _)) => format!("{ratio:.2}x"),
                None => "-".to_owned(),
            };
            print!(" {shown:>24}");
        }
        println!();
    }
}

fn print_task_median_lines(runs: &[Run], medians: &[(TaskCase, Row)]) {
    for (i, (case, row)) in medians.iter().enumerate() {
        let mut line = format!("median case={} {}", case.name, task_cells(row));
        for over in TASK_RATIOS {
            if let Some((ratio, _, _)) =
                ratios_of(runs.iter().map(|run| &run.task_rows[i].1), over.name())
            {
                line += &format!(" m/{}={ratio:.2}", over.name());
            }
        }
        println!("{line}");
    }
}

const RATIO_COLUMNS: [Imp; 4] = [Imp::Channel, Imp::Kanal, Imp::Locked, Imp::LockedYield];

fn print_median_lines(runs: &[Run], medians: &[(Case, Row)]) {
    for (i, (case, row)) in medians.iter().enumerate() {
        let mut line = format!("median case={}", case.name);
        for imp in Imp::LINE_COLUMNS {
            line += &format!(" {}={}", imp.name(), cell(row, imp, |r| format!("{r:.0}")));
        }
        for over in RATIO_COLUMNS {
            if let Some((ratio, _, _)) = ratios(runs, i, over) {
                line += &format!(" m/{}={ratio:.2}", over.name());
            }
        }
        println!("{line}");
    }
}

fn print_table(runs: &[Run], medians: &[(Case, Row)], options: &Options) {
    let what = if runs.len() > 1 {
        format!(
            "median of {} runs, each the best of {} rounds; ratios: median of the per-run ratios (range)",
            runs.len(),
            options.repeats
        )
    } else {
        format!("best of {} rounds", options.repeats)
    };
    println!("items/s ({what}); M = millions; ratios are marketplace / other");
    let columns = Imp::ALL.map(Imp::name);
    print!("{:<16}", "case");
    for name in columns {
        print!(" {name:>12}");
    }
    for over in RATIO_COLUMNS {
        print!(" {:>22}", format!("m/{}", over.name()));
    }
    println!(" {:>10}", "m ns/item");
    for (i, (case, row)) in medians.iter().enumerate() {
        print!("{:<16}", case.name);
        for imp in Imp::ALL {
            print!(
                " {:>12}",
                cell(row, imp, |rate| format!("{:.2} M", rate / 1e6))
            );
        }
        for over in RATIO_COLUMNS {
            let shown = match ratios(runs, i, over) {
                Some((ratio, low, high)) if runs.len() > 1 => {
                    format!("{ratio:.2}x ({low:.2}-{high:.2})")
                }
                Some((ratio, _, _)) => format!("{ratio:.2}x"),
                None => "-".to_owned(),
            };
            print!(" {shown:>22}");
        }
        println!(
            " {:>10}",
            cell(row, Imp::Marketplace, |rate| format!("{:.0}", 1e9 / rate))
        );
    }
}

/// Per-item cost growth: producers-4096 over producers-1, kinds-10000 over kinds-1 (target:
/// at most 1.5x), with the channel and raw queue as controls.
fn print_flatness(rows: &[(Case, Row)]) {
    let rate = |name: &str, imp: Imp| {
        rows.iter()
            .find(|(case, _)| case.name == name)
            .and_then(|(_, row)| row.get(imp.name()).copied())
    };
    // kinds-1 has all pairs sharing one kind, kinds-100/10000 give each pair its own kinds
    // (see the harness docs), so kinds-10000 / kinds-100 is the like-for-like figure. The
    // bare references do no per-kind work at all: their ratios are the workload's own share
    // of the figure, the control to read the others against.
    for (many, one) in [
        ("producers-4096", "producers-1"),
        ("kinds-10000", "kinds-1"),
        ("kinds-10000", "kinds-100"),
    ] {
        for imp in Imp::LINE_COLUMNS {
            if let (Some(many_rate), Some(one_rate)) = (rate(many, imp), rate(one, imp)) {
                let note = if imp.is_market() {
                    "target <= 1.5x"
                } else {
                    "control: no per-kind work"
                };
                println!(
                    "contended per-item cost {many} / {one} ({}): {:.2}x ({note})",
                    imp.name(),
                    one_rate / many_rate
                );
            }
        }
    }
}

/// The uncontended cycle (median over runs) and its flatness across producers and kinds.
fn print_spread(runs: &[Run]) {
    let cost = |key: (usize, usize), i: usize| {
        median(
            runs.iter()
                .filter_map(|run| run.spread.iter().find(|(k, _)| *k == key)?.1[i])
                .collect(),
        )
    };
    for (i, name) in ["marketplace", "locked"].into_iter().enumerate() {
        let (Some(base), Some(producers), Some(kinds)) =
            (cost((1, 1), i), cost((4096, 1), i), cost((1, 10_000), i))
        else {
            continue;
        };
        println!(
            "single-thread ns/item ({name}): 1 producer 1 kind {base:.0}; 4096 producers {producers:.0} \
             ({:.2}x); 10000 kinds {kinds:.0} ({:.2}x)",
            producers / base,
            kinds / base
        );
    }
}

fn print_idle(idle: &[(Imp, Option<IdleWait>)]) {
    for (imp, wait) in idle {
        match wait {
            Some(wait) => println!(
                "idle consumer ({}): {:.0?} blocked in add_to_cart_timeout, waiting thread used \
                 {:.2?} CPU ({:.2}%), process {:.0?} ({:.1}%)",
                imp.name(),
                wait.wall,
                wait.thread_cpu,
                100.0 * wait.thread_share(),
                wait.process_cpu,
                100.0 * wait.process_share(),
            ),
            None => println!(
                "idle consumer ({}): /proc not readable, not measured",
                imp.name()
            ),
        }
    }
}
