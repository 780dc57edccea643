//! Runs a [`Scenario`]: every producer and consumer trades through one [`Marketplace`],
//! and each purchase is printed as the classic Python system prints it.
//!
//! This module owns the public face of a run: [`run`], its [`RunOptions`] (among them
//! [`Actors`]: async tasks or one thread each, and the [`ProgressLine`] on stderr), what a
//! finished run reports ([`Report`], with every actor's figures in [`RunStats`]) and why one
//! did not finish ([`RunError`], [`StallReport`]). Both kinds of actors follow the
//! same rules, so a scenario prints the same lines, ends with the same outcome and reports
//! a stall the same way whichever runs it:
//!
//! - Each producer is registered once, before any actor starts (so a stall report can read
//!   every producer's shelf), then publishes its list forever, in order.
//! - Consumers fill their carts, place the orders, and hand each cart's products to the
//!   supervisor, which writes its lines to the sink in consecutive writes of at most
//!   64 KiB and a line: lines of different carts are never interleaved, a cart of
//!   gigabytes of lines takes a word per item of memory, and the sink (which may borrow
//!   from the caller) never leaves the caller's thread. Each product's printed form is
//!   rendered once per run.
//! - Nothing spins: a waiting actor sleeps in the engine (until the item or the room
//!   arrives, or the marketplace closes) or on a timer, never polls.
//! - The run ends when every consumer is done, when no consumer made progress for
//!   `stall_timeout` (a stall, reported), when writing the output fails or an actor fails,
//!   or when its [`Interrupt`] asks (the command's SIGINT and SIGTERM).
//!   Then every actor is stopped and gone before [`run`] returns, and the lines of every
//!   cart ordered until then are written.
//!
//! - Each actor counts what it does in a slot of its own (no counter is shared by actors),
//!   and the supervisor alone draws the progress line, from figures that exist anyway.
//!
//! Where the parts live: `product` (what the engine trades), `timing` (scaled waits),
//! `progress` (what actors record and the supervisor watches), `supervisor` (the sink and
//! the end of a run), `display` (the progress line), `stats` (the figures per actor),
//! `stall` (the stall report), `threads` and `tasks` (the two kinds of actors),
//! `stop_signal` (how thread actors learn that the run ended), `interrupt` (an end asked
//! from outside the run), `remote` (a run whose marketplace is on a Redis server, shared
//! by several processes).

mod display;
mod interrupt;
mod product;
mod progress;
mod remote;
mod stall;
mod stats;
mod stop_signal;
mod supervisor;
mod tasks;
mod threads;
mod timing;

use std::fmt;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::time::Duration;

use crate::scenario::{Scenario, abbreviated_name};
use marketplace::Stats;

pub use display::ProgressLine;
pub use interrupt::{Hold, Interrupt, Watch};
pub use product::ProductRef;
pub use remote::{
    InterruptedReport, RETRY_FOR, RemoteEnd, RemoteError, RemoteOptions, RemoteReport, Role,
    fingerprint, run_remote,
};
pub use stall::{ProducerState, StallReport, WaitingConsumer};
pub use stats::{ConsumerStats, ProducerStats, RunEnd, RunStats, Summary, Totals, shown_time};

#[cfg(doc)]
use marketplace::Marketplace;

/// The most worker threads a run of tasks starts: well above any core count, low enough
/// that a slip cannot start a flood of threads (each reserves its stack).
pub const MAX_WORKERS: usize = 1024;

/// How the producers and consumers of a run execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actors {
    /// Each actor is an async task on a multi-thread tokio runtime of `workers` threads.
    /// Waiting actors hold no thread, so a run scales to hundreds of thousands of them.
    Tasks {
        /// The runtime's worker threads, at most [`MAX_WORKERS`].
        workers: NonZeroUsize,
    },
    /// Each actor is an OS thread of its own (the classic model). The system's limits on
    /// threads bound the size of a scenario; a run that would exceed them is refused with
    /// [`RunError::Resources`] before any actor starts.
    Threads,
}

impl Actors {
    /// Tasks on one worker thread per CPU.
    pub fn tasks() -> Self {
        Actors::Tasks {
            workers: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        }
    }
}

impl Default for Actors {
    /// [`Actors::tasks`]: at least as fast as threads on small scenarios, and the only
    /// choice for large ones.
    fn default() -> Self {
        Actors::tasks()
    }
}

/// How to run a scenario.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Multiplies every wait of the scenario; 0 means no waiting at all. Finite, `>= 0`.
    pub time_scale: f64,
    /// A run in which no consumer makes progress for this long is stopped as stalled
    /// (zero declares a stall at the first check, so use a positive value).
    pub stall_timeout: Duration,
    /// Tasks or threads.
    pub actors: Actors,
    /// Whether and how the run shows its progress on stderr.
    pub progress: ProgressLine,
    /// Ends the run early when asked, its output written out (the command asks on SIGINT
    /// and SIGTERM).
    pub interrupt: Interrupt,
}

impl Default for RunOptions {
    /// The classic timing, a minute of patience, tasks on one worker per CPU, no
    /// progress line, and an interrupt of its own (no one else can ask for it).
    fn default() -> Self {
        RunOptions {
            time_scale: 1.0,
            stall_timeout: Duration::from_secs(60),
            actors: Actors::default(),
            progress: ProgressLine::Off,
            interrupt: Interrupt::new(),
        }
    }
}

