"""Threads: waits release the GIL and are woken by other threads, `close()` wakes every
waiter, Ctrl-C interrupts a wait within 100 ms, and nothing is lost or duplicated under
contention."""

from __future__ import annotations

import _thread
import math
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

import pytest
from conftest import Tea

from marketplace import Marketplace

LINDEN = Tea("Linden", 9, "Herbal")


def wait_until(condition, timeout=5.0):
    """Polls `condition` until true; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.001)


class Call(threading.Thread):
    """Runs `function` in a thread, recording its result and when it returned."""

    def __init__(self, function, *args, **kwargs):
        super().__init__(daemon=True)
        self.function, self.args, self.kwargs = function, args, kwargs
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.returned_at: Optional[float] = None

    def run(self):
        try:
            self.result = self.function(*self.args, **self.kwargs)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error
        self.returned_at = time.monotonic()

    def outcome(self, timeout=10.0):
        self.join(timeout)
        assert not self.is_alive(), "the call did not return"
        if self.error is not None:
            raise self.error
        return self.result

    def returned_after(self, moment: float) -> float:
        """How long after `moment` the call returned (it must have)."""
        assert self.returned_at is not None, "the call has not returned"
        return self.returned_at - moment


def started_waiting(market, function, *args, **kwargs):
    """Runs `function` in a `Call` and returns it once `market` counts it as its one
    waiter: inside the wait, not merely started."""
    waiter = Call(function, *args, **kwargs)
    waiter.start()
    wait_until(lambda: market.stats()["waiting"] == 1)
    return waiter


def count_python_loops(seconds):
    """How many iterations of a Python loop this thread runs in `seconds`."""
    loops, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        loops += 1
    return loops


def test_a_waiting_add_to_cart_lets_the_main_thread_run_and_is_woken_by_a_publish():
    market = Marketplace(1)
    producer = market.register_producer()
    cart = market.new_cart()
    baseline = count_python_loops(0.1)  # this thread alone
    waiter = started_waiting(market, market.add_to_cart, cart, LINDEN, timeout=5)
    # The waiter holds no GIL: this thread runs Python code at (about) full speed.
    loops = count_python_loops(0.2)
    assert waiter.returned_at is None, "the wait ended before anything was published"
    assert loops > baseline  # 0.2 s against 0.1 s alone: at least half speed
    # A publish from another thread wakes it at once.
    publisher = Call(market.publish, producer, LINDEN)
    published_at = time.monotonic()
    publisher.start()
    assert publisher.outcome() is True
    assert waiter.outcome() is True
    assert waiter.returned_after(published_at) < 0.1
    assert market.place_order(cart) == [LINDEN]
    assert market.stats()["waiting"] == 0


def test_a_waiting_publish_is_woken_when_a_consumer_makes_room():
    market = Marketplace(1)
    producer = market.register_producer()
    assert market.publish(producer, "first")
    waiter = started_waiting(market, market.publish, producer, "second", timeout=5)
    assert count_python_loops(0.05) > 0
    assert waiter.returned_at is None
    cart = market.new_cart()
    taken_at = time.monotonic()
    assert market.add_to_cart(cart, "first")
    assert waiter.outcome() is True
    assert waiter.returned_after(taken_at) < 0.1
    assert market.add_to_cart(cart, "second")
    assert market.place_order(cart) == ["first", "second"]


def test_waits_time_out():
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, "full")
    cart = market.new_cart()
    for call in (
        lambda: market.add_to_cart(cart, LINDEN, timeout=0.2),
        lambda: market.publish(producer, LINDEN, timeout=0.2),
    ):
        started = time.monotonic()
        assert call() is False
        assert 0.2 <= time.monotonic() - started < 1.0
    # Nothing is left behind by the waits: no class for LINDEN, no object kept.
    assert market._interned()["classes"] == 1  # "full" only
    assert market._interned()["objects"] == 1


def test_close_wakes_every_waiter():
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, "full")
    cart = market.new_cart()
    waiters = [Call(market.add_to_cart, cart, f"nothing {i}", timeout=30) for i in range(3)]
    waiters += [Call(market.publish, producer, f"more {i}", timeout=30) for i in range(3)]
    waiters.append(Call(market.add_to_cart, cart, "forever", timeout=float("inf")))
    for waiter in waiters:
        waiter.start()
    wait_until(lambda: market.stats()["waiting"] == len(waiters))
    closed_at = time.monotonic()
    market.close()
    for waiter in waiters:
        assert waiter.outcome() is False
        assert waiter.returned_after(closed_at) < 0.5
    assert market.stats()["waiting"] == 0
    # The classes made for the waits and the objects offered are all gone.
    interned = market._interned()
    assert (interned["classes"], interned["dict"], interned["objects"]) == (1, 1, 1)


def test_ordering_the_cart_ends_a_wait_for_it():
    market = Marketplace(1)
    cart = market.new_cart()
    waiter = started_waiting(market, market.add_to_cart, cart, LINDEN, timeout=30)
    assert market.place_order(cart) == []
    # The engine notices at the next arrival of the product (or the next slice).
    producer = market.register_producer()
    market.publish(producer, LINDEN)
    assert waiter.outcome() is False
    assert market.available(LINDEN) == 1


@pytest.fixture
def sigint_raises_keyboard_interrupt():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def simulated_sigint():
    _thread.interrupt_main()  # as if SIGINT arrived: the flag the C handler sets


def real_sigint():
    os.kill(os.getpid(), signal.SIGINT)  # a real signal, to whichever thread takes it


@pytest.mark.parametrize("send", [simulated_sigint, real_sigint])
@pytest.mark.parametrize("call", ["add_to_cart", "publish"])
def test_ctrl_c_interrupts_a_wait_within_100_ms(sigint_raises_keyboard_interrupt, call, send):
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, "full")
    cart = market.new_cart()
    interrupted_at = []

    def interrupt_once_waiting():
        # Deterministic: interrupt only once the main thread is inside the wait.
        wait_until(lambda: market.stats()["waiting"] == 1)
        time.sleep(0.02)
        interrupted_at.append(time.monotonic())
        send()

    helper = threading.Thread(target=interrupt_once_waiting, daemon=True)
    helper.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        if call == "add_to_cart":
            market.add_to_cart(cart, LINDEN, timeout=10)
        else:
            market.publish(producer, LINDEN, timeout=10)
    raised_at = time.monotonic()
    helper.join()
    assert raised_at - started < 5, "the wait ran to its timeout"
    latency = raised_at - interrupted_at[0]
    assert latency < 0.1, f"KeyboardInterrupt took {latency * 1000:.0f} ms"
    # The market is as before the call: nothing published, nothing taken, nothing kept.
    assert market.stats()["waiting"] == 0
    assert market.shelf_len(producer) == 1
    assert market.available(LINDEN) == 0
    assert market._interned()["classes"] == 1 and market._interned()["objects"] == 1
    assert market.add_to_cart(cart, "full") is True
    assert market.publish(producer, LINDEN, timeout=1) is True


@pytest.mark.parametrize("call", ["add_to_cart", "publish"])
def test_ctrl_c_during_a_wait_that_then_succeeds_is_raised_not_swallowed(
    sigint_raises_keyboard_interrupt, monkeypatch, call
):
    """A Ctrl-C that arrives while a wait is about to succeed (a consumer waiting for each
    item, woken within the slice) must still stop the program: it is raised as the call
    returns, never swallowed into sys.unraisablehook. The market stays consistent either
    way: the item is in the cart (or on the shelf), once."""
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    market = Marketplace(1)
    producer = market.register_producer()
    cart = market.new_cart()
    if call == "publish":
        market.publish(producer, "full")  # no room until wake() takes it

    def wake():
        wait_until(lambda: market.stats()["waiting"] == 1)
        _thread.interrupt_main()  # pending now; the wait has not looked at signals yet
        if call == "add_to_cart":
            market.publish(producer, LINDEN)  # ends the wait at once, successfully
        else:
            market.add_to_cart(cart, "full")

    helper = threading.Thread(target=wake, daemon=True)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        if call == "add_to_cart":
            market.add_to_cart(cart, LINDEN, timeout=10)
        else:
            market.publish(producer, LINDEN, timeout=10)
    helper.join()
    assert [type(u.exc_value) for u in unraisable] == []
    assert market.stats()["waiting"] == 0
    # Conservation: the one LINDEN published is on sale or in the cart, once (publish: at
    # most once, as the wait may have been interrupted before it succeeded).
    held = market.available(LINDEN) + market.place_order(cart).count(LINDEN)
    assert held == 1 if call == "add_to_cart" else held <= 1


def test_waits_in_other_threads_are_not_interrupted_by_signals(sigint_raises_keyboard_interrupt):
    # Python runs signal handlers in the main thread only: a waiter elsewhere keeps waiting.
    market = Marketplace(1)
    producer = market.register_producer()
    cart = market.new_cart()
    waiter = started_waiting(market, market.add_to_cart, cart, LINDEN, timeout=5)
    with pytest.raises(KeyboardInterrupt):
        _thread.interrupt_main()  # lands here, in the main thread, at once
        time.sleep(1)
    assert waiter.returned_at is None
    market.publish(producer, LINDEN)
    assert waiter.outcome() is True


def test_conservation_with_16_threads_and_100000_items():
    """8 producers publish 12,500 distinct objects each (4 equal kinds, each made by two
    producers), waiting for room; 8 consumers buy them in carts of up to 8, waiting for
    items, and return one item in every fourth cart (claim-and-return, to a producer that may
    be full). Every object published is ordered exactly once."""
    producers, consumers, per_producer, kinds = 8, 8, 12_500, 4
    market = Marketplace(16)
    ids = [market.register_producer() for _ in range(producers)]
    published = [[Tea(f"kind {i % kinds}", 1, "Herbal") for _ in range(per_producer)] for i in range(producers)]
    per_consumer = producers * per_producer // consumers
    bought: list[list[Tea]] = [[] for _ in range(consumers)]
    failures: list[str] = []

    def produce(i):
        for item in published[i]:
            if not market.publish(ids[i], item, timeout=30):
                failures.append(f"producer {i} timed out")
                return

    def consume(j):
        kind = Tea(f"kind {j % kinds}", 1, "Herbal")
        left, carts = per_consumer, 0
        while left:
            cart, size = market.new_cart(), min(8, left)
            for _ in range(size):
                if not market.add_to_cart(cart, kind, timeout=30):
                    failures.append(f"consumer {j} timed out")
                    return
            carts += 1
            if carts % 4 == 0:
                assert market.remove_from_cart(cart, kind)
                if not market.add_to_cart(cart, kind, timeout=30):
                    failures.append(f"consumer {j} timed out re-adding")
                    return
            order = market.place_order(cart)
            assert len(order) == size
            bought[j].extend(order)
            left -= size

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
    threads += [threading.Thread(target=consume, args=(j,)) for j in range(consumers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive()
    assert failures == []
    everything = [item for items in bought for item in items]
    assert len(everything) == producers * per_producer
    counts = Counter(id(item) for item in everything)
    assert all(count == 1 for count in counts.values())
    assert set(counts) == {id(item) for items in published for item in items}
    for j, items in enumerate(bought):
        assert all(item.name == f"kind {j % kinds}" for item in items)
    assert market.stats() == {
        "producers": producers,
        "open_carts": 0,
        "items_on_shelves": 0,
        "items_in_carts": 0,
        "distinct_products": 0,
        "waiting": 0,
    }
    assert market._interned()["objects"] == 0
    assert market._interned()["dict"] == 0


EXIT_WITH_BUSY_DAEMONS = r"""
import logging, logging.handlers, sys, threading, time
from dataclasses import dataclass
from marketplace import Marketplace

