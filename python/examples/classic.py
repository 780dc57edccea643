"""The classic marketplace exercise, unchanged, on the lock-free engine.

Producer and Consumer threads are written as in the classic skeleton: producers loop over
their list forever, publishing each product ``quantity`` times, retrying after
``republish_wait_time`` while ``publish`` returns False and waiting ``wait_seconds`` after
each publish; consumers, for each cart, open it, add (retrying after ``retry_wait_time``
while ``add_to_cart`` returns False) or remove each product ``quantity`` times, place the
order and print ``<consumer name> bought <product>`` for each product. Products are the
classic frozen dataclasses, whose ``repr`` is the expected output format.

The scenario is a JSON file as described in ``docs/scenario-format.md``. Run it with::

    python examples/classic.py scenario.json [--time-scale F] [--log-file PATH]

``--time-scale`` multiplies every wait (0: none at all). Consumers are joined; producers are
daemon threads, which end with the process. The sorted output is the same as the
``marketplace run`` command line's (and the classic Python's).
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import sys
import time
from dataclasses import dataclass
from threading import Lock, Thread
from typing import Any

from marketplace import Marketplace


@dataclass(init=True, repr=True, order=False, frozen=True)
class Product:
    """A product: a name and a price."""

    name: str
    price: int


@dataclass(init=True, repr=True, order=False, frozen=True)
class Tea(Product):
    """A tea has a type."""

    type: str


@dataclass(init=True, repr=True, order=False, frozen=True)
class Coffee(Product):
    """A coffee has an acidity and a roast level."""

    acidity: str
    roast_level: str


PRODUCT_TYPES: dict[str, type[Product]] = {"Product": Product, "Tea": Tea, "Coffee": Coffee}

# Whole lines only: a print is two writes (the text, then the newline), which threads could
# otherwise interleave.
PRINT_LOCK = Lock()


class Producer(Thread):
    """Publishes its products forever."""

    def __init__(self, products, marketplace, republish_wait_time, **kwargs):
        Thread.__init__(self, **kwargs)
        self.products = products
        self.marketplace = marketplace
        self.republish_wait_time = republish_wait_time
        self.producer_id = self.marketplace.register_producer()

    def run(self):
        while True:
            for product, quantity, wait_time in self.products:
                for _ in range(quantity):
                    while not self.marketplace.publish(self.producer_id, product):
                        time.sleep(self.republish_wait_time)
                    time.sleep(wait_time)


class Consumer(Thread):
    """Fills its carts one after the other, orders each and prints what it bought."""

    def __init__(self, carts, marketplace, retry_wait_time, **kwargs):
        Thread.__init__(self, **kwargs)
        self.carts = carts
        self.marketplace = marketplace
        self.retry_wait_time = retry_wait_time

    def run(self):
        for cart in self.carts:
            cart_id = self.marketplace.new_cart()
            for operation in cart:
                for _ in range(operation["quantity"]):
                    if operation["type"] == "add":
                        while not self.marketplace.add_to_cart(cart_id, operation["product"]):
                            time.sleep(self.retry_wait_time)
                    else:
                        self.marketplace.remove_from_cart(cart_id, operation["product"])
            for product in self.marketplace.place_order(cart_id):
                with PRINT_LOCK:
                    print(f"{self.name} bought {product}")


def make_product(fields: dict[str, Any]) -> Product:
    """The dataclass a scenario's product entry describes."""
    fields = dict(fields)
    kind = PRODUCT_TYPES[fields.pop("product_type")]
    return kind(**fields)


def load_scenario(path: str) -> dict[str, Any]:
    """Reads a scenario file, with each product id replaced by its dataclass."""
    with open(path, encoding="utf-8") as file:
        scenario: dict[str, Any] = json.load(file)
    products = {pid: make_product(fields) for pid, fields in scenario["products"].items()}
    for producer in scenario["producers"]:
        producer["products"] = [
            (products[pid], quantity, wait) for pid, quantity, wait in producer["products"]
        ]
    for consumer in scenario["consumers"]:
        for cart in consumer["carts"]:
            for operation in cart:
                operation["product"] = products[operation["product"]]
    return scenario


def run(scenario: dict[str, Any], time_scale: float = 1.0, marketplace=None) -> None:
    """Runs a loaded scenario: starts every thread, returns once every consumer is done.

    The producers go on running (daemon threads): run this in a process of its own.
    """
    if marketplace is None:
        marketplace = Marketplace(scenario["marketplace"]["queue_size_per_producer"])
    producers = [
        Producer(
            [(product, quantity, wait * time_scale) for product, quantity, wait in p["products"]],
            marketplace,
            p["republish_wait_time"] * time_scale,
            name=p["name"],
            daemon=True,
        )
        for p in scenario["producers"]
    ]
    consumers = [
        Consumer(c["carts"], marketplace, c["retry_wait_time"] * time_scale, name=c["name"])
        for c in scenario["consumers"]
    ]
    for thread in producers + consumers:
        thread.start()
    for consumer in consumers:
        consumer.join()


def log_to(path: str) -> None:
    """Logs every marketplace call to ``path``, 1 MB per file, 20 rotated files kept."""
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=20)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("marketplace")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="a scenario JSON file")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies every wait (default 1)"
    )
    parser.add_argument("--log-file", help="log every marketplace call to this file")
    args = parser.parse_args(argv)
    if not args.time_scale >= 0:
        parser.error("--time-scale must be a number >= 0")
    if args.log_file:
        log_to(args.log_file)
    run(load_scenario(args.scenario), args.time_scale)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
