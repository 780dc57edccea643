"""Products are any hashable objects, equal by their own `==` and `hash()`, and orders hand
back the very objects published."""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import textwrap
import weakref
from dataclasses import dataclass

import pytest
from conftest import Coffee, MarketClass, Product, Tea

from marketplace import Marketplace


def buy(market, product, count=1):
    """Opens a cart, adds `count` products equal to `product`, orders it."""
    cart = market.new_cart()
    for _ in range(count):
        assert market.add_to_cart(cart, product), f"{product!r} not on sale"
    return market.place_order(cart)


def test_equal_dataclasses_from_different_producers_are_interchangeable(any_market: MarketClass):
    market = any_market(2)
    alice, bob = market.register_producer(), market.register_producer()
    from_alice = Tea(name="Linden", price=9, type="Herbal")
    from_bob = Tea(name="Linden", price=9, type="Herbal")
    assert from_alice == from_bob and from_alice is not from_bob
    market.publish(alice, from_alice)
    market.publish(bob, from_bob)
    # A third equal object asks for either; the oldest on sale comes first.
    wanted = Tea(name="Linden", price=9, type="Herbal")
    bought = buy(market, wanted, 2)
    assert bought[0] is from_alice and bought[1] is from_bob
    # Both producers got their room back.
    assert market.shelf_len(alice) == 0 and market.shelf_len(bob) == 0


def test_claim_and_return_to_a_full_producer(any_market: MarketClass):
    market = any_market(1)
    maker = market.register_producer()
    first = Tea("Linden", 9, "Herbal")
    market.publish(maker, first)
    cart = market.new_cart()
    assert market.add_to_cart(cart, first)
    refill = Coffee("Kona", 14, "4.5", "MEDIUM")
    assert market.publish(maker, refill)  # full again
    assert market.publish(maker, refill) is False
    # The return always succeeds, even though the maker is full: it is then over capacity.
    assert market.remove_from_cart(cart, Tea("Linden", 9, "Herbal")) is True
    assert market.shelf_len(maker) == 2
    assert market.publish(maker, refill) is False
    # Someone else buys the returned item (the very object published), then the coffee.
    assert buy(market, Tea("Linden", 9, "Herbal"))[0] is first
    assert market.shelf_len(maker) == 1
    assert market.publish(maker, refill) is False  # still at capacity (1)
    assert buy(market, refill) == [refill]
    assert market.publish(maker, refill) is True
    assert market.place_order(cart) == []


def test_numbers_equal_by_value_are_one_product(any_market: MarketClass):
    market = any_market(5)
    producer = market.register_producer()
    one_int, one_float = 1, 1.0
    market.publish(producer, one_int)
    market.publish(producer, one_float)
    assert market.available(True) == 2
    bought = buy(market, 1.0, 2)
    assert bought == [1, 1.0]
    assert type(bought[0]) is int and type(bought[1]) is float
    # Dataclasses compare their fields the same way.
    market.publish(producer, Tea("Linden", 9, "Herbal"))
    assert buy(market, Tea("Linden", 9.0, "Herbal")) == [Tea("Linden", 9, "Herbal")]  # type: ignore[arg-type]


def test_different_dataclass_types_are_different_products(any_market: MarketClass):
    market = any_market(5)
    producer = market.register_producer()
    market.publish(producer, Product("Linden", 9))
    cart = market.new_cart()
    assert market.add_to_cart(cart, Tea("Linden", 9, "Herbal")) is False
    assert market.add_to_cart(cart, Product("Linden", 9)) is True


def test_nan_is_only_equal_to_itself(any_market: MarketClass):
    market = any_market(5)
    producer = market.register_producer()
    nan = float("nan")
    market.publish(producer, nan)
    cart = market.new_cart()
    assert market.add_to_cart(cart, float("nan")) is False
    assert market.add_to_cart(cart, nan) is True
    assert market.place_order(cart)[0] is nan


