//! What one serialising memory instruction costs on this machine, on one thread, its cache
//! line never leaving the core: the floor under every atomic read-modify-write and `SeqCst`
//! fence the engine runs, however uncontended.
//!
//! `scripts/count-atomics` counts how many of them an operation runs (13 for the engine's
//! publish-add-order cycle, 2 for a bare channel's send and receive); this measures what
//! each costs, so the two together bound how cheap the cycle can get. Each kind runs
//! `COUNT` times in a row, every kind once per round, and the figure is the median over
//! the rounds (the machine has slow spells):
//!
//! ```sh
//! cargo run --release --example serialising_cost -- [COUNT [ROUNDS]]   # default 10000000 9
//! ```

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::Instant;

const USAGE: &str = "usage: serialising_cost [COUNT [ROUNDS]]";

/// One kind of operation, run `count` times.
struct Kind {
    name: &'static str,
    run: fn(&Shared, u64),
}

/// What the operations work on: lines only this thread touches.
struct Shared {
    counter: AtomicU64,
    lock: Mutex<u64>,
}

const KINDS: [Kind; 6] = [
    Kind {
        name: "the loop alone",
        run: |_, count| {
            for i in 0..count {
                black_box(i);
            }
        },
    },
    Kind {
        name: "fetch_add (lock xadd)",
        run: |shared, count| {
            for _ in 0..count {
                black_box(shared.counter.fetch_add(1, Ordering::Relaxed));
            }
        },
    },
    Kind {
        name: "compare_exchange (lock cmpxchg)",
        run: |shared, count| {
            for _ in 0..count {
                let seen = shared.counter.load(Ordering::Relaxed);
                black_box(
                    shared
                        .counter
                        .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok(),
                );
            }
        },
    },
    Kind {
        name: "swap (xchg)",
        run: |shared, count| {
            for i in 0..count {
                black_box(shared.counter.swap(i, Ordering::Release));
            }
        },
    },
    Kind {
        name: "fence(SeqCst)",
        run: |_, count| {
            for i in 0..count {
                black_box(i);
                fence(Ordering::SeqCst);
            }
        },
    },
    Kind {
        name: "Mutex lock and unlock (two of them)",
        run: |shared, count| {
            for _ in 0..count {
                *shared.lock.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            }
        },
    },
];

/// The argument at `at`, a whole number above 0, or `default` when it is absent.
fn positive(args: &[String], at: usize, default: u64, name: &str) -> Result<u64, String> {
    let Some(text) = args.get(at) else {
        return Ok(default);
    };
    text.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{name}: expected a whole number above 0, got {text:?}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() > 2 {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let parsed = positive(&args, 0, 10_000_000, "COUNT")
        .and_then(|count| Ok((count, positive(&args, 1, 9, "ROUNDS")?)));
    let (count, rounds) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let shared = Shared {
        counter: AtomicU64::new(0),
        lock: Mutex::new(0),
    };
    let mut nanos_per_op: Vec<Vec<f64>> = vec![Vec::new(); KINDS.len()];
    for _ in 0..rounds {
        for (kind, figures) in KINDS.iter().zip(&mut nanos_per_op) {
            let start = Instant::now();
            (kind.run)(&shared, count);
            figures.push(start.elapsed().as_nanos() as f64 / count as f64);
        }
    }
    println!("ns per operation on one thread, median of {rounds} rounds of {count}:");
    for (kind, mut figures) in KINDS.iter().zip(nanos_per_op) {
        figures.sort_by(f64::total_cmp);
        let median = figures[figures.len() / 2];
        let (low, high) = (figures[0], figures[figures.len() - 1]);
        println!("  {median:6.2}  ({low:.2} to {high:.2})  {}", kind.name);
    }
    ExitCode::SUCCESS
}
