//! A round's record: each operation, its answer, and the clock's readings around it.

use std::fmt::{self, Debug};

use crate::Product;

/// The operations as the checker knows them: carts by serial, producers by index.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    Publish { producer: usize, item: Product },
    Add { cart: u64, kind: u8 },
    Remove { cart: u64, kind: u8 },
    Order { cart: u64 },
    NewCart,
    Available { kind: u8 },
    ShelfLen { producer: usize },
}

/// One completed call: what it did, its answer (rendered with serials), and the clock's
/// readings just before the call and just after the return.
#[derive(Clone)]
pub(crate) struct Event {
    pub(crate) action: Action,
    pub(crate) via_handle: bool,
    pub(crate) answer: String,
    pub(crate) call: u64,
    pub(crate) ret: u64,
}

impl Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = if self.via_handle { " (handle)" } else { "" };
        write!(
            f,
            "[{:>3}..{:>3}] {:?}{via} -> {}",
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
