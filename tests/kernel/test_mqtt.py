"""kernel.mqtt: the protocol probe connects with an id of its own, within the broker's rule,
never with the caller's id (whose persistent session a clean connect would end). A real
Mosquitto's log names each client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel.fields import client_id_allowed
from kernel.mqtt import MqttUrlError, negotiate_protocol, parse_url
from testkit.services import mosquitto


@pytest.mark.services
def test_the_protocol_probe_uses_a_new_id_of_the_user(tmp_path: Path) -> None:
    users = {"ingest": "probe-test-pw-1"}
    with mosquitto(tmp_path / "mq", passwords=users, extra="log_type notice\n") as broker:
        address = parse_url(broker.url)
        for _ in range(2):
            assert negotiate_protocol(address, username="ingest", password=users["ingest"]) == "5"
        log = broker.log.read_text()
    seen = re.findall(r"New client connected from \S+ as (\S+) \(.*u'([^']+)'\)", log)
    assert len(seen) == 2 and seen[0][0] != seen[1][0], log
    for cid, user in seen:
        assert user == "ingest" and re.fullmatch(r"ingest\.probe\.[0-9a-f]{8}", cid)
        assert client_id_allowed(cid, user)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("tcp://b:1883", "must be mqtt://host:port or mqtts://host:port"),
        ("mqtt://u:secret-in-url@b", "no credentials in the URL"),
        ("mqtt://b:0", "the port must be a number from 1 to 65535"),
    ],
)
def test_parse_url_says_what_is_wrong_without_repeating_credentials(url: str, why: str) -> None:
    with pytest.raises(MqttUrlError, match=why) as info:
        parse_url(url)
    assert "secret-in-url" not in str(info.value)
    assert parse_url("mqtts://b").port == 8883 and parse_url("mqtt://[::1]:1884").host == "::1"