def test_objects_with_identity_equality_are_each_their_own_product(any_market: MarketClass):
    class Widget:
        pass

    market = any_market(5)
    producer = market.register_producer()
    first, second = Widget(), Widget()
    market.publish(producer, first)
    market.publish(producer, second)
    assert buy(market, second)[0] is second
    assert buy(market, first)[0] is first


def test_many_kinds_of_hashable_products(any_market: MarketClass):
    market = any_market(100)
    producer = market.register_producer()
    products = [None, "tea", b"tea", 3, 2.5, -0.0, math.inf, (1, "a"), frozenset({1}), Tea("a", 1, "b"), 10**40, 1j, range(3)]
    for product in products:
        assert market.publish(producer, product)
    cart = market.new_cart()
    for product in reversed(products):
        assert market.add_to_cart(cart, product)
    bought = market.place_order(cart)
    assert all(got is want for got, want in zip(bought, reversed(products)))


class Fragile:
    """A product whose hash or equality can be made to fail."""

    fail_hash = False
    fail_eq = False

    def __init__(self, key):
        self.key = key

    def __hash__(self):
        if Fragile.fail_hash:
            raise RuntimeError("hash failed")
        return hash(self.key)

    def __eq__(self, other):
        if Fragile.fail_eq:
            raise RuntimeError("eq failed")
        return isinstance(other, Fragile) and self.key == other.key


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[sys.UnraisableHookArgs]:
    """What reaches `sys.unraisablehook` during the test."""
    caught: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", caught.append)
    return caught


@pytest.fixture
def fragile():
    yield Fragile
    Fragile.fail_hash = Fragile.fail_eq = False


def test_errors_from_the_products_own_hash_and_eq_propagate(fragile):
    market = Marketplace(5)
    producer = market.register_producer()
    product = fragile("a")
    assert market.publish(producer, product)
    cart = market.new_cart()
    fragile.fail_hash = True
    for call in (
        lambda: market.publish(producer, fragile("b")),
        lambda: market.add_to_cart(cart, fragile("a")),
        lambda: market.remove_from_cart(cart, fragile("a")),
    ):
        with pytest.raises(RuntimeError, match="hash failed"):
            call()
    fragile.fail_hash = False
    fragile.fail_eq = True
    with pytest.raises(RuntimeError, match="eq failed"):
        market.add_to_cart(cart, fragile("a"))  # an equal hash: the dict compares
    fragile.fail_eq = False
    # Nothing was lost or half done.
    assert market.stats()["items_on_shelves"] == 1
    assert market.stats()["distinct_products"] == 1
    assert buy(market, fragile("a"))[0] is product
    assert market._interned()["classes"] == 0


def test_a_class_whose_hash_fails_at_its_last_order_stays_interned_and_consistent(
    fragile, unraisable
):
    market = Marketplace(5)
    producer = market.register_producer()
    product = fragile("a")
    market.publish(producer, product)
    cart = market.new_cart()
    market.add_to_cart(cart, product)
    fragile.fail_hash = True
    # The order itself succeeds; dropping the class from the dict failed, which is
    # reported as unraisable, and the class stays (unreferenced) in the table.
    assert market.place_order(cart)[0] is product
    assert len(unraisable) == 1 and "hash failed" in str(unraisable[0].exc_value)
    fragile.fail_hash = False
    assert market._interned()["classes"] == 1
    # It still works as a product, and goes once its hash works again.
    market.publish(producer, product)
    assert buy(market, fragile("a"))[0] is product
    assert market._interned() == {"classes": 0, "dict": 0, "slots": 1, "objects": 0, "object_slots": 1}


class Sloppy:
    """A product of one hash whose equality can be made to match every other."""

    equal_to_all = False

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return Sloppy.equal_to_all or (isinstance(other, Sloppy) and other.name == self.name)


@pytest.fixture
def sloppy():
    """`Sloppy`, its equality made consistent again after the test, however it ends."""
    yield Sloppy
    Sloppy.equal_to_all = False


