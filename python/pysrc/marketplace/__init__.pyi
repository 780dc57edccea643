"""Type stubs of the ``marketplace`` package (the native ``marketplace._native`` module)."""

from types import GenericAlias
from typing import Any, Generic, Hashable, List, Optional, SupportsFloat, SupportsIndex, TypedDict, Union, final

from typing_extensions import TypeVar

__all__ = ["MAX_QUEUE_SIZE", "Marketplace", "Stats", "__version__"]

__version__: str

MAX_QUEUE_SIZE: int
"""The largest ``queue_size_per_producer`` accepted: ``2**63 - 1``."""

class Stats(TypedDict):
    """What :meth:`Marketplace.stats` returns (a plain ``dict`` at run time; the class is
    importable, for annotations)."""

    producers: int
    """Producers registered so far."""
    open_carts: int
    """Carts opened and not yet ordered."""
    items_on_shelves: int
    """Items published (or returned) and not taken into a cart."""
    items_in_carts: int
    """Items in open carts."""
    distinct_products: int
    """Equality classes of products alive (on shelves, in carts, or named by a call in flight)."""
    waiting: int
    """Calls inside a wait: threads in a waiting ``publish`` or ``add_to_cart``
    (``timeout=``), and tasks awaiting ``publish_async`` or ``add_to_cart_async``."""

# The type of a market's products: `Marketplace[str]` takes and returns `str`. A bare
# `Marketplace`, and `Marketplace(3)` with nothing to infer it from, is a market of any
# hashable product (its orders are `List[Hashable]`), rather than an error asking for an
# annotation.
_P = TypeVar("_P", bound=Hashable, default=Hashable)

@final
class Marketplace(Generic[_P]):
    """A marketplace of hashable products, shared by any number of threads.

    Producers publish products, each holding at most ``queue_size_per_producer`` of them on
    sale at once. Consumers open carts, add products (any equal product on sale, from any
    producer, oldest first), may remove them (back to the producer that made them), and
    place orders, which return the very objects that were published.

    Products are compared with their own ``==`` and ``hash()``, like dict keys. Every call
    that acts on the market (not the queries: ``stats``, ``shelf_len``, ``available``) is
    logged at DEBUG level on the ``marketplace`` logger.

    ``Marketplace[Tea]`` names a market of ``Tea`` for a type checker (which then holds
    products to that type and types orders ``List[Tea]``); ``Marketplace[Tea](3)`` makes
    the same market as ``Marketplace(3)``.
    """

    def __new__(cls, queue_size_per_producer: SupportsIndex) -> "Marketplace[_P]":
        """Each producer may have up to ``queue_size_per_producer`` products on sale at once.

        Raises ``TypeError`` for a non-int, ``ValueError`` below 1 or above ``MAX_QUEUE_SIZE``.
        """

    @classmethod
    def __class_getitem__(cls, key: Any) -> GenericAlias:
        """``Marketplace[Tea]``: the class named with its product type (``types.GenericAlias``)."""

    @property
    def queue_size_per_producer(self) -> int:
        """How many products one producer may have on sale at once."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""

    def register_producer(self) -> int:
        """Registers a producer; returns its id: 0, 1, 2, ... in call order."""

    def publish(
        self,
        producer_id: SupportsIndex,
        product: _P,
        timeout: Optional[Union[SupportsFloat, SupportsIndex]] = None,
    ) -> bool:
        """Puts ``product`` on sale for ``producer_id``.

        Returns ``False`` when the producer already has ``queue_size_per_producer`` products
        on sale, or was never registered. With ``timeout`` (seconds, ``math.inf`` for no
        limit), waits up to that long for room, letting other threads run; ``close()`` ends
        the wait (``False``), and Ctrl-C interrupts it (``KeyboardInterrupt``).

        Raises ``TypeError`` for an unhashable product or a non-int id, ``ValueError`` for a
        negative id or timeout.
        """

    async def publish_async(
        self,
        producer_id: SupportsIndex,
        product: _P,
        timeout: Optional[Union[SupportsFloat, SupportsIndex]] = None,
    ) -> bool:
        """:meth:`publish`, awaited from asyncio: the same results and exceptions, and with
        ``timeout`` the wait for room holds no thread while other tasks run.

        A task cancelled while it waits (``asyncio.wait_for`` timing out, ``Task.cancel``)
        has published nothing; ``close()`` ends the wait (``False``).
        """

    def new_cart(self) -> int:
        """Opens a cart; returns its id: 0, 1, 2, ... in call order."""

    def add_to_cart(
        self,
        cart_id: SupportsIndex,
        product: _P,
        timeout: Optional[Union[SupportsFloat, SupportsIndex]] = None,
    ) -> bool:
        """Moves one product equal to ``product`` (the oldest on sale, from any producer) into
        the cart.

        Returns ``False`` when none is on sale, or the cart is not open. With ``timeout``
        (seconds, ``math.inf`` for no limit), waits up to that long for one, letting other
        threads run; ``close()`` ends the wait (``False``), and Ctrl-C interrupts it
        (``KeyboardInterrupt``).
        """

    async def add_to_cart_async(
        self,
        cart_id: SupportsIndex,
        product: _P,
        timeout: Optional[Union[SupportsFloat, SupportsIndex]] = None,
    ) -> bool:
        """:meth:`add_to_cart`, awaited from asyncio: the same results and exceptions, and
        with ``timeout`` the wait for an item holds no thread while other tasks run.

        A task cancelled while it waits (``asyncio.wait_for`` timing out, ``Task.cancel``)
        has taken nothing into the cart; ``close()`` ends the wait (``False``).
        """

    def remove_from_cart(self, cart_id: SupportsIndex, product: _P) -> bool:
        """Takes one product equal to ``product`` out of the cart and puts it back on sale for
        the producer that made it, even if that producer is full.

        Returns ``False`` when the cart holds no equal product, or is not open.
        """

    def place_order(self, cart_id: SupportsIndex) -> List[_P]:
        """Returns the cart's products, the very objects published, in the order added.

        The cart id is then spent. Raises ``KeyError`` for a cart that is not open.
        """

    def close(self) -> None:
        """Wakes every thread waiting in ``publish`` or ``add_to_cart``, and every task
        awaiting their async forms (they return ``False``); later waits return at once.
        Calls that do not wait keep working."""

    def shelf_len(self, producer_id: SupportsIndex) -> Optional[int]:
        """Products the producer has on sale now (returned ones included); ``None`` for an id
        never issued."""

    def available(self, product: _P) -> int:
        """How many products equal to ``product`` are on sale now."""

    def stats(self) -> Stats:
        """A snapshot of the marketplace's size."""

    def _interned(self) -> dict[str, int]:
        """Internal sizes (interning table, class slots, objects held), for tests."""
