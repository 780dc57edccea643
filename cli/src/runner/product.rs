//! What the runner trades on the engine: a handle on one product of the scenario, compared
//! and hashed by its equality class, so equal products are interchangeable while each keeps
//! the form it was published in (a consumer asking for `price=9` that receives an equal
//! `price=9.0` prints `price=9.0`, as Python would).
//!
//! Two forms of one idea: [`ProductRef`] borrows from the scenario, for threads that the run
//! scopes; `SharedProduct` shares its product through an `Arc`, for tasks, which must own
//! what they use. Invariant of both: equality and hash are those of the class alone, and
//! `Debug` prints the product's Python repr, which is what the engine's log shows.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::scenario::{Product, Scenario};

/// A reference to one product of a scenario, borrowed from it.
#[derive(Clone, Copy)]
pub struct ProductRef<'s> {
    class: usize,
    index: usize,
    product: &'s Product,
}

impl<'s> ProductRef<'s> {
    /// The reference to product `index` of `scenario`.
    ///
    /// # Panics
    ///
    /// When `index` is not a product index of `scenario`.
    pub fn new(scenario: &'s Scenario, index: usize) -> Self {
        ProductRef {
            class: scenario.class_of(index),
            index,
            product: scenario.product(index),
        }
    }

    /// The index of the product in the scenario.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl PartialEq for ProductRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.class == other.class
    }
}

impl Eq for ProductRef<'_> {}

impl Hash for ProductRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.class.hash(state);
    }
}

impl fmt::Debug for ProductRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.product, f)
    }
}

/// One product of a scenario, owned and shared: cloning it only counts a reference.
#[derive(Clone)]
pub(super) struct SharedProduct(Arc<Shared>);

struct Shared {
    class: usize,
    index: usize,
    product: Product,
}

impl SharedProduct {
    /// Every product of `scenario`, in order (`index` `i` at position `i`).
    pub(super) fn all(scenario: &Scenario) -> Vec<SharedProduct> {
        (0..scenario.products().len())
            .map(|index| {
                SharedProduct(Arc::new(Shared {
                    class: scenario.class_of(index),
                    index,
                    product: scenario.product(index).clone(),
                }))
            })
            .collect()
    }

    /// The index of the product in the scenario (of the one published, which may differ
    /// in form from the one asked for while being equal to it).
    pub(super) fn index(&self) -> usize {
        self.0.index
    }
}

impl PartialEq for SharedProduct {
    fn eq(&self, other: &Self) -> bool {
        self.0.class == other.0.class
    }
}

impl Eq for SharedProduct {}

impl Hash for SharedProduct {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.class.hash(state);
    }
}

impl fmt::Debug for SharedProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.product, f)
    }
}
