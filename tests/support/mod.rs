//! What the engine's tests share: the product type whose items are equal by kind while each
//! keeps its own serial, and the [`Market`] trait that runs a test on the engine and on the
//! baselines alike (it lives in the benchmark harness crate, which drives the same API).
//! Each test binary uses a different subset.
#![allow(dead_code)]

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use log::{LevelFilter, Log, Metadata, Record};
use marketplace::Stats;
#[allow(unused_imports)]
pub(crate) use marketplace_harness::{Fresh, Id, Market, YieldingBaseline};

/// The `Stats` with these figures, in the order `Stats` declares them: a struct literal is
/// refused outside the engine, as later versions may add figures.
pub(crate) fn stats(
    producers: usize,
    open_carts: usize,
    items_on_shelves: usize,
    items_in_carts: usize,
) -> Stats {
    let mut stats = Stats::default();
    stats.producers = producers;
    stats.open_carts = open_carts;
    stats.items_on_shelves = items_on_shelves;
    stats.items_in_carts = items_in_carts;
    stats
}

/// One `#[test]` per case and implementation, in a module per implementation:
/// `tests_on!(Product; engine: Marketplace, baseline: LockedMarketplace; [rule, #[should_panic]
/// other])` makes `engine::rule`, which runs `rule::<Marketplace<Product>>()`, and so on. The
/// product, the implementations and the cases are names in scope where it is called.
#[allow(unused_macros)]
macro_rules! tests_on {
    ($product:ident; $($module:ident: $imp:ident),+ $(,)?; $cases:tt) => {
        $( $crate::support::tests_on!(@module $product, $module, $imp, $cases); )+
    };
    (@module $product:ident, $module:ident, $imp:ident, [$($(#[$attr:meta])* $case:ident),* $(,)?]) => {
        mod $module {
            $( $(#[$attr])* #[test] fn $case() { super::$case::<super::$imp<super::$product>>(); } )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use tests_on;

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

/// On a Redis market, items of one kind share the kind's queue; each travels as
/// `[kind, serial]`, so the serial comes back with it.
impl marketplace_redis::CanonicalKey for Tagged<&'static str> {
    fn canonical_key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(self.kind)
    }
}

/// A numbered kind's queue is named by the number.
impl marketplace_redis::CanonicalKey for Tagged<u8> {
    fn canonical_key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Owned(self.kind.to_string())
    }
}

impl<K: serde::Serialize> serde::Serialize for Tagged<K> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.kind, self.serial).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Tagged<&'static str> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (kind, serial) = <(String, u64)>::deserialize(deserializer)?;
        Ok(Tagged {
            kind: interned(kind),
            serial,
        })
    }
}

impl<'de> serde::Deserialize<'de> for Tagged<u8> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (kind, serial) = <(u8, u64)>::deserialize(deserializer)?;
        Ok(Tagged { kind, serial })
    }
}

/// The `&'static str` of a kind read back from a server: one leaked copy per distinct
/// kind, so a test's handful of kinds costs a handful of strings.
fn interned(kind: String) -> &'static str {
    static KINDS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut kinds = KINDS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = kinds.iter().find(|known| **known == kind) {
        return known;
    }
    let leaked: &'static str = Box::leak(kind.into_boxed_str());
    kinds.push(leaked);
    leaked
}

/// A specific item: kind and serial.
pub(crate) fn item<K>(kind: K, serial: u64) -> Tagged<K> {
    Tagged { kind, serial }
}

/// A request for any item of `kind` (the serial plays no part in equality).
pub(crate) fn any<K>(kind: K) -> Tagged<K> {
    Tagged { kind, serial: 0 }
}

/// Which of a [`Fragile`] product's trait methods panic on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trap {
    Hash,
    Eq,
    Clone,
    Debug,
}

thread_local! {
    /// The armed trap and how many of its calls still pass before it panics.
    static ARMED: std::cell::Cell<Option<(Trap, usize)>> = const { std::cell::Cell::new(None) };
}

/// Makes `trap` panic on this thread until [`disarm`] (one trap at a time).
pub(crate) fn arm(trap: Trap) {
    arm_after(trap, 0);
}

/// Makes `trap` panic on this thread from its call number `passes + 1` on.
pub(crate) fn arm_after(trap: Trap, passes: usize) {
    ARMED.with(|armed| armed.set(Some((trap, passes))));
}

/// No trap panics on this thread any more.
pub(crate) fn disarm() {
    ARMED.with(|armed| armed.set(None));
}

fn spring(trap: Trap) {
    ARMED.with(|armed| match armed.get() {
        Some((armed_trap, 0)) if armed_trap == trap => {
            panic!("the user's {trap:?} panicked (on purpose)")
        }
        Some((armed_trap, passes)) if armed_trap == trap => {
            armed.set(Some((trap, passes - 1)));
        }
        _ => {}
    });
}

/// A product whose `Hash`, `Eq`, `Clone` or `Debug` panics on demand ([`arm`]): equal by
/// kind, like [`Tagged`], so a test can tell items apart by serial.
pub(crate) struct Fragile {
    pub(crate) kind: u32,
    pub(crate) serial: u64,
}

impl Hash for Fragile {
    fn hash<H: Hasher>(&self, state: &mut H) {
        spring(Trap::Hash);
        self.kind.hash(state);
    }
}

impl PartialEq for Fragile {
    fn eq(&self, other: &Self) -> bool {
        spring(Trap::Eq);
        self.kind == other.kind
    }
}

impl Eq for Fragile {}

impl Clone for Fragile {
    fn clone(&self) -> Self {
        spring(Trap::Clone);
        Fragile {
            kind: self.kind,
            serial: self.serial,
        }
    }
}

impl fmt::Debug for Fragile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        spring(Trap::Debug);
        write!(f, "{}#{}", self.kind, self.serial)
    }
}

/// A logger that keeps the text of every record, for the binaries that check what the
/// engine logs. A process has one logger, so such a binary installs it once and runs no
/// other test that logs.
pub(crate) struct Recording(Mutex<Vec<String>>);

impl Recording {
    pub(crate) const fn new() -> Self {
        Recording(Mutex::new(Vec::new()))
    }

    /// Makes it the process's logger, at the debug level.
    pub(crate) fn install(&'static self) {
        log::set_logger(self).expect("the only logger of this process");
        log::set_max_level(LevelFilter::Debug);
    }

    /// The records written since the last call.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Log for Recording {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        self.0.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}
