"""The classic producer/consumer ``Marketplace``, on a lock-free Rust engine.

Producers publish hashable products, each holding at most ``queue_size_per_producer`` of
them on sale at once; consumers open carts, add whatever equal product is on sale (from any
producer, oldest first), may remove items (they go back to the producer that made them),
and place orders, which return the very objects that were published::

    from marketplace import Marketplace

    market = Marketplace(3)
    producer = market.register_producer()
    market.publish(producer, "green tea")          # True
    cart = market.new_cart()
    market.add_to_cart(cart, "green tea")          # True
    market.place_order(cart)                       # ['green tea']

Every call that acts on the market (not the queries: ``stats``, ``shelf_len``,
``available``) is logged at DEBUG level on the ``marketplace`` logger. See the package's
README for waiting calls (``timeout=``), threads, asyncio (``publish_async``,
``add_to_cart_async``) and what is supported.
"""

from typing import TypedDict

from ._native import MAX_QUEUE_SIZE, Marketplace, __version__

__all__ = ["MAX_QUEUE_SIZE", "Marketplace", "Stats", "__version__"]


class Stats(TypedDict):
    """What ``Marketplace.stats()`` returns: a plain ``dict`` with these keys (this class is
    for annotations; the stubs document each key)."""

    producers: int
    open_carts: int
    items_on_shelves: int
    items_in_carts: int
    distinct_products: int
    waiting: int
