//! Differential test: the same random single-threaded sequence of contract operations runs
//! on the engine (`Marketplace`) and on a Redis market, and every result (values, error
//! variants, which item of several equal ones) and every observation after each step
//! (`stats`, `shelf_len` of every producer, `available` of every product) must agree.
//!
//! Operations include the failure cases (ids of another market, spent carts, removing what
//! is not in the cart, publishing to a full producer, zero and short timeouts, batches that
//! only partly fit or find only part of what they ask for), and products whose bytes are
//! unusual on the server: empty, unicode, longer than 64 KiB, and bytes that look like the
//! backend's key separators, its entry formats or Lua patterns (`:`, `|`, `%`, `{`, `}`,
//! NUL). The batch forms, which only the Redis market has, are compared with the engine
//! doing the same one item at a time.
//!
//! `boundary.rs` has the connect errors, foreign data and markets side by side.
//!
//! The number of cases is 64 unless `PROPTEST_CASES` says otherwise.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use marketplace::{AddError, Marketplace, PublishError};
use marketplace_contract::Market;
use marketplace_harness::redis_server::{fresh_market_name, shared_server};
use marketplace_redis::{
    AddError as RAddError, CanonicalKey, PublishError as RPublishError, RedisMarketplace,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde::{Deserialize, Serialize};

/// Equal by name only; the serial tells equal items apart in the comparison.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Item {
    name: String,
    serial: u64,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Item {}

impl Hash for Item {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl CanonicalKey for Item {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
}

/// The product names: ordinary, empty, unicode, long, and bytes that mean something to the
/// backend's keys (`q:KEY`, `cart:N`), entries (`PRODUCER|PAYLOAD`, `KEYLEN:KEY...`), JSON,
/// Lua patterns, KEYS patterns or hash tags. The last one is never published.
fn names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = [
            "tea",
            "",
            "ünïcødé ☕ 茶 \u{10FFFF}\u{FEFF}",
            ":",
            "%",
            "{",
            "}",
            "{tea}",
            "\0",
            "tea\0",
            "q:tea",
            "3:tea0|\"x\"",
            "0|\"tea\"",
            "%s%d%%.*[^]$()-+?",
            "|",
            "\\\"\n\t\r\u{7f}",
            "tea ",
            "*?[x]\\",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        names.push("L".repeat(66_000) + "é");
        names.push("never published".to_owned());
        names
    })
}

fn published_kinds() -> usize {
    names().len() - 1
}

#[derive(Clone, Debug)]
enum Target {
    /// One of the ids created so far in this case (none yet: a foreign one).
    Local(Index),
    /// An id issued by another market.
    Foreign(Index),
}

#[derive(Clone, Debug)]
enum Op {
    Register,
    NewCart,
    Publish(Target, usize),
    /// `publish_timeout` with a zero timeout.
    PublishNow(Target, usize),
    /// `publish_timeout` with a short timeout: nothing can come, single-threaded.
    PublishWait(Target, usize),
    Add(Target, usize),
    AddNow(Target, usize),
    AddWait(Target, usize),
    Remove(Target, usize),
    Order(Target),
    Close,
    /// Redis `publish_many` / engine one publish at a time, stopping at the first `Full`.
    PublishMany(Target, Vec<usize>),
    /// `publish_many_timeout` with a zero timeout.
    PublishManyNow(Target, Vec<usize>),
    /// Redis `add_many_to_cart` / engine one add at a time, stopping at `Unavailable`.
    AddMany(Target, usize, usize),
    /// `add_many_to_cart_timeout` with a zero timeout.
    AddManyNow(Target, usize, usize),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        9 => any::<Index>().prop_map(Target::Local),
        1 => any::<Index>().prop_map(Target::Foreign),
    ]
}

/// Mostly the first three names (so equal items meet again, which shows their order),
/// sometimes any, now and then the one never published.
fn kind() -> impl Strategy<Value = usize> {
    let all = published_kinds();
    prop_oneof![
        12 => 0..3usize,
        4 => 0..all,
        1 => Just(all),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Register),
        3 => Just(Op::NewCart),
        8 => (target(), kind()).prop_map(|(t, k)| Op::Publish(t, k)),
        2 => (target(), kind()).prop_map(|(t, k)| Op::PublishNow(t, k)),
        1 => (target(), kind()).prop_map(|(t, k)| Op::PublishWait(t, k)),
        8 => (target(), kind()).prop_map(|(t, k)| Op::Add(t, k)),
        2 => (target(), kind()).prop_map(|(t, k)| Op::AddNow(t, k)),
        1 => (target(), kind()).prop_map(|(t, k)| Op::AddWait(t, k)),
        5 => (target(), kind()).prop_map(|(t, k)| Op::Remove(t, k)),
        3 => target().prop_map(Op::Order),
        1 => Just(Op::Close),
        2 => (target(), prop::collection::vec(kind(), 0..6)).prop_map(|(t, k)| Op::PublishMany(t, k)),
        1 => (target(), prop::collection::vec(kind(), 0..6)).prop_map(|(t, k)| Op::PublishManyNow(t, k)),
        2 => (target(), kind(), 0..5usize).prop_map(|(t, k, n)| Op::AddMany(t, k, n)),
        1 => (target(), kind(), 0..5usize).prop_map(|(t, k, n)| Op::AddManyNow(t, k, n)),
    ]
}

