"""Every method's contract, return types and errors. Tests that take `any_market` run on both
the engine and the pure-Python baseline of the benchmark, which must agree."""

from __future__ import annotations

import ast
import math
import threading
from pathlib import Path

import pytest
from conftest import MarketClass, Tea
from locked_marketplace import LockedMarketplace
from test_threads import Call, started_waiting, wait_until

import marketplace
from marketplace import Marketplace

LINDEN = Tea("Linden", 9, "Herbal")
MINT = Tea("Mint", 5, "Green")

BAD_IDS = [
    ("0", TypeError, "must be an int, not str"),
    (0.0, TypeError, "must be an int, not float"),
    (None, TypeError, "must be an int, not NoneType"),
    (-1, ValueError, "must not be negative"),
]


# --- construction ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 1_000_000, 2**63 - 1])
def test_queue_size_accepted(any_market: MarketClass, size):
    market = any_market(size)
    assert market.queue_size_per_producer == size


@pytest.mark.parametrize("size", [0, -1, -(2**70), 2**63, 2**64, 10**30])
def test_queue_size_out_of_range_is_value_error(any_market: MarketClass, size):
    with pytest.raises(ValueError, match="between 1 and 9223372036854775807"):
        any_market(size)


def test_an_int_too_large_to_print_is_named_by_its_type(any_market: MarketClass):
    # Python refuses to turn an int of over 4300 digits into text; the message says what
    # it is instead of failing to print it.
    huge = 10**5000
    with pytest.raises(ValueError, match="between 1 and .*, got an int too large to print"):
        any_market(huge)
    market = any_market(1)
    with pytest.raises(ValueError, match="must not be negative, got an int too large to print"):
        market.publish(-huge, LINDEN)
    with pytest.raises(ValueError, match="got an int too large to print"):
        market.publish(market.register_producer(), LINDEN, timeout=-huge)


def test_a_long_repr_is_cut_in_messages(any_market: MarketClass):
    # An int of 4,000 digits prints, but a message holding all of it buries what it says.
    long = -(10**4000)
    market = any_market(1)
    with pytest.raises(ValueError, match=r"must not be negative, got -1000+\.\.\.$") as raised:
        market.publish(long, LINDEN)
    assert len(str(raised.value)) < 300
    with pytest.raises(ValueError, match=r"between 1 and .*, got -1000+\.\.\.$") as raised:
        any_market(long)
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize("error", [RuntimeError, TypeError, OverflowError])
def test_an_error_raised_by_a_timeouts_own_float_propagates(any_market: MarketClass, error):
    class Broken:
        def __float__(self):
            raise error("no float today")

    market = any_market(1)
    with pytest.raises(error, match="no float today"):
        market.publish(market.register_producer(), LINDEN, timeout=Broken())


@pytest.mark.parametrize("size", [1.0, "3", None, [3]])
def test_queue_size_of_wrong_type_is_type_error(any_market: MarketClass, size):
    with pytest.raises(TypeError, match="queue_size_per_producer must be an int"):
        any_market(size)


