"""A pure-Python ``Marketplace`` behind one ``threading.Lock``: the classic design, with the
same API and semantics as ``marketplace.Marketplace`` (waiting calls included), for the
benchmark to race against.

It is written to be fast, not naive: products on sale sit in one FIFO per equality class
(a dict of deques), so no call scans producers or products; waits sleep on conditions of the
one lock (one per producer for room, one per product for arrivals) and wake one waiter per
change. The test suite holds it to the same contract as the engine.
"""

from __future__ import annotations

import math
import operator
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, Hashable, SupportsFloat, SupportsIndex, TypeVar


_SHOWN_CHARS = 200


def _shown(value: Any) -> str:
    """`value`'s repr, cut after 200 characters as CPython's own messages cut theirs, or its
    type when it has none (an int of too many digits)."""
    try:
        text = repr(value)
    except ValueError:
        return f"an {type(value).__name__} too large to print"
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def _integer(value: Any, what: str) -> int:
    """`value` as an int: itself, or what its type's `__index__` gives (a numpy integer)."""
    if isinstance(value, int):
        return value
    if hasattr(type(value), "__index__"):
        return operator.index(value)
    raise TypeError(f"{what} must be an int, not {type(value).__name__}")


def _index(value: Any, what: str) -> int:
    index = _integer(value, what)
    if index < 0:
        raise ValueError(f"{what} must not be negative, got {_shown(index)}")
    return index


def _deadline(timeout: Any) -> float | None:
    """None: do not wait; math.inf: no limit; else the monotonic deadline."""
    if timeout is None:
        return None
    message = f"timeout must be a number of seconds or None, not {type(timeout).__name__}"
    # float() would parse the text of a string or a bytes-like object; a timeout is a number.
    if not (hasattr(timeout, "__float__") or hasattr(timeout, "__index__")):
        raise TypeError(message)
    try:
        seconds = float(timeout)  # what the object's own conversion raises propagates
    except OverflowError:
        if not isinstance(timeout, int):
            raise
        # An int too large for a float: no limit, as any wait too long to represent.
        seconds = math.inf if timeout > 0 else -math.inf
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {_shown(timeout)}")
    if seconds == 0:
        return None
    return time.monotonic() + seconds


# The type of the products, as in the package's stubs, so that `LockedMarketplace[Tea]` is
# checked as `Marketplace[Tea]` is, and a bare one as a bare `Marketplace`. The default
# needs typing_extensions, which only the type checker is given: `typing.TypeVar` takes
# none before Python 3.13, and the benchmark needs no package beside `marketplace`.
if TYPE_CHECKING:
    from typing_extensions import TypeVar as _TypeVar

    P = _TypeVar("P", bound=Hashable, default=Hashable)
else:
    P = TypeVar("P", bound=Hashable)

