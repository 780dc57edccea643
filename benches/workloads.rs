//! Criterion suite of the benchmark workload: every case, one criterion group per case with
//! the implementations side by side (marketplace, locked, locked_yield, bare channel, bare
//! kanal, array_queue), throughput in items (publish to placed order). `locked_yield` is the
//! one-`Mutex` baseline with the engine's wait policy (spin, yield and retry before sleeping):
//! against `locked` it shows how much of the engine's lead over the classic design comes from
//! the wait policy rather than from having no global lock (see the harness docs). The
//! workload is `marketplace_harness` (`benches/harness`), shared with `examples/compare.rs`;
//! this file only drives it.
//!
//! `cargo bench --bench workloads [-- handoff-4x4]`. Each iteration runs a whole case (threads
//! spawned, released by a barrier, joined); criterion is given only the moving time
//! (`iter_custom`), so thread spawning is not measured.
// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use marketplace_harness::{CASES, Imp};

/// Items per run before each case's weight: a run takes a few tens of milliseconds.
const BASE_ITEMS: usize = 50_000;

fn workloads(c: &mut Criterion) {
    for case in CASES {
        let items = case.items_for(BASE_ITEMS);
        let mut group = c.benchmark_group(case.name);
        group
            .throughput(Throughput::Elements(items as u64))
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for imp in Imp::ALL.into_iter().filter(|imp| case.applies(*imp)) {
            group.bench_function(imp.name(), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| case.run(imp, items)).sum());
            });
        }
        group.finish();
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
