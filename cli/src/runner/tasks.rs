//! `--actors tasks`: every producer and consumer is an async task on a multi-thread tokio
//! runtime with a few worker threads; the caller's thread supervises.
//!
//! Invariants: a waiting task holds no thread. It waits for an item or for room in the
//! engine ([`Marketplace::add_to_cart_async`], [`Marketplace::publish_async`]), bounded by a
//! runtime timer when the scaled classic wait asks for retries, and pauses on a runtime
//! timer; nothing blocks a worker thread, and a task that never has to wait still yields
//! its worker when its cooperative budget runs out, so no task starves the others. The
//! tasks own what they use (an `Arc` of the run), since the runtime may run them anywhere.
//! The stop sets the flag and closes the marketplace, which wakes every task waiting in
//! the engine; dropping the runtime then cancels the tasks still pending (asleep on a timer,
//! or woken and not yet run). That loses nothing: the engine's async operations are
//! cancel-safe, and an unfinished cart is never printed.

use std::fmt;
use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use marketplace::{AddError, CartId, Marketplace, ProducerId, PublishError};
use tokio::task::coop::consume_budget;
use tokio::time;

use super::product::SharedProduct;
use super::progress::Progress;
use super::stall::MarketView;
use super::supervisor::{Outbox, Supervisor};
use super::timing::TimeScale;
use super::{Report, RunError, RunOptions, added, engine_error};
use crate::scenario::{OpKind, Scenario, abbreviated_name};

/// Runs `scenario` with a task per actor on `workers` threads; see [`super::run`].
pub(super) fn run<W: Write>(
    scenario: &Scenario,
    options: &RunOptions,
    workers: NonZeroUsize,
    sink: W,
) -> Result<Report, RunError> {
    check_worker_room(workers)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.get())
        .thread_name("marketplace worker")
        .enable_time()
        .build()
        .map_err(|e| RunError::Resources(format!("cannot start the async runtime: {e}")))?;
    let consumers = scenario.consumers().len();
    let market = Marketplace::new(scenario.queue_size_per_producer());
    let producer_ids = scenario
        .producers()
        .iter()
        .map(|_| market.register_producer())
        .collect();
    let run = Arc::new(Run {
        scenario: scenario.clone(),
        products: SharedProduct::all(scenario),
        market,
        producer_ids,
        time: TimeScale(options.time_scale),
        progress: Progress::new(consumers, scenario.producers().len()),
        outbox: Arc::new(Outbox::new()),
        stopped: AtomicBool::new(false),
    });
    // Detached when this returns, after the supervisor has flushed the output.
    let _attached = options.interrupt.attach(&run.outbox);
    for index in 0..scenario.producers().len() {
        runtime.spawn(Arc::clone(&run).produce(index));
    }
    for index in 0..consumers {
        runtime.spawn(Arc::clone(&run).consume(index));
    }
    let mut supervisor = Supervisor::new(scenario, sink, options.progress);
    let outcome = supervisor
        .watch(
            &run.outbox,
            consumers,
            &run.progress,
            &*run,
            options.stall_timeout,
        )
        .outcome(scenario, &run.progress, &*run);
    run.stop();
    // Cancels the tasks still pending (see the module docs) once the workers have finished
    // what they run, so every actor is gone before the report is made.
    drop(runtime);
    supervisor.conclude(&run.outbox, outcome, &run.progress, run.market.stats())
}

/// Refuses a runtime of `workers` threads that the system cannot start. Tokio panics when
/// it cannot start a worker thread, and once one has started, unwinding that panic waits
/// forever for it: the process would print a panic and hang instead of failing. So as many
/// threads as the runtime starts (with the same default stack) are started here first, held
/// until all have started, and joined; any failure is reported instead. What the system
/// allows can still shrink between this check and the runtime's start (another process of
/// the same user starting threads meanwhile), which only this check's timing narrows.
fn check_worker_room(workers: NonZeroUsize) -> Result<(), RunError> {
    let gate = std::sync::RwLock::new(());
    let held = gate.write().unwrap_or_else(|p| p.into_inner());
    let outcome = std::thread::scope(|s| {
        let mut started = 0;
        for _ in 0..workers.get() {
            let spawned = std::thread::Builder::new()
                .name("marketplace probe".to_owned())
                .spawn_scoped(s, || drop(gate.read()));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    drop(held);
                    return Err(RunError::Resources(format!(
                        "cannot start the async runtime: cannot start its {workers} worker \
                         threads ({started} started): {e}; use fewer (--workers)"
                    )));
                }
            }
        }
        drop(held);
        Ok(())
        // Leaving the scope joins every probe.
    });
    // A joined thread may still count against the system's limit on threads for an
    // instant after it is gone; let the kernel finish with it before the runtime starts.
    std::thread::yield_now();
    outcome
}

/// Everything the tasks of one run share.
struct Run {
    scenario: Scenario,
    /// `products[i]` is product `i` of the scenario.
    products: Vec<SharedProduct>,
    market: Marketplace<SharedProduct>,
    producer_ids: Vec<ProducerId>,
    time: TimeScale,
    progress: Progress,
    /// Shared with the run's interrupt too.
    outbox: Arc<Outbox>,
    /// Set once, when the run ends; tasks check it before every wait.
    stopped: AtomicBool,
}

