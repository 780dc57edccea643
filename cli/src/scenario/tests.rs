//! Unit tests for numbers, products and validation. Expected values that mirror Python
//! were produced with Python 3.11.7, as noted at each table.

use super::*;
use std::hash::{Hash, Hasher};

use serde_json::{Value, json};
use std::collections::hash_map::DefaultHasher;

fn num(text: &str) -> Number {
    text.parse().expect("test number is valid JSON")
}

fn hash_of<T: Hash>(x: &T) -> u64 {
    let mut h = DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

/// (a, b, Python's `json.loads(a) == json.loads(b)`), from Python 3.11.7.
const NUMBER_EQUALITY: &[(&str, &str, bool)] = &[
    ("9", "9.0", true),
    ("0", "-0.0", true),
    ("0.0", "-0.0", true),
    ("-0", "0", true),
    ("1E2", "100", true),
    ("100.0", "100", true),
    ("9007199254740993", "9007199254740993.0", false),
    ("9007199254740992", "9007199254740993.0", true),
    (
        "123456789012345678901234567890",
        "123456789012345678901234567890.0",
        false,
    ),
    ("100000000000000000000", "1e20", true),
    ("0.1", "0.10", true),
    ("0.1", "1e-1", true),
    ("5", "5.000001", false),
    ("1e400", "1e401", true),
    ("1e400", "-1e400", false),
    ("2", "3", false),
    ("1.5", "1.5e0", true),
    ("-7", "-7.0", true),
    ("10", "1e1", true),
];

#[test]
fn numbers_compare_like_python() {
    for &(a, b, equal) in NUMBER_EQUALITY {
        let (x, y) = (num(a), num(b));
        assert_eq!(x == y, equal, "{a} == {b}");
        assert_eq!(y == x, equal, "{b} == {a}");
        if equal {
            assert_eq!(hash_of(&x), hash_of(&y), "hash({a}) == hash({b})");
        }
    }
}

#[test]
fn numbers_keep_kind_and_text() {
    assert!(num("9").is_int());
    assert!(!num("9.0").is_int());
    assert_eq!(num("-0").to_string(), "0");
    assert_eq!(num("1E2").as_json_text(), "1E2");
    for bad in ["", "01", "1.", ".5", "1e", "+1", "0x10", "NaN", "1 "] {
        assert!(
            bad.parse::<Number>().is_err(),
            "{bad:?} is not a JSON number"
        );
    }
}

fn tea(name: &str, price: &str, kind: &str) -> Product {
    Product::Tea {
        name: name.into(),
        price: num(price),
        kind: kind.into(),
    }
}

fn coffee(acidity: Scalar) -> Product {
    Product::Coffee {
        name: "Kona".into(),
        price: num("3"),
        acidity,
        roast_level: "DARK".into(),
    }
}

#[test]
fn products_print_as_dataclass_repr() {
    // Expected strings from Python 3.11.7 with the classic dataclasses.
    assert_eq!(
        tea("it's", "9.0", "Herbal").to_string(),
        "Tea(name=\"it's\", price=9.0, type='Herbal')"
    );
    assert_eq!(
        coffee(Scalar::Str("5".into())).to_string(),
        "Coffee(name='Kona', price=3, acidity='5', roast_level='DARK')"
    );
    assert_eq!(
        Product::Product {
            name: "x\ty".into(),
            price: num("1e-5")
        }
        .to_string(),
        "Product(name='x\\ty', price=1e-05)"
    );
}

#[test]
fn products_compare_like_python_dataclasses() {
    assert_eq!(tea("A", "9", "Green"), tea("A", "9.0", "Green"));
    assert_eq!(
        hash_of(&tea("A", "9", "Green")),
        hash_of(&tea("A", "9.0", "Green"))
    );
    assert_ne!(tea("A", "9", "Green"), tea("A", "9", "green"));
    assert_ne!(
        Product::Product {
            name: "A".into(),
            price: num("9")
        },
        tea("A", "9", "Green")
    );
    assert_ne!(
        coffee(Scalar::Str("5".into())),
        coffee(Scalar::Num(num("5")))
    );
    assert_eq!(
        coffee(Scalar::Num(num("5"))),
        coffee(Scalar::Num(num("5.0")))
    );
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

fn base() -> Value {
    json!({
        "products": {
            "t": {"product_type": "Tea", "name": "Mint", "price": 2, "type": "Herbal"},
            "c": {"product_type": "Coffee", "name": "Kona", "price": 3, "acidity": 5.5,
                  "roast_level": "DARK"},
            "p": {"product_type": "Product", "name": "Cup", "price": 1.5}
        },
        "producers": [
            {"name": "p1", "products": [["t", 2, 0.1], ["c", 1, 0]], "republish_wait_time": 0.2},
            {"name": "p2", "products": [["p", 1, 0]], "republish_wait_time": 0}
        ],
        "consumers": [
            {"name": "c1", "retry_wait_time": 0.1, "carts": [
                [{"type": "add", "product": "t", "quantity": 2},
                 {"type": "remove", "product": "t", "quantity": 1}],
                [{"type": "add", "product": "p", "quantity": 1}]
            ]},
            {"name": "c2", "retry_wait_time": 0, "carts": [
                [{"type": "add", "product": "c", "quantity": 3}]
            ]}
        ],
        "marketplace": {"queue_size_per_producer": 2}
    })
}

fn check(v: &Value) -> Result<Scenario, ScenarioError> {
    Scenario::from_json(&v.to_string())
}

/// Applies `edit` to the base scenario and returns the problems, one string each.
fn problems(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut v = base();
    edit(&mut v);
    match check(&v) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn base_scenario_is_valid() {
    let s = check(&base()).unwrap();
    assert_eq!(s.products().len(), 3);
    assert_eq!(s.queue_size_per_producer(), 2);
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    assert_eq!(
        s.expected_output().unwrap(),
        vec![
            "c1 bought Product(name='Cup', price=1.5)",
            "c1 bought Tea(name='Mint', price=2, type='Herbal')",
            "c2 bought Coffee(name='Kona', price=3, acidity=5.5, roast_level='DARK')",
            "c2 bought Coffee(name='Kona', price=3, acidity=5.5, roast_level='DARK')",
            "c2 bought Coffee(name='Kona', price=3, acidity=5.5, roast_level='DARK')",
        ]
    );
    assert_eq!(s.purchase_count(), 5);
}

#[test]
fn serialization_round_trips() {
    let s = check(&base()).unwrap();
    let again = Scenario::from_json(&s.to_json_pretty()).unwrap();
    assert_eq!(again.to_json_pretty(), s.to_json_pretty());
    assert_eq!(again.expected_output(), s.expected_output());
}

#[test]
fn malformed_json_has_line_and_column() {
    let e = Scenario::from_json("{\n  \"products\": {,\n}").unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert!(
        e.to_string()
            .starts_with("malformed JSON at line 2, column 16: "),
        "{e}"
    );
    let e = Scenario::from_json("{\"products\": {").unwrap_err();
    assert!(e.to_string().contains("EOF while parsing"), "{e}");
    let e = Scenario::from_json("[]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the scenario must be a JSON object, found an array"
    );
}

#[test]
fn missing_sections() {
    let p = problems(|v| {
        v.as_object_mut().unwrap().remove("marketplace");
        v.as_object_mut().unwrap().remove("consumers");
    });
    assert_eq!(
        p,
        vec![
            "missing field \"consumers\"",
            "missing field \"marketplace\""
        ]
    );
}

#[test]
fn wrong_types() {
    let p = problems(|v| {
        v["producers"][0]["name"] = json!(5);
        v["consumers"][1]["carts"] = json!({});
        v["products"]["p"]["price"] = json!("1.5");
        v["products"]["t"]["name"] = json!(null);
        v["producers"][1]["products"][0] = json!("p");
    });
    assert_eq!(
        p,
        vec![
            "products.t.name: expected a string, found null",
            "products.p.price: expected a number, found a string (\"1.5\")",
            "producers[0].name: expected a string, found a number (5)",
            "producers[1].products[0]: expected an array, found a string (\"p\")",
            "consumers[1].carts: expected an array, found an object",
        ]
    );
}

#[test]
fn product_fields_and_types() {
    let p = problems(|v| {
        v["products"]["c"]
            .as_object_mut()
            .unwrap()
            .remove("acidity");
        v["products"]["t"]["product_type"] = json!("Juice");
        v["products"]["p"]["type"] = json!("Herbal");
        v["products"]["x y"] = json!({"name": "No type", "price": 1});
        v["products"]["b"] = json!({"product_type": "Coffee", "name": "B", "price": 1,
                                    "acidity": true, "roast_level": "LIGHT"});
    });
    assert_eq!(
        p,
        vec![
            "products.t.product_type: unknown product_type \"Juice\" (expected \"Product\", \"Tea\" or \"Coffee\")",
            "products.c: missing field \"acidity\"",
            "products.p: unknown field \"type\" for Product",
            "products[\"x y\"]: missing field \"product_type\"",
            "products.b.acidity: expected a number or a string, found a boolean (true)",
        ]
    );
}

#[test]
fn unknown_ids_are_reported_where_used() {
    let p = problems(|v| {
        v["producers"][1]["products"][0][0] = json!("id9");
        v["consumers"][1]["carts"][0][0]["product"] = json!("id9");
    });
    assert_eq!(
        p,
        vec![
            "producers[1].products[0][0]: unknown product id \"id9\"",
            "consumers[1].carts[0][0].product: unknown product id \"id9\"",
        ]
    );
}

#[test]
fn references_to_a_broken_product_are_not_reported_twice() {
    let p = problems(|v| {
        v["products"]["t"]["price"] = json!([]);
    });
    assert_eq!(
        p,
        vec!["products.t.price: expected a number, found an array"]
    );
}

#[test]
fn times_must_be_non_negative_numbers() {
    let p = problems(|v| {
        v["producers"][0]["products"][0][2] = json!(-0.5);
        v["producers"][0]["republish_wait_time"] = json!("1");
        v["consumers"][0]["retry_wait_time"] = json!(-1);
        v["producers"][1]["republish_wait_time"] = serde_json::from_str("1e400").unwrap();
    });
    assert_eq!(
        p,
        vec![
            "producers[0].products[0][2]: must not be negative, found -0.5",
            "producers[0].republish_wait_time: expected a number, found a string (\"1\")",
            "producers[1].republish_wait_time: too large, found inf",
            "consumers[0].retry_wait_time: must not be negative, found -1",
        ]
    );
    // -0.0 is not negative.
    assert!(problems(|v| v["consumers"][0]["retry_wait_time"] = json!(-0.0)).is_empty());
}

#[test]
fn quantities_and_queue_size_must_be_at_least_one() {
    let p = problems(|v| {
        v["producers"][0]["products"][1][1] = json!(0);
        v["consumers"][1]["carts"][0][0]["quantity"] = json!(-2);
        v["consumers"][0]["carts"][1][0]["quantity"] = json!(1.0);
        v["marketplace"]["queue_size_per_producer"] = json!(0);
    });
    assert_eq!(
        p,
        vec![
            "producers[0].products[1][1]: must be at least 1, found 0",
            "consumers[0].carts[1][0].quantity: expected a whole number, found 1.0",
            "consumers[1].carts[0][0].quantity: must be at least 1, found -2",
            "marketplace.queue_size_per_producer: must be at least 1, found 0",
        ]
    );
    let p = problems(|v| v["marketplace"]["queue_size_per_producer"] = json!(10_000_000));
    assert_eq!(
        p,
        vec!["marketplace.queue_size_per_producer: too large (at most 1000000), found 10000000"]
    );
}

#[test]
fn op_type_must_be_add_or_remove() {
    let p = problems(|v| v["consumers"][0]["carts"][0][1]["type"] = json!("take"));
    assert_eq!(
        p,
        vec!["consumers[0].carts[0][1].type: expected \"add\" or \"remove\", found \"take\""]
    );
}

#[test]
fn cart_cannot_remove_more_than_it_holds() {
    let p = problems(|v| {
        v["consumers"][0]["carts"][0][1]["quantity"] = json!(3);
        v["consumers"][0]["carts"][1] = json!([
            {"type": "remove", "product": "p", "quantity": 1},
            {"type": "add", "product": "p", "quantity": 1}
        ]);
    });
    assert_eq!(
        p,
        vec![
            "consumers[0].carts[0][1]: removes 3 of Tea(name='Mint', price=2, type='Herbal') but the cart holds only 2 at this point",
            "consumers[0].carts[1][0]: removes 1 of Product(name='Cup', price=1.5) but the cart holds only 0 at this point",
        ]
    );
}

#[test]
fn removal_counts_by_equality_class() {
    // "t2" is equal to "t" (2 == 2.0), so removing it takes back one of the "t" added.
    let p = problems(|v| {
        v["products"]["t2"] =
            json!({"product_type": "Tea", "name": "Mint", "price": 2.0, "type": "Herbal"});
        v["consumers"][0]["carts"][0][1]["product"] = json!("t2");
    });
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn consumer_wanting_what_nobody_makes() {
    let p = problems(|v| {
        v["producers"][1]["products"] = json!([["t", 1, 0]]);
    });
    assert_eq!(
        p,
        vec![
            "consumers[0].carts[1][0].product: no producer makes Product(name='Cup', price=1.5) (id \"p\")"
        ]
    );
    // An equal product under another id counts as made.
    let p = problems(|v| {
        v["products"]["p2"] = json!({"product_type": "Product", "name": "Cup", "price": 1.50});
        v["producers"][1]["products"] = json!([["p2", 1, 0]]);
    });
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(|v| {
        v["products"]["t"]["product_type"] = json!(7);
        v["producers"][0]["products"][1][1] = json!("many");
        v["consumers"][1]["name"] = json!(false);
        v["marketplace"]["queue_size_per_producer"] = json!(-1);
    });
    assert_eq!(p.len(), 4, "{p:#?}");
}

#[test]
fn warnings_for_jamming_producers_and_unknown_keys() {
    let mut v = base();
    v["producers"][0]["products"] = json!([["t", 2, 0.1], ["c", 1, 0], ["p", 1, 0]]);
    v["consumers"][0]["carts"][1] = json!([]);
    v["consumers"][0]["colour"] = json!("red");
    v["producers"].as_array_mut().unwrap().push(json!(
        {"name": "idle", "products": [], "republish_wait_time": 0}
    ));
    let s = check(&v).unwrap();
    let w: Vec<String> = s.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "consumers[0]: unknown field \"colour\" ignored",
            "producers[0].products[2]: no consumer buys Product(name='Cup', price=1.5) (id \"p\"): its queue can fill up with them and block the products consumers do buy",
            "producers[1].products[0]: no consumer buys Product(name='Cup', price=1.5) (id \"p\"): its queue fills up with them and it then idles",
            "producers[2].products: producer \"idle\" makes nothing",
        ]
    );
}

/// A product whose name is a megabyte is shown cut in each message that names it, as a
/// long string or number found is: the file holds it once, but its warnings and problems
/// each showed it whole, so a file of a megabyte made a gigabyte of them.
#[test]
fn messages_show_a_long_product_cut() {
    let long = "x".repeat(1_000_000);
    let mut v = base();
    v["products"]["p"]["name"] = json!(long);
    v["consumers"][0]["carts"][1] = json!([]);
    let warnings = check(&v).unwrap().warnings().to_vec();
    let problems = problems(|v| {
        v["products"]["p"]["name"] = json!(long);
        v["consumers"][0]["carts"][1] = json!([{"type": "add", "product": "p", "quantity": 1},
                                               {"type": "remove", "product": "p", "quantity": 2}]);
    });
    let mut v = base();
    v["products"]["q"] = json!({"product_type": "Product", "name": long, "price": 1});
    v["consumers"][0]["carts"][1] = json!([{"type": "add", "product": "q", "quantity": 1}]);
    let nobody_makes = check(&v).unwrap_err().problems;
    let messages: Vec<String> = warnings
        .iter()
        .chain(&nobody_makes)
        .map(ToString::to_string)
        .chain(problems)
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    for message in messages {
        assert!(
            message.len() < 1200 && message.contains("x... (10000"),
            "a message of {} bytes: {}",
            message.len(),
            &message[..message.len().min(1200)]
        );
    }
}

#[test]
fn expected_output_is_none_when_equal_products_print_differently() {
    let mut v = base();
    v["products"]["t2"] =
        json!({"product_type": "Tea", "name": "Mint", "price": 2.0, "type": "Herbal"});
    assert!(check(&v).unwrap().expected_output().is_none());
    // The count is known all the same: c1's cart adds "t" twice and removes one.
    assert_eq!(check(&v).unwrap().purchase_count(), 5);
    v["products"]["t2"]["price"] = json!(2);
    assert!(check(&v).unwrap().expected_output().is_some());
}
