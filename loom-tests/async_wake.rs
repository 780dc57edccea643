//! The async waits wake as the blocking ones do, and a cancelled one loses nothing.
//!
//! The futures run on loom threads (`loom::future::block_on`, or one manual poll with a
//! no-op waker for a future that is then dropped), with event-listener's real wakers.
//! Proves, for every interleaving (up to the preemption bound), that
//! - a consumer task waiting in `add_to_cart_async` is woken by a publish;
//! - a publisher task waiting in `publish_async` is woken by a take;
//! - a consumer future dropped after it registered (a cancelled wait) takes nothing and
//!   loses no wake-up: a blocking consumer waiting for the same product is still served;
//! - a consumer task asleep in `add_to_cart_async` is woken by `close` and returns;
//!
//! and that every item ends up in exactly one place.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::common::{
    Market, THREE_THREAD_PREEMPTIONS, assert_empty, assert_same_items, check, check_bounded, drain,
    spawn_with,
};
use loom::future::block_on;
use loom::sync::Arc;
use marketplace::AddError;

#[test]
fn async_consumer_woken_by_publish() {
    check("async_wake::async_consumer_woken_by_publish", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        let cart = market.new_cart();
        let consumer = spawn_with(&market, move |market| {
            block_on(market.add_to_cart_async(cart, &"a"))
        });
        market.publish(producer, "a").unwrap();
        assert_eq!(consumer.join().unwrap(), Ok(()));
        assert_same_items(market.place_order(cart).unwrap(), vec!["a"]);
        assert_empty(&market, 1);
    });
}

#[test]
fn async_publisher_woken_by_take() {
    check("async_wake::async_publisher_woken_by_take", || {
        let market = Arc::new(Market::new(1));
        let producer = market.register_producer();
        market.publish(producer, "a").unwrap();
        let cart = market.new_cart();
        let publisher = spawn_with(&market, move |market| {
            block_on(market.publish_async(producer, "b"))
        });
        market.add_to_cart(cart, &"a").unwrap();
        assert_eq!(publisher.join().unwrap(), Ok(()));
        let mut came_out = market.place_order(cart).unwrap();
        came_out.extend(drain(&market, &["a", "b"]));
        assert_same_items(came_out, vec!["a", "b"]);
        assert_empty(&market, 1);
    });
}

#[test]
fn a_cancelled_async_wait_loses_no_wake_up() {
    let name = "async_wake::a_cancelled_async_wait_loses_no_wake_up";
    check_bounded(name, THREE_THREAD_PREEMPTIONS, || {
        let market = Arc::new(Market::new(2));
        let producer = market.register_producer();
        let (cancelled, waiting) = (market.new_cart(), market.new_cart());
        let canceller = spawn_with(&market, move |market| {
            // Polled twice (the first poll yields to the executor, the second registers
            // and listens; either may take an item at once), then dropped, as a task is
            // when its timeout fires.
            let mut future = Box::pin(market.add_to_cart_async(cancelled, &"a"));
            let mut context = Context::from_waker(Waker::noop());
            (0..2).any(|_| matches!(future.as_mut().poll(&mut context), Poll::Ready(Ok(()))))
        });
        let blocked = spawn_with(&market, move |market| {
            market.add_to_cart_timeout(waiting, &"a", Duration::MAX)
        });
        market.publish(producer, "a").unwrap();
        let took = canceller.join().unwrap();
        if took {
            // The cancelled wait was served before it was dropped: the blocked one needs another.
            market.publish(producer, "a").unwrap();
        }
        assert_eq!(blocked.join().unwrap(), Ok(()));

        let mut came_out = market.place_order(cancelled).unwrap();
        assert_eq!(came_out.len(), usize::from(took));
        came_out.extend(market.place_order(waiting).unwrap());
        assert_same_items(came_out, vec!["a"; 1 + usize::from(took)]);
        assert_empty(&market, 1);
    });
}

/// `close` wakes a consumer task asleep in `add_to_cart_async`, which then sees the flag
/// and returns (the check of `closed` after each attempt in `wait::wait_until`; the check
/// before the task's one yield only serves waits that start after the close).
#[test]
fn close_wakes_an_async_consumer() {
    check("async_wake::close_wakes_an_async_consumer", || {
        let market = Arc::new(Market::new(1));
        let _producer = market.register_producer();
        let cart = market.new_cart();
        let consumer = spawn_with(&market, move |market| {
            block_on(market.add_to_cart_async(cart, &"a"))
        });
        market.close();
        assert_eq!(consumer.join().unwrap(), Err(AddError::Unavailable));
        assert_eq!(market.place_order(cart), Ok(vec![]));
        assert_empty(&market, 1);
    });
}
