//! Batches: many items through one call. Each call is one script, atomic like the rest, so
//! a batch pays one round trip and one request on the server where one item at a time pays
//! one per item; on a server bound by its requests (the case on loopback) that is most of
//! the cost. A batch is all-or-prefix: the items that fit go in the order given, the rest
//! stay with the caller, in order. The retry of a broken call applies once, as for every
//! operation.

use std::borrow::Borrow;
use std::fmt::Write;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{RedisMarketplace, kept_cart_call, waits};
use crate::error::{AddError, AddManyError, ConnectionError, PublishError};
use crate::ids::{CartId, ProducerId};
use crate::product::CanonicalKey;
use crate::scripts::Reply;
use crate::wait::worth_waiting;

/// What a batch script answered: how many items it moved, whether the market is closed
/// (so waiting for the rest is pointless), and (publish) whether the server counts the
/// caller among the producer's waiters.
struct Moved {
    count: usize,
    closed: bool,
    registered: bool,
}

impl<P: Serialize + DeserializeOwned + CanonicalKey> RedisMarketplace<P> {
    /// Puts `products` on sale for `producer` in the order given, as many as it has room
    /// for, in one call. `Full` with the products that found no room (the last ones, in
    /// order) when not all fit. Products may differ; equal ones go to one queue, as with
    /// [`publish`](Self::publish).
    ///
    /// On `Connection`, whether the call applied is unknown; the error holds every product
    /// of the call. The handle keeps the failed call (the products it sent: the first
    /// `queue_size_per_producer` at most) under its operation id, and the next
    /// `publish_many` or [`publish_many_timeout`](Self::publish_many_timeout) for the
    /// producer on this handle whose products begin with those (as the error's do) sends it
    /// again first: its recorded answer if it applied, applied now otherwise. So publishing
    /// the error's products again in a batch puts each on sale once, also when the failed
    /// call had put only some on sale before the producer was full; the products past those
    /// the failed call put on sale are offered anew (tests
    /// `a_batch_publish_whose_answer_is_lost_is_on_sale_once_when_published_again` and
    /// `a_batch_publish_applied_in_part_whose_answer_was_lost_puts_none_on_sale_twice` in
    /// `redis/tests/faults.rs`); of several kept calls they begin with, the one that sent
    /// the most of them (test
    /// `two_lost_batch_publishes_one_beginning_the_other_are_each_sent_again_by_their_own_products`).
    /// A plain [`publish`](Self::publish) of one of those
    /// products, or a batch that does not begin with them, does not send it again, and the
    /// products stay in doubt.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish)'s, each holding the products not published.
    pub fn publish_many(
        &self,
        producer: ProducerId,
        products: Vec<P>,
    ) -> Result<(), PublishError<Vec<P>>> {
        self.publish_many_until(producer, products, None)
    }

    /// Like [`publish_many`](Self::publish_many), but waits up to `timeout` for room for
    /// the rest whenever the producer is full (woken by the server, not polling). `Full`
    /// with the products still unpublished when the time passes or the market is closed
    /// first; `Duration::MAX` waits as long as it takes.
    ///
    /// On `Connection`, the products of earlier calls of this wait are on sale, whether the
    /// failed call applied is unknown, and the error holds every product after them (those
    /// of the failed call first). The failed call is kept, with the waits flags it sent,
    /// as `publish_many`'s is, and sent again by the producer's next batch on this handle
    /// whose products begin with its own, timed or not (test
    /// `a_batch_publish_whose_answer_is_lost_is_on_sale_once_when_published_again_timed`),
    /// which takes over its place among the producer's waiters, if it took one, and
    /// withdraws it (test
    /// `a_timed_batch_publish_registered_as_a_waiter_whose_answer_was_lost_leaves_no_waiter_once_published_again`).
    /// A `Connection` of the wait between calls put nothing on sale; the call that would
    /// have withdrawn this one's place among the waiters is kept the same way, unsent, for
    /// the next batch of the error's products to send (test
    /// `a_timed_batch_publish_whose_wait_fails_leaves_no_waiter_once_published_again`).
    ///
    /// # Errors
    ///
    /// As [`publish_many`](Self::publish_many)'s.
    pub fn publish_many_timeout(
        &self,
        producer: ProducerId,
        products: Vec<P>,
        timeout: Duration,
    ) -> Result<(), PublishError<Vec<P>>> {
        let deadline = Instant::now().checked_add(timeout);
        self.publish_many_until(producer, products, Some(deadline))
    }

