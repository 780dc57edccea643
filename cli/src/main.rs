//! The `marketplace` command: run, check or generate marketplace scenarios.
//!
//! Owns argument parsing and the mapping of outcomes to exit codes and streams: purchase
//! lines (and generated scenarios) go to stdout, everything else to stderr; a failed command
//! writes nothing to stdout except the purchase lines of carts a stalled run had already
//! ordered. The failures and their exit codes (`failure`), whether two names reach one
//! file (`file_identity`), reading the scenario file (`scenario_file`), the log of
//! --log-file (`log_file`), the file of --stats-json (`stats_file`) and the watcher of SIGINT and SIGTERM (`interrupt_watcher`) are
//! modules of their own. No path here panics on user input.
#![forbid(unsafe_code)]

/// Writes a line to stderr. Unlike `eprintln!`, a stderr that cannot be written (closed,
/// full) is not a panic: the exit code still says what happened. Defined before the modules,
/// which use it too (a macro is seen only below its definition).
macro_rules! tell {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr().lock(), $($arg)*);
    }};
}

mod failure;
mod file_identity;
mod interrupt_watcher;
mod log_file;
mod scenario_file;
mod stats_file;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use marketplace_cli::escape;
use marketplace_cli::generate::{
    GenError, GenOptions, MAX_ACTORS, MAX_OPERATIONS, MAX_PRODUCTS, generate,
};
use marketplace_cli::runner::{
    Actors, Hold, Interrupt, InterruptedReport, MAX_WORKERS, ProgressLine, RETRY_FOR, RemoteEnd,
    RemoteError, RemoteOptions, Role, RunEnd, RunError, RunOptions, fingerprint, run, run_remote,
    shown_time,
};
use marketplace_cli::scenario::{MAX_QUEUE_SIZE, OpKind, Scenario, unlisted_line};
use marketplace_redis::url_without_password;

use crate::failure::{EXIT_CODES, EXIT_FAILURE, EXIT_STALLED, Failure, fail};
use crate::file_identity::{not_stdout, stdout_file};
use crate::stats_file::StatsFile;

