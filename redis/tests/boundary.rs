//! The Redis market at its boundary: malformed URLs and query parameters the client would
//! ignore, unreachable servers and servers that are not Redis, a refused login or database,
//! a server that may evict any key, a replica, a login denied a command the market runs (on any of its
//! kinds of key) or the `KEYS` of its delete, invalid names and capacities, a server lost
//! mid-run, foreign data under a market's prefix, markets side by side on one server, and a
//! RESP3 URL. Each must give an error variant, never a panic.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use marketplace_contract::Market;
use marketplace_harness::redis_server::{RedisServer, free_port, fresh_market_name, shared_server};
use marketplace_redis::{
    AddError, ConnectError, MAX_CAPACITY, OrderError, PublishError, RedisMarketplace, RemoveError,
};
use support::{Item, item};

/// Runs `f`, failing the test with `what` if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(_) => panic!("{what} panicked"),
    }
}

fn connect(url: &str, name: &str, capacity: usize) -> Result<RedisMarketplace<Item>, ConnectError> {
    no_panic(&format!("connect({url:?}, {name:?}, {capacity})"), || {
        RedisMarketplace::<Item>::connect(url, name, capacity)
    })
}

/// Makes ACL user `user` afresh (`reset`), with password `sesame` and `rules`, and gives
/// the URL that logs in as it on `server`.
fn login(
    server: &RedisServer,
    watch: &mut redis::Connection,
    user: &str,
    rules: &[impl AsRef<str>],
) -> String {
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", user, "reset", "on", ">sesame"])
        .arg(rules.iter().map(AsRef::as_ref).collect::<Vec<&str>>())
        .query(watch)
        .expect("ACL SETUSER");
    format!("redis://{user}:sesame@127.0.0.1:{}", server.port())
}

/// A server whose default login needs the password `sesame`, and a connection logged in
/// with it, to set up other logins.
fn server_with_password() -> (RedisServer, redis::Connection) {
    let server = RedisServer::start();
    server.config_set("requirepass", "sesame");
    let watch = redis::Client::open(format!("redis://:sesame@127.0.0.1:{}", server.port()))
        .expect("url")
        .get_connection()
        .expect("the password");
    (server, watch)
}

/// The rules of a login that may run anything but the `@dangerous` commands.
const NOT_DANGEROUS: [&str; 4] = ["~*", "&*", "+@all", "-@dangerous"];

#[test]
fn malformed_urls_are_invalid_urls() {
    let port = free_port();
    for url in [
        "".to_owned(),
        "127.0.0.1:6379".to_owned(),
        "localhost".to_owned(),
        "http://127.0.0.1:6379".to_owned(),
        "redis://".to_owned(),
        "redis://:".to_owned(),
        "redis://127.0.0.1:notaport".to_owned(),
        "redis://127.0.0.1:99999".to_owned(),
        "redis://[::1".to_owned(),
        format!("redis://127.0.0.1:{port}/notadb"),
        "rediss://127.0.0.1:6379".to_owned(),
        "redis+unix:///nonexistent.sock".to_owned(),
        "unix:///nonexistent.sock".to_owned(),
        "redis://\0".to_owned(),
        "redis:// 127.0.0.1".to_owned(),
        "redis://user:secret@[bad/0".to_owned(),
    ] {
        match connect(&url, "m", 1) {
            Err(ConnectError::InvalidUrl(detail)) => {
                assert!(
                    !detail.contains("secret"),
                    "{url:?}: the password shows: {detail}"
                );
                assert!(!detail.contains('\n'), "{url:?}: {detail}");
            }
            // A unix socket URL may parse (the feature decides); then it must be
            // unreachable, not a panic.
            Err(ConnectError::Unreachable(error)) if url.contains("unix") => {
                assert!(!error.to_string().is_empty());
            }
            other => panic!("{url:?}: {:?}", other.map(|_| "a handle")),
        }
    }
}

/// The client reads no database, user or password from the query of a TCP URL, only
/// `protocol`: `redis://HOST:PORT?db=2` would use database 0, where another program's
/// keys may be. Such a URL is refused, naming the parameter and where a database goes.
#[test]
fn query_parameters_the_client_ignores_are_refused() {
    let server = shared_server();
    let address = format!("127.0.0.1:{}", server.port());
    for query in [
        "db=2",
        "password=secret",
        "pass=secret",
        "user=u",
        "protocol=resp2&db=1",
    ] {
        let url = format!("redis://{address}/?{query}");
        match connect(&url, &fresh_market_name("query"), 1) {
            Err(ConnectError::InvalidUrl(detail)) => {
                assert!(detail.contains("redis://HOST:PORT/DB"), "{url}: {detail}");
                assert!(
                    !detail.contains("secret"),
                    "{url}: the password shows: {detail}"
                );
            }
            other => panic!("{url}: {:?}", other.map(|_| "a handle on database 0")),
        }
    }
    let market = connect(
        &format!("redis://{address}/0?protocol=resp2"),
        &fresh_market_name("query"),
        1,
    )
    .expect("protocol is read from the query");
    market.delete().expect("delete");
}

