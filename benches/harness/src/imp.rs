//! The implementations measured side by side.

/// One implementation of a handoff from producer threads to consumer threads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Imp {
    /// The lock-free engine, `marketplace::Marketplace`.
    Marketplace,
    /// The classic design: `marketplace::baseline::LockedMarketplace`, one `Mutex`; a
    /// blocked caller sleeps on a `Condvar` at once.
    Locked,
    /// The same one-`Mutex` design waiting as the engine does (spin, yield and retry before
    /// sleeping): `LockedMarketplace::yielding`. The gap between `locked` and this column is
    /// what the wait policy alone is worth; the gap between this column and `marketplace` is
    /// what removing the global lock is worth.
    LockedYield,
    /// A bare `crossbeam_channel::bounded` handoff: blocking `send` and `recv`, one item per
    /// message, nothing else per item; the "cart" is a reused local `Vec`.
    Channel,
    /// The same bare handoff on `kanal::bounded`.
    Kanal,
    /// A raw `crossbeam_queue::ArrayQueue`, push/pop with spin-then-yield backoff: the
    /// hardware limit rather than a usable design (it never sleeps).
    ArrayQueue,
}

impl Imp {
    /// Everything measured, in table order.
    pub const ALL: [Imp; 6] = [
        Imp::Marketplace,
        Imp::Locked,
        Imp::LockedYield,
        Imp::Channel,
        Imp::Kanal,
        Imp::ArrayQueue,
    ];

    /// The columns of the machine-readable `case=` lines, in order. `locked_yield` is a
    /// sensitivity column of the readable table only.
    pub const LINE_COLUMNS: [Imp; 5] = [
        Imp::Marketplace,
        Imp::Locked,
        Imp::Channel,
        Imp::Kanal,
        Imp::ArrayQueue,
    ];

    /// The column name (also the `key=` of the machine-readable lines).
    pub fn name(self) -> &'static str {
        match self {
            Imp::Marketplace => "marketplace",
            Imp::Locked => "locked",
            Imp::LockedYield => "locked_yield",
            Imp::Channel => "channel",
            Imp::Kanal => "kanal",
            Imp::ArrayQueue => "array_queue",
        }
    }

    /// Whether this is a marketplace (carts, producer ids, returns) rather than a bare
    /// handoff.
    pub fn is_market(self) -> bool {
        matches!(self, Imp::Marketplace | Imp::Locked | Imp::LockedYield)
    }

    /// The implementation named `name`, as `--only` takes it.
    pub fn named(name: &str) -> Option<Imp> {
        Imp::ALL.into_iter().find(|imp| imp.name() == name)
    }
}
