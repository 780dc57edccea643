//! [`RedisMarketplace`]: the marketplace contract on a Redis server.
//!
//! Layout: every key of market `NAME` starts with `marketplace:{NAME}:` (one hash tag, so
//! one Redis Cluster slot per market). `meta` holds the tag, the capacity, the counters and
//! the closed flag; `shelf` counts each producer's items on sale; `q:KEY` lists the items
//! on sale equal to the product of canonical key `KEY`, oldest first; `open` is the set of
//! open carts and `cart:N` a cart's items in the order added; `ops` each lane's last
//! result; `bell:KEY`, `room:N` and `closing` are the doorbells waiters block on, and
//! `waiting` counts the publishers waiting for each producer's room; `tally:GROUP` is a
//! group of [`tally`](RedisMarketplace::tally) and `claims` maps each name claimed with
//! [`claim`](RedisMarketplace::claim) to its claimant.
//!
//! Invariants (kept by the scripts, each atomic): an item is in exactly one place, a
//! `q:` list or a cart; `shelf[N]` counts producer N's items in `q:` lists; publish never
//! raises it past the capacity (a returned item may); `bell:KEY` holds at most a token per
//! item on sale, and `room:N` at most a token per place free and publisher waiting.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use marketplace::Stats;
use redis::{Client, Connection, IntoConnectionInfo, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{
    AddError, ConnectError, ConnectionError, OrderError, PublishError, RemoveError,
    UndecodableOrder, one_line, url_without_password,
};
use crate::ids::{CartId, ProducerId};
use crate::lane::{Lanes, OpId, random_u64, worth_retrying};
use crate::product::CanonicalKey;
use crate::scripts::{Reply, Scripts, bytes, text};
use crate::wait::{Bell, worth_waiting};

mod batch;

/// The largest `queue_size_per_producer`: counts must stay exact in Lua's numbers (up to
/// 2^52). A 32-bit `usize` never gets that far, so there every nonzero size is accepted.
pub const MAX_CAPACITY: usize = if usize::BITS > 52 {
    1 << 52
} else {
    usize::MAX
};

/// The longest argument a call sends: Redis refuses a longer one (its `proto-max-bulk-len`
/// default, 512 MiB), so a product whose key or encoding is longer is refused before the
/// command is built.
pub const MAX_ARGUMENT_BYTES: usize = 512 << 20;

/// How long a handle retries a call whose connection broke, unless told otherwise.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(10);

/// A handle on one market on a Redis server; any number of handles, in any processes and
/// hosts, can share the market. It is `Sync`: threads share one handle, each call using a
/// connection of its own from the handle's pool.
///
/// The calls that only look a product up (`add_to_cart` and its forms, `remove_from_cart`,
/// `available`) take any form `P` borrows as, as the engine's do, provided that form's
/// [`CanonicalKey`] is the product's: a market of `String`s is asked with a `&str`.
///
/// ```no_run
/// use std::time::Duration;
/// use marketplace_redis::RedisMarketplace;
///
/// let market = RedisMarketplace::<String>::connect("redis://127.0.0.1:6379", "shop", 2)?;
/// let producer = market.register_producer()?;
/// market.publish(producer, "tea".to_string()).unwrap();
/// let cart = market.new_cart()?;
/// market.add_to_cart_timeout(cart, "tea", Duration::from_secs(1)).unwrap();
/// assert_eq!(market.place_order(cart).unwrap(), ["tea"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisMarketplace<P> {
    lanes: Lanes,
    scripts: Scripts,
    name: String,
    meta: String,
    prefix: String,
    tag: u64,
    /// Who this handle is among the market's claimants of names ([`claim`](Self::claim)).
    claimant: u64,
    capacity: usize,
    _products: PhantomData<fn(P) -> P>,
}