type RProducer = marketplace_redis::ProducerId;
type RCart = marketplace_redis::CartId;

/// The engine and a Redis market under comparison, the ids each issued (pairwise), and ids
/// issued by other markets of each kind.
struct Pair {
    engine: Marketplace<Item>,
    redis: RedisMarketplace<Item>,
    /// Holds the foreign Redis ids' market until the case ends.
    foreign_redis: RedisMarketplace<Item>,
    producers: Vec<(marketplace::ProducerId, RProducer)>,
    carts: Vec<(marketplace::CartId, RCart)>,
    /// Which of `carts` were ordered (the engine's side of the truth, for the batch
    /// reference, which must know whether a cart is open without changing it).
    spent: Vec<bool>,
    foreign_producers: Vec<(marketplace::ProducerId, RProducer)>,
    foreign_carts: Vec<(marketplace::CartId, RCart)>,
    next_serial: u64,
}

const SHORT: Duration = Duration::from_millis(3);

impl Pair {
    fn new(capacity: usize) -> Self {
        let url = shared_server().url();
        let redis =
            RedisMarketplace::connect(&url, &fresh_market_name("diff"), capacity).expect("connect");
        // Foreign ids: a market of each kind with more producers and carts than most cases
        // make, so their indices and serials are also valid numbers locally.
        let foreign_redis =
            RedisMarketplace::<Item>::connect(&url, &fresh_market_name("diff-foreign"), capacity)
                .expect("connect");
        let foreign_engine = Marketplace::<Item>::new(capacity);
        let mut foreign_producers = Vec::new();
        let mut foreign_carts = Vec::new();
        for _ in 0..4 {
            foreign_producers.push((
                foreign_engine.register_producer(),
                foreign_redis.register_producer().expect("register"),
            ));
            foreign_carts.push((
                foreign_engine.new_cart(),
                foreign_redis.new_cart().expect("new_cart"),
            ));
        }
        Pair {
            engine: Marketplace::new(capacity),
            redis,
            foreign_redis,
            producers: Vec::new(),
            carts: Vec::new(),
            spent: Vec::new(),
            foreign_producers,
            foreign_carts,
            next_serial: 0,
        }
    }

    fn producer(&self, target: &Target) -> (marketplace::ProducerId, RProducer) {
        match target {
            Target::Local(index) if !self.producers.is_empty() => {
                self.producers[index.index(self.producers.len())]
            }
            Target::Local(index) | Target::Foreign(index) => *index.get(&self.foreign_producers),
        }
    }

    /// The pair of cart ids, and the position in `carts` of a local one.
    fn cart(&self, target: &Target) -> ((marketplace::CartId, RCart), Option<usize>) {
        match target {
            Target::Local(index) if !self.carts.is_empty() => {
                let at = index.index(self.carts.len());
                (self.carts[at], Some(at))
            }
            Target::Local(index) | Target::Foreign(index) => {
                (*index.get(&self.foreign_carts), None)
            }
        }
    }

    fn fresh(&mut self, kind: usize) -> Item {
        self.next_serial += 1;
        Item {
            name: names()[kind].clone(),
            serial: self.next_serial,
        }
    }

    /// What a consumer asks for: any item of the kind.
    fn ask(kind: usize) -> Item {
        Item {
            name: names()[kind].clone(),
            serial: u64::MAX,
        }
    }

