//! Validation: from JSON text to a [`Scenario`] whose invariants hold, or every problem
//! found, each with its place.
//!
//! The walk goes section by section (`products` first, since everything else refers to
//! them by id), and a problem never stops it: each check reports at its path and returns
//! `None`, and the walk carries on with what it can still read. Each file here checks one
//! thing: `json` the shapes every section shares, `products`, `producers` and `consumers`
//! their sections, `rules` what spans sections (removes against the cart's content, adds
//! against what some producer makes, and the warnings of `marketplace check`). The walk
//! reads a `tree` of the document that borrows from the text, and reports at a `path`
//! spelled out only for a finding, so a valid file of 100,000 actors loads quickly.

mod consumers;
mod json;
mod path;
mod producers;
mod products;
mod rules;
mod tree;

use std::collections::{HashMap, HashSet};

use super::{
    ConsumerSpec, Diagnostic, MAX_LISTED, MAX_QUEUE_SIZE, ProducerSpec, ProductEntry, Scenario,
    ScenarioError,
};
use crate::scenario::shown::ShownProducts;
use json::{describe, json_problem};
use path::Path;
use tree::{Json, Object, View};

/// Parses and validates `text`; see [`Scenario::from_json`].
pub(super) fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let root = Json::parse(text).map_err(|e| ScenarioError {
        problems: vec![json_problem(&e)],
        unlisted: 0,
    })?;
    Checker::default().scenario(&root)
}

/// What a product reference resolved to.
#[derive(Clone, Copy)]
enum Ref {
    /// A valid product at this index.
    Valid(usize),
    /// A known id whose product is invalid (already reported).
    Broken,
}

/// Findings of one kind: the first [`MAX_LISTED`], and how many came after them.
#[derive(Default)]
struct Findings {
    listed: Vec<Diagnostic>,
    unlisted: usize,
}

impl Findings {
    fn push(&mut self, finding: Diagnostic) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(finding);
        } else {
            self.unlisted += 1;
        }
    }

    /// The problems found, as the error that rejects the scenario.
    fn into_error(self) -> ScenarioError {
        ScenarioError {
            problems: self.listed,
            unlisted: self.unlisted,
        }
    }
}

/// The findings so far, and the product ids seen in `products`.
#[derive(Default)]
struct Checker {
    problems: Findings,
    warnings: Findings,
    ids: HashMap<String, Ref>,
    /// The most items the valid consumers' carts hold at once, summed over consumers.
    held_in_carts: u128,
    /// The products the problems name, each cut once.
    shown_products: ShownProducts,
}

/// The products and their equality classes, as the other sections need them.
struct Catalog {
    products: Vec<ProductEntry>,
    /// `classes[i]` is the equality class of product `i`, numbered in order of first
    /// appearance.
    classes: Vec<usize>,
    class_count: usize,
}

/// The producers, and what they make.
struct Producers {
    specs: Vec<ProducerSpec>,
    /// The classes some producer makes; `None` when that cannot be known (a producer list
    /// that could not be read, or an entry with an unknown id), so "nobody makes it" would
    /// be noise.
    made: Option<HashSet<usize>>,
}

