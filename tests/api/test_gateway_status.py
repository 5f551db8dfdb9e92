"""Device trouble visible in the API: ``GET /gateways``, ``GET /gateways/{id}`` and
``GET /gateways/{id}/history``.

First against a SQLite store holding the points ingest writes for a status (the mapping's own
``status_points``); then end to end: statuses built by the gateway's own health code (a real
spool, a driver whose cable is pulled), published to a real Mosquitto as the gateway
publishes them, taken by a real ingest service into SQLite (the store of ``make demo``) and a
real InfluxDB, and read back through the API: both backends answer the same.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from api.access import open_reads
from api.app import create_app
from gateway.runtime.health import Health
from gateway.runtime.spool import Spool
from ingest.service import IngestService, IngestSettings, MqttSettings
from kernel.times import utc_iso
from store import Store
from store.sqlite import SQLiteStore
from telemetry import Reading, Status, encode_status, topics
from telemetry.mapping import batch_meta_point, status_points
from telemetry.models import Batch
from testkit.gateway import EmitConfig, EmitDriver
from testkit.ingest import MIN, RECENT, Publisher, wait_for
from testkit.points import GW1, GW2, T0
from testkit.services import mosquitto

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient


def status(state: str, time_ms: int, devices: dict[str, str], **details: object) -> Status:
    return Status(gateway=GW1, state=state, time=time_ms, devices=devices, **details)  # type: ignore[arg-type]


def write_statuses(store: Store, *statuses: Status) -> None:
    for s in statuses:
        store.write(status_points(s, s.time or 0))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "api.sqlite")
    s.ensure()
    yield s
    s.close()


def iso(ms: int) -> str:
    return utc_iso(ms) or ""


# -- the current view ------------------------------------------------------------------------


def test_gateways_show_devices_spool_dropped_clock_and_last_error(store: SQLiteStore) -> None:
    write_statuses(
        store,
        status("online", T0, {"wl1": "ok", "env1": "ok", "old1": "ok"}, spool_depth=0, dropped=0),
        status(
            "online",
            T0 + MIN,
            {"wl1": "unplugged", "env1": "ok"},  # old1 left the gateway's config
            spool_depth=120,
            spool_oldest_age=61.5,
            dropped=4,
            spool_errors=0,
            clock_offset=-0.4,
            errors={"wl1": {"unplugged": 2}},
            last_error={"wl1": "/dev/ttyUSB3: gone"},
            info={"env1": {"stuck": ["pm25"]}},
            version="0.3.1",
            firmware={"wl1": "WL-2.07"},
            update={
                "version": "0.4.0",
                "result": "refused",
                "reason": "update.command_refused",
                "detail": "expired: 1764489000000",
                "rollout": "r3",
                "time": T0,
            },
        ),
    )
    store.write([batch_meta_point(_batch(GW2, T0))])  # a gateway without any status
    client = TestClient(create_app(store, access=open_reads()))
    listed = client.get("/gateways").json()
    assert [g["gateway"] for g in listed] == [GW1, GW2]
    gw = client.get(f"/gateways/{GW1}").json()
    assert gw == listed[0]
    assert {k: gw[k] for k in ("state", "spool_depth", "spool_oldest_age", "dropped")} == {
        "state": "online",
        "spool_depth": 120,
        "spool_oldest_age": 61.5,
        "dropped": 4,
    }
    assert (gw["spool_errors"], gw["clock_offset"], gw["devices_ok"]) == (0, -0.4, 1)
    assert gw["version"] == "0.3.1"
    assert gw["update"] == {
        "version": "0.4.0",
        "result": "refused",
        "failed": True,
        "reason": "update.command_refused",
        "detail": "expired: 1764489000000",
        "rollout": "r3",
        "time": iso(T0),
        "time_wib": "2025-11-30T15:00:00.000+07:00",
    }
    when = {"time": iso(T0 + MIN), "time_wib": "2025-11-30T15:01:00.000+07:00"}
    assert gw["devices"] == [
        {
            "device": "env1",
            "state": "ok",
            "last_error": None,
            "stuck": ["pm25"],
            "errors": 0,
            "firmware": None,
            **when,
        },
        {
            "device": "wl1",
            "state": "unplugged",
            "last_error": "/dev/ttyUSB3: gone",
            "stuck": [],
            "errors": 2,
            "firmware": "WL-2.07",
            **when,
        },
    ]
    quiet = listed[1]
    assert (quiet["state"], quiet["spool_depth"], quiet["devices"]) == (None, None, [])
    assert quiet["version"] is None and quiet["update"] is None
    assert client.get("/readings/latest").json() == []  # status points are not readings


def test_a_last_will_keeps_the_devices_but_has_no_details(store: SQLiteStore) -> None:
    write_statuses(
        store,
        status("online", T0, {"wl1": "unplugged"}, spool_depth=9, last_error={"wl1": "gone"}),
    )
    will = Status(gateway=GW1, state="offline")  # what the broker publishes: no time, no details
    store.write(status_points(will, T0 + MIN))  # ingest stamps it with the receive time
    gw = TestClient(create_app(store, access=open_reads())).get(f"/gateways/{GW1}").json()
    assert (gw["state"], gw["state_time"], gw["spool_depth"]) == ("offline", iso(T0 + MIN), None)
    assert gw["version"] is None and gw["update"] is None  # a Last Will carries neither
    assert [(d["device"], d["state"], d["time"]) for d in gw["devices"]] == [
        ("wl1", "unplugged", iso(T0))
    ]


def test_unknown_and_malformed_gateways(store: SQLiteStore) -> None:
    client = TestClient(create_app(store, access=open_reads()))
    for path in ("/gateways/srl-nowhere-01", "/gateways/srl-nowhere-01/history"):
        r = client.get(path)
        assert r.status_code == 404
        assert r.json() == {
            "error": "not_found",
            "message": "gateway 'srl-nowhere-01' has not been seen (see GET /gateways)",
        }
    r = client.get("/gateways/Not_An_Id")
    assert (r.status_code, r.json()["error"]) == (422, "invalid_request")
    assert r.json()["detail"][0]["loc"] == ["path", "gateway"]


# -- history ---------------------------------------------------------------------------------


def test_history_lists_changes_not_repeats(store: SQLiteStore) -> None:
    write_statuses(
        store,
        status("online", T0 - 10 * MIN, {"wl1": "ok", "env1": "ok"}),  # before the window
        status("online", T0 + MIN, {"wl1": "ok", "env1": "ok"}),  # no change
        status(
            "online", T0 + 2 * MIN, {"wl1": "unplugged", "env1": "ok"}, last_error={"wl1": "gone"}
        ),
        status(
            "online", T0 + 3 * MIN, {"wl1": "unplugged", "env1": "ok"}, last_error={"wl1": "gone"}
        ),
        status(
            "online", T0 + 4 * MIN, {"wl1": "ok", "env1": "ok"}, info={"env1": {"stuck": ["pm25"]}}
        ),
        status("offline", T0 + 5 * MIN, {"wl1": "ok", "env1": "ok"}),
        status("online", T0 + 9 * MIN, {"wl1": "timeout", "env1": "ok"}),  # after the window
    )
    client = TestClient(create_app(store, access=open_reads()))
    r = client.get(
        f"/gateways/{GW1}/history",
        params={"start": "2025-11-30T15:00:00+07:00", "end": iso(T0 + 6 * MIN)},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"]) == (iso(T0), iso(T0 + 6 * MIN))
    assert body["start_wib"] == "2025-11-30T15:00:00.000+07:00"
    changes = [
        (c["time"], c["device"], c["previous"], c["state"], c["stuck"], c["last_error"])
        for c in body["changes"]
    ]
    assert changes == [
        (iso(T0 + 2 * MIN), "wl1", "ok", "unplugged", [], "gone"),
        (iso(T0 + 4 * MIN), "env1", "ok", "ok", ["pm25"], None),  # a sensor froze
        (iso(T0 + 4 * MIN), "wl1", "unplugged", "ok", [], None),
        (iso(T0 + 5 * MIN), None, "online", "offline", [], None),  # the gateway itself
        (iso(T0 + 5 * MIN), "env1", "ok", "ok", [], None),  # moving again
    ]
    # Nothing known before the window: the first status of each is a change from null.
    late = client.get(
        f"/gateways/{GW1}/history", params={"start": iso(T0 - 20 * MIN), "end": iso(T0 - 5 * MIN)}
    ).json()["changes"]
    assert [(c["device"], c["previous"], c["state"]) for c in late] == [
        (None, None, "online"),
        ("env1", None, "ok"),
        ("wl1", None, "ok"),
    ]


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"start": "2025-11-30T08:00:00"}, "timezone"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2025-11-30T09:00:00Z", "end": "2025-11-30T08:00:00Z"}, "before end"),
        ({"start": "2025-11-01T00:00:00Z", "end": "2025-11-08T00:00:01Z"}, "7 days"),
        ({"end": "0001-01-01T00:00:00Z"}, "end must be from 2000"),  # was a 500 (overflow)
        ({"start": "2100-01-01T00:00:01Z", "end": "2100-01-01T01:00:00Z"}, "start must be"),
    ],
)
def test_history_refuses_bad_windows(store: SQLiteStore, params: dict, text: str) -> None:
    write_statuses(store, status("online", T0, {"wl1": "ok"}))
    r = TestClient(create_app(store, access=open_reads())).get(
        f"/gateways/{GW1}/history", params=params
    )
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request" and text in r.json()["message"]


def test_history_defaults_to_the_last_24_hours(store: SQLiteStore) -> None:
    write_statuses(store, status("online", RECENT, {"wl1": "unplugged"}))
    body = TestClient(create_app(store, access=open_reads())).get(f"/gateways/{GW1}/history").json()
    assert [(c["device"], c["state"]) for c in body["changes"]] == [
        (None, "online"),
        ("wl1", "unplugged"),
    ]
    assert body["start"] < iso(RECENT) < body["end"]
    week = {"start": "2025-11-01T00:00:00Z", "end": "2025-11-08T00:00:00Z"}  # the longest
    assert (
        TestClient(create_app(store, access=open_reads()))
        .get(f"/gateways/{GW1}/history", params=week)
        .is_success
    )


def _batch(gateway: str, t: int) -> Batch:
    reading = Reading(sensor="env1", measurement="air_quality", time=t, fields={"pm25": 1.0})
    return Batch(gateway=gateway, seq=1, sent=t, readings=[reading])


# -- end to end: gateway health -> Mosquitto -> ingest -> store -> API ------------------------


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "demo.sqlite")  # what `make demo` ingests into
    from store.influx import InfluxStore

    influx = request.getfixturevalue("influx")
    return InfluxStore(influx.url, request.getfixturevalue("influx_db"))


@pytest.mark.services
@pytest.mark.parametrize("kind", ["sqlite", "influxdb"])
def test_a_pulled_cable_shows_in_the_api_and_its_history(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = _open(kind, request, tmp_path)
    store.ensure()
    now = [RECENT / 1000]  # the gateway's clock, seconds
    clock = lambda: now[0]  # noqa: E731
    level = EmitDriver(
        EmitConfig(driver="test_emit", id="wl1", info={"firmware": "WL-2.07"}),
        lambda r: None,
        clock,
    )
    gps = EmitDriver(
        EmitConfig(driver="test_emit", id="gps1", info={"clock_offset": -0.35}),
        lambda r: None,
        clock,
    )
    for d in (level, gps):
        d.set_state("ok")
    reading = Reading(sensor="wl1", measurement="water_level", time=RECENT, fields={"level": 3.0})
    with (
        mosquitto(tmp_path / "mq") as broker,
        Spool(tmp_path / "spool.sqlite", max_readings=5, clock=clock) as spool,
    ):
        spool.append([reading] * 8)  # the link is down: 5 wait on disk, 3 were dropped
        health = Health(GW1, spool, lambda: [level, gps], clock=clock)
        settings = IngestSettings(
            MqttSettings(url=broker.url, client_id=f"ingest.{uuid.uuid4().hex[:8]}"),
            max_delay=0.05,
        )
        service = IngestService(settings, store)
        service.start()
        pub = Publisher(broker.port)
        client = TestClient(create_app(store, access=open_reads()))

        def states() -> list[str]:
            r = client.get(f"/gateways/{GW1}")  # 404 until ingest stored the first status
            return [d["state"] for d in r.json()["devices"]] if r.status_code == 200 else []

        def publish_and_wait(state: str, wl1: str) -> None:
            pub.send(topics.status(GW1), encode_status(health.status(state)), retain=True)
            wait_for(lambda: states() == ["ok", wl1], 15, f"wl1 {wl1} in the API")

        try:
            assert service.subscribed.wait(10)
            publish_and_wait("online", "ok")
            now[0] += 60
            level.set_state("unplugged", "[Errno 2] could not open port /dev/pts/9")
            publish_and_wait("online", "unplugged")
            gw = client.get(f"/gateways/{GW1}").json()
            assert (gw["state"], gw["spool_depth"], gw["dropped"], gw["clock_offset"]) == (
                "online",
                5,
                3,
                -0.35,
            )
            assert gw["spool_oldest_age"] == 60.0 and gw["devices_ok"] == 1
            # The installed package's version and the driver's firmware, stored by ingest.
            assert gw["version"] == metadata.version("jagajalan")
            assert [d["firmware"] for d in gw["devices"]] == [None, "WL-2.07"]
            wl1 = gw["devices"][1]
            assert (wl1["device"], wl1["last_error"], wl1["errors"]) == (
                "wl1",
                "[Errno 2] could not open port /dev/pts/9",
                1,
            )
            assert client.get("/gateways").json() == [gw]
            now[0] += 60
            level.set_state("ok")  # the technician plugged it back in
            publish_and_wait("online", "ok")
            history = client.get(
                f"/gateways/{GW1}/history",
                params={"start": iso(RECENT - MIN), "end": iso(RECENT + 3 * MIN)},
            ).json()
        finally:
            pub.close()
            service.stop()
            store.close()
    changes = [(c["time"], c["device"], c["previous"], c["state"]) for c in history["changes"]]
    assert changes == [
        (iso(RECENT), None, None, "online"),
        (iso(RECENT), "gps1", None, "ok"),
        (iso(RECENT), "wl1", None, "ok"),
        (iso(RECENT + MIN), "wl1", "ok", "unplugged"),
        (iso(RECENT + 2 * MIN), "wl1", "unplugged", "ok"),
    ]
    assert history["changes"][3]["last_error"] == "[Errno 2] could not open port /dev/pts/9"