@dataclass(frozen=True)
class Tea:  # its __hash__ and __eq__ are Python code, which may switch threads
    name: str

if sys.argv[1] != "-":
    handler = logging.handlers.RotatingFileHandler(sys.argv[1], maxBytes=1_000_000, backupCount=2)
    logger = logging.getLogger("marketplace")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
market = Marketplace(2)

def produce():
    me = market.register_producer()
    while True:
        market.publish(me, Tea("a"))
        market.publish(me, Tea("b"), timeout=0.001)

def consume():
    while True:
        cart = market.new_cart()
        market.add_to_cart(cart, Tea("a"))
        market.add_to_cart(cart, Tea("c"), timeout=0.001)  # never published: waits
        market.place_order(cart)

for target in [produce, consume] * 4:
    threading.Thread(target=target, daemon=True).start()
time.sleep(0.1)
print("done")
"""


@pytest.mark.parametrize("logging_to_a_file", [False, True])
def test_the_interpreter_exits_cleanly_with_daemon_threads_in_the_market(tmp_path, logging_to_a_file):
    """Daemon threads inside market calls (hashing dataclasses, logging to a file, waiting)
    when the interpreter exits: it must exit with 0. (Before 3.14, CPython ends such threads
    with pthread_exit, which aborted the process when it unwound through the module's frames
    until calls were kept out during shutdown; this script aborted on every run then.)"""
    script = tmp_path / "busy.py"
    script.write_text(EXIT_WITH_BUSY_DAEMONS)
    for attempt in range(5):
        log = str(tmp_path / f"market{attempt}.log") if logging_to_a_file else "-"
        done = subprocess.run([sys.executable, str(script), log], capture_output=True, timeout=60, check=False)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"done\n", b"")


STOP_A_WORKER_AT_EXIT = r"""
import atexit, sys, threading

