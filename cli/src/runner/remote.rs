//! `--backend redis://…`: a run whose marketplace lives on a Redis server, shared by any
//! number of processes, each running some of the scenario's actors (a role, or named
//! actors), one thread each, blocking on the server (never polling) while they wait.
//!
//! Invariants: every process of a run checks that the market holds its scenario (the first
//! process labels the market with the scenario's fingerprint; a process with another
//! scenario, or arriving after the run ended, is refused before it starts an actor), and
//! claims its actors on the market, all or none, so that each actor runs in one process
//! (one whose actor another process claimed is refused before it starts any; a claim
//! lasts as long as the market, also past a crash).
//! Each consumer, when its last order is placed, adds itself to the market's tally of
//! finished consumers; whichever process completes the tally closes the market, and every
//! process ends when the market closes: producers stop publishing, waits return, and the
//! process exits once its actors are joined. A call whose connection breaks is retried
//! by the handle under the same operation id (it applies once); one that cannot be
//! completed within the retry time fails the run, and so does an actor's panic, which
//! then reaches the caller. The contract's operations go through the
//! `marketplace_contract::Market` trait, the one the contract's tests run on every
//! marketplace; the rendezvous of the processes (label, tally, closing) is the Redis
//! handle's own.

use std::any::Any;
use std::fmt;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use marketplace::{AddError, PublishError, Stats};
use marketplace_contract::Market;
use marketplace_redis::{CanonicalKey, ConnectError, RedisMarketplace, url_without_password};
use serde::{Deserialize, Serialize};

use super::interrupt::{Interrupt, Watch};
use super::printed_forms;
use super::stop_signal::StopSignal;
use super::supervisor::write_cart_lines;
use super::timing::{BLOCK, TimeScale};
use crate::scenario::{OpKind, Scenario, abbreviated_name};

/// The tally of consumers that placed their last order.
const FINISHED: &str = "finished consumers";

/// How long a handle keeps retrying a call whose connection broke (a server restart), unless
/// [`RemoteOptions::retry_for`] says otherwise.
pub const RETRY_FOR: Duration = Duration::from_secs(60);

/// How long a failed process retries its close of the market: enough to reconnect once
/// after a restart, and one try on a server that stopped answering, whose silence the
/// failed call has already waited out for [`RemoteOptions::retry_for`].
const CLOSE_RETRY_FOR: Duration = Duration::from_secs(1);

/// How long an interrupted process retries asking for the market's state for its report:
/// the signal waits for the report, and the process's retry window may be long enough
/// for the user to give up on it.
const REPORT_RETRY_FOR: Duration = Duration::from_secs(1);

/// Which actors of the scenario this process runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Producers and consumers.
    All,
    /// Only the producers.
    Producers,
    /// Only the consumers.
    Consumers,
}

/// Where and as what a process takes part in a run on a Redis server.
#[derive(Clone)]
pub struct RemoteOptions {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// The market's name on the server; every process of one run uses the same.
    pub market: String,
    /// The actors this process runs, by role.
    pub role: Role,
    /// If set, only the actors of these names (within the role).
    pub only: Option<Vec<String>>,
    /// The scenario's fingerprint: equal exactly when two processes run the same file.
    pub fingerprint: String,
    /// How long a call whose connection broke is retried before the run fails ([`RETRY_FOR`]
    /// unless the user chose another); zero makes one try.
    pub retry_for: Duration,
    /// Held by each order and the writing of its lines, so whoever asks for it (the
    /// command's watcher of SIGINT and SIGTERM) waits until every cart ordered is printed
    /// whole; once asked, no consumer places another order. It does not end the run.
    pub interrupt: Interrupt,
    /// Told, once every order in progress is out, what this process did until an end was
    /// asked through [`interrupt`](Self::interrupt), if the run was not over by then, and
    /// the run's failure if it had failed already ([`InterruptedReport::failure`]); see
    /// [`run_remote`]. It may ask for the interrupt itself: that request does not wait for
    /// this run's watch, which its return finishes (see [`Interrupt::interrupt_and_wait`]).
    pub interrupted: Option<Arc<dyn Fn(InterruptedReport) + Send + Sync>>,
    /// Whether that report asks the server for the market's state
    /// ([`InterruptedReport::market`]), which holds the one who asked for the interrupt
    /// until the server answers or the question is given up (on a server that went silent,
    /// after a new connection's time or a read timeout): false for a caller that does not
    /// tell it, whose report's market is then an error saying it was not asked.
    pub interrupted_market: bool,
}

