//! The report `compare` prints: the readable tables, the flatness and single-thread
//! figures, the idle consumers, and the machine-readable `case=` lines.

use std::io::{self, Write};

use super::{Options, Row, Run, ratios, ratios_of, spread_median};
use crate::{Case, IdleWait, Imp, TaskCase, TaskImp};

pub(super) fn cell(row: &Row, imp: Imp, show: impl Fn(f64) -> String) -> String {
    row.get(imp.name())
        .map_or_else(|| "-".to_owned(), |&rate| show(rate))
}

pub(super) fn print_lines(
    out: &mut dyn Write,
    rows: &[(Case, Row)],
    task_rows: &[(TaskCase, Row)],
) -> io::Result<()> {
    for (case, row) in rows {
        let mut line = format!("case={}", case.name);
        for imp in Imp::LINE_COLUMNS {
            line += &format!(" {}={}", imp.name(), cell(row, imp, |r| format!("{r:.0}")));
        }
        writeln!(out, "{line}")?;
    }
    for (case, row) in task_rows {
        writeln!(out, "case={} {}", case.name, task_cells(row))?;
    }
    Ok(())
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

pub(super) fn print_task_table(
    out: &mut dyn Write,
    runs: &[Run],
    medians: &[(TaskCase, Row)],
) -> io::Result<()> {
    if medians.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "async tasks on a 2-worker tokio runtime, items/s; ratios are marketplace / other"
    )?;
    write!(out, "{:<20}", "case")?;
    for imp in TaskImp::ALL {
        write!(out, " {:>14}", imp.name())?;
    }
    for over in TASK_RATIOS {
        write!(out, " {:>24}", format!("m/{}", over.name()))?;
    }
    writeln!(out)?;
    for (i, (case, row)) in medians.iter().enumerate() {
        write!(out, "{:<20}", case.name)?;
        for imp in TaskImp::ALL {
            let rate = row
                .get(imp.name())
                .map_or("-".to_owned(), |r| format!("{:.2} M", r / 1e6));
            write!(out, " {rate:>14}")?;
        }
        for over in TASK_RATIOS {
            let shown = match ratios_of(runs.iter().map(|run| &run.task_rows[i].1), over.name()) {
                Some((ratio, low, high)) if runs.len() > 1 => {
                    format!("{ratio:.2}x ({low:.2}-{high:.2})")
                }
                Some((ratio, _, _)) => format!("{ratio:.2}x"),
                None => "-".to_owned(),
            };
            write!(out, " {shown:>24}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

pub(super) fn print_task_median_lines(
    out: &mut dyn Write,
    runs: &[Run],
    medians: &[(TaskCase, Row)],
) -> io::Result<()> {
    for (i, (case, row)) in medians.iter().enumerate() {
        let mut line = format!("median case={} {}", case.name, task_cells(row));
        for over in TASK_RATIOS {
            if let Some((ratio, _, _)) =
                ratios_of(runs.iter().map(|run| &run.task_rows[i].1), over.name())
            {
                line += &format!(" m/{}={ratio:.2}", over.name());
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

const RATIO_COLUMNS: [Imp; 4] = [Imp::Channel, Imp::Kanal, Imp::Locked, Imp::LockedYield];

pub(super) fn print_median_lines(
    out: &mut dyn Write,
    runs: &[Run],
    medians: &[(Case, Row)],
) -> io::Result<()> {
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
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub(super) fn print_table(
    out: &mut dyn Write,
    runs: &[Run],
    medians: &[(Case, Row)],
    options: &Options,
) -> io::Result<()> {
    if medians.is_empty() {
        return Ok(());
    }
    let what = if runs.len() > 1 {
        format!(
            "median of {} runs, each the best of {} rounds; ratios: median of the per-run ratios (range)",
            runs.len(),
            options.repeats
        )
    } else {
        format!("best of {} rounds", options.repeats)
    };
    writeln!(
        out,
        "items/s ({what}); M = millions; ratios are marketplace / other"
    )?;
    let columns = Imp::ALL.map(Imp::name);
    write!(out, "{:<16}", "case")?;
    for name in columns {
        write!(out, " {name:>12}")?;
    }
    for over in RATIO_COLUMNS {
        write!(out, " {:>22}", format!("m/{}", over.name()))?;
    }
    writeln!(out, " {:>10}", "m ns/item")?;
    for (i, (case, row)) in medians.iter().enumerate() {
        write!(out, "{:<16}", case.name)?;
        for imp in Imp::ALL {
            write!(
                out,
                " {:>12}",
                cell(row, imp, |rate| format!("{:.2} M", rate / 1e6))
            )?;
        }
        for over in RATIO_COLUMNS {
            let shown = match ratios(runs, i, over) {
                Some((ratio, low, high)) if runs.len() > 1 => {
                    format!("{ratio:.2}x ({low:.2}-{high:.2})")
                }
                Some((ratio, _, _)) => format!("{ratio:.2}x"),
                None => "-".to_owned(),
            };
            write!(out, " {shown:>22}")?;
        }
        writeln!(
            out,
            " {:>10}",
            cell(row, Imp::Marketplace, |rate| format!("{:.0}", 1e9 / rate))
        )?;
    }
    Ok(())
}

/// Per-item cost growth: producers-4096 over producers-1, kinds-10000 over kinds-1 (target:
/// at most 1.5x), with the channel and raw queue as controls.
pub(super) fn print_flatness(out: &mut dyn Write, rows: &[(Case, Row)]) -> io::Result<()> {
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
                writeln!(
                    out,
                    "contended per-item cost {many} / {one} ({}): {:.2}x ({note})",
                    imp.name(),
                    one_rate / many_rate
                )?;
            }
        }
    }
    Ok(())
}

/// The uncontended cycle (median over runs) and its flatness across producers and kinds.
pub(super) fn print_spread(out: &mut dyn Write, runs: &[Run]) -> io::Result<()> {
    let cost = |key: (usize, usize), i: usize| spread_median(runs, key, i);
    for (i, name) in ["marketplace", "locked"].into_iter().enumerate() {
        let (Some(base), Some(producers), Some(kinds)) =
            (cost((1, 1), i), cost((4096, 1), i), cost((1, 10_000), i))
        else {
            continue;
        };
        writeln!(
            out,
            "single-thread ns/item ({name}): 1 producer 1 kind {base:.0}; 4096 producers {producers:.0} \
             ({:.2}x); 10000 kinds {kinds:.0} ({:.2}x)",
            producers / base,
            kinds / base
        )?;
    }
    Ok(())
}

/// What parity with the bare channel would take, in the handoff cases (carts of one, the
/// single-thread cycle's shape): the most the engine could move if no item ever contended
/// or waited (every core running the single-thread cycle), against the channel's median,
/// and the CPU time per item at which the engine would keep up with it.
pub(super) fn print_parity_bound(
    out: &mut dyn Write,
    runs: &[Run],
    rows: &[(Case, Row)],
) -> io::Result<()> {
    let Some(cycle_ns) = spread_median(runs, (1, 1), 0) else {
        return Ok(());
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let bound = cores as f64 * 1e9 / cycle_ns;
    for (case, row) in rows {
        let Some(&channel) = row.get(Imp::Channel.name()) else {
            continue;
        };
        if !case.name.starts_with("handoff-") {
            continue;
        }
        writeln!(
            out,
            "parity bound ({}): {cores} cores at {cycle_ns:.0} ns per uncontended item move at \
             most {:.2} M items/s; channel moved {:.2} M: parity needs at most {:.0} ns of CPU \
             per item",
            case.name,
            bound / 1e6,
            channel / 1e6,
            cores as f64 * 1e9 / channel
        )?;
    }
    Ok(())
}

pub(super) fn print_idle(out: &mut dyn Write, idle: &[(Imp, Option<IdleWait>)]) -> io::Result<()> {
    for (imp, wait) in idle {
        match wait {
            Some(wait) => writeln!(
                out,
                "idle consumer ({}): {:.0?} blocked in add_to_cart_timeout, waiting thread used \
                 {:.2?} CPU ({:.2}%), process {:.0?} ({:.1}%)",
                imp.name(),
                wait.wall,
                wait.thread_cpu,
                100.0 * wait.thread_share(),
                wait.process_cpu,
                100.0 * wait.process_share(),
            )?,
            None => writeln!(
                out,
                "idle consumer ({}): /proc not readable, not measured",
                imp.name()
            )?,
        }
    }
    Ok(())
}
