//! The async waits on a real runtime (tokio, multi-threaded): many tasks, cancellation
//! storms, and blocking threads mixed with tasks on one product, each run ending with an
//! exact account of every item.
//!
//! Every product carries a serial that plays no part in equality, so at the end the test
//! can demand conservation: each item published was ordered exactly once or is still on a
//! shelf, and nothing else came out.

mod support;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use marketplace::{AddError, CartId, Marketplace, ProducerId, PublishError};
use rand::{Rng, SeedableRng, rngs::StdRng};
use support::{Tagged, any, item};

type Market = Marketplace<Tagged<u32>>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

/// Serials `producer * 1_000_000 + n`: unique, and naming their maker. Computed in `u64`:
/// 5,000 producers make serials past a 32-bit `usize`.
fn serial(producer: usize, n: usize) -> u64 {
    producer as u64 * 1_000_000 + n as u64
}

/// Everything still on sale, taken and ordered.
fn drain(market: &Market) -> Vec<u64> {
    let cart = market.new_cart();
    while market.add_to_cart(cart, &any(0)).is_ok() {}
    order_serials(market, cart)
}

/// Places the order for `cart`: the serials of its items, in order.
fn order_serials(market: &Market, cart: CartId) -> Vec<u64> {
    market
        .place_order(cart)
        .unwrap()
        .into_iter()
        .map(|p| p.serial)
        .collect()
}

/// Each serial in `published` came out exactly once, and nothing else did.
fn assert_conserved(mut published: Vec<u64>, mut came_out: Vec<u64>) {
    published.sort_unstable();
    came_out.sort_unstable();
    assert_eq!(published.len(), came_out.len(), "items lost or invented");
    assert!(
        published == came_out,
        "the items that came out are not the ones published"
    );
}

#[test]
fn ten_thousand_tasks_move_a_million_items() {
    const TASKS: usize = 5_000;
    const EACH: usize = if cfg!(debug_assertions) { 4 } else { 200 };
    let market = Arc::new(Market::new(4));
    let producers: Vec<_> = (0..TASKS).map(|_| market.register_producer()).collect();
    let bought = runtime().block_on(async {
        let mut handles = Vec::with_capacity(2 * TASKS);
        for (p, producer) in producers.into_iter().enumerate() {
            let market = Arc::clone(&market);
            handles.push(tokio::spawn(async move {
                for n in 0..EACH {
                    market
                        .publish_async(producer, item(0, serial(p, n)))
                        .await
                        .unwrap();
                }
                Vec::new()
            }));
        }
        for _ in 0..TASKS {
            let market = Arc::clone(&market);
            handles.push(tokio::spawn(async move {
                let cart = market.new_cart();
                for _ in 0..EACH {
                    market.add_to_cart_async(cart, &any(0)).await.unwrap();
                }
                order_serials(&market, cart)
            }));
        }
        let mut bought = Vec::with_capacity(TASKS * EACH);
        for handle in handles {
            bought.extend(handle.await.unwrap());
        }
        bought
    });
    let published = (0..TASKS)
        .flat_map(|p| (0..EACH).map(move |n| serial(p, n)))
        .collect();
    assert_conserved(published, bought);
    let stats = market.stats();
    assert_eq!(
        (stats.items_on_shelves, stats.open_carts),
        (0, 0),
        "{stats}"
    );
}

