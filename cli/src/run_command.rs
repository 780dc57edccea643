//! The `run` command: a scenario played on the memory backend (`run_command`), or this
//! process's part of it on a redis one (`remote_command`), and how its end is told.
//!
//! Invariants: the log of --log-file is kept clear of the run's other files before it
//! starts (`outside_the_log`), and a run refused after it started takes back what it made;
//! a SIGINT or SIGTERM makes the process die of it only once the command has said all it
//! has to say (`run_to_the_end`), and the log of an interrupted run is the watcher's to
//! write out.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use marketplace_cli::runner::{
    Hold, Interrupt, InterruptedReport, RemoteEnd, RemoteError, RemoteOptions, RunEnd, RunError,
    run, run_remote, shown_time,
};
use marketplace_cli::scenario::Scenario;

use crate::args::RunArgs;
use crate::failure::{EXIT_FAILURE, EXIT_STALLED, Failure, fail};
use crate::file_identity::stdout_file;
use crate::stats_file::StatsFile;
use crate::{interrupt_watcher, log_file, parse, scenario_file, shown_path};

/// `run`, and its exit code. A SIGINT or SIGTERM from the moment the watcher starts makes
/// the process die of it, but only once the command has said all it has to say (the
/// lines, the statistics, a stall report): the watcher waits for the command's hold, taken
/// before the watcher starts so that no signal can come before it, and the command waits
/// for the watcher once it lets go. A second signal meanwhile ends the process at once.
pub(crate) fn run_to_the_end(args: &RunArgs) -> ExitCode {
    let interrupt = Interrupt::new();
    let mut held = Some(interrupt.hold());
    let code = match run_command(args, &interrupt, &mut held) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(failure),
    };
    drop(held);
    if interrupt_watcher::signalled() || interrupt.is_requested() {
        interrupt_watcher::wait_for_the_end();
    }
    code
}

/// Refuses a run whose log (`--log-file`) would write, rename or remove one of its other
/// files: the scenario, the statistics file or the file stdout goes to. The logger renames
/// its current file away as it starts and removes old ones as it goes, so any of these
/// under one of its names would be lost or end up in the log; found before the log starts,
/// nothing is written or renamed yet.
fn outside_the_log(args: &RunArgs) -> Result<(), Failure> {
    let Some(log) = args.log_file.as_deref() else {
        return Ok(());
    };
    let Some(names) = log_file::LogNames::of(log) else {
        return Ok(());
    };
    // The log's file is named too where the file was given by another name (a link, `..`).
    let refuse = |what: &str, given: Option<&Path>, file: PathBuf| {
        let (given, file) = (given.map(shown_path), shown_path(&file));
        let what = match given {
            Some(given) if given == file => format!("{what} {file} is"),
            Some(given) => format!("{what} {given} is {file},"),
            None => format!("{what} is {file},"),
        };
        Err(Failure::bad_input(format!(
            "error: {what} a file the log of --log-file {} writes, renames or removes",
            shown_path(log)
        )))
    };
    if let Some(file) = names.holding(&args.scenario) {
        return refuse("the scenario file", Some(&args.scenario), file);
    }
    if let Some((stats, file)) = args
        .stats_json
        .as_deref()
        .and_then(|stats| Some((stats, names.holding(stats)?)))
    {
        return refuse("--stats-json", Some(stats), file);
    }
    if let Some(file) = stdout_file().and_then(|stdout| names.holding_identity(&stdout)) {
        return refuse("the file stdout goes to", None, file);
    }
    Ok(())
}

/// `run` on the memory backend, or on a redis one through `remote_command`; `interrupt`
/// is the watcher's, and `held` the hold that keeps the watcher from ending the process.
fn run_command(
    args: &RunArgs,
    interrupt: &Interrupt,
    held: &mut Option<Hold>,
) -> Result<(), Failure> {
    let path = args.scenario.as_path();
    let text = scenario_file::read(path)?;
    let scenario = parse(path, &text)?;
    outside_the_log(args)?;
    if let Some(remote) = args.remote(&text, interrupt) {
        return remote_command(args, &scenario, &remote, interrupt, held);
    }
    let logger = args.start_log()?;
    interrupt_watcher::start(interrupt, logger.as_ref().map(log_file::Log::handle));
    let options = &args.options(interrupt.clone());
    // Made after the log started, which makes the log's directory: the statistics file may
    // go there. A run refused for it takes back what the log made.
    let stats_file = match args
        .stats_json
        .as_deref()
        .map(|stats| StatsFile::create(stats, path))
        .transpose()
    {
        Ok(file) => file,
        Err(failure) => {
            if let Some(log) = logger {
                log_file::abandon(log);
            }
            return Err(failure);
        }
    };
    log::info!(
        "running {} at time scale {} with {:?}",
        shown_path(path),
        options.time_scale,
        options.actors
    );
    let outcome = run(&scenario, options, BufWriter::new(io::stdout()));
    let interrupted = matches!(outcome, Err(RunError::Interrupted(_)));
    // The log of an interrupted run is the watcher's to write out, after the record naming
    // the signal; stopped here, it would lose the records made since.
    if !interrupted {
        if logger.is_some() {
            log::info!("run finished");
        }
        log_file::stop(logger, args.quiet);
    }
    let stats = match &outcome {
        Ok(report) => Some((&report.stats, RunEnd::Finished)),
        Err(RunError::Stalled(report)) => Some((&report.stats, RunEnd::Stalled)),
        Err(RunError::Interrupted(stats)) => Some((stats, RunEnd::Interrupted)),
        Err(_) => None,
    };
    if let (true, Some((stats, ended))) = (args.stats, stats) {
        tell!("{stats}");
        // A finished run's summary line follows (with the market at its end), a stalled
        // run's report; this one says that the figures stop at the signal.
        if matches!(ended, RunEnd::Interrupted) {
            tell!("{}; interrupted", stats.summary());
        }
    }
    let written = match (stats_file, stats) {
        (Some(file), Some((stats, ended))) => file.write(stats, ended),
        (Some(file), None) => {
            file.discard();
            Ok(())
        }
        (None, _) => Ok(()),
    };
    match outcome {
        Ok(report) => {
            if args.stats {
                tell!("{report}");
            }
            written
        }
        Err(RunError::Stalled(report)) => {
            // The stall decides the exit code; a statistics file that failed is still told.
            if let Err(failure) = written {
                tell!("{}", failure.message);
            }
            Err(Failure {
                code: EXIT_STALLED,
                message: format!("error: {}: {report}", shown_path(path)),
            })
        }
        // The process dies of the signal once this is told (see `run_to_the_end`), so the
        // code is never seen; a statistics file that failed is still told.
        Err(RunError::Interrupted(_)) => Err(written.err().unwrap_or(Failure {
            code: EXIT_FAILURE,
            message: String::new(),
        })),
        Err(RunError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Err(Failure::stdout(&e))
        }
        Err(e) => Err(Failure {
            code: EXIT_FAILURE,
            message: format!("error: {}: {e}", shown_path(path)),
        }),
    }
}