#[test]
fn unreachable_and_foreign_servers_are_unreachable() {
    // Nobody listens.
    let port = free_port();
    let url = format!("redis://user:secret@127.0.0.1:{port}");
    match connect(&url, "m", 1) {
        Err(ConnectError::Unreachable(error)) => {
            let text = error.to_string();
            assert!(!text.contains("secret"), "{text}");
            assert!(text.contains(&port.to_string()), "{text}");
        }
        other => panic!("{:?}", other.map(|_| "a handle")),
    }

    // A server that is not Redis: one that closes at once, one that answers HTTP.
    for answer in [
        &b""[..],
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            // Serve a few connections (the client may retry or reconnect).
            listener.set_nonblocking(false).expect("blocking");
            for stream in listener.incoming().take(4) {
                let Ok(mut stream) = stream else { break };
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buffer = [0u8; 512];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(answer);
            }
        });
        match connect(&format!("redis://127.0.0.1:{port}"), "m", 1) {
            Err(ConnectError::Unreachable(error)) => {
                assert!(!error.to_string().contains('\n'), "{error}");
            }
            other => panic!("{answer:?}: {:?}", other.map(|_| "a handle")),
        }
        // Let the serving thread end: connect to it until it stops taking connections.
        for _ in 0..4 {
            let _ = std::net::TcpStream::connect(("127.0.0.1", port));
        }
        let _ = server.join();
    }

    // A server lost after connecting: every call reports its connection failure.
    let mut server = Some(RedisServer::start());
    let url = server.as_ref().unwrap().url();
    let market = connect(&url, "lost", 1)
        .expect("connect")
        .with_retry_for(Duration::ZERO);
    let producer = market.register_producer().expect("register");
    let cart = market.new_cart().expect("new_cart");
    drop(server.take());
    let tea = item("tea", 1);
    no_panic("calls on a lost server", || {
        assert!(market.register_producer().is_err());
        assert!(market.new_cart().is_err());
        assert!(matches!(
            market.publish(producer, tea.clone()),
            Err(PublishError::Connection(..))
        ));
        assert!(matches!(
            market.publish_timeout(producer, tea.clone(), Duration::from_millis(50)),
            Err(PublishError::Connection(..))
        ));
        assert!(matches!(
            market.publish_many(producer, vec![tea.clone()]),
            Err(PublishError::Connection(..))
        ));
        assert!(matches!(
            market.add_to_cart(cart, &tea),
            Err(AddError::Connection(_))
        ));
        assert!(matches!(
            market.add_to_cart_timeout(cart, &tea, Duration::from_millis(50)),
            Err(AddError::Connection(_))
        ));
        assert!(matches!(
            market.add_many_to_cart(cart, &tea, 2),
            Err(AddError::Connection(_))
        ));
        assert!(matches!(
            market.remove_from_cart(cart, &tea),
            Err(RemoveError::Connection(_))
        ));
        assert!(matches!(
            market.place_order(cart),
            Err(OrderError::Connection(_))
        ));
        assert!(market.stats().is_err());
        assert!(market.shelf_len(producer).is_err());
        assert!(market.available(&tea).is_err());
        assert!(market.close().is_err());
        // The trait's failure.
        assert!(Market::try_publish(&market, producer, tea.clone()).is_err());
    });
}

