"""The classic exercise (python/examples/classic.py), unchanged, on the engine: its sorted
output equals the reference output of every reference scenario, and so the `marketplace
run` command line's.

The reference scenarios are read in place from ../shared/reference-tests (next to the
repository); without that folder these tests skip with a message. The demo scenario of the
repository runs either way."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from conftest import EXAMPLES, REFERENCE_TESTS, REPO, Coffee, Product, Tea, classic

from marketplace import Marketplace

SCRIPT = EXAMPLES / "classic.py"
SCENARIOS = sorted(REFERENCE_TESTS.glob("*.in")) if REFERENCE_TESTS.is_dir() else []


def run_classic(scenario, time_scale, *extra):
    """Runs the example in a process of its own (its producers never stop); returns its
    output lines, sorted byte-wise as `LC_ALL=C sort` does."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(scenario), "--time-scale", str(time_scale), *extra],
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stderr == b""
    return sorted(done.stdout.splitlines(keepends=True))


def expected(path):
    return sorted(path.read_bytes().splitlines(keepends=True))


@pytest.mark.skipif(not SCENARIOS, reason=f"reference scenarios absent: {REFERENCE_TESTS} not found")
@pytest.mark.parametrize("time_scale", [0.01, 0])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_reference_scenario(scenario, time_scale):
    reference = scenario.with_name(scenario.stem + ".ref.out")
    assert run_classic(scenario, time_scale) == expected(reference)


def test_reference_scenarios_are_there_or_reported():
    if not SCENARIOS:
        pytest.skip(f"reference scenarios absent: {REFERENCE_TESTS} not found; conformance not checked")
    assert len(SCENARIOS) >= 10


def test_demo_scenario_of_the_repository():
    lines = run_classic(REPO / "scenarios" / "demo.json", 0.05)
    assert lines == expected(REPO / "scenarios" / "demo.expected")


def test_log_file_option_logs_every_call(tmp_path):
    log = tmp_path / "market.log"
    lines = run_classic(REPO / "scenarios" / "demo.json", 0, "--log-file", str(log))
    assert lines == expected(REPO / "scenarios" / "demo.expected")
    text = log.read_text()
    assert "register_producer() -> 0" in text
    assert "place_order(cart_id=0) -> [" in text
    assert "Coffee(name='Kona Peaberry', price=14, acidity=4.5, roast_level='MEDIUM')" in text


def test_products_print_as_the_expected_output():
    assert repr(Tea("Linden", 9, "Herbal")) == "Tea(name='Linden', price=9, type='Herbal')"
    # Numbers where the classic dataclasses annotate a str acidity and an int price, as the
    # scenarios give them.
    assert repr(Coffee("Kona Peaberry", 1, 5.05, "MEDIUM")) == (  # type: ignore[arg-type]
        "Coffee(name='Kona Peaberry', price=1, acidity=5.05, roast_level='MEDIUM')"
    )
    mug = Product("Grandma's Mug", 12.5)  # type: ignore[arg-type]
    assert repr(mug) == "Product(name=\"Grandma's Mug\", price=12.5)"
    assert classic.make_product({"product_type": "Tea", "type": "Herbal", "price": 9, "name": "Linden"}) == Tea(
        "Linden", 9, "Herbal"
    )


class Stopped(Exception):
    """Ends a producer thread."""


class EndsWhenClosed:
    """The marketplace as the producer sees it, ending its thread (`Stopped`) at its first
    publish after `close()`: the classic producer loops forever, and this one must not
    outlive its test."""

    def __init__(self, market):
        self.market = market

    def register_producer(self):
        return self.market.register_producer()

    def publish(self, producer_id, product):
        if self.market.closed:
            raise Stopped
        return self.market.publish(producer_id, product)


def test_producer_and_consumer_threads_in_process(capsys, monkeypatch):
    """The classic classes themselves, in this process."""
    stopped = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: stopped.append(hook.exc_type))
    market = Marketplace(2)
    # A number for the acidity the classic dataclass annotates as a str, as the scenarios give it.
    tea, coffee = Tea("Linden", 9, "Herbal"), Coffee("Kona", 14, 4.5, "DARK")  # type: ignore[arg-type]
    producer = classic.Producer([(tea, 2, 0), (coffee, 1, 0)], EndsWhenClosed(market), 0.01, daemon=True)
    consumer = classic.Consumer(
        [
            [{"type": "add", "product": tea, "quantity": 3}, {"type": "remove", "product": tea, "quantity": 1}],
            [{"type": "add", "product": coffee, "quantity": 1}],
        ],
        market,
        0.01,
        name="ana",
    )
    assert producer.producer_id == 0
    producer.start()
    consumer.start()
    consumer.join(10)
    assert not consumer.is_alive()
    assert sorted(capsys.readouterr().out.splitlines()) == [
        "ana bought Coffee(name='Kona', price=14, acidity=4.5, roast_level='DARK')",
        "ana bought Tea(name='Linden', price=9, type='Herbal')",
        "ana bought Tea(name='Linden', price=9, type='Herbal')",
    ]
    assert producer.is_alive()  # producers never end on their own
    market.close()
    producer.join(10)
    assert not producer.is_alive()
    assert stopped == [Stopped]