impl<P> std::fmt::Debug for RedisMarketplace<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMarketplace")
            .field("server", &self.lanes.server)
            .field("name", &self.name)
            .field("queue_size_per_producer", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<P: Serialize + DeserializeOwned + CanonicalKey> RedisMarketplace<P> {
    /// Connects to the market `market_name` on the server at `url`
    /// (`redis://HOST:PORT[/DB]`), creating it with `queue_size_per_producer` if it does
    /// not exist. A market that exists with another capacity is refused, and so is a TCP
    /// URL whose query holds anything but `protocol`, which the client would ignore.
    ///
    /// # Errors
    ///
    /// [`ConnectError`]: `InvalidUrl`, `InvalidName` or `InvalidCapacity` for arguments
    /// no market can have, `Unreachable` when the server does not answer or refuses the
    /// database, `Denied` when it refuses the login, or the login's ACL denies a command
    /// the market runs on one of its kinds of key,
    /// `Evicting` when the server may evict any key at its memory
    /// limit, `Replica` when it is a replica, `NotAMarket` when the market's keys hold
    /// another client's data, and `CapacityMismatch` when the market exists with another
    /// capacity.
    pub fn connect(
        url: &str,
        market_name: &str,
        queue_size_per_producer: usize,
    ) -> Result<Self, ConnectError> {
        if queue_size_per_producer == 0 || queue_size_per_producer > MAX_CAPACITY {
            return Err(ConnectError::InvalidCapacity(queue_size_per_producer));
        }
        if market_name.is_empty()
            || market_name
                .chars()
                .any(|c| c == '{' || c == '}' || c.is_control())
        {
            return Err(ConnectError::InvalidName(market_name.to_owned()));
        }
        let info = url.into_connection_info().map_err(|e| {
            ConnectError::InvalidUrl(one_line(&format!("{}: {e}", url_without_password(url))))
        })?;
        if !matches!(info.addr, redis::ConnectionAddr::Unix(_)) {
            refuse_ignored_query(url)?;
        }
        let server = server_name(&info.addr);
        let client =
            Client::open(info).map_err(|e| ConnectError::InvalidUrl(one_line(&e.to_string())))?;
        let prefix = format!("marketplace:{{{market_name}}}:");
        let mut market = RedisMarketplace {
            lanes: Lanes::new(client, server, Duration::ZERO, format!("{prefix}ops")),
            scripts: Scripts::new(),
            name: market_name.to_owned(),
            meta: format!("{prefix}meta"),
            prefix,
            tag: 0,
            claimant: random_u64(),
            capacity: queue_size_per_producer,
            _products: PhantomData,
        };
        let proposed = random_u64();
        let reply = market
            .lanes
            .run("connect", |connection, _| {
                // Asked before the market is made, on the same connection, so a server out
                // of reach costs one connect. One that refuses `INFO` (renamed away, denied
                // to the user, or a section of it denied) cannot tell, and is taken.
                // One reply for both checks. A replica first: writes going to the wrong
                // server is the more fundamental refusal, whatever its memory policy.
                let info = server_info(connection)?;
                if let Some(master) = info.as_deref().and_then(master_of) {
                    return Ok(Err(Refusal::Replica(master)));
                }
                if let Some(policy) = info.as_deref().and_then(evicting_policy) {
                    return Ok(Err(Refusal::Evicting(policy)));
                }
                let denied: Option<(String, String)> =
                    market.scripts.access.key(&market.meta).invoke(connection)?;
                if let Some((command, key)) = denied {
                    return Ok(Err(Refusal::Denied { command, key }));
                }
                market
                    .scripts
                    .init
                    .key(&market.meta)
                    .arg("")
                    .arg(0)
                    .arg(proposed.to_string())
                    .arg(queue_size_per_producer)
                    .invoke::<Value>(connection)
                    .map(Ok)
            })
            .map_err(|error| {
                if error.is_wrong_type() {
                    ConnectError::NotAMarket(error)
                } else if error.is_login_refusal() {
                    ConnectError::Denied(error)
                } else {
                    ConnectError::Unreachable(error)
                }
            })?
            .map_err(|refusal| match refusal {
                Refusal::Evicting(policy) => ConnectError::Evicting { policy },
                Refusal::Replica(master) => ConnectError::Replica { master },
                Refusal::Denied { command, key } => ConnectError::Denied(ConnectionError::new(
                    "connect",
                    &market.lanes.server,
                    format!(
                        "the login may not run {command} on {key:?}, which the market's \
                             calls need (its ACL denies it)"
                    ),
                )),
            })?;
        let (tag, existing) = match reply {
            Value::Array(values) if values.len() == 2 => {
                let mut values = values.into_iter();
                let tag = values.next().and_then(text).and_then(|t| t.parse().ok());
                let existing = match values.next() {
                    Some(Value::Int(n)) => usize::try_from(n).ok(),
                    _ => None,
                };
                (tag, existing)
            }
            _ => (None, None),
        };
        let (Some(tag), Some(existing)) = (tag, existing) else {
            return Err(ConnectError::NotAMarket(market.unexpected("connect")));
        };
        if existing != queue_size_per_producer {
            return Err(ConnectError::CapacityMismatch {
                market: market_name.to_owned(),
                existing,
                requested: queue_size_per_producer,
            });
        }
        market.tag = tag;
        market.lanes = market.lanes.with_retry_for(DEFAULT_RETRY_FOR);
        Ok(market)
    }
}

impl<P> RedisMarketplace<P> {
    /// Sets how long a call whose connection broke is retried (with a growing pause, under
    /// the same operation id, so it applies at most once) before it returns
    /// `Connection`. Zero: no retry, not even of a call whose pooled connection the server
    /// closed while it sat idle (its `timeout`, a `CLIENT KILL`), which then fails though
    /// the server answers; a window longer than the first pause between tries (10 ms)
    /// retries it on a new connection.
    #[must_use = "the handle is returned with the new setting; the one called on is gone"]
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.lanes = self.lanes.with_retry_for(retry_for);
        self
    }

    /// The market's name on the server.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The capacity each producer has.
    #[must_use]
    pub fn queue_size_per_producer(&self) -> usize {
        self.capacity
    }

    /// Runs one operation script with `args` after the operation id; its reply.
    fn call(
        &self,
        operation: &'static str,
        script: &redis::Script,
        args: &[&str],
    ) -> Result<Reply, ConnectionError> {
        self.call_within(operation, script, args, self.lanes.retry_for())
    }

    /// [`call`](Self::call), retrying a broken connection for `retry_for`.
    fn call_within(
        &self,
        operation: &'static str,
        script: &redis::Script,
        args: &[&str],
        retry_for: Duration,
    ) -> Result<Reply, ConnectionError> {
        self.refuse_too_long(operation, args)?;
        let value = self
            .lanes
            .run_within(operation, retry_for, |connection, op| {
                self.invoke(connection, script, op, args)
            })?;
        self.reply(operation, value)
    }

    /// Refuses arguments of which one is longer than Redis takes in one value.
    fn refuse_too_long(
        &self,
        operation: &'static str,
        args: &[&str],
    ) -> Result<(), ConnectionError> {
        match args.iter().find(|arg| arg.len() > MAX_ARGUMENT_BYTES) {
            None => Ok(()),
            Some(long) => Err(ConnectionError::new(
                operation,
                &self.lanes.server,
                format!(
                    "a product of {} bytes (as key or encoded) is more than the {MAX_ARGUMENT_BYTES} \
                     Redis takes in one value",
                    long.len()
                ),
            )),
        }
    }

    /// [`call`](Self::call) for an operation that a failed call's caller may call again
    /// with the same `key`: that call sends the failed one again under its operation id
    /// (see `Lanes::run_resumable`), so it is answered as the first was if it applied.
    fn call_resumable(
        &self,
        operation: &'static str,
        script: &redis::Script,
        args: &[&str],
        key: String,
    ) -> Result<Reply, ConnectionError> {
        let value = self.lanes.run_resumable(
            operation,
            key,
            |value| !has_status(value, "unknown"),
            |connection, op| self.invoke(connection, script, op, args),
        )?;
        self.reply(operation, value)
    }

    /// A script's answer to `operation`, or the error it stands for.
    fn reply(&self, operation: &'static str, value: Value) -> Result<Reply, ConnectionError> {
        match Reply::parse(value) {
            Some(reply) if reply.status == "nomarket" => Err(ConnectionError::new(
                operation,
                &self.lanes.server,
                format!(
                    "market {:?} is gone from the server (deleted, or lost with the server's \
                     data; one created since under that name is another market)",
                    self.name
                ),
            )),
            Some(reply) => Ok(reply),
            None => Err(self.unexpected(operation)),
        }
    }

    fn invoke(
        &self,
        connection: &mut Connection,
        script: &redis::Script,
        op: OpId<'_>,
        args: &[&str],
    ) -> redis::RedisResult<Value> {
        let mut invocation = script.key(&self.meta);
        invocation.arg(op.lane).arg(op.seq);
        for arg in args {
            invocation.arg(*arg);
        }
        invocation.arg(self.tag).invoke(connection)
    }

    fn unexpected(&self, operation: &'static str) -> ConnectionError {
        ConnectionError::new(
            operation,
            &self.lanes.server,
            "the server's reply is not the market's",
        )
    }

    fn bell(&self, operation: &'static str, key: String) -> Bell<'_> {
        Bell::new(
            &self.lanes,
            operation,
            key,
            format!("{}closing", self.prefix),
        )
    }

    /// Registers a producer: 0, 1, 2, ... in registration order across every handle.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn register_producer(&self) -> Result<ProducerId, ConnectionError> {
        let reply = self.call("register_producer", &self.scripts.register_producer, &[])?;
        let index = reply
            .int(0)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| self.unexpected("register_producer"))?;
        Ok(ProducerId {
            market: self.tag,
            index,
        })
    }

    /// Opens a cart: 0, 1, 2, ... across every handle.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn new_cart(&self) -> Result<CartId, ConnectionError> {
        let reply = self.call("new_cart", &self.scripts.new_cart, &[])?;
        let serial = reply
            .int(0)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| self.unexpected("new_cart"))?;
        Ok(CartId {
            market: self.tag,
            serial,
        })
    }

    /// Closes the market: every waiting call, in every process, returns at once with its
    /// retryable error, and so do later waits. Non-waiting calls keep working.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn close(&self) -> Result<(), ConnectionError> {
        self.call("close", &self.scripts.close, &[]).map(drop)
    }

    /// Like [`close`](Self::close), but retries a broken connection for `retry_for` at
    /// most instead of the handle's own time. For a process giving up because the server
    /// stopped answering: its failed call has already waited out the retry time, and a
    /// close retried as long would make it wait that again before it can report. A server
    /// that answers is closed at the first try all the same, or at the second when the
    /// server had closed the connection the handle kept (which needs a window longer than
    /// the first pause between tries, 10 ms: see [`with_retry_for`](Self::with_retry_for));
    /// one that has gone silent costs one try, which ends after 10 s without a byte of its
    /// reply ([`READ_TIMEOUT`](crate::READ_TIMEOUT); 2 s for a connect).
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call within `retry_for`.
    pub fn close_within(&self, retry_for: Duration) -> Result<(), ConnectionError> {
        self.call_within("close", &self.scripts.close, &[], retry_for)
            .map(drop)
    }

    /// Whether the market was closed.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn is_closed(&self) -> Result<bool, ConnectionError> {
        let reply = self.call("is_closed", &self.scripts.inspect, &["closed", ""])?;
        Ok(reply.flag(0))
    }

    /// A snapshot of the market's size, taken atomically.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn stats(&self) -> Result<Stats, ConnectionError> {
        self.stats_within(self.lanes.retry_for())
    }

    /// Like [`stats`](Self::stats), but retries a broken connection for `retry_for` at
    /// most instead of the handle's own time, as [`close_within`](Self::close_within)
    /// does: for a process that must report soon, whose server may be gone.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call within `retry_for`.
    pub fn stats_within(&self, retry_for: Duration) -> Result<Stats, ConnectionError> {
        let reply = self.call_within("stats", &self.scripts.inspect, &["stats", ""], retry_for)?;
        let field = |index| {
            reply
                .int(index)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| self.unexpected("stats"))
        };
        let mut stats = Stats::default();
        stats.producers = field(0)?;
        stats.open_carts = field(1)?;
        stats.items_on_shelves = field(2)?;
        stats.items_in_carts = field(3)?;
        Ok(stats)
    }

    /// How many of `producer`'s items are on sale; `None` for an unknown producer.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn shelf_len(&self, producer: ProducerId) -> Result<Option<usize>, ConnectionError> {
        if producer.market != self.tag {
            return Ok(None);
        }
        let index = producer.index.to_string();
        let reply = self.call("shelf_len", &self.scripts.inspect, &["shelf", &index])?;
        if reply.status != "ok" {
            return Ok(None);
        }
        Ok(reply.int(0).and_then(|n| usize::try_from(n).ok()))
    }

    /// Sets the market's label `name` unless it is set, and returns the label: the first
    /// writer wins, so processes sharing a market can agree on what it is for (the scenario
    /// runner stores the fingerprint of its scenario here).
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn label(&self, name: &str, value: &str) -> Result<String, ConnectionError> {
        let reply = self.call("label", &self.scripts.label, &[name, value])?;
        reply
            .values
            .into_iter()
            .next()
            .and_then(text)
            .ok_or_else(|| self.unexpected("label"))
    }

    /// Adds `member` to the group `group` (once, however often it is told) and returns how
    /// many distinct members the group has: a count that retries and repeats cannot inflate.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn tally(&self, group: &str, member: &str) -> Result<u64, ConnectionError> {
        let reply = self.call("tally", &self.scripts.tally, &[group, member])?;
        reply
            .int(0)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| self.unexpected("tally"))
    }

    /// Claims each of `names` for this handle, all of them or none, and returns `None`;
    /// or, when another handle holds one of them, claims none and returns that name. A name
    /// stays claimed until the market is deleted ([`delete`](Self::delete)), also after
    /// its handle is dropped, since a handle whose process crashed cannot be told from one
    /// still at work; claiming a name this handle holds already succeeds. Processes that
    /// share a market claim what each of them does, so that no two do the same (the
    /// scenario runner claims the actors each process runs).
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn claim(&self, names: &[&str]) -> Result<Option<String>, ConnectionError> {
        let claimant = self.claimant.to_string();
        let args: Vec<&str> = std::iter::once(claimant.as_str())
            .chain(names.iter().copied())
            .collect();
        let reply = self.call("claim", &self.scripts.claim, &args)?;
        match reply.status.as_str() {
            "ok" => Ok(None),
            "taken" => reply
                .values
                .into_iter()
                .next()
                .and_then(text)
                .map(Some)
                .ok_or_else(|| self.unexpected("claim")),
            _ => Err(self.unexpected("claim")),
        }
    }

    /// How many distinct members the group `group` of [`tally`](Self::tally) has.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn tally_size(&self, group: &str) -> Result<u64, ConnectionError> {
        let reply = self.call("tally_size", &self.scripts.inspect, &["tally", group])?;
        reply
            .int(0)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| self.unexpected("tally_size"))
    }

    /// Blocks until the market is closed (by any handle), or `timeout` passes; whether it
    /// is closed.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn wait_closed(&self, timeout: Duration) -> Result<bool, ConnectionError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if self.is_closed()? {
                return Ok(true);
            }
            let bell = self.bell("wait_closed", format!("{}closing", self.prefix));
            if !bell.wait(deadline)? {
                return self.is_closed();
            }
        }
    }

    /// Deletes every key of the market from the server (not atomic: stop every handle
    /// first). For tests and for operators clearing a finished run. The keys are listed with
    /// `SCAN`, a batch at a time, so a server shared with other data is not held up while
    /// they are.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call; some keys may
    /// then be left.
    pub fn delete(self) -> Result<(), ConnectionError> {
        // Every character special to a match pattern, escaped, so a name such as `a?b`
        // matches its own keys only.
        let mut pattern = String::with_capacity(self.prefix.len() + 8);
        for c in self.prefix.chars() {
            if matches!(c, '\\' | '?' | '*' | '[' | ']') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        // `SCAN` lists the keys a batch at a time, where `KEYS` would block the server while
        // it read every key of the database (and is denied to a login without `@dangerous`).
        // A key there from the first batch to the last is listed; deleting the listed ones
        // meanwhile is allowed. A retry after a broken connection starts the scan again.
        self.lanes.run("delete", |connection, _| {
            let mut cursor = 0_u64;
            loop {
                // Bytes: a key another client wrote under the prefix need not be UTF-8.
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(DELETE_BATCH)
                    .query(connection)?;
                if !keys.is_empty() {
                    redis::cmd("DEL").arg(&keys).query::<()>(connection)?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })
    }
}

impl<P: Serialize + DeserializeOwned + CanonicalKey> RedisMarketplace<P> {
    /// Puts `product` on sale for `producer`, unless it already has
    /// `queue_size_per_producer` items on sale: then `Full`, with the product.
    ///
    /// # Errors
    ///
    /// [`PublishError::Full`] and [`PublishError::UnknownProducer`] as in the engine, and
    /// [`PublishError::Connection`] when the server cannot complete the call or the
    /// product cannot be encoded, its JSON form does not read back as a `P` (serde_json
    /// writes a float that is not finite as `null`), or it is longer than
    /// [`MAX_ARGUMENT_BYTES`]; each holds the product.
    ///
    /// A call that fails with [`PublishError::Connection`] for want of the server may have put
    /// the product on sale (the server applied it and its answer was lost). Publishing that
    /// product again (or any of the same JSON form; an equal product whose JSON form
    /// differs is a publish of its own) for the same producer, on this handle, sends the
    /// failed call again under its operation id: it answers `Ok` if that call put the
    /// product on sale, and runs now otherwise (also when that call was refused, `Full`,
    /// which may hold no more), so the product is on sale once either way. When several
    /// such calls failed, each later one stands for one of them. So give the product back
    /// to `publish` or [`publish_timeout`](Self::publish_timeout), which keeps its failed
    /// tries the same way and sends a kept one again as this does, not to a batch (a new
    /// publish of a product of the same JSON form stands for the failed one too); until
    /// then the handle keeps the failed call's id and the product's JSON form, and the
    /// server its answer. A failed batch publish is not sent again by this call: give its
    /// products back to a batch (see [`publish_many`](Self::publish_many)).
    pub fn publish(&self, producer: ProducerId, product: P) -> Result<(), PublishError<P>> {
        if producer.market != self.tag {
            return Err(PublishError::UnknownProducer(product));
        }
        let payload = match self.encode("publish", &product) {
            Ok(payload) => payload,
            Err(error) => return Err(PublishError::Connection(product, error)),
        };
        let key = product.canonical_key();
        let index = producer.index.to_string();
        let kept = kept_publish(&index, &payload);
        // A kept publish that registered among the producer's waiters left that registration
        // to this call, which withdraws it.
        let answer = match self.resume_publish("publish", &index, &key, &payload, &kept) {
            Ok(Some(Published::Yes)) => Ok(Published::Yes),
            Ok(resumed) => {
                let registered = matches!(resumed, Some(Published::Full { registered: true }));
                let waits = waits(false, registered, false);
                self.publish_once("publish", &index, &key, &payload, waits, &kept)
            }
            Err(error) => Err(error),
        };
        drop(key);
        match answer {
            Ok(Published::Yes) => Ok(()),
            Ok(Published::Full { .. }) => Err(PublishError::Full(product)),
            Ok(Published::UnknownProducer) => Err(PublishError::UnknownProducer(product)),
            Err(error) => Err(PublishError::Connection(product, error)),
        }
    }

    /// Like [`publish`](Self::publish), but when the producer is full waits up to `timeout`
    /// for a consumer to take one of its items (woken by the server, not polling).
    /// `Full` when the time passes or the market is closed first; `Duration::MAX` waits as
    /// long as it takes.
    ///
    /// A `Connection` leaves the failed try kept to be sent again as `publish`'s is, with
    /// the waits flags it sent: publishing a product of the same JSON form again for the
    /// producer on this handle, with this or with `publish`, answers `Ok` if that try put
    /// it on sale, so it is on sale once. That call takes over the try's place among the
    /// producer's waiters, if it took one, and withdraws it (or waits on with it), so no
    /// waiter stays counted for it (tests `a_timed_publish_whose_answer_is_lost_*` and
    /// `a_timed_publish_registered_as_a_waiter_whose_answer_was_lost_*` in
    /// `redis/tests/faults.rs`). A `Connection` of the wait between tries put nothing on
    /// sale; the try that would have withdrawn the call's place among the waiters is kept
    /// the same way, unsent, and publishing the product again withdraws it (test
    /// `a_timed_publish_whose_wait_fails_leaves_no_waiter_once_published_again`).
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish)'s, `Full` once the wait ends without room.
    pub fn publish_timeout(
        &self,
        producer: ProducerId,
        product: P,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        if producer.market != self.tag {
            return Err(PublishError::UnknownProducer(product));
        }
        let deadline = Instant::now().checked_add(timeout);
        // Encoded once, however many tries the wait takes.
        let payload = match self.encode("publish_timeout", &product) {
            Ok(payload) => payload,
            Err(error) => return Err(PublishError::Connection(product, error)),
        };
        let key = product.canonical_key().into_owned();
        let index = producer.index.to_string();
        let kept = kept_publish(&index, &payload);
        let room = format!("{}room:{}", self.prefix, producer.index);
        // Whether the server counts this call among the producer's waiters: each try after
        // one that registered withdraws that registration, so the count stays the number
        // of publishers waiting now. A kept publish taken over may hand this call its own.
        let mut registered = false;
        // The flags of a try that withdraws this call's place and waits no more.
        let withdrawing = waits(false, true, false);
        match self.resume_publish("publish_timeout", &index, &key, &payload, &kept) {
            Ok(Some(Published::Yes)) => return Ok(()),
            Ok(Some(Published::Full { registered: now })) => registered = now,
            Ok(_) => {}
            Err(error) => return Err(PublishError::Connection(product, error)),
        }
        loop {
            let waits = waits(worth_waiting(false, deadline), registered, false);
            match self.publish_once("publish_timeout", &index, &key, &payload, waits, &kept) {
                Ok(Published::Yes) => return Ok(()),
                Ok(Published::Full { registered: now }) => {
                    registered = now;
                    if !registered {
                        return Err(PublishError::Full(product));
                    }
                    if let Err(error) = self.bell("publish_timeout", room.clone()).wait(deadline) {
                        // The server counts this call among the waiters, and only its next
                        // try would withdraw that place: that try is kept for the next
                        // publish of the product to send.
                        self.lanes.keep_unsent(&kept, withdrawing);
                        return Err(PublishError::Connection(product, error));
                    }
                }
                Ok(Published::UnknownProducer) => {
                    return Err(PublishError::UnknownProducer(product));
                }
                Err(error) => return Err(PublishError::Connection(product, error)),
            }
        }
    }

    /// A product's stored form; `operation` is the call made, which its error names.
    fn encode(&self, operation: &'static str, product: &P) -> Result<String, ConnectionError> {
        let failed = |detail: String| ConnectionError::new(operation, &self.lanes.server, detail);
        let payload = serde_json::to_string(product)
            .map_err(|e| failed(format!("cannot encode the product: {e}")))?;
        // serde_json writes a float that is not finite as `null`, which no float reads: such
        // a product would go on sale and fail the order of whoever takes it, far from the
        // producer that could still be told, and given its product back. A form too long to
        // send is refused by the call anyway, without reading it again.
        let sendable = payload.len() <= MAX_ARGUMENT_BYTES;
        if let Some(Err(e)) = sendable.then(|| serde_json::from_str::<P>(&payload)) {
            return Err(failed(format!(
                "the product's JSON form does not read back as the product \
                 (a float that is not finite is written as null): {e}"
            )));
        }
        Ok(payload)
    }

    /// One run of the publish script for an encoded product of canonical key `key`, for
    /// the call `operation`, which its error names: a waiting call's error names the wait
    /// its caller made, not the script each of its tries runs. A run that fails keeps its
    /// lane, with `waits`, under `kept` (see `Lanes::run_keeping`): it may have applied, and
    /// [`resume_publish`](Self::resume_publish) sends it again.
    fn publish_once(
        &self,
        operation: &'static str,
        index: &str,
        key: &str,
        payload: &str,
        waits: &'static str,
        kept: &str,
    ) -> Result<Published, ConnectionError> {
        self.refuse_too_long(operation, &[key, payload])?;
        let value = self.lanes.run_keeping(
            operation,
            || kept.to_owned(),
            waits,
            |connection, op, waits| {
                self.invoke(
                    connection,
                    &self.scripts.publish,
                    op,
                    &[index, key, payload, waits],
                )
            },
        )?;
        let reply = self.reply(operation, value)?;
        self.published(operation, &reply)
    }

    /// Sends again a publish of this handle's kept under `kept` (it failed, and may have
    /// applied), with the waits flags it sent, under its operation id; `None` when none is
    /// kept. Its answer is the caller's to act on: `Yes`, the product is on sale, once;
    /// `Full` registered, the server counts the caller among the producer's waiters (the
    /// registration the failed call took, or the one the resend took now, having
    /// withdrawn the failed call's previous one), which the caller withdraws or keeps; any
    /// other answer holds no registration and put nothing on sale, and may not hold now, so
    /// the caller publishes anew.
    fn resume_publish(
        &self,
        operation: &'static str,
        index: &str,
        key: &str,
        payload: &str,
        kept: &str,
    ) -> Result<Option<Published>, ConnectionError> {
        self.refuse_too_long(operation, &[key, payload])?;
        let resent = self
            .lanes
            .resend_kept(operation, kept, |connection, op, waits| {
                self.invoke(
                    connection,
                    &self.scripts.publish,
                    op,
                    &[index, key, payload, waits],
                )
            });
        match resent {
            None => Ok(None),
            Some(value) => {
                let reply = self.reply(operation, value?)?;
                self.published(operation, &reply).map(Some)
            }
        }
    }

    /// What the publish script's `reply` to `operation` says.
    fn published(
        &self,
        operation: &'static str,
        reply: &Reply,
    ) -> Result<Published, ConnectionError> {
        match reply.status.as_str() {
            "ok" => Ok(Published::Yes),
            "full" => Ok(Published::Full {
                registered: reply.flag(0),
            }),
            "unknown" => Ok(Published::UnknownProducer),
            _ => Err(self.unexpected(operation)),
        }
    }

    /// Moves the oldest item on sale equal to `product` into `cart`.
    ///
    /// A call that fails with [`AddError::Connection`] may have moved an item into the
    /// cart (the server applied it and its answer was lost). Adding a product of the same
    /// canonical key to that cart again, on this handle, with this or with
    /// [`add_to_cart_timeout`](Self::add_to_cart_timeout), sends the failed call again
    /// under its operation id: it answers `Ok` if that call moved an item, and runs now
    /// otherwise (also when that call found nothing on sale, which may hold no more), so
    /// the cart holds one item for the two calls (tests
    /// `an_add_whose_answer_is_lost_past_the_retries_puts_one_item_in_the_cart_when_added_again`
    /// and `an_add_refused_for_want_of_items_whose_answer_was_lost_takes_one_published_since`
    /// in `redis/tests/faults.rs`). When several such calls failed, each later one stands
    /// for one of them. An add of that product to the cart made otherwise (a batch, another
    /// handle) does not send it again. A [`remove_from_cart`](Self::remove_from_cart) of
    /// such a product from that cart on this handle sends it again first, so that the
    /// remove comes after it, and the next add is a new one (test
    /// `an_add_in_doubt_removed_since_is_not_what_the_next_add_stands_for`). An order of
    /// the cart on this handle ends it, its item (if any) in the order, and the next add is
    /// `UnknownCart` (test
    /// `an_add_in_doubt_whose_cart_was_ordered_since_does_not_answer_the_next_add`); an
    /// order on another handle does not, and the next add on this one answers `Ok` if the
    /// failed call moved an item, which that order took. Until then the handle keeps the
    /// failed call's id, and the server its answer. A call that never failed costs one
    /// round trip as before (test `adds_and_removes_run_one_script_each_and_a_kept_add_no_more`).
    ///
    /// # Errors
    ///
    /// [`AddError::Unavailable`] and [`AddError::UnknownCart`] as in the engine, and
    /// [`AddError::Connection`] when the server cannot complete the call (add again, as
    /// above, to settle it).
    pub fn add_to_cart<Q>(&self, cart: CartId, product: &Q) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: CanonicalKey + ?Sized,
    {
        if cart.market != self.tag {
            return Err(AddError::UnknownCart);
        }
        let serial = cart.serial.to_string();
        let key = product.canonical_key();
        let kept = kept_cart_call("add", &serial, &key);
        self.settle_removes("add_to_cart", &serial, &key)?;
        if self.resume_add("add_to_cart", &serial, &key, &kept)? {
            return Ok(());
        }
        match self.add_once("add_to_cart", &serial, &key, &kept)? {
            Added::Yes => Ok(()),
            Added::Unavailable { .. } => Err(AddError::Unavailable),
            Added::UnknownCart => Err(AddError::UnknownCart),
        }
    }

    /// Like [`add_to_cart`](Self::add_to_cart), but waits up to `timeout` for an equal item
    /// to be published or returned (woken by the server, not polling). `Unavailable` when
    /// the time passes or the market is closed first; `Duration::MAX` waits as long as it
    /// takes. A cart ordered by another client while this call waits is noticed at the
    /// product's next arrival or at the end of the wait's current round (5 s at most), and
    /// reported as `UnknownCart`.
    ///
    /// A `Connection` leaves the failed try kept to be sent again as `add_to_cart`'s is:
    /// adding a product of the same canonical key to the cart again on this handle, with
    /// this or with `add_to_cart`, answers `Ok` if that try moved an item, so the cart
    /// holds one (test
    /// `a_timed_add_whose_answer_is_lost_puts_one_item_in_the_cart_when_added_again_timed`
    /// in `redis/tests/faults.rs`). A wait holds no place on the server, so a `Connection`
    /// of the wait between tries leaves nothing to settle: the try before it moved nothing.
    ///
    /// # Errors
    ///
    /// As [`add_to_cart`](Self::add_to_cart)'s, `Unavailable` once the wait ends
    /// without an item.
    pub fn add_to_cart_timeout<Q>(
        &self,
        cart: CartId,
        product: &Q,
        timeout: Duration,
    ) -> Result<(), AddError>
    where
        P: Borrow<Q>,
        Q: CanonicalKey + ?Sized,
    {
        if cart.market != self.tag {
            return Err(AddError::UnknownCart);
        }
        let deadline = Instant::now().checked_add(timeout);
        let serial = cart.serial.to_string();
        let key = product.canonical_key();
        let kept = kept_cart_call("add", &serial, &key);
        self.settle_removes("add_to_cart_timeout", &serial, &key)?;
        if self.resume_add("add_to_cart_timeout", &serial, &key, &kept)? {
            return Ok(());
        }
        let arrivals = format!("{}bell:{key}", self.prefix);
        loop {
            match self.add_once("add_to_cart_timeout", &serial, &key, &kept)? {
                Added::Yes => return Ok(()),
                Added::Unavailable { closed } => {
                    if !worth_waiting(closed, deadline) {
                        return Err(AddError::Unavailable);
                    }
                    self.bell("add_to_cart_timeout", arrivals.clone())
                        .wait(deadline)?;
                }
                Added::UnknownCart => return Err(AddError::UnknownCart),
            }
        }
    }

    /// One run of the add script into the cart of serial `serial` for products of
    /// canonical key `key`, for the call `operation`, which its error names (as
    /// `publish_once`'s). A run that fails keeps its lane under `kept`, as a publish's does:
    /// it may have moved an item, and [`resume_add`](Self::resume_add) sends it again.
    fn add_once(
        &self,
        operation: &'static str,
        serial: &str,
        key: &str,
        kept: &str,
    ) -> Result<Added, ConnectionError> {
        let script = &self.scripts.add_to_cart;
        let reply = self.cart_call_keeping(operation, script, serial, key, kept)?;
        match reply.status.as_str() {
            "ok" => Ok(Added::Yes),
            "unavailable" => Ok(Added::Unavailable {
                closed: reply.flag(0),
            }),
            "unknown" => Ok(Added::UnknownCart),
            _ => Err(self.unexpected(operation)),
        }
    }

    /// Sends again an add of this handle's kept under `kept` (it failed, and may have
    /// applied); whether it moved an item into the cart. Any other answer moved nothing and
    /// may not hold now (an item published since, the cart unknown all along), so the
    /// caller adds anew, as a publish does after a kept `Full`.
    fn resume_add(
        &self,
        operation: &'static str,
        serial: &str,
        key: &str,
        kept: &str,
    ) -> Result<bool, ConnectionError> {
        let script = &self.scripts.add_to_cart;
        let resent = self.resume_cart_call(operation, script, serial, key, kept)?;
        Ok(resent.is_some_and(|reply| reply.status == "ok"))
    }

    /// Settles the failed removes of products of canonical key `key` from the cart of
    /// serial `serial` that this handle keeps, before an add of such a product to it, as
    /// [`settle_kept`](Self::settle_kept) says.
    fn settle_removes(
        &self,
        operation: &'static str,
        serial: &str,
        key: &str,
    ) -> Result<(), ConnectionError> {
        let removes = kept_cart_call("remove", serial, key);
        let script = &self.scripts.remove_from_cart;
        self.settle_kept(operation, script, serial, key, &removes)
    }

    /// Sends again every call of `script` kept under `kept`, their answers dropped, before
    /// a call of the other kind (a remove after failed adds, an add after failed removes)
    /// on the same cart and key runs: each either applied or applies now, before this call,
    /// as if it had reached the server late. Left kept, a call of the same kind later on
    /// would stand for it, though this call came between: an add in doubt, its item
    /// removed since, would answer the next add `Ok` and leave the cart without the item.
    fn settle_kept(
        &self,
        operation: &'static str,
        script: &redis::Script,
        serial: &str,
        key: &str,
        kept: &str,
    ) -> Result<(), ConnectionError> {
        while self
            .resume_cart_call(operation, script, serial, key, kept)?
            .is_some()
        {}
        Ok(())
    }

    /// One run of `script` (an add or a remove) on the cart of serial `serial` for products
    /// of canonical key `key`; a run that fails keeps its lane under `kept` (see
    /// `Lanes::run_keeping`).
    fn cart_call_keeping(
        &self,
        operation: &'static str,
        script: &redis::Script,
        serial: &str,
        key: &str,
        kept: &str,
    ) -> Result<Reply, ConnectionError> {
        self.refuse_too_long(operation, &[serial, key])?;
        let value = self.lanes.run_keeping(
            operation,
            || kept.to_owned(),
            "",
            |connection, op, _| self.invoke(connection, script, op, &[serial, key]),
        )?;
        self.reply(operation, value)
    }

    /// Sends again, under its operation id, a call of `script` kept under `kept` by
    /// [`cart_call_keeping`](Self::cart_call_keeping): its recorded answer if the server
    /// applied it, its outcome now otherwise; `None` when none is kept, at no round trip.
    fn resume_cart_call(
        &self,
        operation: &'static str,
        script: &redis::Script,
        serial: &str,
        key: &str,
        kept: &str,
    ) -> Result<Option<Reply>, ConnectionError> {
        self.refuse_too_long(operation, &[serial, key])?;
        let resent = self
            .lanes
            .resend_kept(operation, kept, |connection, op, _| {
                self.invoke(connection, script, op, &[serial, key])
            });
        resent
            .map(|value| self.reply(operation, value?))
            .transpose()
    }

    /// Takes the first item in `cart` equal to `product` out of it and gives it back to
    /// the producer that made it (even past its capacity) and to sale.
    ///
    /// A call that fails with [`RemoveError::Connection`] may have given an item back (the
    /// server applied it and its answer was lost). Removing a product of the same canonical
    /// key from that cart again, on this handle, sends the failed call again under its
    /// operation id: it answers `Ok` if that call gave an item back, and runs now
    /// otherwise (also when that call found none in the cart, which may hold no more), so
    /// one item goes back for the two calls (test
    /// `a_remove_whose_answer_is_lost_past_the_retries_returns_one_item_when_removed_again`
    /// in `redis/tests/faults.rs`). As for `add_to_cart`, an add of such a product to that
    /// cart on this handle (a batch add too) sends the failed remove again first, and the
    /// next remove is a new one (tests
    /// `a_remove_in_doubt_added_to_since_is_not_what_the_next_remove_stands_for` and
    /// `a_remove_in_doubt_added_to_by_a_batch_since_is_not_what_the_next_remove_stands_for`),
    /// and an order of the cart on this handle ends it (test
    /// `a_remove_in_doubt_whose_cart_was_ordered_since_does_not_answer_the_next_remove`);
    /// until then the handle keeps the failed call's id, and the server its answer.
    ///
    /// # Errors
    ///
    /// [`RemoveError::NotInCart`] and [`RemoveError::UnknownCart`] as in the engine,
    /// and [`RemoveError::Connection`] when the server cannot complete the call (remove
    /// again, as above, to settle it).
    pub fn remove_from_cart<Q>(&self, cart: CartId, product: &Q) -> Result<(), RemoveError>
    where
        P: Borrow<Q>,
        Q: CanonicalKey + ?Sized,
    {
        if cart.market != self.tag {
            return Err(RemoveError::UnknownCart);
        }
        let serial = cart.serial.to_string();
        let key = product.canonical_key();
        let kept = kept_cart_call("remove", &serial, &key);
        // A failed add of the product to the cart comes before this remove, which may take
        // its item: the next add stands for it no more.
        let adds = kept_cart_call("add", &serial, &key);
        let add = &self.scripts.add_to_cart;
        self.settle_kept("remove_from_cart", add, &serial, &key, &adds)?;
        self.settle_batch_adds("remove_from_cart", &serial, &key)?;
        let script = &self.scripts.remove_from_cart;
        // A kept remove that gave an item back answers for this call; any other answer gave
        // nothing back and may not hold now (an equal item added since), so this removes
        // anew.
        let resent = self.resume_cart_call("remove_from_cart", script, &serial, &key, &kept)?;
        if resent.is_some_and(|reply| reply.status == "ok") {
            return Ok(());
        }
        let reply = self.cart_call_keeping("remove_from_cart", script, &serial, &key, &kept)?;
        match reply.status.as_str() {
            "ok" => Ok(()),
            "notincart" => Err(RemoveError::NotInCart),
            "unknown" => Err(RemoveError::UnknownCart),
            _ => Err(self.unexpected("remove_from_cart").into()),
        }
    }

    /// The cart's items, as published, in the order added; the cart is spent.
    ///
    /// The server spends the cart and answers its items in one step, and this handle
    /// decodes them after. An item published by a handle of another product type (whose
    /// canonical key collides with one of this type) may not decode: the order is placed
    /// all the same, and [`OrderError::Undecodable`] holds every item of it as stored
    /// (its bytes), so none is lost.
    ///
    /// A call that fails with [`OrderError::Connection`] may have placed the order (the
    /// server applied it and its answer was lost): the items are then in no cart and on
    /// no shelf. Calling `place_order` for the cart again, on this handle, asks the server
    /// under the failed call's operation id (each one's, when several calls of the cart
    /// failed at once): the order's items if it was placed, and the outcome of placing it
    /// now otherwise. Until then the handle keeps those ids, and the server their answers.
    ///
    /// # Errors
    ///
    /// [`OrderError::UnknownCart`] as in the engine, [`OrderError::Connection`] when the
    /// server cannot complete the call (call again, as above, to get the items), and
    /// [`OrderError::Undecodable`] as above.
    pub fn place_order(&self, cart: CartId) -> Result<Vec<P>, OrderError> {
        if cart.market != self.tag {
            return Err(OrderError::UnknownCart);
        }
        let serial = cart.serial.to_string();
        // Keyed by the cart: an order that failed with `Connection` may have been placed,
        // and this handle's next order of the cart asks again under the same operation id,
        // so it gets the items rather than `UnknownCart`.
        let reply = self.call_resumable(
            "place_order",
            &self.scripts.place_order,
            &[&serial],
            format!("order {serial}"),
        )?;
        if matches!(reply.status.as_str(), "ok" | "unknown") {
            // The cart is spent: an add to it or a remove from it that failed on this handle
            // can apply no more (a late copy finds the cart closed), and sent again would
            // answer the next add `Ok` for an item this order took, where any add to an
            // ordered cart is `UnknownCart`.
            for kind in ["add", "remove", "add_many"] {
                self.lanes.release_kept(&kept_cart_call(kind, &serial, ""));
            }
        }
        match reply.status.as_str() {
            "ok" => {
                // Bytes, not text: an item another client wrote that is not UTF-8 is held
                // in the error like any other that does not decode, since the cart is spent.
                let stored = reply
                    .values
                    .into_iter()
                    .map(bytes)
                    .collect::<Option<Vec<Vec<u8>>>>()
                    .ok_or_else(|| self.unexpected("place_order"))?;
                let mut items = Vec::with_capacity(stored.len());
                for (position, payload) in stored.iter().enumerate() {
                    match serde_json::from_slice(payload) {
                        Ok(item) => items.push(item),
                        Err(error) => {
                            return Err(OrderError::Undecodable(UndecodableOrder::new(
                                &self.lanes.server,
                                cart,
                                stored,
                                position,
                                error,
                            )));
                        }
                    }
                }
                Ok(items)
            }
            "unknown" => Err(OrderError::UnknownCart),
            _ => Err(self.unexpected("place_order").into()),
        }
    }

    /// How many items equal to `product` are on sale.
    ///
    /// # Errors
    ///
    /// A [`ConnectionError`] when the server cannot complete the call.
    pub fn available<Q>(&self, product: &Q) -> Result<usize, ConnectionError>
    where
        P: Borrow<Q>,
        Q: CanonicalKey + ?Sized,
    {
        let key = product.canonical_key();
        let reply = self.call("available", &self.scripts.inspect, &["available", &key])?;
        reply
            .int(0)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.unexpected("available"))
    }
}