/// A server that answers but refuses the login (no password, a wrong one, an unknown user,
/// a user switched `off`, one without permission to run anything) gives `Denied`, and one
/// that refuses the database number gives `Unreachable`, each with the server's reason, in
/// one line and without the password.
#[test]
fn a_refused_login_is_denied_and_a_refused_database_unreachable_with_the_reason() {
    let (server, mut watch) = server_with_password();
    let port = server.port();
    let off = login(&server, &mut watch, "off", &["off", "~*", "+@all"]);
    let powerless = login(&server, &mut watch, "powerless", &["~*", "-@all"]);
    for (url, reason) in [
        (format!("redis://127.0.0.1:{port}"), "NOAUTH"),
        (
            format!("redis://:secret@127.0.0.1:{port}"),
            "authentication failed",
        ),
        (
            format!("redis://bob:secret@127.0.0.1:{port}"),
            "authentication failed",
        ),
        (off, "authentication failed"),
        (powerless, "NOPERM"),
    ] {
        match connect(&url, "m", 1) {
            Err(error @ ConnectError::Denied(_)) => {
                let text = error.to_string();
                assert!(text.contains(reason), "{url}: {text}");
                assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
                assert!(
                    !text.contains("secret") && !text.contains("sesame"),
                    "{text}"
                );
                assert!(!text.contains('\n'), "{text}");
            }
            other => panic!("{url}: {:?}", other.map(|_| "a handle")),
        }
    }
    match connect(&format!("redis://:sesame@127.0.0.1:{port}/16"), "m", 1) {
        Err(ConnectError::Unreachable(error)) => {
            let text = error.to_string();
            assert!(text.contains("out of range"), "{text}");
            assert!(!text.contains("sesame"), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
        other => panic!("database 16: {:?}", other.map(|_| "a handle")),
    }
    connect(&format!("redis://:sesame@127.0.0.1:{port}/15"), "m", 1).expect("the password");
}

/// A login refused at the client's set-up, before the market asks anything, is `Denied`
/// too: with a database in the URL the set-up's `SELECT` is the first command, and the
/// server refuses it for want of a password (`NOAUTH`) or for the login's ACL (`NOPERM`),
/// which the client tells without the code: the reason's text says it.
#[test]
fn a_login_refused_at_its_database_selection_is_denied() {
    let (server, mut watch) = server_with_password();
    let port = server.port();
    let unselecting = login(
        &server,
        &mut watch,
        "unselecting",
        &["~*", "+@all", "-select"],
    );
    for (url, reason) in [
        (
            format!("redis://127.0.0.1:{port}/1"),
            "Authentication required",
        ),
        (format!("{unselecting}/1"), "no permissions"),
    ] {
        match connect(&url, "m", 1) {
            Err(error @ ConnectError::Denied(_)) => {
                let text = error.to_string();
                assert!(text.contains(reason), "{url}: {text}");
                assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
                assert!(!text.contains("sesame"), "{text}");
                assert!(!text.contains('\n'), "{text}");
            }
            other => panic!("{url}: {:?}", other.map(|_| "a handle")),
        }
    }
}

/// A server that may evict any key under memory pressure (a memory limit and an
/// `allkeys-*` policy) would delete a market's items, carts and records without a word:
/// connect refuses it, naming the policy, while a server without a limit, or one that only
/// evicts keys with an expiry (no market key has one), is taken.
#[test]
fn a_server_that_may_evict_any_key_is_refused() {
    let server = RedisServer::start();
    server.config_set("maxmemory-policy", "allkeys-lru");
    server.config_set("maxmemory", "100mb");
    match connect(&server.url(), "evicted", 1) {
        Err(error @ ConnectError::Evicting { .. }) => {
            assert!(error.to_string().contains("allkeys-lru"), "{error}");
        }
        other => panic!("{:?}", other.map(|_| "a handle")),
    }
    server.config_set("maxmemory", "0");
    connect(&server.url(), "evicted", 1).expect("no memory limit, no eviction");
    server.config_set("maxmemory", "100mb");
    server.config_set("maxmemory-policy", "volatile-lru");
    connect(&server.url(), "evicted", 1).expect("only keys with an expiry are evicted");
}

/// The check's limit: a login that may not run `INFO` (an ACL without `@dangerous`, a
/// renamed `INFO`) cannot tell the policy, and its market is made unchecked, as the docs
/// say; the same server is refused to a login that may ask.
#[test]
fn a_login_denied_info_is_taken_unchecked_for_eviction() {
    let server = RedisServer::start();
    server.config_set("maxmemory-policy", "allkeys-lru");
    server.config_set("maxmemory", "100mb");
    let mut watch = server.connection();
    let url = login(&server, &mut watch, "shop", &NOT_DANGEROUS);
    let denied = redis::cmd("INFO")
        .arg("memory")
        .query::<String>(
            &mut redis::Client::open(url.as_str())
                .expect("url")
                .get_connection()
                .expect("the user logs in"),
        )
        .expect_err("INFO denied");
    assert_eq!(denied.code(), Some("NOPERM"), "{denied}");
    connect(&url, "unchecked", 1).expect("the user cannot tell, and is taken");
    assert!(
        matches!(
            connect(&server.url(), "unchecked", 1),
            Err(ConnectError::Evicting { .. })
        ),
        "a login that may ask is refused"
    );
}

/// A replica's writes are not its master's: a read-only replica refuses every call that
/// writes, and a writable one (`replica-read-only no`) keeps what the calls write from the
/// master's handles and drops it at its next sync, so a publish there answered `Ok` with its
/// item on sale to nobody else. Connect refuses a replica, either way, naming its master;
/// a login that may not run `INFO` cannot tell, and is taken, as the docs say.
#[test]
fn a_replica_is_refused_at_connect() {
    let master = RedisServer::start();
    let replica = RedisServer::start();
    let on_master = connect(&master.url(), "copied", 1).expect("the master");
    // The copy goes through the socket at once, and neither server writes a file where the
    // test runs.
    master.config_set("repl-diskless-sync", "yes");
    master.config_set("repl-diskless-sync-delay", "0");
    replica.config_set("repl-diskless-load", "on-empty-db");
    replica.config_set("replica-read-only", "no");
    let mut watch = replica.connection();
    let master_address = format!("127.0.0.1:{}", master.port());
    let _: () = redis::cmd("REPLICAOF")
        .arg(&["127.0.0.1", &master.port().to_string()])
        .query(&mut watch)
        .expect("REPLICAOF");
    until_in_sync(&mut watch);
    for read_only in ["no", "yes"] {
        replica.config_set("replica-read-only", read_only);
        match connect(&replica.url(), "copied", 1) {
            Err(error @ ConnectError::Replica { .. }) => {
                let text = error.to_string();
                assert!(
                    text.contains(&format!("replica of {master_address}")),
                    "{text}"
                );
            }
            Err(other) => panic!("a replica (read-only {read_only}) refused as {other:?}"),
            Ok(market) => {
                let published = market
                    .register_producer()
                    .map(|producer| market.publish(producer, item("tea", 1)));
                panic!(
                    "a replica (read-only {read_only}) was taken: a publish there answered \
                     {published:?}, and the master has {:?} on sale",
                    on_master.available(&item("tea", 0))
                );
            }
        }
    }
    // The check's limit, as for eviction: a login that may not run `INFO` cannot tell it
    // is on a replica, and a writable one takes its market unchecked.
    replica.config_set("replica-read-only", "no");
    let url = login(&replica, &mut watch, "shop", &NOT_DANGEROUS);
    connect(&url, "copied", 1).expect("the user cannot tell, and is taken");
}

/// A replica that may also evict is refused as a replica: writes going to the wrong server
/// is the more fundamental refusal, and the one to fix first (its master is a port nobody
/// listens on, so the role is the replica's own at once).
#[test]
fn an_evicting_replica_is_refused_as_a_replica() {
    let replica = RedisServer::start();
    replica.config_set("maxmemory-policy", "allkeys-lru");
    replica.config_set("maxmemory", "100mb");
    let master_port = free_port().to_string();
    let _: () = redis::cmd("REPLICAOF")
        .arg(&["127.0.0.1", &master_port])
        .query(&mut replica.connection())
        .expect("REPLICAOF");
    match connect(&replica.url(), "evicting-replica", 1) {
        Err(error @ ConnectError::Replica { .. }) => {
            let text = error.to_string();
            assert!(
                text.contains(&format!("replica of 127.0.0.1:{master_port}")),
                "{text}"
            );
        }
        other => panic!(
            "an evicting replica refused as {:?}",
            other.map(|_| "a handle")
        ),
    }
}

/// A login allowed only the sections of `INFO` the checks read (its ACL's
/// `+info|memory`, `+info|replication`), not the plain `INFO`, is still checked: a server
/// that may evict is refused to it, and so is a replica.
#[test]
fn a_login_allowed_only_the_info_sections_checked_is_checked() {
    let server = RedisServer::start();
    server.config_set("maxmemory-policy", "allkeys-lru");
    server.config_set("maxmemory", "100mb");
    let mut watch = server.connection();
    let sections = ["+info|memory", "+info|replication"];
    let url = login(
        &server,
        &mut watch,
        "shop",
        &[&NOT_DANGEROUS[..], &sections].concat(),
    );
    match connect(&url, "sections", 1) {
        Err(ConnectError::Evicting { policy }) => assert_eq!(policy, "allkeys-lru"),
        other => panic!("an evicting server: {:?}", other.map(|_| "a handle")),
    }
    let master_port = free_port().to_string();
    let _: () = redis::cmd("REPLICAOF")
        .arg(&["127.0.0.1", &master_port])
        .query(&mut watch)
        .expect("REPLICAOF");
    match connect(&url, "sections", 1) {
        Err(error @ ConnectError::Replica { .. }) => assert!(
            error
                .to_string()
                .contains(&format!("replica of 127.0.0.1:{master_port}")),
            "{error}"
        ),
        other => panic!("a replica: {:?}", other.map(|_| "a handle")),
    }
}

/// Connect's two checks (replica, eviction) read one `INFO` reply: a connect asks the
/// server `INFO` once, counted by the server's own command statistics on a fresh server
/// (the `INFO commandstats` that reads them is counted only after it answers).
#[test]
fn a_connect_asks_info_once() {
    let server = RedisServer::start();
    connect(&server.url(), "asked-once", 1).expect("a plain server");
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut server.connection())
        .expect("INFO commandstats");
    let calls = stats
        .lines()
        .find_map(|line| line.trim().strip_prefix("cmdstat_info:calls="))
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no INFO counted: {stats}"));
    assert_eq!(calls, "1", "{stats}");
}

/// The check's other limit: a server made a replica after the connect is not watched. A
/// read-only one (Redis's default) fails a waiting call and each call that writes with the
/// server's reason, as the docs say; a writable one would take the writes from its master.
#[test]
fn a_server_made_a_replica_after_connect_fails_its_writes() {
    let server = RedisServer::start();
    let new_master = RedisServer::start();
    let market = connect(&server.url(), "demoted", 1).expect("a master");
    let producer = market.register_producer().expect("a producer");
    let cart = market.new_cart().expect("a cart");
    std::thread::scope(|scope| {
        let waiter = scope
            .spawn(|| market.add_to_cart_timeout(cart, &item("tea", 0), Duration::from_secs(60)));
        server.until_a_client_waits();
        let _: () = redis::cmd("REPLICAOF")
            .arg(&["127.0.0.1", &new_master.port().to_string()])
            .query(&mut server.connection())
            .expect("REPLICAOF");
        match waiter.join().expect("the waiter does not panic") {
            Err(AddError::Connection(error)) => {
                assert!(error.to_string().contains("replica"), "{error}");
            }
            other => panic!("a wait on a server made a replica ended as {other:?}"),
        }
    });
    match market.publish(producer, item("tea", 1)) {
        Err(PublishError::Connection(_, error)) => {
            assert!(error.to_string().contains("replica"), "{error}");
        }
        other => panic!("a publish to a server made a replica answered {other:?}"),
    }
}

/// Returns once the replica `watch` is connected to has its master's data.
fn until_in_sync(watch: &mut redis::Connection) {
    let started = std::time::Instant::now();
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(watch)
            .expect("INFO");
        if info
            .lines()
            .any(|line| line.trim() == "master_link_status:up")
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica did not sync within 30 s: {info}"
        );
        std::thread::yield_now();
    }
}

