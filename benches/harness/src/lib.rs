//! The one benchmark workload, shared by `examples/compare.rs` and the criterion suites in
//! (both include this file with `mod harness;` / `#[path]`), so the quick table and the
//! criterion suite measure exactly the same thing. It also holds the idle-CPU probe used by
//! `compare` and `tests/idle_cpu.rs`.
//!
//! # The workload
//!
//! `P` producer threads and `C` consumer threads move `N` items from `publish` to a placed
//! order; the figure of merit is items/s = `N` / wall time from the first thread's start
//! (all are released by one barrier, each reads the clock itself) until the last one is
//! done. Marketplaces, producer ids, and every
//! product shelf are created and warmed up before the clock starts.
//!
//! Threads that cannot proceed block: producers in `publish_timeout`, consumers in
//! `add_to_cart_timeout` (marketplace, locked, locked_yield), blocking `send`/`recv` (channel); the raw
//! `ArrayQueue` reference spins then yields (`crossbeam_utils::Backoff`), being the hardware
//! limit rather than a usable design. A timeout of [`STALL`] turns a deadlock into a panic.
//!
//! # Two locked columns: what the wait policy is worth
//!
//! `locked` is the classic design as it is usually written: one `Mutex`, and a blocked caller
//! sleeps on a `Condvar` at once (`LockedMarketplace::new`). `locked_yield` is the very same
//! one-`Mutex` design with the engine's wait policy (`LockedMarketplace::yielding`: release
//! the lock and retry a few times, spinning and then yielding, before sleeping), driven
//! through the same code path (`run_market`). The engine's lead over the classic design
//! therefore splits in two: `locked` to `locked_yield` is what the wait policy alone is
//! worth, and `locked_yield` to `marketplace` (the `m/l_yield` column of `compare`) is what
//! having no global lock is worth. It is a sensitivity column: in the readable table and the criterion groups, not in
//! the machine-readable `case=` lines, whose format scripts rely on.
//!
//! Capacity is the same everywhere: each producer id may have [`QUEUE_SIZE`] items on the
//! shelf, and the channel / queue references get the same total (`QUEUE_SIZE` per producer
//! thread).
//!
//! # Kinds without deadlock
//!
//! With several product kinds a consumer asks for one particular kind and waits for it, while
//! producers are bounded: a careless pattern can fill every shelf with kinds nobody is asking
//! for. The kinds cases need `P == C`; producer thread `t` and consumer thread `t` form pair
//! `t`, and pairs are split into `G = min(P, kinds)` groups (`t % G`). Group `g` owns the
//! kinds `k < kinds` with `k % G == g` (disjoint between groups) and cycles through them in
//! increasing order; the producer of a pair publishes that sequence and its consumer asks for
//! the same sequence. Either a group has one pair (kinds >= P): only that pair touches its
//! kinds, the consumer always takes the oldest item of the kind it wants, which is exactly
//! the next item its producer published, and the producer can only be full while the
//! consumer has an item to take — no deadlock; or a group has one kind (kinds < P): any item
//! of the group serves any of its consumers and supply equals demand — no deadlock. So
//! `kinds-1` has all 4 pairs competing for one kind, `kinds-100`/`kinds-10000` give each pair
//! its own 25 / 2500 kinds. The channel and array-queue references get one queue per group,
//! which delivers exactly the kind each consumer asks for (checked). Mind the confounder when
//! reading per-item cost across kinds: four private pipelines of 16 slots wait more often
//! than one shared pool of 64 (the channel slows down just as much from `kinds-1` to
//! `kinds-100`), so `kinds-10000` / `kinds-100` is the like-for-like ratio, and
//! [`spread_cost`] measures the O(1) claim with no waiting at all. Likewise more producer
//! ids means more total shelf capacity, hence fewer waits, in the `producers-*` cases.
//!
//! `carts-4x4` uses one kind, so its remove-and-re-add cannot deadlock either: demand still
//! outstanding always equals what is on the shelves plus what is still to be published. The
//! channel/queue references have no carts: their "cart" is a local `Vec` and the
//! remove/re-add is a local pop/push (there is no way to give an item back to a channel's
//! producer), so they stay the floor of a handoff.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::Backoff;
use marketplace::baseline::LockedMarketplace;
use marketplace::{Marketplace, ProducerId};

mod market;

