//! Scenarios found by fuzzing (`fuzz/`, targets `scenario_bytes` and `scenario_structured`),
//! kept as literal regression cases, plus the fuzz targets' own checks (the very same code:
//! `marketplace_cli::oracle::scenario`) run on the demo scenario and the
//! reference scenarios: `Scenario::from_json` does not panic, a rejection lists its
//! problems, an accepted scenario round-trips through its own JSON.

use marketplace_cli::scenario::{MAX_HELD_ITEMS, Scenario};

mod support;

use marketplace_cli::oracle::scenario::check_scenario_text;
use support::{reference_dir, repo_root};

/// Found by `scenario_structured`: adds of 18446744073709551615 (u64::MAX, a valid
/// quantity) and more of the same product in one cart overflowed the cart's count in
/// validation (a panic with overflow checks, a wrong count without).
const OVERFLOWING_CART: &str = r#"{"products":{"add":{"product_type":"Product","name":"add","price":18446744073709551615}},"producers":[],"consumers":[{"name":"remove","retry_wait_time":0,"carts":[[{"type":"add","product":"add","quantity":2},{"type":"add","product":"add","quantity":2},{"type":"add","product":"add","quantity":1},{"type":"remove","product":"add","quantity":1},{"type":"add","product":"add","quantity":18446744073709551615},{"type":"add","product":"add","quantity":2},{"type":"add","product":"add","quantity":2}]]}],"marketplace":{"queue_size_per_producer":1}}"#;

/// A scenario with one product, `t`, made by one producer, and one cart of `ops`:
/// (`"add"` or `"remove"`, quantity as JSON text).
fn cart_scenario(ops: &[(&str, &str)]) -> String {
    let ops: Vec<String> = ops
        .iter()
        .map(|(kind, n)| format!(r#"{{"type": "{kind}", "product": "t", "quantity": {n}}}"#))
        .collect();
    format!(
        r#"{{"products": {{"t": {{"product_type": "Product", "name": "t", "price": 1}}}},
            "producers": [{{"name": "p", "products": [["t", 1, 0]], "republish_wait_time": 0}}],
            "consumers": [{{"name": "c", "retry_wait_time": 0, "carts": [[{}]]}}],
            "marketplace": {{"queue_size_per_producer": 1}}}}"#,
        ops.join(", ")
    )
}

#[test]
fn overflowing_cart_is_reported_not_a_panic() {
    check_scenario_text(OVERFLOWING_CART);
    let err = Scenario::from_json(OVERFLOWING_CART).unwrap_err();
    // The only real problems: nobody makes the product (the list of producers is empty),
    // and the cart holds more than a run may.
    assert!(
        err.problems.iter().all(|p| {
            p.message.starts_with("no producer makes") || p.message.starts_with("holds up to")
        }),
        "{err}"
    );
}

/// Cart counts past u64::MAX, exact (they run in release builds, where a u64 count
/// wrapped around silently instead of panicking). Such carts hold more than a run may, so
/// each is refused for that, with its exact peak; a remove is refused only when the exact
/// count is short.
#[test]
fn cart_counts_beyond_u64_are_exact() {
    const MAX: &str = "18446744073709551615";
    let problems = |ops: &[(&str, &str)]| -> Vec<String> {
        let text = cart_scenario(ops);
        check_scenario_text(&text);
        let err = Scenario::from_json(&text).unwrap_err();
        err.problems.iter().map(ToString::to_string).collect()
    };
    // The cart's content at its most, exactly.
    let held = |in_cart: u128| {
        format!(
            "consumers[0].carts[0]: holds up to {in_cart} items at once, more than the \
             {MAX_HELD_ITEMS} a run may hold"
        )
    };
    let max = u128::from(u64::MAX);
    // Holds u64::MAX + 1, removes 1 (a wrapped count was 0, and refused the remove).
    assert_eq!(
        problems(&[("add", MAX), ("add", "1"), ("remove", "1")]),
        [held(max + 1)]
    );
    // Holds 2 * u64::MAX, removes u64::MAX twice.
    assert_eq!(
        problems(&[("add", MAX), ("add", MAX), ("remove", MAX), ("remove", MAX)]),
        [held(2 * max)]
    );
    // Holds u64::MAX + 1, removes u64::MAX, then 2 of the 1 left (a wrapped count
    // predicted none left).
    assert_eq!(
        problems(&[("add", MAX), ("add", "1"), ("remove", MAX), ("remove", "2")]),
        [
            "consumers[0].carts[0][3]: removes 2 of Product(name='t', price=1) \
             but the cart holds only 1 at this point"
                .to_owned(),
            held(max + 1)
        ]
    );
}

#[test]
fn demo_and_reference_scenarios_pass_the_fuzz_checks() {
    let demo = std::fs::read_to_string(repo_root().join("scenarios/demo.json")).unwrap();
    check_scenario_text(&demo);
    let Some(dir) = reference_dir() else { return };
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "in") {
            check_scenario_text(&std::fs::read_to_string(&path).unwrap());
            checked += 1;
        }
    }
    assert!(checked > 0, "the reference directory has scenarios");
}