/// A login whose ACL denies a command the market's scripts call after their first writes
/// (`LPUSH`, say) would fail such a script midway: Redis keeps what it wrote, so a publish
/// would put its item on sale and give it back to its caller in the error, and a retry by
/// the caller would sell it twice. Connect refuses such a login, naming the command, for
/// each command the market runs, and takes one that may run them all.
#[test]
fn a_login_denied_a_command_of_the_market_is_refused_at_connect() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    for command in [
        "BLPOP",
        "DEL",
        "EXISTS",
        "HDEL",
        "HGET",
        "HINCRBY",
        "HMGET",
        "HSET",
        "HSETNX",
        "LLEN",
        "LPOP",
        "LPUSH",
        "LRANGE",
        "LREM",
        "LSET",
        "LTRIM",
        "RPUSH",
        "SADD",
        "SCARD",
        "SISMEMBER",
        "SREM",
    ] {
        let user = format!("no-{}", command.to_lowercase());
        let denied = format!("-{}", command.to_lowercase());
        let url = login(&server, &mut watch, &user, &["~*", "&*", "+@all", &denied]);
        match connect(&url, &fresh_market_name("denied"), 2) {
            Err(ConnectError::Denied(error)) => {
                let text = error.to_string();
                assert!(text.contains(command), "{user}: {text}");
                assert!(!text.contains('\n') && !text.contains("sesame"), "{text}");
            }
            other => panic!("{user}: {:?}", other.map(|_| "a handle")),
        }
    }
    let url = login(&server, &mut watch, "shop", &["~*", "&*", "+@all"]);
    connect(&url, &fresh_market_name("allowed"), 2).expect("a login that may run every command");
}

