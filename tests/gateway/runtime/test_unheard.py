"""A batch the broker acknowledges with "No matching subscribers" (MQTT 5 reason 0x10) stays in
the gateway's spool and is sent again: nobody received it.

When that happens: ingest not yet set up, or away longer than its sessions' expiry (7 days),
or a broker without the shipped ingest gate restarted under ingest's shared workers
(Mosquitto 2.0 does not persist shared subscriptions; docs/reliability.md section 5). Here a
real Mosquitto with a worker's session that expired: no subscriber is left at all.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from testkit.gateway import (
    Subscriber,
    emit_device,
    expected_readings,
    make_config,
    received_readings,
    register_emit_driver,
    running,
    wait_until,
)
from testkit.services import mosquitto

pytestmark = pytest.mark.services

GW = "gw-unheard"
SHARED = "$share/ingest/jagajalan/v1/+/readings"


@pytest.fixture(autouse=True)
def _emit_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    register_emit_driver(monkeypatch)


def test_readings_sent_while_a_restarted_broker_had_no_worker_are_kept_and_sent_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    with mosquitto(tmp_path / "broker") as broker:
        with Subscriber(broker.port, [SHARED]):
            pass  # a worker whose session ended with it (expired): nobody subscribes now

        config = make_config(tmp_path, GW, broker.url, [emit_device("c1", 12, chunk=4)])
        with running(config) as service:
            assert wait_until(lambda: service.publisher.batches_unheard >= 1, timeout=30)
            assert wait_until(lambda: service.spool.depth() == 12)  # nobody had them: all kept
            assert service.publisher.published_batches == 0
            assert "broker has no subscriber for jagajalan/v1/gw-unheard/readings" in caplog.text
            # A worker comes (back) and subscribes, as ingest does.
            with Subscriber(broker.port, [SHARED], client_id="ingest-w1") as worker:
                assert worker.wait_for(lambda: len(received_readings(worker, GW)) >= 12)
                assert wait_until(lambda: service.spool.depth() == 0, timeout=30)
    assert sorted(set(received_readings(worker, GW))) == expected_readings("c1", 12)
    unheard = [r for r in caplog.records if "no subscriber" in r.getMessage()]
    assert {r.levelno for r in unheard} == {logging.WARNING}
    assert len(unheard) == 1  # said once, not once per batch