class Index:
    """An integer that is not an int, as numpy's are: usable wherever Python takes an index."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


def test_ids_and_sizes_with_an_index_are_taken_as_their_int(any_market: MarketClass):
    market = any_market(Index(2))
    assert market.queue_size_per_producer == 2
    producer = Index(market.register_producer())
    cart = Index(market.new_cart())
    assert market.publish(producer, LINDEN) is True
    assert market.shelf_len(producer) == 1
    assert market.add_to_cart(cart, LINDEN) is True
    assert market.remove_from_cart(cart, LINDEN) is True
    assert market.add_to_cart(cart, LINDEN, timeout=0.01) is True
    assert market.place_order(cart) == [LINDEN]
    with pytest.raises(ValueError, match="must not be negative"):
        market.shelf_len(Index(-1))
    with pytest.raises(ValueError, match="between 1 and"):
        any_market(Index(0))


def test_bools_are_taken_as_the_ids_they_equal(any_market: MarketClass):
    # As the classic class's list indices and dict keys take them: True is 1, False is 0.
    market = any_market(1)
    first, second = market.register_producer(), market.register_producer()
    assert market.publish(True, LINDEN) is True
    assert (market.shelf_len(first), market.shelf_len(second)) == (0, 1)
    assert market.shelf_len(False) == 0
    market.new_cart()
    cart = market.new_cart()
    assert market.add_to_cart(True, LINDEN) is True
    assert market.remove_from_cart(True, LINDEN) is True
    assert market.add_to_cart(True, LINDEN) is True
    assert market.place_order(False) == []
    with pytest.raises(KeyError) as raised:
        market.place_order(False)
    assert raised.value.args == (False,)
    assert market.place_order(cart) == [LINDEN]


def test_every_call_takes_the_classic_keyword_arguments(any_market: MarketClass):
    market = any_market(queue_size_per_producer=1)
    producer = market.register_producer()
    assert market.publish(producer_id=producer, product=LINDEN) is True
    assert market.publish(producer_id=producer, product=MINT, timeout=0) is False
    cart = market.new_cart()
    assert market.add_to_cart(cart_id=cart, product=LINDEN, timeout=0.01) is True
    assert market.remove_from_cart(cart_id=cart, product=LINDEN) is True
    assert market.shelf_len(producer_id=producer) == 1
    assert market.available(product=LINDEN) == 1
    assert market.add_to_cart(cart_id=cart, product=LINDEN) is True
    assert market.place_order(cart_id=cart) == [LINDEN]


def test_a_timeout_with_an_index_is_taken_as_its_seconds():
    # The class itself, not `any_market`: mypy then holds this call to the stubs, which
    # must accept what the module takes (a timeout converts as `float()` does).
    market = Marketplace(1)
    producer, cart = market.register_producer(), market.new_cart()
    market.publish(producer, LINDEN)
    assert market.add_to_cart(cart, LINDEN, timeout=Index(1)) is True
    with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
        market.publish(producer, LINDEN, timeout=Index(-1))


def test_a_timeout_with_an_index_too_large_for_a_float_is_no_limit_or_negative():
    # As the int itself: 2**1024 is no limit (`test_timeouts_accepted_when_nothing_waits`)
    # and -(2**1024) negative (`test_bad_timeouts`), whatever object carries it.
    market = Marketplace(1)
    producer, cart = market.register_producer(), market.new_cart()
    assert market.publish(producer, LINDEN, timeout=Index(2**1024)) is True
    assert market.add_to_cart(cart, LINDEN, timeout=Index(2**1024)) is True
    for call in (market.publish, market.add_to_cart):
        with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
            call(0, LINDEN, timeout=Index(-(2**1024)))


def test_a_market_named_with_its_product_type_is_the_same_market():
    # `Marketplace[Tea]` is how an annotation names a market of teas; the subscripted class
    # must also be callable, as a generic class's is, and make the very same market. Each
    # class by name, not `any_market`, which mypy could not subscript (a union of classes).
    for market in (Marketplace[Tea](2), LockedMarketplace[Tea](2)):
        assert type(market) in (Marketplace, LockedMarketplace)
        assert market.queue_size_per_producer == 2
        producer, cart = market.register_producer(), market.new_cart()
        assert market.publish(producer, LINDEN) is True
        assert market.add_to_cart(cart, LINDEN) is True
        assert market.place_order(cart) == [LINDEN]


def test_queue_size_is_required():
    with pytest.raises(TypeError):
        Marketplace()  # type: ignore[call-arg]


def test_module_exports():
    assert marketplace.Marketplace is Marketplace
    assert marketplace.MAX_QUEUE_SIZE == 2**63 - 1
    assert isinstance(marketplace.__version__, str)
    assert Marketplace.__module__ == "marketplace"


# --- register_producer, publish ---------------------------------------------------------


def test_register_producer_counts_from_zero(any_market: MarketClass):
    market = any_market(1)
    assert [market.register_producer() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert market.stats()["producers"] == 5


def test_publish_until_full(any_market: MarketClass):
    market = any_market(2)
    producer = market.register_producer()
    assert market.publish(producer, LINDEN) is True
    assert market.publish(producer, MINT) is True
    assert market.publish(producer, LINDEN) is False
    assert market.shelf_len(producer) == 2
    # Another producer has its own queue.
    other = market.register_producer()
    assert market.publish(other, LINDEN) is True
    # Taking an item into a cart frees a unit at once.
    cart = market.new_cart()
    assert market.add_to_cart(cart, MINT) is True
    assert market.publish(producer, LINDEN) is True


@pytest.mark.parametrize("producer_id", [1, 7, 2**40, 2**64, 10**30])
def test_publish_for_a_producer_never_registered_is_false(any_market: MarketClass, producer_id):
    market = any_market(1)
    market.register_producer()
    assert market.publish(producer_id, LINDEN) is False
    assert market.available(LINDEN) == 0


@pytest.mark.parametrize("bad, error, message", BAD_IDS)
def test_publish_with_a_bad_producer_id(any_market: MarketClass, bad, error, message):
    market = any_market(1)
    market.register_producer()
    with pytest.raises(error, match=f"producer_id {message}"):
        market.publish(bad, LINDEN)


@pytest.mark.parametrize("product", [[1], {"a": 1}, {1}, bytearray(b"x")])
def test_publish_of_an_unhashable_product_is_type_error(any_market: MarketClass, product):
    market = any_market(1)
    producer = market.register_producer()
    with pytest.raises(TypeError, match="unhashable"):
        market.publish(producer, product)
    # Also for a producer that does not exist: the product is checked either way.
    with pytest.raises(TypeError, match="unhashable"):
        market.publish(99, product)
    assert market.stats()["items_on_shelves"] == 0


@pytest.mark.parametrize(
    "timeout, error",
    [
        ("1", TypeError),
        # float() parses text from bytes-like objects too, but a timeout is a number.
        (b"1", TypeError),
        (bytearray(b"1"), TypeError),
        (memoryview(b"1"), TypeError),
        ([1], TypeError),
        (-1, ValueError),
        (-0.5, ValueError),
        (math.nan, ValueError),
        (-(2**1024), ValueError),
    ],
)
def test_bad_timeouts(any_market: MarketClass, timeout, error):
    market = any_market(1)
    producer = market.register_producer()
    cart = market.new_cart()
    with pytest.raises(error, match="timeout must be a number of seconds"):
        market.publish(producer, LINDEN, timeout=timeout)
    with pytest.raises(error, match="timeout must be a number of seconds"):
        market.add_to_cart(cart, LINDEN, timeout=timeout)


@pytest.mark.parametrize("timeout", [None, 0, 0.0, 0.01, 1, math.inf, 2**1024])
def test_timeouts_accepted_when_nothing_waits(any_market: MarketClass, timeout):
    # 2**1024 is too large for a float: no limit, as math.inf.
    market = any_market(1)
    producer = market.register_producer()
    cart = market.new_cart()
    assert market.publish(producer, LINDEN, timeout=timeout) is True
    assert market.add_to_cart(cart, LINDEN, timeout=timeout) is True
    assert market.place_order(cart) == [LINDEN]


# --- new_cart, add_to_cart ----------------------------------------------------------------


def test_new_cart_counts_from_zero(any_market: MarketClass):
    market = any_market(1)
    assert [market.new_cart() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert market.stats()["open_carts"] == 5


def test_new_cart_ids_follow_call_order_across_threads(any_market: MarketClass):
    market = any_market(1)
    ids: list[int] = []
    order = threading.Lock()

    def open_carts():
        for _ in range(2_000):
            with order:
                ids.append(market.new_cart())

    threads = [threading.Thread(target=open_carts) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ids == list(range(16_000))


def test_add_to_cart_takes_what_is_on_sale(any_market: MarketClass):
    market = any_market(3)
    producer = market.register_producer()
    cart = market.new_cart()
    assert market.add_to_cart(cart, LINDEN) is False
    market.publish(producer, LINDEN)
    assert market.add_to_cart(cart, MINT) is False
    assert market.add_to_cart(cart, LINDEN) is True
    assert market.add_to_cart(cart, LINDEN) is False
    assert market.stats()["items_in_carts"] == 1
    assert market.shelf_len(producer) == 0


@pytest.mark.parametrize("cart_id", [1, 2**40, 2**64, 10**30])
def test_add_to_cart_of_a_cart_never_opened_is_false(any_market: MarketClass, cart_id):
    market = any_market(1)
    producer = market.register_producer()
    market.new_cart()
    market.publish(producer, LINDEN)
    assert market.add_to_cart(cart_id, LINDEN) is False
    assert market.available(LINDEN) == 1


def test_add_to_cart_of_a_spent_cart_is_false(any_market: MarketClass):
    market = any_market(2)
    producer = market.register_producer()
    market.publish(producer, LINDEN)
    cart = market.new_cart()
    market.place_order(cart)
    assert market.add_to_cart(cart, LINDEN) is False
    assert market.available(LINDEN) == 1


@pytest.mark.parametrize("bad, error, message", BAD_IDS)
def test_add_to_cart_with_a_bad_cart_id(any_market: MarketClass, bad, error, message):
    market = any_market(1)
    market.new_cart()
    with pytest.raises(error, match=f"cart_id {message}"):
        market.add_to_cart(bad, LINDEN)


def test_add_to_cart_of_an_unhashable_product_is_type_error(any_market: MarketClass):
    market = any_market(1)
    cart = market.new_cart()
    with pytest.raises(TypeError, match="unhashable"):
        market.add_to_cart(cart, [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unhashable"):
        market.add_to_cart(cart, [1], timeout=0.01)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unhashable"):
        market.add_to_cart(99, [1])  # type: ignore[arg-type]


def test_oldest_on_sale_first_whoever_made_it(any_market: MarketClass):
    market = any_market(5)
    first, second = market.register_producer(), market.register_producer()
    older, newer, newest = Tea("Linden", 9, "Herbal"), Tea("Linden", 9, "Herbal"), Tea("Linden", 9, "Herbal")
    market.publish(second, older)
    market.publish(first, newer)
    market.publish(second, newest)
    cart = market.new_cart()
    for _ in range(3):
        assert market.add_to_cart(cart, Tea("Linden", 9, "Herbal"))
    bought = market.place_order(cart)
    assert [id(p) for p in bought] == [id(older), id(newer), id(newest)]


# --- remove_from_cart ---------------------------------------------------------------------


def test_remove_from_cart_returns_the_item_to_its_producer(any_market: MarketClass):
    market = any_market(2)
    maker, other = market.register_producer(), market.register_producer()
    market.publish(maker, LINDEN)
    cart = market.new_cart()
    assert market.remove_from_cart(cart, LINDEN) is False  # not in the cart
    market.add_to_cart(cart, LINDEN)
    assert market.shelf_len(maker) == 0
    assert market.remove_from_cart(cart, MINT) is False
    assert market.remove_from_cart(cart, LINDEN) is True
    assert market.remove_from_cart(cart, LINDEN) is False
    assert market.shelf_len(maker) == 1
    assert market.shelf_len(other) == 0
    assert market.available(LINDEN) == 1
    assert market.place_order(cart) == []


def test_remove_from_cart_of_a_cart_not_open_is_false(any_market: MarketClass):
    market = any_market(2)
    producer = market.register_producer()
    market.publish(producer, LINDEN)
    cart = market.new_cart()
    market.add_to_cart(cart, LINDEN)
    assert market.remove_from_cart(cart + 1, LINDEN) is False
    assert market.remove_from_cart(10**30, LINDEN) is False
    market.place_order(cart)
    assert market.remove_from_cart(cart, LINDEN) is False


@pytest.mark.parametrize("bad, error, message", BAD_IDS)
def test_remove_from_cart_with_a_bad_cart_id(any_market: MarketClass, bad, error, message):
    market = any_market(1)
    with pytest.raises(error, match=f"cart_id {message}"):
        market.remove_from_cart(bad, LINDEN)


def test_remove_from_cart_of_an_unhashable_product_is_type_error(any_market: MarketClass):
    market = any_market(1)
    cart = market.new_cart()
    with pytest.raises(TypeError, match="unhashable"):
        market.remove_from_cart(cart, {})  # type: ignore[arg-type]


def test_remove_takes_the_first_equal_item_added(any_market: MarketClass):
    market = any_market(5)
    producer = market.register_producer()
    first, second = Tea("Linden", 9, "Herbal"), Tea("Linden", 9, "Herbal")
    market.publish(producer, first)
    market.publish(producer, MINT)
    market.publish(producer, second)
    cart = market.new_cart()
    for product in (LINDEN, MINT, LINDEN):
        assert market.add_to_cart(cart, product)
    assert market.remove_from_cart(cart, LINDEN)
    bought = market.place_order(cart)
    assert bought == [MINT, LINDEN]
    assert bought[1] is second


# --- place_order ----------------------------------------------------------------------------


def test_place_order_returns_the_products_in_the_order_added(any_market: MarketClass):
    market = any_market(5)
    producer = market.register_producer()
    products = [Tea("Linden", 9, "Herbal"), Tea("Mint", 5, "Green"), Tea("Chai", 6, "Black")]
    for product in products:
        market.publish(producer, product)
    cart = market.new_cart()
    for product in reversed(products):
        assert market.add_to_cart(cart, Tea(product.name, product.price, product.type))
    bought = market.place_order(cart)
    assert type(bought) is list
    assert bought == products[::-1]
    assert all(got is want for got, want in zip(bought, products[::-1]))
    assert market.stats()["open_carts"] == 0


def test_place_order_of_an_empty_cart(any_market: MarketClass):
    market = any_market(1)
    cart = market.new_cart()
    assert market.place_order(cart) == []


def test_a_placed_order_spends_the_cart(any_market: MarketClass):
    market = any_market(1)
    cart = market.new_cart()
    market.place_order(cart)
    with pytest.raises(KeyError) as raised:
        market.place_order(cart)
    assert raised.value.args == (cart,)


@pytest.mark.parametrize("cart_id", [5, 2**64, 10**30])
def test_place_order_of_a_cart_never_opened_is_key_error(any_market: MarketClass, cart_id):
    market = any_market(1)
    market.new_cart()
    with pytest.raises(KeyError):
        market.place_order(cart_id)


@pytest.mark.parametrize("bad, error, message", BAD_IDS)
def test_place_order_with_a_bad_cart_id(any_market: MarketClass, bad, error, message):
    market = any_market(1)
    market.new_cart()
    with pytest.raises(error, match=f"cart_id {message}"):
        market.place_order(bad)


# --- close, stats, repr, small queries --------------------------------------------------------


def test_close_keeps_non_waiting_calls_working(any_market: MarketClass):
    market = any_market(1)
    producer = market.register_producer()
    assert market.closed is False
    market.close()
    assert market.closed is True
    assert market.publish(producer, LINDEN) is True
    assert market.publish(producer, LINDEN, timeout=5) is False  # full: no waiting once closed
    cart = market.new_cart()
    assert market.add_to_cart(cart, LINDEN) is True
    assert market.add_to_cart(cart, LINDEN, timeout=5) is False
    assert market.place_order(cart) == [LINDEN]


def test_stats(any_market: MarketClass):
    market = any_market(4)
    producer = market.register_producer()
    market.register_producer()
    for product in (LINDEN, LINDEN, MINT):
        market.publish(producer, product)
    cart = market.new_cart()
    market.new_cart()
    market.add_to_cart(cart, MINT)
    stats = market.stats()
    assert type(stats) is dict
    assert set(stats) == {
        "producers",
        "open_carts",
        "items_on_shelves",
        "items_in_carts",
        "distinct_products",
        "waiting",
    }
    assert stats["producers"] == 2
    assert stats["open_carts"] == 2
    assert stats["items_on_shelves"] == 2
    assert stats["items_in_carts"] == 1
    assert stats["waiting"] == 0


def test_calls_waiting_for_room_or_for_an_item_count_as_waiting(any_market: MarketClass):
    market = any_market(1)
    producer, cart = market.register_producer(), market.new_cart()
    assert market.publish(producer, LINDEN)
    publisher = started_waiting(market, market.publish, producer, LINDEN, timeout=10)
    consumer = Call(market.add_to_cart, cart, MINT, timeout=10)
    consumer.start()
    wait_until(lambda: market.stats()["waiting"] == 2)
    market.close()
    assert publisher.outcome() is False and consumer.outcome() is False
    assert market.stats()["waiting"] == 0


def test_a_wait_in_a_cart_ordered_meanwhile_takes_nothing_and_passes_the_item_on(
    any_market: MarketClass,
):
    market = any_market(1)
    ordered, still_open = market.new_cart(), market.new_cart()
    # Waits longer than `outcome` joins: a wake-up not passed on fails the test, where a
    # timed-out wait would find the item and pass it.
    in_ordered = started_waiting(market, market.add_to_cart, ordered, LINDEN, timeout=30)
    in_still_open = Call(market.add_to_cart, still_open, LINDEN, timeout=30)
    in_still_open.start()
    wait_until(lambda: market.stats()["waiting"] == 2)
    assert market.place_order(ordered) == []
    assert market.publish(market.register_producer(), LINDEN)
    assert in_ordered.outcome() is False and in_still_open.outcome() is True
    assert market.place_order(still_open) == [LINDEN]
    assert market.stats() == {
        "producers": 1,
        "open_carts": 0,
        "items_on_shelves": 0,
        "items_in_carts": 0,
        "distinct_products": 0,
        "waiting": 0,
    }


def test_stats_distinct_products_counts_classes_on_shelves_and_in_carts():
    market = Marketplace(4)
    producer = market.register_producer()
    for product in (LINDEN, Tea("Linden", 9.0, "Herbal"), MINT):  # type: ignore[arg-type]  # equal to 9
        market.publish(producer, product)
    cart = market.new_cart()
    market.add_to_cart(cart, MINT)
    assert market.stats()["distinct_products"] == 2
    market.add_to_cart(cart, LINDEN)
    market.add_to_cart(cart, LINDEN)
    market.place_order(cart)
    assert market.stats()["distinct_products"] == 0


def test_distinct_products_counts_classes_on_shelves_in_carts_and_named_by_waiting_calls(
    any_market: MarketClass,
):
    # As the `Stats` docs say: the classes alive, wherever they are, not only on shelves.
    market = any_market(1)
    producer, cart = market.register_producer(), market.new_cart()
    assert market.publish(producer, LINDEN) and market.add_to_cart(cart, LINDEN)
    assert market.stats()["distinct_products"] == 1  # in a cart only
    assert market.publish(producer, MINT)
    for_room = started_waiting(market, market.publish, producer, Tea("Rooibos", 7, "Red"), timeout=30)
    for_an_item = Call(market.add_to_cart, cart, Tea("Sencha", 8, "Green"), timeout=30)
    for_an_item.start()
    wait_until(lambda: market.stats()["waiting"] == 2)
    assert market.stats()["distinct_products"] == 4  # a cart's, a shelf's, two calls'
    market.close()
    assert for_room.outcome() is False and for_an_item.outcome() is False
    assert market.stats()["distinct_products"] == 2
    assert market.place_order(cart) == [LINDEN]
    assert market.stats()["distinct_products"] == 1


def test_repr():
    market = Marketplace(3)
    producer = market.register_producer()
    market.publish(producer, LINDEN)
    market.new_cart()
    assert repr(market) == (
        "<marketplace.Marketplace queue_size_per_producer=3 producers=1 open_carts=1 "
        "items_on_shelves=1 items_in_carts=0>"
    )
    market.close()
    assert repr(market).endswith(" closed>")


def test_shelf_len_and_available(any_market: MarketClass):
    market = any_market(3)
    producer = market.register_producer()
    assert market.shelf_len(producer) == 0
    assert market.shelf_len(producer + 1) is None
    market.publish(producer, LINDEN)
    market.publish(producer, Tea("Linden", 9.0, "Herbal"))  # type: ignore[arg-type]  # equal to 9
    assert market.available(LINDEN) == 2
    assert market.available(MINT) == 0
    with pytest.raises(TypeError):
        market.shelf_len("0")  # type: ignore[arg-type]


def test_marketplace_cannot_be_subclassed_or_given_attributes():
    with pytest.raises(TypeError):
        type("Sub", (Marketplace,), {})
    with pytest.raises(AttributeError):
        Marketplace(1).extra = 1  # type: ignore[attr-defined]


def test_a_marketplace_can_be_referenced_weakly_and_copied_by_no_one():
    """A weak reference (a cache keyed by markets, a finalizer) sees the market and then
    its end; copying one is refused, as a market's items cannot be in two places."""
    import copy
    import gc
    import pickle
    import weakref

    market = Marketplace(1)
    reference = weakref.ref(market)
    assert reference() is market
    for duplicate in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            duplicate(market)
    del market
    gc.collect()
    assert reference() is None



