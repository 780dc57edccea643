//! Side-by-side throughput of the marketplace engine, the single-`Mutex` baseline (twice: as
//! the classic design, and with the engine's wait policy), a `crossbeam_channel` and a raw
//! `ArrayQueue`, every case in one process.
//!
//! ```text
//! cargo run --release --example compare -- --quick     # < 2 minutes on 2 cores, best of 3
//! cargo run --release --example compare                # more items, best of 5
//! cargo run --release --example compare -- --case handoff-4x4 --only marketplace --items 2000000
//! ```
//!
//! Prints a table (items/s, best run; ratios marketplace/locked, marketplace/locked_yield and
//! marketplace/channel), the per-item cost growth with producer ids and kinds (contended, from
//! the table, and single-threaded, which isolates the O(1) claim: in the contended cases more producer ids
//! also means more shelf capacity and fewer waits), the CPU use of an idle waiting consumer,
//! and finally one machine-readable line per case:
//! `case=<name> marketplace=<items/s> locked=<items/s> channel=<items/s> array_queue=<items/s>`
//! (`-` where a column does not apply or was not run). Each round runs every case on every
//! implementation once, and the best of the rounds is kept, so load from other processes
//! hits implementations and cases alike; compare ratios, not absolute figures. The workload itself lives in the `marketplace-harness` crate (`benches/harness`, shared with the
//! criterion benches).
//!
//! The `locked_yield` column and its ratio `m/l_yield` are a sensitivity check. `locked` is
//! the classic design, whose blocked callers sleep on a `Condvar` at once; `locked_yield` is
//! the same one-`Mutex` design waiting as the engine does (`LockedMarketplace::yielding`:
//! retry a few times, spinning and then yielding, before sleeping). So `m/locked` is the engine's whole lead
//! over the classic design, `m/l_yield` is the part of it that comes from having no global
//! lock, and the rest, `m/locked` / `m/l_yield` = `locked_yield` / `locked`, is how much of
//! the lead comes from the wait policy alone. The column is in the readable table (and the
//! idle-consumer lines) only: the `case=` lines keep exactly their four columns.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use marketplace_harness::{CASES, Case, Imp, idle_wait, spread_cost};

struct Options {
    base_items: usize,
    repeats: usize,
    case: Option<String>,
    only: Option<Imp>,
    idle: bool,
}

const USAGE: &str = "usage: compare [--quick] [--items N] [--repeats R] [--case NAME] \
                     [--only marketplace|locked|locked_yield|channel|array_queue] [--no-idle]";

fn parse() -> Result<Options, String> {
    let mut options = Options {
        base_items: 1_000_000,
        repeats: 5,
        case: None,
        only: None,
        idle: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => {
                options.base_items = 300_000;
                options.repeats = 3;
            }
            "--items" => {
                options.base_items = value("--items")?
                    .parse()
                    .map_err(|e| format!("--items: {e}"))?;
            }
            "--repeats" => {
                options.repeats = value("--repeats")?
                    .parse()
                    .map_err(|e| format!("--repeats: {e}"))?;
            }
            "--case" => options.case = Some(value("--case")?),
            "--only" => {
                let name = value("--only")?;
                options.only = Some(
                    Imp::ALL
                        .into_iter()
                        .find(|imp| imp.name() == name)
                        .ok_or(format!("--only: unknown implementation {name:?}"))?,
                );
            }
            "--no-idle" => options.idle = false,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if options.repeats == 0 {
        return Err("--repeats must be at least 1".to_owned());
    }
    Ok(options)
}

/// Best items/s per implementation for one case.
type Row = BTreeMap<&'static str, f64>;

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let cases: Vec<Case> = CASES
        .into_iter()
        .filter(|case| options.case.as_deref().is_none_or(|name| case.name == name))
        .collect();
    if cases.is_empty() {
        eprintln!("--case: no such case (known: {})", names());
        return ExitCode::from(2);
    }
    let imps: Vec<Imp> = Imp::ALL
        .into_iter()
        .filter(|imp| options.only.is_none_or(|only| only == *imp))
        .collect();

    let began = Instant::now();
    // Rounds outermost: each round runs every case on every implementation once, so the best
    // of each spreads over the whole run and a slow stretch of a shared machine hits all
    // cases alike; the cross-case ratios of per-item cost depend on that.
    let mut rows: Vec<(Case, Row)> = cases.iter().map(|case| (*case, Row::new())).collect();
    for round in 1..=options.repeats {
        eprint!("round {round}/{} ", options.repeats);
        for (case, row) in &mut rows {
            let items = case.items_for(options.base_items);
            for &imp in imps.iter().filter(|imp| case.applies(**imp)) {
                let rate = case.rate(imp, items);
                let best = row.entry(imp.name()).or_insert(0.0);
                *best = best.max(rate);
            }
            eprint!(".");
            let _ = std::io::stderr().flush();
        }
        eprintln!();
    }
    let spread = (options.case.is_none()).then(|| measure_spread(&options));
    let idle = options.idle.then(|| {
        [Imp::Marketplace, Imp::Locked, Imp::LockedYield]
            .map(|imp| (imp, idle_wait(imp, Duration::from_millis(300))))
    });
    eprintln!("measured in {:.1} s", began.elapsed().as_secs_f64());

    print_table(&rows, options.repeats);
    print_flatness(&rows);
    if let Some(spread) = spread {
        print_spread(&spread);
    }
    if let Some(idle) = idle {
        print_idle(&idle);
    }
    println!();
    for (case, row) in &rows {
        let mut line = format!("case={}", case.name);
        for imp in Imp::LINE_COLUMNS {
            line += &format!(" {}={}", imp.name(), cell(row, imp, |r| format!("{r:.0}")));
        }
        println!("{line}");
    }
    ExitCode::SUCCESS
}

