//! The Redis market under faults: a server killed and restarted while producers and
//! consumers run (nothing lost, nothing doubled), a reply lost after the server applied the
//! operation (the retry applies it once), a wake-up lost the same way (made up within a
//! wait round), an order's answer lost past the retries (asking again gets the items, also
//! after two orders of the cart failed at once; a handle dropped then leaves no records), a
//! publish's answer lost the same way (publishing the product again puts it on sale once,
//! also after two failed at once, and lets another product through meanwhile; a timed
//! publish's likewise, timed or plain, leaving no waiter counted for its lost try or its
//! failed wait; a batch publish's, its products published again in a batch, also when it
//! applied in part; an add's, a remove's and a batch add's, called again), a request
//! delivered late, after its retry and a later call of its lane (it does not apply again),
//! publishers that die waiting for room (what their registrations leave is
//! bounded), a market lost with a server that kept no data (its old handles stay out of a
//! market created anew under its name), what a call reports when the server is gone or
//! silent (a publish through the contract trait gives its product back), a server that
//! stops answering mid-run (and a connect or a dropped handle meeting one), a dropped
//! handle and an order meeting a server that trickles its answer (the drop is given up at
//! its forget time; the order is held until the answer is whole), a wait whose connections
//! the server keeps closing, a script cache flushed again and again, a server busy with a
//! long script, a connection the server closed while idle, a server at its client limit,
//! one refusing a connection with a long reason, and one refusing over a Unix socket.
//!
//! Order comes from events, never sleeps: the restarts happen when the consumers' count of
//! ordered items crosses a mark (a condition variable), a lost reply is made by a proxy
//! that cuts the connection when the server answers, and retries are seen in the warnings
//! the handles log. (Four tests pace their faults, closing connections or flushing scripts
//! at intervals, or passing answers on a byte at a time; nothing waits for them but the
//! trickled order's test, for the read timeout past which it checks the order is held.)

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use marketplace_contract::Market;
use marketplace_harness::redis_server::{RedisServer, script_runs};
use marketplace_redis::{
    AddError, CONNECT_TIMEOUT, CartId, ConnectError, DEFAULT_RETRY_FOR, FORGET_TIMEOUT, OrderError,
    ProducerId, PublishError, READ_TIMEOUT, RedisMarketplace, RemoveError,
};
use support::{Item, item};

/// What a consumer asks for: any item of the kind.
fn any(kind: &str) -> Item {
    item(kind, u64::MAX)
}

const KINDS: [&str; 3] = ["tea", "coffee", "cocoa"];

/// Longer than any passing run takes to reach a mark: reaching it means the run is stuck.
const STUCK: Duration = Duration::from_secs(60);

/// The handles' "retrying" warnings, kept so a test can see that its calls were retried.
/// One logger serves the whole test process; each test picks its own server's lines.
struct RetryLog {
    lines: Mutex<Vec<String>>,
}

static RETRY_LOG: RetryLog = RetryLog {
    lines: Mutex::new(Vec::new()),
};

impl log::Log for RetryLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        if line.ends_with("; retrying") {
            self.lines.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

/// Starts keeping the retry warnings (of every test in this process).
fn keep_retry_warnings() {
    // Installing fails harmlessly when another test of this process did it first.
    let _ = log::set_logger(&RETRY_LOG);
    log::set_max_level(log::LevelFilter::Warn);
}

/// The retry warnings about the server on `port` so far.
fn retries_on(port: u16) -> Vec<String> {
    let server = format!(" on 127.0.0.1:{port}: ");
    RETRY_LOG
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains(&server))
        .cloned()
        .collect()
}

/// How many items the consumers have ordered, and a way to wait for a mark; and whether a
/// worker failed, so that the others stop instead of waiting for items that never come.
struct Progress {
    ordered: Mutex<usize>,
    changed: Condvar,
    failed: AtomicBool,
}

impl Progress {
    fn add(&self, items: usize) {
        *self.ordered.lock().unwrap() += items;
        self.changed.notify_all();
    }

    /// Whether the work goes on: some items are not ordered yet, and no worker failed.
    fn unfinished(&self, total: usize) -> bool {
        *self.ordered.lock().unwrap() < total && !self.failed.load(Ordering::SeqCst)
    }

    /// Blocks until at least `mark` items are ordered, or a worker failed.
    fn wait_for(&self, mark: usize) {
        let guard = self.ordered.lock().unwrap();
        let (guard, timeout) = self
            .changed
            .wait_timeout_while(guard, STUCK, |ordered| {
                *ordered < mark && !self.failed.load(Ordering::SeqCst)
            })
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "the consumers ordered {} items in {STUCK:?}, never reaching {mark}",
            *guard
        );
    }
}

/// Held by each worker thread: if the thread panics, it tells the others (and the main
/// thread) to stop, so the test fails with the panic instead of hanging.
struct FailureAlarm(Arc<Progress>);

impl Drop for FailureAlarm {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.failed.store(true, Ordering::SeqCst);
            let _guard = self.0.ordered.lock().unwrap_or_else(|p| p.into_inner());
            self.0.changed.notify_all();
        }
    }
}

/// Two producers and two consumers on a persistent server that is killed (`kill -9`) and
/// started again twice, when a third and two thirds of the items have been ordered. Every
/// published item is ordered exactly once, the market ends empty, and the calls that the
/// restarts broke were retried.
#[test]
fn restarts_of_a_persistent_server_lose_and_double_nothing() {
    const PER_PRODUCER: u64 = 1000;
    const TOTAL: usize = 2 * PER_PRODUCER as usize;
    keep_retry_warnings();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = RedisServer::start_persistent(dir.path());
    let url = server.url();
    let retries_before = retries_on(server.port()).len();
    let open = || {
        RedisMarketplace::<Item>::connect(&url, "faults", 4)
            .expect("the server is up")
            .with_retry_for(Duration::from_secs(30))
    };
    let progress = Arc::new(Progress {
        ordered: Mutex::new(0),
        changed: Condvar::new(),
        failed: AtomicBool::new(false),
    });

    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            let market = open();
            let progress = Arc::clone(&progress);
            thread::spawn(move || {
                let _alarm = FailureAlarm(Arc::clone(&progress));
                let producer = market.register_producer().expect("register");
                for serial in p * PER_PRODUCER..(p + 1) * PER_PRODUCER {
                    let mut product = item(KINDS[serial as usize % KINDS.len()], serial);
                    // A finite wait, so that a producer stops when a consumer failed.
                    loop {
                        match market.publish_timeout(producer, product, Duration::from_secs(1)) {
                            Ok(()) => break,
                            Err(PublishError::Full(_)) if !progress.unfinished(TOTAL) => return,
                            Err(PublishError::Full(back)) => product = back,
                            Err(error) => panic!("publish of item {serial}: {error}"),
                        }
                    }
                }
            })
        })
        .collect();

    let consumers: Vec<_> = (0..2usize)
        .map(|c| {
            let market = open();
            let progress = Arc::clone(&progress);
            thread::spawn(move || {
                let _alarm = FailureAlarm(Arc::clone(&progress));
                let mut serials = Vec::new();
                let mut round = c;
                while progress.unfinished(TOTAL) {
                    round += 1;
                    let cart = market.new_cart().expect("new_cart");
                    let mut added = Vec::new();
                    for k in 0..3 {
                        let kind = KINDS[(round + k) % KINDS.len()];
                        match market.add_to_cart_timeout(
                            cart,
                            &any(kind),
                            Duration::from_millis(100),
                        ) {
                            Ok(()) => added.push(kind),
                            Err(AddError::Unavailable) => {}
                            Err(error) => panic!("add_to_cart of {kind}: {error}"),
                        }
                    }
                    // Every fourth cart gives its first item back before ordering.
                    if round % 4 == 0 && !added.is_empty() {
                        let kind = added.remove(0);
                        market
                            .remove_from_cart(cart, &any(kind))
                            .unwrap_or_else(|e| panic!("remove_from_cart of {kind}: {e}"));
                    }
                    let order = market
                        .place_order(cart)
                        .unwrap_or_else(|e| panic!("place_order of {cart}: {e}"));
                    let mut kinds: Vec<&str> = order.iter().map(|i| i.kind.as_str()).collect();
                    let mut expected = added.clone();
                    kinds.sort_unstable();
                    expected.sort_unstable();
                    assert_eq!(kinds, expected, "{cart} held other items than were added");
                    serials.extend(order.iter().map(|i| i.serial));
                    progress.add(order.len());
                }
                serials
            })
        })
        .collect();

    for mark in [TOTAL / 3, 2 * TOTAL / 3] {
        progress.wait_for(mark);
        if progress.failed.load(Ordering::SeqCst) {
            break; // the join below reports the worker's panic
        }
        server.restart();
    }

    for producer in producers {
        producer.join().expect("a producer panicked");
    }
    let mut ordered: Vec<u64> = consumers
        .into_iter()
        .flat_map(|consumer| consumer.join().expect("a consumer panicked"))
        .collect();
    ordered.sort_unstable();
    let published: Vec<u64> = (0..TOTAL as u64).collect();
    let lost: Vec<u64> = published
        .iter()
        .filter(|s| ordered.binary_search(s).is_err())
        .copied()
        .collect();
    let mut seen = ordered.clone();
    seen.dedup();
    assert!(
        lost.is_empty() && seen.len() == ordered.len(),
        "lost {lost:?}; ordered twice {:?}",
        ordered
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect::<Vec<_>>()
    );
    assert_eq!(ordered, published);

    let stats = open().stats().expect("stats");
    assert_eq!(stats.producers, 2);
    assert_eq!(stats.items_on_shelves, 0, "{stats:?}");
    assert_eq!(stats.items_in_carts, 0, "{stats:?}");
    assert_eq!(stats.open_carts, 0, "{stats:?}");

    let retries = retries_on(server.port()).len() - retries_before;
    assert!(
        retries >= 2,
        "two restarts, yet only {retries} retried calls: the faults missed the clients"
    );
    eprintln!("{TOTAL} items through 2 restarts; {retries} calls retried");
}

/// A TCP proxy in front of a server that, when armed, cuts the next connection on which the
/// server answers, instead of passing the answer on: the server has applied the operation,
/// the client never hears it, as when a server or a link dies at the worst moment.
struct CuttingProxy {
    port: u16,
    armed: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
}

impl CuttingProxy {
    fn start(upstream: u16) -> CuttingProxy {
        let armed = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&cuts);
        let port = start_proxy(
            upstream,
            Watched::Answers,
            Arc::clone(&armed),
            Arc::new(move |_: &[u8]| {
                counted.fetch_add(1, Ordering::SeqCst);
            }),
        );
        CuttingProxy { port, armed, cuts }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `call` with the proxy armed, and checks that it cut one answer.
    fn cut_during<T>(&self, call: impl FnOnce() -> T) -> T {
        let before = self.cuts.load(Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
        let outcome = call();
        assert!(
            !self.armed.load(Ordering::SeqCst),
            "the call got no answer to cut"
        );
        assert_eq!(self.cuts.load(Ordering::SeqCst), before + 1);
        outcome
    }
}

/// What an armed proxy does with the bytes it catches, instead of passing them on.
type Trap = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Which way an armed proxy catches bytes.
enum Watched {
    /// The server's answers.
    Answers,
    /// The client's requests.
    Requests,
}

/// Starts a proxy to the server on `upstream`; returns its port. While `armed`, the first
/// bytes read in the `watched` direction go to `trap` and close that connection (and disarm
/// it). The acceptor ends with the test process; each connection's pumps end with it.
fn start_proxy(upstream: u16, watched: Watched, armed: Arc<AtomicBool>, trap: Trap) -> u16 {
    start_relay(upstream, move |client, server| {
        let trigger = Some((Arc::clone(&armed), Arc::clone(&trap)));
        let (requests, answers) = match watched {
            Watched::Answers => (None, trigger),
            Watched::Requests => (trigger, None),
        };
        let (client_in, server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || pump(client_in, server_out, requests));
        thread::spawn(move || pump(server, client, answers));
    })
}

/// Listens on a loopback port, returned, for clients of the server on `upstream`: each
/// client is connected to the server, and `relay` given the two to pass bytes between. The
/// acceptor ends with the test process.
fn start_relay(upstream: u16, relay: impl Fn(TcpStream, TcpStream) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(("127.0.0.1", upstream)).expect("upstream");
            relay(client, server);
        }
    });
    port
}