// By hand: the URL's password stays out of logs and panic messages that show the
// options, as it stays out of error lines.
impl fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("url", &url_without_password(&self.url))
            .field("market", &self.market)
            .field("role", &self.role)
            .field("only", &self.only)
            .field("fingerprint", &self.fingerprint)
            .field("retry_for", &self.retry_for)
            .field("interrupt", &self.interrupt)
            .field("interrupted", &self.interrupted.as_ref().map(|_| "Fn"))
            .field("interrupted_market", &self.interrupted_market)
            .finish()
    }
}

/// Why a run on a Redis server did not complete.
#[derive(Debug)]
pub enum RemoteError {
    /// Refused before any actor started (unreachable server, another scenario's market, a
    /// finished run, unknown actor names, an actor another process runs): the caller's
    /// input is wrong.
    Refused(String),
    /// The run started and then failed (the server lost past the retry time, the market
    /// closed by another process before this one's consumers finished).
    Failed(String),
    /// The run started and then could not write its purchase lines to the sink, and
    /// stopped there as it stops at a failure; a caller tells a reader that left (a
    /// [`BrokenPipe`](io::ErrorKind::BrokenPipe)) by its kind.
    Output(io::Error),
    /// An end was asked for through [`RemoteOptions::interrupt`] before the run started
    /// its actors (nothing is told then: the process did nothing), or before it was over,
    /// and then what the process did until then, with its failure if it had failed
    /// already, was told to [`RemoteOptions::interrupted`], if set.
    Interrupted,
}

/// What one process of a run did.
#[derive(Clone, Copy, Debug)]
pub struct RemoteReport {
    /// Purchase lines this process wrote.
    pub purchases: u64,
    /// The market when this process ended.
    pub market: Stats,
    /// Wall time of this process's part.
    pub elapsed: Duration,
}

/// What one process of a run did until a SIGINT or SIGTERM (its [`Interrupt`]) asked for
/// the end, taken once every order in progress was out.
#[derive(Clone, Debug)]
pub struct InterruptedReport {
    /// Purchase lines this process wrote.
    pub purchases: u64,
    /// The market at the interrupt, or why the server could not tell it (or why it was not
    /// asked: a run that had failed does not ask, nor one whose caller does not want it,
    /// [`RemoteOptions::interrupted_market`]).
    pub market: Result<Stats, String>,
    /// Wall time of this process's part until the interrupt.
    pub elapsed: Duration,
    /// The run's failure ([`RemoteError::Failed`] or [`RemoteError::Output`], the latter
    /// with the sink's error's kind and message), if it had failed before the end was asked
    /// for and was still closing the market or stopping its other actors, which a server
    /// that stopped answering can make last for its whole retry window: the caller tells it
    /// as it tells a failed run's end, which the run does not return then.
    pub failure: Option<Arc<RemoteError>>,
}

/// An item as it travels through the server: the scenario's product index (how it
/// prints) and its equality class (which queue it shares). Processes of one run hold the
/// same scenario, so both mean the same thing in each.
#[derive(Clone, Serialize, Deserialize)]
struct Carried {
    product: usize,
    class: usize,
}

impl Carried {
    fn new(scenario: &Scenario, product: usize) -> Self {
        Carried {
            product,
            class: scenario.class_of(product),
        }
    }
}

/// Products equal by Python's `==` share a class, so `price=1` and `price=1.0` share one
/// queue while each item keeps (and prints) the form it was published in.
impl CanonicalKey for Carried {
    fn canonical_key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Owned(self.class.to_string())
    }
}

/// The end of this process's part of a run on a Redis server: what it came to, and the
/// run's watch on its [`Interrupt`], which keeps [`Interrupt::interrupt_and_wait`] waiting
/// until dropped, so that the caller tells the run's end (a statistics line, an error)
/// before whoever asked ends the process.
#[must_use = "whoever asks for the interrupt waits until this is dropped"]
#[derive(Debug)]
pub struct RemoteEnd {
    /// What the run came to.
    pub outcome: Result<RemoteReport, RemoteError>,
    /// Finished when dropped. It holds the interrupt only if the run started its actors
    /// and was over before any request (an [`Ok`], or a [`RemoteError::Failed`] or
    /// [`RemoteError::Output`] after the start): a refused run has nothing to tell yet, and
    /// an interrupted one was told.
    pub watch: Watch,
}

