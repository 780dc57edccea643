//! The product type of the Redis market's tests: equal to every other of its kind (one
//! queue per kind on the server), while the serial travels with it and tells which item an
//! order got.

use std::borrow::Cow;

use marketplace_redis::CanonicalKey;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Item {
    pub(crate) kind: String,
    pub(crate) serial: u64,
}

impl CanonicalKey for Item {
    fn canonical_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.kind)
    }
}

pub(crate) fn item(kind: &str, serial: u64) -> Item {
    Item {
        kind: kind.to_owned(),
        serial,
    }
}
