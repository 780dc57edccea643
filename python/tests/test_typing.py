"""What a user's type checker makes of the stubs' generic `Marketplace[P]` (and of the
benchmark's `LockedMarketplace[P]`, which must be typed the same): mypy is run on a small
program whose lines say, in mypy's own test-data style (`# E: [code]`, `# N: text`), the
error or note each must produce, and must produce those and nothing else. The check step
type-checks the tests themselves; this holds the stubs to refusing what they should."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import BENCH, PYTHON_DIR

pytest.importorskip("mypy", reason="mypy is not installed (python/scripts/check installs it)")

PROGRAM = """\
from typing import Hashable, List

from {module} import {cls} as Market

market = Market(3)
reveal_type(market.place_order(0))  # N: Revealed type is "list[typing.Hashable]"
market.publish(0, [])  # E: [arg-type]

teas: Market[str] = Market(3)
teas.publish(0, "green")
teas.publish(0, 5)  # E: [arg-type]
teas.add_to_cart(0, b"green")  # E: [arg-type]
teas.remove_from_cart(0, 5)  # E: [arg-type]
teas.available(5)  # E: [arg-type]
reveal_type(teas.place_order(0))  # N: Revealed type is "list[str]"
ordered: List[int] = teas.place_order(0)  # E: [assignment]

coffees = Market[bytes](3)
coffees.publish(0, "green")  # E: [arg-type]
reveal_type(coffees.place_order(0))  # N: Revealed type is "list[bytes]"

lists: Market[List[int]]  # E: [type-var]
"""

IMPLEMENTATIONS = {
    "engine": ("marketplace", "Marketplace"),
    "locked": ("locked_marketplace", "LockedMarketplace"),
}

EXPECTATION = re.compile(r"# ([EN]): (.*)$")
REPORT = re.compile(r"^[^:]+:(\d+): (error|note): (.*)$")


def expectations(source):
    """(line, 'error', code) or (line, 'note', text) for each marked line."""
    found = set()
    for number, line in enumerate(source.splitlines(), start=1):
        marked = EXPECTATION.search(line)
        if marked:
            kind, text = marked.groups()
            found.add((number, "error", text) if kind == "E" else (number, "note", text))
    return found


def reports(output):
    """The same triples from mypy's output; an error is known by its code."""
    found = set()
    for line in output.splitlines():
        reported = REPORT.match(line)
        if not reported:
            continue
        number, kind, text = reported.groups()
        if kind == "error":
            code = re.search(r"(\[[a-z-]+\])$", text)
            found.add((int(number), kind, code.group(1) if code else text))
        elif text.startswith("Revealed type"):
            found.add((int(number), kind, text))
        # Other notes elaborate an error already counted (which member of a protocol
        # conflicts): they are not expectations of their own.
    return found


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
def test_mypy_holds_products_and_orders_to_the_market_type(implementation, tmp_path):
    module, cls = IMPLEMENTATIONS[implementation]
    source = PROGRAM.format(module=module, cls=cls)
    program = tmp_path / "program.py"
    program.write_text(source)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(PYTHON_DIR / "pyproject.toml"),
            "--no-error-summary",
            "--show-error-codes",
            "--hide-error-context",
            "--no-pretty",
            str(program),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"MYPYPATH": str(BENCH), "PATH": ""},
        timeout=300,
        check=False,
    )
    assert done.stderr == ""
    assert done.returncode == 1, done.stdout
    assert reports(done.stdout) == expectations(source), done.stdout
