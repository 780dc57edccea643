//! Runs a [`Scenario`]: one thread per producer and per consumer, trading through one
//! [`Marketplace`], printing each purchase as the classic Python system does.
//!
//! This module owns the threads' behaviour and the end of a run:
//!
//! - Each producer is registered once, before any thread starts (so the stall report can
//!   read every producer's shelf), then publishes its list forever, in order.
//! - Consumers fill their carts, place the orders and write `<name> bought <product>`
//!   lines, one cart's lines in one `write_all` under the sink's lock, so lines are never
//!   interleaved.
//! - Nothing spins. A consumer waiting for a product blocks in
//!   [`Marketplace::add_to_cart_timeout`], a producer facing a full queue in
//!   [`Marketplace::publish_timeout`]; with a time scale above zero, those waits also end
//!   after the scaled classic wait (so retries are counted as the classic system would),
//!   and the pause after each publish is a sleep that ends early when the run stops.
//!   Waits that would scale below 1 ms block until the event instead of polling.
//! - The run ends when every consumer is done, when no consumer made progress for
//!   `stall_timeout` (a stall, reported), or when writing the output fails. In every case
//!   the runner sets the stop flag, then [`Marketplace::close`]s the marketplace so that
//!   every blocked thread wakes, and joins all threads before returning.
//!
//! Equal products are interchangeable: the engine's key, [`ProductRef`], compares by equality
//! class but carries the product the producer actually published, so a consumer asking for
//! `price=9` that receives an equal `price=9.0` prints `price=9.0`, as Python would.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::scenario::{OpKind, ProducerSpec, Product, Scenario};
use marketplace::{AddError, CartId, Marketplace, ProducerId, PublishError, Stats};

/// How long a wait that nothing but an event (or the end of the run) should end lasts; the
/// run's end always interrupts it, so its length only bounds the damage of a lost wakeup.
const BLOCK: Duration = Duration::from_secs(3600);

/// Scaled waits shorter than this are not worth waking up for: they would turn a blocking
/// wait into polling. Such waits block until the event instead.
const MIN_TIMED_WAIT: Duration = Duration::from_millis(1);

/// What the runner trades on the engine: a reference to one product of the scenario,
/// compared and hashed by its equality class, so equal products are interchangeable while
/// each keeps the form it was published in.
///
/// `Debug` prints the product's Python repr, which is what the engine's log shows.
#[derive(Clone, Copy)]
pub struct ProductRef<'s> {
    class: usize,
    index: usize,
    product: &'s Product,
}

impl<'s> ProductRef<'s> {
    /// The reference to product `index` of `scenario`.
    ///
    /// # Panics
    ///
    /// When `index` is not a product index of `scenario`.
    pub fn new(scenario: &'s Scenario, index: usize) -> Self {
        ProductRef {
            class: scenario.class_of(index),
            index,
            product: scenario.product(index),
        }
    }

    /// The index of the product in the scenario.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The product itself (the one published, which may differ in form from the one asked
    /// for while being equal to it).
    pub fn product(&self) -> &'s Product {
        self.product
    }
}

impl PartialEq for ProductRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.class == other.class
    }
}

impl Eq for ProductRef<'_> {}

impl Hash for ProductRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.class.hash(state);
    }
}

impl fmt::Debug for ProductRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.product, f)
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
}

impl Default for RunOptions {
    /// The classic timing, and a minute of patience.
    fn default() -> Self {
        RunOptions {
            time_scale: 1.0,
            stall_timeout: Duration::from_secs(60),
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
    /// Wall time from the first thread started to the last one joined.
    pub elapsed: Duration,
    /// The marketplace at the end of the run.
    pub market: Stats,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} purchases, {} consumer retries, {} producer republishes in {:.3} s; at the end: {}",
            self.purchases,
            self.retries,
            self.republishes,
            self.elapsed.as_secs_f64(),
            self.market
        )
    }
}

/// A producer that makes a product someone waits for, as found when the run stalled.
#[derive(Clone, Debug)]
pub struct ProducerState {
    /// The producer's name.
    pub name: String,
    /// Its index in the scenario's producer list.
    pub index: usize,
    /// Items it had on the shelf (any product).
    pub on_shelf: usize,
    /// Its queue size.
    pub capacity: usize,
}

/// A consumer blocked on a product when the run stalled.
#[derive(Clone, Debug)]
pub struct WaitingConsumer {
    /// The consumer's name.
    pub name: String,
    /// The product it waits for.
    pub product: Product,
    /// Items equal to it on sale at the time of the report (normally 0).
    pub on_sale: usize,
    /// The producers that make that product (or an equal one).
    pub producers: Vec<ProducerState>,
}

