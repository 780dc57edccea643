"""The interning table (and the engine's catalog behind it) stays bounded by the distinct
products alive in the market, not by how many were ever published."""

from __future__ import annotations

import collections
import gc
import resource
import sys
from dataclasses import dataclass

import pytest
from conftest import Tea

from marketplace import Marketplace


def peak_rss_mb():
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def test_a_million_distinct_products_published_and_ordered_one_by_one():
    market = Marketplace(1)
    producer = market.register_producer()
    peak_before = peak_rss_mb()
    largest = {"classes": 0, "dict": 0, "slots": 0, "object_slots": 0}
    for i in range(1_000_000):
        assert market.publish(producer, i)
        cart = market.new_cart()
        assert market.add_to_cart(cart, i)
        if i % 10_000 == 0:  # sampled while the product is in the cart
            for key, value in market._interned().items():
                if key in largest:
                    largest[key] = max(largest[key], value)
        assert market.place_order(cart) == [i]
    # At most one product was alive at a time: one class, one dict entry, one slot of the
    # engine's catalog, one object kept, whatever the million products were.
    assert largest == {"classes": 1, "dict": 1, "slots": 1, "object_slots": 1}
    assert market._interned() == {"classes": 0, "dict": 0, "slots": 1, "objects": 0, "object_slots": 1}
    # A table of a million entries (dict + catalog) would take well over 100 MB.
    assert peak_rss_mb() - peak_before < 30


def test_the_table_follows_the_products_alive():
    market = Marketplace(100)
    producers = [market.register_producer() for _ in range(3)]
    alive = []
    for round_ in range(50):
        # 3 producers x 20 distinct products on sale, some equal across producers...
        for producer in producers:
            for k in range(20):
                product = Tea(f"tea {round_}-{k}", k, "Herbal")
                assert market.publish(producer, product)
                alive.append(product)
        interned = market._interned()
        assert interned["classes"] == interned["dict"] == 20
        # ...then all bought.
        cart = market.new_cart()
        for product in alive:
            assert market.add_to_cart(cart, product)
        assert len(market.place_order(cart)) == 60
        alive.clear()
        assert market._interned()["classes"] == 0
    interned = market._interned()
    assert interned["dict"] == 0
    assert interned["slots"] == 20  # the catalog never held more than 20 at once
    assert interned["object_slots"] == 60


def test_waiting_for_a_product_holds_its_class_only_while_waiting():
    market = Marketplace(1)
    cart = market.new_cart()
    assert market.add_to_cart(cart, "never published", timeout=0.05) is False
    assert market._interned()["classes"] == 0
    # Asking without waiting interns nothing.
    assert market.add_to_cart(cart, "never published") is False
    assert market.remove_from_cart(cart, "never published") is False
    assert market.available("never published") == 0
    assert market._interned() == {"classes": 0, "dict": 0, "slots": 1, "objects": 0, "object_slots": 0}


@pytest.mark.parametrize("returned", [False, True])
def test_refused_publishes_keep_nothing(returned):
    market = Marketplace(1)
    producer = market.register_producer()
    assert market.publish(producer, "kept")
    for i in range(1000):
        assert market.publish(producer, f"refused {i}") is False
    if returned:
        cart = market.new_cart()
        market.add_to_cart(cart, "kept")
        market.remove_from_cart(cart, "kept")
    assert market._interned() == {"classes": 1, "dict": 1, "slots": 2, "objects": 1, "object_slots": 2}


@dataclass(frozen=True)
class Holder:
    """A product with attributes (a `__dict__`), one of them its marketplace."""

    market: Marketplace


Sale = collections.namedtuple("Sale", "market product")


def markets_alive():
    """Marketplaces the garbage collector tracks. A weak reference cannot tell: the
    collector clears weak references to everything it finds unreachable, freed or not."""
    return sum(type(each) is Marketplace for each in gc.get_objects())


@pytest.mark.parametrize(
    "make",
    [Holder, lambda market: (market, "tea"), lambda market: Sale(market, "tea")],
    ids=["object", "tuple", "namedtuple"],
)
@pytest.mark.parametrize("where", ["shelf", "cart", "interning only"])
def test_a_cycle_through_a_product_is_collected(make, where):
    """A product that refers to its marketplace makes a cycle (market -> object kept ->
    market), on a shelf, in a cart, or as the interning's key of a class whose object it
    was, ordered since. The collector frees the market even when nothing in the cycle but
    the market can drop its references: a tuple cannot, and a market that only showed its
    references (no `__clear__`) was kept for good."""
    gc.collect()
    before = markets_alive()
    market = Marketplace(2)
    producer = market.register_producer()
    assert market.publish(producer, make(market))
    if where == "cart":
        assert market.add_to_cart(market.new_cart(), make(market))
    elif where == "interning only":
        # The first one published is bought and dropped; the second keeps its class alive,
        # and the class's dict key is still the first.
        assert market.publish(producer, make(market))
        cart = market.new_cart()
        assert market.add_to_cart(cart, make(market))
        market.place_order(cart)
        assert market.available(make(market)) == 1
    del market
    gc.collect()
    assert markets_alive() == before
