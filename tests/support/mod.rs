//! What the engine's tests share: the product type whose items are equal by kind while each
//! keeps its own serial, and the [`Market`] trait that runs a test on the engine and on the
//! baselines alike (it lives in the benchmark harness crate, which drives the same API).
//! Each test binary uses a different subset.
#![allow(dead_code)]

use std::fmt;
use std::hash::{Hash, Hasher};

#[allow(unused_imports)]
pub(crate) use marketplace_harness::{Market, YieldingBaseline};

/// A product equal to (and hashed like) every other of its kind, so items of one kind are
/// interchangeable to a marketplace, while the serial lets a test see *which* item it got.
#[derive(Clone)]
pub(crate) struct Tagged<K = &'static str> {
    pub(crate) kind: K,
    pub(crate) serial: u64,
}

impl<K: PartialEq> PartialEq for Tagged<K> {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl<K: Eq> Eq for Tagged<K> {}

impl<K: Hash> Hash for Tagged<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

/// Shows the serial: rendered results compared by tests must tell equal items apart.
impl<K: fmt::Debug> fmt::Debug for Tagged<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}#{}", self.kind, self.serial)
    }
}

/// A specific item: kind and serial.
pub(crate) fn item<K>(kind: K, serial: u64) -> Tagged<K> {
    Tagged { kind, serial }
}

/// A request for any item of `kind` (the serial plays no part in equality).
pub(crate) fn any<K>(kind: K) -> Tagged<K> {
    Tagged { kind, serial: 0 }
}
