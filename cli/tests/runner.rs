//! The runner as a library: interchangeable equal products, whole lines, stalls, output
//! failures and option checks, each with both kinds of actors (tasks on two workers, and
//! threads). No test waits on a timer to synchronise; stall tests use a short stall
//! timeout, which is the behaviour under test.

mod support;

use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use marketplace_cli::runner::{Actors, MAX_WORKERS, RunError, RunOptions, run};
use marketplace_cli::scenario::Scenario;
use support::panic_message_of;

fn scenario(json: &str) -> Scenario {
    Scenario::from_json(json).unwrap_or_else(|e| panic!("{e}"))
}

/// Both kinds of actors; tasks on two workers, so tasks do run in parallel.
fn every_kind() -> [Actors; 2] {
    let workers = NonZeroUsize::new(2).unwrap();
    [Actors::Tasks { workers }, Actors::Threads]
}

fn fast(actors: Actors) -> RunOptions {
    RunOptions {
        time_scale: 0.0,
        stall_timeout: Duration::from_secs(30),
        actors,
        ..RunOptions::default()
    }
}

#[test]
fn equal_products_are_interchangeable_and_print_as_published() {
    // The consumer asks for "a" (price 9); only "b" (price 9.0, equal in Python) is made.
    let s = scenario(
        r#"{"products": {
              "a": {"product_type": "Tea", "name": "Sencha", "price": 9, "type": "Green"},
              "b": {"product_type": "Tea", "name": "Sencha", "price": 9.0, "type": "Green"}},
            "producers": [{"name": "p", "products": [["b", 1, 0]], "republish_wait_time": 0}],
            "consumers": [{"name": "c", "retry_wait_time": 0, "carts": [[
                {"type": "add", "product": "a", "quantity": 3},
                {"type": "remove", "product": "b", "quantity": 1}]]}],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    );
    for actors in every_kind() {
        let mut out = Vec::new();
        let report = run(&s, &fast(actors), &mut out).unwrap();
        assert_eq!(report.purchases, 2, "{actors:?}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "c bought Tea(name='Sencha', price=9.0, type='Green')\n".repeat(2),
            "{actors:?}"
        );
    }
}

/// Records every `write` call separately, to see how lines reach the sink.
#[derive(Clone, Default)]
struct Chunks(Arc<Mutex<Vec<Vec<u8>>>>);

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A cart whose lines are far longer than a write goes out in consecutive writes of whole
/// lines of at most 64 KiB and a line each, not rendered whole first (a cart of long names
/// can print gigabytes); the other consumer's cart comes before or after, never between.
#[test]
fn a_large_cart_is_written_in_consecutive_pieces_of_whole_lines() {
    const PIECE: usize = 64 * 1024;
    let name = "n".repeat(10_000);
    let cart = r#"[[{"type": "add", "product": "m", "quantity": 40}]]"#;
    let s = scenario(&format!(
        r#"{{"products": {{"m": {{"product_type": "Product", "name": "{name}", "price": 4}}}},
            "producers": [{{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}}],
            "consumers": [{{"name": "a", "retry_wait_time": 0, "carts": {cart}}},
                          {{"name": "b", "retry_wait_time": 0, "carts": {cart}}}],
            "marketplace": {{"queue_size_per_producer": 80}}}}"#
    ));
    let expected = s.expected_output().unwrap();
    let line = expected[0].len() + 1;
    for actors in every_kind() {
        let sink = Chunks::default();
        let report = run(&s, &fast(actors), sink.clone()).unwrap();
        assert_eq!(report.purchases, 80, "{actors:?}");
        let chunks = sink.0.lock().unwrap();
        assert!(chunks.len() > 2, "{actors:?}: {} writes", chunks.len());
        let mut owners: Vec<&str> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for chunk in chunks.iter() {
            assert!(
                chunk.len() <= PIECE + line,
                "{actors:?}: a write of {}",
                chunk.len()
            );
            let text = std::str::from_utf8(chunk).unwrap();
            assert!(text.ends_with('\n'), "{actors:?}");
            let owner = text.split(" bought ").next().unwrap();
            for each in text.lines() {
                assert!(each.starts_with(&format!("{owner} bought ")), "{actors:?}");
                lines.push(each.to_owned());
            }
            if owners.last() != Some(&owner) {
                owners.push(owner);
            }
        }
        assert_eq!(owners.len(), 2, "{actors:?}: carts interleaved: {owners:?}");
        lines.sort();
        assert_eq!(lines, expected, "{actors:?}");
    }
}