/// Why `connect` refuses a server that answers.
enum Refusal {
    /// It may evict any key; its `maxmemory-policy`.
    Evicting(String),
    /// It is a replica; its master's address.
    Replica(String),
    /// The login may not run this command of the market's on this key of the market's kind
    /// (`scripts/access.lua`).
    Denied { command: String, key: String },
}

/// What the publish script answered.
enum Published {
    Yes,
    /// The producer is at capacity; `registered`: the server counts the caller among the
    /// producer's waiters (it asked to wait, and the market is open).
    Full {
        registered: bool,
    },
    UnknownProducer,
}

/// What the add script answered.
enum Added {
    Yes,
    /// Nothing equal on sale; `closed`: the market is closed, so waiting is pointless.
    Unavailable {
        closed: bool,
    },
    UnknownCart,
}

/// Whether a script's answer has the status `word`, read in place.
fn has_status(value: &Value, word: &str) -> bool {
    match value {
        Value::Array(values) => matches!(
            values.first(),
            Some(Value::BulkString(status)) if status == word.as_bytes()
        ),
        _ => false,
    }
}

/// How many keys `delete` asks `SCAN` to look at per batch (a hint to the server), and so
/// about how many one `DEL` takes.
const DELETE_BATCH: usize = 512;

/// The key under which a publish by the producer of index `index` of a product of JSON form
/// `payload` keeps its lane when it fails: a later publish of the same form by the producer
/// sends it again.
fn kept_publish(index: &str, payload: &str) -> String {
    format!("publish {index} {payload}")
}