/// Copies `from` to `to` until either closes; with a trigger, the first bytes read while it
/// is armed go to its trap and close both instead (and disarm it).
fn pump(mut from: TcpStream, mut to: TcpStream, trigger: Option<(Arc<AtomicBool>, Trap)>) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((armed, trap)) = &trigger {
            if armed.swap(false, Ordering::SeqCst) {
                trap(&buffer[..n]);
                break;
            }
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// A TCP proxy in front of a server that, when armed, keeps the next request a client sends
/// instead of passing it on, and cuts that client's connection: the client retries on a
/// new connection, while the kept request is still on its way, as a request held up in a
/// network (a lost packet resent after the client gave up) is.
struct HoldingProxy {
    port: u16,
    upstream: u16,
    armed: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl HoldingProxy {
    fn start(upstream: u16) -> HoldingProxy {
        let armed = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        let port = start_proxy(
            upstream,
            Watched::Requests,
            Arc::clone(&armed),
            Arc::new(move |request: &[u8]| keep.lock().unwrap().push(request.to_vec())),
        );
        HoldingProxy {
            port,
            upstream,
            armed,
            held,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Delivers the kept request to the server at last, on a connection of its own, and
    /// waits for the server's answer (which nobody hears).
    fn deliver_held(&self) {
        let request = self.held.lock().unwrap().pop().expect("a request was held");
        let mut late = TcpStream::connect(("127.0.0.1", self.upstream)).expect("upstream");
        // A request kept in part (one read of the client's bytes) would leave the server
        // waiting for the rest: fail then, rather than hang.
        late.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        late.write_all(&request).expect("the late request is sent");
        let mut answer = [0u8; 1024];
        let n = late.read(&mut answer).expect("the server answers");
        assert!(n > 0, "the server closed the late request's connection");
    }
}

/// An order the server placed, whose answer was cut and whose retries ran out, fails with
/// `Connection`: its items are then in no cart and no queue. Ordering the cart again on the
/// handle asks under the failed call's operation id and gets them, instead of
/// `UnknownCart` for a spent cart.
#[test]
fn an_order_whose_answer_is_lost_past_the_retries_is_answered_when_asked_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, cart) = an_order_of_one_tea_whose_answer_was_cut(&proxy, "order-lost");
    let stats = market.stats().expect("stats");
    assert_eq!(
        (
            stats.open_carts,
            stats.items_in_carts,
            stats.items_on_shelves
        ),
        (0, 0, 0)
    );
    the_tea_comes_back_once(&market, cart);
}

/// The same through the contract trait: `try_place_order` fails with the `ConnectionError`,
/// and the next `try_place_order` of the cart gets the placed order's items.
#[test]
fn through_the_trait_an_order_whose_answer_is_lost_is_answered_when_asked_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, cart) = a_cart_of_one_tea_through(&proxy, "order-lost-trait");

    let outcome = proxy.cut_during(|| Market::try_place_order(&market, cart));
    assert!(outcome.is_err(), "{outcome:?}");
    let again = Market::try_place_order(&market, cart)
        .expect("the server answers")
        .expect("the placed order's items");
    assert_eq!(again.iter().map(|i| i.serial).collect::<Vec<_>>(), [1]);
    assert!(matches!(
        Market::try_place_order(&market, cart),
        Ok(Err(marketplace::OrderError::UnknownCart))
    ));
}

/// A market reached through `proxy`, with no retries, and a cart holding one tea (serial
/// 1). The server has loaded the order's script (an empty order placed first), so an answer
/// cut later is the order's, not the script's load.
fn a_cart_of_one_tea_through(proxy: &CuttingProxy, name: &str) -> (RedisMarketplace<Item>, CartId) {
    let market = RedisMarketplace::<Item>::connect(&proxy.url(), name, 2)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 1)).expect("room");
    let warm = market.new_cart().expect("new_cart");
    market.place_order(warm).expect("an empty order");
    let cart = market.new_cart().expect("new_cart");
    market.add_to_cart(cart, &any("tea")).expect("on sale");
    (market, cart)
}

/// `a_cart_of_one_tea_through`, and the cart's order placed with its answer cut: the call
/// fails with `Connection`, though the server spent the cart.
fn an_order_of_one_tea_whose_answer_was_cut(
    proxy: &CuttingProxy,
    name: &str,
) -> (RedisMarketplace<Item>, CartId) {
    let (market, cart) = a_cart_of_one_tea_through(proxy, name);
    let outcome = proxy.cut_during(|| market.place_order(cart));
    assert!(
        matches!(outcome, Err(OrderError::Connection(_))),
        "{outcome:?}"
    );
    (market, cart)
}

/// The cart's next order gets the one tea of `a_cart_of_one_tea_through`; the order after
/// that finds the cart spent.
fn the_tea_comes_back_once(market: &RedisMarketplace<Item>, cart: CartId) {
    let again = market.place_order(cart).expect("the placed order's items");
    assert_eq!(again.iter().map(|i| i.serial).collect::<Vec<_>>(), [1]);
    assert!(matches!(
        market.place_order(cart),
        Err(OrderError::UnknownCart)
    ));
}

/// The id of the one client of the server blocked now (a paused script) that is not in
/// `known`.
fn blocked_client_besides(watch: &mut redis::Connection, known: &[u64]) -> u64 {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(watch)
        .expect("CLIENT LIST");
    let blocked: Vec<u64> = list
        .lines()
        .filter(|line| line.split(' ').any(|field| field == "flags=b"))
        .filter_map(|line| line.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .filter(|id| !known.contains(id))
        .collect();
    assert_eq!(blocked.len(), 1, "one new blocked client: {list}");
    blocked[0]
}

/// Runs `first`, then `second`, each on a thread of its own, while the server is paused,
/// so that each call's script waits as a blocked client and the test knows which
/// connection is which call's; then cuts the first call's connection and the second's, in
/// that order, and returns what each call returned.
fn cut_in_turn<T: Send>(
    server: &RedisServer,
    first: impl FnOnce() -> T + Send,
    second: impl FnOnce() -> T + Send,
) -> [T; 2] {
    let mut watch = server.connection();
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .exec(&mut watch)
        .expect("CLIENT PAUSE");
    let kill = |watch: &mut redis::Connection, id: u64| {
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .exec(watch)
            .expect("CLIENT KILL");
    };
    let outcomes = thread::scope(|s| {
        let first = s.spawn(first);
        server.until_clients_wait(1);
        let first_client = blocked_client_besides(&mut watch, &[]);
        let second = s.spawn(second);
        server.until_clients_wait(2);
        let second_client = blocked_client_besides(&mut watch, &[first_client]);
        kill(&mut watch, first_client);
        let first = first.join().expect("the first call");
        kill(&mut watch, second_client);
        let second = second.join().expect("the second call");
        [first, second]
    });
    redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .exec(&mut watch)
        .expect("CLIENT UNPAUSE");
    outcomes
}

/// Two threads order a cart whose first order was placed and its answer lost: one resends
/// that order (the lane kept aside), the other, finding none kept, sends a new one, and both
/// fail, the resend first. The order's items are then still the answer of the cart's next
/// order; the later failure must not take the place of the lane that holds them.
#[test]
fn two_failed_orders_of_a_cart_whose_answer_was_lost_keep_its_items() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, cart) = an_order_of_one_tea_whose_answer_was_cut(&proxy, "order-lost-twice");

    // The resend first, then a new order.
    let outcomes = cut_in_turn(
        &server,
        || market.place_order(cart),
        || market.place_order(cart),
    );
    for outcome in outcomes {
        assert!(
            matches!(outcome, Err(OrderError::Connection(_))),
            "{outcome:?}"
        );
    }

    the_tea_comes_back_once(&market, cart);
}

/// A handle dropped right after an order failed (a process giving up on it), its one lane
/// kept aside for the cart and no connection open, still deletes its lanes' records from a
/// server that answers again: the record of a placed order holds its items' payloads, which
/// nobody can ask for any more.
#[test]
fn a_handle_dropped_after_a_failed_order_leaves_no_records() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let name = "order-lost-then-dropped";
    let (market, _) = an_order_of_one_tea_whose_answer_was_cut(&proxy, name);

    let mut watch = server.connection();
    let before = operation_records(&mut watch, name);
    assert!(before > 0, "the order was recorded");
    drop(market);
    let after = operation_records(&mut watch, name);
    assert_eq!(after, 0, "records left by the dropped handle");
}

/// A publish the server applied, whose answer was cut and whose retries ran out, fails with
/// `Connection` and gives the product back. Publishing that product again on the handle asks
/// under the failed call's operation id: the product is on sale once, not twice, and a
/// consumer gets it once.
#[test]
fn a_publish_whose_answer_is_lost_past_the_retries_is_on_sale_once_when_published_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, tea) = a_publish_of_one_tea_whose_answer_was_cut(&proxy, "publish-lost");

    market
        .publish(producer, tea)
        .expect("the answer to the publish");
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// The same through the contract trait: `try_publish` fails with the product beside the
/// `ConnectionError`, and `try_publish` of that product again puts it on sale once.
#[test]
fn through_the_trait_a_publish_whose_answer_is_lost_is_on_sale_once_when_published_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_producer_through(&proxy, "publish-lost-trait");

    let failure = proxy
        .cut_during(|| Market::try_publish(&market, producer, item("tea", 1)))
        .expect_err("the answer was cut");
    Market::try_publish(&market, producer, failure.into_product())
        .expect("the server answers")
        .expect("the answer to the publish");
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
    the_only_tea_is(&market, 1);
}

/// A publish in doubt does not stand in the way of another product's: that one goes on
/// sale on its own, and the one in doubt is still answered when published again.
#[test]
fn a_publish_in_doubt_lets_another_product_through_and_is_answered_later() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, tea) =
        a_publish_of_one_tea_whose_answer_was_cut(&proxy, "publish-lost-then-other");

    market
        .publish(producer, item("coffee", 2))
        .expect("another product");
    market
        .publish(producer, item("tea", 3))
        .expect("another tea, a product of its own");
    assert_eq!(market.available(&any("tea")).expect("available"), 2);
    market
        .publish(producer, tea)
        .expect("the answer to the publish");
    assert_eq!(market.available(&any("tea")).expect("available"), 2);
    assert_eq!(market.available(&any("coffee")).expect("available"), 1);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(3));
}

/// Two publishes of one product failing at the same time (two threads sharing the handle:
/// one sending again the publish kept aside, which the server applied, the other a new one,
/// which it never ran) each keep their lane: publishing the product again twice puts one
/// more on sale, for the publish that never ran, and answers the other from its record.
#[test]
fn two_failed_publishes_of_one_product_keep_a_lane_each() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, tea) =
        a_publish_of_one_tea_whose_answer_was_cut(&proxy, "publish-lost-twice");

    // The resend first, then a new publish.
    let failed = cut_in_turn(
        &server,
        || market.publish(producer, tea.clone()),
        || market.publish(producer, tea.clone()),
    )
    .map(|outcome| match outcome {
        Err(PublishError::Connection(product, _)) => product,
        other => panic!("{other:?}"),
    });
    assert_eq!(market.available(&any("tea")).expect("available"), 1);

    for product in failed {
        market.publish(producer, product).expect("the answer");
    }
    assert_eq!(market.available(&any("tea")).expect("available"), 2);
}

/// A publish that found its producer full, whose answer was cut, fails with `Connection`
/// and gives the product back. A consumer takes one of the producer's items, and the
/// product is published again: it goes on sale, as any publish with room does, and is not
/// refused with the first call's `Full`, which put nothing on sale and is true no more.
#[test]
fn a_publish_refused_for_want_of_room_whose_answer_was_lost_goes_on_sale_once_there_is_room() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_producer_through(&proxy, "publish-lost-full");
    for serial in 10..14 {
        market
            .publish(producer, item("coffee", serial))
            .expect("room");
    }
    let tea = a_publish_cut(&proxy, &market, producer, item("tea", 1));
    assert_eq!(market.available(&any("tea")).expect("available"), 0);

    a_coffee_bought(&market);
    market
        .publish(producer, tea)
        .expect("the producer has room now");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(4));
    the_only_tea_is(&market, 1);
}

/// A kept publish whose sending again loses its answer too fails with `Connection` again
/// and keeps its lane, under the same operation id: the third publish of the product is
/// answered from the record, and the product is on sale once, not lost nor twice.
#[test]
fn a_publish_whose_answer_is_lost_again_when_sent_again_is_still_on_sale_once() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, tea) =
        a_publish_of_one_tea_whose_answer_was_cut(&proxy, "publish-lost-again");

    let tea = a_publish_cut(&proxy, &market, producer, tea);
    market
        .publish(producer, tea)
        .expect("the answer to the publish");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// A timed publish the server applied, whose answer was cut past the retries, leaves its