/// Each kind of key the market uses, as the ACL key pattern that allows it in market `name`
/// (`name` has no character special to a pattern): a command is run on several kinds, and
/// an ACL may allow one kind and not another.
fn key_patterns(name: &str) -> Vec<(&'static str, String)> {
    [
        "meta", "ops", "shelf", "waiting", "claims", "open", "closing", "q:*", "bell:*", "room:*",
        "cart:*", "tally:*",
    ]
    .into_iter()
    .map(|kind| (kind, format!("marketplace:{{{name}}}:{kind}")))
    .collect()
}

/// A login may be allowed every command on some of the market's keys and not on others (an
/// ACL key pattern per kind of key, or one that lets it read a kind and not write it): one
/// denied the doorbells, say, would fail a publish at its ring, with the item already on
/// sale. Connect refuses a login denied any kind of key, in full or for writes, naming it;
/// a login allowed exactly the market's keys is taken, and runs every operation.
#[test]
fn a_login_denied_a_kind_of_the_market_s_keys_is_refused_at_connect() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    let name = fresh_market_name("kinds");
    let patterns = key_patterns(&name);
    for (denied, _) in &patterns {
        let others: Vec<String> = patterns
            .iter()
            .filter(|(kind, _)| kind != denied)
            .map(|(_, pattern)| format!("~{pattern}"))
            .chain(["+@all".to_owned()])
            .collect();
        let read_only: Vec<String> = others.iter().cloned().chain(["%R~*".to_owned()]).collect();
        for (mode, rules) in [("denied", others), ("read-only", read_only)] {
            let url = login(&server, &mut watch, "some-keys", &rules);
            match connect(&url, &name, 2) {
                Err(ConnectError::Denied(error)) => {
                    let text = error.to_string();
                    // The server itself refuses a script on a `meta` the login may not
                    // write, before it runs.
                    let named = text.contains(denied.trim_end_matches('*'))
                        || (*denied == "meta" && text.contains("NOPERM"));
                    assert!(named, "{mode} {denied}: {text}");
                    assert!(!text.contains('\n') && !text.contains("sesame"), "{text}");
                }
                other => panic!("{mode} {denied}: {:?}", other.map(|_| "a handle")),
            }
        }
    }
    let all: Vec<String> = patterns
        .iter()
        .map(|(_, p)| format!("~{p}"))
        .chain(["+@all".to_owned()])
        .collect();
    let url = login(&server, &mut watch, "market-keys", &all);
    let market = connect(&url, &name, 1)
        .expect("a login allowed the market's keys")
        .with_retry_for(Duration::ZERO);
    let waited = Duration::from_millis(20);
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 1)).expect("publish");
    assert!(matches!(
        market.publish_timeout(producer, item("tea", 2), waited),
        Err(PublishError::Full(_))
    ));
    let cart = market.new_cart().expect("new_cart");
    assert!(matches!(
        market.add_to_cart_timeout(cart, &item("milk", 0), waited),
        Err(AddError::Unavailable)
    ));
    market.add_to_cart(cart, &item("tea", 0)).expect("add");
    market
        .remove_from_cart(cart, &item("tea", 0))
        .expect("remove");
    market
        .add_many_to_cart(cart, &item("tea", 0), 2)
        .expect("add_many");
    market
        .publish_many(producer, vec![item("tea", 3)])
        .expect("publish_many");
    assert_eq!(market.place_order(cart).expect("order"), [item("tea", 1)]);
    assert_eq!(market.available(&item("tea", 0)).expect("available"), 1);
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(1));
    market.label("run", "one").expect("label");
    assert_eq!(market.tally("group", "member").expect("tally"), 1);
    assert_eq!(market.tally_size("group").expect("tally_size"), 1);
    assert_eq!(market.claim(&["name"]).expect("claim"), None);
    market.stats().expect("stats");
    assert!(!market.wait_closed(waited).expect("wait_closed"));
    market.close().expect("close");
    assert!(market.wait_closed(waited).expect("wait_closed"));
    market.delete().expect("delete");
    let left: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut watch).expect("KEYS");
    assert!(left.is_empty(), "{left:?}");
}

