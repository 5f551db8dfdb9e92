"""Shared fixtures: real Mosquitto and InfluxDB processes, started once per test session.

Tests that need a broker or database of their own (auth, outages, kills) use the context
managers in testkit/services.py directly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from testkit import children
from testkit.services import Influx, Mosquitto, influxd, mosquitto


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with mosquitto(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b


@pytest.fixture(scope="session")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx]:
    with influxd(tmp_path_factory.mktemp("influxd")) as server:
        yield server


@pytest.fixture
def influx_db(influx: Influx) -> Iterator[str]:
    """A fresh database name for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    influx.query(f'DROP DATABASE "{name}"')


def pytest_unconfigure(config: pytest.Config) -> None:
    """Whatever a test started through testkit/children.py and did not stop (Ctrl-C in the
    middle of a test, a teardown cut short) ends with the session."""
    children.kill_all()


#: ``make chaos`` sets this: every Hypothesis test runs at least this many examples (the
#: property tests of the parsers, far more than their ``make test`` settings), no deadline.
HYPOTHESIS_EXAMPLES = "JAGAJALAN_HYPOTHESIS_EXAMPLES"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = os.environ.get(HYPOTHESIS_EXAMPLES)
    if not wanted:
        return
    from hypothesis import settings

    n = int(wanted)
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None:
            test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                own, max_examples=max(n, own.max_examples), deadline=None
            )