/// operation kept as a plain publish's is: publishing the product again, timed, is answered
/// from the record, and the product is on sale once.
#[test]
fn a_timed_publish_whose_answer_is_lost_is_on_sale_once_when_published_again_timed() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_producer_through(&proxy, "timed-publish-lost");
    let tea = a_timed_publish_cut(&proxy, &market, producer, item("tea", 1));

    market
        .publish_timeout(producer, tea, Duration::ZERO)
        .expect("the answer to the publish");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// The same, the product published again with a plain `publish`.
#[test]
fn a_timed_publish_whose_answer_is_lost_is_on_sale_once_when_published_again_plainly() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_producer_through(&proxy, "timed-publish-lost-plain");
    let tea = a_timed_publish_cut(&proxy, &market, producer, item("tea", 1));

    market
        .publish(producer, tea)
        .expect("the answer to the publish");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// A plain publish whose answer was lost past the retries is sent again by a timed publish
/// of the product, as by a plain one: the product is on sale once.
#[test]
fn a_publish_whose_answer_is_lost_is_on_sale_once_when_published_again_timed() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, tea) =
        a_publish_of_one_tea_whose_answer_was_cut(&proxy, "publish-lost-then-timed");

    market
        .publish_timeout(producer, tea, Duration::ZERO)
        .expect("the answer to the publish");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// A timed publish that found its producer full and registered among its waiters, whose
/// answer was cut, holds that registration when it fails: the publish of the product again
/// (once there is room) takes it over and withdraws it, so no waiter is left counted.
#[test]
fn a_timed_publish_registered_as_a_waiter_whose_answer_was_lost_leaves_no_waiter_once_published_again()
 {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let name = "timed-publish-lost-registered";
    let (market, producer) = a_producer_through(&proxy, name);
    for serial in 10..14 {
        market
            .publish(producer, item("coffee", serial))
            .expect("room");
    }
    let tea = a_timed_publish_cut(&proxy, &market, producer, item("tea", 1));
    let mut watch = server.connection();
    assert_eq!(
        publishers_waiting(&mut watch, name),
        1,
        "the cut try registered"
    );

    a_coffee_bought(&market);
    market
        .publish(producer, tea)
        .expect("the producer has room now");
    assert_no_publisher_waiting(&mut watch, name);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(4));
    the_only_tea_is(&market, 1);
}

/// A timed publish that registered among its producer's waiters, whose answer was cut, is
/// taken over by the timed publish of the product again, which waits on with that
/// registration (counted once, not twice) until room frees, and then puts the product on
/// sale once and leaves no waiter counted.
#[test]
fn a_timed_publish_taking_over_a_lost_registered_one_waits_with_its_registration() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let name = "timed-publish-lost-registered-waits";
    let (market, producer) = a_producer_through(&proxy, name);
    for serial in 10..14 {
        market
            .publish(producer, item("coffee", serial))
            .expect("room");
    }
    let tea = a_timed_publish_cut(&proxy, &market, producer, item("tea", 1));
    let mut watch = server.connection();

    let outcome = thread::scope(|s| {
        let waiter = s.spawn(|| market.publish_timeout(producer, tea, Duration::from_secs(60)));
        server.until_clients_wait(1);
        assert_eq!(
            publishers_waiting(&mut watch, name),
            1,
            "publishers counted waiting"
        );
        a_coffee_bought(&market);
        waiter.join().expect("the timed publish")
    });
    outcome.expect("the producer has room");
    assert_no_publisher_waiting(&mut watch, name);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(4));
    the_only_tea_is(&market, 1);
}

/// A timed publish that registered among its producer's waiters, woken by room, whose next
/// try (which withdraws that registration) never reaches the server: the call fails with
/// `Connection` and the registration is still counted. The publish of the product again
/// sends that try, so it withdraws it and puts the product on sale, once.
#[test]
fn a_timed_publish_whose_try_after_waiting_is_lost_leaves_no_waiter_once_published_again() {
    let server = RedisServer::start();
    let proxy = HoldingProxy::start(server.port());
    let name = "timed-publish-try-lost";
    let market = RedisMarketplace::<Item>::connect(&proxy.url(), name, 1)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let direct = RedisMarketplace::<Item>::connect(&server.url(), name, 1).expect("the server");
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("coffee", 10)).expect("room");
    let mut watch = server.connection();

    let outcome = thread::scope(|s| {
        let waiter =
            s.spawn(|| market.publish_timeout(producer, item("tea", 1), Duration::from_secs(60)));
        server.until_clients_wait(1);
        proxy.armed.store(true, Ordering::SeqCst);
        let cart = direct.new_cart().expect("new_cart");
        direct.add_to_cart(cart, &any("coffee")).expect("on sale");
        direct.place_order(cart).expect("the order");
        waiter.join().expect("the timed publish")
    });
    let Err(PublishError::Connection(tea, _)) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(proxy.held.lock().unwrap().len(), 1, "the try was held");
    assert_eq!(
        publishers_waiting(&mut watch, name),
        1,
        "the first try's registration"
    );

    market
        .publish(producer, tea)
        .expect("the producer has room");
    assert_no_publisher_waiting(&mut watch, name);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// A timed publish that registered among its producer's waiters and whose wait then fails
/// (the server refuses the doorbell's pop: here the doorbell's key holds a string) fails
/// with `Connection`, still counted among the waiters. The publish of the product again
/// withdraws that place, so no waiter is left counted, and puts the product on sale once.
#[test]
fn a_timed_publish_whose_wait_fails_leaves_no_waiter_once_published_again() {
    let server = RedisServer::start();
    let name = "timed-publish-wait-fails";
    let (market, producer, mut watch) = a_full_producer_whose_doorbell_is_refused(&server, name);

    let outcome = market.publish_timeout(producer, item("tea", 1), Duration::from_secs(60));
    let Err(PublishError::Connection(tea, _)) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        publishers_waiting(&mut watch, name),
        1,
        "the try's registration"
    );

    room_made_with_the_doorbell_mended(&market, &mut watch, name);
    market
        .publish(producer, tea)
        .expect("the producer has room");
    assert_no_publisher_waiting(&mut watch, name);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// Publishes `product` with `publish_timeout` (a minute, which a producer with room or the
/// cut does not wait) with its first try's answer cut past the retries: the call fails with
/// `Connection`, and the product it gives back is returned.
fn a_timed_publish_cut(
    proxy: &CuttingProxy,
    market: &RedisMarketplace<Item>,
    producer: ProducerId,
    product: Item,
) -> Item {
    let outcome =
        proxy.cut_during(|| market.publish_timeout(producer, product, Duration::from_secs(60)));
    let Err(PublishError::Connection(product, _)) = outcome else {
        panic!("{outcome:?}");
    };
    product
}

/// A batch publish the server applied, whose answer was cut past the retries, fails with
/// `Connection` and gives every product back. Publishing those products again in a batch on
/// the handle sends the failed call again under its operation id: each is on sale once.
#[test]
fn a_batch_publish_whose_answer_is_lost_is_on_sale_once_when_published_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_batch_producer_through(&proxy, "publish-many-lost");
    let products = a_batch_publish_cut(&proxy, &market, producer, teas(1..3));

    market
        .publish_many(producer, products)
        .expect("the answer to the batch");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(2));
    the_teas_on_sale_are(&market, &[1, 2]);
}

/// A batch of more products than the producer has room for, whose answer was cut after the
/// server put some on sale (two, the room it had) and refused the rest: publishing the
/// products the error gave back again answers the failed call from its record and offers
/// the rest anew, so those on sale are on sale once and the rest come back `Full`.
#[test]
fn a_batch_publish_applied_in_part_whose_answer_was_lost_puts_none_on_sale_twice() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_batch_producer_through(&proxy, "publish-many-lost-in-part");
    for serial in 10..12 {
        market
            .publish(producer, item("coffee", serial))
            .expect("room");
    }
    // Six products: the cut call offers the first four (the capacity), of which two fit.
    let products = a_batch_publish_cut(&proxy, &market, producer, teas(1..7));
    assert_eq!(products.len(), 6, "the error holds every product");

    let outcome = market.publish_many(producer, products);
    let Err(PublishError::Full(rest)) = outcome else {
        panic!("{outcome:?}");
    };
    let serials: Vec<u64> = rest.iter().map(|tea| tea.serial).collect();
    assert_eq!(serials, [3, 4, 5, 6]);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(4));
    the_teas_on_sale_are(&market, &[1, 2]);
}

/// Two batch publishes of equal products that both failed, the products of one beginning
/// those of the other: each error's products given back send again the failed call that
/// offered exactly them, not the shorter one, so each product is on sale as often as it was
/// published. Rounds of new products, each a new pair of kept calls, so a choice between the
/// two that held by chance in one round does not pass the test.
#[test]
fn two_lost_batch_publishes_one_beginning_the_other_are_each_sent_again_by_their_own_products() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_batch_producer_through(&proxy, "publish-many-lost-nested");
    for round in 0..8 {
        let (first, second) = (10 * round + 1, 10 * round + 2);
        let longer = vec![item("tea", first), item("tea", second)];
        let longer = a_batch_publish_cut(&proxy, &market, producer, longer);
        let shorter = a_batch_publish_cut(&proxy, &market, producer, vec![item("tea", first)]);

        market
            .publish_many(producer, longer)
            .expect("the answer to the longer batch");
        market
            .publish_many(producer, shorter)
            .expect("the answer to the shorter batch");
        assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(3));
        the_teas_on_sale_are(&market, &[first, second, first]);
    }
}

/// A plain batch publish whose answer was lost is sent again by a timed batch publish of
/// its products, as by a plain one: each is on sale once.
#[test]
fn a_batch_publish_whose_answer_is_lost_is_on_sale_once_when_published_again_timed() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_batch_producer_through(&proxy, "publish-many-lost-then-timed");
    let products = a_batch_publish_cut(&proxy, &market, producer, teas(1..3));

    market
        .publish_many_timeout(producer, products, Duration::ZERO)
        .expect("the answer to the batch");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(2));
    the_teas_on_sale_are(&market, &[1, 2]);
}

/// A timed batch publish that found its producer full and registered among its waiters,
/// whose answer was cut, holds that registration when it fails: the batch publish of its
/// products again (once there is room) takes it over and withdraws it, so no waiter is left
/// counted, and the product is on sale once.
#[test]
fn a_timed_batch_publish_registered_as_a_waiter_whose_answer_was_lost_leaves_no_waiter_once_published_again()
 {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let name = "timed-publish-many-lost-registered";
    let (market, producer) = a_batch_producer_through(&proxy, name);
    for serial in 10..14 {
        market
            .publish(producer, item("coffee", serial))
            .expect("room");
    }
    let outcome = proxy
        .cut_during(|| market.publish_many_timeout(producer, teas(1..2), Duration::from_secs(60)));
    let Err(PublishError::Connection(products, _)) = outcome else {
        panic!("{outcome:?}");
    };
    let mut watch = server.connection();
    assert_eq!(
        publishers_waiting(&mut watch, name),
        1,
        "the cut call registered"
    );

    a_coffee_bought(&market);
    market
        .publish_many(producer, products)
        .expect("the producer has room now");
    assert_no_publisher_waiting(&mut watch, name);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(4));
    the_only_tea_is(&market, 1);
}

/// A timed batch publish that registered among its producer's waiters and whose wait then
/// fails (the doorbell's key holds a string) fails with `Connection`, still counted among
/// the waiters. The batch publish of its products again withdraws that place, so no waiter
/// is left counted, and puts the product on sale once.
#[test]
fn a_timed_batch_publish_whose_wait_fails_leaves_no_waiter_once_published_again() {
    let server = RedisServer::start();
    let name = "timed-publish-many-wait-fails";
    let (market, producer, mut watch) = a_full_producer_whose_doorbell_is_refused(&server, name);

    let outcome = market.publish_many_timeout(producer, teas(1..2), Duration::from_secs(60));
    let Err(PublishError::Connection(products, _)) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        publishers_waiting(&mut watch, name),
        1,
        "the call's registration"
    );

    room_made_with_the_doorbell_mended(&market, &mut watch, name);
    market
        .publish_many(producer, products)
        .expect("the producer has room");
    assert_no_publisher_waiting(&mut watch, name);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    the_only_tea_is(&market, 1);
}

/// `a_producer_through`, the server having loaded the batch publish script too (another
/// producer's batch, its item taken and ordered since), so an answer cut later is the
/// batch's.
fn a_batch_producer_through(
    proxy: &CuttingProxy,
    name: &str,
) -> (RedisMarketplace<Item>, ProducerId) {
    let (market, producer) = a_producer_through(proxy, name);
    let warm = market.register_producer().expect("register");
    market
        .publish_many(warm, vec![item("warm", 0)])
        .expect("room");
    let cart = market.new_cart().expect("new_cart");
    market.add_to_cart(cart, &any("warm")).expect("on sale");
    market.place_order(cart).expect("the warm-up order");
    (market, producer)
}

