//! The async handoff: `P` producer tasks and `C` consumer tasks on a multi-threaded tokio
//! runtime with two worker threads, moving `N` items from `publish_async` to a placed order
//! (carts of one, one kind), side by side with async channels of the same total capacity
//! ([`QUEUE_SIZE`] per producer task): `async-channel` and `kanal`'s async side (both
//! multi-consumer), and `tokio::sync::mpsc` (single-consumer, so its receiver is shared
//! behind tokio's async mutex, the usual way to fan one channel out to several tasks).
//!
//! As in the thread cases, the rivals are bare: `send(x).await`, `recv().await` into a
//! reused local `Vec`, nothing else per item. Items/s = `N` / time from the first task's
//! start (all are released by one barrier) to the last task's end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use marketplace::Marketplace;
use tokio::sync::Barrier;

use crate::QUEUE_SIZE;

/// One implementation of the async handoff.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskImp {
    /// The engine's `publish_async` and `add_to_cart_async`, carts of one.
    Marketplace,
    /// `async_channel::bounded`.
    AsyncChannel,
    /// `kanal::bounded_async`.
    Kanal,
    /// `tokio::sync::mpsc::channel`, the receiver behind a `tokio::sync::Mutex`.
    TokioMpsc,
}

impl TaskImp {
    /// Everything measured, in table order.
    pub const ALL: [TaskImp; 4] = [
        TaskImp::Marketplace,
        TaskImp::AsyncChannel,
        TaskImp::Kanal,
        TaskImp::TokioMpsc,
    ];

    /// The column name (also the `key=` of the machine-readable lines).
    pub fn name(self) -> &'static str {
        match self {
            TaskImp::Marketplace => "marketplace",
            TaskImp::AsyncChannel => "async_channel",
            TaskImp::Kanal => "kanal",
            TaskImp::TokioMpsc => "tokio_mpsc",
        }
    }
}

/// One async case.
#[derive(Clone, Copy, Debug)]
pub struct TaskCase {
    /// As printed: `async-handoff-4x4`, ...
    pub name: &'static str,
    /// Producer tasks.
    pub producers: usize,
    /// Consumer tasks.
    pub consumers: usize,
}

/// Every async case, in table order.
pub const TASK_CASES: [TaskCase; 2] = [
    TaskCase {
        name: "async-handoff-4x4",
        producers: 4,
        consumers: 4,
    },
    TaskCase {
        name: "async-handoff-8x8",
        producers: 8,
        consumers: 8,
    },
];

/// A bare async handoff on a channel: each producer task clones `$sender` and sends its
/// share with `$send`; each consumer task clones `$receiver` and receives its share with
/// `$recv` into a reused local `Vec`. (A macro because the three channels share no trait.)
macro_rules! bare_handoff {
    ($case:ident, $items:ident, $produced:ident, $consumed:ident, $sender:ident, $receiver:ident,
     send: |$s:ident, $n:ident| $send:expr, recv: |$r:ident| $recv:expr) => {
        $case
            .timed(
                $items,
                |_| {
                    let $s = $sender.clone();
                    async move {
                        for $n in 0..$produced as u64 {
                            $send;
                        }
                        0
                    }
                },
                |_| {
                    let $r = $receiver.clone();
                    async move {
                        let mut cart = Vec::with_capacity(1);
                        let mut ordered = 0;
                        for _ in 0..$consumed {
                            cart.push($recv);
                            ordered += std::hint::black_box(&cart).len();
                            cart.clear();
                        }
                        ordered
                    }
                },
            )
            .await
    };
}

impl TaskCase {
    /// The item count for a base of `base` items: whole shares for every task.
    pub fn items_for(&self, base: usize) -> usize {
        let unit = self.producers * self.consumers;
        (base / unit).max(1) * unit
    }

