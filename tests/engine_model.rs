//! Model-based property test: random operation sequences run on the lock-free engine and on
//! the single-`Mutex` reference model ([`LockedMarketplace`]) must give identical results at
//! every step.
//!
//! Operations pick their producer or cart among the ids created so far (spent carts
//! included) by index, and now and then use an id from another marketplace. Products come
//! from a small domain of kinds and carry a serial that plays no part in equality, so a
//! comparison also checks *which* of several equal items each side handed out (FIFO order
//! among producers, the product handed back by a refused publish, the item a remove put back).
//! Adds and publishes on the engine's side also go through product handles now and then. After
//! every step both sides must agree on `stats()`, on `shelf_len` of every producer and
//! on `available` of every kind, and each side's figures must add up.
//!
//! The number of cases is 256 unless `PROPTEST_CASES` says otherwise.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

use marketplace::baseline::LockedMarketplace;
use marketplace::{CartId, Marketplace, ProducerId};

/// Equal by kind only; the serial tells equal items apart in the comparison.
type Product = support::Tagged<u8>;

/// How many kinds of product the operations use (plus one never published, see `kind()`).
const KINDS: u8 = 4;

/// Which producer or cart an operation is aimed at.
#[derive(Clone, Debug)]
enum Target {
    /// One of the ids created so far in this case (none yet: a foreign one).
    Local(Index),
    /// An id issued by another marketplace.
    Foreign(Index),
}

#[derive(Clone, Debug)]
enum Op {
    Register,
    Publish(Target, u8),
    /// `publish_timeout` with a zero timeout: one attempt, like `publish`.
    PublishNow(Target, u8),
    NewCart,
    Add(Target, u8),
    /// `add_to_cart_timeout` with a zero timeout.
    AddNow(Target, u8),
    Remove(Target, u8),
    /// Through a product handle on the engine's side: the handle's product is published
    /// (a clone of the catalog's copy), and the model publishes the same.
    PublishVia(Target, u8),
    /// Through a product handle on the engine's side.
    AddVia(Target, u8),
    Order(Target),
    /// After which blocking calls give up at once; nothing else changes.
    Close,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        9 => any::<Index>().prop_map(Target::Local),
        1 => any::<Index>().prop_map(Target::Foreign),
    ]
}

/// Mostly the published kinds; now and then one nobody ever publishes.
fn kind() -> impl Strategy<Value = u8> {
    prop_oneof![12 => 0..KINDS, 1 => Just(KINDS)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Register),
        10 => (target(), kind()).prop_map(|(p, k)| Op::Publish(p, k)),
        2 => (target(), kind()).prop_map(|(p, k)| Op::PublishNow(p, k)),
        3 => Just(Op::NewCart),
        10 => (target(), kind()).prop_map(|(c, k)| Op::Add(c, k)),
        2 => (target(), kind()).prop_map(|(c, k)| Op::AddNow(c, k)),
        5 => (target(), kind()).prop_map(|(c, k)| Op::Remove(c, k)),
        3 => (target(), kind()).prop_map(|(p, k)| Op::PublishVia(p, k)),
        3 => (target(), kind()).prop_map(|(c, k)| Op::AddVia(c, k)),
        3 => target().prop_map(Op::Order),
        1 => Just(Op::Close),
    ]
}

/// The two marketplaces under comparison, the ids each issued (pairwise: the `i`th of one
/// side corresponds to the `i`th of the other), and ids issued elsewhere.
struct Pair {
    engine: Marketplace<Product>,
    model: LockedMarketplace<Product>,
    producers: Vec<(ProducerId, ProducerId)>,
    carts: Vec<(CartId, CartId)>,
    foreign_producers: Vec<ProducerId>,
    foreign_carts: Vec<CartId>,
    next_serial: u64,
}

impl Pair {
    fn new(capacity: usize) -> Self {
        // Foreign ids from both implementations, with indices that are and are not valid
        // locally.
        let other_engine = Marketplace::<Product>::new(1);
        let other_model = LockedMarketplace::<Product>::new(1);
        let mut foreign_producers = Vec::new();
        let mut foreign_carts = Vec::new();
        for _ in 0..3 {
            foreign_producers.push(other_engine.register_producer());
            foreign_producers.push(other_model.register_producer());
            foreign_carts.push(other_engine.new_cart());
            foreign_carts.push(other_model.new_cart());
        }
        Self {
            engine: Marketplace::new(capacity),
            model: LockedMarketplace::new(capacity),
            producers: Vec::new(),
            carts: Vec::new(),
            foreign_producers,
            foreign_carts,
            next_serial: 0,
        }
    }

    fn producer(&self, target: &Target) -> (ProducerId, ProducerId) {
        match target {
            Target::Local(index) if !self.producers.is_empty() => {
                self.producers[index.index(self.producers.len())]
            }
            Target::Local(index) | Target::Foreign(index) => {
                let id = *index.get(&self.foreign_producers);
                (id, id)
            }
        }
    }

    fn cart(&self, target: &Target) -> (CartId, CartId) {
        match target {
            Target::Local(index) if !self.carts.is_empty() => {
                self.carts[index.index(self.carts.len())]
            }
            Target::Local(index) | Target::Foreign(index) => {
                let id = *index.get(&self.foreign_carts);
                (id, id)
            }
        }
    }