/// Teas of the serials in `serials`.
fn teas(serials: std::ops::Range<u64>) -> Vec<Item> {
    serials.map(|serial| item("tea", serial)).collect()
}

/// Publishes `products` with `publish_many`, its answer cut past the retries: the call fails
/// with `Connection`, and the products it gives back are returned.
fn a_batch_publish_cut(
    proxy: &CuttingProxy,
    market: &RedisMarketplace<Item>,
    producer: ProducerId,
    products: Vec<Item>,
) -> Vec<Item> {
    let outcome = proxy.cut_during(|| market.publish_many(producer, products));
    let Err(PublishError::Connection(products, _)) = outcome else {
        panic!("{outcome:?}");
    };
    products
}

/// A consumer gets every tea on sale: those of `serials`, in that order, once each.
fn the_teas_on_sale_are(market: &RedisMarketplace<Item>, serials: &[u64]) {
    let cart = market.new_cart().expect("new_cart");
    let added = market
        .add_many_to_cart(cart, &any("tea"), usize::MAX)
        .expect("add_many_to_cart");
    assert_eq!(added, serials.len(), "teas on sale");
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), serials);
}

/// A handle dropped right after a publish failed, its lane kept aside and no connection
/// open, deletes its lanes' records from a server that answers again.
#[test]
fn a_handle_dropped_after_a_failed_publish_leaves_no_records() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let name = "publish-lost-then-dropped";
    let (market, _, _) = a_publish_of_one_tea_whose_answer_was_cut(&proxy, name);

    let mut watch = server.connection();
    let before = operation_records(&mut watch, name);
    assert!(before > 0, "the publish was recorded");
    drop(market);
    let after = operation_records(&mut watch, name);
    assert_eq!(after, 0, "records left by the dropped handle");
}

/// A market reached through `proxy`, with no retries, and a producer of room 4. The server
/// has loaded the publish script (a publish by another producer, its item taken and ordered
/// since), so an answer cut later is the publish's, not the script's load.
fn a_producer_through(proxy: &CuttingProxy, name: &str) -> (RedisMarketplace<Item>, ProducerId) {
    let market = RedisMarketplace::<Item>::connect(&proxy.url(), name, 4)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let warm = market.register_producer().expect("register");
    market.publish(warm, item("warm", 0)).expect("room");
    let cart = market.new_cart().expect("new_cart");
    market.add_to_cart(cart, &any("warm")).expect("on sale");
    market.place_order(cart).expect("the warm-up order");
    let producer = market.register_producer().expect("register");
    (market, producer)
}

/// `a_producer_through`, and its publish of one tea (serial 1) with the answer cut: the call
/// fails with `Connection` and gives the tea back, though the server put it on sale.
fn a_publish_of_one_tea_whose_answer_was_cut(
    proxy: &CuttingProxy,
    name: &str,
) -> (RedisMarketplace<Item>, ProducerId, Item) {
    let (market, producer) = a_producer_through(proxy, name);
    let tea = a_publish_cut(proxy, &market, producer, item("tea", 1));
    (market, producer, tea)
}

/// Publishes `product` with its answer cut past the retries: the call fails with
/// `Connection`, and the product it gives back is returned.
fn a_publish_cut(
    proxy: &CuttingProxy,
    market: &RedisMarketplace<Item>,
    producer: ProducerId,
    product: Item,
) -> Item {
    let outcome = proxy.cut_during(|| market.publish(producer, product));
    let Err(PublishError::Connection(product, _)) = outcome else {
        panic!("{outcome:?}");
    };
    product
}

/// An add of a tea to `cart` through `proxy`, cut past its retries: it fails with
/// `Connection`, whether or not the server applied it.
fn a_tea_add_cut(proxy: &CuttingProxy, market: &RedisMarketplace<Item>, cart: CartId) {
    let outcome = proxy.cut_during(|| market.add_to_cart(cart, &any("tea")));
    assert!(
        matches!(outcome, Err(AddError::Connection(_))),
        "{outcome:?}"
    );
}

/// A remove of a tea from `cart` through `proxy`, cut past its retries, as
/// [`a_tea_add_cut`].
fn a_tea_remove_cut(proxy: &CuttingProxy, market: &RedisMarketplace<Item>, cart: CartId) {
    let outcome = proxy.cut_during(|| market.remove_from_cart(cart, &any("tea")));
    assert!(
        matches!(outcome, Err(RemoveError::Connection(_))),
        "{outcome:?}"
    );
}

/// How many waiting publishers the server counts in the market `name`: the registrations
/// of every producer's waiters, summed, so that one counted twice shows.
fn publishers_waiting(watch: &mut redis::Connection, name: &str) -> u64 {
    let waiting = format!("marketplace:{{{name}}}:waiting");
    let counts: Vec<u64> = redis::cmd("HVALS")
        .arg(&waiting)
        .query(watch)
        .expect("HVALS");
    counts.iter().sum()
}

/// Asserts that the server counts no publisher waiting in the market `name`.
fn assert_no_publisher_waiting(watch: &mut redis::Connection, name: &str) {
    assert_eq!(
        publishers_waiting(watch, name),
        0,
        "a waiter is still counted for the producer"
    );
}

/// A market `name` of capacity 1 on `server`, with no retries, whose producer is full (a
/// coffee, serial 10), and whose doorbell for that producer's room the server refuses to pop
/// (its key holds a string), so a wait for room fails with `Connection`; and a connection
/// to watch the server with.
fn a_full_producer_whose_doorbell_is_refused(
    server: &RedisServer,
    name: &str,
) -> (RedisMarketplace<Item>, ProducerId, redis::Connection) {
    let market = RedisMarketplace::<Item>::connect(&server.url(), name, 1)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("coffee", 10)).expect("room");
    let mut watch = server.connection();
    // The first producer's doorbell, which a list must hold for its pop to be refused.
    redis::cmd("SET")
        .arg(room_doorbell(name))
        .arg("not a list")
        .exec(&mut watch)
        .expect("SET");
    (market, producer, watch)
}

/// Mends the doorbell [`a_full_producer_whose_doorbell_is_refused`] spoilt and makes room
/// under its producer (the coffee bought).
fn room_made_with_the_doorbell_mended(
    market: &RedisMarketplace<Item>,
    watch: &mut redis::Connection,
    name: &str,
) {
    redis::cmd("DEL")
        .arg(room_doorbell(name))
        .exec(watch)
        .expect("DEL");
    a_coffee_bought(market);
}

/// A consumer buys a coffee on sale, making room under its producer.
fn a_coffee_bought(market: &RedisMarketplace<Item>) {
    let cart = market.new_cart().expect("new_cart");
    market.add_to_cart(cart, &any("coffee")).expect("on sale");
    market.place_order(cart).expect("the order");
}

/// The key of the doorbell for room under the first producer of the market `name`.
fn room_doorbell(name: &str) -> String {
    format!("marketplace:{{{name}}}:room:0")
}

/// How many operation records (a lane's last result each) the market `name` holds.
fn operation_records(watch: &mut redis::Connection, name: &str) -> usize {
    let records = format!("marketplace:{{{name}}}:ops");
    redis::cmd("HLEN").arg(&records).query(watch).expect("HLEN")
}

/// A consumer gets the one tea on sale, of `serial`, and no other.
fn the_only_tea_is(market: &RedisMarketplace<Item>, serial: u64) {
    let cart = market.new_cart().expect("new_cart");
    market.add_to_cart(cart, &any("tea")).expect("on sale");
    assert!(matches!(
        market.add_to_cart(cart, &any("tea")),
        Err(AddError::Unavailable)
    ));
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [serial]);
}

/// An add the server applied, whose answer was cut past the retries, fails with
/// `Connection`, though the tea is in the cart. Adding a tea to that cart again on the
/// handle sends the failed call again under its operation id: the cart holds one tea, not
/// two, and one fewer is on sale.
#[test]
fn an_add_whose_answer_is_lost_past_the_retries_puts_one_item_in_the_cart_when_added_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, cart) = a_cart_and_two_teas_through(&proxy, "add-lost");

    a_tea_add_cut(&proxy, &market, cart);
    market
        .add_to_cart(cart, &any("tea"))
        .expect("the answer to the add");
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1]);
}

/// A timed add the server applied, whose answer was cut past the retries, leaves its
/// operation kept as a plain add's is: adding again, timed, to that cart is answered from
/// the record, and the cart holds one tea.
#[test]
fn a_timed_add_whose_answer_is_lost_puts_one_item_in_the_cart_when_added_again_timed() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, cart) = a_cart_and_two_teas_through(&proxy, "timed-add-lost");

    let outcome =
        proxy.cut_during(|| market.add_to_cart_timeout(cart, &any("tea"), Duration::from_secs(60)));
    assert!(
        matches!(outcome, Err(AddError::Connection(_))),
        "{outcome:?}"
    );
    market
        .add_to_cart_timeout(cart, &any("tea"), Duration::ZERO)
        .expect("the answer to the add");
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1]);
}

/// An add that found nothing on sale, whose answer was cut, moved nothing: once a tea is
/// published, adding again moves it, and is not refused with the first call's
/// `Unavailable`, which is true no more.
#[test]
fn an_add_refused_for_want_of_items_whose_answer_was_lost_takes_one_published_since() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer) = a_producer_through(&proxy, "add-lost-unavailable");
    let cart = market.new_cart().expect("new_cart");

    a_tea_add_cut(&proxy, &market, cart);
    market.publish(producer, item("tea", 1)).expect("room");
    market
        .add_to_cart(cart, &any("tea"))
        .expect("the tea published since");
    assert_eq!(market.available(&any("tea")).expect("available"), 0);
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1]);
}

/// An add whose answer was lost, its cart ordered since: the add kept for that cart does
/// not answer an add to a new cart, which moves a tea of its own.
#[test]
fn an_add_in_doubt_does_not_answer_an_add_to_a_new_cart() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, "add-lost-then-ordered");

    a_tea_add_cut(&proxy, &market, cart);
    let ordered = market.place_order(cart).expect("the order");
    assert_eq!(ordered.iter().map(|i| i.serial).collect::<Vec<_>>(), [1]);
    let next = market.new_cart().expect("new_cart");
    market
        .add_to_cart(next, &any("tea"))
        .expect("the other tea");
    assert_eq!(market.available(&any("tea")).expect("available"), 0);
    let items = market.place_order(next).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [2]);
}

/// An add or a remove that never failed runs the server's script once, as before calls
/// were kept; an add sent again after its answer was lost runs it once too, the resend
/// answering for the call.
#[test]
fn adds_and_removes_run_one_script_each_and_a_kept_add_no_more() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, "add-cost");
    let mut watch = server.connection();
    // Loads the remove script, so no load is counted below.
    market
        .remove_from_cart(cart, &any("tea"))
        .expect_err("no tea in the cart");

    let before = script_runs(&mut watch);
    market.add_to_cart(cart, &any("tea")).expect("on sale");
    market
        .remove_from_cart(cart, &any("tea"))
        .expect("in the cart");
    assert_eq!(script_runs(&mut watch) - before, 2);

    a_tea_add_cut(&proxy, &market, cart);
    let before = script_runs(&mut watch);
    market
        .add_to_cart(cart, &any("tea"))
        .expect("the answer to the add");
    assert_eq!(script_runs(&mut watch) - before, 1);
}

/// Two adds of one product to a cart failing at the same time (two threads sharing the
/// handle: one sending again the add kept aside, which the server applied, the other a new
/// one, which it never ran) each keep their lane: adding again twice moves one more item,
/// for the add that never ran, and answers the other from its record.
#[test]
fn two_failed_adds_of_one_product_to_a_cart_keep_a_lane_each() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, cart) = a_cart_and_two_teas_through(&proxy, "add-lost-twice");
    market.publish(producer, item("tea", 3)).expect("room");
    a_tea_add_cut(&proxy, &market, cart);

    // The resend first, then a new add.
    let outcomes = cut_in_turn(
        &server,
        || market.add_to_cart(cart, &any("tea")),
        || market.add_to_cart(cart, &any("tea")),
    );
    for outcome in outcomes {
        assert!(
            matches!(outcome, Err(AddError::Connection(_))),
            "{outcome:?}"
        );
    }
    assert_eq!(market.available(&any("tea")).expect("available"), 2);

    for _ in 0..2 {
        market.add_to_cart(cart, &any("tea")).expect("the answer");
    }
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1, 2]);
}

