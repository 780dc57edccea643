//! `--actors threads`: one OS thread per producer and per consumer, scoped to the run.
//!
//! Invariants: a waiting thread blocks, in the engine
//! ([`Marketplace::add_to_cart_timeout`], [`Marketplace::publish_timeout`]) or on the stop
//! condition variable while it pauses, never polls; every thread checks the stop flag
//! before each wait, and the stop, made however the run ends (a panic in its output too),
//! sets the flag, wakes the pausing threads and closes the marketplace (which wakes the
//! blocked ones), so all threads are joined before `run` returns or unwinds. A run that
//! needs more threads than the system can map is refused before any thread starts (a
//! thread that cannot map its signal stack aborts the process, which `spawn` cannot
//! report); any other failure to start a thread stops those started.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::thread::{self, Scope};

use marketplace::{AddError, CartId, Marketplace, ProducerId, PublishError};

use super::product::ProductRef;
use super::progress::Progress;
use super::stall::MarketView;
use super::stop_signal::StopSignal;
use super::supervisor::{Outbox, Supervisor};
use super::timing::{BLOCK, TimeScale};
use super::{Report, RunError, RunOptions, added, engine_error};
use crate::scenario::{OpKind, Scenario, abbreviated_name};

/// Runs `scenario` with a thread per actor; see [`super::run`].
pub(super) fn run<W: Write>(
    scenario: &Scenario,
    options: &RunOptions,
    sink: W,
) -> Result<Report, RunError> {
    let consumers = scenario.consumers().len();
    check_thread_room(scenario.producers().len() + consumers)?;
    let market = Marketplace::new(scenario.queue_size_per_producer());
    let producer_ids: Vec<ProducerId> = scenario
        .producers()
        .iter()
        .map(|_| market.register_producer())
        .collect();
    let actors = Actors {
        scenario,
        market: &market,
        producer_ids: &producer_ids,
        time: TimeScale(options.time_scale),
        progress: Progress::new(consumers, scenario.producers().len()),
        outbox: Arc::new(Outbox::new()),
        stop: StopSignal::default(),
    };
    // Detached when this returns, after the supervisor has flushed the output.
    let _attached = options.interrupt.attach(&actors.outbox);
    let mut supervisor = Supervisor::new(scenario, sink, options.progress);
    let outcome = thread::scope(|s| {
        // Stops the threads however this closure ends: leaving the scope joins them, and a
        // panic below (in the caller's sink, say) would otherwise wait forever for threads
        // nobody stops.
        let _stop = StopOnDrop(&actors);
        actors.start(s).and_then(|()| {
            supervisor
                .watch(
                    &actors.outbox,
                    consumers,
                    &actors.progress,
                    &actors,
                    options.stall_timeout,
                )
                .outcome(scenario, &actors.progress, &actors)
        })
        // Leaving the scope stops, then joins, every thread.
    });
    supervisor.conclude(&actors.outbox, outcome, &actors.progress, market.stats())
}

/// Stops every thread of the run when dropped.
struct StopOnDrop<'a, 's, 'm>(&'a Actors<'s, 'm>);

impl Drop for StopOnDrop<'_, '_, '_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Everything the threads of one run share.
struct Actors<'s, 'm> {
    scenario: &'s Scenario,
    market: &'m Marketplace<ProductRef<'s>>,
    producer_ids: &'m [ProducerId],
    time: TimeScale,
    progress: Progress,
    /// Shared with the run's interrupt too.
    outbox: Arc<Outbox>,
    /// Set once, when the run ends; threads check it before every wait.
    stop: StopSignal,
}