/// `delete` lists the market's keys with `SCAN`, which a login without `@dangerous` may
/// run (`KEYS` is one of those commands, and blocks the server while it lists every key
/// of the database): such a login runs the market and deletes it, leaving no key of it.
#[test]
fn a_login_without_dangerous_commands_runs_and_deletes_the_market() {
    let server = RedisServer::start();
    let mut watch = server.connection();
    let url = login(&server, &mut watch, "shop", &NOT_DANGEROUS);
    let market = connect(&url, "kept", 1).expect("a login that may run the market");
    let producer = market.register_producer().expect("register");
    market.publish(producer, item("tea", 1)).expect("publish");
    market
        .delete()
        .expect("a delete that needs no @dangerous command");
    let left: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut watch).expect("KEYS");
    assert!(left.is_empty(), "the delete left {left:?}");
}

/// A server busy with a long script answers `INFO` with `BUSY`, which tells nothing of its
/// eviction policy; if the script ends before the market is made, the market must not be
/// made unchecked. Played by a stand-in that answers `INFO` with `BUSY` and the init
/// script as a market would: connect must fail, naming `BUSY`, instead of skipping the
/// check.
#[test]
fn a_busy_answer_to_the_eviction_check_is_not_taken_for_a_refusal() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let mut asked = Vec::new();
        let Some(Ok(stream)) = listener.incoming().next() else {
            return asked;
        };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        // Each command is an array of bulk strings; only its name matters here.
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
            let count: usize = line.trim()[1..].parse().expect("an array");
            let mut words = Vec::new();
            for _ in 0..count * 2 {
                line.clear();
                reader.read_line(&mut line).expect("a bulk string");
                words.push(line.trim().to_owned());
            }
            line.clear();
            let name = words[1].to_ascii_uppercase();
            let answer: &[u8] = match name.as_str() {
                "INFO" => b"-BUSY Redis is busy running a script.\r\n",
                "EVALSHA" => b"*2\r\n$1\r\n7\r\n:1\r\n",
                "CLIENT" => b"+OK\r\n",
                _ => b"-ERR unknown command\r\n",
            };
            asked.push(name);
            if writer.write_all(answer).is_err() {
                break;
            }
        }
        asked
    });
    let outcome = connect(&format!("redis://127.0.0.1:{port}"), "busy", 1);
    let answer = outcome.as_ref().map(|_| "a handle");
    match &outcome {
        Err(ConnectError::Unreachable(error)) => {
            assert!(error.to_string().contains("BUSY"), "{error}");
        }
        _ => panic!("{answer:?}"),
    }
    drop(outcome);
    let asked = server.join().expect("the stand-in");
    assert!(asked.iter().any(|name| name == "INFO"), "{asked:?}");
}

#[test]
fn invalid_names_and_capacities_are_refused() {
    let url = shared_server().url();
    for name in ["", "a{b", "a}b", "{", "a\nb", "a\0b"] {
        assert!(
            matches!(connect(&url, name, 1), Err(ConnectError::InvalidName(_))),
            "{name:?}"
        );
    }
    // On a 32-bit target no `usize` is above the largest capacity.
    let too_large = MAX_CAPACITY.checked_add(1).map(|above| [above, usize::MAX]);
    for capacity in std::iter::once(0).chain(too_large.into_iter().flatten()) {
        assert!(
            matches!(
                connect(&url, "m", capacity),
                Err(ConnectError::InvalidCapacity(_))
            ),
            "{capacity}"
        );
    }
    let name = fresh_market_name("capacity");
    let first = connect(&url, &name, 2).expect("connect");
    assert!(matches!(
        connect(&url, &name, 3),
        Err(ConnectError::CapacityMismatch {
            existing: 2,
            requested: 3,
            ..
        })
    ));
    first.delete().expect("delete");
}

