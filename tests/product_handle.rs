//! Product handles: a product resolved once, whose calls are the marketplace's plain calls
//! for that product, on the same shelf, minus the hash and the lookup.
//!
//! `engine_model.rs` runs handle calls among plain ones against the locked model; these
//! tests cover what a sequence of single calls does not: waits, errors, and that no user
//! `Hash` or `Eq` runs once the handle is made.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use marketplace::{AddError, Marketplace, PublishError};
use support::{Fragile, Tagged, Trap, any, arm, disarm, item, stats};

const LONG: Duration = Duration::from_secs(60);

fn serials<K>(products: Vec<Tagged<K>>) -> Vec<u64> {
    products.into_iter().map(|p| p.serial).collect()
}

#[test]
fn a_handle_and_the_plain_calls_share_one_shelf_in_order() {
    let market = Marketplace::new(8);
    let producer = market.register_producer();
    market.publish(producer, item("tea", 1)).unwrap();
    // The catalog's copy of the product is the first one published.
    let tea = market.product(&any("tea"));
    assert_eq!(tea.product().serial, 1);
    market.publish(producer, item("tea", 2)).unwrap();
    tea.publish(producer).unwrap();
    assert_eq!(tea.available(), 3);
    assert_eq!(market.available(&any("tea")), 3);
    assert_eq!(market.shelf_len(producer), Some(3));

    let cart = market.new_cart();
    tea.add_to_cart(cart).unwrap();
    market.add_to_cart(cart, &any("tea")).unwrap();
    tea.add_to_cart(cart).unwrap();
    assert_eq!(tea.add_to_cart(cart), Err(AddError::Unavailable));
    // Oldest first, whichever way each was published or taken.
    assert_eq!(serials(market.place_order(cart).unwrap()), [1, 2, 1]);
    assert_eq!(market.shelf_len(producer), Some(0));
}

#[test]
fn a_handle_counts_against_its_producers_capacity() {
    let market = Marketplace::new(2);
    let producer = market.register_producer();
    let tea = market.product(&"tea");
    tea.publish(producer).unwrap();
    market.publish(producer, "tea").unwrap();
    assert_eq!(tea.publish(producer), Err(PublishError::Full("tea")));
    let cart = market.new_cart();
    tea.add_to_cart(cart).unwrap();
    tea.publish(producer).unwrap();
    assert_eq!(market.shelf_len(producer), Some(2));
}

#[test]
fn a_handle_of_a_product_never_published_stores_nothing_on_sale_and_waits_for_it() {
    let market = Marketplace::new(1);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let tea = market.product(&"tea");
    assert_eq!(tea.available(), 0);
    assert_eq!(tea.add_to_cart(cart), Err(AddError::Unavailable));
    assert_eq!(market.stats(), stats(1, 1, 0, 0));
    // A plain publish from another thread feeds the handle's wait.
    std::thread::scope(|s| {
        s.spawn(|| market.publish(producer, "tea").unwrap());
        tea.add_to_cart_timeout(cart, LONG).unwrap();
    });
    assert_eq!(market.place_order(cart).unwrap(), ["tea"]);
}

#[test]
fn a_full_handle_publish_waits_for_room() {
    let market = Marketplace::new(1);
    let producer = market.register_producer();
    let tea = market.product(&"tea");
    tea.publish(producer).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let cart = market.new_cart();
            market.add_to_cart_timeout(cart, &"tea", LONG).unwrap();
            market.place_order(cart).unwrap();
        });
        // Blocks until the consumer above has taken the first one.
        tea.publish_timeout(producer, LONG).unwrap();
    });
    assert_eq!(market.shelf_len(producer), Some(1));
}