pub use market::{Market, STALL, YieldingBaseline};

/// Items each producer id may have on the shelf.
pub const QUEUE_SIZE: usize = 16;

/// The implementations measured side by side.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Imp {
    /// The lock-free engine, `marketplace::Marketplace`.
    Marketplace,
    /// The classic design: `marketplace::baseline::LockedMarketplace`, one `Mutex`; a
    /// blocked caller sleeps on a `Condvar` at once.
    Locked,
    /// The same one-`Mutex` design waiting as the engine does (spin, yield and retry before
    /// sleeping): `LockedMarketplace::yielding`. The gap between `locked` and this column is
    /// what the wait policy alone is worth; the gap between this column and `marketplace` is
    /// what removing the global lock is worth.
    LockedYield,
    /// `crossbeam_channel::bounded`, one item per message, no carts.
    Channel,
    /// A raw `crossbeam_queue::ArrayQueue`, push/pop with backoff.
    ArrayQueue,
}

impl Imp {
    /// Everything measured, in table order: the four of the `case=` lines plus the `locked_yield`
    /// sensitivity column.
    pub const ALL: [Imp; 5] = [
        Imp::Marketplace,
        Imp::Locked,
        Imp::LockedYield,
        Imp::Channel,
        Imp::ArrayQueue,
    ];

    /// The columns of the machine-readable `case=` lines, in order (scripts rely on that
    /// format, so `locked_yield` is not among them).
    pub const LINE_COLUMNS: [Imp; 4] =
        [Imp::Marketplace, Imp::Locked, Imp::Channel, Imp::ArrayQueue];

    /// The column name (also the `key=` of the machine-readable lines).
    pub fn name(self) -> &'static str {
        match self {
            Imp::Marketplace => "marketplace",
            Imp::Locked => "locked",
            Imp::LockedYield => "locked_yield",
            Imp::Channel => "channel",
            Imp::ArrayQueue => "array_queue",
        }
    }
}

/// One benchmark case: who moves what.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// As printed: `handoff-4x4`, `kinds-100`, ...
    pub name: &'static str,
    /// Producer threads.
    pub producers: usize,
    /// Consumer threads.
    pub consumers: usize,
    /// Registered producer ids the producer threads spread over (`None`: one per thread).
    pub producer_ids: Option<usize>,
    /// Product kinds cycled over (see the module docs for the order).
    pub kinds: usize,
    /// Items per cart.
    pub cart_size: usize,
    /// Whether each cart gives one item back and takes it again before ordering.
    pub remove_readd: bool,
    /// Relative amount of work: `items_for` scales the base item count by this, so every
    /// case runs for a similar time.
    pub weight: f64,
}

const fn handoff(name: &'static str, threads: usize) -> Case {
    Case {
        name,
        producers: threads,
        consumers: threads,
        producer_ids: None,
        kinds: 1,
        cart_size: 1,
        remove_readd: false,
        weight: 1.0,
    }
}

const fn with_ids(name: &'static str, ids: usize) -> Case {
    Case {
        producer_ids: Some(ids),
        ..handoff(name, 4)
    }
}

const fn with_kinds(name: &'static str, kinds: usize) -> Case {
    Case {
        kinds,
        ..handoff(name, 4)
    }
}

/// Every case, in table order.
pub const CASES: [Case; 11] = [
    handoff("handoff-1x1", 1),
    handoff("handoff-2x2", 2),
    handoff("handoff-4x4", 4),
    handoff("handoff-8x8", 8),
    Case {
        cart_size: 8,
        remove_readd: true,
        weight: 2.0,
        ..handoff("carts-4x4", 4)
    },
    with_ids("producers-1", 1),
    with_ids("producers-64", 64),
    with_ids("producers-4096", 4096),
    with_kinds("kinds-1", 1),
    with_kinds("kinds-100", 100),
    with_kinds("kinds-10000", 10_000),
];

impl Case {
    /// Whether `imp` can run this case (channels and queues have no producer ids).
    pub fn applies(&self, imp: Imp) -> bool {
        self.producer_ids.is_none()
            || matches!(imp, Imp::Marketplace | Imp::Locked | Imp::LockedYield)
    }

