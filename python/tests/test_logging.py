"""Every call that acts on the market is logged through Python's `logging` (logger
`marketplace`, DEBUG), with its arguments and result as Python shows them, so a user's
RotatingFileHandler captures it; the queries log nothing."""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import sys
import threading

import pytest
from conftest import Tea

from marketplace import Marketplace

LINDEN = Tea("Linden", 9, "Herbal")
LINDEN_REPR = "Tea(name='Linden', price=9, type='Herbal')"


@contextlib.contextmanager
def market_logger_at_debug(*handlers):
    """The `marketplace` logger at DEBUG with `handlers`, put back as it was afterwards."""
    logger = logging.getLogger("marketplace")
    level = logger.level
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def log_file(tmp_path):
    """The `marketplace` logger at DEBUG, to a rotating file of 1 MB x 20, as a user sets it."""
    path = tmp_path / "market.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=20)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    with market_logger_at_debug(handler):
        yield path
    handler.close()


def messages(path):
    return [line.split(" marketplace DEBUG ", 1)[1] for line in path.read_text().splitlines()]


def test_each_call_is_logged_with_its_arguments_and_result(log_file):
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, LINDEN)
    market.publish(producer, LINDEN)
    cart = market.new_cart()
    market.add_to_cart(cart, LINDEN)
    market.add_to_cart(cart, LINDEN)
    market.remove_from_cart(cart, LINDEN)
    market.add_to_cart(cart, LINDEN, timeout=1)
    market.publish(producer, "chai", timeout=0.01)
    market.place_order(cart)
    with pytest.raises(KeyError):
        market.place_order(cart)
    with pytest.raises(TypeError):
        market.publish("0", LINDEN)  # type: ignore[arg-type]  # the TypeError is logged
    market.close()
    assert messages(log_file) == [
        "register_producer() -> 0",
        f"publish(producer_id=0, product={LINDEN_REPR}) -> True",
        f"publish(producer_id=0, product={LINDEN_REPR}) -> False",
        "new_cart() -> 0",
        f"add_to_cart(cart_id=0, product={LINDEN_REPR}) -> True",
        f"add_to_cart(cart_id=0, product={LINDEN_REPR}) -> False",
        f"remove_from_cart(cart_id=0, product={LINDEN_REPR}) -> True",
        f"add_to_cart(cart_id=0, product={LINDEN_REPR}, timeout=1) -> True",
        "publish(producer_id=0, product='chai', timeout=0.01) -> True",
        f"place_order(cart_id=0) -> [{LINDEN_REPR}]",
        "place_order(cart_id=0) raised KeyError(0)",
        "publish(producer_id='0', product=Tea(name='Linden', price=9, type='Herbal')) "
        "raised TypeError('producer_id must be an int, not str')",
        "close() -> None",
    ]


def test_the_queries_log_nothing(log_file):
    """The calls that only look (`stats`, `shelf_len`, `available`, `repr`) leave no record,
    between calls that act, which each leave theirs."""
    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, LINDEN)
    acted = messages(log_file)
    market.stats()
    market.shelf_len(producer)
    market.available(LINDEN)
    repr(market)
    assert market.closed is False and market.queue_size_per_producer == 1
    assert messages(log_file) == acted
    market.close()
    assert messages(log_file) == [*acted, "close() -> None"]


def test_the_log_shows_the_objects_passed_not_internal_keys(log_file):
    market = Marketplace(2)
    producer = market.register_producer()
    market.publish(producer, 1)
    cart = market.new_cart()
    market.add_to_cart(cart, 1.0)  # equal, but shown as passed
    market.place_order(cart)
    text = log_file.read_text()
    assert "product=1.0) -> True" in text
    assert "place_order(cart_id=0) -> [1]" in text
    assert "class #" not in text and "object #" not in text


def test_a_rotating_file_handler_of_1_mb_by_20_rotates(log_file):
    market = Marketplace(1)
    producer = market.register_producer()
    big = "x" * 1000
    for _ in range(2500):  # ~2.6 MB of records
        market.publish(producer, big)
    rotated = sorted(p.name for p in log_file.parent.iterdir())
    assert rotated == ["market.log", "market.log.1", "market.log.2"]
    assert all(p.stat().st_size <= 1_000_000 for p in log_file.parent.iterdir())
    lines = sum(len(messages(p)) for p in log_file.parent.iterdir())
    assert lines == 1 + 2500  # register_producer, then every publish


def test_level_changes_take_effect_at_once(log_file):
    logger = logging.getLogger("marketplace")
    market = Marketplace(1)
    logger.setLevel(logging.INFO)
    market.register_producer()
    logger.setLevel(logging.DEBUG)
    market.register_producer()
    logger.disabled = True
    market.register_producer()
    logger.disabled = False
    assert messages(log_file) == ["register_producer() -> 1"]


def test_records_point_at_the_callers_line(tmp_path):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    with market_logger_at_debug(Keep()):
        Marketplace(1).new_cart()
    (record,) = records
    assert record.name == "marketplace" and record.levelno == logging.DEBUG
    assert record.funcName == "test_records_point_at_the_callers_line"
    assert record.threadName == threading.current_thread().name


def test_a_broken_handler_or_repr_does_not_break_the_market(capsys, monkeypatch):
    class Broken(logging.Handler):
        def emit(self, record):
            raise RuntimeError("handler failed")

    class Unprintable:
        def __hash__(self):
            return 1

        def __repr__(self):
            raise RuntimeError("repr failed")

    unraisable: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with market_logger_at_debug(logging.StreamHandler(io.StringIO()), Broken()):
        market = Marketplace(1)
        producer = market.register_producer()
        assert market.publish(producer, Unprintable()) is True
    assert market.stats()["items_on_shelves"] == 1
    # A handler that raises: reported by sys.unraisablehook, once per call.
    assert [str(u.exc_value) for u in unraisable] == ["handler failed"] * 2
    # A repr that raises: reported by logging itself, as for any record.
    assert "repr failed" in capsys.readouterr().err


def test_ctrl_c_in_a_handler_does_not_lose_the_calls_outcome(monkeypatch):
    """An exception out of a handler, even KeyboardInterrupt, cannot undo the call it logs:
    it goes to sys.unraisablehook, and the call returns its outcome."""

    class Interrupting(logging.Handler):
        def emit(self, record):
            raise KeyboardInterrupt

    market = Marketplace(1)
    producer = market.register_producer()
    market.publish(producer, LINDEN)
    cart = market.new_cart()
    market.add_to_cart(cart, LINDEN)
    unraisable: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with market_logger_at_debug(Interrupting()):
        bought = market.place_order(cart)
    assert bought == [LINDEN]
    assert [type(u.exc_value) for u in unraisable] == [KeyboardInterrupt]


def test_a_failing_level_check_is_reported_and_counts_as_disabled(monkeypatch):
    unraisable: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    logger = logging.getLogger("marketplace")

    def interrupted(level):
        raise KeyboardInterrupt

    monkeypatch.setattr(logger, "isEnabledFor", interrupted)
    market = Marketplace(1)  # looks the logger's methods up now
    producer = market.register_producer()
    assert market.publish(producer, LINDEN) is True
    assert [type(u.exc_value) for u in unraisable] == [KeyboardInterrupt] * 2