#[test]
fn a_handle_reports_the_plain_calls_errors() {
    let market = Marketplace::new(1);
    let producer = market.register_producer();
    let tea = market.product(&"tea");
    let other = Marketplace::<&str>::new(1);
    let (foreign_producer, foreign_cart) = (other.register_producer(), other.new_cart());
    // A local cart and a tea on sale, so that a foreign id's index, slot and serial name
    // something here: only the marketplace's tag tells them apart.
    let local = market.new_cart();
    let stocker = market.register_producer();
    tea.publish(stocker).unwrap();

    assert_eq!(
        tea.publish(foreign_producer),
        Err(PublishError::UnknownProducer("tea"))
    );
    assert_eq!(
        tea.publish_timeout(foreign_producer, LONG),
        Err(PublishError::UnknownProducer("tea"))
    );
    assert_eq!(tea.add_to_cart(foreign_cart), Err(AddError::UnknownCart));
    assert_eq!(
        tea.add_to_cart_timeout(foreign_cart, LONG),
        Err(AddError::UnknownCart)
    );
    let spent = market.new_cart();
    market.place_order(spent).unwrap();
    assert_eq!(tea.add_to_cart(spent), Err(AddError::UnknownCart));

    // The async forms, polled once: an unknown id is an answer, not a wait.
    let mut context = Context::from_waker(Waker::noop());
    assert_eq!(
        pin!(tea.publish_async(foreign_producer)).poll(&mut context),
        Poll::Ready(Err(PublishError::UnknownProducer("tea")))
    );
    assert_eq!(
        pin!(tea.add_to_cart_async(spent)).poll(&mut context),
        Poll::Ready(Err(AddError::UnknownCart))
    );
    assert_eq!(
        pin!(tea.add_to_cart_async(foreign_cart)).poll(&mut context),
        Poll::Ready(Err(AddError::UnknownCart))
    );
    assert_eq!(tea.available(), 1, "a foreign id took the tea");
    assert_eq!(market.place_order(local), Ok(vec![]));

    // Full, then closed: the waits give up at once (well within their minute).
    tea.publish(producer).unwrap();
    assert_eq!(
        tea.publish_timeout(producer, Duration::ZERO),
        Err(PublishError::Full("tea"))
    );
    market.close();
    let started = Instant::now();
    assert_eq!(
        tea.publish_timeout(producer, LONG),
        Err(PublishError::Full("tea"))
    );
    let cart = market.new_cart();
    let coffee = market.product(&"coffee");
    assert_eq!(
        coffee.add_to_cart_timeout(cart, LONG),
        Err(AddError::Unavailable)
    );
    assert!(started.elapsed() < LONG / 4, "a wait outlived the close");
}

#[test]
fn a_handles_async_calls_wait_for_each_other() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let market = Arc::new(Marketplace::new(1));
    let producer = market.register_producer();
    let cart = market.new_cart();
    runtime.block_on(async {
        let consuming = tokio::spawn({
            let market = Arc::clone(&market);
            async move {
                for _ in 0..100 {
                    // The future outlives the handle it came from.
                    let adding = market.product(&"tea").add_to_cart_async(cart);
                    adding.await.unwrap();
                }
            }
        });
        let tea = market.product(&"tea");
        for _ in 0..100 {
            // Full after the first: each waits for the consumer's take.
            tea.publish_async(producer).await.unwrap();
        }
        consuming.await.unwrap();
    });
    assert_eq!(market.place_order(cart).unwrap().len(), 100);
    assert_eq!(market.shelf_len(producer), Some(0));
}

/// Runs `operation` with `trap` armed, and asserts it did not reach it.
fn without<R>(trap: Trap, operation: impl FnOnce() -> R) -> R {
    arm(trap);
    let outcome = catch_unwind(AssertUnwindSafe(operation));
    disarm();
    outcome.unwrap_or_else(|_| panic!("a handle's call ran the user's {trap:?}"))
}

#[test]
fn a_handles_calls_run_no_user_hash_or_eq() {
    // The async forms are polled on this thread, where the trap is armed, until a timer
    // drops them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let short = Duration::from_millis(20);
    let market = Marketplace::new(1);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let product = Fragile { kind: 1, serial: 1 };
    let one = market.product(&product);
    for trap in [Trap::Hash, Trap::Eq] {
        without(trap, || {
            one.publish(producer).unwrap();
            assert_eq!(one.available(), 1);
            // Full: both publishes wait, then time out.
            assert!(one.publish_timeout(producer, short).unwrap_err().is_full());
            let published = runtime
                .block_on(async { tokio::time::timeout(short, one.publish_async(producer)).await });
            assert!(published.is_err(), "published");
            one.add_to_cart(cart).unwrap();
            // Empty: both adds wait, then time out.
            assert_eq!(
                one.add_to_cart_timeout(cart, short),
                Err(AddError::Unavailable)
            );
            let added = runtime
                .block_on(async { tokio::time::timeout(short, one.add_to_cart_async(cart)).await });
            assert!(added.is_err(), "added");
        });
    }
    assert_eq!(market.place_order(cart).unwrap().len(), 2);
}
