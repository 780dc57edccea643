//! The end of the line: consumers deliver each ordered cart to the [`Outbox`], and the
//! [`Supervisor`], on the caller's thread, writes it to the sink, counts finished
//! consumers, refreshes the progress line and decides when and how the run ends.
//!
//! The sink stays with the supervisor, so it may borrow from the caller, and no actor ever
//! waits for the output. A cart enters the outbox as the indices of its products, not as
//! its lines: a cart of ten million items of a long name would print gigabytes, and the
//! supervisor renders them in pieces of at most [`CHUNK`] bytes (and a line) as it writes,
//! so memory holds a word per item however long the names. Invariants: a cart enters the
//! outbox whole, under its lock, and leaves it in consecutive writes (one `write_all`
//! when its lines fit in a piece), so lines of different carts never interleave; a
//! consumer's carts come before its "done"; after a failed write nothing more is written;
//! `purchases` counts exactly the lines written; the sink is flushed before the supervisor
//! sleeps, so what was ordered is out while the run waits. The supervisor sleeps on the
//! outbox until there is something to do, at the latest until the stall timeout would be
//! reached or the progress line is due; an actor wakes it only if it sleeps, and while
//! carts come in bursts it takes them in batches, a millisecond apart, so actors seldom
//! pay for a wake-up. The progress line is refreshed without the outbox's lock, so actors never wait
//! for it.

use std::io::{self, Write};
use std::mem;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use marketplace::Stats;

use super::display::{ProgressDisplay, ProgressLine};
use super::progress::Progress;
use super::stall::{MarketView, Stall};
use super::{Report, RunError, printed_forms};
use crate::scenario::Scenario;

/// How long the supervisor lets carts gather while they come in bursts.
const GATHER: Duration = Duration::from_millis(1);

/// The size past which the supervisor writes out the lines it has rendered of a cart.
const CHUNK: usize = 64 * 1024;

/// Writes the lines of one cart (`CONSUMER bought PRODUCT`, one per item) to `sink`, in
/// consecutive writes of at most [`CHUNK`] bytes and a line, rendered into `lines` (left
/// empty); `written` hears how many lines each write held. Stops at the first failed write.
pub(super) fn write_cart_lines<'p>(
    sink: &mut impl Write,
    lines: &mut Vec<u8>,
    consumer: &str,
    products: impl Iterator<Item = &'p str>,
    mut written: impl FnMut(u64),
) -> io::Result<()> {
    lines.clear();
    let mut held = 0;
    let mut products = products.peekable();
    while let Some(product) = products.next() {
        for part in [consumer, " bought ", product, "\n"] {
            lines.extend_from_slice(part.as_bytes());
        }
        held += 1;
        if lines.len() >= CHUNK || products.peek().is_none() {
            let result = sink.write_all(lines);
            lines.clear();
            result?;
            written(held);
            held = 0;
        }
    }
    Ok(())
}

/// Where actors leave what the supervisor must act on.
pub(super) struct Outbox {
    pending: Mutex<Pending>,
    /// Notified when the supervisor sleeps on it and `pending` changed.
    changed: Condvar,
}

#[derive(Default)]
struct Pending {
    /// The products of the carts ordered and not yet written, by index, back to back.
    items: Vec<usize>,
    /// Per cart in `items`, in order: its consumer, and where its products end.
    carts: Vec<(usize, usize)>,
    /// Consumers finished so far.
    done: usize,
    /// The first failure of an actor.
    failure: Option<RunError>,
    /// Set when the run is asked to end early (see `interrupt`).
    interrupted: bool,
    /// Set while the supervisor sleeps on `changed`.
    asleep: bool,
}