/// Runs the classic producer/consumer marketplace from a JSON scenario, on a lock-free
/// engine, printing exactly what the classic Python system prints.
///
/// A scenario lists products, producers (each publishing its list of products forever),
/// consumers (each filling carts and placing orders) and the marketplace's capacity per
/// producer; see docs/scenario-format.md. `run` prints one line per product bought,
/// `<consumer> bought <product>`, in Python's repr; lines of different consumers come in any
/// order, so compare sorted output (`LC_ALL=C sort`).
#[derive(Parser, Debug)]
#[command(name = "marketplace", version, after_long_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario: every producer and consumer trades at once; purchase lines on stdout.
    ///
    /// Everything else goes to stderr: on a terminal, a live progress line (purchases made
    /// of those the scenario implies, purchases per second, open carts, and who waits for
    /// what when nothing moved for a second); the --stats table at the end; errors.
    /// Piped stdout holds the purchase lines alone, with or without progress.
    ///
    /// Example: marketplace run scenarios/demo.json --time-scale 0 | LC_ALL=C sort
    ///
    /// Example: marketplace run scenarios/long.json --progress --stats-json stats.json
    /// 2>progress.txt >out.txt
    #[command(after_long_help = EXIT_CODES)]
    Run(RunArgs),
    /// Validate a scenario and print a short summary and warnings; runs nothing.
    #[command(after_long_help = EXIT_CODES)]
    Check(CheckArgs),
    /// Write a random valid scenario that cannot stall to stdout.
    ///
    /// Every product gets a producer that makes only it, so a run always finishes. With
    /// --expected, also write the sorted output any run of it must print.
    #[command(after_long_help = EXIT_CODES)]
    Gen(GenArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The scenario file (JSON), at most 1 GiB unless MARKETPLACE_MAX_SCENARIO_BYTES sets
    /// another limit; /dev/stdin reads standard input.
    scenario: PathBuf,
    /// Multiply every wait of the scenario by this factor; 0 runs without waiting
    /// (actors still sleep, never spin, while they wait for each other).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_scale,
          allow_hyphen_values = true)]
    time_scale: f64,
    /// Log every marketplace call (debug level) to files named after PATH, rotated at
    /// 1 MB, keeping 20 old files: logs/market.log writes logs/market_rCURRENT.log, then
    /// market_r00000.log, ...; its directory is created if missing. Without it nothing is
    /// logged.
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// The most detailed level written to the log file.
    #[arg(long, value_name = "LEVEL", default_value = "debug",
          value_parser = ["error", "warn", "info", "debug", "trace"], requires = "log_file")]
    log_level: String,
    /// Stop with exit code 3 when no consumer made progress for this many seconds
    /// [default: 60]; not allowed with a redis backend.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout, allow_hyphen_values = true)]
    stall_timeout: Option<f64>,
    /// Show the progress line even when stderr is not a terminal (or a dumb one): then a
    /// plain line every second and one at the end, for logs [default: shown when stderr is
    /// a terminal]. Not allowed with a redis backend, which shows no progress line.
    #[arg(long, conflicts_with_all = ["no_progress", "quiet"])]
    progress: bool,
    /// Never show the progress line.
    #[arg(long)]
    no_progress: bool,
    /// Print nothing on stderr but errors (no progress line); not allowed with --progress
    /// or --stats.
    #[arg(long, short, conflicts_with = "stats")]
    quiet: bool,
    /// Print a table on stderr at the end (also after a stall or a SIGINT or SIGTERM): per
    /// consumer its carts, purchases, retries and time waiting; per producer the items
    /// published and the times its queue was full; totals, wall time and a summary line.
    /// On a redis backend, only a line of this process's purchases and the market's state
    /// at the end (or at the signal).
    #[arg(long)]
    stats: bool,
    /// Write the figures of --stats to FILE as JSON (see docs/scenario-format.md), also
    /// after a stall ("stalled": true) or a SIGINT or SIGTERM ("interrupted": true). FILE
    /// is created before the run starts. Not allowed with a redis backend.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// How producers and consumers run. Output, exit codes and stall reports are the same
    /// either way. The default, tasks, is faster on small scenarios and the only one that
    /// scales to hundreds of thousands of actors [default: tasks]. Not allowed with a redis
    /// backend, which runs a thread per actor.
    #[arg(long, value_enum, value_name = "KIND")]
    actors: Option<ActorKind>,
    /// Worker threads that run the tasks of --actors tasks, 1 to 1024 [default: one per
    /// CPU]; not allowed with --actors threads.
    #[arg(long, allow_hyphen_values = true, value_name = "N", value_parser = parse_workers)]
    workers: Option<NonZeroUsize>,
    /// Where the marketplace lives: `memory` (this process's engine) or a Redis server,
    /// `redis://HOST:PORT[/DB]`, shared by every process that runs the same scenario on
    /// the same --market. Each process runs the actors of its --role and --only, one
    /// thread each, and claims them on the market: a process whose actor another process
    /// of the market claimed is refused. The run ends in every process when every consumer
    /// of the scenario has placed its last order.
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = parse_backend)]
    backend: Backend,
    /// The market's name on the Redis server (required with a redis backend).
    #[arg(long, value_name = "NAME")]
    market: Option<String>,
    /// Which actors this process runs on a redis backend.
    #[arg(long, value_enum, value_name = "ROLE", default_value_t = RoleArg::All)]
    role: RoleArg,
    /// Only the actors of these names (comma-separated), within --role, on a redis backend.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// On a redis backend, how many seconds a call whose connection broke is retried (a
    /// server restart) before the run fails, from 0 (one try) to about 1.8e19 [default:
    /// 60]. A server that stops answering is noticed only when a reply is 10 s overdue, so
    /// such a run fails up to 30 s after this window.
    #[arg(long, value_name = "SECS", value_parser = parse_retry_for, allow_hyphen_values = true)]
    retry_for: Option<f64>,
}

