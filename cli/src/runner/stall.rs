//! The stall report: which consumers wait, for what, and the state of the producers that
//! make it, read while the stalled actors still wait (so shelves show why).
//!
//! Invariants: producers are listed in scenario order, each once per waiting consumer,
//! and only those whose list holds a product equal to the one awaited; building the report
//! costs one pass over the producers' lists plus the size of the report, never producers
//! times consumers. A product, and a consumer's and a producer's name, are shown cut as the
//! scenario's messages cut a product, and cut once however many consumers wait for it: the file holds
//! a long name once, and the report held it again for each of them.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::progress::Progress;
use super::stats::{RunStats, shown_time};
use crate::scenario::{Scenario, ShownProducts, abbreviated_name};

/// A producer that makes a product someone waits for, as found when the run stalled.
#[derive(Clone, Debug)]
pub struct ProducerState {
    /// The producer's name, cut after 1000 characters with its length.
    pub name: String,
    /// Its index in the scenario's producer list.
    pub index: usize,
    /// Items it had on the shelf (any product).
    pub on_shelf: usize,
    /// Its queue size.
    pub capacity: usize,
}

/// A consumer blocked on a product when the run stalled.
#[derive(Clone, Debug)]
pub struct WaitingConsumer {
    /// The consumer's name, cut after 1000 characters with its length.
    pub name: String,
    /// The product it waits for, in its printed form, cut after 1000 characters with its
    /// length.
    pub product: String,
    /// Items equal to it on sale at the time of the report (normally 0).
    pub on_sale: usize,
    /// The producers that make that product (or an equal one).
    pub producers: Vec<ProducerState>,
}

/// Why a run was stopped as stalled: who waited for what.
#[derive(Clone, Debug)]
pub struct StallReport {
    /// How long no consumer had made progress.
    pub idle: Duration,
    /// Consumers that had not finished yet.
    pub unfinished: usize,
    /// Consumers blocked on a product, with what they wait for.
    pub waiting: Vec<WaitingConsumer>,
    /// Purchase lines written before the stop.
    pub purchases: u64,
    /// Every actor's figures, taken once the stopped actors were gone (for `--stats`).
    pub stats: RunStats,
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stalled: no consumer made progress for {}; {} consumer(s) unfinished, {} purchase(s) written",
            shown_time(self.idle, 1),
            self.unfinished,
            self.purchases
        )?;
        for w in &self.waiting {
            write!(
                f,
                "\n  consumer {:?} waits for {} ({} on sale)",
                w.name, w.product, w.on_sale
            )?;
            for p in &w.producers {
                let state = if p.on_shelf >= p.capacity {
                    "queue full, so it cannot publish more"
                } else {
                    "queue not full"
                };
                write!(
                    f,
                    "\n    made by producers[{}] {:?}: {} of {} on the shelf ({state})",
                    p.index, p.name, p.on_shelf, p.capacity
                )?;
            }
        }
        Ok(())
    }
}

/// What the report reads from the marketplace, whatever its product type.
pub(super) trait MarketView {
    /// Items equal to product `index` on sale now.
    fn on_sale(&self, product: usize) -> usize;
    /// Items producer `index` has on the shelf now.
    fn on_shelf(&self, producer: usize) -> usize;
    /// Carts opened and not yet ordered now.
    fn open_carts(&self) -> usize;
}

/// The facts a stall report is made of, besides the marketplace's state.
pub(super) struct Stall {
    pub(super) idle: Duration,
    pub(super) unfinished: usize,
    pub(super) purchases: u64,
}

impl Stall {
    /// The report of this stall: the consumers `progress` shows waiting, and the producers
    /// that make what they wait for, as `market` shows them now.
    pub(super) fn report(
        self,
        scenario: &Scenario,
        progress: &Progress,
        market: &impl MarketView,
    ) -> StallReport {
        let makers = makers_by_class(scenario);
        let capacity = scenario.queue_size_per_producer();
        let mut shown = ShownProducts::default();
        let mut named: HashMap<usize, String> = HashMap::new();
        let waiting = progress
            .waiting()
            .map(|w| (w.consumer, w.product))
            .map(|(consumer, product)| WaitingConsumer {
                name: abbreviated_name(&scenario.consumers()[consumer].name),
                product: shown.of(product, scenario.product(product)).to_owned(),
                on_sale: market.on_sale(product),
                producers: makers[scenario.class_of(product)]
                    .iter()
                    .map(|&index| ProducerState {
                        name: named
                            .entry(index)
                            .or_insert_with(|| abbreviated_name(&scenario.producers()[index].name))
                            .clone(),
                        index,
                        on_shelf: market.on_shelf(index),
                        capacity,
                    })
                    .collect(),
            })
            .collect();
        StallReport {
            idle: self.idle,
            unfinished: self.unfinished,
            waiting,
            purchases: self.purchases,
            // Filled in at the end of the run (`Supervisor::conclude`), when final.
            stats: RunStats::default(),
        }
    }
}

/// For each equality class, the producers whose list holds it, in scenario order, once.
fn makers_by_class(scenario: &Scenario) -> Vec<Vec<usize>> {
    let mut makers = vec![Vec::new(); scenario.class_count()];
    for (index, producer) in scenario.producers().iter().enumerate() {
        for supply in &producer.products {
            let list: &mut Vec<usize> = &mut makers[scenario.class_of(supply.product)];
            if list.last() != Some(&index) {
                list.push(index);
            }
        }
    }
    makers
}