    /// Runs `op` on both sides; what each reported, rendered with serials and error
    /// variants (the Redis side through the contract's trait where it has the operation).
    fn apply(&mut self, op: &Op) -> (String, String) {
        let engine = &self.engine;
        let redis = &self.redis;
        match op {
            Op::Register => {
                let e = Market::<Item>::try_register_producer(engine).unwrap();
                let r = Market::<Item>::try_register_producer(redis).expect("register");
                self.producers.push((e, r));
                (e.index().to_string(), r.index().to_string())
            }
            Op::NewCart => {
                let e = Market::<Item>::try_new_cart(engine).unwrap();
                let r = Market::<Item>::try_new_cart(redis).expect("new_cart");
                self.carts.push((e, r));
                self.spent.push(false);
                (e.serial().to_string(), r.serial().to_string())
            }
            Op::Publish(t, k) | Op::PublishNow(t, k) | Op::PublishWait(t, k) => {
                let (e, r) = self.producer(t);
                let product = self.fresh(*k);
                let (engine, redis) = (&self.engine, &self.redis);
                match op {
                    Op::Publish(..) => (
                        show(Market::try_publish(engine, e, product.clone())),
                        show(Market::try_publish(redis, r, product)),
                    ),
                    _ => {
                        let wait = if matches!(op, Op::PublishNow(..)) {
                            Duration::ZERO
                        } else {
                            SHORT
                        };
                        (
                            show(Market::try_publish_timeout(
                                engine,
                                e,
                                product.clone(),
                                wait,
                            )),
                            show(Market::try_publish_timeout(redis, r, product, wait)),
                        )
                    }
                }
            }
            Op::Add(t, k) => {
                let ((e, r), _) = self.cart(t);
                let p = Self::ask(*k);
                (
                    show(Market::try_add_to_cart(engine, e, &p)),
                    show(Market::try_add_to_cart(redis, r, &p)),
                )
            }
            Op::AddNow(t, k) | Op::AddWait(t, k) => {
                let ((e, r), _) = self.cart(t);
                let p = Self::ask(*k);
                let wait = if matches!(op, Op::AddNow(..)) {
                    Duration::ZERO
                } else {
                    SHORT
                };
                (
                    show(Market::try_add_to_cart_timeout(engine, e, &p, wait)),
                    show(Market::try_add_to_cart_timeout(redis, r, &p, wait)),
                )
            }
            Op::Remove(t, k) => {
                let ((e, r), _) = self.cart(t);
                let p = Self::ask(*k);
                (
                    show(Market::try_remove_from_cart(engine, e, &p)),
                    show(Market::try_remove_from_cart(redis, r, &p)),
                )
            }
            Op::Order(t) => {
                let ((e, r), at) = self.cart(t);
                if let Some(at) = at {
                    self.spent[at] = true;
                }
                (
                    show(Market::try_place_order(engine, e)),
                    show(Market::try_place_order(redis, r)),
                )
            }
            Op::Close => {
                Market::<Item>::try_close(engine).unwrap();
                Market::<Item>::try_close(redis).expect("close");
                (String::new(), String::new())
            }
            Op::PublishMany(t, kinds) | Op::PublishManyNow(t, kinds) => {
                let (e, r) = self.producer(t);
                let products: Vec<Item> = kinds.iter().map(|k| self.fresh(*k)).collect();
                let reference = format!("{:?}", self.engine_publish_many(e, products.clone()));
                let outcome = if matches!(op, Op::PublishMany(..)) {
                    self.redis.publish_many(r, products)
                } else {
                    self.redis.publish_many_timeout(r, products, Duration::ZERO)
                };
                let remote = match outcome {
                    Ok(()) => Ok(()),
                    Err(RPublishError::Full(rest)) => Err(PublishError::Full(rest)),
                    Err(RPublishError::UnknownProducer(rest)) => {
                        Err(PublishError::UnknownProducer(rest))
                    }
                    Err(error) => return (reference, format!("connection: {error}")),
                };
                (reference, format!("{remote:?}"))
            }
            Op::AddMany(t, k, count) | Op::AddManyNow(t, k, count) => {
                let ((e, r), at) = self.cart(t);
                let p = Self::ask(*k);
                let open = at.is_some_and(|at| !self.spent[at]);
                let reference = format!("{:?}", self.engine_add_many(e, open, &p, *count));
                let remote = if matches!(op, Op::AddMany(..)) {
                    self.redis.add_many_to_cart(r, &p, *count)
                } else {
                    self.redis
                        .add_many_to_cart_timeout(r, &p, *count, Duration::ZERO)
                        .map_err(|e| e.into_error())
                };
                let remote = match remote {
                    Ok(n) => Ok(n),
                    Err(RAddError::Unavailable) => Err(AddError::Unavailable),
                    Err(RAddError::UnknownCart) => Err(AddError::UnknownCart),
                    Err(error) => return (reference, format!("connection: {error}")),
                };
                (reference, format!("{remote:?}"))
            }
        }
    }

    /// `publish_many` on the engine: one publish at a time, in order, stopping at the first
    /// refusal with the products not published.
    fn engine_publish_many(
        &self,
        producer: marketplace::ProducerId,
        mut products: Vec<Item>,
    ) -> Result<(), PublishError<Vec<Item>>> {
        if self.engine.shelf_len(producer).is_none() {
            return Err(PublishError::UnknownProducer(products));
        }
        let mut published = 0;
        while published < products.len() {
            match self.engine.publish(producer, products[published].clone()) {
                Ok(()) => published += 1,
                Err(PublishError::Full(_)) => {
                    return Err(PublishError::Full(products.split_off(published)));
                }
                Err(error) => panic!("a known producer refused: {error}"),
            }
        }
        Ok(())
    }

