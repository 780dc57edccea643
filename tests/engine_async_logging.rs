//! Every async call leaves one debug record, as every blocking call does: with its outcome
//! when its future completes, or `cancelled` when the future is dropped before it completes
//! (a wait bounded by the caller's timer, say), or `cancelled by a panic` when a panic
//! unwinds it. A future dropped before its first poll did
//! nothing, as futures do nothing until polled, and leaves none. Alone in its binary: the logger it installs
//! stays installed for the whole process.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use marketplace::Marketplace;
use support::{Fragile, Recording, Trap, arm, disarm};

mod support;

static RECORDS: Recording = Recording::new();

/// The records written since the last call.
fn records() -> Vec<String> {
    RECORDS.take()
}

/// Polls `future` once, which must wait, and drops it: a cancelled call.
fn cancel<F: Future>(future: F) {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    assert!(matches!(future.as_mut().poll(&mut context), Poll::Pending));
}

/// Runs `future` to completion; it must not wait.
fn complete<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the call waited"),
    }
}

#[test]
fn a_cancelled_async_call_leaves_a_record_as_a_completed_one_does() {
    RECORDS.install();
    let market = Marketplace::new(1);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let tea = market.product(&"tea");
    records();

    cancel(market.add_to_cart_async(cart, &"tea"));
    cancel(tea.add_to_cart_async(cart));
    assert_eq!(
        records(),
        [
            format!("add_to_cart_async({cart}, \"tea\") -> cancelled"),
            format!("add_to_cart_async({cart}, \"tea\") -> cancelled"),
        ]
    );

    complete(market.publish_async(producer, "tea")).unwrap();
    cancel(market.publish_async(producer, "tea"));
    cancel(tea.publish_async(producer));
    complete(tea.add_to_cart_async(cart)).unwrap();
    assert_eq!(
        records(),
        [
            format!("publish_async({producer}, \"tea\") -> ok"),
            format!("publish_async({producer}, \"tea\") -> cancelled"),
            format!("publish_async({producer}, \"tea\") -> cancelled"),
            format!("add_to_cart_async({cart}, \"tea\") -> ok"),
        ]
    );
    // A future dropped before its first poll never began its call: it leaves no record.
    drop(market.add_to_cart_async(cart, &"tea"));
    drop(tea.publish_async(producer));
    assert_eq!(records(), Vec::<String>::new());
    // Cancelled calls changed nothing.
    assert_eq!(market.place_order(cart), Ok(vec!["tea"]));
    assert_eq!(market.available(&"tea"), 0);

    // A call that a panic unwinds (here the user's `Hash`, in its first poll) says so, as
    // its poll unwinds: the future itself outlives the panic, as in an executor that
    // catches a task's panic.
    let fragile = Marketplace::new(1);
    let producer = fragile.register_producer();
    let cart = fragile.new_cart();
    records();
    arm(Trap::Hash);
    let mut publish = Box::pin(fragile.publish_async(producer, Fragile { kind: 1, serial: 1 }));
    let ask = Fragile { kind: 1, serial: 0 };
    let mut add = Box::pin(fragile.add_to_cart_async(cart, &ask));
    let mut context = Context::from_waker(Waker::noop());
    let published = catch_unwind(AssertUnwindSafe(|| publish.as_mut().poll(&mut context)));
    let added = catch_unwind(AssertUnwindSafe(|| add.as_mut().poll(&mut context)));
    disarm();
    assert!(
        published.is_err() && added.is_err(),
        "the trap did not spring"
    );
    assert_eq!(
        records(),
        [
            format!("publish_async({producer}, 1#1) -> cancelled by a panic"),
            format!("add_to_cart_async({cart}, 1#0) -> cancelled by a panic"),
        ]
    );
    drop((publish, add));
    assert_eq!(records(), Vec::<String>::new());
}