#[test]
fn cancellation_storms_lose_nothing() {
    const TASKS: usize = 200;
    const EACH: usize = if cfg!(debug_assertions) { 20 } else { 500 };
    let market = Arc::new(Market::new(2));
    let producers: Vec<_> = (0..TASKS).map(|_| market.register_producer()).collect();
    let (published, bought) = runtime().block_on(async {
        let mut producing = Vec::new();
        for (p, producer) in producers.into_iter().enumerate() {
            let market = Arc::clone(&market);
            producing.push(tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(p as u64);
                let mut published = Vec::new();
                for n in 0..EACH {
                    // Every publish under a random, short timeout: many are cancelled
                    // while they wait, and the product is then made again.
                    let timeout = Duration::from_micros(rng.gen_range(0..=200));
                    let wanted = serial(p, n);
                    match tokio::time::timeout(
                        timeout,
                        market.publish_async(producer, item(0, wanted)),
                    )
                    .await
                    {
                        Ok(Ok(())) => published.push(wanted),
                        Ok(Err(error)) => panic!("publish: {error}"),
                        Err(_elapsed) => {}
                    }
                }
                published
            }));
        }
        let mut consuming = Vec::new();
        for c in 0..TASKS {
            let market = Arc::clone(&market);
            consuming.push(tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(1_000 + c as u64);
                let cart = market.new_cart();
                for _ in 0..EACH {
                    let timeout = Duration::from_micros(rng.gen_range(0..=200));
                    match tokio::time::timeout(timeout, market.add_to_cart_async(cart, &any(0)))
                        .await
                    {
                        Ok(Ok(())) | Err(_) => {}
                        Ok(Err(error)) => panic!("add: {error}"),
                    }
                }
                order_serials(&market, cart)
            }));
        }
        let mut published = Vec::new();
        for handle in producing {
            published.extend(handle.await.unwrap());
        }
        let mut bought = Vec::new();
        for handle in consuming {
            bought.extend(handle.await.unwrap());
        }
        (published, bought)
    });
    // Quiescent: no future is pending, so nothing may be held anywhere but on the shelves.
    let stats = market.stats();
    assert_eq!((stats.open_carts, stats.items_in_carts), (0, 0), "{stats}");
    let mut came_out = bought;
    came_out.extend(drain(&market));
    assert!(!published.is_empty(), "some publishes beat their timeouts");
    assert_conserved(published, came_out);
    assert_eq!(market.stats().items_on_shelves, 0);
}

#[test]
fn blocking_threads_and_async_tasks_share_one_product() {
    const EACH: usize = if cfg!(debug_assertions) {
        1_000
    } else {
        50_000
    };
    const PATIENCE: Duration = Duration::from_secs(60);
    let market = Arc::new(Market::new(2));
    let producers: Vec<_> = (0..4).map(|_| market.register_producer()).collect();
    let runtime = runtime();
    let mut tasks = Vec::new();
    let mut threads = Vec::new();
    for (p, &producer) in producers.iter().enumerate() {
        let market = Arc::clone(&market);
        let publish = move |n| item(0, serial(p, n));
        if p % 2 == 0 {
            threads.push(std::thread::spawn(move || {
                for n in 0..EACH {
                    assert_eq!(
                        market.publish_timeout(producer, publish(n), PATIENCE),
                        Ok(())
                    );
                }
                Vec::new()
            }));
        } else {
            tasks.push(runtime.spawn(async move {
                for n in 0..EACH {
                    assert_eq!(market.publish_async(producer, publish(n)).await, Ok(()));
                }
                Vec::new()
            }));
        }
    }
    for c in 0..4 {
        let market = Arc::clone(&market);
        if c % 2 == 0 {
            threads.push(std::thread::spawn(move || {
                let cart = market.new_cart();
                for _ in 0..EACH {
                    assert_eq!(market.add_to_cart_timeout(cart, &any(0), PATIENCE), Ok(()));
                }
                order_serials(&market, cart)
            }));
        } else {
            tasks.push(runtime.spawn(async move {
                let cart = market.new_cart();
                for _ in 0..EACH {
                    assert_eq!(market.add_to_cart_async(cart, &any(0)).await, Ok(()));
                }
                order_serials(&market, cart)
            }));
        }
    }
    let mut bought: Vec<u64> = Vec::new();
    for thread in threads {
        bought.extend(thread.join().unwrap());
    }
    runtime.block_on(async {
        for task in tasks {
            bought.extend(task.await.unwrap());
        }
    });
    let published = (0..4)
        .flat_map(|p| (0..EACH).map(move |n| serial(p, n)))
        .collect();
    assert_conserved(published, bought);
}

#[test]
fn close_ends_async_waits_with_the_retryable_errors() {
    let market = Arc::new(Market::new(1));
    let producer = market.register_producer();
    market.publish(producer, item(0, 1)).unwrap();
    let cart = market.new_cart();
    runtime().block_on(async {
        let publisher = tokio::spawn({
            let market = Arc::clone(&market);
            async move { market.publish_async(producer, item(0, 2)).await }
        });
        let consumer = tokio::spawn({
            let market = Arc::clone(&market);
            async move { market.add_to_cart_async(cart, &any(7)).await }
        });
        tokio::task::yield_now().await;
        market.close();
        assert!(matches!(publisher.await.unwrap(), Err(PublishError::Full(p)) if p.serial == 2));
        assert_eq!(consumer.await.unwrap(), Err(AddError::Unavailable));
        // Once closed, a wait makes one attempt and returns at once.
        assert_eq!(
            market.add_to_cart_async(cart, &any(7)).await,
            Err(AddError::Unavailable)
        );
    });
    assert_eq!(market.shelf_len(producer), Some(1));
}

