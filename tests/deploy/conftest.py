"""The shipped broker's client-id plugin, compiled once for the deploy tests by the shipped
deploy/mosquitto/plugin/build.sh."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.shipped_broker import build_plugin


@pytest.fixture(scope="session")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_plugin(tmp_path_factory.mktemp("plugin"))