#[test]
fn every_write_holds_whole_lines() {
    let mut json = String::from(
        r#"{"products": {"m": {"product_type": "Product", "name": "Mug", "price": 4},
                         "s": {"product_type": "Product", "name": "Spoon", "price": 1}},
            "producers": [{"name": "p1", "products": [["m", 2, 0]], "republish_wait_time": 0},
                          {"name": "p2", "products": [["s", 3, 0]], "republish_wait_time": 0}],
            "consumers": ["#,
    );
    for i in 0..64 {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"name": "consumer {i}", "retry_wait_time": 0, "carts": [
                [{{"type": "add", "product": "m", "quantity": 3}},
                 {{"type": "add", "product": "s", "quantity": 2}}],
                [{{"type": "add", "product": "s", "quantity": 1}}]]}}"#
        ));
    }
    json.push_str(r#"], "marketplace": {"queue_size_per_producer": 2}}"#);
    let s = scenario(&json);
    for actors in every_kind() {
        let sink = Chunks::default();
        let report = run(&s, &fast(actors), sink.clone()).unwrap();
        assert_eq!(report.purchases, 64 * 6, "{actors:?}");
        let chunks = sink.0.lock().unwrap();
        // One write per cart, each made of whole lines of one consumer.
        assert_eq!(chunks.len(), 64 * 2, "{actors:?}");
        let mut lines: Vec<String> = Vec::new();
        for chunk in chunks.iter() {
            let text = std::str::from_utf8(chunk).unwrap();
            assert!(text.ends_with('\n'), "{text:?}");
            let owner = text.split(" bought ").next().unwrap();
            for line in text.lines() {
                assert!(line.starts_with(&format!("{owner} bought ")), "{text:?}");
                lines.push(line.to_owned());
            }
        }
        lines.sort();
        assert_eq!(lines, s.expected_output().unwrap(), "{actors:?}");
    }
}

fn jammed() -> Scenario {
    scenario(
        r#"{"products": {
              "x": {"product_type": "Product", "name": "Unwanted", "price": 1},
              "y": {"product_type": "Tea", "name": "Wanted", "price": 2, "type": "Black"}},
            "producers": [{"name": "jammer", "products": [["x", 1, 0], ["y", 1, 0]],
                           "republish_wait_time": 0},
                          {"name": "other", "products": [["x", 1, 0]], "republish_wait_time": 0}],
            "consumers": [{"name": "waiter", "retry_wait_time": 0,
                           "carts": [[{"type": "add", "product": "y", "quantity": 1}]]}],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    )
}