/// The key under which a call of `kind` ("add" or "remove") on the cart of serial `serial`
/// for products of canonical key `key` keeps its lane when it fails: the next call of that
/// kind, cart and key sends it again. A cart's serial is never reused, so a kept call
/// stands for no other cart's.
fn kept_cart_call(kind: &str, serial: &str, key: &str) -> String {
    format!("{kind} {serial} {key}")
}

/// The `waits` flags of a publish: `register`, to be counted among the producer's waiters
/// if it finds it full; `withdraw`, the registration of the caller's previous try; `more`,
/// a batch with products beyond those this call offers (`prelude.lua` reads them).
pub(crate) fn waits(register: bool, withdraw: bool, more: bool) -> &'static str {
    const FLAGS: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];
    FLAGS[usize::from(register) | usize::from(withdraw) << 1 | usize::from(more) << 2]
}

/// The server's `INFO` for the checks: its default sections, which hold both
/// `replication` and `memory` on every Redis version (naming two sections in one `INFO`
/// needs Redis 7), in one round trip; or, for a login whose ACL allows only some sections
/// (`+info|memory`), those of the two it may read, each asked on its own. `None` when it
/// refuses to tell (the command renamed away, or denied to the login).
fn server_info(connection: &mut Connection) -> redis::RedisResult<Option<String>> {
    if let Some(info) = info_sections(connection, &[])? {
        return Ok(Some(info));
    }
    let mut told = None;
    for section in ["replication", "memory"] {
        if let Some(info) = info_sections(connection, &[section])? {
            told.get_or_insert_with(String::new).push_str(&info);
        }
    }
    Ok(told)
}