    /// The item count for a base of `base` items: scaled by the case's weight and rounded
    /// down to whole carts for every consumer.
    pub fn items_for(&self, base: usize) -> usize {
        let unit = self.cart_size * self.consumers;
        let items = (base as f64 * self.weight) as usize;
        (items / unit).max(1) * unit
    }

    /// Runs the case once on `imp` with `items` items (see [`Case::items_for`]) and returns
    /// the wall time of the moving itself. Panics if the case does not apply or stalls.
    pub fn run(&self, imp: Imp, items: usize) -> Duration {
        assert!(
            self.applies(imp),
            "{} does not run {}",
            imp.name(),
            self.name
        );
        assert_eq!(items % (self.cart_size * self.consumers), 0, "whole carts");
        if self.kinds > 1 {
            assert_eq!(
                self.producers, self.consumers,
                "kinds need producer/consumer pairs"
            );
        }
        match imp {
            Imp::Marketplace => self.run_market(Marketplace::<u64>::new(QUEUE_SIZE), items),
            Imp::Locked => self.run_market(LockedMarketplace::<u64>::new(QUEUE_SIZE), items),
            Imp::LockedYield => {
                self.run_market(LockedMarketplace::<u64>::yielding(QUEUE_SIZE), items)
            }
            Imp::Channel => self.run_channel(items),
            Imp::ArrayQueue => self.run_queue(items),
        }
    }

    /// Items/s of one run.
    pub fn rate(&self, imp: Imp, items: usize) -> f64 {
        items as f64 / self.run(imp, items).as_secs_f64()
    }

    /// Number of kind groups (see the module docs).
    fn groups(&self) -> usize {
        self.producers.min(self.kinds)
    }

    /// The `j`-th kind of a pair in group `group`.
    fn kind(&self, group: usize, j: usize) -> u64 {
        let groups = self.groups();
        let len = (self.kinds - group).div_ceil(groups);
        (group + groups * (j % len)) as u64
    }

    /// Items moved by producer thread `t`.
    fn produced_by(&self, items: usize, t: usize) -> usize {
        share(items, self.producers, t)
    }

    /// Carts filled by consumer thread `c`.
    fn carts_of(&self, items: usize, c: usize) -> usize {
        share(items / self.cart_size, self.consumers, c)
    }

    /// The producer ids producer thread `t` publishes as, in turn.
    fn ids_of(&self, ids: &[ProducerId], t: usize) -> Vec<ProducerId> {
        if ids.len() >= self.producers {
            ids.iter()
                .skip(t)
                .step_by(self.producers)
                .copied()
                .collect()
        } else {
            vec![ids[t % ids.len()]]
        }
    }

    fn run_market<M: Market<u64>>(&self, market: M, items: usize) -> Duration {
        let ids: Vec<ProducerId> = (0..self.producer_ids.unwrap_or(self.producers))
            .map(|_| market.register_producer())
            .collect();
        // Warm-up: every product shelf exists before the clock starts.
        for kind in 0..self.kinds as u64 {
            market.publish_wait(ids[0], kind);
            let cart = market.new_cart();
            market.add_wait(cart, &kind);
            assert_eq!(market.order_count(cart), 1);
        }
        let market = &market;
        let ids = &ids;
        self.timed(
            |t| {
                let mine = self.ids_of(ids, t);
                let group = t % self.groups();
                for j in 0..self.produced_by(items, t) {
                    market.publish_wait(mine[j % mine.len()], self.kind(group, j));
                }
                0
            },
            |c| {
                let group = c % self.groups();
                let mut j = 0;
                let mut ordered = 0;
                for _ in 0..self.carts_of(items, c) {
                    let cart = market.new_cart();
                    for _ in 0..self.cart_size {
                        market.add_wait(cart, &self.kind(group, j));
                        j += 1;
                    }
                    if self.remove_readd {
                        let kind = self.kind(group, j - 1);
                        market.remove(cart, &kind);
                        market.add_wait(cart, &kind);
                    }
                    ordered += market.order_count(cart);
                }
                ordered
            },
            items,
        )
    }