class LockedMarketplace(Generic[P]):
    """The classic marketplace: every call holds one lock."""

    def __init__(self, queue_size_per_producer: SupportsIndex) -> None:
        queue_size = _integer(queue_size_per_producer, "queue_size_per_producer")
        if not 1 <= queue_size <= 2**63 - 1:
            raise ValueError(
                f"queue_size_per_producer must be between 1 and {2**63 - 1}, "
                f"got {_shown(queue_size)}"
            )
        self._lock = threading.Lock()
        self._queue_size = queue_size
        self._on_sale: list[int] = []
        self._room: list[threading.Condition] = []
        # product -> deque of (producer, object), oldest first; no empty deques.
        self._shelves: dict[Hashable, deque[tuple[int, Any]]] = {}
        # product -> [condition, waiters]; removed when nobody waits.
        self._arrivals: dict[Hashable, list[Any]] = {}
        # cart -> (producer, object) in the order added.
        self._carts: dict[int, list[tuple[int, Any]]] = {}
        # The products of the publishes waiting for room, by a key of each wait, for stats()
        # (consumers waiting count in _arrivals).
        self._waiting_for_room: dict[object, Hashable] = {}
        self._next_cart = 0
        self._closed = False

    @property
    def queue_size_per_producer(self) -> int:
        return self._queue_size

    @property
    def closed(self) -> bool:
        return self._closed

    def register_producer(self) -> int:
        with self._lock:
            self._on_sale.append(0)
            self._room.append(threading.Condition(self._lock))
            return len(self._on_sale) - 1

    def publish(
        self,
        producer_id: SupportsIndex,
        product: P,
        timeout: SupportsFloat | SupportsIndex | None = None,
    ) -> bool:
        producer = _index(producer_id, "producer_id")
        deadline = _deadline(timeout)
        hash(product)
        with self._lock:
            if producer >= len(self._on_sale):
                return False
            if self._on_sale[producer] >= self._queue_size:
                if deadline is None or self._closed:
                    return False
                wait = object()
                self._waiting_for_room[wait] = product
                try:
                    while self._on_sale[producer] >= self._queue_size:
                        left = deadline - time.monotonic()
                        if left <= 0 or self._closed:
                            return False
                        self._room[producer].wait(None if left == math.inf else left)
                finally:
                    del self._waiting_for_room[wait]
            self._put(producer, product, product)
            return True

    def _put(self, producer: int, product: Hashable, item: Any) -> None:
        """Puts an item on sale (lock held) and wakes one consumer waiting for it."""
        self._on_sale[producer] += 1
        shelf = self._shelves.get(product)
        if shelf is None:
            shelf = self._shelves[product] = deque()
        shelf.append((producer, item))
        waiting = self._arrivals.get(product)
        if waiting is not None:
            waiting[0].notify()

    def new_cart(self) -> int:
        with self._lock:
            cart = self._next_cart
            self._next_cart += 1
            self._carts[cart] = []
            return cart

    def add_to_cart(
        self,
        cart_id: SupportsIndex,
        product: P,
        timeout: SupportsFloat | SupportsIndex | None = None,
    ) -> bool:
        cart_id = _index(cart_id, "cart_id")
        deadline = _deadline(timeout)
        hash(product)
        with self._lock:
            cart = self._carts.get(cart_id)
            if cart is None:
                return False
            shelf = self._shelves.get(product)
            if shelf is None:
                if deadline is None or self._closed:
                    return False
                waiting = self._arrivals.get(product)
                if waiting is None:
                    waiting = self._arrivals[product] = [threading.Condition(self._lock), 0]
                waiting[1] += 1
                try:
                    while shelf is None:
                        left = deadline - time.monotonic()
                        if left <= 0 or self._closed or self._carts.get(cart_id) is not cart:
                            return False
                        waiting[0].wait(None if left == math.inf else left)
                        shelf = self._shelves.get(product)
                    if self._carts.get(cart_id) is not cart:
                        # Ordered while it waited: the item stays on sale, and its wake-up
                        # goes to the next call waiting for it, which would sleep through it.
                        waiting[0].notify()
                        return False
                finally:
                    waiting[1] -= 1
                    if waiting[1] == 0:
                        del self._arrivals[product]
            producer, item = shelf.popleft()
            if not shelf:
                del self._shelves[product]
            self._on_sale[producer] -= 1
            self._room[producer].notify()
            cart.append((producer, item))
            return True

    def remove_from_cart(self, cart_id: SupportsIndex, product: P) -> bool:
        cart_id = _index(cart_id, "cart_id")
        hash(product)
        with self._lock:
            cart = self._carts.get(cart_id)
            if cart is None:
                return False
            for position, (producer, item) in enumerate(cart):
                if item == product:
                    del cart[position]
                    self._put(producer, item, item)
                    return True
            return False

    def place_order(self, cart_id: SupportsIndex) -> list[P]:
        cart_id = _index(cart_id, "cart_id")
        with self._lock:
            cart = self._carts.pop(cart_id, None)
        if cart is None:
            raise KeyError(cart_id)
        return [item for _, item in cart]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for room in self._room:
                room.notify_all()
            for waiting in self._arrivals.values():
                waiting[0].notify_all()

    def shelf_len(self, producer_id: SupportsIndex) -> int | None:
        producer = _index(producer_id, "producer_id")
        with self._lock:
            return self._on_sale[producer] if producer < len(self._on_sale) else None

    def available(self, product: P) -> int:
        with self._lock:
            return len(self._shelves.get(product, ()))

    def _distinct_products(self) -> int:
        """The equality classes alive (lock held): on shelves, in carts, or named by a waiting
        call, as the engine counts them. Worked out here, in a query, so that no other call
        pays for it or runs the products' ``__eq__`` to keep a count."""
        alive = set(self._shelves)
        alive.update(item for cart in self._carts.values() for _, item in cart)
        alive.update(self._arrivals)
        alive.update(self._waiting_for_room.values())
        return len(alive)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "producers": len(self._on_sale),
                "open_carts": len(self._carts),
                "items_on_shelves": sum(self._on_sale),
                "items_in_carts": sum(len(cart) for cart in self._carts.values()),
                "distinct_products": self._distinct_products(),
                "waiting": len(self._waiting_for_room)
                + sum(waiting[1] for waiting in self._arrivals.values()),
            }