/// A waker that counts the times it was asked to have its future polled again.
#[derive(Default)]
struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future polled by hand, always with the same waker, which counts its wake-ups.
struct HandPolled<F> {
    future: Pin<Box<F>>,
    counter: Arc<CountingWaker>,
    waker: Waker,
}

impl<F: Future> HandPolled<F> {
    fn new(future: F) -> Self {
        let counter = Arc::new(CountingWaker::default());
        HandPolled {
            future: Box::pin(future),
            waker: Waker::from(Arc::clone(&counter)),
            counter,
        }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        self.future
            .as_mut()
            .poll(&mut Context::from_waker(&self.waker))
    }

    fn wakes(&self) -> usize {
        self.counter.wakes()
    }
}

/// Polls `future` by hand: the first poll yields to the executor (one wake-up asked), the
/// next ones sleep (no more asked, however often it is polled), until `unblock` runs; then
/// one more wake-up comes, and the poll after it gives `expected`.
fn assert_yields_once_then_sleeps<T: PartialEq + std::fmt::Debug>(
    future: impl Future<Output = T>,
    unblock: impl FnOnce(),
    expected: T,
) {
    let mut future = HandPolled::new(future);
    assert!(future.poll().is_pending());
    assert_eq!(
        future.wakes(),
        1,
        "the first poll yields once to the executor"
    );
    for _ in 0..3 {
        assert!(future.poll().is_pending());
    }
    assert_eq!(
        future.wakes(),
        1,
        "a waiting future asks for no polls until woken"
    );
    unblock();
    assert_eq!(future.wakes(), 2, "the change wakes the waiting future");
    assert_eq!(future.poll(), Poll::Ready(expected));
}

/// Publishes item `serial` of kind 7 for `producer` and takes it into a new cart, returned:
/// kind 7 is then sold out, so its waiters sleep on its shelf, where an arrival wakes one
/// of them, not on the catalog, where a first publish would wake all.
fn sell_out(market: &Market, producer: ProducerId, serial: u64) -> CartId {
    market.publish(producer, item(7, serial)).unwrap();
    let holder = market.new_cart();
    market.add_to_cart(holder, &any(7)).unwrap();
    holder
}

#[test]
fn an_async_consumer_yields_once_then_sleeps_until_a_publish() {
    let market = Market::new(1);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let wanted = any(7);
    assert_yields_once_then_sleeps(
        market.add_to_cart_async(cart, &wanted),
        || market.publish(producer, item(7, 1)).unwrap(),
        Ok(()),
    );
    assert_eq!(order_serials(&market, cart), [1]);
}

#[test]
fn an_async_publisher_yields_once_then_sleeps_until_a_take() {
    let market = Market::new(1);
    let producer = market.register_producer();
    market.publish(producer, item(0, 1)).unwrap();
    let cart = market.new_cart();
    assert_yields_once_then_sleeps(
        market.publish_async(producer, item(0, 2)),
        || market.add_to_cart(cart, &any(0)).unwrap(),
        Ok(()),
    );
    assert_eq!(market.shelf_len(producer), Some(1));
}

/// A return is an arrival like a publish: the item put back on sale wakes a consumer that
/// sleeps waiting for one.
#[test]
fn an_async_consumer_sleeps_until_another_cart_returns_an_item() {
    let market = Market::new(1);
    let producer = market.register_producer();
    let holder = sell_out(&market, producer, 1);
    let cart = market.new_cart();
    let wanted = any(7);
    assert_yields_once_then_sleeps(
        market.add_to_cart_async(cart, &wanted),
        || market.remove_from_cart(holder, &any(7)).unwrap(),
        Ok(()),
    );
    assert_eq!(order_serials(&market, cart), [1]);
    assert_eq!(market.place_order(holder), Ok(vec![]));
}

