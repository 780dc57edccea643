//! The user code a debug record costs: a publish's record shows the product it published,
//! which is on a shelf by the time the record is written, so `publish` and
//! `publish_timeout` clone the product for the record, and drop that clone, while a logger
//! wants debug records; with none, they clone and drop nothing past a first publish's key.
//! The other calls format their records from what they still hold. Alone in its binary:
//! the logger it installs stays installed for the whole process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use log::LevelFilter;
use marketplace::Marketplace;
use support::Recording;

mod support;

static RECORDS: Recording = Recording::new();
static CLONES: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// A product that counts its clones and drops.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Counted(u8);

impl Clone for Counted {
    fn clone(&self) -> Self {
        CLONES.fetch_add(1, Ordering::Relaxed);
        Counted(self.0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The clones and drops of products so far.
fn counts() -> (usize, usize) {
    (
        CLONES.load(Ordering::Relaxed),
        DROPS.load(Ordering::Relaxed),
    )
}

/// The clones and drops of products `call` makes.
fn clones_and_drops(call: impl FnOnce()) -> (usize, usize) {
    let before = counts();
    call();
    let after = counts();
    (after.0 - before.0, after.1 - before.1)
}

#[test]
fn a_publish_clones_its_product_for_its_record_only_while_debug_records_are_wanted() {
    RECORDS.install();
    let market = Marketplace::new(4);
    let producer = market.register_producer();
    market.publish(producer, Counted(1)).unwrap();
    let handle = market.product(&Counted(1));
    let cart = market.new_cart();

    let logged = [
        clones_and_drops(|| market.publish(producer, Counted(1)).unwrap()),
        clones_and_drops(|| {
            market
                .publish_timeout(producer, Counted(1), Duration::ZERO)
                .unwrap();
        }),
        // The handle's record shows the catalog's copy: one clone, the one put on sale.
        clones_and_drops(|| handle.publish(producer).unwrap()),
        clones_and_drops(|| market.add_to_cart(cart, &Counted(1)).unwrap()),
    ];
    RECORDS.take();
    // The asked-for `Counted(1)` of the add is a temporary of the call, dropped with it.
    assert_eq!(logged, [(1, 1), (1, 1), (1, 0), (0, 1)]);

    log::set_max_level(LevelFilter::Off);
    // Room for two more: the shelf holds four.
    market.remove_from_cart(cart, &Counted(1)).unwrap();
    for _ in 0..2 {
        market.add_to_cart(cart, &Counted(1)).unwrap();
    }
    let unlogged = [
        clones_and_drops(|| market.publish(producer, Counted(1)).unwrap()),
        clones_and_drops(|| {
            market
                .publish_timeout(producer, Counted(1), Duration::ZERO)
                .unwrap();
        }),
    ];
    assert_eq!(unlogged, [(0, 0), (0, 0)]);
    assert_eq!(RECORDS.take(), Vec::<String>::new());
}