/// Why a run was stopped as stalled: who waited for what.
#[derive(Clone, Debug)]
pub struct StallReport {
    /// How long no consumer had made progress.
    pub idle: Duration,
    /// Consumers that had not finished yet.
    pub unfinished: usize,
    /// Consumers blocked on a product, with what they wait for.
    pub waiting: Vec<WaitingConsumer>,
    /// Purchase lines written before the stop.
    pub purchases: u64,
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stalled: no consumer made progress for {:.1} s; {} consumer(s) unfinished, {} purchase(s) written",
            self.idle.as_secs_f64(),
            self.unfinished,
            self.purchases
        )?;
        for w in &self.waiting {
            write!(
                f,
                "\n  consumer {:?} waits for {} ({} on sale)",
                w.name, w.product, w.on_sale
            )?;
            for p in &w.producers {
                let state = if p.on_shelf >= p.capacity {
                    "queue full, so it cannot publish more"
                } else {
                    "queue not full"
                };
                write!(
                    f,
                    "\n    made by producers[{}] {:?}: {} of {} on the shelf ({state})",
                    p.index, p.name, p.on_shelf, p.capacity
                )?;
            }
        }
        Ok(())
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
    /// The engine refused an operation a validated scenario cannot cause; a bug.
    Engine(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Stalled(report) => report.fmt(f),
            RunError::Output(e) => write!(f, "cannot write the output: {e}"),
            RunError::Options(msg) => write!(f, "invalid run options: {msg}"),
            RunError::Engine(msg) => write!(f, "internal error: {msg}"),
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
/// use marketplace_cli::runner::{run, RunOptions};
/// use marketplace_cli::scenario::Scenario;
///
/// let scenario = Scenario::from_json(r#"{
///     "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
///     "producers": [{"name": "p", "products": [["m", 1, 0.5]], "republish_wait_time": 1}],
///     "consumers": [{"name": "c", "retry_wait_time": 1,
///                    "carts": [[{"type": "add", "product": "m", "quantity": 3}]]}],
///     "marketplace": {"queue_size_per_producer": 1}
/// }"#).unwrap();
/// let mut out = Vec::new();
/// let options = RunOptions { time_scale: 0.0, ..RunOptions::default() };
/// let report = run(&scenario, &options, &mut out).unwrap();
/// assert_eq!(report.purchases, 3);
/// assert_eq!(String::from_utf8(out).unwrap(), "c bought Product(name='Mug', price=4)\n".repeat(3));
/// ```
///
/// # Errors
///
/// [`RunError::Stalled`] when no consumer made progress for `options.stall_timeout` (the
/// lines of the carts ordered until then are written); [`RunError::Output`] when writing
/// fails; [`RunError::Options`] for a negative or non-finite time scale.
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
    let market = Marketplace::new(scenario.queue_size_per_producer());
    let producer_ids: Vec<ProducerId> = scenario
        .producers()
        .iter()
        .map(|_| market.register_producer())
        .collect();
    let run = Run {
        scenario,
        market: &market,
        time_scale: options.time_scale,
        sink: Mutex::new(sink),
        start: Instant::now(),
        last_progress_nanos: AtomicU64::new(0),
        waiting_for: (0..scenario.consumers().len())
            .map(|_| AtomicUsize::new(NOT_WAITING))
            .collect(),
        stop: AtomicBool::new(false),
        control: Mutex::new(Control::default()),
        changed: Condvar::new(),
        purchases: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        republishes: AtomicU64::new(0),
    };

    let outcome = thread::scope(|s| {
        let run = &run;
        for (spec, &id) in scenario.producers().iter().zip(&producer_ids) {
            thread::Builder::new()
                .name(format!("producer {}", spec.name))
                .spawn_scoped(s, move || run.produce(spec, id))
                .map_err(|e| RunError::Engine(format!("cannot start a thread: {e}")))?;
        }
        for index in 0..scenario.consumers().len() {
            let spawned = thread::Builder::new()
                .name(format!("consumer {}", scenario.consumers()[index].name))
                .spawn_scoped(s, move || run.consume(index));
            if let Err(e) = spawned {
                run.fail(RunError::Engine(format!("cannot start a thread: {e}")));
                break;
            }
        }
        let outcome = run.supervise(options.stall_timeout, &producer_ids);
        run.shut_down();
        outcome
        // Leaving the scope joins every thread.
    });

    let flushed = run
        .sink
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .flush();
    outcome?;
    flushed.map_err(RunError::Output)?;
    Ok(Report {
        purchases: run.purchases.into_inner(),
        retries: run.retries.into_inner(),
        republishes: run.republishes.into_inner(),
        elapsed: run.start.elapsed(),
        market: market.stats(),
    })
}

