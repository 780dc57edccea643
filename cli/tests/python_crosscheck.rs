//! Cross-check against real Python: for generated scenarios full of tricky names and
//! numbers, the output predicted here must be what Python's dataclass repr prints (cart
//! contents computed in Python with `list.remove`, i.e. Python's `==`). Skips with a notice
//! when `python3` is not installed.

mod support;

use marketplace_cli::generate::{GenOptions, generate};
use support::{python3, python3_available};

const PYTHON: &str = r#"
import json, sys
from dataclasses import dataclass

@dataclass
class Product:
    name: str
    price: object

@dataclass
class Tea(Product):
    type: str

@dataclass
class Coffee(Product):
    acidity: object
    roast_level: str

d = json.load(sys.stdin)
kinds = {"Product": Product, "Tea": Tea, "Coffee": Coffee}
products = {}
for key, fields in d["products"].items():
    fields = dict(fields)
    products[key] = kinds[fields.pop("product_type")](**fields)
lines = []
for consumer in d["consumers"]:
    for cart in consumer["carts"]:
        items = []
        for op in cart:
            for _ in range(op["quantity"]):
                if op["type"] == "add":
                    items.append(products[op["product"]])
                else:
                    items.remove(products[op["product"]])
        lines += [f"{consumer['name']} bought {item}" for item in items]
lines.sort(key=lambda line: line.encode())
sys.stdout.buffer.write("".join(line + "\n" for line in lines).encode())
"#;

#[test]
fn tricky_output_matches_python() {
    if !python3_available() {
        return;
    }
    for seed in 0..8 {
        let scenario = generate(&GenOptions {
            tricky: true,
            seed,
            consumers: 25,
            products: 40,
            ..GenOptions::default()
        })
        .unwrap();
        let output = python3(PYTHON, scenario.to_json_pretty().as_bytes());
        assert!(output.status.success(), "python failed on seed {seed}");
        let ours: String = scenario
            .expected_output()
            .unwrap()
            .into_iter()
            .map(|line| line + "\n")
            .collect();
        assert_eq!(
            ours,
            String::from_utf8(output.stdout).unwrap(),
            "seed {seed}"
        );
        println!("python agrees on tricky seed {seed}");
    }
}
