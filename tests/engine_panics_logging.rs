//! Panic safety of logging: with a logger that wants debug records, every operation formats
//! its arguments and outcome with the user's `Debug`; a panic there (after the operation
//! has done its work) leaves every count right. Alone in its binary: a logger, once
//! installed, stays installed for the whole process, and would make the other panic tests
//! meet `Debug` and `Clone` (for the log line) before the traps they aim at.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use log::{LevelFilter, Log, Metadata, Record};
use marketplace::{Marketplace, OrderError};
use support::{Fragile, Trap, arm, disarm, stats};

fn ask(kind: u32) -> Fragile {
    Fragile { kind, serial: 0 }
}

/// Runs `operation` with a `Debug` trap armed and asserts it panicked.
fn panics_in_debug<R>(operation: impl FnOnce() -> R) {
    arm(Trap::Debug);
    let outcome = catch_unwind(AssertUnwindSafe(operation));
    disarm();
    assert!(outcome.is_err(), "the operation did not log its arguments");
}

/// Formats every record, so the user's `Debug` runs inside each operation's logging.
struct Formatting;

impl Log for Formatting {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        let _ = record.args().to_string();
    }
    fn flush(&self) {}
}

static FORMATTING: Formatting = Formatting;

#[test]
fn every_operation_survives_a_debug_trap_while_logging() {
    log::set_logger(&FORMATTING).expect("the only logger of this process");
    log::set_max_level(LevelFilter::Debug);
    let market = Marketplace::new(2);
    let producer = market.register_producer();
    market
        .publish(producer, Fragile { kind: 1, serial: 1 })
        .unwrap();
    let cart = market.new_cart();
    panics_in_debug(|| market.publish(producer, Fragile { kind: 1, serial: 2 }));
    // The publish completed before its log line: the item is on sale.
    assert_eq!(market.available(&ask(1)), 2);
    panics_in_debug(|| market.add_to_cart(cart, &ask(1)));
    assert_eq!(market.available(&ask(1)), 1);
    panics_in_debug(|| market.remove_from_cart(cart, &ask(1)));
    assert_eq!(market.available(&ask(1)), 2);
    let other = market.new_cart();
    market.add_to_cart(other, &ask(1)).unwrap();
    panics_in_debug(|| market.place_order(other));
    assert_eq!(market.place_order(other), Err(OrderError::UnknownCart));
    assert_eq!(market.stats(), stats(1, 1, 1, 0));
    assert_eq!(market.shelf_len(producer), Some(1));
}