/// The server's `INFO` for `sections` (none: the default ones); `None` when it refuses
/// them. No answer, or a passing one (`BUSY`: a long script runs, and may end before the
/// init script would run unchecked), is not a refusal.
fn info_sections(
    connection: &mut Connection,
    sections: &[&str],
) -> redis::RedisResult<Option<String>> {
    match redis::cmd("INFO").arg(sections).query::<String>(connection) {
        Ok(info) => Ok(Some(info)),
        Err(error) if error.code().is_none() || worth_retrying(&error) => Err(error),
        Err(_) => Ok(None),
    }
}

/// The value of the field `name` in an `INFO` answer (its `name:value` line).
fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
}

/// The master's address (`HOST:PORT`) from a replica's `INFO` (its `replication`
/// section); `None` for a master.
fn master_of(info: &str) -> Option<String> {
    let field = |name| info_field(info, name);
    if field("role")? == "master" {
        return None;
    }
    let host = field("master_host").unwrap_or("?");
    let port = field("master_port").unwrap_or("?");
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// The server's `maxmemory-policy` from its `INFO` (its `memory` section), when it may evict a key
/// without an expiry (every market key): a memory limit is set and the policy is one of
/// `allkeys-*`.
fn evicting_policy(info: &str) -> Option<String> {
    let field = |name| info_field(info, name);
    let limited = field("maxmemory").is_some_and(|limit| limit != "0");
    let policy = field("maxmemory_policy")?;
    (limited && policy.starts_with("allkeys-")).then(|| policy.to_owned())
}

/// Refuses a TCP URL whose query holds anything but `protocol`: the client reads nothing
/// else from it, so `?db=2` would silently use database 0, perhaps another program's.
fn refuse_ignored_query(url: &str) -> Result<(), ConnectError> {
    let Some((_, query)) = url.split('#').next().and_then(|u| u.split_once('?')) else {
        return Ok(());
    };
    let ignored = query
        .split('&')
        .map(|pair| pair.split('=').next().unwrap_or(pair))
        .find(|name| !name.is_empty() && *name != "protocol");
    match ignored {
        None => Ok(()),
        Some(name) => Err(ConnectError::InvalidUrl(one_line(&format!(
            "{}: the query parameter {name:?} is not read (only protocol is); a database \
             number goes in the path (redis://HOST:PORT/DB), a password before the host \
             (redis://:PASSWORD@HOST:PORT)",
            url_without_password(url)
        )))),
    }
}

/// The server as a URL writes it: an IPv6 host in brackets, since `::1:6379` reads as an
/// address with no port.
fn server_name(addr: &redis::ConnectionAddr) -> String {
    match addr {
        redis::ConnectionAddr::Tcp(host, port) if host.contains(':') => format!("[{host}]:{port}"),
        other => other.to_string(),
    }
}