impl Run {
    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Stops every task: the flag first (so no task starts a new wait), then a close, which
    /// wakes those waiting in the engine.
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.market.close();
    }

    fn fail(&self, error: RunError) {
        self.outbox.failed(error);
    }

    /// A producer: its list, forever, until the run stops.
    async fn produce(self: Arc<Self>, index: usize) {
        let spec = &self.scenario.producers()[index];
        let _watch = PanicWatch::new(&self, "producer", &spec.name);
        let id = self.producer_ids[index];
        log::debug!("producer {:?} starts as {id}", spec.name);
        // A producer with an empty list has nothing to do: its task just ends.
        'run: while !spec.products.is_empty() {
            for supply in &spec.products {
                let product = &self.products[supply.product];
                for _ in 0..supply.quantity {
                    if !self.publish(index, id, product).await {
                        break 'run;
                    }
                    let pause = self.time.pause(supply.wait_seconds);
                    if pause.is_zero() {
                        consume_budget().await;
                    } else {
                        time::sleep(pause).await;
                    }
                    if self.stopped() {
                        break 'run;
                    }
                }
            }
        }
        log::debug!("producer {:?} stops", spec.name);
    }

    /// Producer `index` publishes one `product`, waiting for room as long as it takes;
    /// false if the run stopped first or the engine refused it.
    async fn publish(&self, index: usize, id: ProducerId, product: &SharedProduct) -> bool {
        let spec = &self.scenario.producers()[index];
        loop {
            if self.stopped() {
                return false;
            }
            let outcome = match self.market.publish(id, product.clone()) {
                Err(PublishError::Full(back)) => {
                    self.progress.full(index);
                    let waiting = self.market.publish_async(id, back);
                    match self.time.patience(spec.republish_wait_time) {
                        None => waiting.await,
                        Some(wait) => time::timeout(wait, waiting)
                            .await
                            .unwrap_or_else(|_| Err(PublishError::Full(product.clone()))),
                    }
                }
                other => other,
            };
            match outcome {
                Ok(()) => {
                    self.progress.published(index);
                    return true;
                }
                Err(PublishError::Full(_)) => {}
                Err(refused) => {
                    self.fail(RunError::Engine(format!(
                        "producer {:?} could not publish: {refused}",
                        spec.name
                    )));
                    return false;
                }
            }
        }
    }

    /// A consumer: its carts, in order; then it reports itself done.
    async fn consume(self: Arc<Self>, index: usize) {
        let name = &self.scenario.consumers()[index].name;
        let _watch = PanicWatch::new(&self, "consumer", name);
        if let Err(e) = self.fill_carts(index).await {
            self.fail(e);
        }
        self.progress.stops_waiting(index);
        self.outbox.consumer_done();
    }

    async fn fill_carts(&self, index: usize) -> Result<(), RunError> {
        let spec = &self.scenario.consumers()[index];
        let engine = |what: &str, e: &dyn fmt::Display| engine_error(&spec.name, what, e);
        for ops in &spec.carts {
            let cart = self.market.new_cart();
            for op in ops {
                let item = &self.products[op.product];
                for _ in 0..op.quantity {
                    match op.kind {
                        OpKind::Add => {
                            if !self.add(index, spec.retry_wait_time, cart, item).await? {
                                return Ok(()); // the run stopped
                            }
                        }
                        OpKind::Remove => self
                            .market
                            .remove_from_cart(cart, item)
                            .map_err(|e| engine("remove_from_cart", &e))?,
                    }
                    self.progress.advanced();
                    consume_budget().await;
                }
            }
            let bought = self
                .market
                .place_order(cart)
                .map_err(|e| engine("place_order", &e))?;
            self.progress.ordered(index, bought.len());
            self.outbox
                .ordered(index, bought.iter().map(|item| item.index()));
            self.progress.advanced();
        }
        Ok(())
    }

    /// Adds one `item` to `cart`, waiting for it as long as it takes; false if the run
    /// stopped first.
    async fn add(
        &self,
        consumer: usize,
        retry_wait: f64,
        cart: CartId,
        item: &SharedProduct,
    ) -> Result<bool, RunError> {
        let mut outcome = self.market.add_to_cart(cart, item);
        if outcome != Err(AddError::Unavailable) {
            // The usual case: no wait, so nothing to record.
            return added(&self.scenario.consumers()[consumer].name, outcome);
        }
        // One wait, however many retries it takes: its length is the consumer's time
        // waiting, and a stall report or the progress line names what it waits for.
        self.progress.waits_for(consumer, item.index());
        while outcome == Err(AddError::Unavailable) {
            self.progress.retried(consumer);
            if self.stopped() {
                return Ok(false); // `consume` marks it no longer waiting
            }
            let waiting = self.market.add_to_cart_async(cart, item);
            outcome = match self.time.patience(retry_wait) {
                None => waiting.await,
                Some(wait) => time::timeout(wait, waiting)
                    .await
                    .unwrap_or(Err(AddError::Unavailable)),
            };
        }
        self.progress.stops_waiting(consumer);
        added(&self.scenario.consumers()[consumer].name, outcome)
    }
}

/// Reports a panic of the task it lives in as a failure of the run. The runtime would only
/// print it, and the run would then end as a stall, long after and for the wrong reason.
struct PanicWatch<'r> {
    run: &'r Run,
    role: &'static str,
    name: &'r str,
}

impl<'r> PanicWatch<'r> {
    fn new(run: &'r Run, role: &'static str, name: &'r str) -> Self {
        PanicWatch { run, role, name }
    }
}

impl Drop for PanicWatch<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let message = format!("{} {:?} panicked", self.role, abbreviated_name(self.name));
            self.run.fail(RunError::Engine(message));
        }
    }
}

impl MarketView for Run {
    fn open_carts(&self) -> usize {
        self.market.stats().open_carts
    }

    fn on_sale(&self, product: usize) -> usize {
        self.market.available(&self.products[product])
    }

    fn on_shelf(&self, producer: usize) -> usize {
        self.market
            .shelf_len(self.producer_ids[producer])
            .unwrap_or(0)
    }
}