    fn run_channel(&self, items: usize) -> Duration {
        let groups: Vec<(Sender<u64>, Receiver<u64>)> = (0..self.groups())
            .map(|g| bounded(QUEUE_SIZE * share(self.producers, self.groups(), g)))
            .collect();
        let groups = &groups;
        self.timed(
            |t| {
                let group = t % self.groups();
                let sender = &groups[group].0;
                for j in 0..self.produced_by(items, t) {
                    sender.send(self.kind(group, j)).expect("receivers live");
                }
                0
            },
            |c| {
                let group = c % self.groups();
                let receiver = &groups[group].1;
                self.consume_local(items, c, |kind| {
                    let got = receiver
                        .recv_timeout(STALL)
                        .expect("channel workload stalled");
                    assert_eq!(
                        got, kind,
                        "the queue of a group delivers its kinds in order"
                    );
                })
            },
            items,
        )
    }

    fn run_queue(&self, items: usize) -> Duration {
        let queues: Vec<ArrayQueue<u64>> = (0..self.groups())
            .map(|g| ArrayQueue::new(QUEUE_SIZE * share(self.producers, self.groups(), g)))
            .collect();
        let queues = &queues;
        self.timed(
            |t| {
                let group = t % self.groups();
                let queue = &queues[group];
                for j in 0..self.produced_by(items, t) {
                    let mut value = self.kind(group, j);
                    let backoff = Backoff::new();
                    while let Err(back) = queue.push(value) {
                        value = back;
                        backoff.snooze();
                    }
                }
                0
            },
            |c| {
                let group = c % self.groups();
                let queue = &queues[group];
                self.consume_local(items, c, |kind| {
                    let backoff = Backoff::new();
                    let got = loop {
                        match queue.pop() {
                            Some(got) => break got,
                            None => backoff.snooze(),
                        }
                    };
                    assert_eq!(
                        got, kind,
                        "the queue of a group delivers its kinds in order"
                    );
                })
            },
            items,
        )
    }

    /// A consumer of the channel/queue references: carts are local `Vec`s.
    fn consume_local(&self, items: usize, c: usize, mut take: impl FnMut(u64)) -> usize {
        let group = c % self.groups();
        let mut j = 0;
        let mut ordered = 0;
        let mut cart = Vec::with_capacity(self.cart_size);
        for _ in 0..self.carts_of(items, c) {
            for _ in 0..self.cart_size {
                let kind = self.kind(group, j);
                take(kind);
                cart.push(kind);
                j += 1;
            }
            if self.remove_readd {
                let back = cart.pop().expect("a full cart");
                cart.push(back);
            }
            ordered += cart.len();
            cart.clear();
        }
        ordered
    }

    /// Runs producers and consumers released together by a barrier; checks every item was
    /// ordered; returns the time from the first thread's start to the last thread's end.
    ///
    /// Each thread reads the clock itself: a clock read by the coordinating thread after the
    /// barrier could start late (if that thread is descheduled while the workers run) and
    /// report an impossibly short run.
    fn timed(
        &self,
        producer: impl Fn(usize) -> usize + Sync,
        consumer: impl Fn(usize) -> usize + Sync,
        items: usize,
    ) -> Duration {
        let start = Barrier::new(self.producers + self.consumers);
        let (start, producer, consumer) = (&start, &producer, &consumer);
        let timed_run = move |work: &dyn Fn() -> usize| {
            start.wait();
            let began = Instant::now();
            let ordered = work();
            (began, Instant::now(), ordered)
        };
        thread::scope(|s| {
            let mut handles = Vec::new();
            for t in 0..self.producers {
                handles.push(s.spawn(move || timed_run(&|| producer(t))));
            }
            for c in 0..self.consumers {
                handles.push(s.spawn(move || timed_run(&|| consumer(c))));
            }
            let runs: Vec<(Instant, Instant, usize)> =
                handles.into_iter().map(|h| h.join().unwrap()).collect();
            let ordered: usize = runs.iter().map(|run| run.2).sum();
            assert_eq!(ordered, items, "{}: every item ordered once", self.name);
            let first = runs.iter().map(|run| run.0).min().expect("threads ran");
            let last = runs.iter().map(|run| run.1).max().expect("threads ran");
            last - first
        })
    }
}

/// Part `i` of `n` split into `parts` near-equal parts.
fn share(n: usize, parts: usize, i: usize) -> usize {
    n / parts + usize::from(i < n % parts)
}