/// `waiting_for` value of a consumer not blocked on a product.
const NOT_WAITING: usize = usize::MAX;

/// State the supervisor waits on; guarded by `Run::control`.
#[derive(Default)]
struct Control {
    consumers_done: usize,
    /// The first failure a thread met; it ends the run.
    failure: Option<RunError>,
}

/// Everything the threads of one run share.
struct Run<'s, 'm, W> {
    scenario: &'s Scenario,
    market: &'m Marketplace<ProductRef<'s>>,
    time_scale: f64,
    sink: Mutex<W>,
    start: Instant,
    /// Nanoseconds since `start` at the last consumer operation that succeeded.
    last_progress_nanos: AtomicU64,
    /// Per consumer: the product index it is blocked on, or `NOT_WAITING`.
    waiting_for: Vec<AtomicUsize>,
    /// Set once, when the run ends; threads check it before every wait.
    stop: AtomicBool,
    control: Mutex<Control>,
    /// Signalled when `control` changes and when `stop` is set.
    changed: Condvar,
    purchases: AtomicU64,
    retries: AtomicU64,
    republishes: AtomicU64,
}

impl<'s, W: Write + Send> Run<'s, '_, W> {
    fn control(&self) -> MutexGuard<'_, Control> {
        // A panicking thread cannot leave `Control` half-updated: every update is one field.
        self.control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The scaled classic wait, as a timeout for a blocking wait that an event also ends.
    fn patience(&self, seconds: f64) -> Duration {
        let scaled = Duration::try_from_secs_f64(seconds * self.time_scale).unwrap_or(BLOCK);
        if scaled < MIN_TIMED_WAIT {
            BLOCK
        } else {
            scaled.min(BLOCK)
        }
    }

    /// Sleeps for the scaled `seconds`, or until the run stops; false if it stopped.
    fn pause(&self, seconds: f64) -> bool {
        let scaled = Duration::try_from_secs_f64(seconds * self.time_scale).unwrap_or(BLOCK);
        if scaled.is_zero() {
            return !self.stopped();
        }
        let guard = self.control();
        let _guard = self
            .changed
            .wait_timeout_while(guard, scaled, |_| !self.stopped())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        !self.stopped()
    }

    /// Records the first failure and ends the run.
    fn fail(&self, error: RunError) {
        let mut control = self.control();
        if control.failure.is_none() {
            control.failure = Some(error);
        }
        drop(control);
        self.changed.notify_all();
    }

    fn progress(&self) {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_progress_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// A producer: its list, forever, until the run stops.
    fn produce(&self, spec: &ProducerSpec, id: ProducerId) {
        log::debug!("producer {:?} starts as {id}", spec.name);
        if spec.products.is_empty() {
            // Nothing to publish: wait for the end instead of looping over an empty list.
            while self.pause(f64::INFINITY) {}
            return;
        }
        'run: loop {
            for supply in &spec.products {
                for _ in 0..supply.quantity {
                    let mut item = ProductRef::new(self.scenario, supply.product);
                    loop {
                        if self.stopped() {
                            break 'run;
                        }
                        let outcome = match self.market.publish(id, item) {
                            Err(PublishError::Full(back)) => {
                                self.republishes.fetch_add(1, Ordering::Relaxed);
                                let wait = self.patience(spec.republish_wait_time);
                                self.market.publish_timeout(id, back, wait)
                            }
                            other => other,
                        };
                        match outcome {
                            Ok(()) => break,
                            Err(PublishError::Full(back)) => item = back,
                            Err(refused) => {
                                self.fail(RunError::Engine(format!(
                                    "producer {:?} could not publish: {refused}",
                                    spec.name
                                )));
                                break 'run;
                            }
                        }
                    }
                    if !self.pause(supply.wait_seconds) {
                        break 'run;
                    }
                }
            }
        }
        log::debug!("producer {:?} stops", spec.name);
    }

    /// A consumer: its carts, in order; then it reports itself done.
    fn consume(&self, index: usize) {
        if let Err(e) = self.fill_carts(index) {
            self.fail(e);
        }
        self.waiting_for[index].store(NOT_WAITING, Ordering::Relaxed);
        self.control().consumers_done += 1;
        self.changed.notify_all();
    }

    fn fill_carts(&self, index: usize) -> Result<(), RunError> {
        let spec = &self.scenario.consumers()[index];
        let engine = |what: &str, e: &dyn fmt::Display| {
            RunError::Engine(format!("consumer {:?}: {what}: {e}", spec.name))
        };
        let mut lines = String::new();
        for ops in &spec.carts {
            let cart = self.market.new_cart();
            for op in ops {
                let item = ProductRef::new(self.scenario, op.product);
                for _ in 0..op.quantity {
                    match op.kind {
                        OpKind::Add => {
                            if !self.add(index, spec.retry_wait_time, cart, &item)? {
                                return Ok(()); // the run stopped
                            }
                        }
                        OpKind::Remove => self
                            .market
                            .remove_from_cart(cart, &item)
                            .map_err(|e| engine("remove_from_cart", &e))?,
                    }
                    self.progress();
                }
            }
            let bought = self
                .market
                .place_order(cart)
                .map_err(|e| engine("place_order", &e))?;
            lines.clear();
            for item in &bought {
                use fmt::Write as _;
                let _ = writeln!(lines, "{} bought {}", spec.name, item.product);
            }
            // One write for the whole cart, under the lock: lines never interleave.
            self.sink
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .write_all(lines.as_bytes())
                .map_err(RunError::Output)?;
            self.purchases
                .fetch_add(bought.len() as u64, Ordering::Relaxed);
            self.progress();
        }
        Ok(())
    }

    /// Adds one `item` to `cart`, waiting for it as long as it takes; false if the run
    /// stopped first.
    fn add(
        &self,
        consumer: usize,
        retry_wait: f64,
        cart: CartId,
        item: &ProductRef<'s>,
    ) -> Result<bool, RunError> {
        let mut outcome = self.market.add_to_cart(cart, item);
        while outcome == Err(AddError::Unavailable) {
            self.retries.fetch_add(1, Ordering::Relaxed);
            if self.stopped() {
                return Ok(false);
            }
            self.waiting_for[consumer].store(item.index, Ordering::Relaxed);
            outcome = self
                .market
                .add_to_cart_timeout(cart, item, self.patience(retry_wait));
            self.waiting_for[consumer].store(NOT_WAITING, Ordering::Relaxed);
        }
        outcome.map(|()| true).map_err(|e| {
            RunError::Engine(format!(
                "consumer {:?}: add_to_cart: {e}",
                self.scenario.consumers()[consumer].name
            ))
        })
    }

    /// Waits until every consumer is done, a thread failed, or the run stalled.
    fn supervise(&self, stall_timeout: Duration, producers: &[ProducerId]) -> Result<(), RunError> {
        let consumers = self.scenario.consumers().len();
        let mut control = self.control();
        loop {
            if let Some(failure) = control.failure.take() {
                return Err(failure);
            }
            if control.consumers_done == consumers {
                return Ok(());
            }
            let last = Duration::from_nanos(self.last_progress_nanos.load(Ordering::Relaxed));
            let idle = self.start.elapsed().saturating_sub(last);
            if idle >= stall_timeout {
                let unfinished = consumers - control.consumers_done;
                drop(control);
                return Err(RunError::Stalled(
                    self.stall_report(idle, unfinished, producers),
                ));
            }
            control = self
                .changed
                .wait_timeout(control, stall_timeout - idle)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    fn stall_report(&self, idle: Duration, unfinished: usize, ids: &[ProducerId]) -> StallReport {
        let scenario = self.scenario;
        let capacity = scenario.queue_size_per_producer();
        let waiting = self
            .waiting_for
            .iter()
            .enumerate()
            .filter_map(|(c, w)| {
                let product = w.load(Ordering::Relaxed);
                (product != NOT_WAITING).then_some((c, product))
            })
            .map(|(c, product)| {
                let class = scenario.class_of(product);
                let producers = scenario
                    .producers()
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.products
                            .iter()
                            .any(|s| scenario.class_of(s.product) == class)
                    })
                    .map(|(i, p)| ProducerState {
                        name: p.name.clone(),
                        index: i,
                        on_shelf: self.market.shelf_len(ids[i]).unwrap_or(0),
                        capacity,
                    })
                    .collect();
                WaitingConsumer {
                    name: scenario.consumers()[c].name.clone(),
                    product: scenario.product(product).clone(),
                    on_sale: self.market.available(&ProductRef::new(scenario, product)),
                    producers,
                }
            })
            .collect();
        StallReport {
            idle,
            unfinished,
            waiting,
            purchases: self.purchases.load(Ordering::Relaxed),
        }
    }

    /// Stops every thread: the flag first (so no thread starts a new wait), then a wake-up
    /// for sleepers and a close for those blocked in the engine.
    fn shut_down(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Taking the lock orders the flag before any pausing thread's check-then-wait.
        drop(self.control());
        self.changed.notify_all();
        self.market.close();
    }
}
