//! [`Market`] for [`RedisMarketplace`]: the contract's tests and workloads run on a Redis
//! server too. `create` makes a fresh market on the [shared test server](shared_server);
//! a call the server cannot complete panics (a test has nothing to retry).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use marketplace::{AddError, OrderError, PublishError, RemoveError, Stats};
use marketplace_redis::{self as remote, CanonicalKey, RedisMarketplace};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::market::{Id, Market};
use crate::redis_server::shared_server;

impl Id for remote::ProducerId {
    fn number(self) -> u64 {
        self.index()
    }
}

impl Id for remote::CartId {
    fn number(self) -> u64 {
        self.serial()
    }
}

/// A market name no other `create` of any test process uses.
fn fresh_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Ordering: only uniqueness of the count matters.
    let serial = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test-{}-{serial}", std::process::id())
}

fn lost<T>(operation: &str, error: impl std::fmt::Display) -> T {
    panic!("{operation}: the test server failed: {error}")
}

impl<P> Market<P> for RedisMarketplace<P>
where
    P: Serialize + DeserializeOwned + CanonicalKey + Send + Sync,
{
    type Producer = remote::ProducerId;
    type Cart = remote::CartId;

    fn create(queue_size_per_producer: usize) -> Self {
        RedisMarketplace::connect(
            &shared_server().url(),
            &fresh_name(),
            queue_size_per_producer,
        )
        .unwrap_or_else(|e| panic!("connect: {e}"))
    }

    fn register_producer(&self) -> Self::Producer {
        RedisMarketplace::register_producer(self).unwrap_or_else(|e| lost("register", e))
    }

    fn publish(&self, producer: Self::Producer, product: P) -> Result<(), PublishError<P>> {
        engine_publish(RedisMarketplace::publish(self, producer, product))
    }

    fn publish_timeout(
        &self,
        producer: Self::Producer,
        product: P,
        timeout: Duration,
    ) -> Result<(), PublishError<P>> {
        engine_publish(RedisMarketplace::publish_timeout(
            self, producer, product, timeout,
        ))
    }

    fn new_cart(&self) -> Self::Cart {
        RedisMarketplace::new_cart(self).unwrap_or_else(|e| lost("new_cart", e))
    }

    fn add_to_cart(&self, cart: Self::Cart, product: &P) -> Result<(), AddError> {
        engine_add(RedisMarketplace::add_to_cart(self, cart, product))
    }

    fn add_to_cart_timeout(
        &self,
        cart: Self::Cart,
        product: &P,
        timeout: Duration,
    ) -> Result<(), AddError> {
        engine_add(RedisMarketplace::add_to_cart_timeout(
            self, cart, product, timeout,
        ))
    }

    fn remove_from_cart(&self, cart: Self::Cart, product: &P) -> Result<(), RemoveError> {
        match RedisMarketplace::remove_from_cart(self, cart, product) {
            Ok(()) => Ok(()),
            Err(remote::RemoveError::NotInCart) => Err(RemoveError::NotInCart),
            Err(remote::RemoveError::UnknownCart) => Err(RemoveError::UnknownCart),
            Err(e) => lost("remove_from_cart", e),
        }
    }

    fn place_order(&self, cart: Self::Cart) -> Result<Vec<P>, OrderError> {
        match RedisMarketplace::place_order(self, cart) {
            Ok(items) => Ok(items),
            Err(remote::OrderError::UnknownCart) => Err(OrderError::UnknownCart),
            Err(e) => lost("place_order", e),
        }
    }

    fn shelf_len(&self, producer: Self::Producer) -> Option<usize> {
        RedisMarketplace::shelf_len(self, producer).unwrap_or_else(|e| lost("shelf_len", e))
    }

    fn available(&self, product: &P) -> usize {
        RedisMarketplace::available(self, product).unwrap_or_else(|e| lost("available", e))
    }

    fn stats(&self) -> Stats {
        RedisMarketplace::stats(self).unwrap_or_else(|e| lost("stats", e))
    }

    fn close(&self) {
        RedisMarketplace::close(self).unwrap_or_else(|e| lost("close", e))
    }
}

fn engine_publish<P>(outcome: Result<(), remote::PublishError<P>>) -> Result<(), PublishError<P>> {
    match outcome {
        Ok(()) => Ok(()),
        Err(remote::PublishError::Full(p)) => Err(PublishError::Full(p)),
        Err(remote::PublishError::UnknownProducer(p)) => Err(PublishError::UnknownProducer(p)),
        Err(e) => lost("publish", e),
    }
}

fn engine_add(outcome: Result<(), remote::AddError>) -> Result<(), AddError> {
    match outcome {
        Ok(()) => Ok(()),
        Err(remote::AddError::Unavailable) => Err(AddError::Unavailable),
        Err(remote::AddError::UnknownCart) => Err(AddError::UnknownCart),
        Err(e) => lost("add_to_cart", e),
    }
}
