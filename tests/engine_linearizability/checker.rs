//! The search for one sequential order that explains a history, at either granularity, and
//! the one check no order can make: that no wait called after `close` slept out its timeout.

use std::collections::HashSet;
use std::time::Duration;

use marketplace::baseline::LockedMarketplace;
use marketplace::{CartId, ProducerId};

use crate::history::{Action, FOREIGN_CART, FOREIGN_PRODUCER, History};
use crate::model::{Model, Step};
use crate::{Product, support};

/// What an operation may interleave with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Granularity {
    /// Each operation is atomic: linearizability against the contract as the classic design
    /// keeps it.
    Operations,
    /// Each step of `Model` is atomic, and other operations' steps may fall between an
    /// operation's steps: the engine as `docs/design.md` says it works.
    Steps,
}

/// A sequential order of the history's events (thread, index) that explains every answer
/// at `granularity` (an operation listed where its last step ran), or `None`.
pub(crate) fn linearize(
    history: &History,
    granularity: Granularity,
) -> Option<Vec<(usize, usize)>> {
    let threads = history.threads.len();
    let mut search = Search {
        history,
        granularity,
        explored: HashSet::new(),
        order: Vec::new(),
    };
    let at = vec![(0, 0); threads];
    search
        .extend(
            &at,
            &Model::new(history.capacity, history.producers, threads),
        )
        .then_some(search.order)
}

struct Search<'h> {
    history: &'h History,
    granularity: Granularity,
    /// States (per thread, its next event and that event's next step; the model) from which
    /// no order completes. Nothing else decides what can follow a state, so the key is
    /// complete.
    explored: HashSet<(Vec<(usize, usize)>, Model)>,
    /// The events completed so far, in the order found.
    order: Vec<(usize, usize)>,
}

impl Search<'_> {
    /// Whether the order so far, which leaves each thread at `at` and the contract at
    /// `model`, completes; if so `order` holds it whole.
    fn extend(&mut self, at: &[(usize, usize)], model: &Model) -> bool {
        let threads = &self.history.threads;
        if at
            .iter()
            .zip(threads)
            .all(|(&(i, _), events)| i == events.len())
        {
            return true;
        }
        if self.explored.contains(&(at.to_vec(), model.clone())) {
            return false;
        }
        for (t, events) in threads.iter().enumerate() {
            let (i, first_step) = at[t];
            let Some(next) = events.get(i) else {
                continue;
            };
            // Only an event that no pending event returned before may start; a thread's
            // later events return later still, so its next one is the one to look at.
            let preceded = threads.iter().enumerate().any(|(u, others)| {
                u != t
                    && others
                        .get(at[u].0)
                        .is_some_and(|other| other.ret < next.call)
            });
            if preceded {
                continue;
            }
            let mut after = model.clone();
            let mut step = first_step;
            let mut further = at.to_vec();
            let finished = loop {
                match after.step(t, &next.action, step) {
                    Step::Done(answer) => break Some(answer),
                    Step::More if self.granularity == Granularity::Steps => break None,
                    Step::More => step += 1,
                }
            };
            match finished {
                Some(answer) if answer != next.answer => continue,
                Some(_) => {
                    further[t] = (i + 1, 0);
                    self.order.push((t, i));
                }
                None => further[t] = (i, step + 1),
            }
            if self.extend(&further, &after) {
                return true;
            }
            if finished.is_some() {
                self.order.pop();
            }
        }
        self.explored.insert((at.to_vec(), model.clone()));
        false
    }
}

/// Replays `order` on the one-lock reference and returns the first event whose answer
/// differs there, if any: the model must say what the reference says. A wait replays as
/// one attempt (a zero timeout), as the model has it; `is_closed` is not replayed, as the
/// reference cannot be asked.
pub(crate) fn replay_on_reference(history: &History, order: &[(usize, usize)]) -> Option<String> {
    let market = LockedMarketplace::<Product>::new(history.capacity);
    let producers: Vec<ProducerId> = (0..history.producers)
        .map(|_| market.register_producer())
        .collect();
    let other = LockedMarketplace::<Product>::new(1);
    let (foreign_producer, foreign_cart) = (other.register_producer(), other.new_cart());
    let producer = |index: usize| {
        if index == FOREIGN_PRODUCER {
            foreign_producer
        } else {
            producers[index]
        }
    };
    let mut carts: Vec<CartId> = Vec::new();
    let cart = |carts: &[CartId], serial: u64| {
        if serial == FOREIGN_CART {
            foreign_cart
        } else {
            carts[usize::try_from(serial).expect("small")]
        }
    };
    for &(t, i) in order {
        let event = &history.threads[t][i];
        let answer = match &event.action {
            Action::Publish { producer: p, item } => {
                format!("{:?}", market.publish(producer(*p), item.clone()))
            }
            Action::PublishWait {
                producer: p, item, ..
            } => format!(
                "{:?}",
                market.publish_timeout(producer(*p), item.clone(), Duration::ZERO)
            ),
            Action::Add { cart: c, kind } => {
                format!(
                    "{:?}",
                    market.add_to_cart(cart(&carts, *c), &support::any(*kind))
                )
            }
            Action::AddWait { cart: c, kind, .. } => format!(
                "{:?}",
                market.add_to_cart_timeout(cart(&carts, *c), &support::any(*kind), Duration::ZERO)
            ),
            Action::Remove { cart: c, kind } => format!(
                "{:?}",
                market.remove_from_cart(cart(&carts, *c), &support::any(*kind))
            ),
            Action::Order { cart: c } => format!("{:?}", market.place_order(cart(&carts, *c))),
            Action::NewCart => {
                let id = market.new_cart();
                carts.push(id);
                format!("{}", id.serial())
            }
            Action::Available { kind } => format!("{}", market.available(&support::any(*kind))),
            Action::ShelfLen { producer: p } => {
                format!("{:?}", market.shelf_len(producer(*p)))
            }
            Action::Close => {
                market.close();
                "()".to_owned()
            }
            Action::IsClosed => continue,
        };
        if answer != event.answer {
            return Some(format!("{event:?}, but the reference answers {answer}"));
        }
    }
    None
}

/// `Ok` with a witness order, or `Err` saying "not linearizable" with the history. A wait
/// called after `close` had returned that lasted its whole timeout is rejected first: the
/// contract has it make one attempt and return, and its timeout (`AFTER_CLOSE`) is far
/// longer than one attempt, so only a wait that slept through the close runs it out.
pub(crate) fn verdict(
    history: &History,
    granularity: Granularity,
) -> Result<Vec<(usize, usize)>, String> {
    let mut events = history.threads.iter().flatten();
    if let Some(event) = events.find(|event| event.action.waits_after_close() && event.ran_out) {
        return Err(format!(
            "not linearizable: a wait called after close ran out its timeout: {event:?}\n{history:?}"
        ));
    }
    match linearize(history, granularity) {
        Some(order) => {
            // The reference runs operations, not the design's steps: only an order of whole
            // operations can be replayed on it.
            if granularity == Granularity::Operations {
                if let Some(difference) = replay_on_reference(history, &order) {
                    panic!("the model and the reference disagree: {difference}\n{history:?}");
                }
            }
            Ok(order)
        }
        None => Err(format!("not linearizable ({granularity:?}):\n{history:?}")),
    }
}
