from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_tools.bundle.backends import BACKENDS
from simulators.devices.serial_link import SerialLink


@pytest.fixture
def link(tmp_path: Path) -> Iterator[SerialLink]:
    """A null-modem cable at the bootloader's 115200 baud (8N1: a pty carries no parity)."""
    with SerialLink(tmp_path / "ttyNODE", baudrate=115200) as lnk:
        yield lnk


@pytest.fixture
def claims(tmp_path: Path) -> Path:
    return tmp_path / "claims"


@pytest.fixture(params=BACKENDS)
def verifier(request: pytest.FixtureRequest) -> str:
    """Who checks bundle signatures: cryptography, and the stock minisign tool that 32-bit ARM
    gateways use instead (both installed here; the tool by scripts/install-system-deps.sh)."""
    return request.param