#[test]
fn a_stall_is_reported_with_who_waits_for_what_and_every_actors_figures() {
    for actors in every_kind() {
        let options = RunOptions {
            stall_timeout: Duration::from_millis(200),
            ..fast(actors)
        };
        let Err(RunError::Stalled(report)) = run(&jammed(), &options, io::sink()) else {
            panic!("the run must stall with {actors:?}");
        };
        assert!(report.idle >= Duration::from_millis(200));
        assert_eq!(report.unfinished, 1);
        assert_eq!(report.waiting.len(), 1, "{actors:?}");
        let waiting = &report.waiting[0];
        assert_eq!(waiting.name, "waiter");
        assert_eq!(
            waiting.product.to_string(),
            "Tea(name='Wanted', price=2, type='Black')"
        );
        assert_eq!(waiting.on_sale, 0);
        // Only the producer that makes the product is listed, with its full shelf.
        assert_eq!(waiting.producers.len(), 1);
        assert_eq!(waiting.producers[0].name, "jammer");
        assert_eq!(
            (waiting.producers[0].on_shelf, waiting.producers[0].capacity),
            (1, 1),
            "{actors:?}"
        );
        // The report carries the figures too, taken once the actors were stopped: the
        // waiting consumer's wait counts up to the stop.
        let waiter = &report.stats.consumers[0];
        assert_eq!((waiter.carts, waiter.purchases), (0, 0), "{actors:?}");
        assert!(waiter.retries >= 1, "{actors:?}");
        assert!(
            waiter.waiting >= Duration::from_millis(190),
            "{actors:?}: {waiter:?}"
        );
        let jammer = &report.stats.producers[0];
        assert_eq!(jammer.published, 1, "{actors:?}");
        assert!(jammer.full >= 1, "{actors:?}");
    }
}

/// A stall while the actors wait on timers (a scaled retry wait), not only in the engine:
/// the report is the same, and the run still ends.
#[test]
fn a_stall_with_timed_waits_is_reported() {
    for actors in every_kind() {
        let options = RunOptions {
            time_scale: 0.01,
            stall_timeout: Duration::from_millis(300),
            actors,
            ..RunOptions::default()
        };
        let Err(RunError::Stalled(report)) = run(&jammed(), &options, io::sink()) else {
            panic!("the run must stall with {actors:?}");
        };
        assert_eq!(report.unfinished, 1);
        assert!(report.waiting.len() <= 1, "{actors:?}: {report}");
    }
}

/// A sink that refuses every write.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_output_failure_ends_the_run() {
    let s = scenario(
        r#"{"products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
            "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
            "consumers": [{"name": "c", "retry_wait_time": 0, "carts":
                [[{"type": "add", "product": "m", "quantity": 1}]]}],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    );
    for actors in every_kind() {
        match run(&s, &fast(actors), Broken) {
            Err(RunError::Output(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            other => panic!("{actors:?}: {other:?}"),
        }
    }
}

#[test]
fn bad_time_scales_are_refused() {
    for actors in every_kind() {
        for time_scale in [-1.0, f64::NAN, f64::INFINITY] {
            let options = RunOptions {
                time_scale,
                ..fast(actors)
            };
            assert!(matches!(
                run(&jammed(), &options, io::sink()),
                Err(RunError::Options(_))
            ));
        }
    }
}

/// A worker count the system could not give (each worker reserves its stack) is refused
/// before any starts, not an abort.
#[test]
fn too_many_workers_are_refused() {
    for workers in [MAX_WORKERS + 1, usize::MAX] {
        let actors = Actors::Tasks {
            workers: NonZeroUsize::new(workers).unwrap(),
        };
        assert!(matches!(
            run(&jammed(), &fast(actors), io::sink()),
            Err(RunError::Options(_))
        ));
    }
}

#[test]
fn a_scenario_without_consumers_ends_at_once() {
    let s = scenario(
        r#"{"products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
            "producers": [{"name": "p", "products": [["m", 1, 1000]], "republish_wait_time": 1000},
                          {"name": "idle", "products": [], "republish_wait_time": 0}],
            "consumers": [],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    );
    // Producers sleeping a scaled 1000 s, or with nothing to make, are woken by the end.
    for actors in every_kind() {
        let options = RunOptions {
            actors,
            ..RunOptions::default()
        };
        let report = run(&s, &options, io::sink()).unwrap();
        assert_eq!(report.purchases, 0);
    }
}

/// The runs end as they should with one worker too: a task that never has to wait (this
/// producer always finds room) must still let the consumer task run.
#[test]
fn one_worker_is_enough() {
    let s = scenario(
        r#"{"products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
            "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
            "consumers": [{"name": "c", "retry_wait_time": 0, "carts":
                [[{"type": "add", "product": "m", "quantity": 5}]]}],
            "marketplace": {"queue_size_per_producer": 1000000}}"#,
    );
    let workers = NonZeroUsize::MIN;
    let report = run(&s, &fast(Actors::Tasks { workers }), io::sink()).unwrap();
    assert_eq!(report.purchases, 5);
}

