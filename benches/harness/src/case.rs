//! The benchmark cases and how each implementation runs them.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::Backoff;
use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;

use crate::{Imp, Market, QUEUE_SIZE, Workload};

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
pub const CASES: [Case; 12] = [
    handoff("handoff-1x1", 1),
    handoff("handoff-2x2", 2),
    handoff("handoff-4x4", 4),
    handoff("handoff-8x8", 8),
    Case {
        cart_size: 8,
        weight: 2.0,
        ..handoff("carts8-4x4", 4)
    },
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
        self.producer_ids.is_none() || imp.is_market()
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
            Imp::Kanal => self.run_kanal(items),
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
    fn ids_of<I: Copy>(&self, ids: &[I], t: usize) -> Vec<I> {
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
        let ids: Vec<M::Producer> = (0..self.producer_ids.unwrap_or(self.producers))
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

    /// The bare `crossbeam_channel` handoff: one bounded channel per kind group with the
    /// same total capacity, blocking `send` and `recv`, nothing else per item.
    fn run_channel(&self, items: usize) -> Duration {
        self.run_bare(
            items,
            crossbeam_channel::bounded,
            |sender: &Sender<u64>, kind| sender.send(kind).expect("receivers live"),
            |receiver: &Receiver<u64>| receiver.recv().expect("senders live"),
        )
    }

    /// The same bare handoff on `kanal::bounded`.
    fn run_kanal(&self, items: usize) -> Duration {
        self.run_bare(
            items,
            kanal::bounded,
            |sender: &kanal::Sender<u64>, kind| sender.send(kind).expect("receivers live"),
            |receiver: &kanal::Receiver<u64>| receiver.recv().expect("senders live"),
        )
    }

    /// A bare channel handoff: one channel per kind group, made by `bounded` with the
    /// group's capacity; producers `send` their kinds, consumers `recv` carts of them.
    fn run_bare<S: Sync, R: Sync>(
        &self,
        items: usize,
        bounded: impl Fn(usize) -> (S, R),
        send: impl Fn(&S, u64) + Sync,
        recv: impl Fn(&R) -> u64 + Sync,
    ) -> Duration {
        let groups: Vec<(S, R)> = (0..self.groups())
            .map(|g| bounded(self.group_capacity(g)))
            .collect();
        let (groups, send, recv) = (&groups, &send, &recv);
        self.timed(
            |t| {
                let sender = &groups[t % self.groups()].0;
                self.produce_local(items, t, |kind| send(sender, kind));
                0
            },
            |c| {
                let receiver = &groups[c % self.groups()].1;
                self.consume_local(items, c, || recv(receiver))
            },
            items,
        )
    }

    /// A raw `ArrayQueue` per kind group, spinning then yielding when full or empty.
    fn run_queue(&self, items: usize) -> Duration {
        let queues: Vec<ArrayQueue<u64>> = (0..self.groups())
            .map(|g| ArrayQueue::new(self.group_capacity(g)))
            .collect();
        let queues = &queues;
        self.timed(
            |t| {
                let queue = &queues[t % self.groups()];
                self.produce_local(items, t, |mut value| {
                    let backoff = Backoff::new();
                    while let Err(back) = queue.push(value) {
                        value = back;
                        backoff.snooze();
                    }
                });
                0
            },
            |c| {
                let queue = &queues[c % self.groups()];
                self.consume_local(items, c, || {
                    let backoff = Backoff::new();
                    loop {
                        match queue.pop() {
                            Some(got) => break got,
                            None => backoff.snooze(),
                        }
                    }
                })
            },
            items,
        )
    }

    /// The capacity of kind group `g`'s queue: [`QUEUE_SIZE`] per producer thread in it.
    fn group_capacity(&self, g: usize) -> usize {
        QUEUE_SIZE * share(self.producers, self.groups(), g)
    }

    /// A producer of the bare references: hands its kinds to `send`, in order.
    fn produce_local(&self, items: usize, t: usize, mut send: impl FnMut(u64)) {
        let group = t % self.groups();
        for j in 0..self.produced_by(items, t) {
            send(self.kind(group, j));
        }
    }

    /// A consumer of the bare references: its "cart" is a local `Vec`, reused, filled by
    /// `take` cart-size items in a row; a remove and re-add is a local pop and push (there is
    /// no way to give an item back to a channel's producer).
    fn consume_local(&self, items: usize, c: usize, mut take: impl FnMut() -> u64) -> usize {
        let mut ordered = 0;
        let mut cart = Vec::with_capacity(self.cart_size);
        for _ in 0..self.carts_of(items, c) {
            for _ in 0..self.cart_size {
                cart.push(take());
            }
            if self.remove_readd {
                let back = cart.pop().expect("a full cart");
                cart.push(back);
            }
            ordered += std::hint::black_box(&cart).len();
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