def stop_the_worker():
    stop.set()
    worker.join(2)
    print("joined" if not worker.is_alive() else "parked")

stop = threading.Event()
if sys.argv[1] == "before":
    atexit.register(stop_the_worker)
from marketplace import Marketplace
if sys.argv[1] == "after":
    atexit.register(stop_the_worker)
market = Marketplace(10)
cart = market.new_cart()

def work():
    # A consumer that, told to stop, places its last order and ends.
    stop.wait()
    market.place_order(cart)

worker = threading.Thread(target=work, daemon=True)
worker.start()
"""


@pytest.mark.parametrize("registered", ["before", "after"])
def test_an_atexit_hook_registered_before_the_import_cannot_join_a_worker_in_the_market(
    tmp_path, registered
):
    """atexit hooks run last registered first. The package's own hook, registered at its
    import, parks every later call from another thread for good: a hook registered before
    the import runs after it, and the worker it tells to place its last order and joins
    never comes back from that call; one registered after the import runs first, and joins
    it."""
    script = tmp_path / "stop_at_exit.py"
    script.write_text(STOP_A_WORKER_AT_EXIT)
    done = subprocess.run([sys.executable, str(script), registered], capture_output=True, timeout=60, check=False)
    expected = b"parked\n" if registered == "before" else b"joined\n"
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, b"")


class SlowKey:
    """A product of one hash whose `__eq__` may let other threads run midway (as I/O, a lock
    or a sleep does): the interning dict's operations are then not atomic by themselves."""

    def __init__(self, name, on_compare=None):
        self.name, self.on_compare = name, on_compare

    def __hash__(self):
        return 42

    def __eq__(self, other):
        if self.on_compare is not None:
            self.on_compare(self)
        return isinstance(other, SlowKey) and other.name == self.name

    def __repr__(self):
        return f"SlowKey({self.name!r})"


