#!/usr/bin/env python3
"""Regenerate scenarios/long.json: the long demo, made to watch the progress line.

Run from the repository root:
    python3 cli/scripts/gen-long-scenario.py > scenarios/long.json
    target/release/marketplace run scenarios/long.json --time-scale 0 | LC_ALL=C sort > scenarios/long.expected

It cannot stall: every product has a producer that makes only it, so whatever a consumer
waits for keeps coming. At the default time scale the producers' pauses pace it to several
seconds; at --time-scale 0 it takes a fraction of a second. Ten consumers fill their carts
in the first seconds; the last one, "zoe", also buys saffron, which its merchant makes once
every 2 s, so the run ends with a few quiet seconds in which the progress line names her
and what she waits for. The output is the same whatever the seed's randomness: it is fixed.
"""
import json
import random

PRODUCTS = {
    "kona": {"product_type": "Coffee", "name": "Kona Peaberry", "price": 14, "acidity": 4.5, "roast_level": "MEDIUM"},
    "dark": {"product_type": "Coffee", "name": "Lighthouse Dark", "price": 9, "acidity": "low", "roast_level": "DARK"},
    "chai": {"product_type": "Tea", "name": "Grandma's Chai", "price": 6, "type": "Black"},
    "mint": {"product_type": "Tea", "name": "Moroccan Mint", "price": 5.0, "type": "Green"},
    "sencha": {"product_type": "Tea", "name": "Uji Sencha", "price": 8, "type": "Green"},
    "mug": {"product_type": "Product", "name": "Ceramic Mug", "price": 12.5},
    "filter": {"product_type": "Product", "name": "Paper Filters", "price": 3},
    "saffron": {"product_type": "Product", "name": "Saffron", "price": 30},
}

# One producer per product, making only it: [name, product, items per round, pause, republish wait].
PRODUCERS = [
    ("kona roastery", "kona", 2, 0.08, 0.2),
    ("harbor roastery", "dark", 3, 0.06, 0.2),
    ("chai stall", "chai", 2, 0.07, 0.25),
    ("mint garden", "mint", 1, 0.07, 0.3),
    ("tea terrace", "sencha", 2, 0.09, 0.25),
    ("pottery", "mug", 1, 0.1, 0.5),
    ("paper mill", "filter", 4, 0.05, 0.2),
    ("spice merchant", "saffron", 1, 2.0, 0.5),
]

CONSUMERS = ["ana", "bo", "chidi", "dana", "eli", "fatou", "gus", "hana", "ivo", "jun"]
EVERYDAY = ["kona", "dark", "chai", "mint", "sencha", "mug", "filter"]


def cart(rng):
    """Two or three adds of everyday products, now and then a remove of the first one."""
    ops = []
    for product in rng.sample(EVERYDAY, rng.randint(2, 3)):
        ops.append({"type": "add", "product": product, "quantity": rng.randint(1, 3)})
    if rng.random() < 0.25:
        ops.append({"type": "remove", "product": ops[0]["product"], "quantity": 1})
    return ops


def main():
    rng = random.Random(7)
    consumers = []
    for name in CONSUMERS:
        consumers.append({
            "name": name,
            "retry_wait_time": rng.choice([0.1, 0.15, 0.2]),
            "carts": [cart(rng) for _ in range(8)],
        })
    zoe = [cart(rng) for _ in range(2)]
    zoe += [[{"type": "add", "product": "saffron", "quantity": 1},
             {"type": "add", "product": "mug", "quantity": 1}] for _ in range(5)]
    consumers.append({"name": "zoe", "retry_wait_time": 0.3, "carts": zoe})
    scenario = {
        "products": PRODUCTS,
        "producers": [
            {"name": name, "products": [[product, count, pause]], "republish_wait_time": republish}
            for name, product, count, pause, republish in PRODUCERS
        ],
        "consumers": consumers,
        "marketplace": {"queue_size_per_producer": 4},
    }
    # One entry per line inside each section, as scenarios/demo.json is laid out.
    lines = ["{", '  "products": {']
    items = list(PRODUCTS.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        lines.append(f"    {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("  },")
    for section in ["producers", "consumers"]:
        lines.append(f'  "{section}": [')
        entries = scenario[section]
        for i, entry in enumerate(entries):
            comma = "," if i + 1 < len(entries) else ""
            lines.append(f"    {json.dumps(entry)}{comma}")
        lines.append("  ],")
    lines.append(f'  "marketplace": {json.dumps(scenario["marketplace"])}')
    lines.append("}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