/// Runs this process's part of `scenario` on the market of `remote`, writing the purchase
/// lines of its consumers to `sink`.
///
/// The run watches [`RemoteOptions::interrupt`] once it is connected and about to start
/// its actors (an end asked for before ends it there, with [`RemoteError::Interrupted`]):
/// once every order in progress is out, [`RemoteOptions::interrupted`] is told what the
/// process did until then and the watch is finished, and the run goes on until its market
/// closes, its consumers placing no order after the request (the command ends the process
/// before then), and then returns [`RemoteError::Interrupted`]. A run that had failed
/// before the request, and was still stopping (closing its market on a server that does
/// not answer), has its failure told in that report
/// ([`InterruptedReport::failure`]) instead of returned. A run over before any
/// request hands its watch to the caller in the [`RemoteEnd`], to drop once it has told
/// the run's end. A panic in `interrupted` finishes the watch all the same, and reaches
/// the caller when the run ends, as an actor's does.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use marketplace_cli::runner::{Interrupt, RemoteOptions, Role, fingerprint, run_remote};
/// use marketplace_cli::scenario::Scenario;
///
/// let json = std::fs::read_to_string("scenarios/demo.json").unwrap();
/// let scenario = Scenario::from_json(&json).unwrap();
/// let options = RemoteOptions {
///     url: "redis://127.0.0.1:6379".to_owned(),
///     market: "demo".to_owned(),
///     role: Role::All,
///     only: None,
///     fingerprint: fingerprint(json.as_bytes()),
///     retry_for: Duration::from_secs(60),
///     interrupt: Interrupt::new(),
///     interrupted: Some(Arc::new(|report| eprintln!("interrupted: {report:?}"))),
///     interrupted_market: true,
/// };
/// let end = run_remote(&scenario, &options, 0.0, std::io::stdout());
/// if let Err(e) = &end.outcome {
///     eprintln!("error: {e:?}");
/// }
/// // Only now may a request for the interrupt end the process.
/// drop(end);
/// ```
pub fn run_remote<W: Write + Send>(
    scenario: &Scenario,
    remote: &RemoteOptions,
    time_scale: f64,
    sink: W,
) -> RemoteEnd {
    let watch = remote.interrupt.watch();
    let outcome = run_watched(scenario, remote, time_scale, sink, &watch);
    RemoteEnd { outcome, watch }
}