impl Checker {
    fn problem(&mut self, path: &Path<'_>, message: impl Into<String>) {
        self.problems.push(Diagnostic {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn warn(&mut self, path: &Path<'_>, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn scenario(mut self, root: &Json<'_>) -> Result<Scenario, ScenarioError> {
        let View::Object(root) = root.view() else {
            self.problem(
                &Path::Root,
                format!(
                    "the scenario must be a JSON object, found {}",
                    describe(root)
                ),
            );
            return Err(self.problems.into_error());
        };
        self.unknown_keys(
            root,
            &Path::Root,
            &["products", "producers", "consumers", "marketplace"],
        );
        let catalog = self.products_section(root);
        let producers = self.producers_section(root, &catalog.classes);
        let consumers = self.consumers_section(root, &catalog, producers.made.as_ref());
        let queue_size = self.marketplace_section(root);
        if let Some(queue_size) = queue_size {
            let section = Path::Root.key("marketplace");
            let path = section.key("queue_size_per_producer");
            self.held_items_rule(&producers.specs, queue_size, &path);
        }
        if !self.problems.listed.is_empty() {
            return Err(self.problems.into_error());
        }
        let mut scenario = Scenario {
            products: catalog.products.into(),
            producers: producers.specs.into(),
            consumers: consumers.into(),
            // `count` bounded it by MAX_QUEUE_SIZE, which fits any usize we run on.
            queue_size_per_producer: usize::try_from(queue_size.unwrap_or(1)).unwrap_or(1),
            classes: catalog.classes.into(),
            class_count: catalog.class_count,
            warnings: Vec::new(),
            unlisted_warnings: 0,
        };
        rules::jam_warnings(&scenario, |warning| self.warnings.push(warning));
        scenario.warnings = self.warnings.listed;
        scenario.unlisted_warnings = self.warnings.unlisted;
        Ok(scenario)
    }

    /// `products`: every valid product, in file order, and its equality class.
    fn products_section(&mut self, root: &Object<'_>) -> Catalog {
        let mut products = Vec::new();
        if let Some(map) = self
            .field(root, &Path::Root, "products")
            .and_then(|v| self.object(v, &Path::Root.key("products")))
        {
            for (id, v) in map.iter() {
                let r = match self.product(v, &Path::Product(id)) {
                    Some(product) => {
                        products.push(ProductEntry {
                            id: id.to_owned(),
                            product,
                        });
                        Ref::Valid(products.len() - 1)
                    }
                    None => Ref::Broken,
                };
                self.ids.insert(id.to_owned(), r);
            }
        }
        let mut class_of = HashMap::new();
        let classes: Vec<usize> = products
            .iter()
            .map(|e| {
                let next = class_of.len();
                *class_of.entry(&e.product).or_insert(next)
            })
            .collect();
        let class_count = class_of.len();
        Catalog {
            products,
            classes,
            class_count,
        }
    }

    /// `producers`: the valid ones, and the classes all of them (even broken ones) make.
    fn producers_section(&mut self, root: &Object<'_>, classes: &[usize]) -> Producers {
        let Some(list) = self
            .field(root, &Path::Root, "producers")
            .and_then(|v| self.array(v, &Path::Root.key("producers")))
        else {
            return Producers {
                specs: Vec::new(),
                made: None,
            };
        };
        let mut specs = Vec::new();
        let mut made = HashSet::new();
        let mut made_known = true;
        let producers = Path::Root.key("producers");
        for (i, v) in list.iter().enumerate() {
            if let Some(p) = self.producer(v, &producers.index(i)) {
                made.extend(p.products.iter().map(|s| classes[s.product]));
                specs.push(p);
            } else {
                made_known &= self.made_by_broken_producer(v, classes, &mut made);
            }
        }
        Producers {
            specs,
            made: made_known.then_some(made),
        }
    }

    /// Still counts what a broken producer makes, so its consumers do not get a misleading
    /// "nobody makes it" on top of the real problem. False when that cannot be known (no
    /// readable list, or an unknown id, which might be meant as any product).
    fn made_by_broken_producer(
        &self,
        producer: &Json<'_>,
        classes: &[usize],
        made: &mut HashSet<usize>,
    ) -> bool {
        let Some(View::Array(entries)) = producer.get("products").map(Json::view) else {
            return false;
        };
        let mut known = true;
        for entry in entries {
            let id = entry.at(0).and_then(Json::as_str).unwrap_or_default();
            match self.ids.get(id) {
                Some(Ref::Valid(i)) => {
                    made.insert(classes[*i]);
                }
                Some(Ref::Broken) => {}
                None => known = false,
            }
        }
        known
    }

    /// `consumers`: the valid ones, each cart checked against the rules that span sections.
    fn consumers_section(
        &mut self,
        root: &Object<'_>,
        catalog: &Catalog,
        made: Option<&HashSet<usize>>,
    ) -> Vec<ConsumerSpec> {
        let mut consumers = Vec::new();
        if let Some(list) = self
            .field(root, &Path::Root, "consumers")
            .and_then(|v| self.array(v, &Path::Root.key("consumers")))
        {
            let consumers_path = Path::Root.key("consumers");
            for (i, v) in list.iter().enumerate() {
                let path = consumers_path.index(i);
                if let Some(c) = self.consumer(v, &path) {
                    self.cart_rules(&c, &path, catalog, made);
                    consumers.push(c);
                }
            }
        }
        consumers
    }

    /// `marketplace.queue_size_per_producer`.
    fn marketplace_section(&mut self, root: &Object<'_>) -> Option<u64> {
        let path = Path::Root.key("marketplace");
        self.field(root, &Path::Root, "marketplace")
            .and_then(|v| self.object(v, &path))
            .and_then(|m| {
                self.unknown_keys(m, &path, &["queue_size_per_producer"]);
                self.field(m, &path, "queue_size_per_producer")
            })
            .and_then(|v| {
                let path = path.key("queue_size_per_producer");
                self.count(v, &path, MAX_QUEUE_SIZE)
            })
    }
}
