"""Ingest tests each get a broker of their own (not the session's shared one): no retained
statuses or sessions of other tests, so exact message counts hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.services import Mosquitto, mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with mosquitto(tmp_path / "mosquitto") as b:
        yield b