/// The values of `run --backend`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Backend {
    Memory,
    Redis(String),
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    if s == "memory" {
        Ok(Backend::Memory)
    } else if s.starts_with("redis://") || s.starts_with("rediss://") {
        if s.chars().any(char::is_control) {
            // The URL parser drops a tab or a newline, connecting elsewhere than written.
            return Err(format!(
                "a redis URL holds no control character, found {:?}",
                url_without_password(s)
            ));
        }
        Ok(Backend::Redis(s.to_owned()))
    } else {
        // Whatever the scheme (`REDIS://` is one too to whoever typed it), no password.
        Err(format!(
            "expected memory or redis://HOST:PORT[/DB], found {:?}",
            url_without_password(s)
        ))
    }
}

/// The values of `run --role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RoleArg {
    /// Producers and consumers
    All,
    /// Only the producers
    Producers,
    /// Only the consumers
    Consumers,
}

/// The values of `run --actors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ActorKind {
    /// Each actor is an async task on a few worker threads (--workers); a waiting actor
    /// holds no thread
    Tasks,
    /// Each actor is an OS thread of its own, as in the classic system; the system's
    /// limit on threads bounds the scenario
    Threads,
}

impl RunArgs {
    /// The options of the run, which `interrupt` may end.
    fn options(&self, interrupt: Interrupt) -> RunOptions {
        let actors = match (self.actors.unwrap_or(ActorKind::Tasks), self.workers) {
            (ActorKind::Tasks, Some(workers)) => Actors::Tasks { workers },
            (ActorKind::Tasks, None) => Actors::tasks(),
            (ActorKind::Threads, _) => Actors::Threads,
        };
        RunOptions {
            time_scale: self.time_scale,
            stall_timeout: Duration::from_secs_f64(self.stall_timeout.unwrap_or(60.0)),
            actors,
            progress: self.progress_line(),
            interrupt,
        }
    }

    /// The progress line: off when asked (or quiet), live on a terminal, plain lines when
    /// forced on anything else, off by default there so pipes and logs stay clean.
    fn progress_line(&self) -> ProgressLine {
        if self.no_progress || self.quiet {
            ProgressLine::Off
        } else {
            ProgressLine::for_stderr(self.progress)
        }
    }

    /// Refuses flags that clap's rules cannot express, the way clap refuses the others.
    fn check(&self) {
        let refuse = |message: &str| {
            let mut command = Cli::command();
            command.build();
            let mut run = command.find_subcommand("run").cloned().unwrap_or(command);
            run.error(ErrorKind::ArgumentConflict, message).exit()
        };
        if self.actors == Some(ActorKind::Threads) && self.workers.is_some() {
            refuse(
                "--workers applies to --actors tasks only (threads run one OS thread per actor)",
            );
        }
        let remote_only = self.market.is_some()
            || self.role != RoleArg::All
            || self.only.is_some()
            || self.retry_for.is_some();
        match &self.backend {
            Backend::Memory if remote_only => refuse(
                "--market, --role, --only and --retry-for apply to a redis backend only \
                 (--backend redis://HOST:PORT)",
            ),
            Backend::Redis(_) if self.market.is_none() => {
                refuse("a redis backend needs --market NAME (the same in every process of the run)")
            }
            Backend::Redis(_) => {
                let memory_only = [
                    ("--actors", self.actors.is_some()),
                    ("--workers", self.workers.is_some()),
                    ("--stall-timeout", self.stall_timeout.is_some()),
                    ("--stats-json", self.stats_json.is_some()),
                    // The remote runner draws no progress line: asked for, it would be
                    // silently missing.
                    ("--progress", self.progress),
                ];
                if let Some((flag, _)) = memory_only.iter().find(|(_, given)| *given) {
                    refuse(&format!(
                        "{flag} applies to the memory backend only (a redis backend runs a \
                         thread per actor and waits for the other processes of the run)"
                    ));
                }
            }
            _ => {}
        }
    }

