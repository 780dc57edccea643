"""Shared fixtures: the products of the classic exercise, paths to the examples, the
benchmark's pure-Python baseline and the reference scenarios."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Hashable, Type, Union

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
REPO = PYTHON_DIR.parent
EXAMPLES = PYTHON_DIR / "examples"
BENCH = PYTHON_DIR / "bench"
# The reference scenarios are test data beside the repository (../shared), never copied in.
REFERENCE_TESTS = Path(os.environ.get("MARKETPLACE_REFERENCE_TESTS", REPO.parent / "shared" / "reference-tests"))

for extra in (EXAMPLES, BENCH):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import classic as classic  # noqa: E402  (python/examples/classic.py, for the tests to import)
from locked_marketplace import LockedMarketplace  # noqa: E402

from marketplace import Marketplace  # noqa: E402

Tea = classic.Tea
Coffee = classic.Coffee
Product = classic.Product


# What `any_market` gives, for the tests' annotations: mypy then holds every call a test
# makes on it to the package's stubs and to the baseline's signatures both.
MarketClass = Union[Type[Marketplace[Hashable]], Type[LockedMarketplace[Hashable]]]


@pytest.fixture(params=["engine", "locked"])
def any_market(request: pytest.FixtureRequest) -> MarketClass:
    """A factory of marketplaces: the engine's, and the pure-Python baseline, which must
    behave the same (it is what the benchmark compares against)."""
    implementations: dict[str, MarketClass] = {"engine": Marketplace, "locked": LockedMarketplace}
    return implementations[request.param]