    /// `add_many_to_cart` on the engine: `UnknownCart` for a cart not open (whatever the
    /// count), else one add at a time until `count` or `Unavailable`.
    fn engine_add_many(
        &self,
        cart: marketplace::CartId,
        open: bool,
        product: &Item,
        count: usize,
    ) -> Result<usize, AddError> {
        if !open {
            return Err(AddError::UnknownCart);
        }
        let mut added = 0;
        while added < count {
            match self.engine.add_to_cart(cart, product) {
                Ok(()) => added += 1,
                Err(AddError::Unavailable) => break,
                Err(error) => return Err(error),
            }
        }
        Ok(added)
    }

    /// Every observation both sides offer, which must agree and add up.
    fn check_state(&self) -> Result<(), TestCaseError> {
        let stats = self.engine.stats();
        let remote = self.redis.stats().expect("stats");
        prop_assert_eq!(stats, remote, "stats");
        let mut on_shelves = 0;
        for &(e, r) in &self.producers {
            let len = self.engine.shelf_len(e);
            prop_assert_eq!(
                len,
                self.redis.shelf_len(r).expect("shelf_len"),
                "shelf_len of {}",
                e
            );
            on_shelves += len.expect("a local producer is known");
        }
        for &(e, r) in &self.foreign_producers {
            prop_assert_eq!(self.engine.shelf_len(e), None);
            prop_assert_eq!(self.redis.shelf_len(r).expect("shelf_len"), None);
        }
        let mut available = 0;
        for kind in 0..names().len() {
            let p = Self::ask(kind);
            let count = self.engine.available(&p);
            prop_assert_eq!(
                count,
                self.redis.available(&p).expect("available"),
                "available({:?})",
                short(&names()[kind])
            );
            available += count;
        }
        prop_assert_eq!(stats.producers, self.producers.len());
        prop_assert_eq!(stats.items_on_shelves, on_shelves);
        prop_assert_eq!(stats.items_on_shelves, available);
        prop_assert_eq!(
            self.engine.is_closed(),
            self.redis.is_closed().expect("is_closed")
        );
        Ok(())
    }

    fn run(&mut self, ops: &[Op]) -> Result<(), TestCaseError> {
        for (step, op) in ops.iter().enumerate() {
            let (engine, redis) = self.apply(op);
            prop_assert!(
                engine == redis,
                "step {}: {:?}\n engine: {}\n  redis: {}",
                step,
                op,
                short(&engine),
                short(&redis)
            );
            self.check_state()?;
        }
        // Ordering every cart ever opened leaves no cart open and every item on a shelf.
        for (e, r) in self.carts.clone() {
            prop_assert_eq!(
                show(Market::try_place_order(&self.engine, e)),
                show(Market::try_place_order(&self.redis, r))
            );
        }
        self.check_state()?;
        let stats = self.engine.stats();
        prop_assert_eq!(stats.open_carts, 0);
        prop_assert_eq!(stats.items_in_carts, 0);
        // Buying everything on sale shows the order of equal items on the shelves (which
        // item a return put where), not only the counts.
        let (e, r) = (
            self.engine.new_cart(),
            self.redis.new_cart().expect("new_cart"),
        );
        for kind in 0..names().len() {
            let p = Self::ask(kind);
            let reference = format!("{:?}", self.engine_add_many(e, true, &p, usize::MAX));
            let remote = match self.redis.add_many_to_cart(r, &p, usize::MAX) {
                Ok(n) => format!("{:?}", Ok::<usize, AddError>(n)),
                Err(error) => format!("{error}"),
            };
            prop_assert_eq!(reference, remote, "draining {:?}", short(&names()[kind]));
        }
        prop_assert_eq!(
            show(Market::try_place_order(&self.engine, e)),
            show(Market::try_place_order(&self.redis, r))
        );
        self.check_state()?;
        prop_assert_eq!(self.engine.stats().items_on_shelves, 0);
        Ok(())
    }
}

/// A result as a string; a connection failure shows as such (and differs from the engine).
fn show<T: std::fmt::Debug, F: std::fmt::Display>(outcome: Result<T, F>) -> String {
    match outcome {
        Ok(value) => format!("{value:?}"),
        Err(failure) => format!("connection: {failure}"),
    }
}

/// Long names shortened in messages.
fn short(text: &str) -> String {
    if text.len() > 300 {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...({} bytes)", &text[..end], text.len())
    } else {
        text.to_owned()
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        // Every case is real work on a server; shrinking still runs, but not for ever.
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn redis_matches_the_engine(
        capacity in 1usize..=3,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut pair = Pair::new(capacity);
        let outcome = pair.run(&ops);
        let Pair { redis, foreign_redis, .. } = pair;
        redis.delete().expect("delete");
        foreign_redis.delete().expect("delete");
        outcome?;
    }
}