    /// `wait`: `None` for one call; `Some(deadline)` to wait for room (`Some(None)`: for
    /// as long as it takes).
    fn publish_many_until(
        &self,
        producer: ProducerId,
        mut products: Vec<P>,
        wait: Option<Option<Instant>>,
    ) -> Result<(), PublishError<Vec<P>>> {
        // The call made, which its errors name, whichever step failed.
        let operation = if wait.is_some() {
            "publish_many_timeout"
        } else {
            "publish_many"
        };
        if producer.market != self.tag {
            return Err(PublishError::UnknownProducer(products));
        }
        // Encoded once, however many calls the wait takes.
        let mut encoded = Vec::with_capacity(products.len());
        for product in &products {
            match self.encode(operation, product) {
                Ok(payload) => encoded.push((product.canonical_key().into_owned(), payload)),
                Err(error) => return Err(PublishError::Connection(products, error)),
            }
        }
        let index = producer.index.to_string();
        let room = format!("{}room:{}", self.prefix, producer.index);
        let mut published = 0;
        // As in `publish_timeout`: whether the server counts this call among the producer's
        // waiters, withdrawn by the next try. A kept batch taken over may hand this call its
        // own, which the next try withdraws even when no product is left to offer.
        let mut registered = false;
        match self.resume_publish_many(operation, &index, &encoded) {
            None => {}
            Some(Ok(Some(moved))) => {
                published = moved.count;
                registered = moved.registered;
                if published == products.len() && !registered {
                    return Ok(());
                }
            }
            Some(Ok(None)) => return Err(PublishError::UnknownProducer(products)),
            Some(Err(error)) => return Err(PublishError::Connection(products, error)),
        }
        loop {
            // No call can publish more than the capacity: sending more would only send the
            // rest again on the next call of a wait.
            let asked = (encoded.len() - published).min(self.capacity);
            let register = wait.is_some_and(|deadline| worth_waiting(false, deadline));
            let flags = waits(register, registered, published + asked < encoded.len());
            let chunk = &encoded[published..published + asked];
            let moved = match self.publish_chunk(operation, &index, flags, chunk) {
                Ok(Some(moved)) => moved,
                Ok(None) => {
                    return Err(PublishError::UnknownProducer(products.split_off(published)));
                }
                Err(error) => {
                    return Err(PublishError::Connection(
                        products.split_off(published),
                        error,
                    ));
                }
            };
            published += moved.count;
            registered = moved.registered;
            if published == products.len() {
                return Ok(());
            }
            let deadline = match wait {
                Some(deadline) if registered => deadline,
                _ => return Err(PublishError::Full(products.split_off(published))),
            };
            if let Err(error) = self.bell(operation, room.clone()).wait(deadline) {
                // The server counts this call among the waiters, and only its next try would
                // withdraw that place: that try is kept, unsent, for the next batch of the
                // products the error holds to send, as `publish_timeout` keeps its own.
                let next = (encoded.len() - published).min(self.capacity);
                let (kept, _) = kept_batch(&index, &encoded[published..published + next]);
                self.lanes.keep_unsent(&kept, waits(false, true, false));
                return Err(PublishError::Connection(
                    products.split_off(published),
                    error,
                ));
            }
        }
    }

    /// One run of the batch publish script offering `chunk` (encoded products) for the
    /// producer of index `index`, with `waits`. A run that fails keeps its lane, with
    /// `waits`, under the key naming the producer and `chunk` (see `Lanes::run_keeping`): it
    /// may have applied, and [`resume_publish_many`](Self::resume_publish_many) sends it
    /// again.
    fn publish_chunk(
        &self,
        operation: &'static str,
        index: &str,
        waits: &'static str,
        chunk: &[(String, String)],
    ) -> Result<Option<Moved>, ConnectionError> {
        let args = publish_many_args(index, waits, chunk);
        self.refuse_too_long(operation, &args)?;
        let kept = || kept_batch(index, chunk).0;
        let script = &self.scripts.publish_many;
        let value = self
            .lanes
            .run_keeping(operation, kept, waits, |connection, op, _| {
                self.invoke(connection, script, op, &args)
            })?;
        self.moved(operation, self.reply(operation, value)?, chunk.len())
    }