/// A handle dropped right after an add failed, its lane kept aside, deletes its lanes'
/// records from a server that answers again.
#[test]
fn a_handle_dropped_after_a_failed_add_leaves_no_records() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let name = "add-lost-then-dropped";
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, name);
    a_tea_add_cut(&proxy, &market, cart);

    let mut watch = server.connection();
    let before = operation_records(&mut watch, name);
    assert!(before > 0, "the add was recorded");
    drop(market);
    let after = operation_records(&mut watch, name);
    assert_eq!(after, 0, "records left by the dropped handle");
}

/// `a_producer_through`, two teas of its producer on sale (serials 1 and 2), and an empty
/// cart.
fn a_cart_and_two_teas_through(
    proxy: &CuttingProxy,
    name: &str,
) -> (RedisMarketplace<Item>, ProducerId, CartId) {
    let (market, producer) = a_producer_through(proxy, name);
    for serial in [1, 2] {
        market.publish(producer, item("tea", serial)).expect("room");
    }
    let cart = market.new_cart().expect("new_cart");
    (market, producer, cart)
}

/// A batch add the server applied, whose answer was cut past the retries, fails with
/// `Connection`, though the teas are in the cart. Adding as many teas to that cart again in
/// a batch on the handle sends the failed call again under its operation id: the cart holds
/// the two teas asked for, not four, and the third stays on sale.
#[test]
fn a_batch_add_whose_answer_is_lost_moves_the_items_once_when_added_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, cart) = a_cart_and_three_teas_through(&proxy, "add-many-lost");
    let outcome = proxy.cut_during(|| market.add_many_to_cart(cart, &any("tea"), 2));
    assert!(
        matches!(outcome, Err(AddError::Connection(_))),
        "{outcome:?}"
    );

    let added = market
        .add_many_to_cart(cart, &any("tea"), 2)
        .expect("the answer to the batch");
    assert_eq!(added, 2);
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1, 2]);
}

/// A timed batch add whose answer was lost is sent again by a plain batch add of as many
/// of the product to that cart, as by a timed one.
#[test]
fn a_timed_batch_add_whose_answer_is_lost_moves_the_items_once_when_added_again_plainly() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, cart) = a_cart_and_three_teas_through(&proxy, "timed-add-many-lost");
    let outcome = proxy.cut_during(|| {
        market.add_many_to_cart_timeout(cart, &any("tea"), 2, Duration::from_secs(60))
    });
    let Err(error) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(error.added(), 0, "the cut call was the first");

    let added = market
        .add_many_to_cart(cart, &any("tea"), 2)
        .expect("the answer to the batch");
    assert_eq!(added, 2);
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1, 2]);
}

/// A batch add in doubt, then a remove of the product from that cart: the remove comes
/// after the batch, which is sent again first, so the next batch add is a new one and
/// moves two more teas, the one given back among them.
#[test]
fn a_batch_add_in_doubt_removed_since_is_not_what_the_next_batch_add_stands_for() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, cart) = a_cart_and_three_teas_through(&proxy, "add-many-lost-then-removed");
    let outcome = proxy.cut_during(|| market.add_many_to_cart(cart, &any("tea"), 2));
    assert!(
        matches!(outcome, Err(AddError::Connection(_))),
        "{outcome:?}"
    );

    market
        .remove_from_cart(cart, &any("tea"))
        .expect("a tea in the cart");
    let added = market
        .add_many_to_cart(cart, &any("tea"), 2)
        .expect("two teas on sale");
    assert_eq!(added, 2);
    assert_eq!(market.available(&any("tea")).expect("available"), 0);
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.len(), 3, "{items:?}");
}

/// A batch add in doubt whose cart was ordered since on the handle: the next batch add to
/// that cart is `UnknownCart`, as for any ordered cart, not an `Ok` for the teas the order
/// took.
#[test]
fn a_batch_add_in_doubt_whose_cart_was_ordered_since_does_not_answer_the_next_batch_add() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, cart) = a_cart_and_three_teas_through(&proxy, "add-many-lost-then-ordered");
    let outcome = proxy.cut_during(|| market.add_many_to_cart(cart, &any("tea"), 2));
    assert!(
        matches!(outcome, Err(AddError::Connection(_))),
        "{outcome:?}"
    );

    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1, 2]);
    let outcome = market.add_many_to_cart(cart, &any("tea"), 2);
    assert!(matches!(outcome, Err(AddError::UnknownCart)), "{outcome:?}");
}

/// A market through `proxy` with three teas on sale (serials 1 to 3) and a cart, the server
/// having loaded the batch add script (a batch add of a product none has published), so an
/// answer cut later is the batch's.
fn a_cart_and_three_teas_through(
    proxy: &CuttingProxy,
    name: &str,
) -> (RedisMarketplace<Item>, CartId) {
    let (market, producer, cart) = a_cart_and_two_teas_through(proxy, name);
    market.publish(producer, item("tea", 3)).expect("room");
    let added = market
        .add_many_to_cart(cart, &any("coffee"), 1)
        .expect("the warm-up batch");
    assert_eq!(added, 0);
    (market, cart)
}

/// A remove the server applied, whose answer was cut past the retries, fails with
/// `Connection`, though the tea went back on sale. Removing a tea from that cart again on
/// the handle sends the failed call again: one tea went back, and the other stays in the
/// cart.
#[test]
fn a_remove_whose_answer_is_lost_past_the_retries_returns_one_item_when_removed_again() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, producer, cart) = a_cart_and_two_teas_through(&proxy, "remove-lost");
    // Loads the remove script, so the answer cut below is the remove's, not the load's.
    assert!(matches!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    ));
    for _ in 0..2 {
        market.add_to_cart(cart, &any("tea")).expect("on sale");
    }

    a_tea_remove_cut(&proxy, &market, cart);
    market
        .remove_from_cart(cart, &any("tea"))
        .expect("the answer to the remove");
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [2]);
}

/// An add the server applied, whose answer was lost, then a remove of a tea from that
/// cart, which gives that tea back: adding a tea again is a new add, after the remove, and
/// not the failed one, which the remove undid. The cart holds one tea, as the three calls
/// say, not none.
#[test]
fn an_add_in_doubt_removed_since_is_not_what_the_next_add_stands_for() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, "add-lost-then-removed");
    // Loads the remove script, so the remove below needs no load.
    assert!(matches!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    ));

    a_tea_add_cut(&proxy, &market, cart);
    market
        .remove_from_cart(cart, &any("tea"))
        .expect("the tea the failed add moved");
    market.add_to_cart(cart, &any("tea")).expect("on sale");
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.len(), 1, "{items:?}");
}

/// A remove the server applied, whose answer was lost, then an add of a tea to that cart:
/// removing a tea again is a new remove, after the add, and not the failed one. The cart
/// ends empty, as the four calls say, not holding the tea added since.
#[test]
fn a_remove_in_doubt_added_to_since_is_not_what_the_next_remove_stands_for() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, "remove-lost-then-added");
    // Loads the remove script, so the answer cut below is the remove's, not the load's.
    assert!(matches!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    ));
    market.add_to_cart(cart, &any("tea")).expect("on sale");

    a_tea_remove_cut(&proxy, &market, cart);
    market.add_to_cart(cart, &any("tea")).expect("on sale");
    market
        .remove_from_cart(cart, &any("tea"))
        .expect("the tea added since");
    assert_eq!(market.available(&any("tea")).expect("available"), 2);
    let items = market.place_order(cart).expect("the order");
    assert!(items.is_empty(), "{items:?}");
}

/// An add the server applied, whose answer was lost, then an order of the cart, which took
/// its tea: adding to that cart again is refused with `UnknownCart`, as for any add to an
/// ordered cart, not answered `Ok` from the failed call's record.
#[test]
fn an_add_in_doubt_whose_cart_was_ordered_since_does_not_answer_the_next_add() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, "add-lost-cart-ordered");

    a_tea_add_cut(&proxy, &market, cart);
    let items = market.place_order(cart).expect("the order");
    assert_eq!(items.iter().map(|i| i.serial).collect::<Vec<_>>(), [1]);
    let outcome = market.add_to_cart(cart, &any("tea"));
    assert!(matches!(outcome, Err(AddError::UnknownCart)), "{outcome:?}");
}

/// As [`an_add_in_doubt_whose_cart_was_ordered_since_does_not_answer_the_next_add`], for a
/// remove: removing from the ordered cart again is `UnknownCart`.
#[test]
fn a_remove_in_doubt_whose_cart_was_ordered_since_does_not_answer_the_next_remove() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, "remove-lost-cart-ordered");
    // Loads the remove script, so the answer cut below is the remove's, not the load's.
    assert!(matches!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    ));
    market.add_to_cart(cart, &any("tea")).expect("on sale");

    a_tea_remove_cut(&proxy, &market, cart);
    let items = market.place_order(cart).expect("the order");
    assert!(items.is_empty(), "{items:?}");
    let outcome = market.remove_from_cart(cart, &any("tea"));
    assert!(
        matches!(outcome, Err(RemoveError::UnknownCart)),
        "{outcome:?}"
    );
}

/// As [`a_remove_in_doubt_added_to_since_is_not_what_the_next_remove_stands_for`], the tea
/// added since by a batch add: the next remove takes it, and the cart ends empty.
#[test]
fn a_remove_in_doubt_added_to_by_a_batch_since_is_not_what_the_next_remove_stands_for() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, cart) = a_cart_and_two_teas_through(&proxy, "remove-lost-then-batch");
    // Loads the remove script, so the answer cut below is the remove's, not the load's.
    assert!(matches!(
        market.remove_from_cart(cart, &any("tea")),
        Err(RemoveError::NotInCart)
    ));
    market.add_to_cart(cart, &any("tea")).expect("on sale");

    a_tea_remove_cut(&proxy, &market, cart);
    let added = market
        .add_many_to_cart(cart, &any("tea"), 1)
        .expect("on sale");
    assert_eq!(added, 1);
    market
        .remove_from_cart(cart, &any("tea"))
        .expect("the tea added since");
    assert_eq!(market.available(&any("tea")).expect("available"), 2);
    let items = market.place_order(cart).expect("the order");
    assert!(items.is_empty(), "{items:?}");
}

/// An operation retried after its connection broke, whose first request reaches the
/// server only after the retry and a later operation of the same lane were applied: the
/// late request is a stale copy and must not apply again.
#[test]
fn a_request_arriving_after_its_retry_and_a_later_call_applies_once() {
    keep_retry_warnings();
    let server = RedisServer::start();
    let proxy = HoldingProxy::start(server.port());
    let market = RedisMarketplace::<Item>::connect(&proxy.url(), "late-request", 4)
        .expect("the server is up")
        .with_retry_for(Duration::from_secs(5));
    // Once through the scripts used below, so the held request is the operation's own
    // `EVALSHA`, not a load of its script.
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 0)).expect("publish");
    let _ = market.new_cart().expect("new_cart");

    proxy.armed.store(true, Ordering::SeqCst);
    market
        .publish(producer, item("tea", 1))
        .expect("the retry publishes");
    assert!(!proxy.armed.load(Ordering::SeqCst), "no request was held");
    assert_eq!(market.shelf_len(producer).unwrap(), Some(2));
    // A later operation of the same lane (one thread, so the handle's one lane).
    let _ = market.new_cart().expect("new_cart");

    proxy.deliver_held();
    assert_eq!(
        market.shelf_len(producer).unwrap(),
        Some(2),
        "the late copy of a publish that was retried published again"
    );
    assert_eq!(market.stats().unwrap().items_on_shelves, 2);
}

