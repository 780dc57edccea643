//! [`Fresh`] for [`RedisMarketplace`]: `create` makes a market of its own on the [shared
//! test server](shared_server), so the contract's tests run on Redis as on the engine.

use marketplace_redis::RedisMarketplace;

use crate::market::Fresh;
use crate::redis_server::{fresh_market_name, shared_server};

impl<P> Fresh for RedisMarketplace<P>
where
    P: serde::Serialize + serde::de::DeserializeOwned + marketplace_redis::CanonicalKey,
{
    fn create(queue_size_per_producer: usize) -> Self {
        RedisMarketplace::connect(
            &shared_server().url(),
            &fresh_market_name("test"),
            queue_size_per_producer,
        )
        .unwrap_or_else(|e| panic!("connect: {e}"))
    }
}