/// What a finished run did.
#[derive(Clone, Debug)]
pub struct Report {
    /// Purchase lines written.
    pub purchases: u64,
    /// Times a consumer found its product unavailable (and waited to retry).
    pub retries: u64,
    /// Times a producer found its queue full (and waited to republish).
    pub republishes: u64,
    /// Wall time from the first actor started to the last one gone.
    pub elapsed: Duration,
    /// The marketplace at the end of the run.
    pub market: Stats,
    /// Every actor's figures; `retries` and `republishes` are their totals.
    pub stats: RunStats,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = Summary {
            purchases: self.purchases,
            retries: self.retries,
            republishes: self.republishes,
            elapsed: self.elapsed,
        };
        write!(f, "{summary}; at the end: {}", self.market)
    }
}

/// Why a run did not complete.
#[derive(Debug)]
pub enum RunError {
    /// No consumer made progress for the stall timeout.
    Stalled(StallReport),
    /// Writing the purchase lines failed (for example a closed pipe).
    Output(io::Error),
    /// The options are unusable (a negative or non-finite time scale).
    Options(String),
    /// The system refused what the run needs (threads, a runtime); nothing was run, or
    /// what was started has been stopped.
    Resources(String),
    /// The engine refused an operation a validated scenario cannot cause; a bug.
    Engine(String),
    /// [`RunOptions::interrupt`] asked the run to end; the lines of every cart ordered
    /// until its actors stopped are written. Holds every actor's figures until then.
    Interrupted(RunStats),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Stalled(report) => report.fmt(f),
            RunError::Output(e) => write!(f, "cannot write the output: {e}"),
            RunError::Options(msg) => write!(f, "invalid run options: {msg}"),
            RunError::Resources(msg) => write!(f, "cannot run: {msg}"),
            RunError::Engine(msg) => write!(f, "internal error: {msg}"),
            RunError::Interrupted(_) => write!(f, "interrupted"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Output(e) => Some(e),
            _ => None,
        }
    }
}

/// Runs `scenario` to the end and writes the purchase lines to `sink`.
///
/// ```
/// use marketplace_cli::runner::{run, Actors, RunOptions};
/// use marketplace_cli::scenario::Scenario;
///
/// let scenario = Scenario::from_json(r#"{
///     "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
///     "producers": [{"name": "p", "products": [["m", 1, 0.5]], "republish_wait_time": 1}],
///     "consumers": [{"name": "c", "retry_wait_time": 1,
///                    "carts": [[{"type": "add", "product": "m", "quantity": 3}]]}],
///     "marketplace": {"queue_size_per_producer": 1}
/// }"#).unwrap();
/// for actors in [Actors::tasks(), Actors::Threads] {
///     let mut out = Vec::new();
///     let options = RunOptions { time_scale: 0.0, actors, ..RunOptions::default() };
///     let report = run(&scenario, &options, &mut out).unwrap();
///     assert_eq!(report.purchases, 3);
///     assert_eq!(report.stats.consumers[0].purchases, 3);
///     assert_eq!(String::from_utf8(out).unwrap(), "c bought Product(name='Mug', price=4)\n".repeat(3));
/// }
/// ```
///
/// # Errors
///
/// [`RunError::Stalled`] when no consumer made progress for `options.stall_timeout` (the
/// lines of the carts ordered until then are written); [`RunError::Output`] when writing
/// fails; [`RunError::Options`] for a negative or non-finite time scale or more than
/// [`MAX_WORKERS`] workers;
/// [`RunError::Resources`] when the system cannot give the run its threads;
/// [`RunError::Interrupted`] when [`RunOptions::interrupt`] ended it (the lines of the
/// carts ordered until then are written).
pub fn run<W: Write + Send>(
    scenario: &Scenario,
    options: &RunOptions,
    sink: W,
) -> Result<Report, RunError> {
    if !options.time_scale.is_finite() || options.time_scale < 0.0 {
        return Err(RunError::Options(format!(
            "the time scale must be a finite number >= 0, not {}",
            options.time_scale
        )));
    }
    match options.actors {
        Actors::Tasks { workers } if workers.get() > MAX_WORKERS => Err(RunError::Options(
            format!("at most {MAX_WORKERS} worker threads, not {workers}"),
        )),
        Actors::Tasks { workers } => tasks::run(scenario, options, workers, sink),
        Actors::Threads => threads::run(scenario, options, sink),
    }
}

/// A refusal by the engine that a validated scenario cannot cause (a bug), naming the
/// consumer, cut as every message naming an actor cuts it, and the call.
fn engine_error(consumer: &str, call: &str, error: &dyn fmt::Display) -> RunError {
    RunError::Engine(format!(
        "consumer {:?}: {call}: {error}",
        abbreviated_name(consumer)
    ))
}

/// The result of an add that did not end for want of the product: true when added.
fn added(consumer: &str, outcome: Result<(), marketplace::AddError>) -> Result<bool, RunError> {
    outcome
        .map(|()| true)
        .map_err(|e| engine_error(consumer, "add_to_cart", &e))
}

/// Every product of `scenario` as purchase lines print it, by index.
fn printed_forms(scenario: &Scenario) -> Vec<String> {
    (0..scenario.products().len())
        .map(|index| scenario.product(index).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine error names its consumer cut after 1000 characters with its length, as
    /// every other message naming an actor does: the name may be a megabyte.
    #[test]
    fn an_engine_error_names_a_long_consumer_cut() {
        let RunError::Engine(message) = engine_error(&"w".repeat(1_000_000), "add_to_cart", &"x")
        else {
            panic!("not an engine error");
        };
        assert!(
            message.len() < 1100 && message.contains("w... (1000000 characters)\": add_to_cart"),
            "a message of {} bytes",
            message.len()
        );
    }
}