def test_an_eq_that_lets_other_threads_run_never_splits_an_equality_class():
    """Thread B's publish stops inside the dict's lookup of an equal product, in a user's
    `__eq__`; thread C publishes an equal product meanwhile. Without the interning lock, C
    inserted its class on the probe path B had passed, B inserted a second class for equal
    products, and B's refused publish then deleted C's entry: C's item on sale could never
    be bought."""
    b_inside, b_may_go_on, c_compared = threading.Event(), threading.Event(), threading.Event()
    comparisons: Counter[str] = Counter()

    def on_compare(key):
        thread = threading.current_thread().name
        if thread == "C":
            c_compared.set()
        if thread == "B" and key.name == "e":
            comparisons["B"] += 1
            if comparisons["B"] == 2:  # B's second lookup: the insertion's
                b_inside.set()
                b_may_go_on.wait()

    market = Marketplace(1)
    for_d, for_e, for_c, for_b = (market.register_producer() for _ in range(4))
    market.publish(for_d, SlowKey("d"))
    market.publish(for_e, SlowKey("e", on_compare))
    market.publish(for_b, 0)  # full: B's publish will be refused
    # Ordering the only "d" deletes its entry: a free place first on the probe path.
    cart = market.new_cart()
    assert market.add_to_cart(cart, SlowKey("d"))
    market.place_order(cart)

    offered_by_b, offered_by_c = SlowKey("x"), SlowKey("x")
    b = Call(market.publish, for_b, offered_by_b)
    b.name = "B"
    b.start()
    assert b_inside.wait(5)
    c = Call(market.publish, for_c, offered_by_c)
    c.name = "C"
    c.start()
    # Without the lock C compares at once (and finishes); with it, C waits for B, and this
    # times out. Either way B goes on after this. (The race needs CPython to put C's key in
    # the place "d" left, ahead of "e" on the probe path, as CPython 3.9 to 3.13 do.)
    c_compared.wait(2)
    b_may_go_on.set()
    b.join(5)
    c.join(5)
    assert (b.error, b.result) == (None, False)
    assert (c.error, c.result) == (None, True)
    assert market.available(SlowKey("x")) == 1
    cart = market.new_cart()
    assert market.add_to_cart(cart, SlowKey("x"))
    [bought] = market.place_order(cart)
    assert bought is offered_by_c
    # What is left on sale: "e" and 0, a class each, each in the dict once.
    assert market._interned()["dict"] == market._interned()["classes"] == 2


class Family:
    """Products of three families that share hashes: "A" equal to 1 (and 1.0 and True), "B"
    to 2, "C" only to its own kind and hashing as "A" does. Its `__hash__` and `__eq__` let
    other threads run now and then."""

    __slots__ = ("family", "tag")

    def __init__(self, family, tag=None):
        self.family, self.tag = family, tag

    def __hash__(self):
        if random.random() < 0.1:
            time.sleep(0)
        return 2 if self.family == "B" else 1

    def __eq__(self, other):
        if random.random() < 0.3:
            time.sleep(0)
        if isinstance(other, Family):
            return self.family == other.family
        return {"A": 1, "B": 2}.get(self.family) == other

    def __repr__(self):
        return f"Family({self.family!r}, {self.tag!r})"


def family_of(product):
    return product.family if isinstance(product, Family) else {1: "A", 2: "B"}[product]


def one_of(rnd, family, tag=None):
    """A product of `family`: a `Family` or, for "A" and "B", a number equal to it."""
    made = {
        "A": [lambda: Family("A", tag), lambda: 1.0, lambda: True, lambda: int("1")],
        "B": [lambda: Family("B", tag), lambda: 2.0, lambda: int("2")],
        "C": [lambda: Family("C", tag)],
    }[family]
    return rnd.choice(made)()


@pytest.mark.parametrize("seed", range(6))
def test_conservation_with_eqs_that_let_other_threads_run(seed):
    """Producers, consumers (adding, removing, asking) and equal products of several types
    whose `__hash__` and `__eq__` let other threads run midway: every item published is
    ordered exactly once, each cart holds what its adds and removes say, and once everything
    is ordered no class, dict entry or object is left. Without the interning lock, two and
    four of the six seeds lost items or left classes behind in two trials."""
    market = Marketplace(1)
    producers = [market.register_producer() for _ in range(3)]
    published: list[Any] = []
    ordered: list[Any] = []
    problems: list[tuple[Any, ...]] = []
    lock, done = threading.Lock(), threading.Event()

    def produce(index):
        rnd = random.Random(seed * 10 + index)
        for serial in range(300):
            product = one_of(rnd, rnd.choice("ABC"), (index, serial))
            if market.publish(producers[index], product, timeout=rnd.choice([None, 0.002])):
                with lock:
                    published.append(product)

    def consume(index):
        rnd = random.Random(seed * 100 + index)
        while not done.is_set():
            cart, expected = market.new_cart(), []
            for _ in range(rnd.randrange(1, 4)):
                family = rnd.choice("ABC")
                if market.add_to_cart(cart, one_of(rnd, family), timeout=rnd.choice([None, 0.002])):
                    expected.append(family)
                if expected and rnd.random() < 0.3:
                    family = rnd.choice(expected)
                    if market.remove_from_cart(cart, one_of(rnd, family)):
                        expected.remove(family)
                    else:
                        problems.append(("not removed", family))
                if rnd.random() < 0.2:
                    market.available(one_of(rnd, rnd.choice("ABC")))
            bought = market.place_order(cart)
            if [family_of(product) for product in bought] != expected:
                problems.append(("cart", expected, bought))
            with lock:
                ordered.extend(bought)

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(3)]
    consumers = [threading.Thread(target=consume, args=(i,)) for i in range(3)]
    for thread in threads + consumers:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in consumers:
        thread.join()
    cart = market.new_cart()
    for family in "ABC":
        while market.add_to_cart(cart, one_of(random, family)):
            pass
    ordered.extend(market.place_order(cart))
    assert problems == []
    # By identity: the very objects published (small ints and True count as one object).
    assert Counter(map(id, ordered)) == Counter(map(id, published))
    assert market.stats()["items_on_shelves"] == 0
    interned = market._interned()
    assert (interned["classes"], interned["dict"], interned["objects"]) == (0, 0, 0)


