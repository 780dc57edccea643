//! [`Fresh`] for [`RedisMarketplace`]: `create` makes a market of its own on the [shared
//! test server](shared_server), so the contract's tests run on Redis as on the engine.

use std::sync::atomic::{AtomicU64, Ordering};

use marketplace_redis::RedisMarketplace;

use crate::market::Fresh;
use crate::redis_server::shared_server;

/// A market name no other `create` of any test process uses.
fn fresh_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Ordering: only uniqueness of the count matters.
    let serial = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test-{}-{serial}", std::process::id())
}

impl<P> Fresh for RedisMarketplace<P>
where
    P: serde::Serialize + serde::de::DeserializeOwned + marketplace_redis::CanonicalKey,
{
    fn create(queue_size_per_producer: usize) -> Self {
        RedisMarketplace::connect(
            &shared_server().url(),
            &fresh_name(),
            queue_size_per_producer,
        )
        .unwrap_or_else(|e| panic!("connect: {e}"))
    }
}