    /// The rotating log file of --log-file, started; none without it.
    fn start_log(&self) -> Result<Option<log_file::Log>, Failure> {
        self.log_file
            .as_deref()
            .map(|file| log_file::start(file, &self.log_level))
            .transpose()
    }

    /// Where and as what this process runs, for a redis backend; `scenario_text` is the
    /// scenario file's, which the market is labelled with.
    fn remote(&self, scenario_text: &str, interrupt: &Interrupt) -> Option<RemoteOptions> {
        let Backend::Redis(url) = &self.backend else {
            return None;
        };
        Some(RemoteOptions {
            url: url.clone(),
            market: self.market.clone().unwrap_or_default(),
            role: match self.role {
                RoleArg::All => Role::All,
                RoleArg::Producers => Role::Producers,
                RoleArg::Consumers => Role::Consumers,
            },
            only: self.only.clone(),
            fingerprint: fingerprint(scenario_text.as_bytes()),
            retry_for: self.retry_for.map_or(RETRY_FOR, Duration::from_secs_f64),
            interrupt: interrupt.clone(),
            // Always set: a run that had failed before a signal tells its failure here.
            interrupted: Some({
                let (path, stats) = (shown_path(&self.scenario), self.stats);
                Arc::new(move |report| tell_interrupted(&path, stats, report))
            }),
            // Only the --stats line tells it: a signal is not held by a silent server else.
            interrupted_market: self.stats,
        })
    }
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The scenario file (JSON), at most 1 GiB unless MARKETPLACE_MAX_SCENARIO_BYTES sets
    /// another limit; /dev/stdin reads standard input.
    scenario: PathBuf,
}

#[derive(Args, Debug)]
struct GenArgs {
    /// Producers, 0 to 1,000,000 (raised to the number of products when lower).
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(0..=MAX_ACTORS as i64))]
    producers: u32,
    /// Consumers, 0 to 1,000,000.
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(0..=MAX_ACTORS as i64))]
    consumers: u32,
    /// Distinct products, 1 to 100,000.
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=MAX_PRODUCTS as i64))]
    products: u32,
    /// Most carts per consumer, 1 to 2,000,000 (consumers x carts x ops: at most 2,000,000).
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=MAX_OPERATIONS as i64))]
    carts: u32,
    /// Most operations per cart, 1 to 2,000,000 (see --carts).
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=MAX_OPERATIONS as i64))]
    ops: u32,
    /// The queue size per producer, 1 to 1,000,000 (producers x queue size, plus what the
    /// carts can hold: at most 10,000,000 items).
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=MAX_QUEUE_SIZE as i64))]
    queue_size: u32,
    /// Longest wait in the scenario, in seconds, 0 or more (finite).
    #[arg(long, value_name = "SECS", default_value_t = 0.05, value_parser = parse_scale,
          allow_hyphen_values = true)]
    max_wait: f64,
    /// The random seed; the same seed and options give the same scenario.
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "S",
        default_value_t = 1
    )]
    seed: u64,
    /// Use names and numbers that exercise every rule of Python's repr.
    #[arg(long)]
    tricky: bool,
    /// Also write the expected sorted output to this file.
    #[arg(long, value_name = "FILE")]
    expected: Option<PathBuf>,
}

impl GenArgs {
    fn options(&self) -> GenOptions {
        GenOptions {
            producers: self.producers as usize,
            consumers: self.consumers as usize,
            products: self.products as usize,
            carts: self.carts as usize,
            ops_per_cart: self.ops as usize,
            max_quantity: 3,
            max_wait: self.max_wait,
            queue_size: self.queue_size as usize,
            tricky: self.tricky,
            seed: self.seed,
        }
    }
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(format!("expected a finite number >= 0, found {s:?}")),
    }
}