def test_a_class_whose_entry_another_class_deleted_goes_when_it_empties(sloppy, unraisable):
    # Two classes of one hash; while the first dies, an inconsistent `__eq__` makes its
    # deletion's lookup match the second's entry, which is not the first's to delete: the
    # first's own entry is then out of reach, and the class goes all the same. Both must
    # go when emptied (before, a deletion's KeyError left a class alive for good, one class
    # and one slot kept per such death).
    market = Marketplace(5)
    producer = market.register_producer()
    second, first = Sloppy("second"), Sloppy("first")
    market.publish(producer, second)  # the first entry on the probe path of hash 0
    market.publish(producer, first)
    assert market.stats()["distinct_products"] == 2
    cart, other = market.new_cart(), market.new_cart()
    assert market.add_to_cart(cart, Sloppy("second"))
    assert market.add_to_cart(other, Sloppy("first"))
    Sloppy.equal_to_all = True
    assert market.place_order(other) == [first]
    Sloppy.equal_to_all = False
    assert market.place_order(cart) == [second]
    assert unraisable == []
    assert market.stats()["distinct_products"] == 0
    assert market._interned()["classes"] == 0
    # The first class's entry, stale, is dropped by the next lookup that reaches it.
    market.publish(producer, Sloppy("first"))
    assert market.available(Sloppy("first")) == 1
    assert buy(market, Sloppy("first"))[0].name == "first"
    assert market._interned()["classes"] == 0 and market._interned()["dict"] == 0


def test_a_stale_entry_is_dropped_by_the_next_lookup_that_reaches_it(sloppy):
    # As above: the first class's death finds the second's entry, so the first's entry is
    # left behind, its token stale. A call that only asks reaches it, finds no class, and
    # drops it.
    market = Marketplace(5)
    producer = market.register_producer()
    market.publish(producer, Sloppy("second"))
    market.publish(producer, Sloppy("first"))
    cart, other = market.new_cart(), market.new_cart()
    assert market.add_to_cart(cart, Sloppy("second"))
    assert market.add_to_cart(other, Sloppy("first"))
    Sloppy.equal_to_all = True
    market.place_order(other)
    Sloppy.equal_to_all = False
    market.place_order(cart)
    assert market._interned()["classes"] == 0 and market._interned()["dict"] == 1
    assert market.available(Sloppy("first")) == 0
    assert market._interned()["dict"] == 0


def test_a_class_whose_hash_changed_in_place_goes_when_it_empties(unraisable):
    # Its entry, under the old hash, cannot be found to be deleted: the class goes all the
    # same, the entry left behind stale until a lookup reaches it (here, once the hash is
    # back), as a dict keeps a key changed in place.
    class Mutable:
        def __init__(self, key: int) -> None:
            self.key = key

        def __hash__(self) -> int:
            return hash(self.key)

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Mutable) and other.key == self.key

    market = Marketplace(5)
    producer = market.register_producer()
    product = Mutable(1)
    market.publish(producer, product)
    cart = market.new_cart()
    assert market.add_to_cart(cart, Mutable(1))
    product.key = 2
    assert market.place_order(cart) == [product]
    assert unraisable == []
    assert market.stats()["distinct_products"] == 0
    assert market._interned()["classes"] == 0 and market._interned()["dict"] == 1
    product.key = 1
    assert market.available(Mutable(1)) == 0
    assert market._interned()["dict"] == 0


class NotFound(KeyError):
    pass