#[test]
fn tasks_are_the_default() {
    assert!(matches!(RunOptions::default().actors, Actors::Tasks { .. }));
}

/// Every actor's figures come with the report: per consumer its carts and purchases (which
/// add up to the lines written) and retries; per producer what it published.
#[test]
fn the_report_has_every_actors_figures() {
    let s = scenario(
        r#"{"products": {"m": {"product_type": "Product", "name": "Mug", "price": 4},
                         "t": {"product_type": "Tea", "name": "Mint", "price": 2, "type": "Herbal"}},
            "producers": [{"name": "pottery", "products": [["m", 1, 0]], "republish_wait_time": 0},
                          {"name": "garden", "products": [["t", 2, 0]], "republish_wait_time": 0}],
            "consumers": [{"name": "a", "retry_wait_time": 0, "carts": [
                              [{"type": "add", "product": "m", "quantity": 3}],
                              [{"type": "add", "product": "t", "quantity": 2},
                               {"type": "remove", "product": "t", "quantity": 1}]]},
                          {"name": "b", "retry_wait_time": 0, "carts": [
                              [{"type": "add", "product": "t", "quantity": 4}]]}],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    );
    for actors in every_kind() {
        let mut out = Vec::new();
        let report = run(&s, &fast(actors), &mut out).unwrap();
        let stats = &report.stats;
        let figures: Vec<_> = stats
            .consumers
            .iter()
            .map(|c| (c.name.as_str(), c.carts, c.purchases))
            .collect();
        assert_eq!(figures, [("a", 2, 4), ("b", 1, 4)], "{actors:?}");
        let totals = stats.totals();
        assert_eq!(totals.purchases, report.purchases, "{actors:?}");
        assert_eq!(
            report.purchases,
            out.iter().filter(|&&b| b == b'\n').count() as u64
        );
        assert_eq!(
            (totals.retries, totals.full),
            (report.retries, report.republishes)
        );
        let names: Vec<_> = stats.producers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["pottery", "garden"], "{actors:?}");
        // Every item bought was published once (a removed one goes back on sale).
        assert!(stats.producers[0].published >= 3, "{actors:?}: {stats:?}");
        assert!(stats.producers[1].published >= 6, "{actors:?}: {stats:?}");
        assert_eq!(stats.wall, report.elapsed);
    }
}

/// A sink that hands every flush's bytes to a channel, so a test can wait for a line.
struct Flushed {
    held: Vec<u8>,
    sent: std::sync::mpsc::Sender<Vec<u8>>,
}

impl Write for Flushed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.held.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.held.is_empty() {
            let _ = self.sent.send(std::mem::take(&mut self.held));
        }
        Ok(())
    }
}

/// An interrupt ends a run that waits (`a_run_that_waits_after_one_cart`, with a stall
/// timeout far off): the run returns `Interrupted` with the first cart's line written and
/// flushed, and `interrupt_and_wait` returns only once the
/// run has let go of the output. An interrupt asked before a run ends that run at once,
/// and one asked with no run in progress returns at once.
#[test]
fn an_interrupt_ends_the_run_with_its_lines_written() {
    let waits = a_run_that_waits_after_one_cart();
    for actors in every_kind() {
        let options = RunOptions {
            stall_timeout: Duration::from_secs(3600),
            ..fast(actors)
        };
        let (sent, received) = std::sync::mpsc::channel();
        let sink = Flushed {
            held: Vec::new(),
            sent,
        };
        let interrupt = options.interrupt.clone();
        let asker = std::thread::spawn(move || {
            let first = received.recv().expect("the first cart's line is flushed");
            interrupt.interrupt_and_wait();
            // The run has dropped the sink by now: nothing more can come.
            let rest: Vec<Vec<u8>> = received.iter().collect();
            (first, rest)
        });
        let outcome = run(&waits, &options, sink);
        assert!(
            matches!(outcome, Err(RunError::Interrupted(_))),
            "{actors:?}: {outcome:?}"
        );
        let (first, rest) = asker.join().expect("the asking thread");
        assert_eq!(
            first, b"c bought Product(name='Mug', price=4)\n",
            "{actors:?}"
        );
        assert!(rest.is_empty(), "{actors:?}: {rest:?}");

        let outcome = run(&waits, &options, io::sink());
        assert!(
            matches!(outcome, Err(RunError::Interrupted(_))),
            "{actors:?}: a second run: {outcome:?}"
        );
        options.interrupt.interrupt_and_wait();
    }
}