/// Per-item cost of one thread doing publish, new_cart, add_to_cart and place_order over
/// `producers` producer ids and `kinds` product kinds in turn (uncontended, never full: the
/// O(1) claim without the contended cases' confounders, where more producer ids also means
/// more total shelf capacity and so fewer waits). `None` for the channel and queue.
pub fn spread_cost(imp: Imp, producers: usize, kinds: usize, items: usize) -> Option<Duration> {
    fn run<M: Market<u64>>(market: M, producers: usize, kinds: usize, items: usize) -> Duration {
        let ids: Vec<ProducerId> = (0..producers).map(|_| market.register_producer()).collect();
        let cycle = |n: usize| {
            for i in 0..n {
                let kind = (i % kinds) as u64;
                market.publish_wait(ids[i % producers], kind);
                let cart = market.new_cart();
                market.add_wait(cart, &kind);
                assert_eq!(market.order_count(cart), 1);
            }
        };
        // Warm-up: every shelf exists and every producer has been used.
        cycle(producers.max(kinds));
        let clock = Instant::now();
        cycle(items);
        clock.elapsed()
    }
    match imp {
        Imp::Marketplace => Some(run(
            Marketplace::<u64>::new(QUEUE_SIZE),
            producers,
            kinds,
            items,
        )),
        Imp::Locked => Some(run(
            LockedMarketplace::<u64>::new(QUEUE_SIZE),
            producers,
            kinds,
            items,
        )),
        Imp::LockedYield => Some(run(
            LockedMarketplace::<u64>::yielding(QUEUE_SIZE),
            producers,
            kinds,
            items,
        )),
        Imp::Channel | Imp::ArrayQueue => None,
    }
}

/// What one idle wait cost: a consumer blocked in `add_to_cart_timeout` for a product that
/// never comes, until the timeout expires.
#[derive(Clone, Copy, Debug)]
pub struct IdleWait {
    /// Wall time of the wait.
    pub wall: Duration,
    /// CPU time the waiting thread used (`/proc/thread-self/schedstat`, nanoseconds).
    pub thread_cpu: Duration,
    /// CPU time the whole process used meanwhile (`/proc/self/stat`, 10 ms ticks).
    pub process_cpu: Duration,
}

impl IdleWait {
    /// The waiting thread's CPU time as a fraction of the wall time.
    pub fn thread_share(&self) -> f64 {
        self.thread_cpu.as_secs_f64() / self.wall.as_secs_f64()
    }

    /// The process's CPU time as a fraction of the wall time.
    pub fn process_share(&self) -> f64 {
        self.process_cpu.as_secs_f64() / self.wall.as_secs_f64()
    }
}

/// Blocks one consumer of `imp` (marketplace or locked) in `add_to_cart_timeout` for
/// `timeout` with nothing ever published, and measures its CPU use. Linux only; `None` when
/// `/proc` is unreadable or `imp` has no carts.
pub fn idle_wait(imp: Imp, timeout: Duration) -> Option<IdleWait> {
    let measure = |wait: &(dyn Fn() + Sync)| -> Option<IdleWait> {
        let process_before = process_cpu()?;
        let clock = Instant::now();
        let thread_cpu = thread::scope(|s| {
            s.spawn(|| {
                let before = thread_cpu()?;
                wait();
                Some(thread_cpu()? - before)
            })
            .join()
            .unwrap()
        })?;
        let wall = clock.elapsed();
        Some(IdleWait {
            wall,
            thread_cpu,
            process_cpu: process_cpu()? - process_before,
        })
    };
    match imp {
        Imp::Marketplace => {
            let market = Marketplace::<u64>::new(QUEUE_SIZE);
            let cart = market.new_cart();
            measure(&|| {
                let outcome = market.add_to_cart_timeout(cart, &7, timeout);
                assert!(outcome.is_err(), "nothing was published");
            })
        }
        Imp::Locked | Imp::LockedYield => {
            let market = if imp == Imp::Locked {
                LockedMarketplace::<u64>::new(QUEUE_SIZE)
            } else {
                LockedMarketplace::<u64>::yielding(QUEUE_SIZE)
            };
            let cart = market.new_cart();
            measure(&|| {
                let outcome = market.add_to_cart_timeout(cart, &7, timeout);
                assert!(outcome.is_err(), "nothing was published");
            })
        }
        Imp::Channel | Imp::ArrayQueue => None,
    }
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (nanoseconds on CPU).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// CPU time (user + system) of the whole process, from `/proc/self/stat`. Clock ticks are
/// 1/100 s on every Linux configuration Rust supports in practice.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}