def test_the_repr_of_a_market_of_a_million_items_is_one_short_line():
    """`repr` shows sizes, never contents: a market of a million items prints as an empty
    one does, with its figures."""
    market = Marketplace(1_000_000)
    producer = market.register_producer()
    empty = repr(market)
    for item in range(1_000_000):
        market.publish(producer, item)
    full = repr(market)
    assert "items_on_shelves=1000000" in full and "\n" not in full
    assert len(full) - len(empty) == len("1000000") - len("0")


def test_the_errors_raised_pickle_with_their_type_message_and_arguments():
    """What a call raises can cross a process boundary (multiprocessing pickles the
    exception of a worker): every error keeps its type, message and arguments. They are
    the built-in exceptions, so nothing but the arguments could go wrong; `place_order`'s
    KeyError carries the id as given, as a dict's does."""
    import pickle

    market = Marketplace(1)
    raisers = [
        lambda: Marketplace(0),
        lambda: Marketplace("3"),  # type: ignore[arg-type]  # the TypeError is tested
        lambda: market.publish("0", LINDEN),  # type: ignore[arg-type]
        lambda: market.publish(-1, LINDEN),
        lambda: market.publish(0, []),  # type: ignore[arg-type]
        lambda: market.add_to_cart(0, LINDEN, timeout=-1.0),
        lambda: market.place_order(7),
    ]
    for raiser in raisers:
        with pytest.raises(Exception) as raised:
            raiser()
        again = pickle.loads(pickle.dumps(raised.value))
        assert (type(again), again.args, str(again)) == (type(raised.value), raised.value.args, str(raised.value))
    with pytest.raises(KeyError) as missing:
        market.place_order(7)
    assert missing.value.args == (7,)