/// Every operation that changes the market, with its answer lost after the server applied
/// it: the handle retries on a new connection under the same operation id and gets the
/// recorded answer, so the operation counts once (the figures after it say so).
#[test]
fn an_operation_whose_answer_is_lost_applies_once() {
    keep_retry_warnings();
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let market = RedisMarketplace::<Item>::connect(&proxy.url(), "lost-answers", 4)
        .expect("the server is up")
        .with_retry_for(Duration::from_secs(5));

    // Once through every script first, so the server knows them all and the answer the
    // proxy cuts is the operation's, not a "no such script" that the client would resend.
    let warm = market.register_producer().expect("register");
    market.publish(warm, item("tea", 0)).expect("publish");
    let cart = market.new_cart().expect("new_cart");
    market.add_to_cart(cart, &any("tea")).expect("add");
    market.remove_from_cart(cart, &any("tea")).expect("remove");
    market.add_to_cart(cart, &any("tea")).expect("add");
    market.place_order(cart).expect("order");
    market.stats().expect("stats");

    let producer = proxy.cut_during(|| market.register_producer().expect("register"));
    assert_eq!(producer.index(), 1);
    assert_eq!(market.stats().unwrap().producers, 2, "registered twice");

    proxy.cut_during(|| market.publish(producer, item("tea", 1)).expect("publish"));
    assert_eq!(
        market.shelf_len(producer).unwrap(),
        Some(1),
        "published twice"
    );
    market.publish(producer, item("tea", 2)).expect("publish");

    let cart = proxy.cut_during(|| market.new_cart().expect("new_cart"));
    assert_eq!(market.stats().unwrap().open_carts, 1, "two carts opened");

    proxy.cut_during(|| market.add_to_cart(cart, &any("tea")).expect("add"));
    let stats = market.stats().unwrap();
    assert_eq!(
        (stats.items_in_carts, stats.items_on_shelves),
        (1, 1),
        "added twice"
    );

    proxy.cut_during(|| market.remove_from_cart(cart, &any("tea")).expect("remove"));
    let stats = market.stats().unwrap();
    assert_eq!(
        (stats.items_in_carts, stats.items_on_shelves),
        (0, 2),
        "removed twice"
    );

    market.add_to_cart(cart, &any("tea")).expect("add");
    let order = proxy.cut_during(|| market.place_order(cart));
    let order = order.expect("the retried order answers with its items, not UnknownCart");
    assert_eq!(
        order.iter().map(|i| i.serial).collect::<Vec<_>>(),
        [2],
        "the oldest tea on sale (the removed one went to the back)"
    );
    let stats = market.stats().unwrap();
    assert_eq!(
        (
            stats.open_carts,
            stats.items_in_carts,
            stats.items_on_shelves
        ),
        (0, 0, 1)
    );
    assert!(matches!(
        market.place_order(cart),
        Err(OrderError::UnknownCart)
    ));

    // The batches: three teas fit (one is on sale, capacity 4), the fourth comes back.
    let warm_cart = market.new_cart().expect("new_cart");
    market
        .add_many_to_cart(warm_cart, &any("coffee"), 1)
        .expect("add");
    market.publish_many(warm, Vec::new()).expect("publish");
    let batch = (3..7).map(|serial| item("tea", serial)).collect();
    match proxy.cut_during(|| market.publish_many(producer, batch)) {
        Err(PublishError::Full(rest)) => {
            assert_eq!(rest.iter().map(|i| i.serial).collect::<Vec<_>>(), [6]);
        }
        other => panic!("expected the last tea back, got {other:?}"),
    }
    assert_eq!(
        market.shelf_len(producer).unwrap(),
        Some(4),
        "published twice"
    );
    let cart = market.new_cart().expect("new_cart");
    let added = proxy.cut_during(|| market.add_many_to_cart(cart, &any("tea"), 3));
    assert_eq!(
        added.expect("add"),
        3,
        "the retry answers as the first try did"
    );
    let stats = market.stats().unwrap();
    assert_eq!(
        (stats.items_in_carts, stats.items_on_shelves),
        (3, 1),
        "added twice"
    );
    assert!(
        retries_on(proxy.port).len() >= 8,
        "every cut call was retried"
    );
}

/// A waiter whose wake-up token is popped on the server but whose answer is lost (the
/// token is spent, the waiter never hears it) still gets the item, within one wait round
/// (half the read timeout, 5 s), not only when its deadline comes.
#[test]
fn a_wake_up_lost_with_its_answer_is_made_up_within_a_round() {
    keep_retry_warnings();
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let waiting = RedisMarketplace::<Item>::connect(&proxy.url(), "lost-wake-up", 1)
        .expect("the server is up")
        .with_retry_for(Duration::from_secs(5));
    // The producer talks to the server directly: the only answer through the proxy is
    // the waiter's.
    let direct = RedisMarketplace::<Item>::connect(&server.url(), "lost-wake-up", 1)
        .expect("the server is up");
    let producer = direct.register_producer().expect("register");
    let cart = waiting.new_cart().expect("new_cart");
    assert!(matches!(
        waiting.add_to_cart(cart, &any("tea")),
        Err(AddError::Unavailable)
    ));

    let deadline = Duration::from_secs(30);
    let waiter = thread::spawn(move || {
        let started = Instant::now();
        let outcome = waiting.add_to_cart_timeout(cart, &any("tea"), deadline);
        (outcome, started.elapsed(), waiting)
    });
    // The waiter is blocked in its pop once the server counts a blocked client.
    let mut info = server.connection();
    let blocked_since = Instant::now();
    loop {
        let clients: String = redis::cmd("INFO").arg("clients").query(&mut info).unwrap();
        if clients.contains("blocked_clients:1") {
            break;
        }
        assert!(blocked_since.elapsed() < STUCK, "the waiter never blocked");
        thread::park_timeout(Duration::from_millis(5));
    }
    proxy.armed.store(true, Ordering::SeqCst);
    direct.publish(producer, item("tea", 1)).expect("publish");

    let (outcome, took, waiting) = waiter.join().expect("the waiter panicked");
    assert_eq!(
        proxy.cuts.load(Ordering::SeqCst),
        1,
        "the wake-up was not cut"
    );
    outcome.expect("the tea was on sale all along");
    assert!(
        took < deadline / 2,
        "the waiter took {took:?}: the lost wake-up was made up only by its deadline"
    );
    assert_eq!(waiting.place_order(cart).expect("order").len(), 1);
}

/// A TCP proxy in front of a server that can be cut off for good: every connection through
/// it closed, and every later one closed as soon as it is accepted, so its clients see
/// the server go as a process that dies sees it (their connections dropped) and cannot
/// reach it again.
struct SeveringProxy {
    port: u16,
    open: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl SeveringProxy {
    fn start(upstream: u16) -> SeveringProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let open = Arc::new(AtomicBool::new(true));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (accepting, kept) = (Arc::clone(&open), Arc::clone(&streams));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                // Checked under the lock `sever` takes, so no connection slips past it.
                let mut streams = kept.lock().unwrap();
                if !accepting.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let server = TcpStream::connect(("127.0.0.1", upstream)).expect("upstream");
                streams.push(client.try_clone().unwrap());
                streams.push(server.try_clone().unwrap());
                let (client_in, server_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || pump(client_in, server_out, None));
                thread::spawn(move || pump(server, client, None));
            }
        });
        SeveringProxy {
            port,
            open,
            streams,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn sever(&self) {
        let streams = self.streams.lock().unwrap();
        self.open.store(false, Ordering::SeqCst);
        for stream in streams.iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Publishers that die while they wait for room (here: their server cut off, so each wait
/// fails with `Connection`; a killed process leaves the server the same) leave their
/// registrations in `waiting`, one each, for good. What that costs is bounded: `room:N`
/// holds at most a token per dead registration, and never more than the producer's free
/// places; the publish that fills the producer deletes them; and a live publisher waiting
/// afterwards is woken by a take, as if the dead had never waited.
#[test]
fn publishers_that_die_waiting_leave_a_token_each_at_most_and_mislead_no_live_one() {
    let server = RedisServer::start();
    let proxy = SeveringProxy::start(server.port());
    let capacity = 4;
    let dead = 3;
    let name = "dead-waiters";
    let direct = RedisMarketplace::<Item>::connect(&server.url(), name, capacity).expect("up");
    let doomed = RedisMarketplace::<Item>::connect(&proxy.url(), name, capacity)
        .expect("up")
        .with_retry_for(Duration::ZERO);
    let producer = direct.register_producer().expect("register");
    for serial in 0..capacity {
        direct
            .publish(producer, item("tea", serial as u64))
            .expect("room");
    }
    thread::scope(|s| {
        let waiters: Vec<_> = (0..dead)
            .map(|serial| {
                let doomed = &doomed;
                s.spawn(move || {
                    doomed.publish_timeout(producer, item("tea", 100 + serial), Duration::MAX)
                })
            })
            .collect();
        server.until_clients_wait(dead);
        proxy.sever();
        for waiter in waiters {
            let outcome = waiter.join().expect("the waiter");
            assert!(
                matches!(outcome, Err(PublishError::Connection(..))),
                "{outcome:?}"
            );
        }
    });
    let mut watch = server.connection();
    let waiting_key = format!("marketplace:{{{name}}}:waiting");
    let room_key = format!("marketplace:{{{name}}}:room:{}", producer.index());
    let registered: Option<u64> = redis::cmd("HGET")
        .arg(&waiting_key)
        .arg(producer.index())
        .query(&mut watch)
        .expect("HGET");
    assert_eq!(
        registered,
        Some(dead),
        "one registration left per dead waiter"
    );

    // Every place freed, nobody alive waiting: a token per dead registration at most.
    let cart = direct.new_cart().expect("cart");
    for _ in 0..capacity {
        direct.add_to_cart(cart, &any("tea")).expect("on sale");
    }
    let tokens = |watch: &mut redis::Connection| -> u64 {
        redis::cmd("LLEN")
            .arg(&room_key)
            .query(watch)
            .expect("LLEN")
    };
    assert_eq!(tokens(&mut watch), dead.min(capacity as u64));

    // Filled again, the producer keeps no token that could wake a publisher for nothing.
    for serial in 0..capacity {
        direct
            .publish(producer, item("tea", 200 + serial as u64))
            .expect("room");
    }
    assert_eq!(tokens(&mut watch), 0);

    // A live publisher waits, and the take that makes room wakes it.
    let outcome = thread::scope(|s| {
        let waiter = s.spawn(|| direct.publish_timeout(producer, item("tea", 300), Duration::MAX));
        server.until_a_client_waits();
        direct.add_to_cart(cart, &any("tea")).expect("on sale");
        waiter.join().expect("the waiter")
    });
    outcome.expect("woken by the take");
    assert_eq!(direct.shelf_len(producer).expect("shelf"), Some(capacity));
    let registered: Option<u64> = redis::cmd("HGET")
        .arg(&waiting_key)
        .arg(producer.index())
        .query(&mut watch)
        .expect("HGET");
    assert_eq!(registered, Some(dead), "the live waiter withdrew its own");
}

/// A server without persistence that restarts has lost the market: the handles that had
/// joined it answer that it is gone, and keep answering so once another process has
/// created a market of the same name, instead of acting on that one with their old ids.
#[test]
fn a_market_lost_with_the_server_stays_gone_for_its_old_handles() {
    keep_retry_warnings();
    let mut server = RedisServer::start();
    let old = RedisMarketplace::<Item>::connect(&server.url(), "lost", 2)
        .expect("the server is up")
        .with_retry_for(Duration::from_secs(5));
    let producer = old.register_producer().expect("register");
    let cart = old.new_cart().expect("new_cart");
    old.publish(producer, item("tea", 1)).expect("publish");
    server.restart();

    let gone = |error: &dyn std::error::Error| {
        let message = error.to_string();
        assert!(
            message.contains("market \"lost\" is gone from the server"),
            "{message}"
        );
    };
    match old.new_cart() {
        Err(error) => gone(&error),
        Ok(cart) => panic!("a lost market opened {cart}"),
    }

    // Another process creates the market anew: producer 0 and cart 0 exist again.
    let fresh =
        RedisMarketplace::<Item>::connect(&server.url(), "lost", 2).expect("the server is up");
    let again = fresh.register_producer().expect("register");
    let their_cart = fresh.new_cart().expect("new_cart");
    assert_eq!(
        (again.index(), their_cart.serial()),
        (producer.index(), cart.serial())
    );
    fresh.publish(again, item("tea", 2)).expect("publish");
    fresh.add_to_cart(their_cart, &any("tea")).expect("add");

    match old.publish(producer, item("tea", 3)) {
        Err(PublishError::Connection(_, error)) => gone(&error),
        other => panic!("an old producer id published into the new market: {other:?}"),
    }
    match old.place_order(cart) {
        Err(OrderError::Connection(error)) => gone(&error),
        other => panic!("an old cart id ordered the new market's cart: {other:?}"),
    }
    let stats = fresh.stats().expect("stats");
    assert_eq!(
        (
            stats.producers,
            stats.open_carts,
            stats.items_in_carts,
            stats.items_on_shelves
        ),
        (1, 1, 1, 0),
        "the new market is untouched by the old handle"
    );
    assert_eq!(fresh.place_order(their_cart).expect("order")[0].serial, 2);
}

/// With retries off, a call to a server that died returns `Connection` at once, with the
/// product of a publish and a message naming the operation and the server.
#[test]
fn without_retries_a_dead_server_is_a_connection_error() {
    let server = RedisServer::start();
    let address = format!("127.0.0.1:{}", server.port());
    let market = RedisMarketplace::<Item>::connect(&server.url(), "dead", 2)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    let cart = market.new_cart().expect("new_cart");
    drop(server);

    let started = Instant::now();
    match market.publish(producer, item("tea", 7)) {
        Err(PublishError::Connection(product, error)) => {
            assert_eq!(product.serial, 7, "the product comes back");
            assert_eq!(error.operation(), "publish");
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("publish on redis server {address}: ")),
                "{message}"
            );
        }
        other => panic!("publish to a dead server: {other:?}"),
    }
    match market.add_to_cart(cart, &any("tea")) {
        Err(AddError::Connection(error)) => {
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("add_to_cart on redis server {address}: ")),
                "{message}"
            );
        }
        other => panic!("add_to_cart on a dead server: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no retry was asked for, yet the calls took {:?}",
        started.elapsed()
    );
}