    /// Sends again a batch publish of this handle's by the producer of index `index`, kept
    /// after it failed (it may have applied), whose products `encoded` begins with: under
    /// its operation id, with the waits flags it sent, so its recorded answer if the server
    /// applied it, its outcome now otherwise. `None` when none is kept. How many it moved
    /// are on sale, once; `registered`, the server counts the caller among the producer's
    /// waiters, which the caller withdraws or keeps; the rest of `encoded` the caller
    /// offers anew, as a publish does after a kept `Full`.
    fn resume_publish_many(
        &self,
        operation: &'static str,
        index: &str,
        encoded: &[(String, String)],
    ) -> Option<Result<Option<Moved>, ConnectionError>> {
        let (no_products, _) = kept_batch(index, &[]);
        let candidates = self.lanes.kept_keys(&no_products);
        if candidates.is_empty() {
            return None;
        }
        // A failed call offered the capacity at most.
        let offered = &encoded[..encoded.len().min(self.capacity)];
        let (ours, ends) = kept_batch(index, offered);
        // The longest kept call these products begin with: a shorter one (equal products
        // published again in a smaller batch that failed too) would answer for only its
        // own, and the rest of the longer call, which may be on sale, would be offered anew.
        let (kept, sent) = candidates
            .into_iter()
            .filter_map(|kept| {
                let sent = ends.iter().position(|&end| end == kept.len())?;
                ours.starts_with(&kept).then_some((kept, sent))
            })
            .max_by_key(|&(_, sent)| sent)?;
        let chunk = &offered[..sent];
        let script = &self.scripts.publish_many;
        let resent = self
            .lanes
            .resend_kept(operation, &kept, |connection, op, waits| {
                self.invoke(
                    connection,
                    script,
                    op,
                    &publish_many_args(index, waits, chunk),
                )
            })?;
        Some(resent.and_then(|value| self.moved(operation, self.reply(operation, value)?, sent)))
    }

    /// Moves up to `count` of the oldest items on sale equal to `product` into `cart`, in
    /// one call; how many it moved (fewer than `count` when fewer were on sale).
    /// `usize::MAX` takes every one on sale. Needs Redis 6.2 or later (`LPOP` with a count).
    ///
    /// # Errors
    ///
    /// As [`add_to_cart`](Self::add_to_cart)'s, but never `Unavailable`: fewer items
    /// than asked for is an `Ok` count. A `Connection` may have moved any of the items
    /// asked for, or none. The handle keeps the failed call under its operation id, and its
    /// next `add_many_to_cart` or [`add_many_to_cart_timeout`](Self::add_many_to_cart_timeout)
    /// asking as many products of that canonical key into that cart sends it again first:
    /// the items it moved count for that call, which asks anew for the rest, so the cart
    /// holds as many as asked, not more (test
    /// `a_batch_add_whose_answer_is_lost_moves_the_items_once_when_added_again` in
    /// `redis/tests/faults.rs`). A batch asking another count, or an `add_to_cart`, does not
    /// send it again. As for `add_to_cart`, a remove of such a product from that cart on
    /// this handle sends it again first, and the next batch add is a new one (test
    /// `a_batch_add_in_doubt_removed_since_is_not_what_the_next_batch_add_stands_for`), and
    /// an order of the cart on this handle ends it (test
    /// `a_batch_add_in_doubt_whose_cart_was_ordered_since_does_not_answer_the_next_batch_add`).
    pub fn add_many_to_cart<Q>(
        &self,
        cart: CartId,
        product: &Q,
        count: usize,
    ) -> Result<usize, AddError>
    where
        P: Borrow<Q>,
        Q: CanonicalKey + ?Sized,
    {
        self.add_many_until(cart, product, count, None)
            .map_err(AddManyError::into_error)
    }

    /// Like [`add_many_to_cart`](Self::add_many_to_cart), but waits up to `timeout` for
    /// equal items to be published or returned until `count` are in the cart (woken by
    /// the server, not polling); how many it moved, fewer than `count` when the time passes
    /// or the market is closed first. `Duration::MAX` waits as long as it takes.
    ///
    /// An error after some items were moved (the cart ordered meanwhile, or the server
    /// lost past the retries) says how many: [`AddManyError::added`], the items of the
    /// calls answered. A `Connection` of one of its calls (not of a wait between them, which
    /// holds no place on the server) may have moved more: that call is kept as
    /// [`add_many_to_cart`](Self::add_many_to_cart)'s is, and sent again by the next batch
    /// add on this handle asking the rest (the count asked less `added`) of the product
    /// into the cart, timed or not (test
    /// `a_timed_batch_add_whose_answer_is_lost_moves_the_items_once_when_added_again_plainly`).
    ///
    /// # Errors
    ///
    /// An [`AddManyError`]: the `UnknownCart` or `Connection` error that stopped
    /// the call, with how many items it had moved.
    pub fn add_many_to_cart_timeout<Q>(
        &self,
        cart: CartId,
        product: &Q,
        count: usize,
        timeout: Duration,
    ) -> Result<usize, AddManyError>
    where
        P: Borrow<Q>,
        Q: CanonicalKey + ?Sized,
    {
        let deadline = Instant::now().checked_add(timeout);
        self.add_many_until(cart, product, count, Some(deadline))
    }