def test_a_wait_from_inside_a_products_eq_is_refused():
    """A product's `__eq__` runs inside the interning lock: a call with a timeout made from it
    would wait holding up every other call (here, for room no one could make). It raises
    `RuntimeError` instead, and the lock is free again after."""
    market = Marketplace(1)
    full, other = market.register_producer(), market.register_producer()
    market.publish(full, "coffee")

    class Meddling:
        def __hash__(self):
            return 7

        def __eq__(self, other):
            market.publish(full, "coffee", timeout=5)
            return isinstance(other, Meddling)

    market.publish(other, Meddling())  # in the dict: the next lookup compares with it
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="timeout from a product's __hash__ or __eq__"):
        market.publish(other, Meddling())
    assert time.monotonic() - started < 1
    elsewhere = Call(market.publish, market.register_producer(), "tea")
    elsewhere.start()
    elsewhere.join(5)
    assert (elsewhere.error, elsewhere.result) == (None, True)


def a_thread_inside_the_interning(market, producer, release, wait_at_most=None):
    """Publishes a product, then starts a thread, named "slow", publishing an equal one:
    its `__eq__` waits for `release` (at most `wait_at_most` seconds) with the GIL released,
    inside the interning lock. Returns the product's class and that thread once it is
    inside."""
    inside = threading.Event()

    class Slow:
        def __hash__(self):
            return 7

        def __eq__(self, other):
            if threading.current_thread().name == "slow":
                inside.set()
                release.wait(wait_at_most)
            return isinstance(other, Slow)

    market.publish(producer, Slow())
    slow = Call(market.publish, producer, Slow())
    slow.name = "slow"
    slow.start()
    assert inside.wait(5)
    return Slow, slow


def in_a_forked_child(work, timeout=10):
    """Runs `work` in a child made by `os.fork()` (one thread, this one) and returns the
    `repr` of what it returned; a child that hangs past `timeout` seconds is killed and the
    test fails."""
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.write(writable, repr(work()).encode())
        finally:
            os._exit(0)
    os.close(writable)
    ready: list[int] = []
    try:
        ready, _, _ = select.select([readable], [], [], timeout)
        assert ready, "the child hangs"
        return os.read(readable, 1000).decode()
    finally:
        if not ready:
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(readable)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_child_forked_while_another_thread_interns_can_intern():
    """A thread is inside the interning lock, in a product's `__eq__` that waits with the GIL
    released, when another thread forks: the child inherits a lock whose holder does not
    exist there, and its calls must not wait for it."""
    market = Marketplace(2)
    producer = market.register_producer()
    may_go_on = threading.Event()
    _, slow = a_thread_inside_the_interning(market, producer, may_go_on)
    try:
        seen = in_a_forked_child(
            lambda: market.publish(producer, "tea") and market.available("tea") == 1
        )
        assert seen == "True", "the child could not intern"
    finally:
        may_go_on.set()
        slow.join(5)
    assert (slow.error, slow.result) == (None, True)


def test_ctrl_c_interrupts_a_wait_for_another_threads_interning(sigint_raises_keyboard_interrupt):
    """Another thread is inside the interning lock, in a product's `__eq__` that takes long
    (I/O, a lock): a call from the main thread waits for the lock with the GIL released, and
    Ctrl-C must end that wait as it ends a `timeout=` wait, with nothing done."""
    market = Marketplace(2)
    producer = market.register_producer()
    release, id_read = threading.Event(), threading.Event()
    # Bounded, so that a wait Ctrl-C cannot end fails, not hangs.
    Slow, slow = a_thread_inside_the_interning(market, producer, release, wait_at_most=3)

    class ProducerId:
        def __index__(self):
            id_read.set()  # the call has begun, past its own check for a pending Ctrl-C
            return producer

    main, test = threading.main_thread().ident, sys._getframe().f_code
    assert main is not None
    interrupted_at = []

    def interrupt_once_waiting():
        # Past __index__, and with no Python frame above this test's: the main thread is in
        # the native call, which gives the GIL up only to wait for the interning lock.
        wait_until(lambda: id_read.is_set() and sys._current_frames()[main].f_code is test)
        interrupted_at.append(time.monotonic())
        _thread.interrupt_main()

    helper = threading.Thread(target=interrupt_once_waiting, daemon=True)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        market.publish(ProducerId(), "tea")
    raised_at = time.monotonic()
    helper.join()
    release.set()
    assert slow.outcome() is True
    # A slice is 50 ms, and a wait Ctrl-C cannot end lasts until the holder's 3 s are up:
    # a second tells the two apart on a busy machine too.
    latency = raised_at - interrupted_at[0]
    assert latency < 1, f"KeyboardInterrupt took {latency * 1000:.0f} ms"
    # Nothing was done: "tea" is neither on sale nor interned, and the lock is free again.
    assert market.available("tea") == 0
    assert market._interned()["classes"] == 1 and market._interned()["objects"] == 2
    assert market.shelf_len(producer) == 2
    cart = market.new_cart()
    assert market.add_to_cart(cart, Slow()) and market.place_order(cart)[0] is not None
    assert market.publish(producer, "tea") is True