def test_ids_are_plain_ints_in_any_market_and_any_process(any_market: MarketClass):
    """Ids are the ints of the classic class: they copy, pickle, compare and hash as ints,
    and an id names the producer or cart of that number in whichever market it is given to
    (a market does not know another's ids; the classic class does not either)."""
    import copy
    import pickle

    first, second = any_market(1), any_market(1)
    producer, cart = first.register_producer(), first.new_cart()
    for an_id in (producer, cart):
        assert type(an_id) is int
        for duplicate in (copy.copy, copy.deepcopy, lambda i: pickle.loads(pickle.dumps(i))):
            assert duplicate(an_id) == an_id and hash(duplicate(an_id)) == hash(an_id)
    carried = pickle.loads(pickle.dumps(producer))
    assert second.publish(carried, LINDEN) is False  # no producer 0 in the second market yet
    assert second.register_producer() == carried
    assert second.publish(carried, LINDEN) is True
    assert (first.shelf_len(producer), second.shelf_len(producer)) == (0, 1)

# --- type stubs ---------------------------------------------------------------------------------


def test_stubs_and_py_typed_are_installed_and_match_the_class():
    package = Path(marketplace.__file__).parent
    assert (package / "py.typed").is_file()
    stub = ast.parse((package / "__init__.pyi").read_text(encoding="utf-8"))
    classes = {node.name: node for node in stub.body if isinstance(node, ast.ClassDef)}
    stubbed = {
        node.name
        for node in classes["Marketplace"].body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("__")
    }
    public = {name for name in dir(Marketplace) if not name.startswith("__")}
    assert stubbed == public
    stats_keys = {
        node.target.id
        for node in classes["Stats"].body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    assert stats_keys == set(Marketplace(1).stats())


def test_the_stubs_name_only_what_the_module_has_with_the_real_signatures():
    """What a type checker accepts must run: every name the stub declares can be imported
    (`from marketplace import Stats` passed mypy and raised ImportError), the stub's
    `__all__` is the module's, and each method's parameters are the real ones (the stub
    declared an `__init__` the class does not have: its parameters are on `__new__`)."""
    import inspect

    package = Path(marketplace.__file__).parent
    stub = ast.parse((package / "__init__.pyi").read_text(encoding="utf-8"))
    declared = set()
    stub_all = None
    for node in stub.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            declared.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared.add(node.target.id)
        elif isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__":
            stub_all = ast.literal_eval(node.value)
    assert {name for name in declared if not hasattr(marketplace, name)} == set()
    assert stub_all == marketplace.__all__
    (cls,) = [n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "Marketplace"]
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef) or any(
            isinstance(d, ast.Name) and d.id == "property" for d in method.decorator_list
        ):
            continue
        stubbed = [a.arg for a in method.args.args][1:]  # without self / cls
        if method.name == "__init__":
            assert "__init__" in vars(Marketplace), "the class has no __init__ of its own"
        # The class's own signature is its `__new__`'s (PyO3 shows `__new__` as *args).
        runtime = Marketplace if method.name == "__new__" else getattr(Marketplace, method.name)
        real = [
            p.name
            for p in inspect.signature(runtime).parameters.values()
            if p.name not in ("self", "cls")
        ]
        assert stubbed == real, method.name
    assert set(marketplace.Stats.__annotations__) == set(Marketplace(1).stats())