/// [`run_remote`], told of a request through `watch`.
fn run_watched<W: Write + Send>(
    scenario: &Scenario,
    remote: &RemoteOptions,
    time_scale: f64,
    sink: W,
    watch: &Watch,
) -> Result<RemoteReport, RemoteError> {
    let refused = |message: String| RemoteError::Refused(message);
    let url = url_without_password(&remote.url);
    let (producers, consumers) = chosen_actors(scenario, remote).map_err(refused)?;
    let market = RedisMarketplace::<Carried>::connect(
        &remote.url,
        &remote.market,
        scenario.queue_size_per_producer(),
    )
    .map_err(|e| match e {
        ConnectError::CapacityMismatch { .. } => refused(format!(
            "market {:?} holds another scenario: {e}",
            remote.market
        )),
        e => refused(format!("cannot use {url}: {e}")),
    })?
    .with_retry_for(remote.retry_for);
    let lost = |e: &dyn std::fmt::Display| refused(format!("cannot use {url}: {e}"));
    let label = market
        .label("scenario", &remote.fingerprint)
        .map_err(|e| lost(&e))?;
    if label != remote.fingerprint {
        return Err(refused(format!(
            "market {:?} on {url} holds another scenario; use another --market name",
            remote.market
        )));
    }
    if market.is_closed().map_err(|e| lost(&e))? {
        return Err(refused(format!(
            "market {:?} on {url} holds a run that has ended; use another --market name",
            remote.market
        )));
    }
    let threads = producers.len() + consumers.len();
    if let Some(room) = super::threads::room_exceeded_by(threads) {
        // A thread that cannot map its signal stack aborts the process: refuse first.
        return Err(RemoteError::Failed(format!(
            "{threads} actors need as many threads, but this system allows about {room} more; \
             split them over more processes (--role, --only)"
        )));
    }
    // One actor run by two processes would do its part twice (a consumer's purchases
    // printed twice, a producer's items published twice), and the first of a consumer's
    // two runs to finish could end the run while the other still has carts left. Claimed
    // by their places in the scenario, since two actors may share a name.
    let actors: Vec<(String, String)> = producers
        .iter()
        .map(|&i| {
            (
                format!("producer:{i}"),
                &scenario.producers()[i].name,
                "producer",
            )
        })
        .chain(consumers.iter().map(|&i| {
            (
                format!("consumer:{i}"),
                &scenario.consumers()[i].name,
                "consumer",
            )
        }))
        .map(|(claim, name, kind)| (claim, format!("{kind} {:?}", abbreviated_name(name))))
        .collect();
    let claims: Vec<&str> = actors.iter().map(|(claim, _)| claim.as_str()).collect();
    if let Some(taken) = market.claim(&claims).map_err(|e| lost(&e))? {
        let actor = actors
            .iter()
            .find(|(claim, _)| *claim == taken)
            .map_or(taken.as_str(), |(_, actor)| actor.as_str());
        return Err(refused(format!(
            "{actor} is run by another process on market {:?} on {url} already; each actor \
             of a run runs in one process, and keeps its market even once its process ended \
             early: run again on a new --market",
            remote.market
        )));
    }
    if scenario.consumers().is_empty() {
        // Nobody will ever finish, so nothing would end the run: it is over at once, as a
        // local run of such a scenario is.
        market.close().map_err(|e| lost(&e))?;
        log::debug!("close()");
    }
    if !watch.start() {
        return Err(RemoteError::Interrupted);
    }
    let started = Instant::now();
    let run = Run {
        scenario,
        market: &market,
        time: TimeScale(time_scale),
        sink: Mutex::new(sink),
        printed: printed_forms(scenario),
        purchases: AtomicU64::new(0),
        failure: Mutex::new(None),
        panic: Mutex::new(None),
        stop: StopSignal::default(),
        interrupt: &remote.interrupt,
        watch,
    };
    let run = &run;
    let over_first = thread::scope(|s| {
        let reporter = thread::Builder::new().spawn_scoped(s, move || {
            if watch.wait_for_the_request() {
                if let Some(interrupted) = &remote.interrupted {
                    // A failure decided before the request is this process's end: told
                    // now, since the run's own end may be a retry window away.
                    let failure = run
                        .failure
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_ref()
                        .map(|failure| Arc::new(failure.to_error()));
                    let report = InterruptedReport {
                        // Ordering: counted before each order's hold is let go, and the
                        // wait saw every order's hold let go, under the interrupt's lock.
                        purchases: run.purchases.load(Ordering::Relaxed),
                        // Not asked of a failed run, whose server may be the one lost.
                        market: match failure {
                            Some(_) => Err("not asked: the run had failed".to_owned()),
                            None if !remote.interrupted_market => {
                                Err("not asked: the caller does not tell it".to_owned())
                            }
                            None => run
                                .market
                                .stats_within(REPORT_RETRY_FOR)
                                .map_err(|e| e.to_string()),
                        },
                        elapsed: started.elapsed(),
                        failure,
                    };
                    // Whoever asked waits for the watch, which a panic here would leave
                    // unfinished; the panic reaches the caller at the end, as an actor's.
                    let telling = watch.telling();
                    let told = panic::catch_unwind(AssertUnwindSafe(|| interrupted(report)));
                    drop(telling);
                    if let Err(payload) = told {
                        run.keep(payload);
                    }
                }
                watch.finish();
            }
        });
        if reporter.is_err() {
            // Nobody could tell an interrupt, nor finish the watch when one comes.
            watch.finish();
        }
        let mut producer_threads = Vec::new();
        let mut consumer_threads = Vec::new();
        let actors = producers
            .iter()
            .map(|&index| (true, index))
            .chain(consumers.iter().map(|&index| (false, index)));
        for (is_producer, index) in actors {
            let spawned = thread::Builder::new().spawn_scoped(s, move || {
                run.guard(|| {
                    if is_producer {
                        run.produce(index)
                    } else {
                        run.consume(index)
                    }
                })
            });
            match spawned {
                Ok(handle) if is_producer => producer_threads.push(handle),
                Ok(handle) => consumer_threads.push(handle),
                Err(e) => {
                    // Stops (and closes the market for) every actor already started.
                    run.fail(format!("cannot start a thread: {e}"));
                    break;
                }
            }
        }
        for consumer in consumer_threads {
            let _ = consumer.join();
        }
        // This process's consumers are done (or failed): the run ends when the market
        // closes, which the last consumer of the whole run, wherever it runs, causes.
        if !run.failed() {
            run.await_the_end();
        }
        run.stop();
        for producer in producer_threads {
            let _ = producer.join();
        }
        watch.run_over()
    });
    if let Some(payload) = run.panic.lock().unwrap_or_else(|p| p.into_inner()).take() {
        panic::resume_unwind(payload);
    }
    if !over_first {
        return Err(RemoteError::Interrupted);
    }
    let failure = run.failure.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failure {
        Some(ActorFailure::Failed(message)) => return Err(RemoteError::Failed(message)),
        Some(ActorFailure::Output(e)) => return Err(RemoteError::Output(e)),
        None => {}
    }
    let stats = market
        .stats()
        .map_err(|e| RemoteError::Failed(e.to_string()))?;
    Ok(RemoteReport {
        purchases: run.purchases.load(Ordering::Relaxed),
        market: stats,
        elapsed: started.elapsed(),
    })
}