impl Outbox {
    pub(super) fn new() -> Self {
        Outbox {
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        // Every update of `Pending` completes before anything can panic under the lock.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Consumer `consumer` ordered a cart of these products (their indices): a line each.
    pub(super) fn ordered(&self, consumer: usize, products: impl Iterator<Item = usize>) {
        let mut pending = self.pending();
        pending.items.extend(products);
        let end = pending.items.len();
        pending.carts.push((consumer, end));
        self.wake(pending);
    }

    /// A consumer has finished: all its carts are ordered, or the run stopped it.
    pub(super) fn consumer_done(&self) {
        let mut pending = self.pending();
        pending.done += 1;
        self.wake(pending);
    }

    /// An actor failed; the first failure ends the run.
    pub(super) fn failed(&self, error: RunError) {
        let mut pending = self.pending();
        pending.failure.get_or_insert(error);
        self.wake(pending);
    }

    /// The run is asked to end early: the supervisor stops watching at once.
    pub(super) fn interrupt(&self) {
        let mut pending = self.pending();
        pending.interrupted = true;
        self.wake(pending);
    }

    fn wake(&self, mut pending: MutexGuard<'_, Pending>) {
        if mem::take(&mut pending.asleep) {
            drop(pending);
            self.changed.notify_one();
        }
    }
}

/// Why the supervisor stopped watching.
pub(super) enum Ending {
    /// Every consumer is done.
    Done,
    /// No consumer made progress for the stall timeout.
    Stalled(Stall),
    /// An actor or the output failed.
    Failed(RunError),
    /// The run was asked to end early.
    Interrupted,
}

impl Ending {
    /// What the run comes to: a stall becomes its report, which reads `market` now, while
    /// the stalled actors still wait, so the shelves show why.
    pub(super) fn outcome(
        self,
        scenario: &Scenario,
        progress: &Progress,
        market: &impl MarketView,
    ) -> Result<(), RunError> {
        match self {
            Ending::Done => Ok(()),
            Ending::Failed(error) => Err(error),
            Ending::Interrupted => Err(RunError::Interrupted(Default::default())),
            Ending::Stalled(stall) => {
                Err(RunError::Stalled(stall.report(scenario, progress, market)))
            }
        }
    }
}

pub(super) struct Supervisor<'s, W> {
    scenario: &'s Scenario,
    sink: W,
    display: ProgressDisplay<'s>,
    /// Purchase lines written.
    purchases: u64,
    /// Set when a write failed: the sink is not written to again.
    broken: Option<io::ErrorKind>,
    /// Whether lines were written since the sink was last flushed.
    unflushed: bool,
    /// `printed[i]` is product `i` as a purchase line shows it, rendered once.
    printed: Vec<String>,
    /// Emptied buffers, swapped with the outbox's full ones so neither side reallocates.
    items: Vec<usize>,
    carts: Vec<(usize, usize)>,
    /// The lines of a cart being written, at most [`CHUNK`] bytes and a line.
    lines: Vec<u8>,
}

impl<'s, W: Write> Supervisor<'s, W> {
    /// The supervisor of a run of `scenario` that writes to `sink` and shows its progress
    /// as `line` says.
    pub(super) fn new(scenario: &'s Scenario, sink: W, line: ProgressLine) -> Self {
        Supervisor {
            scenario,
            sink,
            display: ProgressDisplay::new(scenario, line),
            purchases: 0,
            broken: None,
            unflushed: false,
            printed: printed_forms(scenario),
            items: Vec::new(),
            carts: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Writes carts as they are ordered until all `consumers` are done, an actor or the
    /// output fails, or no consumer made progress for `stall_timeout`; meanwhile refreshes
    /// the progress line from `progress` and `market`.
    pub(super) fn watch(
        &mut self,
        outbox: &Outbox,
        consumers: usize,
        progress: &Progress,
        market: &impl MarketView,
        stall_timeout: Duration,
    ) -> Ending {
        loop {
            self.display.refresh(self.purchases, progress, market);
            let mut pending = outbox.pending();
            if let Some(failure) = pending.failure.take() {
                return Ending::Failed(failure);
            }
            if pending.interrupted {
                // The carts still here are written when the run concludes.
                return Ending::Interrupted;
            }
            if pending.carts.is_empty() && pending.done < consumers {
                if self.unflushed {
                    // Lines written stay in the sink's buffer until it fills: out before
                    // a wait that may be long, and that an interrupt may end, losing them.
                    // Flushed without the lock, so no actor waits for the output.
                    drop(pending);
                    self.unflushed = false;
                    if let Err(e) = self.sink.flush() {
                        self.broken = Some(e.kind());
                        return Ending::Failed(RunError::Output(e));
                    }
                    continue;
                }
                let idle = progress.idle();
                if idle >= stall_timeout {
                    return Ending::Stalled(Stall {
                        idle,
                        unfinished: consumers - pending.done,
                        purchases: self.purchases,
                    });
                }
                let wait = (stall_timeout - idle).min(self.display.due_in(progress));
                pending.asleep = true;
                let (mut pending, _) = outbox
                    .changed
                    .wait_timeout(pending, wait)
                    .unwrap_or_else(|p| p.into_inner());
                pending.asleep = false;
                // Whatever woke it, look again from the top (the lock is let go meanwhile,
                // which refreshing the progress line needs).
                continue;
            }
            let done = pending.done;
            let batch = self.take(&mut pending);
            drop(pending);
            if let Err(e) = self.write_batch() {
                return Ending::Failed(RunError::Output(e));
            }
            if done == consumers {
                return Ending::Done;
            }
            if batch > 1 {
                // Carts come faster than one at a time: let them gather rather than be
                // woken for each.
                std::thread::sleep(GATHER);
            }
        }
    }

    /// The end of a run whose actors are all gone, which ended with `outcome`: writes the
    /// carts ordered since the supervisor stopped watching (unless a write failed), so
    /// every cart ordered is printed, flushes, finishes the progress line, and reports
    /// with every actor's figures (a stall report and an interrupt get them too). A
    /// failure of the run comes before one of the output.
    pub(super) fn conclude(
        mut self,
        outbox: &Outbox,
        outcome: Result<(), RunError>,
        progress: &Progress,
        market: Stats,
    ) -> Result<Report, RunError> {
        self.take(&mut outbox.pending());
        // A failure here is kept in `broken` and reported below.
        let _ = self.write_batch();
        let flushed = match self.broken {
            Some(kind) => Err(io::Error::from(kind)),
            None => self.sink.flush(),
        };
        let outcome = outcome.and_then(|()| flushed.map_err(RunError::Output));
        self.display.finish(self.purchases, progress, &outcome);
        let stats = progress.stats(self.scenario);
        match outcome {
            Ok(()) => {
                let totals = stats.totals();
                Ok(Report {
                    purchases: self.purchases,
                    retries: totals.retries,
                    republishes: totals.full,
                    elapsed: stats.wall,
                    market,
                    stats,
                })
            }
            Err(RunError::Stalled(mut report)) => {
                report.stats = stats;
                Err(RunError::Stalled(report))
            }
            Err(RunError::Interrupted(_)) => Err(RunError::Interrupted(stats)),
            Err(error) => Err(error),
        }
    }

    /// Takes the carts waiting in `pending` (into its empty buffers); how many.
    fn take(&mut self, pending: &mut Pending) -> usize {
        mem::swap(&mut self.items, &mut pending.items);
        mem::swap(&mut self.carts, &mut pending.carts);
        self.carts.len()
    }

    /// Writes the carts taken. When the live progress line is drawn on the terminal that
    /// stdout also is, the line is taken off meanwhile and the lines flushed before it comes
    /// back, so purchase lines and the progress line never mix on screen.
    fn write_batch(&mut self) -> io::Result<()> {
        match self.display.bar_sharing_the_terminal() {
            None => self.write_taken(),
            Some(bar) => bar.suspend(|| self.write_taken().and_then(|()| self.sink.flush())),
        }
    }

    /// Writes the carts taken, each in pieces of about [`CHUNK`] bytes, and empties the
    /// buffers.
    fn write_taken(&mut self) -> io::Result<()> {
        let mut start = 0;
        let mut outcome = Ok(());
        for &(consumer, end) in &self.carts {
            if self.broken.is_some() {
                break;
            }
            let name = &self.scenario.consumers()[consumer].name;
            let products = self.items[start..end]
                .iter()
                .map(|&p| self.printed[p].as_str());
            let (purchases, unflushed) = (&mut self.purchases, &mut self.unflushed);
            let written = write_cart_lines(&mut self.sink, &mut self.lines, name, products, |n| {
                *purchases += n;
                *unflushed = true;
            });
            if let Err(e) = written {
                self.broken = Some(e.kind());
                outcome = Err(e);
            }
            start = end;
        }
        self.items.clear();
        self.carts.clear();
        outcome
    }
}
