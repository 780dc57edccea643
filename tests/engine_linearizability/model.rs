//! The contract as plain data, at the steps of `docs/design.md`, for the search to copy and
//! remember.

use std::collections::VecDeque;

use marketplace::{AddError, OrderError, PublishError, RemoveError};

use crate::history::Action;
use crate::{KINDS, Product, support};

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Stock {
    pub(crate) kind: u8,
    pub(crate) serial: u64,
    pub(crate) producer: usize,
}

impl Stock {
    pub(crate) fn product(self) -> Product {
        support::item(self.kind, self.serial)
    }
}

/// The contract of `docs/design.md` for the operations in play, as plain data, so the search
/// can copy a state and remember the ones it has explored. An operation is a sequence of
/// steps, each atomic, in the order "How each move keeps them" in `docs/design.md` gives:
/// a publish counts its item, then puts it on sale; a take checks its cart is open, pops the
/// oldest item, adds it to the cart under the cart's lock (or puts it back on sale, last, if
/// the cart was ordered meanwhile), then uncounts it; a return claims the item under the
/// cart's lock, counts it again, then puts it on sale; every other operation is one step.
/// Run back to back, an operation's steps are the classic design's atomic operation.
///
/// A wait is its plain operation's steps, run once at any point of its call. A wait tries
/// until an attempt succeeds or it gives up, and an attempt that fails (no room, no item)
/// changes nothing, so only its last attempt shows: success, `UnknownCart`, or the
/// retryable error where that attempt found no room or no item. The model cannot say which
/// point that was, and needs not: any point of the call where the model has no room or no
/// item explains the error. A wait that missed an item another consumer then took is thus
/// explained, and one that gave up while an item stayed on sale from before its call to
/// after its return is not. `close` changes no answer here (only how long a wait lasts,
/// which the checker's `verdict` looks at, and `is_closed`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Model {
    pub(crate) capacity: usize,
    pub(crate) on_sale: Vec<usize>,
    /// Per kind, oldest first.
    pub(crate) shelves: Vec<VecDeque<Stock>>,
    /// By serial; `None` once ordered.
    pub(crate) carts: Vec<Option<Vec<Stock>>>,
    /// Per thread, the item its operation in progress holds between two steps.
    pub(crate) held: Vec<Option<Stock>>,
    pub(crate) closed: bool,
}

/// What a step leaves to do: more steps, or none and the operation's answer.
pub(crate) enum Step {
    More,
    Done(String),
}

impl Model {
    pub(crate) fn new(capacity: usize, producers: usize, threads: usize) -> Self {
        Self {
            capacity,
            on_sale: vec![0; producers],
            shelves: vec![VecDeque::new(); usize::from(KINDS)],
            carts: Vec::new(),
            held: vec![None; threads],
            closed: false,
        }
    }

    pub(crate) fn open_cart(&mut self, serial: u64) -> Option<&mut Vec<Stock>> {
        let serial = usize::try_from(serial).ok()?;
        self.carts.get_mut(serial)?.as_mut()
    }

    pub(crate) fn put_on_sale(&mut self, stock: Stock) {
        self.shelves[usize::from(stock.kind)].push_back(stock);
    }

