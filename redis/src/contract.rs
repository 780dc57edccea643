//! [`Market`] for [`RedisMarketplace`]: code written once for every marketplace (the
//! contract's tests, the scenario runner) runs on a Redis market too. A
//! [`ConnectionError`] is the trait's failure (a publish's comes in a [`PublishFailure`]
//! with its product); every other outcome maps to the engine's error variant of the same
//! name.

use std::time::Duration;

use marketplace::{AddError, OrderError, PublishError, RemoveError, Stats};
use marketplace_contract::{Id, Market, PublishFailure};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{self as remote, ConnectionError};
use crate::ids::{CartId, ProducerId};
use crate::market::RedisMarketplace;
use crate::product::CanonicalKey;

impl Id for ProducerId {
    fn number(self) -> u64 {
        self.index()
    }
}

impl Id for CartId {
    fn number(self) -> u64 {
        self.serial()
    }
}

impl<P> Market<P> for RedisMarketplace<P>
where
    P: Serialize + DeserializeOwned + CanonicalKey + Send + Sync,
{
    type Producer = ProducerId;
    type Cart = CartId;
    type Failure = ConnectionError;

    fn try_register_producer(&self) -> Result<ProducerId, ConnectionError> {
        RedisMarketplace::register_producer(self)
    }

    fn try_publish(
        &self,
        producer: ProducerId,
        product: P,
    ) -> Result<Result<(), PublishError<P>>, PublishFailure<P, ConnectionError>> {
        publish_outcome(RedisMarketplace::publish(self, producer, product))
    }

    fn try_publish_timeout(
        &self,
        producer: ProducerId,
        product: P,
        timeout: Duration,
    ) -> Result<Result<(), PublishError<P>>, PublishFailure<P, ConnectionError>> {
        publish_outcome(RedisMarketplace::publish_timeout(
            self, producer, product, timeout,
        ))
    }

    fn try_new_cart(&self) -> Result<CartId, ConnectionError> {
        RedisMarketplace::new_cart(self)
    }

    fn try_add_to_cart(
        &self,
        cart: CartId,
        product: &P,
    ) -> Result<Result<(), AddError>, ConnectionError> {
        add_outcome(RedisMarketplace::add_to_cart(self, cart, product))
    }

    fn try_add_to_cart_timeout(
        &self,
        cart: CartId,
        product: &P,
        timeout: Duration,
    ) -> Result<Result<(), AddError>, ConnectionError> {
        add_outcome(RedisMarketplace::add_to_cart_timeout(
            self, cart, product, timeout,
        ))
    }

    fn try_remove_from_cart(
        &self,
        cart: CartId,
        product: &P,
    ) -> Result<Result<(), RemoveError>, ConnectionError> {
        match RedisMarketplace::remove_from_cart(self, cart, product) {
            Ok(()) => Ok(Ok(())),
            Err(remote::RemoveError::NotInCart) => Ok(Err(RemoveError::NotInCart)),
            Err(remote::RemoveError::UnknownCart) => Ok(Err(RemoveError::UnknownCart)),
            Err(remote::RemoveError::Connection(failure)) => Err(failure),
        }
    }

    fn try_place_order(&self, cart: CartId) -> Result<Result<Vec<P>, OrderError>, ConnectionError> {
        match RedisMarketplace::place_order(self, cart) {
            Ok(items) => Ok(Ok(items)),
            Err(remote::OrderError::UnknownCart) => Ok(Err(OrderError::UnknownCart)),
            Err(remote::OrderError::Connection(failure)) => Err(failure),
            // The engine's outcomes have no order that does not decode; the failure keeps
            // the order's items (`ConnectionError::undecodable_order`), so none is lost.
            Err(remote::OrderError::Undecodable(order)) => Err(ConnectionError::undecodable(order)),
        }
    }

    fn try_shelf_len(&self, producer: ProducerId) -> Result<Option<usize>, ConnectionError> {
        RedisMarketplace::shelf_len(self, producer)
    }

    fn try_available(&self, product: &P) -> Result<usize, ConnectionError> {
        RedisMarketplace::available(self, product)
    }

    fn try_stats(&self) -> Result<Stats, ConnectionError> {
        RedisMarketplace::stats(self)
    }

    fn try_close(&self) -> Result<(), ConnectionError> {
        RedisMarketplace::close(self)
    }
}

fn publish_outcome<P>(
    outcome: Result<(), remote::PublishError<P>>,
) -> Result<Result<(), PublishError<P>>, PublishFailure<P, ConnectionError>> {
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(remote::PublishError::Full(product)) => Ok(Err(PublishError::Full(product))),
        Err(remote::PublishError::UnknownProducer(product)) => {
            Ok(Err(PublishError::UnknownProducer(product)))
        }
        Err(remote::PublishError::Connection(product, failure)) => {
            Err(PublishFailure { product, failure })
        }
    }
}

fn add_outcome(
    outcome: Result<(), remote::AddError>,
) -> Result<Result<(), AddError>, ConnectionError> {
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(remote::AddError::Unavailable) => Ok(Err(AddError::Unavailable)),
        Err(remote::AddError::UnknownCart) => Ok(Err(AddError::UnknownCart)),
        Err(remote::AddError::Connection(failure)) => Err(failure),
    }
}