    fn fresh(&mut self, kind: u8) -> Product {
        self.next_serial += 1;
        Product {
            kind,
            serial: self.next_serial,
        }
    }

    /// Runs `op` on both sides and returns what each reported, rendered with serials.
    fn apply(&mut self, op: &Op) -> (String, String) {
        let ask = support::any::<u8>;
        let zero = Duration::ZERO;
        match op {
            Op::Register => {
                let pair = (
                    self.engine.register_producer(),
                    self.model.register_producer(),
                );
                self.producers.push(pair);
                (pair.0.index().to_string(), pair.1.index().to_string())
            }
            Op::NewCart => {
                let pair = (self.engine.new_cart(), self.model.new_cart());
                self.carts.push(pair);
                (pair.0.serial().to_string(), pair.1.serial().to_string())
            }
            Op::Publish(target, kind) | Op::PublishNow(target, kind) => {
                let (e, m) = self.producer(target);
                let product = self.fresh(*kind);
                if matches!(op, Op::Publish(..)) {
                    (
                        format!("{:?}", self.engine.publish(e, product.clone())),
                        format!("{:?}", self.model.publish(m, product)),
                    )
                } else {
                    (
                        format!(
                            "{:?}",
                            self.engine.publish_timeout(e, product.clone(), zero)
                        ),
                        format!("{:?}", self.model.publish_timeout(m, product, zero)),
                    )
                }
            }
            Op::Add(target, kind) => {
                let (e, m) = self.cart(target);
                (
                    format!("{:?}", self.engine.add_to_cart(e, &ask(*kind))),
                    format!("{:?}", self.model.add_to_cart(m, &ask(*kind))),
                )
            }
            Op::AddNow(target, kind) => {
                let (e, m) = self.cart(target);
                (
                    format!(
                        "{:?}",
                        self.engine.add_to_cart_timeout(e, &ask(*kind), zero)
                    ),
                    format!("{:?}", self.model.add_to_cart_timeout(m, &ask(*kind), zero)),
                )
            }
            Op::Remove(target, kind) => {
                let (e, m) = self.cart(target);
                (
                    format!("{:?}", self.engine.remove_from_cart(e, &ask(*kind))),
                    format!("{:?}", self.model.remove_from_cart(m, &ask(*kind))),
                )
            }
            Op::PublishVia(target, kind) => {
                let (e, m) = self.producer(target);
                let product = self.fresh(*kind);
                let handle = self.engine.product(&product);
                (
                    format!("{:?}", handle.publish(e)),
                    format!("{:?}", self.model.publish(m, handle.product().clone())),
                )
            }
            Op::AddVia(target, kind) => {
                let (e, m) = self.cart(target);
                (
                    format!("{:?}", self.engine.product(&ask(*kind)).add_to_cart(e)),
                    format!("{:?}", self.model.add_to_cart(m, &ask(*kind))),
                )
            }
            Op::Order(target) => {
                let (e, m) = self.cart(target);
                (
                    format!("{:?}", self.engine.place_order(e)),
                    format!("{:?}", self.model.place_order(m)),
                )
            }
            Op::Close => {
                self.engine.close();
                self.model.close();
                (String::new(), String::new())
            }
        }
    }

    /// Every observation both sides offer, which must agree and add up.
    fn check_state(&self) -> Result<(), TestCaseError> {
        let stats = self.engine.stats();
        prop_assert_eq!(stats, self.model.stats());
        let mut on_shelves = 0;
        for &(e, m) in &self.producers {
            let len = self.engine.shelf_len(e);
            prop_assert_eq!(len, self.model.shelf_len(m), "shelf_len of {}", e);
            on_shelves += len.expect("a local producer is known");
            // A producer's id means nothing to the other side.
            prop_assert_eq!(self.engine.shelf_len(m), None);
            prop_assert_eq!(self.model.shelf_len(e), None);
        }
        for &id in &self.foreign_producers {
            prop_assert_eq!(self.engine.shelf_len(id), None);
            prop_assert_eq!(self.model.shelf_len(id), None);
        }
        let mut available = 0;
        for kind in 0..=KINDS {
            let product = support::any(kind);
            let count = self.engine.available(&product);
            prop_assert_eq!(count, self.model.available(&product), "available({})", kind);
            available += count;
        }
        prop_assert_eq!(stats.producers, self.producers.len());
        prop_assert_eq!(stats.items_on_shelves, on_shelves);
        prop_assert_eq!(stats.items_on_shelves, available);
        Ok(())
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_matches_the_locked_model(
        capacity in 1usize..=4,
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let mut pair = Pair::new(capacity);
        for (step, op) in ops.iter().enumerate() {
            let (engine, model) = pair.apply(op);
            prop_assert_eq!(engine, model, "step {}: {:?}", step, op);
            pair.check_state()?;
        }
        // Ordering every cart ever opened leaves no cart open and every item on a shelf.
        let carts = pair.carts.clone();
        for (e, m) in carts {
            prop_assert_eq!(
                format!("{:?}", pair.engine.place_order(e)),
                format!("{:?}", pair.model.place_order(m))
            );
        }
        pair.check_state()?;
        let stats = pair.engine.stats();
        prop_assert_eq!(stats.open_carts, 0);
        prop_assert_eq!(stats.items_in_carts, 0);
    }
}