/// A scenario whose run buys its first cart and then waits: its second cart asks for a
/// tea stuck behind an unwanted item on a producer's shelf of one.
fn a_run_that_waits_after_one_cart() -> Scenario {
    scenario(
        r#"{"products": {
              "m": {"product_type": "Product", "name": "Mug", "price": 4},
              "x": {"product_type": "Product", "name": "Unwanted", "price": 1},
              "t": {"product_type": "Tea", "name": "Never", "price": 2, "type": "Black"}},
            "producers": [{"name": "p", "products": [["m", 1, 0], ["x", 1, 0], ["t", 1, 0]],
                           "republish_wait_time": 0}],
            "consumers": [{"name": "c", "retry_wait_time": 0,
                           "carts": [[{"type": "add", "product": "m", "quantity": 1}],
                                     [{"type": "add", "product": "t", "quantity": 1}]]}],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    )
}

/// One interrupt shared by runs in progress at once (their options cloned) ends every one
/// of them, and `interrupt_and_wait` returns only once all have let go of their output.
#[test]
fn an_interrupt_ends_every_run_it_was_given() {
    let waits = a_run_that_waits_after_one_cart();
    for actors in every_kind() {
        let options = RunOptions {
            stall_timeout: Duration::from_secs(3600),
            ..fast(actors)
        };
        let (sent, flushed) = std::sync::mpsc::channel();
        let (ended, outcomes) = std::sync::mpsc::channel();
        for _ in 0..2 {
            let (waits, options, ended) = (waits.clone(), options.clone(), ended.clone());
            let sink = Flushed {
                held: Vec::new(),
                sent: sent.clone(),
            };
            std::thread::spawn(move || {
                let outcome = run(&waits, &options, sink);
                let _ = ended.send(matches!(outcome, Err(RunError::Interrupted(_))));
            });
        }
        for _ in 0..2 {
            flushed
                .recv_timeout(Duration::from_secs(30))
                .expect("each run's first cart is flushed");
        }
        options.interrupt.interrupt_and_wait();
        for run in 0..2 {
            let interrupted = outcomes
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("{actors:?}: run {run} goes on after the interrupt"));
            assert!(interrupted, "{actors:?}: run {run} ended otherwise");
        }
    }
}

/// A sink that panics at its first write, as a caller's buggy writer might.
struct Panicking;

impl Write for Panicking {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        panic!("the sink panics");
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A panic while the run writes its output (here the caller's sink) ends the run with that
/// panic: every actor is stopped, none left waiting for a run that will not end.
#[test]
fn a_panic_in_the_output_ends_the_run_with_that_panic() {
    let waits = a_run_that_waits_after_one_cart();
    for actors in every_kind() {
        let options = RunOptions {
            stall_timeout: Duration::from_secs(3600),
            ..fast(actors)
        };
        let waits = waits.clone();
        let message = panic_message_of(
            move || run(&waits, &options, Panicking),
            Duration::from_secs(30),
        )
        .unwrap_or_else(|_| panic!("{actors:?}: the run goes on after its sink panicked"));
        assert_eq!(message.as_deref(), Some("the sink panics"), "{actors:?}");
    }
}