/// The indices of the producers and consumers this process runs.
fn chosen_actors(
    scenario: &Scenario,
    remote: &RemoteOptions,
) -> Result<(Vec<usize>, Vec<usize>), String> {
    if let Some(names) = &remote.only {
        for name in names {
            let producer = scenario.producers().iter().any(|p| &p.name == name);
            let consumer = scenario.consumers().iter().any(|c| &c.name == name);
            // A name outside the role would select nothing, and the process would wait for
            // the run to end without taking part in it.
            match (&remote.role, producer, consumer) {
                (_, false, false) => {
                    return Err(format!("--only: the scenario has no actor named {name:?}"));
                }
                (Role::Producers, false, true) => {
                    return Err(format!(
                        "--only: {name:?} is a consumer, and this process runs producers only \
                         (--role producers)"
                    ));
                }
                (Role::Consumers, true, false) => {
                    return Err(format!(
                        "--only: {name:?} is a producer, and this process runs consumers only \
                         (--role consumers)"
                    ));
                }
                _ => {}
            }
        }
    }
    let wanted = |name: &str| {
        remote
            .only
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    };
    let producers = match remote.role {
        Role::Consumers => Vec::new(),
        _ => (0..scenario.producers().len())
            .filter(|&i| wanted(&scenario.producers()[i].name))
            .collect(),
    };
    let consumers = match remote.role {
        Role::Producers => Vec::new(),
        _ => (0..scenario.consumers().len())
            .filter(|&i| wanted(&scenario.consumers()[i].name))
            .collect(),
    };
    Ok((producers, consumers))
}

/// Everything the actor threads of this process share.
struct Run<'s, 'm, W> {
    scenario: &'s Scenario,
    market: &'m RedisMarketplace<Carried>,
    time: TimeScale,
    sink: Mutex<W>,
    /// `printed[i]` is product `i` as a purchase line shows it, rendered once.
    printed: Vec<String>,
    purchases: AtomicU64,
    /// The first failure; the run stops at it.
    failure: Mutex<Option<ActorFailure>>,
    /// The first panic of an actor, which the run stops at too, or of the caller's report
    /// of an interrupt; passed on to the caller at the end.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Set once, when the run ends; threads check it before every wait.
    stop: StopSignal,
    interrupt: &'m Interrupt,
    /// The run's watch on `interrupt`, which each order holds.
    watch: &'m Watch,
}

impl<W: Write + Send> Run<'_, '_, W> {
    /// Runs an actor; its failure, or its panic, stops the whole process. A panic must stop
    /// it too: the others would otherwise wait for what the actor will never do (the market
    /// closes when the last consumer finishes).
    fn guard(&self, actor: impl FnOnce() -> Result<(), ActorFailure>) {
        match panic::catch_unwind(AssertUnwindSafe(actor)) {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => self.stop_at(failure),
            Err(payload) => {
                self.keep(payload);
                self.fail("an actor panicked".to_owned());
            }
        }
    }

    /// Keeps `payload` to pass on to the caller, unless a panic came first.
    fn keep(&self, payload: Box<dyn Any + Send>) {
        self.panic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(payload);
    }