@pytest.mark.parametrize("raiser", ["__hash__", "__eq__"])
@pytest.mark.parametrize(
    "error",
    [lambda key: KeyError(key), lambda key: NotFound(key), lambda key: KeyError(key, "detail")],
    ids=["KeyError", "subclass", "two-args"],
)
def test_a_keyerror_naming_the_product_that_its_own_code_raises_at_deletion_is_reported(
    raiser, error, unraisable
):
    # The dict's own KeyError for a missing key has that key as its one argument; one that
    # the product's `__hash__` or `__eq__` raises with the product as its argument (as a
    # lookup of it in a dict that lacks it would) looks the same, but the entry is still
    # there: the failure is reported and the class stays interned, to be retried, as for
    # any other exception those raise.
    class Strict:
        failing = False

        def __init__(self, name: str) -> None:
            self.name = name

        def __hash__(self) -> int:
            if Strict.failing and raiser == "__hash__":
                raise error(self)
            return 0

        def __eq__(self, other: object) -> bool:
            if Strict.failing and raiser == "__eq__":
                raise error(other)
            return isinstance(other, Strict) and other.name == self.name

    market = Marketplace(5)
    producer = market.register_producer()
    # Stays on sale: the entry the deletion's probe meets first, whose `__eq__` it calls.
    market.publish(producer, Strict("first"))
    product = Strict("second")
    market.publish(producer, product)
    cart = market.new_cart()
    assert market.add_to_cart(cart, Strict("second"))
    Strict.failing = True
    try:
        assert market.place_order(cart) == [product]
    finally:
        Strict.failing = False
    assert [type(u.exc_value) for u in unraisable] == [type(error(product))]
    assert unraisable[0].exc_value is not None and unraisable[0].exc_value.args[0] is product
    assert market._interned()["classes"] == 2 and market._interned()["dict"] == 2
    # Retried when it next empties, and gone then.
    market.publish(producer, Strict("second"))
    assert buy(market, Strict("second"))[0].name == "second"
    assert market._interned()["classes"] == 1 and market._interned()["dict"] == 1


def test_a_reused_class_slot_never_mixes_products():
    market = Marketplace(5)
    producer = market.register_producer()
    market.publish(producer, "first")
    assert buy(market, "first") == ["first"]
    # "first" is gone; "second" takes its slot in the engine.
    market.publish(producer, "second")
    assert market._interned()["slots"] == 1
    cart = market.new_cart()
    assert market.add_to_cart(cart, "first") is False
    assert market.remove_from_cart(cart, "first") is False
    assert market.available("first") == 0
    assert market.add_to_cart(cart, "second") is True
    assert market.place_order(cart) == ["second"]


def test_a_hash_calling_back_into_the_market_while_its_class_is_dropped_does_not_hang(unraisable):
    market = Marketplace(5)
    producer = market.register_producer()
    calls = []

    class Reentrant:
        armed = False

        def __hash__(self):
            if Reentrant.armed:
                Reentrant.armed = False
                calls.append(market.publish(producer, Reentrant()))
            return 1

        def __eq__(self, other):
            return isinstance(other, Reentrant)

    product = Reentrant()
    market.publish(producer, product)
    cart = market.new_cart()
    market.add_to_cart(cart, product)
    Reentrant.armed = True
    # The order drops the class; deleting its dict entry runs __hash__, which publishes an
    # equal product: that call fails (RuntimeError) instead of waiting for itself.
    assert market.place_order(cart) == [product]
    assert calls == []
    assert len(unraisable) == 1
    assert "called back into the marketplace" in str(unraisable[0].exc_value)
    # The class stayed interned, and the market works on.
    assert market.publish(producer, Reentrant())
    assert market.available(Reentrant()) == 1


