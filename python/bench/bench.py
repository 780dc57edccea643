"""Python threads on the lock-free engine (``marketplace.Marketplace``) against the same
workload on the classic design in pure Python (``LockedMarketplace``: one
``threading.Lock``, the GIL), side by side in one process.

Workload, for N = 1 and N = 8: N producer threads and N consumer threads. Producer ``i``
publishes ``items / N`` copies of product ``i % 4`` (a frozen dataclass, the same object
each time, as the classic producers do), waiting for room with ``publish(..., timeout=)``;
consumer ``j`` buys as many of product ``j % 4`` in carts of ``--cart`` items, waiting with
``add_to_cart(..., timeout=)``, and places each order. A run's figure is items bought per
second of wall time, from the first thread's start to the last one's end. Each
implementation runs ``--runs`` times, alternating, and the median is reported.

A last table measures the calls alone, in one thread with nothing to wait for: publish,
new cart, add, place order, per item.

``--products str`` runs the same with the four products as strings, which the engine uses
as their class's dict key themselves (no one can change them) instead of its own key.

    python bench/bench.py                 # the default: 40,000 items, 5 runs
    python bench/bench.py --products str  # str products
    python bench/bench.py --quick         # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from locked_marketplace import LockedMarketplace  # noqa: E402

from marketplace import Marketplace  # noqa: E402

IMPLEMENTATIONS = {"engine": Marketplace, "locked": LockedMarketplace}


@dataclass(frozen=True)
class Tea:
    name: str
    price: int
    type: str


PRODUCTS: dict[str, list[object]] = {
    "tea": [Tea(f"Tea {i}", 5 + i, "Herbal") for i in range(4)],
    "str": [f"Tea {i}" for i in range(4)],
}
WAIT = 30.0  # seconds; never reached unless something is broken


def run_once(
    factory, products: list[object], threads: int, items: int, cart_size: int, queue_size: int
) -> float:
    """One run of the workload; returns items bought per second."""
    market = factory(queue_size)
    per_thread = items // threads
    ids = [market.register_producer() for _ in range(threads)]
    failures: list[str] = []
    bought = [0] * threads
    start_line = threading.Barrier(2 * threads + 1)

    def produce(i: int) -> None:
        product, me = products[i % len(products)], ids[i]
        start_line.wait()
        for _ in range(per_thread):
            if not market.publish(me, product, timeout=WAIT):
                failures.append(f"producer {i}: publish timed out")
                return

    def consume(j: int) -> None:
        product = products[j % len(products)]
        start_line.wait()
        left = per_thread
        while left:
            cart = market.new_cart()
            size = min(cart_size, left)
            for _ in range(size):
                if not market.add_to_cart(cart, product, timeout=WAIT):
                    failures.append(f"consumer {j}: add_to_cart timed out")
                    return
            bought[j] += len(market.place_order(cart))
            left -= size

    workers = [threading.Thread(target=produce, args=(i,)) for i in range(threads)]
    workers += [threading.Thread(target=consume, args=(j,)) for j in range(threads)]
    for worker in workers:
        worker.start()
    start_line.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if failures or sum(bought) != per_thread * threads:
        raise RuntimeError(f"{factory.__name__}: {failures or bought}")
    return sum(bought) / elapsed


def calls_once(factory, products: list[object], items: int, cart_size: int) -> float:
    """Items per second through publish, new_cart, add_to_cart and place_order, one thread."""
    market = factory(cart_size)
    me = market.register_producer()
    product = products[0]
    started = time.perf_counter()
    for _ in range(items // cart_size):
        for _ in range(cart_size):
            market.publish(me, product)
        cart = market.new_cart()
        for _ in range(cart_size):
            market.add_to_cart(cart, product)
        market.place_order(cart)
    return (items // cart_size * cart_size) / (time.perf_counter() - started)


def median_of(runs: int, measure) -> dict[str, tuple[float, list[float]]]:
    figures: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
    for _ in range(runs):
        for name, factory in IMPLEMENTATIONS.items():
            figures[name].append(measure(factory))
    return {name: (statistics.median(values), values) for name, values in figures.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40_000, help="items per run (default 40000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--cart", type=int, default=10, help="items per cart (default 10)")
    parser.add_argument("--queue-size", type=int, default=16, help="per producer (default 16)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--products", choices=sorted(PRODUCTS), default="tea", help="(default tea)")
    parser.add_argument("--quick", action="store_true", help="4,000 items, 3 runs")
    args = parser.parse_args(argv)
    products = PRODUCTS[args.products]
    if args.quick:
        args.items, args.runs = 4_000, 3

    print(
        f"Python {platform.python_version()} ({sys.implementation.name}), {os.cpu_count()} CPUs; "
        f"{args.items} items per run, carts of {args.cart}, queue size {args.queue_size}, "
        f"{args.products} products, median of {args.runs} runs (items/s)"
    )
    print(f"{'workload':>22}  {'engine':>10}  {'locked':>10}  {'engine/locked':>13}   spread (min-max)")

    def report(label, result):
        engine, locked = result["engine"][0], result["locked"][0]
        spread = "  ".join(
            f"{name} {min(values):,.0f}-{max(values):,.0f}" for name, (_, values) in result.items()
        )
        print(f"{label:>22}  {engine:>10,.0f}  {locked:>10,.0f}  {engine / locked:>12.2f}x   {spread}")

    for threads in args.threads:
        report(
            f"{threads} prod + {threads} cons",
            median_of(
                args.runs,
                lambda factory: run_once(factory, products, threads, args.items, args.cart, args.queue_size),
            ),
        )
    report("calls, 1 thread", median_of(args.runs, lambda factory: calls_once(factory, products, args.items, args.cart)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