fn parse_workers(s: &str) -> Result<NonZeroUsize, String> {
    match s.parse::<NonZeroUsize>() {
        Ok(n) if n.get() <= MAX_WORKERS => Ok(n),
        _ => Err(format!(
            "expected a whole number from 1 to {MAX_WORKERS}, found {s:?}"
        )),
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f >= 1e-9 && Duration::try_from_secs_f64(f).is_ok() => Ok(f),
        _ => Err(format!(
            "expected a number of seconds from 0.000000001 to about 1.8e19, found {s:?}"
        )),
    }
}

/// Zero is allowed, unlike for a timeout: it means a single try.
fn parse_retry_for(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f >= 0.0 && Duration::try_from_secs_f64(f).is_ok() => Ok(f),
        _ => Err(format!(
            "expected a number of seconds from 0 to about 1.8e19, found {s:?}"
        )),
    }
}

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

/// `run`, and its exit code. A SIGINT or SIGTERM from the moment the watcher starts makes
/// the process die of it, but only once the command has said all it has to say (the
/// lines, the statistics, a stall report): the watcher waits for the command's hold, taken
/// before the watcher starts so that no signal can come before it, and the command waits
/// for the watcher once it lets go. A second signal meanwhile ends the process at once.
fn run_to_the_end(args: &RunArgs) -> ExitCode {
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

/// clap's usage error `e`, with the value, argument or subcommand it echoes escaped as
/// [`escape::escaped`] does (clap echoes it raw: a line break would cut the error line in
/// two, a right-to-left override reorder it), and a URL's password left out, as every other error naming a
/// server does; likewise in its tips, which echo an unknown argument too.
fn told_on_one_line(mut e: clap::Error) -> clap::Error {
    use clap::builder::StyledStr;
    use clap::error::{ContextKind, ContextValue};

    let mut replaced = Vec::new();
    for kind in [
        ContextKind::InvalidValue,
        ContextKind::InvalidArg,
        ContextKind::InvalidSubcommand,
    ] {
        let Some(ContextValue::String(text)) = e.get(kind) else {
            continue;
        };
        let mut shown = text.clone();
        // Any URL, not only a redis one as the command accepts it: a URL's scheme is
        // case-insensitive, and a refused one may be a typo of another scheme.
        if shown.contains("://") {
            shown = url_without_password(&shown);
        }
        shown = escape::escaped(&shown).into_owned();
        if &shown != text {
            replaced.push((text.clone(), shown.clone()));
            e.insert(kind, ContextValue::String(shown));
        }
    }
    // The tips are styled text made of the raw argument and clap's own words; the argument
    // is replaced where it stands, which keeps the styles around it.
    if let (false, Some(ContextValue::StyledStrs(tips))) =
        (replaced.is_empty(), e.get(ContextKind::Suggested))
    {
        let tips = tips
            .iter()
            .map(|tip| {
                let mut text = tip.ansi().to_string();
                for (raw, shown) in &replaced {
                    text = text.replace(raw.as_str(), shown);
                }
                StyledStr::from(text)
            })
            .collect();
        e.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    }
    e
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
fn tell_interrupted(path: &str, stats: bool, report: InterruptedReport) {
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
    // truncating, so a refused `gen` leaves an existing file as it was.
    let made = match expected {
        Some(path) => {
            not_stdout("--expected", path)?;
            let existed = fs::symlink_metadata(path).is_ok();
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| cannot_write(path, e))?;
            (!existed).then_some(path)
        }
        None => None,
    };
    let scenario = generate(options).map_err(|e| {
        if let Some(path) = made {
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
    if let Some(path) = expected {
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
        fs::write(path, text).map_err(|e| cannot_write(path, e))?;
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