def test_a_product_changed_while_in_the_market_never_hangs_a_call():
    # A product whose hash and equality change while it is in a cart (a mutable
    # dataclass with unsafe_hash): ordering it finds the dict entry its changed value now
    # matches, another class's, which it leaves, and its own entry is left behind, stale.
    # A later call must drop that entry and go on, not spin on it. Run in
    # a child process, so that a spin fails the test instead of hanging the suite.
    code = textwrap.dedent(
        """
        from dataclasses import dataclass
        from marketplace import Marketplace

        @dataclass(unsafe_hash=True)
        class Tea:
            name: str

        market = Marketplace(5)
        producer = market.register_producer()
        cart = market.new_cart()
        a, b = Tea("a"), Tea("b")
        market.publish(producer, a)
        market.publish(producer, b)
        market.add_to_cart(cart, Tea("b"))
        b.name = "a"
        market.place_order(cart)
        b.name = "b"
        assert market.publish(producer, Tea("b"))
        assert market.available(Tea("b")) == 1
        print("done")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"


def test_equal_items_stay_found_when_a_buyer_changes_the_product_it_bought():
    # The first product of an equality class was its dict key; an order hands that very
    # object back, and a buyer may change what it bought (a dataclass with a hash is
    # mutable). The equal items still on sale must stay found, and the market must not
    # keep the bought object alive for them.
    @dataclass(unsafe_hash=True)
    class Mutable:
        name: str

    market = Marketplace(5)
    producer = market.register_producer()
    first, second, third = Mutable("linden"), Mutable("linden"), Mutable("linden")
    assert all(market.publish(producer, item) for item in (first, second, third))
    [bought] = buy(market, Mutable("linden"))
    assert bought is first
    kept = weakref.ref(first)
    bought.name = "renamed by its buyer"
    assert market.available(Mutable("linden")) == 2
    cart = market.new_cart()
    assert market.add_to_cart(cart, Mutable("linden"))
    del first, bought
    gc.collect()
    assert kept() is None
    # An item in a cart is still the class's: ordering it and changing it leaves the one
    # on the shelf found, as does giving it back.
    [in_cart] = market.place_order(cart)
    assert in_cart is second
    in_cart.name = "renamed too"
    assert market.available(Mutable("linden")) == 1
    assert buy(market, Mutable("linden")) == [third]
    assert market._interned()["classes"] == 0


@dataclass(unsafe_hash=True)
class Renamable:
    """A hashable product its buyer may change."""

    name: str


class Labelled(str):
    """A str whose equality and hash also depend on a label its buyer may change."""

    label = "plain"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Labelled) and str(self) == str(other) and self.label == other.label

    def __hash__(self) -> int:
        return hash((str(self), self.label))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ("linden", Renamable("linden")),
        lambda: (1, ("nested", (Renamable("linden"),))),
        lambda: Labelled("linden"),
    ],
    ids=["tuple_holding_a_mutable", "nested_tuple_holding_a_mutable", "str_subclass"],
)
def test_equal_items_stay_found_when_a_buyer_changes_a_builtin_lookalike_it_bought(make):
    # Products of exact immutable builtin types are their class's dict key themselves: no
    # buyer can change them. A tuple holding a mutable object, however deep, or an object of
    # a builtin's subclass, can be changed: its class keeps the key the market owns.
    def change(product):
        if isinstance(product, Labelled):
            product.label = "changed by its buyer"
        else:
            inner = product[1] if isinstance(product[1], Renamable) else product[1][1][0]
            inner.name = "changed by its buyer"

    market = Marketplace(5)
    producer = market.register_producer()
    first, second = make(), make()
    assert market.publish(producer, first) and market.publish(producer, second)
    [bought] = buy(market, make())
    assert bought is first
    change(bought)
    assert market.available(make()) == 1
    assert buy(market, make()) == [second]
    assert market._interned()["classes"] == 0
    assert market._interned()["dict"] == 0


@pytest.mark.parametrize("forms", [(1, 1.0, True), (True, 1, 1.0), (1.0, True, 1)])
def test_equal_builtins_of_different_types_share_a_class_whichever_came_first(forms):
    # The first of them is the class's dict key itself; the others find it by its equality.
    market = Marketplace(5)
    producer = market.register_producer()
    for product in forms:
        assert market.publish(producer, product)
    assert market._interned()["classes"] == 1
    for asked in forms:
        assert market.available(asked) == 3
    bought = buy(market, forms[-1], 3)
    assert [type(item) for item in bought] == [type(item) for item in forms]
    assert market._interned() == {**market._interned(), "classes": 0, "dict": 0}


def test_a_class_keyed_by_its_builtin_product_dies_and_comes_back():
    # With the product itself as its dict key, the class still goes with its last item (its
    # entry deleted by its own token), and an equal product published later makes a new one.
    market = Marketplace(5)
    producer = market.register_producer()
    for product in ("linden", ("linden", 9, None, b"x", 1.5, True)):
        for _ in range(2):
            assert market.publish(producer, product)
            assert market._interned()["classes"] == 1
            assert buy(market, product) == [product]
            assert market._interned()["classes"] == 0
            assert market._interned()["dict"] == 0
    cart = market.new_cart()
    assert market.add_to_cart(cart, "linden") is False
    assert market._interned()["dict"] == 0


def test_a_bought_builtin_product_is_its_classs_key_until_the_class_goes():
    # Unlike the key the market owns, which moves to an item still on sale, a builtin product
    # that made its class stays the class's key, bought or not: the market holds it until the
    # class goes, and then no longer.
    market = Marketplace(5)
    producer = market.register_producer()
    first, second = "".join(["lin", "den"]), "".join(["lin", "den"])
    assert first == second and first is not second
    alone = sys.getrefcount(first)
    assert market.publish(producer, first) and market.publish(producer, second)
    [bought] = buy(market, "linden")
    assert bought is first
    del bought
    assert sys.getrefcount(first) > alone
    assert buy(market, "linden") == [second]
    assert market._interned()["classes"] == 0
    assert sys.getrefcount(first) == alone


def test_a_builtin_product_too_large_to_check_takes_the_owned_key():
    # The check looks at 64 objects at most, so a larger tuple of builtins takes the owned
    # key, which is always right: bought, it is not held by the market, unlike a smaller one
    # that is its class's key (63 items and the tuple: 64 objects).
    market = Marketplace(5)
    producer = market.register_producer()
    for size, held_after_buying in ((2, True), (63, True), (64, False), (1000, False)):
        first, second = tuple(range(size)), tuple(range(size))
        assert first == second and first is not second
        alone = sys.getrefcount(first)
        assert market.publish(producer, first) and market.publish(producer, second)
        [bought] = buy(market, tuple(range(size)))
        assert bought is first
        del bought
        assert (sys.getrefcount(first) > alone) == held_after_buying, size
        assert buy(market, tuple(range(size))) == [second]
        assert market._interned()["classes"] == 0


class LikeOne:
    """Equal to 1 (and hashed as it) while its buyer leaves it alone."""

    def __init__(self) -> None:
        self.value = 1

    def __eq__(self, other: object) -> bool:
        return (other.value if isinstance(other, LikeOne) else other) == self.value

    def __hash__(self) -> int:
        return hash(1)


@pytest.mark.parametrize("first", ["builtin", "mutable"])
def test_equal_tuples_of_both_key_kinds_stay_found_as_buyers_change_theirs(first):
    # ("linden", 1) is its class's key itself; ("linden", LikeOne()) would take the owned
    # key. Equal, they share one class whichever made it, and a buyer changing the mutable
    # one it bought hides none of the others.
    builtins, mutables = [("linden", 1), ("linden", 1)], [("linden", LikeOne()) for _ in range(2)]
    pairs = zip(builtins, mutables) if first == "builtin" else zip(mutables, builtins)
    published = [product for pair in pairs for product in pair]
    market = Marketplace(5)
    producer = market.register_producer()
    for product in published:
        assert market.publish(producer, product)
    assert market._interned()["classes"] == 1
    for left, product in enumerate(published):
        assert market.available(("linden", 1)) == len(published) - left
        [bought] = buy(market, ("linden", 1))
        assert bought is product
        if isinstance(bought[1], LikeOne):
            bought[1].value = 2
    assert market._interned() == {**market._interned(), "classes": 0, "dict": 0}