/// `close` wakes every async waiter that sleeps: for a product never published, for one
/// whose shelf is empty, and for room under a full producer's capacity.
#[test]
fn close_wakes_each_kind_of_sleeping_async_waiter() {
    let market = Market::new(1);
    let cart = market.new_cart();
    let never_published = any(7);
    assert_yields_once_then_sleeps(
        market.add_to_cart_async(cart, &never_published),
        || market.close(),
        Err(AddError::Unavailable),
    );

    let market = Market::new(1);
    let producer = market.register_producer();
    let cart = sell_out(&market, producer, 1);
    let sold_out = any(7);
    assert_yields_once_then_sleeps(
        market.add_to_cart_async(cart, &sold_out),
        || market.close(),
        Err(AddError::Unavailable),
    );

    let market = Market::new(1);
    let producer = market.register_producer();
    market.publish(producer, item(7, 1)).unwrap();
    assert_yields_once_then_sleeps(
        market.publish_async(producer, item(7, 2)),
        || market.close(),
        Err(PublishError::Full(item(7, 2))),
    );
    assert_eq!(market.shelf_len(producer), Some(1));
}

/// A waiter woken for an item it cannot use (its cart was ordered meanwhile) passes the
/// wake-up on: the next waiter for that product gets the item.
#[test]
fn a_waiter_whose_cart_was_ordered_passes_its_wake_up_on() {
    let market = Market::new(1);
    let producer = market.register_producer();
    // Sold out rather than never published (see `sell_out`).
    let _holder = sell_out(&market, producer, 0);
    let (ordered, open) = (market.new_cart(), market.new_cart());
    let wanted = any(7);
    let mut first = HandPolled::new(market.add_to_cart_async(ordered, &wanted));
    let mut second = HandPolled::new(market.add_to_cart_async(open, &wanted));
    // Each yields once, then sleeps, the first one listening first.
    for _ in 0..2 {
        assert!(first.poll().is_pending());
    }
    for _ in 0..2 {
        assert!(second.poll().is_pending());
    }
    assert_eq!([first.wakes(), second.wakes()], [1, 1]);
    assert_eq!(market.place_order(ordered), Ok(vec![]));
    market.publish(producer, item(7, 1)).unwrap();
    // One item, one wake-up: the oldest listener's.
    assert_eq!([first.wakes(), second.wakes()], [2, 1]);
    assert_eq!(first.poll(), Poll::Ready(Err(AddError::UnknownCart)));
    assert!(second.wakes() >= 2, "the unused wake-up was lost");
    assert_eq!(second.poll(), Poll::Ready(Ok(())));
    assert_eq!(order_serials(&market, open), [1]);
}

/// Two arrivals in a row wake two sleeping waiters, even when the first woken has not run
/// yet: each arrival's wake-up is one more, not a top-up to one.
#[test]
fn two_arrivals_wake_two_sleeping_waiters() {
    let market = Market::new(2);
    let producer = market.register_producer();
    // Sold out, so the waiters sleep on the product's shelf (see `sell_out`).
    let _holder = sell_out(&market, producer, 0);
    let carts = [market.new_cart(), market.new_cart()];
    let wanted = any(7);
    let mut first = HandPolled::new(market.add_to_cart_async(carts[0], &wanted));
    let mut second = HandPolled::new(market.add_to_cart_async(carts[1], &wanted));
    for _ in 0..2 {
        assert!(first.poll().is_pending());
        assert!(second.poll().is_pending());
    }
    assert_eq!([first.wakes(), second.wakes()], [1, 1]);
    market.publish(producer, item(7, 1)).unwrap();
    market.publish(producer, item(7, 2)).unwrap();
    assert_eq!(
        [first.wakes(), second.wakes()],
        [2, 2],
        "a sleeping waiter was not woken for its item"
    );
    assert_eq!(first.poll(), Poll::Ready(Ok(())));
    assert_eq!(second.poll(), Poll::Ready(Ok(())));
}

/// The async wait takes a borrowed form of the product too (`&str` for `String`s), and is
/// woken by the publish of the owned product.
#[test]
fn an_async_wait_asks_by_a_borrowed_form() {
    let market: Arc<marketplace::Marketplace<String>> = Arc::new(marketplace::Marketplace::new(1));
    let producer = market.register_producer();
    let cart = market.new_cart();
    runtime().block_on(async {
        let waiting = tokio::spawn({
            let market = Arc::clone(&market);
            async move { market.add_to_cart_async(cart, "tea").await }
        });
        market.publish(producer, "tea".to_owned()).unwrap();
        assert_eq!(waiting.await.unwrap(), Ok(()));
    });
    assert_eq!(market.place_order(cart).unwrap(), ["tea"]);
}

/// Two futures asleep on one condition, each having yielded once and then listened.
fn both_asleep<A: Future, B: Future>(first: &mut HandPolled<A>, second: &mut HandPolled<B>) {
    for _ in 0..2 {
        assert!(first.poll().is_pending());
    }
    for _ in 0..2 {
        assert!(second.poll().is_pending());
    }
    assert_eq!([first.wakes(), second.wakes()], [1, 1]);
}