@pytest.mark.parametrize("call", ["publish", "add_to_cart"])
def test_ctrl_c_ends_a_wait_at_once_while_another_thread_interns(
    sigint_raises_keyboard_interrupt, call
):
    """The main thread waits (`timeout=inf`) on a product it alone named, so its call holds
    the product's class's only reference; meanwhile another thread sits inside the interning
    lock, in a product's slow `__eq__`. Ctrl-C must end the wait within a slice, as it does
    with no such thread: the class the call gives back is not worth waiting for that thread,
    and is dropped later, by a call that holds the lock."""
    market = Marketplace(2)
    producer = market.register_producer()
    cart = market.new_cart()
    if call == "publish":
        market.publish(producer, "full")
        market.publish(producer, "full")
    release = threading.Event()
    interrupted_at: list[float] = []
    slow_thread: list[Any] = []

    def interrupt_once_the_other_thread_interns():
        wait_until(lambda: market.stats()["waiting"] == 1)
        # Bounded, so that a wait Ctrl-C cannot end fails, not hangs.
        slow_thread.append(a_thread_inside_the_interning(market, other, release, wait_at_most=3))
        interrupted_at.append(time.monotonic())
        _thread.interrupt_main()

    other = market.register_producer()
    helper = threading.Thread(target=interrupt_once_the_other_thread_interns, daemon=True)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        if call == "publish":
            market.publish(producer, "tea", timeout=math.inf)
        else:
            market.add_to_cart(cart, "tea", timeout=math.inf)
    raised_at = time.monotonic()
    helper.join()
    release.set()
    _, slow = slow_thread[0]
    assert slow.outcome() is True
    # A slice is 50 ms; a release that waits for the other thread lasts its 3 s.
    latency = raised_at - interrupted_at[0]
    assert latency < 1, f"KeyboardInterrupt took {latency * 1000:.0f} ms"
    # Nothing was done, and "tea"'s class went as the other thread left the interning:
    # what is interned is what is on sale.
    assert market.stats()["waiting"] == 0
    interned = market._interned()
    on_sale = {"full", "Slow"} if call == "publish" else {"Slow"}
    assert interned["classes"] == interned["dict"] == len(on_sale)
    assert market.available("tea") == 0
    assert market.publish(other, "tea") is False  # the other producer is full, as before


def test_an_order_returns_without_waiting_for_another_threads_interning():
    """An order that takes a class's last item while another thread is inside the interning
    lock, in a slow `__eq__`, returns at once: the class is dropped by that thread as it
    leaves the lock, not by the order waiting for it."""
    market = Marketplace(2)
    producer, other = market.register_producer(), market.register_producer()
    market.publish(producer, "tea")
    cart = market.new_cart()
    assert market.add_to_cart(cart, "tea")
    release = threading.Event()
    # Bounded, so that an order that waits for the other thread fails, not hangs.
    _, slow = a_thread_inside_the_interning(market, other, release, wait_at_most=3)
    started = time.monotonic()
    assert market.place_order(cart) == ["tea"]
    took = time.monotonic() - started
    release.set()
    assert slow.outcome() is True
    assert took < 1, f"the order took {took * 1000:.0f} ms"
    interned = market._interned()
    assert interned["classes"] == interned["dict"] == 1  # the other thread's product only
    assert market.available("tea") == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_child_forked_while_another_thread_waits_works_and_counts_that_wait():
    """A thread of the parent waits in `add_to_cart` when the main thread forks: the child
    has a copy of the market and works, but the waiter does not exist there, and its wait
    stays counted (and its class alive) in the child's copy."""
    market = Marketplace(1)
    producer = market.register_producer()
    cart = market.new_cart()
    waiter = started_waiting(market, market.add_to_cart, cart, LINDEN, timeout=10)

    def in_the_child():
        mine = market.new_cart()
        seen: list[object] = [market.publish(producer, LINDEN), market.add_to_cart(mine, LINDEN)]
        seen += [market.place_order(mine) == [LINDEN], market.stats()["waiting"]]
        return seen + [market.stats()["distinct_products"]]

    try:
        assert in_a_forked_child(in_the_child) == "[True, True, True, 1, 1]"
    finally:
        market.publish(producer, LINDEN)
    assert waiter.outcome() is True
    assert market.place_order(cart) == [LINDEN]
    assert market.stats()["waiting"] == market.stats()["distinct_products"] == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_children_forked_while_other_threads_wait_never_hang():
    """Threads of the parent keep going in and out of waits (short timeouts, so each wait
    registers with the engine and leaves it, GIL released, many times a second) while the
    main thread forks, again and again. A fork that lands while one of them holds a lock
    inside the engine (a waiter list's mutex) used to leave that lock held for good in the
    child, whose next publish of a new product hung on it (about one fork in forty)."""
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, "full")
    stop = threading.Event()

    def consume():
        cart = market.new_cart()
        while not stop.is_set():
            market.add_to_cart(cart, "never published", timeout=0.0005)

    def produce():
        while not stop.is_set():
            market.publish(producer, "no room", timeout=0.0005)

    threads = [threading.Thread(target=work, daemon=True) for work in [consume, produce] * 3]
    for thread in threads:
        thread.start()

    def in_the_child():
        cart, mine = market.new_cart(), market.register_producer()
        seen: list[object] = [market.publish(mine, "new"), market.add_to_cart(cart, "new")]
        seen += [market.place_order(cart), market.add_to_cart(cart, "new", timeout=0.001)]
        return seen

    try:
        for _ in range(200):
            assert in_a_forked_child(in_the_child, timeout=5) == "[True, True, ['new'], False]"
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)