/// A pooled connection the server closed while it sat idle (its `timeout`, a `CLIENT KILL`)
/// breaks the next call sent on it, which the handle cannot tell from a break mid-call:
/// with retries off that call fails, though the server answers, as `with_retry_for` says;
/// a window longer than the first pause between tries retries it on a new connection, and
/// `close_within` such a window closes the market.
#[test]
fn a_connection_the_server_closed_while_idle_costs_one_retry() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Item>::connect(&server.url(), "idle-closed", 2)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    let close_idle = || {
        assert!(
            server.close_client_connections() > 0,
            "the handle's connection was open"
        );
    };
    close_idle();
    let outcome = market.publish(producer, item("tea", 1));
    assert!(
        matches!(outcome, Err(PublishError::Connection(..))),
        "{outcome:?}"
    );

    let window = Duration::from_secs(1);
    let market = market.with_retry_for(window);
    // The failed call's connection is gone; the handle opens another.
    assert_eq!(market.available(&any("tea")).expect("available"), 0);
    close_idle();
    market
        .publish(producer, item("tea", 2))
        .expect("a publish to a server that answers");
    close_idle();
    market
        .close_within(window)
        .expect("a close of a server that answers");
    assert!(market.is_closed().expect("is_closed"));
}

/// A waiting call names itself in its error, whichever of its steps failed: its tries run
/// the non-waiting operation's script, and the caller made the waiting call, not that one.
#[test]
fn a_waiting_call_on_a_dead_server_names_the_waiting_call() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Item>::connect(&server.url(), "dead-waits", 2)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    let cart = market.new_cart().expect("new_cart");
    drop(server);

    let wait = Duration::from_secs(1);
    let named = [
        match market.publish_timeout(producer, item("tea", 1), wait) {
            Err(PublishError::Connection(_, error)) => ("publish_timeout", error.operation()),
            other => panic!("publish_timeout on a dead server: {other:?}"),
        },
        match market.add_to_cart_timeout(cart, &any("tea"), wait) {
            Err(AddError::Connection(error)) => ("add_to_cart_timeout", error.operation()),
            other => panic!("add_to_cart_timeout on a dead server: {other:?}"),
        },
        match market.publish_many_timeout(producer, vec![item("tea", 2)], wait) {
            Err(PublishError::Connection(_, error)) => ("publish_many_timeout", error.operation()),
            other => panic!("publish_many_timeout on a dead server: {other:?}"),
        },
        match market
            .add_many_to_cart_timeout(cart, &any("tea"), 2, wait)
            .map_err(|e| e.into_error())
        {
            Err(AddError::Connection(error)) => ("add_many_to_cart_timeout", error.operation()),
            other => panic!("add_many_to_cart_timeout on a dead server: {other:?}"),
        },
    ];
    for (called, named) in named {
        assert_eq!(named, called, "the error of {called} names {named}");
    }
}

/// Through the contract trait, a publish that cannot reach the server gives the product
/// back with the failure, in both forms, as the inherent calls' `Connection` variant does.
#[test]
fn through_the_trait_a_publish_to_a_dead_server_gives_the_product_back() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Item>::connect(&server.url(), "dead-trait", 2)
        .expect("the server is up")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    drop(server);

    let failure =
        Market::try_publish(&market, producer, item("tea", 7)).expect_err("the server is gone");
    assert_eq!(failure.failure.operation(), "publish");
    assert_eq!(failure.into_product().serial, 7, "the product comes back");
    let failure =
        Market::try_publish_timeout(&market, producer, item("tea", 8), Duration::from_secs(1))
            .expect_err("the server is gone");
    assert!(
        failure
            .to_string()
            .starts_with("publish_timeout on redis server "),
        "{failure}"
    );
    assert_eq!(failure.product.serial, 8, "the product comes back");
}

/// `connect` to a port nobody listens on is `Unreachable` at once, naming the server.
#[test]
fn connect_to_a_closed_port_is_unreachable_at_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let started = Instant::now();
    match RedisMarketplace::<Item>::connect(&format!("redis://127.0.0.1:{port}"), "none", 2) {
        Err(ConnectError::Unreachable(error)) => {
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("connect on redis server 127.0.0.1:{port}: ")),
                "{message}"
            );
        }
        other => panic!("connect to a closed port: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused, yet connect took {:?}",
        started.elapsed()
    );
}

/// An IPv6 server is named as URLs write it, in brackets: `::1:6379` reads as a longer
/// address with no port.
#[test]
fn an_ipv6_server_is_named_in_brackets() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    };
    let port = listener
        .local_addr()
        .expect("a free IPv6 loopback port")
        .port();
    drop(listener);
    match RedisMarketplace::<Item>::connect(&format!("redis://[::1]:{port}"), "none", 2) {
        Err(ConnectError::Unreachable(error)) => {
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("connect on redis server [::1]:{port}: ")),
                "{message}"
            );
        }
        other => panic!("connect to a closed IPv6 port: {other:?}"),
    }
}

/// A server that answers with something other than Redis (here an HTTP error page) makes
/// `connect` fail with one line, naming the server: the client's parse error spans
/// several lines, and an error is told in one.
#[test]
fn connect_to_a_server_that_is_not_redis_fails_in_one_line() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let port = listener.local_addr().expect("its address").port();
    let server = thread::spawn(move || {
        // Answers every connection the handle makes until it gives up, then stops.
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { break };
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            let _ = stream.shutdown(Shutdown::Both);
        }
    });
    let outcome = RedisMarketplace::<Item>::connect(&format!("redis://127.0.0.1:{port}"), "m", 2);
    let message = match outcome {
        Err(error) => error.to_string(),
        Ok(_) => panic!("an HTTP server was taken for Redis"),
    };
    assert!(!message.contains('\n'), "{message:?}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    // Wake the accept loop if the handle made fewer connections than it takes.
    for _ in 0..8 {
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            break;
        }
    }
    server.join().expect("the fake server ends");
}

/// A server that takes connections but never answers (a host hung, or a port forwarded to
/// nothing) makes `connect` fail within its connect timeout, with one line that names the
/// server and says it did not answer, not the system's "Resource temporarily unavailable".
#[test]
fn connect_to_a_server_that_never_answers_says_so_in_bounded_time() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let port = listener.local_addr().expect("its address").port();
    // Takes every connection and holds it, silent, until the test process ends.
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            held.push(stream);
        }
    });
    let started = Instant::now();
    let outcome = RedisMarketplace::<Item>::connect(&format!("redis://127.0.0.1:{port}"), "m", 2);
    let took = started.elapsed();
    let message = match outcome {
        Err(ConnectError::Unreachable(error)) => error.to_string(),
        other => panic!("a silent server: {other:?}"),
    };
    assert!(
        message.starts_with(&format!("connect on redis server 127.0.0.1:{port}: ")),
        "{message}"
    );
    assert!(message.contains("no answer"), "{message}");
    assert!(!message.contains('\n'), "{message:?}");
    assert!(took < Duration::from_secs(15), "connect took {took:?}");
}

/// A server that stops answering mid-run but keeps its connections open (`kill -STOP`, a
/// hung host): a call fails with `no answer in time` once its reply is overdue (the
/// connection's 10 s read timeout) and the retry time has passed; a wait asleep on the
/// server fails the same way one read timeout later, since its pop must time out before its
/// operation is tried again. `--nocapture` prints both figures.
#[test]
fn a_server_that_stops_answering_fails_calls_and_waits_in_bounded_time() {
    // Room for a connect and a loaded machine besides the handle's read timeout.
    let reply = marketplace_redis::READ_TIMEOUT;
    let slack = Duration::from_secs(5);
    let server = RedisServer::start();
    let market = RedisMarketplace::<Item>::connect(&server.url(), "silent", 1).expect("up");
    let cart = market.new_cart().expect("new_cart");
    let (call, call_took, wait, wait_took) = thread::scope(|s| {
        let waiter = s.spawn(|| {
            let outcome = market.add_to_cart_timeout(cart, &any("tea"), Duration::MAX);
            (outcome, Instant::now())
        });
        server.until_a_client_waits();
        let _silenced = server.silence();
        let stopped = Instant::now();
        let call = market.stats();
        let call_took = stopped.elapsed();
        let (wait, ended) = waiter.join().expect("the waiter");
        (call, call_took, wait, ended - stopped)
    });
    println!(
        "after the server stopped: a call failed in {call_took:.1?}, a wait in {wait_took:.1?}"
    );
    let address = format!("127.0.0.1:{}", server.port());
    match call {
        Err(error) => assert_eq!(
            error.to_string(),
            format!("stats on redis server {address}: no answer in time")
        ),
        Ok(stats) => panic!("a stopped server answered {stats:?}"),
    }
    // The wait fails in the try that follows its pop, and names the call made.
    match wait {
        Err(AddError::Connection(error)) => assert_eq!(
            error.to_string(),
            format!("add_to_cart_timeout on redis server {address}: no answer in time")
        ),
        other => panic!("a wait on a stopped server: {other:?}"),
    }
    assert!(
        call_took < DEFAULT_RETRY_FOR + reply + slack,
        "{call_took:?}"
    );
    assert!(
        wait_took < DEFAULT_RETRY_FOR + 2 * reply + slack,
        "{wait_took:?}"
    );
}

/// Sets its flag when dropped: a test's fault thread stops even when the test fails.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Closes every client connection of `server` but the caller's, every `every`, until `stop`
/// is set.
fn keep_killing_clients(server: &RedisServer, every: Duration, stop: &AtomicBool) {
    let mut killer = server.connection();
    while !stop.load(Ordering::SeqCst) {
        let _: u64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .query(&mut killer)
            .expect("CLIENT KILL");
        // Pacing the faults, not ordering anything.
        thread::park_timeout(every);
    }
}

/// A wait whose connection the server keeps closing, while it answers every new one at
/// once, is not a server out of reach: the wait runs to its deadline. (Retrying the pop as
/// one call counted the rounds it had spent blocked against the retry bound, and failed
/// the wait with `Connection` after it.)
#[test]
fn a_wait_whose_connections_keep_breaking_runs_to_its_deadline() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Item>::connect(&server.url(), "kept-breaking", 1)
        .expect("the server is up")
        .with_retry_for(Duration::from_secs(1));
    let cart = market.new_cart().expect("new_cart");
    let stop = AtomicBool::new(false);
    let wait = Duration::from_secs(3);
    let (outcome, took) = thread::scope(|s| {
        s.spawn(|| keep_killing_clients(&server, Duration::from_millis(300), &stop));
        let _stop = SetOnDrop(&stop);
        let started = Instant::now();
        let outcome = market.add_to_cart_timeout(cart, &any("tea"), wait);
        (outcome, started.elapsed())
    });
    assert!(
        matches!(outcome, Err(AddError::Unavailable)),
        "after {took:?}: {outcome:?}"
    );
    assert!(took >= wait, "the wait ended after {took:?}");
}

/// The server's script cache flushed again and again: a call whose script was loaded and
/// then flushed before it ran (nothing ran) loads it again and goes on, instead of failing
/// with `Connection`.
#[test]
fn calls_go_on_while_the_script_cache_is_flushed() {
    let server = RedisServer::start();
    let market =
        RedisMarketplace::<Item>::connect(&server.url(), "flushed", 4).expect("the server is up");
    let producer = market.register_producer().expect("register");
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let mut flusher = server.connection();
            while !stop.load(Ordering::SeqCst) {
                let _: () = redis::cmd("SCRIPT")
                    .arg("FLUSH")
                    .query(&mut flusher)
                    .expect("SCRIPT FLUSH");
                // Pacing the faults, not ordering anything.
                thread::park_timeout(Duration::from_millis(1));
            }
        });
        let _stop = SetOnDrop(&stop);
        for serial in 0..100 {
            let cart = market.new_cart().expect("new_cart");
            market
                .publish(producer, item("tea", serial))
                .expect("publish");
            market.add_to_cart(cart, &any("tea")).expect("add_to_cart");
            let order = market.place_order(cart).expect("place_order");
            assert_eq!(order.len(), 1);
        }
    });
}