    /// Items/s of one run of `imp` with `items` items.
    pub fn rate(&self, imp: TaskImp, items: usize) -> f64 {
        items as f64 / self.run(imp, items).as_secs_f64()
    }

    /// Runs the case once and returns the wall time of the moving itself.
    pub fn run(&self, imp: TaskImp, items: usize) -> Duration {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a tokio runtime");
        let capacity = QUEUE_SIZE * self.producers;
        let (produced, consumed) = (items / self.producers, items / self.consumers);
        runtime.block_on(async {
            match imp {
                TaskImp::Marketplace => {
                    let market = Arc::new(Marketplace::<u64>::new(QUEUE_SIZE));
                    let ids: Vec<_> = (0..self.producers)
                        .map(|_| market.register_producer())
                        .collect();
                    self.timed(
                        items,
                        |p| {
                            let (market, id) = (Arc::clone(&market), ids[p]);
                            async move {
                                for _ in 0..produced {
                                    market.publish_async(id, 0).await.expect("published");
                                }
                                0
                            }
                        },
                        |_| {
                            let market = Arc::clone(&market);
                            async move {
                                let mut ordered = 0;
                                for _ in 0..consumed {
                                    let cart = market.new_cart();
                                    market.add_to_cart_async(cart, &0).await.expect("taken");
                                    ordered += market.place_order(cart).expect("open").len();
                                }
                                ordered
                            }
                        },
                    )
                    .await
                }
                TaskImp::AsyncChannel => {
                    let (sender, receiver) = async_channel::bounded::<u64>(capacity);
                    bare_handoff!(self, items, produced, consumed, sender, receiver,
                        send: |sender, n| sender.send(n).await.expect("receivers live"),
                        recv: |receiver| receiver.recv().await.expect("senders live"))
                }
                TaskImp::Kanal => {
                    let (sender, receiver) = kanal::bounded_async::<u64>(capacity);
                    bare_handoff!(self, items, produced, consumed, sender, receiver,
                        send: |sender, n| sender.send(n).await.expect("receivers live"),
                        recv: |receiver| receiver.recv().await.expect("senders live"))
                }
                TaskImp::TokioMpsc => {
                    let (sender, receiver) = tokio::sync::mpsc::channel::<u64>(capacity);
                    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
                    bare_handoff!(self, items, produced, consumed, sender, receiver,
                        send: |sender, n| sender.send(n).await.expect("receivers live"),
                        recv: |receiver| receiver.lock().await.recv().await.expect("senders live"))
                }
            }
        })
    }

    /// Spawns the producer and consumer tasks, released together by a barrier; checks every
    /// item was ordered; returns the time from the first task's start to the last one's end.
    async fn timed<PF, CF>(
        &self,
        items: usize,
        producer: impl Fn(usize) -> PF,
        consumer: impl Fn(usize) -> CF,
    ) -> Duration
    where
        PF: Future<Output = usize> + Send + 'static,
        CF: Future<Output = usize> + Send + 'static,
    {
        let start = Arc::new(Barrier::new(self.producers + self.consumers));
        let timed = |work: std::pin::Pin<Box<dyn Future<Output = usize> + Send>>| {
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                let began = Instant::now();
                let ordered = work.await;
                (began, Instant::now(), ordered)
            })
        };
        let mut tasks = Vec::new();
        for p in 0..self.producers {
            tasks.push(timed(Box::pin(producer(p))));
        }
        for c in 0..self.consumers {
            tasks.push(timed(Box::pin(consumer(c))));
        }
        let mut runs = Vec::new();
        for task in tasks {
            runs.push(task.await.expect("a task panicked"));
        }
        let ordered: usize = runs.iter().map(|run| run.2).sum();
        assert_eq!(ordered, items, "{}: every item ordered once", self.name);
        let first = runs.iter().map(|run| run.0).min().expect("tasks ran");
        let last = runs.iter().map(|run| run.1).max().expect("tasks ran");
        last - first
    }
}