/// `run --backend redis://...`: this process's part of a run shared through a server.
fn remote_command(
    args: &RunArgs,
    scenario: &Scenario,
    remote: &RemoteOptions,
    interrupt: &Interrupt,
    held: &mut Option<Hold>,
) -> Result<(), Failure> {
    let path = shown_path(&args.scenario);
    let logger = args.start_log()?;
    // The interrupt ends no run here: each order holds it until its lines are flushed, and
    // the watcher still writes out the log. Nor may this hold outlive this point: a remote
    // run cannot be ended from here, and the signal would wait for its end. The run's
    // watch takes its place once the run has connected, so that a signal from then on
    // waits for the --stats line of what the run did until the signal, which the run tells
    // from a thread of its own (`tell_interrupted`), or for the run's end to be told.
    interrupt_watcher::start(interrupt, logger.as_ref().map(log_file::Log::handle));
    held.take();
    let RemoteEnd { outcome, watch } = run_remote(
        scenario,
        remote,
        args.time_scale,
        BufWriter::new(io::stdout()),
    );
    // A failed run's error line is told by `run_to_the_end`, once this has returned and
    // the watch is gone: a hold takes the watch's place first, so that a signal meanwhile
    // waits for the line, as for the --stats line.
    *held = Some(interrupt.hold());
    drop(watch);
    // The log of an interrupted run is the watcher's to write out (see `run_command`); a
    // refused run takes back what the log made, as a local one refused for its statistics
    // file does.
    match (&outcome, logger) {
        (Err(RemoteError::Interrupted), _) | (_, None) => {}
        (Err(RemoteError::Refused(_)), Some(log)) => log_file::abandon(log),
        (_, logger) => log_file::stop(logger, args.quiet),
    }
    match outcome {
        Ok(report) => {
            if args.stats {
                tell!(
                    "{} purchases in this process in {}; at the end: {}",
                    report.purchases,
                    shown_time(report.elapsed, 3),
                    report.market
                );
            }
            Ok(())
        }
        Err(e) => Err(remote_failure(&path, &e)),
    }
}

/// How the command ends after a redis run's `error`, for the scenario shown as `path`.
fn remote_failure(path: &str, error: &RemoteError) -> Failure {
    match error {
        RemoteError::Refused(message) => Failure::bad_input(format!("error: {path}: {message}")),
        RemoteError::Failed(message) => Failure {
            code: EXIT_FAILURE,
            message: format!("error: {path}: {message}"),
        },
        // As for a memory run: a reader that left is no error to tell.
        RemoteError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => Failure::stdout(e),
        RemoteError::Output(e) => Failure {
            code: EXIT_FAILURE,
            message: format!("error: {path}: cannot write the output: {e}"),
        },
        // As for a memory run, the process dies of the signal, so the code is never seen.
        RemoteError::Interrupted => Failure {
            code: EXIT_FAILURE,
            message: String::new(),
        },
    }
}

/// What a redis run interrupted before it was over tells, once every order in progress is
/// out, for the scenario shown as `path`: the error line of a run that had failed already,
/// as a failed run's end tells it (the process then dies of the signal, as after a failed
/// run's end), or else, with `--stats`, its `--stats` line.
pub(crate) fn tell_interrupted(path: &str, stats: bool, report: InterruptedReport) {
    if let Some(failure) = &report.failure {
        let failure = remote_failure(path, failure);
        if !failure.message.is_empty() {
            tell!("{}", failure.message);
        }
        return;
    }
    if !stats {
        return;
    }
    let market = match report.market {
        Ok(market) => market.to_string(),
        Err(e) => format!("unknown ({e})"),
    };
    tell!(
        "{} purchases in this process in {}, interrupted; at the interrupt: {market}",
        report.purchases,
        shown_time(report.elapsed, 3)
    );
}