    fn failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Waits until the market closes; a failure if it closed before every consumer of the
    /// scenario finished (a process failed, or someone closed the market).
    fn await_the_end(&self) {
        let finished = self
            .market
            .wait_closed(Duration::MAX)
            .and_then(|_| self.market.tally_size(FINISHED));
        match finished {
            Ok(count) if count >= self.scenario.consumers().len() as u64 => {}
            Ok(count) => self.fail(format!(
                "the market was closed after {count} of {} consumers finished",
                self.scenario.consumers().len()
            )),
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn fail(&self, failure: String) {
        self.stop_at(ActorFailure::Failed(failure));
    }

    fn stop_at(&self, failure: ActorFailure) {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(failure);
        self.stop();
        // Blocked waits of this process end only when the market closes; a failed process
        // cannot finish its part, so the run cannot complete anyway.
        let _ = self.market.close_within(CLOSE_RETRY_FOR);
    }

    fn stopped(&self) -> bool {
        self.stop.is_set()
    }

    /// How `item` prints, in purchase lines and the log.
    fn shown(&self, item: &Carried) -> &str {
        &self.printed[item.product]
    }

    fn stop(&self) {
        self.stop.set();
    }

    /// Sleeps for the scaled `seconds`, or until the run stops; false if it stopped.
    fn pause(&self, seconds: f64) -> bool {
        self.stop.pause(self.time, seconds)
    }

    /// A producer: its list, forever, until the market closes.
    fn produce(&self, index: usize) -> Result<(), ActorFailure> {
        let spec = &self.scenario.producers()[index];
        let failed =
            |e: &dyn std::fmt::Display| format!("producer {:?}: {e}", abbreviated_name(&spec.name));
        let id = self
            .market
            .try_register_producer()
            .map_err(|e| failed(&e))?;
        log::debug!("register_producer() -> {id}");
        if spec.products.is_empty() {
            while self.pause(f64::INFINITY) {}
            return Ok(());
        }
        loop {
            for supply in &spec.products {
                for _ in 0..supply.quantity {
                    let mut item = Carried::new(self.scenario, supply.product);
                    loop {
                        if self.stopped() {
                            return Ok(());
                        }
                        let wait = self
                            .time
                            .patience(spec.republish_wait_time)
                            .unwrap_or(BLOCK);
                        let product = self.shown(&item);
                        let published = self
                            .market
                            .try_publish_timeout(id, item, wait)
                            .map_err(|e| failed(&e))?;
                        log::debug!(
                            "publish_timeout({id}, {product}, {wait:?}) -> {}",
                            outcome(&published)
                        );
                        match published {
                            Ok(()) => break,
                            Err(PublishError::Full(back)) => {
                                if self.market.is_closed().map_err(|e| failed(&e))? {
                                    return Ok(());
                                }
                                item = back;
                            }
                            Err(e) => return Err(failed(&e).into()),
                        }
                    }
                    if !self.pause(supply.wait_seconds) {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// A consumer: its carts, in order; then it counts itself finished, and the consumer
    /// that finishes the scenario's last closes the market.
    fn consume(&self, index: usize) -> Result<(), ActorFailure> {
        let spec = &self.scenario.consumers()[index];
        // A call the server could not complete: its error names the call and the server.
        let lost =
            |e: &dyn std::fmt::Display| format!("consumer {:?}: {e}", abbreviated_name(&spec.name));
        // An outcome the call returned, which names neither.
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            format!("consumer {:?}: {what}: {e}", abbreviated_name(&spec.name))
        };
        for ops in &spec.carts {
            let cart = self.market.try_new_cart().map_err(|e| lost(&e))?;
            log::debug!("new_cart() -> {cart}");
            for op in ops {
                let item = Carried::new(self.scenario, op.product);
                for _ in 0..op.quantity {
                    match op.kind {
                        OpKind::Add => loop {
                            if self.stopped() {
                                return Ok(());
                            }
                            let wait = self.time.patience(spec.retry_wait_time).unwrap_or(BLOCK);
                            let added = self
                                .market
                                .try_add_to_cart_timeout(cart, &item, wait)
                                .map_err(|e| lost(&e))?;
                            log::debug!(
                                "add_to_cart_timeout({cart}, {}, {wait:?}) -> {}",
                                self.shown(&item),
                                outcome(&added)
                            );
                            match added {
                                Ok(()) => break,
                                Err(AddError::Unavailable) => {
                                    // A closed market answers at once: the run ended
                                    // elsewhere (a failed process closes it) before this
                                    // consumer finished, so it cannot finish.
                                    if self.market.is_closed().map_err(|e| lost(&e))? {
                                        return Err(format!(
                                            "consumer {:?}: the market was closed before it finished",
                                            spec.name
                                        )
                                        .into());
                                    }
                                }
                                Err(e) => return Err(failed("add_to_cart_timeout", &e).into()),
                            }
                        },
                        OpKind::Remove => {
                            let removed = self
                                .market
                                .try_remove_from_cart(cart, &item)
                                .map_err(|e| lost(&e))?;
                            log::debug!(
                                "remove_from_cart({cart}, {}) -> {}",
                                self.shown(&item),
                                outcome(&removed)
                            );
                            removed.map_err(|e| failed("remove_from_cart", &e))?;
                        }
                    }
                }
            }
            // Held from before the order until its lines are out: a signal now waits for
            // them (a second one does not), and one that came first places no order.
            let held = self.watch.hold_order();
            if self.interrupt.is_requested() {
                drop(held);
                // The process is about to die of the signal: neither finish this consumer
                // nor fail the run, either of which the other processes would hear of.
                // Its thread still ends, so that the run waits for the market's close as
                // a process without consumers does, and a library caller that outlives
                // the interrupt gets the run's end once the market closes.
                return Ok(());
            }
            let bought = self
                .market
                .try_place_order(cart)
                .map_err(|e| lost(&e))?
                .map_err(|e| failed("place_order", &e))?;
            if log::log_enabled!(log::Level::Debug) {
                let products: Vec<_> = bought.iter().map(|item| self.shown(item)).collect();
                log::debug!("place_order({cart}) -> {}", Listed(&products));
            }
            // Under the sink's lock, so the lines of two carts never interleave; rendered a
            // piece at a time, since a cart of long names can print gigabytes.
            let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
            let products = bought.iter().map(|item| self.shown(item));
            write_cart_lines(&mut *sink, &mut Vec::new(), &spec.name, products, drop)
                .and_then(|()| sink.flush())
                .map_err(ActorFailure::Output)?;
            drop(sink);
            // Ordering: read at the end, after the threads are joined, or by the report of
            // an interrupt, once this hold is let go.
            self.purchases
                .fetch_add(bought.len() as u64, Ordering::Relaxed);
            drop(held);
        }
        let finished = self
            .market
            .tally(FINISHED, &index.to_string())
            .map_err(|e| failed("finishing", &e))?;
        if finished == self.scenario.consumers().len() as u64 {
            self.market.close().map_err(|e| failed("closing", &e))?;
            log::debug!("close()");
        }
        Ok(())
    }
}

/// Why an actor stopped the run.
enum ActorFailure {
    /// Told to the caller as [`RemoteError::Failed`].
    Failed(String),
    /// The sink's error, told as [`RemoteError::Output`].
    Output(io::Error),
}

impl ActorFailure {
    /// The failure as the caller is told it, kept here as well: the sink's error is
    /// copied by its kind and message, which is what a caller tells it by.
    fn to_error(&self) -> RemoteError {
        match self {
            ActorFailure::Failed(message) => RemoteError::Failed(message.clone()),
            ActorFailure::Output(e) => RemoteError::Output(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

impl From<String> for ActorFailure {
    fn from(message: String) -> Self {
        ActorFailure::Failed(message)
    }
}

/// Products as an order's record lists them, `[a, b]`, written a piece at a time: the log
/// keeps a record's first megabyte, and a cart of long names joined into one text first
/// would take as much memory as it prints.
struct Listed<'a>(&'a [&'a str]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, product) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(product)?;
        }
        f.write_str("]")
    }
}

/// A call's outcome as the log shows it.
fn outcome<E: std::fmt::Display>(result: &Result<(), E>) -> String {
    match result {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    }
}

/// The fingerprint of a scenario file: 64-bit FNV-1a of its bytes, in hex (stable across
/// builds and hosts, unlike the standard library's hasher).
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_debug_form_hides_the_password() {
        let options = RemoteOptions {
            url: "redis://user:hunter2@127.0.0.1:6379/0?password=hunter3".to_owned(),
            market: "demo".to_owned(),
            role: Role::All,
            only: None,
            fingerprint: fingerprint(b"{}"),
            retry_for: RETRY_FOR,
            interrupt: Interrupt::new(),
            interrupted: None,
            interrupted_market: false,
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter"), "the password is shown: {shown}");
        assert!(
            shown.contains("127.0.0.1:6379"),
            "the host is not shown: {shown}"
        );
    }
}