/// A consumer cancelled after its wake-up came but before it ran again (a timeout firing
/// as the item arrives) passes the wake-up on: the other sleeper is woken and takes the
/// item.
#[test]
fn a_consumer_cancelled_after_its_wake_up_passes_it_on() {
    let market = Market::new(1);
    let producer = market.register_producer();
    let _holder = sell_out(&market, producer, 0);
    let (cancelled, open) = (market.new_cart(), market.new_cart());
    let wanted = any(7);
    let mut first = HandPolled::new(market.add_to_cart_async(cancelled, &wanted));
    let mut second = HandPolled::new(market.add_to_cart_async(open, &wanted));
    both_asleep(&mut first, &mut second);
    market.publish(producer, item(7, 1)).unwrap();
    assert_eq!([first.wakes(), second.wakes()], [2, 1]);
    drop(first);
    assert_eq!(
        second.wakes(),
        2,
        "the cancelled consumer's wake-up was lost"
    );
    assert_eq!(second.poll(), Poll::Ready(Ok(())));
    assert_eq!(order_serials(&market, open), [1]);
    assert_eq!(order_serials(&market, cancelled), [] as [u64; 0]);
}

/// A publisher cancelled after its wake-up came but before it ran again passes it on: the
/// other full publisher of that producer is woken and publishes; the cancelled one's
/// product is gone with it, and the room it was woken for is not held.
#[test]
fn a_publisher_cancelled_after_its_wake_up_passes_it_on() {
    let market = Market::new(1);
    let producer = market.register_producer();
    market.publish(producer, item(0, 1)).unwrap();
    let mut first = HandPolled::new(market.publish_async(producer, item(0, 2)));
    let mut second = HandPolled::new(market.publish_async(producer, item(0, 3)));
    both_asleep(&mut first, &mut second);
    let cart = market.new_cart();
    market.add_to_cart(cart, &any(0)).unwrap();
    assert_eq!([first.wakes(), second.wakes()], [2, 1]);
    drop(first);
    assert_eq!(
        second.wakes(),
        2,
        "the cancelled publisher's wake-up was lost"
    );
    assert_eq!(second.poll(), Poll::Ready(Ok(())));
    assert_eq!(market.shelf_len(producer), Some(1));
    assert_eq!(drain(&market), [3]);
}