/// Sets up `name`'s market, then lets `spoil` write foreign data under its prefix, then
/// runs every operation: each must answer (an error is fine), none may panic.
fn every_operation_answers(url: &str, name: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let Ok(market) = connect(url, name, 2) else {
        return seen;
    };
    let market = market.with_retry_for(Duration::ZERO);
    let tea = item("tea", 1);
    no_panic(&format!("operations on {name}"), || {
        let producer = market.register_producer();
        seen.push(format!("register {:?}", producer.as_ref().map(|_| ())));
        let cart = market.new_cart();
        seen.push(format!("new_cart {:?}", cart.as_ref().map(|_| ())));
        if let Ok(producer) = producer {
            seen.push(format!(
                "publish {:?}",
                market
                    .publish(producer, tea.clone())
                    .map_err(|e| e.to_string())
            ));
            seen.push(format!(
                "publish_many {:?}",
                market
                    .publish_many(producer, vec![tea.clone()])
                    .map_err(|e| e.to_string())
            ));
            seen.push(format!(
                "shelf_len {:?}",
                market.shelf_len(producer).map_err(|e| e.to_string())
            ));
        }
        if let Ok(cart) = cart {
            seen.push(format!(
                "add {:?}",
                market.add_to_cart(cart, &tea).map_err(|e| e.to_string())
            ));
            seen.push(format!(
                "add_many {:?}",
                market
                    .add_many_to_cart(cart, &tea, 3)
                    .map_err(|e| e.to_string())
            ));
            seen.push(format!(
                "remove {:?}",
                market
                    .remove_from_cart(cart, &tea)
                    .map_err(|e| e.to_string())
            ));
            seen.push(format!(
                "order {:?}",
                market
                    .place_order(cart)
                    .map(|v| v.len())
                    .map_err(|e| e.to_string())
            ));
        }
        seen.push(format!(
            "available {:?}",
            market.available(&tea).map_err(|e| e.to_string())
        ));
        seen.push(format!(
            "stats {:?}",
            market.stats().map_err(|e| e.to_string())
        ));
        seen.push(format!(
            "close {:?}",
            market.close().map_err(|e| e.to_string())
        ));
    });
    let _ = market.delete();
    seen
}

#[test]
fn foreign_data_under_the_prefix_gives_errors_not_panics() {
    let server = shared_server();
    let url = server.url();
    let mut watch = server.connection();
    let cmd = |redis: &mut redis::Connection, args: &[&str]| {
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query::<redis::Value>(redis).expect("setup command");
    };

    // `meta` spoiled before connecting: connect refuses, with `NotAMarket`.
    for spoil in [
        &["SET", "META", "a string"][..],
        &["RPUSH", "META", "a list"],
        &["HSET", "META", "unrelated", "1"],
        &["HSET", "META", "tag", "not a number", "capacity", "2"],
        &["HSET", "META", "tag", "7", "capacity", "two"],
        &["HSET", "META", "tag", "-7", "capacity", "2"],
        &["HSET", "META", "tag", "7", "capacity", "-2"],
    ] {
        let name = fresh_market_name("spoilt-meta");
        let meta = format!("marketplace:{{{name}}}:meta");
        let args: Vec<&str> = spoil
            .iter()
            .map(|a| if *a == "META" { meta.as_str() } else { a })
            .collect();
        cmd(&mut watch, &args);
        match connect(&url, &name, 2) {
            Err(error @ ConnectError::NotAMarket(_)) => {
                let text = error.to_string();
                assert!(!text.contains('\n'), "{spoil:?}: {text}");
            }
            other => panic!("{spoil:?}: {:?}", other.map(|_| "a handle")),
        }
        cmd(&mut watch, &["DEL", &meta]);
    }

    // Each other key of a working market spoiled with the wrong type.
    for (key, spoil) in [
        ("shelf", &["SET", "KEY", "x"][..]),
        ("open", &["SET", "KEY", "x"]),
        ("ops", &["SET", "KEY", "x"]),
        ("q:tea", &["SET", "KEY", "x"]),
        ("q:tea", &["RPUSH", "KEY", "garbage without a bar"]),
        ("q:tea", &["RPUSH", "KEY", "0|not json"]),
        ("q:tea", &["RPUSH", "KEY", "x|\"tea\""]),
        ("cart:0", &["SET", "KEY", "x"]),
        ("cart:0", &["RPUSH", "KEY", "no colon"]),
        ("bell:tea", &["SET", "KEY", "x"]),
        ("room:0", &["SET", "KEY", "x"]),
        ("closing", &["SET", "KEY", "x"]),
    ] {
        let name = fresh_market_name("spoilt");
        // Create the market first, then spoil it.
        let market = connect(&url, &name, 2).expect("connect");
        let full = format!("marketplace:{{{name}}}:{key}");
        let args: Vec<&str> = spoil
            .iter()
            .map(|a| if *a == "KEY" { full.as_str() } else { a })
            .collect();
        cmd(&mut watch, &args);
        drop(market);
        let seen = every_operation_answers(&url, &name);
        eprintln!("{key} {spoil:?}:\n  {}", seen.join("\n  "));
    }
}

