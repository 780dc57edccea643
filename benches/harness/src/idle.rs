//! The idle-CPU probe: what a consumer blocked in `add_to_cart_timeout` for a product that
//! never comes costs while it waits (it must sleep, not spin).

use std::thread;
use std::time::{Duration, Instant};

use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;

use crate::{Imp, QUEUE_SIZE};

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
        _ => None,
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