/// Polled with a new waker each time, a sleeping future wakes the latest one only.
#[test]
fn a_sleeping_future_wakes_the_waker_of_its_latest_poll() {
    let market = Market::new(1);
    let producer = market.register_producer();
    let _holder = sell_out(&market, producer, 0);
    let cart = market.new_cart();
    let wanted = any(7);
    let mut future = Box::pin(market.add_to_cart_async(cart, &wanted));
    let counters: Vec<Arc<CountingWaker>> = (0..4).map(|_| Arc::default()).collect();
    for counter in &counters[..3] {
        let waker = Waker::from(Arc::clone(counter));
        assert!(
            future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    let wakes =
        |counters: &[Arc<CountingWaker>]| counters.iter().map(|c| c.wakes()).collect::<Vec<_>>();
    assert_eq!(
        wakes(&counters),
        [1, 0, 0, 0],
        "only the yield asked for a poll"
    );
    market.publish(producer, item(7, 1)).unwrap();
    assert_eq!(
        wakes(&counters),
        [1, 0, 1, 0],
        "not the latest waker was woken"
    );
    let waker = Waker::from(Arc::clone(&counters[3]));
    assert_eq!(
        future.as_mut().poll(&mut Context::from_waker(&waker)),
        Poll::Ready(Ok(()))
    );
    assert_eq!(order_serials(&market, cart), [1]);
}

/// Of many sleepers, each arrival wakes exactly one, and nobody is left asleep with an item
/// on sale: a woken sleeper that finds its item taken by a consumer that never waited
/// sleeps again, asking for no poll, and a later arrival wakes it.
#[test]
fn each_arrival_wakes_one_sleeper_and_a_robbed_one_sleeps_again() {
    let market = Market::new(4);
    let producer = market.register_producer();
    let _holder = sell_out(&market, producer, 0);
    let carts: Vec<CartId> = (0..3).map(|_| market.new_cart()).collect();
    let wanted = any(7);
    let mut sleepers: Vec<_> = carts
        .iter()
        .map(|&cart| HandPolled::new(market.add_to_cart_async(cart, &wanted)))
        .collect();
    for sleeper in &mut sleepers {
        for _ in 0..2 {
            assert!(sleeper.poll().is_pending());
        }
    }
    let wakes =
        |sleepers: &[HandPolled<_>]| sleepers.iter().map(HandPolled::wakes).collect::<Vec<_>>();
    market.publish(producer, item(7, 1)).unwrap();
    assert_eq!(wakes(&sleepers), [2, 1, 1]);
    let robber = market.new_cart();
    market.add_to_cart(robber, &any(7)).unwrap();
    for sleeper in &mut sleepers {
        assert!(sleeper.poll().is_pending());
    }
    assert_eq!(
        wakes(&sleepers),
        [2, 1, 1],
        "a sleeper asked to be polled with nothing on sale"
    );
    // The robbed sleeper listens again, behind the others; each is polled until it is done.
    let mut done = [false; 3];
    for (serial, expected) in [(2, [2, 2, 1]), (3, [2, 2, 2]), (4, [3, 2, 2])] {
        market.publish(producer, item(7, serial)).unwrap();
        assert_eq!(wakes(&sleepers), expected, "after arrival {serial}");
        let mut completed = 0;
        for (sleeper, done) in sleepers.iter_mut().zip(&mut done) {
            if !*done && sleeper.poll().is_ready() {
                (*done, completed) = (true, completed + 1);
            }
        }
        assert_eq!(completed, 1, "after arrival {serial}");
    }
    let bought: Vec<Vec<u64>> = carts
        .iter()
        .map(|&cart| order_serials(&market, cart))
        .collect();
    assert_eq!(bought, [vec![4], vec![2], vec![3]]);
    assert_eq!(order_serials(&market, robber), [1]);
}

/// Polled again after completing, a future panics (as any `async` block does) and changes
/// nothing: it takes no second item.
#[test]
fn a_future_polled_after_completing_panics_and_takes_nothing() {
    let market = Market::new(2);
    let producer = market.register_producer();
    market.publish(producer, item(7, 1)).unwrap();
    market.publish(producer, item(7, 2)).unwrap();
    let cart = market.new_cart();
    let wanted = any(7);
    let mut future = HandPolled::new(market.add_to_cart_async(cart, &wanted));
    assert_eq!(future.poll(), Poll::Ready(Ok(())));
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll()));
    assert!(again.is_err());
    assert_eq!(market.available(&any(7)), 1);
    assert_eq!(order_serials(&market, cart), [1]);
}

/// The same for a publish: polled again after it put its product on sale, it panics and
/// puts nothing more on sale.
#[test]
fn a_publish_polled_after_completing_panics_and_publishes_nothing_more() {
    let market = Market::new(2);
    let producer = market.register_producer();
    let mut future = HandPolled::new(market.publish_async(producer, item(7, 1)));
    assert_eq!(future.poll(), Poll::Ready(Ok(())));
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll()));
    assert!(again.is_err());
    assert_eq!(market.available(&any(7)), 1);
    assert_eq!(market.shelf_len(producer), Some(1));
}

/// A consumer asleep on a product never published, woken when the product is resolved
/// into a handle (its shelf made, with nothing on it), moves to sleep on that shelf: polled
/// then, it asks for no poll, and the first publish wakes it.
#[test]
fn a_consumer_woken_by_a_resolved_product_sleeps_again_on_its_empty_shelf() {
    let market = Market::new(1);
    let producer = market.register_producer();
    let cart = market.new_cart();
    let wanted = any(7);
    let mut waiting = HandPolled::new(market.add_to_cart_async(cart, &wanted));
    for _ in 0..2 {
        assert!(waiting.poll().is_pending());
    }
    assert_eq!(waiting.wakes(), 1);
    let handle = market.product(&item(7, 0));
    assert_eq!(
        waiting.wakes(),
        2,
        "a new shelf wakes the catalog's sleepers"
    );
    for _ in 0..2 {
        assert!(waiting.poll().is_pending());
    }
    assert_eq!(
        waiting.wakes(),
        2,
        "an empty shelf sent the consumer back to be polled"
    );
    market.publish(producer, item(7, 1)).unwrap();
    assert_eq!(waiting.wakes(), 3, "the publish did not wake the consumer");
    assert_eq!(waiting.poll(), Poll::Ready(Ok(())));
    assert_eq!(handle.available(), 0);
    assert_eq!(order_serials(&market, cart), [1]);
}