#[test]
fn markets_side_by_side_do_not_see_each_other() {
    let server = shared_server();
    let url = server.url();
    let tea = |serial| item("tea", serial);
    // Names that look alike, or like parts of each other's keys.
    let base = fresh_market_name("side");
    let names = [
        base.clone(),
        format!("{base}:"),
        format!("{base}:q:tea"),
        format!("{base}:meta"),
        format!("{base}*"),
        format!("{base}:ops"),
    ];
    let markets: Vec<RedisMarketplace<Item>> = names
        .iter()
        .map(|n| connect(&url, n, 2).expect("connect"))
        .collect();
    // Another database of the same server holds another market of the same name.
    let other_db = connect(&format!("{url}/1"), &base, 5).expect("connect to db 1");

    let ids: Vec<_> = markets
        .iter()
        .map(|m| (m.register_producer().unwrap(), m.new_cart().unwrap()))
        .collect();
    for (i, market) in markets.iter().enumerate() {
        for _ in 0..=i.min(1) {
            market.publish(ids[i].0, tea(i as u64)).unwrap();
        }
    }
    for (i, market) in markets.iter().enumerate() {
        let expected = i.min(1) + 1;
        assert_eq!(market.available(&tea(0)).unwrap(), expected, "{}", names[i]);
        assert_eq!(market.shelf_len(ids[i].0).unwrap(), Some(expected));
        for (j, &(producer, cart)) in ids.iter().enumerate() {
            if i == j {
                continue;
            }
            // Another market's ids are unknown here, though their numbers are valid.
            assert_eq!(market.shelf_len(producer).unwrap(), None);
            assert!(matches!(
                market.publish(producer, tea(9)),
                Err(PublishError::UnknownProducer(_))
            ));
            assert!(matches!(
                market.add_to_cart(cart, &tea(0)),
                Err(AddError::UnknownCart)
            ));
            assert!(matches!(
                market.remove_from_cart(cart, &tea(0)),
                Err(RemoveError::UnknownCart)
            ));
            assert!(matches!(
                market.place_order(cart),
                Err(OrderError::UnknownCart)
            ));
            assert!(matches!(
                market.add_many_to_cart(cart, &tea(0), 1),
                Err(AddError::UnknownCart)
            ));
        }
    }
    assert_eq!(other_db.available(&tea(0)).unwrap(), 0);
    assert_eq!(other_db.stats().unwrap().producers, 0);
    // Closing one closes no other.
    markets[0].close().unwrap();
    for market in &markets[1..] {
        assert!(!market.is_closed().unwrap());
    }
    // Deleting one deletes no other.
    let mut markets = markets.into_iter();
    markets.next().unwrap().delete().unwrap();
    for (i, market) in markets.enumerate() {
        assert_eq!(market.available(&tea(0)).unwrap(), (i + 1).min(1) + 1);
        market.delete().unwrap();
    }
    other_db.delete().unwrap();
}

/// A URL asking for RESP3 (`?protocol=resp3`) changes how the server sends script replies;
/// the market must work the same (or refuse the URL), never misread a reply.
#[test]
fn a_resp3_url_works_or_is_refused() {
    let url = format!("{}/?protocol=resp3", shared_server().url());
    let name = fresh_market_name("resp3");
    let market = match connect(&url, &name, 1) {
        Ok(market) => market,
        Err(ConnectError::InvalidUrl(_)) => return,
        Err(other) => panic!("{other}"),
    };
    let tea = |serial| item("tea", serial);
    let producer = market.register_producer().expect("register");
    market.publish(producer, tea(1)).expect("publish");
    assert!(matches!(
        market.publish(producer, tea(2)),
        Err(PublishError::Full(_))
    ));
    assert!(matches!(
        market.publish_timeout(producer, tea(3), Duration::from_millis(5)),
        Err(PublishError::Full(_))
    ));
    let cart = market.new_cart().expect("new_cart");
    assert!(matches!(market.add_to_cart(cart, &tea(0)), Ok(())));
    assert!(matches!(
        market.add_to_cart_timeout(cart, &tea(0), Duration::from_millis(5)),
        Err(AddError::Unavailable)
    ));
    assert_eq!(market.shelf_len(producer).expect("shelf_len"), Some(0));
    assert_eq!(market.place_order(cart).expect("order")[0].serial, 1);
    market.delete().expect("delete");
}
