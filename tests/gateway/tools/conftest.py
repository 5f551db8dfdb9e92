"""Fixtures of the technician's tools' tests: a Mosquitto with passwords and the example ACL,
and a cabinet of emulated devices (testkit/doctor_site.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import REPO
from testkit.doctor_site import GW, INGEST, PASSWORD, Site
from testkit.services import Mosquitto, mosquitto


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    acl = (REPO / "deploy/mosquitto/acl.example").read_text()
    passwords = {GW: PASSWORD, INGEST["username"]: INGEST["password"]}
    with mosquitto(tmp_path_factory.mktemp("acl-broker"), passwords=passwords, acl=acl) as b:
        yield b


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    with s.stack:
        yield s