CHILD_EXITS_WHILE_A_PARENT_THREAD_INTERNS = """
import os, sys, threading, time
from marketplace import Marketplace

market = Marketplace(2)
producer = market.register_producer()
inside, release = threading.Event(), threading.Event()

class Slow:
    def __hash__(self):
        return 1

    def __eq__(self, other):
        if threading.current_thread().name == "slow":
            inside.set()
            release.wait(30)
        return isinstance(other, Slow)

market.publish(producer, Slow())
slow = threading.Thread(target=market.publish, args=(producer, Slow()), name="slow", daemon=True)
slow.start()
assert inside.wait(10)
forked_at = time.monotonic()
child = os.fork()
if child == 0:
    market.publish(producer, "tea")
    sys.exit(0)  # a normal exit: the atexit hooks run
os.waitpid(child, 0)
print(f"{time.monotonic() - forked_at:.3f}")
release.set()
slow.join(10)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_child_forked_while_another_thread_is_in_a_call_exits_at_once(tmp_path):
    """Another thread is inside a call (a product's `__eq__`, GIL released) when the main
    thread forks; the child then exits normally. The calls of the parent's other threads do
    not exist in the child, and the exit must not wait for them: it waited the shutdown
    hook's whole grace period (2 s) for them."""
    script = tmp_path / "fork_and_exit.py"
    script.write_text(CHILD_EXITS_WHILE_A_PARENT_THREAD_INTERNS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, b"")
    # The grace period is 2 s; forking and exiting take milliseconds.
    assert float(done.stdout) < 1.0, f"the child took {float(done.stdout):.2f} s to exit"


class Alarm(Exception):
    """What the test's SIGALRM handler raises."""


@pytest.fixture
def sigalrm_raises_alarm():
    def handler(signum, frame):
        raise Alarm("the alarm went off")

    previous = signal.signal(signal.SIGALRM, handler)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer()")
@pytest.mark.parametrize("call", ["add_to_cart", "publish", "add_to_cart forever"])
def test_any_signal_handler_that_raises_ends_a_wait(sigalrm_raises_alarm, call):
    """Not only Ctrl-C: whatever a signal handler raises (a SIGALRM deadline, as
    `signal.setitimer` sets one) ends a wait within a slice, and leaves nothing behind."""
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, "full")
    cart = market.new_cart()
    waits = {
        "add_to_cart": lambda: market.add_to_cart(cart, LINDEN, timeout=10),
        "publish": lambda: market.publish(producer, LINDEN, timeout=10),
        "add_to_cart forever": lambda: market.add_to_cart(cart, LINDEN, timeout=float("inf")),
    }
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    started = time.monotonic()
    with pytest.raises(Alarm):
        waits[call]()
    assert time.monotonic() - started < 5, "the wait ran to its timeout"
    assert market.stats()["waiting"] == 0 and market.shelf_len(producer) == 1
    assert market._interned()["classes"] == 1 and market._interned()["objects"] == 1


def test_a_timer_thread_closing_the_market_ends_the_waits():
    """`close()` from a `threading.Timer` (a watchdog) while the main thread and others
    wait: every wait returns False, and the market is closed for later ones."""
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, "full")
    cart = market.new_cart()
    other = Call(market.publish, producer, LINDEN, timeout=30)
    other.start()
    wait_until(lambda: market.stats()["waiting"] == 1)
    watchdog = threading.Timer(0.05, market.close)
    watchdog.start()
    started = time.monotonic()
    assert market.add_to_cart(cart, LINDEN, timeout=30) is False
    assert time.monotonic() - started < 5
    assert other.outcome() is False
    watchdog.join()
    assert market.closed and market.add_to_cart(cart, LINDEN, timeout=30) is False
    assert market.stats()["waiting"] == 0


EXIT_WITH_DAEMONS_BLOCKED_IN_WAITS = """
import math, threading, time
from marketplace import Marketplace

market = Marketplace(1)
producer = market.register_producer()
market.publish(producer, "full")
cart = market.new_cart()
for i in range(3):
    for call, product in ((market.add_to_cart, f"never {i}"), (market.publish, f"no room {i}")):
        first = cart if call == market.add_to_cart else producer
        threading.Thread(target=call, args=(first, product), kwargs={"timeout": math.inf}, daemon=True).start()
deadline = time.monotonic() + 10
while market.stats()["waiting"] < 6:
    assert time.monotonic() < deadline
    time.sleep(0.001)
print("done")
"""


