//! What the engine's `debug!` records cost on the hot path.
//! `cargo bench --bench log_overhead`. Alone in its binary because a logger, once
//! installed, stays installed for the process.
//!
//! One operation cycle (publish, new_cart, add_to_cart, place_order, all logging at `debug`)
//! measured in three states, in this order:
//! 1. `no-logger`: nothing installed, the max level is `Off`: each `debug!` is one relaxed
//!    load of the max level and a branch;
//! 2. `logger-info`: a logger installed, max level `Info`: the same load and branch (the
//!    logger is never called), so it should match 1;
//! 3. `logger-debug-sink`: max level `Debug`, the logger formats every record into
//!    `io::sink()`: the real cost of logging, minus I/O.
//!
//! "Compiled out" (`log`'s `max_level_off` / `release_max_level_off` features) turns each
//! `debug!` into a constant-false branch, removing even the load of 1. It cannot be measured
//! in this build: cargo unifies `log`'s features over the whole build graph, so enabling it
//! for a bench would silence logging for every test and binary built with it. States 1 and 2
//! bound what compiling out could still save.
// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, criterion_group, criterion_main};
use log::{LevelFilter, Log, Metadata, Record};
use marketplace::Marketplace;
use marketplace::baseline::LockedMarketplace;

/// Formats every record it is given and throws the bytes away.
struct SinkLogger;

impl Log for SinkLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let _ = writeln!(
            std::io::sink(),
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

static LOGGER: SinkLogger = SinkLogger;

/// Installs the sink logger (once) and sets the max level.
fn log_at(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

macro_rules! cycle {
    ($group:expr, $name:expr, $new:expr) => {{
        let market = $new;
        let producer = market.register_producer();
        $group.bench_function($name, |b| {
            b.iter(|| {
                market.publish(producer, black_box(1u64)).unwrap();
                let cart = market.new_cart();
                market.add_to_cart(cart, &black_box(1)).unwrap();
                black_box(market.place_order(cart).unwrap());
            })
        });
    }};
}

fn log_overhead(c: &mut Criterion) {
    for (state, level) in [
        ("no-logger", None),
        ("logger-info", Some(LevelFilter::Info)),
        ("logger-debug-sink", Some(LevelFilter::Debug)),
    ] {
        if let Some(level) = level {
            log_at(level);
        }
        let mut group = c.benchmark_group(format!("log/{state}"));
        cycle!(group, "marketplace", Marketplace::<u64>::new(16));
        cycle!(group, "locked", LockedMarketplace::<u64>::new(16));
        group.finish();
    }
}

criterion_group!(benches, log_overhead);
criterion_main!(benches);
