//! A round's record: each operation, its answer, and the clock's readings around it.

use std::fmt::{self, Debug};

use crate::Product;

/// The operations as the checker knows them: carts by serial, producers by index, and
/// another marketplace's ids as [`FOREIGN_PRODUCER`] and [`FOREIGN_CART`]. A wait
/// (`publish_timeout`, `add_to_cart_timeout`) says whether it was called once `close` had
/// returned: then it had a timeout it must never run out (`AFTER_CLOSE` in `rounds.rs`),
/// else a short one, which plays no part in the check.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    Publish {
        producer: usize,
        item: Product,
    },
    PublishWait {
        producer: usize,
        item: Product,
        after_close: bool,
    },
    Add {
        cart: u64,
        kind: u8,
    },
    AddWait {
        cart: u64,
        kind: u8,
        after_close: bool,
    },
    Remove {
        cart: u64,
        kind: u8,
    },
    Order {
        cart: u64,
    },
    NewCart,
    Available {
        kind: u8,
    },
    ShelfLen {
        producer: usize,
    },
    Close,
    IsClosed,
}

/// How another marketplace's ids appear in a history: numbers no round issues.
pub(crate) const FOREIGN_PRODUCER: usize = 99;
pub(crate) const FOREIGN_CART: u64 = 99;

impl Action {
    /// A wait called after `close` had returned: the contract says it makes one attempt
    /// and returns, so it must not last its whole timeout.
    pub(crate) fn waits_after_close(&self) -> bool {
        matches!(
            self,
            Action::PublishWait {
                after_close: true,
                ..
            } | Action::AddWait {
                after_close: true,
                ..
            }
        )
    }
}

/// One completed call: what it did, its answer (rendered with serials), and the clock's
/// readings just before the call and just after the return; for a wait, whether it lasted
/// at least its timeout.
#[derive(Clone)]
pub(crate) struct Event {
    pub(crate) action: Action,
    pub(crate) via_handle: bool,
    pub(crate) answer: String,
    pub(crate) call: u64,
    pub(crate) ret: u64,
    pub(crate) ran_out: bool,
}

impl Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = if self.via_handle { " (handle)" } else { "" };
        let ran_out = if self.ran_out {
            " (ran out its timeout)"
        } else {
            ""
        };
        write!(
            f,
            "[{:>3}..{:>3}] {:?}{via} -> {}{ran_out}",
            self.call, self.ret, self.action, self.answer
        )
    }
}

/// A round's history: the set-up (thread 0, all before the others start), then one list per
/// thread in program order.
#[derive(Clone)]
pub(crate) struct History {
    pub(crate) capacity: usize,
    pub(crate) producers: usize,
    pub(crate) threads: Vec<Vec<Event>>,
}

impl Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "capacity {}, {} producers",
            self.capacity, self.producers
        )?;
        for (t, events) in self.threads.iter().enumerate() {
            let name = if t == 0 {
                "set-up".to_owned()
            } else {
                format!("thread {t}")
            };
            writeln!(f, "  {name}:")?;
            for event in events {
                writeln!(f, "    {event:?}")?;
            }
        }
        Ok(())
    }
}

impl History {
    /// Whether events on different threads (not the set-up) overlap in time.
    pub(crate) fn overlaps(&self) -> bool {
        let workers = &self.threads[1..];
        workers.iter().enumerate().any(|(i, a)| {
            workers[i + 1..].iter().any(|b| {
                a.iter()
                    .any(|x| b.iter().any(|y| x.call < y.ret && y.call < x.ret))
            })
        })
    }
}
