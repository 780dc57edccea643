//! The `marketplace` command: run, check or generate marketplace scenarios.
//!
//! Owns the mapping of the commands' outcomes to exit codes and streams: purchase lines
//! (and generated scenarios) go to stdout, everything else to stderr; a failed command
//! writes nothing to stdout except the purchase lines of carts a stalled run had already
//! ordered. `check` and `gen` are here; the `run` command (`run_command`), the command line
//! as clap parses it (`args`), the failures and their exit codes (`failure`), whether two
//! names reach one file (`file_identity`), reading the scenario file (`scenario_file`), the
//! log of --log-file (`log_file`), the file of --stats-json (`stats_file`) and the watcher
//! of SIGINT and SIGTERM (`interrupt_watcher`) are modules of their own. No path here
//! panics on user input.
#![forbid(unsafe_code)]

/// Writes a line to stderr. Unlike `eprintln!`, a stderr that cannot be written (closed,
/// full) is not a panic: the exit code still says what happened. Defined before the modules,
/// which use it too (a macro is seen only below its definition).
macro_rules! tell {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr().lock(), $($arg)*);
    }};
}

mod args;
mod failure;
mod file_identity;
mod interrupt_watcher;
mod log_file;
mod run_command;
mod scenario_file;
mod stats_file;

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use marketplace_cli::escape;
use marketplace_cli::generate::{GenError, GenOptions, generate};
use marketplace_cli::scenario::{OpKind, Scenario, unlisted_line};

use crate::args::{Cli, Command, told_on_one_line};
use crate::failure::{EXIT_FAILURE, Failure, fail};
use crate::file_identity::not_stdout;
use crate::run_command::run_to_the_end;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with code 2. It prints --help and --version
    // too, but would exit with 0 even when they could not be written.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return match e.print().and_then(|()| io::stdout().flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(Failure::stdout(&e)),
            };
        }
        Err(e) => told_on_one_line(e).exit(),
    };
    let outcome = match &cli.command {
        Command::Run(args) => {
            args.check();
            return run_to_the_end(args);
        }
        Command::Check(args) => check_command(&args.scenario),
        Command::Gen(args) => gen_command(&args.options(), args.expected.as_deref()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(failure),
    }
}

/// `path` as messages show it: as [`escape::shown`] shows text the user wrote.
fn shown_path(path: &Path) -> String {
    escape::shown(&path.to_string_lossy()).into_owned()
}

fn load(path: &Path) -> Result<Scenario, Failure> {
    parse(path, &scenario_file::read(path)?)
}

/// The scenario in `text`, read from `path` (named in the errors).
fn parse(path: &Path, text: &str) -> Result<Scenario, Failure> {
    Scenario::from_json(text).map_err(|e| {
        let n = e.count();
        let mut message = format!(
            "error: invalid scenario {} ({n} problem{}):",
            shown_path(path),
            if n == 1 { "" } else { "s" }
        );
        for problem in &e.problems {
            message.push_str("\n  ");
            message.push_str(&problem.to_string());
        }
        if let Some(line) = unlisted_line(e.unlisted, "problem") {
            message.push_str("\n  ");
            message.push_str(&line);
        }
        Failure::bad_input(message)
    })
}

fn check_command(path: &Path) -> Result<(), Failure> {
    let scenario = load(path)?;
    let carts: usize = scenario.consumers().iter().map(|c| c.carts.len()).sum();
    // u128: each quantity may be as large as u64::MAX, so their sum can exceed a u64.
    let items: u128 = scenario
        .consumers()
        .iter()
        .flat_map(|c| c.carts.iter().flatten())
        .filter(|op| op.kind == OpKind::Add)
        .map(|op| u128::from(op.quantity))
        .sum();
    let mut out = format!(
        "{}: valid: {} products ({} distinct), {} producers, {} consumers, {} carts, \
         {} items added; queue size {} per producer",
        shown_path(path),
        scenario.products().len(),
        scenario.class_count(),
        scenario.producers().len(),
        scenario.consumers().len(),
        carts,
        items,
        scenario.queue_size_per_producer()
    );
    for w in scenario.warnings() {
        out.push_str("\nwarning: ");
        out.push_str(&w.to_string());
    }
    if let Some(line) = unlisted_line(scenario.unlisted_warnings(), "warning") {
        out.push_str("\nwarning: ");
        out.push_str(&line);
    }
    out.push('\n');
    write_stdout(out.as_bytes())
}

fn gen_command(options: &GenOptions, expected: Option<&Path>) -> Result<(), Failure> {
    let cannot_write = |path: &Path, e: io::Error| {
        Failure::bad_input(format!(
            "error: cannot write the expected output (--expected) to {}: {e}",
            shown_path(path)
        ))
    };
    // Found before generating, which takes a minute at the limits. Opened without
    // truncating, so a refused `gen` leaves an existing file as it was; and kept open to
    // be written, since a named pipe's reader would take a second opening's close for
    // the end of what it reads.
    let opened = match expected {
        Some(path) => {
            not_stdout("--expected", path)?;
            let existed = fs::symlink_metadata(path).is_ok();
            let file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| cannot_write(path, e))?;
            Some((path, file, existed))
        }
        None => None,
    };
    let scenario = generate(options).map_err(|e| {
        if let Some((path, _, false)) = &opened {
            let _ = fs::remove_file(path);
        }
        match e {
            GenError::TooLarge(message) => Failure::bad_input(format!("error: gen: {message}")),
            e => Failure {
                code: EXIT_FAILURE,
                message: format!("internal error: {e}"),
            },
        }
    })?;
    if let Some((path, mut file, _)) = opened {
        let lines = scenario.expected_output().ok_or_else(|| Failure {
            code: EXIT_FAILURE,
            message: "internal error: generated a scenario whose output is not determined"
                .to_owned(),
        })?;
        let mut text = String::new();
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        // Only a regular file has a length to cut; a pipe or a device is written as is.
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        (if regular { file.set_len(0) } else { Ok(()) })
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(|e| cannot_write(path, e))?;
    }
    let mut json = scenario.to_json_pretty();
    json.push('\n');
    write_stdout(json.as_bytes())
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::stdout(&e))
}