    /// `wait` as for `publish_many_until`.
    fn add_many_until<Q>(
        &self,
        cart: CartId,
        product: &Q,
        count: usize,
        wait: Option<Option<Instant>>,
    ) -> Result<usize, AddManyError>
    where
        P: Borrow<Q>,
        Q: CanonicalKey + ?Sized,
    {
        if cart.market != self.tag {
            return Err(AddManyError::new(0, AddError::UnknownCart));
        }
        let operation = if wait.is_some() {
            "add_many_to_cart_timeout"
        } else {
            "add_many_to_cart"
        };
        let serial = cart.serial.to_string();
        let key = product.canonical_key();
        // A remove of the product from the cart kept after a `Connection` comes before
        // these adds: left kept, the next remove would stand for it, and leave in the cart
        // an item this batch moved.
        if let Err(error) = self.settle_removes(operation, &serial, &key) {
            return Err(AddManyError::new(0, error.into()));
        }
        let arrivals = format!("{}bell:{key}", self.prefix);
        // A batch add of as many of the product to the cart kept after a `Connection` is
        // sent again first: the items it moved count for this call. Any other answer may
        // not hold now (items published since), so the rest are asked for anew.
        let mut added = match self.resume_add_many(operation, &serial, &key, asked(count)) {
            Ok(Some(Some(moved))) => moved.count,
            Ok(Some(None)) => return Err(AddManyError::new(0, AddError::UnknownCart)),
            Ok(None) => 0,
            Err(error) => return Err(AddManyError::new(0, error.into())),
        };
        // A batch add of no item still asks the server whether the cart is open.
        if added == count && count > 0 {
            return Ok(added);
        }
        loop {
            let asked = asked(count - added);
            let moved = match self.add_many_once(operation, &serial, &key, asked) {
                Ok(Some(moved)) => moved,
                Ok(None) => return Err(AddManyError::new(added, AddError::UnknownCart)),
                Err(error) => return Err(AddManyError::new(added, error.into())),
            };
            added += moved.count;
            if added == count {
                return Ok(added);
            }
            let deadline = match wait {
                Some(deadline) if worth_waiting(moved.closed, deadline) => deadline,
                _ => return Ok(added),
            };
            if let Err(error) = self.bell(operation, arrivals.clone()).wait(deadline) {
                return Err(AddManyError::new(added, error.into()));
            }
        }
    }

    /// One run of the batch add script asking up to `asked` products of canonical key `key`
    /// into the cart of serial `serial`; `None` for an unknown cart. A run that fails keeps
    /// its lane under the cart, the key and `asked` (see `Lanes::run_keeping`): it may have
    /// moved items, and [`resume_add_many`](Self::resume_add_many) sends it again.
    fn add_many_once(
        &self,
        operation: &'static str,
        serial: &str,
        key: &str,
        asked: usize,
    ) -> Result<Option<Moved>, ConnectionError> {
        let wanted = asked.to_string();
        let args = [serial, key, wanted.as_str()];
        self.refuse_too_long(operation, &args)?;
        let script = &self.scripts.add_many_to_cart;
        let kept = || kept_add_many(serial, key, Some(asked));
        let value = self
            .lanes
            .run_keeping(operation, kept, "", |connection, op, _| {
                self.invoke(connection, script, op, &args)
            })?;
        self.moved(operation, self.reply(operation, value)?, asked)
    }