def test_the_interpreter_exits_cleanly_with_daemon_threads_blocked_in_waits(tmp_path):
    """Daemon threads blocked with no time limit in both kinds of wait when the interpreter
    exits: it exits with 0, at once (they wake every slice, and must not keep it)."""
    script = tmp_path / "blocked.py"
    script.write_text(EXIT_WITH_DAEMONS_BLOCKED_IN_WAITS)
    for _ in range(3):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=30, check=False)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"done\n", b"")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_fork_waits_at_most_about_a_slice_for_the_threads_in_waits():
    """A fork waits for the threads inside the engine to step out of their wait; they do at
    the end of the current slice (50 ms), not at the end of their timeout."""
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, "full")
    cart = market.new_cart()
    waiters = [Call(market.add_to_cart, cart, LINDEN, timeout=30), Call(market.publish, producer, "more", timeout=30)]
    for waiter in waiters:
        waiter.start()
    wait_until(lambda: market.stats()["waiting"] == 2)
    try:
        started = time.monotonic()
        assert in_a_forked_child(lambda: market.stats()["waiting"]) == "2"
        # A slice is 50 ms; the timeouts are 30 s, and a stuck gate would hold it 2 s.
        assert time.monotonic() - started < 1
    finally:
        market.close()
    assert [waiter.outcome() for waiter in waiters] == [False, False]


def test_a_waiting_add_stays_found_when_the_buyer_of_its_classs_last_item_changes_it():
    # The class's last item is ordered while an add waits on the class: its key must not
    # stay the bought object, which the buyer changes, or an equal product published then
    # would make a class of its own, on which the add does not wait.
    @dataclass(unsafe_hash=True)
    class Renamable:
        name: str

    market = Marketplace(5)
    producer = market.register_producer()
    first = Renamable("linden")
    assert market.publish(producer, first)
    buyer, waiting_cart = market.new_cart(), market.new_cart()
    assert market.add_to_cart(buyer, Renamable("linden"))
    waiter = started_waiting(
        market, market.add_to_cart, waiting_cart, Renamable("linden"), timeout=math.inf
    )
    try:
        assert market.place_order(buyer) == [first]
        first.name = "renamed by its buyer"
        second = Renamable("linden")
        assert market.publish(producer, second)
        assert market.stats()["distinct_products"] == 1
        assert waiter.outcome() is True
        assert market.place_order(waiting_cart) == [second]
    finally:
        market.close()


@pytest.mark.parametrize("kind", ["builtins", "tuple_holding_a_mutable"])
def test_a_waiting_add_stays_found_when_its_classs_last_item_is_bought_whatever_its_key(kind):
    # As above, for a class keyed by its first product itself (numbers: no one can change
    # them; the add waits with an equal of another type) and for a tuple holding a mutable
    # object, which must keep the key the market owns.
    @dataclass(unsafe_hash=True)
    class Renamable:
        name: str

    products: list[object] = (
        [1, 1.0, True, 1.0]
        if kind == "builtins"
        else [("linden", Renamable("linden")) for _ in range(4)]
    )
    first, asked, waited_for, second = products
    market = Marketplace(5)
    producer = market.register_producer()
    assert market.publish(producer, first)
    buyer, waiting_cart = market.new_cart(), market.new_cart()
    assert market.add_to_cart(buyer, asked)
    waiter = started_waiting(market, market.add_to_cart, waiting_cart, waited_for, timeout=math.inf)
    try:
        [bought] = market.place_order(buyer)
        assert bought is first
        if isinstance(bought, tuple):
            bought[1].name = "renamed by its buyer"
        assert market.publish(producer, second)
        assert market.stats()["distinct_products"] == 1
        assert waiter.outcome() is True
        [ordered] = market.place_order(waiting_cart)
        assert ordered is second
    finally:
        market.close()


def test_a_bought_product_changed_before_its_class_is_dropped_hides_no_other_class():
    # While another thread holds the interning lock (here, in a product's `__hash__`), an
    # order that empties a class cannot drop it: the lock's holder does, as it leaves. The
    # buyer may change what it bought meanwhile, here into an equal of another class's
    # item on sale; dropping the emptied class must not delete that class's entry.
    @dataclass(unsafe_hash=True)
    class Renamable:
        name: str

    class SlowHash:
        def __init__(self) -> None:
            self.hashing, self.release = threading.Event(), threading.Event()

        def __hash__(self) -> int:
            self.hashing.set()
            assert self.release.wait(10), "never released"
            return 0

    market = Marketplace(5)
    producer = market.register_producer()
    linden, oak = Renamable("linden"), Renamable("oak")
    assert market.publish(producer, linden) and market.publish(producer, oak)
    cart = market.new_cart()
    assert market.add_to_cart(cart, Renamable("linden"))
    slow = SlowHash()
    holder = Call(market.available, slow)
    holder.start()
    assert slow.hashing.wait(10), "the lock's holder never hashed"
    try:
        [bought] = market.place_order(cart)
        assert bought is linden
        bought.name = "oak"
    finally:
        slow.release.set()
    assert holder.outcome() == 0
    assert market.available(Renamable("oak")) == 1
    assert market.add_to_cart(market.new_cart(), Renamable("oak"))
