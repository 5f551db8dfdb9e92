"""Every example config in examples/ loads and validates as shipped.

The examples name files under /etc/jagajalan (password, CA) that a real gateway has; the test
places stand-ins for them in a temporary directory and points the config there, changing
nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_gateway_config
from gateway.devices import DRIVERS
from testkit import REPO

EXAMPLES = REPO / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("gateway*.toml")), ids=lambda p: p.name)
def test_gateway_example_loads(path: Path, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("mqtt-password", "ca.crt"):
        (etc / name).write_text("stand-in\n")
        (etc / name).chmod(0o600)
    config_file = tmp_path / path.name
    config_file.write_text(path.read_text().replace("/etc/jagajalan/", f"{etc}/"))
    config = load_gateway_config(config_file)
    assert config.gateway.id
    assert {d.driver for d in config.devices} <= set(DRIVERS)
    assert len({d.id for d in config.devices}) == len(config.devices)


def test_there_are_examples() -> None:
    assert list(EXAMPLES.glob("gateway*.toml"))


def test_analytics_example_loads() -> None:
    from indicators.config import IndicatorsConfig
    from kernel.config import load_toml

    config = load_toml(IndicatorsConfig, EXAMPLES / "analytics.toml")
    # Capacities and ladders come from the registry (tests/indicators/test_sites.py); without
    # one, the file's road type gives the PKJI 2023 C0, else the default road type's.
    assert config.capacity("srl-pelawan-01") == 4 * 1700  # C0 of 4/2-T
    assert config.capacity("srl-pasar-01") == 2800  # 2/2-TT
