"""Latest values on a real InfluxDB read the newest shard first (store/influx_latest.py): the
answer equals ``last()`` of every field of every series over all time, for series fresh,
fresh but lacking a field in their newest point, and silent for days; when every series is
fresh, one request of recent points answers."""

from __future__ import annotations

import time

import pytest

from store.influx import InfluxStore
from store.influx_latest import _parse
from telemetry.mapping import Point, batch_meta_point, status_point
from telemetry.models import Batch, Reading
from testkit.services import Influx

pytestmark = pytest.mark.services
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


class Spy(InfluxStore):
    statements: list[str]

    def execute(self, statement, tolerate=(), shown=None):
        self.statements.append(statement)
        return super().execute(statement, tolerate, shown)


def _reference(store: InfluxStore) -> set[tuple]:
    """What `SELECT last(f) ... GROUP BY *` of every field says (the former implementation)."""
    out = set()
    for meas, keys in store._field_keys(None).items():
        for field in keys:
            (result,) = store.execute(f'SELECT last("{field}") FROM "{meas}" GROUP BY *')
            for series in result.get("series", []):
                tags = tuple(sorted((k, v) for k, v in series["tags"].items() if v))
                t, v = series["values"][0]
                out.add((meas, tags, field, t, v))
    return out


def test_latest_equals_last_of_every_field(influx: Influx, influx_db: str) -> None:
    store = Spy(influx.url, influx_db)
    store.statements = []
    store.ensure()
    now = int(time.time() * 1000)
    a = {"gateway": "gw-a", "sensor": "cnt1", "lane": "1"}
    b = {"gateway": "gw-b", "sensor": "cnt1", "lane": "2"}
    c = {"gateway": "gw-c", "sensor": "cnt1", "lane": "1"}
    store.write(
        [
            Point("traffic", a, {"count": 3, "speed_mean": 41.0}, now - 2 * MIN),
            Point("traffic", a, {"count": 4, "speed_mean": 42.5}, now - MIN),
            Point("traffic", b, {"count": 2, "speed_mean": 30.0}, now - 3 * DAY),
            Point("traffic", b, {"count": 1, "speed_mean": 33.0}, now - 10 * MIN),
            Point("traffic", b, {"count": 0}, now - MIN),  # no vehicles: no speed
            Point("traffic", c, {"count": 7, "speed_mean": 50.0}, now - 2 * DAY),
            Point("weather", {"gateway": "gw-c", "sensor": "wx"}, {"rain": 0.5}, now - 5 * DAY),
        ]
    )
    store.statements.clear()
    got = {
        (
            v.measurement,
            tuple(sorted({**v.tags, "gateway": v.gateway, "sensor": v.sensor}.items())),
            v.field,
            v.time_ms,
            v.value,
        )
        for v in store.latest()
    }
    assert got == _reference(store)
    assert ("traffic", tuple(sorted(b.items())), "speed_mean", now - 10 * MIN, 33.0) in got
    # Filtered by gateway and measurement alike.
    assert {v.field: v.value for v in store.latest("gw-b", "traffic")} == {
        "count": 0,
        "speed_mean": 33.0,
    }
    # All series fresh with every field: the recent points answer, no last() over all time.
    fresh = Spy(influx.url, influx_db)
    fresh.statements = []
    fresh.write(
        [Point("traffic", tags, {"count": 1, "speed_mean": 20.0}, now) for tags in (a, b, c)]
    )
    fresh.write([Point("weather", {"gateway": "gw-c", "sensor": "wx"}, {"rain": 0.0}, now)])
    assert len(fresh.latest()) == 7
    assert not [s for s in fresh.statements if "last(" in s]
    # Gateways: newest batch and status, also of a gateway silent for days.
    reading = Reading(sensor="env1", measurement="air_quality", time=now, fields={"pm25": 1.0})
    fresh.write(
        [
            batch_meta_point(Batch(gateway="gw-a", seq=9, sent=now, readings=[reading])),
            batch_meta_point(Batch(gateway="gw-c", seq=4, sent=now - 3 * DAY, readings=[reading])),
            status_point("gw-c", "offline", now - 3 * DAY + 1),
        ]
    )
    seen = {g.gateway: (g.last_seq, g.state, g.last_seen_ms) for g in fresh.gateways()}
    assert seen == {"gw-a": (9, None, now), "gw-c": (4, "offline", now - 3 * DAY)}
    store.close()
    fresh.close()


def test_series_keys_are_parsed_with_their_escapes() -> None:
    assert _parse("traffic,gateway=a,lane=1,sensor=cnt1") == (
        ("gateway", "a"),
        ("lane", "1"),
        ("sensor", "cnt1"),
    )
    assert _parse(r"odd\,name,tag\ x=v\,1\=2,gateway=g") == (("gateway", "g"), ("tag x", "v,1=2"))