impl<'s> Actors<'s, '_> {
    /// Starts a thread per producer, then per consumer.
    fn start<'scope>(&'scope self, s: &'scope Scope<'scope, '_>) -> Result<(), RunError> {
        let total = self.scenario.producers().len() + self.scenario.consumers().len();
        let mut started = 0;
        let mut spawn = |name: String, actor: Box<dyn FnOnce() + Send + 'scope>| {
            thread::Builder::new()
                .name(name)
                .spawn_scoped(s, actor)
                .map_err(|e| {
                    RunError::Resources(format!(
                        "cannot start a thread ({started} of {total} started): {e}; \
                         run the actors as tasks instead (--actors tasks)"
                    ))
                })?;
            started += 1;
            Ok(())
        };
        // A thread's name cannot hold a NUL (spawning panics) and need not hold a megabyte:
        // the actor's name is shown quoted, escaped and cut, as messages show it.
        for (index, spec) in self.scenario.producers().iter().enumerate() {
            let name = format!("producer {:?}", abbreviated_name(&spec.name));
            spawn(name, Box::new(move || self.produce(index)))?;
        }
        for (index, spec) in self.scenario.consumers().iter().enumerate() {
            let name = format!("consumer {:?}", abbreviated_name(&spec.name));
            spawn(name, Box::new(move || self.consume(index)))?;
        }
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.stop.is_set()
    }

    /// Stops every thread: the flag first (so no thread starts a new wait), then a wake-up
    /// for sleepers and a close for those blocked in the engine.
    fn stop(&self) {
        self.stop.set();
        self.market.close();
    }

    /// Sleeps for the scaled `seconds`, or until the run stops; false if it stopped.
    fn pause(&self, seconds: f64) -> bool {
        self.stop.pause(self.time, seconds)
    }

    fn fail(&self, error: RunError) {
        self.outbox.failed(error);
    }

    /// Producer `index`: its list, forever, until the run stops.
    fn produce(&self, index: usize) {
        let spec = &self.scenario.producers()[index];
        let id = self.producer_ids[index];
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
                                self.progress.full(index);
                                let wait = self.time.patience(spec.republish_wait_time);
                                self.market.publish_timeout(id, back, wait.unwrap_or(BLOCK))
                            }
                            other => other,
                        };
                        match outcome {
                            Ok(()) => {
                                self.progress.published(index);
                                break;
                            }
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
        self.progress.stops_waiting(index);
        self.outbox.consumer_done();
    }

    fn fill_carts(&self, index: usize) -> Result<(), RunError> {
        let spec = &self.scenario.consumers()[index];
        let engine = |what: &str, e: &dyn fmt::Display| engine_error(&spec.name, what, e);
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
                    self.progress.advanced();
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
    fn add(
        &self,
        consumer: usize,
        retry_wait: f64,
        cart: CartId,
        item: &ProductRef<'s>,
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
            let wait = self.time.patience(retry_wait).unwrap_or(BLOCK);
            outcome = self.market.add_to_cart_timeout(cart, item, wait);
        }
        self.progress.stops_waiting(consumer);
        added(&self.scenario.consumers()[consumer].name, outcome)
    }
}

impl MarketView for Actors<'_, '_> {
    fn open_carts(&self) -> usize {
        self.market.stats().open_carts
    }

    fn on_sale(&self, product: usize) -> usize {
        self.market
            .available(&ProductRef::new(self.scenario, product))
    }

    fn on_shelf(&self, producer: usize) -> usize {
        self.market
            .shelf_len(self.producer_ids[producer])
            .unwrap_or(0)
    }
}

/// Memory maps a thread costs: its stack and its signal stack, each with a guard page.
const MAPS_PER_THREAD: usize = 4;

/// Maps left for everything else the process maps while the threads run (the allocator's
/// arenas, the standard streams' buffers, a log file).
const MAPS_IN_RESERVE: usize = 4096;

/// Refuses a run of `threads` threads that the system cannot map. Each new thread maps a
/// signal stack of its own after it starts, and aborts the whole process if it cannot, so
/// that limit must be checked before the first thread starts. Other limits (on processes
/// and threads) make `spawn` fail, which `start` reports.
fn check_thread_room(threads: usize) -> Result<(), RunError> {
    let Some(room) = room_exceeded_by(threads) else {
        return Ok(());
    };
    Err(RunError::Resources(format!(
        "{threads} actors need as many threads, but this system allows about {room} more \
         (vm.max_map_count, {MAPS_PER_THREAD} memory maps per thread); run them as tasks \
         instead (--actors tasks)"
    )))
}

/// The room for more threads (see [`thread_room`]) when `threads` would exceed it.
pub(super) fn room_exceeded_by(threads: usize) -> Option<usize> {
    thread_room().filter(|&room| threads > room)
}

/// How many more threads the process can map, where the system says (Linux).
fn thread_room() -> Option<usize> {
    let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let mapped = std::fs::read_to_string("/proc/self/maps")
        .ok()?
        .lines()
        .count();
    Some(limit.saturating_sub(mapped + MAPS_IN_RESERVE) / MAPS_PER_THREAD)
}
