"""InfluxStore against a real InfluxDB 1.6 process (and, where InfluxDB cannot show what was
sent, a loopback HTTP receiver that records the requests)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from store.base import (
    Failure,
    GatewaySeen,
    LatestValue,
    StoreAuthFailed,
    StoreError,
    StoreNotReady,
    StoreRejected,
    StoreUnavailable,
    classify,
)
from store.influx import InfluxStore
from store.influxql import quote_ident, quote_string
from telemetry.line_block import LineBlock
from telemetry.mapping import Point, batch_meta_point, batch_to_points, status_point
from testkit.ingest import MIN, T0, Receiver, batch
from testkit.services import Influx, free_port, influxd


def air(gateway: str, t: int, **fields: float) -> Point:
    return Point("air_quality", {"gateway": gateway, "sensor": "env1"}, fields, t)


def traffic(gateway: str, lane: str, t: int, **fields: float | int) -> Point:
    return Point("traffic", {"gateway": gateway, "sensor": "cnt1", "lane": lane}, fields, t)


@pytest.fixture
def store(influx: Influx, influx_db: str):
    s = InfluxStore(influx.url, influx_db)
    s.ensure()
    yield s
    s.close()


def test_write_and_read_back(store: InfluxStore) -> None:
    b = batch("gw-a", 3)
    written = batch_to_points(b)
    store.write([*written, batch_meta_point(b)])
    got = store.points("air_quality") + store.points("traffic")
    assert got == written
    assert [type(v) for v in got[0].fields.values()] == [float, float, float]
    assert type(got[1].fields["count"]) is int
    assert got[2].fields == {"count": 0}  # sparse: no speed_mean stored, none invented
    assert store.count("traffic") == 2
    assert store.count("gateway_batches", "gw-a") == 1
    assert store.ping() is True


def test_rewriting_the_same_point_stores_it_once(store: InfluxStore) -> None:
    point = air("gw-a", T0, pm25=12.5)
    store.write([point])
    store.write([point])
    store.ensure()  # CREATE DATABASE again: idempotent, data kept
    assert store.count("air_quality") == 1
    assert store.points("air_quality") == [point]


def test_field_type_conflict_is_rejected_naming_the_field(store: InfluxStore) -> None:
    store.write([traffic("gw-a", "1", T0, count=3)])
    with pytest.raises(StoreRejected, match=r'field type conflict.*"count"') as info:
        store.write([traffic("gw-a", "1", T0 + MIN, count=2.5)])
    assert not isinstance(info.value, StoreAuthFailed)
    assert store.points("traffic") == [traffic("gw-a", "1", T0, count=3)]


def test_writes_are_chunked_at_5000_points() -> None:
    points = [air("gw-a", T0 + i, pm25=float(i)) for i in range(12_001)]
    with Receiver(status=204) as receiver:
        InfluxStore(receiver.url, "db1").write(points)
    writes = [r for r in receiver.requests if r.path == "/write"]
    assert [len(r.body.splitlines()) for r in writes] == [5000, 5000, 2001]
    assert all(r.params == {"db": ["db1"], "precision": ["ms"]} for r in writes)
    assert b"".join(r.body + b"\n" for r in writes).splitlines()[-1].endswith(b" 1764489612000")


@pytest.mark.parametrize("kind", [list, LineBlock.of])  # ingest writes blocks (one text)
def test_lines_are_written_in_one_request_up_to_a_size_in_characters(kind) -> None:
    from store import influx as influx_module

    line = "air_quality,gateway=gw-a,sensor=env1 pm25=41.3 1764489600000"
    per = influx_module.WRITE_LINES_CHARS // (len(line) + 1)  # lines in one request at most
    with Receiver(status=204) as receiver:
        store = InfluxStore(receiver.url, "db1")
        store.write_lines(kind([]))  # nothing: no request
        store.write_lines(kind([line] * 20_000))  # more than WRITE_CHUNK points: one request
        store.write_lines(kind([line] * (per + 1)))  # one line over: two requests
    sizes = [len(r.body.splitlines()) for r in receiver.requests if r.path == "/write"]
    assert sizes[0] == 20_000 and len(sizes) == 3 and sum(sizes[1:]) == per + 1
    assert all(len(r.body) <= influx_module.WRITE_LINES_CHARS for r in receiver.requests)


def test_a_write_never_creates_the_database(influx: Influx, influx_db: str) -> None:
    """Creating it is `store setup`'s (an admin's): a writer says it is missing, and keeps the
    points (StoreNotReady is a StoreAuthFailed: retried, never dead-lettered)."""
    store = InfluxStore(influx.url, influx_db)  # no ensure(); InfluxDB without auth
    with pytest.raises(StoreNotReady, match=f"database '{influx_db}' does not exist") as info:
        store.write([air("gw-a", T0, pm25=1.0)])
    assert (info.value.missing, info.value.database) == ("database", influx_db)
    assert isinstance(info.value, StoreAuthFailed)
    with pytest.raises(StoreNotReady, match="does not exist"):
        store.check_write()
    with pytest.raises(StoreNotReady, match="does not exist"):
        store.check_read()
    (result,) = influx.query("SHOW DATABASES")["results"]
    assert [influx_db] not in result["series"][0].get("values", [])
    store.ensure()
    store.check_write()
    store.check_read()
    store.write([air("gw-a", T0, pm25=1.0)])
    assert store.count("air_quality") == 1


def test_unreachable_influxdb_is_unavailable() -> None:
    store = InfluxStore(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.write([air("gw-a", T0, pm25=1.0)])
    with pytest.raises(StoreUnavailable):
        store.latest()
    assert store.ping() is False


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (500, StoreUnavailable, "timeout"),
        (503, StoreUnavailable, "timeout"),
        (400, StoreRejected, "unable to parse"),
        (413, StoreRejected, "unable to parse"),
    ],
)
def test_http_errors_map_to_store_errors(status: int, error: type, expected: str) -> None:
    answer = {"error": "timeout" if status >= 500 else "unable to parse 'x': bad"}
    with (
        Receiver(status=status, answer=json.dumps(answer).encode()) as receiver,
        pytest.raises(error, match=expected),
    ):
        InfluxStore(receiver.url).write([air("gw-a", T0, pm25=1.0)])


@pytest.mark.parametrize(
    ("status", "answer", "headers", "kind", "expected"),
    [
        (400, '{"error":"partial write: field type conflict"}', {}, Failure.POINTS, "conflict"),
        (413, '{"error":"Request Entity Too Large"}', {}, Failure.REFUSED, "HTTP 413"),
        (422, "unprocessable", {}, Failure.REFUSED, r"HTTP 422\): unprocessable"),
        (429, "slow down", {}, Failure.TRANSIENT, "HTTP 429"),
        (408, "", {}, Failure.TRANSIENT, "HTTP 408"),
        (502, "<html>bad gateway</html>", {}, Failure.TRANSIENT, "HTTP 502"),
        (401, '{"error":"authorization failed"}', {}, Failure.CONFIGURATION, "refused the login"),
        (403, '{"error":"not authorized"}', {}, Failure.CONFIGURATION, "needs WRITE"),
        (404, "404 page not found", {}, Failure.CONFIGURATION, "not InfluxDB's HTTP API"),
        (307, "", {"location": "https://db/write"}, Failure.CONFIGURATION, "https://db/write"),
    ],
)
def test_every_answer_to_a_write_has_one_kind(
    status: int, answer: str, headers: dict, kind: Failure, expected: str
) -> None:
    """The answers come from a loopback stand-in: the point is the kind of each. Those influxd
    gives itself (400, 401, 403, 413, 404 for a database) are also met from a real influxd in
    this file and in tests/ingest/test_failures.py; the others (422, 429, 408, 502, a redirect,
    a bare 404) are what a proxy or another InfluxDB version sends. Before, a redirect counted
    as a successful write."""
    with Receiver(status=status, answer=answer.encode(), headers=headers) as receiver:
        store = InfluxStore(receiver.url, "db1", username="u", password="pw-in-echo")
        with pytest.raises(StoreError, match=expected) as info:
            store.write([air("gw-a", T0, pm25=1.0)])
    assert classify(info.value) is kind
    assert len(receiver.requests) == 1


def test_a_password_echoed_by_an_answer_stays_out_of_the_error() -> None:
    with Receiver(status=422, answer=b'{"error":"bad auth pw-s3cret for u"}') as receiver:
        store = InfluxStore(receiver.url, "db1", username="u", password="pw-s3cret")
        with pytest.raises(StoreError) as info:
            store.write([air("gw-a", T0, pm25=1.0)])
    assert "pw-s3cret" not in str(info.value) and "bad auth *** for u" in str(info.value)


def test_a_missing_database_or_privilege_is_misconfiguration(
    tmp_path: Path,
) -> None:
    with influxd(tmp_path / "influx-auth", auth=True) as server:

        def admin(q: str) -> None:
            r = httpx.post(f"{server.url}/query", params={"q": q}, auth=("admin", "adm-pw"))
            assert r.status_code == 200 and "error" not in r.text, r.text

        admin("CREATE USER admin WITH PASSWORD 'adm-pw' WITH ALL PRIVILEGES")
        admin("CREATE USER writer WITH PASSWORD 'w-pw'")
        store = InfluxStore(server.url, "absent", username="writer", password="w-pw")
        with pytest.raises(StoreNotReady, match="database 'absent' does not exist") as info:
            store.write([air("gw-a", T0, pm25=1.0)])
        assert classify(info.value) is Failure.CONFIGURATION
        assert "w-pw" not in str(info.value)
        admin('CREATE DATABASE "absent"')
        with pytest.raises(StoreNotReady, match=r"user 'writer' may not write .*needs WRITE"):
            store.write([air("gw-a", T0, pm25=1.0)])
        admin('GRANT WRITE ON "absent" TO "writer"')
        store.write([air("gw-a", T0, pm25=1.0)])  # WRITE is enough: nothing is created here


def test_failures_that_are_not_store_errors_count_as_refused() -> None:
    assert classify(ValueError("a bug")) is Failure.REFUSED
    assert classify(StoreRejected("partial write: dropped=1")) is Failure.POINTS  # SQLite's
    assert classify(StoreUnavailable("down")) is Failure.TRANSIENT


def fill(store: InfluxStore) -> None:
    store.write([traffic("gw-a", "1", T0 + 2 * MIN, count=0)])  # newest, written first
    store.write(
        [
            traffic("gw-a", "1", T0, count=5, speed_mean=38.0),
            traffic("gw-a", "1", T0 + MIN, count=4, speed_mean=41.5),
            traffic("gw-a", "2", T0 + MIN, count=7, speed_mean=50.0),
            air("gw-a", T0, pm25=10.0, pm10=20.0),
            air("gw-a", T0 + MIN, pm25=11.0),
            air("gw-b", T0 + 3 * MIN, pm25=30.0),
            status_point("gw-a", "online", T0),
        ]
    )


def test_latest_reports_each_sparse_field_with_its_own_time(store: InfluxStore) -> None:
    fill(store)
    assert store.latest(gateway="gw-a", measurement="traffic") == [
        LatestValue("gw-a", "cnt1", "traffic", {"lane": "1"}, "count", 0, T0 + 2 * MIN),
        LatestValue("gw-a", "cnt1", "traffic", {"lane": "1"}, "speed_mean", 41.5, T0 + MIN),
        LatestValue("gw-a", "cnt1", "traffic", {"lane": "2"}, "count", 7, T0 + MIN),
        LatestValue("gw-a", "cnt1", "traffic", {"lane": "2"}, "speed_mean", 50.0, T0 + MIN),
    ]
    air_a = store.latest(gateway="gw-a", measurement="air_quality")
    assert [(v.field, v.value, v.time_ms) for v in air_a] == [
        ("pm10", 20.0, T0),
        ("pm25", 11.0, T0 + MIN),
    ]
    assert [(v.gateway, v.field) for v in store.latest(gateway="gw-b")] == [("gw-b", "pm25")]
    everything = store.latest()
    assert len(everything) == 7
    assert {v.measurement for v in everything} == {"air_quality", "traffic"}  # no pipeline
    assert store.latest(gateway="gw-c") == []
    assert store.latest(measurement="gateway_status") == []


def test_gateways_from_batches_and_status(store: InfluxStore) -> None:
    b = batch("gw-a", 7, T0)
    store.write(
        [
            batch_meta_point(batch("gw-a", 6, T0 - MIN)),
            batch_meta_point(b),
            status_point("gw-a", "online", T0 - 5),
            status_point("gw-a", "offline", T0 + MIN),
            status_point("gw-b", "online", T0),
        ]
    )
    assert store.gateways() == [
        GatewaySeen(
            "gw-a", last_seen_ms=b.sent, last_seq=7, state="offline", state_time_ms=T0 + MIN
        ),
        GatewaySeen("gw-b", last_seen_ms=None, last_seq=None, state="online", state_time_ms=T0),
    ]


@pytest.mark.parametrize(
    "attack",
    [
        "x' OR gateway = 'gw-a",
        "gw-a' OR '1'='1",
        "x'; DROP DATABASE jagajalan; --",
        "gw-a\\",
        "gw-a\\' OR 1=1 --",
        'gw-a" OR "gateway" = \'gw-a',
        "x'\nSELECT * FROM air_quality",
    ],
)
def test_injection_in_a_gateway_filter_matches_nothing(store: InfluxStore, attack: str) -> None:
    fill(store)
    assert store.latest(gateway=attack) == []
    assert store.count("air_quality", attack) == 0
    assert store.points("traffic", attack) == []
    assert store.count("air_quality") == 3  # nothing dropped or changed


def test_quoting_is_exact_for_odd_names(store: InfluxStore) -> None:
    # Not valid gateway ids (the API refuses them), but the store must still match exactly.
    odd = 'o\'brien "x"'
    store.write([air(odd, T0, pm25=1.0), air("o", T0, pm25=2.0)])
    assert [(v.gateway, v.value) for v in store.latest(gateway=odd)] == [(odd, 1.0)]
    assert store.count("air_quality", odd) == 1
    name = 'we"ird measure'
    store.write([Point(name, {"gateway": "gw-a"}, {"v": 1.0}, T0)])
    assert store.count(name) == 1
    assert quote_ident('a"b\\c') == '"a\\"b\\\\c"'
    assert quote_string("a'b\\c\n") == "'a\\'b\\\\c\\n'"


def test_token_is_sent_as_authorization_header() -> None:
    """InfluxDB 1.6 has no token auth (tokens belong to 2.x/3.x and their v1-compatible
    API), so a loopback receiver stands in and shows what was actually sent."""
    with Receiver(status=204) as receiver:
        store = InfluxStore(receiver.url, "db1", token="s3cret-token", username="ignored")
        store.write([air("gw-a", T0, pm25=1.0)])
        receiver.status, receiver.answer = 200, b'{"results":[{"statement_id":0}]}'
        store.ensure()
        assert store.count("air_quality") == 0
    assert [r.path for r in receiver.requests] == ["/write", "/query", "/query"]
    for r in receiver.requests:
        assert r.headers["authorization"] == "Token s3cret-token"
        assert "u" not in r.params and "p" not in r.params
    assert "s3cret-token" not in repr(store)


def test_username_and_password_against_influxdb_with_auth(tmp_path: Path) -> None:
    with influxd(tmp_path / "influx-auth", auth=True) as server:
        # With auth enabled and no users yet, InfluxDB accepts exactly this statement.
        r = httpx.post(
            f"{server.url}/query",
            params={"q": "CREATE USER admin WITH PASSWORD 'pa55 w0rd' WITH ALL PRIVILEGES"},
        )
        assert r.status_code == 200 and "error" not in r.text, r.text

        good = InfluxStore(server.url, "secured", username="admin", password="pa55 w0rd")
        good.ensure()
        good.write([air("gw-a", T0, pm25=4.5)])
        assert good.points("air_quality") == [air("gw-a", T0, pm25=4.5)]

        wrong = InfluxStore(server.url, "secured", username="admin", password="not-it-XYZ")
        with pytest.raises(StoreNotReady, match="refused the login of user 'admin'") as info:
            wrong.write([air("gw-a", T0 + 1, pm25=1.0)])
        assert "not-it-XYZ" not in str(info.value)
        assert info.value.missing == "login" and info.value.user == "admin"
        assert isinstance(info.value, StoreAuthFailed)

        anonymous = InfluxStore(server.url, "secured")
        with pytest.raises(StoreAuthFailed):
            anonymous.count("air_quality")
        assert good.count("air_quality") == 1
