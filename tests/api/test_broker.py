"""The API's broker probe (api/broker.py) against a real Mosquitto whose log names every
client: a new id each check, ``api.health.<8 hex>``, within the broker's client id rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.broker import mqtt_reachable
from kernel.fields import client_id_allowed
from testkit.services import mosquitto

pytestmark = pytest.mark.services


def test_each_check_connects_with_a_new_id_within_the_rule(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "mq", extra="log_type notice\n") as broker:
        assert mqtt_reachable(broker.url) and mqtt_reachable(broker.url)
        log = broker.log.read_text()
    ids = re.findall(r"New client connected from \S+ as (\S+) \(", log)
    assert len(ids) == 2 and ids[0] != ids[1], log
    for cid in ids:
        assert re.fullmatch(r"api\.health\.[0-9a-f]{8}", cid)
        assert client_id_allowed(cid, "api")
