//! Waiting consumers and blocked producers must not spin: during a stall of 0.6 s with
//! dozens of waiting actors, tasks or threads, the whole process uses only a sliver of CPU
//! time. Alone in its own test binary, with one test that measures each kind of actors in
//! turn, so no other work is counted. Linux only (reads /proc).
#![cfg(target_os = "linux")]

use std::io;
use std::num::NonZeroUsize;
use std::time::Duration;

use marketplace_cli::runner::{Actors, RunError, RunOptions, run};
use marketplace_cli::scenario::Scenario;

/// CPU time (user + system) this process has used, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    // Clock ticks are 1/100 s on every Linux configuration Rust supports in practice.
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

#[test]
fn waiting_actors_use_no_cpu() {
    // 40 consumers wait for a Tea that never comes; 20 producers are stuck on full queues.
    let mut consumers = Vec::new();
    for i in 0..40 {
        consumers.push(format!(
            r#"{{"name": "c{i}", "retry_wait_time": 0,
                "carts": [[{{"type": "add", "product": "y", "quantity": 1}}]]}}"#
        ));
    }
    let mut producers = vec![
        r#"{"name": "jammer", "products": [["x", 1, 0], ["y", 1, 0]], "republish_wait_time": 0}"#
            .to_owned(),
    ];
    for i in 0..20 {
        producers.push(format!(
            r#"{{"name": "p{i}", "products": [["x", 1, 0]], "republish_wait_time": 0}}"#
        ));
    }
    let json = format!(
        r#"{{"products": {{
              "x": {{"product_type": "Product", "name": "Unwanted", "price": 1}},
              "y": {{"product_type": "Tea", "name": "Wanted", "price": 2, "type": "Black"}}}},
            "producers": [{}], "consumers": [{}],
            "marketplace": {{"queue_size_per_producer": 2}}}}"#,
        producers.join(","),
        consumers.join(",")
    );
    let scenario = Scenario::from_json(&json).unwrap();
    let workers = NonZeroUsize::new(2).unwrap();
    for actors in [Actors::Tasks { workers }, Actors::Threads] {
        let options = RunOptions {
            time_scale: 0.0,
            stall_timeout: Duration::from_millis(600),
            actors,
            ..RunOptions::default()
        };
        let before = cpu_time();
        let outcome = run(&scenario, &options, io::sink());
        let used = cpu_time() - before;
        assert!(matches!(outcome, Err(RunError::Stalled(_))), "{actors:?}");
        assert!(
            used < Duration::from_millis(200),
            "{actors:?}: {used:?} of CPU during a 600 ms stall: something spins"
        );
        println!("CPU used during a 600 ms stall with 61 actors as {actors:?}: {used:?}");
    }
}
