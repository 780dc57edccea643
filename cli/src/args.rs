//! The command line as clap parses it: the arguments of each command, the parsers of their
//! values, the rules between flags that clap's own cannot express (`RunArgs::check`), the
//! options they make for the library, and clap's usage errors as they are told.
//!
//! Invariants: a value the command cannot use is refused here, with clap's usage error
//! (exit code 2), before any file is read: a negative or infinite wait, a timeout or retry
//! window a `Duration` cannot hold, workers beyond `MAX_WORKERS`, a redis URL holding a
//! control character; a usage error echoes what was typed escaped onto one line and a URL
//! without its password (`told_on_one_line`). clap stays in the binary: the library is
//! given its own option types only.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use marketplace_cli::escape;
use marketplace_cli::generate::{GenOptions, MAX_ACTORS, MAX_OPERATIONS, MAX_PRODUCTS};
use marketplace_cli::runner::{
    Actors, Interrupt, MAX_WORKERS, ProgressLine, RETRY_FOR, RemoteOptions, Role, RunOptions,
    fingerprint,
};
use marketplace_cli::scenario::MAX_QUEUE_SIZE;
use marketplace_redis::url_without_password;

use crate::failure::{EXIT_CODES, Failure};
use crate::log_file;
use crate::run_command::tell_interrupted;
use crate::shown_path;

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
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
pub(crate) struct RunArgs {
    /// The scenario file (JSON), at most 1 GiB unless MARKETPLACE_MAX_SCENARIO_BYTES sets
    /// another limit; /dev/stdin reads standard input.
    pub(crate) scenario: PathBuf,
    /// Multiply every wait of the scenario by this factor; 0 runs without waiting
    /// (actors still sleep, never spin, while they wait for each other).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_scale,
          allow_hyphen_values = true)]
    pub(crate) time_scale: f64,
    /// Log every marketplace call (debug level) to files named after PATH, rotated at
    /// 1 MB, keeping 20 old files: logs/market.log writes logs/market_rCURRENT.log, then
    /// market_r00000.log, ...; its directory is created if missing. Without it nothing is
    /// logged.
    #[arg(long, value_name = "PATH")]
    pub(crate) log_file: Option<PathBuf>,
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
    pub(crate) quiet: bool,
    /// Print a table on stderr at the end (also after a stall or a SIGINT or SIGTERM): per
    /// consumer its carts, purchases, retries and time waiting; per producer the items
    /// published and the times its queue was full; totals, wall time and a summary line.
    /// On a redis backend, only a line of this process's purchases and the market's state
    /// at the end (or at the signal).
    #[arg(long)]
    pub(crate) stats: bool,
    /// Write the figures of --stats to FILE as JSON (see docs/scenario-format.md), also
    /// after a stall ("stalled": true) or a SIGINT or SIGTERM ("interrupted": true). FILE
    /// is created before the run starts. Not allowed with a redis backend.
    #[arg(long, value_name = "FILE")]
    pub(crate) stats_json: Option<PathBuf>,
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
    pub(crate) fn options(&self, interrupt: Interrupt) -> RunOptions {
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
    pub(crate) fn check(&self) {
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
    pub(crate) fn start_log(&self) -> Result<Option<log_file::Log>, Failure> {
        self.log_file
            .as_deref()
            .map(|file| log_file::start(file, &self.log_level))
            .transpose()
    }

    /// Where and as what this process runs, for a redis backend; `scenario_text` is the
    /// scenario file's, which the market is labelled with.
    pub(crate) fn remote(
        &self,
        scenario_text: &str,
        interrupt: &Interrupt,
    ) -> Option<RemoteOptions> {
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
pub(crate) struct CheckArgs {
    /// The scenario file (JSON), at most 1 GiB unless MARKETPLACE_MAX_SCENARIO_BYTES sets
    /// another limit; /dev/stdin reads standard input.
    pub(crate) scenario: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct GenArgs {
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
    pub(crate) expected: Option<PathBuf>,
}

impl GenArgs {
    pub(crate) fn options(&self) -> GenOptions {
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

/// clap's usage error `e`, with the value, argument or subcommand it echoes escaped as
/// [`escape::escaped`] does (clap echoes it raw: a line break would cut the error line in
/// two, a right-to-left override reorder it), and a URL's password left out, as every other error naming a
/// server does; likewise in its tips, which echo an unknown argument too.
pub(crate) fn told_on_one_line(mut e: clap::Error) -> clap::Error {
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