fn names() -> String {
    CASES.map(|case| case.name).join(", ")
}

fn cell(row: &Row, imp: Imp, show: impl Fn(f64) -> String) -> String {
    row.get(imp.name())
        .map_or_else(|| "-".to_owned(), |&rate| show(rate))
}

fn ratio(row: &Row, over: Imp) -> String {
    match (row.get("marketplace"), row.get(over.name())) {
        (Some(m), Some(o)) => format!("{:.2}x", m / o),
        _ => "-".to_owned(),
    }
}

fn print_table(rows: &[(Case, Row)], repeats: usize) {
    println!("items/s, best of {repeats} (M = millions); ratios are marketplace / other");
    println!(
        "{:<16} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9} {:>10}",
        "case",
        "marketplace",
        "locked",
        "locked_yield",
        "channel",
        "array_queue",
        "m/locked",
        "m/l_yield",
        "m/channel",
        "m ns/item"
    );
    for (case, row) in rows {
        let millions = |rate: f64| format!("{:.2} M", rate / 1e6);
        println!(
            "{:<16} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9} {:>10}",
            case.name,
            cell(row, Imp::Marketplace, millions),
            cell(row, Imp::Locked, millions),
            cell(row, Imp::LockedYield, millions),
            cell(row, Imp::Channel, millions),
            cell(row, Imp::ArrayQueue, millions),
            ratio(row, Imp::Locked),
            ratio(row, Imp::LockedYield),
            ratio(row, Imp::Channel),
            cell(row, Imp::Marketplace, |rate| format!("{:.0}", 1e9 / rate)),
        );
    }
}

/// Per-item cost growth: producers-4096 over producers-1, kinds-10000 over kinds-1 (target:
/// at most 1.5x).
fn print_flatness(rows: &[(Case, Row)]) {
    let rate = |name: &str, imp: Imp| {
        rows.iter()
            .find(|(case, _)| case.name == name)
            .and_then(|(_, row)| row.get(imp.name()).copied())
    };
    // kinds-1 has all pairs sharing one kind, kinds-100/10000 give each pair its own kinds
    // (see the harness docs), so kinds-10000 / kinds-100 is the like-for-like figure. The
    // channel and the raw queue do no per-kind work at all: their ratios are the workload's
    // own share of the figure, the control to read the others against.
    for (many, one) in [
        ("producers-4096", "producers-1"),
        ("kinds-10000", "kinds-1"),
        ("kinds-10000", "kinds-100"),
    ] {
        for imp in Imp::LINE_COLUMNS {
            if let (Some(many_rate), Some(one_rate)) = (rate(many, imp), rate(one, imp)) {
                let note = match imp {
                    Imp::Marketplace | Imp::Locked => "target <= 1.5x",
                    _ => "control: no per-kind work",
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

/// Single-thread ns/item over (producer ids, kinds), per implementation.
type Spread = Vec<((usize, usize), [Option<f64>; 2])>;

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

/// The O(1) claim without contention: one thread, every producer id and kind in turn.
fn print_spread(spread: &Spread) {
    let cost = |key: (usize, usize), i: usize| {
        spread
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, best)| best[i])
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

fn print_idle(idle: &[(Imp, Option<marketplace_harness::IdleWait>)]) {
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