/// A server busy with a long script (another client's, or a huge batch of the market's
/// own) answers every other command `BUSY` until the script ends, having run none of them:
/// a call made meanwhile is retried as for a server that is starting, and goes through
/// once the script ends, instead of failing with `Connection` at once.
#[test]
fn a_call_made_while_the_server_runs_a_long_script_goes_through_after_it() {
    keep_retry_warnings();
    let server = RedisServer::start();
    let market =
        RedisMarketplace::<Item>::connect(&server.url(), "busy", 4).expect("the server is up");
    let producer = market.register_producer().expect("register");
    let mut watch = server.connection();
    // The server answers `BUSY` once a script has run this long (in ms), instead of 5 s.
    server.config_set("lua-time-limit", "50");
    let mut looping = server.connection();
    let script = thread::spawn(move || {
        redis::cmd("EVAL")
            .arg(&["while true do end", "0"])
            .query::<()>(&mut looping)
    });
    let started = Instant::now();
    while redis::cmd("PING").query::<String>(&mut watch).is_ok() {
        assert!(
            started.elapsed() < STUCK,
            "the script never made the server busy"
        );
        thread::yield_now();
    }
    let publish = thread::spawn(move || {
        let outcome = market.publish(producer, item("tea", 1));
        (market, outcome)
    });
    // The script ends once the publish has met the busy server, or has given up on it.
    while retries_on(server.port()).is_empty() && !publish.is_finished() {
        assert!(
            started.elapsed() < STUCK,
            "the publish neither retried nor ended"
        );
        thread::yield_now();
    }
    let _: () = redis::cmd("SCRIPT")
        .arg("KILL")
        .query(&mut watch)
        .expect("SCRIPT KILL");
    assert!(script.join().expect("the script's thread").is_err());
    let (market, outcome) = publish.join().expect("the publish's thread");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(market.available(&any("tea")).expect("available"), 1);
}

/// A handle dropped while the server is silent (`kill -STOP`, a hung host) after it had
/// closed the handle's connection (an idle `timeout`) opens one new connection to delete
/// its records, and gives up within its forget time: the kernel accepts the connection for
/// the stopped server, so only a deadline ends the wait for the connection's set-up.
#[test]
fn a_handle_dropped_on_a_silent_server_is_not_held_past_its_forget_time() {
    let server = RedisServer::start();
    let market = RedisMarketplace::<Item>::connect(&server.url(), "dropped-silent", 1).expect("up");
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 0)).expect("room");
    assert!(
        server.close_client_connections() > 0,
        "the handle's connection was open"
    );
    let _silenced = server.silence();
    drop_within_the_forget_time(market);
}

/// As above, for the other way a drop opens a new connection: an order failed and kept its
/// lane aside, with no connection open, and the server then went silent.
#[test]
fn a_handle_dropped_on_a_silent_server_after_a_failed_order_is_not_held_past_its_forget_time() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _) = an_order_of_one_tea_whose_answer_was_cut(&proxy, "failed-then-silent");
    let _silenced = server.silence();
    drop_within_the_forget_time(market);
}

/// As above, after a publish failed and kept its lane aside.
#[test]
fn a_handle_dropped_on_a_silent_server_after_a_failed_publish_is_not_held_past_its_forget_time() {
    let server = RedisServer::start();
    let proxy = CuttingProxy::start(server.port());
    let (market, _, _) = a_publish_of_one_tea_whose_answer_was_cut(&proxy, "publish-then-silent");
    let _silenced = server.silence();
    drop_within_the_forget_time(market);
}

/// Drops `market` and checks that the drop returned within its forget time.
fn drop_within_the_forget_time(market: RedisMarketplace<Item>) {
    let started = Instant::now();
    drop(market);
    let took = started.elapsed();
    // Half a forget time of room for a loaded machine: a wait of the forget time for each of
    // a new connection's two set-up replies, or an answer trickled in over twice that time,
    // would take at least twice that time.
    assert!(
        took < FORGET_TIMEOUT + FORGET_TIMEOUT / 2,
        "the drop took {took:?}, its forget time is {FORGET_TIMEOUT:?}"
    );
}

/// A connect to a silent server (`kill -STOP`: the kernel accepts the connection, nobody
/// answers) fails as unreachable within the connect time, not that time once for each
/// reply the connection's set-up waits for.
#[test]
fn a_connect_to_a_silent_server_fails_within_the_connect_time() {
    let server = RedisServer::start();
    let _silenced = server.silence();
    let started = Instant::now();
    let outcome = RedisMarketplace::<Item>::connect(&server.url(), "silent-connect", 1);
    let took = started.elapsed();
    assert!(
        matches!(outcome, Err(ConnectError::Unreachable(_))),
        "{outcome:?}"
    );
    // Half a connect time of room for a loaded machine: a wait of the connect time for each
    // of the set-up's two replies would take twice that time.
    assert!(
        took < CONNECT_TIMEOUT + CONNECT_TIMEOUT / 2,
        "the connect took {took:?}, its connect time is {CONNECT_TIMEOUT:?}"
    );
}

/// A TCP proxy in front of a server that, once `slow` is set, passes the server's answers
/// on one byte at a time, each after `pause`: a server that answers, too slowly for any
/// deadline, without ever leaving a read idle for a socket's timeout.
fn start_trickling_proxy(upstream: u16, slow: Arc<AtomicBool>, pause: Duration) -> u16 {
    start_relay(upstream, move |client, server| {
        let (client_in, server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || pump(client_in, server_out, None));
        let slow = Arc::clone(&slow);
        thread::spawn(move || {
            let (mut from, mut to) = (server, client);
            let mut buffer = [0u8; 16 * 1024];
            while let Ok(n @ 1..) = from.read(&mut buffer) {
                for byte in &buffer[..n] {
                    if slow.load(Ordering::SeqCst) {
                        // Pacing the fault, not ordering anything.
                        thread::sleep(pause);
                    }
                    if to.write_all(std::slice::from_ref(byte)).is_err() {
                        return;
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Both);
        });
    })
}

/// A handle dropped while its server trickles its answers (each byte well within a socket's
/// timeout, the whole answer past the forget time) returns within its forget time.
#[test]
fn a_handle_dropped_on_a_trickling_server_is_not_held_past_its_forget_time() {
    let server = RedisServer::start();
    let slow = Arc::new(AtomicBool::new(false));
    let port = start_trickling_proxy(server.port(), Arc::clone(&slow), FORGET_TIMEOUT / 2);
    let market = RedisMarketplace::<Item>::connect(
        &format!("redis://127.0.0.1:{port}"),
        "dropped-trickling",
        1,
    )
    .expect("up");
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 0)).expect("room");
    slow.store(true, Ordering::SeqCst);
    drop_within_the_forget_time(market);
}

/// An ordinary call whose server trickles its answer, a byte at a time and each byte well
/// within the read timeout, is held past `READ_TIMEOUT` for as long as the answer takes,
/// and then answers as it would have: the read timeout bounds each silence of the server,
/// not a whole answer. `--nocapture` prints how long the call took.
#[test]
fn a_server_trickling_its_answer_holds_a_call_past_the_read_timeout_until_it_is_whole() {
    let server = RedisServer::start();
    let slow = Arc::new(AtomicBool::new(false));
    let pause = READ_TIMEOUT / 4;
    let port = start_trickling_proxy(server.port(), Arc::clone(&slow), pause);
    let market =
        RedisMarketplace::<Item>::connect(&format!("redis://127.0.0.1:{port}"), "trickled", 1)
            .expect("up");
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 7)).expect("room");
    let cart = market.new_cart().expect("new_cart");
    market.add_to_cart(cart, &any("tea")).expect("on sale");
    let (sender, receiver) = mpsc::channel();
    thread::scope(|s| {
        slow.store(true, Ordering::SeqCst);
        s.spawn(|| {
            let started = Instant::now();
            let order = market.place_order(cart);
            let _ = sender.send((order, started.elapsed()));
        });
        // The bound under test: a call still held this long is held past its read timeout.
        let held = receiver.recv_timeout(READ_TIMEOUT + pause);
        // Whatever the outcome, the rest of the answer goes through at once.
        slow.store(false, Ordering::SeqCst);
        let (order, took) = match held {
            Ok(ended) => panic!("the order ended within its read timeout: {ended:?}"),
            Err(_) => receiver
                .recv()
                .expect("the call ends once the answer flows"),
        };
        println!("an order whose answer trickled in took {took:.1?}");
        assert_eq!(order.expect("the order"), [item("tea", 7)]);
        assert!(took > READ_TIMEOUT, "{took:?}");
    });
}

/// A server at its `maxclients` takes a new connection only to say why it refuses it and
/// close it. That is a passing state (a client leaving frees a place), so a call needing a
/// new connection is retried within its window, as for a server restarting, and then fails
/// naming the limit; a connect, which is not retried, fails at once naming it. A place freed
/// lets the next call through.
#[test]
fn a_server_at_its_client_limit_is_named_and_retried_within_the_window() {
    let server = RedisServer::start();
    let window = Duration::from_millis(300);
    let market = RedisMarketplace::<Item>::connect(&server.url(), "full", 1)
        .expect("connect")
        .with_retry_for(window);
    let producer = market.register_producer().expect("register");
    let cart = market.new_cart().expect("cart");
    // The market's one connection and this one fill the server.
    server.config_set("maxclients", "2");
    let mut squatter = server.connection();
    let started = Instant::now();
    match RedisMarketplace::<Item>::connect(&server.url(), "full", 1) {
        Err(error @ ConnectError::Unreachable(_)) => {
            assert!(
                error.to_string().contains("max number of clients"),
                "{error}"
            );
        }
        other => panic!(
            "a connect to a full server: {:?}",
            other.map(|_| "a handle")
        ),
    }
    assert!(
        started.elapsed() < CONNECT_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
    thread::scope(|scope| {
        // The wait holds the market's connection, so the publish needs a new one.
        let waiter = scope
            .spawn(|| market.add_to_cart_timeout(cart, &item("tea", 0), Duration::from_secs(60)));
        let deadline = Instant::now() + STUCK;
        while marketplace_harness::redis_server::blocked_clients(&mut squatter) == 0 {
            assert!(Instant::now() < deadline, "the waiter never blocked");
            thread::yield_now();
        }
        keep_retry_warnings();
        match market.publish(producer, item("tea", 1)) {
            Err(PublishError::Connection(_, error)) => {
                assert!(
                    error.to_string().contains("max number of clients"),
                    "{error}"
                );
            }
            other => panic!("a publish to a full server: {other:?}"),
        }
        let retries = retries_on(server.port());
        assert!(
            retries.iter().any(|line| line.starts_with("publish")),
            "the publish was not retried: {retries:?}"
        );
        drop(squatter);
        market
            .publish(producer, item("tea", 1))
            .expect("a place freed lets the publish through");
        waiter
            .join()
            .expect("the waiter does not panic")
            .expect("the waiter takes the item");
    });
}

/// Redis in protected mode takes a connection from another host only to write why it
/// refuses it, in one line of about a thousand characters, and close it: the error tells
/// the whole line. Played by a stand-in on loopback (Redis refuses only remote clients so).
#[test]
fn a_long_refusal_written_on_accept_is_told_whole() {
    let reason = format!(
        "DENIED Redis is running in protected mode because protected mode is enabled{} \
         and no password is set for the default user.",
        ", and so on".repeat(80)
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    let greeting = format!("-{reason}\r\n");
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(greeting.as_bytes());
            let _ = stream.shutdown(Shutdown::Both);
        }
    });
    match RedisMarketplace::<Item>::connect(&format!("redis://127.0.0.1:{port}"), "denied", 1) {
        Err(error @ ConnectError::Unreachable(_)) => {
            let text = error.to_string();
            assert!(text.ends_with(&reason), "{text}");
            assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
        other => panic!("a refusing server: {:?}", other.map(|_| "a handle")),
    }
}

/// A server at its `maxclients` over a Unix socket refuses a connection as over TCP, and
/// the error tells its reason too. Played by a stand-in in a temporary directory.
#[cfg(unix)]
#[test]
fn a_refusal_over_a_unix_socket_is_told() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("full.sock");
    let listener = UnixListener::bind(&path).expect("a Unix socket");
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
        }
    });
    let url = format!("redis+unix://{}", path.display());
    match RedisMarketplace::<Item>::connect(&url, "full", 1) {
        Err(error @ ConnectError::Unreachable(_)) => {
            let text = error.to_string();
            assert!(text.contains("max number of clients reached"), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
        other => panic!("a refusing server: {:?}", other.map(|_| "a handle")),
    }
}