    /// Sends again a batch add of this handle's asking `asked` products of canonical key
    /// `key` into the cart of serial `serial`, kept after it failed (it may have moved
    /// items), under its operation id: its recorded answer if the server applied it, its
    /// outcome now otherwise; `None` when none is kept, at no round trip.
    fn resume_add_many(
        &self,
        operation: &'static str,
        serial: &str,
        key: &str,
        asked: usize,
    ) -> Result<Option<Option<Moved>>, ConnectionError> {
        let wanted = asked.to_string();
        let args = [serial, key, wanted.as_str()];
        self.refuse_too_long(operation, &args)?;
        let script = &self.scripts.add_many_to_cart;
        let kept = kept_add_many(serial, key, Some(asked));
        let resent = self
            .lanes
            .resend_kept(operation, &kept, |connection, op, _| {
                self.invoke(connection, script, op, &args)
            });
        resent
            .map(|value| self.moved(operation, self.reply(operation, value?)?, asked))
            .transpose()
    }

    /// Sends again, their answers dropped, the batch adds of products of canonical key `key`
    /// into the cart of serial `serial` that this handle keeps, before a remove of such a
    /// product from it, as `settle_kept` does for the adds of one product: left kept, the
    /// next batch add would stand for one, though the remove came between.
    pub(super) fn settle_batch_adds(
        &self,
        operation: &'static str,
        serial: &str,
        key: &str,
    ) -> Result<(), ConnectionError> {
        let prefix = kept_add_many(serial, key, None);
        for kept in self.lanes.kept_keys(&prefix) {
            let Some(asked) = kept[prefix.len()..].parse().ok() else {
                continue;
            };
            while self
                .resume_add_many(operation, serial, key, asked)?
                .is_some()
            {}
        }
        Ok(())
    }

    /// What a batch script's `reply` to a call asked to move up to `asked` items says;
    /// `None` for an unknown producer or cart.
    fn moved(
        &self,
        operation: &'static str,
        reply: Reply,
        asked: usize,
    ) -> Result<Option<Moved>, ConnectionError> {
        match reply.status.as_str() {
            "ok" => {
                let count = reply
                    .int(0)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n <= asked)
                    .ok_or_else(|| self.unexpected(operation))?;
                Ok(Some(Moved {
                    count,
                    closed: reply.flag(1),
                    registered: reply.flag(2),
                }))
            }
            "unknown" => Ok(None),
            _ => Err(self.unexpected(operation)),
        }
    }
}

/// The batch publish script's arguments: the producer's index, the `waits` flags, and each
/// product of `chunk` as its canonical key and its encoded form.
fn publish_many_args<'a>(
    index: &'a str,
    waits: &'static str,
    chunk: &'a [(String, String)],
) -> Vec<&'a str> {
    let mut args = Vec::with_capacity(2 + 2 * chunk.len());
    args.push(index);
    args.push(waits);
    for (key, payload) in chunk {
        args.push(key);
        args.push(payload);
    }
    args
}

/// The key under which a batch publish by the producer of index `index` offering `chunk`
/// keeps its lane when it fails, and where the key's part for each first so many products
/// ends (from none to all): a later batch of the producer whose products begin with that
/// chunk finds it by its key's being a start of its own. Each product is written with the
/// length of its key and of its encoded form, so a key names one list of products, and
/// starts another's key only where that list starts.
fn kept_batch(index: &str, chunk: &[(String, String)]) -> (String, Vec<usize>) {
    let mut kept = format!("publish_many {index} ");
    let mut ends = Vec::with_capacity(1 + chunk.len());
    ends.push(kept.len());
    for (key, payload) in chunk {
        // Writing to a `String` cannot fail.
        let _ = write!(kept, "{}:{key}{}:{payload}", key.len(), payload.len());
        ends.push(kept.len());
    }
    (kept, ends)
}

/// How many items one batch add asks for, of the `wanted` still to move: a Redis list holds
/// fewer than 2^32 items, and a larger count would reach the server as a float.
fn asked(wanted: usize) -> usize {
    wanted.min(u32::MAX as usize)
}

/// The key under which a batch add asking `asked` products of canonical key `key` into the
/// cart of serial `serial` keeps its lane when it fails (a later batch add asking as many
/// of them into that cart sends it again); with `None`, the start of such keys for any
/// count. It is a `kept_cart_call` key of its own kind, so an order of the cart returns it
/// to the pool as it does the adds and removes; the key's length goes first, so the count
/// that follows cannot be taken for part of it.
pub(super) fn kept_add_many(serial: &str, key: &str, asked: Option<usize>) -> String {
    let start = kept_cart_call("add_many", serial, &format!("{}:{key} ", key.len()));
    match asked {
        Some(asked) => format!("{start}{asked}"),
        None => start,
    }
}