    /// Runs step `index` of `action` for `thread`; the answer is rendered as the engine's.
    pub(crate) fn step(&mut self, thread: usize, action: &Action, index: usize) -> Step {
        let held = |model: &mut Self| model.held[thread].take().expect("an item in hand");
        match (action, index) {
            (
                Action::Publish { producer, item } | Action::PublishWait { producer, item, .. },
                0,
            ) => {
                if *producer >= self.on_sale.len() {
                    let unknown: Result<(), _> = Err(PublishError::UnknownProducer(item.clone()));
                    return Step::Done(format!("{unknown:?}"));
                }
                if self.on_sale[*producer] >= self.capacity {
                    let full: Result<(), _> = Err(PublishError::Full(item.clone()));
                    return Step::Done(format!("{full:?}"));
                }
                self.on_sale[*producer] += 1;
                self.held[thread] = Some(Stock {
                    kind: item.kind,
                    serial: item.serial,
                    producer: *producer,
                });
                Step::More
            }
            (Action::Publish { .. } | Action::PublishWait { .. }, _) => {
                let stock = held(self);
                self.put_on_sale(stock);
                Step::Done(format!("{:?}", Ok::<(), PublishError<Product>>(())))
            }
            (Action::Add { cart, .. } | Action::AddWait { cart, .. }, 0) => {
                match self.open_cart(*cart) {
                    None => Step::Done(format!("{:?}", Err::<(), _>(AddError::UnknownCart))),
                    Some(_) => Step::More,
                }
            }
            (Action::Add { kind, .. } | Action::AddWait { kind, .. }, 1) => {
                match self.shelves[usize::from(*kind)].pop_front() {
                    None => Step::Done(format!("{:?}", Err::<(), _>(AddError::Unavailable))),
                    Some(stock) => {
                        self.held[thread] = Some(stock);
                        Step::More
                    }
                }
            }
            (Action::Add { cart, .. } | Action::AddWait { cart, .. }, 2) => {
                let stock = held(self);
                match self.open_cart(*cart) {
                    Some(contents) => {
                        contents.push(stock);
                        self.held[thread] = Some(stock);
                        Step::More
                    }
                    None => {
                        self.put_on_sale(stock);
                        Step::Done(format!("{:?}", Err::<(), _>(AddError::UnknownCart)))
                    }
                }
            }
            (Action::Add { .. } | Action::AddWait { .. }, _) => {
                let stock = held(self);
                self.on_sale[stock.producer] -= 1;
                Step::Done(format!("{:?}", Ok::<(), AddError>(())))
            }
            (Action::Remove { cart, kind }, 0) => {
                let claimed = self.open_cart(*cart).map(|contents| {
                    let at = contents.iter().position(|s| s.kind == *kind)?;
                    Some(contents.remove(at))
                });
                match claimed {
                    None => Step::Done(format!("{:?}", Err::<(), _>(RemoveError::UnknownCart))),
                    Some(None) => Step::Done(format!("{:?}", Err::<(), _>(RemoveError::NotInCart))),
                    Some(Some(stock)) => {
                        self.held[thread] = Some(stock);
                        Step::More
                    }
                }
            }
            (Action::Remove { .. }, 1) => {
                let stock = self.held[thread].expect("an item in hand");
                self.on_sale[stock.producer] += 1;
                Step::More
            }
            (Action::Remove { .. }, _) => {
                let stock = held(self);
                self.put_on_sale(stock);
                Step::Done(format!("{:?}", Ok::<(), RemoveError>(())))
            }
            (Action::Order { cart }, _) => {
                let answer: Result<Vec<Product>, OrderError> = match usize::try_from(*cart)
                    .ok()
                    .and_then(|serial| self.carts.get_mut(serial))
                    .and_then(Option::take)
                {
                    None => Err(OrderError::UnknownCart),
                    Some(contents) => Ok(contents.into_iter().map(Stock::product).collect()),
                };
                Step::Done(format!("{answer:?}"))
            }
            (Action::NewCart, _) => {
                self.carts.push(Some(Vec::new()));
                Step::Done(format!("{}", self.carts.len() - 1))
            }
            (Action::Available { kind }, _) => {
                Step::Done(format!("{}", self.shelves[usize::from(*kind)].len()))
            }
            (Action::ShelfLen { producer }, _) => {
                Step::Done(format!("{:?}", self.on_sale.get(*producer)))
            }
            (Action::Close, _) => {
                self.closed = true;
                Step::Done("()".to_owned())
            }
            (Action::IsClosed, _) => Step::Done(format!("{}", self.closed)),
        }
    }
}
